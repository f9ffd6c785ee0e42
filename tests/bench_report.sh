#!/usr/bin/env bash
# `clgan bench`'s profiled report on a small model: the per-layer table, the
# regions' kernels (--kernels, and "regions" in --json) and their sums. Each
# region's kernels must add up to the region, the regions to the profiled
# step's kernel time, and every layer pass must be there with the kernels
# that a layer of its kind runs.
#
#   usage: tests/bench_report.sh CLGAN
# Needs python3 (standard library). Exits 77 (skip) where no OpenCL device
# exists (clgan bench says so).
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 CLGAN" >&2; exit 2; }
clgan=$1
command -v python3 > /dev/null || { echo "bench_report: needs python3" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/clgan-bench-report.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 16 px, 1 channel: G and D of three layers each (G1, G2, G3; D1, D2, D3)
"$clgan" bench --config gray32 --size 16 --ngf 8 --ndf 8 --batch 8 --steps 1 --warmup 1 \
  --no-startup --kernels --json "$work/bench.json" > "$work/out.txt" 2> "$work/err.txt"
rc=$?
if [ $rc -ne 0 ]; then
  if grep -qi "no OpenCL device" "$work/err.txt"; then exit 77; fi
  echo "FAIL: clgan bench exited $rc" >&2
  cat "$work/err.txt" >&2
  exit 1
fi

python3 - "$work/bench.json" "$work/out.txt" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
failures = []
def check(ok, what):
    if not ok:
        failures.append(what)

run = runs[0]
regions = {r["name"]: r for r in run["regions"]}
total = run["profile_kernel_ms"]
check(total > 0, "the profiled step has no kernel time")
check(abs(sum(r["ms"] for r in regions.values()) - total) <= 1e-6 + 1e-3 * total,
      "the regions do not add up to the profiled step's kernel time")
for name, r in regions.items():
    check(r["launches"] > 0, f"region {name} has no launches")
    check(abs(sum(r["kernel_ms"].values()) - r["ms"]) <= 1e-6 + 1e-3 * r["ms"],
          f"region {name}: its kernels do not add up to it")
layers = [l["name"] for l in run["layers"]]
check(layers == ["G1", "G2", "G3", "D1", "D2", "D3"], f"layers {layers}")
for layer in layers:
    for half in ("fwd", "bwd"):
        check(f"{layer} {half}" in regions, f"no region {layer} {half}")
# each layer's passes hold its time in the per-layer table
for l in run["layers"]:
    for half, key in (("fwd", "forward_ms"), ("bwd", "backward_ms")):
        r = regions.get(f"{l['name']} {half}")
        if r:
            check(abs(r["ms"] - l[key]) <= 1e-6 + 1e-3 * l[key],
                  f"{l['name']} {half}: region {r['ms']} ms, layer table {l[key]} ms")
# G's middle layer runs a BatchNorm forward; the updates run Adam
check("bn_forward_train" in regions.get("G2 fwd", {}).get("kernel_ms", {}),
      "G2 fwd runs no bn_forward_train")
for u in ("D update", "G update"):
    check("adam_step" in regions.get(u, {}).get("kernel_ms", {}), f"{u} runs no adam_step")
# the text report lists the same regions
check("kernels per region" in text, "no 'kernels per region' in the text report")
for name in regions:
    check(any(line.split(":")[0].split()[:-1] == name.split() for line in text.splitlines()
              if line.startswith("  ") and ":" in line),
          f"text report has no line for region {name}")
for f in failures:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
EOF
