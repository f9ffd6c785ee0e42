/* ADA on the device: the sign statistic r_t, the update of p against the
 * host twin (clgan_ada_observe) and against this file's own float
 * reference of the rule, bit for bit; the augmentation drawing with the p
 * the update left on the device; plans, frozen contexts, arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/ada.h"
#include "clgan/augment.h"
#include "test_util.h"

/* The rule as the README states it, written out here in float: every 4
 * steps p += sign(mean r_t - target) * batch * 4 / 500000, clamped. */
typedef struct ref_state {
  float p, sum;
  int count;
} ref_state;

static void ref_observe(ref_state *r, float rt, float target, int batch) {
  r->sum += rt;
  if (++r->count < 4) return;
  float mean = r->sum * 0.25f, delta = (float)(batch * 4) / 500000.0f;
  float p = mean > target ? r->p + delta : mean < target ? r->p - delta : r->p;
  r->p = p < 0.0f ? 0.0f : p > 1.0f ? 1.0f : p;
  r->sum = 0.0f;
  r->count = 0;
}

/* The device state against the host twin and the reference, bitwise. */
static void check_state(const char *what, int step, const float *dev,
                        const clgan_augment_state *twin, const ref_state *ref, float p_used) {
  ck_assert_msg(memcmp(&dev[CLGAN_ADA_P], &twin->p, sizeof(float)) == 0 &&
                    memcmp(&twin->p, &ref->p, sizeof(float)) == 0,
                "%s step %d: p device %.9g, host twin %.9g, reference %.9g", what, step,
                (double)dev[CLGAN_ADA_P], (double)twin->p, (double)ref->p);
  ck_assert_msg(
      memcmp(&dev[CLGAN_ADA_SUM], &twin->ada_sum, sizeof(float)) == 0 && twin->ada_sum == ref->sum,
      "%s step %d: sum device %.9g, host twin %.9g, reference %.9g", what, step,
      (double)dev[CLGAN_ADA_SUM], (double)twin->ada_sum, (double)ref->sum);
  ck_assert_msg(dev[CLGAN_ADA_COUNT] == (float)twin->ada_count && twin->ada_count == ref->count,
                "%s step %d: count device %g, host twin %d", what, step,
                (double)dev[CLGAN_ADA_COUNT], twin->ada_count);
  ck_assert_msg(dev[CLGAN_ADA_P_STEP] == p_used, "%s step %d: P_STEP %.9g, the step used %.9g",
                what, step, (double)dev[CLGAN_ADA_P_STEP], (double)p_used);
}

START_TEST(test_sign_mean) {
  static const int counts[] = {1, 7, 64, 1000, 100003};
  clgan_ctx *ctx = tu_ctx();
  for (size_t ci = 0; ci < 5; ci++) {
    int n = counts[ci];
    float *x = tu_malloc((size_t)n * sizeof *x);
    tu_fill_normal(x, (size_t)n, 100 + ci, 0.3f, 1.0f);
    for (int i = 0; i < n; i += 5) x[i] = 0.0f;
    if (n > 3) x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e-30f;
    long sum = 0;
    for (int i = 0; i < n; i++) sum += (x[i] > 0) - (x[i] < 0);
    clgan_ada_plan plan;
    TU_OK(clgan_ada_plan_make(ctx, n, 0.6f, &plan));
    clgan_buf arena = tu_upload(NULL, (size_t)n + 9);
    clgan_buf bx = clgan_buf_at(arena, 5), out = clgan_buf_at(arena, (size_t)n + 7);
    TU_OK(clgan_buf_write(ctx, bx, x, (size_t)n));
    TU_OK(clgan_ada_sign_mean(ctx, &plan, bx, out));
    float got;
    TU_OK(clgan_buf_read(ctx, out, &got, 1));
    float want = (float)sum / (float)n;
    ck_assert_msg(got == want, "sign_mean n=%d: got %.9g want %.9g", n, (double)got, (double)want);
    float *all = tu_download(arena, (size_t)n + 9);
    ck_assert(all[n + 6] == 0.0f && all[n + 8] == 0.0f);
    free(all), free(x);
    clgan_buf_release(&arena);
  }
}
END_TEST

START_TEST(test_ada_rule) {
  /* A scripted sequence of D's logits on real batches of 8: r_t is the mean
   * sign, measured on the device; p moves every 4 steps by
   * sign(mean r_t - 0.6) * 8 * 4 / 500000, clamped to [0, 1]. */
  const float logits[12][8] = {
      {1, 2, 3, 4, 5, 6, 7, 8},         {1, 1, 1, 1, 1, 1, -1, -1},      {3, 3, 3, 3, 3, 3, 3, 3},
      {1, 1, 1, 1, 1, 1, 1, 1}, /* mean r_t (1 + 0.5 + 1 + 1) / 4 = 0.875 > 0.6: up */
      {-1, -1, -1, -1, 1, 1, 1, 1},     {-2, -2, -2, -2, -2, -2, -2, 2}, {0, 0, 0, 0, 0, 0, 0, 0},
      {-1, -1, -1, -1, -1, -1, -1, -1}, /* mean (0 - 0.75 + 0 - 1) / 4 < 0.6: down */
      {1, 1, 1, 1, 1, -1, -1, 0},       {1, 1, 1, 1, 1, -1, 1, -1},      {1, 1, 1, 1, 1, 1, -1, -1},
      {1, 1, 1, 1, 1, 1, 1, 0}}; /* mean (0.375 + 0.5 + 0.5 + 0.875) / 4 = 0.5625: down */
  clgan_ctx *ctx = tu_ctx();
  clgan_ada_plan plan;
  TU_OK(clgan_ada_plan_make(ctx, 8, 0.6f, &plan));
  ck_assert(plan.delta == (float)(8 * 4) / 500000.0f);
  clgan_buf x = tu_upload(NULL, 8), rt = tu_upload(NULL, 1);
  clgan_buf state = tu_upload(NULL, CLGAN_ADA_STATE_FLOATS);
  clgan_augment_state twin = {0};
  ref_state ref = {0};
  const float delta = 8.0f * 4 / 500000.0f;
  float want = 0.0f;
  for (int step = 0; step < 12; step++) {
    float r, dev[CLGAN_ADA_STATE_FLOATS], used = twin.p;
    TU_OK(clgan_buf_write(ctx, x, logits[step], 8));
    TU_OK(clgan_ada_sign_mean(ctx, &plan, x, rt));
    TU_OK(clgan_ada_update(ctx, &plan, rt, state));
    TU_OK(clgan_buf_read(ctx, rt, &r, 1));
    TU_OK(clgan_buf_read(ctx, state, dev, CLGAN_ADA_STATE_FLOATS));
    ck_assert_int_eq(clgan_ada_observe(&twin, r, 0.6f, 8), step % 4 == 3);
    ref_observe(&ref, r, 0.6f, 8);
    if (step == 3) want += delta;
    if (step == 7) want = want - delta < 0 ? 0 : want - delta; /* clamped at 0 */
    if (step == 11) want = want - delta < 0 ? 0 : want - delta;
    ck_assert_msg(twin.p == want, "step %d: p %.9g, want %.9g", step, (double)twin.p, (double)want);
    check_state("scripted", step, dev, &twin, &ref, used);
  }
  ck_assert_float_eq(twin.p, 0.0f);
  /* clamped at 1 from above; exactly on target: no move */
  twin.p = 1.0f;
  for (int i = 0; i < 4; i++) clgan_ada_observe(&twin, 1.0f, 0.6f, 8);
  ck_assert_float_eq(twin.p, 1.0f);
  twin.p = 0.5f;
  for (int i = 0; i < 4; i++) clgan_ada_observe(&twin, 0.6f, 0.6f, 8);
  ck_assert_float_eq(twin.p, 0.5f);
  clgan_buf_release(&x), clgan_buf_release(&rt), clgan_buf_release(&state);
}
END_TEST

/* Long random sequences from various states (a checkpoint's half-filled
 * interval, p near both clamps, big and small steps): device, host twin and
 * reference agree bit for bit after every step. */
START_TEST(test_update_matches_host) {
  static const struct {
    int batch;
    float target, p, sum;
    int count;
  } cases[] = {{8, 0.6f, 0.0f, 0.0f, 0},     {128, 0.6f, 0.001f, 0.5f, 2},
               {50000, 0.0f, 0.9f, 0.0f, 3}, {1000, 0.3f, 1.0f, -0.75f, 1},
               {3, 0.2f, 0.5f, 0.0f, 6},     {64, 1.0f, 0.0003f, 0.125f, 3}};
  clgan_ctx *ctx = tu_ctx();
  clgan_buf rts = tu_upload(NULL, 96), state = tu_upload(NULL, CLGAN_ADA_STATE_FLOATS);
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    clgan_ada_plan plan;
    TU_OK(clgan_ada_plan_make(ctx, cases[ci].batch, cases[ci].target, &plan));
    clgan_augment_state twin = {
        .p = cases[ci].p, .ada_sum = cases[ci].sum, .ada_count = cases[ci].count};
    ref_state ref = {cases[ci].p, cases[ci].sum, cases[ci].count};
    float init[CLGAN_ADA_STATE_FLOATS], r[96];
    clgan_ada_state_pack(&twin, init);
    TU_OK(clgan_buf_write(ctx, state, init, CLGAN_ADA_STATE_FLOATS));
    /* r_t values as the sign mean makes them: k / batch, k in [-batch, batch] */
    tu_fill_uniform(r, 96, 7 + ci, -1.0f, 1.0f);
    for (int i = 0; i < 96; i++) {
      int k = (int)lrintf(r[i] * (float)cases[ci].batch);
      r[i] = (float)k / (float)cases[ci].batch;
    }
    TU_OK(clgan_buf_write(ctx, rts, r, 96));
    int moved = 0;
    for (int step = 0; step < 96; step++) {
      float dev[CLGAN_ADA_STATE_FLOATS], used = twin.p;
      TU_OK(clgan_ada_update(ctx, &plan, clgan_buf_at(rts, (size_t)step), state));
      TU_OK(clgan_buf_read(ctx, state, dev, CLGAN_ADA_STATE_FLOATS));
      clgan_ada_observe(&twin, r[step], cases[ci].target, cases[ci].batch);
      ref_observe(&ref, r[step], cases[ci].target, cases[ci].batch);
      moved += twin.p != used;
      check_state("random", step, dev, &twin, &ref, used);
      clgan_augment_state back = {0};
      clgan_ada_state_unpack(dev, &back);
      ck_assert(back.p == twin.p && back.ada_sum == twin.ada_sum &&
                back.ada_count == twin.ada_count);
    }
    ck_assert_msg(moved > 0 || cases[ci].target == 1.0f || cases[ci].p == 1.0f,
                  "case %zu: p never moved", ci);
  }
  clgan_buf_release(&rts), clgan_buf_release(&state);
}
END_TEST

/* The augmentation draws with the p the update left on the device. */
START_TEST(test_ada_drives_augmentation) {
  clgan_ctx *ctx = tu_ctx();
  const int n = 32, hw = 8;
  clgan_ada_plan plan;
  TU_OK(clgan_ada_plan_make(ctx, 50000, 0.0f, &plan)); /* delta 0.4 per interval */
  clgan_augment_plan aug;
  TU_OK(clgan_augment_plan_make(ctx, CLGAN_AUG_ALL, 1, n, hw, hw, &aug));
  size_t count = (size_t)n * hw * hw;
  clgan_buf x = tu_upload(NULL, count), y = tu_upload(NULL, count);
  clgan_buf work = tu_upload(NULL, clgan_augment_work_floats(1, n, hw, hw));
  clgan_buf state = tu_upload(NULL, CLGAN_ADA_STATE_FLOATS);
  const float one = 1.0f;
  clgan_buf rt = tu_upload(&one, 1);
  clgan_augment_state twin = {0};
  float *recs = tu_malloc((size_t)n * CLGAN_AUG_STRIDE * sizeof *recs);
  for (int step = 0; step < 14; step++) {
    TU_OK(clgan_augment_forward(ctx, &aug, 5, (uint64_t)step, clgan_buf_at(state, CLGAN_ADA_P), x,
                                y, work));
    TU_OK(clgan_augment_read_params(ctx, n, work, recs));
    for (int b = 0; b < n; b++) {
      float want[CLGAN_AUG_STRIDE];
      clgan_augment_params_host(CLGAN_AUG_ALL, twin.p, 5, (uint64_t)step, b, hw, hw, want);
      ck_assert_msg(
          memcmp(recs + b * CLGAN_AUG_STRIDE, want, CLGAN_AUG_P_MEAN * sizeof(float)) == 0,
          "step %d image %d: not drawn with p %g", step, b, (double)twin.p);
    }
    TU_OK(clgan_ada_update(ctx, &plan, rt, state));
    clgan_ada_observe(&twin, 1.0f, 0.0f, 50000);
  }
  ck_assert_float_eq(twin.p, 1.0f); /* 0, 0.4, 0.8, then clamped */
  free(recs);
  clgan_buf_release(&x), clgan_buf_release(&y), clgan_buf_release(&work);
  clgan_buf_release(&state), clgan_buf_release(&rt);
}
END_TEST

START_TEST(test_plan_frozen_and_invalid) {
  clgan_ctx *ctx = tu_ctx();
  clgan_ada_plan plan, none = {0};
  ck_assert_int_eq(clgan_ada_plan_make(ctx, 0, 0.6f, &plan), CLGAN_ERR_INVALID);
  TU_OK(clgan_ada_plan_make(ctx, 5, 0.6f, &plan));
  clgan_buf b = tu_upload(NULL, 8), null = {0};
  clgan_ctx_freeze(ctx, 1); /* a planned step builds nothing */
  TU_OK(clgan_ada_sign_mean(ctx, &plan, b, clgan_buf_at(b, 5)));
  TU_OK(clgan_ada_update(ctx, &plan, clgan_buf_at(b, 5), clgan_buf_at(b, 4)));
  clgan_ctx_freeze(ctx, 0);
  ck_assert_int_eq(clgan_ada_sign_mean(ctx, &none, b, b), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_ada_sign_mean(ctx, &plan, null, b), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_ada_update(ctx, &none, b, b), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_ada_update(ctx, &plan, b, null), CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

/* Through the model: each step's augmentations use the device's p (the
 * stats report it), the step feeds r_t to the update, and the state read
 * back follows the host twin fed with the reported r_t, bit for bit. */
START_TEST(test_dcgan_step_runs_ada) {
  clgan_dcgan_config c = clgan_dcgan_default_config();
  c.image_size = 16, c.channels = 1, c.nz = 4, c.ngf = 3, c.ndf = 3, c.batch = 3;
  c.augment = CLGAN_AUG_ALL, c.ada = 1;
  c.ada_target = -2.0f; /* below any r_t: p rises every interval */
  clgan_dcgan *net;
  TU_OK(clgan_dcgan_create(tu_ctx(), &c, &net));
  TU_OK(clgan_dcgan_init_weights(net, 4));
  clgan_augment_state twin;
  TU_OK(clgan_dcgan_get_augment(net, &twin));
  ck_assert(twin.p == 0.0f && twin.ada_count == 0 && twin.counter == 0);
  twin.seed = 99, twin.p = 0.25f, twin.ada_count = 2, twin.ada_sum = 0.5f;
  TU_OK(clgan_dcgan_set_augment(net, &twin));
  size_t nr = (size_t)c.batch * 16 * 16, nn = (size_t)c.nz * c.batch;
  float *r = tu_malloc(nr * sizeof *r), *z = tu_malloc(nn * sizeof *z);
  tu_fill_uniform(r, nr, 11, -1, 1);
  tu_fill_normal(z, nn, 12, 0, 1);
  clgan_buf rb = tu_upload(r, nr), zb = tu_upload(z, nn);
  for (int step = 0; step < 10; step++) {
    clgan_dcgan_stats st;
    TU_OK(clgan_dcgan_step(net, rb, zb, &st));
    ck_assert_msg(st.augment_p == twin.p, "step %d used p %.9g, want %.9g", step,
                  (double)st.augment_p, (double)twin.p);
    clgan_ada_observe(&twin, st.sign_real, c.ada_target, c.batch);
    clgan_ctx_freeze(tu_ctx(), 1); /* later steps build nothing */
  }
  clgan_ctx_freeze(tu_ctx(), 0);
  clgan_augment_state got;
  TU_OK(clgan_dcgan_get_augment(net, &got));
  ck_assert(got.p == twin.p && got.ada_sum == twin.ada_sum && got.ada_count == twin.ada_count);
  ck_assert_uint_eq(got.seed, 99);
  ck_assert_uint_eq(got.counter, 30); /* three augmentations per step */
  float want = 0.25f;                 /* intervals end at steps 1, 5, 9: three moves up, in float */
  for (int i = 0; i < 3; i++) want += (float)(3 * 4) / 500000.0f;
  ck_assert_float_eq(got.p, want);
  got.p = 1.5f;
  ck_assert_int_eq(clgan_dcgan_set_augment(net, &got), CLGAN_ERR_INVALID);
  clgan_buf_release(&rb), clgan_buf_release(&zb);
  free(r), free(z);
  clgan_dcgan_destroy(net);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ada");
  TCase *tc = tcase_create("ada");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_sign_mean);
  tcase_add_test(tc, test_ada_rule);
  tcase_add_test(tc, test_update_matches_host);
  tcase_add_test(tc, test_ada_drives_augmentation);
  tcase_add_test(tc, test_plan_frozen_and_invalid);
  tcase_add_test(tc, test_dcgan_step_runs_ada);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
