#!/usr/bin/env python3
"""Compares the float tensors of two clgan checkpoints (safetensors).

usage: compare_checkpoints.py A B [--tol 1e-4]

Every tensor must exist in both with the same shape. The tensors are taken
in groups, one per network and kind of state: G's and D's weights, their
BatchNorm running statistics, Adam's first and second moments, LeCam's
anchors, the rest of the training state; a group agrees when ||a - b|| <= tol * ||b|| (Euclidean norms over the
group). Norms over a group rather than elements: a change in the order of
float sums moves every value by rounding, and now and then tips a LeakyReLU
input across 0, which changes the gradient of one element by a whole term;
such an element differs by far more than rounding while the model does not.
Prints each group's relative difference and the tensor with the largest
difference; exits 1 when a group differs beyond tol or a tensor is missing.
"""
import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = (t["shape"], struct.unpack("<%df" % ((b - a) // 4), data[a:b]))
    return out


def group(name):
    net, _, rest = name.partition(".")
    if net.startswith("opt"):
        return net + "." + rest.split(".")[0]  # optG.exp_avg, optG.exp_avg_sq
    if "running_" in rest:
        return net + " running statistics"
    if name == "train.lecam_anchors":  # a group of its own: the fixed noise would hide it
        return name
    return net


def main(argv):
    tol, paths = 1e-4, []
    i = 1
    while i < len(argv):
        if argv[i] == "--tol":
            tol = float(argv[i + 1])
            i += 2
        else:
            paths.append(argv[i])
            i += 1
    if len(paths) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = read(paths[0]), read(paths[1])
    if not b:
        print("no float tensors in %s" % paths[1], file=sys.stderr)
        return 1
    sums, worst, bad = {}, {}, 0
    for n in sorted(b):
        if n not in a or a[n][0] != b[n][0]:
            print("%s: missing or of another shape in %s" % (n, paths[0]), file=sys.stderr)
            bad += 1
            continue
        d2 = sum((x - y) * (x - y) for x, y in zip(a[n][1], b[n][1]))
        r2 = sum(y * y for y in b[n][1])
        g = group(n)
        s = sums.setdefault(g, [0.0, 0.0])
        s[0] += d2
        s[1] += r2
        if d2 >= worst.get(g, (-1.0, ""))[0]:
            worst[g] = (d2, n)
    for g in sorted(sums):
        d2, r2 = sums[g]
        rel = math.sqrt(d2 / r2) if r2 > 0 else (0.0 if d2 == 0 else float("inf"))
        if not rel <= tol:
            bad += 1
        print("%-28s relative difference %.3g (most in %s)%s" %
              (g, rel, worst[g][1], "" if rel <= tol else "  > %g" % tol))
    if bad:
        print("checkpoints differ beyond %g" % tol, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
