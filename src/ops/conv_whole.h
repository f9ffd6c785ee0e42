/* The conv core's adjoint (conv backward data, convT forward) where the
 * 4 x 4 kernel covers the whole image: h = w = 4, pad 0, a 1 x 1 feature
 * map (the DCGAN's first G layer, ConvTranspose2d(nz, C, 4, 1, 0), and its
 * last D layer, Conv2d(C, 1, 4, 1, 0)). Each image-side (channel, image)
 * is one 16-float vector, a sum over the feature channels of w's vectors,
 * so cl/conv_whole.cl computes it in one launch: no column matrix, no
 * col2im, no packing (GEMM + col2im took four launches, col2im the
 * longest of them). Not part of the public API. */
#ifndef CLGAN_OPS_CONV_WHOLE_H
#define CLGAN_OPS_CONV_WHOLE_H

#include "ops/gemm_internal.h"

/* Whether shape s is such a conv. */
int conv_whole_applies(const clgan_conv_shape *s);

/* Whether the plan takes this kernel on shape s with the engine's own
 * choices: on CPU devices where it applies (not measured on a GPU). */
int conv_whole_default(const clgan_ctx *ctx, const clgan_conv_shape *s);

/* Plans s's adjoint this way: the kernel built now (program cache), the
 * launch shape. *ok = 0 (out zeroed) where the shape does not apply. */
clgan_status conv_whole_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                  clgan_conv_whole_plan *out, int *ok);

/* img [cin, n, 4, 4] = conv^T(feat [cout, n, 1, 1]) with w [cout, cin*16],
 * times act'(y) where act is ReLU or LeakyReLU (y indexed as img; act
 * CLGAN_ACT_NONE: y unused); overwrites img. Buffers checked by the caller
 * (conv.c). */
clgan_status conv_whole_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                            const clgan_conv_shape *s, clgan_buf feat, clgan_buf w, clgan_buf img,
                            clgan_act act, float slope, clgan_buf y);

#endif
