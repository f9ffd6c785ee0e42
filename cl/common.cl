/* Prepended to every clgan program. OpenCL C 1.2. Buffers are float arrays
 * addressed with an element offset (`off`) so parameters can share an arena. */
#define CLGAN_IDX(off, i) ((off) + (i))

/* tanh(v) for the activations (cl/act.cl, cl/batchnorm.cl): an odd
 * polynomial below 0.9 (fitted minimax on [0, 0.9], relative error 1.1e-9
 * before rounding, by tests/tanh/fit.py), 1 - 2 / (e^2|v| + 1) above; within
 * 1.4 ulp of a double tanh over every third float of [0, 12] evaluated in
 * float with numpy's exp (the same script). PoCL's own tanh took 0.6 ms for the 65,536 floats of `gray32`'s
 * G output on a 2-core Zen 3 (exp's form: 0.11 ms). NaN stays NaN, -0 -0. */
#define CLGAN_TANH_DEF(NAME, T)                                                \
  static inline T NAME(T v) {                                                  \
    const T a = fabs(v), u = a * a;                                            \
    T p = (T)(-0.0004554602445446358f);                                        \
    p = fma(p, u, (T)(0.0025826685844508486f));                                \
    p = fma(p, u, (T)(-0.0082645446531453f));                                  \
    p = fma(p, u, (T)(0.021663542918030868f));                                 \
    p = fma(p, u, (T)(-0.0539293017102149f));                                  \
    p = fma(p, u, (T)(0.13332978265263984f));                                  \
    p = fma(p, u, (T)(-0.3333332226350637f));                                  \
    const T small = fma(a * u, p, a);                                          \
    const T large = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);                     \
    return copysign(a < 0.9f ? small : large, v);                              \
  }
CLGAN_TANH_DEF(clgan_tanh, float)
CLGAN_TANH_DEF(clgan_tanh4, float4)
