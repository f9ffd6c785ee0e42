/* The own GEMM's entry for the conv core's weight gradients, read straight
 * from the image instead of a materialised im2col matrix. Not part of the
 * public API. */
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

/* Whether clgan_gemm_conv_filter runs for dW[cout, K] += dY[cout, P] x
 * col^T on this context (the own backend takes GEMMs of that shape). */
clgan_status clgan_gemm_conv_filter_ok(clgan_ctx *ctx, size_t cout, size_t kdim, size_t p,
                                       int *ok);

/* dw = dy x col^T + beta * dw: dy [cout, P] (row stride P), dw [cout, K]
 * (row stride K), K = cin*kw*kw, P = n*ho*wo, col as x describes. */
clgan_status clgan_gemm_conv_filter(clgan_ctx *ctx, size_t cout, clgan_buf dy,
                                    const clgan_gemm_conv_x *x, float beta, clgan_buf dw);

#endif
