#!/usr/bin/env python3
"""Derives clgan_tanh's polynomial (cl/common.cl) and checks the whole formula.

tanh(x) = x + x*u*p(u), u = x*x, below 0.9: p of degree 6 fitted to
(tanh(x)/x - 1)/u by Lawson's iteration (weighted least squares converging to
the minimax fit, relative error), on Chebyshev nodes of u in [0, 0.81].
Above 0.9 the kernel uses 1 - 2 / (exp(2|x|) + 1). The check evaluates both
as the kernel does, in float32 with fused multiply-adds (emulated in double,
exact for these products), over every third float of [0, 12], against
double tanh, and prints the largest error in ulp. Needs numpy only;
development-time, not a dependency of clgan.
"""
import numpy as np

EDGE, DEGREE = 0.9, 6


def fit():
    n = 4000
    u = (np.cos(np.pi * (np.arange(n) + 0.5) / n) * 0.5 + 0.5) * EDGE * EDGE
    x = np.sqrt(u)
    g = np.tanh(x) / x
    a = np.stack([u ** (k + 1) for k in range(DEGREE + 1)], 1)
    w, lw = 1.0 / g, np.ones(n)
    for _ in range(300):
        s = w * np.sqrt(lw)
        c = np.linalg.lstsq(a * s[:, None], (g - 1) * s, rcond=None)[0]
        err = np.abs((1 + a @ c - g) / g)
        lw = lw * err
        lw /= lw.sum()
    return c, err.max()


def f32_tanh(a, c):
    f = np.float32
    fma = lambda p, q, r: (p.astype(np.float64) * q.astype(np.float64) + np.float64(r)
                           if np.isscalar(r) else
                           p.astype(np.float64) * q.astype(np.float64) + r.astype(np.float64)
                           ).astype(f)
    u = (a * a).astype(f)
    p = np.full_like(a, f(c[-1]))
    for k in range(len(c) - 2, -1, -1):
        p = fma(p, u, f(c[k]))
    small = fma((a * u).astype(f), p, a)
    with np.errstate(over="ignore"):
        e = np.exp((f(2) * a).astype(f)).astype(f)
        large = (f(1) - (f(2) / (e + f(1)).astype(f)).astype(f)).astype(f)
    return np.where(a < f(EDGE), small, large)


def main():
    c, rel = fit()
    print("coefficients of u^0 .. u^%d (float literals for cl/common.cl):" % DEGREE)
    for v in c:
        print("  %.17gf" % v)
    print("relative error of the fit before rounding: %.3g" % rel)
    top = int(np.float32(12).view(np.uint32))
    worst = 0.0
    for start in range(1, top, 1 << 24):
        a = np.arange(start, min(top, start + (1 << 24)), 3, dtype=np.uint32).view(np.float32)
        ref = np.tanh(a.astype(np.float64))
        ulp = np.spacing(ref.astype(np.float32)).astype(np.float64)
        worst = max(worst, (np.abs(f32_tanh(a, c).astype(np.float64) - ref) / ulp).max())
    print("largest error over every third float of (0, 12]: %.2f ulp" % worst)


if __name__ == "__main__":
    main()
