/* The Winograd convs (src/ops/conv_winograd.c, cl/winograd.cl): a k 4,
 * stride 2, pad 1 conv's forward, adjoint and weight gradient by F(4x4,
 * 2x2) over the tap parities (the weight gradient by its transposed form,
 * the sums over the tiles in the transformed domain). Against the C reference (tests/ref_conv.c) on
 * the DCGAN's middle D layers and odd sizes (tiles that do not fill the GEMM's last row panel,
 * channels that do not fill its last column panel, one tile a row, rows of 2, 3, 4 and 6 tiles),
 * over outputs full of NaN: the forward with ReLU or LeakyReLU applied as it stores, with and
 * without the padded copy kept, and as ConvTranspose2d's backward data (alone and with its weight
 * gradient); the adjoint (Conv2d's backward data, ConvTranspose2d's
 * forward) with ReLU's or LeakyReLU's derivative applied as it stores,
 * from dy and from dy given padded; the weight gradient from the image
 * and from the padded copy the forward kept, written and accumulated; the
 * transformed image the forward keeps for the weight gradient (and a
 * ConvTranspose2d's backward shares between its products), the same bits
 * as each product transforming the image itself; a plan keeping its
 * transformed weights (forward and adjoint), the same bits as one that
 * keeps none over calls whose weights stay or change at the first, a
 * middle or the last float, the kept weights equal to the last ones, a
 * buffer one float short refused.
 * With the device's default tile (CPU
 * and GPU paths) through the plan step with the tuning's winograd 1
 * (CLGAN_WINOGRAD=1); which shapes take it, its name, the engine's choice
 * on CPUs and no plan taking it with winograd -1 (CLGAN_WINOGRAD=0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_tune.h"
#include "ops/conv_winograd.h"
#include "ref_conv.h"
#include "runtime/internal.h"
#include "test_util.h"

typedef struct wino_case {
  const char *name;
  int n, cin, h, w, cout;
} wino_case;

/* Conv2d(cin, cout, 4, 2, 1) over h x w. */
static const wino_case cases[] = {
    {"gray32 D2: 32 -> 64, 16x16 (two tiles a row), batch 3", 3, 32, 16, 16, 64},
    {"gray32 D3: 64 -> 128, 8x8 (one tile), batch 2", 2, 64, 8, 8, 128},
    {"16 -> 24, 8x8 (one tile: a whole panel of them and one more), batch 9", 9, 16, 8, 8, 24},
    {"tutorial D2's rows: 16 -> 40, 32x32 (four tiles a row), batch 2", 2, 16, 32, 32, 40},
    {"20 -> 37, 16x24 (three tiles a row, 18 tiles), batch 3", 3, 20, 16, 24, 37},
    {"16 -> 1, 8x8 (one tile), batch 1", 1, 16, 8, 8, 1},
    {"4 -> 6, 8x16, batch 2", 2, 4, 8, 16, 6},
    {"24 -> 33, 8x48 (six tiles a row), batch 5", 5, 24, 8, 48, 33},
    {"8 -> 12, 32x16 (two tiles a row, four rows), batch 3", 3, 8, 32, 16, 12},
    {"8 -> 12, 16x8 (one tile a row, two rows), batch 5", 5, 8, 16, 8, 12},
    {"gray32 D2 at batch 4: 16 tiles (whole panels)", 4, 32, 16, 16, 64},
    {"16 -> 24, 8x8 at batch 8: 8 tiles (whole panels)", 8, 16, 8, 8, 24},
    {"4 -> 8, 32x32 at batch 64: 1024 tiles (the shared image's rows padded)", 64, 4, 32, 32, 8},
    {"8 -> 12, 16x64 (eight tiles a row: rows of four beside rows of four), batch 3", 3, 8, 16, 64,
     12},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* A case's conv shape (one the Winograd forms apply to), its C reference
 * and the floats of its image, weights and output. */
typedef struct case_geometry {
  const wino_case *c;
  clgan_conv_shape s;
  ref_conv g;
  size_t fx, fw, fy;
} case_geometry;

static case_geometry geometry_of(const wino_case *c) {
  case_geometry cg = {.c = c};
  TU_OK(clgan_conv_shape_conv(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1, &cg.s));
  ck_assert(conv_wino_applies(&cg.s));
  cg.g = ref_conv_make(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1);
  cg.fx = (size_t)c->cin * c->n * c->h * c->w, cg.fw = (size_t)c->cout * c->cin * 16;
  cg.fy = (size_t)c->cout * c->n * cg.s.ho * cg.s.wo;
  return cg;
}

/* n floats drawn uniform in [-1, 1] from seed: an operand's host copy. */
static float *drawn(size_t n, uint64_t seed) {
  float *v = tu_malloc(n * sizeof(float));
  tu_fill_uniform(v, n, seed, -1, 1);
  return v;
}

/* Plan p's GEMM workspace (one float where it needs none). */
static clgan_buf col_buffer(const clgan_conv_plan *p) {
  return tu_upload(NULL, p->col_floats ? p->col_floats : 1);
}

/* s's plan with the three Winograd forms: the plan step with the
 * tuning's winograd 1. */
static void wino_plan(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_conv_plan *p) {
  int was = ctx->tuning.winograd;
  ctx->tuning.winograd = 1;
  TU_OK(conv_plan_with(ctx, s, NULL, p));
  ctx->tuning.winograd = was;
  ck_assert_ptr_nonnull(p->wino.tile);
  ck_assert_ptr_nonnull(p->adj_wino.tile);
  ck_assert_ptr_nonnull(p->filt_wino.tile);
  ck_assert_ptr_null(p->adj_subpix.tile);
  TU_OK(clgan_conv_plan_prepare(ctx, p));
}

static void apply_act(float *y, size_t n, clgan_act act) {
  for (size_t i = 0; i < n; i++) {
    if (act == CLGAN_ACT_RELU && y[i] < 0.0f) y[i] = 0.0f;
    if (act == CLGAN_ACT_LEAKY_RELU && !(y[i] > 0.0f)) y[i] *= 0.2f;
  }
}

START_TEST(test_against_the_reference) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    float *x = drawn(cg.fx, 51), *w = drawn(cg.fw, 52);
    float *want = tu_malloc(cg.fy * sizeof(float)), *wact = tu_malloc(cg.fy * sizeof(float));
    ref_conv2d_forward(&cg.g, x, w, want);
    clgan_conv_plan p;
    wino_plan(ctx, &cg.s, &p);
    clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(w, cg.fw), by = tu_upload(NULL, cg.fy);
    clgan_buf col = col_buffer(&p);
    size_t nkept = clgan_conv_kept_floats(&p);
    clgan_buf kept = tu_upload(NULL, nkept ? nkept : 1);
    char what[160];
    const clgan_act acts[3] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 3; a++)
      for (int keep = 0; keep < 2; keep++) {
        if (keep && nkept == 0) continue;
        ck_assert(clgan_conv2d_forward_fuses_act(&p, acts[a]) || a == 0);
        TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
        if (keep)
          TU_OK(clgan_conv2d_forward_keep(ctx, &p, bx, bw, by, col, kept, acts[a], 0.2f));
        else if (a)
          TU_OK(clgan_conv2d_forward_act(ctx, &p, bx, bw, by, col, acts[a], 0.2f));
        else
          TU_OK(clgan_conv2d_forward(ctx, &p, bx, bw, by, col));
        memcpy(wact, want, cg.fy * sizeof(float));
        apply_act(wact, cg.fy, acts[a]);
        float *got = tu_download(by, cg.fy);
        snprintf(what, sizeof what, "%s, act %d, keep %d", c->name, (int)acts[a], keep);
        TU_ASSERT_CLOSE(what, got, wact, cg.fy, 1e-4, 1e-4);
        free(got);
      }
    ck_assert_int_eq(clgan_conv2d_forward_act(ctx, &p, bx, bw, by, col, CLGAN_ACT_TANH, 0.0f),
                     CLGAN_ERR_INVALID);
    clgan_buf *all[] = {&bx, &bw, &by, &col, &kept};
    for (int i = 0; i < 5; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(want), free(wact);
  }
}
END_TEST

/* The weight gradient: from x and from the padded copy the forward kept,
 * written and added to dw (twice: D's real and fake passes). */
START_TEST(test_filter_against_the_reference) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    float *x = drawn(cg.fx, 71), *w = drawn(cg.fw, 72);
    float *dy = drawn(cg.fy, 73), *want = tu_malloc(cg.fw * sizeof(float));
    float *want2 = tu_malloc(cg.fw * sizeof(float));
    ref_conv2d_backward_filter(&cg.g, x, dy, want);
    for (size_t i = 0; i < cg.fw; i++) want2[i] = w[i] + want[i];
    clgan_conv_plan p;
    wino_plan(ctx, &cg.s, &p);
    clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(w, cg.fw), bdy = tu_upload(dy, cg.fy);
    clgan_buf by = tu_upload(NULL, cg.fy), bdw = tu_upload(NULL, cg.fw);
    clgan_buf col = col_buffer(&p);
    size_t nkept = clgan_conv_kept_floats(&p);
    ck_assert_uint_gt(nkept, 0);
    clgan_buf kept = tu_upload(NULL, nkept);
    TU_OK(clgan_conv2d_forward_keep(ctx, &p, bx, bw, by, col, kept, CLGAN_ACT_NONE, 0.0f));
    char what[160];
    /* each weight sums n * ho * wo products: its rounding grows with the
     * square root of their count (1e-4 up to 1024 of them) */
    const double terms = (double)c->n * cg.s.ho * cg.s.wo,
                 tol = 1e-4 * fmax(1.0, sqrt(terms / 1024));
    for (int from_kept = 0; from_kept < 2; from_kept++)
      for (int acc = 0; acc < 2; acc++) {
        if (acc)
          TU_OK(clgan_copy(ctx, bw, bdw, cg.fw));
        else
          TU_OK(clgan_fill(ctx, bdw, cg.fw, NAN));
        if (from_kept)
          TU_OK(clgan_conv2d_backward_filter_kept(ctx, &p, kept, bdy, bdw, col, acc));
        else
          TU_OK(clgan_conv2d_backward_filter(ctx, &p, bx, bdy, bdw, col, acc));
        float *got = tu_download(bdw, cg.fw);
        snprintf(what, sizeof what, "%s, weight gradient, kept %d, accumulate %d", c->name,
                 from_kept, acc);
        TU_ASSERT_CLOSE(what, got, acc ? want2 : want, cg.fw, tol, tol);
        free(got);
      }
    clgan_buf *all[] = {&bx, &bw, &bdy, &by, &bdw, &col, &kept};
    for (int i = 0; i < 7; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy), free(want), free(want2);
  }
}
END_TEST

/* dy padded by 1 on the host, [c, n, h + 2, w + 2]. */
static float *pad_host(const float *x, int c, int n, int h, int w) {
  size_t hp = (size_t)h + 2, wp = (size_t)w + 2;
  float *out = tu_malloc((size_t)c * n * hp * wp * sizeof(float));
  memset(out, 0, (size_t)c * n * hp * wp * sizeof(float));
  for (size_t p = 0; p < (size_t)c * n; p++)
    for (int y = 0; y < h; y++)
      memcpy(out + (p * hp + y + 1) * wp + 1, x + (p * h + y) * w, (size_t)w * sizeof(float));
  return out;
}

/* The adjoint: Conv2d's backward data against the reference, with ReLU's
 * and LeakyReLU's derivative (y: the activation's output before the conv),
 * from dy and from dy given padded, into dx full of NaN. */
START_TEST(test_adjoint_against_the_reference) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    size_t fyp = (size_t)c->cout * c->n * (cg.s.ho + 2) * (cg.s.wo + 2);
    float *dy = drawn(cg.fy, 71), *w = drawn(cg.fw, 72);
    float *y = drawn(cg.fx, 73), *want = tu_malloc(cg.fx * sizeof(float));
    float *wact = tu_malloc(cg.fx * sizeof(float));
    float *dyp = pad_host(dy, c->cout, c->n, cg.s.ho, cg.s.wo);
    ref_conv2d_backward_data(&cg.g, dy, w, want);
    clgan_conv_plan p;
    wino_plan(ctx, &cg.s, &p);
    clgan_buf bdy = tu_upload(dy, cg.fy), bdyp = tu_upload(dyp, fyp), bw = tu_upload(w, cg.fw);
    clgan_buf by = tu_upload(y, cg.fx), bdx = tu_upload(NULL, cg.fx);
    clgan_buf col = col_buffer(&p);
    char what[160];
    const clgan_act acts[3] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 3; a++)
      for (int padded = 0; padded < 2; padded++) {
        TU_OK(clgan_fill(ctx, bdx, cg.fx, NAN));
        if (padded)
          TU_OK(clgan_conv2d_backward_data_padded(ctx, &p, bdyp, bw, bdx, col, by, acts[a], 0.2f));
        else if (a)
          TU_OK(clgan_conv2d_backward_data_act(ctx, &p, bdy, bw, bdx, col, by, acts[a], 0.2f));
        else
          TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
        for (size_t i = 0; i < cg.fx; i++)
          wact[i] = acts[a] == CLGAN_ACT_NONE || y[i] > 0.0f ? want[i]
                    : acts[a] == CLGAN_ACT_RELU              ? 0.0f
                                                             : want[i] * 0.2f;
        float *got = tu_download(bdx, cg.fx);
        snprintf(what, sizeof what, "adjoint %s, act %d, padded %d", c->name, (int)acts[a], padded);
        TU_ASSERT_CLOSE(what, got, wact, cg.fx, 1e-4, 1e-4);
        free(got);
      }
    clgan_buf *all[] = {&bdy, &bdyp, &bw, &by, &bdx, &col};
    for (int i = 0; i < 6; i++) clgan_buf_release(all[i]);
    free(dy), free(dyp), free(w), free(y), free(want), free(wact);
  }
}
END_TEST

/* ConvTranspose2d(cout, cin, 4, 2, 1)'s forward is this conv's adjoint. */
START_TEST(test_convt_forward) {
  clgan_ctx *ctx = tu_ctx();
  const int n = 2, cin_t = 36, h = 8, cout_t = 20; /* convT 36 -> 20, 8x8 -> 16x16 */
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_convt(n, cin_t, h, h, cout_t, 4, 2, 1, &s));
  ref_conv g = ref_convt_make(n, cin_t, h, h, cout_t, 4, 2, 1);
  size_t fx = (size_t)cin_t * n * h * h, fw = (size_t)cin_t * cout_t * 16;
  size_t fy = (size_t)cout_t * n * g.ho * g.wo;
  float *x = drawn(fx, 81), *w = drawn(fw, 82);
  float *want = tu_malloc(fy * sizeof(float));
  ref_convt2d_forward(&g, x, w, want);
  clgan_conv_plan p;
  wino_plan(ctx, &s, &p);
  clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), by = tu_upload(NULL, fy);
  clgan_buf col = col_buffer(&p);
  TU_OK(clgan_fill(ctx, by, fy, NAN));
  TU_OK(clgan_convt2d_forward(ctx, &p, bx, bw, by, col));
  float *got = tu_download(by, fy);
  TU_ASSERT_CLOSE("convT forward", got, want, fy, 1e-4, 1e-4);
  free(got);
  clgan_buf *all[] = {&bx, &bw, &by, &col};
  for (int i = 0; i < 4; i++) clgan_buf_release(all[i]);
  free(x), free(w), free(want);
}
END_TEST

/* ConvTranspose2d(cout, cin, 4, 2, 1)'s backward data is this conv's
 * forward: alone and with its weight gradient in one call. */
START_TEST(test_convt_backward_data) {
  clgan_ctx *ctx = tu_ctx();
  const int n = 3, cin_t = 40, h = 8, cout_t = 16; /* convT 40 -> 16, 8x8 -> 16x16 */
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_convt(n, cin_t, h, h, cout_t, 4, 2, 1, &s));
  ck_assert(conv_wino_applies(&s));
  ref_conv g = ref_convt_make(n, cin_t, h, h, cout_t, 4, 2, 1);
  size_t fx = (size_t)cin_t * n * h * h, fw = (size_t)cin_t * cout_t * 16;
  size_t fy = (size_t)cout_t * n * g.ho * g.wo;
  float *x = drawn(fx, 61), *w = drawn(fw, 62);
  float *dy = drawn(fy, 63), *want = tu_malloc(fx * sizeof(float));
  float *wantw = tu_malloc(fw * sizeof(float));
  ref_convt2d_backward_data(&g, dy, w, want);
  ref_convt2d_backward_filter(&g, x, dy, wantw);
  clgan_conv_plan p;
  wino_plan(ctx, &s, &p);
  clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), bdy = tu_upload(dy, fy);
  clgan_buf bdx = tu_upload(NULL, fx), bdw = tu_upload(NULL, fw);
  clgan_buf col = col_buffer(&p);
  TU_OK(clgan_fill(ctx, bdx, fx, NAN));
  TU_OK(clgan_convt2d_backward_data(ctx, &p, bdy, bw, bdx, col));
  float *got = tu_download(bdx, fx);
  TU_ASSERT_CLOSE("convT backward data", got, want, fx, 1e-4, 1e-4);
  free(got);
  TU_OK(clgan_fill(ctx, bdx, fx, NAN));
  TU_OK(clgan_convt2d_backward(ctx, &p, bx, bdy, bw, bdw, bdx, col, 0));
  got = tu_download(bdx, fx);
  TU_ASSERT_CLOSE("convT backward, its data", got, want, fx, 1e-4, 1e-4);
  free(got);
  got = tu_download(bdw, fw);
  TU_ASSERT_CLOSE("convT backward, its weight gradient", got, wantw, fw, 1e-4, 1e-4);
  free(got);
  clgan_buf *all[] = {&bx, &bw, &bdy, &bdx, &bdw, &col};
  for (int i = 0; i < 6; i++) clgan_buf_release(all[i]);
  free(x), free(w), free(dy), free(want), free(wantw);
}
END_TEST

/* Bits of buffer b (n floats) equal to want's. */
static void assert_same_bits(const char *what, clgan_buf b, const float *want, size_t n) {
  float *got = tu_download(b, n);
  ck_assert_msg(memcmp(got, want, n * sizeof(float)) == 0, "%s: not the same bits", what);
  free(got);
}

/* The transformed image shared by the forward and the weight gradient: the
 * kept copy holds it (4 cin x 25 x tiles floats, rows padded) after the padded image, or
 * alone where the plan reads the image unpadded (and then takes no padded
 * copy: _padded_keep refused); clgan_conv2d_forward_keep and _padded_keep
 * (x padded into the copy's start, as a BatchNorm's padded copy puts it), then
 * clgan_conv2d_backward_filter_kept with the workspace and col overwritten
 * in between, give the bits of the forward and the weight gradient each
 * transforming x itself; so does a ConvTranspose2d's backward (both
 * products from one transform of dy) against its two products alone. */
START_TEST(test_shared_transform) {
  clgan_ctx *ctx = tu_ctx();
  int padded_layouts = 0;
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    clgan_conv_plan p;
    wino_plan(ctx, &cg.s, &p);
    size_t padded = (size_t)c->cin * c->n * (c->h + 2) * (c->w + 2);
    size_t tiles = (size_t)c->n * (c->h / 8) * (c->w / 8);
    const int unpadded = !clgan_conv_reads_padded(&p, CLGAN_CONV_IMAGE_SIDE, NULL);
    /* the transformed image'cg.s rows padded where they fill whole pages
     * (src/ops/conv_winograd.c) */
    ck_assert_uint_ge(p.filt_wino.v_floats, 4 * (size_t)c->cin * 25 * tiles);
    padded_layouts += p.filt_wino.v_floats > 4 * (size_t)c->cin * 25 * tiles;
    ck_assert_uint_eq(clgan_conv_kept_floats(&p),
                      (unpadded ? 0 : (padded + 15) / 16 * 16) + p.filt_wino.v_floats);
    float *x = drawn(cg.fx, 81), *w = drawn(cg.fw, 82);
    float *dy = drawn(cg.fy, 83);
    float *xp = pad_host(x, c->cin, c->n, c->h, c->w);
    clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(w, cg.fw), bdy = tu_upload(dy, cg.fy);
    clgan_buf by = tu_upload(NULL, cg.fy), bdw = tu_upload(NULL, cg.fw);
    clgan_buf col = col_buffer(&p), kept = tu_upload(NULL, clgan_conv_kept_floats(&p));
    TU_OK(clgan_conv2d_forward_act(ctx, &p, bx, bw, by, col, CLGAN_ACT_LEAKY_RELU, 0.2f));
    float *y0 = tu_download(by, cg.fy);
    TU_OK(clgan_conv2d_backward_filter(ctx, &p, bx, bdy, bdw, col, 0));
    float *dw0 = tu_download(bdw, cg.fw);
    char what[160];
    if (unpadded)
      ck_assert_int_eq(
          clgan_conv2d_forward_padded_keep(ctx, &p, kept, bw, by, col, CLGAN_ACT_LEAKY_RELU, 0.2f),
          CLGAN_ERR_INVALID);
    for (int from_padded = 0; from_padded < 2 - unpadded; from_padded++) {
      TU_OK(clgan_fill(ctx, kept, clgan_conv_kept_floats(&p), NAN));
      TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
      if (from_padded) {
        TU_OK(clgan_buf_write(ctx, kept, xp, padded));
        TU_OK(clgan_conv2d_forward_padded_keep(ctx, &p, kept, bw, by, col, CLGAN_ACT_LEAKY_RELU,
                                               0.2f));
      } else {
        TU_OK(
            clgan_conv2d_forward_keep(ctx, &p, bx, bw, by, col, kept, CLGAN_ACT_LEAKY_RELU, 0.2f));
      }
      snprintf(what, sizeof what, "%s, forward, from a padded copy %d", c->name, from_padded);
      assert_same_bits(what, by, y0, cg.fy);
      /* what the other layers of a step do to the workspace and col */
      TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bx, col));
      TU_OK(clgan_fill(ctx, col, p.col_floats, 12345.0f));
      TU_OK(clgan_buf_write(ctx, bx, x, cg.fx));
      TU_OK(clgan_fill(ctx, bdw, cg.fw, NAN));
      TU_OK(clgan_conv2d_backward_filter_kept(ctx, &p, kept, bdy, bdw, col, 0));
      snprintf(what, sizeof what, "%s, weight gradient, from a padded copy %d", c->name,
               from_padded);
      assert_same_bits(what, bdw, dw0, cg.fw);
    }
    clgan_buf *all[] = {&bx, &bw, &bdy, &by, &bdw, &col, &kept};
    for (int i = 0; i < 7; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy), free(xp), free(y0), free(dw0);
  }
  ck_assert_int_gt(padded_layouts, 0); /* the cases hold the padded layout */
  /* ConvTranspose2d 40 -> 16, 8x8 -> 16x16, batch 3; 8 -> 4, 16x16 -> 32x32,
   * batch 64 (its conv's 1024 tiles: the padded layout in the workspace) */
  static const int convt_shapes[2][4] = {{3, 40, 8, 16}, {64, 8, 16, 4}};
  for (int si = 0; si < 2; si++) {
    const int n = convt_shapes[si][0], cin_t = convt_shapes[si][1], h = convt_shapes[si][2],
              cout_t = convt_shapes[si][3];
    clgan_conv_shape s;
    TU_OK(clgan_conv_shape_convt(n, cin_t, h, h, cout_t, 4, 2, 1, &s));
    clgan_conv_plan p;
    wino_plan(ctx, &s, &p);
    size_t fx = (size_t)cin_t * n * h * h, fw = (size_t)cin_t * cout_t * 16;
    size_t fy = (size_t)cout_t * n * 4 * h * h;
    float *x = drawn(fx, 91), *w = drawn(fw, 92);
    float *dy = drawn(fy, 93);
    clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), bdy = tu_upload(dy, fy);
    clgan_buf bdx = tu_upload(NULL, fx), bdw = tu_upload(NULL, fw);
    clgan_buf col = col_buffer(&p);
    TU_OK(clgan_convt2d_backward_data(ctx, &p, bdy, bw, bdx, col));
    float *dx0 = tu_download(bdx, fx);
    TU_OK(clgan_convt2d_backward_filter(ctx, &p, bx, bdy, bdw, col, 0));
    float *dw0 = tu_download(bdw, fw);
    TU_OK(clgan_fill(ctx, bdx, fx, NAN));
    TU_OK(clgan_fill(ctx, bdw, fw, NAN));
    TU_OK(clgan_convt2d_backward(ctx, &p, bx, bdy, bw, bdw, bdx, col, 0));
    assert_same_bits("convT backward, its data", bdx, dx0, fx);
    assert_same_bits("convT backward, its weight gradient", bdw, dw0, fw);
    clgan_buf *all[] = {&bx, &bw, &bdy, &bdx, &bdw, &col};
    for (int i = 0; i < 6; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy), free(dx0), free(dw0);
  }
}
END_TEST

/* The input transforms' implicit zero padding (cl/winograd.cl): the image
 * given as it is gives the bits of the image given padded, in the forward
 * and the weight gradient, on every case: the gathered panels and the
 * tiles of other panels one at a time (which plans do not choose). A plan
 * reads the image unpadded, and asks for no padded copy, exactly where
 * conv_wino_reads_unpadded says both its transforms can (some cases do). */
START_TEST(test_implicit_padding) {
  clgan_ctx *ctx = tu_ctx();
  int chosen = 0, gather = 0;
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    clgan_conv_plan p;
    wino_plan(ctx, &cg.s, &p);
    float *x = drawn(cg.fx, 61), *w = drawn(cg.fw, 62);
    float *dy = drawn(cg.fy, 63);
    float *xp = pad_host(x, c->cin, c->n, c->h, c->w);
    size_t fxp = (size_t)c->cin * c->n * (c->h + 2) * (c->w + 2);
    clgan_buf bx = tu_upload(x, cg.fx), bxp = tu_upload(xp, fxp), bw = tu_upload(w, cg.fw);
    clgan_buf bdy = tu_upload(dy, cg.fy), by = tu_upload(NULL, cg.fy), bdw = tu_upload(NULL, cg.fw);
    clgan_gemm_conv_x padded = {bxp, c->cin, c->n, c->h + 2, c->w + 2, 4, 2, cg.s.ho, cg.s.wo};
    clgan_gemm_conv_x plain = {bx, c->cin, c->n, c->h, c->w, 4, 2, cg.s.ho, cg.s.wo};
    char what[160];
    TU_OK(conv_wino_forward_run(ctx, &p.wino, &cg.s, &padded, bw, by, CLGAN_ACT_LEAKY_RELU, 0.2f));
    float *y0 = tu_download(by, cg.fy);
    TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
    TU_OK(conv_wino_forward_run(ctx, &p.wino, &cg.s, &plain, bw, by, CLGAN_ACT_LEAKY_RELU, 0.2f));
    snprintf(what, sizeof what, "%s, forward unpadded", c->name);
    assert_same_bits(what, by, y0, cg.fy);
    TU_OK(conv_wino_filt_run(ctx, &p.filt_wino, &cg.s, &padded, bdy, bdw, 0));
    float *dw0 = tu_download(bdw, cg.fw);
    TU_OK(clgan_fill(ctx, bdw, cg.fw, NAN));
    TU_OK(conv_wino_filt_run(ctx, &p.filt_wino, &cg.s, &plain, bdy, bdw, 0));
    snprintf(what, sizeof what, "%s, weight gradient unpadded", c->name);
    assert_same_bits(what, bdw, dw0, cg.fw);
    const int both =
        conv_wino_reads_unpadded(&p.wino, &cg.s) && conv_wino_reads_unpadded(&p.filt_wino, &cg.s);
    ck_assert_msg(clgan_conv_reads_padded(&p, CLGAN_CONV_IMAGE_SIDE, NULL) == !both,
                  "%s: the plan reads the image padded %d, its transforms unpadded %d", c->name,
                  clgan_conv_reads_padded(&p, CLGAN_CONV_IMAGE_SIDE, NULL), both);
    chosen += both;
    gather |= p.wino.tm == 4 || p.wino.tm == 8;
    clgan_buf *all[] = {&bx, &bxp, &bw, &bdy, &by, &bdw};
    for (int i = 0; i < 6; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy), free(xp), free(y0), free(dw0);
  }
  /* the gathered panels exist for register tiles of 4 and 8 rows */
  if (gather) ck_assert_int_ge(chosen, 3);
}
END_TEST

/* Kept transformed weights (clgan_conv_keep_weights): a plan keeping them
 * gives, call after call, the bits of the same plan without them, the
 * forward and the adjoint interleaved (each its own kept transform), the
 * plan without them running in between (so the workspace holds other
 * transforms): the weights as drawn, the same again (nothing transformed),
 * one float changed (the first, one in the middle, the last: the first and
 * the last work-item's rows), the same again, the weights as drawn back.
 * The buffer's start holds the weights last transformed. A buffer one
 * float short is refused and sets nothing; a plan running neither product
 * by Winograd keeps nothing. */
START_TEST(test_kept_weights) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    clgan_conv_plan p, q;
    wino_plan(ctx, &cg.s, &p);
    q = p;
    size_t nk = clgan_conv_weights_kept_floats(&p), seen = (cg.fw + 15) / 16 * 16;
    ck_assert_uint_eq(nk, 2 * seen + p.wino.u_floats + p.adj_wino.u_floats);
    clgan_buf kept = tu_upload(NULL, nk), small = tu_upload(NULL, nk - 1);
    ck_assert_int_eq(clgan_conv_keep_weights(ctx, &q, small), CLGAN_ERR_INVALID);
    ck_assert_ptr_null(q.wino.weights_kept.mem);
    ck_assert_ptr_null(q.adj_wino.weights_kept.mem);
    TU_OK(clgan_fill(ctx, kept, nk, NAN)); /* clgan_conv_keep_weights zeroes it */
    TU_OK(clgan_conv_keep_weights(ctx, &q, kept));
    float *x = drawn(cg.fx, 101), *w = drawn(cg.fw, 102);
    float *wk = tu_malloc(cg.fw * sizeof(float)), *dy = drawn(cg.fy, 103);
    clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(NULL, cg.fw), bdy = tu_upload(dy, cg.fy);
    clgan_buf by = tu_upload(NULL, cg.fy), bdx = tu_upload(NULL, cg.fx);
    clgan_buf col = col_buffer(&p);
    const size_t as_drawn = (size_t)-1;
    const size_t changed[] = {as_drawn,      as_drawn,  0,         0,
                              cg.fw / 2 + 5, cg.fw - 1, cg.fw - 1, as_drawn};
    char what[200];
    for (int k = 0; k < (int)(sizeof changed / sizeof changed[0]); k++) {
      memcpy(wk, w, cg.fw * sizeof(float));
      if (changed[k] != as_drawn) wk[changed[k]] += 0.5f;
      TU_OK(clgan_buf_write(ctx, bw, wk, cg.fw));
      TU_OK(clgan_conv2d_forward(ctx, &p, bx, bw, by, col));
      float *y0 = tu_download(by, cg.fy);
      TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
      float *dx0 = tu_download(bdx, cg.fx);
      TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
      TU_OK(clgan_conv2d_forward(ctx, &q, bx, bw, by, col));
      snprintf(what, sizeof what, "%s, kept forward, call %d", c->name, k);
      assert_same_bits(what, by, y0, cg.fy);
      assert_same_bits(what, kept, wk, cg.fw);
      TU_OK(clgan_fill(ctx, bdx, cg.fx, NAN));
      TU_OK(clgan_conv2d_backward_data(ctx, &q, bdy, bw, bdx, col));
      snprintf(what, sizeof what, "%s, kept adjoint, call %d", c->name, k);
      assert_same_bits(what, bdx, dx0, cg.fx);
      assert_same_bits(what, clgan_buf_at(kept, seen + p.wino.u_floats), wk, cg.fw);
      free(y0), free(dx0);
    }
    clgan_buf *all[] = {&kept, &small, &bx, &bw, &bdy, &by, &bdx, &col};
    for (int i = 0; i < 8; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(wk), free(dy);
  }
  int was = ctx->tuning.winograd;
  ctx->tuning.winograd = -1;
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(2, 32, 16, 16, 64, 4, 2, 1, &s));
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ctx->tuning.winograd = was;
  ck_assert_uint_eq(clgan_conv_weights_kept_floats(&p), 0);
  TU_OK(clgan_conv_keep_weights(ctx, &p, (clgan_buf){0}));
}
END_TEST

/* The weight transforms' non-temporal stores (weight_stream, which plans
 * set only where the transformed weights outgrow half the cache: none of
 * these cases) give the bits of the plain stores, in the forward and the
 * adjoint, on every case; a plan keeping its weights too. */
START_TEST(test_streamed_weights) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const case_geometry cg = geometry_of(&cases[ci]);
    const wino_case *c = cg.c;
    clgan_conv_plan p, q;
    wino_plan(ctx, &cg.s, &p);
    ck_assert_int_eq(p.wino.weight_stream, 0);
    ck_assert_int_eq(p.adj_wino.weight_stream, 0);
    q = p;
    q.wino.weight_stream = q.adj_wino.weight_stream = 1;
    float *x = drawn(cg.fx, 81), *w = drawn(cg.fw, 82);
    float *dy = drawn(cg.fy, 83);
    clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(w, cg.fw), bdy = tu_upload(dy, cg.fy);
    clgan_buf by = tu_upload(NULL, cg.fy), bdx = tu_upload(NULL, cg.fx);
    clgan_buf col = col_buffer(&p);
    clgan_buf kept = tu_upload(NULL, clgan_conv_weights_kept_floats(&p));
    char what[160];
    for (int keep = 0; keep < 2; keep++) {
      if (keep) {
        TU_OK(clgan_conv_keep_weights(ctx, &p, kept));
        q.wino.weights_kept = p.wino.weights_kept,
        q.adj_wino.weights_kept = p.adj_wino.weights_kept;
      }
      TU_OK(clgan_conv2d_forward(ctx, &p, bx, bw, by, col));
      float *y0 = tu_download(by, cg.fy);
      TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
      float *dx0 = tu_download(bdx, cg.fx);
      if (keep) TU_OK(clgan_fill(ctx, kept, clgan_conv_weights_kept_floats(&p), 0.0f));
      TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
      TU_OK(clgan_fill(ctx, bdx, cg.fx, NAN));
      TU_OK(clgan_conv2d_forward(ctx, &q, bx, bw, by, col));
      TU_OK(clgan_conv2d_backward_data(ctx, &q, bdy, bw, bdx, col));
      snprintf(what, sizeof what, "%s, forward, weights streamed, kept %d", c->name, keep);
      assert_same_bits(what, by, y0, cg.fy);
      snprintf(what, sizeof what, "%s, adjoint, weights streamed, kept %d", c->name, keep);
      assert_same_bits(what, bdx, dx0, cg.fx);
      free(y0), free(dx0);
    }
    clgan_buf *all[] = {&bx, &bw, &bdy, &by, &bdx, &col, &kept};
    for (int i = 0; i < 7; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy);
  }
}
END_TEST

/* Launches ctx has issued so far. */
static long launches(clgan_ctx *ctx) {
  clgan_ctx_activity a;
  clgan_ctx_activity_get(ctx, &a);
  return a.launches;
}

/* A copy of a keeping plan marked weights_current (the graph's, where its
 * parameters' version says the kept transform holds the weights passed)
 * runs one kernel fewer in the forward and in the adjoint and gives the
 * bits of the call that transformed them, though the weights passed are
 * NaN: the kept transform is used, the weights not read. Marked on a plan
 * keeping nothing, the flag changes nothing. */
START_TEST(test_weights_current) {
  clgan_ctx *ctx = tu_ctx();
  const case_geometry cg = geometry_of(&cases[0]);
  clgan_conv_plan p, cur;
  wino_plan(ctx, &cg.s, &p);
  size_t nk = clgan_conv_weights_kept_floats(&p);
  clgan_buf kept = tu_upload(NULL, nk);
  TU_OK(clgan_conv_keep_weights(ctx, &p, kept));
  cur = p;
  cur.wino.weights_current = cur.adj_wino.weights_current = 1;
  float *x = drawn(cg.fx, 111), *w = drawn(cg.fw, 112);
  float *dy = drawn(cg.fy, 113), *nan_w = tu_malloc(cg.fw * sizeof(float));
  for (size_t i = 0; i < cg.fw; i++) nan_w[i] = NAN;
  clgan_buf bx = tu_upload(x, cg.fx), bw = tu_upload(w, cg.fw), bnan = tu_upload(nan_w, cg.fw);
  clgan_buf bdy = tu_upload(dy, cg.fy), by = tu_upload(NULL, cg.fy), bdx = tu_upload(NULL, cg.fx);
  clgan_buf col = col_buffer(&p);
  long l0 = launches(ctx);
  TU_OK(clgan_conv2d_forward(ctx, &p, bx, bw, by, col));
  long forward_launches = launches(ctx) - l0;
  float *y0 = tu_download(by, cg.fy);
  l0 = launches(ctx);
  TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
  long adjoint_launches = launches(ctx) - l0;
  float *dx0 = tu_download(bdx, cg.fx);
  TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
  TU_OK(clgan_fill(ctx, bdx, cg.fx, NAN));
  l0 = launches(ctx);
  TU_OK(clgan_conv2d_forward(ctx, &cur, bx, bnan, by, col));
  ck_assert_int_eq(launches(ctx) - l0, forward_launches - 1);
  assert_same_bits("forward, weights current", by, y0, cg.fy);
  l0 = launches(ctx);
  TU_OK(clgan_conv2d_backward_data(ctx, &cur, bdy, bnan, bdx, col));
  ck_assert_int_eq(launches(ctx) - l0, adjoint_launches - 1);
  assert_same_bits("adjoint, weights current", bdx, dx0, cg.fx);
  /* no kept buffer: the flag is ignored, the weights transformed */
  clgan_conv_plan plain;
  wino_plan(ctx, &cg.s, &plain);
  plain.wino.weights_current = 1;
  TU_OK(clgan_fill(ctx, by, cg.fy, NAN));
  l0 = launches(ctx);
  TU_OK(clgan_conv2d_forward(ctx, &plain, bx, bw, by, col));
  ck_assert_int_eq(launches(ctx) - l0, forward_launches);
  assert_same_bits("forward, nothing kept", by, y0, cg.fy);
  clgan_buf *all[] = {&kept, &bx, &bw, &bnan, &bdy, &by, &bdx, &col};
  for (int i = 0; i < 8; i++) clgan_buf_release(all[i]);
  free(x), free(w), free(dy), free(nan_w), free(y0), free(dx0);
}
END_TEST

/* Which shapes take it, its name, a variant naming the forward's GEMM, and
 * no plan taking it without the tuning's winograd 1. */
START_TEST(test_which_shapes) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(2, 32, 16, 16, 8, 4, 2, 1, &s));
  clgan_conv_plan p;
  ck_assert(!conv_wino_default(ctx, &s));
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ck_assert_ptr_null(p.wino.tile);
  ctx->tuning.winograd = 1;
  ck_assert(conv_wino_default(ctx, &s));
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ck_assert_ptr_nonnull(p.wino.tile);
  char name[48], want[48];
  conv_tune_plan_name(&p, CONV_FWD, name, sizeof name);
  snprintf(want, sizeof want, "winograd 4x4 %dx%d", p.wino.tm, 16 * p.wino.nv);
  ck_assert_str_eq(name, want);
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_FWD].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.wino.tile);
  ctx->tuning.winograd = 0;
  /* the engine's choice: the forward, the adjoint and the weight gradient
   * of tutorial's D2 (2^32 multiply-adds) and gray32's D2 (2^27) on CPU
   * paths, not a batch of one of it (2^21); none with -1 */
  clgan_conv_shape big;
  TU_OK(clgan_conv_shape_conv(128, 64, 32, 32, 128, 4, 2, 1, &big));
  ck_assert_int_eq(conv_wino_default(ctx, &big), clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(conv_wino_filt_default(ctx, &big), clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(conv_wino_adj_default(ctx, &big), clgan_ctx_cpu_paths(ctx));
  TU_OK(conv_plan_with(ctx, &big, NULL, &p));
  ck_assert_int_eq(p.wino.tile != NULL, clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(p.filt_wino.tile != NULL, clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(p.adj_wino.tile != NULL, clgan_ctx_cpu_paths(ctx));
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_ptr_null(p.adj_subpix.tile); /* it replaces them */
  conv_tune_plan_name(&p, CONV_FILT, name, sizeof name);
  if (p.filt_wino.tile) ck_assert_str_eq(name, want);
  cv.prod[CONV_FWD].backend = CLGAN_GEMM_AUTO;
  cv.prod[CONV_FILT].backend = CLGAN_GEMM_OWN; /* a variant naming its GEMM */
  TU_OK(conv_plan_with(ctx, &big, &cv, &p));
  ck_assert_ptr_null(p.filt_wino.tile);
  TU_OK(clgan_conv_shape_conv(64, 32, 16, 16, 64, 4, 2, 1, &s));
  ck_assert_int_eq(conv_wino_default(ctx, &s), clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(conv_wino_filt_default(ctx, &s), clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(conv_wino_adj_default(ctx, &s), clgan_ctx_cpu_paths(ctx));
  TU_OK(clgan_conv_shape_conv(1, 32, 16, 16, 64, 4, 2, 1, &s));
  ck_assert(!conv_wino_default(ctx, &s));
  ck_assert(!conv_wino_filt_default(ctx, &s));
  ck_assert(!conv_wino_adj_default(ctx, &s));
  ctx->tuning.winograd = -1;
  ck_assert(!conv_wino_default(ctx, &big));
  ck_assert(!conv_wino_filt_default(ctx, &big));
  ck_assert(!conv_wino_adj_default(ctx, &big));
  TU_OK(conv_plan_with(ctx, &big, NULL, &p));
  ck_assert_ptr_null(p.wino.tile);
  ck_assert_ptr_null(p.filt_wino.tile);
  ck_assert_ptr_null(p.adj_wino.tile);
  ctx->tuning.winograd = 1;
  /* not: 2 channels, 14 (not a multiple of 4), an output of 6x6 (not whole
   * 4x4 tiles), stride 1, pad 0, a 3x3 kernel */
  const int geo[6][6] = {{2, 16, 16, 4, 2, 1},  {14, 16, 16, 4, 2, 1}, {16, 12, 12, 4, 2, 1},
                         {16, 16, 16, 4, 1, 1}, {16, 16, 16, 4, 2, 0}, {16, 16, 16, 3, 2, 1}};
  for (int i = 0; i < 6; i++) {
    TU_OK(clgan_conv_shape_conv(2, geo[i][0], geo[i][1], geo[i][2], 8, geo[i][3], geo[i][4],
                                geo[i][5], &s));
    ck_assert(!conv_wino_applies(&s));
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_ptr_null(p.wino.tile);
  }
  ctx->tuning.winograd = 0;
}
END_TEST

static Suite *wino_suite(void) {
  Suite *s = suite_create("winograd");
  TCase *tc = tcase_create("winograd");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_against_the_reference);
  tcase_add_test(tc, test_filter_against_the_reference);
  tcase_add_test(tc, test_convt_backward_data);
  tcase_add_test(tc, test_adjoint_against_the_reference);
  tcase_add_test(tc, test_convt_forward);
  tcase_add_test(tc, test_shared_transform);
  tcase_add_test(tc, test_implicit_padding);
  tcase_add_test(tc, test_kept_weights);
  tcase_add_test(tc, test_weights_current);
  tcase_add_test(tc, test_streamed_weights);
  tcase_add_test(tc, test_which_shapes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tu_run(wino_suite());
}
