/* The conv core's data-movement launches: im2col and col2im (cl/im2col.cl,
 * cl/col2im.cl) and the zero-padded copy of an image (pad_planes /
 * pad_image), with the arguments the plan chose. */
#include <stdint.h>

#include "ops/conv_core.h"
#include "runtime/internal.h"

clgan_status conv_run_im2col(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                             clgan_buf col) {
  const clgan_conv_shape *s = &p->shape;
  const char *name = p->im2col_rows ? "im2col_rows" : "im2col";
  cl_kernel kern = p->im2col;
  cl_uint img_off = (cl_uint)img.off, col_off = (cl_uint)col.off, n = (cl_uint)s->n;
  cl_int h = s->h, w = s->w, stride = s->stride, pad = s->pad;
  clgan_status st;
  if (p->im2col_rows) {
    cl_int ho = s->ho, wo = s->wo, k = s->k, oyb = p->im2col_oyb;
    cl_uint nblk = p->im2col_nblk;
    st = clgan_set_args(kern, 14, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off,
                        sizeof(cl_mem), &col.mem, sizeof col_off, &col_off, sizeof n, &n, sizeof h,
                        &h, sizeof w, &w, sizeof stride, &stride, sizeof pad, &pad, sizeof ho, &ho,
                        sizeof wo, &wo, sizeof k, &k, sizeof oyb, &oyb, sizeof nblk, &nblk);
    if (st != CLGAN_OK) return st;
    size_t global[2] = {clgan_round_up((size_t)s->n * nblk, 16), (size_t)s->cin * s->k * s->k};
    return clgan_launch(ctx, kern, 2, global, NULL, name);
  }
  cl_uint ncols = (cl_uint)((uint64_t)s->n * s->ho * s->wo);
  const cl_uint4 *div = p->im2col_div; /* by wo, ho, k */
  st = clgan_set_args(kern, 13, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off, sizeof(cl_mem),
                      &col.mem, sizeof col_off, &col_off, sizeof n, &n, sizeof h, &h, sizeof w, &w,
                      sizeof stride, &stride, sizeof pad, &pad, sizeof ncols, &ncols, sizeof div[0],
                      &div[0], sizeof div[1], &div[1], sizeof div[2], &div[2]);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up(ncols, 64), (size_t)s->cin * s->k * s->k};
  return clgan_launch(ctx, kern, 2, global, NULL, name);
}

clgan_status conv_pad_kernel_get(clgan_ctx *ctx, cl_kernel *out) {
  return clgan_kernel_get(ctx, "im2col", NULL,
                          clgan_ctx_cpu_paths(ctx) ? "pad_planes" : "pad_image", out);
}

clgan_status conv_pad_planes(clgan_ctx *ctx, cl_kernel pad_kernel, clgan_buf img, clgan_buf out,
                             size_t planes, int h, int w, int pad) {
  cl_uint img_off = (cl_uint)img.off, out_off = (cl_uint)out.off, np = (cl_uint)planes;
  cl_int ch = h, cw = w, cp = pad;
  clgan_status st;
  if ((st = clgan_set_args(pad_kernel, 8, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off,
                           sizeof(cl_mem), &out.mem, sizeof out_off, &out_off, sizeof np, &np,
                           sizeof ch, &ch, sizeof cw, &cw, sizeof cp, &cp)) != CLGAN_OK)
    return st;
  if (clgan_ctx_cpu_paths(ctx)) { /* pad_planes: a work-item per plane */
    size_t global[1] = {planes};
    return clgan_launch(ctx, pad_kernel, 1, global, NULL, "pad_planes");
  }
  size_t global[2] = {clgan_round_up((size_t)(h + 2 * pad), 16), planes};
  return clgan_launch(ctx, pad_kernel, 2, global, NULL, "pad_image");
}

/* col2im's last four arguments (after `first` others). */
static clgan_status col2im_act_set(cl_kernel kern, cl_uint first, const conv_col2im_act *a,
                                   clgan_buf img) {
  cl_mem y = a->act != CLGAN_ACT_NONE ? a->y.mem : img.mem;
  cl_uint y_off = a->act != CLGAN_ACT_NONE ? (cl_uint)a->y.off : 0;
  cl_int act = (cl_int)a->act;
  float slope = a->slope;
  const size_t size[4] = {sizeof y, sizeof y_off, sizeof act, sizeof slope};
  const void *val[4] = {&y, &y_off, &act, &slope};
  for (cl_uint i = 0; i < 4; i++) {
    clgan_status st = CLGAN_CL(clSetKernelArg(kern, first + i, size[i], val[i]));
    if (st != CLGAN_OK) return st;
  }
  return CLGAN_OK;
}

/* col2im of the first n images (n <= the plan's batch); img's channels are
 * cstride floats apart (the plan's n*h*w: see col2im.cl); a: the derivative
 * applied as it stores (NULL: none). */
clgan_status conv_run_col2im(clgan_ctx *ctx, const clgan_conv_plan *p, int images, clgan_buf col,
                             clgan_buf img, cl_uint cstride, const conv_col2im_act *a) {
  const clgan_conv_shape *s = &p->shape;
  const char *name = p->col2im_rows ? "col2im_rows" : "col2im";
  cl_kernel kern = p->col2im;
  cl_uint img_off = (cl_uint)img.off, col_off = (cl_uint)col.off, n = (cl_uint)images;
  cl_int k = s->k, stride = s->stride, pad = s->pad, ho = s->ho, wo = s->wo, h = s->h, w = s->w;
  const conv_col2im_act none = {CLGAN_ACT_NONE, 0.0f, {0}};
  if (!a) a = &none;
  clgan_status st;
  if (p->col2im_rows) {
    st = clgan_set_args(kern, 13, sizeof(cl_mem), &col.mem, sizeof col_off, &col_off,
                        sizeof(cl_mem), &img.mem, sizeof img_off, &img_off, sizeof n, &n, sizeof k,
                        &k, sizeof stride, &stride, sizeof pad, &pad, sizeof ho, &ho, sizeof wo,
                        &wo, sizeof h, &h, sizeof w, &w, sizeof cstride, &cstride);
    if (st == CLGAN_OK) st = col2im_act_set(kern, 13, a, img);
    if (st != CLGAN_OK) return st;
    /* rows y, images b (rounded up to whole groups), channels c (see
     * col2im_rows); a work-group is about 256 rows of one channel (PoCL's
     * own choice, a few groups spanning all images, ran G5 of `tutorial`
     * 1.9x slower; groups of one image's rows 1.2x) */
    size_t per = (size_t)s->h < 256 ? 256 / (size_t)s->h : 1; /* images per work-group */
    if (per > (size_t)images) per = (size_t)images;
    size_t global[3] = {(size_t)s->h, clgan_round_up((size_t)images, per), (size_t)s->cin};
    size_t local[3] = {(size_t)s->h, per, 1};
    return clgan_launch(ctx, kern, 3, global, (size_t)s->h * per <= 256 ? local : NULL, name);
  }
  cl_uint npix = (cl_uint)((uint64_t)images * s->h * s->w);
  const cl_uint4 *div = p->col2im_div; /* by w, h, stride */
  st = clgan_set_args(kern, 15, sizeof(cl_mem), &col.mem, sizeof col_off, &col_off, sizeof(cl_mem),
                      &img.mem, sizeof img_off, &img_off, sizeof n, &n, sizeof k, &k, sizeof stride,
                      &stride, sizeof pad, &pad, sizeof ho, &ho, sizeof wo, &wo, sizeof npix, &npix,
                      sizeof div[0], &div[0], sizeof div[1], &div[1], sizeof div[2], &div[2],
                      sizeof cstride, &cstride);
  if (st == CLGAN_OK) st = col2im_act_set(kern, 15, a, img);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up(npix, 64), (size_t)s->cin};
  return clgan_launch(ctx, kern, 2, global, NULL, name);
}

clgan_status conv_plan_check(const clgan_conv_plan *p, const char *op) {
  if (!p) return clgan_fail(CLGAN_ERR_INVALID, "%s: plan is NULL", op);
  if (!p->im2col || !p->col2im)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: plan not made by clgan_conv_plan_make", op);
  return CLGAN_OK;
}

clgan_status clgan_im2col(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img, clgan_buf col) {
  const char *op = "clgan_im2col";
  clgan_status st;
  if ((st = conv_plan_check(p, op)) != CLGAN_OK ||
      (st = conv_buf_check(img, conv_img_floats(&p->shape), op, "img")) != CLGAN_OK ||
      (st = conv_buf_check(col, conv_col_floats(&p->shape), op, "col")) != CLGAN_OK)
    return st;
  return conv_run_im2col(ctx, p, img, col);
}

clgan_status clgan_col2im(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf col, clgan_buf img) {
  const char *op = "clgan_col2im";
  clgan_status st;
  if ((st = conv_plan_check(p, op)) != CLGAN_OK ||
      (st = conv_buf_check(col, conv_col_floats(&p->shape), op, "col")) != CLGAN_OK ||
      (st = conv_buf_check(img, conv_img_floats(&p->shape), op, "img")) != CLGAN_OK)
    return st;
  const clgan_conv_shape *s = &p->shape;
  return conv_run_col2im(ctx, p, s->n, col, img, (cl_uint)((uint64_t)s->n * s->h * s->w), NULL);
}
