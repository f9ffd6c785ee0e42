/* The conv core's adjoint product (conv backward data, convT forward) as one
 * direct kernel, cl/convt_direct.cl: an implicit GEMM per parity class of
 * the image's pixels, reading dy and the weight in place, so neither the
 * column matrix nor col2im exists. An alternative mapping of the adjoint,
 * chosen per shape by the plan-time tuner (conv_tune.c); the default stays
 * GEMM + col2im. Not part of the public API. */
#ifndef CLGAN_OPS_CONVT_DIRECT_H
#define CLGAN_OPS_CONVT_DIRECT_H

#include <stddef.h>

#include "clgan/ops.h"

/* The kernel's -D parameters: wgx x wgy work-items (along pixels x
 * channels), rm channels x rn pixels per work-item, kc feature channels per
 * chunk staged in local memory; kc 0: the unstaged kernel for CPUs
 * (convt_direct_global: 16*rm channels x rn pixels per work-item). All 0:
 * the direct kernel is not used. */
typedef struct convt_direct_params {
  int wgx, wgy, rm, rn, kc;
} convt_direct_params;

/* The kernel's own defaults (its #ifndef values; a plan made with NULL
 * params builds it without -D and records these). */
#define CONVT_DIRECT_DEFAULT_INIT {16, 16, 4, 4, 16}

/* Whether p asks for the direct kernel (any field nonzero). */
int convt_direct_params_on(const convt_direct_params *p);
/* Whether p is all 0 or a set the kernel compiles: wgx, wgy 1-256 with
 * wgx*wgy <= 1024, rm, rn 1-16, kc 0-64; where kc > 0, wgx*rn and wgx*wgy
 * dividing one another, and kc a multiple of wgx*wgy / (wgx*rn) where that
 * is > 1. */
int convt_direct_params_valid(const convt_direct_params *p);

/* The parameter sets the tuner tries on a GPU (gpu 1: several tile shapes)
 * or on other devices (one); *out points at a constant table. */
#define CONVT_DIRECT_MAX_CANDIDATES 6
int convt_direct_candidates(int gpu, const convt_direct_params **out);

/* Plans the direct adjoint of shape s with params (NULL: the kernel's
 * defaults): the kernel built at plan time (program cache), its work-group
 * checked against the device and the kernel, the launch shape. */
clgan_status convt_direct_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                    const convt_direct_params *params,
                                    clgan_convt_direct_plan *out);
/* dx [cin, n, h, w] = conv^T(dy [cout, n, ho, wo]) with w [cout, cin*k*k];
 * overwrites dx. Buffers checked by the caller (conv.c). */
clgan_status convt_direct_run(clgan_ctx *ctx, const clgan_convt_direct_plan *p,
                              const clgan_conv_shape *s, clgan_buf dy, clgan_buf w,
                              clgan_buf dx);

/* "direct 64x64 wg 16x16 kc16": a work-group's output tile (channels x
 * pixels), its shape (pixels x channels), the chunk; "direct global 16x16
 * wg 16x1": a work-item's tile (kc 0). */
void convt_direct_name(const convt_direct_params *p, char *buf, size_t cap);
/* Whether two plans run the same kernel with the same parameters. */
int convt_direct_same(const clgan_convt_direct_plan *a, const clgan_convt_direct_plan *b);
/* The parameters a plan runs with. */
convt_direct_params convt_direct_plan_params(const clgan_convt_direct_plan *p);

#endif
