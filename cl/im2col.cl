/* im2col for the conv core. Images are (C, N, H, W); the column matrix is
 * col[cin*k*k, n*ho*wo] with
 *   col[(c*k + i)*k + j, (b*ho + oy)*wo + ox] = img[c, b, oy*s - p + i, ox*s - p + j]
 * and zero where the tap falls into the padding.
 *
 * Two mappings of work-items to col elements, chosen by the host:
 *  - im2col: one work-item per col element: dimension 0 walks the columns
 *    (b, oy, ox), so neighbouring work-items write neighbouring floats;
 *    dimension 1 is the row (c, i, j). Suits GPUs, and CPUs on narrow
 *    outputs.
 *  - im2col_rows: one work-item per segment of a col row (c, i, j) covering
 *    oyb output rows oy of one image b (oyb = ho: the whole image), so it
 *    writes oyb*wo contiguous floats; per output row, a run of zeros, a
 *    (strided) copy of one image row, a run of zeros. No divisions per
 *    element, and the loops vectorise and stream, so it suits CPUs (except
 *    on 1x1 outputs).
 * Both are pure copies, so their results are bitwise identical. Indices are
 * uint: the host guarantees every buffer (plus its offset) holds fewer than
 * 2^32 floats.
 *
 * Index decomposition divides by runtime values, and a vector integer
 * division is slow (scalarised on CPUs, a long sequence on GPUs), so each
 * divisor comes with a precomputed magic number (m, sh1, sh2, d): for every
 * 32-bit n, n / d = (t + ((n - t) >> sh1)) >> sh2 with t = mul_hi(n, m)
 * (Granlund & Montgomery 1994, fig. 4.1). */
inline uint udiv(uint n, uint4 g) {
  uint t = mul_hi(n, g.x);
  return (t + ((n - t) >> g.y)) >> g.z;
}

__kernel void im2col(__global const float *restrict img, uint img_off,
                     __global float *restrict col, uint col_off, uint n, int h, int w,
                     int stride, int pad, uint ncols /* n*ho*wo */, uint4 div_wo, uint4 div_ho,
                     uint4 div_k) {
  uint p = get_global_id(0);
  uint r = get_global_id(1);
  if (p >= ncols) return;
  uint t = udiv(p, div_wo);            /* b*ho + oy */
  int ox = (int)(p - t * div_wo.w);
  uint b = udiv(t, div_ho);
  int oy = (int)(t - b * div_ho.w);
  uint t2 = udiv(r, div_k);            /* c*k + i */
  int j = (int)(r - t2 * div_k.w);
  uint c = udiv(t2, div_k);
  int i = (int)(t2 - c * div_k.w);
  int iy = oy * stride - pad + i;
  int ix = ox * stride - pad + j;
  float v = 0.0f;
  if ((uint)iy < (uint)h && (uint)ix < (uint)w)
    v = img[img_off + ((c * n + b) * (uint)h + (uint)iy) * (uint)w + (uint)ix];
  col[col_off + r * ncols + p] = v;
}

__kernel void im2col_rows(__global const float *restrict img, uint img_off,
                          __global float *restrict col, uint col_off, uint n, int h, int w,
                          int stride, int pad, int ho, int wo, int k, int oyb, uint nblk) {
  uint t = get_global_id(0);           /* b*nblk + block of oyb output rows */
  uint r = get_global_id(1);           /* (c*k + i)*k + j */
  if (t >= n * nblk) return;
  uint b = t / nblk;
  int oy0 = (int)(t - b * nblk) * oyb;
  int oy1 = min(oy0 + oyb, ho);
  uint t2 = r / (uint)k;               /* c*k + i */
  int j = (int)(r - t2 * (uint)k);
  uint c = t2 / (uint)k;
  int i = (int)(t2 - c * (uint)k);
  uint ncols = n * (uint)ho * (uint)wo;
  /* ox with 0 <= ix = ox*stride + x0 < w form [lo, hi) */
  int x0 = j - pad;
  int lo = x0 >= 0 ? 0 : min((-x0 + stride - 1) / stride, wo);
  int hi = x0 >= w ? 0 : min((w - 1 - x0) / stride + 1, wo);
  hi = max(hi, lo);
  __global const float *plane = img + img_off + (c * n + b) * (uint)h * (uint)w;
  __global float *dst = col + col_off + r * ncols + (b * (uint)ho + (uint)oy0) * (uint)wo;
  for (int oy = oy0; oy < oy1; oy++, dst += wo) {
    int iy = oy * stride - pad + i;
    if ((uint)iy >= (uint)h) {
      for (int ox = 0; ox < wo; ox++) dst[ox] = 0.0f;
      continue;
    }
    __global const float *src = plane + (uint)iy * (uint)w;
    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
    /* (A copy of this loop specialised to stride 2 was ~10% slower on PoCL.) */
    for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox * stride + x0];
    for (int ox = hi; ox < wo; ox++) dst[ox] = 0.0f;
  }
}

/* The image with a border of pad zeros on every side, for readers that
 * index taps without bounds checks (cl/gemm.cl's gemm_tile_conv): planes
 * (c, b) of h x w become (h + 2*pad) x (w + 2*pad). One work-item per
 * padded row (dimension 0) of a plane (dimension 1): GPU paths; CPUs run
 * pad_planes below. */
__kernel void pad_image(__global const float *restrict img, uint img_off,
                        __global float *restrict out, uint out_off, uint planes, int h, int w,
                        int pad) {
  int y = get_global_id(0);
  uint plane = get_global_id(1);
  int hp = h + 2 * pad, wp = w + 2 * pad;
  if (y >= hp || plane >= planes) return;
  __global float *dst = out + out_off + (plane * (uint)hp + (uint)y) * (uint)wp;
  int iy = y - pad;
  if ((uint)iy >= (uint)h) {
    for (int x = 0; x < wp; x++) dst[x] = 0.0f;
    return;
  }
  __global const float *src = img + img_off + (plane * (uint)h + (uint)iy) * (uint)w;
  for (int x = 0; x < pad; x++) dst[x] = 0.0f;
  for (int x = 0; x < w; x++) dst[pad + x] = src[x];
  for (int x = pad + w; x < wp; x++) dst[x] = 0.0f;
}

/* pad_image for CPU devices (conv_pad_kernel_get chooses): one work-item
 * per plane, its rows in turn, the interiors as vector copies and the
 * zeros as vector stores where the lengths allow. A work-item per row
 * spent more on the work-item loop and scalar stores than on the copy
 * where rows are short: on the EPYC a gray32 step's padding took 1.04 ms
 * instead of 1.39 (4 x 4 planes about 0.6x the time, 32 x 32 the same). */
static inline void zero_run(__global float *dst, int n) {
  int x = 0;
  for (; x + 4 <= n; x += 4) vstore4((float4)(0.0f), 0, dst + x);
  for (; x < n; x++) dst[x] = 0.0f;
}

__kernel void pad_planes(__global const float *restrict img, uint img_off,
                         __global float *restrict out, uint out_off, uint planes, int h, int w,
                         int pad) {
  const uint plane = get_global_id(0);
  if (plane >= planes) return;
  const int wp = w + 2 * pad, edge = pad * wp + pad; /* zeros before row 0's interior */
  __global const float *src = img + img_off + plane * (uint)h * (uint)w;
  __global float *dst = out + out_off + plane * (uint)(h + 2 * pad) * (uint)wp;
  zero_run(dst, edge);
  dst += edge;
  for (int y = 0; y < h; y++, src += w, dst += wp) {
    int x = 0;
    for (; x + 16 <= w; x += 16) vstore16(vload16(0, src + x), 0, dst + x);
    if (x + 8 <= w) vstore8(vload8(0, src + x), 0, dst + x), x += 8;
    if (x + 4 <= w) vstore4(vload4(0, src + x), 0, dst + x), x += 4;
    for (; x < w; x++) dst[x] = src[x];
    /* this row's right border and the next row's left one */
    if (pad == 1) vstore2((float2)(0.0f), 0, dst + w);
    else zero_run(dst + w, 2 * pad);
  }
  /* the bottom rows, less the left border the last row already wrote */
  dst -= pad;
  zero_run(dst + pad, pad * wp - pad);
}
