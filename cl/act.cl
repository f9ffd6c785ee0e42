/* Elementwise activations, forward y = act(x) and backward from the output
 * dx = dy * act'(y), matching PyTorch 1.13: ReLU passes the gradient where
 * y > 0, LeakyReLU where y > 0 else scales it by the slope (the slope is
 * positive, so y > 0 iff x > 0), Tanh dy*(1-y*y), Sigmoid dy*(1-y)*y.
 * One kernel per activation keeps each body a plain, vectorisable loop.
 * x/y and dy/dx may be the same array: each work-item reads, then writes,
 * its own indices. The piecewise-linear ones (none, ReLU, LeakyReLU) take
 * ACT_VEC consecutive elements per work-item as one vector (the scalar
 * loop for the tail), the same arithmetic per element, so the same bits;
 * Tanh and Sigmoid keep one element per work-item (their vector math
 * functions could round differently from the scalar ones). */
#ifndef ACT_VEC
#define ACT_VEC 4
#endif
#define ACT_FLOATV CAT2(float, ACT_VEC)
#define ACT_VLOAD CAT2(vload, ACT_VEC)
#define ACT_VSTORE CAT2(vstore, ACT_VEC)
#define CAT2_(a, b) a##b
#define CAT2(a, b) CAT2_(a, b)

#define ACT_KERNEL_PAIR(NAME, FWD, BWD)                                       \
  __kernel void NAME##_forward(__global const float *x, uint xoff,            \
                               __global float *y, uint yoff, uint n,          \
                               float slope) {                                 \
    uint i = get_global_id(0);                                                \
    if (i >= n) return;                                                       \
    float v = x[xoff + i];                                                    \
    (void)slope;                                                              \
    y[yoff + i] = (FWD);                                                      \
  }                                                                           \
  __kernel void NAME##_backward(__global const float *y, uint yoff,           \
                                __global const float *dy, uint dyoff,         \
                                __global float *dx, uint dxoff, uint n,       \
                                float slope) {                                \
    uint i = get_global_id(0);                                                \
    if (i >= n) return;                                                       \
    float o = y[yoff + i];                                                    \
    float g = dy[dyoff + i];                                                  \
    (void)slope, (void)o;                                                     \
    dx[dxoff + i] = (BWD);                                                    \
  }

/* The same pair over ACT_VEC elements per work-item; FWD / BWD see v, o, g
 * as vectors (the ternary is component-wise). A tail shorter than ACT_VEC
 * goes through a private vector, its missing lanes zero and not stored. */
#define ACT_KERNEL_PAIR_VEC(NAME, FWD, BWD)                                   \
  __kernel void NAME##_forward(__global const float *x, uint xoff,            \
                               __global float *y, uint yoff, uint n,          \
                               float slope) {                                 \
    uint i = get_global_id(0) * ACT_VEC;                                      \
    if (i >= n) return;                                                       \
    if (n - i >= ACT_VEC) {                                                   \
      ACT_FLOATV v = ACT_VLOAD(0, x + xoff + i);                              \
      ACT_VSTORE((FWD), 0, y + yoff + i);                                     \
      return;                                                                 \
    }                                                                         \
    float t[ACT_VEC];                                                         \
    for (uint e = 0; e < ACT_VEC; e++) t[e] = i + e < n ? x[xoff + i + e] : 0.0f; \
    ACT_FLOATV v = ACT_VLOAD(0, t);                                           \
    ACT_VSTORE((FWD), 0, t);                                                  \
    for (uint e = 0; i + e < n; e++) y[yoff + i + e] = t[e];                  \
  }                                                                           \
  __kernel void NAME##_backward(__global const float *y, uint yoff,           \
                                __global const float *dy, uint dyoff,         \
                                __global float *dx, uint dxoff, uint n,       \
                                float slope) {                                \
    uint i = get_global_id(0) * ACT_VEC;                                      \
    if (i >= n) return;                                                       \
    if (n - i >= ACT_VEC) {                                                   \
      ACT_FLOATV o = ACT_VLOAD(0, y + yoff + i);                              \
      ACT_FLOATV g = ACT_VLOAD(0, dy + dyoff + i);                            \
      (void)o;                                                                \
      ACT_VSTORE((BWD), 0, dx + dxoff + i);                                   \
      return;                                                                 \
    }                                                                         \
    float to[ACT_VEC], tg[ACT_VEC];                                           \
    for (uint e = 0; e < ACT_VEC; e++) {                                      \
      to[e] = i + e < n ? y[yoff + i + e] : 0.0f;                             \
      tg[e] = i + e < n ? dy[dyoff + i + e] : 0.0f;                           \
    }                                                                         \
    ACT_FLOATV o = ACT_VLOAD(0, to), g = ACT_VLOAD(0, tg);                    \
    (void)o;                                                                  \
    ACT_VSTORE((BWD), 0, tg);                                                 \
    for (uint e = 0; i + e < n; e++) dx[dxoff + i + e] = tg[e];               \
  }

ACT_KERNEL_PAIR_VEC(act_none, v, g)
ACT_KERNEL_PAIR_VEC(act_relu, v < 0.0f ? (ACT_FLOATV)(0.0f) : v,
                    o > 0.0f ? g : (ACT_FLOATV)(0.0f))
ACT_KERNEL_PAIR_VEC(act_leaky_relu, v > 0.0f ? v : v * slope, o > 0.0f ? g : g * slope)
ACT_KERNEL_PAIR(act_tanh, clgan_tanh(v), g * (1.0f - o * o))
ACT_KERNEL_PAIR(act_sigmoid, 1.0f / (1.0f + exp(-v)), g * (1.0f - o) * o)
