/* ---- The adjoint by the transposed form (after cl/winograd.cl) ------------
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
 *     vp[(t / TM) * 25 * zs + xi * zs + o * TM + t % TM] (zs = cout * TM
 *     and a pad: src/ops/conv_winograd.c's a_pos_stride);
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
                               uint seen_off, int skip_seen, int stream) {
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
              WINO_VSTORE16_NT(u[v][j], up + up_off + ((size_t)(kk0 / TN) * kpos + row) * TN + 16 * v,
                               stream);
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
        VSTORE(z_[j], 0, o_ + (size_t)(WINO_A * i + j) * zs);                            \
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
                           uint vp_off, uint zs) {
  const int o = get_global_id(0), panel = get_global_id(1);
  const int tw = wo / 4, th = ho / 4, tiles = n * th * tw;
  if (o >= cout || panel * TM >= tiles) return;
  __global float *dst = vp + vp_off + (size_t)panel * WINO_A * WINO_A * zs;
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

/* The vertical neighbours' edge row (value j of window row er): read from
 * m at tile vert_t (0 where there is none), or, in panels of whole 2x2-tile
 * images, the lanes tw = 2 away in W (the same value of the lanes' own
 * windows), shifted up (pa 1: from the tile above) or down. */
#define WINO_VERT_LOAD(VT, VLOAD, PA, W, J)                                              \
  (vert_ok ? VLOAD(0, src + (size_t)(WINO_A * er + (J)) * m_row + vert_t) : (VT)(0.0f))
#define WINO_VERT_IMG2(VT, VLOAD, PA, W, J) ((PA) ? WINO_UP_IMG2(W) : WINO_DOWN_IMG2(W))

/* m's value (position xi, tile t) of the class's channel, 0 where no such
 * tile (ok 0). */
#define WINO_ADJT_AT(XI, T, OK) ((OK) ? src[(size_t)(XI) * m_row + (T)] : 0.0f)

/* The class (pa, pb)'s share of L tiles' dx blocks: O[r'][s'] for the
 * window rows r = r' + (1 - pa) and columns s = s' + (1 - pb) of each
 * tile, with the neighbour whose window overlaps at the edge row er = 4pa'
 * (the tile above for pa = 1, below for pa = 0), the edge column, and the
 * diagonal one at the corner. */
#define WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, VERT, PA, PB, O)                            \
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
      vx_[j] = VERT(VT, VLOAD, PA, w_[er][j], j);                                        \
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

#define WINO_ADJT_OUTPUT_TILES(VT, VLOAD, SHL, SHR, VERT, OUT)                           \
  do {                                                                                   \
    VT o11[4][4], o10[4][4], o01[4][4], o00[4][4];                                       \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, VERT, 1, 1, o11);                               \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, VERT, 1, 0, o10);                               \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, VERT, 0, 1, o01);                               \
    WINO_ADJT_CLASS(VT, VLOAD, SHL, SHR, VERT, 0, 0, o00);                               \
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
/* Panels of whole 2x2-tile images, lane 4b + 2ty + tx the tile (ty, tx) of
 * the panel's image b: each lane's left, right, upper or lower neighbour
 * within its image, zero at the image's edges (no tile there). */
#if TM == 4
#define WINO_SHL_IMG2(V, E) ((float4)(0.0f, (V).s0, 0.0f, (V).s2))
#define WINO_SHR_IMG2(V, E) ((float4)((V).s1, 0.0f, (V).s3, 0.0f))
#define WINO_UP_IMG2(V) ((float4)(0.0f, 0.0f, (V).s0, (V).s1))
#define WINO_DOWN_IMG2(V) ((float4)((V).s2, (V).s3, 0.0f, 0.0f))
#elif TM == 8
#define WINO_SHL_IMG2(V, E) ((float8)(0.0f, (V).s0, 0.0f, (V).s2, 0.0f, (V).s4, 0.0f, (V).s6))
#define WINO_SHR_IMG2(V, E) ((float8)((V).s1, 0.0f, (V).s3, 0.0f, (V).s5, 0.0f, (V).s7, 0.0f))
#define WINO_UP_IMG2(V) ((float8)(0.0f, 0.0f, (V).s0, (V).s1, 0.0f, 0.0f, (V).s4, (V).s5))
#define WINO_DOWN_IMG2(V) ((float8)((V).s2, (V).s3, 0.0f, 0.0f, (V).s6, (V).s7, 0.0f, 0.0f))
#endif

/* One work-item per (row of tiles (b, ty), image channel c): dx [cin, n, h,
 * w], the row's 8 dx rows (8ty .. 8ty + 7) written left to right, each
 * tile's 8x8 block (dx row 8ty + 2r' + 1 - pa, column 8tx + 2s' + 1 - pb
 * from class (pa, pb)), times act'(y) where act is given. Over images of
 * one tile or of 2x2 (CLGAN_WINO_ADJT_BY_PANELS), dimension 0 is a row
 * panel of TM tiles (whole images) instead, all at once where whole
 * (`gray32`'s D3, G2; D2, G3), a tile's neighbours then in its vector's
 * other lanes. */
__kernel void wino_adjt_output(int cin, int n, int ho, int wo, __global const float *m,
                               uint m_off, int m_row, __global float *dx, uint dx_off,
                               __global const float *y, uint y_off, int act, float slope) {
  const int tw = wo / 4, th = ho / 4, w = 2 * wo;
  const int c = get_global_id(1);
  int row = get_global_id(0), row_end = row + 1;
  if (c >= cin) return;
  if (CLGAN_WINO_ADJT_BY_PANELS(tw, th, TM)) { /* the panel's rows of tiles */
    const int panel = row;
    row = panel * (TM / tw), row_end = row + TM / tw;
#if WINO_GATHER
    if (wino_gathered(panel, n * th * tw, tw)) {
      const int lanes = TM, tx0 = 0, ty = 0, t0 = panel * TM;
      WINO_GATHER_OFFSETS(panel, tw, th, 2 * ho, w, 8)
      const size_t base = (size_t)c * n * 2 * ho * w;
      __global float *dst = dx + dx_off + base;
      __global const float *act_y = y + y_off + (act != CLGAN_ACT_NONE ? base : 0);
      if (tw == 1)
        WINO_ADJT_OUTPUT_TILES(WINO_VTM, WINO_VLOAD_TM, WINO_SHL0, WINO_SHR0, WINO_VERT_LOAD,
                               WINO_ADJ_OUTG);
      else
        WINO_ADJT_OUTPUT_TILES(WINO_VTM, WINO_VLOAD_TM, WINO_SHL_IMG2, WINO_SHR_IMG2,
                               WINO_VERT_IMG2, WINO_ADJ_OUTG);
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
      if (lanes == 4)
        WINO_ADJT_OUTPUT_TILES(float4, vload4, WINO_SHL4, WINO_SHR4, WINO_VERT_LOAD, WINO_ADJ_OUT4);
      else if (lanes == 2)
        WINO_ADJT_OUTPUT_TILES(float2, vload2, WINO_SHL2, WINO_SHR2, WINO_VERT_LOAD, WINO_ADJ_OUT2);
      else
        WINO_ADJT_OUTPUT_TILES(float, WINO_VLOAD1, WINO_SHL1, WINO_SHR1, WINO_VERT_LOAD,
                               WINO_ADJ_OUT1);
    }
  }
}
