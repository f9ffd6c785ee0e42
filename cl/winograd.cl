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
 * TM and NV come from the build options, TN and transpose16 from
 * cl/gemm_tile.cl (built before this file), as for cl/gemm.cl.
 * One program (src/runtime/program.c) holds all three products, so a
 * shape's plans build it once (PoCL compiles slowly): this file (the
 * transforms' matrices and row chunks, lane panels, what the products
 * share), then cl/winograd_forward.cl (wino_weight, wino_input,
 * wino_output), cl/winograd_filter.cl (the weight gradient, wino_filt_*)
 * and cl/winograd_adjoint.cl (the adjoint, wino_adjt_*). */

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
#define WINO_ROWG(D, R, RR)                                                              \
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

/* ---- Shared by the products ----------------------------------------------- */

/* A 16-float store, non-temporal where nt is set and P is 64-byte aligned
 * (a whole cache line): the transforms whose output is far larger than
 * the caches then write it without first reading each line in. */
#if defined(CLGAN_CPU_DEVICE) && defined(__clang__)
#define WINO_VSTORE16_NT(V, P, NT)                                                       \
  do {                                                                                   \
    __global float *p_ = (P);                                                            \
    if ((NT) && ((size_t)p_ & 63) == 0)                                                  \
      __builtin_nontemporal_store((V), (__global float16 *)p_);                          \
    else                                                                                 \
      vstore16((V), 0, p_);                                                              \
  } while (0)
#else
#define WINO_VSTORE16_NT(V, P, NT) vstore16((V), 0, (P))
#endif

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

/* The input transform of L tiles side by side (tx0 ..), one image channel,
 * into their L lanes from dst + lane0: channel kk = (2 * pa + pb) * cin + c
 * KS floats apart, position xi XS floats apart (the forward's row panel,
 * the weight gradient's rows of A). Each padded image row of the patches
 * read once (LOAD_ROW(d, row, its index in the patch)) (the taps of a column offset x are lanes 8l + x), the five
 * rows of a row parity transformed together. */
#define WINO_INPUT_TILES(VT, VSTORE, LOAD_ROW, KS, XS)                                   \
  do {                                                                                   \
    _Pragma("unroll") for (int pa = 0; pa < 2; pa++) {                                   \
      VT d[WINO_A][2 * WINO_A]; /* rows 2i + pa of the patches, column offsets 0..9 */  \
      _Pragma("unroll") for (int i = 0; i < WINO_A; i++) {                               \
        __global const float *r_ = src + (size_t)(2 * i + pa) * wp + 8 * tx0;            \
        LOAD_ROW(d[i], r_, 2 * i + pa);                                                  \
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

/* Four tiles' patch columns x = 0..7 from 32 values of a patch row, lane
 * l's eight at 8 l + x (lanes 0 and 1 in vector A, 2 and 3 in B), into
 * D[K + x]. */
#define WINO_COLUMNS4(D, K, A, B)                                                        \
  do {                                                                                   \
    D[(K) + 0] = (float4)(A.s08, B.s08), D[(K) + 1] = (float4)(A.s19, B.s19);            \
    D[(K) + 2] = (float4)(A.s2a, B.s2a), D[(K) + 3] = (float4)(A.s3b, B.s3b);            \
    D[(K) + 4] = (float4)(A.s4c, B.s4c), D[(K) + 5] = (float4)(A.s5d, B.s5d);            \
    D[(K) + 6] = (float4)(A.s6e, B.s6e), D[(K) + 7] = (float4)(A.s7f, B.s7f);            \
  } while (0)
#define WINO_ROW4(D, R, RR)                                                                \
  do {                                                                                   \
    float16 a_ = vload16(0, R), b_ = vload16(0, (R) + 16);                               \
    WINO_COLUMNS4(D, 0, a_, b_);                                                         \
    D[8] = (float4)(a_.s8, b_.s08, (R)[32]), D[9] = (float4)(a_.s9, b_.s19, (R)[33]);    \
  } while (0)
#define WINO_ROW2(D, R, RR)                                                                \
  do {                                                                                   \
    float16 a_ = vload16(0, R);                                                          \
    D[0] = a_.s08, D[1] = a_.s19, D[2] = a_.s2a, D[3] = a_.s3b;                          \
    D[4] = a_.s4c, D[5] = a_.s5d, D[6] = a_.s6e, D[7] = a_.s7f;                          \
    D[8] = (float2)(a_.s8, (R)[16]), D[9] = (float2)(a_.s9, (R)[17]);                    \
  } while (0)
#define WINO_ROW1(D, R, RR)                                                                \
  do {                                                                                   \
    _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++) D[x_] = (R)[x_];           \
  } while (0)
#define WINO_STORE1(V, OFF, P) ((P)[OFF] = (V))

/* ---- Implicit zero padding ----------------------------------------------------
 * The input transforms (wino_input, wino_filt_input) read the image either
 * padded by 1 (hp = 2 * ho + 2 rows a plane) or as it is (hp = 2 * ho): a
 * tile's 10x10 patch then starts a row and a column before its first value,
 * and the patch's first or last row or column is zero where the tile lies
 * at the image's edge. So the op before needs to write no padded copy, and
 * no padding kernel runs (src/ops/conv_winograd.h). On the gathered path
 * only the patch's border is tested (the rest folds away once unrolled);
 * rows of four tiles read each patch row as two vectors and two values
 * (WINO_ROW4Z); the tiles of other panels go one lane at a time, correct
 * but slow, and conv_wino_reads_unpadded keeps the host from choosing that. */

/* A tile's edges: the image's top (1), bottom (2), left (4), right (8). */
static inline int wino_edges(int tx, int ty, int tw, int th) {
  return (ty == 0) | (ty == th - 1) << 1 | (tx == 0) << 2 | (tx == tw - 1) << 3;
}

/* Whether patch value (row rr, column x) of a tile with edges e lies in
 * the image (rr and x constant once unrolled). */
static inline int wino_in_image(int e, int rr, int x) {
  return !((rr == 0 && (e & 1)) || (rr == 2 * WINO_A - 1 && (e & 2)) || (x == 0 && (e & 4)) ||
           (x == 2 * WINO_A - 1 && (e & 8)));
}

/* src[at] (src: the image plane's first value) where ok, else 0; the index
 * taken to 0 where not, so that nothing outside the buffer is read. */
static inline float wino_at_or_zero(__global const float *src, int at, int ok) {
  return select(0.0f, src[ok ? at : 0], ok);
}

#if WINO_GATHER
/* The gathered path unpadded (go_ the tiles' first values in the plane,
 * ge_ their edges, src the plane, wp a row): R unused. */
#define WINO_GZ(L, S) wino_at_or_zero(src, (int)go_[L] + (rr_ - 1) * wp + x_ - 1, wino_in_image(ge_[L], rr_, x_)),
#define WINO_ROWGZ(D, R, RR)                                                             \
  do {                                                                                   \
    const int rr_ = (RR);                                                                \
    (void)(R);                                                                           \
    _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++) {                          \
      float v_[TM] = {WINO_LANES_TM(WINO_GZ)};                                           \
      D[x_] = WINO_VLOAD_TM(0, v_);                                                      \
    }                                                                                    \
  } while (0)
#if TM == 8
/* Patch row RR of a gathered panel whose tiles span their image's width
 * (tw = 1 or 2: `gray32`'s D3 and D2), unpadded: each image row the
 * panel's tiles read is one vector load (zero above or below the image),
 * lanes 2j and 2j + 1 (tw = 2) or lane j (tw = 1) from vector j, and the
 * patch's first and last columns are zero (the image's left and right
 * edge) but for a pair's inner neighbours. Scalar gathers (WINO_ROWGZ)
 * did 80 loads a patch row; this does 4 or 8. wp = 8 tw. */
#define WINO_ROW_AT(L) (wino_in_image(ge_[L], rr_, 1) ? (int)go_[L] + (rr_ - 1) * wp : 0)
#define WINO_ROW_OK(L) wino_in_image(ge_[L], rr_, 1)
#define WINO_PAIR(I, J) (float8)(r_[0].s##I##J, r_[1].s##I##J, r_[2].s##I##J, r_[3].s##I##J)
#define WINO_ROWG2Z(D, R, RR)                                                            \
  do {                                                                                   \
    const int rr_ = (RR);                                                                \
    (void)(R);                                                                           \
    float16 r_[4];                                                                       \
    _Pragma("unroll") for (int j_ = 0; j_ < 4; j_++) {                                   \
      const float16 v_ = vload16(0, src + WINO_ROW_AT(2 * j_));                          \
      r_[j_] = WINO_ROW_OK(2 * j_) ? v_ : (float16)(0.0f);                               \
    }                                                                                    \
    D[0] = (float8)(0.0f, r_[0].s7, 0.0f, r_[1].s7, 0.0f, r_[2].s7, 0.0f, r_[3].s7);     \
    D[1] = WINO_PAIR(0, 8), D[2] = WINO_PAIR(1, 9), D[3] = WINO_PAIR(2, a);              \
    D[4] = WINO_PAIR(3, b), D[5] = WINO_PAIR(4, c), D[6] = WINO_PAIR(5, d);              \
    D[7] = WINO_PAIR(6, e), D[8] = WINO_PAIR(7, f);                                      \
    D[9] = (float8)(r_[0].s8, 0.0f, r_[1].s8, 0.0f, r_[2].s8, 0.0f, r_[3].s8, 0.0f);     \
  } while (0)
#define WINO_ONE(I) (float8)(r_[0].s##I, r_[1].s##I, r_[2].s##I, r_[3].s##I, r_[4].s##I, \
                             r_[5].s##I, r_[6].s##I, r_[7].s##I)
#define WINO_ROWG1Z(D, R, RR)                                                            \
  do {                                                                                   \
    const int rr_ = (RR);                                                                \
    (void)(R);                                                                           \
    float8 r_[8];                                                                        \
    _Pragma("unroll") for (int j_ = 0; j_ < 8; j_++) {                                   \
      const float8 v_ = vload8(0, src + WINO_ROW_AT(j_));                                \
      r_[j_] = WINO_ROW_OK(j_) ? v_ : (float8)(0.0f);                                    \
    }                                                                                    \
    D[0] = (float8)(0.0f), D[9] = (float8)(0.0f);                                        \
    D[1] = WINO_ONE(0), D[2] = WINO_ONE(1), D[3] = WINO_ONE(2), D[4] = WINO_ONE(3);      \
    D[5] = WINO_ONE(4), D[6] = WINO_ONE(5), D[7] = WINO_ONE(6), D[8] = WINO_ONE(7);      \
  } while (0)
/* The gathered panel's input transform unpadded, by its row macro. */
#define WINO_INPUT_GZ(KS, XS)                                                            \
  do {                                                                                   \
    if (tw == 2) WINO_INPUT_TILES(float8, vstore8, WINO_ROWG2Z, KS, XS);                 \
    else if (tw == 1) WINO_INPUT_TILES(float8, vstore8, WINO_ROWG1Z, KS, XS);            \
    else WINO_INPUT_TILES(float8, vstore8, WINO_ROWGZ, KS, XS);                          \
  } while (0)
#else
#define WINO_INPUT_GZ(KS, XS) WINO_INPUT_TILES(WINO_VTM, WINO_VSTORE_TM, WINO_ROWGZ, KS, XS)
#endif
#define WINO_GATHER_EDGES(PANEL, TW, TH)                                                 \
  int ge_[TM];                                                                           \
  _Pragma("unroll") for (int l_ = 0; l_ < TM; l_++) {                                    \
    const int t_ = (PANEL) * TM + l_, r_ = t_ / (TW);                                    \
    ge_[l_] = wino_edges(t_ % (TW), r_ % (TH), TW, TH);                                  \
  }
#endif

/* One tile unpadded (the other panels): src the image plane, the tile at
 * (tx0, ty) with edges e_, wp a row; R unused. */
#define WINO_ROW1Z(D, R, RR)                                                             \
  do {                                                                                   \
    const int at_ = (8 * ty + (RR) - 1) * wp + 8 * tx0 - 1;                              \
    (void)(R);                                                                           \
    _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++)                            \
      D[x_] = wino_at_or_zero(src, at_ + x_, wino_in_image(e_, (RR), x_));               \
  } while (0)

/* Four tiles of a row unpadded (tw a multiple of 4): the patch row's 32
 * image values at 8 tx0 - 1 + 1 .. in two vectors, the value before them
 * and the one after from the neighbouring tiles or zero at the image's
 * left and right edge, the whole row zero above or below the image; src
 * the image plane, ty the tiles' row, wp = hp's row; R unused. Lane l's
 * patch column x is padded column 8 l + x: image column 8 (tx0 + l) + x - 1. */
#define WINO_ROW4Z(D, R, RR)                                                             \
  do {                                                                                   \
    const int y_ = 8 * ty + (RR) - 1;                                                    \
    (void)(R);                                                                           \
    if (y_ < 0 || y_ >= hp) {                                                            \
      _Pragma("unroll") for (int x_ = 0; x_ < 2 * WINO_A; x_++) D[x_] = (float4)(0.0f);  \
    } else {                                                                             \
      __global const float *u_ = src + (size_t)y_ * wp + 8 * tx0;                        \
      const float16 a_ = vload16(0, u_), b_ = vload16(0, u_ + 16);                       \
      const float lt_ = tx0 > 0 ? u_[-1] : 0.0f, rt_ = tx0 + 4 < tw ? u_[32] : 0.0f;     \
      D[0] = (float4)(lt_, a_.s7, a_.sf, b_.s7);                                         \
      WINO_COLUMNS4(D, 1, a_, b_);                                                       \
      D[9] = (float4)(a_.s8, b_.s0, b_.s8, rt_);                                         \
    }                                                                                    \
  } while (0)

/* a scalar "vector load", for the one-lane paths */
#define WINO_VLOAD1(OFF, P) ((P)[OFF])

/* O = A X: four values to five (A = (A^T)^T, WINO_AT's above). */
#define WINO_A5(X, O)                                                                    \
  do {                                                                                   \
    O[0] = X[0];                                                                         \
    O[1] = (X[0] + X[1]) + (X[2] + X[3]);                                                \
    O[2] = (X[0] - X[1]) + (X[2] - X[3]);                                                \
    O[3] = X[0] + (0.5f * X[1] + (0.25f * X[2] + 0.125f * X[3]));                        \
    O[4] = X[3];                                                                         \
  } while (0)
