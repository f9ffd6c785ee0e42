/* The conv core's adjoint product (conv backward data, convT forward) by
 * sub-pixel decomposition, for k 4, stride 2, pad 1 with h = 2*ho and
 * w = 2*wo (the DCGAN's up- and down-sampling layers): each of dx's four
 * parity classes is a dense stride-1 2x2 conv of dy padded by 1 with a
 * sub-kernel of w (cl/conv_subpixel.cl), run by the own register-tiled
 * GEMM that reads the padded dy as its image (gemm_tile_conv_scatter) and
 * stores its result straight into dx's parity positions. No column matrix,
 * no col2im: per call one pad, one gather of the sub-kernels and four
 * GEMMs (each packing its sub-kernel). An alternative mapping the plan-time
 * tuner chooses per shape (conv_tune.c); the default stays GEMM + col2im.
 * Not part of the public API. */
#ifndef CLGAN_OPS_CONV_SUBPIXEL_H
#define CLGAN_OPS_CONV_SUBPIXEL_H

#include "ops/gemm_internal.h"

/* Whether shape s's adjoint decomposes this way. */
int conv_subpix_applies(const clgan_conv_shape *s);

/* The col floats the mapping uses on shape s (where it applies). */
size_t conv_subpix_col_floats(const clgan_conv_shape *s);

/* Plans s's adjoint this way with GEMM variant v (NULL or backend AUTO: the
 * own backend's default tile): kernels built now (program cache), the
 * GEMM plan, the col floats it uses (the padded dy and the sub-kernels).
 * *ok = 0 (out zeroed) where it does not apply or the GEMM would not run
 * on the scattered tiled path (tiny products, split k). */
clgan_status conv_subpix_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   const clgan_gemm_variant *v, clgan_conv_subpix_plan *out,
                                   int *ok);
/* dx [cin, n, h, w] = conv^T(dy [cout, n, ho, wo]) with w [cout, cin*16];
 * overwrites dx; col holds at least p->col_floats. Buffers checked by the
 * caller (conv.c). */
clgan_status conv_subpix_run(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                             const clgan_conv_shape *s, clgan_buf dy, clgan_buf w, clgan_buf dx,
                             clgan_buf col);

#endif
