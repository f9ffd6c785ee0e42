#!/usr/bin/env bash
# One command for a measurement on a GPU machine (issue 10). With --pack DIR
# (made here by bench/gpu_pack.sh) nothing is built: the pack's binaries and
# libraries run as they are; without it clgan is built there (meson, ninja and
# the build's libraries needed). In order, every step bounded and logged, a
# failed or timed-out one not stopping the rest, all within --wall seconds:
#   the NVIDIA OpenCL ICD (libnvidia-opencl.so.1) where nvidia-smi or
#   /dev/nvidia0 exists and no ICD names it: /etc/OpenCL/vendors/nvidia.icd,
#   else a private vendors folder (OCL_ICD_VENDORS); the system and its
#   OpenCL devices (`clgan devices`, nvidia-smi, PyTorch);
#   `clgan bench` tutorial and gray32 on the defaults (CLGAN_TUNE=off), and
#   with the Winograd forward, backward data and weight gradient (CLGAN_WINOGRAD=1);
#   the PyTorch peer (python3 with torch): on CUDA TF32 off and on, NCHW and
#   channels_last; without CUDA on the CPU, NCHW and channels_last;
#   `clgan tune` tutorial and gray32 (tuning time, winners per layer), then
#   `clgan bench` of both on the tuned winners (per-layer profile, variants,
#   launches and host syncs per step);
#   bench_gemm (own, clblast, lds at the DCGAN's largest GEMMs) and
#   bench_convt (the ConvTranspose2d candidates; GPU sets on a GPU);
#   the tests (the pack's run_tests.py, or meson test), with what is left.
# Results: OUT holds 6 files (the device tool brings back at most 8):
#   summary.txt, summary.json (img/s, ratios vs PyTorch TF32 off and on,
#   fraction of the measured FP32 peak, tuning time, GEMM rates, tests),
#   steps.json, system.json, log.txt, and results.tar.gz with every step's
#   JSON and log (clgan_bench_CONFIG[_default].json, pytorch_CONFIG_SETTING
#   .json, tune_CONFIG.log, bench_gemm.log, tests/testlog.json, ...), kept
#   current after every step so a killed run still returns what it did.
#
#   bench/gpu_run.sh [--pack DIR] [--wall SECONDS] [--steps N] [--warmup N]
#                    [--skip STEP,...] [--skip-tests]
#
# --wall: the whole run's limit (450 with --pack, else 600); every step gets
# at most what is left. --steps, --warmup: timed and warm-up steps of each
# benchmark (20, 3). --skip: steps not to run, each named by a prefix of its
# name as log.txt shows it (e.g. pytorch,bench_gemm,tune_tutorial);
# --skip-tests is --skip tests.
# Environment: OUT (default gpu-run-DATE in the current folder), WORK (the
# steps' files, default a new folder in TMPDIR), BUILD (without --pack: the
# build folder, default build-gpu), PYTHON (a python with PyTorch 2.x;
# default ~/venv-torch/bin/python when it exists, else python3), DEVICE
# (clgan's --device; default gpu when clgan lists a GPU, else its default).
#
# The device tool's call for the lead (the pack made here first with
# `bench/gpu_pack.sh`, about 46 MiB; the working tree adds about 5):
#   run(command="bash bench/gpu_run.sh --pack gpu-pack --wall 450",
#       carry=["gpu-pack"], timeout_s=540)
# The summary is the end of the output; OUT's files come back beside it.
set -u

wall=""
skip=""
steps=20
warmup=3
pack=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wall) wall=${2:?--wall needs seconds}; shift 2 ;;
    --steps) steps=${2:?--steps needs a count}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a count}; shift 2 ;;
    --pack) pack=${2:?--pack needs the pack folder}; shift 2 ;;
    --skip-tests) skip="$skip,tests"; shift ;;
    --skip) skip="$skip,${2:?--skip needs step names}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$wall" ] || { [ -n "$pack" ] && wall=450 || wall=600; }
case "$wall$steps$warmup" in *[!0-9]*) echo "gpu_run.sh: --wall, --steps and --warmup take integers" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "$pack" ]; then
  [ -f "$pack/tests.json" ] && [ -d "$pack/bin" ] ||
    { echo "gpu_run.sh: $pack is not a pack (make one with bench/gpu_pack.sh)" >&2; exit 2; }
  pack=$(cd "$pack" && pwd)
fi
out=${OUT:-$PWD/gpu-run-$(date -u +%Y%m%dT%H%M%SZ)}
build=${BUILD:-build-gpu}
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ -z "${PYTHON:-}" ] && [ -x "$HOME/venv-torch/bin/python" ]; then PYTHON=$HOME/venv-torch/bin/python; fi
python=${PYTHON:-python3}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/clgan-gpu-run.XXXXXX")}
mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)
cd "$root" || exit 1
t_start=$(date +%s)
: >"$work/steps.jsonl"
: >"$work/.start"
# every clgan command shares one kernel and tuning cache of this run
export CLGAN_CACHE_DIR=$work/cache

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$work/log.txt" >&2; }
left() { echo $((wall - ($(date +%s) - t_start))); }

# publish: OUT's files from WORK (the summary, the steps so far, a tarball of
# the rest); run after every step.
publish() {
  python3 "$root/bench/gpu_summary.py" "$work" >"$work/summary.txt" 2>&1
  for f in summary.txt summary.json steps.json system.json log.txt; do
    [ -f "$work/$f" ] && cp "$work/$f" "$out/$f"
  done
  tar -C "$work" --exclude=./cache --exclude=./pack --exclude=./tests/kernel-cache -czf "$out/results.tar.gz.tmp" . 2>/dev/null &&
    mv "$out/results.tar.gz.tmp" "$out/results.tar.gz"
}

skipped() { # NAME: whether a --skip prefix names it
  local p
  for p in ${skip//,/ }; do [ "${1#"$p"}" != "$1" ] && return 0; done
  return 1
}

# step NAME CAP CMD...: runs CMD with at most CAP seconds (less if the wall
# is nearer), output to WORK/NAME.log, and records it in steps.jsonl.
step() {
  local name=$1 cap=$2 rem t0 rc status
  shift 2
  if skipped "$name"; then
    log "skip $name (--skip)"
    record "$name" "$*" null 0 skipped
    return 1
  fi
  rem=$(left)
  [ "$cap" -gt "$rem" ] && cap=$rem
  if [ "$cap" -lt 5 ]; then
    log "skip $name: the ${wall} s wall is reached"
    record "$name" "$*" null 0 skipped
    return 1
  fi
  log "run  $name (at most ${cap} s): $*"
  t0=$(date +%s)
  timeout --kill-after=10 "$cap" "$@" >"$work/$name.log" 2>&1
  rc=$?
  status=ok
  [ $rc -ne 0 ] && status=failed
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status=timed_out
  log "     $name: $status (exit $rc, $(( $(date +%s) - t0 )) s)"
  [ $rc -ne 0 ] && tail -n 5 "$work/$name.log" | sed 's/^/       | /' | tee -a "$work/log.txt" >&2
  record "$name" "$*" "$rc" $(( $(date +%s) - t0 )) "$status"
  publish
  return $rc
}

record() { # name command rc seconds status
  python3 -c 'import json,sys; n,c,rc,s,st=sys.argv[1:6]; print(json.dumps({"step": n,
    "command": c, "exit": None if rc == "null" else int(rc), "seconds": int(s), "status": st}))' \
    "$@" >>"$work/steps.jsonl" 2>/dev/null ||
    printf '{"step": "%s", "status": "%s"}\n' "$1" "$5" >>"$work/steps.jsonl"
}

# ---- the OpenCL ICD of NVIDIA's driver ------------------------------------
nvidia_lib() { # the path of libnvidia-opencl.so.1, or its bare name
  local p d
  p=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 / { print $NF; exit }')
  [ -n "$p" ] && { echo "$p"; return; }
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 \
           /usr/local/cuda/compat /usr/local/cuda/lib64; do
    [ -e "$d/libnvidia-opencl.so.1" ] && { echo "$d/libnvidia-opencl.so.1"; return; }
  done
  echo libnvidia-opencl.so.1
}

nvidia_icd() {
  command -v nvidia-smi >/dev/null 2>&1 || [ -e /dev/nvidia0 ] || {
    log "no NVIDIA GPU here (no nvidia-smi, no /dev/nvidia0): the OpenCL devices as they are"; return 0; }
  local lib icds
  lib=$(nvidia_lib)
  icds=$(ls ${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}/*.icd 2>/dev/null)
  if [ -n "$icds" ] && grep -l nvidia $icds >/dev/null 2>&1; then
    log "NVIDIA's ICD is registered already"; icd_check "$lib"; return 0
  fi
  [ "${lib#/}" = "$lib" ] && log "libnvidia-opencl.so.1 not found on disk: the ICD names it bare"
  if mkdir -p /etc/OpenCL/vendors 2>/dev/null &&
     echo "$lib" >/etc/OpenCL/vendors/nvidia.icd 2>/dev/null; then
    log "wrote /etc/OpenCL/vendors/nvidia.icd ($lib)"
  else
    mkdir -p "$work/icd" && echo "$lib" >"$work/icd/nvidia.icd"
    export OCL_ICD_VENDORS=$work/icd
    log "no write access to /etc/OpenCL/vendors: OCL_ICD_VENDORS=$OCL_ICD_VENDORS ($lib)"
  fi
  icd_check "$lib"
}

# icd_check LIB: when clgan lists no GPU through the ICD files, the loader's
# trace goes to icd_debug.log and the driver library is named directly
# (OCL_ICD_FILENAMES) for every later step.
icd_check() {
  timeout 60 "$clgan" devices 2>&1 | grep -q 'type / vendor *GPU' && return 0
  OCL_ICD_DEBUG=7 timeout 60 "$clgan" devices >"$work/icd_debug.log" 2>&1
  if [ "${1#/}" != "$1" ]; then
    export OCL_ICD_FILENAMES=$1
    log "clgan lists no GPU through the ICD files (icd_debug.log): OCL_ICD_FILENAMES=$1"
  else
    log "clgan lists no GPU and libnvidia-opencl.so.1 is not on disk (icd_debug.log)"
  fi
}

# system.txt / system.json: the machine, its GPU and driver, the OpenCL
# devices, PyTorch; each probe bounded (cuda_available decides the peer's runs).
system_info() {
  {
    echo "== date"; date -u
    echo "== uname"; uname -a
    echo "== git"; git -C "$root" log -1 --format='%H %s' 2>&1
    [ -n "$pack" ] && { echo "== pack"; head -n 4 "$pack/MANIFEST.txt" 2>&1; }
    echo "== nvidia-smi"
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm,power.limit \
      --format=csv 2>&1
    echo "== opencl icd"; echo "OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-} OCL_ICD_FILENAMES=${OCL_ICD_FILENAMES:-}"
    for f in "${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}"/*.icd; do echo "$f: $(cat "$f" 2>&1)"; done
    echo "== clgan devices"; timeout 60 "$clgan" devices 2>&1
    echo "== python"; timeout 60 "$python" -c 'import sys, torch
print(sys.version.split()[0], torch.__version__, "cuda", torch.version.cuda, "cudnn",
      torch.backends.cudnn.version())
print("cuda_available", torch.cuda.is_available())
if torch.cuda.is_available(): print("cuda_device", torch.cuda.get_device_name(0))' 2>&1
  } >"$work/system.txt"
  python3 - "$work/system.txt" "$work/system.json" <<'EOF' 2>/dev/null
import json, sys
sections, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("== "):
        cur = line[3:].strip(); sections[cur] = []
    elif cur:
        sections[cur].append(line.rstrip("\n"))
json.dump({k: "\n".join(v) for k, v in sections.items()}, open(sys.argv[2], "w"), indent=2)
EOF
}

# ---- clgan and PyTorch --------------------------------------------------------
clgan_bench() { # TAG CONFIG CAP [env...]: clgan_bench_CONFIG[_TAG].json
  local tag=$1 cfg=$2 cap=$3 name
  shift 3
  name=clgan_bench_$cfg${tag:+_$tag}
  step "$name" "$cap" env "$@" "$clgan" bench --config "$cfg" "${dev_args[@]}" \
    --steps "$steps" --warmup "$warmup" --no-startup --overwrite --json "$work/$name.json"
}

peer() { # CONFIG SETTING: pytorch_CONFIG_SETTING.json
  local cfg=$1 s=$2 a=() peak
  case $s in
    tf32_off) a=(--device cuda --tf32 off) ;;
    tf32_on) a=(--device cuda --tf32 on) ;;
    tf32_off_channels_last) a=(--device cuda --tf32 off --channels-last) ;;
    tf32_on_channels_last) a=(--device cuda --tf32 on --channels-last) ;;
    nchw) a=() ;;
    channels_last) a=(--channels-last) ;;
  esac
  # the fraction of peak against the FP32 peak clgan measured on its device
  peak=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("peak_gflops") or "")' \
           "$work/clgan_bench_${cfg}_default.json" 2>/dev/null)
  step "pytorch_${cfg}_$s" 90 "$python" "$root/bench/peer_pytorch.py" --config "$cfg" \
    --steps "$steps" --warmup "$warmup" "${a[@]}" ${peak:+--peak-gflops "$peak"} \
    --overwrite --json "$work/pytorch_${cfg}_$s.json"
}

# ---- the run ---------------------------------------------------------------
log "gpu_run.sh: output in $out (steps' files in $work), wall ${wall} s, python $python${pack:+, pack $pack}"
if [ -n "$pack" ]; then
  # pack_setup.sh decompresses in place; a read-only pack is used from a copy
  if ! step pack_setup 60 sh "$pack/pack_setup.sh"; then
    cp -a "$pack" "$work/pack" && pack=$work/pack && step pack_setup_copy 60 sh "$pack/pack_setup.sh"
  fi
  clgan=$pack/bin/clgan bindir=$pack/bin
else
  if [ -f "$build/build.ninja" ]; then
    step build 240 ninja -C "$build"
  else
    step setup 60 meson setup "$build" && step build 240 ninja -C "$build"
  fi
  clgan=$build/clgan bindir=$build
fi
nvidia_icd
log "probe the system (system.json)"
system_info

device=${DEVICE:-}
if [ -z "$device" ] && grep -q 'type / vendor *GPU' "$work/system.txt"; then
  device=gpu
fi
[ -z "$device" ] && log "clgan lists no GPU: its default device is measured"
dev_args=()
[ -n "$device" ] && dev_args=(--device "$device")
cuda=0
grep -q '^cuda_available True' "$work/system.txt" && cuda=1
[ $cuda -eq 0 ] && log "PyTorch has no CUDA device here: the peer runs on the CPU (NCHW, channels_last)"
publish

for cfg in tutorial gray32; do clgan_bench default "$cfg" 120 CLGAN_TUNE=off; done
# the Winograd forms on every shape they apply to (a CPU default for the large
# products only, not on GPUs; src/ops/conv_winograd.h)
for cfg in tutorial gray32; do clgan_bench winograd "$cfg" 60 CLGAN_TUNE=off CLGAN_WINOGRAD=1; done

if [ $cuda -eq 1 ]; then
  settings="tf32_off tf32_on tf32_off_channels_last tf32_on_channels_last"
else
  settings="nchw channels_last"
fi
for s in $settings; do
  for cfg in tutorial gray32; do peer "$cfg" "$s"; done
done

if "$clgan" tune --help >/dev/null 2>&1; then
  step tune_tutorial 150 "$clgan" tune --config tutorial "${dev_args[@]}"
  step tune_gray32 90 "$clgan" tune --config gray32 "${dev_args[@]}"
else
  log "skip tune: this clgan has no tune command"
  record tune "clgan tune" null 0 skipped
fi
for cfg in tutorial gray32; do clgan_bench "" "$cfg" 120 CLGAN_TUNE=cached; done

step bench_gemm 90 "$bindir/bench_gemm" "${device:-default}" 10 all
step bench_convt 90 "$bindir/bench_convt" 128 5 "${device:-default}"

rem=$(left)
if [ -n "$pack" ]; then
  # the runner's own wall ends the tests in time to write their log
  step tests 600 env ${device:+CLGAN_TEST_DEVICE=$device} python3 "$pack/run_tests.py" \
    --wall $((rem > 30 ? rem - 20 : 10)) --logdir "$work/tests"
else
  step tests 600 env ${device:+CLGAN_TEST_DEVICE=$device} meson test -C "$build" --print-errorlogs
  # meson's log of this run (not one left by an earlier run)
  if [ "$build/meson-logs/testlog.json" -nt "$work/.start" ]; then
    mkdir -p "$work/tests" && cp "$build/meson-logs/testlog.json" "$work/tests/testlog.json"
  fi
fi

publish
cat "$out/summary.txt" | tee -a "$work/log.txt" >&2
log "gpu_run.sh: done in $(( $(date +%s) - t_start )) s; results in $out"
cp "$work/log.txt" "$out/log.txt"
