#!/usr/bin/env bash
# The GPU measurement's scripts (bench/gpu_pack.sh, gpu_run.sh,
# gpu_pack_tests.py, gpu_summary.py) without building a pack or a GPU:
# their syntax and --help; the device tool's call written in gpu_run.sh's
# --help (under the tool's limits, carrying gpu_pack.sh's default folder,
# which git ignores); gpu_pack_tests.py rewriting a meson test list into
# pack paths and its runner's results (OK, SKIP, FAIL, TIMEOUT, NOT_RUN, the
# environment, a non-parallel test); gpu_summary.py's figures from a made-up
# run folder (ratios against the best TF32-off and TF32-on settings, peak
# fractions, tuning, tests, problems).
#   usage: tests/gpu_pack.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
command -v python3 >/dev/null || { echo "gpu_pack: needs python3" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/clgan-gpu-pack-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- syntax and --help ----------------------------------------------------------
for s in gpu_pack.sh gpu_run.sh; do
  bash -n "$root/bench/$s" || fail "$s: syntax"
  "$root/bench/$s" --help >"$work/$s.help" 2>&1 || fail "$s --help exits non-zero"
  grep -q "bench/$s" "$work/$s.help" || fail "$s --help does not show its usage"
  "$root/bench/$s" --no-such-option >/dev/null 2>&1
  [ $? -eq 2 ] || fail "$s: an unknown option does not exit 2"
done
for s in gpu_pack_tests.py gpu_summary.py; do
  python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' \
    "$root/bench/$s" || fail "$s: syntax"
done

# the run call: command under 2,000 characters, at most 8 carried paths,
# the pack's default folder among them and ignored by git, timeout_s within
# 600 s and above the wall the command gives
python3 - "$work/gpu_run.sh.help" "$root/bench/gpu_pack.sh" "$root/.gitignore" <<'EOF' || fail "the run call in gpu_run.sh --help"
import re, sys
help_text, pack_sh, gitignore = (open(p).read() for p in sys.argv[1:4])
m = re.search(r'run\(command="([^"]+)",\s*carry=\[([^\]]*)\],\s*timeout_s=(\d+)\)', help_text)
assert m, "no run(command=..., carry=[...], timeout_s=...) in the help"
command, carry, timeout_s = m.group(1), re.findall(r'"([^"]+)"', m.group(2)), int(m.group(3))
assert len(command) <= 2000 and 1 <= len(carry) <= 8, (command, carry)
default = re.search(r'^pack=\$root/(\S+)$', pack_sh, re.M).group(1)
assert default in carry and "--pack " + default in command, (default, carry, command)
assert "/%s/" % default in gitignore.split(), "%s is not in .gitignore" % default
wall = int(re.search(r"--wall (\d+)", command).group(1))
assert wall + 30 <= timeout_s <= 600, (wall, timeout_s)
EOF

# ---- gpu_pack_tests.py make: meson's test list into pack paths --------------------
src=$work/src build=$work/src/build pack=$work/pack ext=$work/ext
mkdir -p "$src/tests/data" "$build/meson-info" "$build/tests" "$pack/bin" "$pack/tests" "$ext"
echo fixture >"$src/tests/data/f.bin"
echo script >"$src/tests/run.sh"
echo 'int main;' >"$src/tests/t.c"
echo other >"$src/tests/helper.py"
echo pydicom >"$ext/file.dcm"
touch "$pack/bin/clgan" "$pack/tests/test_x" "$build/clgan" "$build/tests/test_x"
cat >"$build/meson-info/intro-tests.json" <<EOF
[{"name": "x", "cmd": ["$build/tests/test_x"], "timeout": 30, "is_parallel": true,
  "env": {"DATA": "$src/tests/data", "CACHE": "$build/kernel-cache", "EXT": "$ext"}},
 {"name": "sh", "cmd": ["/bin/bash", "$build/../tests/run.sh", "./clgan"], "timeout": 60,
  "is_parallel": false, "env": {}},
 {"name": "gpu_pack", "cmd": ["/bin/bash", "$src/tests/run.sh"], "timeout": 60, "env": {}}]
EOF
python3 "$root/bench/gpu_pack_tests.py" make "$build" "$src" "$pack" >/dev/null ||
  fail "gpu_pack_tests.py make failed"
python3 - "$pack" <<'EOF' || fail "gpu_pack_tests.py make: the rewritten test list"
import json, os, sys
pack = sys.argv[1]
t = {x["name"]: x for x in json.load(open(os.path.join(pack, "tests.json")))}
assert sorted(t) == ["sh", "x"], sorted(t)  # gpu_pack: a check of the scripts, left out
assert t["x"]["cmd"] == ["@PACK@/tests/test_x"], t["x"]
assert t["x"]["env"] == {"DATA": "@PACK@/src/tests/data", "CACHE": "@CACHE@",
                         "EXT": "@PACK@/ext/ext"}, t["x"]["env"]
assert t["sh"]["cmd"] == ["bash", "@PACK@/src/tests/run.sh", "@PACK@/bin/clgan"], t["sh"]
assert not t["sh"]["is_parallel"] and t["sh"]["timeout"] == 60
for f in ("src/tests/data/f.bin", "src/tests/run.sh", "src/tests/helper.py", "ext/ext/file.dcm"):
    assert os.path.isfile(os.path.join(pack, f)), f
assert not os.path.exists(os.path.join(pack, "src/tests/t.c")), "a C source was packed"
EOF
# a build file that is not in the pack is an error, not a silent miss
mkdir -p "$work/b2/meson-info" && cat >"$work/b2/meson-info/intro-tests.json" <<EOF
[{"name": "y", "cmd": ["$work/b2/tests/test_y"], "timeout": 30, "env": {}}]
EOF
python3 "$root/bench/gpu_pack_tests.py" make "$work/b2" "$src" "$pack" >/dev/null 2>&1 &&
  fail "gpu_pack_tests.py make accepted a test binary missing from the pack"

# ---- the runner: results, environment, wall --------------------------------------
run=$work/runpack
mkdir -p "$run/bin"
cp "$root/bench/gpu_pack_tests.py" "$run/run_tests.py"
cat >"$run/tests.json" <<'EOF'
[{"name": "ok", "cmd": ["sh", "-c", "test -d \"$WHERE\" && test \"$CACHE\" = @CACHE@"],
  "env": {"WHERE": "@PACK@/bin", "CACHE": "@CACHE@"}, "timeout": 30, "is_parallel": true},
 {"name": "skip", "cmd": ["sh", "-c", "exit 77"], "env": {}, "timeout": 30, "is_parallel": true},
 {"name": "bad", "cmd": ["sh", "-c", "echo broken; exit 3"], "env": {}, "timeout": 30,
  "is_parallel": true},
 {"name": "slow", "cmd": ["sleep", "20"], "env": {}, "timeout": 1, "is_parallel": true},
 {"name": "alone", "cmd": ["sh", "-c", "test -n \"$TMPDIR\" && pwd > here"], "env": {},
  "timeout": 30, "is_parallel": false}]
EOF
python3 "$run/run_tests.py" --jobs 2 --logdir "$work/logs" >"$work/run.out" 2>&1
[ $? -eq 1 ] || fail "run_tests.py: a failing test does not make it exit 1"
python3 - "$work/logs/testlog.json" <<'EOF' || { fail "run_tests.py: the results"; cat "$work/run.out" >&2; }
import json, sys
r = {x["name"]: x for x in map(json.loads, open(sys.argv[1]))}
want = {"ok": "OK", "skip": "SKIP", "bad": "FAIL", "slow": "TIMEOUT", "alone": "OK"}
assert {k: v["result"] for k, v in r.items()} == want, r
assert r["bad"]["returncode"] == 3 and "broken" in r["bad"]["stdout"]
assert r["slow"]["duration"] < 10
EOF
python3 "$run/run_tests.py" --logdir "$work/logs2" ok skip >/dev/null 2>&1 ||
  fail "run_tests.py NAMES: passing tests exit non-zero"
python3 "$run/run_tests.py" --wall 0.5 --logdir "$work/logs3" ok >/dev/null 2>&1 &&
  fail "run_tests.py: a test left unrun by the wall does not fail the run"
grep -q NOT_RUN "$work/logs3/testlog.json" 2>/dev/null || fail "run_tests.py: no NOT_RUN past the wall"
python3 "$run/run_tests.py" nosuch >/dev/null 2>&1
[ $? -eq 2 ] || fail "run_tests.py: an unknown test name is not refused"

# ---- gpu_summary.py from a made-up run ----------------------------------------------
w=$work/run
mkdir -p "$w/tests"
cat >"$w/steps.jsonl" <<'EOF'
{"step": "clgan_bench_tutorial_default", "status": "ok", "seconds": 9}
{"step": "tune_tutorial", "status": "ok", "seconds": 41}
{"step": "tests", "status": "failed", "seconds": 99}
EOF
bench_json() { # FILE IMG_PER_S
  cat >"$1" <<EOF
[{"device": "NVIDIA H200", "platform": "NVIDIA CUDA", "ms_per_step": 10.0, "img_per_s": $2,
  "gflops": 30000.0, "peak_gflops": 60000.0, "peak_fraction": 0.5, "launches_per_step": 401,
  "finishes_per_step": 0, "blocking_reads_per_step": 1,
  "layers": [{"name": "G1", "forward_ms": 0.5, "backward_ms": 1.0}],
  "tune": [{"layer": "G1", "shape": "s", "from": "cache", "forward": "own 8x32",
            "backward_data": "lds a", "weight_gradient": "clblast"}]}]
EOF
}
bench_json "$w/clgan_bench_tutorial_default.json" 10000
bench_json "$w/clgan_bench_tutorial.json" 12000
bench_json "$w/clgan_bench_tutorial_winograd.json" 11000
peer_json() { # FILE IMG_PER_S
  echo "[{\"device\": \"cuda\", \"ms_per_step\": 9.0, \"img_per_s\": $2, \"gflops\": 15000.0}]" >"$1"
}
peer_json "$w/pytorch_tutorial_tf32_off.json" 8000
peer_json "$w/pytorch_tutorial_tf32_off_channels_last.json" 6000
peer_json "$w/pytorch_tutorial_tf32_on.json" 16000
echo "10 shapes: 10 tuned now, 0 from the cache, 0 on defaults; 300 candidates timed, 2 rejected; 38.5 s tuning" \
  >"$w/tune_tutorial.log"
echo "conv fwd (NN)          128 32768  1024 NN | own           5.00   30000.0   31000.0" >"$w/bench_gemm.log"
printf '%s\n' '{"name": "parity", "result": "OK"}' '{"name": "conv", "result": "FAIL"}' >"$w/tests/testlog.json"
python3 "$root/bench/gpu_summary.py" "$w" >"$w/out.txt" 2>&1 || fail "gpu_summary.py exits non-zero"
python3 - "$w/summary.json" <<'EOF' || { fail "gpu_summary.py: the figures"; cat "$w/out.txt" >&2; }
import json, sys
s = json.load(open(sys.argv[1]))
t = s["configs"]["tutorial"]
assert t["against_best"]["tf32_off"] == {"setting": "tf32_off", "pytorch_img_per_s": 8000,
                                         "ratio": 1.5}, t["against_best"]
assert t["against_best"]["tf32_on"]["ratio"] == 0.75
assert t["pytorch"]["tf32_on"]["peak_fraction"] == 0.25  # 15000 of clgan's 60000
assert t["tune"] == {"step_seconds": 41, "shapes": 10, "tuned": 10, "from_cache": 0,
                     "on_defaults": 0, "timed": 300, "rejected": 2, "tuning_seconds": 38.5}, t["tune"]
assert s["bench_gemm"][0]["backend"] == "own" and s["bench_gemm"][0]["peak_fraction"] == 0.5
assert s["tests"] == {"counts": {"OK": 1, "FAIL": 1}, "not_ok": ["conv"]}, s["tests"]
assert s["configs"]["gray32"]["clgan_tuned"] is None
assert t["clgan_winograd"]["img_per_s"] == 11000, t["clgan_winograd"]
assert any("clgan_bench_gray32.json" in p for p in s["problems"]), s["problems"]
EOF
grep -q "best PyTorch tf32 off setting (tf32_off, 8000 img/s): 1.50x" "$w/out.txt" ||
  fail "gpu_summary.py: the printed ratio against TF32 off"

[ $failures -eq 0 ] || { echo "gpu_pack: $failures failure(s)" >&2; exit 1; }
echo "gpu_pack: all checks passed"
