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
 * stay below 2^32 floats.
 *
 * Files: conv_cols.c (im2col, col2im, padding), conv_views.c (which side is
 * read padded, kept copies), this file (the core and Conv2d), convt.c
 * (ConvTranspose2d). */
#include <stdint.h>

#include "ops/conv_core.h"
#include "ops/conv_subpixel.h"
#include "ops/conv_narrow.h"
#include "ops/conv_winograd.h"
#include "ops/conv_whole.h"
#include "ops/convt_direct.h"
#include "runtime/internal.h"

/* ---- The conv core: three modes, named for Conv2d ---------------------------
 * `op` names the public entry point in error messages; the argument names
 * (and the checked sizes) are the conv's: img is the image side [cin, n, h, w],
 * feat the feature side [cout, n, ho, wo], w the weight [cout, cin*k*k]. */

/* feat = conv(img), with epi's activation as the GEMM stores it (NULL:
 * none; only where clgan_conv2d_forward_fuses_act allows it). img_padded:
 * img is given already padded (only where clgan_conv_reads_padded says the
 * image side is read so). */
clgan_status conv_core_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                               int img_padded, clgan_buf w, clgan_buf feat, clgan_buf col,
                               clgan_buf kept, const clgan_gemm_epilogue *epi, const char *op,
                               const char *img_name, const char *feat_name) {
  clgan_status st = conv_plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (img_padded && !conv_takes_padded_img(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read %s padded", op, img_name);
  if ((st = img_padded ? conv_padded_check(img, conv_padded_img_floats(s), op, img_name)
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
    clgan_gemm_conv_x x = conv_image_view(p, img);
    if (!img_padded && conv_image_implicit(p))
      x = conv_unpadded_view(p, img);
    else if (!img_padded &&
             (st = conv_padded_image(ctx, p, img, kept.mem ? kept : col, &x)) != CLGAN_OK)
      return st;
    if (p->narrow.forward) /* the narrow-image kernel: its taps from the padded image */
      return conv_narrow_forward_run(ctx, &p->narrow, s, &x, w, feat, act, slope);
    if (p->wino.tile && kept.mem && conv_wino_shares(p)) { /* transformed into kept, for the
                                                         weight gradient too */
      clgan_buf v = conv_kept_v(p, kept);
      st = conv_wino_filt_input_run(ctx, &p->filt_wino, s, &x, v);
      return st != CLGAN_OK
                 ? st
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
    if ((st = conv_run_im2col(ctx, p, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm_run(ctx, &p->fwd, 1.0f, w, kdim, b, np, 0.0f, feat, np);
}

/* Whether conv_core_adjoint can apply a derivative as it stores: col2im, the
 * sub-pixel tiles and the whole-image kernel can, not the tuner's direct
 * kernel, not a 1x1 conv. */
static int adjoint_fuses_act(const clgan_conv_plan *p) {
  return !p->adj_direct.kernel && !p->direct;
}

/* img = conv^T(feat), times a's derivative where a is given (only where
 * adjoint_fuses_act); overwrites img. feat_padded: feat is given already
 * padded by 1 (only where clgan_conv_reads_padded says the feature side is
 * read so). */
clgan_status conv_core_adjoint(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                               int feat_padded, clgan_buf w, clgan_buf img, clgan_buf col,
                               const conv_col2im_act *a, const char *op, const char *feat_name,
                               const char *img_name) {
  clgan_status st = conv_plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (feat_padded && !conv_takes_padded_feat(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read %s padded", op, feat_name);
  if ((st = feat_padded ? conv_padded_check(feat, conv_padded_feat_floats(s), op, feat_name)
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
    return a ? conv_wino_adj_run(ctx, &p->adj_wino, s, feat, feat_padded, w, img, a->act, a->slope,
                                 a->y)
             : conv_wino_adj_run(ctx, &p->adj_wino, s, feat, feat_padded, w, img, CLGAN_ACT_NONE,
                                 0.0f, (clgan_buf){0});
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
    conv_col2im_act at = {CLGAN_ACT_NONE, 0.0f, {0}}; /* y of these images */
    if (a) at = *a, at.y = clgan_buf_at(a->y, (size_t)b0 * hw);
    st = conv_run_col2im(ctx, p, images, col, clgan_buf_at(img, (size_t)b0 * hw), cstride, &at);
  }
  return st;
}

/* dw = feat x im2col(img)^T + beta dw, from the padded image x. */
clgan_status conv_filter_product(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                                 const clgan_gemm_conv_x *x, clgan_buf dw, float beta) {
  if (p->filt_wino.tile)
    return conv_wino_filt_run(ctx, &p->filt_wino, &p->shape, x, feat, dw, beta != 0.0f);
  if (p->narrow.filter)
    return conv_narrow_filter_run(ctx, &p->narrow, &p->shape, x, feat, dw, beta != 0.0f);
  return clgan_gemm_conv_filter(ctx, &p->filt, feat, x, dw, beta);
}

/* dw (+)= feat x im2col(img)^T. */
clgan_status conv_core_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img, int img_kept,
                              clgan_buf feat, clgan_buf dw, clgan_buf col, int accumulate,
                              const char *op, const char *img_name, const char *feat_name) {
  clgan_status st = conv_plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (img_kept) { /* the copy clgan_conv2d_forward_keep made */
    uint64_t kept = clgan_conv_kept_floats(p);
    if (kept == 0) return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan keeps no padded image", op);
    if ((st = conv_padded_check(img, kept, op, "kept")) != CLGAN_OK ||
        (st = conv_buf_check(feat, conv_feat_floats(s), op, feat_name)) != CLGAN_OK ||
        (st = conv_buf_check(dw, conv_weight_floats(s), op, "dw")) != CLGAN_OK)
      return st;
    if (conv_wino_shares(p)) /* the forward's transformed image */
      return conv_wino_filt_shared_run(ctx, &p->filt_wino, s, conv_kept_v(p, img), feat, dw,
                                       accumulate);
    clgan_gemm_conv_x x = conv_image_view(p, img);
    return conv_filter_product(ctx, p, feat, &x, dw, accumulate ? 1.0f : 0.0f);
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
  if (conv_filt_reads_padded(p)) {
    clgan_gemm_conv_x x = conv_unpadded_view(p, img);
    if (!conv_image_implicit(p) && (st = conv_padded_image(ctx, p, img, col, &x)) != CLGAN_OK)
      return st;
    return conv_filter_product(ctx, p, feat, &x, dw, beta);
  }
  if (!p->direct) {
    if ((st = conv_run_im2col(ctx, p, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm_run(ctx, &p->filt, 1.0f, feat, np, b, np, beta, dw, kdim);
}

/* ---- Conv2d ------------------------------------------------------------------ */

clgan_status clgan_conv2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                  clgan_buf w, clgan_buf y, clgan_buf col) {
  clgan_buf none = {0};
  return conv_core_forward(ctx, p, x, 0, w, y, col, none, NULL, "clgan_conv2d_forward", "x", "y");
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
  return conv_core_forward(ctx, p, x, 0, w, y, col, none, &epi, "clgan_conv2d_forward_act", "x",
                           "y");
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
  clgan_status st = conv_padded_check(kept, floats, op, "kept");
  if (st != CLGAN_OK) return st;
  clgan_gemm_epilogue epi = {act, slope};
  return conv_core_forward(ctx, p, x_is_kept ? kept : x, x_is_kept, w, y, col, kept,
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
  return conv_core_forward(ctx, p, xp, 1, w, y, col, none, act == CLGAN_ACT_NONE ? NULL : &epi,
                           "clgan_conv2d_forward_padded", "xp", "y");
}

clgan_status clgan_conv2d_forward_padded_keep(clgan_ctx *ctx, const clgan_conv_plan *p,
                                              clgan_buf kept, clgan_buf w, clgan_buf y,
                                              clgan_buf col, clgan_act act, float slope) {
  return forward_keeping(ctx, p, kept, 1, w, y, col, kept, act, slope,
                         "clgan_conv2d_forward_padded_keep");
}

clgan_status clgan_conv2d_backward_data(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                        clgan_buf w, clgan_buf dx, clgan_buf col) {
  return conv_core_adjoint(ctx, p, dy, 0, w, dx, col, NULL, "clgan_conv2d_backward_data", "dy",
                           "dx");
}

int clgan_conv2d_backward_data_fuses_act(const clgan_conv_plan *p, clgan_act act) {
  return p && p->im2col && p->col2im && adjoint_fuses_act(p) &&
         (act == CLGAN_ACT_RELU || act == CLGAN_ACT_LEAKY_RELU);
}

/* conv_core_adjoint with act's derivative (none: CLGAN_ACT_NONE) as it stores. */
static clgan_status adjoint_act(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                int dy_padded, clgan_buf w, clgan_buf dx, clgan_buf col,
                                clgan_buf y, clgan_act act, float slope, const char *op) {
  clgan_status st = conv_plan_check(p, op);
  if (st != CLGAN_OK) return st;
  if (act == CLGAN_ACT_NONE)
    return conv_core_adjoint(ctx, p, dy, dy_padded, w, dx, col, NULL, op, "dy", "dx");
  if (!clgan_conv2d_backward_data_fuses_act(p, act))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan cannot fuse activation %d", op, (int)act);
  if ((st = conv_buf_check(y, conv_img_floats(&p->shape), op, "y")) != CLGAN_OK) return st;
  conv_col2im_act a = {act, slope, y};
  return conv_core_adjoint(ctx, p, dy, dy_padded, w, dx, col, &a, op, "dy", "dx");
}

clgan_status clgan_conv2d_backward_data_act(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                            clgan_buf w, clgan_buf dx, clgan_buf col, clgan_buf y,
                                            clgan_act act, float slope) {
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
  return conv_core_filter(ctx, p, x, 0, dy, dw, col, accumulate, "clgan_conv2d_backward_filter",
                          "x", "dy");
}

clgan_status clgan_conv2d_backward_filter_kept(clgan_ctx *ctx, const clgan_conv_plan *p,
                                               clgan_buf kept, clgan_buf dy, clgan_buf dw,
                                               clgan_buf col, int accumulate) {
  return conv_core_filter(ctx, p, kept, 1, dy, dw, col, accumulate,
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
    return clgan_fail(CLGAN_ERR_INVALID,
                      "clgan_conv_keep_weights: buf holds %zu floats, "
                      "the plan keeps %zu",
                      buf.mem ? buf.floats : 0, floats);
  if ((uint64_t)buf.off + floats >= ((uint64_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "clgan_conv_keep_weights: buf beyond the kernels' 32-bit offsets");
  clgan_status st = clgan_fill(ctx, buf, floats, 0.0f);
  if (st != CLGAN_OK) return st;
  if (p->wino.tile) p->wino.weights_kept = buf;
  if (p->adj_wino.tile) p->adj_wino.weights_kept = clgan_buf_at(buf, fwd);
  return CLGAN_OK;
}
