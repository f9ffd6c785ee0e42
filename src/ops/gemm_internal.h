/* The own GEMM's entries for the conv core: products with a conv's im2col
 * matrix read straight from the image instead of a materialised copy. Not
 * part of the public API. */
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

/* Whether an m x n x k product runs on this context's own tiled path (the
 * condition for the two entries below; their m, n, k as named there). */
clgan_status clgan_gemm_conv_ok(clgan_ctx *ctx, size_t m, size_t n, size_t k, int *ok);

/* The weight gradient dw = dy x col^T + beta * dw: dy [cout, P] (row stride
 * P), dw [cout, K] (row stride K); m, n, k = cout, K, P. */
clgan_status clgan_gemm_conv_filter(clgan_ctx *ctx, size_t cout, clgan_buf dy,
                                    const clgan_gemm_conv_x *x, clgan_buf dw, float beta);

/* The forward y = w x col: w [cout, K], y [cout, P]; m, n, k = cout, P, K. */
clgan_status clgan_gemm_conv_forward(clgan_ctx *ctx, size_t cout, clgan_buf w,
                                     const clgan_gemm_conv_x *x, clgan_buf y);

#endif
