#!/usr/bin/env python3
# The test list of a GPU pack (bench/gpu_pack.sh) and its runner, standard
# library only (the GPU machine's python3 runs it).
#
#   gpu_pack_tests.py make BUILD SOURCE PACK
#       reads meson's test list (BUILD/meson-info/intro-tests.json) and writes
#       PACK/tests.json: each test's command and environment with the paths
#       rewritten, @PACK@ for the pack's folder and @CACHE@ for the kernel
#       cache, so the pack runs from any folder. Executables of BUILD become
#       PACK/bin/NAME or PACK/tests/NAME (already copied there by
#       gpu_pack.sh); files of SOURCE are copied to PACK/src/ (a file with the
#       other data files of its folder, a folder whole); other existing paths
#       (pydicom's test files) to PACK/ext/; the program of a command outside
#       BUILD (bash) is taken from PATH there. NOT_PACKED's tests (scripts
#       of the repository, not of the build) are left out, and so are the
#       NAME_gpu_paths tests (CLGAN_KERNEL_CLASS=gpu: CI's way to run a GPU's
#       kernel paths on PoCL; on a GPU they repeat NAME).
#   run_tests.py [--jobs N] [--wall S] [--logdir DIR] [--cache DIR] [--list] [NAME...]
#       (the copy in the pack) runs the pack's tests, NAMEs only if given, in
#       parallel (--jobs, default the core count; a test meson marks not
#       parallel runs alone, after the others), each within its meson timeout
#       and all within --wall seconds (tests left when the wall is reached are
#       reported "not run"). Each test runs in a scratch folder of its own with
#       the environment meson gives it (CLGAN_TEST_DEVICE etc. pass through);
#       exit 77 is a skip. Writes DIR/NAME.log and DIR/testlog.json (one JSON
#       object per line, like meson's) and prints one line per test and the
#       totals; exits 0 when nothing failed, timed out or was left unrun.
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

DATA_SKIP = (".c", ".h", ".cc", ".o")  # a source file's folder: data files only
# meson tests that check the repository's scripts rather than the build
NOT_PACKED = {"gpu_pack": "tests/gpu_pack.sh checks bench/'s scripts, not the build"}


def inside(path, root):
    return path == root or path.startswith(root + os.sep)


class Mapper:
    """Rewrites the paths of meson's test list to pack-relative ones."""

    def __init__(self, build, source, pack):
        self.build, self.source, self.pack = build, source, pack
        self.executables = {}
        for sub in ("bin", "tests"):
            d = os.path.join(pack, sub)
            for name in os.listdir(d) if os.path.isdir(d) else ():
                self.executables[name] = "@PACK@/%s/%s" % (sub, name)

    def resolve(self, word):
        if os.path.isabs(word):
            return os.path.realpath(word)
        candidate = os.path.join(self.build, word)  # meson runs tests in BUILD
        if "/" in word and os.path.exists(candidate):
            return os.path.realpath(candidate)
        return None

    def copy_source(self, path):
        rel = os.path.relpath(path, self.source)
        dest = os.path.join(self.pack, "src", rel)
        if os.path.isdir(path):
            if not os.path.exists(dest):
                shutil.copytree(path, dest, ignore=shutil.ignore_patterns("*.c", "*.h", "__pycache__"))
        else:
            folder = os.path.dirname(path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            for name in os.listdir(folder):
                p = os.path.join(folder, name)
                if os.path.isfile(p) and (p == path or not name.endswith(DATA_SKIP)) \
                        and name != "meson.build":
                    shutil.copy2(p, os.path.join(os.path.dirname(dest), name))
        return "@PACK@/src/" + rel

    def word(self, word, program=False):
        path = self.resolve(word)
        if path is None:
            return word
        if inside(path, self.build):
            name = os.path.basename(path)
            if name in self.executables:
                return self.executables[name]
            if name == "kernel-cache":
                return "@CACHE@"
            raise SystemExit("gpu_pack_tests: %s is in the build but not in the pack" % path)
        if program:
            return os.path.basename(path)  # bash, python3: from PATH on that machine
        if inside(path, self.source):
            return self.copy_source(path)
        if os.path.exists(path):
            dest = os.path.join(self.pack, "ext", os.path.basename(path))
            if not os.path.exists(dest):
                (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, dest)
            return "@PACK@/ext/" + os.path.basename(path)
        return word


def make(build, source, pack):
    build, source, pack = (os.path.realpath(p) for p in (build, source, pack))
    with open(os.path.join(build, "meson-info", "intro-tests.json")) as f:
        tests = json.load(f)
    m = Mapper(build, source, pack)
    out = []
    for t in tests:
        if t["name"] in NOT_PACKED:
            print("gpu_pack_tests: %s left out: %s" % (t["name"], NOT_PACKED[t["name"]]))
            continue
        if (t.get("env") or {}).get("CLGAN_KERNEL_CLASS") == "gpu":
            print("gpu_pack_tests: %s left out: a GPU's paths on a CPU device, which on a GPU "
                  "repeats its test" % t["name"])
            continue
        cmd = [m.word(t["cmd"][0], program=True)] + [m.word(w) for w in t["cmd"][1:]]
        env = {k: m.word(v) for k, v in (t.get("env") or {}).items()}
        out.append({"name": t["name"], "cmd": cmd, "env": env, "timeout": t.get("timeout") or 600,
                    "is_parallel": t.get("is_parallel", True)})
    with open(os.path.join(pack, "tests.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("gpu_pack_tests: %d tests in %s/tests.json" % (len(out), pack))


class Runner:
    def __init__(self, pack, args):
        self.pack, self.args = pack, args
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.results = []
        self.procs = set()

    def left(self):
        return self.args.wall - (time.monotonic() - self.t0)

    def subst(self, s):
        return s.replace("@PACK@", self.pack).replace("@CACHE@", self.args.cache)

    def one(self, t):
        log = os.path.join(self.args.logdir, t["name"] + ".log")
        rec = {"name": t["name"], "command": [self.subst(w) for w in t["cmd"]]}
        limit = min(t["timeout"], self.left())
        if limit < 1:
            rec.update(result="NOT_RUN", duration=0.0, returncode=None)
            return self.done(rec, "")
        env = dict(os.environ)
        env.update({k: self.subst(v) for k, v in t["env"].items()})
        work = tempfile.mkdtemp(prefix=t["name"] + "-", dir=self.args.workdir)
        env["TMPDIR"] = work
        start = time.monotonic()
        with open(log, "wb") as f:
            try:
                p = subprocess.Popen(rec["command"], cwd=work, env=env, stdout=f,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                f.write(("cannot start: %s\n" % e).encode())
                rec.update(result="ERROR", duration=0.0, returncode=None)
                return self.done(rec, log)
            with self.lock:
                self.procs.add(p)
            try:
                rc = p.wait(timeout=limit)
                result = "OK" if rc == 0 else "SKIP" if rc == 77 else "FAIL"
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
                result = "TIMEOUT"
            with self.lock:
                self.procs.discard(p)
        shutil.rmtree(work, ignore_errors=True)
        rec.update(result=result, duration=round(time.monotonic() - start, 2), returncode=rc)
        return self.done(rec, log)

    def done(self, rec, log):
        text = ""
        if log:
            with open(log, "rb") as f:
                text = f.read()[-20000:].decode("utf-8", "replace")
        rec["stdout"] = text
        with self.lock:
            self.results.append(rec)
            n = len(self.results)
            print("%3d/%d %-20s %-8s %7.1f s" % (n, self.total, rec["name"], rec["result"],
                                                rec["duration"]), flush=True)
            if rec["result"] in ("FAIL", "TIMEOUT", "ERROR"):
                for line in text.splitlines()[-8:]:
                    print("      | " + line, flush=True)
        return rec

    def run(self, tests):
        self.total = len(tests)
        parallel = [t for t in tests if t["is_parallel"]]
        serial = [t for t in tests if not t["is_parallel"]]
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
            list(pool.map(self.one, parallel))
        for t in serial:
            self.one(t)


def run(argv):
    pack = os.path.dirname(os.path.realpath(__file__))
    ap = argparse.ArgumentParser(prog="run_tests.py", description="Runs a GPU pack's tests.")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--wall", type=float, default=3600.0, help="seconds for all the tests")
    ap.add_argument("--logdir", default=None, help="per-test logs and testlog.json")
    ap.add_argument("--cache", default=None, help="kernel cache (default: LOGDIR/kernel-cache)")
    ap.add_argument("--list", action="store_true", help="print the tests and exit")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    with open(os.path.join(pack, "tests.json")) as f:
        tests = json.load(f)
    if args.list:
        for t in tests:
            print("%-20s %s" % (t["name"], " ".join(t["cmd"])))
        return 0
    unknown = set(args.names) - {t["name"] for t in tests}
    if unknown:
        print("run_tests.py: no such test: %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    if args.names:
        tests = [t for t in tests if t["name"] in args.names]
    args.logdir = os.path.realpath(args.logdir or tempfile.mkdtemp(prefix="clgan-pack-tests-"))
    os.makedirs(args.logdir, exist_ok=True)
    args.cache = os.path.realpath(args.cache or os.path.join(args.logdir, "kernel-cache"))
    args.workdir = tempfile.mkdtemp(prefix="work-", dir=args.logdir)
    r = Runner(pack, args)
    # a SIGTERM (timeout(1) around this) still kills the tests' own sessions
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("run_tests.py: %d tests from %s, %d at a time, wall %.0f s, logs in %s"
          % (len(tests), pack, args.jobs, args.wall, args.logdir), flush=True)
    try:
        r.run(tests)
    finally:
        for p in list(r.procs):
            os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(args.workdir, ignore_errors=True)
    with open(os.path.join(args.logdir, "testlog.json"), "w") as f:
        for rec in sorted(r.results, key=lambda x: x["name"]):
            f.write(json.dumps(rec) + "\n")
    counts = {}
    for rec in r.results:
        counts[rec["result"]] = counts.get(rec["result"], 0) + 1
    print("run_tests.py: " + ", ".join("%s %d" % kv for kv in sorted(counts.items()))
          + " in %.0f s" % (time.monotonic() - r.t0), flush=True)
    bad = sum(counts.get(k, 0) for k in ("FAIL", "TIMEOUT", "ERROR", "NOT_RUN"))
    return 1 if bad else 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "make":
        make(*sys.argv[2:5])
        return 0
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
