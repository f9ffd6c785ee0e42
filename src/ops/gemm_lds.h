/* The GEMM's local-memory backend (cl/gemm_lds.cl), shaped for GPUs: tiles
 * of both operands staged in local memory, register tiles per work-item,
 * operands read in place (no packing, padding or transposition kernel),
 * op(B) read from a conv's image for the conv core. Below the plan step
 * (gemm.c) like gemm_own.h; the plan-time tuner (conv_tune.c) offers it.
 * Arguments are checked above. Not part of the public API. */
#ifndef CLGAN_OPS_GEMM_LDS_H
#define CLGAN_OPS_GEMM_LDS_H

#include "ops/gemm_internal.h"

/* Whether an LDS variant's numbers are ones the kernel accepts: all of tm,
 * nv, lx, ly, wgk, vw 0 (the default set), or tm, nv 1-16 (tm*nv at most
 * 128), lx * ly at most 1024, wgk 1-64, vw 1, 2 or 4 dividing wgk and the
 * group's tile (tm*ly) x (nv*lx), each side at most 512. */
int gemm_lds_variant_valid(const clgan_gemm_variant *v);

/* The parameter sets the tuner tries on a GPU (gpu 1) or another device
 * (the default set only), the default first; at most cap of them, returns
 * how many. */
int gemm_lds_param_sets(int gpu, clgan_gemm_variant *out, int cap);

/* Fills the LDS part of *p (path, backend, kernels, geometry, ws_floats)
 * for its trans_a, trans_b, m, n, k (set by the caller, all > 0), with the
 * parameters of v (NULL or all 0: the default set). conv_x: op(B) read from
 * a conv's image (NN: the forward, NT: the weight gradient). Fails (the
 * error set) where the device cannot run the set: work-group or local
 * memory too large. */
clgan_status gemm_lds_plan(clgan_ctx *ctx, int conv_x, const clgan_gemm_variant *v,
                           clgan_gemm_plan *p);

/* Runs an LDS plan: C = alpha op(A) op(B) + beta C; conv_x describes the
 * image for a conv plan (b and ldb unused there), else NULL. Loads are
 * vectors where the offsets and row strides of the operands loaded so are
 * multiples of vw, scalars elsewhere. */
clgan_status gemm_lds_run(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, clgan_buf a,
                          size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c, size_t ldc,
                          const clgan_gemm_conv_x *conv_x);

/* "lds64x64k16/4x4v4" (group tile, k step / work-item tile, vector width)
 * for a variant (all 0: the default set's numbers) or a plan. */
void gemm_lds_variant_name(const clgan_gemm_variant *v, char *buf, size_t cap);
void gemm_lds_plan_name(const clgan_gemm_plan *p, char *buf, size_t cap);

#endif
