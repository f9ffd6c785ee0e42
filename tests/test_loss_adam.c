/* BCE from logits and Adam against double-precision host references
 * following PyTorch 1.13's formulas. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- BCE -------------------------------------------------------------- */

static double ref_bce_one(double x, double t) {
  return (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
}

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* mean loss, mean sigmoid, and the gradient scale * (sigmoid - t) / n */
static void ref_bce(const float *x, size_t n, double t, double scale, double out[2],
                    float *grad) {
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
    for (size_t ti = 0; ti < 3; ti++)
      for (size_t si = 0; si < 2; si++) {
        double ref[2];
        ref_bce(x, n, targets[ti], scales[si], ref, want);
        TU_OK(clgan_bce_logits(ctx, n, xs, targets[ti], out, dl, scales[si]));
        float *got = tu_download(out, 2), *grad = tu_download(dl, n);
        float wout[2] = {(float)ref[0], (float)ref[1]};
        char what[96];
        snprintf(what, sizeof what, "bce loss/D(x) n=%zu t=%g scale=%g", n, targets[ti],
                 scales[si]);
        TU_ASSERT_CLOSE(what, got, wout, 2, 2e-6, 1e-7);
        snprintf(what, sizeof what, "bce dlogits n=%zu t=%g scale=%g", n, targets[ti],
                 scales[si]);
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
    TU_OK(clgan_bce_logits(ctx, n, xs, 1.0f, out, none, 1.0f));
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
    TU_OK(clgan_bce_logits(ctx, n, bx, (float)t, out, dl, scale));
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
  for (size_t bi = 0; bi < sizeof big / sizeof *big; bi++) {
    float B = big[bi];
    for (int sign = -1; sign <= 1; sign += 2) {
      float xv[3] = {sign * B, sign * B, sign * B};
      clgan_buf bx = tu_upload(xv, 3), out = tu_upload(NULL, 2), dl = tu_upload(NULL, 3);
      for (int ti = 0; ti < 2; ti++) {
        float t = (float)ti;
        TU_OK(clgan_bce_logits(ctx, 3, bx, t, out, dl, 1.0f));
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
  ck_assert_int_eq(clgan_bce_logits(tu_ctx(), 0, b, 1.0f, b, none, 1.0f), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_bce_logits(tu_ctx(), 2, b, 1.0f, none, none, 1.0f), CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

/* ---- Adam ------------------------------------------------------------- */

/* PyTorch 1.13 _single_tensor_adam on float tensors: the scalars are Python
 * doubles (hence 0.999 here, not 0.999f), cast to float where they meet a
 * tensor; tensor arithmetic is float, in PyTorch's operation order. */
static void ref_adam(double lr, double beta1, double beta2, double eps, long step, size_t n,
                     float *p, const float *g, float *m, float *v) {
  double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
  float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
  float b1 = (float)beta1, omb1 = (float)(1 - beta1), b2 = (float)beta2,
        omb2 = (float)(1 - beta2), e = (float)eps;
  for (size_t i = 0; i < n; i++) {
    m[i] = m[i] * b1 + omb1 * g[i];               /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
    v[i] = v[i] * b2 + omb2 * g[i] * g[i];        /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
    float denom = sqrtf(v[i]) / bc2_sqrt + e;     /* (v.sqrt() / bc2_sqrt).add_(eps) */
    p[i] = p[i] + (-step_size) * m[i] / denom;    /* p.addcdiv_(m, denom, value=-step_size) */
  }
}

START_TEST(test_adam_three_steps) {
  clgan_ctx *ctx = tu_ctx();
  const size_t n = 1003;
  /* the recipe's hyperparameters, and a second set */
  const clgan_adam_params hp[2] = {{2e-4f, 0.5f, 0.999f, 1e-8f}, {1e-2f, 0.9f, 0.99f, 1e-6f}};
  const double hpd[2][4] = {{2e-4, 0.5, 0.999, 1e-8}, {1e-2, 0.9, 0.99, 1e-6}};
  for (int k = 0; k < 2; k++) {
    float *p = tu_malloc(n * sizeof *p), *g = tu_malloc(n * sizeof *g);
    float *m = tu_malloc(n * sizeof *m), *v = tu_malloc(n * sizeof *v);
    tu_fill_normal(p, n, 1, 0.0f, 0.02f);
    /* one arena: params, grads, m, v side by side at odd offsets */
    clgan_buf arena = tu_upload(NULL, 4 * n + 7);
    clgan_buf bp = clgan_buf_at(arena, 1), bg = clgan_buf_at(arena, n + 2),
              bm = clgan_buf_at(arena, 2 * n + 3), bv = clgan_buf_at(arena, 3 * n + 5);
    TU_OK(clgan_buf_write(ctx, bp, p, n));
    for (long step = 1; step <= 3; step++) {
      tu_fill_normal(g, n, 100 + (uint64_t)step, 0.0f, step == 2 ? 1e-3f : 0.5f);
      g[0] = 0.0f; /* zero gradient: moments decay, denom is eps */
      TU_OK(clgan_buf_write(ctx, bg, g, n));
      TU_OK(clgan_adam_step(ctx, &hp[k], step, n, bp, bg, bm, bv));
      ref_adam(hpd[k][0], hpd[k][1], hpd[k][2], hpd[k][3], step, n, p, g, m, v);
      float *gp = tu_download(bp, n), *gm = tu_download(bm, n), *gv = tu_download(bv, n);
      char what[64];
      snprintf(what, sizeof what, "adam set %d step %ld param", k, step);
      /* p - update cancels: allow an ulp of the update's size, ~lr */
      TU_ASSERT_CLOSE(what, gp, p, n, 1e-6, 1e-6 * hpd[k][0]);
      snprintf(what, sizeof what, "adam set %d step %ld exp_avg", k, step);
      TU_ASSERT_CLOSE(what, gm, m, n, 1e-6, 1e-12);
      snprintf(what, sizeof what, "adam set %d step %ld exp_avg_sq", k, step);
      TU_ASSERT_CLOSE(what, gv, v, n, 1e-6, 1e-18);
      free(gp), free(gm), free(gv);
    }
    /* the grads were read only; the guard floats around the arena untouched */
    float *all = tu_download(arena, 4 * n + 7);
    ck_assert_float_eq(all[0], 0.0f);
    ck_assert_float_eq(all[n + 1], 0.0f);
    ck_assert_float_eq(all[4 * n + 5], 0.0f);
    TU_ASSERT_CLOSE("adam leaves grads alone", all + n + 2, g, n, 0, 0);
    free(all), free(p), free(g), free(m), free(v);
    clgan_buf_release(&arena);
  }
}
END_TEST

START_TEST(test_adam_invalid) {
  clgan_buf b = tu_upload(NULL, 4);
  clgan_adam_params hp = {2e-4f, 0.5f, 0.999f, 1e-8f};
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &hp, 0, 4, b, b, b, b), CLGAN_ERR_INVALID);
  hp.beta2 = 1.0f;
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &hp, 1, 4, b, b, b, b), CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("loss_adam");
  TCase *tc = tcase_create("loss_adam");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_bce_matches_reference);
  tcase_add_test(tc, test_bce_finite_differences);
  tcase_add_test(tc, test_bce_extreme_logits);
  tcase_add_test(tc, test_bce_invalid);
  tcase_add_test(tc, test_adam_three_steps);
  tcase_add_test(tc, test_adam_invalid);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
