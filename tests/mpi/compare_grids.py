#!/usr/bin/env python3
"""Compares two 8-bit PNG images of the same size (clgan's sample grids)
pixel by pixel, without any package.

usage: compare_grids.py A B [--levels 2] [--fraction 0.01]

Two runs that agree up to the order of float sums move a few pixels by a
level of rounding; a grid of other classes or noise moves most of them by
many. Prints how many values differ and by how much at most; exits 1 when
more than FRACTION of them differ by more than LEVELS, or the sizes differ.
"""
import struct
import sys
import zlib


def paeth(a, b, c):
    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def unfilter(kind, line, prev, bpp):
    for x in range(len(line)):
        a = line[x - bpp] if x >= bpp else 0
        c = prev[x - bpp] if x >= bpp else 0
        b = prev[x]
        pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2, 4: paeth(a, b, c)}[kind]
        line[x] = (line[x] + pred) & 255


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    if depth != 8:
        sys.exit("%s: %d-bit PNG, only 8-bit ones are compared" % (path, depth))
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw, stride = zlib.decompress(idat), width * bpp
    prev, values = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        unfilter(raw[start], line, prev, bpp)
        values += line
        prev = line
    return (width, height, bpp), values


def main(argv):
    levels, fraction, paths = 2, 0.01, []
    i = 1
    while i < len(argv):
        if argv[i] in ("--levels", "--fraction"):
            value = float(argv[i + 1])
            if argv[i] == "--levels":
                levels = value
            else:
                fraction = value
            i += 2
        else:
            paths.append(argv[i])
            i += 1
    if len(paths) != 2:
        sys.exit(__doc__)
    (shape_a, a), (shape_b, b) = read(paths[0]), read(paths[1])
    if shape_a != shape_b:
        print("sizes differ: %s and %s" % (shape_a, shape_b))
        return 1
    diffs = [abs(x - y) for x, y in zip(a, b)]
    far = sum(1 for d in diffs if d > levels)
    print("%d of %d values differ, %d by more than %g levels, at most %d" %
          (sum(1 for d in diffs if d), len(diffs), far, levels, max(diffs)))
    return 1 if far > fraction * len(diffs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
