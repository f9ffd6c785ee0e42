/* The conv core's adjoint product (conv backward data, convT forward) by
 * sub-pixel decomposition, for k 4, stride 2, pad 1 with h = 2*ho and
 * w = 2*wo (the DCGAN's up- and down-sampling layers): each of dx's four
 * parity classes is a dense stride-1 2x2 conv of dy padded by 1 with a
 * sub-kernel of w, and cl/subpix.cl's gemm_tile_subpix computes two of them
 * at once, register-tiled, storing whole rows of dx. No column matrix, no
 * col2im: per call one pad of dy, one packing of the sub-kernels and one
 * tile launch. Not part of the public API. */
#ifndef CLGAN_OPS_CONV_SUBPIXEL_H
#define CLGAN_OPS_CONV_SUBPIXEL_H

#include "ops/gemm_internal.h"

/* The tile is 16 or 32 channels of the image side wide: with fewer than
 * this many channels most of it would be padding (measured on PoCL: 5-7x
 * slower than GEMM + col2im on 1 channel), so such shapes keep GEMM +
 * col2im. */
#define CONV_SUBPIX_MIN_CIN 16

/* Whether shape s's adjoint decomposes this way (with some tile). */
int conv_subpix_applies(const clgan_conv_shape *s);

/* The col floats the mapping may use on shape s (any tile; where it
 * applies). */
size_t conv_subpix_col_floats(const clgan_conv_shape *s);

/* Whether the plan takes this mapping on shape s with the engine's own
 * choices (no tuner): on CPU devices, where it applies and the image side
 * has CONV_SUBPIX_MIN_CIN channels or more. */
int conv_subpix_default(const clgan_ctx *ctx, const clgan_conv_shape *s);
/* The pixels of the device's default tile (its channels: 16). */
int conv_subpix_default_pixels(const clgan_ctx *ctx);

/* Plans s's adjoint this way with variant v's own tile (tm: output pixels
 * per work-item, even, at most 8; nv 1 or 2; lx x ly tiles a work-group;
 * NULL or backend AUTO: the device's default): kernels built now (program
 * cache), the launch shape, the col floats it uses. INVALID for a variant
 * it cannot run; *ok = 0 (out zeroed) where the shape does not decompose
 * or its rows do not split into the tile's pixels. */
clgan_status conv_subpix_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   const clgan_gemm_variant *v, clgan_conv_subpix_plan *out,
                                   int *ok);
/* dx [cin, n, h, w] = conv^T(dy [cout, n, ho, wo]) with w [cout, cin*16],
 * times act'(y) where act is ReLU or LeakyReLU (y indexed as dx; act
 * CLGAN_ACT_NONE: no derivative, y unused); overwrites dx; col holds at
 * least p->col_floats. dy_padded: dy is given already padded by 1,
 * [cout, n, ho + 2, wo + 2] (nothing padded into col). Buffers checked by
 * the caller (conv.c). */
clgan_status conv_subpix_run(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                             const clgan_conv_shape *s, clgan_buf dy, int dy_padded, clgan_buf w,
                             clgan_buf dx, clgan_buf col, clgan_act act, float slope,
                             clgan_buf y);

#endif
