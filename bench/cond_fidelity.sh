#!/bin/bash
# Fidelity of the conditional model (`clgan train --conditional`): trains one
# model on two visibly different classes of Debian's ch2bet.nii.gz (axial and
# sagittal slices, 32 px), generates COUNT images of each class, and measures
# each generated class against each real class with `clgan evaluate`: the
# median distance from a generated image to its nearest real image (RMS on
# the [0, 1] scale) and the SWD. A class is recognised as itself when its
# images are nearer to (and closer in distribution to) its own real class
# than to the other.
#   bench/cond_fidelity.sh [WORK_DIR] [ITERS] [extra clgan train flags...]
# Needs build/clgan, python3 and mricron-data.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
clgan="$here/build/clgan"
work=${1:-/tmp/clgan_cond_fidelity}
iters=${2:-400}
shift $(( $# >= 2 ? 2 : $# ))
mkdir -p "$work"
cd "$work"
if [ ! -d data/ch2bet ]; then
  "$clgan" slice /usr/share/mricron/templates/ch2bet.nii.gz --axis all --out data/ch2bet >/dev/null
fi
rm -rf classes run gen
for a in axial sagittal; do
  mkdir -p "classes/$a"
  cp data/ch2bet/ch2bet_"$a"_*.png "classes/$a/"
done
start=$(date +%s.%N)
"$clgan" train --data classes --conditional --channels 1 --size 32 --ngf 32 --ndf 32 --batch 32 \
  --iters "$iters" --log-every 100 --sample-every 100 --out run "$@" | grep -E "^\[|per class" || true
end=$(date +%s.%N)
"$clgan" generate --checkpoint run/checkpoint.safetensors --class all --count 112 --out gen \
  --grid gen/grid.png >/dev/null
printf 'train: %s iterations in %.0f s\n' "$iters" "$(echo "$end - $start" | bc)"
printf '%-10s %-10s %12s %10s %12s\n' generated real "NN median" "SWD x1e3" "MS-SSIM gen"
for g in axial sagittal; do
  for r in axial sagittal; do
    "$clgan" evaluate --real classes --class "$r" --fake "gen/$g" --closest-png - \
      --json "eval_${g}_vs_$r.json" >/dev/null
    python3 - "$g" "$r" "eval_${g}_vs_$r.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[3]))
print("%-10s %-10s %12.4f %10.1f %12.3f" % (sys.argv[1], sys.argv[2],
      j["memorisation"]["generated_to_real"]["median"], j["swd"]["mean_x1e3"],
      j["msssim"]["generated"]))
PY
  done
done
