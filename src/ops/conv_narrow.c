/* The narrow-image conv forward (see conv_narrow.h and cl/conv_narrow.cl):
 * the plan and the launch. */
#include <stdio.h>
#include <string.h>

#include "ops/conv_narrow.h"
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
