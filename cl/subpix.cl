/* The sub-pixel adjoint of a k 4, stride 2, pad 1 conv (conv_subpixel.c),
 * on the register tile of cl/gemm_tile.cl (built before this file):
 * dx's parity class (py, px) is a stride-1 2x2 conv of dy zero-padded by 1,
 *   dx[c, b, 2i+py, 2j+px] = sum over co, a, e in {0, 1} of
 *       w[co, c, 3-py-2a, 3-px-2e] * dyp[co, b, i+py+a, j+px+e]
 * (row y = 2i+py is read by output row oy = i+py+a-1 through kernel row
 * 3-py-2a; columns likewise). A work-item computes both column parities of
 * one row parity for SUBPIX_J = TM/2 consecutive j, TN channels: its TM
 * accumulator rows are the TM consecutive pixels x = 2*j0 .. 2*j0+TM-1 of
 * row y, so each channel's result is one vector store (the four classes
 * as four GEMMs storing every other float ran at 0.84-1.1x of GEMM +
 * col2im on PoCL). Both parities share the loop over (co, a, e) and the
 * SUBPIX_J + 2 values of dyp's row it reads; each has its own row of TN
 * channels in the packed sub-kernels (subpix_pack_w). The store can apply
 * the derivative of the activation before the conv (act, slope; y its
 * output, indexed as dx) with col2im's formulas. Global (tiles of TN
 * channels, n*ho*wo / SUBPIX_J pixel groups, 2 row parities). */
#define SUBPIX_J (TM / 2)

/* The sub-kernels of w [cout, cin, 4, 4] as the tile kernel streams them:
 * wpk[(((py*tiles + tj)*cout + co)*4 + a*2 + e)*2 + px][lane] =
 * w[co, c, 3-py-2a, 3-px-2e] for channel c = tj*TN + lane (0 past cin).
 * A work-item packs one (py, tj, co): two kernel rows per channel in, its
 * eight rows of TN out as vectors (one work-item per element ran 10x
 * slower on PoCL). Global (tiles, cout, 2). */
__kernel void subpix_pack_w(__global const float *restrict w, uint w_off,
                            __global float *restrict wpk, uint wpk_off, int cin, int cout) {
  const int tj = get_global_id(0), co = get_global_id(1), py = get_global_id(2);
  const int tiles = (cin + TN - 1) / TN;
  if (tj >= tiles || co >= cout) return;
  float t[8][TN];
  for (int lane = 0; lane < TN; lane++) {
    const int c = tj * TN + lane;
#pragma unroll
    for (int a = 0; a < 2; a++) {
      /* kernel row 3-py-2a; its columns kj = 3-px-2e for (e, px) */
      float4 row = c < cin ? vload4(0, w + w_off + (((size_t)co * cin + c) * 4 + 3 - py - 2 * a) * 4)
                           : (float4)(0.0f);
      t[a * 4 + 0][lane] = row.s3, t[a * 4 + 1][lane] = row.s2;
      t[a * 4 + 2][lane] = row.s1, t[a * 4 + 3][lane] = row.s0;
    }
  }
  __global float *dst = wpk + wpk_off + (((size_t)py * tiles + tj) * cout + co) * 8 * TN;
#pragma unroll
  for (int u = 0; u < 8; u++)
#pragma unroll
    for (int v = 0; v < NV; v++) vstore16(vload16(v, t[u]), v, dst + u * TN);
}


/* acc += one pixel group's products (gemm_tile_subpix): SEGS segments of
 * SUBPIX_J / SEGS pixels, segment sg on dyp's row arow + sg*wp (one
 * segment within a row, or two on consecutive rows where a row is half
 * the group); accumulator row 2*(sg*sj + r) + px for pixel r of segment sg
 * and column parity px. */
#define SUBPIX_LOOP(NAME, SEGS)                                                             \
  TILE_INLINE void NAME(float16 (*acc)[NV], __global const float *arow, int wp,             \
                        size_t plane, int cout, __global const float *bq) {                 \
    enum { sj = SUBPIX_J / (SEGS) };                                                       \
    for (int co = 0; co < cout; co++, arow += plane, bq += 8 * TN) {                       \
      _Pragma("unroll") for (int a = 0; a < 2; a++) {                                      \
        float v[SEGS][sj + 2];                                                             \
        _Pragma("unroll") for (int sg = 0; sg < (SEGS); sg++)                              \
          _Pragma("unroll") for (int r = 0; r < sj + 2; r++) v[sg][r] = arow[(sg + a) * wp + r]; \
        _Pragma("unroll") for (int e = 0; e < 2; e++) {                                    \
          __global const float *bt = bq + (a * 2 + e) * 2 * TN;                            \
          float16 b0[NV], b1[NV];                                                          \
          PREFETCH_PANEL(bt);                                                              \
          PREFETCH_PANEL(bt + TN);                                                         \
          _Pragma("unroll") for (int t = 0; t < NV; t++) b0[t] = vload16(t, bt), b1[t] = vload16(t, bt + TN); \
          _Pragma("unroll") for (int sg = 0; sg < (SEGS); sg++)                            \
            _Pragma("unroll") for (int r = 0; r < sj; r++) {                               \
              const int q0 = 2 * (sg * sj + r);                                            \
              float16 a0 = (float16)(v[sg][r + e]), a1 = (float16)(v[sg][r + 1 + e]);      \
              _Pragma("unroll") for (int t = 0; t < NV; t++) {                             \
                acc[q0][t] = fma(a0, b0[t], acc[q0][t]);                                   \
                acc[q0 + 1][t] = fma(a1, b1[t], acc[q0 + 1][t]);                           \
              }                                                                            \
            }                                                                              \
        }                                                                                  \
      }                                                                                    \
    }                                                                                      \
  }
SUBPIX_LOOP(subpix_product_1, 1)
#if SUBPIX_J % 2 == 0
SUBPIX_LOOP(subpix_product_2, 2)
#endif

__kernel void gemm_tile_subpix(int cin, int cout, int n, int ho, int wo,
                               __global const float *restrict dyp, uint dyp_off,
                               __global const float *restrict wpk, uint wpk_off,
                               __global float *restrict dx, uint dx_off,
                               __global const float *restrict act_y, uint act_y_off, int act,
                               float slope) {
  const int tj = get_global_id(0), q = get_global_id(1), py = get_global_id(2);
  const int tiles = (cin + TN - 1) / TN, groups = n * ho * wo / SUBPIX_J;
  if (tj >= tiles || q >= groups) return;
  /* the group's first pixel (b, i, j0): SUBPIX_J consecutive pixels of
   * (b, i, j) order, within a row or two whole rows of one image (the
   * host's condition) */
  const int p0 = q * SUBPIX_J, bi = p0 / wo, j0 = p0 - bi * wo, b = bi / ho, i = bi - b * ho;
  const int hp = ho + 2, wp = wo + 2, two_rows = wo < SUBPIX_J;
  const size_t plane = (size_t)n * hp * wp;
  __global const float *arow = dyp + dyp_off + ((size_t)b * hp + i + py) * wp + j0;
  __global const float *bq = wpk + wpk_off + (size_t)(py * tiles + tj) * cout * 8 * TN;
  const int h = 2 * ho, w = 2 * wo, ncols = min(TN, cin - tj * TN);
  const size_t cs = (size_t)n * h * w;
  const size_t at = (size_t)tj * TN * cs + ((size_t)b * h + 2 * i + py) * w + 2 * j0;
  __global float *out = dx + dx_off + at;
  __global const float *yv = act_y + act_y_off + at;
  /* a two-row group's second half goes two rows of dx further */
  const size_t far = two_rows ? (size_t)2 * w : 0;
#if defined(CLGAN_CPU_DEVICE) && defined(__clang__)
  /* The lines the store will touch, asked for before the product: the
   * TN channel planes' reads (y) and writes (dx) are more streams than the
   * hardware prefetchers follow, and a read that misses at the store
   * stalls the work-item. On the EPYC, tutorial's D2 (bench_convt): the
   * kernel 2-7% faster with plain stores, about 5% with LeakyReLU'. */
  for (int c = 0; c < ncols; c++)
    if (act != CLGAN_ACT_NONE) {
      __builtin_prefetch(yv + c * cs, 0, 3);
      if (far) __builtin_prefetch(yv + c * cs + far, 0, 3);
    } else {
      __builtin_prefetch(out + c * cs, 1, 3);
      if (far) __builtin_prefetch(out + c * cs + far, 1, 3);
    }
#endif
  float16 acc[TM][NV];
  zero_tile(acc);
#if SUBPIX_J % 2 == 0
  if (two_rows) subpix_product_2(acc, arow, wp, plane, cout, bq);
  else
#endif
    subpix_product_1(acc, arow, wp, plane, cout, bq);
#if TM == 8 || (TM == 16 && NV == 1)
  /* TM x TM blocks transposed in registers: channel c's TM pixels, one
   * vector (two halves for a two-row group) */
#if TM == 8
#define SUBPIX_BLOCKS (2 * NV)
#define SUBPIX_VEC float8
#define SUBPIX_HALF float4
#define SUBPIX_BLOCK(r, hh) ((hh) & 1 ? acc[r][(hh) / 2].hi : acc[r][(hh) / 2].lo)
#define SUBPIX_TRANSPOSE transpose8
#define SUBPIX_DACT_VEC tile_dact_float8
#define SUBPIX_LOAD(p) vload8(0, p)
#define SUBPIX_STORE(g, p) vstore8(g, 0, p)
#define SUBPIX_LOAD_HALF(p) vload4(0, p)
#define SUBPIX_STORE_HALF(g, p) vstore4(g, 0, p)
#else
#define SUBPIX_BLOCKS 1
#define SUBPIX_VEC float16
#define SUBPIX_HALF float8
#define SUBPIX_BLOCK(r, hh) acc[r][0]
#define SUBPIX_TRANSPOSE transpose16
#define SUBPIX_DACT_VEC tile_dact_float16
#define SUBPIX_LOAD(p) vload16(0, p)
#define SUBPIX_STORE(g, p) vstore16(g, 0, p)
#define SUBPIX_LOAD_HALF(p) vload8(0, p)
#define SUBPIX_STORE_HALF(g, p) vstore8(g, 0, p)
#endif
#pragma unroll
  for (int hh = 0; hh < SUBPIX_BLOCKS; hh++) {
    SUBPIX_VEC blk[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) blk[r] = SUBPIX_BLOCK(r, hh);
    SUBPIX_TRANSPOSE(blk);
#pragma unroll
    for (int cb = 0; cb < TM; cb++) {
      const int c = TM * hh + cb;
      if (c >= ncols) continue;
      SUBPIX_VEC g = blk[cb];
      __global float *o = out + c * cs;
      __global const float *y = yv + c * cs;
      if (far) {
        if (act != CLGAN_ACT_NONE)
          g = SUBPIX_DACT_VEC(g, (SUBPIX_VEC)(SUBPIX_LOAD_HALF(y), SUBPIX_LOAD_HALF(y + far)), act,
                              slope);
        SUBPIX_STORE_HALF(g.lo, o);
        SUBPIX_STORE_HALF(g.hi, o + far);
      } else {
        if (act != CLGAN_ACT_NONE) g = SUBPIX_DACT_VEC(g, SUBPIX_LOAD(y), act, slope);
        SUBPIX_STORE(g, o);
      }
    }
  }
#else
  float t[TM][TN];
#pragma unroll
  for (int r = 0; r < TM; r++)
#pragma unroll
    for (int v = 0; v < NV; v++) vstore16(acc[r][v], v, t[r]);
  for (int c = 0; c < ncols; c++)
    for (int r = 0; r < TM; r++) {
      /* pixel r of the group: its place in dx's rows */
      const size_t ro = far && r >= TM / 2 ? far + (size_t)(r - TM / 2) : (size_t)r;
      const float g = t[r][c];
      out[c * cs + ro] =
          act != CLGAN_ACT_NONE ? tile_dact_float(g, yv[c * cs + ro], act, slope) : g;
    }
#endif
}
