#!/usr/bin/env bash
# The small-data study of the README: slices of one Debian brain MRI volume
# (ch2bet, 372 slices of all three axes, 64 px, 1 channel; or a subset of
# them), the seed's DCGAN at ngf = ndf = 32, batch 32, the same number of
# steps for every setting and seed:
#   plain     the recipe as it is
#   augment   DiffAugment (color, translation, cutout) on every D input
#   lecam     augment + LeCam regularisation (--lecam 0.3)
#   sn        augment + spectral normalisation of D (--spectral-norm)
#   bcr       augment + balanced consistency regularisation (--consistency 10)
#   ema       augment + the averaged generator (--ema 0.999)
#   all       augment + EMA + the three regularisers together
# (also available with --settings: ada = augment + ADA, emasn = augment + EMA
# + spectral norm, small = the --small-data preset). Each run is scored with
# `clgan evaluate` against the slices it trained on, as many generated as
# real: SWD x1e3 per level and averaged, MS-SSIM of generated pairs (the real
# pairs' value is printed beside it), memorisation (% of generated slices
# nearer to a training slice than the real slices' own 5th percentile) and
# the training wall time. The table gives mean and spread (sample standard
# deviation) over the seeds; train time is wall time, and the CPU time
# (user + system, less sensitive to other work on a shared machine) is kept
# beside it in RUN.cpu.
#
#   usage: bench/study_small_data.sh [--out DIR] [--iters N] [--seeds N|S1,S2,...]
#            [--subset N] [--settings LIST] [--volume NIFTI] [--table]
#   defaults: runs/study, 3000 iterations, 3 seeds (999, 1000, 1001), all 372
#   slices, plain,augment,lecam,sn,bcr,ema,all, Debian's ch2bet.nii.gz.
#   --table prints the table of the seeds finished so far and trains nothing.
#   --subset N trains and scores on N slices spread evenly over the sorted
#   list (every axis represented); the same N slices for every run.
# Runs are niced and go seed by seed (every setting of the first seed, then
# the next), so a partial study already compares every setting; a finished
# run (its eval.json exists) is not redone, so an interrupted study continues
# where it stopped. While the file OUT/PAUSE exists no new run starts (to
# time something else on free cores); the table covers the finished seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
table_only=0 out=runs/study iters=3000 seeds=3 subset=0 settings=plain,augment,lecam,sn,bcr,ema,all
volume=/usr/share/mricron/templates/ch2bet.nii.gz
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2 ;;
    --iters) iters=$2 ;;
    --seeds) seeds=$2 ;;
    --subset) subset=$2 ;;
    --settings) settings=$2 ;;
    --volume) volume=$2 ;;
    --table) table_only=1; shift; continue ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "study_small_data.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2 || { echo "study_small_data.sh: $1 needs a value" >&2; exit 2; }
done
clgan=${CLGAN:-build/clgan}
[ -x "$clgan" ] || { echo "needs $clgan (meson setup build && ninja -C build)" >&2; exit 1; }
[ -f "$volume" ] || { echo "needs the volume $volume (Debian's mricron-data)" >&2; exit 1; }
case "$seeds" in
  *,*) seed_list=${seeds//,/ } ;;
  *) # a count: 999, 1000, ...; a seed given alone is a list of one ("999,")
     if [ "$seeds" -gt 20 ]; then
       echo "study: --seeds $seeds is a count of seeds (at most 20); for the seed $seeds alone give --seeds $seeds," >&2
       exit 2
     fi
     seed_list=$(seq 999 $((998 + seeds))) ;;
esac

aug="--augment color,translation,cutout"
declare -A extra=([plain]="" [augment]="$aug" [lecam]="$aug --lecam 0.3" [sn]="$aug --spectral-norm"
                  [bcr]="$aug --consistency 10" [ema]="$aug --ema 0.999"
                  [all]="$aug --ema 0.999 --lecam 0.3 --spectral-norm --consistency 10"
                  [ada]="$aug --ada" [emasn]="$aug --ema 0.999 --spectral-norm" [small]="--small-data")
for name in ${settings//,/ }; do
  [ -n "${extra[$name]+set}" ] || { echo "unknown setting $name" >&2; exit 2; }
done

mkdir -p "$out"
vol_name=$(basename "$volume"); vol_name=${vol_name%%.*}
all_dir="$out/data/$vol_name"
[ -d "$all_dir/brain" ] || "$clgan" slice "$volume" --axis all --out "$all_dir/brain/$vol_name" > /dev/null
data=$all_dir
if [ "$subset" -gt 0 ]; then
  data="$out/data/$vol_name-subset$subset"
  if [ ! -d "$data" ]; then
    mkdir -p "$data/brain/$vol_name"
    mapfile -t files < <(find "$all_dir/brain" -name '*.png' | sort)
    [ "$subset" -le "${#files[@]}" ] || { echo "--subset $subset: only ${#files[@]} slices" >&2; exit 2; }
    for ((i = 0; i < subset; i++)); do
      cp "${files[$(( i * ${#files[@]} / subset ))]}" "$data/brain/$vol_name/"
    done
  fi
fi
count=$(find "$data" -name '*.png' | wc -l)
tag="$vol_name-$count-slices-$iters-steps"
echo "study: $count slices of $vol_name, $iters steps, seeds $(echo $seed_list), settings $settings"

common=(--data "$data" --size 64 --channels 1 --ngf 32 --ndf 32 --batch 32 --iters "$iters"
        --sample-every 500 --checkpoint-every "$iters" --log-every 100)
for seed in $seed_list; do
  [ "$table_only" = 1 ] && break
  for name in ${settings//,/ }; do
    run="$out/runs/$tag/$name-seed$seed"
    [ -f "$run/eval.json" ] && continue
    while [ -e "$out/PAUSE" ]; do sleep 5; done
    rm -rf "$run"
    mkdir -p "$(dirname "$run")"
    start=$EPOCHREALTIME
    # shellcheck disable=SC2086
    TIMEFORMAT="%U %S"
    { time nice "$clgan" train "${common[@]}" --seed "$seed" ${extra[$name]} --out "$run" \
        > "$run.train.log" 2>&1; } 2> "$run.cpu.tmp"
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$run.seconds"
    awk '{ printf "%.1f\n", $1 + $2 }' "$run.cpu.tmp" > "$run.cpu" && rm -f "$run.cpu.tmp"
    nice "$clgan" evaluate --real "$data" --checkpoint "$run/checkpoint.safetensors" --count "$count" \
      --closest-png "$run/closest_pairs.png" --json "$run/eval.tmp.json" > "$run.eval.txt"
    nice "$clgan" generate --checkpoint "$run/checkpoint.safetensors" --count 32 \
      --out "$run/generated" --grid "$run/grid.png" > /dev/null
    mv "$run/eval.tmp.json" "$run/eval.json"
    echo "  $name, seed $seed: $(cat "$run.seconds") s ($(cat "$run.cpu") s CPU); $(grep Loss_D "$run.train.log" | tail -n 1 | sed 's/  [0-9.]* img\/s.*//')"
  done
done

python3 - "$out/runs/$tag" "$settings" "$seed_list" <<'EOF'
import json, math, os, sys
root, settings, seeds = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split()

def spread(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, s

def cell(xs, fmt):
    m, s = spread(xs)
    return (fmt % m) + ("" if math.isnan(s) else " ± " + (fmt % s))

def finished(seed):
    return all(os.path.exists("%s/%s-seed%s/eval.json" % (root, n, seed)) for n in settings)

seeds = [s for s in seeds if finished(s)]
if not seeds:
    sys.exit("study: no seed has finished every setting yet")
rows, levels, real_msssim = [], None, None
for name in settings:
    runs = [json.load(open("%s/%s-seed%s/eval.json" % (root, name, s))) for s in seeds]
    secs = [float(open("%s/%s-seed%s.seconds" % (root, name, s)).read()) for s in seeds]
    levels = [l["resolution"] for l in runs[0]["swd"]["levels"]]
    real_msssim = runs[0]["msssim"]["real"]
    cols = [cell([r["swd"]["levels"][i]["swd_x1e3"] for r in runs], "%.1f") for i in range(len(levels))]
    cols.append(cell([r["swd"]["mean_x1e3"] for r in runs], "%.1f"))
    cols.append(cell([r["msssim"]["generated"] for r in runs], "%.3f"))
    cols.append(cell([100 * r["memorisation"]["fraction_below_real_p5"] for r in runs], "%.1f"))
    cols.append(cell(secs, "%.0f"))
    cols.append(cell([float(open("%s/%s-seed%s.cpu" % (root, name, s)).read()) for s in seeds], "%.0f"))
    rows.append([name] + cols)
head = (["setting"] + ["SWD %d px" % l for l in levels] + ["mean SWD x1e3",
        "MS-SSIM gen (real %.3f)" % real_msssim, "memorised %", "train s", "CPU s"])
print("\n%s: mean ± sample std over %d seed%s (%s)" % (root, len(seeds), "" if len(seeds) == 1 else "s",
                                                     ", ".join(seeds)))
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    print("| " + " | ".join(r) + " |")
EOF
