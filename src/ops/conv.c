/* Convolutions: Conv2d and ConvTranspose2d (no bias) on one conv core.
 *
 * The core is batched im2col + one GEMM over the whole batch (activations are
 * (C, N, H, W), so the GEMM writes the output in place):
 *   forward          Y[cout, P]  = W[cout, K] x col[K, P],  col = im2col(X)
 *   backward data    dcol[K, P]  = W^T x dY,                dX = col2im(dcol)
 *   backward filter  dW[cout, K] (+)= dY x col^T,           col = im2col(X)
 * with K = cin*k*k and P = n*ho*wo. ConvTranspose2d is the adjoint of the conv
 * its shape describes (see clgan_conv_shape_convt): its forward is the conv's
 * backward data, its backward data the conv's forward, and its weight
 * gradient the conv's with the roles of input and output gradient swapped.
 *
 * When k = 1, stride 1, pad 0 the column matrix *is* the image, so im2col and
 * col2im are skipped and col is not touched. For k 4, stride 2, pad 1 the
 * adjoint runs by sub-pixel tiles where the plan (CPUs) or the tuner chose
 * them (conv_subpixel.c): col holds the padded dY, no col2im; where the
 * tuner chose it, as one direct kernel (convt_direct.c): no col.
 *
 * Where the engine's own GEMM runs them (CPU devices; the weight gradients
 * on GPUs), the forward and the weight gradient never build col: the GEMM
 * reads the taps from a zero-padded copy of the image (kept in col's place,
 * k*k/stride^2 times smaller). On CPUs the backward data
 * builds col a few images at a time, so col2im finds it in cache. Every such
 * choice, the GEMM plans and the kernels come from the plan
 * (clgan_conv_plan_make, conv_plan.c); the functions here only check
 * buffers and launch. The kernels index with uint, so every buffer must
 * stay below 2^32 floats. */
#include <stdint.h>

#include "ops/conv_internal.h"
#include "ops/conv_subpixel.h"
#include "ops/conv_narrow.h"
#include "ops/conv_winograd.h"
#include "ops/conv_whole.h"
#include "ops/convt_direct.h"
#include "ops/gemm_internal.h"
#include "runtime/internal.h"

/* ---- im2col / col2im / pad ---------------------------------------------------- */

static clgan_status run_im2col(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
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
                      sizeof stride, &stride, sizeof pad, &pad, sizeof ncols, &ncols,
                      sizeof div[0], &div[0], sizeof div[1], &div[1], sizeof div[2], &div[2]);
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

/* The image with a border of pad zeros. */
static clgan_status run_pad(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                            clgan_buf out) {
  const clgan_conv_shape *s = &p->shape;
  return conv_pad_planes(ctx, p->pad, img, out, (size_t)s->cin * s->n, s->h, s->w, s->pad);
}

/* The derivative col2im applies as it stores: act'(y) (y indexed as the
 * image; act CLGAN_ACT_NONE: none, y unused). */
typedef struct col2im_act {
  clgan_act act;
  float slope;
  clgan_buf y;
} col2im_act;

/* col2im's last four arguments (after `first` others). */
static clgan_status col2im_act_set(cl_kernel kern, cl_uint first, const col2im_act *a,
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
static clgan_status run_col2im(clgan_ctx *ctx, const clgan_conv_plan *p, int images,
                               clgan_buf col, clgan_buf img, cl_uint cstride,
                               const col2im_act *a) {
  const clgan_conv_shape *s = &p->shape;
  const char *name = p->col2im_rows ? "col2im_rows" : "col2im";
  cl_kernel kern = p->col2im;
  cl_uint img_off = (cl_uint)img.off, col_off = (cl_uint)col.off, n = (cl_uint)images;
  cl_int k = s->k, stride = s->stride, pad = s->pad, ho = s->ho, wo = s->wo, h = s->h, w = s->w;
  const col2im_act none = {CLGAN_ACT_NONE, 0.0f, {0}};
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

static clgan_status plan_check(const clgan_conv_plan *p, const char *op) {
  if (!p) return clgan_fail(CLGAN_ERR_INVALID, "%s: plan is NULL", op);
  if (!p->im2col || !p->col2im)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: plan not made by clgan_conv_plan_make", op);
  return CLGAN_OK;
}

clgan_status clgan_im2col(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img, clgan_buf col) {
  const char *op = "clgan_im2col";
  clgan_status st;
  if ((st = plan_check(p, op)) != CLGAN_OK ||
      (st = conv_buf_check(img, conv_img_floats(&p->shape), op, "img")) != CLGAN_OK ||
      (st = conv_buf_check(col, conv_col_floats(&p->shape), op, "col")) != CLGAN_OK)
    return st;
  return run_im2col(ctx, p, img, col);
}

clgan_status clgan_col2im(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf col, clgan_buf img) {
  const char *op = "clgan_col2im";
  clgan_status st;
  if ((st = plan_check(p, op)) != CLGAN_OK ||
      (st = conv_buf_check(col, conv_col_floats(&p->shape), op, "col")) != CLGAN_OK ||
      (st = conv_buf_check(img, conv_img_floats(&p->shape), op, "img")) != CLGAN_OK)
    return st;
  const clgan_conv_shape *s = &p->shape;
  return run_col2im(ctx, p, s->n, col, img, (cl_uint)((uint64_t)s->n * s->h * s->w), NULL);
}

/* The conv's image as the GEMM reads it, at buf: the padded geometry. */
static clgan_gemm_conv_x image_view(const clgan_conv_plan *p, clgan_buf buf) {
  const clgan_conv_shape *s = &p->shape;
  clgan_gemm_conv_x v = {buf,    s->cin,   s->n,  s->h + 2 * s->pad, s->w + 2 * s->pad,
                         s->k,   s->stride, s->ho, s->wo};
  return v;
}

/* The image padded into dst (col, or a kept copy), or as it is (pad 0). */
static clgan_status padded_image(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                                 clgan_buf dst, clgan_gemm_conv_x *x) {
  if (p->shape.pad == 0) {
    *x = image_view(p, img);
    return CLGAN_OK;
  }
  *x = image_view(p, dst);
  return run_pad(ctx, p, img, dst);
}

/* ---- The conv core: three modes, named for Conv2d ---------------------------
 * `op` names the public entry point in error messages; the argument names
 * (and the checked sizes) are the conv's: img is the image side [cin, n, h, w],
 * feat the feature side [cout, n, ho, wo], w the weight [cout, cin*k*k]. */

/* The floats of the feature side padded by 1 (the sub-pixel tiles' dy). */
static uint64_t padded_feat_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * s->n * (uint64_t)(s->ho + 2) * (uint64_t)(s->wo + 2);
}

/* A buffer given padded (or kept padded): present, indexable, and (where
 * its size is known) large enough. */
static clgan_status padded_check(clgan_buf b, uint64_t floats, const char *op, const char *name) {
  clgan_status st = conv_buf_check(b, floats, op, name);
  if (st == CLGAN_OK && b.floats != 0 && b.floats < floats)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer %s holds %zu floats, padded it needs %llu",
                      op, name, b.floats, (unsigned long long)floats);
  return st;
}

/* Whether the forward and the weight gradient read the image padded: the
 * GEMMs from the image, the narrow and the Winograd kernels. */
static int fwd_reads_padded(const clgan_conv_plan *p) {
  return !p->whole.forward && (p->fwd_from_image || p->narrow.forward || p->wino.tile);
}
static int filt_reads_padded(const clgan_conv_plan *p) {
  return !p->whole.filter && (p->filt_from_image || p->filt_wino.tile || p->narrow.filter);
}

/* Whether the forward and the weight gradient both read the image as it
 * is, their Winograd input transforms padding it implicitly
 * (conv_wino_reads_unpadded): nothing pads it then, no op before writes a
 * padded copy, and a kept copy holds the transformed image alone. */
static int image_implicit(const clgan_conv_plan *p) {
  const clgan_conv_shape *s = &p->shape;
  return p->wino.tile && p->filt_wino.tile && !p->whole.forward && !p->whole.filter &&
         !p->narrow.forward && !p->narrow.filter && s->pad == 1 &&
         conv_wino_reads_unpadded(&p->wino, s) && conv_wino_reads_unpadded(&p->filt_wino, s);
}

/* The image as it is stored, for image_implicit's transforms. */
static clgan_gemm_conv_x unpadded_view(const clgan_conv_plan *p, clgan_buf buf) {
  clgan_gemm_conv_x v = image_view(p, buf);
  v.hp = p->shape.h, v.wp = p->shape.w;
  return v;
}

/* Whether the image side may be given padded: where p reads it so, and
 * where its transforms pad implicitly (they read a padded image too). */
static int takes_padded_img(const clgan_conv_plan *p) {
  return clgan_conv_reads_padded(p, CLGAN_CONV_IMAGE_SIDE, NULL) || image_implicit(p);
}

/* Where the Winograd forward and weight gradient share the transformed
 * image (conv_winograd.h), the kept copy holds it after the padded image
 * (none where image_implicit), from this float on. */
static size_t kept_v_off(const clgan_conv_plan *p) {
  if (image_implicit(p)) return 0;
  return clgan_round_up((size_t)conv_padded_img_floats(&p->shape), 16);
}

/* Whether p's Winograd forward and weight gradient share the transformed
 * image, within the kernels' 32-bit offsets of a kept copy. */
static int wino_shares(const clgan_conv_plan *p) {
  return p->wino.tile && p->filt_wino.tile && !p->whole.forward && !p->whole.filter &&
         p->shape.pad > 0 && p->wino.up_off >= p->filt_wino.vp_off + p->filt_wino.v_floats &&
         (uint64_t)kept_v_off(p) + p->filt_wino.v_floats < ((uint64_t)1 << 31);
}

/* The transformed image in a kept copy. */
static clgan_buf kept_v(const clgan_conv_plan *p, clgan_buf kept) {
  return clgan_buf_at(kept, kept_v_off(p));
}

/* feat = conv(img), with epi's activation as the GEMM stores it (NULL:
 * none; only where clgan_conv2d_forward_fuses_act allows it). img_padded:
 * img is given already padded (only where clgan_conv_reads_padded says the
 * image side is read so). */
static clgan_status core_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                                 int img_padded, clgan_buf w, clgan_buf feat, clgan_buf col,
                                 clgan_buf kept, const clgan_gemm_epilogue *epi, const char *op,
                                 const char *img_name, const char *feat_name) {
  clgan_status st = plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (img_padded && !takes_padded_img(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read %s padded", op, img_name);
  if ((st = img_padded ? padded_check(img, conv_padded_img_floats(s), op, img_name)
                       : conv_buf_check(img, conv_img_floats(s), op, img_name)) != CLGAN_OK ||
      (st = conv_buf_check(w, conv_weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = conv_buf_check(feat, conv_feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (!p->direct && (st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK))
    return st;
  size_t kdim = (size_t)s->cin * s->k * s->k, np = (size_t)s->n * s->ho * s->wo;
  clgan_buf b = img;
  clgan_act act = epi ? epi->act : CLGAN_ACT_NONE;
  float slope = epi ? epi->slope : 0.0f;
  if ((p->whole.forward || p->narrow.forward || p->wino.tile) && act != CLGAN_ACT_NONE &&
      !clgan_conv2d_forward_fuses_act(p, act))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan cannot fuse activation %d", op, (int)act);
  if (p->whole.forward) /* the whole-image kernel (pad 0: nothing kept) */
    return conv_whole_forward_run(ctx, &p->whole, s, img, w, feat, act, slope);
  if (p->fwd_from_image || p->narrow.forward || p->wino.tile) {
    clgan_gemm_conv_x x = image_view(p, img);
    if (!img_padded && image_implicit(p))
      x = unpadded_view(p, img);
    else if (!img_padded &&
             (st = padded_image(ctx, p, img, kept.mem ? kept : col, &x)) != CLGAN_OK)
      return st;
    if (p->narrow.forward) /* the narrow-image kernel: its taps from the padded image */
      return conv_narrow_forward_run(ctx, &p->narrow, s, &x, w, feat, act, slope);
    if (p->wino.tile && kept.mem && wino_shares(p)) { /* transformed into kept, for the
                                                         weight gradient too */
      clgan_buf v = kept_v(p, kept);
      st = conv_wino_filt_input_run(ctx, &p->filt_wino, s, &x, v);
      return st != CLGAN_OK ? st
                            : conv_wino_forward_shared_run(ctx, &p->wino, s, v, w, feat, act, slope);
    }
    if (p->wino.tile) /* Winograd: the padded image's tiles transformed */
      return conv_wino_forward_run(ctx, &p->wino, s, &x, w, feat, act, slope);
    return clgan_gemm_conv_forward(ctx, &p->fwd, w, &x, feat, epi);
  }
  if (epi && epi->act != CLGAN_ACT_NONE)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan cannot fuse activation %d", op,
                      (int)epi->act);
  if (!p->direct) {
    if ((st = run_im2col(ctx, p, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm_run(ctx, &p->fwd, 1.0f, w, kdim, b, np, 0.0f, feat, np);
}

/* Whether core_adjoint can apply a derivative as it stores: col2im, the
 * sub-pixel tiles and the whole-image kernel can, not the tuner's direct
 * kernel, not a 1x1 conv. */
static int adjoint_fuses_act(const clgan_conv_plan *p) {
  return !p->adj_direct.kernel && !p->direct;
}

/* Whether core_adjoint takes feat padded by 1: where the sub-pixel tiles
 * read it so (clgan_conv_reads_padded), and in the Winograd adjoint, which
 * reads dy padded or not at the same cost (so the graph hands it none). */
static int takes_padded_feat(const clgan_conv_plan *p) {
  return clgan_conv_reads_padded(p, CLGAN_CONV_FEATURE_SIDE, NULL) ||
         (p->adj_wino.tile && !p->adj_direct.kernel && !p->whole.adjoint);
}

/* img = conv^T(feat), times a's derivative where a is given (only where
 * adjoint_fuses_act); overwrites img. feat_padded: feat is given already
 * padded by 1 (only where clgan_conv_reads_padded says the feature side is
 * read so). */
static clgan_status core_adjoint(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                                 int feat_padded, clgan_buf w, clgan_buf img, clgan_buf col,
                                 const col2im_act *a, const char *op, const char *feat_name,
                                 const char *img_name) {
  clgan_status st = plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (feat_padded && !takes_padded_feat(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read %s padded", op, feat_name);
  if ((st = feat_padded ? padded_check(feat, padded_feat_floats(s), op, feat_name)
                        : conv_buf_check(feat, conv_feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (st = conv_buf_check(w, conv_weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = conv_buf_check(img, conv_img_floats(s), op, img_name)) != CLGAN_OK)
    return st;
  /* the tuner's direct kernel: no col, no col2im */
  if (p->adj_direct.kernel) return convt_direct_run(ctx, &p->adj_direct, s, feat, w, img);
  /* the whole-image kernel: no col */
  if (p->whole.adjoint)
    return a ? conv_whole_run(ctx, &p->whole, s, feat, w, img, a->act, a->slope, a->y)
             : conv_whole_run(ctx, &p->whole, s, feat, w, img, CLGAN_ACT_NONE, 0.0f,
                              (clgan_buf){0});
  /* the narrow-image kernel: feat as it is given (never padded) */
  if (p->narrow.adjoint)
    return a ? conv_narrow_adjoint_run(ctx, &p->narrow, s, feat, w, img, a->act, a->slope, a->y)
             : conv_narrow_adjoint_run(ctx, &p->narrow, s, feat, w, img, CLGAN_ACT_NONE, 0.0f,
                                       (clgan_buf){0});
  /* Winograd: feat as it is given, padded or not */
  if (p->adj_wino.tile)
    return a ? conv_wino_adj_run(ctx, &p->adj_wino, s, feat, feat_padded, w, img, a->act,
                                 a->slope, a->y)
             : conv_wino_adj_run(ctx, &p->adj_wino, s, feat, feat_padded, w, img,
                                 CLGAN_ACT_NONE, 0.0f, (clgan_buf){0});
  /* the sub-pixel tiles: col holds the padded feat, no col2im */
  if (p->adj_subpix.tile) {
    if ((st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK) return st;
    return a ? conv_subpix_run(ctx, &p->adj_subpix, s, feat, feat_padded, w, img, col, a->act,
                               a->slope, a->y)
             : conv_subpix_run(ctx, &p->adj_subpix, s, feat, feat_padded, w, img, col,
                               CLGAN_ACT_NONE, 0.0f, (clgan_buf){0});
  }
  size_t kdim = (size_t)s->cin * s->k * s->k, np = (size_t)s->n * s->ho * s->wo;
  if (p->direct) return clgan_gemm_run(ctx, &p->adj, 1.0f, w, kdim, feat, np, 0.0f, img, np);
  /* The column matrix a few images at a time (the plan's adjoint_images): a
   * smaller col, still in cache when col2im reads it back. */
  int per = p->adjoint_images;
  size_t pix = (size_t)s->ho * s->wo, hw = (size_t)s->h * s->w;
  if ((st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK) return st;
  cl_uint cstride = (cl_uint)((uint64_t)s->n * hw);
  const clgan_gemm_plan *prev = NULL;
  for (int b0 = 0; b0 < s->n && st == CLGAN_OK; b0 += per) {
    int images = s->n - b0 < per ? s->n - b0 : per;
    size_t pp = (size_t)images * pix;
    const clgan_gemm_plan *g = images == per ? &p->adj : &p->adj_last;
    /* w, packed by the first chunk's GEMM, serves the chunks of its plan */
    st = (g == prev ? clgan_gemm_run_same_a : clgan_gemm_run)(
        ctx, g, 1.0f, w, kdim, clgan_buf_at(feat, (size_t)b0 * pix), np, 0.0f, col, pp);
    prev = g;
    if (st != CLGAN_OK) break;
    col2im_act at = {CLGAN_ACT_NONE, 0.0f, {0}}; /* y of these images */
    if (a) at = *a, at.y = clgan_buf_at(a->y, (size_t)b0 * hw);
    st = run_col2im(ctx, p, images, col, clgan_buf_at(img, (size_t)b0 * hw), cstride, &at);
  }
  return st;
}


/* dw = feat x im2col(img)^T + beta dw, from the padded image x. */
static clgan_status filter_product(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                                   const clgan_gemm_conv_x *x, clgan_buf dw, float beta) {
  if (p->filt_wino.tile)
    return conv_wino_filt_run(ctx, &p->filt_wino, &p->shape, x, feat, dw, beta != 0.0f);
  if (p->narrow.filter)
    return conv_narrow_filter_run(ctx, &p->narrow, &p->shape, x, feat, dw, beta != 0.0f);
  return clgan_gemm_conv_filter(ctx, &p->filt, feat, x, dw, beta);
}

/* dw (+)= feat x im2col(img)^T. */
static clgan_status core_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                                int img_kept, clgan_buf feat, clgan_buf dw, clgan_buf col,
                                int accumulate, const char *op, const char *img_name,
                                const char *feat_name) {
  clgan_status st = plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (img_kept) { /* the copy clgan_conv2d_forward_keep made */
    uint64_t kept = clgan_conv_kept_floats(p);
    if (kept == 0)
      return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan keeps no padded image", op);
    if ((st = padded_check(img, kept, op, "kept")) != CLGAN_OK ||
        (st = conv_buf_check(feat, conv_feat_floats(s), op, feat_name)) != CLGAN_OK ||
        (st = conv_buf_check(dw, conv_weight_floats(s), op, "dw")) != CLGAN_OK)
      return st;
    if (wino_shares(p)) /* the forward's transformed image */
      return conv_wino_filt_shared_run(ctx, &p->filt_wino, s, kept_v(p, img), feat, dw,
                                       accumulate);
    clgan_gemm_conv_x x = image_view(p, img);
    return filter_product(ctx, p, feat, &x, dw, accumulate ? 1.0f : 0.0f);
  }
  if ((st = conv_buf_check(img, conv_img_floats(s), op, img_name)) != CLGAN_OK ||
      (st = conv_buf_check(feat, conv_feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (st = conv_buf_check(dw, conv_weight_floats(s), op, "dw")) != CLGAN_OK ||
      (!p->direct && (st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK))
    return st;
  if (p->whole.filter) return conv_whole_filter_run(ctx, &p->whole, s, img, feat, dw, accumulate);
  size_t kdim = (size_t)s->cin * s->k * s->k, np = (size_t)s->n * s->ho * s->wo;
  float beta = accumulate ? 1.0f : 0.0f;
  clgan_buf b = img;
  if (filt_reads_padded(p)) {
    clgan_gemm_conv_x x = unpadded_view(p, img);
    if (!image_implicit(p) && (st = padded_image(ctx, p, img, col, &x)) != CLGAN_OK) return st;
    return filter_product(ctx, p, feat, &x, dw, beta);
  }
  if (!p->direct) {
    if ((st = run_im2col(ctx, p, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm_run(ctx, &p->filt, 1.0f, feat, np, b, np, beta, dw, kdim);
}

/* ---- Conv2d ------------------------------------------------------------------ */

clgan_status clgan_conv2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                  clgan_buf w, clgan_buf y, clgan_buf col) {
  clgan_buf none = {0};
  return core_forward(ctx, p, x, 0, w, y, col, none, NULL, "clgan_conv2d_forward", "x", "y");
}

int clgan_conv2d_forward_fuses_act(const clgan_conv_plan *p, clgan_act act) {
  if (p && p->im2col && (p->whole.forward || p->narrow.forward || p->wino.tile)) /* their stores */
    return act == CLGAN_ACT_RELU || act == CLGAN_ACT_LEAKY_RELU;
  return p && p->im2col && p->fwd_from_image && clgan_gemm_conv_forward_fuses(&p->fwd, act);
}

clgan_status clgan_conv2d_forward_act(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                      clgan_buf w, clgan_buf y, clgan_buf col, clgan_act act,
                                      float slope) {
  clgan_gemm_epilogue epi = {act, slope};
  clgan_buf none = {0};
  return core_forward(ctx, p, x, 0, w, y, col, none, &epi, "clgan_conv2d_forward_act", "x", "y");
}

size_t clgan_conv_kept_floats(const clgan_conv_plan *p) {
  if (p && image_implicit(p)) return wino_shares(p) ? p->filt_wino.v_floats : 0;
  if (!p || !fwd_reads_padded(p) || !filt_reads_padded(p) || p->shape.pad == 0) return 0;
  if (wino_shares(p)) return kept_v_off(p) + p->filt_wino.v_floats;
  return (size_t)conv_padded_img_floats(&p->shape);
}

/* The forward keeping its copy in kept (checked against p's
 * clgan_conv_kept_floats); x_is_kept: x padded at kept's start. */
static clgan_status forward_keeping(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                    int x_is_kept, clgan_buf w, clgan_buf y, clgan_buf col,
                                    clgan_buf kept, clgan_act act, float slope, const char *op) {
  uint64_t floats = clgan_conv_kept_floats(p);
  if (floats == 0) return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan keeps no padded image", op);
  if (x_is_kept && !clgan_conv_reads_padded(p, CLGAN_CONV_IMAGE_SIDE, NULL))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan keeps the image transformed, not padded",
                      op);
  clgan_status st = padded_check(kept, floats, op, "kept");
  if (st != CLGAN_OK) return st;
  clgan_gemm_epilogue epi = {act, slope};
  return core_forward(ctx, p, x_is_kept ? kept : x, x_is_kept, w, y, col, kept,
                      act == CLGAN_ACT_NONE ? NULL : &epi, op, x_is_kept ? "kept" : "x", "y");
}

clgan_status clgan_conv2d_forward_keep(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                       clgan_buf w, clgan_buf y, clgan_buf col, clgan_buf kept,
                                       clgan_act act, float slope) {
  return forward_keeping(ctx, p, x, 0, w, y, col, kept, act, slope, "clgan_conv2d_forward_keep");
}

clgan_status clgan_conv2d_forward_padded(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf xp,
                                         clgan_buf w, clgan_buf y, clgan_buf col, clgan_act act,
                                         float slope) {
  clgan_gemm_epilogue epi = {act, slope};
  clgan_buf none = {0};
  return core_forward(ctx, p, xp, 1, w, y, col, none, act == CLGAN_ACT_NONE ? NULL : &epi,
                      "clgan_conv2d_forward_padded", "xp", "y");
}

clgan_status clgan_conv2d_forward_padded_keep(clgan_ctx *ctx, const clgan_conv_plan *p,
                                              clgan_buf kept, clgan_buf w, clgan_buf y,
                                              clgan_buf col, clgan_act act, float slope) {
  return forward_keeping(ctx, p, kept, 1, w, y, col, kept, act, slope,
                         "clgan_conv2d_forward_padded_keep");
}

int clgan_conv_reads_padded(const clgan_conv_plan *p, clgan_conv_side side,
                            clgan_padded_copy *geometry) {
  if (!p) return 0;
  const clgan_conv_shape *s = &p->shape;
  clgan_padded_copy g = {{0}, 0, 0, 0};
  if (side == CLGAN_CONV_IMAGE_SIDE && clgan_conv_kept_floats(p) > 0 && !p->whole.forward &&
      !p->whole.filter && !image_implicit(p))
    g.h = s->h, g.w = s->w, g.pad = s->pad;
  else if (side == CLGAN_CONV_FEATURE_SIDE && p->adj_subpix.tile &&
           !p->adj_direct.kernel && !p->whole.adjoint)
    g.h = s->ho, g.w = s->wo, g.pad = 1;
  else
    return 0;
  if (geometry) *geometry = g;
  return 1;
}

clgan_status clgan_conv2d_backward_data(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                        clgan_buf w, clgan_buf dx, clgan_buf col) {
  return core_adjoint(ctx, p, dy, 0, w, dx, col, NULL, "clgan_conv2d_backward_data", "dy", "dx");
}

int clgan_conv2d_backward_data_fuses_act(const clgan_conv_plan *p, clgan_act act) {
  return p && p->im2col && p->col2im && adjoint_fuses_act(p) &&
         (act == CLGAN_ACT_RELU || act == CLGAN_ACT_LEAKY_RELU);
}

/* core_adjoint with act's derivative (none: CLGAN_ACT_NONE) as it stores. */
static clgan_status adjoint_act(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                int dy_padded, clgan_buf w, clgan_buf dx, clgan_buf col,
                                clgan_buf y, clgan_act act, float slope, const char *op) {
  clgan_status st = plan_check(p, op);
  if (st != CLGAN_OK) return st;
  if (act == CLGAN_ACT_NONE)
    return core_adjoint(ctx, p, dy, dy_padded, w, dx, col, NULL, op, "dy", "dx");
  if (!clgan_conv2d_backward_data_fuses_act(p, act))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan cannot fuse activation %d", op, (int)act);
  if ((st = conv_buf_check(y, conv_img_floats(&p->shape), op, "y")) != CLGAN_OK) return st;
  col2im_act a = {act, slope, y};
  return core_adjoint(ctx, p, dy, dy_padded, w, dx, col, &a, op, "dy", "dx");
}

clgan_status clgan_conv2d_backward_data_act(clgan_ctx *ctx, const clgan_conv_plan *p,
                                            clgan_buf dy, clgan_buf w, clgan_buf dx,
                                            clgan_buf col, clgan_buf y, clgan_act act,
                                            float slope) {
  const char *op = "clgan_conv2d_backward_data_act";
  if (act == CLGAN_ACT_NONE)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan cannot fuse activation %d", op, (int)act);
  return adjoint_act(ctx, p, dy, 0, w, dx, col, y, act, slope, op);
}

clgan_status clgan_conv2d_backward_data_padded(clgan_ctx *ctx, const clgan_conv_plan *p,
                                               clgan_buf dyp, clgan_buf w, clgan_buf dx,
                                               clgan_buf col, clgan_buf y, clgan_act act,
                                               float slope) {
  return adjoint_act(ctx, p, dyp, 1, w, dx, col, y, act, slope,
                     "clgan_conv2d_backward_data_padded");
}

clgan_status clgan_conv2d_backward_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                          clgan_buf dy, clgan_buf dw, clgan_buf col,
                                          int accumulate) {
  return core_filter(ctx, p, x, 0, dy, dw, col, accumulate, "clgan_conv2d_backward_filter", "x",
                     "dy");
}

clgan_status clgan_conv2d_backward_filter_kept(clgan_ctx *ctx, const clgan_conv_plan *p,
                                               clgan_buf kept, clgan_buf dy, clgan_buf dw,
                                               clgan_buf col, int accumulate) {
  return core_filter(ctx, p, kept, 1, dy, dw, col, accumulate,
                     "clgan_conv2d_backward_filter_kept", "kept", "dy");
}

/* ---- Kept transformed weights (conv_winograd.h) ------------------------------- */

size_t clgan_conv_weights_kept_floats(const clgan_conv_plan *p) {
  return conv_wino_weights_kept_floats(&p->wino, &p->shape) +
         conv_wino_weights_kept_floats(&p->adj_wino, &p->shape);
}

clgan_status clgan_conv_keep_weights(clgan_ctx *ctx, clgan_conv_plan *p, clgan_buf buf) {
  size_t fwd = conv_wino_weights_kept_floats(&p->wino, &p->shape);
  size_t floats = fwd + conv_wino_weights_kept_floats(&p->adj_wino, &p->shape);
  if (floats == 0) return CLGAN_OK;
  if (!buf.mem || buf.floats < floats)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_conv_keep_weights: buf holds %zu floats, "
                      "the plan keeps %zu", buf.mem ? buf.floats : 0, floats);
  if ((uint64_t)buf.off + floats >= ((uint64_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "clgan_conv_keep_weights: buf beyond the kernels' 32-bit offsets");
  clgan_status st = clgan_fill(ctx, buf, floats, 0.0f);
  if (st != CLGAN_OK) return st;
  if (p->wino.tile) p->wino.weights_kept = buf;
  if (p->adj_wino.tile) p->adj_wino.weights_kept = clgan_buf_at(buf, fwd);
  return CLGAN_OK;
}

/* ---- ConvTranspose2d: the same core with the roles swapped --------------------- */

clgan_status clgan_convt2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                   clgan_buf w, clgan_buf y, clgan_buf col) {
  return core_adjoint(ctx, p, x, 0, w, y, col, NULL, "clgan_convt2d_forward", "x", "y");
}

clgan_status clgan_convt2d_forward_padded(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf xp,
                                          clgan_buf w, clgan_buf y, clgan_buf col) {
  return core_adjoint(ctx, p, xp, 1, w, y, col, NULL, "clgan_convt2d_forward_padded", "xp", "y");
}

clgan_status clgan_convt2d_backward_data(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                         clgan_buf w, clgan_buf dx, clgan_buf col) {
  clgan_buf none = {0};
  return core_forward(ctx, p, dy, 0, w, dx, col, none, NULL, "clgan_convt2d_backward_data", "dy",
                      "dx");
}

clgan_status clgan_convt2d_backward_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                           clgan_buf dy, clgan_buf dw, clgan_buf col,
                                           int accumulate) {
  return core_filter(ctx, p, dy, 0, x, dw, col, accumulate, "clgan_convt2d_backward_filter", "dy",
                     "x");
}

/* Both of a ConvTranspose2d's gradients read dy through the conv's image
 * side: where both GEMMs read it from the image, the padded copy that the
 * weight gradient leaves in col serves the backward data too, so dy is
 * padded once (the same products, in the same order, as the two calls). */
static clgan_status convt_backward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                   clgan_buf dy, int dy_padded, clgan_buf w, clgan_buf dw,
                                   clgan_buf dx, clgan_buf col, int accumulate, const char *op) {
  clgan_status st = plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (dy_padded && !takes_padded_img(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read dyp padded", op);
  if ((st = conv_buf_check(x, conv_feat_floats(s), op, "x")) != CLGAN_OK ||
      (st = dy_padded ? padded_check(dy, conv_padded_img_floats(s), op, "dyp")
                      : conv_buf_check(dy, conv_img_floats(s), op, "dy")) != CLGAN_OK ||
      (st = conv_buf_check(w, conv_weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = conv_buf_check(dw, conv_weight_floats(s), op, "dw")) != CLGAN_OK ||
      (st = conv_buf_check(dx, conv_feat_floats(s), op, "dx")) != CLGAN_OK)
    return st;
  if (!fwd_reads_padded(p) || !filt_reads_padded(p)) {
    st = clgan_convt2d_backward_filter(ctx, p, x, dy, dw, col, accumulate);
    return st == CLGAN_OK ? clgan_convt2d_backward_data(ctx, p, dy, w, dx, col) : st;
  }
  if ((st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK) return st;
  clgan_gemm_conv_x img = image_view(p, dy); /* dy as the image side, padded */
  if (!dy_padded && image_implicit(p))
    img = unpadded_view(p, dy);
  else if (!dy_padded && (st = padded_image(ctx, p, dy, col, &img)) != CLGAN_OK)
    return st;
  if ((st = filter_product(ctx, p, x, &img, dw, accumulate ? 1.0f : 0.0f)) != CLGAN_OK) return st;
  if (p->narrow.forward)
    return conv_narrow_forward_run(ctx, &p->narrow, s, &img, w, dx, CLGAN_ACT_NONE, 0.0f);
  if (wino_shares(p)) /* the weight gradient's transformed dy, left in the workspace below
                         the forward's own operands */
    return conv_wino_forward_shared_run(ctx, &p->wino, s, conv_wino_filt_ws_v(ctx, &p->filt_wino),
                                        w, dx, CLGAN_ACT_NONE, 0.0f);
  if (p->wino.tile)
    return conv_wino_forward_run(ctx, &p->wino, s, &img, w, dx, CLGAN_ACT_NONE, 0.0f);
  return clgan_gemm_conv_forward(ctx, &p->fwd, w, &img, dx, NULL);
}

clgan_status clgan_convt2d_backward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                    clgan_buf dy, clgan_buf w, clgan_buf dw, clgan_buf dx,
                                    clgan_buf col, int accumulate) {
  return convt_backward(ctx, p, x, dy, 0, w, dw, dx, col, accumulate, "clgan_convt2d_backward");
}

clgan_status clgan_convt2d_backward_padded(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                           clgan_buf dyp, clgan_buf w, clgan_buf dw, clgan_buf dx,
                                           clgan_buf col, int accumulate) {
  return convt_backward(ctx, p, x, dyp, 1, w, dw, dx, col, accumulate,
                        "clgan_convt2d_backward_padded");
}
