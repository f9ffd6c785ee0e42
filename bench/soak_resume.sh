#!/usr/bin/env bash
# Crash-and-resume soak: a small `clgan train` run is killed with SIGKILL N
# times at random points and resumed each time with --resume; the final
# checkpoint must equal an uninterrupted run's bit for bit.
#
# Two kinds of kill, about half each:
#   time   `kill -9` from outside after a random delay (start-up, steps,
#          sample and checkpoint writes, wherever it lands)
#   write  inside a checkpoint write, by bench/soak_kill.c (LD_PRELOAD): the
#          process SIGKILLs itself at a random write, flush, close or rename
#          of the checkpoint file, tearing the write it stops in
# A checkpoint is written after every iteration (--checkpoint-every 1), so
# every kill falls near one. After each kill the checkpoint must be readable
# and never older than the one before; the run resumes from it (or starts
# afresh when none exists yet). At the end the final checkpoint's tensors and
# metadata, the log's rows (but img/s) and the sample grids must equal the
# reference run's.
#
#   usage: bench/soak_resume.sh [--kills N] [--iters K] [--seed S] [--keep DIR]
#   defaults: 30 kills, 15 N + 30 iterations, seed from the clock
# Needs a built clgan (CLGAN=path, default build/clgan; not a sanitizer build:
# the shim is preloaded), cc, python3 and Debian's mricron-data. Prints the
# kills, resumes and the verdict; exits 1 on any difference or unreadable
# checkpoint, or when the run ended before all N kills were delivered.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
clgan=${CLGAN:-$here/../build/clgan}
volume=/usr/share/mricron/templates/ch2bet.nii.gz
kills_wanted=30 iters="" seed=$(( $(date +%s) % 32768 )) keep=""

while [ $# -gt 0 ]; do
  case $1 in
    --kills) kills_wanted=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
iters=${iters:-$(( 15 * kills_wanted + 30 ))}
[ -x "$clgan" ] || { echo "soak: no clgan at $clgan (ninja -C build clgan, or set CLGAN)" >&2; exit 1; }
clgan=$(cd "$(dirname "$clgan")" && pwd)/$(basename "$clgan")
[ -f "$volume" ] || { echo "soak: needs Debian's mricron-data ($volume)" >&2; exit 1; }
RANDOM=$seed

if [ -n "$keep" ]; then
  rm -rf "$keep" && mkdir -p "$keep" && work=$(cd "$keep" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/clgan-soak.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
cd "$work" # nothing lands in the caller's folder
# Kernels compiled into a cache of the soak's own: kills may land in its writes.
export CLGAN_CACHE_DIR=$work/cache
check() { python3 "$here/soak_check.py" "$@"; }
fail() { echo "soak: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
# uniform random number in [0, $1)
uniform() { awk -v r=$(( RANDOM * 32768 + RANDOM )) -v m="$1" 'BEGIN { printf "%.4f", m * r / 1073741824 }'; }

cc -shared -fPIC -O2 -o "$work/soak_kill.so" "$here/soak_kill.c" -ldl
"$clgan" slice "$volume" --axis axial --size 16 --out "$work/data/brain/ch2bet" > /dev/null
base=(--data "$work/data" --size 16 --channels 1 --nz 8 --ngf 4 --ndf 4 --batch 8 --seed 999
      --checkpoint-every 1 --sample-every 10 --log-every 10)
model=("${base[@]}" --iters "$iters") calib=("${base[@]}" --iters 1)

# Calibration: the shim's events per checkpoint write (one iteration = one
# checkpoint) and the start-up time; then the uninterrupted reference run.
LD_PRELOAD=$work/soak_kill.so SOAK_COUNT_FILE=$work/events \
  "$clgan" train "${calib[@]}" --out "$work/calib1" > "$work/calib.log" 2>&1 ||
  fail "calibration run failed: $(tail -n 3 "$work/calib.log")"
per_ckpt=$(cat "$work/events")
[ "$per_ckpt" -ge 2 ] ||
  fail "the shim saw $per_ckpt checkpoint-write events (a write path it does not intercept?)"
t0=$(now)
"$clgan" train "${calib[@]}" --out "$work/calib2" > /dev/null 2>&1 || fail "calibration run failed"
t1=$(now)
"$clgan" train "${model[@]}" --out "$work/ref" > "$work/ref.log" 2>&1 ||
  fail "reference run failed: $(tail -n 3 "$work/ref.log")"
t2=$(now)
startup=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
per_iter=$(awk -v a="$t1" -v b="$t2" -v s="$startup" -v n="$iters" \
  'BEGIN { t = (b - a - s) / n; print (t > 0.0005 ? t : 0.0005) }')
printf 'soak: %d kills of a %d-iteration run (seed %d); reference %.2f s, start-up %.2f s, %d events per checkpoint write\n' \
  "$kills_wanted" "$iters" "$seed" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" \
  "$startup" "$per_ckpt"

run=$work/run ckpt=$work/run/checkpoint.safetensors
kills=0 time_kills=0 time_in_write=0 resumes=0 fresh=0 last=0
declare -A at=([write]=0 [flush]=0 [fsync]=0 [close]=0 [rename]=0 [renamed]=0)
soak_start=$(now)
temp_files() {
  local n=0 f
  for f in "$run"/checkpoint.safetensors?*; do [ -e "$f" ] && n=$((n + 1)); done
  echo "$n"
}
while :; do
  done_iters=0
  if [ -f "$ckpt" ]; then
    done_iters=$(check iteration "$ckpt") || fail "unreadable checkpoint after kill $kills"
    [ "$done_iters" -ge "$last" ] ||
      fail "after kill $kills the checkpoint is at iteration $done_iters, before $last"
    last=$done_iters
    [ "$done_iters" -lt "$iters" ] || break # killed after the last checkpoint's rename
    cmd=("$clgan" train --resume "$ckpt" "${model[@]}")
    resumes=$((resumes + 1))
  else
    rm -rf "$run" # killed before the first checkpoint: start again
    cmd=("$clgan" train "${model[@]}" --out "$run")
    fresh=$((fresh + 1))
  fi
  left=$((kills_wanted - kills)) remaining=$((iters - done_iters))
  if [ "$left" -eq 0 ]; then
    "${cmd[@]}" >> "$work/run.log" 2>&1 || fail "the last resume failed: $(tail -n 3 "$work/run.log")"
    break
  fi
  # Time kills aim at a point before the run's end (a time budget of half the
  # remaining work at most); the last two kills are checkpoint-write kills,
  # which always land: there is a checkpoint write left.
  if [ "$left" -le 2 ] || [ "$remaining" -lt 4 ] || [ $((RANDOM % 2)) -eq 0 ]; then
    span=$(( 2 * remaining / (left + 1) )); [ "$span" -ge 1 ] || span=1
    nth=$(( 1 + RANDOM % span )); [ "$nth" -le "$remaining" ] || nth=$remaining
    # any event of the write, or one of its last five (the last data, flush,
    # close and rename, each a single event that a uniform pick rarely hits)
    if [ $((RANDOM % 2)) -eq 0 ]; then event=$(( RANDOM % per_ckpt + 1 ))
    else event=$(( per_ckpt - RANDOM % (per_ckpt < 5 ? per_ckpt : 5) )); fi
    rc=0
    rm -f "$work/note"
    LD_PRELOAD=$work/soak_kill.so SOAK_KILL_AT=$(( (nth - 1) * per_ckpt + event )) \
      SOAK_NOTE_FILE=$work/note "${cmd[@]}" >> "$work/run.log" 2>&1 &
    wait $! 2> /dev/null || rc=$? # (no "Killed" line from bash)
    if [ "$rc" -ne 137 ] || [ ! -f "$work/note" ]; then
      fail "a checkpoint-write kill did not happen (exit $rc): $(tail -n 3 "$work/run.log")"
    fi
    kind=$(cat "$work/note")
    at[$kind]=$(( ${at[$kind]:-0} + 1 ))
  else
    before=$(temp_files)
    delay=$(uniform "$(awk -v s="$startup" -v t="$per_iter" -v r="$remaining" -v k="$left" \
      'BEGIN { print s + 2 * r * t / (k + 1) }')")
    "${cmd[@]}" >> "$work/run.log" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2> /dev/null || true
    rc=0
    wait "$pid" 2> /dev/null || rc=$?
    [ "$rc" -ne 0 ] || fail "the run ended before kill $((kills + 1)) of $kills_wanted (lower the kills or raise --iters)"
    [ "$rc" -eq 137 ] || fail "the run failed (exit $rc): $(tail -n 3 "$work/run.log")"
    time_kills=$((time_kills + 1))
    [ "$(temp_files)" -le "$before" ] || time_in_write=$((time_in_write + 1))
  fi
  kills=$((kills + 1))
done
soak_time=$(awk -v a="$soak_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')

final=$(check iteration "$ckpt") || fail "the final checkpoint is unreadable"
[ "$final" -eq "$iters" ] || fail "the final checkpoint is at iteration $final, not $iters"
verdict=PASS
tensors=$(check compare "$work/ref/checkpoint.safetensors" "$ckpt" 2>&1) || verdict=FAIL
log=$(check log "$work/ref/log.csv" "$run/log.csv" 2>&1) || verdict=FAIL
samples_bad=0 samples=0
for f in "$work/ref/samples"/*.png; do
  samples=$((samples + 1))
  cmp -s "$f" "$run/samples/${f##*/}" || { samples_bad=$((samples_bad + 1)); verdict=FAIL; }
done
if cmp -s "$work/ref/checkpoint.safetensors" "$ckpt"; then same_file="byte-identical files"
else same_file="the files differ as bytes"; fi

echo "soak: $kills kills: $time_kills at random times ($time_in_write of them inside a checkpoint" \
  "write), $((kills - time_kills)) inside checkpoint writes (${at[write]} torn writes, ${at[flush]}" \
  "at a flush, ${at[fsync]} at an fsync, ${at[close]} at the close, ${at[rename]} just before" \
  "the rename, ${at[renamed]} just after it)"
echo "soak: $resumes resumes, $((fresh - 1)) fresh restarts (killed before the first checkpoint), $soak_time s"
echo "soak: checkpoint: $tensors; $same_file"
echo "soak: log: $log"
echo "soak: samples: $((samples - samples_bad)) of $samples reference grids equal"
echo "soak: temporary checkpoint files left behind by the kills: $(temp_files)"
echo "soak: $verdict: $kills kills, $resumes resumes, final checkpoint at iteration $final" \
  "$([ $verdict = PASS ] && echo "equal to the uninterrupted run's" || echo "DIFFERS from the uninterrupted run")"
[ "$verdict" = PASS ]
