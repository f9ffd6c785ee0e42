#!/usr/bin/env bash
# One command for a measurement on a GPU machine (issue 10): builds clgan,
# runs the tests, runs `clgan tune` where that command exists, benches clgan
# (tutorial and gray32, with the per-layer profile) and runs the PyTorch peer
# (on CUDA with TF32 on and off; without CUDA on the CPU, NCHW and
# channels_last), all under one wall-clock limit, and writes every result
# as JSON into OUT:
#   steps.json         each step: name, command, exit status, seconds, timed out / skipped
#   system.json        host, GPU and driver (nvidia-smi), OpenCL devices, versions
#   clgan_bench_CONFIG.json, pytorch_CONFIG_SETTING.json, clgan_tune_CONFIG.json,
#   tests.json (meson's test log), summary.json (img/s and the ratios)
#   log.txt and one STEP.log per step (what each printed)
# A failed or timed-out step is logged and the later steps still run.
#
#   bench/gpu_run.sh [--wall SECONDS] [--skip-tests] [--steps N]
#
# --wall: the whole run's limit (600); every step gets at most what is left.
# --steps: timed steps of each benchmark (20). Environment: OUT (default
# gpu-run-DATE in the current folder), BUILD (the build folder, default
# build-gpu), PYTHON (a python with PyTorch 2.x; default ~/venv-torch/bin/python
# when it exists, else python3), DEVICE (clgan's --device; default gpu when
# clgan lists a GPU, else its default device).
# Needs meson, ninja, a C compiler, the build's libraries (README) and timeout.
# On a machine with an NVIDIA GPU whose OpenCL ICD file is missing, it writes
# /etc/OpenCL/vendors/nvidia.icd (libnvidia-opencl.so.1), or, without write
# access there, a private vendors folder in OUT (OCL_ICD_VENDORS).
set -u

wall=600
skip_tests=0
steps=20
while [ $# -gt 0 ]; do
  case "$1" in
    --wall) wall=${2:?--wall needs seconds}; shift 2 ;;
    --steps) steps=${2:?--steps needs a count}; shift 2 ;;
    --skip-tests) skip_tests=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$wall$steps" in *[!0-9]*) echo "gpu_run.sh: --wall and --steps take integers" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$PWD/gpu-run-$(date -u +%Y%m%dT%H%M%SZ)}
build=${BUILD:-build-gpu}
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ -z "${PYTHON:-}" ] && [ -x "$HOME/venv-torch/bin/python" ]; then PYTHON=$HOME/venv-torch/bin/python; fi
python=${PYTHON:-python3}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
cd "$root" || exit 1
t_start=$(date +%s)
: >"$out/steps.jsonl"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/log.txt" >&2; }
left() { echo $((wall - ($(date +%s) - t_start))); }

# step NAME CAP CMD...: runs CMD with at most CAP seconds (less if the wall
# is nearer), output to OUT/NAME.log, and records it in steps.jsonl.
step() {
  local name=$1 cap=$2 rem t0 rc status
  shift 2
  rem=$(left)
  [ "$cap" -gt "$rem" ] && cap=$rem
  if [ "$cap" -lt 5 ]; then
    log "skip $name: the ${wall} s wall is reached"
    record "$name" "$*" null 0 skipped
    return 1
  fi
  log "run  $name (at most ${cap} s): $*"
  t0=$(date +%s)
  timeout --kill-after=10 "$cap" "$@" >"$out/$name.log" 2>&1
  rc=$?
  status=ok
  [ $rc -ne 0 ] && status=failed
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status=timed_out
  log "     $name: $status (exit $rc, $(( $(date +%s) - t0 )) s)"
  [ $rc -ne 0 ] && tail -n 5 "$out/$name.log" | sed 's/^/       | /' | tee -a "$out/log.txt" >&2
  record "$name" "$*" "$rc" $(( $(date +%s) - t0 )) "$status"
  return $rc
}

record() { # name command rc seconds status
  "$python" -c 'import json,sys; n,c,rc,s,st=sys.argv[1:6]; print(json.dumps({"step": n,
    "command": c, "exit": None if rc == "null" else int(rc), "seconds": int(s), "status": st}))' \
    "$@" >>"$out/steps.jsonl" 2>/dev/null ||
    printf '{"step": "%s", "status": "%s"}\n' "$1" "$5" >>"$out/steps.jsonl"
}

# ---- the OpenCL ICD of NVIDIA's driver ------------------------------------
nvidia_icd() {
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  ls /etc/OpenCL/vendors/*.icd 2>/dev/null | xargs -r grep -l nvidia >/dev/null 2>&1 && return 0
  if mkdir -p /etc/OpenCL/vendors 2>/dev/null &&
     echo libnvidia-opencl.so.1 >/etc/OpenCL/vendors/nvidia.icd 2>/dev/null; then
    log "wrote /etc/OpenCL/vendors/nvidia.icd (libnvidia-opencl.so.1)"
  else
    mkdir -p "$out/icd" && echo libnvidia-opencl.so.1 >"$out/icd/nvidia.icd"
    export OCL_ICD_VENDORS=$out/icd
    log "no write access to /etc/OpenCL/vendors: OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
  fi
}

# system.txt / system.json: the machine, its GPU and driver, the OpenCL
# devices, PyTorch; each probe bounded (cuda_available decides the peer's runs).
system_info() {
  {
    echo "== date"; date -u
    echo "== uname"; uname -a
    echo "== git"; git -C "$root" log -1 --format='%H %s' 2>&1
    echo "== nvidia-smi"
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
      --format=csv 2>&1
    echo "== clgan devices"; timeout 60 "$build/clgan" devices 2>&1
    echo "== python"; timeout 60 "$python" -c 'import sys, torch
print(sys.version.split()[0], torch.__version__, "cuda", torch.version.cuda, "cudnn",
      torch.backends.cudnn.version())
print("cuda_available", torch.cuda.is_available())' 2>&1
  } >"$out/system.txt"
  "$python" - "$out/system.txt" "$out/system.json" <<'EOF' 2>/dev/null
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

# ---- the run ---------------------------------------------------------------
log "gpu_run.sh: output in $out, wall ${wall} s, python $python"
nvidia_icd
if [ -f "$build/build.ninja" ]; then
  step build 240 ninja -C "$build"
else
  step setup 60 meson setup "$build" && step build 240 ninja -C "$build"
fi
log "probe the system (system.json)"
system_info

device=${DEVICE:-}
if [ -z "$device" ] && grep -q 'type / vendor *GPU' "$out/system.txt"; then
  device=gpu
fi
dev_args=()
[ -n "$device" ] && dev_args=(--device "$device")

if [ $skip_tests -eq 0 ]; then
  step tests 200 env ${device:+CLGAN_TEST_DEVICE=$device} meson test -C "$build" --print-errorlogs
  cp "$build/meson-logs/testlog.json" "$out/tests.json" 2>/dev/null
fi

if "$build/clgan" tune --help >/dev/null 2>&1; then
  tune_json=0
  "$build/clgan" tune --help 2>&1 | grep -q -- '--json' && tune_json=1
  for cfg in tutorial gray32; do
    if [ $tune_json -eq 1 ]; then
      step "tune_$cfg" 120 "$build/clgan" tune --config "$cfg" "${dev_args[@]}" --json "$out/clgan_tune_$cfg.json"
    else
      step "tune_$cfg" 120 "$build/clgan" tune --config "$cfg" "${dev_args[@]}"
    fi
  done
else
  log "skip tune: this clgan has no tune command"
  record tune "clgan tune" null 0 skipped
fi

for cfg in tutorial gray32; do
  step "clgan_bench_$cfg" 120 "$build/clgan" bench --config "$cfg" "${dev_args[@]}" \
    --steps "$steps" --warmup 3 --no-startup --json "$out/clgan_bench_$cfg.json"
done

if grep -q '^cuda_available True' "$out/system.txt"; then
  settings="tf32_off tf32_on tf32_off_channels_last"
else
  settings="nchw channels_last"
  log "PyTorch has no CUDA device here: the peer runs on the CPU"
fi
for cfg in tutorial gray32; do
  for s in $settings; do
    case $s in
      tf32_off) a=(--device cuda --tf32 off) ;;
      tf32_on) a=(--device cuda --tf32 on) ;;
      tf32_off_channels_last) a=(--device cuda --tf32 off --channels-last) ;;
      nchw) a=() ;;
      channels_last) a=(--channels-last) ;;
    esac
    step "pytorch_${cfg}_$s" 90 "$python" "$root/bench/peer_pytorch.py" --config "$cfg" \
      --steps "$steps" --warmup 3 "${a[@]}" --json "$out/pytorch_${cfg}_$s.json"
  done
done

"$python" "$root/bench/gpu_summary.py" "$out" >"$out/summary.txt" 2>&1
cat "$out/summary.txt" | tee -a "$out/log.txt" >&2
log "gpu_run.sh: done in $(( $(date +%s) - t_start )) s; results in $out"
