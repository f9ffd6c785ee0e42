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
 * TM and NV come from the build options, as for cl/gemm.cl. */

#define WINO_TN (16 * NV)

/* One work-item per (output channel o < the rounded cout, image channel c). */
__kernel void wino_weight(int cin, int cout, __global const float *w, uint w_off,
                          __global float *up, uint up_off) {
  const int o = get_global_id(0), c = get_global_id(1);
  if (c >= cin) return;
  const size_t kdim = 4 * (size_t)cin;
  __global float *dst = up + up_off + (size_t)(o / WINO_TN) * 9 * kdim * WINO_TN + o % WINO_TN;
  __global const float *g = w + w_off + ((size_t)o * cin + c) * 16;
  const int live = o < cout;
  for (int pa = 0; pa < 2; pa++)
    for (int pb = 0; pb < 2; pb++) {
      /* the 2x2 sub-kernel g[a][b] = W[2a + pa][2b + pb] */
      float g00 = live ? g[pa * 4 + pb] : 0.0f, g01 = live ? g[pa * 4 + 2 + pb] : 0.0f;
      float g10 = live ? g[(2 + pa) * 4 + pb] : 0.0f, g11 = live ? g[(2 + pa) * 4 + 2 + pb] : 0.0f;
      float t[3][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g10, g11}};
      const size_t kk = (size_t)(2 * pa + pb) * cin + c;
      for (int i = 0; i < 3; i++) {
        float u[3] = {t[i][0], t[i][0] + t[i][1], t[i][1]};
        for (int j = 0; j < 3; j++) dst[((size_t)(3 * i + j) * kdim + kk) * WINO_TN] = u[j];
      }
    }
}

/* One work-item per (row panel of TM tiles, image channel c), over xp
 * [cin, n, hp, wp]: a tile's 6x6 patch at rows 4ty.., columns 4tx.. holds
 * its four parities' 3x3 inputs (a partition of the patch). The panel's
 * tiles side by side in vectors, so each (position, parity, channel) is
 * one vector store of the panel's row; work-items in dimension 0 (the
 * channels) fill neighbouring rows. Rows past the last tile repeat it
 * (gemm_tile never stores them). */
#if TM == 8
typedef float8 wino_vec;
#define wino_vstore vstore8
#define wino_vload vload8
#elif TM == 4
typedef float4 wino_vec;
#define wino_vstore vstore4
#define wino_vload vload4
#elif TM == 16
typedef float16 wino_vec;
#define wino_vstore vstore16
#define wino_vload vload16
#elif TM == 2
typedef float2 wino_vec;
#define wino_vstore vstore2
#define wino_vload vload2
#endif
__kernel void wino_input(int cin, int n, int ho, int wo, int hp, int wp,
                         __global const float *xp, uint x_off, __global float *vp, uint vp_off) {
  const int c = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 2, th = ho / 2, tiles = n * th * tw;
  if (c >= cin || panel * TM >= tiles) return;
  const size_t kdim = 4 * (size_t)cin;
  __global float *dst = vp + vp_off + (size_t)panel * 9 * kdim * TM;
  __global const float *src[TM];
  for (int r = 0; r < TM; r++) {
    const int t = min(panel * TM + r, tiles - 1);
    const int tx = t % tw, q = t / tw, ty = q % th, b = q / th;
    src[r] = xp + x_off + (((size_t)c * n + b) * hp + 4 * ty) * wp + 4 * tx;
  }
  for (int pa = 0; pa < 2; pa++)
    for (int pb = 0; pb < 2; pb++) {
      wino_vec e[3][3]; /* e[r][s] = xp[4ty + 2r + pa][4tx + 2s + pb] per tile */
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
          float lane[TM];
          for (int r = 0; r < TM; r++) lane[r] = src[r][(size_t)(2 * i + pa) * wp + 2 * j + pb];
          e[i][j] = wino_vload(0, lane);
        }
      wino_vec f[3][3]; /* B^T e */
      for (int j = 0; j < 3; j++) {
        f[0][j] = e[0][j] - e[1][j];
        f[1][j] = e[1][j];
        f[2][j] = e[2][j] - e[1][j];
      }
      const size_t kk = (size_t)(2 * pa + pb) * cin + c;
      for (int i = 0; i < 3; i++) { /* (B^T e) B */
        wino_vstore(f[i][0] - f[i][1], 0, dst + ((size_t)(3 * i) * kdim + kk) * TM);
        wino_vstore(f[i][1], 0, dst + ((size_t)(3 * i + 1) * kdim + kk) * TM);
        wino_vstore(f[i][2] - f[i][1], 0, dst + ((size_t)(3 * i + 2) * kdim + kk) * TM);
      }
    }
}

static inline float wino_act(float v, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return v < 0.0f ? 0.0f : v;
  if (act == CLGAN_ACT_LEAKY_RELU) return v > 0.0f ? v : v * slope;
  return v;
}

/* One work-item per (row of tiles (b, ty), output channel o): y [cout, n,
 * ho, wo], the row's two output rows written left to right (dimension 0,
 * the tile rows, fills neighbouring output rows). */
__kernel void wino_output(int cout, int n, int ho, int wo, __global const float *m, uint m_off,
                          __global float *y, uint y_off, int act, float slope) {
  const int row = get_global_id(0), o = get_global_id(1);
  const int tw = wo / 2, th = ho / 2, tiles = n * th * tw;
  if (row >= n * th || o >= cout) return;
  const size_t zs = (size_t)cout * tiles;
  __global const float *src = m + m_off + (size_t)o * tiles + (size_t)row * tw;
  /* row = b * th + ty: its outputs are rows 2ty, 2ty + 1 of image b */
  __global float *dst = y + y_off + ((size_t)o * n * ho + 2 * (size_t)row) * wo;
  for (int tx = 0; tx < tw; tx++) {
    float q[3][3];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++) q[i][j] = src[(size_t)(3 * i + j) * zs + tx];
    float s0[3], s1[3]; /* A^T q */
    for (int j = 0; j < 3; j++) s0[j] = q[0][j] + q[1][j], s1[j] = q[1][j] + q[2][j];
    vstore2((float2)(wino_act(s0[0] + s0[1], act, slope), wino_act(s0[1] + s0[2], act, slope)),
            0, dst + 2 * tx);
    vstore2((float2)(wino_act(s1[0] + s1[1], act, slope), wino_act(s1[1] + s1[2], act, slope)),
            0, dst + wo + 2 * tx);
  }
}
