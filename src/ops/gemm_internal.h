/* The GEMM's entries for the conv core: plans of products with a conv's
 * im2col matrix read straight from the image instead of a materialised
 * copy, and the backend choice per shape. Not part of the public API. */
#ifndef CLGAN_OPS_GEMM_INTERNAL_H
#define CLGAN_OPS_GEMM_INTERNAL_H

#include "clgan/ops.h"

/* A conv's im2col matrix col[cin*kw*kw, n*ho*wo] as its zero-padded image:
 * img holds cin planes of n images, each hp x wp (the padding included), and
 *   col((c*kw + ki)*kw + kj, (b*ho + oy)*wo + ox)
 *     = img[((c*n + b)*hp + oy*stride + ki)*wp + ox*stride + kj]. */
typedef struct clgan_gemm_conv_x {
  clgan_buf img;
  int cin, n, hp, wp, kw, stride, ho, wo;
} clgan_gemm_conv_x;

/* An activation applied as a conv forward's GEMM stores its output (the
 * piecewise-linear ones: none, ReLU, LeakyReLU; see
 * clgan_gemm_conv_forward_fuses). */
typedef struct clgan_gemm_epilogue {
  clgan_act act;
  float slope;
} clgan_gemm_epilogue;

/* One product's GEMM variant as the plan-time tuner chooses it (conv_tune.c):
 * the backend and, for the own one, the register tile (tm rows x 16*nv
 * columns) and the work-group shape in tiles (lx columns, ly rows); all four
 * 0: the device's default tile. For the LDS backend (cl/gemm_lds.cl) the
 * same fields mean: a tm x nv register tile per work-item (nv columns, not
 * vectors), lx x ly work-items per group, so the group's tile of C is
 * (tm*ly) x (nv*lx); wgk the k per local-memory step, vw the floats per
 * vector load; all six 0: the default set (gemm_lds.c). wgk and vw are 0
 * for the other backends. */
typedef struct clgan_gemm_variant {
  clgan_gemm_backend backend; /* OWN, CLBLAST or LDS */
  int tm, nv, lx, ly;
  int wgk, vw; /* LDS only */
} clgan_gemm_variant;

/* Whether a variant's numbers are ones the kernels accept (own: tm 1-16,
 * nv 1-4, lx * ly at most 4096, or all 0; LDS: gemm_lds_variant_valid;
 * backend AUTO only with all 0: the engine's choice, as a NULL variant). */
int clgan_gemm_variant_valid(const clgan_gemm_variant *v);

/* clgan_gemm_plan_make on a given variant (NULL: the context's choice). */
clgan_status clgan_gemm_plan_variant(clgan_ctx *ctx, const clgan_gemm_variant *v, int trans_a,
                                     int trans_b, size_t m, size_t n, size_t k,
                                     clgan_gemm_plan *out);

/* The backend for an m x n x k product on ctx (measured and remembered per
 * shape class: gemm_choice.c). */
clgan_status gemm_backend_for(clgan_ctx *ctx, size_t m, size_t n, size_t k,
                              clgan_gemm_backend *out);
/* How many times slower than the own kernel CLBlast ran in that
 * measurement, for the class of an m x n x k product (0: not measured or
 * loaded in this context, e.g. where the tuning forces a backend). */
double gemm_clblast_slowdown(const clgan_ctx *ctx, size_t m, size_t n, size_t k);

/* Plans a conv product reading the image where this context's own tiled
 * path runs it; *ok = 0 (and *out untouched) where it does not. filter 0:
 * the forward y = w x col, m, n, k = cout, P, K; filter 1: the weight
 * gradient dw = dy x col^T + beta * dw, m, n, k = cout, K, P. */
clgan_status clgan_gemm_conv_plan_make(clgan_ctx *ctx, int filter, size_t m, size_t n, size_t k,
                                       clgan_gemm_plan *out, int *ok);
/* The same with the tile of variant v (NULL: as above; v's backend must be
 * OWN or LDS). */
clgan_status clgan_gemm_conv_plan_variant(clgan_ctx *ctx, const clgan_gemm_variant *v, int filter,
                                          size_t m, size_t n, size_t k, clgan_gemm_plan *out,
                                          int *ok);

/* clgan_gemm_run right after a run of the same plan with the same a (the
 * conv adjoint's chunks of images, W each time), nothing but non-GEMM
 * kernels between: the own backend does not pack op(A) again; the same
 * bits. Other backends: clgan_gemm_run. */
clgan_status clgan_gemm_run_same_a(clgan_ctx *ctx, const clgan_gemm_plan *plan, float alpha,
                                   clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                                   clgan_buf c, size_t ldc);

/* The weight gradient with a filter plan: dy [cout, P] (row stride P), dw
 * [cout, K] (row stride K). */
clgan_status clgan_gemm_conv_filter(clgan_ctx *ctx, const clgan_gemm_plan *plan, clgan_buf dy,
                                    const clgan_gemm_conv_x *x, clgan_buf dw, float beta);

/* The forward with a forward plan: w [cout, K], y [cout, P] = act(W x
 * col) with epi (NULL: no activation; INVALID for one the plan cannot
 * fuse). */
clgan_status clgan_gemm_conv_forward(clgan_ctx *ctx, const clgan_gemm_plan *plan, clgan_buf w,
                                     const clgan_gemm_conv_x *x, clgan_buf y,
                                     const clgan_gemm_epilogue *epi);
/* Whether a forward plan can apply act as it stores: the own tiled GEMM
 * without split k, and act none, ReLU or LeakyReLU. */
int clgan_gemm_conv_forward_fuses(const clgan_gemm_plan *plan, clgan_act act);

#endif
