/* The forward and the weight gradient of a k 4, stride 2, pad 1 conv from
 * an image of few channels (the DCGAN's first D layer, and the core conv of
 * G's last layer in its backward; src/ops/conv_narrow.c), read from the
 * image padded by 1 (xp [cin, n, h+2, w+2]). The forward:
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

/* ---- The weight gradient ---------------------------------------------------
 *   dw[co, c, ky, kx] = sum over b, oy, ox of
 *                       dy[co, b, oy, ox] * xp[c, b, 2*oy + ky, 2*ox + kx]
 * Here the lanes hold the 16 taps (ky, kx) of one channel c: an output
 * pixel's patch is a vector (xp's rows 2*oy .. 2*oy + 3 at columns 2*ox ..
 * 2*ox + 3), and each of the work-item's CLGAN_CONV_NARROW_FILT_CO output
 * channels adds dy[co, pixel] (a broadcast, read from dy's row: one cache
 * line a channel per 16 pixels) times the patch into its own vector, so
 * the result needs no horizontal sum; a patch is built once for all of
 * them. (As a GEMM, dy's transposed copy into panels took twice the
 * product's time: `gray32`'s D1, batch 64, on a 2-core Zen 4, 197-525 us a
 * call as pack + GEMM + split sum, 115-147 us this way.)
 * A work-item takes slice z of the n * ho * wo / 16 row segments, in
 * order, and stores its partial sums part[z][co][c * 16 + ky * 4 + kx];
 * conv_narrow_filter_sum adds the slices in order (deterministic).
 * Global (slices, ceil(cout / CLGAN_CONV_NARROW_FILT_CO)). */
#define NARROW_CO CLGAN_CONV_NARROW_FILT_CO

__kernel void conv_narrow_filter(int cout, int n, int ho, int wo, int slices,
                                 __global const float *restrict xp, uint xp_off,
                                 __global const float *restrict dy, uint dy_off,
                                 __global float *restrict part, uint part_off) {
  const int z = get_global_id(0), co0 = get_global_id(1) * NARROW_CO;
  if (z >= slices || co0 >= cout) return;
  const int segs_row = wo / 16, segs = n * ho * segs_row, hp = 2 * ho + 2, wp = 2 * wo + 2;
  const int s0 = (int)((long)segs * z / slices), s1 = (int)((long)segs * (z + 1) / slices);
  const size_t plane = (size_t)n * ho * wo;
  /* the group's channels past cout read the last one's dy and are not stored */
  size_t dyc[NARROW_CO];
#pragma unroll
  for (int k = 0; k < NARROW_CO; k++) dyc[k] = dy_off + (size_t)min(co0 + k, cout - 1) * plane;
  float16 acc[NARROW_CO * NARROW_CIN];
#pragma unroll
  for (int i = 0; i < NARROW_CO * NARROW_CIN; i++) acc[i] = (float16)(0.0f);
  for (int sg = s0; sg < s1; sg++) {
    const int row = sg / segs_row, q = sg - row * segs_row, b = row / ho, oy = row - b * ho;
    const size_t pix = (size_t)row * wo + 16 * q; /* the segment's first pixel in a plane */
    __global const float *d[NARROW_CO];
#pragma unroll
    for (int k = 0; k < NARROW_CO; k++) d[k] = dy + dyc[k] + pix;
#pragma unroll
    for (int c = 0; c < NARROW_CIN; c++) {
      __global const float *r =
          xp + xp_off + (((size_t)c * n + b) * hp + 2 * oy) * wp + 32 * q;
      /* a patch at a time, used by the NARROW_CO channels in a row */
#pragma unroll
      for (int j = 0; j < 16; j++) {
        const float16 pt = (float16)(vload4(0, r + 2 * j), vload4(0, r + wp + 2 * j),
                                     vload4(0, r + 2 * wp + 2 * j), vload4(0, r + 3 * wp + 2 * j));
#pragma unroll
        for (int k = 0; k < NARROW_CO; k++)
          acc[k * NARROW_CIN + c] = fma((float16)(d[k][j]), pt, acc[k * NARROW_CIN + c]);
      }
    }
  }
  __global float *out = part + part_off + ((size_t)z * cout + co0) * NARROW_CIN * 16;
#pragma unroll
  for (int k = 0; k < NARROW_CO; k++)
    if (co0 + k < cout)
#pragma unroll
      for (int c = 0; c < NARROW_CIN; c++)
        vstore16(acc[k * NARROW_CIN + c], 0, out + (k * NARROW_CIN + c) * 16);
}

/* dw[i] = (dw[i] +) the sum over z of part[z][i] in order, i < count
 * (cout * cin * 16); accumulate adds to dw. A work-item sums 16
 * consecutive values as one vector (a scalar chain of slices adds was
 * bound by the add latency). Global (count / 16). */
__kernel void conv_narrow_filter_sum(int count, int slices, __global const float *restrict part,
                                     uint part_off, __global float *restrict dw, uint dw_off,
                                     int accumulate) {
  const int i = get_global_id(0);
  if (16 * i >= count) return;
  __global const float *p = part + part_off + 16 * (size_t)i;
  float16 s = (float16)(0.0f);
  for (int z = 0; z < slices; z++) s += vload16(0, p + (size_t)z * count);
  __global float *d = dw + dw_off + 16 * (size_t)i;
  vstore16(accumulate ? vload16(0, d) + s : s, 0, d);
}
