#!/usr/bin/env python3
# PyTorch peer of `clgan bench`: times the PyTorch DCGAN tutorial's training
# step (DESIGN.md section 1: D.zero_grad; D(real) backward; fake = G(z);
# D(fake.detach()) backward; D step; G.zero_grad; D(fake) backward; G step;
# BCELoss; Adam(2e-4, (0.5, 0.999))) on the same configurations and synthetic
# data as clgan bench (a uniform [-1, 1) real batch and a normal noise batch,
# made once), and prints the same figures: median ms per step, img/s,
# effective GFLOP/s with clgan's FLOP count (clgan_dcgan_step_flops,
# src/train/dcgan.c), start-up to the first step done, resident memory.
#
# The peer is the PyTorch a user installs today: PyTorch 2.x from PyPI in a
# virtual environment (README, Speed), e.g.
#     python3 -m venv ~/venv-torch && ~/venv-torch/bin/pip install torch
#     ~/venv-torch/bin/python bench/peer_pytorch.py --config gray32 [--channels-last]
#         [--device cuda --tf32 on|off] [--steps N] [--json FILE [--overwrite]]
# --channels-last runs the models and batches in torch.channels_last (NHWC),
# which PyTorch's CPU convolutions (oneDNN) prefer; --tf32 sets the FP32
# precision of cuDNN's convolutions and cuBLAS's matmuls on CUDA (PyTorch's
# default: TF32 convolutions, IEEE matmuls). bench/compare.sh runs this and
# clgan bench together and prints the ratio against the best PyTorch setting.
import argparse
import json
import os
import resource
import statistics
import sys
import time

T_SCRIPT = time.monotonic()

import torch  # noqa: E402  (imported after the clock above on purpose)
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
from tutorial_dcgan import Discriminator, Generator, stages, weights_init  # noqa: E402

CONFIGS = {
    # image_size, channels, nz, ngf, ndf, batch
    "tutorial": dict(size=64, channels=3, nz=100, ngf=64, ndf=64, batch=128),
    "gray32": dict(size=32, channels=1, nz=100, ngf=32, ndf=32, batch=64),
}
LR, BETA1, BETA2 = 2e-4, 0.5, 0.999


def step_flops(size, nc, nz, ngf, ndf, batch):
    """clgan_dcgan_step_flops (src/train/dcgan.c), replicated: per layer
    MACs = in_c * out_c * k * k * (pixels of the smaller side over the whole
    batch: the input for ConvTranspose2d, the output for Conv2d); one
    iteration = D on real (fwd + bwd without the image's gradient), G fwd,
    D on fake (same), D for G's step (fwd + data gradients), G bwd."""
    n = stages(size)
    mult = 2 ** (n - 1)
    g_layers = [(nz, ngf * mult, 1)]  # (in_c, out_c, input hw) of each ConvTranspose2d
    c, hw = ngf * mult, 4
    for _ in range(1, n):
        g_layers.append((c, c // 2, hw))
        c //= 2
        hw *= 2
    g_layers.append((c, nc, hw))
    g = sum(2.0 * ci * co * 16 * batch * h * h for ci, co, h in g_layers)
    d_layers = [(nc, ndf, size // 2)]  # (in_c, out_c, output hw) of each Conv2d
    c, hw = ndf, size // 2
    for _ in range(1, n):
        d_layers.append((c, c * 2, hw // 2))
        c *= 2
        hw //= 2
    d_layers.append((c, 1, 1))
    dd = sum(2.0 * ci * co * 16 * batch * h * h for ci, co, h in d_layers)
    ci, co, h = d_layers[0]
    d_first = 2.0 * ci * co * 16 * batch * h * h
    d_train = dd + (2 * dd - d_first)
    return d_train + g + d_train + (dd + dd) + 2 * g


def set_tf32(mode):
    """Sets cuDNN's convolution and cuBLAS's matmul FP32 precision for mode
    (on, off or default: left as PyTorch has them) and returns both as
    {"conv": ..., "matmul": ...} ("tf32" or "ieee"). PyTorch 2.9+ has the
    fp32_precision settings (mixing them with the legacy allow_tf32 flags is
    an error there); older 2.x only allow_tf32."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    matmul = torch.backends.cuda.matmul
    if conv is not None and hasattr(conv, "fp32_precision") and hasattr(matmul,
                                                                        "fp32_precision"):
        if mode != "default":
            conv.fp32_precision = matmul.fp32_precision = "tf32" if mode == "on" else "ieee"

        def name(v):  # "none" means the global default, which is IEEE
            return "tf32" if v == "tf32" else "ieee"
        return {"conv": name(conv.fp32_precision), "matmul": name(matmul.fp32_precision)}
    if mode != "default":
        torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = mode == "on"
    return {"conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee",
            "matmul": "tf32" if matmul.allow_tf32 else "ieee"}


def process_start_age():
    """Seconds since this process started (from /proc), or None."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def busy_cores_before():
    """Cores other processes kept busy during the second before the run
    (/proc/stat, while this process sleeps), or None."""
    def jiffies():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    try:
        b0, t0 = jiffies()
        time.sleep(1)
        b1, t1 = jiffies()
        return (b1 - b0) / (t1 - t0) * (os.cpu_count() or 1) if t1 > t0 else None
    except (OSError, ValueError, IndexError):
        return None


def fmt_bytes(b):
    if b is None:
        return "?"
    if b >= 1 << 30:
        return "%.2f GiB" % (b / (1 << 30))
    return "%.1f MiB" % (b / (1 << 20))


def parse_args():
    ap = argparse.ArgumentParser(description="Times the PyTorch DCGAN tutorial's training step "
                                 "(the peer of clgan bench).")
    ap.add_argument("--config", default="tutorial", choices=sorted(CONFIGS))
    for k in ("size", "channels", "nz", "ngf", "ndf", "batch"):
        ap.add_argument("--" + k, type=int, help="override the configuration")
    ap.add_argument("--steps", type=int, default=10, help="timed steps (10)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up steps (2)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="intra-op threads (default: every core this process may use)")
    ap.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    ap.add_argument("--seed", type=int, default=999)
    ap.add_argument("--channels-last", action="store_true",
                    help="models and batches in torch.channels_last (NHWC) memory format")
    ap.add_argument("--tf32", choices=("default", "on", "off"), default="default",
                    help="CUDA only: TF32 for cuDNN convolutions and cuBLAS matmuls (on), "
                    "IEEE FP32 for both (off), or PyTorch's default (TF32 convolutions)")
    ap.add_argument("--peak-gflops", type=float,
                    help="the device's FMA peak (e.g. clgan's measured one) for the fraction")
    ap.add_argument("--profile", action="store_true",
                    help="one extra step under torch.profiler: top operators")
    ap.add_argument("--json", metavar="FILE", help="write the figures as a JSON array")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    a = ap.parse_args()
    if a.json and os.path.exists(a.json) and not a.overwrite:
        ap.error("--json %s exists: nothing is replaced (give --overwrite to replace it)" % a.json)
    cfg = dict(CONFIGS[a.config])
    custom = False
    for k in cfg:
        v = getattr(a, k)
        if v is not None and v != cfg[k]:
            cfg[k], custom = v, True
    if a.steps < 1 or a.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    if a.tf32 != "default" and torch.device(a.device).type != "cuda":
        ap.error("--tf32 applies to --device cuda only")
    cfg["name"] = a.config + ("+custom" if custom else "")
    return a, cfg


def make_step(a, cfg, dev, layout):
    """The tutorial's training step on fixed data, as a function returning
    (errD, errG, D_x, D_G_z1, D_G_z2) after the device finished it."""
    size, nc, nz, ngf, ndf, b = (cfg[k] for k in ("size", "channels", "nz", "ngf", "ndf",
                                                    "batch"))
    cuda = dev.type == "cuda"
    netG = Generator(size, nz, ngf, nc).to(dev, memory_format=layout)
    netD = Discriminator(size, ndf, nc).to(dev, memory_format=layout)
    netG.apply(weights_init)
    netD.apply(weights_init)
    netG.train()
    netD.train()
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=LR, betas=(BETA1, BETA2))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=LR, betas=(BETA1, BETA2))
    real_cpu = (torch.rand(b, nc, size, size) * 2 - 1).to(dev, memory_format=layout)
    noise = torch.randn(b, nz, 1, 1).to(dev, memory_format=layout)
    real_label, fake_label = 1., 0.

    def step():
        # ---- the tutorial's loop body ----
        netD.zero_grad()
        label = torch.full((b,), real_label, dtype=torch.float, device=dev)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        # ---- end ----
        if cuda:
            torch.cuda.synchronize()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2

    return step


def time_steps(a, step):
    """Warm-up and timed steps: (step seconds, last losses, start-up seconds)."""
    tty = sys.stderr.isatty()

    def progress(what):
        if tty:
            sys.stderr.write("\r\033[Kpytorch peer: " + what)
        else:
            sys.stderr.write("pytorch peer: " + what + "\n")
        sys.stderr.flush()

    t_first, times, losses = None, [], None
    for i in range(a.warmup + a.steps):
        if i < a.warmup:
            progress("warm-up %d/%d" % (i + 1, a.warmup))
        else:
            progress("step %d/%d" % (i - a.warmup + 1, a.steps))
        t0 = time.perf_counter()
        losses = step()
        dt = time.perf_counter() - t0
        if i == 0:
            age = process_start_age()
            t_first = age if age is not None else time.monotonic() - T_SCRIPT
        if i >= a.warmup:
            times.append(dt)
    if tty:
        sys.stderr.write("\r\033[K")
    return times, losses, t_first


def profile_top(step, cuda):
    """One step under torch.profiler: the ten operators of most self CPU time."""
    from torch.profiler import profile, ProfilerActivity
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        step()
    ev = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ev) or 1
    print("top operators of one profiled step (self CPU time):")
    top = []
    for e in ev[:10]:
        print("  %-40s %8.1f ms %5.1f%%  (%d calls)" % (e.key, e.self_cpu_time_total / 1e3,
                                                      100 * e.self_cpu_time_total / total,
                                                      e.count))
        top.append({"name": e.key, "ms": e.self_cpu_time_total / 1e3, "calls": e.count})
    return top


def figures(a, cfg, dev, precision, times, losses, t_first, busy, rss_before):
    """Everything measured, as the JSON object (and what the report prints)."""
    cuda = dev.type == "cuda"
    size, nc, nz, ngf, ndf, b = (cfg[k] for k in ("size", "channels", "nz", "ngf", "ndf",
                                                    "batch"))
    ms = statistics.median(times) * 1e3
    flops = step_flops(size, nc, nz, ngf, ndf, b)
    gflops = flops / (ms * 1e-3) * 1e-9
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    threads = torch.get_num_threads()
    fmt = "channels_last" if a.channels_last else "NCHW"
    where = ("%s, FP32 conv %s, matmul %s" % (torch.cuda.get_device_name(dev), precision["conv"],
                                             precision["matmul"]) if cuda
             else "CPU, %d thread%s" % (threads, "" if threads == 1 else "s"))
    return {"device": "PyTorch %s %s, %s" % (torch.__version__, where, fmt),
            "framework": "pytorch", "torch_version": torch.__version__,
            "threads": threads, "memory_format": fmt, "tf32": a.tf32 if cuda else None,
            "fp32_precision": precision, "config": cfg["name"], "image_size": size,
            "channels": nc, "nz": nz, "ngf": ngf, "ndf": ndf, "batch": b, "steps": a.steps,
            "warmup": a.warmup, "ms_per_step": ms, "ms_min": min(times) * 1e3,
            "ms_max": max(times) * 1e3, "img_per_s": b / (ms * 1e-3),
            "gflop_per_step": flops * 1e-9, "gflops": gflops, "peak_gflops": a.peak_gflops,
            "peak_fraction": gflops / a.peak_gflops if a.peak_gflops else None,
            "peak_bytes": torch.cuda.max_memory_allocated() if cuda else maxrss,
            "max_rss_bytes": maxrss, "rss_before_model_bytes": rss_before,
            "startup_s": t_first, "loss_d": losses[0], "loss_g": losses[1],
            "busy_cores_before": busy, "step_ms": [t * 1e3 for t in times]}


def report(o, cuda):
    nc, b = o["channels"], o["batch"]
    print("== %s" % o["device"])
    busy = o["busy_cores_before"]
    if busy is not None and busy >= 0.2:
        print("note: other processes kept %.1f cores busy just before this run: they compete "
              "for the cores, so the timings below may be low" % busy)
    print("config %s: %dx%d, %d channel%s, nz %d, ngf %d, ndf %d, batch %d; %.3g GFLOP per image "
          "per step (clgan's count)" % (o["config"], o["image_size"], o["image_size"], nc,
                                        "" if nc == 1 else "s", o["nz"], o["ngf"], o["ndf"], b,
                                        o["gflop_per_step"] / b))
    print("step time:  median %.1f ms over %d steps (min %.1f, max %.1f) after %d warm-up step%s"
          % (o["ms_per_step"], o["steps"], o["ms_min"], o["ms_max"], o["warmup"],
             "" if o["warmup"] == 1 else "s"))
    frac = o["peak_fraction"]
    print("throughput: %.1f img/s; %.1f GFLOP/s effective%s" % (
        o["img_per_s"], o["gflops"], " = %.1f%% of the FMA peak (%.0f GFLOP/s)" % (
            100 * frac, o["peak_gflops"]) if frac is not None else ""))
    print("start-up:   process start to first step done: %.2f s" % o["startup_s"])
    if cuda:
        print("memory:     %s of CUDA tensors at most; max RSS %s" % (
            fmt_bytes(o["peak_bytes"]), fmt_bytes(o["max_rss_bytes"])))
    else:
        print("memory:     max resident set %s (%s before the model was built: Python + torch)"
              % (fmt_bytes(o["max_rss_bytes"]), fmt_bytes(o["rss_before_model_bytes"])))
    print("losses of the last step: Loss_D %.4f, Loss_G %.4f" % (o["loss_d"], o["loss_g"]))


def main():
    a, cfg = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    precision = set_tf32(a.tf32) if cuda else None
    layout = torch.channels_last if a.channels_last else torch.contiguous_format
    rss_before = rss_bytes()
    step = make_step(a, cfg, dev, layout)
    busy = busy_cores_before()
    times, losses, t_first = time_steps(a, step)
    o = figures(a, cfg, dev, precision, times, losses, t_first, busy, rss_before)
    report(o, cuda)
    top = profile_top(step, cuda) if a.profile else []
    if top:
        o["operators"] = top
    if a.json:  # whole or not at all: a temporary file renamed over it
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump([o], f, indent=2)
            f.write("\n")
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
