#!/usr/bin/env python3
# The summary of bench/compare.sh: reads OUT/clgan_R.json and
# OUT/pytorch_{nchw,channels_last}_R.json for rounds R = 1..ROUNDS, prints
# each setting's median over the rounds, clgan beside the best PyTorch setting
# (the higher median img/s) and the ratio clgan / PyTorch (the median of the
# per-round ratios, with their range), and writes OUT/compare.json.
#     compare_summary.py OUT ROUNDS
import json
import os
import statistics
import sys

PEERS = ("nchw", "channels_last")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("compare_summary: %s: %s" % (path, e))


def mib(b):
    return "%.0f MiB" % (b / 2**20) if b else "?"


def pct(f):
    return "%.1f%%" % (100 * f) if f is not None else "-"


def main():
    out, rounds = sys.argv[1], int(sys.argv[2])
    clgan = [load(os.path.join(out, "clgan_%d.json" % r)) for r in range(1, rounds + 1)]
    peer = {p: [load(os.path.join(out, "pytorch_%s_%d.json" % (p, r)))[0]
                for r in range(1, rounds + 1)] for p in PEERS}
    med = {p: statistics.median(x["img_per_s"] for x in peer[p]) for p in PEERS}
    best = max(PEERS, key=lambda p: med[p])
    first = peer[best][0]
    print("### clgan vs PyTorch, config %s, medians of %d alternating round%s"
          % (first["config"], rounds, "" if rounds == 1 else "s"))
    print("%-60s %9s %9s %9s %7s %10s" % ("", "ms/step", "img/s", "GFLOP/s", "% peak",
                                          "memory"))
    summary = {"config": first["config"], "rounds": rounds, "best_pytorch": best,
               "pytorch": {}, "clgan": []}
    for p in PEERS:
        xs = peer[p]
        ms = statistics.median(x["ms_per_step"] for x in xs)
        gf = statistics.median(x["gflops"] for x in xs)
        fr = gf / xs[0]["peak_gflops"] if xs[0].get("peak_gflops") else None
        mark = " (best)" if p == best else ""
        print("%-60s %9.1f %9.1f %9.1f %7s %10s" % ((xs[0]["device"] + mark)[:60], ms, med[p],
                                                    gf, pct(fr), mib(xs[0]["peak_bytes"])))
        summary["pytorch"][p] = {"device": xs[0]["device"], "ms_per_step": ms,
                                 "img_per_s": med[p], "gflops": gf,
                                 "img_per_s_rounds": [x["img_per_s"] for x in xs]}
    for d, dev in enumerate(clgan[0]):
        name = "clgan: " + dev["device"]
        runs = [c[d] for c in clgan if d < len(c) and "img_per_s" in c[d]]
        if len(runs) < rounds:
            print("%-60s failed: %s" % (name[:60], dev.get("error", "in some rounds")))
            continue
        ms = statistics.median(x["ms_per_step"] for x in runs)
        img = statistics.median(x["img_per_s"] for x in runs)
        gf = statistics.median(x["gflops"] for x in runs)
        fr = gf / dev["peak_gflops"] if dev.get("peak_gflops") else None
        print("%-60s %9.1f %9.1f %9.1f %7s %10s" % (name[:60], ms, img, gf, pct(fr),
                                                    mib(dev["peak_bytes"])))
        ratios = [c["img_per_s"] / p["img_per_s"] for c, p in zip(runs, peer[best])]
        summary["clgan"].append({"device": dev["device"], "ms_per_step": ms, "img_per_s": img,
                                 "gflops": gf, "img_per_s_rounds": [x["img_per_s"] for x in runs],
                                 "ratio_to_best_pytorch": statistics.median(ratios),
                                 "ratio_rounds": ratios})
    for c in summary["clgan"]:
        r = c["ratio_rounds"]
        print("ratio clgan / PyTorch %s img/s on %s: %.2fx (median of %d rounds; %.2f-%.2f)"
              % (best, c["device"], c["ratio_to_best_pytorch"], len(r), min(r), max(r)))
    busy = [x[0].get("busy_cores_before") for x in clgan] + \
        [x.get("busy_cores_before") for p in PEERS for x in peer[p]]
    if any(b is not None and b >= 0.2 for b in busy):
        print("note: cores were busy with other processes before some runs (up to %.1f): "
              "they shared the cores, so these timings are not clean"
              % max(b for b in busy if b is not None))
    summary["busy_cores_before_max"] = max((b for b in busy if b is not None), default=None)
    with open(os.path.join(out, "compare.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
