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

/* ---- The adjoint (backward data: Conv2d's, ConvTranspose2d's forward) ------
 *   dx[c, b, y, x] = sum over co and the taps of y = 2*oy + ky - 1,
 *                    x = 2*ox + kx - 1 of w[co, c, ky, kx] * dy[co, b, oy, ox]
 * dy row oy reaches the dx rows 2*oy + ky - 1 (ky 0..3), in the columns
 *   even column 2j:     kx 1 at ox = j, kx 3 at ox = j - 1;
 *   odd column 2j + 1:  kx 0 at ox = j + 1, kx 2 at ox = j.
 * One work-item per band of NARROW_ADJ_ROWS dx rows (b, from y0) and 32
 * columns (from 32 q): per output channel of the conv, the band's dy rows
 * (segments of 16 and their shifts by one lane, the neighbouring
 * segments' values at the ends, 0 past the row) times broadcast weights
 * into the band's even and odd columns' vectors, held in registers; then
 * interleaved into two stores a row, times act'(y) where act is given
 * (ReLU, LeakyReLU). `gray32`'s D1 backward data, batch 64, on a 2-core
 * Zen 4: GEMM + col2im 201-206 us a call, this 122-132 us with bands of 4
 * rows; a work-item per dx row (each dy row read for two of them) took
 * 310-460 us, bands of 8 rows spilled their accumulators, 680 us. As a
 * GEMM, m = cin * 16 is too short for the register tile and col2im adds a
 * pass. Global (wo / 16, n * ceil(2 * ho / NARROW_ADJ_ROWS)). */
#define NARROW_ADJ_ROWS CLGAN_CONV_NARROW_ADJ_ROWS
#define NARROW_ADJ_DY_ROWS (NARROW_ADJ_ROWS / 2 + 2) /* dy rows y0/2 - 1 .. */

static inline float16 narrow_dact(float16 g, float16 o, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return select((float16)(0.0f), g, isgreater(o, (float16)(0.0f)));
  if (act == CLGAN_ACT_LEAKY_RELU) return select(g * slope, g, isgreater(o, (float16)(0.0f)));
  return g;
}

__kernel void conv_narrow_adjoint(int cout, int n, int ho, int wo,
                                  __global const float *restrict dy, uint dy_off,
                                  __global const float *restrict w, uint w_off,
                                  __global float *restrict dx, uint dx_off,
                                  __global const float *restrict ya, uint ya_off, int act,
                                  float slope) {
  const int q = get_global_id(0), h = 2 * ho, wd = 2 * wo;
  const int bands = (h + NARROW_ADJ_ROWS - 1) / NARROW_ADJ_ROWS;
  const int b = get_global_id(1) / bands, y0 = (get_global_id(1) - b * bands) * NARROW_ADJ_ROWS;
  if (q * 16 >= wo || b >= n) return;
  const int oy0 = y0 / 2 - 1, has_l = q > 0, has_r = 16 * q + 16 < wo;
  const size_t plane = (size_t)n * ho * wo, total = (size_t)cout * plane;
  const int16 first_lane = (int16)(has_l ? 0 : -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const int16 last_lane = (int16)(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, has_r ? 0 : -1);
  float16 ev[NARROW_CIN][NARROW_ADJ_ROWS], od[NARROW_CIN][NARROW_ADJ_ROWS];
#pragma unroll
  for (int c = 0; c < NARROW_CIN; c++)
#pragma unroll
    for (int i = 0; i < NARROW_ADJ_ROWS; i++) ev[c][i] = od[c][i] = (float16)(0.0f);
  for (int co = 0; co < cout; co++) {
#pragma unroll
    for (int r = 0; r < NARROW_ADJ_DY_ROWS; r++) {
      const int oy = oy0 + r;
      if (oy < 0 || oy >= ho) continue;
      const size_t pos = (size_t)co * plane + ((size_t)b * ho + oy) * wo + 16 * q;
      __global const float *p = dy + dy_off + pos;
      /* the shifts as loads one float before and after (as shuffles of d
       * the compiler loaded d again in pieces), their end lanes zeroed past
       * the row; the buffer's first and last floats have no neighbour */
      const float16 d = vload16(0, p);
      float16 dm, dp;
      if (pos > 0) dm = vload16(0, p - 1);
      else dm = (float16)(0.0f, d.s0, d.s1, d.s2, d.s3, d.s4, d.s5, d.s6, d.s7, d.s8, d.s9,
                          d.sa, d.sb, d.sc, d.sd, d.se);
      if (pos + 16 < total) dp = vload16(0, p + 1);
      else dp = (float16)(d.s1, d.s2, d.s3, d.s4, d.s5, d.s6, d.s7, d.s8, d.s9, d.sa, d.sb,
                          d.sc, d.sd, d.se, d.sf, 0.0f);
      dm = select(dm, (float16)(0.0f), first_lane); /* ox = j - 1 */
      dp = select(dp, (float16)(0.0f), last_lane);  /* ox = j + 1 */
#pragma unroll
      for (int ky = 0; ky < 4; ky++) {
        const int yl = 2 * r - 3 + ky; /* dx row 2 * oy + ky - 1 in the band */
        if (yl < 0 || yl >= NARROW_ADJ_ROWS) continue;
#pragma unroll
        for (int c = 0; c < NARROW_CIN; c++) {
          __global const float *wk = w + w_off + ((size_t)co * NARROW_CIN + c) * 16 + ky * 4;
          ev[c][yl] = fma((float16)(wk[3]), dm, fma((float16)(wk[1]), d, ev[c][yl]));
          od[c][yl] = fma((float16)(wk[2]), d, fma((float16)(wk[0]), dp, od[c][yl]));
        }
      }
    }
  }
  const size_t img = (size_t)n * h * wd;
#pragma unroll
  for (int i = 0; i < NARROW_ADJ_ROWS; i++) {
    if (y0 + i >= h) break;
    const size_t at = ((size_t)b * h + y0 + i) * wd + 32 * q;
#pragma unroll
    for (int c = 0; c < NARROW_CIN; c++) {
      const float16 e = ev[c][i], o = od[c][i];
      float16 lo = (float16)(e.s0, o.s0, e.s1, o.s1, e.s2, o.s2, e.s3, o.s3, e.s4, o.s4, e.s5,
                             o.s5, e.s6, o.s6, e.s7, o.s7);
      float16 hi = (float16)(e.s8, o.s8, e.s9, o.s9, e.sa, o.sa, e.sb, o.sb, e.sc, o.sc, e.sd,
                             o.sd, e.se, o.se, e.sf, o.sf);
      __global float *out = dx + dx_off + (size_t)c * img + at;
      if (act != CLGAN_ACT_NONE) {
        __global const float *yr = ya + ya_off + (size_t)c * img + at;
        lo = narrow_dact(lo, vload16(0, yr), act, slope);
        hi = narrow_dact(hi, vload16(1, yr), act, slope);
      }
      vstore16(lo, 0, out);
      vstore16(hi, 1, out);
    }
  }
}
