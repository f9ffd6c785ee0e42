/* The narrow-image conv forward and weight gradient (see conv_narrow.h
 * and cl/conv_narrow.cl): their plans and launches. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ops/conv_narrow.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

int conv_narrow_applies(const clgan_conv_shape *s) {
  return s->k == 4 && s->stride == 2 && s->pad == 1 && s->cin <= CLGAN_CONV_NARROW_MAX_CIN &&
         s->h == 2 * s->ho && s->w == 2 * s->wo && s->wo % 16 == 0;
}

int conv_narrow_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return clgan_ctx_cpu_paths(ctx) && conv_narrow_applies(s);
}

clgan_status conv_narrow_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   clgan_conv_narrow_plan *out, int *ok) {
  memset(out, 0, sizeof *out);
  *ok = 0;
  if (!conv_narrow_applies(s)) return CLGAN_OK;
  if ((uint64_t)s->cin * s->n * (uint64_t)(s->h + 2) * (uint64_t)(s->w + 2) >= ((uint64_t)1 << 32) ||
      (uint64_t)s->cout * s->n * (uint64_t)s->ho * (uint64_t)s->wo >= ((uint64_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_narrow: buffers beyond 32-bit offsets");
  clgan_conv_narrow_plan p;
  memset(&p, 0, sizeof p);
  char opts[32];
  snprintf(opts, sizeof opts, "-DNARROW_CIN=%d", s->cin);
  clgan_status st = clgan_kernel_get(ctx, "conv_narrow", opts, "conv_narrow_forward", &p.forward);
  if (st != CLGAN_OK) return st;
  p.global[0] = (size_t)s->wo / 16;
  p.global[1] = (size_t)s->n * s->ho;
  *out = p;
  *ok = 1;
  return CLGAN_OK;
}

clgan_status conv_narrow_forward_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                     const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                     clgan_buf w, clgan_buf y, clgan_act act, float slope) {
  cl_int cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, a = (cl_int)act;
  cl_uint x_off = (cl_uint)x->img.off, w_off = (cl_uint)w.off, y_off = (cl_uint)y.off;
  clgan_status st = clgan_set_args(p->forward, 12, sizeof cout, &cout, sizeof n, &n, sizeof ho,
                                   &ho, sizeof wo, &wo, sizeof(cl_mem), &x->img.mem, sizeof x_off,
                                   &x_off, sizeof(cl_mem), &w.mem, sizeof w_off, &w_off,
                                   sizeof(cl_mem), &y.mem, sizeof y_off, &y_off, sizeof a, &a,
                                   sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->forward, 2, p->global, NULL, "conv_narrow_forward");
}

/* The weight gradient's slices of row segments: about 16 segments each (a
 * work-item's share of the patches), at most NARROW_MAX_SLICES (their
 * partial sums are read once more). A function of the shape only, so the
 * sum's order and its rounding do not depend on the device. */
#define NARROW_SEGS_PER_SLICE 16
#define NARROW_MAX_SLICES 64

clgan_status conv_narrow_filter_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                          clgan_conv_narrow_plan *p, int *ok) {
  *ok = 0;
  if (!conv_narrow_applies(s)) return CLGAN_OK;
  if ((uint64_t)s->cin * s->n * (uint64_t)(s->h + 2) * (uint64_t)(s->w + 2) >= ((uint64_t)1 << 32) ||
      (uint64_t)s->cout * s->n * (uint64_t)s->ho * (uint64_t)s->wo >= ((uint64_t)1 << 31))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_narrow: buffers beyond 32-bit offsets");
  char opts[32];
  snprintf(opts, sizeof opts, "-DNARROW_CIN=%d", s->cin);
  cl_kernel filter, sum;
  clgan_status st = clgan_kernel_get(ctx, "conv_narrow", opts, "conv_narrow_filter", &filter);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "conv_narrow", opts, "conv_narrow_filter_sum", &sum);
  if (st != CLGAN_OK) return st;
  size_t segs = (size_t)s->n * s->ho * (s->wo / 16);
  size_t slices = (segs + NARROW_SEGS_PER_SLICE - 1) / NARROW_SEGS_PER_SLICE;
  if (slices > NARROW_MAX_SLICES) slices = NARROW_MAX_SLICES;
  size_t count = (size_t)s->cout * s->cin * 16;
  p->filter = filter, p->filter_sum = sum;
  p->slices = (int)slices;
  p->filter_global[0] = slices;
  p->filter_global[1] = ((size_t)s->cout + CLGAN_CONV_NARROW_FILT_CO - 1) / CLGAN_CONV_NARROW_FILT_CO;
  p->sum_global = count / 16; /* count: a multiple of 16 */
  p->ws_floats = slices * count;
  *ok = 1;
  return CLGAN_OK;
}

clgan_status conv_narrow_filter_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                    const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                    clgan_buf dy, clgan_buf dw, int accumulate) {
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st != CLGAN_OK) return st;
  cl_int cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, slices = p->slices;
  cl_int count = (cl_int)(16 * p->sum_global), acc = accumulate != 0;
  cl_uint x_off = (cl_uint)x->img.off, dy_off = (cl_uint)dy.off, dw_off = (cl_uint)dw.off;
  cl_uint part_off = 0;
  cl_mem ws = ctx->gemm_ws.mem;
  if ((st = clgan_set_args(p->filter, 11, sizeof cout, &cout, sizeof n, &n, sizeof ho, &ho,
                           sizeof wo, &wo, sizeof slices, &slices, sizeof(cl_mem), &x->img.mem,
                           sizeof x_off, &x_off, sizeof(cl_mem), &dy.mem, sizeof dy_off, &dy_off,
                           sizeof(cl_mem), &ws, sizeof part_off, &part_off)) != CLGAN_OK ||
      (st = clgan_launch(ctx, p->filter, 2, p->filter_global, NULL, "conv_narrow_filter")) !=
          CLGAN_OK)
    return st;
  if ((st = clgan_set_args(p->filter_sum, 7, sizeof count, &count, sizeof slices, &slices,
                           sizeof(cl_mem), &ws, sizeof part_off, &part_off, sizeof(cl_mem),
                           &dw.mem, sizeof dw_off, &dw_off, sizeof acc, &acc)) != CLGAN_OK)
    return st;
  return clgan_launch(ctx, p->filter_sum, 1, &p->sum_global, NULL, "conv_narrow_filter_sum");
}

clgan_status conv_narrow_adjoint_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                           clgan_conv_narrow_plan *p, int *ok) {
  *ok = 0;
  if (!conv_narrow_applies(s)) return CLGAN_OK;
  if ((uint64_t)s->cin * s->n * (uint64_t)s->h * (uint64_t)s->w >= ((uint64_t)1 << 32) ||
      (uint64_t)s->cout * s->n * (uint64_t)s->ho * (uint64_t)s->wo >= ((uint64_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_narrow: buffers beyond 32-bit offsets");
  char opts[32];
  snprintf(opts, sizeof opts, "-DNARROW_CIN=%d", s->cin);
  clgan_status st = clgan_kernel_get(ctx, "conv_narrow", opts, "conv_narrow_adjoint", &p->adjoint);
  if (st != CLGAN_OK) return st;
  p->adjoint_global[0] = (size_t)s->wo / 16;
  p->adjoint_global[1] = (size_t)s->n * (((size_t)s->h + CLGAN_CONV_NARROW_ADJ_ROWS - 1) / CLGAN_CONV_NARROW_ADJ_ROWS);
  *ok = 1;
  return CLGAN_OK;
}

clgan_status conv_narrow_adjoint_run(clgan_ctx *ctx, const clgan_conv_narrow_plan *p,
                                     const clgan_conv_shape *s, clgan_buf dy, clgan_buf w,
                                     clgan_buf dx, clgan_act act, float slope, clgan_buf y) {
  cl_int cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, a = (cl_int)act;
  cl_mem ym = act != CLGAN_ACT_NONE ? y.mem : dx.mem; /* unread without act */
  cl_uint dy_off = (cl_uint)dy.off, w_off = (cl_uint)w.off, dx_off = (cl_uint)dx.off;
  cl_uint y_off = act != CLGAN_ACT_NONE ? (cl_uint)y.off : 0;
  clgan_status st = clgan_set_args(
      p->adjoint, 14, sizeof cout, &cout, sizeof n, &n, sizeof ho, &ho, sizeof wo, &wo,
      sizeof(cl_mem), &dy.mem, sizeof dy_off, &dy_off, sizeof(cl_mem), &w.mem, sizeof w_off,
      &w_off, sizeof(cl_mem), &dx.mem, sizeof dx_off, &dx_off, sizeof(cl_mem), &ym, sizeof y_off,
      &y_off, sizeof a, &a, sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->adjoint, 2, p->adjoint_global, NULL, "conv_narrow_adjoint");
}
