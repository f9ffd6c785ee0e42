/* Convolutions: Conv2d and ConvTranspose2d against plain C loops (forward,
 * backward data, backward filter) on both GEMM backends and every variant
 * (set through the context's tuning, then planned again), im2col/col2im
 * against their definitions, adjoint identities, finite differences of every
 * backward pass, plans on a frozen context, ConvTranspose2d's two
 * gradients in one call, a Conv2d with its activation fused, shape
 * validation, the padding kernel on its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ref_conv.h"
#include "runtime/internal.h"
#include "test_util.h"

/* A layer in its user's terms: input [cin, n, h, w]; Conv2d(cin -> cout) or
 * ConvTranspose2d(cin -> cout), kernel k, stride s, padding p. */
typedef struct layer {
  const char *name;
  int transposed;
  int n, cin, h, w, cout, k, s, p;
} layer;

static const layer layers[] = {
    /* the DCGAN geometries, at small widths */
    {"D 64->32 k4 s2 p1 (first D layer, nc 3)", 0, 2, 3, 64, 64, 4, 4, 2, 1},
    {"D 8->4 k4 s2 p1", 0, 3, 3, 8, 8, 4, 4, 2, 1},
    {"D 4->1 k4 s1 p0 (last D layer)", 0, 5, 4, 4, 4, 1, 4, 1, 0},
    {"G 1->4 k4 s1 p0 (first G layer)", 1, 3, 8, 1, 1, 4, 4, 1, 0},
    {"G 4->8 k4 s2 p1", 1, 5, 4, 4, 4, 3, 4, 2, 1},
    {"G 32->64 k4 s2 p1 (last G layer, nc 3)", 1, 2, 4, 32, 32, 3, 4, 2, 1},
    /* general geometry: odd sizes, batches 1/3/5, 1 and 3 channels */
    {"conv 7x7 k3 s1 p0", 0, 1, 1, 7, 7, 1, 3, 1, 0},
    {"conv 9x9 k3 s2 p1", 0, 3, 3, 9, 9, 2, 3, 2, 1},
    {"conv 13x13 k5 s2 p2", 0, 5, 3, 13, 13, 4, 5, 2, 2},
    {"conv 9x7 k4 s2 p1", 0, 3, 1, 9, 7, 3, 4, 2, 1},
    /* 4 wide, 3 high, n 3: 36 pixel rows, so the last 8-row tile is part
     * filled (CPU: the unrolled forward loop takes the whole tiles only) */
    {"conv 6x8 k4 s2 p1 (a part-filled last tile)", 0, 3, 3, 6, 8, 4, 4, 2, 1},
    {"conv 7x9 k4 s1 p2", 0, 1, 3, 7, 9, 5, 4, 1, 2},
    {"conv 11x10 k3 s3 p1", 0, 3, 2, 11, 10, 2, 3, 3, 1},
    {"conv 3x3 k3 s1 p2", 0, 1, 1, 3, 3, 2, 3, 1, 2},
    {"conv 8x8 k2 s2 p0", 0, 3, 2, 8, 8, 3, 2, 2, 0},
    {"conv 6x6 k1 s1 p0 (no im2col)", 0, 5, 3, 6, 6, 2, 1, 1, 0},
    {"convT 7x7 k3 s1 p0", 1, 1, 1, 7, 7, 1, 3, 1, 0},
    {"convT 5x5 k3 s2 p1", 1, 3, 3, 5, 5, 2, 3, 2, 1},
    {"convT 6x7 k5 s2 p2", 1, 3, 2, 6, 7, 3, 5, 2, 2},
    {"convT 4x4 k4 s1 p2", 1, 5, 2, 4, 4, 3, 4, 1, 2},
    {"convT 3x3 k4 s3 p1", 1, 3, 1, 3, 3, 3, 4, 3, 1},
    {"convT 3x3 k3 s2 p0", 1, 1, 2, 3, 3, 2, 3, 2, 0},
    {"convT 9x9 k5 s1 p1", 1, 3, 3, 9, 9, 1, 5, 1, 1},
    {"convT 5x5 k1 s1 p0 (no im2col)", 1, 3, 2, 5, 5, 2, 1, 1, 0},
    /* long weight-gradient reductions (n*ho*wo >= 4096): on CPUs the own
     * GEMM reads their taps from the padded image (no im2col) */
    {"D 64->32 k4 s2 p1, n 5 (weight gradient from the image)", 0, 5, 3, 64, 64, 8, 4, 2, 1},
    {"G 32->64 k4 s2 p1, n 5 (weight gradient from the image)", 1, 5, 4, 32, 32, 3, 4, 2, 1},
    {"conv 70x70 k3 s1 p2 (weight gradient from the image)", 0, 1, 2, 70, 70, 3, 3, 1, 2},
    {"conv 130x128 k4 s3 p1, n 3 (weight gradient from the image)", 0, 3, 1, 130, 128, 2, 4, 3, 1},
    /* 32 output channels: whole 8 x 32 tiles of C^T, stored as vectors */
    {"D 32->16 k4 s2 p1, 4 -> 32 channels", 0, 2, 4, 32, 32, 32, 4, 2, 1},
    {"G 16->32 k4 s2 p1, 32 -> 8 channels", 1, 2, 32, 16, 16, 8, 4, 2, 1},
};
#define NLAYERS ((int)(sizeof layers / sizeof layers[0]))

/* Extra shapes for the im2col/col2im test only: enough (image, col row)
 * pairs (n*cin*k*k >= 1024) that im2col_rows gives each work-item a whole
 * output image rather than a block of its rows. */
static const layer im2col_layers[] = {
    {"conv 10x10 k3 s1 p1, n 8 x 16 channels", 0, 8, 16, 10, 10, 2, 3, 1, 1},
    {"conv 18x18 k4 s2 p1, n 4 x 16 channels", 0, 4, 16, 18, 18, 2, 4, 2, 1},
};
#define NIM2COL ((int)(sizeof im2col_layers / sizeof im2col_layers[0]))

/* Everything one layer needs: geometry, host data, device buffers. */
typedef struct setup {
  const layer *L;
  ref_conv g;         /* reference geometry in the layer's own terms */
  clgan_conv_shape s; /* the engine's */
  clgan_conv_plan p;  /* s planned on the test context */
  size_t nx, ny, nw, ncol;
  float *x, *w, *r;              /* input, weight, output-side "upstream gradient" */
  clgan_buf dx_, dw_, dy_, dcol; /* device: x, w, r, col */
} setup;

static void setup_make(setup *S, const layer *L, uint64_t seed) {
  memset(S, 0, sizeof *S);
  S->L = L;
  if (L->transposed) {
    S->g = ref_convt_make(L->n, L->cin, L->h, L->w, L->cout, L->k, L->s, L->p);
    TU_OK(clgan_conv_shape_convt(L->n, L->cin, L->h, L->w, L->cout, L->k, L->s, L->p, &S->s));
    /* stored as the adjoint conv */
    ck_assert_int_eq(S->s.cin, L->cout);
    ck_assert_int_eq(S->s.cout, L->cin);
    ck_assert_int_eq(S->s.h, S->g.ho);
    ck_assert_int_eq(S->s.w, S->g.wo);
    ck_assert_int_eq(S->s.ho, L->h);
    ck_assert_int_eq(S->s.wo, L->w);
  } else {
    S->g = ref_conv_make(L->n, L->cin, L->h, L->w, L->cout, L->k, L->s, L->p);
    TU_OK(clgan_conv_shape_conv(L->n, L->cin, L->h, L->w, L->cout, L->k, L->s, L->p, &S->s));
    ck_assert_int_eq(S->s.cin, L->cin);
    ck_assert_int_eq(S->s.cout, L->cout);
    ck_assert_int_eq(S->s.ho, S->g.ho);
    ck_assert_int_eq(S->s.wo, S->g.wo);
  }
  S->nx = (size_t)L->cin * L->n * L->h * L->w;
  S->ny = (size_t)L->cout * L->n * S->g.ho * S->g.wo;
  S->nw = (size_t)L->cin * L->cout * L->k * L->k;
  S->ncol = clgan_conv_col_floats(&S->s);
  ck_assert_uint_eq(S->ncol, (size_t)S->s.cin * S->s.k * S->s.k * S->s.n * S->s.ho * S->s.wo);
  S->x = tu_malloc(S->nx * sizeof(float));
  S->w = tu_malloc(S->nw * sizeof(float));
  S->r = tu_malloc(S->ny * sizeof(float));
  tu_fill_uniform(S->x, S->nx, seed, -1.0f, 1.0f);
  tu_fill_uniform(S->w, S->nw, seed + 1, -1.0f, 1.0f);
  tu_fill_uniform(S->r, S->ny, seed + 2, -1.0f, 1.0f);
  S->dx_ = tu_upload(S->x, S->nx);
  S->dw_ = tu_upload(S->w, S->nw);
  S->dy_ = tu_upload(S->r, S->ny);
  S->dcol = tu_upload(NULL, S->ncol);
  TU_OK(clgan_conv_plan_make(tu_ctx(), &S->s, &S->p));
  ck_assert_uint_le(S->p.col_floats, S->ncol);
}

static void setup_free(setup *S) {
  free(S->x);
  free(S->w);
  free(S->r);
  clgan_buf_release(&S->dx_);
  clgan_buf_release(&S->dw_);
  clgan_buf_release(&S->dy_);
  clgan_buf_release(&S->dcol);
}

/* The layer's three ops on the device, whichever kind it is. */
static clgan_status dev_forward(setup *S, clgan_buf x, clgan_buf w, clgan_buf y) {
  return S->L->transposed ? clgan_convt2d_forward(tu_ctx(), &S->p, x, w, y, S->dcol)
                          : clgan_conv2d_forward(tu_ctx(), &S->p, x, w, y, S->dcol);
}
static clgan_status dev_backward_data(setup *S, clgan_buf dy, clgan_buf w, clgan_buf dx) {
  return S->L->transposed ? clgan_convt2d_backward_data(tu_ctx(), &S->p, dy, w, dx, S->dcol)
                          : clgan_conv2d_backward_data(tu_ctx(), &S->p, dy, w, dx, S->dcol);
}
static clgan_status dev_backward_filter(setup *S, clgan_buf x, clgan_buf dy, clgan_buf dw,
                                        int acc) {
  return S->L->transposed ? clgan_convt2d_backward_filter(tu_ctx(), &S->p, x, dy, dw, S->dcol, acc)
                          : clgan_conv2d_backward_filter(tu_ctx(), &S->p, x, dy, dw, S->dcol, acc);
}
static void ref_forward(const setup *S, const float *x, const float *w, float *y) {
  if (S->L->transposed)
    ref_convt2d_forward(&S->g, x, w, y);
  else
    ref_conv2d_forward(&S->g, x, w, y);
}
static void ref_backward_data(const setup *S, const float *dy, const float *w, float *dx) {
  if (S->L->transposed)
    ref_convt2d_backward_data(&S->g, dy, w, dx);
  else
    ref_conv2d_backward_data(&S->g, dy, w, dx);
}
static void ref_backward_filter(const setup *S, const float *x, const float *dy, float *dw) {
  if (S->L->transposed)
    ref_convt2d_backward_filter(&S->g, x, dy, dw);
  else
    ref_conv2d_backward_filter(&S->g, x, dy, dw);
}

/* Absolute tolerance for a sum of `len` products of values in [-1, 1]. */
static double atol_for(size_t len) { return 1e-5 + 2e-7 * (double)len; }

static const clgan_gemm_backend backends[] = {CLGAN_GEMM_OWN, CLGAN_GEMM_CLBLAST};

/* col2im has two work-item mappings (per pixel, per image row) picked by
 * device type; the tests run both, forced through the context's tuning.
 * Likewise im2col (per col element, per col row segment; the latter chosen
 * on CPUs by output width). Index 0: elements / pixels, 1: rows. */
static const clgan_variant variants[] = {CLGAN_VARIANT_ELEMENTS, CLGAN_VARIANT_ROWS};
static const char *const col2im_names[] = {"pixels", "rows"};
static const char *const im2col_names[] = {"elements", "rows"};

/* Plans S again on the test context with the tuning t. */
static void replan(setup *S, const clgan_tuning *t) {
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), t));
  TU_OK(clgan_conv_plan_make(tu_ctx(), &S->s, &S->p));
}

/* Forward, backward data and backward filter (overwrite and accumulate) of
 * every layer against the reference, on both GEMM backends. Outputs are
 * pre-filled with NaN so an op that reads what it should overwrite fails. */
static void check_against_reference(int first, int last) {
  clgan_ctx *ctx = tu_ctx();
  const clgan_tuning saved = *clgan_ctx_tuning(ctx);
  for (int li = first; li < last; li++) {
    setup S;
    setup_make(&S, &layers[li], 1000 + 17 * (uint64_t)li);
    float *want_y = tu_malloc(S.ny * sizeof(float));
    float *want_dx = tu_malloc(S.nx * sizeof(float));
    float *want_dw = tu_malloc(S.nw * sizeof(float));
    float *dw0 = tu_malloc(S.nw * sizeof(float));
    ref_forward(&S, S.x, S.w, want_y);
    ref_backward_data(&S, S.r, S.w, want_dx);
    ref_backward_filter(&S, S.x, S.r, want_dw);
    tu_fill_uniform(dw0, S.nw, 77, -1.0f, 1.0f);
    const layer *L = S.L;
    /* reduction lengths: forward over cin*k*k (conv) or its adjoint's */
    size_t red_fwd = (size_t)(L->transposed ? L->cout : L->cin) * L->k * L->k;
    size_t red_bwd = (size_t)(L->transposed ? L->cin : L->cout) * L->k * L->k;
    size_t red_w = (size_t)L->n * S.s.ho * S.s.wo;
    clgan_buf y = tu_upload(NULL, S.ny), dx = tu_upload(NULL, S.nx), dw = tu_upload(NULL, S.nw);
    for (int combo = 0; combo < 4; combo++) {
      clgan_tuning t = saved;
      t.gemm = backends[combo / 2];
      t.im2col = t.col2im = variants[combo % 2];
      /* the adjoint one image at a time in half the runs; the col the
       * plan says it needs must be enough: what lies past it stays */
      t.adjoint_chunk_floats = combo % 2 ? 1 : 0;
      replan(&S, &t);
      ck_assert_int_eq(S.p.im2col_rows, combo % 2);
      ck_assert_int_eq(S.p.col2im_rows, combo % 2);
      if (combo % 2 && !S.p.direct) ck_assert_int_eq(S.p.adjoint_images, 1);
      size_t need = S.p.col_floats;
      ck_assert_uint_le(need, S.ncol);
      if (S.ncol > need) TU_OK(clgan_fill(ctx, clgan_buf_at(S.dcol, need), S.ncol - need, 1234.5f));
      char what[256], bn[96];
      snprintf(bn, sizeof bn, "%s, im2col %s, col2im %s",
               clgan_gemm_backend_name(backends[combo / 2]), im2col_names[combo % 2],
               col2im_names[combo % 2]);

      TU_OK(clgan_fill(ctx, y, S.ny, NAN));
      TU_OK(dev_forward(&S, S.dx_, S.dw_, y));
      float *got = tu_download(y, S.ny);
      snprintf(what, sizeof what, "%s [%s] forward", L->name, bn);
      TU_ASSERT_CLOSE(what, got, want_y, S.ny, 1e-4, atol_for(red_fwd));
      free(got);

      TU_OK(clgan_fill(ctx, dx, S.nx, NAN));
      TU_OK(dev_backward_data(&S, S.dy_, S.dw_, dx));
      got = tu_download(dx, S.nx);
      snprintf(what, sizeof what, "%s [%s] backward data", L->name, bn);
      TU_ASSERT_CLOSE(what, got, want_dx, S.nx, 1e-4, atol_for(red_bwd));
      free(got);

      TU_OK(clgan_fill(ctx, dw, S.nw, NAN));
      TU_OK(dev_backward_filter(&S, S.dx_, S.dy_, dw, 0));
      got = tu_download(dw, S.nw);
      snprintf(what, sizeof what, "%s [%s] backward filter", L->name, bn);
      TU_ASSERT_CLOSE(what, got, want_dw, S.nw, 1e-4, atol_for(red_w));
      free(got);

      /* accumulate = 1 adds to what is there */
      TU_OK(clgan_buf_write(ctx, dw, dw0, S.nw));
      TU_OK(dev_backward_filter(&S, S.dx_, S.dy_, dw, 1));
      got = tu_download(dw, S.nw);
      float *want_acc = tu_malloc(S.nw * sizeof(float));
      for (size_t e = 0; e < S.nw; e++) want_acc[e] = want_dw[e] + dw0[e];
      snprintf(what, sizeof what, "%s [%s] backward filter, accumulate", L->name, bn);
      TU_ASSERT_CLOSE(what, got, want_acc, S.nw, 1e-4, atol_for(red_w));
      free(want_acc);
      free(got);
      if (S.ncol > need) {
        float *tail = tu_malloc((S.ncol - need) * sizeof(float));
        TU_OK(clgan_buf_read(ctx, clgan_buf_at(S.dcol, need), tail, S.ncol - need));
        for (size_t e = 0; e < S.ncol - need; e++)
          ck_assert_msg(tail[e] == 1234.5f, "%s [%s]: col written past the %zu floats it needs",
                        L->name, bn, need);
        free(tail);
      }
    }
    TU_OK(clgan_ctx_set_tuning(ctx, &saved));
    clgan_buf_release(&y);
    clgan_buf_release(&dx);
    clgan_buf_release(&dw);
    free(want_y);
    free(want_dx);
    free(want_dw);
    free(dw0);
    setup_free(&S);
  }
}

START_TEST(test_reference_dcgan_layers) { check_against_reference(0, 6); }
END_TEST

START_TEST(test_reference_general) { check_against_reference(6, NLAYERS); }
END_TEST

/* im2col and col2im against their definitions (ops.h) on the conv shapes of
 * every layer, plus the adjoint identity <im2col(x), c> = <x, col2im(c)>. */
START_TEST(test_im2col_col2im) {
  clgan_ctx *ctx = tu_ctx();
  for (int li = 0; li < NLAYERS + NIM2COL; li++) {
    setup S;
    setup_make(&S, li < NLAYERS ? &layers[li] : &im2col_layers[li - NLAYERS], 2000 + (uint64_t)li);
    const clgan_conv_shape *s = &S.s;
    size_t nimg = (size_t)s->cin * s->n * s->h * s->w, ncols = (size_t)s->n * s->ho * s->wo;
    float *img = tu_malloc(nimg * sizeof(float)), *c = tu_malloc(S.ncol * sizeof(float));
    tu_fill_uniform(img, nimg, 5 + li, -1.0f, 1.0f);
    tu_fill_uniform(c, S.ncol, 6 + li, -1.0f, 1.0f);
    float *want_col = tu_malloc(S.ncol * sizeof(float));
    double *acc = calloc(nimg, sizeof *acc);
    ck_assert_ptr_nonnull(acc);
    for (int ch = 0; ch < s->cin; ch++)
      for (int i = 0; i < s->k; i++)
        for (int j = 0; j < s->k; j++)
          for (int b = 0; b < s->n; b++)
            for (int oy = 0; oy < s->ho; oy++)
              for (int ox = 0; ox < s->wo; ox++) {
                size_t row = ((size_t)ch * s->k + i) * s->k + j;
                size_t col = ((size_t)b * s->ho + oy) * s->wo + ox;
                int iy = oy * s->stride - s->pad + i, ix = ox * s->stride - s->pad + j;
                int in = iy >= 0 && iy < s->h && ix >= 0 && ix < s->w;
                size_t pix = in ? (((size_t)ch * s->n + b) * s->h + iy) * s->w + ix : 0;
                want_col[row * ncols + col] = in ? img[pix] : 0.0f;
                if (in) acc[pix] += c[row * ncols + col];
              }
    float *want_img = tu_malloc(nimg * sizeof(float));
    for (size_t e = 0; e < nimg; e++) want_img[e] = (float)acc[e];

    clgan_buf dimg = tu_upload(img, nimg), dcol = tu_upload(NULL, S.ncol);
    char what[200];
    float *got_col = NULL;
    const clgan_tuning saved = *clgan_ctx_tuning(ctx);
    clgan_tuning t = saved;
    for (int m = 0; m < 2; m++) {
      t.im2col = variants[m];
      replan(&S, &t);
      ck_assert_int_eq(S.p.im2col_rows, m);
      TU_OK(clgan_fill(ctx, dcol, S.ncol, NAN));
      TU_OK(clgan_im2col(ctx, &S.p, dimg, dcol));
      free(got_col);
      got_col = tu_download(dcol, S.ncol);
      snprintf(what, sizeof what, "%s: im2col (%s)", S.L->name, im2col_names[m]);
      TU_ASSERT_CLOSE(what, got_col, want_col, S.ncol, 0.0, 0.0); /* a pure copy */
      /* bitwise, so the variants are interchangeable (signed zeros included) */
      ck_assert_msg(memcmp(got_col, want_col, S.ncol * sizeof(float)) == 0,
                    "%s: im2col (%s) is not bitwise the reference", S.L->name, im2col_names[m]);
    }

    TU_OK(clgan_buf_write(ctx, dcol, c, S.ncol));
    t = saved;
    for (int m = 0; m < 2; m++) {
      t.col2im = variants[m];
      replan(&S, &t);
      ck_assert_int_eq(S.p.col2im_rows, m);
      TU_OK(clgan_fill(ctx, dimg, nimg, NAN));
      TU_OK(clgan_col2im(ctx, &S.p, dcol, dimg));
      float *got_img = tu_download(dimg, nimg);
      snprintf(what, sizeof what, "%s: col2im (%s)", S.L->name, col2im_names[m]);
      TU_ASSERT_CLOSE(what, got_img, want_img, nimg, 1e-5, 1e-6);

      double lhs = ref_dot(got_col, c, S.ncol), rhs = ref_dot(img, got_img, nimg);
      ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * (1.0 + fabs(lhs)),
                    "%s: <im2col(x), c> = %.9g but <x, col2im(c)> = %.9g (%s)", S.L->name, lhs, rhs,
                    col2im_names[m]);
      free(got_img);
    }
    TU_OK(clgan_ctx_set_tuning(ctx, &saved));

    clgan_buf_release(&dimg);
    clgan_buf_release(&dcol);
    free(img);
    free(c);
    free(want_col);
    free(want_img);
    free(acc);
    free(got_col);
    setup_free(&S);
  }
}
END_TEST

/* <f(x), y> = <x, f^T(y)> for f = conv (forward vs backward data) and
 * f = convT, and convT's forward is exactly conv's backward data. */
START_TEST(test_adjoint) {
  clgan_ctx *ctx = tu_ctx();
  for (int li = 0; li < NLAYERS; li++) {
    setup S;
    setup_make(&S, &layers[li], 3000 + (uint64_t)li);
    clgan_buf y = tu_upload(NULL, S.ny), dx = tu_upload(NULL, S.nx);
    TU_OK(dev_forward(&S, S.dx_, S.dw_, y));
    TU_OK(dev_backward_data(&S, S.dy_, S.dw_, dx));
    float *fy = tu_download(y, S.ny), *ftr = tu_download(dx, S.nx);
    double lhs = ref_dot(fy, S.r, S.ny), rhs = ref_dot(S.x, ftr, S.nx);
    ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * (1.0 + fabs(lhs)),
                  "%s: <f(x), y> = %.9g but <x, f^T(y)> = %.9g", S.L->name, lhs, rhs);
    free(fy);
    free(ftr);

    /* the shared core: convT forward on s == conv backward data on s */
    clgan_buf feat = tu_upload(S.L->transposed ? S.x : S.r, S.L->transposed ? S.nx : S.ny);
    size_t nimg = S.L->transposed ? S.ny : S.nx;
    clgan_buf a = tu_upload(NULL, nimg), b = tu_upload(NULL, nimg);
    TU_OK(clgan_convt2d_forward(ctx, &S.p, feat, S.dw_, a, S.dcol));
    TU_OK(clgan_conv2d_backward_data(ctx, &S.p, feat, S.dw_, b, S.dcol));
    float *ga = tu_download(a, nimg), *gb = tu_download(b, nimg);
    ck_assert_msg(memcmp(ga, gb, nimg * sizeof(float)) == 0,
                  "%s: convT forward differs from conv backward data", S.L->name);
    free(ga);
    free(gb);
    clgan_buf_release(&feat);
    clgan_buf_release(&a);
    clgan_buf_release(&b);
    clgan_buf_release(&y);
    clgan_buf_release(&dx);
    setup_free(&S);
  }
}
END_TEST

/* L = sum(forward(x, w) * r) computed in double from the device forward. */
static double loss(setup *S, clgan_buf y, float *ybuf) {
  TU_OK(dev_forward(S, S->dx_, S->dw_, y));
  TU_OK(clgan_buf_read(tu_ctx(), y, ybuf, S->ny));
  return ref_dot(ybuf, S->r, S->ny);
}

/* Central difference of L in one element of a host array mirrored on the
 * device. The layer is linear in x and in w, so a large step is exact up to
 * rounding. */
static double central_diff(setup *S, float *host, clgan_buf dev, size_t e, clgan_buf y,
                           float *ybuf) {
  const float eps = 0.5f;
  float orig = host[e], v;
  v = orig + eps;
  TU_OK(clgan_buf_write(tu_ctx(), clgan_buf_at(dev, e), &v, 1));
  double lp = loss(S, y, ybuf);
  v = orig - eps;
  TU_OK(clgan_buf_write(tu_ctx(), clgan_buf_at(dev, e), &v, 1));
  double lm = loss(S, y, ybuf);
  TU_OK(clgan_buf_write(tu_ctx(), clgan_buf_at(dev, e), &orig, 1));
  return (lp - lm) / (2.0 * eps);
}

/* Sampled elements: both ends, the middle, and a few pseudo-random ones. */
static size_t sample_index(int i, size_t n, uint64_t seed) {
  if (i == 0) return 0;
  if (i == 1) return n - 1;
  if (i == 2) return n / 2;
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i * 0xbf58476d1ce4e5b9ULL;
  z ^= z >> 29;
  return (size_t)(z % n);
}

START_TEST(test_finite_differences) {
  for (int li = 0; li < NLAYERS; li++) {
    setup S;
    setup_make(&S, &layers[li], 4000 + (uint64_t)li);
    clgan_buf y = tu_upload(NULL, S.ny), dx = tu_upload(NULL, S.nx), dw = tu_upload(NULL, S.nw);
    float *ybuf = tu_malloc(S.ny * sizeof(float));
    /* analytic: dL/dx = backward_data(r), dL/dw = backward_filter(x, r) */
    TU_OK(dev_backward_data(&S, S.dy_, S.dw_, dx));
    TU_OK(dev_backward_filter(&S, S.dx_, S.dy_, dw, 0));
    float *gx = tu_download(dx, S.nx), *gw = tu_download(dw, S.nw);
    for (int i = 0; i < 6; i++) {
      size_t e = sample_index(i, S.nx, 11 + li);
      double fd = central_diff(&S, S.x, S.dx_, e, y, ybuf);
      ck_assert_msg(fabs(fd - gx[e]) <= 1e-3 * (1.0 + fabs(fd)),
                    "%s: dL/dx[%zu] analytic %.7g, finite difference %.7g", S.L->name, e,
                    (double)gx[e], fd);
      e = sample_index(i, S.nw, 13 + li);
      fd = central_diff(&S, S.w, S.dw_, e, y, ybuf);
      ck_assert_msg(fabs(fd - gw[e]) <= 1e-3 * (1.0 + fabs(fd)),
                    "%s: dL/dw[%zu] analytic %.7g, finite difference %.7g", S.L->name, e,
                    (double)gw[e], fd);
    }
    free(gx);
    free(gw);
    free(ybuf);
    clgan_buf_release(&y);
    clgan_buf_release(&dx);
    clgan_buf_release(&dw);
    setup_free(&S);
  }
}
END_TEST

/* A plan holds everything its ops need: on a fresh context, planned,
 * prepared and then frozen (no kernel may be created, no workspace grown), every mode of a
 * few layers runs, on each GEMM backend, and gives what an unfrozen test
 * context computes. */
START_TEST(test_plan_then_frozen) {
  static const int picks[] = {0, 2, 3, 5, 14, 23}; /* pad and none, 1x1, from the image */
  for (int bi = 0; bi < 2; bi++) {
    clgan_tuning t;
    TU_OK(clgan_tuning_from_env(&t));
    t.gemm = backends[bi];
    clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
    clgan_ctx *ctx = NULL;
    TU_OK(clgan_ctx_create(&o, &ctx));
    for (size_t pi = 0; pi < sizeof picks / sizeof picks[0]; pi++) {
      setup S; /* buffers and a reference result on the test context */
      setup_make(&S, &layers[picks[pi]], 5000 + (uint64_t)pi);
      clgan_buf y = tu_upload(NULL, S.ny), dx = tu_upload(NULL, S.nx), dw = tu_upload(NULL, S.nw);
      TU_OK(dev_forward(&S, S.dx_, S.dw_, y));
      TU_OK(dev_backward_data(&S, S.dy_, S.dw_, dx));
      TU_OK(dev_backward_filter(&S, S.dx_, S.dy_, dw, 0));
      float *want[3] = {tu_download(y, S.ny), tu_download(dx, S.nx), tu_download(dw, S.nw)};
      size_t len[3] = {S.ny, S.nx, S.nw};
      clgan_conv_plan p;
      TU_OK(clgan_conv_plan_make(ctx, &S.s, &p));
      TU_OK(clgan_conv_plan_prepare(ctx, &p));
      clgan_buf b[7]; /* x, w, r, col, y, dx, dw on the fresh context */
      size_t nb[7] = {S.nx, S.nw, S.ny, p.col_floats ? p.col_floats : 1, S.ny, S.nx, S.nw};
      for (int i = 0; i < 7; i++) TU_OK(clgan_buf_alloc(ctx, nb[i], &b[i]));
      TU_OK(clgan_buf_write(ctx, b[0], S.x, S.nx));
      TU_OK(clgan_buf_write(ctx, b[1], S.w, S.nw));
      TU_OK(clgan_buf_write(ctx, b[2], S.r, S.ny));
      clgan_ctx_freeze(ctx, 1);
      int tr = S.L->transposed;
      TU_OK(tr ? clgan_convt2d_forward(ctx, &p, b[0], b[1], b[4], b[3])
               : clgan_conv2d_forward(ctx, &p, b[0], b[1], b[4], b[3]));
      TU_OK(tr ? clgan_convt2d_backward_data(ctx, &p, b[2], b[1], b[5], b[3])
               : clgan_conv2d_backward_data(ctx, &p, b[2], b[1], b[5], b[3]));
      TU_OK(tr ? clgan_convt2d_backward_filter(ctx, &p, b[0], b[2], b[6], b[3], 0)
               : clgan_conv2d_backward_filter(ctx, &p, b[0], b[2], b[6], b[3], 0));
      TU_OK(clgan_ctx_finish(ctx));
      clgan_ctx_freeze(ctx, 0);
      static const char *const modes[3] = {"forward", "backward data", "backward filter"};
      for (int i = 0; i < 3; i++) {
        float *got = tu_malloc(len[i] * sizeof(float));
        TU_OK(clgan_buf_read(ctx, b[4 + i], got, len[i]));
        char what[200];
        snprintf(what, sizeof what, "%s [%s, frozen] %s", S.L->name,
                 clgan_gemm_backend_name(backends[bi]), modes[i]);
        TU_ASSERT_CLOSE(what, got, want[i], len[i], 1e-4, atol_for((size_t)S.L->n * 4096));
        free(got);
        free(want[i]);
      }
      for (int i = 0; i < 7; i++) clgan_buf_release(&b[i]);
      clgan_buf_release(&y);
      clgan_buf_release(&dx);
      clgan_buf_release(&dw);
      setup_free(&S);
    }
    clgan_ctx_destroy(ctx);
  }
}
END_TEST

/* clgan_convt2d_backward (both gradients, dy padded once where both GEMMs
 * read it from the image) gives the bits of the backward filter followed by
 * the backward data, with dw overwritten and accumulated, on every
 * transposed layer; a missing buffer is refused by name. */
START_TEST(test_convt_backward_both) {
  for (int li = 0; li < NLAYERS; li++) {
    if (!layers[li].transposed) continue;
    setup S;
    setup_make(&S, &layers[li], 7000 + (uint64_t)li);
    for (int acc = 0; acc < 2; acc++) {
      /* one reference pair, one combined pair; dw starts from the weights
       * when accumulating */
      clgan_buf dx[2] = {tu_upload(NULL, S.nx), tu_upload(NULL, S.nx)};
      clgan_buf dw[2] = {tu_upload(acc ? S.w : NULL, S.nw), tu_upload(acc ? S.w : NULL, S.nw)};
      TU_OK(clgan_convt2d_backward_filter(tu_ctx(), &S.p, S.dx_, S.dy_, dw[0], S.dcol, acc));
      TU_OK(clgan_convt2d_backward_data(tu_ctx(), &S.p, S.dy_, S.dw_, dx[0], S.dcol));
      TU_OK(clgan_convt2d_backward(tu_ctx(), &S.p, S.dx_, S.dy_, S.dw_, dw[1], dx[1], S.dcol,
                                   acc));
      float *want_dx = tu_download(dx[0], S.nx), *got_dx = tu_download(dx[1], S.nx);
      float *want_dw = tu_download(dw[0], S.nw), *got_dw = tu_download(dw[1], S.nw);
      ck_assert_msg(memcmp(want_dx, got_dx, S.nx * sizeof(float)) == 0, "%s: dx differs",
                    S.L->name);
      ck_assert_msg(memcmp(want_dw, got_dw, S.nw * sizeof(float)) == 0, "%s: dw differs (acc %d)",
                    S.L->name, acc);
      free(want_dx);
      free(got_dx);
      free(want_dw);
      free(got_dw);
      for (int i = 0; i < 2; i++) clgan_buf_release(&dx[i]), clgan_buf_release(&dw[i]);
    }
    clgan_buf none = {0};
    ck_assert_int_eq(clgan_convt2d_backward(tu_ctx(), &S.p, S.dx_, S.dy_, S.dw_, S.dw_, none,
                                            S.dcol, 0),
                     CLGAN_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "dx is NULL"));
    setup_free(&S);
  }
}
END_TEST

/* clgan_conv2d_forward_act gives the bits of clgan_conv2d_forward followed
 * by clgan_act_forward (LeakyReLU with the recipe's slope, ReLU) on every
 * Conv2d layer whose plan can fuse it, and refuses the others and the
 * activations it cannot fuse; some layer of the list fuses. */
START_TEST(test_conv_forward_act) {
  static const clgan_act acts[2] = {CLGAN_ACT_LEAKY_RELU, CLGAN_ACT_RELU};
  int fused = 0;
  for (int li = 0; li < NLAYERS; li++) {
    if (layers[li].transposed) continue;
    setup S;
    setup_make(&S, &layers[li], 8000 + (uint64_t)li);
    ck_assert(!clgan_conv2d_forward_fuses_act(&S.p, CLGAN_ACT_TANH));
    for (int a = 0; a < 2; a++) {
      clgan_buf y[2] = {tu_upload(NULL, S.ny), tu_upload(NULL, S.ny)};
      if (!clgan_conv2d_forward_fuses_act(&S.p, acts[a])) {
        ck_assert_int_eq(clgan_conv2d_forward_act(tu_ctx(), &S.p, S.dx_, S.dw_, y[1], S.dcol,
                                                  acts[a], 0.2f),
                         CLGAN_ERR_INVALID);
      } else {
        fused++;
        clgan_act_plan ap;
        TU_OK(clgan_act_plan_make(tu_ctx(), acts[a], &ap));
        TU_OK(clgan_conv2d_forward(tu_ctx(), &S.p, S.dx_, S.dw_, y[0], S.dcol));
        TU_OK(clgan_act_forward(tu_ctx(), &ap, 0.2f, S.ny, y[0], y[0]));
        TU_OK(clgan_conv2d_forward_act(tu_ctx(), &S.p, S.dx_, S.dw_, y[1], S.dcol, acts[a],
                                       0.2f));
        float *want = tu_download(y[0], S.ny), *got = tu_download(y[1], S.ny);
        ck_assert_msg(memcmp(want, got, S.ny * sizeof(float)) == 0, "%s: act %d differs",
                      S.L->name, (int)acts[a]);
        free(want);
        free(got);
      }
      clgan_buf_release(&y[0]);
      clgan_buf_release(&y[1]);
    }
    setup_free(&S);
  }
  if (clgan_ctx_cpu_paths(tu_ctx())) ck_assert_int_gt(fused, 0);
}
END_TEST

/* clgan_conv2d_backward_data_act gives the bits of clgan_conv2d_backward_data
 * followed by clgan_act_backward (LeakyReLU with the recipe's slope, ReLU;
 * y: the layer's input) on every Conv2d layer whose plan can fuse it, and
 * refuses the others and Tanh; some layer of the list fuses. */
START_TEST(test_conv_backward_data_act) {
  static const clgan_act acts[2] = {CLGAN_ACT_LEAKY_RELU, CLGAN_ACT_RELU};
  int fused = 0;
  for (int li = 0; li < NLAYERS; li++) {
    if (layers[li].transposed) continue;
    setup S;
    setup_make(&S, &layers[li], 9500 + (uint64_t)li);
    ck_assert(!clgan_conv2d_backward_data_fuses_act(&S.p, CLGAN_ACT_TANH));
    for (int a = 0; a < 2; a++) {
      clgan_buf dx[2] = {tu_upload(NULL, S.nx), tu_upload(NULL, S.nx)};
      if (!clgan_conv2d_backward_data_fuses_act(&S.p, acts[a])) {
        ck_assert_int_eq(clgan_conv2d_backward_data_act(tu_ctx(), &S.p, S.dy_, S.dw_, dx[1],
                                                        S.dcol, S.dx_, acts[a], 0.2f),
                         CLGAN_ERR_INVALID);
      } else {
        fused++;
        clgan_act_plan ap;
        TU_OK(clgan_act_plan_make(tu_ctx(), acts[a], &ap));
        TU_OK(clgan_conv2d_backward_data(tu_ctx(), &S.p, S.dy_, S.dw_, dx[0], S.dcol));
        TU_OK(clgan_act_backward(tu_ctx(), &ap, 0.2f, S.nx, S.dx_, dx[0], dx[0]));
        TU_OK(clgan_conv2d_backward_data_act(tu_ctx(), &S.p, S.dy_, S.dw_, dx[1], S.dcol, S.dx_,
                                             acts[a], 0.2f));
        float *want = tu_download(dx[0], S.nx), *got = tu_download(dx[1], S.nx);
        ck_assert_msg(memcmp(want, got, S.nx * sizeof(float)) == 0, "%s: act %d differs",
                      S.L->name, (int)acts[a]);
        free(want);
        free(got);
      }
      clgan_buf_release(&dx[0]);
      clgan_buf_release(&dx[1]);
    }
    setup_free(&S);
  }
  ck_assert_int_gt(fused, 0);
}
END_TEST

/* The kept padded input: on every Conv2d layer whose plan keeps one,
 * clgan_conv2d_forward_keep then clgan_conv2d_backward_filter_kept (col
 * overwritten in between, as the other layers of a step do) give the bits of
 * the forward and the weight gradient from x (dw overwritten and
 * accumulated; with the fused LeakyReLU where the plan fuses it); the copy
 * is x with its zero border; elsewhere both calls are refused, as is a
 * kept buffer too small. Some layer of the list keeps one on CPUs. */
START_TEST(test_conv_forward_keep) {
  int kept_layers = 0;
  for (int li = 0; li < NLAYERS; li++) {
    if (layers[li].transposed) continue;
    setup S;
    setup_make(&S, &layers[li], 9000 + (uint64_t)li);
    size_t nk = clgan_conv_kept_floats(&S.p);
    clgan_buf y = tu_upload(NULL, S.ny), dw = tu_upload(NULL, S.nw);
    if (nk == 0) {
      clgan_buf some = tu_upload(NULL, S.nx);
      ck_assert_int_eq(clgan_conv2d_forward_keep(tu_ctx(), &S.p, S.dx_, S.dw_, y, S.dcol, some,
                                                 CLGAN_ACT_NONE, 0.0f),
                       CLGAN_ERR_INVALID);
      ck_assert_int_eq(clgan_conv2d_backward_filter_kept(tu_ctx(), &S.p, some, S.dy_, dw,
                                                         S.dcol, 0),
                       CLGAN_ERR_INVALID);
      clgan_buf_release(&some);
    } else {
      kept_layers++;
      const layer *L = S.L;
      ck_assert_uint_eq(nk, (size_t)L->cin * L->n * (L->h + 2 * L->p) * (L->w + 2 * L->p));
      clgan_buf small = tu_upload(NULL, nk - 1);
      ck_assert_int_eq(clgan_conv2d_forward_keep(tu_ctx(), &S.p, S.dx_, S.dw_, y, S.dcol, small,
                                                 CLGAN_ACT_NONE, 0.0f),
                       CLGAN_ERR_INVALID);
      ck_assert_ptr_nonnull(strstr(clgan_last_error(), "kept"));
      clgan_buf_release(&small);
      int fuses = clgan_conv2d_forward_fuses_act(&S.p, CLGAN_ACT_LEAKY_RELU);
      for (int variant = 0; variant < 4; variant++) {
        int acc = variant & 1, with_act = variant >> 1;
        if (with_act && !fuses) continue;
        clgan_act act = with_act ? CLGAN_ACT_LEAKY_RELU : CLGAN_ACT_NONE;
        clgan_buf kept = tu_upload(NULL, nk), y2 = tu_upload(NULL, S.ny);
        clgan_buf dw0 = tu_upload(acc ? S.w : NULL, S.nw), dw1 = tu_upload(acc ? S.w : NULL, S.nw);
        if (with_act)
          TU_OK(clgan_conv2d_forward_act(tu_ctx(), &S.p, S.dx_, S.dw_, y, S.dcol, act, 0.2f));
        else
          TU_OK(clgan_conv2d_forward(tu_ctx(), &S.p, S.dx_, S.dw_, y, S.dcol));
        TU_OK(clgan_conv2d_backward_filter(tu_ctx(), &S.p, S.dx_, S.dy_, dw0, S.dcol, acc));
        TU_OK(clgan_conv2d_forward_keep(tu_ctx(), &S.p, S.dx_, S.dw_, y2, S.dcol, kept, act,
                                        0.2f));
        TU_OK(clgan_fill(tu_ctx(), S.dcol, S.p.col_floats, 12345.0f));
        TU_OK(clgan_conv2d_backward_filter_kept(tu_ctx(), &S.p, kept, S.dy_, dw1, S.dcol, acc));
        float *a = tu_download(y, S.ny), *b = tu_download(y2, S.ny);
        ck_assert_msg(memcmp(a, b, S.ny * sizeof(float)) == 0, "%s: y differs (act %d)",
                      L->name, with_act);
        free(a), free(b);
        a = tu_download(dw0, S.nw), b = tu_download(dw1, S.nw);
        ck_assert_msg(memcmp(a, b, S.nw * sizeof(float)) == 0, "%s: dw differs (acc %d)",
                      L->name, acc);
        free(a), free(b);
        /* the copy: x inside a border of p zeros */
        float *k = tu_download(kept, nk);
        int hp = L->h + 2 * L->p, wp = L->w + 2 * L->p;
        for (size_t plane = 0; plane < (size_t)L->cin * L->n; plane++)
          for (int r = 0; r < hp; r++)
            for (int c = 0; c < wp; c++) {
              int iy = r - L->p, ix = c - L->p;
              float want = iy < 0 || iy >= L->h || ix < 0 || ix >= L->w
                               ? 0.0f
                               : S.x[(plane * L->h + (size_t)iy) * L->w + (size_t)ix];
              ck_assert_float_eq(k[(plane * hp + (size_t)r) * wp + (size_t)c], want);
            }
        free(k);
        clgan_buf_release(&kept), clgan_buf_release(&y2);
        clgan_buf_release(&dw0), clgan_buf_release(&dw1);
      }
    }
    clgan_buf_release(&y), clgan_buf_release(&dw);
    setup_free(&S);
  }
  if (clgan_ctx_cpu_paths(tu_ctx())) ck_assert_int_gt(kept_layers, 0);
}
END_TEST

START_TEST(test_shapes) {
  clgan_conv_shape s;
  /* DCGAN D layer 2 at ndf 64, batch 128: col is 1024 x 32768 */
  TU_OK(clgan_conv_shape_conv(128, 64, 32, 32, 128, 4, 2, 1, &s));
  ck_assert_int_eq(s.ho, 16);
  ck_assert_int_eq(s.wo, 16);
  ck_assert_uint_eq(clgan_conv_col_floats(&s), (size_t)1024 * 32768);
  /* first G layer: 1x1 -> 4x4, stored as the adjoint 4x4 -> 1x1 conv */
  TU_OK(clgan_conv_shape_convt(128, 100, 1, 1, 512, 4, 1, 0, &s));
  ck_assert_int_eq(s.cin, 512);
  ck_assert_int_eq(s.cout, 100);
  ck_assert_int_eq(s.h, 4);
  ck_assert_int_eq(s.w, 4);
  ck_assert_int_eq(s.ho, 1);
  ck_assert_int_eq(s.wo, 1);
  ck_assert_uint_eq(clgan_conv_col_floats(&s), (size_t)512 * 16 * 128);
  /* last D layer: 4x4 -> 1x1 */
  TU_OK(clgan_conv_shape_conv(128, 512, 4, 4, 1, 4, 1, 0, &s));
  ck_assert_int_eq(s.ho, 1);
  /* convT output (h-1)*stride - 2*pad + k */
  TU_OK(clgan_conv_shape_convt(2, 3, 5, 7, 4, 3, 2, 1, &s));
  ck_assert_int_eq(s.h, 9);
  ck_assert_int_eq(s.w, 13);

  /* invalid */
  ck_assert_int_eq(clgan_conv_shape_conv(1, 1, 3, 3, 1, 4, 1, 0, &s), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "empty output"));
  ck_assert_int_eq(clgan_conv_shape_conv(0, 1, 8, 8, 1, 3, 1, 0, &s), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv_shape_conv(1, 1, 8, 8, 1, 0, 1, 0, &s), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv_shape_conv(1, 1, 8, 8, 1, 3, 0, 0, &s), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv_shape_conv(1, 1, 8, 8, 1, 3, 1, -1, &s), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv_shape_conv(1, 1, 8, 8, 1, 3, 1, 0, NULL), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv_shape_convt(1, 1, 1, 1, 1, 1, 1, 1, &s), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "empty output"));
  ck_assert_int_eq(clgan_conv_shape_convt(1, 0, 4, 4, 1, 4, 2, 1, &s), CLGAN_ERR_INVALID);
  /* beyond the kernels' 32-bit indexing */
  ck_assert_int_eq(clgan_conv_shape_conv(4096, 1024, 64, 64, 8, 4, 2, 1, &s), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "2^32"));

  /* ops validate hand-filled shapes and buffers */
  clgan_ctx *ctx = tu_ctx();
  TU_OK(clgan_conv_shape_conv(1, 1, 8, 8, 1, 3, 1, 0, &s));
  clgan_buf a = tu_upload(NULL, 1024), none = {0};
  clgan_conv_shape bad = s;
  bad.ho = 7;
  ck_assert_uint_eq(clgan_conv_col_floats(&bad), 0);
  ck_assert_uint_eq(clgan_conv_col_floats(NULL), 0);
  clgan_conv_plan plan, unmade;
  memset(&unmade, 0, sizeof unmade);
  ck_assert_int_eq(clgan_conv_plan_make(ctx, &bad, &plan), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "inconsistent"));
  ck_assert_int_eq(clgan_conv_plan_make(ctx, NULL, &plan), CLGAN_ERR_INVALID);
  TU_OK(clgan_conv_plan_make(ctx, &s, &plan));
  ck_assert_int_eq(clgan_convt2d_forward(ctx, NULL, a, a, a, a), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_conv2d_forward(ctx, &unmade, a, a, a, a), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "not made"));
  ck_assert_int_eq(clgan_conv2d_forward(ctx, &plan, a, none, a, a), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "w is NULL"));
  ck_assert_int_eq(clgan_im2col(ctx, &plan, a, none), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_col2im(ctx, &plan, none, a), CLGAN_ERR_INVALID);
  clgan_buf_release(&a);
}
END_TEST

/* conv_pad_planes (the device's padding kernel: pad_planes on CPU paths,
 * pad_image under CLGAN_KERNEL_CLASS=gpu) against its definition: widths
 * around its vector copies (1 to 33), pads 0 to 3, one plane and several,
 * at buffer offsets, the floats after the output left alone. */
START_TEST(test_pad_planes) {
  clgan_ctx *ctx = tu_ctx();
  cl_kernel pad_kernel = NULL;
  TU_OK(conv_pad_kernel_get(ctx, &pad_kernel));
  static const int widths[] = {1, 3, 4, 5, 8, 12, 13, 16, 17, 32, 33};
  static const int heights[] = {1, 2, 7};
  const size_t in_off = 3, out_off = 5, tail = 7;
  for (int wi = 0; wi < (int)(sizeof widths / sizeof widths[0]); wi++)
    for (int pad = 0; pad <= 3; pad++) {
      const int w = widths[wi], h = heights[(wi + pad) % 3], hp = h + 2 * pad, wp = w + 2 * pad;
      const size_t planes = (size_t)(1 + 4 * (pad % 2)), nin = planes * h * w;
      const size_t nout = planes * hp * wp;
      float *in = tu_malloc((in_off + nin) * sizeof(float));
      float *want = tu_malloc((out_off + nout + tail) * sizeof(float));
      tu_fill_uniform(in, in_off + nin, 100 + (uint64_t)(wi * 4 + pad), -1.0f, 1.0f);
      for (size_t i = 0; i < out_off + nout + tail; i++) want[i] = 9.0f; /* sentinels */
      for (size_t c = 0; c < planes; c++)
        for (int y = 0; y < hp; y++)
          for (int x = 0; x < wp; x++) {
            int iy = y - pad, ix = x - pad, inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            want[out_off + (c * hp + y) * wp + x] =
                inside ? in[in_off + (c * h + iy) * w + ix] : 0.0f;
          }
      clgan_buf din = tu_upload(in, in_off + nin);
      float *sentinels = tu_malloc((out_off + nout + tail) * sizeof(float));
      for (size_t i = 0; i < out_off + nout + tail; i++) sentinels[i] = 9.0f;
      clgan_buf dout = tu_upload(sentinels, out_off + nout + tail);
      TU_OK(conv_pad_planes(ctx, pad_kernel, clgan_buf_at(din, in_off), clgan_buf_at(dout, out_off),
                            planes, h, w, pad));
      float *got = tu_download(dout, out_off + nout + tail);
      char what[64];
      snprintf(what, sizeof what, "pad %d of %zu planes %dx%d", pad, planes, h, w);
      ck_assert_msg(tu_close(what, got, want, out_off + nout + tail, 0.0, 0.0), "%s", what);
      clgan_buf_release(&din);
      clgan_buf_release(&dout);
      free(in), free(want), free(sentinels), free(got);
    }
}
END_TEST

static Suite *conv_suite(void) {
  Suite *s = suite_create("conv");
  TCase *tc = tcase_create("conv");
  tcase_add_test(tc, test_shapes);
  tcase_add_test(tc, test_im2col_col2im);
  tcase_add_test(tc, test_pad_planes);
  tcase_add_test(tc, test_reference_dcgan_layers);
  tcase_add_test(tc, test_reference_general);
  tcase_add_test(tc, test_adjoint);
  tcase_add_test(tc, test_plan_then_frozen);
  tcase_add_test(tc, test_convt_backward_both);
  tcase_add_test(tc, test_conv_forward_act);
  tcase_add_test(tc, test_conv_forward_keep);
  tcase_add_test(tc, test_conv_backward_data_act);
  tcase_add_test(tc, test_finite_differences);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(conv_suite()); }
