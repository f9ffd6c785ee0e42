# clgan's conditional DCGAN (`clgan train --conditional`) in PyTorch: the
# tutorial's networks with a class embedding. Tensor names are clgan's: a
# checkpoint's netG.* / netD.* (or an exported generator, names as they are)
# load with load_state_dict.
#   G: z' = cat([z, label_emb(y)]) -> the tutorial's Generator `main` with
#      ConvTranspose2d(nz + embed_dim, ...) first.
#   D (default): LabelChannelDiscriminator, the tutorial's D on [x; one-hot
#      planes of y]; with --projection, CondDiscriminator, a projection
#      discriminator (Miyato & Koyama 2018): h = main[:-2](x) (the last feature
#      map), logit = main[-2](h) + <label_emb(y), h summed over space>, output
#      sigmoid(logit); main keeps the tutorial's indices.
import torch
import torch.nn as nn

from tutorial_dcgan import Discriminator, Generator


class CondGenerator(nn.Module):
    def __init__(self, image_size, nz, ngf, nc, num_classes, embed_dim, inplace=True):
        super().__init__()
        self.label_emb = nn.Embedding(num_classes, embed_dim)
        self.main = Generator(image_size, nz + embed_dim, ngf, nc, inplace).main

    def forward(self, z, y):
        e = self.label_emb(y).view(y.size(0), -1, 1, 1)
        return self.main(torch.cat([z, e], 1))


class CondDiscriminator(nn.Module):
    def __init__(self, image_size, ndf, nc, num_classes, inplace=True):
        super().__init__()
        self.main = Discriminator(image_size, ndf, nc, inplace).main
        self.label_emb = nn.Embedding(num_classes, self.main[-2].in_channels)

    def forward(self, x, y):
        h = self.main[:-2](x)
        logit = self.main[-2](h).view(-1) + (self.label_emb(y) * h.sum(dim=(2, 3))).sum(1)
        return torch.sigmoid(logit)


class LabelChannelDiscriminator(nn.Module):
    """The default D form (without `--projection`): the tutorial's Discriminator on
    cat([x, one-hot planes of y]) (nc + num_classes input channels)."""
    def __init__(self, image_size, ndf, nc, num_classes, inplace=True):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(image_size, ndf, nc + num_classes, inplace).main

    def forward(self, x, y):
        planes = nn.functional.one_hot(y, self.num_classes).to(x.dtype)
        planes = planes.view(x.size(0), -1, 1, 1).expand(-1, -1, x.size(2), x.size(3))
        return self.main(torch.cat([x, planes], 1))


def cond_weights_init(net, is_generator):
    """clgan's initialisation of the class tables (the rest is weights_init):
    E_g ~ N(0, 1) (nn.Embedding's default), E_d ~ N(0, 0.02)."""
    if hasattr(net, "label_emb"):
        nn.init.normal_(net.label_emb.weight, 0.0, 1.0 if is_generator else 0.02)
