/* The products of a conv whose kernel covers its whole image (see
 * conv_whole.h and cl/conv_whole.cl): the plan and the launches. */
#include <string.h>

#include "ops/conv_tune.h"
#include "ops/conv_whole.h"
#include "runtime/internal.h"


int conv_whole_applies(const clgan_conv_shape *s) {
  return s->k == 4 && s->pad == 0 && s->h == 4 && s->w == 4 && s->ho == 1 && s->wo == 1;
}

int conv_whole_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return clgan_ctx_cpu_paths(ctx) && conv_whole_applies(s);
}

static size_t blocks(int count) { return ((size_t)count + CLGAN_CONV_WHOLE_BLOCK - 1) / CLGAN_CONV_WHOLE_BLOCK; }

clgan_status conv_whole_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s, const int *want,
                                  clgan_conv_whole_plan *out, int *ok) {
  memset(out, 0, sizeof *out);
  *ok = 0;
  if (!conv_whole_applies(s)) return CLGAN_OK;
  if ((uint64_t)s->cin * (uint64_t)s->n * 16 >= ((uint64_t)1 << 32) ||
      (uint64_t)s->cout * (uint64_t)s->cin * 16 >= ((uint64_t)1 << 32) ||
      (uint64_t)s->cout * (uint64_t)s->n >= ((uint64_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_whole: buffers beyond 32-bit offsets");
  static const int all[CONV_PRODUCTS] = {1, 1, 1};
  if (!want) want = all;
  clgan_conv_whole_plan p;
  memset(&p, 0, sizeof p);
  clgan_status st = CLGAN_OK;
  if (want[CONV_ADJ])
    st = clgan_kernel_get(ctx, "conv_whole", NULL, "conv_whole_adjoint", &p.adjoint);
  if (st == CLGAN_OK && want[CONV_FWD])
    st = clgan_kernel_get(ctx, "conv_whole", NULL, "conv_whole_forward", &p.forward);
  if (st == CLGAN_OK && want[CONV_FILT])
    st = clgan_kernel_get(ctx, "conv_whole", NULL, "conv_whole_filter", &p.filter);
  if (st != CLGAN_OK) return st;
  p.adjoint_global[0] = blocks(s->n), p.adjoint_global[1] = (size_t)s->cin;
  p.forward_global[0] = blocks(s->n), p.forward_global[1] = (size_t)s->cout;
  p.filter_global[0] = blocks(s->cout), p.filter_global[1] = (size_t)s->cin;
  *out = p;
  *ok = 1;
  return CLGAN_OK;
}

clgan_status conv_whole_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                            const clgan_conv_shape *s, clgan_buf feat, clgan_buf w, clgan_buf img,
                            clgan_act act, float slope, clgan_buf y) {
  cl_int cin = s->cin, cout = s->cout, n = s->n, a = (cl_int)act;
  cl_uint feat_off = (cl_uint)feat.off, w_off = (cl_uint)w.off, img_off = (cl_uint)img.off;
  cl_mem ym = act != CLGAN_ACT_NONE ? y.mem : img.mem;
  cl_uint y_off = act != CLGAN_ACT_NONE ? (cl_uint)y.off : 0;
  clgan_status st = clgan_set_args(
      p->adjoint, 13, sizeof cin, &cin, sizeof cout, &cout, sizeof n, &n, sizeof(cl_mem),
      &feat.mem, sizeof feat_off, &feat_off, sizeof(cl_mem), &w.mem, sizeof w_off, &w_off,
      sizeof(cl_mem), &img.mem, sizeof img_off, &img_off, sizeof(cl_mem), &ym, sizeof y_off,
      &y_off, sizeof a, &a, sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->adjoint, 2, p->adjoint_global, NULL, "conv_whole_adjoint");
}

clgan_status conv_whole_forward_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                                    const clgan_conv_shape *s, clgan_buf img, clgan_buf w,
                                    clgan_buf feat, clgan_act act, float slope) {
  cl_int cin = s->cin, cout = s->cout, n = s->n, a = (cl_int)act;
  cl_uint img_off = (cl_uint)img.off, w_off = (cl_uint)w.off, feat_off = (cl_uint)feat.off;
  clgan_status st = clgan_set_args(
      p->forward, 11, sizeof cin, &cin, sizeof cout, &cout, sizeof n, &n, sizeof(cl_mem),
      &img.mem, sizeof img_off, &img_off, sizeof(cl_mem), &w.mem, sizeof w_off, &w_off,
      sizeof(cl_mem), &feat.mem, sizeof feat_off, &feat_off, sizeof a, &a, sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->forward, 2, p->forward_global, NULL, "conv_whole_forward");
}

clgan_status conv_whole_filter_run(clgan_ctx *ctx, const clgan_conv_whole_plan *p,
                                   const clgan_conv_shape *s, clgan_buf img, clgan_buf feat,
                                   clgan_buf dw, int accumulate) {
  cl_int cin = s->cin, cout = s->cout, n = s->n;
  cl_uint img_off = (cl_uint)img.off, feat_off = (cl_uint)feat.off, dw_off = (cl_uint)dw.off;
  cl_float beta = accumulate ? 1.0f : 0.0f;
  clgan_status st = clgan_set_args(
      p->filter, 10, sizeof cin, &cin, sizeof cout, &cout, sizeof n, &n, sizeof(cl_mem),
      &img.mem, sizeof img_off, &img_off, sizeof(cl_mem), &feat.mem, sizeof feat_off, &feat_off,
      sizeof(cl_mem), &dw.mem, sizeof dw_off, &dw_off, sizeof beta, &beta);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->filter, 2, p->filter_global, NULL, "conv_whole_filter");
}
