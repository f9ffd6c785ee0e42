/* im2col for the conv core. Images are (C, N, H, W); the column matrix is
 * col[cin*k*k, n*ho*wo] with
 *   col[(c*k + i)*k + j, (b*ho + oy)*wo + ox] = img[c, b, oy*s - p + i, ox*s - p + j]
 * and zero where the tap falls into the padding.
 *
 * One work-item per col element: dimension 0 walks the columns (b, oy, ox), so
 * neighbouring work-items write neighbouring floats; dimension 1 is the row
 * (c, i, j). Indices are uint: the host guarantees every buffer (plus its
 * offset) holds fewer than 2^32 floats.
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
