/* GEMM kernels: row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
 * Strided matrices are addressed through (offset, row stride, column stride),
 * so a transpose is only a swap of strides. beta == 0 overwrites C, NaN
 * included (PyTorch semantics).
 *
 * The fast path gives each work-item a TM x TN register tile (TN = 16 * NV)
 * held in float16 vectors. Operands are packed into panels (gemm_pack_*):
 * op(A) into row panels of TM rows, op(B) into column panels of TN columns,
 * each panel k-major and zero padded, so gemm_tile streams contiguous arrays
 * (which hardware prefetchers follow well) and only its stores know about
 * edges. In long reductions op(A) may be read in place, row by row (see
 * gemm_tile). When C has too few tiles to fill the device, k is split
 * over work-groups (global dimension 2) into partial products that
 * gemm_reduce sums in a fixed order. The register tile's definitions (TM,
 * NV, TN, the prefetches, the transposes, zero_tile) are cl/gemm_tile.cl,
 * built before this file; the sub-pixel adjoint is cl/subpix.cl. */

/* One C element per work-item: the path for tiny GEMMs. */
__kernel void gemm_simple(int m, int n, int k, float alpha, float beta,
                          __global const float *a, uint a_off, int a_rs, int a_cs,
                          __global const float *b, uint b_off, int b_rs, int b_cs,
                          __global float *c, uint c_off, int ldc) {
  int j = get_global_id(0), i = get_global_id(1);
  if (i >= m || j >= n) return;
  __global const float *ap = a + a_off + (size_t)i * a_rs;
  __global const float *bp = b + b_off + (size_t)j * b_cs;
  float acc = 0.0f;
  for (int p = 0; p < k; p++) acc = fma(ap[(size_t)p * a_cs], bp[(size_t)p * b_rs], acc);
  __global float *cp = c + c_off + (size_t)i * ldc + j;
  *cp = beta == 0.0f ? alpha * acc : alpha * acc + beta * *cp;
}

/* Packing: the rows x k matrix X(i, p) = x[x_off + i*rs + p*cs] goes into
 * panels of W rows, out[out_off + (i / W * k + p) * W + i % W], zero for the
 * padding rows past `rows`. op(A) is X with W = TM; op(B)^T with W = TN.
 * Two kernels per operand (a: W = TM, b: W = TN), each reading its source
 * in contiguous vectors:
 *   gemm_pack_<a|b>_i (rs == 1): global (panels, k), one work-item copies
 *     the W contiguous values of one p;
 *   gemm_pack_<a|b>_p (cs == 1): global (ceil(k / 16), panels * W / g), one
 *     work-item transposes a g x 16 block, g = CLGAN_PACK_P_ROWS(W) rows of
 *     a panel (in 16x16 or 8x8 register blocks when g allows, element by
 *     element at edges). */
/* dst[0 .. W) = src[0 .. W) in the widest vectors W allows (the branches on
 * the constant W fold away). */
#define COPY_W(W, src, dst)                                                               \
  if ((W) % 16 == 0) {                                                                    \
    _Pragma("unroll") for (int q = 0; q < (W) / 16; q++) vstore16(vload16(q, src), q, dst); \
  } else if ((W) % 8 == 0) {                                                              \
    _Pragma("unroll") for (int q = 0; q < (W) / 8; q++) vstore8(vload8(q, src), q, dst);  \
  } else if ((W) % 4 == 0) {                                                              \
    _Pragma("unroll") for (int q = 0; q < (W) / 4; q++) vstore4(vload4(q, src), q, dst);  \
  } else {                                                                                \
    _Pragma("unroll") for (int q = 0; q < (W); q++) dst[q] = src[q];                      \
  }

#define PACK_KERNELS(W, NAME_I, NAME_P)                                                  \
  __kernel void NAME_I(int rows, int k, __global const float *x, uint x_off, int cs,      \
                       __global float *out, uint out_off) {                              \
    const int blk = get_global_id(0), p = get_global_id(1), i0 = blk * (W);              \
    if (p >= k || i0 >= rows) return;                                                    \
    __global const float *src = x + x_off + (size_t)p * cs + i0;                         \
    __global float *dst = out + out_off + ((size_t)blk * k + p) * (W);                   \
    if (i0 + (W) <= rows) {                                                              \
      COPY_W(W, src, dst)                                                                \
    } else {                                                                             \
      _Pragma("unroll") for (int q = 0; q < (W); q++) dst[q] = i0 + q < rows ? src[q] : 0.0f; \
    }                                                                                    \
  }                                                                                      \
  __kernel void NAME_P(int rows, int k, __global const float *x, uint x_off, int rs,      \
                       __global float *out, uint out_off) {                              \
    const int g = CLGAN_PACK_P_ROWS(W);                                                  \
    const int p0 = get_global_id(0) * 16, i0 = get_global_id(1) * g;                     \
    if (p0 >= k || i0 >= (rows + (W) - 1) / (W) * (W)) return;                           \
    const int nr = clamp(rows - i0, 0, g), np = min(16, k - p0);                         \
    __global const float *src = x + x_off + (size_t)min(i0, rows - 1) * rs + p0;         \
    __global float *dst = out + out_off + ((size_t)(i0 / (W)) * k + p0) * (W) + i0 % (W); \
    if (nr == g && np == 16 && g % 8 == 0) {                                             \
      if (g == 16) {                                                                     \
        float16 blk16[16];                                                               \
        _Pragma("unroll") for (int r = 0; r < 16; r++)                                   \
          blk16[r] = vload16(0, src + (size_t)r * rs);                                   \
        transpose16(blk16);                                                              \
        _Pragma("unroll") for (int q = 0; q < 16; q++) vstore16(blk16[q], 0, dst + q * (W)); \
      } else {                                                                           \
        for (int b = 0; b < g / 8; b++)                                                  \
          _Pragma("unroll") for (int h = 0; h < 2; h++) {                                \
            float8 blk8[8];                                                              \
            _Pragma("unroll") for (int r = 0; r < 8; r++)                                \
              blk8[r] = vload8(0, src + (size_t)(8 * b + r) * rs + 8 * h);               \
            transpose8(blk8);                                                            \
            _Pragma("unroll") for (int q = 0; q < 8; q++)                                \
              vstore8(blk8[q], 0, dst + (8 * h + q) * (W) + 8 * b);                      \
          }                                                                              \
      }                                                                                  \
    } else {                                                                             \
      float t[CLGAN_PACK_P_ROWS(W)][16];                                                 \
      for (int r = 0; r < g; r++)                                                        \
        for (int q = 0; q < 16; q++)                                                     \
          t[r][q] = r < nr && q < np ? src[(size_t)r * rs + q] : 0.0f;                   \
      for (int q = 0; q < np; q++)                                                       \
        for (int r = 0; r < g; r++) dst[q * (W) + r] = t[r][q];                          \
    }                                                                                    \
  }

PACK_KERNELS(TM, gemm_pack_a_i, gemm_pack_a_p)
PACK_KERNELS(TN, gemm_pack_b_i, gemm_pack_b_p)

/* acc += the outer product of one column of op(A) (TM values, ap[roff[r]])
 * and one row of B's panel (TN contiguous values at bq). */
TILE_INLINE void rank1_update(float16 (*acc)[NV], __global const float *ap, const size_t *roff,
                              __global const float *bq) {
  float16 bv[NV];
  PREFETCH_PANEL(bq);
#pragma unroll
  for (int v = 0; v < NV; v++) bv[v] = vload16(v, bq);
#pragma unroll
  for (int r = 0; r < TM; r++) {
    float16 ar = (float16)(ap[roff[r]]);
#pragma unroll
    for (int v = 0; v < NV; v++) acc[r][v] = fma(ar, bv[v], acc[r][v]);
  }
}

/* Stores act(alpha * acc (+ beta * C)) for the tile at (i0, j0), C(i, j)
 * at c[i*c_rs + j*c_cs]: rows as vectors, or element by element for a
 * transposed store (c_cs != 1; once per tile, after its whole k loop). */
inline void store_tile(float16 (*acc)[NV], int m, int n, int i0, int j0, float alpha, float beta,
                       __global float *c, int c_rs, int c_cs, int act, float slope) {
  const int nrows = min(TM, m - i0), ncols = min(TN, n - j0);
#if TM == 8
  /* transposed store of a whole tile (C^T's columns are 8 consecutive
   * floats): 8x8 blocks transposed in registers, then one vector per column */
  if (c_rs == 1 && nrows == TM && ncols == TN) {
#pragma unroll
    for (int h = 0; h < 2 * NV; h++) {
      float8 blk[8];
#pragma unroll
      for (int r = 0; r < 8; r++) blk[r] = h & 1 ? acc[r][h / 2].hi : acc[r][h / 2].lo;
      transpose8(blk);
#pragma unroll
      for (int q = 0; q < 8; q++) {
        __global float *cp = c + (size_t)(j0 + 8 * h + q) * c_cs + i0;
        float8 out = alpha * blk[q];
        if (beta != 0.0f) out += beta * vload8(0, cp);
        vstore8(epilogue_float8(out, act, slope), 0, cp);
      }
    }
    return;
  }
#elif TM == 4
  /* the same with 4x4 blocks (C^T's columns are 4 consecutive floats): the
   * 4 x 16 tiles of AVX2 devices, whose Winograd products store C^T (stored
   * float by float, those products took 1.16x the time on a Zen 3) */
  if (c_rs == 1 && nrows == TM && ncols == TN) {
#pragma unroll
    for (int h = 0; h < 4 * NV; h++) {
      float4 blk[4];
#pragma unroll
      for (int r = 0; r < 4; r++) blk[r] = quarter16(acc[r][h / 4], h % 4);
      transpose4(blk);
#pragma unroll
      for (int q = 0; q < 4; q++) {
        __global float *cp = c + (size_t)(j0 + 4 * h + q) * c_cs + i0;
        float4 out = alpha * blk[q];
        if (beta != 0.0f) out += beta * vload4(0, cp);
        vstore4(epilogue_float4(out, act, slope), 0, cp);
      }
    }
    return;
  }
#endif
  if (c_cs != 1) {
#pragma unroll
    for (int r = 0; r < TM; r++) {
      if (r >= nrows) continue;
#pragma unroll
      for (int v = 0; v < NV; v++) {
        float t[16];
        vstore16(alpha * acc[r][v], 0, t);
        for (int q = 0; q < 16 && 16 * v + q < ncols; q++) {
          __global float *cp = c + (size_t)(i0 + r) * c_rs + (size_t)(j0 + 16 * v + q) * c_cs;
          *cp = epilogue_float(beta == 0.0f ? t[q] : t[q] + beta * *cp, act, slope);
        }
      }
    }
    return;
  }
#pragma unroll
  for (int r = 0; r < TM; r++) {
    if (r >= nrows) continue;
    __global float *crow = c + (size_t)(i0 + r) * c_rs + j0;
#pragma unroll
    for (int v = 0; v < NV; v++) {
      float16 out = alpha * acc[r][v];
      if (ncols == TN) {
        if (beta != 0.0f) out += beta * vload16(v, crow);
        vstore16(epilogue_float16(out, act, slope), v, crow);
      } else {
        float t[16];
        vstore16(out, 0, t);
        for (int q = 0; q < 16 && 16 * v + q < ncols; q++)
          crow[16 * v + q] =
              epilogue_float(beta == 0.0f ? t[q] : t[q] + beta * crow[16 * v + q], act, slope);
      }
    }
  }
}

/* C tile (ti, tj) over the k range [z*kz, min(k, (z+1)*kz)) for z = global
 * id 2, written to c + z * c_zstride, from B's column panel tj (k x TN at
 * bp + bp_off + tj*k*TN) and op(A) read through strides:
 *   op(A)(ti*TM + r, z*kz + p) = a[a_off + ti*a_ps + z*a_zs + p*a_ks + r*a_rs]
 *     a packed row panel: (k*TM, TM, 1), a_zs = kz*a_ks; rows of A in
 *     place: (TM*lda, 1, lda); rows past m clamped to the last (their
 *     results are not stored); a_zs of its own where each range of k is
 *     a matrix of its own (the Winograd products: the forward and the
 *     weight gradient read the same transformed image);
 *   C(i, j) at c[c_off + i*c_rs + j*c_cs]: (ldc, 1), or (1, ldc) for a
 *     transposed store (the host computes C^T = op(B)^T op(A)^T that way).
 * Global size (ceil(n / TN), ceil(m / TM), splits), the first two rounded up
 * to the local size. */
__kernel void gemm_tile(int m, int n, int k, int kz, float alpha, float beta,
                        __global const float *a, uint a_off, int a_ps, int a_ks, int a_rs,
                        __global const float *bp, uint bp_off,
                        __global float *c, uint c_off, int c_rs, int c_cs, uint c_zstride,
                        uint a_zs) {
  const int tj = get_global_id(0), ti = get_global_id(1), z = get_global_id(2);
  const int j0 = tj * TN, i0 = ti * TM;
  if (i0 >= m || j0 >= n) return;
  const int kb = z * kz, ke = min(k, kb + kz);
  __global const float *pa = a + a_off + (size_t)ti * a_ps + (size_t)z * a_zs;
  __global const float *pb = bp + bp_off + (size_t)tj * k * TN;
  size_t roff[TM];
#pragma unroll
  for (int r = 0; r < TM; r++) roff[r] = (size_t)min(r, m - 1 - i0) * a_rs;
  float16 acc[TM][NV];
  zero_tile(acc);
  for (int p = 0; p < ke - kb; p++)
    rank1_update(acc, pa + (size_t)p * a_ks, roff, pb + (size_t)(kb + p) * TN);
  store_tile(acc, m, n, i0, j0, alpha, beta, c + c_off + (size_t)z * c_zstride, c_rs, c_cs,
             CLGAN_ACT_NONE, 0.0f);
}

/* gemm_tile with op(A) an im2col matrix (or its transpose) read from the
 * (zero-padded) image itself rather than from a materialised copy:
 *   op(A)(i, p) = img[img_off + R(i) + K(p)]
 * where R and K each split their index into three digits and weigh them:
 *   i = (d3*rn2 + d2)*rn1 + d1  ->  R(i) = d3*rt3 + d2*rt2 + d1*rt1
 * (K likewise with kn1, kn2, kt1..kt3). A tap (c, ki, kj) weighs
 * (cstride, wp, 1), an output pixel (b, oy, ox) (hp*wp, stride*wp, stride),
 * so rows = taps, k = pixels is col itself (the weight gradient
 * dW^T = col x dY^T) and rows = pixels, k = taps is col^T (the forward
 * Y^T = col^T x W^T). The k loop walks K's digits like an odometer.
 * conv_x_product is that k loop: acc = op(A) x B's panel over [kb, ke)
 * for the tile at row i0. gemm_tile_conv
 * applies the activation act (clgan_act, with its slope) as it stores C:
 * the forward's fused activation; CLGAN_ACT_NONE for partial products. */
/* conv_x_product's unrolled loops (CPU devices). The general loop spends
 * about as many instructions on its addresses and its odometer as on its
 * FMAs: TM row offsets held in registers or spilled, a digit test every k.
 * On a 2-core Xeon that held the conv products at 50-63% of the FMA peak.
 * Where the shape allows, the tile's rows are one or two segments of rows a
 * constant step apart, so every A value is a constant offset from a
 * segment's pointer, and several k share one digit test. The sums run in
 * the general loop's order: the same bits. DCGAN's k4 s2 convs:
 *   forward (rows pixels (ox step 2), k taps): the 4 taps of a (c, ky) row
 *     per pass; one segment of TM pixels, or two of TM / 2 where the output
 *     is 4 wide (59-68% of the peak on that Xeon, docs/speed-log.md);
 *   weight gradient (rows taps: kx at two ky, k pixels (ox step 2)):
 *     CONV_WGRAD_UNROLL pixels per pass (59-69%; 4 per pass spilled the
 *     broadcasts the pixels share and gained nothing).
 * The segment pointers: s0 for rows below RSEG, s1 for the rest (the same
 * as s0 when the tile is one segment). */
/* C of at least this many floats (2 MiB) gets gemm_tile_conv's store
 * prefetch (below). */
#define CONV_STORE_PREFETCH_FLOATS ((size_t)1 << 19)
#define CONV_FORWARD_TAPS 4
#define CONV_WGRAD_UNROLL 2
#define CONV_RANK1(S0, S1, RSEG, RSTEP, KSTEP, U, BQ)                                       \
  do {                                                                                     \
    float16 bv[NV];                                                                        \
    PREFETCH_PANEL((BQ) + (U) * TN);                                                       \
    _Pragma("unroll") for (int v = 0; v < NV; v++) bv[v] = vload16(v, (BQ) + (U) * TN);   \
    _Pragma("unroll") for (int r = 0; r < TM; r++) {                                       \
      float16 ar = (float16)((r < (RSEG) ? (S0) : (S1))[(U) * (KSTEP) + r % (RSEG) * (RSTEP)]); \
      _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = fma(ar, bv[v], acc[r][v]); \
    }                                                                                      \
  } while (0)

#define CONV_FORWARD_LOOP(NAME, RSEG, RSTEP)                                                \
  TILE_INLINE void NAME(float16 (*acc)[NV], __global const float *img, const size_t *roff,  \
                        size_t xo, int kb, int ke, int e2, int kn2, int kt2, int jump3,     \
                        __global const float *pb, __global const float *pf, size_t pf_step, \
                        int pf_n) {                                                         \
    __global const float *s0 = img + roff[0] + xo, *s1 = img + roff[TM - (RSEG)] + xo;     \
    for (int p = kb, q = 0; p < ke; p += CONV_FORWARD_TAPS, q++) {                         \
      __global const float *bq = pb + (size_t)p * TN;                                      \
      if (q < pf_n) PREFETCH_STORE(pf + q * pf_step);                                      \
      _Pragma("unroll") for (int u = 0; u < CONV_FORWARD_TAPS; u++)                        \
        CONV_RANK1(s0, s1, RSEG, RSTEP, 1, u, bq);                                         \
      s0 += kt2, s1 += kt2;                                                                \
      if (++e2 == kn2) e2 = 0, s0 += jump3, s1 += jump3;                                   \
    }                                                                                      \
  }

#define CONV_WGRAD_LOOP(NAME, KSTEP)                                                        \
  TILE_INLINE void NAME(float16 (*acc)[NV], __global const float *img, const size_t *roff,  \
                        size_t xo, int kb, int ke, int e1, int e2, int kn1, int kn2,        \
                        int jump2, int jump3, __global const float *pb) {                   \
    __global const float *s0 = img + roff[0] + xo, *s1 = img + roff[TM / 2] + xo;          \
    for (int p = kb; p < ke; p += CONV_WGRAD_UNROLL) {                                     \
      __global const float *bq = pb + (size_t)p * TN;                                      \
      _Pragma("unroll") for (int u = 0; u < CONV_WGRAD_UNROLL; u++)                        \
        CONV_RANK1(s0, s1, TM / 2, 1, KSTEP, u, bq);                                       \
      int step = CONV_WGRAD_UNROLL * (KSTEP);                                              \
      if ((e1 += CONV_WGRAD_UNROLL) == kn1) {                                              \
        e1 = 0, step += jump2;                                                             \
        if (++e2 == kn2) e2 = 0, step += jump3;                                            \
      }                                                                                    \
      s0 += step, s1 += step;                                                              \
    }                                                                                      \
  }

#if defined(CLGAN_CPU_DEVICE) && TM % 2 == 0
CONV_FORWARD_LOOP(conv_x_forward_s2, TM, 2)
CONV_FORWARD_LOOP(conv_x_forward_s2_halves, TM / 2, 2)
CONV_WGRAD_LOOP(conv_x_wgrad_s2, 2)
#endif

/* Asks for the n lines at p, p + step, ... before a k loop. */
TILE_INLINE void prefetch_store_lines(__global const float *p, size_t step, int n) {
  for (int q = 0; q < n; q++) PREFETCH_STORE(p + q * step);
}

TILE_INLINE void conv_x_product(float16 (*acc)[NV], int m, int i0, int kb, int ke,
                                __global const float *img, uint img_off, int rn1, int rn2, int rt1,
                                int rt2, int rt3, int kn1, int kn2, int kt1, int kt2, int kt3,
                                __global const float *pb, __global const float *pf,
                                size_t pf_step, int pf_n) {
  size_t roff[TM];
#pragma unroll
  for (int r = 0; r < TM; r++) {
    int i = min(i0 + r, m - 1), q = i / rn1, d1 = i - q * rn1, d3 = q / rn2, d2 = q - d3 * rn2;
    roff[r] = img_off + (size_t)d3 * rt3 + (size_t)d2 * rt2 + (size_t)d1 * rt1;
  }
  /* K's digits at column kb, and the jumps when a digit wraps */
  int q = kb / kn1, e1 = kb - q * kn1, e3 = q / kn2, e2 = q - e3 * kn2;
  size_t xo = (size_t)e3 * kt3 + (size_t)e2 * kt2 + (size_t)e1 * kt1;
  const int jump2 = kt2 - kn1 * kt1, jump3 = kt3 - kn2 * kt2;
  zero_tile(acc);
#if defined(CLGAN_CPU_DEVICE) && TM % 2 == 0
  /* the unrolled loops: a whole tile (no clamped rows), stride 2, k in
   * whole passes of K's first digit */
  if (i0 + TM <= m && kn1 == CONV_FORWARD_TAPS && kt1 == 1 && rt1 == 2 &&
      kb % CONV_FORWARD_TAPS == 0 && (ke - kb) % CONV_FORWARD_TAPS == 0) {
    if (rn1 % TM == 0) {
      conv_x_forward_s2(acc, img, roff, xo, kb, ke, e2, kn2, kt2, jump3, pb, pf, pf_step, pf_n);
      return;
    }
    if (rn1 % (TM / 2) == 0) {
      prefetch_store_lines(pf, pf_step, pf_n);
      conv_x_forward_s2_halves(acc, img, roff, xo, kb, ke, e2, kn2, kt2, jump3, pb, pf, pf_step,
                               0);
      return;
    }
  }
  if (i0 + TM <= m && rn1 == TM / 2 && rt1 == 1 && kt1 == 2 && kn1 % CONV_WGRAD_UNROLL == 0 &&
      kb % CONV_WGRAD_UNROLL == 0 && (ke - kb) % CONV_WGRAD_UNROLL == 0) {
    prefetch_store_lines(pf, pf_step, pf_n);
    conv_x_wgrad_s2(acc, img, roff, xo, kb, ke, e1, e2, kn1, kn2, jump2, jump3, pb);
    return;
  }
#endif
  prefetch_store_lines(pf, pf_step, pf_n);
  for (int p = kb; p < ke; p++) {
    rank1_update(acc, img + xo, roff, pb + (size_t)p * TN);
    xo += kt1;
    if (++e1 == kn1) {
      e1 = 0, xo += jump2;
      if (++e2 == kn2) e2 = 0, xo += jump3;
    }
  }
}

__kernel void gemm_tile_conv(int m, int n, int k, int kz, float alpha, float beta,
                             __global const float *img, uint img_off, int rn1, int rn2, int rt1,
                             int rt2, int rt3, int kn1, int kn2, int kt1, int kt2, int kt3,
                             __global const float *bp, uint bp_off,
                             __global float *c, uint c_off, int c_rs, int c_cs, uint c_zstride,
                             int act, float slope) {
  const int tj = get_global_id(0), ti = get_global_id(1), z = get_global_id(2);
  const int j0 = tj * TN, i0 = ti * TM;
  if (i0 >= m || j0 >= n) return;
  const int kb = z * kz, ke = min(k, kb + kz);
  /* A transposed store writes TN columns of C^T, more streams than the
   * hardware prefetchers follow: their lines asked for where C is too large
   * to stay in cache (tutorial's D2 and D4 forward 4-6% faster on the EPYC
   * than without; gray32's 1 MiB outputs 1% slower with it).
   * conv_x_product asks for them up front, except that the forward over
   * whole output rows asks for one line per pass of taps, so the lines'
   * TLB walks overlap the FMAs (tutorial's D2 forward 0.94x the time
   * again; D4's, over half rows, was no faster that way). */
  __global const float *pf = c + c_off + (size_t)z * c_zstride + (size_t)j0 * c_cs + i0;
  int pf_n = 0;
#if defined(CLGAN_CPU_DEVICE) && defined(__clang__) && TM == 8
  if (c_rs == 1 && i0 + TM <= m && j0 + TN <= n && (size_t)m * n >= CONV_STORE_PREFETCH_FLOATS)
    pf_n = TN;
#endif
  float16 acc[TM][NV];
  conv_x_product(acc, m, i0, kb, ke, img, img_off, rn1, rn2, rt1, rt2, rt3, kn1, kn2, kt1, kt2,
                 kt3, bp + bp_off + (size_t)tj * k * TN, pf, (size_t)c_cs, pf_n);
  store_tile(acc, m, n, i0, j0, alpha, beta, c + c_off + (size_t)z * c_zstride, c_rs, c_cs, act,
             slope);
}


/* C = alpha * sum over z of part[z] + beta * C, part[z] being m x n
 * (row stride n) at part + part_off + z*m*n; summed in order, deterministic.
 * C(i, j) at c[c_off + i*c_rs + j*c_cs] as in gemm_tile.
 * Global size (n, m) rounded up. */
__kernel void gemm_reduce(int m, int n, int splits, float alpha, float beta,
                          __global const float *part, uint part_off, __global float *c,
                          uint c_off, int c_rs, int c_cs) {
  const int j = get_global_id(0), i = get_global_id(1);
  if (i >= m || j >= n) return;
  const size_t plane = (size_t)m * n;
  __global const float *pp = part + part_off + (size_t)i * n + j;
  float s = 0.0f;
  for (int z = 0; z < splits; z++) s += pp[z * plane];
  __global float *cp = c + c_off + (size_t)i * c_rs + (size_t)j * c_cs;
  *cp = beta == 0.0f ? alpha * s : alpha * s + beta * *cp;
}
