/* The plan-time tuner of the conv core, between conv_plan.c (which plans
 * with the variants it chooses), conv_tune.c (the search) and
 * conv_tune_cache.c (winners on disk, names, the report). Not part of the
 * public API; see clgan_tune_mode in clgan/runtime.h. */
#ifndef CLGAN_OPS_CONV_TUNE_H
#define CLGAN_OPS_CONV_TUNE_H

#include "ops/convt_direct.h"
#include "ops/gemm_internal.h"

/* A conv shape's three products, in the order of the tuner's records. */
enum { CONV_FWD = 0, CONV_ADJ = 1, CONV_FILT = 2, CONV_PRODUCTS = 3 };

/* The variant of each product: its GEMM (backend AUTO with a zero tile: the
 * engine's choice) and, for the forward and the weight gradient, whether
 * the GEMM reads the (padded) image itself where it can (1) or im2col's
 * column matrix (0); from_image[CONV_ADJ] is unused. adj_direct: the
 * adjoint's mapping, the direct kernel with these parameters (then
 * prod[CONV_ADJ] is unused), or all 0 for GEMM + col2im (the default). */
typedef struct conv_variants {
  clgan_gemm_variant prod[CONV_PRODUCTS];
  int from_image[CONV_PRODUCTS];
  convt_direct_params adj_direct;
  int adj_subpix; /* the adjoint by sub-pixel tiles (conv_subpixel.c) with
                     prod[CONV_ADJ]'s own tile where the shape allows (1),
                     GEMM + col2im (0), or the engine's choice (-1: the
                     mapping where the plan takes it by default, unless
                     prod[CONV_ADJ] names a GEMM variant for col2im) */
  int fwd_wino;   /* the forward by Winograd (conv_winograd.h) where the
                     shape allows (1), or the engine's choice (-1: where the
                     plan takes it by default, unless prod[CONV_FWD] names a
                     GEMM variant) */
  int filt_wino;  /* the weight gradient likewise (prod[CONV_FILT]) */
  int adj_wino;   /* the backward data likewise (prod[CONV_ADJ], adj_direct off,
                     adj_subpix -1) */
} conv_variants;

/* Every product on the engine's choices. */
conv_variants conv_variants_default(void);

/* clgan_conv_plan_make with the given variants (NULL: the engine's). */
clgan_status conv_plan_with(clgan_ctx *ctx, const clgan_conv_shape *s, const conv_variants *cv,
                            clgan_conv_plan *out);

/* The tuner for one shape, per the context's tuning (clgan_tune_mode): the
 * cached winners, a search now, or nothing. *have = 1 when *out holds
 * variants to plan with. Starts a report record for the shape. A search
 * that fails or runs out of budget only leaves the defaults (*have = 0). */
clgan_status conv_tune(clgan_ctx *ctx, const clgan_conv_shape *s, conv_variants *out, int *have);
/* Names the variants the plan ended up with in the shape's record. */
void conv_tune_note(clgan_ctx *ctx, const clgan_conv_plan *p);

/* ---- conv_tune_candidates.c ------------------------------------------- */
/* One candidate of a product: its GEMM variant and mapping, or (adjoint
 * only) the direct kernel's parameters (all 0: not the direct kernel), or
 * (adjoint only, subpix 1) the sub-pixel mapping with v's own tile (0:
 * GEMM + col2im; -1, the default candidate: the engine's choice). */
typedef struct conv_tune_candidate {
  clgan_gemm_variant v;
  int from_image;
  convt_direct_params direct;
  int subpix;
  int wino;   /* 1: the product by Winograd (v unused) */
  int family; /* conv_tune_family */
} conv_tune_candidate;
/* Families of candidates: one kernel and mapping with other parameters. The
 * search times a family's first candidate and skips the rest of it when
 * that one is far behind (conv_tune.c, TUNE_PRUNE): the parameters move a
 * kernel by 5-20% on the shapes measured, a mapping or kernel by 2x. */
typedef enum conv_tune_family {
  TUNE_FAMILY_DEFAULT = 0,
  TUNE_FAMILY_OWN_IMAGE,
  TUNE_FAMILY_OWN_COL,
  TUNE_FAMILY_LDS_IMAGE,
  TUNE_FAMILY_LDS_COL,
  TUNE_FAMILY_CLBLAST,
  TUNE_FAMILY_DIRECT,
  TUNE_FAMILY_SUBPIX,
  TUNE_FAMILY_WINO,
  TUNE_FAMILIES
} conv_tune_family;
#define CONV_TUNE_MAX_CANDIDATES 48
/* The candidates of one product of shape s on ctx's device, the default
 * (the engine's choice) first; returns their count. */
int conv_tune_candidates(const clgan_ctx *ctx, const clgan_conv_shape *s, int product,
                         conv_tune_candidate *out);

/* The sub-pixel adjoint's own tiles the tuner tries on a GPU (gpu 1) or
 * another device, the device's default tile (all 0) first; returns their
 * count. */
#define CONV_TUNE_SUBPIX_TILES 3
int conv_tune_subpix_tiles(int gpu, clgan_gemm_variant *out);

/* ---- conv_tune_ref.c ---------------------------------------------------- */
/* Shapes whose default result is also checked against the host's. */
#define CONV_TUNE_REF_MAX_MACS ((uint64_t)1 << 24)
int conv_tune_ref_small(const clgan_conv_shape *s);
/* A product computed on the host (sums in double) from x [cin, n, h, w],
 * dy [cout, n, ho, wo] and w [cout, cin, k, k] into out (the product's
 * output: y, dx or dw). */
clgan_status conv_tune_ref(const clgan_conv_shape *s, int product, const float *x,
                           const float *dy, const float *w, float *out);

/* ---- conv_tune_cache.c -------------------------------------------------- */
/* "conv 3->64 k4 s2 p1 64x64 n128" (image side -> feature side). */
void conv_tune_shape_name(const clgan_conv_shape *s, char *buf, size_t cap);
/* A candidate's name: "own 8x32 wg 4x16 image", "clblast col", "default". */
void conv_tune_variant_name(const clgan_gemm_variant *v, int from_image, int product, char *buf,
                            size_t cap);
/* What a planned product runs: "own 8x32 wg 4x16 image", "clblast col". */
void conv_tune_plan_name(const clgan_conv_plan *p, int product, char *buf, size_t cap);
/* The cache entry's key: device and driver, the conv kernels' sources, the
 * shape and the tuning values the defaults depend on. */
void conv_tune_key(const clgan_ctx *ctx, const clgan_conv_shape *s, char *key, size_t cap);
/* The directory winners live in ("": none). */
const char *conv_tune_dir(const clgan_ctx *ctx);
/* Loads the winners for key: 1 when a valid entry was found (*cv and the
 * times filled), 0 when it is absent, corrupt, truncated, foreign or holds
 * values out of range (then the shape is tuned again). */
int conv_tune_load(const clgan_ctx *ctx, const char *key, conv_variants *cv,
                   double winner_ms[CONV_PRODUCTS], double default_ms[CONV_PRODUCTS]);
/* Stores winners (best effort: a cache that cannot be written only costs a
 * search next time). */
void conv_tune_store(const clgan_ctx *ctx, const char *key, const conv_variants *cv,
                     const double winner_ms[CONV_PRODUCTS],
                     const double default_ms[CONV_PRODUCTS]);

#endif
