#!/bin/bash
# Data-parallel training over MPI (issue 12), on whatever OpenCL device the
# other tests use: 2 ranks with the global batch 32 against 1 rank with batch
# 32 (weights, Adam moments, BatchNorm running statistics within 1e-4 of the
# tensor's scale), a failing rank stopping the job with its message, a batch
# that does not split refused before any work, and a checkpoint written by
# two ranks resumed on one to the continuous run's weights; the same
# agreement with LeCam, bCR, the conditional model (2 and 3 classes) and
# class-balanced batches, and the resume with LeCam's anchors and classes.
# usage: run_mpi.sh CLGAN HAS_MPI [DIST_STEPS]
#   (exit 77: no MPI in this build, or no mpirun)
set -u
clgan=$1 has_mpi=$2 dist_steps=${3:-}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; } # the test changes folders
clgan=$(abs "$clgan")
[ -z "$dist_steps" ] || dist_steps=$(abs "$dist_steps")
here=$(cd "$(dirname "$0")" && pwd)
if [ "$has_mpi" != 1 ] || ! command -v mpirun >/dev/null; then
  echo "SKIP: clgan built without MPI, or no mpirun"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI on a small container: no network interfaces needed between local ranks
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
python3 "$here/make_pngs.py" "$work/data" 96 32 || fail "cannot make the test images"

small=(--data "$work/data" --size 32 --channels 1 --nz 16 --ngf 8 --ndf 8 --batch 32
       --sample-every 0 --log-every 1)
# Under ASan (CI's second pass) Open MPI's own allocations at exit are not
# this program's leaks: leak checking stays on for the one-rank runs only.
mpi() { ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" timeout 300 mpirun -np "$@"; }
compare() { python3 "$here/compare_checkpoints.py" "$@"; }

if [ -n "$dist_steps" ]; then
  echo "== 2 and 3 ranks: steps create nothing, every rank holds the same model;"
  echo "   the loader thread's shares train what the device-resident ones train"
  for n in 2 3; do
    mpi "$n" "$dist_steps" "$work/data" "$work/resident$n" "$work/streamed$n" ||
      fail "dist_steps over $n ranks"
    compare "$work/streamed$n/checkpoint.safetensors" "$work/resident$n/checkpoint.safetensors" \
      --tol 0 >/dev/null || fail "streamed and resident batches differ over $n ranks"
  done
fi

# N ranks sum in another order than one rank, which moves values by rounding
# (every group agrees to ~1e-6 here) and now and then tips one LeakyReLU or
# ReLU input across 0: that element's gradient then differs by a whole term,
# and D's Adam moments by 2e-4..3e-3 after 5 steps (2 seeds of 14 on PoCL
# here, seeds 7 and 14). Such a tip is a rare discrete event, a wrong
# reduction differs on every seed: the runs agree when one of 3 seeds (the
# first, unless a tip happens) is within 1e-4. compare_checkpoints.py says
# where any difference is.
# agree NAME STEPS [FLAGS]: 1 rank and 2 ranks of the same flags; sets $seed.
agree() {
  local name=$1 steps=$2
  shift 2
  for seed in 1 2 3; do
    local one="$work/${name}1_$seed" two="$work/${name}2_$seed"
    "$clgan" train "${small[@]}" "$@" --seed "$seed" --iters "$steps" --out "$one" \
      >"$one.log" 2>&1 || { cat "$one.log"; fail "$name: one-rank run"; }
    mpi 2 "$clgan" train "${small[@]}" "$@" --seed "$seed" --iters "$steps" --out "$two" \
      >"$two.log" 2>&1 || { cat "$two.log"; fail "$name: two-rank run"; }
    grep -q "ranks: 2, 16 images each of the global batch 32" "$two.log" ||
      { cat "$two.log"; fail "$name: the two-rank run did not say how it split the batch"; }
    echo "   seed $seed:"
    compare "$two/checkpoint.safetensors" "$one/checkpoint.safetensors" --tol 1e-4 | sed 's/^/   /'
    [ "${PIPESTATUS[0]}" = 0 ] && return 0
  done
  fail "$name: 2 ranks and 1 rank trained different models with every seed"
}

# same_logs NAME: the same losses and D outputs in the logs of $work/NAME1_$seed
# and NAME2_$seed (rank 0 logs the means over the global batch), and the same
# terms of D's regularisers on the console (printed to 4 decimals)
same_logs() {
  local one="$work/${1}1_$seed" two="$work/${1}2_$seed"
  paste -d, "$one/log.csv" "$two/log.csv" | awk -F, 'NR > 1 {
      for (i = 3; i <= 7; i++) { d = $i - $(i + 10); if (d < 0) d = -d; if (d > 1e-4) bad = 1 } }
      END { exit bad }' || fail "$1: the logged losses differ"
  terms() { grep -o "LeCam [0-9.]*, bCR [0-9.]*" "$1" | tr -d , | awk '{ print $2, $4 }'; }
  [ "$(terms "$one.log" | wc -l)" = "$(terms "$two.log" | wc -l)" ] &&
    paste -d' ' <(terms "$one.log") <(terms "$two.log") | awk '{
      for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d; if (d > 2e-4) bad = 1 } }
      END { exit bad }' || fail "$1: the logged LeCam or bCR terms differ"
}

echo "== 2 ranks with the global batch 32 against 1 rank with batch 32, 5 steps"
agree plain 5
plain_seed=$seed
same_logs plain
echo "== with DiffAugment: each image draws by its index in the global batch"
agree aug 4 --augment color,translation,cutout

echo "== LeCam: its anchors move by the global batch's mean logits (averaged over the ranks)"
agree lecam 5 --augment color,translation,cutout --lecam 0.3
lecam_seed=$seed
same_logs lecam
grep -q "LeCam 0.[0-9]*[1-9]" "$work/lecam2_$seed.log" || fail "lecam: no LeCam term logged"
echo "== bCR: its terms weighed by the rank's share, T drawn by the global index"
agree bcr 4 --consistency 10
same_logs bcr
echo "== conditional on 2 classes: each rank its share of the batch's classes (last --data wins)"
python3 "$here/make_pngs.py" "$work/classes" 96 32 2 || fail "cannot make the class folders"
agree cond 4 --data "$work/classes" --conditional
cond_seed=$seed
echo "== the projection discriminator over the ranks (its class embedding's gradient summed)"
agree proj 3 --data "$work/classes" --conditional --projection
echo "== 3 classes (shares of 16 start mid-cycle) with the averaged G: the evaluation's"
echo "   BatchNorm statistics and the sample grid by the classes of the global positions"
python3 "$here/make_pngs.py" "$work/classes3" 96 32 3 || fail "cannot make the class folders"
agree cond3 3 --data "$work/classes3" --conditional --ema 0.99 --eval-every 3
for f in metrics.csv metrics_classes.csv; do
  paste -d, "$work/cond31_$seed/$f" "$work/cond32_$seed/$f" | awk -F, 'NR > 1 {
      n = NF / 2; for (i = 1; i <= n; i++) if ($i + 0 == $i) {
        d = $i - $(i + n); if (d < 0) d = -d; if (d > 0.01) bad = 1 } }
      END { exit bad }' || fail "cond3: the evaluation's figures ($f) differ"
done
python3 "$here/compare_grids.py" "$work/cond31_$seed/samples/latest.png" \
  "$work/cond32_$seed/samples/latest.png" | sed 's/^/   grid: /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "cond3: the two sample grids show other images"
echo "== class-balanced batches: each rank its share of the global batch's draw"
agree balanced 4 --data "$work/classes" --balanced-sampling

echo "== control: another seed must differ"
"$clgan" train "${small[@]}" --iters 5 --seed 9 --out "$work/other" >"$work/other.log" 2>&1 ||
  fail "control run"
if compare "$work/other/checkpoint.safetensors" "$work/plain1_$plain_seed/checkpoint.safetensors" \
    --tol 1e-4 >/dev/null 2>&1; then fail "the comparison cannot tell two seeds apart"; fi

echo "== a batch that does not split is refused before any work"
mpi 2 "$clgan" train "${small[@]}" --batch 33 --iters 1 --out "$work/odd" >"$work/odd.log" 2>&1 &&
  fail "batch 33 over 2 ranks was accepted"
grep -q "must be divisible by the 2 ranks" "$work/odd.log" || { cat "$work/odd.log"; fail "no message"; }
[ ! -e "$work/odd" ] || fail "the refused run wrote its directory"

echo "== a failing rank stops every rank with its message"
start=$(date +%s)
mpi 1 "$clgan" train "${small[@]}" --iters 50 --out "$work/bad" : \
  -np 1 "$clgan" train "${small[@]/$work\/data/$work/missing}" --iters 50 --out "$work/bad" \
  >"$work/bad.log" 2>&1 && fail "the job with a failing rank succeeded"
rc=$?
[ "$rc" != 124 ] || fail "the job hung (killed by the timeout)"
grep -q "rank 1 of 2" "$work/bad.log" && grep -q "$work/missing" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "rank 1's message is missing"; }
echo "   stopped in $(( $(date +%s) - start )) s, exit $rc"

echo "== ranks that loaded different data are refused"
python3 "$here/make_pngs.py" "$work/data64" 64 32 || fail "cannot make the second image set"
mpi 1 "$clgan" train "${small[@]}" --iters 5 --out "$work/mixed" : \
  -np 1 "$clgan" train "${small[@]/$work\/data/$work/data64}" --iters 5 --out "$work/mixed" \
  >"$work/mixed.log" 2>&1 && fail "ranks with different data trained"
grep -q "loaded other images than rank 0" "$work/mixed.log" || { cat "$work/mixed.log"; fail "no message"; }

echo "== rank 0 failing mid-run (a grid it cannot write) stops rank 1; the checkpoint stays"
mpi 2 "$clgan" train "${small[@]}" --iters 2 --out "$work/io" >"$work/io0.log" 2>&1 ||
  { cat "$work/io0.log"; fail "two-rank run of 2 steps"; }
mkdir -p "$work/io/samples/iter_000004.png/in-the-way"
mpi 2 "$clgan" train --resume "$work/io" --data "$work/data" --iters 50 --sample-every 4 \
  --log-every 1 >"$work/io.log" 2>&1 && fail "the job whose grid could not be written succeeded"
rc=$?
[ "$rc" != 124 ] || fail "the job hung (killed by the timeout)"
grep -q "it 3/50" "$work/io.log" && grep -q "rank 0 of 2" "$work/io.log" &&
  grep -q "iter_000004.png" "$work/io.log" || { cat "$work/io.log"; fail "rank 0's message is missing"; }
"$clgan" train --resume "$work/io" --data "$work/data" --iters 3 --sample-every 0 \
  >"$work/io1.log" 2>&1 || { cat "$work/io1.log"; fail "the checkpoint left behind does not resume"; }

echo "== without --out, rank 0 makes the one run directory"
mkdir "$work/cwd"
(cd "$work/cwd" && mpi 2 "$clgan" train "${small[@]}" --iters 2 >"$work/cwd.log" 2>&1) ||
  { cat "$work/cwd.log"; fail "two-rank run into the default directory"; }
[ "$(ls "$work/cwd/runs" | wc -l)" = 1 ] && [ -f "$work/cwd/runs/"*/checkpoint.safetensors ] ||
  { ls -R "$work/cwd"; fail "not exactly one run directory with its checkpoint"; }

echo "== a checkpoint of 2 ranks resumes on 1 rank"
mpi 2 "$clgan" train "${small[@]}" --seed "$plain_seed" --iters 3 --out "$work/resume" \
  >"$work/r2.log" 2>&1 ||
  { cat "$work/r2.log"; fail "two-rank run of 3 steps"; }
"$clgan" train --resume "$work/resume" --data "$work/data" --iters 5 --sample-every 0 \
  >"$work/r1.log" 2>&1 || { cat "$work/r1.log"; fail "one-rank resume"; }
compare "$work/resume/checkpoint.safetensors" "$work/plain1_$plain_seed/checkpoint.safetensors" \
  --tol 1e-4 ||
  fail "2 ranks then 1 rank differ from the continuous run"
echo "== a checkpoint of 2 ranks with LeCam resumes on 1 rank, its anchors with it"
mpi 2 "$clgan" train "${small[@]}" --augment color,translation,cutout --lecam 0.3 \
  --seed "$lecam_seed" --iters 3 --out "$work/resume_lecam" >"$work/rl2.log" 2>&1 ||
  { cat "$work/rl2.log"; fail "two-rank LeCam run of 3 steps"; }
"$clgan" train --resume "$work/resume_lecam" --data "$work/data" --iters 5 --sample-every 0 \
  >"$work/rl1.log" 2>&1 || { cat "$work/rl1.log"; fail "one-rank resume of the LeCam run"; }
compare "$work/resume_lecam/checkpoint.safetensors" \
  "$work/lecam1_$lecam_seed/checkpoint.safetensors" --tol 1e-4 ||
  fail "LeCam: 2 ranks then 1 rank differ from the continuous run"
echo "== a conditional checkpoint of 2 ranks resumes on 1 rank"
mpi 2 "$clgan" train "${small[@]}" --data "$work/classes" --conditional --seed "$cond_seed" \
  --iters 2 --out "$work/resume_cond" >"$work/rc2.log" 2>&1 ||
  { cat "$work/rc2.log"; fail "two-rank conditional run of 2 steps"; }
"$clgan" train --resume "$work/resume_cond" --data "$work/classes" --iters 4 --sample-every 0 \
  >"$work/rc1.log" 2>&1 || { cat "$work/rc1.log"; fail "one-rank resume of the conditional run"; }
compare "$work/resume_cond/checkpoint.safetensors" "$work/cond1_$cond_seed/checkpoint.safetensors" \
  --tol 1e-4 || fail "conditional: 2 ranks then 1 rank differ from the continuous run"
echo "PASS"
