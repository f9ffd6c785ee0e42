#!/usr/bin/env bash
# Builds the libFuzzer harnesses in their own build directory and runs each
# for SECONDS on a scratch copy of the committed seed corpus (the corpus in
# git is never modified). A crash fails the run; its input is kept under
# BUILD/fuzz-artifacts/ (commit it to tests/fuzz/crashes/ and report it).
#   tests/fuzz/run.sh [SECONDS per harness, default 15] [BUILD, default build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-15}"
build="${2:-build-fuzz}"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=true -Dtests=disabled
fi
ninja -C "$build" fuzzers
export CLGAN_CACHE_DIR="$PWD/$build/kernel-cache"
# PoCL and nifticlib keep allocations until exit; leaks inside one input are
# still reported by libFuzzer's per-input check.
# intercept_tls_get_addr=0: clang 14's runtime has the leak checker's tracer
# crash of GCC 12's (see tests/meson.build, where the suite sets it).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:intercept_tls_get_addr=0"
# PoCL's own allocations are not the project's leaks, here as in the
# sanitizer suite (.ci/lsan.supp): its worker threads allocate and free on
# their own schedule, so libFuzzer's per-input check once counted a 16-byte
# PoCL allocation against an empty checkpoint input (not reproducible).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/.ci/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
mkdir -p "$build/fuzz-artifacts"
# in memory when /dev/shm exists: the harnesses write a file per input
scratch="$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for h in png nifti safetensors checkpoint dicom args; do
  seeds="tests/fuzz/corpus/$h"
  maxlen=8192
  extra=()
  [ "$h" = checkpoint ] && maxlen=32768 # the tiny checkpoint is 20 KB
  [ "$h" = dicom ] && maxlen=16384      # the JPEG seed is 10 KB
  [ "$h" = args ] && maxlen=1024 && extra=(-close_fd_mask=3) # the commands' messages
  mkdir -p "$scratch/$h"
  echo "== fuzz_$h: ${secs}s"
  if ! TMPDIR="$scratch" "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -max_len="$maxlen" \
      -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 "${extra[@]}" \
      -artifact_prefix="$build/fuzz-artifacts/fuzz_${h}-" "$scratch/$h" "$seeds" \
      2>"$build/fuzz-artifacts/fuzz_$h.log"; then
    echo "fuzz_$h FAILED: see $build/fuzz-artifacts/fuzz_$h.log" >&2
    tail -40 "$build/fuzz-artifacts/fuzz_$h.log" >&2
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" \
    "$build/fuzz-artifacts/fuzz_$h.log" || true
done
exit "$status"
