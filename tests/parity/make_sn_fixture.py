#!/usr/bin/env python3
# Generates tests/parity/sn_gray16.bin: one iteration of the PyTorch DCGAN
# tutorial with torch.nn.utils.spectral_norm on every Conv2d of D (clgan's
# --spectral-norm), for tests/test_regularize.c.
#     python3 tests/parity/make_sn_fixture.py [outdir]     (needs PyTorch 2.x)
# The file format is make_fixture.py's. Records:
#     config.image_size, config.nc, config.nz, config.ngf, config.ndf, config.batch  int32
#     init.NET.TENSOR     the initial state: G's parameters and running stats; D's
#                         with main.K.weight_orig, main.K.weight_u, main.K.weight_v
#     real, noise         the batch (N, nc, S, S) in [-1, 1) and (N, nz, 1, 1)
#     errD, errG, D_x     scalars of the iteration
#     grad.D.PARAM        D's .grad right before optimizerD.step() (weight_orig
#                         receives (G - <G, W_sn> u v^T) / sigma from each forward)
#     final.D.main.K.weight_u, .weight_v   after the iteration: D ran three
#                         training forwards (real, fake.detach(), fake), so
#                         three power iterations
# Spectral norm's semantics (torch/nn/utils/spectral_norm.py): W [out, in*k*k];
# in training mode every forward does v = normalize(W^T u), u = normalize(W v)
# (eps 1e-12) with no gradient, then sigma = u . (W v) and W_sn = W / sigma, so
# the gradient treats u and v as constants.
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import write  # noqa: E402
from tutorial_dcgan import Discriminator, Generator, weights_init  # noqa: E402

S, NC, NZ, NGF, NDF, N = 16, 1, 8, 4, 4, 4


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(1234)
    g, d = Generator(S, NZ, NGF, NC), Discriminator(S, NDF, NC)
    g.apply(weights_init)
    d.apply(weights_init)
    for m in d.main:
        if isinstance(m, nn.Conv2d):
            nn.utils.spectral_norm(m)
    recs = [("config.image_size", torch.tensor(S, dtype=torch.int32)),
            ("config.nc", torch.tensor(NC, dtype=torch.int32)),
            ("config.nz", torch.tensor(NZ, dtype=torch.int32)),
            ("config.ngf", torch.tensor(NGF, dtype=torch.int32)),
            ("config.ndf", torch.tensor(NDF, dtype=torch.int32)),
            ("config.batch", torch.tensor(N, dtype=torch.int32))]
    for net, name in ((g, "G"), (d, "D")):
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                recs.append(("init.%s.%s" % (name, k), v.clone()))
    real = torch.rand(N, NC, S, S) * 2 - 1
    noise = torch.randn(N, NZ, 1, 1)
    recs += [("real", real), ("noise", noise)]
    crit = nn.BCELoss()
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d.zero_grad()
    out = d(real).view(-1)
    err_real = crit(out, torch.ones(N))
    err_real.backward()
    d_x = out.mean()
    fake = g(noise)
    out = d(fake.detach()).view(-1)
    err_fake = crit(out, torch.zeros(N))
    err_fake.backward()
    for k, p in d.named_parameters():
        recs.append(("grad.D.%s" % k, p.grad.clone()))
    opt_d.step()
    g.zero_grad()
    out = d(fake).view(-1)
    err_g = crit(out, torch.ones(N))
    err_g.backward()
    opt_g.step()
    recs += [("errD", (err_real + err_fake).detach()), ("errG", err_g.detach()),
             ("D_x", d_x.detach())]
    for k, v in d.state_dict().items():
        if k.endswith("weight_u") or k.endswith("weight_v"):
            recs.append(("final.D.%s" % k, v.clone()))
    write(os.path.join(outdir, "sn_gray16.bin"), recs)


if __name__ == "__main__":
    main()
