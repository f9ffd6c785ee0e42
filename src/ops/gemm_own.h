/* The GEMM's two backends, below the plan step: the engine's own kernels
 * (gemm_own.c) and CLBlast (gemm_clblast.c). gemm_choice.c times them to
 * choose per shape class; gemm.c plans and runs on them. Arguments are
 * checked above (gemm.c). Not part of the public API. */
#ifndef CLGAN_OPS_GEMM_OWN_H
#define CLGAN_OPS_GEMM_OWN_H

#include "ops/gemm_internal.h"

/* k much larger than m and n (the weight gradients, k = n*h*w): a shape
 * class of its own in the backend choice. */
int gemm_long_reduction(size_t m, size_t n, size_t k);
/* Products small enough for the one-work-item-per-element kernel. */
int gemm_own_is_tiny(size_t m, size_t n, size_t k);
/* Grows the context's GEMM workspace to at least floats (refused once the
 * context is frozen). */
clgan_status gemm_ws_reserve(clgan_ctx *ctx, size_t floats);

/* Fills the own backend's part of *p (path, kernels, geometry, ws_floats)
 * for its trans_a, trans_b, m, n, k (set by the caller, m and n > 0). conv_x: the tiled path with op(B) read from a conv's image
 * (gemm_tile_conv; NN for a forward, NT for a weight gradient). */
clgan_status gemm_own_plan(clgan_ctx *ctx, int conv_x, clgan_gemm_plan *p);
/* The same with the tile of variant v (NULL or all 0: the device's). */
clgan_status gemm_own_plan_variant(clgan_ctx *ctx, int conv_x, const clgan_gemm_variant *v,
                                   clgan_gemm_plan *p);
/* The device's default register tile (TM, NV of cl/gemm.cl) and
 * work-group shape in tiles, as the own plans take it (the tuning's
 * CLGAN_GEMM_TILE included); for kernels that feed gemm_tile themselves. */
void gemm_own_default_tile(const clgan_ctx *ctx, int *tm, int *nv, size_t *lx, size_t *ly);
/* Runs an own plan; conv_x describes the image for CLGAN_GEMM_PATH_CONV_X
 * (b unused there), else NULL; epi: the conv_x store's activation (NULL:
 * none). */
clgan_status gemm_own_run(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, clgan_buf a,
                          size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                          size_t ldc, const clgan_gemm_conv_x *conv_x,
                          const clgan_gemm_epilogue *epi);
/* gemm_own_run (a plain GEMM) right after a run of the same plan with the
 * same op(A), nothing else on the workspace between: op(A), where it is the
 * packed operand, is not packed again (clgan_gemm_run_same_a). */
clgan_status gemm_own_run_same_a(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha,
                                 clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                                 clgan_buf c, size_t ldc);
/* Kernels, workspace and first launch for GEMMs of up to m x n x k. */
clgan_status gemm_own_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k);

/* CLBlast: sets p->ws_floats to its temporary buffer for the shape at
 * packed strides. */
clgan_status gemm_clblast_plan(clgan_ctx *ctx, clgan_gemm_plan *p);
/* Builds CLBlast's SGEMM program for this device (a 1x1x1 GEMM). */
clgan_status gemm_clblast_warm(clgan_ctx *ctx);
/* One SGEMM on checked arguments, k > 0 (the workspace grows if a stride or
 * offset asks more than planned, which a frozen context refuses). */
clgan_status gemm_clblast_run(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                              float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                              float beta, clgan_buf c, size_t ldc);

#endif
