#!/usr/bin/env python3
# The summary of bench/gpu_run.sh: reads OUT/steps.jsonl, OUT/clgan_bench_*.json
# and OUT/pytorch_*_*.json, writes OUT/steps.json and OUT/summary.json (per
# configuration: clgan's figures, each PyTorch setting's, and the ratios
# clgan / PyTorch img/s) and prints them as a table. Missing or broken files
# (a step that failed) are reported, not fatal.
#     gpu_summary.py OUT
import glob
import json
import os
import sys

CONFIGS = ("tutorial", "gray32")


def load(path, problems):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.append("%s: %s" % (os.path.basename(path), e))
        return None


def steps(out, problems):
    rows = []
    try:
        with open(os.path.join(out, "steps.jsonl")) as f:
            for line in f:
                if line.strip():
                    rows.append(json.loads(line))
    except (OSError, ValueError) as e:
        problems.append("steps.jsonl: %s" % e)
    with open(os.path.join(out, "steps.json"), "w") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    return rows


def clgan_figures(d):
    keep = ("device", "platform", "gemm_backend", "ms_per_step", "host_ms_per_step", "img_per_s",
            "gflops", "peak_gflops", "peak_fraction", "profile_launches", "busy_cores_before")
    return {k: d.get(k) for k in keep}


def main():
    out = sys.argv[1]
    problems = []
    rows = steps(out, problems)
    summary = {"steps": {r["step"]: r.get("status") for r in rows}, "configs": {}}
    for cfg in CONFIGS:
        entry = {}
        c = load(os.path.join(out, "clgan_bench_%s.json" % cfg), problems)
        if c and "img_per_s" in c[0]:
            entry["clgan"] = clgan_figures(c[0])
        peers = {}
        for path in sorted(glob.glob(os.path.join(out, "pytorch_%s_*.json" % cfg))):
            setting = os.path.basename(path)[len("pytorch_%s_" % cfg):-len(".json")]
            p = load(path, problems)
            if p:
                p = p[0]
                peers[setting] = {k: p.get(k) for k in ("device", "torch_version", "memory_format",
                                                        "tf32", "fp32_precision", "ms_per_step",
                                                        "img_per_s", "gflops")}
        entry["pytorch"] = peers
        if "clgan" in entry:
            entry["ratio_clgan_to_pytorch"] = {s: entry["clgan"]["img_per_s"] / p["img_per_s"]
                                               for s, p in peers.items()}
        summary["configs"][cfg] = entry
    summary["problems"] = problems
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    print("steps: " + ", ".join("%s %s" % (r["step"], r.get("status")) for r in rows))
    for cfg, e in summary["configs"].items():
        c = e.get("clgan")
        print("%s: clgan %s" % (cfg, "%.1f ms/step, %.0f img/s, %.0f GFLOP/s (%s) on %s" % (
            c["ms_per_step"], c["img_per_s"], c["gflops"],
            "%.0f%% of peak" % (100 * c["peak_fraction"]) if c.get("peak_fraction") else "-",
            c["device"]) if c else "failed"))
        for s, p in e["pytorch"].items():
            ratio = e.get("ratio_clgan_to_pytorch", {}).get(s)
            print("  PyTorch %-24s %8.1f ms/step %9.0f img/s%s" % (
                s, p["ms_per_step"], p["img_per_s"],
                "   clgan / PyTorch %.2fx" % ratio if ratio else ""))
    for p in problems:
        print("problem: " + p)


if __name__ == "__main__":
    main()
