#!/usr/bin/env bash
# The scarce-class study of the README (issue 13): does synthetic data help a
# classifier? Debian's T1 brain volume ch2bet sliced along all three axes
# (64 px), classes = axes, the coronal class cut to a tenth (every 10th
# slice); one DCGAN per class that needs images (a short DiffAugment run),
# `clgan balance` to the largest class, then `clgan utility` (3 seeds) tested
# on slices of other volumes: the macaque template inia19-t1-brain (another
# brain) and ch2 (the same subject's whole head, skull on).
# FORM conditional trains one `--conditional --balanced-sampling` model on
# every class instead, and balances from it.
#   usage: bench/study_utility.sh [OUT_DIR] [GAN_STEPS] [per-class|conditional]
#   (defaults: runs/utility 600 per-class)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/utility}
steps=${2:-600}
form=${3:-per-class}
case "$form" in per-class|conditional) ;; *) echo "FORM is per-class or conditional, not '$form'" >&2; exit 2 ;; esac
clgan=${CLGAN:-build/clgan}
tpl=/usr/share/mricron/templates
[ -f "$tpl/ch2bet.nii.gz" ] || { echo "needs Debian's mricron-data ($tpl)" >&2; exit 1; }
mkdir -p "$out"
t() { local s; s=$(date +%s.%N); "$@"; echo "   ($(echo "$(date +%s.%N) - $s" | bc) s: $*)" >&2; }

# slices into <set>/<axis>/
for vol in ch2bet inia19-t1-brain ch2; do
  [ -d "$out/raw_$vol" ] || t "$clgan" slice "$tpl/$vol.nii.gz" --axis all --size 64 \
    --out "$out/raw_$vol" > /dev/null
done
split() { # raw dir, set dir, axis to thin (or -)
  [ -d "$2" ] && return 0
  for axis in axial coronal sagittal; do
    mkdir -p "$2/$axis"
    i=0
    for f in "$1"/*_"$axis"_*.png; do
      if [ "$axis" != "$3" ] || [ $((i % 10)) -eq 0 ]; then cp "$f" "$2/$axis/"; fi
      i=$((i + 1))
    done
  done
}
split "$out/raw_ch2bet" "$out/train" coronal
split "$out/raw_inia19-t1-brain" "$out/test_inia19" -
split "$out/raw_ch2" "$out/test_ch2" -
for d in train test_inia19 test_ch2; do
  echo "$d: $(for a in axial coronal sagittal; do printf '%s %s  ' $a "$(ls "$out/$d/$a" | wc -l)"; done)"
done

gan_args=(--size 64 --channels 1 --ngf 32 --ndf 32 --iters "$steps" --augment color,translation,cutout
          --seed 1 --sample-every "$steps" --checkpoint-every "$steps" --log-every 100)
if [ "$form" = conditional ]; then
  # one model for every class, each batch drawn class-balanced
  ck=$out/gan_conditional/checkpoint.safetensors
  [ -f "$ck" ] ||
    t "$clgan" train --data "$out/train" --conditional --balanced-sampling --batch 32 "${gan_args[@]}" \
      --out "$out/gan_conditional" > "$out/gan_conditional.log"
  [ -d "$out/balanced" ] || t "$clgan" balance --data "$out/train" --checkpoint "$ck" --out "$out/balanced" --seed 7
  for axis in axial coronal; do
    t "$clgan" generate --checkpoint "$ck" --class "$axis" --seed 7 --count 32 --overwrite \
      --out "$out/grid_$axis" --grid "$out/grid_$axis.png" > /dev/null
  done
else
  # one GAN per class that is short of the largest class
  largest=$(for a in axial coronal sagittal; do ls "$out/train/$a" | wc -l; done | sort -n | tail -1)
  ckpts=()
  for axis in axial coronal sagittal; do
    n=$(ls "$out/train/$axis" | wc -l)
    [ "$n" -lt "$largest" ] || continue
    batch=$(( n < 32 ? (n / 2) * 2 : 32 ))
    [ -f "$out/gan_$axis/checkpoint.safetensors" ] ||
      t "$clgan" train --data "$out/train" --class "$axis" --batch "$batch" "${gan_args[@]}" \
        --out "$out/gan_$axis" > "$out/gan_$axis.log"
    ckpts+=(--checkpoint "$axis=$out/gan_$axis/checkpoint.safetensors")
  done
  [ -d "$out/balanced" ] || t "$clgan" balance --data "$out/train" "${ckpts[@]}" --out "$out/balanced" --seed 7
  for axis in axial coronal; do
    ls "$out/balanced/$axis"/synthetic_*.png > /dev/null 2>&1 &&
      t "$clgan" generate --checkpoint "$out/gan_$axis/checkpoint.safetensors" --seed 7 --count 32 --overwrite \
        --out "$out/grid_$axis" --grid "$out/grid_$axis.png" > /dev/null
  done
fi
for test in test_inia19 test_ch2; do
  t "$clgan" utility --train "$out/train" --test "$out/$test" --synthetic "$out/balanced" \
    --seeds 3 --overwrite --json "$out/utility_$test.json" --chart "$out/utility_$test.svg" \
    | tee "$out/utility_$test.txt"
done
