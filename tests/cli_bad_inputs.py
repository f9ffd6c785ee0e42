#!/usr/bin/env python3
"""Makes the files tests/cli_bad_inputs.sh feeds to clgan: small valid ones
(PNG, NIfTI) and damaged copies of real ones (safetensors fields, NaN
weights). Standard library only.

  png PATH W H [SEED]         an 8-bit gray PNG of noise
  nifti PATH NX NY NZ [K=V]   an uncompressed NIfTI-1 uint8 volume of noise; K=V
                              sets a header field: offset=N (vox_offset; the
                              voxels stay at 352), dim0=N, pixdim=X,Y,Z
  nifti2-nomagic PATH         a 540-byte (NIfTI-2 sized) header without its magic
  st-meta PATH KEY VALUE      sets a safetensors metadata entry
  st-nan PATH TENSOR          the tensor's first value becomes NaN
  st-header-len PATH N        the header length field becomes N
  meta PATH KEY               prints a safetensors metadata entry
"""
import json
import random
import struct
import sys
import zlib


def png(path, w, h, seed=1):
    rng = random.Random(int(seed))
    rows = b"".join(b"\0" + bytes(rng.randrange(256) for _ in range(w)) for _ in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def nifti(path, nx, ny, nz, offset=352, dim0=3, pixdim="1,1,1"):
    hdr = bytearray(348)
    struct.pack_into("<i", hdr, 0, 348)
    struct.pack_into("<8h", hdr, 40, int(dim0), nx, ny, nz, 1, 1, 1, 1)
    struct.pack_into("<hh", hdr, 70, 2, 8)  # DT_UINT8, 8 bits
    px, py, pz = (float(v) for v in pixdim.split(","))
    struct.pack_into("<8f", hdr, 76, 1, px, py, pz, 1, 1, 1, 1)
    struct.pack_into("<f", hdr, 108, float(offset))  # vox_offset
    struct.pack_into("<ff", hdr, 112, 1.0, 0.0)  # scl_slope, scl_inter
    hdr[344:348] = b"n+1\0"
    rng = random.Random(7)
    with open(path, "wb") as f:
        f.write(bytes(hdr) + b"\0" * 4 + bytes(rng.randrange(256) for _ in range(nx * ny * nz)))


def nifti2_nomagic(path):
    hdr = bytearray(540)  # sizeof_hdr 540, every other field (the magic too) zero
    struct.pack_into("<i", hdr, 0, 540)
    with open(path, "wb") as f:
        f.write(bytes(hdr) + b"\0" * 1024)


def read_st(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_st(path, header, body):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main(argv):
    cmd, path = argv[1], argv[2]
    if cmd == "png":
        png(path, int(argv[3]), int(argv[4]), *(argv[5:6]))
    elif cmd == "nifti":
        fields = dict(a.split("=", 1) for a in argv[6:])
        nifti(path, *(int(a) for a in argv[3:6]), **fields)
    elif cmd == "nifti2-nomagic":
        nifti2_nomagic(path)
    elif cmd == "st-meta":
        header, body = read_st(path)
        header["__metadata__"][argv[3]] = argv[4]
        write_st(path, header, body)
    elif cmd == "st-nan":
        header, body = read_st(path)
        start = header[argv[3]]["data_offsets"][0]
        body = body[:start] + struct.pack("<f", float("nan")) + body[start + 4:]
        write_st(path, header, body)
    elif cmd == "st-header-len":
        data = open(path, "rb").read()
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", int(argv[3])) + data[8:])
    elif cmd == "meta":
        print(read_st(path)[0]["__metadata__"][argv[3]])
    else:
        sys.exit("cli_bad_inputs.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
