# The PyTorch DCGAN tutorial's models (DESIGN.md section 1), parameterised by
# image size with the pytorch/examples rule: one stride-2 stage per doubling
# above 4x4, widths doubling towards the 4x4 end. Shared by the parity fixture
# script, the exported-generator check and the PyTorch peer benchmark.
import torch.nn as nn

LRELU = 0.2


def stages(image_size):
    n, s = 0, image_size
    while s > 4:
        if s % 2:
            raise ValueError("image size must be 4 * 2^k")
        s //= 2
        n += 1
    return n


class Generator(nn.Module):
    def __init__(self, image_size, nz, ngf, nc, inplace=True):
        super().__init__()
        n = stages(image_size)
        mult = 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False),
                  nn.BatchNorm2d(ngf * mult), nn.ReLU(inplace)]
        while mult > 1:
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(inplace)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, image_size, ndf, nc, inplace=True):
        super().__init__()
        n = stages(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(LRELU, inplace=inplace)]
        mult = 1
        for _ in range(n - 1):
            layers += [nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ndf * mult * 2), nn.LeakyReLU(LRELU, inplace=inplace)]
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


def weights_init(m):  # the tutorial's
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)
