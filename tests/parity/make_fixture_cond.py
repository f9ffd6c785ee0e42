#!/usr/bin/python3
# The conditional parity fixtures (tests/parity/cond32.bin, cond32ch.bin):
# three training iterations of clgan's conditional DCGAN (cond_dcgan.py: G on
# [z; E_g[y]]; D a projection discriminator (--projection), or in cond32ch the
# default label-channel form) in the tutorial's order, with fixed labels.
#
#     /work/venv-torch/bin/python tests/parity/make_fixture_cond.py [outdir]
#
# Everything is make_fixture.py's (file format, records, tolerances, the
# float64 conditioning check over perturbed runs, seed search), plus:
#     config.num_classes, config.embed_dim,
#     config.label_channels                     int32 scalars
#     iterK.real_labels, iterK.fake_labels      (N,) int32: the classes of
#                                               iteration K's real batch (to D)
#                                               and of its fake batch (to G, D)
#     init.NET.label_emb.weight (and grad1., final., adam_m., adam_v.)
# It was made with torch 2.15 on CPU.
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixture as mf  # noqa: E402
from cond_dcgan import (CondDiscriminator, CondGenerator, LabelChannelDiscriminator,  # noqa: E402
                        cond_weights_init)
from tutorial_dcgan import weights_init  # noqa: E402

# name, image size, nc, nz, ngf, ndf, batch, seed, store iter1.fake, classes, embed_dim,
# label channels
FIXTURES = [("cond32", 32, 1, 6, 4, 3, 5, 4321, True, 3, 4, 0),
            ("cond32ch", 32, 1, 6, 4, 3, 5, 4321, True, 3, 4, 1)]
# fixed labels per iteration: every class, repeats, one class absent in a batch
REAL_LABELS = [[0, 2, 1, 2, 0], [1, 1, 0, 2, 2], [2, 0, 0, 1, 0]]
FAKE_LABELS = [[1, 0, 2, 1, 1], [0, 2, 2, 0, 1], [2, 2, 1, 0, 0]]


def nets(cfg, dtype, inplace=True):
    name, size, nc, nz, ngf, ndf, batch, seed, _, k, e, planes = cfg
    g = CondGenerator(size, nz, ngf, nc, k, e, inplace).to(dtype)
    form = LabelChannelDiscriminator if planes else CondDiscriminator
    d = form(size, ndf, nc, k, inplace).to(dtype)
    return g, d


def train(cfg, init_g, init_d, batches, dtype, gen=None):
    """make_fixture.train with labels: same records, same order of work."""
    want_fake = cfg[8]
    netG, netD = nets(cfg, dtype, inplace=gen is None)
    mf.set_bn(netG)
    mf.set_bn(netD)
    netG.load_state_dict(init_g)
    netD.load_state_dict(init_d)
    if gen is not None:
        with torch.no_grad():
            for p in list(netG.parameters()) + list(netD.parameters()):
                p.mul_(1 + mf.PERTURB_REL * torch.randn(p.shape, generator=gen,
                                                        dtype=torch.float64).to(dtype))
        mf.perturb_hooks(netG, gen, mf.PERTURB_REL, dtype)
        mf.perturb_hooks(netD, gen, mf.PERTURB_REL, dtype)
    netG.train()
    netD.train()
    criterion = nn.BCELoss()
    betas = (mf.BETA1, mf.BETA2)
    optimizerD = torch.optim.Adam(netD.parameters(), lr=mf.LR, betas=betas, eps=mf.ADAM_EPS)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=mf.LR, betas=betas, eps=mf.ADAM_EPS)
    res = {}
    for it, (real, noise, yr, yf) in enumerate(batches, start=1):
        real, noise = real.to(dtype), noise.to(dtype)
        if gen is not None:
            real = real * (1 + mf.PERTURB_REL * torch.randn(real.shape, generator=gen,
                                                            dtype=torch.float64).to(dtype))
            noise = noise * (1 + mf.PERTURB_REL * torch.randn(noise.shape, generator=gen,
                                                              dtype=torch.float64).to(dtype))
        b = real.size(0)
        real_label = torch.full((b,), 1.0, dtype=dtype)
        fake_label = torch.full((b,), 0.0, dtype=dtype)
        netD.zero_grad()
        output = netD(real, yr).view(-1)
        errD_real = criterion(output, real_label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(noise, yf)
        output = netD(fake.detach(), yf).view(-1)
        errD_fake = criterion(output, fake_label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        if it == 1:
            for k, p in netD.named_parameters():
                res["grad1.D." + k] = p.grad.detach().clone()
        optimizerD.step()
        netG.zero_grad()
        output = netD(fake, yf).view(-1)
        errG = criterion(output, real_label)
        errG.backward()
        D_G_z2 = output.mean().item()
        if it == 1:
            for k, p in netG.named_parameters():
                res["grad1.G." + k] = p.grad.detach().clone()
            if want_fake:
                res["iter1.fake"] = fake.detach().clone()
        optimizerG.step()
        for key, val in (("errD", errD.item()), ("errG", errG.item()), ("D_x", D_x),
                         ("D_G_z1", D_G_z1), ("D_G_z2", D_G_z2)):
            res["iter%d.%s" % (it, key)] = torch.tensor(val, dtype=dtype)
    for tag, net, opt in (("G", netG, optimizerG), ("D", netD, optimizerD)):
        for k, p in net.named_parameters():
            res["final.%s.%s" % (tag, k)] = p.detach().clone()
        for k, v in mf.stats_of(net):
            res["final.%s.%s" % (tag, k)] = v.clone()
        for k, p in net.named_parameters():
            st = opt.state[p]
            res["adam_m.%s.%s" % (tag, k)] = st["exp_avg"].clone()
            res["adam_v.%s.%s" % (tag, k)] = st["exp_avg_sq"].clone()
    return res


def make_seed(cfg):
    name, size, nc, nz, ngf, ndf, batch, seed, _, k, e, planes = cfg
    torch.manual_seed(seed)
    netG, netD = nets(cfg, torch.float32)
    netG.apply(weights_init)
    netD.apply(weights_init)
    cond_weights_init(netG, True)
    cond_weights_init(netD, False)
    init_g = {n: v.clone() for n, v in netG.state_dict().items()}
    init_d = {n: v.clone() for n, v in netD.state_dict().items()}
    batches = []
    for it in range(mf.ITERS):
        real = torch.rand(batch, nc, size, size) * 2 - 1
        noise = torch.randn(batch, nz, 1, 1)
        batches.append((real, noise, torch.tensor(REAL_LABELS[it]), torch.tensor(FAKE_LABELS[it])))
    recs = []
    for key, val in (("image_size", size), ("nc", nc), ("nz", nz), ("ngf", ngf), ("ndf", ndf),
                     ("batch", batch), ("iters", mf.ITERS), ("seed", seed),
                     ("num_classes", k), ("embed_dim", e), ("label_channels", planes)):
        recs.append(("config." + key, torch.tensor(val, dtype=torch.int32)))
    for key, val in (("lr", mf.LR), ("beta1", mf.BETA1), ("beta2", mf.BETA2),
                     ("adam_eps", mf.ADAM_EPS), ("bn_momentum", mf.BN_MOMENTUM),
                     ("bn_eps", mf.BN_EPS), ("lrelu_slope", mf.LRELU)):
        recs.append(("config." + key, torch.tensor(val, dtype=torch.float32)))
    for tag, net in (("G", netG), ("D", netD)):
        for n, p in net.named_parameters():
            recs.append(("init.%s.%s" % (tag, n), p.detach().clone()))
        for n, v in mf.stats_of(net):
            recs.append(("init.%s.%s" % (tag, n), v.clone()))
    for it, (real, noise, yr, yf) in enumerate(batches, start=1):
        recs += [("iter%d.real" % it, real), ("iter%d.noise" % it, noise),
                 ("iter%d.real_labels" % it, yr.to(torch.int32)),
                 ("iter%d.fake_labels" % it, yf.to(torch.int32))]
    res32 = train(cfg, init_g, init_d, batches, torch.float32)
    recs += list(res32.items())
    sp, e32, worst, kinds = conditioning(cfg, init_g, init_d, batches, res32)
    if sp > mf.MARGIN or e32 > mf.MARGIN:
        print("%s: seed %d rejected: spread %.3g of tolerance in %s" % (name, seed, sp, worst))
        return recs, False
    print("%s: image %d, nc %d, nz %d, ngf %d, ndf %d, batch %d, %d classes, embed %d, seed %d"
          % (name, size, nc, nz, ngf, ndf, batch, k, e, seed))
    for kd, (s, e) in kinds.items():
        print("    %-7s worst spread %.3f of tolerance; fp32 PyTorch vs float64: %.4f of tolerance"
              % (kd, s, e))
    return recs, True


def conditioning(cfg, init_g, init_d, batches, res32):
    """make_fixture.conditioning over this module's train."""
    saved = mf.train
    mf.train = train
    try:
        return mf.conditioning(cfg, init_g, init_d, batches, res32)
    finally:
        mf.train = saved


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    print("torch %s" % torch.__version__)
    for fixture in FIXTURES:
        make(fixture, outdir)


def make(fixture, outdir):
    for attempt in range(mf.MAX_SEED_TRIES):
        c = fixture[:7] + (fixture[7] + attempt,) + fixture[8:]
        recs, ok = make_seed(c)
        if ok:
            path = os.path.join(outdir, c[0] + ".bin")
            mf.write(path, recs)
            print("  wrote %s: %d records, %d bytes" % (path, len(recs), os.path.getsize(path)))
            return
    sys.exit("%s: no well-conditioned seed in %d tries" % (fixture[0], mf.MAX_SEED_TRIES))


if __name__ == "__main__":
    main()
