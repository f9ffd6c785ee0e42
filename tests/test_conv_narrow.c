/* The narrow-image conv forward, weight gradient and adjoint (src/ops/conv_narrow.c,
 * cl/conv_narrow.cl): a k 4, stride 2, pad 1 conv from a gray image
 * (CLGAN_CONV_NARROW_MAX_CIN channels), the forward every output channel of
 * a 16-wide row segment from its tap vectors, the weight gradient from
 * patch vectors over slices of the row segments. Against the C reference
 * (tests/ref_conv.c) on the DCGAN's first D layers and odd sizes (1 to 37
 * output channels, a partial group of 8 among them, outputs 16 and 48
 * wide, one and several row segments, batches 1 to 65, one to 64 slices,
 * uneven ones too); the forward also with ReLU or LeakyReLU applied as it
 * stores, with and without the padded copy kept; the weight gradient from
 * the image and from the kept copy, overwriting and accumulating; the
 * adjoint (Conv2d's backward data, also times ReLU's or LeakyReLU's
 * derivative; ConvTranspose2d's forward); the forward and weight gradient as
 * ConvTranspose2d's backward (its backward data alone and with its weight
 * gradient); the engine's choice (the kernels on CPU paths, the GEMMs
 * elsewhere, on other shapes and where the variant names a product's
 * GEMM) and their names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_narrow.h"
#include "ops/conv_tune.h"
#include "ref_conv.h"
#include "runtime/internal.h"
#include "test_util.h"

typedef struct narrow_case {
  const char *name;
  int n, cin, h, w, cout;
} narrow_case;

/* Conv2d(cin, cout, 4, 2, 1) over h x w. */
static const narrow_case cases[] = {
    {"gray D1: 1 -> 32, 32x32, batch 3", 3, 1, 32, 32, 32},
    {"1 -> 16, 64x64, batch 1", 1, 1, 64, 64, 16},
    {"1 -> 37, 8x96 (three row segments), batch 5", 5, 1, 8, 96, 37},
    {"1 -> 1, 2x32 (one output row), batch 2", 2, 1, 2, 32, 1},
    /* 1040 row segments: the weight gradient's 64 slices, of 16 or 17 */
    {"1 -> 12, 32x32, batch 65", 65, 1, 32, 32, 12},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Case c's conv shape, Conv2d(cin, cout, 4, 2, 1) over h x w, its C
 * reference and the floats of its image, weights and output. */
static void case_geometry(const narrow_case *c, clgan_conv_shape *s, ref_conv *g, size_t *fx,
                          size_t *fw, size_t *fy) {
  TU_OK(clgan_conv_shape_conv(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1, s));
  *g = ref_conv_make(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1);
  *fx = (size_t)c->cin * c->n * c->h * c->w, *fw = (size_t)c->cout * c->cin * 16;
  *fy = (size_t)c->cout * c->n * s->ho * s->wo;
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
    const narrow_case *c = &cases[ci];
    clgan_conv_shape s;
    ref_conv g;
    size_t fx, fw, fy;
    case_geometry(c, &s, &g, &fx, &fw, &fy);
    ck_assert(conv_narrow_applies(&s));
    float *x = tu_malloc(fx * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *want = tu_malloc(fy * sizeof(float)), *wact = tu_malloc(fy * sizeof(float));
    tu_fill_uniform(x, fx, 31, -1, 1);
    tu_fill_uniform(w, fw, 32, -1, 1);
    ref_conv2d_forward(&g, x, w, want);
    clgan_conv_plan p;
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_int_eq(p.narrow.forward != NULL, clgan_ctx_cpu_paths(ctx));
    TU_OK(clgan_conv_plan_prepare(ctx, &p));
    clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), by = tu_upload(NULL, fy);
    clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
    size_t nkept = clgan_conv_kept_floats(&p);
    clgan_buf kept = tu_upload(NULL, nkept ? nkept : 1);
    char what[160];
    const clgan_act acts[3] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 3; a++)
      for (int keep = 0; keep < 2; keep++) {
        if (keep && nkept == 0) continue;
        if (a && !clgan_conv2d_forward_fuses_act(&p, acts[a])) { /* GPU paths' GEMM, maybe */
          ck_assert(!p.narrow.forward);
          ck_assert_int_eq(clgan_conv2d_forward_act(ctx, &p, bx, bw, by, col, acts[a], 0.2f),
                           CLGAN_ERR_INVALID);
          continue;
        }
        TU_OK(clgan_fill(ctx, by, fy, NAN));
        if (keep) TU_OK(clgan_conv2d_forward_keep(ctx, &p, bx, bw, by, col, kept, acts[a], 0.2f));
        else if (a) TU_OK(clgan_conv2d_forward_act(ctx, &p, bx, bw, by, col, acts[a], 0.2f));
        else TU_OK(clgan_conv2d_forward(ctx, &p, bx, bw, by, col));
        memcpy(wact, want, fy * sizeof(float));
        apply_act(wact, fy, acts[a]);
        float *got = tu_download(by, fy);
        snprintf(what, sizeof what, "%s, act %d, keep %d", c->name, (int)acts[a], keep);
        TU_ASSERT_CLOSE(what, got, wact, fy, 1e-4, 1e-4);
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

/* The weight gradient against the reference: from the image (padded by
 * the plan) and from the copy the forward kept, overwritten and
 * accumulated (dw holding a previous gradient). */
START_TEST(test_weight_gradient) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const narrow_case *c = &cases[ci];
    clgan_conv_shape s;
    ref_conv g;
    size_t fx, fw, fy;
    case_geometry(c, &s, &g, &fx, &fw, &fy);
    float *x = tu_malloc(fx * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *dy = tu_malloc(fy * sizeof(float)), *want = tu_malloc(fw * sizeof(float));
    float *prev = tu_malloc(fw * sizeof(float)), *wsum = tu_malloc(fw * sizeof(float));
    tu_fill_uniform(x, fx, 51, -1, 1);
    tu_fill_uniform(w, fw, 52, -1, 1);
    tu_fill_uniform(dy, fy, 53, -1, 1);
    tu_fill_uniform(prev, fw, 54, -1, 1);
    ref_conv2d_backward_filter(&g, x, dy, want);
    for (size_t i = 0; i < fw; i++) wsum[i] = prev[i] + want[i];
    clgan_conv_plan p;
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_int_eq(p.narrow.filter != NULL, clgan_ctx_cpu_paths(ctx));
    TU_OK(clgan_conv_plan_prepare(ctx, &p));
    clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), bdy = tu_upload(dy, fy);
    clgan_buf by = tu_upload(NULL, fy), bdw = tu_upload(NULL, fw);
    clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
    size_t nkept = clgan_conv_kept_floats(&p); /* 0 on GPU paths' GEMMs, maybe */
    ck_assert(nkept > 0 || !p.narrow.filter);
    clgan_buf kept = tu_upload(NULL, nkept ? nkept : 1);
    if (nkept)
      TU_OK(clgan_conv2d_forward_keep(ctx, &p, bx, bw, by, col, kept, CLGAN_ACT_NONE, 0.0f));
    char what[160];
    for (int from_kept = 0; from_kept < (nkept ? 2 : 1); from_kept++)
      for (int accumulate = 0; accumulate < 2; accumulate++) {
        if (accumulate) TU_OK(clgan_buf_write(ctx, bdw, prev, fw));
        else TU_OK(clgan_fill(ctx, bdw, fw, NAN));
        if (from_kept)
          TU_OK(clgan_conv2d_backward_filter_kept(ctx, &p, kept, bdy, bdw, col, accumulate));
        else TU_OK(clgan_conv2d_backward_filter(ctx, &p, bx, bdy, bdw, col, accumulate));
        float *got = tu_download(bdw, fw);
        snprintf(what, sizeof what, "%s: dw, from the kept copy %d, accumulated %d", c->name,
                 from_kept, accumulate);
        TU_ASSERT_CLOSE(what, got, accumulate ? wsum : want, fw, 1e-3, 1e-4);
        free(got);
      }
    clgan_buf *all[] = {&bx, &bw, &bdy, &by, &bdw, &col, &kept};
    for (int i = 0; i < 7; i++) clgan_buf_release(all[i]);
    free(x), free(w), free(dy), free(want), free(prev), free(wsum);
  }
}
END_TEST

/* The adjoint (Conv2d's backward data) against the reference, alone and
 * times ReLU's or LeakyReLU's derivative at y (an activation's output of
 * the image's shape), into dx full of NaN; ConvTranspose2d(cout, 1)'s
 * forward (G's last layer, gray) likewise. */
START_TEST(test_adjoint) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const narrow_case *c = &cases[ci];
    clgan_conv_shape s;
    ref_conv g;
    size_t fx, fw, fy;
    case_geometry(c, &s, &g, &fx, &fw, &fy);
    float *y = tu_malloc(fx * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *dy = tu_malloc(fy * sizeof(float)), *want = tu_malloc(fx * sizeof(float));
    float *wact = tu_malloc(fx * sizeof(float));
    tu_fill_uniform(y, fx, 61, -1, 1);
    tu_fill_uniform(w, fw, 62, -1, 1);
    tu_fill_uniform(dy, fy, 63, -1, 1);
    ref_conv2d_backward_data(&g, dy, w, want);
    clgan_conv_plan p;
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_int_eq(p.narrow.adjoint != NULL, clgan_ctx_cpu_paths(ctx));
    TU_OK(clgan_conv_plan_prepare(ctx, &p));
    clgan_buf by = tu_upload(y, fx), bw = tu_upload(w, fw), bdy = tu_upload(dy, fy);
    clgan_buf bdx = tu_upload(NULL, fx), col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
    const clgan_act acts[3] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    char what[160];
    for (int a = 0; a < 3; a++) {
      TU_OK(clgan_fill(ctx, bdx, fx, NAN));
      if (a) TU_OK(clgan_conv2d_backward_data_act(ctx, &p, bdy, bw, bdx, col, by, acts[a], 0.2f));
      else TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
      for (size_t i = 0; i < fx; i++)
        wact[i] = a == 0 || y[i] > 0.0f ? want[i] : a == 1 ? 0.0f : 0.2f * want[i];
      float *got = tu_download(bdx, fx);
      snprintf(what, sizeof what, "%s, backward data, act %d", c->name, (int)acts[a]);
      TU_ASSERT_CLOSE(what, got, wact, fx, 1e-4, 1e-4);
      free(got);
    }
    clgan_buf *all[] = {&by, &bw, &bdy, &bdx, &col};
    for (int i = 0; i < 5; i++) clgan_buf_release(all[i]);
    free(y), free(w), free(dy), free(want), free(wact);
  }
  /* ConvTranspose2d(24, 1, 4, 2, 1) over 16x16, batch 2 */
  const int n = 2, cin_t = 24, h = 16;
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_convt(n, cin_t, h, h, 1, 4, 2, 1, &s));
  ref_conv g = ref_convt_make(n, cin_t, h, h, 1, 4, 2, 1);
  size_t fx = (size_t)cin_t * n * h * h, fw = (size_t)cin_t * 16, fy = (size_t)n * g.ho * g.wo;
  float *x = tu_malloc(fx * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
  float *want = tu_malloc(fy * sizeof(float));
  tu_fill_uniform(x, fx, 64, -1, 1);
  tu_fill_uniform(w, fw, 65, -1, 1);
  ref_convt2d_forward(&g, x, w, want);
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ck_assert_int_eq(p.narrow.adjoint != NULL, clgan_ctx_cpu_paths(ctx));
  TU_OK(clgan_conv_plan_prepare(ctx, &p));
  clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), by = tu_upload(NULL, fy);
  clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
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
  const int n = 2, cin_t = 24, h = 16, cout_t = 1; /* G's last layer, gray, 16 -> 32 */
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_convt(n, cin_t, h, h, cout_t, 4, 2, 1, &s));
  ck_assert(conv_narrow_applies(&s));
  ref_conv g = ref_convt_make(n, cin_t, h, h, cout_t, 4, 2, 1);
  size_t fx = (size_t)cin_t * n * h * h, fw = (size_t)cin_t * cout_t * 16;
  size_t fy = (size_t)cout_t * n * g.ho * g.wo;
  float *x = tu_malloc(fx * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
  float *dy = tu_malloc(fy * sizeof(float)), *want = tu_malloc(fx * sizeof(float));
  float *wantw = tu_malloc(fw * sizeof(float));
  tu_fill_uniform(x, fx, 41, -1, 1);
  tu_fill_uniform(w, fw, 42, -1, 1);
  tu_fill_uniform(dy, fy, 43, -1, 1);
  ref_convt2d_backward_data(&g, dy, w, want);
  ref_convt2d_backward_filter(&g, x, dy, wantw);
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ck_assert_int_eq(p.narrow.forward != NULL, clgan_ctx_cpu_paths(ctx));
  TU_OK(clgan_conv_plan_prepare(ctx, &p));
  clgan_buf bx = tu_upload(x, fx), bw = tu_upload(w, fw), bdy = tu_upload(dy, fy);
  clgan_buf bdx = tu_upload(NULL, fx), bdw = tu_upload(NULL, fw);
  clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
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

/* Which shapes take it, its name, and a variant naming the forward's GEMM. */
START_TEST(test_which_shapes) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(2, 1, 32, 32, 8, 4, 2, 1, &s));
  ck_assert_int_eq(conv_narrow_default(ctx, &s), clgan_ctx_cpu_paths(ctx));
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  char name[48];
  conv_tune_plan_name(&p, CONV_FWD, name, sizeof name);
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_str_eq(name, "narrow-image kernel");
  conv_tune_plan_name(&p, CONV_FILT, name, sizeof name);
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_str_eq(name, "narrow-image kernel");
  conv_tune_plan_name(&p, CONV_ADJ, name, sizeof name);
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_str_eq(name, "narrow-image kernel");
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_FWD].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.narrow.forward);
  ck_assert_int_eq(p.narrow.filter != NULL, clgan_ctx_cpu_paths(ctx));
  cv = conv_variants_default();
  cv.prod[CONV_FILT].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.narrow.filter);
  cv = conv_variants_default();
  cv.prod[CONV_ADJ].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.narrow.adjoint);
  ck_assert_int_eq(p.narrow.filter != NULL, clgan_ctx_cpu_paths(ctx));
  ck_assert_int_eq(p.narrow.forward != NULL, clgan_ctx_cpu_paths(ctx));
  /* not: 2 or 3 channels, outputs 8 wide, stride 1, an odd image */
  const int geo[5][5] = {{2, 32, 32, 2, 1}, {3, 32, 32, 2, 1}, {1, 16, 16, 2, 1},
                         {1, 32, 32, 1, 1}, {1, 33, 32, 2, 1}};
  for (int i = 0; i < 5; i++) {
    TU_OK(clgan_conv_shape_conv(2, geo[i][0], geo[i][1], geo[i][2], 8, 4, geo[i][3], geo[i][4], &s));
    ck_assert(!conv_narrow_applies(&s));
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_ptr_null(p.narrow.forward);
    ck_assert_ptr_null(p.narrow.filter);
    ck_assert_ptr_null(p.narrow.adjoint);
  }
}
END_TEST

static Suite *narrow_suite(void) {
  Suite *s = suite_create("conv_narrow");
  TCase *tc = tcase_create("conv_narrow");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_against_the_reference);
  tcase_add_test(tc, test_weight_gradient);
  tcase_add_test(tc, test_adjoint);
  tcase_add_test(tc, test_convt_backward_data);
  tcase_add_test(tc, test_which_shapes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(narrow_suite()); }
