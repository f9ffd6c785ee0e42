/* The forward of a k 4, stride 2, pad 1 conv from an image of few channels
 * (the DCGAN's first D layer, and the core conv of G's last layer in its
 * backward data; src/ops/conv_narrow.c), read from the image padded by 1
 * (xp [cin, n, h+2, w+2]):
 *   y[co, b, oy, ox] = act(sum over c, ky, kx of
 *                          w[co, c, ky, kx] * xp[c, b, 2*oy + ky, 2*ox + kx])
 * One work-item per 16 consecutive outputs of a row (b, oy, 16 q .. 16 q + 15),
 * every output channel: the cin * 16 tap vectors (the padded row's values at
 * 2*ox + kx for the 16 ox) are gathered once, then each output channel is
 * cin * 16 FMAs of a tap vector by a broadcast weight and one vector store.
 * (As a GEMM, k = cin * 16 was too short to pay for its tile: the first D
 * layer ran at 20-35% of the FMA peak, its transposed store the larger part.)
 * NARROW_CIN (-D, 1 to CLGAN_CONV_NARROW_MAX_CIN) is cin.
 * Global (wo / 16, n * ho). */

/* Lanes 0..15 of (a, b) at even (odd) positions from `first`: the stride-2
 * taps of a 32-float span. */
#define EVEN16(a, b) \
  (float16)((a).s02468ace, (b).s02468ace)
#define ODD16(a, b) \
  (float16)((a).s13579bdf, (b).s13579bdf)

static inline float16 narrow_act(float16 v, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return v < 0.0f ? (float16)(0.0f) : v;
  if (act == CLGAN_ACT_LEAKY_RELU) return v > 0.0f ? v : v * slope;
  return v;
}

__kernel void conv_narrow_forward(int cout, int n, int ho, int wo,
                                  __global const float *restrict xp, uint xp_off,
                                  __global const float *restrict w, uint w_off,
                                  __global float *restrict y, uint y_off, int act, float slope) {
  const int q = get_global_id(0), row = get_global_id(1);
  if (q * 16 >= wo || row >= n * ho) return;
  const int b = row / ho, oy = row - b * ho, hp = 2 * ho + 2, wp = 2 * wo + 2;
  /* the taps: tap[(c*4 + ky)*4 + kx] lane j = xp[c, b, 2*oy + ky, 32*q + 2*j + kx] */
  float16 tap[NARROW_CIN * 16];
#pragma unroll
  for (int c = 0; c < NARROW_CIN; c++)
#pragma unroll
    for (int ky = 0; ky < 4; ky++) {
      __global const float *r =
          xp + xp_off + (((size_t)c * n + b) * hp + 2 * oy + ky) * wp + 32 * q;
      const float16 a0 = vload16(0, r), a1 = vload16(1, r), a2 = vload16(0, r + 2);
      const float16 a3 = vload16(0, r + 18);
      const int t = (c * 4 + ky) * 4;
      tap[t + 0] = EVEN16(a0, a1);
      tap[t + 1] = ODD16(a0, a1);
      tap[t + 2] = EVEN16(a2, a3);
      tap[t + 3] = ODD16(a2, a3);
    }
  __global float *out = y + y_off + ((size_t)b * ho + oy) * wo + 16 * q;
  const size_t plane = (size_t)n * ho * wo;
  for (int co = 0; co < cout; co++) {
    __global const float *wc = w + w_off + (size_t)co * NARROW_CIN * 16;
    float16 acc = (float16)(0.0f);
#pragma unroll
    for (int t = 0; t < NARROW_CIN * 16; t++) acc = fma((float16)(wc[t]), tap[t], acc);
    vstore16(narrow_act(acc, act, slope), 0, out + co * plane);
  }
}
