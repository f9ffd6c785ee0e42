/* The conv core's adjoint product computed directly (implicit GEMM): the
 * backward data of a Conv2d and the forward of a ConvTranspose2d, with no
 * column matrix and no col2im. With the conv core's layouts (conv.c):
 *   dy [cout, n, ho, wo] (the feature side), w [cout, cin*k*k],
 *   dx [cin, n, h, w] (the image side, overwritten), and
 *   dx[c, b, y, x] = sum over co, ki, kj of w[co, (c*k + ki)*k + kj] *
 *                    dy[co, b, oy, ox],  oy*stride - pad + ki = y, the same for x.
 *
 * Sub-pixel decomposition: pixel y is reached only through kernel rows
 * ki = (y + pad) mod stride + stride*ty, from output row oy = qy - ty with
 * qy = (y + pad - ry) / stride (ry = (y + pad) mod stride). So the pixels of
 * one parity class (ry, rx) form a dense grid that takes a fixed set of
 * tky x tkx taps (tky = ceil((k - ry) / stride): 2 x 2 for k 4, stride 2),
 * and the class is a dense implicit GEMM
 *   dx_class[c, (b, qy, qx)] = sum over (ty, tx, co) of
 *       w[co, c, ry + stride*ty, rx + stride*tx] * dy[co, b, qy - ty, qx - tx]
 * of M = cin, N = the class's pixels, K = cout * tky * tkx. Any k, stride
 * and pad take this one path (stride 1: one class with every tap; k < stride:
 * classes without taps, whose pixels get 0).
 *
 * Mapping: dimension 2 is the class; a work-group computes a tile of TM
 * image channels x TN of the class's pixels. The reduction runs tap by tap
 * and, per tap, over KC feature channels at a time: the weight tile
 * [KC][TM] and the dy tile [KC][TN] are staged in local memory (zeros
 * beyond cout, outside the feature map and past the class's pixels), then
 * every work-item accumulates its register tile of RM channels (ly + WGY*i)
 * x RN pixels (lx + WGX*j). Each pixel is written by one work-item, in a
 * fixed order of sums: deterministic, no atomics.
 *
 * Parameters (-D, defaults below; the host's copy is convt_direct.h's
 * CONVT_DIRECT_DEFAULT): WGX x WGY work-items, RM x RN outputs each, KC
 * feature channels per staged chunk. TN = WGX*RN and WGX*WGY must divide
 * one another, and KC be a multiple of WGX*WGY / TN where that is > 1.
 * Indices are uint: the host keeps every buffer below 2^32 floats. */
#ifndef WGX
#define WGX 16
#endif
#ifndef WGY
#define WGY 16
#endif
#ifndef RM
#define RM 4
#endif
#ifndef RN
#define RN 4
#endif
#ifndef KC
#define KC 16
#endif

/* Geometry of parity class r along one axis of extent `len` (h or w):
 * its first pixel, its pixel count, its first qy and its tap count. */
inline void class_axis(int r, int len, int k, int stride, int pad, int *first, int *count,
                       int *q0, int *taps) {
  int y0 = ((r - pad) % stride + stride) % stride;
  *first = y0;
  *count = len > y0 ? (len - y0 + stride - 1) / stride : 0;
  *q0 = (y0 + pad - r) / stride;
  *taps = r < k ? (k - r + stride - 1) / stride : 0;
}

/* KC 0 selects convt_direct_global (below) alone */
#if KC > 0
#define WG (WGX * WGY)
#define TM (WGY * RM)
#define TN (WGX * RN)
/* the dy tile's loads: each work-item fills BCOLS columns (fixed for the
 * whole reduction, so their pixel coordinates are computed once), BROWS
 * rows of each, BSTEP rows apart */
#if TN >= WG
#if TN % WG
#error "convt_direct: WGX*RN must be a multiple of WGX*WGY, or divide it"
#endif
#define BCOLS (TN / WG)
#define BSTEP 1
#else
#if WG % TN || KC % (WG / TN)
#error "convt_direct: WGX*RN must divide WGX*WGY, and KC be a multiple of the quotient"
#endif
#define BCOLS 1
#define BSTEP (WG / TN)
#endif
#define BROWS (KC / BSTEP)

__kernel __attribute__((reqd_work_group_size(WGX, WGY, 1))) void convt_direct(
    __global const float *restrict dy, uint dy_off, __global const float *restrict wt,
    uint w_off, __global float *restrict dx, uint dx_off, int n, int cin, int h, int w,
    int cout, int ho, int wo, int k, int stride, int pad) {
  __local float a_tile[KC][TM]; /* w[co0 + kk, c0 + m, ki, kj] */
  __local float b_tile[KC][TN]; /* dy[co0 + kk, pixel p0 + j shifted by the tap] */
  const int lx = (int)get_local_id(0), ly = (int)get_local_id(1), tid = ly * WGX + lx;
  const int cls = (int)get_group_id(2), ry = cls / stride, rx = cls % stride;
  int y0, cy, qy0, tky, x0, cx, qx0, tkx;
  class_axis(ry, h, k, stride, pad, &y0, &cy, &qy0, &tky);
  class_axis(rx, w, k, stride, pad, &x0, &cx, &qx0, &tkx);
  const uint plane = (uint)cy * (uint)cx, npix = (uint)n * plane;
  const uint p0 = (uint)get_group_id(0) * TN;
  const int c0 = (int)get_group_id(1) * TM;
  if (p0 >= npix) return; /* the whole group: this class has fewer pixels */
  const uint fstride = (uint)n * (uint)ho * (uint)wo; /* dy's channel stride */
  const uint kk2 = (uint)(k * k), wrow = (uint)cin * kk2;

  /* the dy tile columns this work-item loads: image b's offset, qy, qx */
  uint bbase[BCOLS];
  int qy[BCOLS], qx[BCOLS], bcol[BCOLS];
  for (int c = 0; c < BCOLS; c++) {
    int j = TN >= WG ? tid + c * WG : tid % TN;
    uint p = p0 + (uint)j;
    uint b = p < npix ? p / plane : 0, r = p - b * plane;
    uint jy = p < npix ? r / (uint)cx : 0;
    bcol[c] = j;
    bbase[c] = b * (uint)ho * (uint)wo;
    qy[c] = p < npix ? qy0 + (int)jy : -(1 << 30); /* far outside: every tap misses */
    qx[c] = qx0 + (int)(r - jy * (uint)cx);
  }
  const int brow0 = TN >= WG ? 0 : tid / TN;

  float acc[RM][RN];
  for (int i = 0; i < RM; i++)
    for (int j = 0; j < RN; j++) acc[i][j] = 0.0f;

  for (int ty = 0; ty < tky; ty++)
    for (int tx = 0; tx < tkx; tx++) {
      const uint woff = (uint)((ry + stride * ty) * k + rx + stride * tx);
      uint boff[BCOLS]; /* dy offset of each column at this tap */
      int bin[BCOLS];   /* whether that is inside the feature map */
      for (int c = 0; c < BCOLS; c++) {
        int iy = qy[c] - ty, ix = qx[c] - tx;
        bin[c] = iy >= 0 && iy < ho && ix >= 0 && ix < wo;
        boff[c] = bin[c] ? bbase[c] + (uint)iy * (uint)wo + (uint)ix : 0u;
      }
      for (int co0 = 0; co0 < cout; co0 += KC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous chunk is consumed */
        for (int e = tid; e < KC * TM; e += WG) {
          int kk = e / TM, m = e - kk * TM, co = co0 + kk, c = c0 + m;
          a_tile[kk][m] = co < cout && c < cin
                              ? wt[w_off + (uint)co * wrow + (uint)c * kk2 + woff]
                              : 0.0f;
        }
        for (int c = 0; c < BCOLS; c++)
          for (int i = 0; i < BROWS; i++) {
            int kk = brow0 + i * BSTEP, co = co0 + kk;
            b_tile[kk][bcol[c]] =
                co < cout && bin[c] ? dy[dy_off + (uint)co * fstride + boff[c]] : 0.0f;
          }
        barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
        for (int kk = 0; kk < KC; kk++) {
          float a[RM], b[RN];
          for (int i = 0; i < RM; i++) a[i] = a_tile[kk][ly + WGY * i];
          for (int j = 0; j < RN; j++) b[j] = b_tile[kk][lx + WGX * j];
          for (int i = 0; i < RM; i++)
            for (int j = 0; j < RN; j++) acc[i][j] += a[i] * b[j];
        }
      }
    }

  /* every pixel of the tile, taps or none */
  const uint cstride = (uint)n * (uint)h * (uint)w;
  for (int j = 0; j < RN; j++) {
    uint p = p0 + (uint)(lx + WGX * j);
    if (p >= npix) break; /* pixels lx + WGX*j ascend with j */
    uint b = p / plane, r = p - b * plane, jy = r / (uint)cx, jx = r - jy * (uint)cx;
    uint pix = (b * (uint)h + (uint)y0 + jy * (uint)stride) * (uint)w + (uint)x0 +
               jx * (uint)stride;
    for (int i = 0; i < RM; i++) {
      int c = c0 + ly + WGY * i;
      if (c < cin) dx[dx_off + (uint)c * cstride + pix] = acc[i][j];
    }
  }
}
#endif

/* The same product without local memory or barriers, for CPUs (selected by
 * the host with KC 0; the kernel above is then left out): PoCL runs a
 * work-group's items as loops and vectorises only loop-free bodies, and a
 * register tile live across barriers is spilled per item, so this one
 * vectorises by hand. A work-item owns 16*RM channels (RM float16
 * accumulators per pixel) x RN consecutive pixels of one class; per tap
 * and feature channel it loads the 16*RM weights (strided by k*k) and RN
 * dy values, then does RM*RN vector multiply-adds. The sums run in the
 * order of the kernel above (tap, then feature channel). */
__kernel void convt_direct_global(__global const float *restrict dy, uint dy_off,
                                  __global const float *restrict wt, uint w_off,
                                  __global float *restrict dx, uint dx_off, int n, int cin, int h,
                                  int w, int cout, int ho, int wo, int k, int stride, int pad) {
  const int cls = (int)get_global_id(2), ry = cls / stride, rx = cls % stride;
  int y0, cy, qy0, tky, x0, cx, qx0, tkx;
  class_axis(ry, h, k, stride, pad, &y0, &cy, &qy0, &tky);
  class_axis(rx, w, k, stride, pad, &x0, &cx, &qx0, &tkx);
  const uint plane = (uint)cy * (uint)cx, npix = (uint)n * plane;
  const uint p0 = (uint)get_global_id(0) * RN;
  const int c0 = (int)get_global_id(1) * 16 * RM;
  if (p0 >= npix || c0 >= cin) return;
  const uint fstride = (uint)n * (uint)ho * (uint)wo;
  const uint kk2 = (uint)(k * k), wrow = (uint)cin * kk2;
  uint bbase[RN], outpix[RN];
  int qy[RN], qx[RN];
  for (int j = 0; j < RN; j++) {
    uint p = p0 + (uint)j;
    uint b = p < npix ? p / plane : 0, r = p - b * plane;
    uint jy = p < npix ? r / (uint)cx : 0, jx = r - jy * (uint)cx;
    bbase[j] = b * (uint)ho * (uint)wo;
    qy[j] = p < npix ? qy0 + (int)jy : -(1 << 30); /* every tap misses */
    qx[j] = qx0 + (int)jx;
    outpix[j] = (b * (uint)h + (uint)y0 + jy * (uint)stride) * (uint)w + (uint)x0 +
                jx * (uint)stride;
  }
  /* the weights' channel offsets; channels past cin read channel cin - 1
   * (in bounds) and are not stored */
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  uint16 wch[RM];
  for (int i = 0; i < RM; i++)
    wch[i] = convert_uint16(min((int16)(c0 + 16 * i) + lane, (int16)(cin - 1))) * kk2;
  float16 acc[RM][RN];
  for (int i = 0; i < RM; i++)
    for (int j = 0; j < RN; j++) acc[i][j] = (float16)(0.0f);
  for (int ty = 0; ty < tky; ty++)
    for (int tx = 0; tx < tkx; tx++) {
      const uint woff = (uint)((ry + stride * ty) * k + rx + stride * tx);
      uint boff[RN];
      int bin[RN];
      for (int j = 0; j < RN; j++) {
        int iy = qy[j] - ty, ix = qx[j] - tx;
        bin[j] = iy >= 0 && iy < ho && ix >= 0 && ix < wo;
        boff[j] = bin[j] ? bbase[j] + (uint)iy * (uint)wo + (uint)ix : 0u;
      }
      __global const float *wp = wt + w_off + woff;
      __global const float *dp = dy + dy_off;
      for (int co = 0; co < cout; co++, wp += wrow, dp += fstride) {
        float16 a[RM];
        for (int i = 0; i < RM; i++) {
          uint16 o = wch[i];
          a[i] = (float16)(wp[o.s0], wp[o.s1], wp[o.s2], wp[o.s3], wp[o.s4], wp[o.s5], wp[o.s6],
                           wp[o.s7], wp[o.s8], wp[o.s9], wp[o.sa], wp[o.sb], wp[o.sc], wp[o.sd],
                           wp[o.se], wp[o.sf]);
        }
        for (int j = 0; j < RN; j++) {
          float b = bin[j] ? dp[boff[j]] : 0.0f;
          for (int i = 0; i < RM; i++) acc[i][j] += a[i] * b;
        }
      }
    }
  const uint cstride = (uint)n * (uint)h * (uint)w;
  for (int j = 0; j < RN; j++) {
    if (p0 + (uint)j >= npix) break;
    for (int i = 0; i < RM; i++) {
      float v[16];
      vstore16(acc[i][j], 0, v);
      for (int l = 0; l < 16; l++) {
        int c = c0 + 16 * i + l;
        if (c < cin) dx[dx_off + (uint)c * cstride + outpix[j]] = v[l];
      }
    }
  }
}
