/* The register tile shared by the GEMM kernels (cl/gemm.cl) and the
 * sub-pixel adjoint (cl/subpix.cl): each program is built from this file,
 * then its own (src/runtime/program.c lists which programs take it). A
 * work-item holds a TM x TN tile of C (TN = 16 * NV) in float16 vectors;
 * TM and NV come as -D options (src/ops/gemm_own.c), with the defaults
 * below. */
#ifndef TM
#define TM 8 /* rows per work-item tile */
#endif
#ifndef NV
#define NV 2 /* float16 vectors per tile row */
#endif
#define TN (16 * NV)

/* On CPU devices (the host defines CLGAN_CPU_DEVICE) the k loops prefetch
 * B's panel PREFETCH_K rows ahead: the panel streams from the L2 or beyond
 * (128 KiB to 4 MiB a work-item), and the hardware prefetchers, which stop
 * at page boundaries, fall behind (a 2-core Xeon: the conv products 5-10%
 * faster at 16 rows, the same from 16 to 32). OpenCL's prefetch() compiles
 * to nothing on PoCL, so clang's builtin; other compilers get no prefetch. */
#ifndef PREFETCH_K
#define PREFETCH_K 16
#endif
#if defined(CLGAN_CPU_DEVICE) && defined(__clang__)
#define PREFETCH_PANEL(p)                                        \
  do {                                                           \
    __builtin_prefetch((p) + PREFETCH_K * TN, 0, 3);             \
    if (TN > 16) __builtin_prefetch((p) + PREFETCH_K * TN + 16, 0, 3); \
  } while (0)
/* a line about to be written (gemm_tile_conv's transposed store) */
#define PREFETCH_STORE(p) __builtin_prefetch((p), 1, 3)
#else
#define PREFETCH_PANEL(p) ((void)0)
#define PREFETCH_STORE(p) ((void)0)
#endif

/* The helpers that take the accumulator tile by pointer must be inlined:
 * PoCL's LLVM left conv_x_product (shared by two kernels) a function of its
 * own, so acc stayed in memory, every FMA followed by a store that the
 * global reads after it could alias (16 zmm stores and 6 reloads per k,
 * gemm_tile_conv at 35% of the FMA peak instead of 80%). */
#define TILE_INLINE static inline __attribute__((always_inline))

/* In-place transposes of square blocks held as rows, by swapping off-diagonal
 * blocks of halving size with constant swizzles (shuffles on vector units). */
static inline void transpose16(float16 *m) {
#pragma unroll
  for (int i = 0; i < 8; i++) {
    float16 a = m[i], b = m[i + 8];
    m[i] = (float16)(a.lo, b.lo);
    m[i + 8] = (float16)(a.hi, b.hi);
  }
#pragma unroll
  for (int i = 0; i < 16; i++) {
    if (i & 4) continue;
    float16 a = m[i], b = m[i + 4];
    m[i] = (float16)(a.s0123, b.s0123, a.s89ab, b.s89ab);
    m[i + 4] = (float16)(a.s4567, b.s4567, a.scdef, b.scdef);
  }
#pragma unroll
  for (int i = 0; i < 16; i++) {
    if (i & 2) continue;
    float16 a = m[i], b = m[i + 2];
    m[i] = (float16)(a.s01, b.s01, a.s45, b.s45, a.s89, b.s89, a.scd, b.scd);
    m[i + 2] = (float16)(a.s23, b.s23, a.s67, b.s67, a.sab, b.sab, a.sef, b.sef);
  }
#pragma unroll
  for (int i = 0; i < 16; i += 2) {
    float16 a = m[i], b = m[i + 1];
    m[i] = (float16)(a.s0, b.s0, a.s2, b.s2, a.s4, b.s4, a.s6, b.s6, a.s8, b.s8, a.sa, b.sa,
                     a.sc, b.sc, a.se, b.se);
    m[i + 1] = (float16)(a.s1, b.s1, a.s3, b.s3, a.s5, b.s5, a.s7, b.s7, a.s9, b.s9, a.sb,
                         b.sb, a.sd, b.sd, a.sf, b.sf);
  }
}

static inline void transpose8(float8 *m) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float8 a = m[i], b = m[i + 4];
    m[i] = (float8)(a.lo, b.lo);
    m[i + 4] = (float8)(a.hi, b.hi);
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    if (i & 2) continue;
    float8 a = m[i], b = m[i + 2];
    m[i] = (float8)(a.s01, b.s01, a.s45, b.s45);
    m[i + 2] = (float8)(a.s23, b.s23, a.s67, b.s67);
  }
#pragma unroll
  for (int i = 0; i < 8; i += 2) {
    float8 a = m[i], b = m[i + 1];
    m[i] = (float8)(a.s0, b.s0, a.s2, b.s2, a.s4, b.s4, a.s6, b.s6);
    m[i + 1] = (float8)(a.s1, b.s1, a.s3, b.s3, a.s5, b.s5, a.s7, b.s7);
  }
}

static inline void transpose4(float4 *m) {
  float4 a = m[0], b = m[1], c = m[2], d = m[3];
  m[0] = (float4)(a.s0, b.s0, c.s0, d.s0);
  m[1] = (float4)(a.s1, b.s1, c.s1, d.s1);
  m[2] = (float4)(a.s2, b.s2, c.s2, d.s2);
  m[3] = (float4)(a.s3, b.s3, c.s3, d.s3);
}

/* Quarter q (a constant after unrolling) of a float16: elements 4q .. 4q + 3. */
static inline float4 quarter16(float16 x, int q) {
  return q == 0 ? x.lo.lo : q == 1 ? x.lo.hi : q == 2 ? x.hi.lo : x.hi.hi;
}

TILE_INLINE void zero_tile(float16 (*acc)[NV]) {
#pragma unroll
  for (int r = 0; r < TM; r++)
#pragma unroll
    for (int v = 0; v < NV; v++) acc[r][v] = (float16)(0.0f);
}

/* The activation a store applies (the piecewise-linear ones, with
 * cl/act.cl's formulas, so a fused activation gives the bits of the act
 * kernel after the product; any other code: none), and g * act'(o) (col2im's
 * formulas; CLGAN_ACT_NONE: g), on scalars and vectors: the GEMMs'
 * epilogue, the sub-pixel adjoint and the Winograd transforms. */
#define EPILOGUE_ACT(T)                                                      \
  static inline T epilogue_##T(T v, int act, float slope) {                 \
    if (act == CLGAN_ACT_RELU) return v < 0.0f ? (T)(0.0f) : v;             \
    if (act == CLGAN_ACT_LEAKY_RELU) return v > 0.0f ? v : v * slope;       \
    return v;                                                                \
  }
#define TILE_DACT(T)                                                        \
  static inline T tile_dact_##T(T g, T o, int act, float slope) {           \
    if (act == CLGAN_ACT_RELU) return o > 0.0f ? g : (T)(0.0f);             \
    if (act == CLGAN_ACT_LEAKY_RELU) return o > 0.0f ? g : g * slope;       \
    return g;                                                                \
  }
EPILOGUE_ACT(float)
EPILOGUE_ACT(float4)
EPILOGUE_ACT(float8)
EPILOGUE_ACT(float16)
TILE_DACT(float)
TILE_DACT(float8)
TILE_DACT(float16)
