/* Adam against a double-precision host reference following PyTorch 1.13's
 * formulas (the recipe's hyperparameters and another set), its plans. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const clgan_buf no_skip = {0};

static clgan_adam_plan plan_for(int guarded) {
  clgan_adam_plan p;
  TU_OK(clgan_adam_plan_make(tu_ctx(), guarded, &p));
  return p;
}

/* PyTorch 1.13 _single_tensor_adam on float tensors: the scalars are Python
 * doubles (hence 0.999 here, not 0.999f), cast to float where they meet a
 * tensor; tensor arithmetic is float, in PyTorch's operation order. */
static void ref_adam(double lr, double beta1, double beta2, double eps, long step, size_t n,
                     float *p, const float *g, float *m, float *v) {
  double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
  float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
  float b1 = (float)beta1, omb1 = (float)(1 - beta1), b2 = (float)beta2, omb2 = (float)(1 - beta2),
        e = (float)eps;
  for (size_t i = 0; i < n; i++) {
    m[i] = m[i] * b1 + omb1 * g[i];            /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
    v[i] = v[i] * b2 + omb2 * g[i] * g[i];     /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
    float denom = sqrtf(v[i]) / bc2_sqrt + e;  /* (v.sqrt() / bc2_sqrt).add_(eps) */
    p[i] = p[i] + (-step_size) * m[i] / denom; /* p.addcdiv_(m, denom, value=-step_size) */
  }
}

START_TEST(test_adam_three_steps) {
  clgan_ctx *ctx = tu_ctx();
  const size_t n = 1003;
  /* the recipe's hyperparameters, and a second set */
  const clgan_adam_params hp[2] = {{2e-4f, 0.5f, 0.999f, 1e-8f}, {1e-2f, 0.9f, 0.99f, 1e-6f}};
  const double hpd[2][4] = {{2e-4, 0.5, 0.999, 1e-8}, {1e-2, 0.9, 0.99, 1e-6}};
  clgan_adam_plan plan = plan_for(0);
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
      TU_OK(clgan_adam_step(ctx, &plan, &hp[k], step, n, bp, bg, bm, bv, no_skip));
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
  clgan_buf b = tu_upload(NULL, 4), flag = tu_upload(NULL, 1);
  clgan_adam_params hp = {2e-4f, 0.5f, 0.999f, 1e-8f};
  clgan_adam_plan plain = plan_for(0), guarded = plan_for(1);
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &plain, &hp, 0, 4, b, b, b, b, no_skip),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), NULL, &hp, 1, 4, b, b, b, b, no_skip),
                   CLGAN_ERR_INVALID);
  /* the flag goes with a guarded plan, and only with one */
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &guarded, &hp, 1, 4, b, b, b, b, no_skip),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &plain, &hp, 1, 4, b, b, b, b, flag),
                   CLGAN_ERR_INVALID);
  hp.beta2 = 1.0f;
  ck_assert_int_eq(clgan_adam_step(tu_ctx(), &plain, &hp, 1, 4, b, b, b, b, no_skip),
                   CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
  clgan_buf_release(&flag);
}
END_TEST

/* Guarded and plain updates are two builds of one kernel. */
START_TEST(test_adam_plans) {
  clgan_adam_plan plain = plan_for(0), guarded = plan_for(1), again = plan_for(7);
  ck_assert_int_eq(plain.guarded, 0);
  ck_assert_int_eq(guarded.guarded, 1);
  ck_assert_int_eq(again.guarded, 1);
  ck_assert_ptr_ne(plain.kernel, guarded.kernel);
  ck_assert_ptr_eq(again.kernel, guarded.kernel);
}
END_TEST

int main(void) {
  Suite *s = suite_create("adam");
  TCase *tc = tcase_create("adam");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_adam_three_steps);
  tcase_add_test(tc, test_adam_invalid);
  tcase_add_test(tc, test_adam_plans);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
