/* Activations against double-precision host references (PyTorch 1.13
 * semantics) and finite differences of sum(act(x) * r). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_norm.h"
#include "test_util.h"

static float *read_all(clgan_buf b, size_t n) {
  TU_OK(clgan_ctx_finish(tu_ctx()));
  return tu_download(b, n);
}

static clgan_act_plan plan_for(int act) {
  clgan_act_plan p;
  TU_OK(clgan_act_plan_make(tu_ctx(), (clgan_act)act, &p));
  return p;
}

static const size_t act_sizes[] = {1, 7, 33, 1000, 4099};

START_TEST(test_act_forward_backward) {
  clgan_ctx *ctx = tu_ctx();
  for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
    clgan_act_plan plan = plan_for(act);
    for (size_t si = 0; si < sizeof act_sizes / sizeof *act_sizes; si++) {
      size_t n = act_sizes[si];
      char what[96];
      float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
      tu_fill_normal(x, n, 100 + n + (uint64_t)act, 0.0f, 3.0f);
      tu_fill_uniform(dy, n, 200 + n, -1.0f, 1.0f);
      if (n > 4) x[0] = 0.0f, x[1] = -0.0f, x[2] = 20.0f, x[3] = -20.0f;
      /* x and y at different offsets of one buffer, plus a separate dx */
      clgan_buf arena = tu_upload(NULL, 2 * n + 8);
      clgan_buf bx = clgan_buf_at(arena, 3), by = clgan_buf_at(arena, n + 5);
      clgan_buf bdy = tu_upload(dy, n), bdx = tu_upload(NULL, n);
      TU_OK(clgan_buf_write(ctx, bx, x, n));
      TU_OK(clgan_act_forward(ctx, &plan, SLOPE, n, bx, by));
      TU_OK(clgan_act_backward(ctx, &plan, SLOPE, n, by, bdy, bdx));
      float *y = read_all(by, n), *dx = read_all(bdx, n);
      float *want = tu_malloc(n * sizeof *want), *wantd = tu_malloc(n * sizeof *wantd);
      for (size_t i = 0; i < n; i++) {
        want[i] = (float)ref_act(act, x[i], SLOPE);
        wantd[i] = (float)(dy[i] * ref_act_grad_from_out(act, y[i], SLOPE));
      }
      snprintf(what, sizeof what, "%s forward n=%zu", ref_act_names[act], n);
      TU_ASSERT_CLOSE(what, y, want, n, 2e-6, 1e-7);
      snprintf(what, sizeof what, "%s backward n=%zu", ref_act_names[act], n);
      TU_ASSERT_CLOSE(what, dx, wantd, n, 2e-6, 1e-7);
      /* the untouched guard floats around x and y stay zero */
      float *all = read_all(arena, 2 * n + 8);
      ck_assert_float_eq(all[0], 0.0f);
      ck_assert_float_eq(all[2 * n + 7], 0.0f);
      free(all);

      /* in place: y = act(x) over x, then dy * act'(y) over dy */
      TU_OK(clgan_act_forward(ctx, &plan, SLOPE, n, bx, bx));
      TU_OK(clgan_act_backward(ctx, &plan, SLOPE, n, bx, bdy, bdy));
      float *y2 = read_all(bx, n), *dx2 = read_all(bdy, n);
      snprintf(what, sizeof what, "%s in-place forward n=%zu", ref_act_names[act], n);
      TU_ASSERT_CLOSE(what, y2, y, n, 0, 0);
      snprintf(what, sizeof what, "%s in-place backward n=%zu", ref_act_names[act], n);
      TU_ASSERT_CLOSE(what, dx2, dx, n, 0, 0);
      free(y2), free(dx2);
      free(x), free(dy), free(y), free(dx), free(want), free(wantd);
      clgan_buf_release(&arena), clgan_buf_release(&bdy), clgan_buf_release(&bdx);
    }
  }
}
END_TEST

/* Device backward vs central differences of sum(act(x) * r) in double. */
START_TEST(test_act_finite_differences) {
  clgan_ctx *ctx = tu_ctx();
  const size_t n = 257;
  float *x = tu_malloc(n * sizeof *x), *r = tu_malloc(n * sizeof *r);
  float *fd = tu_malloc(n * sizeof *fd);
  for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
    clgan_act_plan plan = plan_for(act);
    tu_fill_normal(x, n, 7 + (uint64_t)act, 0.0f, 2.0f);
    tu_fill_uniform(r, n, 8 + (uint64_t)act, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
      if (fabsf(x[i]) < 1e-3f) x[i] = 0.5f; /* keep away from ReLU's kink */
    clgan_buf bx = tu_upload(x, n), by = tu_upload(NULL, n), br = tu_upload(r, n);
    clgan_buf bdx = tu_upload(NULL, n);
    TU_OK(clgan_act_forward(ctx, &plan, SLOPE, n, bx, by));
    TU_OK(clgan_act_backward(ctx, &plan, SLOPE, n, by, br, bdx));
    float *dx = read_all(bdx, n);
    const double h = 1e-5;
    for (size_t i = 0; i < n; i++)
      fd[i] =
          (float)(r[i] * (ref_act(act, x[i] + h, SLOPE) - ref_act(act, x[i] - h, SLOPE)) / (2 * h));
    char what[64];
    snprintf(what, sizeof what, "%s backward vs finite differences", ref_act_names[act]);
    TU_ASSERT_CLOSE(what, dx, fd, n, 1e-5, 1e-6);
    free(dx);
    clgan_buf_release(&bx), clgan_buf_release(&by), clgan_buf_release(&br), clgan_buf_release(&bdx);
  }
  free(x), free(r), free(fd);
}
END_TEST

/* Tanh's own formula (cl/common.cl): within 2 ulp of double tanh on a
 * dense sweep of [-12, 12] (the polynomial's range, its edge at 0.9, tiny
 * values, the exp form, the saturation to +-1), its sign at -0, NaN kept,
 * +-inf to +-1. */
START_TEST(test_tanh_ulps) {
  clgan_ctx *ctx = tu_ctx();
  const size_t sweep = 200000, n = sweep + 8;
  float *x = tu_malloc(n * sizeof *x);
  for (size_t i = 0; i < sweep; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(sweep - 1);
  const float special[8] = {0.0f, -0.0f, 1e-30f, -3e-7f, 0.9f, nextafterf(0.9f, 0.0f), INFINITY,
                            -INFINITY};
  memcpy(x + sweep, special, sizeof special);
  clgan_act_plan plan = plan_for(CLGAN_ACT_TANH);
  clgan_buf bx = tu_upload(x, n), by = tu_upload(NULL, n);
  TU_OK(clgan_act_forward(ctx, &plan, SLOPE, n, bx, by));
  float *y = read_all(by, n);
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < n - 2; i++) {
    const double want = tanh((double)x[i]);
    const float wf = (float)want;
    const double ulp = (double)nextafterf(fabsf(wf), INFINITY) - (double)fabsf(wf);
    const double e = fabs((double)y[i] - want) / ulp;
    if (e > worst) worst = e, worst_i = i;
  }
  if (worst > 2.0)
    ck_abort_msg("tanh(%.9g) = %.9g, %.2f ulp from %.9g", (double)x[worst_i], (double)y[worst_i],
                 worst, tanh((double)x[worst_i]));
  ck_assert(signbit(y[sweep + 1]) && y[sweep + 1] == 0.0f);
  ck_assert(y[sweep + 6] == 1.0f && y[sweep + 7] == -1.0f);
  free(y);
  /* NaN in, NaN out */
  const float nan_in = NAN;
  TU_OK(clgan_buf_write(ctx, bx, &nan_in, 1));
  TU_OK(clgan_act_forward(ctx, &plan, SLOPE, 1, bx, by));
  float *one = read_all(by, 1);
  ck_assert(isnan(one[0]));
  free(one), free(x);
  clgan_buf_release(&bx), clgan_buf_release(&by);
}
END_TEST

START_TEST(test_act_invalid) {
  clgan_act_plan plan;
  ck_assert_int_eq(clgan_act_plan_make(tu_ctx(), CLGAN_ACT_COUNT, &plan), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_act_plan_make(tu_ctx(), (clgan_act)-1, &plan), CLGAN_ERR_INVALID);
  clgan_buf b = tu_upload(NULL, 4);
  clgan_act_plan relu = plan_for(CLGAN_ACT_RELU), tanh_plan = plan_for(CLGAN_ACT_TANH);
  ck_assert_int_eq(clgan_act_forward(tu_ctx(), NULL, 0, 4, b, b), CLGAN_ERR_INVALID);
  TU_OK(clgan_act_forward(tu_ctx(), &relu, 0, 0, b, b)); /* empty: nothing to do */
  clgan_buf null = {0};
  ck_assert_int_eq(clgan_act_backward(tu_ctx(), &tanh_plan, 0, 4, b, null, b), CLGAN_ERR_INVALID);
  /* offsets past 2^32 floats: the kernels index with uint */
  ck_assert_int_eq(clgan_act_forward(tu_ctx(), &relu, 0, 4, clgan_buf_at(b, (size_t)UINT32_MAX), b),
                   CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

/* Every activation has its own kernels, and the plan keeps its activation. */
START_TEST(test_act_plans) {
  clgan_act_plan p[CLGAN_ACT_COUNT];
  for (int a = 0; a < CLGAN_ACT_COUNT; a++) {
    p[a] = plan_for(a);
    ck_assert_int_eq(p[a].act, a);
    ck_assert_ptr_nonnull(p[a].forward);
    ck_assert_ptr_nonnull(p[a].backward);
    ck_assert_ptr_ne(p[a].forward, p[a].backward);
    for (int b = 0; b < a; b++) ck_assert_ptr_ne(p[a].forward, p[b].forward);
  }
  /* planning again finds the context's kernels: nothing new is created */
  clgan_act_plan again = plan_for(CLGAN_ACT_TANH);
  ck_assert_ptr_eq(again.forward, p[CLGAN_ACT_TANH].forward);
}
END_TEST

int main(void) {
  Suite *s = suite_create("act");
  TCase *tc = tcase_create("act");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_act_plans);
  tcase_add_test(tc, test_act_forward_backward);
  tcase_add_test(tc, test_act_finite_differences);
  tcase_add_test(tc, test_tanh_ulps);
  tcase_add_test(tc, test_act_invalid);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
