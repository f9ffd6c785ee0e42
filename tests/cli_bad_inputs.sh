#!/usr/bin/env bash
# The bad inputs of docs/bad-inputs.md, made and given to the built clgan.
# The table in the document is the list: for each row the case's files are
# made by the function case_<id> below (ids with '-' as '_'), the row's
# command runs in a folder of its own, and the test fails unless the command
# exits non-zero, its stderr holds every `quoted` part of the row's message,
# and no file there was created, changed or removed. A row without its
# function, or a function without its row, fails too: the document and the
# test cannot drift apart. After the table, the checks of the rules that are
# not refusals (unique run folders, dead locks, failed log writes, ...).
#
#   usage: tests/cli_bad_inputs.sh CLGAN DOC [--show]
#   --show prints each command's stderr (to write the document's messages).
# Needs python3 (standard library) for the fixtures; the DICOM rows use
# $CLGAN_DICOM_FIXTURES and $CLGAN_PYDICOM_DIR (set by meson test).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 CLGAN DOC [--show]" >&2; exit 2; }
clgan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
doc=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
show=${3:-}
dicom_fixtures=${CLGAN_DICOM_FIXTURES:-$here/dicom}
pydicom_dir=${CLGAN_PYDICOM_DIR:-/usr/lib/python3/dist-packages/pydicom/data/test_files}
command -v python3 > /dev/null || { echo "cli_bad_inputs: needs python3" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/clgan-bad-inputs.XXXXXX")
background=()
cleanup() {
  local p
  for p in "${background[@]}"; do kill "$p" 2> /dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
py() { python3 "$here/cli_bad_inputs.py" "$@"; }
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
model=(--size 16 --channels 1 --nz 8 --ngf 4 --ndf 4 --batch 8)
fx=$work/fixtures

# ---- fixtures: a dataset, a short run, its exported generator ----------------
mkdir -p "$fx/data/brain"
for i in $(seq 10 25); do py png "$fx/data/brain/img_$i.png" 16 16 "$i"; done
(cd "$fx" && "$clgan" train --data data "${model[@]}" --iters 2 --out run > train.log 2>&1) ||
  { echo "cli_bad_inputs: the fixture run failed: $(tail -n 3 "$fx/train.log")" >&2; exit 1; }
"$clgan" export "$fx/run/checkpoint.safetensors" --out "$fx/gen.safetensors" > /dev/null ||
  { echo "cli_bad_inputs: export failed" >&2; exit 1; }

# a conditional run on two classes (brain and scans)
mkdir -p "$fx/cdata/scans"
cp -r "$fx/data/brain" "$fx/cdata/"
for i in $(seq 30 45); do py png "$fx/cdata/scans/img_$i.png" 16 16 "$i"; done
(cd "$fx" && "$clgan" train --data cdata --conditional "${model[@]}" --iters 2 --out crun > ctrain.log 2>&1) ||
  { echo "cli_bad_inputs: the conditional fixture run failed: $(tail -n 3 "$fx/ctrain.log")" >&2; exit 1; }

use_data() { cp -r "$fx/data" .; }
use_cckpt() { cp "$fx/crun/checkpoint.safetensors" cckpt.safetensors; }
use_run() { cp -a "$fx/run" .; }
use_ckpt() { cp "$fx/run/checkpoint.safetensors" ckpt.safetensors; }
# holds DIR/.lock as a running trainer does, until the test ends
hold_lock() {
  flock "$1/.lock" sleep 120 &
  background+=($!)
  local i
  for i in $(seq 50); do flock -n "$1/.lock" true 2> /dev/null || return 0; sleep 0.1; done
}

# ---- the cases (one per row of the document) ---------------------------------
case_png_truncated() { mkdir -p data/brain; py png data/brain/a.png 16 16; truncate -s 60 data/brain/a.png; }
case_png_not_png() { mkdir -p data/brain; echo "not an image" > data/brain/a.png; }
case_data_no_classes() { mkdir -p data; py png data/a.png 16 16; }
case_data_missing() { :; }
case_class_missing() { use_data; }
case_nifti_missing() { :; }
case_nifti_garbage() { head -c 1000 /dev/urandom > junk.nii; }
case_nifti_truncated() { py nifti vol.nii 32 32 32; truncate -s 5000 vol.nii; }
case_nifti_gz_corrupt() { py nifti vol.nii 32 32 32; gzip -n vol.nii; truncate -s 300 vol.nii.gz; }
case_nifti_gz_truncated_data() { py nifti vol.nii 32 32 32; gzip -n vol.nii; truncate -s 5000 vol.nii.gz; }
case_nifti_offset_in_header() { py nifti vol.nii 32 32 32 offset=100; }
case_nifti_offset_negative() { py nifti vol.nii 32 32 32 offset=-352; }
case_nifti_offset_beyond() { py nifti vol.nii 32 32 32 offset=10000000; }
case_nifti_dim0_zero() { py nifti vol.nii 32 32 32 dim0=0; }
case_nifti_dim0_eight() { py nifti vol.nii 32 32 32 dim0=8; }
case_nifti_dim2_zero() { py nifti vol.nii 32 0 32; }
case_nifti2_no_magic() { py nifti2-nomagic vol.nii; }
case_nifti_anisotropic() { py nifti vol.nii 32 32 32 pixdim=1,1,2000; }
case_dicom_truncated() { head -c 2000 "$dicom_fixtures/mr_small_monochrome1.dcm" > mr.dcm; }
case_dicom_jpeg2000() { cp "$pydicom_dir/693_J2KI.dcm" j2k.dcm; }
case_ckpt_missing() { :; }
case_ckpt_truncated() { use_ckpt; truncate -s 20000 ckpt.safetensors; }
case_ckpt_header_length() { use_ckpt; py st-header-len ckpt.safetensors 99999999; }
case_ckpt_not_safetensors() { echo "hello" > ckpt.safetensors; }
case_ckpt_is_generator() { cp "$fx/gen.safetensors" gen.safetensors; }
case_ckpt_bad_lr() { use_ckpt; py st-meta ckpt.safetensors config.lr_g nan; }
case_ckpt_bad_size() { use_ckpt; py st-meta ckpt.safetensors config.image_size 100000; }
case_ckpt_nan_weight() { use_ckpt; py st-nan ckpt.safetensors netG.main.0.weight; }
case_generator_nan_weight() { cp "$fx/gen.safetensors" gen.safetensors; py st-nan gen.safetensors main.0.weight; }
case_noise_wrong_size() { use_ckpt; head -c 100 /dev/zero > noise.bin; }
case_run_exists() { use_data; use_run; }
case_run_locked() { use_data; use_run; hold_lock run; }
case_resume_conflict() { use_data; use_run; }
case_resume_preset() { use_data; use_run; }
case_resume_other_run() { use_data; use_run; cp -a run other; }
case_resume_no_checkpoint() { use_data; mkdir old; }
case_resume_finished() { use_data; use_run; }
case_generate_existing() { use_ckpt; mkdir gen; py png gen/gen_0_00002.png 16 16; }
case_generate_unknown_class() { use_cckpt; }
case_generate_class_unconditional() { use_ckpt; }
case_generate_class_all_existing() { use_cckpt; mkdir -p gen/scans; py png gen/scans/gen_0_00001.png 16 16; }
case_train_conditional_class() { use_data; }
case_generate_grid_existing() { use_ckpt; py png grid.png 16 16; }
case_generate_empty_out() { use_ckpt; }
case_generate_out_file() { use_ckpt; echo x > gen; }
case_slice_existing() { py nifti vol.nii 32 32 32; mkdir out; py png out/vol_axial_016.png 16 16; }
case_slice_out_file() { py nifti vol.nii 32 32 32; echo x > out; }
case_evaluate_existing() { use_data; use_ckpt; echo "{}" > eval.json; }
case_bench_json_existing() { echo "[]" > bench.json; }
case_export_onto_checkpoint() { use_ckpt; }
case_export_existing() { use_ckpt; echo x > gen.safetensors; }
# two classes: brain (16 images) and scans (2), 16 px like the fixture checkpoint
two_classes() { use_data; mkdir -p data/scans; py png data/scans/a.png "$1" "$1" 1; py png data/scans/b.png "$1" "$1" 2; }
case_balance_out_not_empty() { two_classes 16; use_ckpt; mkdir out; echo mine > out/notes.txt; }
case_balance_no_checkpoint() { two_classes 16; }
case_balance_size_mismatch() { two_classes 20; use_ckpt; }
case_balance_unknown_class() { two_classes 16; use_ckpt; }
case_balance_checkpoint_form() { two_classes 16; use_ckpt; }
# the conditional run's classes (brain, scans) and one it lacks
case_balance_cond_unknown_class() { cp -r "$fx/cdata" data; mkdir data/lungs; py png data/lungs/a.png 16 16 1; use_cckpt; }
case_balance_mixed_forms() { two_classes 16; use_ckpt; use_cckpt; }
case_utility_classes_differ() { two_classes 16; mkdir -p test/brain; py png test/brain/a.png 16 16 3; }
case_utility_json_existing() { two_classes 16; echo "{}" > out.json; }
case_size_not_power() { use_data; }
case_size_too_big() { use_data; }
case_batch_one() { use_data; }
case_channels_two() { use_data; }
case_lr_nan() { use_data; }
case_unknown_option() { use_data; }
case_devices_flag_value() { :; }
case_generate_count_zero() { use_ckpt; }
case_export_device_unknown() { use_ckpt; }
case_bench_batch_one() { :; }
case_evaluate_count_one() { use_data; use_ckpt; }
case_balance_target_zero() { two_classes 16; use_ckpt; }
case_utility_batch_one() { two_classes 16; }
case_slice_bits() { py nifti vol.nii 32 32 32; }
case_slice_axis() { py nifti vol.nii 32 32 32; }
case_tune_size_not_power() { :; }
case_tune_batch_one() { :; }

# ---- the table ----------------------------------------------------------------
# every file (name, size, time, inode) and folder (name) under the current one
snapshot() { find . \( -type f -printf '%p %s %T@ %i\n' \) -o \( -type d -printf '%p/\n' \) | sort; }
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }

rows=0
declare -A seen=()
while IFS= read -r line; do
  IFS='|' read -r _ id_cell _ cmd_cell msg_cell _ <<< "$line"
  id=$(tr -d '` ' <<< "$id_cell")
  cmd=$(trim <<< "$cmd_cell")
  cmd=${cmd#\`}
  cmd=${cmd%\`}
  fn=case_${id//-/_}
  seen[$fn]=1
  rows=$((rows + 1))
  if ! declare -F "$fn" > /dev/null; then
    fail "$id: the document's row has no $fn in $0"
    continue
  fi
  [[ $cmd == clgan\ * ]] || { fail "$id: the command does not start with 'clgan ': $cmd"; continue; }
  dir=$work/cases/$id
  mkdir -p "$dir"
  cd "$dir" || exit 1
  if ! "$fn" > "$work/setup.log" 2>&1; then
    fail "$id: making the input failed: $(tail -n 2 "$work/setup.log")"
    continue
  fi
  before=$(snapshot)
  err=$(eval "\"\$clgan\" ${cmd#clgan }" 2>&1 > "$work/stdout")
  rc=$?
  after=$(snapshot)
  [ -n "$show" ] && printf '== %s (exit %d)\n%s\n' "$id" "$rc" "$err"
  [ "$rc" -ne 0 ] || fail "$id: '$cmd' exited 0"
  # under the sanitizers a report also exits non-zero: it must not pass as a refusal
  [[ $err != *Sanitizer* && $err != *"runtime error:"* ]] || fail "$id: a sanitizer report: $err"
  [ "$before" = "$after" ] ||
    fail "$id: '$cmd' changed files: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"
  while IFS= read -r part; do
    part=${part#\`}
    part=${part%\`}
    [ -z "$part" ] && continue
    [[ $err == *"$part"* ]] || fail "$id: stderr lacks '$part'; it was: $err"
  done < <(grep -o '`[^`]*`' <<< "$msg_cell")
  grep -q '`' <<< "$msg_cell" || fail "$id: the row quotes no message"
done < <(grep -E '^\| `[a-z0-9-]+` \|' "$doc")
cd "$work" || exit 1
[ "$rows" -ge 30 ] || fail "only $rows rows found in $doc (the table's format changed?)"
for fn in $(declare -F | awk '{ print $3 }' | grep '^case_'); do
  [ -n "${seen[$fn]:-}" ] || fail "$fn has no row in $doc"
done

# ---- the rules that are not refusals ------------------------------------------
mkdir -p "$work/checks" && cd "$work/checks" || exit 1
use_data

# Default run folders are new: the next seconds' runs/<date-time> exist (each
# with a file of its own), so the run must make runs/<date-time>-2.
now=$(date +%s)
for t in $(seq "$now" $((now + 180))); do # the run starts within 3 minutes
  d=runs/$(date -d "@$t" +%Y%m%d-%H%M%S)
  mkdir -p "$d" && echo mine > "$d/keep.txt"
done
"$clgan" train --data data "${model[@]}" --iters 1 > unique.log 2>&1 || fail "a run without --out failed"
made=$(ls -d runs/*-2 2> /dev/null | wc -l)
[ "$made" -eq 1 ] || fail "a run without --out made $made runs/<date-time>-2 folders, not 1"
for d in runs/*; do
  [[ $d == *-2 ]] && continue
  [ "$(ls -A "$d")" = "keep.txt" ] || fail "a run without --out wrote into the existing $d"
done

# A dead run's lock does not block, and --resume with the checkpoint's own
# values and other schedule options goes on.
cp -a "$fx/run" dead && echo 999999 > dead/.lock
"$clgan" train --data data --resume dead "${model[@]}" --lr 2e-4 --iters 3 --eval-every 0 \
  > resume.log 2>&1 || fail "resume after a dead run's lock failed: $(tail -n 2 resume.log)"
[ "$(py meta dead/checkpoint.safetensors iteration)" = 3 ] || fail "the resumed run did not reach 3"
[ ! -e dead/.lock ] || fail "the run left its lock file behind"

# A log that cannot be written stops the run, naming log.csv, and keeps the
# last complete checkpoint (files over 48 KiB fail: the checkpoint is ~33 KiB).
(trap '' XFSZ; ulimit -f 48; exec "$clgan" train --data data "${model[@]}" --iters 3000 \
  --checkpoint-every 100 --sample-every 0 --out full) > full.log 2> full.err
rc=$?
[ "$rc" -ne 0 ] || fail "a run whose log.csv cannot be written exited 0"
grep -q "cannot write full/log.csv: File too large" full.err ||
  fail "the failed log write is not named: $(cat full.err)"
it=$(py meta full/checkpoint.safetensors iteration 2> /dev/null)
[ -n "$it" ] && [ "$it" -gt 0 ] && [ $((it % 100)) -eq 0 ] && [ "$it" -lt 3000 ] ||
  fail "after the failed log write the checkpoint is at iteration '${it}'"

# Images far smaller than the model are stretched with a warning naming one.
mkdir -p tiny/brain && cp data/brain/*.png tiny/brain/
py png tiny/brain/dot.png 1 1
"$clgan" train --data tiny "${model[@]}" --iters 1 --out tinyrun > tiny.log 2> tiny.err ||
  fail "training with a 1x1 image failed"
grep -q "warning: 1 image smaller than half the model size (16 px) is stretched to it, e.g. tiny/brain/dot.png" \
  tiny.err || fail "no warning for a 1x1 image: $(cat tiny.err)"

# evaluate writes only the files named; generate --overwrite replaces.
mkdir ev && (cd ev && "$clgan" evaluate --real ../data --checkpoint "$fx/run/checkpoint.safetensors" \
  --count 16 > ev.log 2>&1) || fail "evaluate failed"
[ "$(ls ev)" = ev.log ] || fail "evaluate wrote files it was not asked for: $(ls ev)"
ck=$fx/run/checkpoint.safetensors
"$clgan" generate --checkpoint "$ck" --count 3 --out gen > /dev/null || fail "generate failed"
"$clgan" generate --checkpoint "$ck" --count 3 --out gen --overwrite > /dev/null ||
  fail "generate --overwrite failed"

# --help lists the sizes the configuration accepts.
"$clgan" train --help | grep -q "accepted: 8 to 512" || fail "train --help lacks 'accepted: 8 to 512'"

echo "cli_bad_inputs: $rows documented bad inputs and the run-folder rules checked, $failures failure(s)"
[ "$failures" -eq 0 ]
