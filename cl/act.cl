/* Elementwise activations, forward y = act(x) and backward from the output
 * dx = dy * act'(y), matching PyTorch 1.13: ReLU passes the gradient where
 * y > 0, LeakyReLU where y > 0 else scales it by the slope (the slope is
 * positive, so y > 0 iff x > 0), Tanh dy*(1-y*y), Sigmoid dy*(1-y)*y.
 * One kernel per activation keeps each body a plain, vectorisable loop.
 * x/y and dy/dx may be the same array: each work-item reads, then writes,
 * its own index. */

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

ACT_KERNEL_PAIR(act_none, v, g)
ACT_KERNEL_PAIR(act_relu, v < 0.0f ? 0.0f : v, o > 0.0f ? g : 0.0f)
ACT_KERNEL_PAIR(act_leaky_relu, v > 0.0f ? v : v * slope, o > 0.0f ? g : g * slope)
ACT_KERNEL_PAIR(act_tanh, tanh(v), g * (1.0f - o * o))
ACT_KERNEL_PAIR(act_sigmoid, 1.0f / (1.0f + exp(-v)), g * (1.0f - o) * o)
