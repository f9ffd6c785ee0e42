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
 * col2im are skipped and col is not touched.
 *
 * Where the engine's own GEMM runs them (CPU devices; the weight gradients
 * on GPUs), the forward and the weight gradient never build col: the GEMM
 * reads the taps from a zero-padded copy of the image (kept in col's place,
 * k*k/stride^2 times smaller; see from_image). On CPUs the backward data
 * builds col a few images at a time (adjoint_images), so col2im finds it in
 * cache. clgan_conv_col_need says how much col that leaves.
 *
 * im2col runs one work-item per col element on GPUs and on 1x1 outputs, and
 * one per segment of a col row (an output image or a block of its rows,
 * looping over oy and ox) on CPUs; CLGAN_IM2COL=elements|rows forces either.
 * col2im gathers (no atomics, deterministic) with one work-item per image
 * pixel on GPUs and one per image row on CPUs, where per-pixel tap loops
 * vectorise badly (cl/col2im.cl);
 * CLGAN_COL2IM=pixels|rows in the environment forces either. Both
 * kernels index with uint, so every buffer must stay below 2^32 floats. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/gemm_internal.h"
#include "runtime/internal.h"

/* Every buffer a conv kernel indexes (with its offset) must stay below 2^32
 * floats: the kernels use uint indices. */
#define CONV_MAX_FLOATS ((uint64_t)UINT32_MAX)

static uint64_t img_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cin * (uint64_t)s->n * (uint64_t)s->h * (uint64_t)s->w;
}
static uint64_t feat_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * (uint64_t)s->n * (uint64_t)s->ho * (uint64_t)s->wo;
}
static uint64_t col_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cin * (uint64_t)s->k * (uint64_t)s->k * (uint64_t)s->n * (uint64_t)s->ho *
         (uint64_t)s->wo;
}
static uint64_t weight_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * (uint64_t)s->cin * (uint64_t)s->k * (uint64_t)s->k;
}

/* Output extent of a conv along one axis, or 0 when it would be empty. */
static long long conv_out(long long in, long long k, long long stride, long long pad) {
  long long span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

/* Full consistency check of a shape (it may have been filled by hand). */
static clgan_status shape_check(const clgan_conv_shape *s, const char *op) {
  if (!s) return clgan_fail(CLGAN_ERR_INVALID, "%s: shape is NULL", op);
  if (s->n < 1 || s->cin < 1 || s->h < 1 || s->w < 1 || s->cout < 1 || s->ho < 1 || s->wo < 1 ||
      s->k < 1 || s->stride < 1 || s->pad < 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: bad shape n=%d cin=%d h=%d w=%d cout=%d ho=%d wo=%d k=%d "
                      "stride=%d pad=%d (sizes, k and stride must be >= 1, pad >= 0)",
                      op, s->n, s->cin, s->h, s->w, s->cout, s->ho, s->wo, s->k, s->stride, s->pad);
  if (conv_out(s->h, s->k, s->stride, s->pad) != s->ho ||
      conv_out(s->w, s->k, s->stride, s->pad) != s->wo)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: inconsistent shape: a k=%d stride=%d pad=%d conv of %dx%d gives "
                      "%lldx%lld, not %dx%d (use clgan_conv_shape_conv/_convt)",
                      op, s->k, s->stride, s->pad, s->h, s->w,
                      conv_out(s->h, s->k, s->stride, s->pad),
                      conv_out(s->w, s->k, s->stride, s->pad), s->ho, s->wo);
  uint64_t sizes[4] = {img_floats(s), feat_floats(s), col_floats(s), weight_floats(s)};
  static const char *const names[4] = {"image", "feature map", "col workspace", "weight"};
  for (int i = 0; i < 4; i++)
    if (sizes[i] > CONV_MAX_FLOATS)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s: %s of %llu floats exceeds the 2^32-float limit of the conv "
                        "kernels (reduce the batch)",
                        op, names[i], (unsigned long long)sizes[i]);
  return CLGAN_OK;
}

/* A buffer the op reads or writes: present, and indexable with uint. */
static clgan_status buf_check(clgan_buf b, uint64_t floats, const char *op, const char *what) {
  if (!b.mem) return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer %s is NULL", op, what);
  if ((uint64_t)b.off + floats > CONV_MAX_FLOATS)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: buffer %s (offset %zu + %llu floats) exceeds the 2^32-float "
                      "limit of the conv kernels",
                      op, what, b.off, (unsigned long long)floats);
  return CLGAN_OK;
}

static int col_is_image(const clgan_conv_shape *s) {
  return s->k == 1 && s->stride == 1 && s->pad == 0;
}

clgan_status clgan_conv_shape_conv(int n, int cin, int h, int w, int cout, int k, int stride,
                                   int pad, clgan_conv_shape *out) {
  const char *op = "clgan_conv_shape_conv";
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "%s: out is NULL", op);
  if (n < 1 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: bad arguments n=%d cin=%d h=%d w=%d cout=%d k=%d stride=%d pad=%d "
                      "(sizes, k and stride must be >= 1, pad >= 0)",
                      op, n, cin, h, w, cout, k, stride, pad);
  long long ho = conv_out(h, k, stride, pad), wo = conv_out(w, k, stride, pad);
  if (ho < 1 || wo < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty output: a %dx%d input padded by %d is smaller than the "
                      "%dx%d kernel",
                      op, h, w, pad, k, k);
  clgan_conv_shape s = {n, cin, h, w, cout, (int)ho, (int)wo, k, stride, pad};
  clgan_status st = shape_check(&s, op);
  if (st == CLGAN_OK) *out = s;
  return st;
}

clgan_status clgan_conv_shape_convt(int n, int cin, int h, int w, int cout, int k, int stride,
                                    int pad, clgan_conv_shape *out) {
  const char *op = "clgan_conv_shape_convt";
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "%s: out is NULL", op);
  if (n < 1 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: bad arguments n=%d cin=%d h=%d w=%d cout=%d k=%d stride=%d pad=%d "
                      "(sizes, k and stride must be >= 1, pad >= 0)",
                      op, n, cin, h, w, cout, k, stride, pad);
  long long oh = ((long long)h - 1) * stride - 2LL * pad + k;
  long long ow = ((long long)w - 1) * stride - 2LL * pad + k;
  if (oh < 1 || ow < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty output: (in-1)*stride - 2*pad + k = %lldx%lld for a %dx%d "
                      "input, k=%d stride=%d pad=%d",
                      op, oh, ow, h, w, k, stride, pad);
  if (oh > INT32_MAX || ow > INT32_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: output %lldx%lld too large", op, oh, ow);
  /* The adjoint conv: image side = convT output, feature side = convT input. */
  clgan_conv_shape s = {n, cout, (int)oh, (int)ow, cin, h, w, k, stride, pad};
  clgan_status st = shape_check(&s, op);
  if (st == CLGAN_OK) *out = s;
  return st;
}

/* 0 for an invalid shape (with the error detail set). */
size_t clgan_conv_col_floats(const clgan_conv_shape *s) {
  return shape_check(s, "clgan_conv_col_floats") == CLGAN_OK ? (size_t)col_floats(s) : 0;
}

/* ---- im2col / col2im ------------------------------------------------------ */

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
 * segment kernel wins); per element elsewhere (see im2col.cl and
 * conv_internal.h). */
#define IM2COL_ROWS_MIN_PIXELS 4
#define IM2COL_ROWS_MIN_ITEMS 1024
static clgan_im2col_map im2col_map = CLGAN_IM2COL_AUTO;

void clgan_conv_set_im2col_map(clgan_im2col_map map) { im2col_map = map; }

static int im2col_by_rows(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  if (im2col_map != CLGAN_IM2COL_AUTO) return im2col_map == CLGAN_IM2COL_ROWS;
  const char *e = getenv("CLGAN_IM2COL");
  if (e && strcmp(e, "rows") == 0) return 1;
  if (e && strcmp(e, "elements") == 0) return 0;
  return ctx->dev.is_cpu && (int64_t)s->ho * s->wo >= IM2COL_ROWS_MIN_PIXELS;
}

static clgan_status run_im2col(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img,
                               clgan_buf col) {
  int rows = im2col_by_rows(ctx, s);
  const char *name = rows ? "im2col_rows" : "im2col";
  cl_kernel kern;
  clgan_status st = clgan_kernel_get(ctx, "im2col", NULL, name, &kern);
  if (st != CLGAN_OK) return st;
  cl_uint img_off = (cl_uint)img.off, col_off = (cl_uint)col.off, n = (cl_uint)s->n;
  cl_int h = s->h, w = s->w, stride = s->stride, pad = s->pad;
  if (rows) {
    cl_int ho = s->ho, wo = s->wo, k = s->k;
    /* Whole output images per work-item (fastest on PoCL), unless that leaves
     * fewer than IM2COL_ROWS_MIN_ITEMS work-items: then blocks of oyb rows. */
    uint64_t items = (uint64_t)s->n * s->cin * s->k * s->k;
    cl_uint nblk = 1;
    if (items < IM2COL_ROWS_MIN_ITEMS)
      nblk = (cl_uint)((IM2COL_ROWS_MIN_ITEMS + items - 1) / items);
    if (nblk > (cl_uint)ho) nblk = (cl_uint)ho;
    cl_int oyb = (ho + (cl_int)nblk - 1) / (cl_int)nblk;
    nblk = (cl_uint)((ho + oyb - 1) / oyb);
    st = clgan_set_args(kern, 14, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off,
                        sizeof(cl_mem), &col.mem, sizeof col_off, &col_off, sizeof n, &n, sizeof h,
                        &h, sizeof w, &w, sizeof stride, &stride, sizeof pad, &pad, sizeof ho, &ho,
                        sizeof wo, &wo, sizeof k, &k, sizeof oyb, &oyb, sizeof nblk, &nblk);
    if (st != CLGAN_OK) return st;
    size_t global[2] = {clgan_round_up((size_t)s->n * nblk, 16), (size_t)s->cin * s->k * s->k};
    return clgan_launch(ctx, kern, 2, global, NULL, name);
  }
  cl_uint ncols = (cl_uint)((uint64_t)s->n * s->ho * s->wo);
  cl_uint4 div_wo = divisor((uint32_t)s->wo), div_ho = divisor((uint32_t)s->ho),
           div_k = divisor((uint32_t)s->k);
  st = clgan_set_args(kern, 13, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off, sizeof(cl_mem),
                      &col.mem, sizeof col_off, &col_off, sizeof n, &n, sizeof h, &h, sizeof w, &w,
                      sizeof stride, &stride, sizeof pad, &pad, sizeof ncols, &ncols, sizeof div_wo,
                      &div_wo, sizeof div_ho, &div_ho, sizeof div_k, &div_k);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up(ncols, 64), (size_t)s->cin * s->k * s->k};
  return clgan_launch(ctx, kern, 2, global, NULL, name);
}

/* The image with a border of pad zeros (see pad_image in im2col.cl). */
static clgan_status run_pad(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img,
                            clgan_buf out) {
  cl_kernel kern;
  clgan_status st = clgan_kernel_get(ctx, "im2col", NULL, "pad_image", &kern);
  if (st != CLGAN_OK) return st;
  cl_uint img_off = (cl_uint)img.off, out_off = (cl_uint)out.off;
  cl_uint planes = (cl_uint)((uint64_t)s->cin * s->n);
  cl_int h = s->h, w = s->w, pad = s->pad;
  if ((st = clgan_set_args(kern, 8, sizeof(cl_mem), &img.mem, sizeof img_off, &img_off,
                           sizeof(cl_mem), &out.mem, sizeof out_off, &out_off, sizeof planes,
                           &planes, sizeof h, &h, sizeof w, &w, sizeof pad, &pad)) != CLGAN_OK)
    return st;
  size_t global[2] = {clgan_round_up((size_t)(h + 2 * pad), 16), planes};
  return clgan_launch(ctx, kern, 2, global, NULL, "pad_image");
}

/* col2im's mapping: one work-item per image row on CPUs, per pixel elsewhere
 * (see col2im.cl and conv_internal.h). */
static clgan_col2im_map col2im_map = CLGAN_COL2IM_AUTO;

void clgan_conv_set_col2im_map(clgan_col2im_map map) { col2im_map = map; }

static int col2im_by_rows(const clgan_ctx *ctx) {
  if (col2im_map != CLGAN_COL2IM_AUTO) return col2im_map == CLGAN_COL2IM_ROWS;
  const char *e = getenv("CLGAN_COL2IM");
  if (e && strcmp(e, "rows") == 0) return 1;
  if (e && strcmp(e, "pixels") == 0) return 0;
  return ctx->dev.is_cpu;
}

/* img's channels are cstride floats apart (n*h*w unless s covers only some
 * of its images: see col2im.cl). */
static clgan_status run_col2im(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf col,
                               clgan_buf img, cl_uint cstride) {
  int rows = col2im_by_rows(ctx);
  const char *name = rows ? "col2im_rows" : "col2im";
  cl_kernel kern;
  clgan_status st = clgan_kernel_get(ctx, "col2im", NULL, name, &kern);
  if (st != CLGAN_OK) return st;
  cl_uint img_off = (cl_uint)img.off, col_off = (cl_uint)col.off, n = (cl_uint)s->n;
  cl_int k = s->k, stride = s->stride, pad = s->pad, ho = s->ho, wo = s->wo, h = s->h, w = s->w;
  if (rows) {
    st = clgan_set_args(kern, 13, sizeof(cl_mem), &col.mem, sizeof col_off, &col_off,
                        sizeof(cl_mem), &img.mem, sizeof img_off, &img_off, sizeof n, &n, sizeof k,
                        &k, sizeof stride, &stride, sizeof pad, &pad, sizeof ho, &ho, sizeof wo,
                        &wo, sizeof h, &h, sizeof w, &w, sizeof cstride, &cstride);
    if (st != CLGAN_OK) return st;
    size_t global[2] = {clgan_round_up((size_t)s->n * s->h, 16), (size_t)s->cin};
    return clgan_launch(ctx, kern, 2, global, NULL, name);
  }
  cl_uint npix = (cl_uint)((uint64_t)s->n * s->h * s->w);
  cl_uint4 div_w = divisor((uint32_t)s->w), div_h = divisor((uint32_t)s->h),
           div_s = divisor((uint32_t)s->stride);
  st = clgan_set_args(kern, 15, sizeof(cl_mem), &col.mem, sizeof col_off, &col_off, sizeof(cl_mem),
                      &img.mem, sizeof img_off, &img_off, sizeof n, &n, sizeof k, &k, sizeof stride,
                      &stride, sizeof pad, &pad, sizeof ho, &ho, sizeof wo, &wo, sizeof npix, &npix,
                      sizeof div_w, &div_w, sizeof div_h, &div_h, sizeof div_s, &div_s,
                      sizeof cstride, &cstride);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up(npix, 64), (size_t)s->cin};
  return clgan_launch(ctx, kern, 2, global, NULL, name);
}

clgan_status clgan_im2col(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img, clgan_buf col) {
  const char *op = "clgan_im2col";
  clgan_status st;
  if ((st = shape_check(s, op)) != CLGAN_OK ||
      (st = buf_check(img, img_floats(s), op, "img")) != CLGAN_OK ||
      (st = buf_check(col, col_floats(s), op, "col")) != CLGAN_OK)
    return st;
  return run_im2col(ctx, s, img, col);
}

clgan_status clgan_col2im(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf col, clgan_buf img) {
  const char *op = "clgan_col2im";
  clgan_status st;
  if ((st = shape_check(s, op)) != CLGAN_OK ||
      (st = buf_check(col, col_floats(s), op, "col")) != CLGAN_OK ||
      (st = buf_check(img, img_floats(s), op, "img")) != CLGAN_OK)
    return st;
  return run_col2im(ctx, s, col, img, (cl_uint)((uint64_t)s->n * s->h * s->w));
}

/* Where the engine's own GEMM runs a conv's product (on CPUs all of them; on
 * GPUs, where CLBlast takes the regular GEMMs, the weight gradients), it
 * reads the im2col matrix from the (zero-padded) image itself (cl/gemm.cl's
 * gemm_tile_conv): no column matrix written and read back, and no packing
 * of it; only a padded copy of the image, k*k / stride^2 times smaller, in
 * col's place (measured: 9% off the tutorial step on PoCL, 2.5% on an
 * H200). CLGAN_CONV_FROM_IMAGE=0 turns it off (benchmarks). Whether that
 * runs for an m x n x k product of this conv: */
static clgan_status from_image(clgan_ctx *ctx, const clgan_conv_shape *s, size_t m, size_t n,
                               size_t k, int *ok) {
  *ok = 0;
  size_t padded = (size_t)s->cin * s->n * (s->h + 2 * s->pad) * (s->w + 2 * s->pad);
  const char *e = getenv("CLGAN_CONV_FROM_IMAGE");
  if ((e && strcmp(e, "0") == 0) || padded > col_floats(s)) return CLGAN_OK;
  return clgan_gemm_conv_ok(ctx, m, n, k, ok);
}

/* The conv's image as the GEMM reads it: padded into col, or as it is. */
static clgan_status padded_image(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img,
                                 clgan_buf col, clgan_gemm_conv_x *x) {
  clgan_gemm_conv_x v = {img,    s->cin,   s->n,  s->h + 2 * s->pad, s->w + 2 * s->pad,
                         s->k,   s->stride, s->ho, s->wo};
  *x = v;
  if (s->pad == 0) return CLGAN_OK;
  x->img = col;
  return run_pad(ctx, s, img, col);
}

/* Images per column matrix in the adjoint (conv backward data, convT
 * forward): all of them on GPUs (fewer, larger GEMMs); on CPUs as many as
 * keep the chunk of col under ADJOINT_CHUNK_FLOATS, which keeps it in the
 * caches between the GEMM that writes it and the col2im that reads it,
 * and the workspace small. */
#define ADJOINT_CHUNK_FLOATS ((size_t)4 << 20)
static size_t adjoint_chunk = 0; /* 0: ADJOINT_CHUNK_FLOATS */

void clgan_conv_set_adjoint_chunk(size_t floats) { adjoint_chunk = floats; }

static int adjoint_images(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  if (!ctx->dev.is_cpu && adjoint_chunk == 0) return s->n;
  size_t per_image = (size_t)s->cin * s->k * s->k * s->ho * s->wo;
  size_t per = (adjoint_chunk ? adjoint_chunk : ADJOINT_CHUNK_FLOATS) / per_image;
  if (per < 1) per = 1;
  return per < (size_t)s->n ? (int)per : s->n;
}

clgan_status clgan_conv_col_need(clgan_ctx *ctx, const clgan_conv_shape *s, size_t *floats) {
  *floats = 0;
  clgan_status st = shape_check(s, "clgan_conv_col_need");
  if (st != CLGAN_OK || col_is_image(s)) return st;
  size_t kdim = (size_t)s->cin * s->k * s->k, p = (size_t)s->n * s->ho * s->wo;
  size_t padded = s->pad > 0 ? (size_t)s->cin * s->n * (s->h + 2 * s->pad) * (s->w + 2 * s->pad)
                             : 0;
  int fwd, filt;
  if ((st = from_image(ctx, s, (size_t)s->cout, p, kdim, &fwd)) != CLGAN_OK ||
      (st = from_image(ctx, s, (size_t)s->cout, kdim, p, &filt)) != CLGAN_OK)
    return st;
  size_t need = kdim * s->ho * s->wo * (size_t)adjoint_images(ctx, s);
  size_t other = fwd && filt ? padded : col_floats(s);
  *floats = need > other ? need : other;
  return CLGAN_OK;
}

/* ---- The conv core: three modes, named for Conv2d ---------------------------
 * `op` names the public entry point in error messages; the argument names
 * (and the checked sizes) are the conv's: img is the image side [cin, n, h, w],
 * feat the feature side [cout, n, ho, wo], w the weight [cout, cin*k*k]. */

/* feat = conv(img). */
static clgan_status core_forward(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img,
                                 clgan_buf w, clgan_buf feat, clgan_buf col, const char *op,
                                 const char *img_name, const char *feat_name) {
  clgan_status st = shape_check(s, op);
  if (st != CLGAN_OK) return st;
  int direct = col_is_image(s);
  if ((st = buf_check(img, img_floats(s), op, img_name)) != CLGAN_OK ||
      (st = buf_check(w, weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = buf_check(feat, feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (!direct && (st = buf_check(col, col_floats(s), op, "col")) != CLGAN_OK))
    return st;
  size_t kdim = (size_t)s->cin * s->k * s->k, p = (size_t)s->n * s->ho * s->wo;
  clgan_buf b = img;
  if (!direct) {
    int ok;
    if ((st = from_image(ctx, s, (size_t)s->cout, p, kdim, &ok)) != CLGAN_OK) return st;
    if (ok) {
      clgan_gemm_conv_x x;
      if ((st = padded_image(ctx, s, img, col, &x)) != CLGAN_OK) return st;
      return clgan_gemm_conv_forward(ctx, (size_t)s->cout, w, &x, feat);
    }
    if ((st = run_im2col(ctx, s, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm(ctx, 0, 0, (size_t)s->cout, p, kdim, 1.0f, w, kdim, b, p, 0.0f, feat, p);
}

/* img = conv^T(feat); overwrites img. */
static clgan_status core_adjoint(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf feat,
                                 clgan_buf w, clgan_buf img, clgan_buf col, const char *op,
                                 const char *feat_name, const char *img_name) {
  clgan_status st = shape_check(s, op);
  if (st != CLGAN_OK) return st;
  int direct = col_is_image(s);
  if ((st = buf_check(feat, feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (st = buf_check(w, weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = buf_check(img, img_floats(s), op, img_name)) != CLGAN_OK)
    return st;
  size_t kdim = (size_t)s->cin * s->k * s->k, p = (size_t)s->n * s->ho * s->wo;
  if (direct)
    return clgan_gemm(ctx, 1, 0, kdim, p, (size_t)s->cout, 1.0f, w, kdim, feat, p, 0.0f, img, p);
  /* The column matrix a few images at a time (adjoint_images): a smaller
   * col, still in cache when col2im reads it back. */
  int per = adjoint_images(ctx, s);
  clgan_conv_shape part = *s;
  size_t pix = (size_t)s->ho * s->wo, hw = (size_t)s->h * s->w;
  if ((st = buf_check(col, kdim * pix * (size_t)per, op, "col")) != CLGAN_OK) return st;
  cl_uint cstride = (cl_uint)((uint64_t)s->n * hw);
  for (int b0 = 0; b0 < s->n && st == CLGAN_OK; b0 += per) {
    part.n = s->n - b0 < per ? s->n - b0 : per;
    size_t pp = (size_t)part.n * pix;
    st = clgan_gemm(ctx, 1, 0, kdim, pp, (size_t)s->cout, 1.0f, w, kdim,
                    clgan_buf_at(feat, (size_t)b0 * pix), p, 0.0f, col, pp);
    if (st == CLGAN_OK)
      st = run_col2im(ctx, &part, col, clgan_buf_at(img, (size_t)b0 * hw), cstride);
  }
  return st;
}

/* dw (+)= feat x im2col(img)^T. */
static clgan_status core_filter(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf img,
                                clgan_buf feat, clgan_buf dw, clgan_buf col, int accumulate,
                                const char *op, const char *img_name, const char *feat_name) {
  clgan_status st = shape_check(s, op);
  if (st != CLGAN_OK) return st;
  int direct = col_is_image(s);
  if ((st = buf_check(img, img_floats(s), op, img_name)) != CLGAN_OK ||
      (st = buf_check(feat, feat_floats(s), op, feat_name)) != CLGAN_OK ||
      (st = buf_check(dw, weight_floats(s), op, "dw")) != CLGAN_OK ||
      (!direct && (st = buf_check(col, col_floats(s), op, "col")) != CLGAN_OK))
    return st;
  size_t kdim = (size_t)s->cin * s->k * s->k, p = (size_t)s->n * s->ho * s->wo;
  clgan_buf b = img;
  if (!direct) {
    int ok;
    if ((st = from_image(ctx, s, (size_t)s->cout, kdim, p, &ok)) != CLGAN_OK) return st;
    if (ok) {
      clgan_gemm_conv_x x;
      if ((st = padded_image(ctx, s, img, col, &x)) != CLGAN_OK) return st;
      return clgan_gemm_conv_filter(ctx, (size_t)s->cout, feat, &x, dw, accumulate ? 1.0f : 0.0f);
    }
    if ((st = run_im2col(ctx, s, img, col)) != CLGAN_OK) return st;
    b = col;
  }
  return clgan_gemm(ctx, 0, 1, (size_t)s->cout, kdim, p, 1.0f, feat, p, b, p,
                    accumulate ? 1.0f : 0.0f, dw, kdim);
}

/* ---- Conv2d ------------------------------------------------------------------ */

clgan_status clgan_conv2d_forward(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf x,
                                  clgan_buf w, clgan_buf y, clgan_buf col) {
  return core_forward(ctx, s, x, w, y, col, "clgan_conv2d_forward", "x", "y");
}

clgan_status clgan_conv2d_backward_data(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf dy,
                                        clgan_buf w, clgan_buf dx, clgan_buf col) {
  return core_adjoint(ctx, s, dy, w, dx, col, "clgan_conv2d_backward_data", "dy", "dx");
}

clgan_status clgan_conv2d_backward_filter(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf x,
                                          clgan_buf dy, clgan_buf dw, clgan_buf col,
                                          int accumulate) {
  return core_filter(ctx, s, x, dy, dw, col, accumulate, "clgan_conv2d_backward_filter", "x", "dy");
}

/* ---- ConvTranspose2d: the same core with the roles swapped --------------------- */

clgan_status clgan_convt2d_forward(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf x,
                                   clgan_buf w, clgan_buf y, clgan_buf col) {
  return core_adjoint(ctx, s, x, w, y, col, "clgan_convt2d_forward", "x", "y");
}

clgan_status clgan_convt2d_backward_data(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf dy,
                                         clgan_buf w, clgan_buf dx, clgan_buf col) {
  return core_forward(ctx, s, dy, w, dx, col, "clgan_convt2d_backward_data", "dy", "dx");
}

clgan_status clgan_convt2d_backward_filter(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_buf x,
                                           clgan_buf dy, clgan_buf dw, clgan_buf col,
                                           int accumulate) {
  return core_filter(ctx, s, dy, x, dw, col, accumulate, "clgan_convt2d_backward_filter", "dy",
                     "x");
}
