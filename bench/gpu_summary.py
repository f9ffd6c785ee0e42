#!/usr/bin/env python3
# The summary of bench/gpu_run.sh: reads its folder of steps' files (WORK):
# steps.jsonl, system.json, clgan_bench_CONFIG_default.json (CLGAN_TUNE=off),
# clgan_bench_CONFIG.json (on the tuned winners), pytorch_CONFIG_SETTING.json,
# tune_CONFIG.log, bench_gemm.log, bench_convt.log, tests/testlog.json; writes
# steps.json and summary.json there and prints the summary: per configuration
# clgan's img/s before and after tuning, each PyTorch setting's, the ratios
# against the best TF32-off and TF32-on settings (on the CPU: NCHW and
# channels_last), the fraction of the FP32 peak clgan measured, launches and
# host syncs per step, the tuning time and winners per layer; the GEMM rates;
# the tests. Missing or broken files (a step that failed) are reported as
# problems, not fatal.
#     gpu_summary.py WORK
import glob
import json
import os
import re
import sys

CONFIGS = ("tutorial", "gray32")
CLGAN_KEEP = ("device", "platform", "gemm_backend", "ms_per_step", "host_ms_per_step", "img_per_s",
              "gflops", "peak_gflops", "peak_fraction", "launches_per_step",
              "blocking_reads_per_step", "finishes_per_step", "event_waits_per_step", "tune_mode",
              "tune_seconds", "tune_from_cache", "tune_tuned", "profile_kernel_ms")
PEER_KEEP = ("device", "torch_version", "memory_format", "tf32", "fp32_precision", "ms_per_step",
             "img_per_s", "gflops", "peak_fraction")
GEMM_ROW = re.compile(r"^(.+?)\s+(\d+)\s+(\d+)\s+(\d+) ([NT]{2}) \| (\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")
TUNE_LINE = re.compile(r"(\d+) shapes: (\d+) tuned now, (\d+) from the cache, (\d+) on defaults; "
                       r"(\d+) candidates timed, (\d+) rejected; ([\d.]+) s tuning")


def load(path, problems, required=True):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as e:
        if required:
            problems.append("%s: missing" % os.path.basename(path))
    except (OSError, ValueError) as e:
        problems.append("%s: %s" % (os.path.basename(path), e))
    return None


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def steps(work, problems):
    rows = []
    try:
        with open(os.path.join(work, "steps.jsonl")) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        problems.append("steps.jsonl: %s" % e)
    with open(os.path.join(work, "steps.json"), "w") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    return rows


def clgan_run(work, name, problems):
    d = load(os.path.join(work, name + ".json"), problems)
    if not d or "img_per_s" not in d[0]:
        if d and d[0].get("error"):
            problems.append("%s.json: %s" % (name, d[0]["error"]))
        return None
    r = {k: d[0].get(k) for k in CLGAN_KEEP}
    r["layers"] = [{k: l.get(k) for k in ("name", "forward_ms", "backward_ms")}
                   for l in d[0].get("layers") or []]
    r["tune"] = d[0].get("tune") or []
    return r


def peers_of(work, cfg, peak, problems):
    peers = {}
    for path in sorted(glob.glob(os.path.join(work, "pytorch_%s_*.json" % cfg))):
        setting = os.path.basename(path)[len("pytorch_%s_" % cfg):-len(".json")]
        p = load(path, problems)
        if p:
            peers[setting] = {k: p[0].get(k) for k in PEER_KEEP}
            if peers[setting]["peak_fraction"] is None and peak and p[0].get("gflops"):
                peers[setting]["peak_fraction"] = p[0]["gflops"] / peak
    return peers


def best(peers, pick):
    """The fastest setting among those pick accepts: (name, img/s)."""
    got = [(p["img_per_s"], s) for s, p in peers.items() if pick(s) and p.get("img_per_s")]
    return max(got)[::-1] if got else None


def tune_of(work, cfg, rows):
    text = read_text(os.path.join(work, "tune_%s.log" % cfg))
    out = {"step_seconds": next((r.get("seconds") for r in rows if r["step"] == "tune_" + cfg), None)}
    m = TUNE_LINE.search(text or "")
    if m:
        keys = ("shapes", "tuned", "from_cache", "on_defaults", "timed", "rejected")
        out.update({k: int(v) for k, v in zip(keys, m.groups()[:6])})
        out["tuning_seconds"] = float(m.group(7))
    return out


def config_entry(work, cfg, rows, problems):
    e = {"clgan_default": clgan_run(work, "clgan_bench_%s_default" % cfg, problems),
         "clgan_winograd": clgan_run(work, "clgan_bench_%s_winograd" % cfg, problems),
         "clgan_tuned": clgan_run(work, "clgan_bench_%s" % cfg, problems),
         "tune": tune_of(work, cfg, rows)}
    c = e["clgan_tuned"] or e["clgan_default"]
    peak = next((x["peak_gflops"] for x in (e["clgan_default"], e["clgan_tuned"])
                 if x and x.get("peak_gflops")), None)
    e["peak_gflops"] = peak
    e["pytorch"] = peers_of(work, cfg, peak, problems)
    ratios = {}
    if c:
        ratios = {s: c["img_per_s"] / p["img_per_s"] for s, p in e["pytorch"].items()
                  if p.get("img_per_s")}
    e["ratio_clgan_to_pytorch"] = ratios
    on_cuda = any(s.startswith("tf32") for s in e["pytorch"])
    picks = ({"tf32_off": lambda s: s.startswith("tf32_off"),
              "tf32_on": lambda s: s.startswith("tf32_on")} if on_cuda else
             {"cpu": lambda s: True})
    e["against_best"] = {}
    for k, pick in picks.items():
        b = best(e["pytorch"], pick)
        if b and c:
            e["against_best"][k] = {"setting": b[0], "pytorch_img_per_s": b[1],
                                    "ratio": c["img_per_s"] / b[1]}
    return e


def gemm_rows(work, peak):
    rows = []
    for line in (read_text(os.path.join(work, "bench_gemm.log")) or "").splitlines():
        m = GEMM_ROW.match(line)
        if m:
            g = m.groups()
            rows.append({"shape": g[0].strip(), "m": int(g[1]), "n": int(g[2]), "k": int(g[3]),
                         "op": g[4], "backend": g[5], "median_ms": float(g[6]),
                         "gflops": float(g[7]), "best_gflops": float(g[8]),
                         "peak_fraction": float(g[7]) / peak if peak else None})
    return rows


def tests_of(work):
    path = os.path.join(work, "tests", "testlog.json")
    try:
        with open(path) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return None
    counts = {}
    for r in recs:
        counts[r.get("result")] = counts.get(r.get("result"), 0) + 1
    return {"counts": counts, "not_ok": sorted(r["name"] for r in recs
                                               if r.get("result") not in ("OK", "SKIP"))}


def system_of(work, problems):
    s = load(os.path.join(work, "system.json"), problems) or {}
    out = {k: s.get(k) for k in ("nvidia-smi", "python", "pack", "git")}
    # `clgan devices`: the platforms, devices and their driver versions
    keep = re.compile(r"^(platform \d|  \[\d|    (version|peak) )")
    out["opencl"] = "\n".join(l.strip() for l in (s.get("clgan devices") or "").splitlines()
                              if keep.match(l))
    return out


def pct(x):
    return "%.0f%%" % (100 * x) if x else "-"


def print_config(cfg, e):
    for tag in ("clgan_default", "clgan_winograd", "clgan_tuned"):
        c = e[tag]
        label = tag[len("clgan_"):].replace("default", "defaults")
        if not c:
            print("  clgan %-8s failed or not run" % label)
            continue
        print("  clgan %-8s %8.2f ms/step %9.0f img/s %8.0f GFLOP/s (%s of %s GFLOP/s)  "
              "%s launches, %s finishes, %s blocking reads /step" % (
                  label, c["ms_per_step"], c["img_per_s"], c["gflops"], pct(c["peak_fraction"]),
                  "%.0f" % c["peak_gflops"] if c.get("peak_gflops") else "?",
                  c.get("launches_per_step"), c.get("finishes_per_step"),
                  c.get("blocking_reads_per_step")))
    for s, p in e["pytorch"].items():
        ratio = e["ratio_clgan_to_pytorch"].get(s)
        print("  PyTorch %-24s %8.2f ms/step %9.0f img/s %8.0f GFLOP/s (%s)%s" % (
            s, p["ms_per_step"], p["img_per_s"], p["gflops"] or 0, pct(p.get("peak_fraction")),
            "   clgan / PyTorch %.2fx" % ratio if ratio else ""))
    for k, b in e["against_best"].items():
        print("  clgan against the best PyTorch %s setting (%s, %.0f img/s): %.2fx"
              % (k.replace("_", " "), b["setting"], b["pytorch_img_per_s"], b["ratio"]))
    t = e["tune"]
    if "tuning_seconds" in t:
        print("  tuning: %.1f s in the tuner (%s s the step), %d shapes: %d tuned, %d cached, "
              "%d on defaults; %d candidates timed, %d rejected" % (
                  t["tuning_seconds"], t["step_seconds"], t["shapes"], t["tuned"],
                  t["from_cache"], t["on_defaults"], t["timed"], t["rejected"]))
    d, c = e["clgan_default"], e["clgan_tuned"]
    if d and c and d["layers"]:
        winners = {w.get("layer"): w for w in c["tune"]}
        print("  %-10s %17s %17s  %s" % ("layer", "defaults fwd/bwd", "tuned fwd/bwd",
                                         "winners forward / backward data / weight gradient"))
        for ld, lt in zip(d["layers"], c["layers"]):
            w = winners.get(ld["name"])
            print("  %-10s %8.3f/%-8.3f %8.3f/%-8.3f  %s" % (
                ld["name"], ld["forward_ms"] or 0, ld["backward_ms"] or 0, lt["forward_ms"] or 0,
                lt["backward_ms"] or 0,
                "%s / %s / %s (%s)" % (w.get("forward"), w.get("backward_data"),
                                       w.get("weight_gradient"), w.get("from")) if w else ""))


def main():
    if len(sys.argv) != 2:
        print("usage: gpu_summary.py WORK", file=sys.stderr)
        return 2
    work = sys.argv[1]
    problems = []
    rows = steps(work, problems)
    summary = {"system": system_of(work, problems),
               "steps": {r["step"]: r.get("status") for r in rows}, "configs": {}}
    for cfg in CONFIGS:
        summary["configs"][cfg] = config_entry(work, cfg, rows, problems)
    peak = summary["configs"]["tutorial"]["peak_gflops"]
    summary["bench_gemm"] = gemm_rows(work, peak)
    summary["bench_convt"] = [l for l in (read_text(os.path.join(work, "bench_convt.log")) or "")
                              .splitlines() if l.strip()][:60]
    summary["tests"] = tests_of(work)
    summary["problems"] = problems
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    print("== gpu_run.sh summary")
    for k in ("nvidia-smi", "opencl", "python", "pack"):
        v = (summary["system"].get(k) or "").strip()
        if v:
            print("%s: %s" % (k, " | ".join(v.splitlines()[:8])))
    print("steps: " + ", ".join("%s %s (%ss)" % (r["step"], r.get("status"), r.get("seconds"))
                                for r in rows))
    for cfg, e in summary["configs"].items():
        c = e["clgan_tuned"] or e["clgan_default"]
        print("%s on %s:" % (cfg, c["device"] if c else "?"))
        print_config(cfg, e)
    if summary["bench_gemm"]:
        print("bench_gemm (median; %% of clgan's measured FP32 peak %s GFLOP/s):"
              % ("%.0f" % peak if peak else "?"))
        for g in summary["bench_gemm"]:
            print("  %-20s %5d %5d %5d %s %-8s %9.3f ms %9.0f GFLOP/s %5s" % (
                g["shape"], g["m"], g["n"], g["k"], g["op"], g["backend"], g["median_ms"],
                g["gflops"], pct(g["peak_fraction"])))
    if summary["bench_convt"]:
        print("bench_convt:")
        for line in summary["bench_convt"][:24]:
            print("  " + line)
    t = summary["tests"]
    if t:
        print("tests: %s%s" % (", ".join("%s %d" % kv for kv in sorted(t["counts"].items())),
                               "; not OK: " + ", ".join(t["not_ok"]) if t["not_ok"] else ""))
    for p in problems:
        print("problem: " + p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
