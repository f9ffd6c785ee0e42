#!/bin/sh
# Runs `clgan bench` and the PyTorch peer (bench/peer_pytorch.py) on the same
# configuration in alternating rounds: each round runs clgan, PyTorch NCHW
# and PyTorch channels_last (in reverse order every other round, so a drifting
# clock hits all alike). Prints the first round's reports, then the medians of
# every setting over the rounds, clgan beside the best PyTorch setting, and
# the ratio of their img/s (clgan / PyTorch; the median of the rounds' ratios).
#
#   bench/compare.sh [CONFIG] [options]
#
# CONFIG: tutorial (default) or gray32. --rounds N: rounds (3). Options go to
# both programs (--steps N --warmup N --seed N --size --channels --nz --ngf
# --ndf --batch), except --device SPEC, --gemm B, --no-startup and
# --no-profile (clgan only; start-up and the per-layer profile are measured
# in the first round only) and --threads N, --peer-device DEV (cpu or cuda)
# and --tf32 default|on|off (PyTorch only). Environment: CLGAN (the clgan
# executable; default build/clgan next to this script's directory), PYTHON
# (a python with PyTorch 2.x; default ~/venv-torch/bin/python when it
# exists, else python3: see README, Speed), OUT (a directory for the JSON
# files, compare.json the summary; default a temporary one, removed after).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
clgan=${CLGAN:-$root/build/clgan}
if [ -z "${PYTHON:-}" ] && [ -x "$HOME/venv-torch/bin/python" ]; then
  PYTHON=$HOME/venv-torch/bin/python
fi
python=${PYTHON:-python3}
config=tutorial
rounds=3
case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  -*|"") ;;
  *) config=$1; shift ;;
esac

clgan_args=""
first_args=""
peer_args=""
add() { # add VAR WORD: append a shell-quoted word
  q=$(printf '%s' "$2" | sed "s/'/'\\\\''/g")
  eval "$1=\"\$$1 '$q'\""
}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --device|--gemm) add clgan_args "$1"; add clgan_args "${2:?$1 needs a value}"; shift 2 ;;
    --no-startup|--no-profile) add first_args "$1"; shift ;;
    --threads|--tf32) add peer_args "$1"; add peer_args "${2:?$1 needs a value}"; shift 2 ;;
    --peer-device) add peer_args --device; add peer_args "${2:?$1 needs a value}"; shift 2 ;;
    --steps|--warmup|--seed|--size|--channels|--nz|--ngf|--ndf|--batch)
      add clgan_args "$1"; add clgan_args "${2:?$1 needs a value}"
      add peer_args "$1"; add peer_args "$2"; shift 2 ;;
    *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "compare.sh: --rounds must be a positive integer" >&2; exit 2 ;; esac

[ -x "$clgan" ] || { echo "compare.sh: $clgan not found: build first (ninja -C build) or set CLGAN" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || {
  echo "compare.sh: $python has no torch: make the venv (README, Speed) or set PYTHON" >&2; exit 1; }

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"; out=$OUT
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/clgan-compare-XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi

# run_one SETTING ROUND: one program of one round; the first round's report
# is shown, later rounds' only their progress.
run_one() {
  log=$out/$1_$2.txt
  case "$1" in
    clgan)
      extra=$first_args
      [ "$2" -gt 1 ] && extra="--no-startup --no-profile"
      eval "\"\$clgan\" bench --config \"\$config\" --overwrite --json \"\$out/clgan_$2.json\" $clgan_args $extra" \
        >"$log" ;;
    nchw|channels_last)
      fmt=""; [ "$1" = channels_last ] && fmt=--channels-last
      # the peer's fraction of peak uses the peak clgan measured in round 1
      peak=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("peak_gflops") or "")' \
               "$out/clgan_1.json" 2>/dev/null || true)
      eval "\"\$python\" \"\$here/peer_pytorch.py\" --config \"\$config\" $fmt \
        --overwrite --json \"\$out/pytorch_$1_$2.json\" ${peak:+--peak-gflops \$peak} $peer_args" >"$log" ;;
  esac
  if [ "$2" -eq 1 ]; then echo "### round 1: $1"; cat "$log"; echo; fi
}

r=1
while [ "$r" -le "$rounds" ]; do
  echo "compare.sh: round $r/$rounds" >&2
  if [ $((r % 2)) -eq 1 ]; then order="clgan nchw channels_last"; else order="channels_last nchw clgan"; fi
  for s in $order; do run_one "$s" "$r"; done
  r=$((r + 1))
done

"$python" "$here/compare_summary.py" "$out" "$rounds"
