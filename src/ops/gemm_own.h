/* Between the GEMM's files (gemm.c: checks, dispatch, CLBlast;
 * gemm_own.c: the engine's own kernels; gemm_choice.c: which backend).
 * Not part of the public API. */
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
/* The own backend on checked arguments; conv_x (with conv_forward) reads
 * op(B)^T from an image, or NULL (see gemm_own.c). */
clgan_status gemm_own(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                      clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                      size_t ldc, const clgan_gemm_conv_x *conv_x, int conv_forward);
/* Kernels, workspace and first launch for GEMMs of up to m x n x k. */
clgan_status gemm_own_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k);
/* The backend for this shape on ctx (measured and remembered per class). */
clgan_status gemm_backend_for(clgan_ctx *ctx, size_t m, size_t n, size_t k,
                              clgan_gemm_backend *out);

#endif
