#!/usr/bin/env python3
"""Checks for bench/soak_resume.sh (standard library only: CI has python3 for meson).

  soak_check.py iteration CKPT   validate a clgan checkpoint, print its iteration
  soak_check.py compare REF GOT  same tensors (names, dtypes, shapes, bytes) and
                                 metadata, except keys that legitimately differ
  soak_check.py log REF GOT      same log.csv rows, except the img/s column

Exit status 0 when the check holds, 1 with a message on stderr otherwise.
"""
import json
import re
import struct
import sys

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "U64": 8, "I32": 4, "U32": 4,
               "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}
# Metadata that may differ between two runs of the same training (none today;
# a wall time or a host name would be such a key).
VOLATILE_META = re.compile(r"(time|seconds|elapsed|date|host|pid)", re.I)
# log.csv columns measured rather than computed.
VOLATILE_COLUMNS = {"img_per_s"}


class Bad(Exception):
    pass


def read_safetensors(path):
    """Returns (metadata dict, {name: (dtype, shape, bytes)}); raises Bad."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise Bad(f"{path}: {e.strerror}")
    if len(blob) < 8:
        raise Bad(f"{path}: {len(blob)} bytes, shorter than the header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise Bad(f"{path}: header of {hlen} bytes in a file of {len(blob)}")
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Bad(f"{path}: header is not JSON ({e})")
    data = blob[8 + hlen:]
    meta = header.pop("__metadata__", {}) or {}
    tensors, end = {}, 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        lo, hi = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        if t["dtype"] not in DTYPE_BYTES or hi - lo != count * DTYPE_BYTES[t["dtype"]]:
            raise Bad(f"{path}: tensor {name}: {t['dtype']} {t['shape']} in {hi - lo} bytes")
        if lo != end:
            raise Bad(f"{path}: tensor {name} starts at {lo}, the previous one ends at {end}")
        end = hi
        tensors[name] = (t["dtype"], tuple(t["shape"]), data[lo:hi])
    if end != len(data):
        raise Bad(f"{path}: tensors end at {end} but the data section has {len(data)} bytes")
    return meta, tensors


def cmd_iteration(path):
    meta, tensors = read_safetensors(path)
    if meta.get("format") != "clgan-checkpoint":
        raise Bad(f"{path}: format '{meta.get('format')}', not a clgan checkpoint")
    if not tensors:
        raise Bad(f"{path}: no tensors")
    try:
        print(int(meta["iteration"]))
    except (KeyError, ValueError):
        raise Bad(f"{path}: no valid 'iteration' metadata")


def cmd_compare(ref, got):
    rmeta, rt = read_safetensors(ref)
    gmeta, gt = read_safetensors(got)
    problems = []
    if set(rt) != set(gt):
        problems.append(f"tensor names differ: only in {ref}: {sorted(set(rt) - set(gt))}, "
                        f"only in {got}: {sorted(set(gt) - set(rt))}")
    nbytes = 0
    for name in sorted(set(rt) & set(gt)):
        if rt[name][:2] != gt[name][:2]:
            problems.append(f"tensor {name}: {rt[name][:2]} vs {gt[name][:2]}")
        elif rt[name][2] != gt[name][2]:
            a, b = rt[name][2], gt[name][2]
            first = next(i for i in range(len(a)) if a[i] != b[i])
            diff = sum(x != y for x, y in zip(a, b))
            problems.append(f"tensor {name}: {diff} of {len(a)} bytes differ (first at byte {first})")
        nbytes += len(rt[name][2])
    keys = sorted((set(rmeta) | set(gmeta)) - {k for k in rmeta if VOLATILE_META.search(k)}
                  - {k for k in gmeta if VOLATILE_META.search(k)})
    for k in keys:
        if rmeta.get(k) != gmeta.get(k):
            problems.append(f"metadata {k}: '{rmeta.get(k)}' vs '{gmeta.get(k)}'")
    if problems:
        raise Bad(f"{got} differs from {ref}:\n  " + "\n  ".join(problems))
    ignored = len(set(rmeta) | set(gmeta)) - len(keys)
    print(f"{len(rt)} tensors ({nbytes} bytes) and {len(keys)} metadata entries equal"
          f"{f', {ignored} volatile metadata entries ignored' if ignored else ''}")


def read_log(path):
    try:
        with open(path, newline="") as f:
            rows = [line.rstrip("\n").split(",") for line in f]
    except OSError as e:
        raise Bad(f"{path}: {e.strerror}")
    if not rows:
        raise Bad(f"{path}: empty")
    keep = [i for i, c in enumerate(rows[0]) if c not in VOLATILE_COLUMNS]
    return [[r[i] if i < len(r) else "" for i in keep] for r in rows]


def cmd_log(ref, got):
    a, b = read_log(ref), read_log(got)
    if a != b:
        n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        show = lambda rows: ",".join(rows[n]) if n < len(rows) else "(missing)"
        raise Bad(f"{got}: {len(b) - 1} rows vs {len(a) - 1} in {ref}; first difference at "
                  f"line {n + 1}:\n  {show(a)}\n  {show(b)}")
    print(f"{len(a) - 1} log rows equal (all columns but {', '.join(sorted(VOLATILE_COLUMNS))})")


def main(argv):
    cmds = {"iteration": (cmd_iteration, 1), "compare": (cmd_compare, 2), "log": (cmd_log, 2)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) != 2 + cmds[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    try:
        cmds[argv[1]][0](*argv[2:])
    except Bad as e:
        sys.stderr.write(f"soak_check: {e}\n")
        return 1
    except (KeyError, TypeError, ValueError) as e:
        sys.stderr.write(f"soak_check: {argv[2:]}: malformed safetensors header ({e!r})\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
