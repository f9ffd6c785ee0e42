/* col2im, the adjoint of im2col (see im2col.cl), in gather form: every image
 * pixel (c, b, y, x) is written by exactly one work-item, which sums the col
 * entries of every tap that read it in a fixed order. No atomics, so results
 * are deterministic; the image is overwritten (pixels no tap reaches get 0).
 *
 * Pixel y (padded coordinate yp = y + pad) is read by output row oy through
 * kernel row i = yp - oy*stride when 0 <= i < k and 0 <= oy < ho, i.e. for
 * oy in [ceil((yp - k + 1) / stride), floor(yp / stride)] within [0, ho);
 * the same holds for x, ox and j.
 *
 * Two mappings of work-items to pixels, chosen by the host:
 *  - col2im: one work-item per pixel (dimension 0 walks (b, y, x) of one
 *    channel, dimension 1 the channel). Suits GPUs.
 *  - col2im_rows: one work-item per image row (c, b, y): dimension 0 the
 *    row y, 1 the image b, 2 the channel c (no division per work-item;
 *    four of them, scalar, were a large part of a 4- or 8-pixel row); it zeroes the row,
 *    then adds each contributing col row segment (contiguous in ox). No
 *    divergent per-pixel loops, so it suits CPUs (about 5x faster on PoCL).
 *    The DCGAN's k 4, stride 2, pad 1 takes a path of its own
 *    (col2im_row_k4s2p1: the row's pixel pairs summed over its output rows
 *    in registers, in float8 or float4 blocks; about 3x faster on PoCL),
 *    and 1x1 outputs (k 4, stride 1, pad 0) a one-tap gather, both with
 *    the general loop's sums, bit for bit.
 * Both kernels can apply the derivative of the activation before the conv
 * as they store (act, slope; y the activation's output, indexed as img):
 * dx = dy * act'(y) with cl/act.cl's formulas for ReLU and LeakyReLU, the
 * bits of its backward kernel after col2im (CLGAN_ACT_NONE: none).
 * Both sum in a fixed order, but not the same one: their results may differ
 * in the last bits. Channel c of the image starts cstride floats after
 * channel c - 1 (n*h*w, or more when col holds only some of the images: the
 * host then passes the first one's offset and their count as n). */

/* n / d by a magic number (m, sh1, sh2, d); see im2col.cl. */
inline uint udiv(uint n, uint4 g) {
  uint t = mul_hi(n, g.x);
  return (t + ((n - t) >> g.y)) >> g.z;
}

/* g * act'(o) for the piecewise-linear activations, cl/act.cl's formulas. */
static inline float dact_linear(float g, float o, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return o > 0.0f ? g : 0.0f;
  if (act == CLGAN_ACT_LEAKY_RELU) return o > 0.0f ? g : g * slope;
  return g;
}

__kernel void col2im(__global const float *restrict col, uint col_off,
                     __global float *restrict img, uint img_off, uint n, int k, int stride,
                     int pad, int ho, int wo, uint npix /* n*h*w */, uint4 div_w, uint4 div_h,
                     uint4 div_s, uint cstride, __global const float *restrict act_y,
                     uint act_y_off, int act, float slope) {
  uint q = get_global_id(0);
  uint c = get_global_id(1);
  if (q >= npix) return;
  uint t = udiv(q, div_w);             /* b*h + y */
  int x = (int)(q - t * div_w.w);
  uint b = udiv(t, div_h);
  int y = (int)(t - b * div_h.w);
  int yp = y + pad, xp = x + pad;
  int oy_lo = yp - k + 1 > 0 ? (int)udiv((uint)(yp - k + stride), div_s) : 0;
  int oy_hi = min((int)udiv((uint)yp, div_s), ho - 1);
  int ox_lo = xp - k + 1 > 0 ? (int)udiv((uint)(xp - k + stride), div_s) : 0;
  int ox_hi = min((int)udiv((uint)xp, div_s), wo - 1);
  uint ncols = n * (uint)ho * (uint)wo;
  uint kk = (uint)k;
  float sum = 0.0f;
  for (int oy = oy_lo; oy <= oy_hi; oy++) {
    uint i = (uint)(yp - oy * stride);
    uint rowbase = (c * kk + i) * kk;
    uint colbase = (b * (uint)ho + (uint)oy) * (uint)wo;
    for (int ox = ox_lo; ox <= ox_hi; ox++) {
      uint j = (uint)(xp - ox * stride);
      sum += col[col_off + (rowbase + j) * ncols + colbase + (uint)ox];
    }
  }
  if (act != CLGAN_ACT_NONE) sum = dact_linear(sum, act_y[act_y_off + c * cstride + q], act, slope);
  img[img_off + c * cstride + q] = sum;
}

/* col2im_rows for the DCGAN's geometry, k 4, stride 2, pad 1 with w = 2*wo:
 * image pixel x = 2m takes taps j = 1 (ox = m) and j = 3 (ox = m - 1),
 * x = 2m + 1 taps j = 0 (ox = m + 1) and j = 2 (ox = m). So each
 * contributing output row oy is one pass over the pixel pairs m that reads
 * the four col row segments contiguously and writes each pixel once
 * (the general loop below makes k read-modify-write passes per oy, strided
 * by 2). The sums are the general loop's, term for term and in its order
 * (oy ascending, then j): bitwise the same result. A tap that does not
 * exist adds +0.0f, which changes nothing: a sum that starts at +0.0f is
 * never -0.0f. */
/* Here the scalar form, for wo not a multiple of 4 (the vector forms
 * follow). always_inline: PoCL 3.1's LLVM left it a call (its pointers
 * then go through memory), as with gemm.cl's tiles. */
static inline __attribute__((always_inline)) void col2im_row_k4s2p1(
    __global const float *restrict src, uint ncols, int wo, __global float *restrict dst,
    int first) {
  __global const float *s0 = src, *s1 = src + ncols, *s2 = src + 2 * ncols,
                       *s3 = src + 3 * ncols;
  for (int m = 0; m < wo; m++) {
    float even = first ? 0.0f : dst[2 * m], odd = first ? 0.0f : dst[2 * m + 1];
    odd += m + 1 < wo ? s0[m + 1] : 0.0f;
    even += s1[m];
    odd += s2[m];
    even += m > 0 ? s3[m - 1] : 0.0f;
    dst[2 * m] = even;
    dst[2 * m + 1] = odd;
  }
}

/* col2im_row_k4s2p1 over all of a row's output rows oy_lo..oy_hi at once,
 * for wo a multiple of V (8 or 4): blocks of V pixel pairs summed in
 * registers over oy (ascending, then j: the same terms in the same order,
 * bit for bit) and stored once as one vector of 2V, instead of one
 * read-modify-write pass of the row per oy (about 1.4x on PoCL). cbase:
 * col at channel c's first row and image b's first column. The edge
 * blocks' missing taps (ox = -1, ox = wo) are zeros shuffled in. */
#define COL2IM_ROW_K4S2P1_V(NAME, V, VF, V2F, VU, V2U, VLOAD, VSTORE2, SHIFT_DOWN, SHIFT_UP, ZIP) \
  static inline __attribute__((always_inline)) void NAME(                                      \
      __global const float *restrict cbase, uint ncols, int wo, int yp, int oy_lo, int oy_hi, \
      __global float *restrict dst) {                                                          \
    for (int m = 0; m < wo; m += V) {                                                          \
      VF even = (VF)(0.0f), odd = even;                                                        \
      for (int oy = oy_lo; oy <= oy_hi; oy++) {                                                \
        __global const float *s0 = cbase + (uint)(yp - 2 * oy) * 4u * ncols + (uint)(oy * wo); \
        __global const float *s1 = s0 + ncols, *s2 = s1 + ncols, *s3 = s2 + ncols;             \
        VF v0 = m + V < wo ? VLOAD(0, s0 + m + 1)                                               \
                           : shuffle2(VLOAD(0, s0 + m), (VF)(0.0f), (VU)SHIFT_DOWN);           \
        VF v3 = m > 0 ? VLOAD(0, s3 + m - 1) : shuffle2((VF)(0.0f), VLOAD(0, s3), (VU)SHIFT_UP); \
        odd += v0;                                                                             \
        even += VLOAD(0, s1 + m);                                                              \
        odd += VLOAD(0, s2 + m);                                                               \
        even += v3;                                                                            \
      }                                                                                        \
      VSTORE2(shuffle2(even, odd, (V2U)ZIP), 0, dst + 2 * m);                                  \
    }                                                                                          \
  }

COL2IM_ROW_K4S2P1_V(col2im_row_k4s2p1_8, 8, float8, float16, uint8, uint16, vload8, vstore16,
                    (1, 2, 3, 4, 5, 6, 7, 8), (0, 8, 9, 10, 11, 12, 13, 14),
                    (0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15))
COL2IM_ROW_K4S2P1_V(col2im_row_k4s2p1_4, 4, float4, float8, uint4, uint8, vload4, vstore8,
                    (1, 2, 3, 4), (0, 4, 5, 6), (0, 4, 1, 5, 2, 6, 3, 7))

/* a / stride for a >= 0; strides 1 and 2 (every DCGAN layer) without the
 * integer division, which PoCL does in scalar per work-item: ten of them
 * per row made the k4 s1 p0 layers (tutorial's G1 and D5, 4-float rows)
 * run at 2.4 GB/s. */
static inline __attribute__((always_inline)) int div_stride(int a, int stride) {
  return stride == 1 ? a : stride == 2 ? a >> 1 : a / stride;
}

/* dst[0 .. w) times act'(o[0 .. w)) over a finished row (in L1): float8
 * blocks with the activation chosen outside the loop, the same formulas as
 * dact_linear (a scalar loop with the choice inside cost more than the
 * separate act kernel it replaces). */
static inline __attribute__((always_inline)) void dact_row(__global float *restrict dst,
                                                           __global const float *restrict o,
                                                           int w, int act, float slope) {
  int x = 0;
  if (act == CLGAN_ACT_LEAKY_RELU)
    for (; x + 8 <= w; x += 8) {
      float8 g = vload8(0, dst + x);
      vstore8(vload8(0, o + x) > 0.0f ? g : g * slope, 0, dst + x);
    }
  else if (act == CLGAN_ACT_RELU)
    for (; x + 8 <= w; x += 8) {
      float8 g = vload8(0, dst + x);
      vstore8(vload8(0, o + x) > 0.0f ? g : (float8)(0.0f), 0, dst + x);
    }
  for (; x < w; x++) dst[x] = dact_linear(dst[x], o[x], act, slope);
}

/* col2im_rows' row (y, b, c) into dst. */
static inline __attribute__((always_inline)) void col2im_row(
    __global const float *restrict col, uint col_off, __global float *restrict dst, uint n,
    int k, int stride, int pad, int ho, int wo, int w, int y, uint b, uint c) {
  uint ncols = n * (uint)ho * (uint)wo;
  int yp = y + pad;
  if (ho == 1 && wo == 1) {
    /* a 1x1 output (the k4 s1 p0 layers: tutorial's G1 and D5): pixel
     * (y, x) takes at most tap (i, j) = (y + pad, x + pad) of output 0, so
     * the row is a strided gather. The general loop's sum, bit for bit:
     * +0.0f plus that one tap (which turns a -0.0f into +0.0f, as it does). */
    __global const float *src = col + col_off + (c * (uint)k + (uint)yp) * (uint)k * ncols + b;
    for (int x = 0; x < w; x++) {
      int j = x + pad;
      dst[x] = yp < k && j < k ? 0.0f + src[(uint)j * ncols] : 0.0f;
    }
    return;
  }
  if (k == 4 && stride == 2 && pad == 1 && w == 2 * wo) {
    /* the general bounds below with stride 2: shifts, not divisions */
    int oy_lo = yp >= 3 ? (yp - 2) >> 1 : 0;
    int oy_hi = min(yp >> 1, ho - 1);
    __global const float *cbase = col + col_off + c * 16u * ncols + b * (uint)ho * (uint)wo;
    if (wo % 8 == 0) {
      col2im_row_k4s2p1_8(cbase, ncols, wo, yp, oy_lo, oy_hi, dst);
      return;
    }
    if (wo % 4 == 0) {
      col2im_row_k4s2p1_4(cbase, ncols, wo, yp, oy_lo, oy_hi, dst);
      return;
    }
    for (int oy = oy_lo; oy <= oy_hi; oy++) {
      uint i = (uint)(yp - oy * stride);
      col2im_row_k4s2p1(col + col_off + (c * 4u + i) * 4u * ncols +
                            (b * (uint)ho + (uint)oy) * (uint)wo,
                        ncols, wo, dst, oy == oy_lo);
    }
    if (oy_lo > oy_hi)
      for (int x = 0; x < w; x++) dst[x] = 0.0f;
    return;
  }
  int oy_lo = yp - k + 1 > 0 ? div_stride(yp - k + stride, stride) : 0;
  int oy_hi = min(div_stride(yp, stride), ho - 1);
  for (int x = 0; x < w; x++) dst[x] = 0.0f;
  for (int oy = oy_lo; oy <= oy_hi; oy++) {
    uint i = (uint)(yp - oy * stride);
    __global const float *src =
        col + col_off + (c * (uint)k + i) * (uint)k * ncols + (b * (uint)ho + (uint)oy) * (uint)wo;
    for (int j = 0; j < k; j++, src += ncols) {
      /* ox with 0 <= x = ox*stride + x0 < w */
      int x0 = j - pad;
      int lo = x0 >= 0 ? 0 : div_stride(-x0 + stride - 1, stride);
      int hi = x0 >= w ? 0 : min(div_stride(w - 1 - x0, stride) + 1, wo);
      for (int ox = lo; ox < hi; ox++) dst[ox * stride + x0] += src[ox];
    }
  }
}

__kernel void col2im_rows(__global const float *restrict col, uint col_off,
                          __global float *restrict img, uint img_off, uint n, int k, int stride,
                          int pad, int ho, int wo, int h, int w, uint cstride,
                          __global const float *restrict act_y, uint act_y_off, int act,
                          float slope) {
  int y = get_global_id(0);
  uint b = get_global_id(1);
  uint c = get_global_id(2);
  if (y >= h || b >= n) return;
  uint at = c * cstride + (b * (uint)h + (uint)y) * (uint)w;
  __global float *dst = img + img_off + at;
  col2im_row(col, col_off, dst, n, k, stride, pad, ho, wo, w, y, b, c);
  if (act != CLGAN_ACT_NONE) dact_row(dst, act_y + act_y_off + at, w, act, slope);
}
