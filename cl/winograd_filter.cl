/* ---- The weight gradient (after cl/winograd.cl, in its program) -----------
 * Per tap parity the forward is y = sum over a, b of g[a][b] d[i+a][j+b]
 * (d the parity's 5x5 inputs of a tile), so by the transposition of
 * Y = A^T [(G g G^T) .* (B^T d B)] A, a tile's share of the gradient is
 *   dg = G^T [(A dy A^T) .* (B^T d B)] G,
 * and the sum over the tiles (and images) runs inside, before G^T: 25
 * GEMMs dG_xi (K x cout) = V_xi^T Z_xi over the tiles, K = 4 * cin, one
 * launch of gemm_tile with its split of k over the positions (k = xi *
 * tiles + t), then one output transform per weight. B^T d B is the
 * forward's input transform (WINO_INPUT_TILES) in another layout.
 *   wino_filt_input: va[kk * ks + xi * xs + t] (xs = tiles and a pad,
 *     ks = 25 xs and a pad: src/ops/conv_winograd.c's v_chan_stride),
 *     gemm_tile's A read in place (rows kk, a product's k contiguous); the
 *     forward's GEMM can read it in place too (rows t, k = kk ks apart, a
 *     product xs on), so where a plan has both products the image is
 *     transformed once (src/ops/conv_winograd.h: a Conv2d's forward keeps
 *     it for its weight gradient, a ConvTranspose2d's backward shares it);
 *   wino_filt_dy: Z = A dy A^T as its packed B panels,
 *     zb[(o / TN) * 25 * tiles * TN + (xi * tiles + t) * TN + o % TN]
 *     (zero for o >= cout);
 *   wino_filt_output: from the products m[(kk * 25 + xi) * m_row + o] (a
 *     channel's 25 sums together, rows of cout and a pad),
 *     dw[o, c, 2a + pa, 2b + pb] (+)= G^T M G of channel kk = (2 * pa +
 *     pb) * cin + c. */

/* O = G^T X: five values to two. */
#define WINO_GT(X, O)                                                                    \
  do {                                                                                   \
    O[0] = (X[0] + 0.5f * X[1]) + (X[2] * (1.0f / 6.0f) + X[3] * (8.0f / 3.0f));         \
    O[1] = 0.5f * (X[1] + X[4]) + (X[3] * (4.0f / 3.0f) - X[2] * (1.0f / 6.0f));         \
  } while (0)

/* One work-item per (row panel of TM tiles, image channel c), over xp
 * [cin, n, hp, wp] (padded by 1, or as it is: implicit): the panel's tiles in lanes of 4 side by side within a
 * row of tiles, or all TM at once (wino_gathered) where a row holds fewer:
 * with two tiles a row (`gray32`'s D2, batch 64, a 2-core Zen 4) the
 * forward keeping its transformed image took 1068-1088 us with pairs,
 * 922-928 gathered (the plain forward 990-1015); dimension 0 (the panels)
 * writes the neighbouring tiles of a row of A. */
__kernel void wino_filt_input(int cin, int n, int ho, int wo, int hp, int wp,
                              __global const float *xp, uint x_off, __global float *va,
                              uint va_off, uint xs, uint ks) {
  const int panel = get_global_id(0), c = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (panel * TM >= tiles || c >= cin) return;
  __global float *dst = va + va_off;
  const int implicit = hp == 2 * ho; /* xp as it is, not padded (cl/winograd.cl) */
#if WINO_GATHER
  if (wino_gathered(panel, tiles, tw)) {
    WINO_GATHER_OFFSETS(panel, tw, th, hp, wp, 8)
    __global const float *src = xp + x_off + (size_t)c * n * hp * wp;
    const int tx0 = 0, lane0 = panel * TM;
    if (implicit) {
      WINO_GATHER_EDGES(panel, tw, th)
      WINO_INPUT_GZ(ks, xs);
    } else {
      WINO_INPUT_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ROWG, ks, xs);
    }
    return;
  }
#endif
  if (implicit && wino_row_lanes(tw) == 4 && TM % 4 == 0) { /* rows of four tiles */
    WINO_PANEL_CHUNKS(lanes, t0) {
      const wino_chunk k = wino_chunk_at(t0, tw, th);
      const int tx0 = k.tx0, ty = k.ty, lane0 = t0;
      __global const float *src = xp + x_off + ((size_t)c * n + k.b) * hp * wp;
      WINO_INPUT_TILES(float4, vstore4, WINO_ROW4Z, ks, xs);
    }
    return;
  }
  if (implicit) {
    for (int t0 = panel * TM; t0 < min(tiles, (panel + 1) * TM); t0++) {
      const wino_chunk k = wino_chunk_at(t0, tw, th);
      const int tx0 = k.tx0, ty = k.ty, lane0 = t0, e_ = wino_edges(tx0, ty, tw, th);
      __global const float *src = xp + x_off + ((size_t)c * n + k.b) * hp * wp;
      WINO_INPUT_TILES(float, WINO_STORE1, WINO_ROW1Z, ks, xs);
    }
    return;
  }
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
