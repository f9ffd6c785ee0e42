/* Softmax cross-entropy against a double-precision host reference, central
 * finite differences, labels through an order array, huge logits, labels
 * out of range, and the plan's checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* loss of sample i of x [k, n] against label y, in double */
static double ref_loss_one(const float *x, size_t k, size_t n, size_t i, int y) {
  double m = x[i];
  for (size_t c = 1; c < k; c++) m = fmax(m, x[c * n + i]);
  double s = 0;
  for (size_t c = 0; c < k; c++) s += exp(x[c * n + i] - m);
  return m + log(s) - x[(size_t)y * n + i];
}

/* mean loss, accuracy and the gradient scale * (softmax - onehot) / n */
static void ref_ce(const float *x, size_t k, size_t n, const int *y, double scale, double out[2],
                   float *grad) {
  double loss = 0, correct = 0;
  for (size_t i = 0; i < n; i++) {
    loss += ref_loss_one(x, k, n, i, y[i]);
    size_t arg = 0;
    for (size_t c = 1; c < k; c++)
      if (x[c * n + i] > x[arg * n + i]) arg = c;
    correct += arg == (size_t)y[i];
    double m = x[arg * n + i], s = 0;
    for (size_t c = 0; c < k; c++) s += exp(x[c * n + i] - m);
    for (size_t c = 0; c < k; c++)
      grad[c * n + i] =
          (float)(scale * (exp(x[c * n + i] - m) / s - ((int)c == y[i] ? 1.0 : 0.0)) / (double)n);
  }
  out[0] = loss / (double)n;
  out[1] = correct / (double)n;
}

static cl_mem upload_ints(const int *v, size_t n) {
  cl_mem m;
  TU_OK(clgan_mem_alloc(tu_ctx(), n * sizeof(int), v, &m));
  return m;
}

/* Odd class counts and batch sizes; labels read through a permutation
 * starting at an offset, as a training batch reads them. */
START_TEST(test_softmax_ce_matches_reference) {
  clgan_ctx *ctx = tu_ctx();
  const size_t classes[] = {2, 3, 5, 7};
  const size_t counts[] = {1, 3, 33, 257, 1001};
  for (size_t ki = 0; ki < sizeof classes / sizeof *classes; ki++)
    for (size_t ni = 0; ni < sizeof counts / sizeof *counts; ni++) {
      size_t k = classes[ki], n = counts[ni], total = n + 9, first = 4;
      float *x = tu_malloc(k * n * sizeof *x), *want = tu_malloc(k * n * sizeof *want);
      tu_fill_normal(x, k * n, 100 * k + n, 0.3f, 3.0f);
      int *labels = tu_malloc(total * sizeof *labels), *order = tu_malloc(total * sizeof *order),
          *y = tu_malloc(n * sizeof *y);
      for (size_t i = 0; i < total; i++) {
        labels[i] = (int)((i * 7 + k) % k);
        order[i] = (int)((i * 5 + 3) % total); /* a permutation: 5 is prime to total */
      }
      for (size_t i = 0; i < n; i++) y[i] = labels[order[first + i]];
      cl_mem ml = upload_ints(labels, total), mo = upload_ints(order, total);
      clgan_buf bx = tu_upload(NULL, k * n + 3), bo = tu_upload(NULL, 5), bd = tu_upload(NULL, k * n + 1);
      clgan_buf xs = clgan_buf_at(bx, 3), out = clgan_buf_at(bo, 2), dl = clgan_buf_at(bd, 1);
      TU_OK(clgan_buf_write(ctx, xs, x, k * n));
      clgan_softmax_ce_plan plan;
      TU_OK(clgan_softmax_ce_plan_make(ctx, k, n, &plan));
      const float scale = ni % 2 ? 0.5f : 1.0f;
      double ref[2];
      ref_ce(x, k, n, y, scale, ref, want);
      TU_OK(clgan_softmax_ce(ctx, &plan, xs, ml, mo, first, out, dl, scale));
      float *got = tu_download(out, 3), *grad = tu_download(dl, k * n);
      float wout[3] = {(float)ref[0], (float)ref[1], 0.0f};
      char what[80];
      snprintf(what, sizeof what, "softmax_ce loss/acc k=%zu n=%zu", k, n);
      TU_ASSERT_CLOSE(what, got, wout, 3, 2e-6, 1e-7);
      snprintf(what, sizeof what, "softmax_ce dlogits k=%zu n=%zu", k, n);
      TU_ASSERT_CLOSE(what, grad, want, k * n, 1e-5, 2e-7 / (double)n);
      free(got), free(grad);
      /* no order: labels[first + i]; no gradient wanted: dlogits untouched */
      for (size_t i = 0; i < n; i++) y[i] = labels[first + i];
      ref_ce(x, k, n, y, 1.0, ref, want);
      TU_OK(clgan_fill(ctx, dl, k * n, 7.0f));
      clgan_buf none = {0};
      TU_OK(clgan_softmax_ce(ctx, &plan, xs, ml, NULL, first, out, none, 1.0f));
      got = tu_download(out, 3), grad = tu_download(dl, k * n);
      wout[0] = (float)ref[0], wout[1] = (float)ref[1];
      TU_ASSERT_CLOSE("softmax_ce without order or gradient", got, wout, 3, 2e-6, 1e-7);
      for (size_t i = 0; i < k * n; i++) ck_assert_float_eq(grad[i], 7.0f);
      free(got), free(grad), free(x), free(want), free(labels), free(order), free(y);
      clgan_mem_release(&ml), clgan_mem_release(&mo);
      clgan_buf_release(&bx), clgan_buf_release(&bo), clgan_buf_release(&bd);
    }
}
END_TEST

/* The device gradient against central differences of the double loss. */
START_TEST(test_softmax_ce_finite_differences) {
  clgan_ctx *ctx = tu_ctx();
  const size_t k = 5, n = 13;
  const float scale = 0.75f;
  float *x = tu_malloc(k * n * sizeof *x), *fd = tu_malloc(k * n * sizeof *fd);
  tu_fill_normal(x, k * n, 9, 0.0f, 2.0f);
  int y[13];
  for (size_t i = 0; i < n; i++) y[i] = (int)((i * 3) % k);
  cl_mem ml = upload_ints(y, n);
  clgan_buf bx = tu_upload(x, k * n), out = tu_upload(NULL, 3), dl = tu_upload(NULL, k * n);
  clgan_softmax_ce_plan plan;
  TU_OK(clgan_softmax_ce_plan_make(ctx, k, n, &plan));
  TU_OK(clgan_softmax_ce(ctx, &plan, bx, ml, NULL, 0, out, dl, scale));
  float *grad = tu_download(dl, k * n);
  const double h = 1e-3;
  for (size_t j = 0; j < k * n; j++) {
    size_t i = j % n; /* only sample i's loss depends on logit j */
    float saved = x[j];
    x[j] = saved + (float)h;
    double up = ref_loss_one(x, k, n, i, y[i]);
    x[j] = saved - (float)h;
    double down = ref_loss_one(x, k, n, i, y[i]);
    x[j] = saved;
    double step = ((double)(saved + (float)h) - (double)(saved - (float)h));
    fd[j] = (float)(scale * (up - down) / step / (double)n);
  }
  TU_ASSERT_CLOSE("softmax_ce gradient vs FD", grad, fd, k * n, 1e-3, 1e-6);
  free(grad), free(x), free(fd);
  clgan_mem_release(&ml);
  clgan_buf_release(&bx), clgan_buf_release(&out), clgan_buf_release(&dl);
}
END_TEST

/* Logits of 1e4 (exp overflows without the maximum subtracted): finite, the
 * loss the margin for a wrong label and 0 for a right one. */
START_TEST(test_softmax_ce_huge_logits) {
  clgan_ctx *ctx = tu_ctx();
  /* k 3, n 2: sample 0 says class 1 at 1e4, sample 1 class 2 at 1e4 */
  const float x[6] = {0.0f, -1e4f, 1e4f, 0.0f, -1e4f, 1e4f};
  const int y[2] = {1, 0};
  cl_mem ml = upload_ints(y, 2);
  clgan_buf bx = tu_upload(x, 6), out = tu_upload(NULL, 3), dl = tu_upload(NULL, 6);
  clgan_softmax_ce_plan plan;
  TU_OK(clgan_softmax_ce_plan_make(ctx, 3, 2, &plan));
  TU_OK(clgan_softmax_ce(ctx, &plan, bx, ml, NULL, 0, out, dl, 1.0f));
  float *o = tu_download(out, 3), *g = tu_download(dl, 6);
  /* sample 0 right (loss 0), sample 1 wrong by 1e4 + 1e4: mean 1e4 */
  const float wo[3] = {1e4f, 0.5f, 0.0f}, wg[6] = {0.0f, -0.5f, 0.0f, 0.0f, 0.0f, 0.5f};
  TU_ASSERT_CLOSE("softmax_ce huge logits: loss", o, wo, 3, 1e-6, 1e-20);
  TU_ASSERT_CLOSE("softmax_ce huge logits: gradient", g, wg, 6, 1e-6, 1e-20);
  free(o), free(g);
  clgan_mem_release(&ml);
  clgan_buf_release(&bx), clgan_buf_release(&out), clgan_buf_release(&dl);
}
END_TEST

/* A label outside [0, k) is counted and adds nothing; the mean stays over n. */
START_TEST(test_softmax_ce_bad_labels) {
  clgan_ctx *ctx = tu_ctx();
  const size_t k = 3, n = 4;
  float x[12];
  tu_fill_normal(x, 12, 3, 0.0f, 1.0f);
  const int y[4] = {2, -1, 3, 0}, good[4] = {2, 0, 0, 0};
  cl_mem ml = upload_ints(y, n);
  clgan_buf bx = tu_upload(x, 12), out = tu_upload(NULL, 3), dl = tu_upload(NULL, 12);
  clgan_softmax_ce_plan plan;
  TU_OK(clgan_softmax_ce_plan_make(ctx, k, n, &plan));
  TU_OK(clgan_softmax_ce(ctx, &plan, bx, ml, NULL, 0, out, dl, 1.0f));
  float *o = tu_download(out, 3), *g = tu_download(dl, 12);
  double want = (ref_loss_one(x, k, n, 0, good[0]) + ref_loss_one(x, k, n, 3, good[3])) / 4.0;
  ck_assert_float_eq(o[2], 2.0f);
  ck_assert_msg(fabs(o[0] - want) < 1e-6 * (1 + fabs(want)), "loss %g, want %g", o[0], want);
  for (size_t c = 0; c < k; c++) {
    ck_assert_float_eq(g[c * n + 1], 0.0f);
    ck_assert_float_eq(g[c * n + 2], 0.0f);
  }
  free(o), free(g);
  clgan_mem_release(&ml);
  clgan_buf_release(&bx), clgan_buf_release(&out), clgan_buf_release(&dl);
}
END_TEST

START_TEST(test_softmax_ce_invalid) {
  clgan_ctx *ctx = tu_ctx();
  clgan_softmax_ce_plan plan;
  ck_assert_int_eq(clgan_softmax_ce_plan_make(ctx, 1, 4, &plan), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_softmax_ce_plan_make(ctx, 3, 0, &plan), CLGAN_ERR_INVALID);
  TU_OK(clgan_softmax_ce_plan_make(ctx, 3, 4, &plan));
  clgan_buf b = tu_upload(NULL, 12), none = {0};
  int y[4] = {0};
  cl_mem ml = upload_ints(y, 4);
  ck_assert_int_eq(clgan_softmax_ce(ctx, NULL, b, ml, NULL, 0, b, none, 1.0f), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_softmax_ce(ctx, &plan, b, NULL, NULL, 0, b, none, 1.0f), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_softmax_ce(ctx, &plan, none, ml, NULL, 0, b, none, 1.0f), CLGAN_ERR_INVALID);
  clgan_mem_release(&ml);
  clgan_buf_release(&b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("softmax_ce");
  TCase *tc = tcase_create("softmax_ce");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_softmax_ce_matches_reference);
  tcase_add_test(tc, test_softmax_ce_finite_differences);
  tcase_add_test(tc, test_softmax_ce_huge_logits);
  tcase_add_test(tc, test_softmax_ce_bad_labels);
  tcase_add_test(tc, test_softmax_ce_invalid);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
