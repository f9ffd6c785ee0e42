#!/usr/bin/env python3
"""Writes N small 8-bit grey PNGs (blobs at seeded places) into DIR/scans/:
a dataset for the MPI tests without any package. usage: make_pngs.py DIR N SIZE"""
import math
import os
import random
import struct
import sys
import zlib


def png(path, pixels, size):
    raw = b"".join(b"\x00" + bytes(pixels[y * size:(y + 1) * size]) for y in range(size))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = os.path.join(root, "scans")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(12)
    for i in range(n):
        cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        r = rng.uniform(0.15, 0.35) * size
        pix = []
        for y in range(size):
            for x in range(size):
                d = math.hypot(x - cx, y - cy) / r
                pix.append(max(0, min(255, int(230 * math.exp(-d * d) + rng.uniform(0, 20)))))
        png(os.path.join(out, "scan_%03d.png" % i), pix, size)


if __name__ == "__main__":
    main()
