/* Winograd F(4x4, 2x2) for the forward of a k 4, stride 2, pad 1 conv
 * (src/ops/conv_winograd.h). Split by the parities (pa, pb) of its taps,
 * such a conv is a stride-1 2x2 correlation over 4 * cin channels:
 *   y[o, i, j] = sum over (pa, pb, c) and a, b in {0, 1} of
 *                W[o, c, 2a+pa, 2b+pb] * xp[c, 2(i+a)+pa, 2(j+b)+pb]
 * (xp: the image padded by 1). Each 4x4 output tile then takes 25 products
 * per channel instead of 64:
 *   Y = A^T [(G g G^T) .* (B^T d B)] A, with the points 0, 1, -1, 1/2, inf:
 *   B^T = [1 -2 -1  2 0;     G = [1    0;      A^T = [1 1  1 1   0;
 *          0 -1  1  2 0;          1/2  1/2;           0 1 -1 1/2 0;
 *          0 -1  3 -2 0;          1/6 -1/6;           0 1  1 1/4 0;
 *          0  1  0 -1 0;          8/3  4/3;           0 1 -1 1/8 1]
 *          0  1 -2 -1 2]          0    1/2]
 * (B^T's rows scaled to integers, G's by the inverse; tests/ and the
 * parity test with CLGAN_WINOGRAD=1 hold its rounding to the recipe's
 * tolerances). The element-wise products summed over the channels are 25
 * GEMMs, one launch of cl/gemm.cl's gemm_tile with its split of k over the
 * 25 positions xi = 5 * row + column: kk = (2 * pa + pb) * cin + c runs over
 * the K = 4 * cin channels of a position, k = xi * K + kk.
 *   wino_weight: U (G g G^T) as gemm_tile's packed panels of B,
 *     up[(o / TN) * 25K * TN + k * TN + o % TN] (zero for o >= cout);
 *   wino_input: V (B^T d B) as its packed panels of A,
 *     vp[(t / TM) * 25K * TM + k * TM + t % TM] for the tiles t = (b, ty, tx);
 *   wino_output: from the products, stored transposed per position,
 *     m[xi * cout * tiles + o * tiles + t], the 4x4 outputs of each tile,
 *     with the forward's fused activation (cl/gemm_tile.cl's epilogue).
 * TM and NV come from the build options, TN and transpose16 from
 * cl/gemm_tile.cl (built before this file), as for cl/gemm.cl.
 * Sections: the transforms' matrices and row chunks; lane panels (shared);
 * the forward (wino_weight, wino_input, wino_output); the weight gradient
 * (wino_filt_*); the adjoint (wino_adjt_*). One program holds all three
 * products, so a shape's plans build it once (PoCL compiles slowly). */

#define WINO_A 5 /* the transform's points: a tile's inputs per dimension */

/* O = B^T X over five values (any vector type). */
#define WINO_BT(X, O)                                                                    \
  do {                                                                                   \
    O[0] = (X[0] - X[2]) + 2.0f * (X[3] - X[1]);                                         \
    O[1] = (X[2] - X[1]) + 2.0f * X[3];                                                  \
    O[2] = (3.0f * X[2] - X[1]) - 2.0f * X[3];                                           \
    O[3] = X[1] - X[3];                                                                  \
    O[4] = (X[1] - X[3]) + 2.0f * (X[4] - X[2]);                                         \
  } while (0)

/* O = A^T X: five values to four. */
#define WINO_AT(X, O)                                                                    \
  do {                                                                                   \
    O[0] = (X[0] + X[1]) + (X[2] + X[3]);                                                \
    O[1] = (X[1] - X[2]) + 0.5f * X[3];                                                  \
    O[2] = (X[1] + X[2]) + 0.25f * X[3];                                                 \
    O[3] = (X[1] - X[2]) + (0.125f * X[3] + X[4]);                                       \
  } while (0)

/* O = G X: two values to five. */
#define WINO_G(X0, X1, O)                                                                \
  do {                                                                                   \
    O[0] = X0;                                                                           \
    O[1] = 0.5f * (X0 + X1);                                                             \
    O[2] = (X0 - X1) * (1.0f / 6.0f);                                                    \
    O[3] = (2.0f * X0 + X1) * (4.0f / 3.0f);                                             \
    O[4] = 0.5f * X1;                                                                    \
  } while (0)

/* Tiles side by side in a vector: 4, 2 or 1, as a row of tw tiles allows. */
static inline int wino_row_lanes(int tw) { return tw % 4 == 0 ? 4 : tw % 2 == 0 ? 2 : 1; }

/* A chunk of a row panel's tiles, from tile t0 (t = (b, ty, tx), tw x th
 * tiles an image): where its tiles start and its first lane in the panel. */
typedef struct wino_chunk {
  int tx0, ty, b, lane0;
} wino_chunk;

static inline wino_chunk wino_chunk_at(int t0, int tw, int th) {
  const int row = t0 / tw;
  wino_chunk k = {t0 % tw, row % th, row / th, t0 % TM};
  return k;
}

/* The chunks of a row panel: its tiles (up to the last), lanes at a time
 * (within a row of tiles and the panel: TM & -TM is its largest power of
 * two). */
#define WINO_PANEL_CHUNKS(LANES, T0)                                                     \
  const int LANES = min(wino_row_lanes(tw), TM & -TM);                                   \
  for (int T0 = panel * TM; T0 < min(tiles, (panel + 1) * TM); T0 += LANES)

/* ---- Lane panels, shared by the three products -----------------------------
 * Where an image row holds fewer than 4 tiles, a work-item takes a whole
 * row panel of TM tiles, one per lane (wino_input, wino_output,
 * wino_filt_input, wino_adjt_dy, wino_adjt_output). */

/* Full panels of tiles fewer than 4 to a row (`gray32`'s D2 and D3): the
 * panel's TM tiles in the TM lanes of one vector, each lane read from its
 * own tile (go_[l] floats past the row pointer), so every transformed
 * value is one TM-wide store instead of TM scalar (or TM / 2 two-wide)
 * ones. On a 2-core Zen 4, D3's wino_input 0.60-0.68 -> 0.23-0.30 ms,
 * wino_adjt_dy 0.38-0.43 -> 0.11-0.14, D2's wino_input 0.59-0.61 ->
 * 0.37-0.44. */
#if TM == 8
#define WINO_GATHER 1
#define WINO_VTM float8
#define WINO_VSTORE_TM vstore8
#define WINO_VLOAD_TM vload8
#define WINO_GTM(R, X)                                                                   \
  (float8)((R)[go_[0] + (X)], (R)[go_[1] + (X)], (R)[go_[2] + (X)], (R)[go_[3] + (X)],    \
           (R)[go_[4] + (X)], (R)[go_[5] + (X)], (R)[go_[6] + (X)], (R)[go_[7] + (X)])
#elif TM == 4
#define WINO_GATHER 1
#define WINO_VTM float4
#define WINO_VSTORE_TM vstore4
#define WINO_VLOAD_TM vload4
#define WINO_GTM(R, X)                                                                   \
  (float4)((R)[go_[0] + (X)], (R)[go_[1] + (X)], (R)[go_[2] + (X)], (R)[go_[3] + (X)])
#else
#define WINO_GATHER 0
#endif
#define WINO_ROWG(D, R)                                                                  \
  do {                                                                                   \
    _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++) D[x_] = WINO_GTM(R, x_);   \
  } while (0)

/* Whether panel's tiles take the gathered path: a whole panel, its row of
 * tiles too short for lanes side by side. */
static inline int wino_gathered(int panel, int tiles, int tw) {
  return WINO_GATHER && wino_row_lanes(tw) < 4 && (panel + 1) * TM <= tiles;
}

/* go_[l]: tile panel * TM + l's first value in a plane of rows of rs floats
 * (planes of ph rows per image, each tile's patch step rows and columns
 * from the last). */
#define WINO_GATHER_OFFSETS(PANEL, TW, TH, PH, RS, STEP)                                  \
  uint go_[TM];                                                                          \
  _Pragma("unroll") for (int l_ = 0; l_ < TM; l_++) {                                    \
    const int t_ = (PANEL) * TM + l_, r_ = t_ / (TW);                                    \
    go_[l_] = ((uint)(r_ / (TH)) * (PH) + (STEP) * (r_ % (TH))) * (RS) + (STEP) * (t_ % (TW)); \
  }

/* The lanes of a TM-wide vector, for F(l, .sl) per lane. */
#if TM == 8
#define WINO_LANES_TM(F) F(0, .s0) F(1, .s1) F(2, .s2) F(3, .s3) F(4, .s4) F(5, .s5) F(6, .s6) F(7, .s7)
#elif TM == 4
#define WINO_LANES_TM(F) F(0, .s0) F(1, .s1) F(2, .s2) F(3, .s3)
#endif

/* ---- The forward --------------------------------------------------------- */

/* Kept transformed weights (src/ops/conv_winograd.c): seen holds the
 * weights the kept transform was made from, [cout][cin][16] like w, both
 * zero at first (the transform of zero weights is zero). A work-item's
 * weights g[v][r] (rows r0 + 16v + r of the 16*NV it transforms, row r at
 * seen[base + r * rstep] ..., zero past rows) whose bits equal seen's keep
 * its part of the kept transform (1: nothing to store); else they replace
 * seen's (0: transform them). Each work-item owns its rows of seen and its
 * part of the transform, so no other one is waited for. */
static inline int wino_weights_seen(float16 g[NV][16], __global float *seen, int base,
                                    int rstep, int r0, int rows) {
  int same = 1;
  for (int v = 0; v < NV; v++)
    for (int r = 0; r < 16; r++) {
      const int ri = r0 + 16 * v + r;
      if (ri >= rows) break;
      const size_t at = ((size_t)base + (size_t)ri * rstep) * 16;
      same &= all(as_int16(g[v][r]) == as_int16(vload16(0, seen + at)));
    }
  if (same) return 1;
  for (int v = 0; v < NV; v++)
    for (int r = 0; r < 16; r++) {
      const int ri = r0 + 16 * v + r;
      if (ri >= rows) break;
      vstore16(g[v][r], 0, seen + ((size_t)base + (size_t)ri * rstep) * 16);
    }
  return 0;
}


/* One work-item per (image channel c, column panel of TN output
 * channels): 16 output channels' taps of c at a time transposed into one
 * vector per tap, so every transformed value is one 16-wide store, a
 * panel row's TN values back to back (zero for o >= cout): a work-item
 * that leaves half a row for another one to complete later made the
 * transform of `tutorial`'s D4 about twice as slow (cf. wino_adjt_weight). */
__kernel void wino_weight(int cin, int cout, __global const float *w, uint w_off,
                          __global float *up, uint up_off, __global float *seen, uint seen_off,
                          int skip_seen) {
  const int c = get_global_id(0), o0 = get_global_id(1) * TN;
  if (c >= cin) return;
  const size_t kdim = 4 * (size_t)cin;
  float16 g[NV][16]; /* g[v][o] = the 16 taps of (o0 + 16v + o, c), then g[v][tap] over o */
  for (int v = 0; v < NV; v++)
    for (int o = 0; o < 16; o++) {
      const int oi = o0 + 16 * v + o;
      g[v][o] = oi < cout ? vload16(0, w + w_off + ((size_t)oi * cin + c) * 16) : (float16)(0.0f);
    }
  if (skip_seen && wino_weights_seen(g, seen + seen_off, c, cin, o0, cout)) return;
  for (int v = 0; v < NV; v++) transpose16(g[v]);
  __global float *dst = up + up_off + (size_t)(o0 / TN) * WINO_A * WINO_A * kdim * TN;
#pragma unroll
  for (int pa = 0; pa < 2; pa++)
#pragma unroll
    for (int pb = 0; pb < 2; pb++) {
      /* the 2x2 sub-kernel g[a][b] = W[2a + pa][2b + pb], then G g G^T */
      float16 c0[NV][WINO_A], c1[NV][WINO_A], u[NV][WINO_A];
#pragma unroll
      for (int v = 0; v < NV; v++) {
        WINO_G(g[v][pa * 4 + pb], g[v][(2 + pa) * 4 + pb], c0[v]);         /* column b = 0 */
        WINO_G(g[v][pa * 4 + 2 + pb], g[v][(2 + pa) * 4 + 2 + pb], c1[v]); /* column b = 1 */
      }
      const size_t kk = (size_t)(2 * pa + pb) * cin + c;
#pragma unroll
      for (int i = 0; i < WINO_A; i++) {
#pragma unroll
        for (int v = 0; v < NV; v++) WINO_G(c0[v][i], c1[v][i], u[v]);
#pragma unroll
        for (int j = 0; j < WINO_A; j++)
#pragma unroll
          for (int v = 0; v < NV; v++)
            vstore16(u[v][j], 0, dst + ((size_t)(WINO_A * i + j) * kdim + kk) * TN + 16 * v);
      }
    }
}

/* The input transform of L tiles side by side (tx0 ..), one image channel,
 * into their L lanes from dst + lane0: channel kk = (2 * pa + pb) * cin + c
 * KS floats apart, position xi XS floats apart (the forward's row panel,
 * the weight gradient's rows of A). Each padded image row of the patches
 * read once (the taps of a column offset x are lanes 8l + x), the five
 * rows of a row parity transformed together. */
#define WINO_INPUT_TILES(VT, VSTORE, LOAD_ROW, KS, XS)                                   \
  do {                                                                                   \
    _Pragma("unroll") for (int pa = 0; pa < 2; pa++) {                                   \
      VT d[WINO_A][2 * WINO_A]; /* rows 2i + pa of the patches, column offsets 0..9 */  \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++) {                               \
        __global const float *r_ = src + (size_t)(2 * i + pa) * wp + 8 * tx0;            \
        LOAD_ROW(d[i], r_);                                                              \
      }                                                                                  \
      _Pragma("unroll") for (int pb = 0; pb < 2; pb++) {                                 \
        VT f[WINO_A][WINO_A]; /* B^T e by columns, e[r][s] = d[r][2s + pb] */            \
        _Pragma("unroll") for (int j = 0; j < WINO_A; j++) {                             \
          VT e_[WINO_A], t_[WINO_A];                                                     \
          _Pragma("unroll") for (int r = 0; r < WINO_A; r++) e_[r] = d[r][2 * j + pb];   \
          WINO_BT(e_, t_);                                                               \
          _Pragma("unroll") for (int r = 0; r < WINO_A; r++) f[r][j] = t_[r];            \
        }                                                                                \
        __global float *o_ = dst + ((size_t)(2 * pa + pb) * cin + c) * (KS) + lane0;     \
        _Pragma("unroll") for (int i = 0; i < WINO_A; i++) { /* (B^T e) B */             \
          VT v_[WINO_A];                                                                 \
          WINO_BT(f[i], v_);                                                             \
          _Pragma("unroll") for (int j = 0; j < WINO_A; j++)                             \
            VSTORE(v_[j], 0, o_ + (size_t)(WINO_A * i + j) * (XS));                      \
        }                                                                                \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define WINO_ROW4(D, R)                                                                  \
  do {                                                                                   \
    float16 a_ = vload16(0, R), b_ = vload16(0, (R) + 16);                               \
    D[0] = (float4)(a_.s08, b_.s08), D[1] = (float4)(a_.s19, b_.s19);                    \
    D[2] = (float4)(a_.s2a, b_.s2a), D[3] = (float4)(a_.s3b, b_.s3b);                    \
    D[4] = (float4)(a_.s4c, b_.s4c), D[5] = (float4)(a_.s5d, b_.s5d);                    \
    D[6] = (float4)(a_.s6e, b_.s6e), D[7] = (float4)(a_.s7f, b_.s7f);                    \
    D[8] = (float4)(a_.s8, b_.s08, (R)[32]), D[9] = (float4)(a_.s9, b_.s19, (R)[33]);    \
  } while (0)
#define WINO_ROW2(D, R)                                                                  \
  do {                                                                                   \
    float16 a_ = vload16(0, R);                                                          \
    D[0] = a_.s08, D[1] = a_.s19, D[2] = a_.s2a, D[3] = a_.s3b;                          \
    D[4] = a_.s4c, D[5] = a_.s5d, D[6] = a_.s6e, D[7] = a_.s7f;                          \
    D[8] = (float2)(a_.s8, (R)[16]), D[9] = (float2)(a_.s9, (R)[17]);                    \
  } while (0)
#define WINO_ROW1(D, R)                                                                  \
  do {                                                                                   \
    _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++) D[x_] = (R)[x_];           \
  } while (0)
#define WINO_STORE1(V, OFF, P) ((P)[OFF] = (V))

/* One work-item per (image channel c, row panel of TM tiles), over xp
 * [cin, n, hp, wp]: a tile's 10x10 patch at rows 8ty.., columns 8tx..
 * holds its four parities' 5x5 inputs (a partition of the patch but for
 * the shared rows and columns). The panel's tiles in lanes of 4 (2, 1)
 * side by side within a row of tiles, as the row length allows; a
 * work-item writes whole panel rows, and dimension 0 (the channels) their
 * neighbours. */
__kernel void wino_input(int cin, int n, int ho, int wo, int hp, int wp,
                         __global const float *xp, uint x_off, __global float *vp, uint vp_off) {
  const int c = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (c >= cin || panel * TM >= tiles) return;
  const size_t kdim = 4 * (size_t)cin;
  __global float *dst = vp + vp_off + (size_t)panel * WINO_A * WINO_A * kdim * TM;
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, hp, wp, 8)
    __global const float *src = xp + x_off + (size_t)c * n * hp * wp;
    const int tx0 = 0, lane0 = 0;
    WINO_INPUT_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ROWG, TM, kdim * TM);
    return;
  }
#endif
  WINO_PANEL_CHUNKS(lanes, t0) {
    const wino_chunk k = wino_chunk_at(t0, tw, th);
    const int tx0 = k.tx0, lane0 = k.lane0;
    __global const float *src = xp + x_off + (((size_t)c * n + k.b) * hp + 8 * k.ty) * wp;
    const size_t xs = kdim * TM;
    if (lanes == 4) WINO_INPUT_TILES(float4, vstore4, WINO_ROW4, TM, xs);
    else if (lanes == 2) WINO_INPUT_TILES(float2, vstore2, WINO_ROW2, TM, xs);
    else WINO_INPUT_TILES(float, WINO_STORE1, WINO_ROW1, TM, xs);
  }
}

/* The output transform of L tiles side by side from their products
 * (lanes of q), act applied, each output row's four columns per tile
 * interleaved across the tiles and stored as one vector. */
#define WINO_OUTPUT_TILES(VT, VLOAD, STORE_ROW)                                          \
  do {                                                                                   \
    VT s_[4][WINO_A]; /* A^T q by columns */                                             \
    _Pragma("unroll") for (int j = 0; j < WINO_A; j++) {                                 \
      VT q_[WINO_A], t_[4];                                                              \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++)                                 \
        q_[i] = VLOAD(0, src + (size_t)(WINO_A * i + j) * zs + tx0);                     \
      WINO_AT(q_, t_);                                                                   \
      _Pragma("unroll") for (int i = 0; i < 4; i++) s_[i][j] = t_[i];                    \
    }                                                                                    \
    _Pragma("unroll") for (int i = 0; i < 4; i++) {                                      \
      VT y_[4];                                                                          \
      WINO_AT(s_[i], y_);                                                                \
      STORE_ROW(y_, dst + (size_t)i * wo + 4 * tx0);                                     \
    }                                                                                    \
  } while (0)
/* tile l's columns y[0..3].l side by side: a 4x4 transpose */
#define WINO_OUT_ROW4(Y, P)                                                              \
  do {                                                                                   \
    float8 lo_ = shuffle2(Y[0], Y[1], (uint8)(0, 4, 1, 5, 2, 6, 3, 7));                  \
    float8 hi_ = shuffle2(Y[2], Y[3], (uint8)(0, 4, 1, 5, 2, 6, 3, 7));                  \
    float16 r_ = shuffle2(lo_, hi_, (uint16)(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, \
                                             14, 15));                                   \
    vstore16(epilogue_float16(r_, act, slope), 0, P);                                    \
  } while (0)
#define WINO_OUT_ROW2(Y, P)                                                              \
  do {                                                                                   \
    float8 r_ = shuffle2((float4)(Y[0], Y[1]), (float4)(Y[2], Y[3]),                     \
                         (uint8)(0, 2, 4, 6, 1, 3, 5, 7));                               \
    vstore8(epilogue_float8(r_, act, slope), 0, P);                                      \
  } while (0)
#define WINO_OUT_ROW1(Y, P)                                                              \
  vstore4(epilogue_float4((float4)(Y[0], Y[1], Y[2], Y[3]), act, slope), 0, P)
#define WINO_VLOAD1(OFF, P) ((P)[OFF])

/* tile l's output row: its four columns y[0..3] from lane l, at go_[l] */
#define WINO_OUT_ROWG_LANE(L, S)                                                         \
  vstore4(epilogue_float4((float4)(Y[0] S, Y[1] S, Y[2] S, Y[3] S), act, slope), 0, P + go_[L]);
#define WINO_OUT_ROWG(Y_, P_)                                                            \
  do {                                                                                   \
    __global float *P = (P_);                                                            \
    const WINO_VTM *Y = (Y_);                                                            \
    WINO_LANES_TM(WINO_OUT_ROWG_LANE)                                                    \
  } while (0)

/* One work-item per (row panel of TM tiles, output channel o): y [cout, n,
 * ho, wo], the panel's tiles in lanes of 4 (2, 1) side by side within a
 * row of tiles, their four output rows written left to right, or all TM
 * at once (wino_gathered), each lane's rows stored at its own tile;
 * dimension 0 (the panels) fills neighbouring output rows. */
__kernel void wino_output(int cout, int n, int ho, int wo, __global const float *m, uint m_off,
                          __global float *y, uint y_off, int act, float slope) {
  const int panel = get_global_id(0), o = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (panel * TM >= tiles || o >= cout) return;
  const size_t zs = (size_t)cout * tiles;
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, ho, wo, 4)
    __global const float *src = m + m_off + (size_t)o * tiles + panel * TM;
    __global float *dst = y + y_off + (size_t)o * n * ho * wo;
    const int tx0 = 0;
    WINO_OUTPUT_TILES(WINO_VTM, WINO_VLOAD_TM, WINO_OUT_ROWG);
    return;
  }
#endif
  WINO_PANEL_CHUNKS(lanes, t0) {
    const wino_chunk k = wino_chunk_at(t0, tw, th);
    const int tx0 = k.tx0;
    /* the chunk's row of tiles: outputs rows 4ty .. 4ty + 3 of image b */
    __global const float *src = m + m_off + (size_t)o * tiles + (t0 - tx0);
    __global float *dst = y + y_off + (((size_t)o * n + k.b) * ho + 4 * k.ty) * wo;
    if (lanes == 4) WINO_OUTPUT_TILES(float4, vload4, WINO_OUT_ROW4);
    else if (lanes == 2) WINO_OUTPUT_TILES(float2, vload2, WINO_OUT_ROW2);
    else WINO_OUTPUT_TILES(float, WINO_VLOAD1, WINO_OUT_ROW1);
  }
}

/* ---- The weight gradient of the same convs ---------------------------------
 * Per tap parity the forward is y = sum over a, b of g[a][b] d[i+a][j+b]
 * (d the parity's 5x5 inputs of a tile), so by the transposition of
 * Y = A^T [(G g G^T) .* (B^T d B)] A, a tile's share of the gradient is
 *   dg = G^T [(A dy A^T) .* (B^T d B)] G,
 * and the sum over the tiles (and images) runs inside, before G^T: 25
 * GEMMs dG_xi (K x cout) = V_xi^T Z_xi over the tiles, K = 4 * cin, one
 * launch of gemm_tile with its split of k over the positions (k = xi *
 * tiles + t), then one output transform per weight. B^T d B is the
 * forward's input transform (WINO_INPUT_TILES) in another layout.
 *   wino_filt_input: va[kk * 25 * tiles + xi * tiles + t], gemm_tile's A
 *     read in place (rows kk, a row's k contiguous); the forward's GEMM can
 *     read it in place too (rows t, k = kk 25 * tiles apart, a product xi
 *     tiles on), so where a plan has both products the image is
 *     transformed once (src/ops/conv_winograd.h: a Conv2d's forward keeps
 *     it for its weight gradient, a ConvTranspose2d's backward shares it);
 *   wino_filt_dy: Z = A dy A^T as its packed B panels,
 *     zb[(o / TN) * 25 * tiles * TN + (xi * tiles + t) * TN + o % TN]
 *     (zero for o >= cout);
 *   wino_filt_output: from the products m[(kk * 25 + xi) * m_row + o] (a
 *     channel's 25 sums together, rows of cout and a pad),
 *     dw[o, c, 2a + pa, 2b + pb] (+)= G^T M G of channel kk = (2 * pa +
 *     pb) * cin + c. */

/* O = A X: four values to five (A = (A^T)^T, the forward's A^T above). */
#define WINO_A5(X, O)                                                                    \
  do {                                                                                   \
    O[0] = X[0];                                                                         \
    O[1] = (X[0] + X[1]) + (X[2] + X[3]);                                                \
    O[2] = (X[0] - X[1]) + (X[2] - X[3]);                                                \
    O[3] = X[0] + (0.5f * X[1] + (0.25f * X[2] + 0.125f * X[3]));                        \
    O[4] = X[3];                                                                         \
  } while (0)

/* O = G^T X: five values to two. */
#define WINO_GT(X, O)                                                                    \
  do {                                                                                   \
    O[0] = (X[0] + 0.5f * X[1]) + (X[2] * (1.0f / 6.0f) + X[3] * (8.0f / 3.0f));         \
    O[1] = 0.5f * (X[1] + X[4]) + (X[3] * (4.0f / 3.0f) - X[2] * (1.0f / 6.0f));         \
  } while (0)

/* One work-item per (row panel of TM tiles, image channel c), over xp
 * [cin, n, hp, wp]: the panel's tiles in lanes of 4 side by side within a
 * row of tiles, or all TM at once (wino_gathered) where a row holds fewer:
 * with two tiles a row (`gray32`'s D2, batch 64, a 2-core Zen 4) the
 * forward keeping its transformed image took 1068-1088 us with pairs,
 * 922-928 gathered (the plain forward 990-1015); dimension 0 (the panels)
 * writes the neighbouring tiles of a row of A. */
__kernel void wino_filt_input(int cin, int n, int ho, int wo, int hp, int wp,
                              __global const float *xp, uint x_off, __global float *va,
                              uint va_off) {
  const int panel = get_global_id(0), c = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (panel * TM >= tiles || c >= cin) return;
  __global float *dst = va + va_off;
  const size_t ks = WINO_A * WINO_A * (size_t)tiles, xs = (size_t)tiles;
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, hp, wp, 8)
    __global const float *src = xp + x_off + (size_t)c * n * hp * wp;
    const int tx0 = 0, lane0 = panel * TM;
    WINO_INPUT_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ROWG, ks, xs);
    return;
  }
#endif
  WINO_PANEL_CHUNKS(lanes, t0) {
    const wino_chunk k = wino_chunk_at(t0, tw, th);
    const int tx0 = k.tx0, lane0 = t0;
    __global const float *src = xp + x_off + (((size_t)c * n + k.b) * hp + 8 * k.ty) * wp;
    if (lanes == 4) WINO_INPUT_TILES(float4, vstore4, WINO_ROW4, ks, xs);
    else if (lanes == 2) WINO_INPUT_TILES(float2, vstore2, WINO_ROW2, ks, xs);
    else WINO_INPUT_TILES(float, WINO_STORE1, WINO_ROW1, ks, xs);
  }
}

/* One work-item per (tile t, column panel of TN channels of dy [cout, n,
 * ho, wo]), 16 channels at a time: each channel's 4x4 outputs in one
 * vector, transposed so that each vector holds one position of the 16
 * channels, then A dy A^T; every transformed value one 16-wide store, the
 * work-item completing the panel rows it starts (cf. wino_weight). */
__kernel void wino_filt_dy(int cout, int n, int ho, int wo, __global const float *dy,
                           uint dy_off, __global float *zb, uint zb_off) {
  const int t = get_global_id(0), o0 = get_global_id(1) * TN;
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (t >= tiles) return;
  const int tx = t % tw, row = t / tw, ty = row % th, b = row / th;
  __global float *dst = zb + zb_off + ((size_t)(o0 / TN) * WINO_A * WINO_A * tiles + t) * TN;
  for (int v = 0; v < NV; v++) {
    float16 g[16]; /* g[o] = channel o0 + 16v + o's tile by rows, then g[4i + j] over o */
    for (int o = 0; o < 16; o++) {
      const int oi = o0 + 16 * v + o;
      __global const float *src = dy + dy_off + (((size_t)oi * n + b) * ho + 4 * ty) * wo + 4 * tx;
      g[o] = oi < cout ? (float16)(vload4(0, src), vload4(0, src + wo), vload4(0, src + 2 * wo),
                                   vload4(0, src + 3 * wo))
                       : (float16)(0.0f);
    }
    transpose16(g);
    float16 f[WINO_A][4]; /* A dy by columns */
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float16 x_[4], t_[WINO_A];
#pragma unroll
      for (int i = 0; i < 4; i++) x_[i] = g[4 * i + j];
      WINO_A5(x_, t_);
#pragma unroll
      for (int i = 0; i < WINO_A; i++) f[i][j] = t_[i];
    }
#pragma unroll
    for (int i = 0; i < WINO_A; i++) { /* (A dy) A^T */
      float16 z_[WINO_A];
      WINO_A5(f[i], z_);
#pragma unroll
      for (int j = 0; j < WINO_A; j++)
        vstore16(z_[j], 0, dst + (size_t)(WINO_A * i + j) * tiles * TN + 16 * v);
    }
  }
}

/* One work-item per (block of 16 output channels o0 .., image channel c):
 * the 16 taps of each (o, c) from its four parities' 25 sums, read as
 * vectors over the block (16 neighbouring sums), transformed, transposed
 * to one vector of taps per o and stored (added to beta times the old
 * ones). */
__kernel void wino_filt_output(int cin, int cout, __global const float *m, uint m_off, int m_row,
                               __global float *dw, uint dw_off, float beta) {
  const int o0 = get_global_id(0) * 16, c = get_global_id(1);
  if (o0 >= cout || c >= cin) return;
  const int nv = min(16, cout - o0); /* the block's channels */
  float16 taps[16]; /* taps[tap] over the block's o, then taps[o] over the taps */
#pragma unroll
  for (int pa = 0; pa < 2; pa++)
#pragma unroll
    for (int pb = 0; pb < 2; pb++) {
      __global const float *src =
          m + m_off + ((size_t)(2 * pa + pb) * cin + c) * WINO_A * WINO_A * m_row + o0;
      float16 r[2][WINO_A]; /* G^T M by columns */
#pragma unroll
      for (int j = 0; j < WINO_A; j++) {
        float16 q_[WINO_A], t_[2];
#pragma unroll
        for (int i = 0; i < WINO_A; i++) {
          __global const float *q = src + (size_t)(WINO_A * i + j) * m_row;
          if (nv == 16) q_[i] = vload16(0, q);
          else {
            float t[16];
            for (int l = 0; l < 16; l++) t[l] = l < nv ? q[l] : 0.0f;
            q_[i] = vload16(0, t);
          }
        }
        WINO_GT(q_, t_);
        r[0][j] = t_[0], r[1][j] = t_[1];
      }
#pragma unroll
      for (int a = 0; a < 2; a++) {
        float16 g_[2];
        WINO_GT(r[a], g_);
        taps[(2 * a + pa) * 4 + pb] = g_[0];
        taps[(2 * a + pa) * 4 + 2 + pb] = g_[1];
      }
    }
  transpose16(taps);
  for (int l = 0; l < nv; l++) {
    __global float *dst = dw + dw_off + ((size_t)(o0 + l) * cin + c) * 16;
    float16 v = taps[l];
    if (beta != 0.0f) v += beta * vload16(0, dst);
    vstore16(v, 0, dst);
  }
}

/* ---- The adjoint by the transposed form ------------------------------------
 * The forward's Y = A^T [U .* (B^T d B)] A (U = G g G^T) transposed: a
 * tile's share of the padded image's adjoint, per tap parity and channel
 * kk = (2 * pa + pb) * cin + c, is
 *   dd = B [sum over o of U[o][kk] .* (A dy A^T)] B^T    (5x5),
 * and the tiles' 5x5 windows of a parity plane overlap by one row and one
 * column (the plane of xp at rows 2r + pa, columns 2s + pb; dx = xp
 * shifted by the pad). 25 GEMMs M_xi (tiles x K) = Z_xi U_xi over the
 * cout channels of dy, one gemm_tile launch (k = xi * cout + o):
 *   wino_adjt_weight: U as packed B panels over kk,
 *     up[(kk / TN) * 25 * cout * TN + (xi * cout + o) * TN + kk % TN];
 *   wino_adjt_dy: Z = A dy A^T as packed A panels over the tiles,
 *     vp[(t / TM) * 25 * cout * TM + (xi * cout + o) * TM + t % TM];
 *   wino_adjt_output: from m[(kk * 25 + xi) * m_row + t] (stored
 *     transposed), each tile's 8x8 block of dx: its own window's values
 *     and, where the windows overlap, its neighbours' edge rows and
 *     columns, which B's first and last columns (unit vectors) make
 *     cheap: (B W B^T)[r][4] = 2 (B W[.][4])[r], [r][0] = (B W[.][0])[r],
 *     likewise for rows. */

/* O = B X (B = (B^T)^T): five values to five. */
#define WINO_B(X, O)                                                                     \
  do {                                                                                   \
    O[0] = X[0];                                                                         \
    O[1] = (X[3] + X[4]) - (2.0f * X[0] + (X[1] + X[2]));                                \
    O[2] = (X[1] - X[0]) + (3.0f * X[2] - 2.0f * X[4]);                                  \
    O[3] = 2.0f * ((X[0] + X[1]) - X[2]) - (X[3] + X[4]);                                \
    O[4] = 2.0f * X[4];                                                                  \
  } while (0)

/* One work-item per (output channel o of the conv, TN image channels c0
 * ..): their taps transposed 16 channels at a time into one vector per
 * tap, G g G^T per parity, a panel row's TN columns kk stored back to back
 * (lane by lane where the channels cross a parity's cin or the image's
 * last channel). Each work-item writing whole rows, not halves that
 * another work-item completes later, halved the time of `tutorial`'s D4
 * transform. */
__kernel void wino_adjt_weight(int cin, int cout, __global const float *w, uint w_off,
                               __global float *up, uint up_off, __global float *seen,
                               uint seen_off, int skip_seen) {
  const int o = get_global_id(0), c0 = get_global_id(1) * TN;
  if (o >= cout || c0 >= cin) return;
  float16 g[NV][16]; /* g[v][c] = the 16 taps of (o, c0 + 16v + c), then g[v][tap] over c */
  for (int v = 0; v < NV; v++)
    for (int c = 0; c < 16; c++) {
      const int ci = c0 + 16 * v + c;
      g[v][c] = ci < cin ? vload16(0, w + w_off + ((size_t)o * cin + ci) * 16) : (float16)(0.0f);
    }
  if (skip_seen && wino_weights_seen(g, seen + seen_off, o * cin, 1, c0, cin)) return;
  for (int v = 0; v < NV; v++) transpose16(g[v]);
  const int whole = cin % TN == 0; /* the TN columns of one panel row */
  const size_t kpos = WINO_A * WINO_A * (size_t)cout; /* a panel's rows */
#pragma unroll
  for (int pa = 0; pa < 2; pa++)
#pragma unroll
    for (int pb = 0; pb < 2; pb++) {
      float16 c0v[NV][WINO_A], c1v[NV][WINO_A], u[NV][WINO_A];
#pragma unroll
      for (int v = 0; v < NV; v++) {
        WINO_G(g[v][pa * 4 + pb], g[v][(2 + pa) * 4 + pb], c0v[v]);         /* column b = 0 */
        WINO_G(g[v][pa * 4 + 2 + pb], g[v][(2 + pa) * 4 + 2 + pb], c1v[v]); /* column b = 1 */
      }
      const int kk0 = (2 * pa + pb) * cin + c0;
#pragma unroll
      for (int i = 0; i < WINO_A; i++) {
#pragma unroll
        for (int v = 0; v < NV; v++) WINO_G(c0v[v][i], c1v[v][i], u[v]);
#pragma unroll
        for (int j = 0; j < WINO_A; j++) {
          const size_t row = (size_t)(WINO_A * i + j) * cout + o;
#pragma unroll
          for (int v = 0; v < NV; v++) {
            if (whole) {
              vstore16(u[v][j], 0, up + up_off + ((size_t)(kk0 / TN) * kpos + row) * TN + 16 * v);
            } else {
              float t[16];
              vstore16(u[v][j], 0, t);
              for (int l = 0; l < 16 && c0 + 16 * v + l < cin; l++) {
                const int kk = kk0 + 16 * v + l;
                up[up_off + ((size_t)(kk / TN) * kpos + row) * TN + kk % TN] = t[l];
              }
            }
          }
        }
      }
    }
}

/* A d A^T of L tiles side by side (lanes) into their panel lanes. */
#define WINO_ADJT_DY_TILES(VT, VSTORE, LOAD_ROW)                                         \
  do {                                                                                   \
    VT d[4][4], f[WINO_A][4];                                                            \
    _Pragma("unroll") for (int i = 0; i < 4; i++) LOAD_ROW(d[i], src + (size_t)i * ws);  \
    _Pragma("unroll") for (int j = 0; j < 4; j++) { /* A d by columns */                 \
      VT x_[4], t_[WINO_A];                                                              \
      _Pragma("unroll") for (int i = 0; i < 4; i++) x_[i] = d[i][j];                     \
      WINO_A5(x_, t_);                                                                   \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++) f[i][j] = t_[i];                \
    }                                                                                    \
    _Pragma("unroll") for (int i = 0; i < WINO_A; i++) { /* (A d) A^T */                 \
      VT z_[WINO_A];                                                                     \
      WINO_A5(f[i], z_);                                                                 \
      _Pragma("unroll") for (int j = 0; j < WINO_A; j++)                                 \
        VSTORE(z_[j], 0, o_ + (size_t)(WINO_A * i + j) * cout * TM);                     \
    }                                                                                    \
  } while (0)
/* A row of L tiles' four columns, tiles 4 floats apart: d[j] lane l = R[4l + j]. */
#define WINO_ADJT_ROW4(D, R)                                                             \
  do {                                                                                   \
    float16 r_ = vload16(0, R);                                                          \
    D[0] = r_.s048c, D[1] = r_.s159d, D[2] = r_.s26ae, D[3] = r_.s37bf;                  \
  } while (0)
#define WINO_ADJT_ROW2(D, R)                                                             \
  do {                                                                                   \
    float8 r_ = vload8(0, R);                                                            \
    D[0] = r_.s04, D[1] = r_.s15, D[2] = r_.s26, D[3] = r_.s37;                          \
  } while (0)
#define WINO_ADJT_ROW1(D, R)                                                             \
  do {                                                                                   \
    float4 r_ = vload4(0, R);                                                            \
    D[0] = r_.s0, D[1] = r_.s1, D[2] = r_.s2, D[3] = r_.s3;                              \
  } while (0)

#define WINO_ADJT_ROWG(D, R)                                                             \
  do {                                                                                   \
    _Pragma("unroll") for (int x_ = 0; x_ < 4; x_++) D[x_] = WINO_GTM(R, x_);            \
  } while (0)

/* One work-item per (channel o of dy, row panel of TM tiles), over dy
 * [cout, n, ho, wo] stored with planes of hs rows of ws floats (dy itself,
 * or dy padded by 1 with dy_off at its first value). */
__kernel void wino_adjt_dy(int cout, int n, int ho, int wo, int hs, int ws,
                           __global const float *dy, uint dy_off, __global float *vp,
                           uint vp_off) {
  const int o = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (o >= cout || panel * TM >= tiles) return;
  __global float *dst = vp + vp_off + (size_t)panel * WINO_A * WINO_A * cout * TM;
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, hs, ws, 4)
    __global const float *src = dy + dy_off + (size_t)o * n * hs * ws;
    __global float *o_ = dst + (size_t)o * TM;
    WINO_ADJT_DY_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ADJT_ROWG);
    return;
  }
#endif
  WINO_PANEL_CHUNKS(lanes, t0) {
    const wino_chunk k = wino_chunk_at(t0, tw, th);
    __global const float *src =
        dy + dy_off + (((size_t)o * n + k.b) * hs + 4 * k.ty) * ws + 4 * k.tx0;
    __global float *o_ = dst + (size_t)o * TM + k.lane0;
    if (lanes == 4) WINO_ADJT_DY_TILES(float4, vstore4, WINO_ADJT_ROW4);
    else if (lanes == 2) WINO_ADJT_DY_TILES(float2, vstore2, WINO_ADJT_ROW2);
    else WINO_ADJT_DY_TILES(float, WINO_STORE1, WINO_ADJT_ROW1);
  }
}

/* Lane shifts over L tiles side by side: each lane takes its left (right)
 * neighbour's value, the first (last) lane the tile E beyond the chunk. */
#define WINO_SHL4(V, E) ((float4)((E), (V).s012))
#define WINO_SHR4(V, E) ((float4)((V).s123, (E)))
#define WINO_SHL2(V, E) ((float2)((E), (V).s0))
#define WINO_SHR2(V, E) ((float2)((V).s1, (E)))
#define WINO_SHL1(V, E) (E)
#define WINO_SHR1(V, E) (E)

/* m's value (position xi, tile t) of the class's channel, 0 where no such
 * tile (ok 0). */
#define WINO_ADJT_AT(XI, T, OK) ((OK) ? src[(size_t)(XI) * m_row + (T)] : 0.0f)

/* The class (pa, pb)'s share of L tiles' dx blocks: O[r'][s'] for the
 * window rows r = r' + (1 - pa) and columns s = s' + (1 - pb) of each
 * tile, with the neighbour whose window overlaps at the edge row er = 4pa'
 * (the tile above for pa = 1, below for pa = 0), the edge column, and the
 * diagonal one at the corner. */
#define WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, PA, PB, O)                                  \
  do {                                                                                   \
    __global const float *src = m + m_off + ((size_t)(2 * (PA) + (PB)) * cin + c) * WINO_A * WINO_A * m_row; \
    VT w_[WINO_A][WINO_A], q_[WINO_A][WINO_A];                                           \
    _Pragma("unroll") for (int i = 0; i < WINO_A; i++)                                   \
      _Pragma("unroll") for (int j = 0; j < WINO_A; j++)                                 \
        w_[i][j] = VLOAD(0, src + (size_t)(WINO_A * i + j) * m_row + t0);                \
    _Pragma("unroll") for (int j = 0; j < WINO_A; j++) { /* B w by columns */            \
      VT x_[WINO_A], t_[WINO_A];                                                         \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++) x_[i] = w_[i][j];               \
      WINO_B(x_, t_);                                                                    \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++) q_[i][j] = t_[i];               \
    }                                                                                    \
    _Pragma("unroll") for (int i = 0; i < WINO_A; i++) { /* (B w) B^T */                 \
      VT t_[WINO_A];                                                                     \
      WINO_B(q_[i], t_);                                                                 \
      _Pragma("unroll") for (int j = 0; j < WINO_A; j++) q_[i][j] = t_[j];               \
    }                                                                                    \
    /* the neighbour column: the left tiles' w[.][4] (pb 1) or the right    \
     * tiles' w[.][0] (pb 0), B applied, times 2 for column 4 */                         \
    const int ec = (PB) ? 4 : 0, er = (PA) ? 4 : 0;                                      \
    const int side_ok = (PB) ? tx0 > 0 : tx0 + lanes < tw;                               \
    const int side_t = (PB) ? t0 - 1 : t0 + lanes;                                       \
    VT hx_[WINO_A], hn_[WINO_A];                                                         \
    _Pragma("unroll") for (int i = 0; i < WINO_A; i++) {                                 \
      const float e_ = WINO_ADJT_AT(WINO_A * i + ec, side_t, side_ok);                   \
      hx_[i] = (PB) ? SHL(w_[i][ec], e_) : SHR(w_[i][ec], e_);                           \
    }                                                                                    \
    WINO_B(hx_, hn_);                                                                    \
    /* the neighbour row: the tiles above (pa 1, their row 4) or below */               \
    const int vert_ok = (PA) ? ty > 0 : ty < th - 1;                                     \
    const int vert_t = (PA) ? t0 - tw : t0 + tw;                                         \
    VT vx_[WINO_A], vn_[WINO_A];                                                         \
    _Pragma("unroll") for (int j = 0; j < WINO_A; j++)                                   \
      vx_[j] = vert_ok ? VLOAD(0, src + (size_t)(WINO_A * er + j) * m_row + vert_t)     \
                       : (VT)(0.0f);                                                     \
    WINO_B(vx_, vn_);                                                                    \
    /* the diagonal neighbour's corner: of the vertical ones, shifted */                 \
    const float ce_ = WINO_ADJT_AT(WINO_A * er + ec, vert_t + side_t - t0, vert_ok && side_ok); \
    const VT cn_ = (PB) ? SHL(vx_[ec], ce_) : SHR(vx_[ec], ce_);                         \
    const float hs_ = (PB) ? 2.0f : 1.0f, vs_ = (PA) ? 2.0f : 1.0f;                      \
    _Pragma("unroll") for (int r_ = 0; r_ < 4; r_++)                                     \
      _Pragma("unroll") for (int s_ = 0; s_ < 4; s_++) {                                 \
        const int r = r_ + 1 - (PA), s = s_ + 1 - (PB);                                  \
        VT v_ = q_[r][s];                                                                \
        if (s == 4 - ec) v_ += hs_ * hn_[r];                                             \
        if (r == 4 - er) v_ += vs_ * vn_[s];                                             \
        if (s == 4 - ec && r == 4 - er) v_ += (hs_ * vs_) * cn_;                         \
        O[r_][s_] = v_;                                                                  \
      }                                                                                  \
  } while (0)

#define WINO_ADJT_OUTPUT_TILES(VT, VLOAD, SHL, SHR, OUT)                                 \
  do {                                                                                   \
    VT o11[4][4], o10[4][4], o01[4][4], o00[4][4];                                       \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, 1, 1, o11);                                     \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, 1, 0, o10);                                     \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, 0, 1, o01);                                     \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, 0, 0, o00);                                     \
    _Pragma("unroll") for (int r_ = 0; r_ < 4; r_++) {                                   \
      const size_t even = (size_t)(2 * r_) * w + 8 * tx0, odd = even + w;                \
      OUT(o11[r_], o10[r_], dst + even, act_y + even);                                   \
      OUT(o01[r_], o00[r_], dst + odd, act_y + odd);                                     \
    }                                                                                    \
  } while (0)

/* A tile's 8 values of one dx row from the two classes of its row parity:
 * Y0's at the even columns, Y1's at the odd ones; S: the tile's lane.
 * Stored times act'(y) where act is given. */
#define WINO_ADJ_TILE8(Y0, Y1, S)                                                        \
  (float8)(Y0[0] S, Y1[0] S, Y0[1] S, Y1[1] S, Y0[2] S, Y1[2] S, Y0[3] S, Y1[3] S)
#define WINO_ADJ_STORE8(V, P, YP)                                                        \
  do {                                                                                   \
    float8 v_ = (V);                                                                     \
    if (act != CLGAN_ACT_NONE) v_ = tile_dact_float8(v_, vload8(0, YP), act, slope);     \
    vstore8(v_, 0, P);                                                                   \
  } while (0)
#define WINO_ADJ_OUT4(Y0, Y1, P, YP)                                                     \
  do {                                                                                   \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s0), P, YP);                                 \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s1), (P) + 8, (YP) + 8);                     \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s2), (P) + 16, (YP) + 16);                   \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s3), (P) + 24, (YP) + 24);                   \
  } while (0)
#define WINO_ADJ_OUT2(Y0, Y1, P, YP)                                                     \
  do {                                                                                   \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s0), P, YP);                                 \
    WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, .s1), (P) + 8, (YP) + 8);                     \
  } while (0)
#define WINO_ADJ_OUT1(Y0, Y1, P, YP) WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, ), P, YP)

/* Panels of one-tile images: tile l's dx row from lane l at go_[l]. */
#define WINO_ADJ_OUTG_LANE(L, S)                                                         \
  WINO_ADJ_STORE8(WINO_ADJ_TILE8(Y0, Y1, S), P + go_[L], YP + go_[L]);
#define WINO_ADJ_OUTG(Y0_, Y1_, P_, YP_)                                                 \
  do {                                                                                   \
    const WINO_VTM *Y0 = (Y0_), *Y1 = (Y1_);                                             \
    __global float *P = (P_);                                                            \
    __global const float *YP = (YP_);                                                    \
    WINO_LANES_TM(WINO_ADJ_OUTG_LANE)                                                    \
  } while (0)
/* no neighbours: every lane's shifted-in value is zero */
#define WINO_SHL0(V, E) ((WINO_VTM)(0.0f))
#define WINO_SHR0(V, E) ((WINO_VTM)(0.0f))

/* One work-item per (row of tiles (b, ty), image channel c): dx [cin, n, h,
 * w], the row's 8 dx rows (8ty .. 8ty + 7) written left to right, each
 * tile's 8x8 block (dx row 8ty + 2r' + 1 - pa, column 8tx + 2s' + 1 - pb
 * from class (pa, pb)), times act'(y) where act is given. Over images of
 * one tile (CLGAN_WINO_ADJT_BY_PANELS), dimension 0 is a row panel of TM
 * tiles instead, all at once where whole (`gray32`'s D3, G2). */
__kernel void wino_adjt_output(int cin, int n, int ho, int wo, __global const float *m,
                               uint m_off, int m_row, __global float *dx, uint dx_off,
                               __global const float *y, uint y_off, int act, float slope) {
  const int tw = wo / 4, th = ho / 4, w = 2 * wo;
  const int c = get_global_id(1);
  int row = get_global_id(0), row_end = row + 1;
  if (c >= cin) return;
  if (CLGAN_WINO_ADJT_BY_PANELS(tw, th)) { /* a row is a tile: the panel's */
    const int panel = row;
    row = panel * TM, row_end = min(n, row + TM);
#if WINO_GATHER
    if (wino_gathered(panel, n, tw)) {
      const int lanes = TM, tx0 = 0, ty = 0, t0 = row;
      WINO_GATHER_OFFSETS(panel, tw, th, 2 * ho, w, 8)
      const size_t base = (size_t)c * n * 2 * ho * w;
      __global float *dst = dx + dx_off + base;
      __global const float *act_y = y + y_off + (act != CLGAN_ACT_NONE ? base : 0);
      WINO_ADJT_OUTPUT_TILES(WINO_VTM, WINO_VLOAD_TM, WINO_SHL0, WINO_SHR0, WINO_ADJ_OUTG);
      return;
    }
#endif
  }
  for (; row < min(row_end, n * th); row++) {
    const int ty = row % th;
    const size_t base = ((size_t)c * n * 2 * ho + 8 * (size_t)row) * w;
    __global float *dst = dx + dx_off + base;
    __global const float *act_y = y + y_off + (act != CLGAN_ACT_NONE ? base : 0);
    const int lanes = wino_row_lanes(tw);
    for (int tx0 = 0; tx0 < tw; tx0 += lanes) {
      const int t0 = row * tw + tx0;
      if (lanes == 4) WINO_ADJT_OUTPUT_TILES(float4, vload4, WINO_SHL4, WINO_SHR4, WINO_ADJ_OUT4);
      else if (lanes == 2) WINO_ADJT_OUTPUT_TILES(float2, vload2, WINO_SHL2, WINO_SHR2, WINO_ADJ_OUT2);
      else WINO_ADJT_OUTPUT_TILES(float, WINO_VLOAD1, WINO_SHL1, WINO_SHR1, WINO_ADJ_OUT1);
    }
  }
}
