/* The conv tuner's candidates (conv_tune.h): what is tried for each
 * product, per device kind. */
#include "ops/conv_internal.h"
#include "ops/conv_subpixel.h"
#include "ops/conv_winograd.h"
#include "ops/conv_tune.h"
#include "ops/gemm_lds.h"
#include "runtime/internal.h"

/* Other own tiles to try (TM, NV, LX, LY): around the device's default
 * (cl/gemm.cl's 8 x 32 with 4 x 16 groups on CPUs, 4 x 16 with 16 x 8 on
 * GPUs). 6 x 64 on CPUs: fewer loads per FMA (ten for 24, against ten for
 * 16), 1.05-1.1x on the packed backward data of a 2-core Xeon. */
static const int cpu_tiles[][4] = {{8, 2, 8, 8}, {8, 2, 2, 32}, {4, 2, 4, 16}, {8, 1, 4, 16},
                                   {6, 4, 2, 32}};
static const int gpu_tiles[][4] = {{4, 1, 16, 16}, {8, 1, 16, 8}, {4, 2, 16, 8}, {2, 1, 16, 16},
                                   {4, 1, 8, 8}};
#define TUNE_TILES 5
/* The LDS backend's parameter sets (gemm_lds_param_sets: a handful on GPUs,
 * one on CPUs), for both mappings. On CPUs, where it loses (PoCL, 2 loaded
 * cores: 7 GFLOP/s on 128 x 32768 x 1024 against the own backend's 142),
 * only for products of at most TUNE_LDS_CPU_MACS multiply-adds: larger ones
 * would spend the CPU's budget on a candidate that cannot win. */
#define TUNE_LDS_SETS 8
#define TUNE_LDS_CPU_MACS ((uint64_t)1 << 26)
/* The sub-pixel adjoint's own tiles (TM pixels, NV vectors of channels,
 * LX x LY tiles a group; 0: the device's default), for k 4 s 2 p 1 shapes:
 * on CPUs 16 x 16 in groups of 64 pixel groups first (conv_subpixel.c),
 * two channel tiles a group, and 8 x 32; on GPUs pixel groups side by
 * side in the work-group. */
static const int cpu_subpix_tiles[][4] = {{0, 0, 0, 0}, {16, 1, 2, 32}, {8, 2, 1, 64}};
static const int gpu_subpix_tiles[][4] = {{0, 0, 0, 0}, {8, 1, 1, 64}, {4, 2, 1, 64}};
#define TUNE_SUBPIX_TILES CONV_TUNE_SUBPIX_TILES
_Static_assert(CONV_TUNE_MAX_CANDIDATES >= 2 * TUNE_TILES + 2 * TUNE_LDS_SETS + 2 +
                                               CONVT_DIRECT_MAX_CANDIDATES + TUNE_SUBPIX_TILES,
               "room for every candidate of a product");

/* CLBlast is a candidate unless the device's backend measurement
 * (gemm_choice.c) found it this many times slower than the own kernel on
 * the product's class of GEMM: the tuner's runs of it would take most of a
 * CPU's budget (PoCL on a 2-core EPYC: 10-20x slower, 0.7 s a run on
 * tutorial's weight gradients) for a candidate that cannot win. */
#define TUNE_CLBLAST_HOPELESS 4.0

/* The column GEMM of a product: m x n x k (conv.c's header). */
static void product_gemm(const clgan_conv_shape *s, int product, size_t mnk[3]) {
  size_t kk = (size_t)s->cin * s->k * s->k, p = (size_t)s->n * s->ho * s->wo;
  size_t dims[3][3] = {{(size_t)s->cout, p, kk}, {kk, p, (size_t)s->cout},
                       {(size_t)s->cout, kk, p}};
  for (int i = 0; i < 3; i++) mnk[i] = dims[product][i];
}

static conv_tune_candidate gemm_candidate(clgan_gemm_variant v, int from_image, int family) {
  return (conv_tune_candidate){.v = v, .from_image = from_image, .family = family};
}

/* The GEMM candidates of one product of shape s, the default first. */
static int gemm_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                           conv_tune_candidate *out) {
  const int(*tiles)[4] = clgan_ctx_gpu_paths(ctx) ? gpu_tiles : cpu_tiles;
  clgan_gemm_variant lds[TUNE_LDS_SETS];
  uint64_t macs = conv_weight_floats(s) * (uint64_t)s->n * s->ho * s->wo;
  int nlds = gemm_lds_param_sets(clgan_ctx_gpu_paths(ctx), lds, TUNE_LDS_SETS);
  if (!clgan_ctx_gpu_paths(ctx) && macs > TUNE_LDS_CPU_MACS) nlds = 0;
  int n = 0;
  out[n] = gemm_candidate((clgan_gemm_variant){.backend = CLGAN_GEMM_AUTO}, 1,
                          TUNE_FAMILY_DEFAULT);
  out[n++].subpix = -1; /* the engine's adjoint mapping */
  int mappings = product == CONV_ADJ ? 1 : 2;
  for (int img = mappings - 1; img >= 0; img--) {
    int own = img ? TUNE_FAMILY_OWN_IMAGE : TUNE_FAMILY_OWN_COL;
    int lds_family = img ? TUNE_FAMILY_LDS_IMAGE : TUNE_FAMILY_LDS_COL;
    out[n++] = gemm_candidate((clgan_gemm_variant){.backend = CLGAN_GEMM_OWN}, img, own);
    for (int t = 0; t < TUNE_TILES; t++)
      out[n++] = gemm_candidate((clgan_gemm_variant){CLGAN_GEMM_OWN, tiles[t][0], tiles[t][1],
                                                     tiles[t][2], tiles[t][3], 0, 0},
                                img, own);
    for (int t = 0; t < nlds; t++) out[n++] = gemm_candidate(lds[t], img, lds_family);
  }
  size_t mnk[3];
  product_gemm(s, product, mnk);
  if (gemm_clblast_slowdown(ctx, mnk[0], mnk[1], mnk[2]) <= TUNE_CLBLAST_HOPELESS)
    out[n++] = gemm_candidate((clgan_gemm_variant){.backend = CLGAN_GEMM_CLBLAST}, 0,
                              TUNE_FAMILY_CLBLAST);
  return n;
}

/* The direct adjoint on CPUs only for products of at most this many
 * multiply-adds: on PoCL it is 5-20x slower than GEMM + col2im on the
 * larger layers (0.4 s of the search each on tutorial's) and won only a
 * tiny one. */
#define TUNE_DIRECT_CPU_MACS ((uint64_t)1 << 26)

/* The backward data's other mapping: the direct kernel's parameter sets
 * for this device. */
static int direct_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                             conv_tune_candidate *out) {
  if (product != CONV_ADJ) return 0;
  uint64_t macs = conv_weight_floats(s) * (uint64_t)s->n * s->ho * s->wo;
  if (!clgan_ctx_gpu_paths(ctx) && macs > TUNE_DIRECT_CPU_MACS) return 0;
  const convt_direct_params *sets;
  int n = convt_direct_candidates(clgan_ctx_gpu_paths(ctx), &sets);
  for (int i = 0; i < n; i++)
    out[i] = (conv_tune_candidate){.v = {.backend = CLGAN_GEMM_AUTO},
                                   .direct = sets[i],
                                   .family = TUNE_FAMILY_DIRECT};
  return n;
}

int conv_tune_subpix_tiles(int gpu, clgan_gemm_variant *out) {
  const int(*tiles)[4] = gpu ? gpu_subpix_tiles : cpu_subpix_tiles;
  for (int t = 0; t < TUNE_SUBPIX_TILES; t++)
    out[t] = (clgan_gemm_variant){CLGAN_GEMM_OWN, tiles[t][0], tiles[t][1], tiles[t][2],
                                  tiles[t][3], 0, 0};
  return TUNE_SUBPIX_TILES;
}

/* The backward data's sub-pixel mapping (k 4 s 2 p 1 shapes) with a few
 * own tiles, where the image side has CONV_SUBPIX_MIN_CIN channels or more
 * (conv_subpixel.h). */
static int subpix_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                             conv_tune_candidate *out) {
  if (product != CONV_ADJ || !conv_subpix_applies(s) || s->cin < CONV_SUBPIX_MIN_CIN) return 0;
  clgan_gemm_variant v[CONV_TUNE_SUBPIX_TILES];
  int n = conv_tune_subpix_tiles(clgan_ctx_gpu_paths(ctx), v);
  for (int t = 0; t < n; t++) out[t] = (conv_tune_candidate){.v = v[t], .subpix = 1, .family = TUNE_FAMILY_SUBPIX};
  return n;
}

/* The Winograd product (conv_winograd.h) where it applies, the tuning
 * allows it (CLGAN_WINOGRAD not 0) and the engine does not take it
 * already (then the default candidate is it). */
static int wino_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                           conv_tune_candidate *out) {
  if (!conv_wino_applies(s) || ctx->tuning.winograd < 0) return 0;
  int engine = product == CONV_FWD   ? conv_wino_default(ctx, s)
               : product == CONV_ADJ ? conv_wino_adj_default(ctx, s)
                                     : conv_wino_filt_default(ctx, s);
  if (engine) return 0;
  out[0] = (conv_tune_candidate){.v = {.backend = CLGAN_GEMM_AUTO}, .from_image = 1,
                                 .subpix = -1, .wino = 1, .family = TUNE_FAMILY_WINO};
  return 1;
}

int conv_tune_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                         conv_tune_candidate *out) {
  int n = gemm_candidates(ctx, s, product, out);
  n += direct_candidates(ctx, s, product, out + n);
  n += wino_candidates(ctx, s, product, out + n);
  return n + subpix_candidates(ctx, s, product, out + n);
}
