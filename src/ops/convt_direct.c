/* The direct adjoint product (see convt_direct.h and cl/convt_direct.cl):
 * parameter sets, the plan (kernel built and launch shape fixed at plan
 * time, nothing allocated) and the launch. */
#include <stdio.h>

#include "ops/convt_direct.h"
#include "runtime/internal.h"

/* The tuner's sets. GPUs: the staged kernel, square and wide tiles of
 * 64-128 pixels, down to 4 channels for the 3-channel image side of G's
 * last and D's first layer. CPUs: the unstaged kernel (kc 0,
 * convt_direct_global), one set: on PoCL (2 loaded cores) it ran 6-25x
 * slower than GEMM + col2im on the tutorial's layers, so it costs the
 * tuner two runs per shape and rarely wins. */
static const convt_direct_params gpu_sets[] = {
    {16, 16, 4, 4, 16}, /* 64 x 64, the kernel's defaults */
    {16, 8, 4, 8, 16},  /* 32 x 128 */
    {16, 16, 4, 8, 8},  /* 64 x 128 */
    {16, 16, 8, 4, 8},  /* 128 x 64 */
    {32, 8, 2, 4, 16},  /* 16 x 128 */
    {64, 4, 1, 2, 16},  /* 4 x 128 */
};
static const convt_direct_params cpu_sets[] = {
    {16, 1, 1, 16, 0}, /* 16 channels x 16 pixels per work-item */
};

int convt_direct_candidates(int gpu, const convt_direct_params **out) {
  if (gpu) {
    *out = gpu_sets;
    return (int)(sizeof gpu_sets / sizeof gpu_sets[0]);
  }
  *out = cpu_sets;
  return (int)(sizeof cpu_sets / sizeof cpu_sets[0]);
}

int convt_direct_params_on(const convt_direct_params *p) {
  return p->wgx || p->wgy || p->rm || p->rn || p->kc;
}

int convt_direct_params_valid(const convt_direct_params *p) {
  if (!convt_direct_params_on(p)) return 1;
  if (p->wgx < 1 || p->wgx > 256 || p->wgy < 1 || p->wgy > 256 || p->wgx * p->wgy > 1024 ||
      p->rm < 1 || p->rm > 16 || p->rn < 1 || p->rn > 16 || p->kc < 0 || p->kc > 64)
    return 0;
  if (p->kc == 0) return 1; /* convt_direct_global: any tile */
  int wg = p->wgx * p->wgy, tn = p->wgx * p->rn; /* the kernel's #error conditions */
  if (tn >= wg) return tn % wg == 0;
  return wg % tn == 0 && p->kc % (wg / tn) == 0;
}

void convt_direct_name(const convt_direct_params *p, char *buf, size_t cap) {
  if (p->kc == 0)
    snprintf(buf, cap, "direct global %dx%d wg %dx%d", 16 * p->rm, p->rn, p->wgx, p->wgy);
  else
    snprintf(buf, cap, "direct %dx%d wg %dx%d kc%d", p->wgy * p->rm, p->wgx * p->rn, p->wgx, p->wgy,
           p->kc);
}

int convt_direct_same(const clgan_convt_direct_plan *a, const clgan_convt_direct_plan *b) {
  return a->kernel == b->kernel && a->wgx == b->wgx && a->wgy == b->wgy && a->rm == b->rm &&
         a->rn == b->rn && a->kc == b->kc;
}

convt_direct_params convt_direct_plan_params(const clgan_convt_direct_plan *p) {
  convt_direct_params q = {p->wgx, p->wgy, p->rm, p->rn, p->kc};
  return q;
}

/* Pixels of the largest parity class along an axis of extent len: the
 * classes hold ceil or floor of len / stride. */
static size_t class_extent(int len, int stride) { return ((size_t)len + stride - 1) / stride; }

clgan_status convt_direct_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                    const convt_direct_params *params,
                                    clgan_convt_direct_plan *out) {
  const convt_direct_params def = CONVT_DIRECT_DEFAULT_INIT;
  const convt_direct_params *q = params ? params : &def;
  if (!convt_direct_params_on(q) || !convt_direct_params_valid(q))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "convt_direct: invalid parameters wg %dx%d tile %dx%d kc %d", q->wgx, q->wgy,
                      q->rm, q->rn, q->kc);
  char opts[128];
  snprintf(opts, sizeof opts, "-DWGX=%d -DWGY=%d -DRM=%d -DRN=%d -DKC=%d", q->wgx, q->wgy, q->rm,
           q->rn, q->kc);
  clgan_convt_direct_plan p = {NULL, q->wgx, q->wgy, q->rm, q->rn, q->kc, {0, 0, 0}, {0, 0, 0}};
  int staged = q->kc > 0;
  clgan_status st = clgan_kernel_get(ctx, "convt_direct", params ? opts : NULL,
                                     staged ? "convt_direct" : "convt_direct_global", &p.kernel);
  if (st != CLGAN_OK) return st;
  size_t wg = (size_t)q->wgx * q->wgy;
  size_t local_bytes = (size_t)q->kc * ((size_t)q->wgy * q->rm + (size_t)q->wgx * q->rn) * 4;
  if (wg > clgan_kernel_max_local(ctx, p.kernel) ||
      (staged && !ctx->dev.local_mem_is_global && local_bytes > ctx->dev.local_mem_bytes))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "convt_direct: a %zu-item work-group with %zu bytes of local memory does "
                      "not fit %s",
                      wg, local_bytes, ctx->dev.name);
  size_t tm = (size_t)q->wgy * q->rm, tn = (size_t)q->wgx * q->rn;
  size_t npix = (size_t)s->n * class_extent(s->h, s->stride) * class_extent(s->w, s->stride);
  p.local[0] = (size_t)q->wgx, p.local[1] = (size_t)q->wgy, p.local[2] = 1;
  if (staged) { /* work-groups of tm channels x tn pixels */
    p.global[0] = (npix + tn - 1) / tn * (size_t)q->wgx;
    p.global[1] = ((size_t)s->cin + tm - 1) / tm * (size_t)q->wgy;
  } else { /* work-items of 16*rm channels x rn pixels */
    p.global[0] = clgan_round_up((npix + q->rn - 1) / q->rn, (size_t)q->wgx);
    p.global[1] = clgan_round_up(((size_t)s->cin + 16 * q->rm - 1) / (16 * q->rm), (size_t)q->wgy);
  }
  p.global[2] = (size_t)s->stride * s->stride;
  *out = p;
  return CLGAN_OK;
}

clgan_status convt_direct_run(clgan_ctx *ctx, const clgan_convt_direct_plan *p,
                              const clgan_conv_shape *s, clgan_buf dy, clgan_buf w,
                              clgan_buf dx) {
  cl_uint dy_off = (cl_uint)dy.off, w_off = (cl_uint)w.off, dx_off = (cl_uint)dx.off;
  cl_int n = s->n, cin = s->cin, h = s->h, wd = s->w, cout = s->cout, ho = s->ho, wo = s->wo;
  cl_int k = s->k, stride = s->stride, pad = s->pad;
  clgan_status st = clgan_set_args(
      p->kernel, 16, sizeof(cl_mem), &dy.mem, sizeof dy_off, &dy_off, sizeof(cl_mem), &w.mem,
      sizeof w_off, &w_off, sizeof(cl_mem), &dx.mem, sizeof dx_off, &dx_off, sizeof n, &n,
      sizeof cin, &cin, sizeof h, &h, sizeof wd, &wd, sizeof cout, &cout, sizeof ho, &ho,
      sizeof wo, &wo, sizeof k, &k, sizeof stride, &stride, sizeof pad, &pad);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->kernel, 3, p->global, p->local, "convt_direct");
}
