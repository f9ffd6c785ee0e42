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
 *  - col2im_rows: one work-item per image row (c, b, y); it zeroes the row,
 *    then adds each contributing col row segment (contiguous in ox). No
 *    divergent per-pixel loops, so it suits CPUs (about 5x faster on PoCL).
 * Both sum in a fixed order, but not the same one: their results may differ
 * in the last bits. Channel c of the image starts cstride floats after
 * channel c - 1 (n*h*w, or more when col holds only some of the images: the
 * host then passes the first one's offset and their count as n). */

/* n / d by a magic number (m, sh1, sh2, d); see im2col.cl. */
inline uint udiv(uint n, uint4 g) {
  uint t = mul_hi(n, g.x);
  return (t + ((n - t) >> g.y)) >> g.z;
}

__kernel void col2im(__global const float *restrict col, uint col_off,
                     __global float *restrict img, uint img_off, uint n, int k, int stride,
                     int pad, int ho, int wo, uint npix /* n*h*w */, uint4 div_w, uint4 div_h,
                     uint4 div_s, uint cstride) {
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
  img[img_off + c * cstride + q] = sum;
}

__kernel void col2im_rows(__global const float *restrict col, uint col_off,
                          __global float *restrict img, uint img_off, uint n, int k, int stride,
                          int pad, int ho, int wo, int h, int w, uint cstride) {
  uint t = get_global_id(0);           /* b*h + y */
  uint c = get_global_id(1);
  if (t >= n * (uint)h) return;
  int y = (int)(t % (uint)h);
  uint b = t / (uint)h;
  uint ncols = n * (uint)ho * (uint)wo;
  __global float *dst = img + img_off + c * cstride + t * (uint)w;
  for (int x = 0; x < w; x++) dst[x] = 0.0f;
  int yp = y + pad;
  int oy_lo = yp - k + 1 > 0 ? (yp - k + stride) / stride : 0;
  int oy_hi = min(yp / stride, ho - 1);
  for (int oy = oy_lo; oy <= oy_hi; oy++) {
    uint i = (uint)(yp - oy * stride);
    __global const float *src =
        col + col_off + (c * (uint)k + i) * (uint)k * ncols + (b * (uint)ho + (uint)oy) * (uint)wo;
    for (int j = 0; j < k; j++, src += ncols) {
      /* ox with 0 <= x = ox*stride + x0 < w */
      int x0 = j - pad;
      int lo = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
      int hi = x0 >= w ? 0 : min((w - 1 - x0) / stride + 1, wo);
      for (int ox = lo; ox < hi; ox++) dst[ox * stride + x0] += src[ox];
    }
  }
}
