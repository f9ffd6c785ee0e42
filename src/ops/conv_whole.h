/* The conv core's products where the 4 x 4 kernel covers the whole image:
 * h = w = 4, pad 0, a 1 x 1 feature map (the DCGAN's first G layer,
 * ConvTranspose2d(nz, C, 4, 1, 0), and its last D layer, Conv2d(C, 1, 4,
 * 1, 0)). Each image-side (channel, image) is one 16-float vector: the
 * adjoint (conv backward data, convT forward) is a sum over the feature
 * channels of w's vectors, the forward a dot product of w's vectors with
 * the image's, the weight gradient a sum over the images of the image's
 * vectors, so cl/conv_whole.cl computes each in one launch: no column
 * matrix, no col2im, no packing, no split-k reduction (GEMM + col2im took
 * four launches for the adjoint, col2im the longest of them; the forward
 * GEMM three). Not part of the public API. */
#ifndef CLGAN_OPS_CONV_WHOLE_H
#define CLGAN_OPS_CONV_WHOLE_H

#include "ops/gemm_internal.h"

/* Whether shape s is such a conv. */
int conv_whole_applies(const clgan_conv_shape *s);

/* Whether the plan takes these kernels on shape s with the engine's own
 * choices: on CPU devices where it applies (not measured on a GPU). */
int conv_whole_default(const clgan_ctx *ctx, const clgan_conv_shape *s);

/* Plans s's products this way, those whose want[CONV_FWD / CONV_ADJ /
 * CONV_FILT] is set (NULL: all three): the kernels built now (program
 * cache), the launch shapes. *ok = 0 (out zeroed) where the shape does not
 * apply. */
clgan_status conv_whole_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s, const int *want,
                                  clgan_conv_whole_plan *out, int *ok);

/* feat [cout, n, 1, 1] = act(conv(img [cin, n, 4, 4])) with w [cout, cin*16]
 * (act CLGAN_ACT_NONE, ReLU or LeakyReLU). */
clgan_status conv_whole_forward_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                                    const clgan_conv_shape *s, clgan_buf img, clgan_buf w,
                                    clgan_buf feat, clgan_act act, float slope);

/* dw [cout, cin*16] = (dw if accumulate, else 0) + feat x img over the
 * images. */
clgan_status conv_whole_filter_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                                   const clgan_conv_shape *s, clgan_buf img, clgan_buf feat,
                                   clgan_buf dw, int accumulate);

/* img [cin, n, 4, 4] = conv^T(feat [cout, n, 1, 1]) with w [cout, cin*16],
 * times act'(y) where act is ReLU or LeakyReLU (y indexed as img; act
 * CLGAN_ACT_NONE: y unused); overwrites img. Buffers checked by the caller
 * (conv.c). */
clgan_status conv_whole_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                            const clgan_conv_shape *s, clgan_buf feat, clgan_buf w, clgan_buf img,
                            clgan_act act, float slope, clgan_buf y);

#endif
