#!/bin/sh
# Runs `clgan bench` and the PyTorch peer (bench/peer_pytorch.py) on the same
# configuration one after the other, prints both reports and the ratio of
# their img/s (clgan / PyTorch).
#
#   bench/compare.sh [CONFIG] [options]
#
# CONFIG: tutorial (default) or gray32. Options go to both programs
# (--steps N --warmup N --seed N --size --channels --nz --ngf --ndf --batch),
# except --device SPEC, --gemm B, --no-startup and --no-profile (clgan only)
# and --threads N (PyTorch only). Environment: CLGAN (the clgan executable;
# default build/clgan next to this script's directory), PYTHON (default
# /usr/bin/python3, Debian's, which has torch), OUT (a directory for the two
# JSON files; default a temporary one, removed afterwards).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
clgan=${CLGAN:-$root/build/clgan}
python=${PYTHON:-/usr/bin/python3}
config=tutorial
case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  -*|"") ;;
  *) config=$1; shift ;;
esac

clgan_args=""
peer_args=""
add() { # add VAR WORD: append a shell-quoted word
  q=$(printf '%s' "$2" | sed "s/'/'\\\\''/g")
  eval "$1=\"\$$1 '$q'\""
}
while [ $# -gt 0 ]; do
  case "$1" in
    --device|--gemm) add clgan_args "$1"; add clgan_args "${2:?$1 needs a value}"; shift 2 ;;
    --no-startup|--no-profile) add clgan_args "$1"; shift ;;
    --threads) add peer_args "$1"; add peer_args "${2:?$1 needs a value}"; shift 2 ;;
    --steps|--warmup|--seed|--size|--channels|--nz|--ngf|--ndf|--batch)
      add clgan_args "$1"; add clgan_args "${2:?$1 needs a value}"
      add peer_args "$1"; add peer_args "$2"; shift 2 ;;
    *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[ -x "$clgan" ] || { echo "compare.sh: $clgan not found: build first (ninja -C build) or set CLGAN" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || {
  echo "compare.sh: $python has no torch: install python3-torch or set PYTHON" >&2; exit 1; }

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"; out=$OUT
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/clgan-compare-XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi

echo "### clgan bench --config $config"
eval "\"\$clgan\" bench --config \"\$config\" --json \"\$out/clgan.json\" $clgan_args"
# The peer's fraction of peak uses the peak clgan measured on its device.
peak=$("$python" -c 'import json,sys; p=json.load(open(sys.argv[1]))[0].get("peak_gflops"); print(p or "")' "$out/clgan.json")
echo
echo "### bench/peer_pytorch.py --config $config"
if [ -n "$peak" ]; then
  eval "\"\$python\" \"\$here/peer_pytorch.py\" --config \"\$config\" --json \"\$out/pytorch.json\" --peak-gflops \"\$peak\" $peer_args"
else
  eval "\"\$python\" \"\$here/peer_pytorch.py\" --config \"\$config\" --json \"\$out/pytorch.json\" $peer_args"
fi
echo
"$python" - "$out/clgan.json" "$out/pytorch.json" <<'EOF'
import json, sys
clgan = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))[0]
def mib(b):
    return "%.0f MiB" % (b / 2**20) if b else "?"
def pct(f):
    return "%.1f%%" % (100 * f) if f is not None else "-"
print("### clgan vs PyTorch, config %s" % torch["config"])
print("%-44s %9s %9s %9s %7s %10s %10s %9s" % ("", "ms/step", "img/s", "GFLOP/s", "% peak",
                                               "memory", "max RSS", "start-up"))
print("%-44s %9.1f %9.1f %9.1f %7s %10s %10s %8.2fs" % (
    torch["device"][:44], torch["ms_per_step"], torch["img_per_s"], torch["gflops"],
    pct(torch.get("peak_fraction")), mib(torch["peak_bytes"]), mib(torch["max_rss_bytes"]),
    torch["startup_s"]))
for c in clgan:
    name = "clgan: " + c["device"]
    if "img_per_s" not in c:
        print("%-44s failed: %s" % (name[:44], c.get("error", "?")))
        continue
    warm = c.get("startup_warm_s")
    print("%-44s %9.1f %9.1f %9.1f %7s %10s %10s %9s" % (
        name[:44], c["ms_per_step"], c["img_per_s"], c["gflops"], pct(c.get("peak_fraction")),
        mib(c["peak_bytes"]), mib(c.get("max_rss_bytes")),
        "%.2fs" % warm if warm is not None else "-"))
for c in clgan:
    if "img_per_s" in c:
        print("ratio clgan / PyTorch img/s on %s: %.2fx" % (c["device"],
                                                          c["img_per_s"] / torch["img_per_s"]))
busy = [x.get("busy_cores_before") for x in clgan + [torch]]
if any(b is not None and b >= 0.2 for b in busy):
    print("note: cores busy with other processes just before the runs: %s; they shared the "
          "cores, so these timings are not clean" % ", ".join(
              "%.1f" % b if b is not None else "?" for b in busy))
print("(memory: clgan's device buffers vs PyTorch's maximum resident set, and each process's "
      "max RSS; start-up: process start to first step done, clgan with a warm kernel cache)")
EOF
