/* The forward (and, below, the adjoint and the weight gradient) of a k 4,
 * stride 2, pad 1 conv by Winograd F(4x4, 2x2) over the four tap
 * parities (cl/winograd.cl): 25 multiply-adds per 4x4 output tile and
 * input channel parity where the direct product takes 64, in three
 * launches around one of gemm_tile (the 25 products as its split of k):
 * the weights transformed into its packed B panels, the padded image's
 * tiles into its packed A panels, the outputs from the products with the
 * fused activation. The transforms' workspace is the context's GEMM
 * workspace (the transformed image is 1.56x the image, the products 1.56x
 * the output). The engine's choice on CPUs for the large products only
 * (conv_wino_default); CLGAN_WINOGRAD=0 (the tuning's winograd -1) turns
 * all three off, =1 takes them wherever they apply, on any device
 * (measurements: bench/gpu_run.sh on a GPU, where they are not measured).
 * An F(2x2, 2x2) form (9 products per 2x2 tile) saved less than its
 * transforms cost.
 * Not part of the public API. */
#ifndef CLGAN_OPS_CONV_WINOGRAD_H
#define CLGAN_OPS_CONV_WINOGRAD_H

#include "ops/gemm_internal.h"

/* Image channels below this keep the direct product (the narrow kernel
 * takes 1 to 3 channels). */
#define CONV_WINO_MIN_CIN 4

/* Whether shape s is such a conv: k 4, stride 2, pad 1, an output of half
 * the image's size in whole 4x4 tiles, cin a multiple of 4 and at least
 * CONV_WINO_MIN_CIN. */
int conv_wino_applies(const clgan_conv_shape *s);

/* Whether the plan takes it on shape s with the engine's own choices: where
 * it applies when the tuning asks for it. */
int conv_wino_default(const clgan_ctx *ctx, const clgan_conv_shape *s);

/* Plans s's forward this way with the device's default register tile: the
 * kernels built now (program cache), the workspace's layout and launch
 * shapes. *ok = 0 (out zeroed) where the shape does not apply. */
clgan_status conv_wino_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                 clgan_conv_wino_plan *out, int *ok);

/* y [cout, n, ho, wo] = act(conv(x)) from x, the image padded by 1 (the
 * geometry of clgan_gemm_conv_x), with w [cout, cin*16]; act CLGAN_ACT_NONE,
 * ReLU or LeakyReLU. The GEMM workspace grows to p->ws_floats unless the
 * context is frozen (clgan_conv_plan_prepare reserves it). Buffers checked
 * by the caller. */
clgan_status conv_wino_forward_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                   const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                   clgan_buf w, clgan_buf y, clgan_act act, float slope);

/* The adjoint (backward data: Conv2d's, ConvTranspose2d's forward) by the
 * forward's transposed form (cl/winograd_adjoint.cl's wino_adjt_*): per tile and
 * tap parity dd = B [U .* (A dy A^T)] B^T, 25 products over dy's channels
 * in one gemm_tile launch, the tiles' overlapping 5x5 windows summed as
 * each tile's 8x8 block of dx is written (act' fused). dy read as given,
 * padded or not. The engine's choice on CPUs for the same large products
 * as the weight gradient's (on a 2-core Zen 4, each alone against the
 * sub-pixel tiles: `tutorial`'s D2 44.8 -> 30.7 ms, D3 43.8 -> 29.7, D4
 * 46.4 -> 37.4). An earlier form, F(4x4, 2x2) per parity class of dx over
 * dy padded (100 transformed values per tile and channel of dy), cost more
 * in its transforms than it saved. */
int conv_wino_adj_default(const clgan_ctx *ctx, const clgan_conv_shape *s);
clgan_status conv_wino_adj_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                     clgan_conv_wino_plan *out, int *ok);
/* dx [cin, n, h, w] = conv^T(dy) from dy [cout, n, ho, wo] (or, dy_padded,
 * dy padded by 1), times act'(y) where act is ReLU or LeakyReLU (y [cin, n,
 * h, w]); overwrites dx. Buffers checked by the caller. */
clgan_status conv_wino_adj_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                               const clgan_conv_shape *s, clgan_buf dy, int dy_padded,
                               clgan_buf w, clgan_buf dx, clgan_act act, float slope,
                               clgan_buf y);

/* The weight gradient (Conv2d's, ConvTranspose2d's) the same way
 * (cl/winograd_filter.cl's wino_filt_*): dW's four parities as the transposed
 * form dg = G^T [(A dy A^T) .* (B^T d B)] G, summed over the tiles in the
 * transformed domain, so one GEMM of 25 products (4 * cin x cout over the
 * tiles) and an output transform per weight. The engine's choice on CPUs
 * for the same large products as the forward's (conv_winograd.c). */
int conv_wino_filt_default(const clgan_ctx *ctx, const clgan_conv_shape *s);
clgan_status conv_wino_filt_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                      clgan_conv_wino_plan *out, int *ok);
/* dw (+)= the weight gradient from x, the image padded by 1 (the geometry
 * of clgan_gemm_conv_x), and dy [cout, n, ho, wo]. Buffers checked by the
 * caller. */
clgan_status conv_wino_filt_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                clgan_buf dy, clgan_buf dw, int accumulate);

/* Whether p's input transform (the forward's or the weight gradient's)
 * reads shape s's image as it is, with no zero border stored: every panel
 * of its tiles whole and gathered, or its tiles in rows of four
 * (cl/winograd.cl's implicit zero padding), so that no padding kernel and
 * no padded copy runs. Given the
 * image padded (clgan_gemm_conv_x's hp = h + 2), any plan reads it so. */
int conv_wino_reads_unpadded(const clgan_conv_wino_plan *p, const clgan_conv_shape *s);

/* ---- The transformed image, shared ------------------------------------------
 * The forward and the weight gradient transform the same image the same
 * way (B^T d B): where a plan has both, the weight gradient's layout
 * [4 cin][25][tiles] (p->v_floats, p the weight gradient's plan) serves
 * both products' GEMMs read in place, so a ConvTranspose2d's backward (both
 * products from one dy) and a Conv2d whose forward keeps it for its weight
 * gradient transform the image once. */

/* v = the transformed image of x (padded by 1), by p's input transform. */
clgan_status conv_wino_filt_input_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                      const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                      clgan_buf v);
/* conv_wino_filt_run from v (conv_wino_filt_input_run's). */
clgan_status conv_wino_filt_shared_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                       const clgan_conv_shape *s, clgan_buf v, clgan_buf dy,
                                       clgan_buf dw, int accumulate);
/* Where conv_wino_filt_run leaves the transformed image: the workspace at
 * p->vp_off, until another op uses the workspace (a forward plan whose
 * up_off lies past it leaves it intact). */
clgan_buf conv_wino_filt_ws_v(const clgan_ctx *ctx, const clgan_conv_wino_plan *p);
/* conv_wino_forward_run from v (the weight gradient plan's
 * conv_wino_filt_input_run) instead of its own transform. */
clgan_status conv_wino_forward_shared_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                          const clgan_conv_shape *s, clgan_buf v, clgan_buf w,
                                          clgan_buf y, clgan_act act, float slope);

/* ---- Kept weights ------------------------------------------------------------
 * A forward or adjoint plan whose weights_kept is set (clgan_conv_keep_weights)
 * keeps there the weights it last transformed [cout][cin][16] and then
 * their transform (u_floats, the GEMM's packed B panels); each work-item of
 * the weight transform compares its weights with the kept ones and stores
 * nothing where they are the same (cl/winograd.cl's wino_weights_seen).
 * D's plans keep them: D runs each forward and adjoint three times a step
 * (real, fake, G's step) and its weights change once, so two of three
 * transforms store nothing. On a 2-core Zen 5 that made `tutorial`'s step
 * about 3% faster (device memory 658 -> 810 MiB); `gray32`'s is unchanged
 * (42 -> 51 MiB), its transforms being small beside its GEMMs.
 * The comparison itself reads both sets of weights: `gray32`'s D3 on a
 * 2-core Zen 4, 0.16-0.24 ms a call that stores nothing against 0.40 for a
 * transform, 0.7 ms a step over D2 and D3. So where the caller knows the
 * weights are the ones kept (weights_current: the graph's parameter
 * versions), the weight kernel is not launched at all.
 * conv_wino_weights_kept_floats: such a buffer's floats (0 where p is no
 * Winograd plan). */
size_t conv_wino_weights_kept_floats(const clgan_conv_wino_plan *p, const clgan_conv_shape *s);

#endif
