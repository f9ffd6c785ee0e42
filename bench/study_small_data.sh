#!/usr/bin/env bash
# The small-data study of the README: Debian's T1 brain MRI (ch2bet, ~370 slices
# of all three axes, 64 px, 1 channel), the seed's DCGAN at ngf = ndf = 32,
# batch 32, the same number of steps for each setting:
#   plain     the recipe as it is
#   augment   DiffAugment (color, translation, cutout) on every D input
#   ada       the same ops with adaptive probability (ADA, target 0.6)
# then `clgan evaluate` of 372 generated slices against the real ones (SWD,
# MS-SSIM diversity, memorisation) and a grid of each.
#   usage: bench/study_small_data.sh [OUT_DIR] [STEPS]   (defaults: runs/study 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/study}
steps=${2:-1000}
clgan=${CLGAN:-build/clgan}
volume=/usr/share/mricron/templates/ch2bet.nii.gz
[ -f "$volume" ] || { echo "needs Debian's mricron-data ($volume)" >&2; exit 1; }
mkdir -p "$out"
[ -d "$out/data/brain" ] || "$clgan" slice "$volume" --axis all --out "$out/data/brain/ch2bet"
common=(--data "$out/data" --size 64 --channels 1 --ngf 32 --ndf 32 --batch 32 --iters "$steps"
        --sample-every 250 --checkpoint-every 1000 --log-every 100 --seed 999)
declare -A extra=([plain]="" [augment]="--augment color,translation,cutout"
                  [ada]="--augment color,translation,cutout --ada")
for name in plain augment ada; do
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$clgan" train "${common[@]}" ${extra[$name]} --out "$out/$name" > "$out/$name.train.log"
  took=$(( $(date +%s) - start ))
  "$clgan" evaluate --real "$out/data" --checkpoint "$out/$name/checkpoint.safetensors" \
    --count 372 --closest-png "$out/$name/closest_pairs.png" --json "$out/$name/eval.json" \
    > "$out/$name.eval.txt"
  "$clgan" generate --checkpoint "$out/$name/checkpoint.safetensors" --count 32 \
    --out "$out/$name/generated" --grid "$out/$name/grid.png" > /dev/null
  echo "== $name: $steps steps in ${took} s"
  grep -E "Loss_D" "$out/$name.train.log" | tail -n 1
  cat "$out/$name.eval.txt"
done
