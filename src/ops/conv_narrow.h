/* The products of a k 4, stride 2, pad 1 conv from an image of at most
 * CLGAN_CONV_NARROW_MAX_CIN channels (1: the DCGAN's first D layer on gray
 * images, and the core conv of G's last layer), outputs 16 or more wide in
 * multiples of 16, each by a kernel of its own (cl/conv_narrow.cl): the
 * forward and the weight gradient from the image padded by the conv's
 * padding kernel, the adjoint (D1's backward data, G4's forward) from dy.
 * The forward computes each output row segment of 16 from its cin * 16 tap
 * vectors, every output channel a vector store; the weight gradient holds
 * an output pixel's 16 taps in a vector; the adjoint a dy row segment and
 * its shifts by one. As GEMMs their cin * 16 was too short for the
 * register tile: the forward ran at 20-35% of the FMA peak on PoCL, most of
 * it in the transposed store, the weight gradient's copy of dy into panels
 * took twice its product, and the adjoint's col2im added a pass. Not part
 * of the public API. */
#ifndef CLGAN_OPS_CONV_NARROW_H
#define CLGAN_OPS_CONV_NARROW_H

#include "ops/gemm_internal.h"

/* Whether shape s is such a conv. */
int conv_narrow_applies(const clgan_conv_shape *s);

/* Whether the plan takes the kernel on shape s with the engine's own
 * choices: on CPU devices where it applies (not measured on a GPU). */
int conv_narrow_default(const clgan_ctx *ctx, const clgan_conv_shape *s);

/* Plans s's forward this way: the kernel built now (program cache), the
 * launch shape. *ok = 0 (out zeroed) where the shape does not apply. */
clgan_status conv_narrow_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   clgan_conv_narrow_plan *out, int *ok);

/* y [cout, n, ho, wo] = act(conv(x)) from x, the image padded by 1 (the
 * geometry of clgan_gemm_conv_x), with w [cout, cin*16]; act
 * CLGAN_ACT_NONE, ReLU or LeakyReLU. Buffers checked by the caller. */
clgan_status conv_narrow_forward_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                     const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                     clgan_buf w, clgan_buf y, clgan_act act, float slope);

/* Adds s's weight gradient by the narrow kernel to p (planned by
 * conv_narrow_plan_make or zeroed): conv_narrow_filter and its sum, the
 * slices, their workspace. *ok = 0 (p unchanged) where the shape does not
 * apply. */
clgan_status conv_narrow_filter_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                          clgan_conv_narrow_plan *p, int *ok);

/* Adds s's adjoint by the narrow kernel to p, as
 * conv_narrow_filter_plan_make does the weight gradient. */
clgan_status conv_narrow_adjoint_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                           clgan_conv_narrow_plan *p, int *ok);

/* dx [cin, n, h, w] = conv^T(dy) from dy [cout, n, ho, wo] with w
 * [cout, cin*16], times act'(y) where act is ReLU or LeakyReLU (y [cin, n,
 * h, w]; unread for CLGAN_ACT_NONE). Buffers checked by the caller. */
clgan_status conv_narrow_adjoint_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                     const clgan_conv_shape *s, clgan_buf dy, clgan_buf w,
                                     clgan_buf dx, clgan_act act, float slope, clgan_buf y);

/* dw [cout, cin*16] (+)= dy [cout, n, ho, wo] x im2col(x)^T from x, the
 * image padded by 1 (the geometry of clgan_gemm_conv_x); accumulate adds
 * to dw. Buffers checked by the caller. */
clgan_status conv_narrow_filter_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                    const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                    clgan_buf dy, clgan_buf dw, int accumulate);

#endif
