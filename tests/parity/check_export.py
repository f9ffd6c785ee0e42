#!/usr/bin/python3
# Checks that PyTorch loads a generator exported by clgan and draws the same
# images for the same noise. Not part of CI (CI has no PyTorch); run it with
# Debian's python3 (apt-get install python3-torch python3-numpy):
#
#     /usr/bin/python3 tests/parity/check_export.py CHECKPOINT [--clgan build/clgan]
#
# It exports the checkpoint's generator with `clgan export`, reads the
# safetensors file itself (header + raw little-endian data), builds the
# tutorial's Generator with the configuration stored in the file, loads the
# state_dict strictly, runs it in eval mode on fresh noise, runs
# `clgan generate --generator ... --noise ... --bits 16` on the same noise, and
# compares the 16-bit PNGs. Exit status 0 when every pixel agrees to within
# 2/65535 plus float rounding. A conditional checkpoint (--conditional) is
# loaded into cond_dcgan.CondGenerator and compared for every class
# (`clgan generate --class NAME` against net(noise, y)).
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tutorial_dcgan import Generator  # noqa: E402  (the tutorial's Generator)
from cond_dcgan import CondGenerator  # noqa: E402  (with the class embedding)

DTYPES = {"F32": np.float32, "I64": np.int64, "U64": np.uint64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, t = e["data_offsets"]
        arr = np.frombuffer(body[b:t], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def read_png16(path):
    """Minimal PNG reader for clgan's own output: 16-bit gray/RGB, no interlace."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w = 8, b"", None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 16, "run clgan generate with --bits 16"
            ch = {0: 1, 2: 3}[ctype]
        elif typ == b"IDAT":
            idat += chunk
        pos += 12 + ln
    raw = zlib.decompress(idat)
    bpp, stride = 2 * ch, 2 * ch * w
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], dtype=np.uint8).astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 0:
                p = 0
            elif ftype == 1:
                p = a
            elif ftype == 2:
                p = b
            elif ftype == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 0xFF
        out[y], prev = cur, cur
    px = (out[:, 0::2] * 256 + out[:, 1::2]).reshape(h, w, ch)
    return px.transpose(2, 0, 1).astype(np.float64) / 65535.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--clgan", default="build/clgan")
    ap.add_argument("--count", type=int, default=8)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="clgan-export-")
    gpath = os.path.join(tmp, "generator.safetensors")
    subprocess.run([args.clgan, "export", args.checkpoint, "--out", gpath], check=True)
    sd, meta = read_safetensors(gpath)
    size, nz, ngf, nc = (int(meta["config." + k]) for k in ("image_size", "nz", "ngf", "channels"))
    classes = json.loads(meta["classes"]) if meta.get("config.conditional") == "1" else [None]
    if classes[0] is None:
        net = Generator(size, nz, ngf, nc)
    else:
        net = CondGenerator(size, nz, ngf, nc, len(classes), int(meta["config.embed_dim"]))
    net.load_state_dict(sd, strict=True)  # fails loudly on any missing or unexpected name
    net.eval()
    torch.manual_seed(0)
    noise = torch.randn(args.count, nz, 1, 1)
    npath = os.path.join(tmp, "noise.f32")
    noise.numpy().astype("<f4").tofile(npath)
    worst = 0.0
    for label, name in enumerate(classes):
        outdir = os.path.join(tmp, "images%d" % label)
        subprocess.run([args.clgan, "generate", "--generator", gpath, "--noise", npath, "--count",
                        str(args.count), "--bits", "16", "--out", outdir] +
                       (["--class", name] if name else []), check=True)
        with torch.no_grad():
            y = torch.full((args.count,), label, dtype=torch.long)
            want = (net(noise).double() if name is None else net(noise, y).double()) + 1
            want = want / 2  # clgan maps [-1, 1] to [0, 1]
        for i in range(args.count):
            got = read_png16(os.path.join(outdir, "gen_0_%05d.png" % i))
            ref = np.clip(want[i].numpy(), 0, 1)
            worst = max(worst, float(np.abs(got - ref).max()))
    limit = 2.0 / 65535 + 1e-5
    print("PyTorch loaded %d tensors strictly; %d images x %d class(es), worst pixel difference "
          "%.3g (limit %.3g)" % (len(sd), args.count, len(classes), worst, limit))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if worst <= limit else 1)


if __name__ == "__main__":
    main()
