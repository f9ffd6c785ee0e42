/* BCE from logits against a double-precision host reference following
 * PyTorch 1.13's formulas, finite differences, saturated logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clgan_bce_plan plan_for(size_t count) {
  clgan_bce_plan p;
  TU_OK(clgan_bce_plan_make(tu_ctx(), count, &p));
  return p;
}

static double ref_bce_one(double x, double t) {
  return (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
}

static double ref_sigmoid(double x) {
  return 1.0 / (1.0 + exp(-x));
}

/* mean loss, mean sigmoid, and the gradient scale * (sigmoid - t) / n */
static void ref_bce(const float *x, size_t n, double t, double scale, double out[2], float *grad) {
  double l = 0, p = 0;
  for (size_t i = 0; i < n; i++) {
    l += ref_bce_one(x[i], t);
    p += ref_sigmoid(x[i]);
    if (grad) grad[i] = (float)(scale * (ref_sigmoid(x[i]) - t) / (double)n);
  }
  out[0] = l / (double)n;
  out[1] = p / (double)n;
}

START_TEST(test_bce_matches_reference) {
  clgan_ctx *ctx = tu_ctx();
  const size_t counts[] = {1, 2, 7, 128, 1000, 4099};
  const float targets[] = {0.0f, 1.0f, 0.9f};
  const float scales[] = {1.0f, 0.5f};
  for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
    size_t n = counts[ci];
    float *x = tu_malloc(n * sizeof *x), *want = tu_malloc(n * sizeof *want);
    tu_fill_normal(x, n, 11 + n, 0.5f, 3.0f);
    /* logits at an odd offset; out and dlogits share one buffer */
    clgan_buf bx = tu_upload(NULL, n + 5), arena = tu_upload(NULL, n + 4);
    clgan_buf xs = clgan_buf_at(bx, 5), out = clgan_buf_at(arena, 1), dl = clgan_buf_at(arena, 4);
    TU_OK(clgan_buf_write(ctx, xs, x, n));
    clgan_bce_plan plan = plan_for(n);
    for (size_t ti = 0; ti < 3; ti++)
      for (size_t si = 0; si < 2; si++) {
        double ref[2];
        ref_bce(x, n, targets[ti], scales[si], ref, want);
        TU_OK(clgan_bce_logits(ctx, &plan, xs, targets[ti], out, dl, scales[si]));
        float *got = tu_download(out, 2), *grad = tu_download(dl, n);
        float wout[2] = {(float)ref[0], (float)ref[1]};
        char what[96];
        snprintf(what, sizeof what, "bce loss/D(x) n=%zu t=%g scale=%g", n, targets[ti],
                 scales[si]);
        TU_ASSERT_CLOSE(what, got, wout, 2, 2e-6, 1e-7);
        snprintf(what, sizeof what, "bce dlogits n=%zu t=%g scale=%g", n, targets[ti], scales[si]);
        /* exact labels: no cancellation in sigmoid - t, even when saturated;
         * other targets cancel near sigmoid == t, an ulp of O(1) / n */
        TU_ASSERT_CLOSE(what, grad, want, n, 2e-6,
                        targets[ti] == 0.0f || targets[ti] == 1.0f ? 1e-12 : 1.2e-7 / (double)n);
        free(got), free(grad);
      }
    /* no gradient wanted: dlogits untouched, the same loss */
    TU_OK(clgan_fill(ctx, dl, n, 7.0f));
    clgan_buf none = {0};
    double ref[2];
    ref_bce(x, n, 1.0, 1.0, ref, NULL);
    TU_OK(clgan_bce_logits(ctx, &plan, xs, 1.0f, out, none, 1.0f));
    float *got = tu_download(out, 2), *grad = tu_download(dl, n);
    float wout[2] = {(float)ref[0], (float)ref[1]};
    TU_ASSERT_CLOSE("bce without gradient", got, wout, 2, 2e-6, 1e-7);
    for (size_t i = 0; i < n; i++) ck_assert_float_eq(grad[i], 7.0f);
    free(got), free(grad), free(x), free(want);
    clgan_buf_release(&bx), clgan_buf_release(&arena);
  }
}
END_TEST

/* Device gradient vs central differences of scale * mean loss in double. */
START_TEST(test_bce_finite_differences) {
  clgan_ctx *ctx = tu_ctx();
  const size_t n = 37;
  const float scale = 0.75f;
  float *x = tu_malloc(n * sizeof *x), *fd = tu_malloc(n * sizeof *fd);
  tu_fill_normal(x, n, 5, 0.0f, 4.0f);
  for (int ti = 0; ti < 2; ti++) {
    double t = ti ? 1.0 : 0.0;
    clgan_buf bx = tu_upload(x, n), out = tu_upload(NULL, 2), dl = tu_upload(NULL, n);
    clgan_bce_plan plan = plan_for(n);
    TU_OK(clgan_bce_logits(ctx, &plan, bx, (float)t, out, dl, scale));
    float *grad = tu_download(dl, n);
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++)
      fd[i] = (float)(scale * (ref_bce_one(x[i] + h, t) - ref_bce_one(x[i] - h, t)) / (2 * h) /
                      (double)n);
    TU_ASSERT_CLOSE(ti ? "bce gradient vs FD, t=1" : "bce gradient vs FD, t=0", grad, fd, n, 1e-5,
                    1e-8);
    free(grad);
    clgan_buf_release(&bx), clgan_buf_release(&out), clgan_buf_release(&dl);
  }
  free(x), free(fd);
}
END_TEST

/* Saturated logits: finite everywhere, loss ~ |x| for the wrong label and
 * ~ 0 for the right one, gradients at their limits. */
START_TEST(test_bce_extreme_logits) {
  clgan_ctx *ctx = tu_ctx();
  const float big[] = {50.0f, 100.0f, 1e4f};
  clgan_bce_plan plan = plan_for(3);
  for (size_t bi = 0; bi < sizeof big / sizeof *big; bi++) {
    float B = big[bi];
    for (int sign = -1; sign <= 1; sign += 2) {
      float xv[3] = {sign * B, sign * B, sign * B};
      clgan_buf bx = tu_upload(xv, 3), out = tu_upload(NULL, 2), dl = tu_upload(NULL, 3);
      for (int ti = 0; ti < 2; ti++) {
        float t = (float)ti;
        TU_OK(clgan_bce_logits(ctx, &plan, bx, t, out, dl, 1.0f));
        float *o = tu_download(out, 2), *g = tu_download(dl, 3);
        int wrong = (sign > 0) != (ti == 1);
        ck_assert_msg(isfinite(o[0]) && isfinite(o[1]), "x=%g t=%g: loss %g D %g", sign * B, t,
                      o[0], o[1]);
        float wl = wrong ? B : 0.0f, wd = sign > 0 ? 1.0f : 0.0f;
        float wg = (wd - t) / 3.0f;
        char what[64];
        snprintf(what, sizeof what, "bce x=%g t=%g loss", sign * B, t);
        TU_ASSERT_CLOSE(what, &o[0], &wl, 1, 1e-6, 1e-20);
        snprintf(what, sizeof what, "bce x=%g t=%g D(x)", sign * B, t);
        TU_ASSERT_CLOSE(what, &o[1], &wd, 1, 1e-6, 1e-20);
        for (int i = 0; i < 3; i++) {
          ck_assert(isfinite(g[i]));
          snprintf(what, sizeof what, "bce x=%g t=%g dlogit", sign * B, t);
          TU_ASSERT_CLOSE(what, &g[i], &wg, 1, 1e-6, 1e-20);
        }
        free(o), free(g);
      }
      clgan_buf_release(&bx), clgan_buf_release(&out), clgan_buf_release(&dl);
    }
  }
}
END_TEST

START_TEST(test_bce_invalid) {
  clgan_buf b = tu_upload(NULL, 4), none = {0};
  clgan_bce_plan plan;
  ck_assert_int_eq(clgan_bce_plan_make(tu_ctx(), 0, &plan), CLGAN_ERR_INVALID);
  plan = plan_for(2);
  ck_assert_int_eq(clgan_bce_logits(tu_ctx(), NULL, b, 1.0f, b, none, 1.0f), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_bce_logits(tu_ctx(), &plan, b, 1.0f, none, none, 1.0f), CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

/* The work-group follows the count: the smallest power of two covering it,
 * up to 256 (and what the device allows). */
START_TEST(test_bce_plan_local_size) {
  const size_t counts[] = {1, 2, 3, 7, 128, 129, 1000};
  const size_t want[] = {1, 2, 4, 8, 128, 256, 256};
  for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
    clgan_bce_plan p = plan_for(counts[i]);
    ck_assert_uint_eq(p.count, counts[i]);
    ck_assert_msg(p.local <= want[i] && (p.local & (p.local - 1)) == 0, "count %zu: local %zu",
                  counts[i], p.local);
    if (clgan_ctx_device(tu_ctx())->max_work_group_size >= 256) ck_assert_uint_eq(p.local, want[i]);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("loss");
  TCase *tc = tcase_create("loss");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_bce_matches_reference);
  tcase_add_test(tc, test_bce_finite_differences);
  tcase_add_test(tc, test_bce_extreme_logits);
  tcase_add_test(tc, test_bce_invalid);
  tcase_add_test(tc, test_bce_plan_local_size);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
