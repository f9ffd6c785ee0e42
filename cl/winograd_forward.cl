/* ---- The forward (after cl/winograd.cl, in its program) -------------------
 * Its 25 products are one gemm_tile launch (k = xi * K + kk):
 *   wino_weight: U (G g G^T) as gemm_tile's packed panels of B,
 *     up[(o / TN) * 25K * TN + k * TN + o % TN] (zero for o >= cout);
 *   wino_input: V (B^T d B) as its packed panels of A, for the tiles
 *     t = (b, ty, tx): vp[(t / TM) * 25 * zs + xi * zs + kk * TM + t % TM]
 *     (zs = K * TM and a pad: src/ops/conv_winograd.c's a_pos_stride);
 *   wino_output: from the products, stored transposed per position,
 *     m[xi * zs + o * m_row + t] (m_row = tiles and a pad, zs = cout * m_row
 *     and a pad: src/ops/conv_winograd.c's m_pos_stride), the 4x4 outputs of each tile,
 *     with the forward's fused activation (cl/gemm_tile.cl's epilogue). */

/* One work-item per (image channel c, column panel of TN output
 * channels): 16 output channels' taps of c at a time transposed into one
 * vector per tap, so every transformed value is one 16-wide store, a
 * panel row's TN values back to back (zero for o >= cout): a work-item
 * that leaves half a row for another one to complete later made the
 * transform of `tutorial`'s D4 about twice as slow (cf. wino_adjt_weight). */
__kernel void wino_weight(int cin, int cout, __global const float *w, uint w_off,
                          __global float *up, uint up_off, __global float *seen, uint seen_off,
                          int skip_seen, int stream) {
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
            WINO_VSTORE16_NT(u[v][j], dst + ((size_t)(WINO_A * i + j) * kdim + kk) * TN + 16 * v, stream);
      }
    }
}

/* One work-item per (image channel c, row panel of TM tiles), over xp
 * [cin, n, hp, wp] (padded by 1, or as it is: implicit): a tile's 10x10 patch at rows 8ty.., columns 8tx..
 * holds its four parities' 5x5 inputs (a partition of the patch but for
 * the shared rows and columns). The panel's tiles in lanes of 4 (2, 1)
 * side by side within a row of tiles, as the row length allows; a
 * work-item writes whole panel rows, and dimension 0 (the channels) their
 * neighbours. */
__kernel void wino_input(int cin, int n, int ho, int wo, int hp, int wp,
                         __global const float *xp, uint x_off, __global float *vp, uint vp_off,
                         uint zs) {
  const int c = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (c >= cin || panel * TM >= tiles) return;
  __global float *dst = vp + vp_off + (size_t)panel * WINO_A * WINO_A * zs;
  const int implicit = hp == 2 * ho; /* xp as it is, not padded (cl/winograd.cl) */
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, hp, wp, 8)
    __global const float *src = xp + x_off + (size_t)c * n * hp * wp;
    const int tx0 = 0, lane0 = 0;
    if (implicit) {
      WINO_GATHER_EDGES(panel, tw, th)
      WINO_INPUT_GZ(TM, zs);
    } else {
      WINO_INPUT_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ROWG, TM, zs);
    }
    return;
  }
#endif
  if (implicit && wino_row_lanes(tw) == 4 && TM % 4 == 0) { /* rows of four tiles */
    WINO_PANEL_CHUNKS(lanes, t0) {
      const wino_chunk k = wino_chunk_at(t0, tw, th);
      const int tx0 = k.tx0, ty = k.ty, lane0 = k.lane0;
      __global const float *src = xp + x_off + ((size_t)c * n + k.b) * hp * wp;
      const size_t xs = zs;
      WINO_INPUT_TILES(float4, vstore4, WINO_ROW4Z, TM, xs);
    }
    return;
  }
  if (implicit) {
    for (int t0 = panel * TM; t0 < min(tiles, (panel + 1) * TM); t0++) {
      const wino_chunk k = wino_chunk_at(t0, tw, th);
      const int tx0 = k.tx0, ty = k.ty, lane0 = k.lane0, e_ = wino_edges(tx0, ty, tw, th);
      __global const float *src = xp + x_off + ((size_t)c * n + k.b) * hp * wp;
      WINO_INPUT_TILES(float, WINO_STORE1, WINO_ROW1Z, TM, zs);
    }
    return;
  }
  WINO_PANEL_CHUNKS(lanes, t0) {
    const wino_chunk k = wino_chunk_at(t0, tw, th);
    const int tx0 = k.tx0, lane0 = k.lane0;
    __global const float *src = xp + x_off + (((size_t)c * n + k.b) * hp + 8 * k.ty) * wp;
    const size_t xs = zs;
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
                          __global float *y, uint y_off, int act, float slope, uint zs,
                          int m_row) {
  const int panel = get_global_id(0), o = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (panel * TM >= tiles || o >= cout) return;
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, ho, wo, 4)
    __global const float *src = m + m_off + (size_t)o * m_row + panel * TM;
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
    __global const float *src = m + m_off + (size_t)o * m_row + (t0 - tx0);
    __global float *dst = y + y_off + (((size_t)o * n + k.b) * ho + 4 * k.ty) * wo;
    if (lanes == 4) WINO_OUTPUT_TILES(float4, vload4, WINO_OUT_ROW4);
    else if (lanes == 2) WINO_OUTPUT_TILES(float2, vload2, WINO_OUT_ROW2);
    else WINO_OUTPUT_TILES(float, WINO_VLOAD1, WINO_OUT_ROW1);
  }
}
