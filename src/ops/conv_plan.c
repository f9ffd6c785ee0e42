/* The conv core's plan step: every choice for one shape on one context, made
 * once, before any launch (see conv.c for what the modes compute):
 *
 * Where the engine's own GEMM runs them (CPU devices; the weight gradients
 * on GPUs), the forward and the weight gradient never build col: the GEMM
 * reads the taps from a zero-padded copy of the image (kept in col's place,
 * k*k/stride^2 times smaller; see plan_from_image). On CPUs the backward
 * data builds col a few images at a time (adjoint_images), so col2im finds
 * it in cache. col_floats says how much col that leaves. Where the tuner
 * chose it (cv->adj_direct), the adjoint runs as one direct kernel
 * (convt_direct.c) and reserves no col of its own. The sub-pixel mapping
 * (k 4 s 2 p 1; the default on CPUs where the image side has 16 channels
 * or more, else where the tuner chose it: cv->adj_subpix) keeps the padded
 * dy and the sub-kernels in col instead of a column matrix
 * (conv_subpixel.c).
 *
 * im2col runs one work-item per col element on GPUs and on 1x1 outputs, and
 * one per segment of a col row (an output image or a block of its rows,
 * looping over oy and ox) on CPUs; the tuning's im2col (CLGAN_IM2COL=
 * elements|rows) forces either. col2im gathers (no atomics, deterministic)
 * with one work-item per image pixel on GPUs and one per image row on CPUs,
 * where per-pixel tap loops vectorise badly (cl/col2im.cl); the tuning's
 * col2im (CLGAN_COL2IM=pixels|rows) forces either. */
#include <stdint.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/conv_subpixel.h"
#include "ops/conv_narrow.h"
#include "ops/conv_winograd.h"
#include "ops/conv_whole.h"
#include "ops/conv_tune.h"
#include "ops/gemm_internal.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* Magic number for dividing 32-bit values by d on the device: (m, sh1, sh2, d)
 * as im2col.cl's udiv expects (Granlund & Montgomery, fig. 4.1). */
static cl_uint4 divisor(uint32_t d) {
  uint32_t l = 0;
  while (((uint64_t)1 << l) < d) l++;
  cl_uint4 g;
  g.s[0] = (cl_uint)((((uint64_t)1 << 32) * (((uint64_t)1 << l) - d)) / d + 1);
  g.s[1] = l < 1 ? l : 1;
  g.s[2] = l > 0 ? l - 1 : 0;
  g.s[3] = d;
  return g;
}

/* im2col's mapping: on CPUs, one work-item per (col row, image) segment
 * when that segment holds at least IM2COL_ROWS_MIN_PIXELS outputs (on 1x1
 * outputs the per-element kernel is about 8x faster on PoCL; from 4x4 up the
 * segment kernel wins); per element elsewhere (see im2col.cl). */
#define IM2COL_ROWS_MIN_PIXELS 4
#define IM2COL_ROWS_MIN_ITEMS 1024

static void plan_im2col(const clgan_ctx *ctx, const clgan_conv_shape *s, clgan_conv_plan *p) {
  clgan_variant v = ctx->tuning.im2col;
  p->im2col_rows = v != CLGAN_VARIANT_AUTO
                       ? v == CLGAN_VARIANT_ROWS
                       : clgan_ctx_cpu_paths(ctx) && (int64_t)s->ho * s->wo >= IM2COL_ROWS_MIN_PIXELS;
  /* Whole output images per work-item (fastest on PoCL), unless that leaves
   * fewer than IM2COL_ROWS_MIN_ITEMS work-items: then blocks of oyb rows. */
  uint64_t items = (uint64_t)s->n * s->cin * s->k * s->k;
  cl_uint nblk = 1;
  if (items < IM2COL_ROWS_MIN_ITEMS) nblk = (cl_uint)((IM2COL_ROWS_MIN_ITEMS + items - 1) / items);
  if (nblk > (cl_uint)s->ho) nblk = (cl_uint)s->ho;
  p->im2col_oyb = (s->ho + (int)nblk - 1) / (int)nblk;
  p->im2col_nblk = (cl_uint)((s->ho + p->im2col_oyb - 1) / p->im2col_oyb);
  p->im2col_div[0] = divisor((uint32_t)s->wo);
  p->im2col_div[1] = divisor((uint32_t)s->ho);
  p->im2col_div[2] = divisor((uint32_t)s->k);
}

/* col2im's mapping: one work-item per image row on CPUs, per pixel elsewhere
 * (see col2im.cl). */
static void plan_col2im(const clgan_ctx *ctx, const clgan_conv_shape *s, clgan_conv_plan *p) {
  clgan_variant v = ctx->tuning.col2im;
  p->col2im_rows = v != CLGAN_VARIANT_AUTO ? v == CLGAN_VARIANT_ROWS : clgan_ctx_cpu_paths(ctx);
  p->col2im_div[0] = divisor((uint32_t)s->w);
  p->col2im_div[1] = divisor((uint32_t)s->h);
  p->col2im_div[2] = divisor((uint32_t)s->stride);
}

/* Where the engine's own GEMM runs a conv's product (on CPUs all of them; on
 * GPUs, where CLBlast takes the regular GEMMs, the weight gradients), it
 * reads the im2col matrix from the (zero-padded) image itself (cl/gemm.cl's
 * gemm_tile_conv): no column matrix written and read back, and no packing
 * of it; only a padded copy of the image, k*k / stride^2 times smaller, in
 * col's place (measured: 9% off the tutorial step on PoCL, 2.5% on an
 * H200). The tuning's conv_from_image -1 (CLGAN_CONV_FROM_IMAGE=0) turns it
 * off (benchmarks). Plans the product that way where it runs (*ok). */
static clgan_status plan_from_image(clgan_ctx *ctx, const clgan_conv_shape *s,
                                    const clgan_gemm_variant *v, int filter, size_t m, size_t n,
                                    size_t k, clgan_gemm_plan *out, int *ok) {
  *ok = 0;
  size_t padded = conv_padded_img_floats(s);
  if (ctx->tuning.conv_from_image < 0 || padded > conv_col_floats(s)) return CLGAN_OK;
  return clgan_gemm_conv_plan_variant(ctx, v, filter, m, n, k, out, ok);
}

/* Images per column matrix in the adjoint (conv backward data, convT
 * forward): all of them on GPUs (fewer, larger GEMMs); on CPUs as many as
 * keep the chunk of col under ADJOINT_CHUNK_FLOATS, which keeps it in the
 * caches between the GEMM that writes it and the col2im that reads it,
 * and the workspace small. The tuning's adjoint_chunk_floats sets the
 * chunk on every device. */
#define ADJOINT_CHUNK_FLOATS ((size_t)4 << 20)

static int adjoint_images(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  size_t chunk = ctx->tuning.adjoint_chunk_floats;
  if (!clgan_ctx_cpu_paths(ctx) && chunk == 0) return s->n;
  size_t per_image = (size_t)s->cin * s->k * s->k * s->ho * s->wo;
  size_t per = (chunk ? chunk : ADJOINT_CHUNK_FLOATS) / per_image;
  if (per < 1) per = 1;
  return per < (size_t)s->n ? (int)per : s->n;
}

/* The GEMM plans of the three products, and the col they leave; with the
 * tuner's variants cv (NULL: the engine's choices). */
static clgan_status plan_products(clgan_ctx *ctx, const clgan_conv_shape *s,
                                  const conv_variants *cv, clgan_conv_plan *p) {
  size_t cout = (size_t)s->cout, kdim = (size_t)s->cin * s->k * s->k;
  size_t pix = (size_t)s->ho * s->wo, np = (size_t)s->n * pix;
  const clgan_gemm_variant *vf = cv ? &cv->prod[CONV_FWD] : NULL;
  const clgan_gemm_variant *va = cv ? &cv->prod[CONV_ADJ] : NULL;
  const clgan_gemm_variant *vw = cv ? &cv->prod[CONV_FILT] : NULL;
  clgan_status st;
  if (!p->direct && (!cv || cv->from_image[CONV_FWD]) &&
      (st = plan_from_image(ctx, s, vf, 0, cout, np, kdim, &p->fwd, &p->fwd_from_image)) !=
          CLGAN_OK)
    return st;
  if (!p->direct && (!cv || cv->from_image[CONV_FILT]) &&
      (st = plan_from_image(ctx, s, vw, 1, cout, kdim, np, &p->filt, &p->filt_from_image)) !=
          CLGAN_OK)
    return st;
  if ((!p->fwd_from_image &&
       (st = clgan_gemm_plan_variant(ctx, vf, 0, 0, cout, np, kdim, &p->fwd)) != CLGAN_OK) ||
      (!p->filt_from_image &&
       (st = clgan_gemm_plan_variant(ctx, vw, 0, 1, cout, kdim, np, &p->filt)) != CLGAN_OK))
    return st;
  /* the adjoint's GEMMs, unless its direct kernel or the sub-pixel tiles
   * run it (no column matrix then) */
  int per = p->adjoint_images, last = s->n % per;
  int adj_gemm = !p->adj_direct.kernel && !p->adj_subpix.tile && !p->whole.adjoint &&
                 !p->adj_wino.tile && !p->narrow.adjoint;
  if (adj_gemm &&
      ((st = clgan_gemm_plan_variant(ctx, va, 1, 0, kdim, (size_t)per * pix, cout, &p->adj)) !=
           CLGAN_OK ||
       (last && (st = clgan_gemm_plan_variant(ctx, va, 1, 0, kdim, (size_t)last * pix, cout,
                                              &p->adj_last)) != CLGAN_OK)))
    return st;
  if (p->direct) return CLGAN_OK;
  size_t padded = s->pad > 0 ? conv_padded_img_floats(s) : 0;
  size_t adjoint = adj_gemm                              ? kdim * pix * (size_t)per
                   : p->adj_wino.tile || p->narrow.adjoint ? 0 /* dy read as it is */
                                                           : p->adj_subpix.col_floats; /* whole: 0 */
  size_t other = p->fwd_from_image && p->filt_from_image ? padded : (size_t)conv_col_floats(s);
  p->col_floats = adjoint > other ? adjoint : other;
  return CLGAN_OK;
}

clgan_status clgan_conv_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                  clgan_conv_plan *out) {
  clgan_status st = conv_shape_check(s, "clgan_conv_plan_make");
  if (st != CLGAN_OK) return st;
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_conv_plan_make: out is NULL");
  /* the tuner's variants: cached, searched now, or none (the defaults) */
  conv_variants cv;
  int tuned = 0;
  if ((st = conv_tune(ctx, s, &cv, &tuned)) != CLGAN_OK) return st;
  if ((st = conv_plan_with(ctx, s, tuned ? &cv : NULL, out)) == CLGAN_OK) conv_tune_note(ctx, out);
  return st;
}

clgan_status conv_plan_with(clgan_ctx *ctx, const clgan_conv_shape *s, const conv_variants *cv,
                            clgan_conv_plan *out) {
  clgan_status st;
  clgan_conv_plan p;
  memset(&p, 0, sizeof p);
  p.shape = *s;
  p.direct = conv_col_is_image(s);
  p.adjoint_images = p.direct ? s->n : adjoint_images(ctx, s);
  plan_im2col(ctx, s, &p);
  plan_col2im(ctx, s, &p);
  if (cv && convt_direct_params_on(&cv->adj_direct) &&
      (st = convt_direct_plan_make(ctx, s, &cv->adj_direct, &p.adj_direct)) != CLGAN_OK)
    return st;
  /* the sub-pixel adjoint: the tuner's choice, else the engine's (CPUs),
   * unless the variants name the adjoint's GEMM; where the shape does not
   * allow it, GEMM + col2im */
  int engine = !cv || cv->prod[CONV_ADJ].backend == CLGAN_GEMM_AUTO;
  /* the Winograd adjoint (conv_winograd.h): the tuner's choice, else the
   * engine's where its own choices hold */
  int adj_wino_ok = 0;
  int adj_wino = cv && cv->adj_wino >= 0
                     ? cv->adj_wino
                     : engine && (!cv || cv->adj_subpix < 0) && conv_wino_adj_default(ctx, s);
  if (adj_wino && !p.adj_direct.kernel &&
      (st = conv_wino_adj_plan_make(ctx, s, &p.adj_wino, &adj_wino_ok)) != CLGAN_OK)
    return st;
  int subpix = cv && cv->adj_subpix >= 0 ? cv->adj_subpix : engine && conv_subpix_default(ctx, s);
  int subpix_ok = 0;
  if (subpix && !p.adj_direct.kernel && !adj_wino_ok &&
      (st = conv_subpix_plan_make(ctx, s, cv ? &cv->prod[CONV_ADJ] : NULL, &p.adj_subpix,
                                  &subpix_ok)) != CLGAN_OK)
    return st;
  /* the whole-image kernels (a 4 x 4 kernel over a 4 x 4 image): the
   * engine's choice on CPUs, product by product; a variant naming a
   * product's GEMM keeps the GEMM (and col2im) for it */
  int whole[CONV_PRODUCTS], whole_ok = 0;
  for (int i = 0; i < CONV_PRODUCTS; i++)
    whole[i] = (!cv || cv->prod[i].backend == CLGAN_GEMM_AUTO) && conv_whole_default(ctx, s);
  if (p.adj_direct.kernel) whole[CONV_ADJ] = 0;
  if ((whole[0] || whole[1] || whole[2]) &&
      (st = conv_whole_plan_make(ctx, s, whole, &p.whole, &whole_ok)) != CLGAN_OK)
    return st;
  /* the narrow-image forward (1 to 3 image channels, k 4 s 2 p 1): the
   * engine's choice on CPUs unless the variants name the forward's GEMM */
  int narrow_ok = 0;
  if ((!cv || cv->prod[CONV_FWD].backend == CLGAN_GEMM_AUTO) && conv_narrow_default(ctx, s) &&
      (st = conv_narrow_plan_make(ctx, s, &p.narrow, &narrow_ok)) != CLGAN_OK)
    return st;
  /* its weight gradient likewise, unless the variants name that GEMM */
  int narrow_filt_ok = 0;
  if ((!cv || cv->prod[CONV_FILT].backend == CLGAN_GEMM_AUTO) && conv_narrow_default(ctx, s) &&
      (st = conv_narrow_filter_plan_make(ctx, s, &p.narrow, &narrow_filt_ok)) != CLGAN_OK)
    return st;
  /* and its adjoint, where no other kernel of its own took that */
  int narrow_adj_ok = 0;
  if (engine && (!cv || cv->adj_subpix < 0) && !p.adj_direct.kernel && !adj_wino_ok &&
      !subpix_ok && !p.whole.adjoint && conv_narrow_default(ctx, s) &&
      (st = conv_narrow_adjoint_plan_make(ctx, s, &p.narrow, &narrow_adj_ok)) != CLGAN_OK)
    return st;
  /* the Winograd forward (k 4 s 2 p 1, conv_winograd.h): the tuner's
   * choice, else the engine's unless the variants name the forward's GEMM */
  int wino_ok = 0;
  int wino = cv && cv->fwd_wino >= 0 ? cv->fwd_wino
                                     : (!cv || cv->prod[CONV_FWD].backend == CLGAN_GEMM_AUTO) &&
                                           conv_wino_default(ctx, s);
  if (wino && !narrow_ok && (st = conv_wino_plan_make(ctx, s, &p.wino, &wino_ok)) != CLGAN_OK)
    return st;
  if ((st = plan_products(ctx, s, cv, &p)) != CLGAN_OK) return st;
  /* the Winograd weight gradient over the padded image: the tuner's
   * choice, else the engine's unless the variants name the GEMM */
  int filt_wino_ok = 0;
  int filt_wino = cv && cv->filt_wino >= 0
                      ? cv->filt_wino
                      : (!cv || cv->prod[CONV_FILT].backend == CLGAN_GEMM_AUTO) &&
                            conv_wino_filt_default(ctx, s);
  if (filt_wino && !p.direct && !p.whole.filter &&
      (st = conv_wino_filt_plan_make(ctx, s, &p.filt_wino, &filt_wino_ok)) != CLGAN_OK)
    return st;
  size_t padded = conv_padded_img_floats(s); /* col holds it for these kernels */
  if ((filt_wino_ok || narrow_filt_ok) && p.col_floats < padded) p.col_floats = padded;
  /* im2col and col2im exist for the plan's own use and for clgan_im2col /
   * clgan_col2im on any shape */
  if ((st = clgan_kernel_get(ctx, "im2col", NULL, p.im2col_rows ? "im2col_rows" : "im2col",
                             &p.im2col)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "col2im", NULL, p.col2im_rows ? "col2im_rows" : "col2im",
                             &p.col2im)) != CLGAN_OK)
    return st;
  if ((p.fwd_from_image || p.filt_from_image || p.narrow.forward || p.narrow.filter ||
       p.wino.tile ||
       p.adj_wino.tile || p.filt_wino.tile) && s->pad > 0 &&
      (st = conv_pad_kernel_get(ctx, &p.pad)) != CLGAN_OK)
    return st;
  *out = p;
  return CLGAN_OK;
}

clgan_status clgan_conv_plan_prepare(clgan_ctx *ctx, const clgan_conv_plan *p) {
  if (!p) return clgan_fail(CLGAN_ERR_INVALID, "clgan_conv_plan_prepare: plan is NULL");
  const clgan_gemm_plan *g[4] = {&p->fwd, &p->adj, &p->adj_last, &p->filt};
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < 4 && st == CLGAN_OK; i++) st = clgan_gemm_plan_prepare(ctx, g[i]);
  if (st == CLGAN_OK && p->wino.tile) st = gemm_ws_reserve(ctx, p->wino.ws_floats);
  if (st == CLGAN_OK && p->adj_wino.tile) st = gemm_ws_reserve(ctx, p->adj_wino.ws_floats);
  if (st == CLGAN_OK && p->filt_wino.tile) st = gemm_ws_reserve(ctx, p->filt_wino.ws_floats);
  if (st == CLGAN_OK && p->narrow.filter) st = gemm_ws_reserve(ctx, p->narrow.ws_floats);
  return st;
}
