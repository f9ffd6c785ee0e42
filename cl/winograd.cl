/* Winograd F(2x2, 2x2) for the forward of a k 4, stride 2, pad 1 conv
 * (src/ops/conv_winograd.h). Split by the parities (pa, pb) of its taps,
 * such a conv is a stride-1 2x2 correlation over 4 * cin channels:
 *   y[o, i, j] = sum over (pa, pb, c) and a, b in {0, 1} of
 *                W[o, c, 2a+pa, 2b+pb] * xp[c, 2(i+a)+pa, 2(j+b)+pb]
 * (xp: the image padded by 1). Each 2x2 output tile then takes 9 products
 * per channel instead of 16:
 *   Y = A^T [(G g G^T) .* (B^T d B)] A,
 *   B^T = [1 -1 0; 0 1 0; 0 -1 1], G = [1 0; 1 1; 0 1], A^T = [1 1 0; 0 1 1]
 * (every coefficient 0 or +-1: the transforms add no rounding beyond a few
 * additions). The 9 element-wise products summed over the channels are 9
 * GEMMs, one launch of cl/gemm.cl's gemm_tile with its split of k over the
 * 9 positions xi = 3 * row + column: kk = (2 * pa + pb) * cin + c runs over
 * the K = 4 * cin channels of a position, k = xi * K + kk.
 *   wino_weight: U (G g G^T) as gemm_tile's packed panels of B,
 *     up[(o / TN) * 9K * TN + k * TN + o % TN] (zero for o >= cout);
 *   wino_input: V (B^T d B) as its packed panels of A,
 *     vp[(t / TM) * 9K * TM + k * TM + t % TM] for the tiles t = (b, ty, tx)
 *     (zero for t past the last tile);
 *   wino_output: from the products, stored transposed per position,
 *     m[xi * cout * tiles + o * tiles + t], the 2x2 outputs of each tile,
 *     with the forward's fused activation (cl/gemm.cl's epilogue formulas).
 * TM and NV come from the build options, TN and transpose16 from
 * cl/gemm_tile.cl (built before this file), as for cl/gemm.cl. */

/* One work-item per (image channel c, block of 16 output channels): the
 * block's 16 taps of c transposed into one vector per tap (16 output
 * channels), so every transformed value is one 16-wide store into a
 * column panel (zero for o >= cout). */
__kernel void wino_weight(int cin, int cout, __global const float *w, uint w_off,
                          __global float *up, uint up_off) {
  const int c = get_global_id(0), o0 = get_global_id(1) * 16;
  if (c >= cin) return;
  const size_t kdim = 4 * (size_t)cin;
  float16 g[16]; /* g[o] = the 16 taps of (o0 + o, c), then g[tap] over o */
  for (int o = 0; o < 16; o++)
    g[o] = o0 + o < cout ? vload16(0, w + w_off + ((size_t)(o0 + o) * cin + c) * 16) : (float16)(0.0f);
  transpose16(g);
  __global float *dst = up + up_off + (size_t)(o0 / TN) * 9 * kdim * TN + o0 % TN;
  for (int pa = 0; pa < 2; pa++)
    for (int pb = 0; pb < 2; pb++) {
      /* the 2x2 sub-kernel g[a][b] = W[2a + pa][2b + pb], then G g G^T */
      float16 g00 = g[pa * 4 + pb], g01 = g[pa * 4 + 2 + pb];
      float16 g10 = g[(2 + pa) * 4 + pb], g11 = g[(2 + pa) * 4 + 2 + pb];
      float16 t[3][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g10, g11}};
      const size_t kk = (size_t)(2 * pa + pb) * cin + c;
      for (int i = 0; i < 3; i++) {
        vstore16(t[i][0], 0, dst + ((size_t)(3 * i) * kdim + kk) * TN);
        vstore16(t[i][0] + t[i][1], 0, dst + ((size_t)(3 * i + 1) * kdim + kk) * TN);
        vstore16(t[i][1], 0, dst + ((size_t)(3 * i + 2) * kdim + kk) * TN);
      }
    }
}

/* The input transform of L tiles side by side (tx0 ..), one image channel,
 * into their lanes of a row panel (lane0 = their first tile's lane): each
 * padded image row of the patches read once (L = 4: one 16-float load and
 * two floats; the taps of a column offset x are lanes 4l + x), the 3 rows
 * of a row parity transformed together. */
#define WINO_INPUT_TILES(L, VT, VSTORE, LOAD_ROW)                                        \
  do {                                                                                   \
    _Pragma("unroll") for (int pa = 0; pa < 2; pa++) {                                   \
      VT d[3][6]; /* rows 2i + pa of the patches, column offsets 0..5 */                 \
      _Pragma("unroll") for (int i = 0; i < 3; i++) {                                    \
        __global const float *r_ = src + (size_t)(2 * i + pa) * wp + 4 * tx0;            \
        LOAD_ROW(d[i], r_);                                                              \
      }                                                                                  \
      _Pragma("unroll") for (int pb = 0; pb < 2; pb++) {                                 \
        VT f[3][3]; /* B^T e, e[r][s] = d[r][2s + pb] */                                 \
        _Pragma("unroll") for (int j = 0; j < 3; j++) {                                  \
          f[0][j] = d[0][2 * j + pb] - d[1][2 * j + pb];                                 \
          f[1][j] = d[1][2 * j + pb];                                                    \
          f[2][j] = d[2][2 * j + pb] - d[1][2 * j + pb];                                 \
        }                                                                                \
        __global float *o_ = dst + ((size_t)(2 * pa + pb) * cin + c) * TM + lane0;       \
        _Pragma("unroll") for (int i = 0; i < 3; i++) { /* (B^T e) B */                  \
          VSTORE(f[i][0] - f[i][1], 0, o_ + (size_t)(3 * i) * kdim * TM);                \
          VSTORE(f[i][1], 0, o_ + (size_t)(3 * i + 1) * kdim * TM);                      \
          VSTORE(f[i][2] - f[i][1], 0, o_ + (size_t)(3 * i + 2) * kdim * TM);            \
        }                                                                                \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define WINO_ROW4(D, R)                                                                  \
  do {                                                                                   \
    float16 a_ = vload16(0, R);                                                          \
    D[0] = a_.s048c, D[1] = a_.s159d, D[2] = a_.s26ae, D[3] = a_.s37bf;                  \
    D[4] = (float4)(a_.s48c, R[16]), D[5] = (float4)(a_.s59d, R[17]);                    \
  } while (0)
#define WINO_ROW2(D, R)                                                                  \
  do {                                                                                   \
    float8 a_ = vload8(0, R);                                                            \
    D[0] = a_.s04, D[1] = a_.s15, D[2] = a_.s26, D[3] = a_.s37;                          \
    D[4] = (float2)(a_.s4, R[8]), D[5] = (float2)(a_.s5, R[9]);                          \
  } while (0)
#define WINO_ROW1(D, R)                                                                  \
  do {                                                                                   \
    for (int x_ = 0; x_ < 6; x_++) D[x_] = R[x_];                                        \
  } while (0)
#define WINO_STORE1(V, OFF, P) ((P)[OFF] = (V))

/* One work-item per (image channel c, row panel of TM tiles), over xp
 * [cin, n, hp, wp]: a tile's 6x6 patch at rows 4ty.., columns 4tx.. holds
 * its four parities' 3x3 inputs (a partition of the patch). The panel's
 * tiles in lanes of 4 (2, 1) side by side within a row of tiles, as the row
 * length allows; a work-item writes whole panel rows, and dimension 0 (the
 * channels) their neighbours. */
__kernel void wino_input(int cin, int n, int ho, int wo, int hp, int wp,
                         __global const float *xp, uint x_off, __global float *vp, uint vp_off) {
  const int c = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 2, th = ho / 2, tiles = n * th * tw;
  if (c >= cin || panel * TM >= tiles) return;
  const size_t kdim = 4 * (size_t)cin;
  __global float *dst = vp + vp_off + (size_t)panel * 9 * kdim * TM;
  /* lanes within a row of tiles and a panel (TM & -TM: its largest power of two) */
  const int lanes = min(tw % 4 == 0 ? 4 : tw % 2 == 0 ? 2 : 1, TM & -TM);
  const int end = min(tiles, (panel + 1) * TM);
  for (int t0 = panel * TM; t0 < end; t0 += lanes) {
    const int tx0 = t0 % tw, row = t0 / tw, ty = row % th, b = row / th;
    const int lane0 = t0 % TM;
    __global const float *src = xp + x_off + (((size_t)c * n + b) * hp + 4 * ty) * wp;
    if (lanes == 4) WINO_INPUT_TILES(4, float4, vstore4, WINO_ROW4);
    else if (lanes == 2) WINO_INPUT_TILES(2, float2, vstore2, WINO_ROW2);
    else WINO_INPUT_TILES(1, float, WINO_STORE1, WINO_ROW1);
  }
}

/* The output transform of L tiles side by side from their products
 * (lanes of q), act applied, the two output rows interleaved (a tile's
 * columns 2tx, 2tx + 1) and stored as vectors. */
#define WINO_OUTPUT_TILES(VT, VLOAD, STORE_ROW)                                          \
  do {                                                                                   \
    VT q[3][3];                                                                          \
    for (int i = 0; i < 3; i++)                                                          \
      for (int j = 0; j < 3; j++) q[i][j] = VLOAD(0, src + (size_t)(3 * i + j) * zs + tx0); \
    VT s0[3], s1[3]; /* A^T q */                                                         \
    for (int j = 0; j < 3; j++) s0[j] = q[0][j] + q[1][j], s1[j] = q[1][j] + q[2][j];     \
    STORE_ROW(s0[0] + s0[1], s0[1] + s0[2], dst + 2 * tx0);                              \
    STORE_ROW(s1[0] + s1[1], s1[1] + s1[2], dst + wo + 2 * tx0);                         \
  } while (0)
#define WINO_OUT_ROW4(A, B, P)                                                           \
  vstore8(wino_act8(shuffle2((A), (B), (uint8)(0, 4, 1, 5, 2, 6, 3, 7)), act, slope), 0, P)
#define WINO_OUT_ROW2(A, B, P)                                                           \
  vstore4(wino_act4((float4)((A).s0, (B).s0, (A).s1, (B).s1), act, slope), 0, P)
#define WINO_OUT_ROW1(A, B, P)                                                           \
  vstore2((float2)(wino_act((A), act, slope), wino_act((B), act, slope)), 0, P)
#define WINO_VLOAD1(OFF, P) ((P)[OFF])

/* cl/gemm.cl's epilogue formulas, on one value and on vectors. */
static inline float wino_act(float v, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return v < 0.0f ? 0.0f : v;
  if (act == CLGAN_ACT_LEAKY_RELU) return v > 0.0f ? v : v * slope;
  return v;
}
static inline float8 wino_act8(float8 v, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return select(v, (float8)(0.0f), isless(v, (float8)(0.0f)));
  if (act == CLGAN_ACT_LEAKY_RELU) return select(v * slope, v, isgreater(v, (float8)(0.0f)));
  return v;
}
static inline float4 wino_act4(float4 v, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return select(v, (float4)(0.0f), isless(v, (float4)(0.0f)));
  if (act == CLGAN_ACT_LEAKY_RELU) return select(v * slope, v, isgreater(v, (float4)(0.0f)));
  return v;
}

/* One work-item per (row of tiles (b, ty), output channel o): y [cout, n,
 * ho, wo], the row's two output rows written left to right in lanes of 4
 * (2, 1) tiles; dimension 0 (the tile rows) fills neighbouring output
 * rows. */
__kernel void wino_output(int cout, int n, int ho, int wo, __global const float *m, uint m_off,
                          __global float *y, uint y_off, int act, float slope) {
  const int row = get_global_id(0), o = get_global_id(1);
  const int tw = wo / 2, th = ho / 2, tiles = n * th * tw;
  if (row >= n * th || o >= cout) return;
  const size_t zs = (size_t)cout * tiles;
  __global const float *src = m + m_off + (size_t)o * tiles + (size_t)row * tw;
  /* row = b * th + ty: its outputs are rows 2ty, 2ty + 1 of image b */
  __global float *dst = y + y_off + ((size_t)o * n * ho + 2 * (size_t)row) * wo;
  const int lanes = tw % 4 == 0 ? 4 : tw % 2 == 0 ? 2 : 1;
  for (int tx0 = 0; tx0 < tw; tx0 += lanes) {
    if (lanes == 4) WINO_OUTPUT_TILES(float4, vload4, WINO_OUT_ROW4);
    else if (lanes == 2) WINO_OUTPUT_TILES(float2, vload2, WINO_OUT_ROW2);
    else WINO_OUTPUT_TILES(float, WINO_VLOAD1, WINO_OUT_ROW1);
  }
}
