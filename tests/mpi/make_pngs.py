#!/usr/bin/env python3
"""Writes N small 8-bit grey PNGs (blobs at seeded places) into DIR/scans/:
a dataset for the MPI tests without any package. With CLASSES > 1, an
ImageFolder of that many classes instead: image i into DIR/class_<i % CLASSES>/,
class k's blobs k times darker rings around their centre (the classes differ).
usage: make_pngs.py DIR N SIZE [CLASSES]"""
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
    classes = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    folders = ["scans"] if classes == 1 else ["class_%d" % k for k in range(classes)]
    for f in folders:
        os.makedirs(os.path.join(root, f), exist_ok=True)
    rng = random.Random(12)
    for i in range(n):
        k = i % classes
        cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        r = rng.uniform(0.15, 0.35) * size
        pix = []
        for y in range(size):
            for x in range(size):
                d = math.hypot(x - cx, y - cy) / r
                ring = 0.5 + 0.5 * math.cos(math.pi * k * d) if k else 1.0
                pix.append(max(0, min(255, int(230 * ring * math.exp(-d * d) +
                                               rng.uniform(0, 20)))))
        png(os.path.join(root, folders[k], "scan_%03d.png" % i), pix, size)


if __name__ == "__main__":
    main()
