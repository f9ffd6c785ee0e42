/* The whole-image kernels (src/ops/conv_whole.c, cl/conv_whole.cl): the
 * three products of a conv whose 4 x 4 kernel covers a 4 x 4 image (the
 * DCGAN's first G layer and last D layer), one kernel each. Against C
 * references on those layers and odd sizes (1 to 128 image-side channels,
 * 1 to 100 feature channels, batches 1 to 64, so the kernels' blocks are
 * whole, part filled and single): the adjoint, also with the derivative of
 * a ReLU or LeakyReLU applied as it stores, the forward, also with the
 * activation applied, the weight gradient, replacing and accumulating; the
 * engine's choice (the kernels on CPU paths, the GEMMs elsewhere, on other
 * shapes and for a product whose variant names its GEMM), their names, and
 * the kernels run directly on either path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_tune.h"
#include "ops/conv_whole.h"
#include "runtime/internal.h"
#include "test_tune_util.h"
#include "test_util.h"

typedef struct whole_case {
  const char *name;
  int transposed; /* 1: ConvTranspose2d(cin -> cout) 1x1 -> 4x4; 0: Conv2d 4x4 -> 1x1 */
  int n, cin, cout;
} whole_case;

static const whole_case cases[] = {
    {"conv 1 -> 1, batch 1", 0, 1, 1, 1},
    {"D last: conv 128 -> 1, batch 64", 0, 64, 128, 1},
    {"conv 17 -> 3, batch 9 (a block of 8 and one image)", 0, 9, 17, 3},
    {"conv 5 -> 100, batch 7 (one part-filled block)", 0, 7, 5, 100},
    {"G first: convT 100 -> 128, batch 64", 1, 64, 100, 128},
    {"convT 3 -> 5, batch 1", 1, 1, 3, 5},
    {"convT 100 -> 33, batch 13", 1, 13, 100, 33},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static clgan_conv_shape case_shape(const whole_case *c) {
  clgan_conv_shape s;
  if (c->transposed) TU_OK(clgan_conv_shape_convt(c->n, c->cin, 1, 1, c->cout, 4, 1, 0, &s));
  else TU_OK(clgan_conv_shape_conv(c->n, c->cin, 4, 4, c->cout, 4, 1, 0, &s));
  return s;
}

/* want * act'(y) with cl/act.cl's formulas (slope 0.2). */
static void apply_dact(float *want, const float *y, size_t n, clgan_act act) {
  for (size_t i = 0; i < n; i++)
    if (!(y[i] > 0.0f)) want[i] = act == CLGAN_ACT_RELU ? 0.0f : want[i] * 0.2f;
}

/* The adjoint of case c through the engine's plan (img prefilled with NaN:
 * every value must be written), times act'(y) where act is given, against
 * want; the kernel is the plan's choice on CPU paths only. */
static void check_plan(const whole_case *c, const float *feat, const float *w, const float *y,
                       const float *want, clgan_act act) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s = case_shape(c);
  size_t ff = (size_t)s.cout * s.n, fw = (size_t)s.cout * s.cin * 16, fi = (size_t)s.cin * s.n * 16;
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  ck_assert_int_eq(p.whole.adjoint != NULL, clgan_ctx_cpu_paths(ctx));
  if (p.whole.adjoint) ck_assert_ptr_null(p.adj.main);
  clgan_buf bf = tu_upload(feat, ff), bw = tu_upload(w, fw), bi = tu_upload(NULL, fi);
  clgan_buf by = tu_upload(y, fi), col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
  TU_OK(clgan_fill(ctx, bi, fi, NAN));
  TU_OK(clgan_conv_plan_prepare(ctx, &p));
  if (act != CLGAN_ACT_NONE) {
    ck_assert(clgan_conv2d_backward_data_fuses_act(&p, act));
    TU_OK(clgan_conv2d_backward_data_act(ctx, &p, bf, bw, bi, col, by, act, 0.2f));
  } else if (c->transposed) TU_OK(clgan_convt2d_forward(ctx, &p, bf, bw, bi, col));
  else TU_OK(clgan_conv2d_backward_data(ctx, &p, bf, bw, bi, col));
  float *got = tu_download(bi, fi);
  char what[160], name[48];
  conv_tune_plan_name(&p, CONV_ADJ, name, sizeof name);
  snprintf(what, sizeof what, "%s, %s, act %d", c->name, name, (int)act);
  TU_ASSERT_CLOSE(what, got, want, fi, 1e-4, 1e-4);
  clgan_buf *all[] = {&bf, &bw, &bi, &by, &col};
  for (int i = 0; i < 5; i++) clgan_buf_release(all[i]);
  free(got);
}

/* The kernel itself, planned and run directly (on GPU paths too), at
 * buffer offsets, the floats around img left alone. */
static void check_direct(const whole_case *c, const float *feat, const float *w, const float *y,
                         const float *want, clgan_act act) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s = case_shape(c);
  size_t ff = (size_t)s.cout * s.n, fw = (size_t)s.cout * s.cin * 16, fi = (size_t)s.cin * s.n * 16;
  clgan_conv_whole_plan p;
  int ok = 0;
  TU_OK(conv_whole_plan_make(ctx, &s, NULL, &p, &ok));
  ck_assert(ok);
  const size_t off = 3, tail = 16, most = fi > fw ? (fi > ff ? fi : ff) : (fw > ff ? fw : ff);
  float *host = tu_malloc((off + most) * sizeof(float));
  for (size_t i = 0; i < off; i++) host[i] = 0.0f;
  memcpy(host + off, feat, ff * sizeof(float));
  clgan_buf bf = tu_upload(host, off + ff);
  memcpy(host + off, w, fw * sizeof(float));
  clgan_buf bw = tu_upload(host, off + fw);
  memcpy(host + off, y, fi * sizeof(float));
  clgan_buf by = tu_upload(host, off + fi), bi = tu_upload(NULL, off + fi + tail);
  TU_OK(clgan_fill(ctx, bi, off + fi + tail, 7.0f));
  TU_OK(conv_whole_run(ctx, &p, &s, clgan_buf_at(bf, off), clgan_buf_at(bw, off),
                       clgan_buf_at(bi, off), act, 0.2f, clgan_buf_at(by, off)));
  float *got = tu_download(bi, off + fi + tail);
  for (size_t i = 0; i < off; i++) ck_assert_float_eq(got[i], 7.0f);
  for (size_t i = off + fi; i < off + fi + tail; i++) ck_assert_float_eq(got[i], 7.0f);
  char what[160];
  snprintf(what, sizeof what, "%s, the kernel directly, act %d", c->name, (int)act);
  TU_ASSERT_CLOSE(what, got + off, want, fi, 1e-4, 1e-4);
  clgan_buf *all[] = {&bf, &bw, &bi, &by};
  for (int i = 0; i < 4; i++) clgan_buf_release(all[i]);
  free(got), free(host);
}

START_TEST(test_against_the_reference) {
  for (int ci = 0; ci < NCASES; ci++) {
    clgan_conv_shape s = case_shape(&cases[ci]);
    ck_assert(conv_whole_applies(&s));
    size_t ff = (size_t)s.cout * s.n, fw = (size_t)s.cout * s.cin * 16;
    size_t fi = (size_t)s.cin * s.n * 16;
    float *feat = tu_malloc(ff * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *want = tu_malloc(fi * sizeof(float)), *y = tu_malloc(fi * sizeof(float));
    float *wact = tu_malloc(fi * sizeof(float));
    tu_fill_uniform(feat, ff, 11, -1, 1);
    tu_fill_uniform(w, fw, 12, -1, 1);
    tu_fill_uniform(y, fi, 13, -1, 1);
    tt_ref_adjoint(&s, feat, w, want);
    check_plan(&cases[ci], feat, w, y, want, CLGAN_ACT_NONE);
    check_direct(&cases[ci], feat, w, y, want, CLGAN_ACT_NONE);
    /* the derivative as it stores, on a conv's backward data */
    const clgan_act acts[2] = {CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 2; a++) {
      memcpy(wact, want, fi * sizeof(float));
      apply_dact(wact, y, fi, acts[a]);
      if (!cases[ci].transposed) check_plan(&cases[ci], feat, w, y, wact, acts[a]);
      check_direct(&cases[ci], feat, w, y, wact, acts[a]);
    }
    free(feat), free(w), free(want), free(y), free(wact);
  }
}
END_TEST

/* feat [cout, n] = act(sum over c, t of w[co, c, t] * img[c, b, t]) and
 * dw [cout, cin*16] = base + sum over b of feat[co, b] * img[c, b, t], in
 * double. */
static void ref_forward(const clgan_conv_shape *s, const float *img, const float *w, float *feat,
                        clgan_act act) {
  for (int co = 0; co < s->cout; co++)
    for (int b = 0; b < s->n; b++) {
      double a = 0;
      for (int c = 0; c < s->cin; c++)
        for (int t = 0; t < 16; t++)
          a += (double)w[((size_t)co * s->cin + c) * 16 + t] * img[((size_t)c * s->n + b) * 16 + t];
      float v = (float)a;
      if (act == CLGAN_ACT_RELU && v < 0.0f) v = 0.0f;
      if (act == CLGAN_ACT_LEAKY_RELU && !(v > 0.0f)) v *= 0.2f;
      feat[(size_t)co * s->n + b] = v;
    }
}

static void ref_filter(const clgan_conv_shape *s, const float *img, const float *feat,
                       const float *base, float *dw) {
  for (int co = 0; co < s->cout; co++)
    for (int c = 0; c < s->cin; c++)
      for (int t = 0; t < 16; t++) {
        size_t at = ((size_t)co * s->cin + c) * 16 + t;
        double a = base ? base[at] : 0.0;
        for (int b = 0; b < s->n; b++)
          a += (double)feat[(size_t)co * s->n + b] * img[((size_t)c * s->n + b) * 16 + t];
        dw[at] = (float)a;
      }
}

/* The forward (Conv2d's forward, ConvTranspose2d's backward data; with
 * ReLU or LeakyReLU as it stores) and the weight gradient (replacing, then
 * accumulating into a prefilled dw) through the engine's plan, where the
 * kernels are its choice on CPU paths. */
START_TEST(test_forward_and_weight_gradient) {
  clgan_ctx *ctx = tu_ctx();
  for (int ci = 0; ci < NCASES; ci++) {
    const whole_case *c = &cases[ci];
    clgan_conv_shape s = case_shape(c);
    size_t ff = (size_t)s.cout * s.n, fw = (size_t)s.cout * s.cin * 16, fi = (size_t)s.cin * s.n * 16;
    float *img = tu_malloc(fi * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *feat = tu_malloc(ff * sizeof(float)), *want = tu_malloc((ff > fw ? ff : fw) * sizeof(float));
    float *base = tu_malloc(fw * sizeof(float));
    tu_fill_uniform(img, fi, 21, -1, 1);
    tu_fill_uniform(w, fw, 22, -1, 1);
    tu_fill_uniform(feat, ff, 23, -1, 1);
    tu_fill_uniform(base, fw, 24, -1, 1);
    clgan_conv_plan p;
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert_int_eq(p.whole.forward != NULL, clgan_ctx_cpu_paths(ctx));
    ck_assert_int_eq(p.whole.filter != NULL, clgan_ctx_cpu_paths(ctx));
    TU_OK(clgan_conv_plan_prepare(ctx, &p));
    clgan_buf bi = tu_upload(img, fi), bw = tu_upload(w, fw), bf = tu_upload(feat, ff);
    clgan_buf out = tu_upload(NULL, ff), dw = tu_upload(NULL, fw);
    clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
    char what[160];
    const clgan_act acts[3] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 3; a++) {
      if (a > 0 && (c->transposed || !clgan_conv2d_forward_fuses_act(&p, acts[a]))) continue;
      TU_OK(clgan_fill(ctx, out, ff, NAN));
      if (a > 0) TU_OK(clgan_conv2d_forward_act(ctx, &p, bi, bw, out, col, acts[a], 0.2f));
      else if (c->transposed) TU_OK(clgan_convt2d_backward_data(ctx, &p, bi, bw, out, col));
      else TU_OK(clgan_conv2d_forward(ctx, &p, bi, bw, out, col));
      ref_forward(&s, img, w, want, acts[a]);
      float *got = tu_download(out, ff);
      snprintf(what, sizeof what, "%s, forward, act %d", c->name, (int)acts[a]);
      TU_ASSERT_CLOSE(what, got, want, ff, 1e-4, 1e-4);
      free(got);
    }
    for (int acc = 0; acc < 2; acc++) {
      TU_OK(clgan_buf_write(ctx, dw, base, fw));
      if (c->transposed) TU_OK(clgan_convt2d_backward_filter(ctx, &p, bf, bi, dw, col, acc));
      else TU_OK(clgan_conv2d_backward_filter(ctx, &p, bi, bf, dw, col, acc));
      ref_filter(&s, img, feat, acc ? base : NULL, want);
      float *got = tu_download(dw, fw);
      snprintf(what, sizeof what, "%s, weight gradient, accumulate %d", c->name, acc);
      TU_ASSERT_CLOSE(what, got, want, fw, 1e-4, 1e-4);
      free(got);
    }
    clgan_buf *all[] = {&bi, &bw, &bf, &out, &dw, &col};
    for (int i = 0; i < 6; i++) clgan_buf_release(all[i]);
    free(img), free(w), free(feat), free(want), free(base);
  }
}
END_TEST

/* Which shapes take it: a 4 x 4 kernel over a whole 4 x 4 image only; the
 * name in the plan tables; a variant naming the adjoint's GEMM keeps
 * GEMM + col2im. */
START_TEST(test_which_shapes) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(8, 16, 4, 4, 1, 4, 1, 0, &s));
  ck_assert(conv_whole_applies(&s));
  ck_assert_int_eq(conv_whole_default(ctx, &s), clgan_ctx_cpu_paths(ctx));
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, NULL, &p));
  char name[48];
  conv_tune_plan_name(&p, CONV_ADJ, name, sizeof name);
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_str_eq(name, "whole-image kernel");
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_ADJ].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.whole.adjoint);
  ck_assert_ptr_nonnull(p.adj.main);
  ck_assert_int_eq(p.whole.forward != NULL, clgan_ctx_cpu_paths(ctx)); /* the others stay */
  ck_assert_int_eq(p.whole.filter != NULL, clgan_ctx_cpu_paths(ctx));
  cv = conv_variants_default();
  cv.prod[CONV_FWD].backend = CLGAN_GEMM_OWN;
  cv.prod[CONV_FILT].backend = CLGAN_GEMM_OWN;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  ck_assert_ptr_null(p.whole.forward);
  ck_assert_ptr_null(p.whole.filter);
  ck_assert_int_eq(p.whole.adjoint != NULL, clgan_ctx_cpu_paths(ctx));
  if (clgan_ctx_cpu_paths(ctx)) {
    conv_tune_plan_name(&p, CONV_FWD, name, sizeof name);
    ck_assert_str_ne(name, "whole-image kernel");
  }
  /* not: a 5 x 5 image, padding, a 3 x 3 kernel, a 2 x 2 output by stride 4 */
  const int geo[4][4] = {{5, 4, 1, 0}, {4, 4, 1, 1}, {3, 3, 1, 0}, {8, 4, 4, 0}};
  for (int i = 0; i < 4; i++) {
    TU_OK(clgan_conv_shape_conv(2, 3, geo[i][0], geo[i][0], 2, geo[i][1], geo[i][2], geo[i][3], &s));
    ck_assert(!conv_whole_applies(&s));
    clgan_conv_whole_plan wp;
    int ok = 1;
    TU_OK(conv_whole_plan_make(ctx, &s, NULL, &wp, &ok));
    ck_assert(!ok);
    ck_assert_ptr_null(wp.adjoint);
    TU_OK(conv_plan_with(ctx, &s, NULL, &p));
    ck_assert(!p.whole.adjoint && !p.whole.forward && !p.whole.filter);
  }
}
END_TEST

static Suite *whole_suite(void) {
  Suite *s = suite_create("conv_whole");
  TCase *tc = tcase_create("conv_whole");
  tcase_add_test(tc, test_against_the_reference);
  tcase_add_test(tc, test_forward_and_weight_gradient);
  tcase_add_test(tc, test_which_shapes);
  tcase_set_timeout(tc, 600);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(whole_suite()); }
