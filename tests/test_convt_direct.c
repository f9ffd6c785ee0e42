/* The direct adjoint product (cl/convt_direct.cl, src/ops/convt_direct.c):
 * every parameter set the tuner can try, on GPUs and on CPUs, and the
 * kernel's own defaults, against a C reference of the transposed
 * convolution on odd shapes (k 1-5, stride 1-3, pad 0-2, 1, 3 and 17
 * channels, batch 1 and 3) and on the DCGAN's; through the conv core's
 * plan (a Conv2d's backward data, a ConvTranspose2d's forward). Then the
 * tuner's side: the cache entry carries the mapping, an entry of the old
 * format is ignored, the search checks and times the direct candidates;
 * and a training step with the direct adjoint forced on (from the cache)
 * equals the default one within the parity test's tolerances, building
 * and allocating nothing per step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_tune.h"
#include "ops/convt_direct.h"
#include "runtime/internal.h"
#include "test_tune_util.h"
#include "test_util.h"

typedef struct adj_case {
  const char *name;
  int transposed; /* 1: ConvTranspose2d(cin -> cout) over h x w; 0: Conv2d */
  int n, cin, h, w, cout, k, stride, pad;
} adj_case;

static const adj_case cases[] = {
    {"G first: convT 1x1 -> 4x4 k4 s1 p0", 1, 3, 17, 1, 1, 3, 4, 1, 0},
    {"convT 4 -> 8 k4 s2 p1", 1, 1, 17, 4, 4, 3, 4, 2, 1},
    {"G 64px: convT 128 -> 64, 16 -> 32", 1, 3, 128, 16, 16, 64, 4, 2, 1},
    {"G last: convT 64 -> 3, 32 -> 64", 1, 1, 64, 32, 32, 3, 4, 2, 1},
    {"convT k3 s2 p0 5x5", 1, 3, 1, 5, 5, 17, 3, 2, 0},
    {"D first: conv 3 -> 64, 64 -> 32", 0, 1, 3, 64, 64, 64, 4, 2, 1},
    {"D last: conv 512 -> 1, 4 -> 1", 0, 3, 512, 4, 4, 1, 4, 1, 0},
    {"conv k1 s1 p0 7x5", 0, 3, 3, 7, 5, 17, 1, 1, 0},
    {"conv k1 s2 p0 7x7 (classes without taps)", 0, 1, 3, 7, 7, 1, 1, 2, 0},
    {"conv k3 s1 p1 9x9", 0, 1, 17, 9, 9, 3, 3, 1, 1},
    {"conv k3 s2 p1 9x8", 0, 3, 17, 9, 8, 17, 3, 2, 1},
    {"conv k3 s3 p0 10x10 (unreached pixels)", 0, 3, 1, 10, 10, 3, 3, 3, 0},
    {"conv k4 s3 p1 10x10", 0, 1, 3, 10, 10, 3, 4, 3, 1},
    {"conv k4 s2 p2 9x9", 0, 3, 3, 9, 9, 17, 4, 2, 2},
    {"conv k5 s1 p2 6x6", 0, 3, 17, 6, 6, 17, 5, 1, 2},
    {"conv k5 s2 p2 13x13", 0, 3, 17, 13, 13, 17, 5, 2, 2},
    {"conv k5 s3 p2 11x13", 0, 1, 3, 11, 13, 17, 5, 3, 2},
    {"conv k2 s2 p0 8x8", 0, 1, 1, 8, 8, 1, 2, 2, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static clgan_conv_shape case_shape(const adj_case *c) {
  clgan_conv_shape s;
  if (c->transposed)
    TU_OK(clgan_conv_shape_convt(c->n, c->cin, c->h, c->w, c->cout, c->k, c->stride, c->pad, &s));
  else
    TU_OK(clgan_conv_shape_conv(c->n, c->cin, c->h, c->w, c->cout, c->k, c->stride, c->pad, &s));
  return s;
}

/* Every set either tuner table holds, then the kernel's defaults (NULL). */
static int all_sets(const convt_direct_params **sets) {
  const convt_direct_params *t;
  int n = 0;
  for (int gpu = 1; gpu >= 0; gpu--) {
    int m = convt_direct_candidates(gpu, &t);
    for (int i = 0; i < m; i++) sets[n++] = &t[i];
  }
  sets[n++] = NULL;
  return n;
}

/* The adjoint of case c with parameter set q through the conv core's plan
 * (dx prefilled with NaN: every pixel must be written), against ref. */
static void check_case(const adj_case *c, const convt_direct_params *q) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s = case_shape(c);
  size_t ff = (size_t)s.cout * s.n * s.ho * s.wo, fw = (size_t)s.cout * s.cin * s.k * s.k;
  size_t fi = (size_t)s.cin * s.n * s.h * s.w;
  float *dy = tu_malloc(ff * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
  float *want = tu_malloc(fi * sizeof(float));
  tu_fill_uniform(dy, ff, 5, -1, 1);
  tu_fill_uniform(w, fw, 6, -1, 1);
  tt_ref_adjoint(&s, dy, w, want);
  clgan_conv_plan p;
  if (q) {
    conv_variants cv = conv_variants_default();
    cv.adj_direct = *q;
    TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  } else {
    TU_OK(convt_direct_plan_make(ctx, &s, NULL, &p.adj_direct));
    /* NULL records the kernel's defaults */
    convt_direct_params d = convt_direct_plan_params(&p.adj_direct),
                        def = CONVT_DIRECT_DEFAULT_INIT;
    ck_assert(memcmp(&d, &def, sizeof d) == 0);
  }
  ck_assert_ptr_nonnull(p.adj_direct.kernel);
  clgan_buf bdy = tu_upload(dy, ff), bw = tu_upload(w, fw), bdx = tu_upload(NULL, fi);
  TU_OK(clgan_fill(ctx, bdx, fi, NAN));
  if (q) {
    clgan_buf col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
    TU_OK(clgan_conv_plan_prepare(ctx, &p));
    if (c->transposed) TU_OK(clgan_convt2d_forward(ctx, &p, bdy, bw, bdx, col));
    else TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
    clgan_buf_release(&col);
  } else {
    TU_OK(convt_direct_run(ctx, &p.adj_direct, &s, bdy, bw, bdx));
  }
  float *got = tu_download(bdx, fi);
  char what[160], name[48];
  convt_direct_params d = convt_direct_plan_params(&p.adj_direct);
  convt_direct_name(&d, name, sizeof name);
  snprintf(what, sizeof what, "%s, %s%s", c->name, name, q ? "" : " (kernel defaults)");
  TU_ASSERT_CLOSE(what, got, want, fi, 1e-4, 1e-4);
  clgan_buf *all[] = {&bdy, &bw, &bdx};
  for (int i = 0; i < 3; i++) clgan_buf_release(all[i]);
  free(dy), free(w), free(want), free(got);
}

START_TEST(test_every_set_against_the_reference) {
  const convt_direct_params *sets[2 * CONVT_DIRECT_MAX_CANDIDATES + 1];
  int nsets = all_sets(sets);
  for (int ci = 0; ci < NCASES; ci++)
    for (int i = 0; i < nsets; i++) check_case(&cases[ci], sets[i]);
}
END_TEST

/* Bad parameter sets are refused at plan time with a message; the plan of
 * a direct adjoint reserves no column matrix of its own. */
START_TEST(test_params_and_workspace) {
  static const convt_direct_params bad[] = {
      {3, 4, 4, 5, 16},  /* tn 15 and wg 12 do not divide one another */
      {16, 16, 4, 4, 2}, /* kc not a multiple of wg / tn = 4 */
      {0, 16, 4, 4, 16}, /* a zero among nonzero */
      {16, 16, 4, 17, 16},
  };
  clgan_conv_shape s = case_shape(&cases[2]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert(!convt_direct_params_valid(&bad[i]));
    conv_variants cv = conv_variants_default();
    cv.adj_direct = bad[i];
    clgan_conv_plan p;
    ck_assert_int_eq(conv_plan_with(tu_ctx(), &s, &cv, &p), CLGAN_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "convt_direct"));
  }
  const convt_direct_params *t;
  for (int gpu = 0; gpu < 2; gpu++)
    for (int i = 0, n = convt_direct_candidates(gpu, &t); i < n; i++)
      ck_assert(convt_direct_params_valid(&t[i]));
  clgan_conv_plan def, dir;
  conv_variants cv = conv_variants_default();
  TU_OK(conv_plan_with(tu_ctx(), &s, NULL, &def));
  cv.adj_direct = (convt_direct_params)CONVT_DIRECT_DEFAULT_INIT;
  TU_OK(conv_plan_with(tu_ctx(), &s, &cv, &dir));
  /* col is what the forward and weight gradient need, the adjoint's part
   * gone (on CPUs both read the padded image: col is k*k/stride^2 smaller) */
  size_t others = def.fwd_from_image && def.filt_from_image
                      ? (size_t)s.cin * s.n * (s.h + 2 * s.pad) * (s.w + 2 * s.pad)
                      : clgan_conv_col_floats(&s);
  ck_assert_uint_eq(dir.col_floats, others);
  ck_assert_uint_le(dir.col_floats, def.col_floats);
  char name[40];
  conv_tune_plan_name(&dir, CONV_ADJ, name, sizeof name);
  ck_assert_str_eq(name, "direct 64x64 wg 16x16 kc16");
}
END_TEST

/* A version 1 payload (before the adjoint's mapping existed). */
typedef struct payload_v1 {
  char magic[8];
  int32_t variant[CONV_PRODUCTS][6];
  double winner_ms[CONV_PRODUCTS], default_ms[CONV_PRODUCTS];
} payload_v1;

START_TEST(test_cache_entry_carries_the_mapping) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_CACHED, dir, sizeof dir);
  clgan_conv_shape s = case_shape(&cases[1]);
  char key[1024];
  conv_tune_key(tu_ctx(), &s, key, sizeof key);
  conv_variants cv = conv_variants_default(), got;
  double ms[CONV_PRODUCTS] = {1, 2, 3}, a[CONV_PRODUCTS], b[CONV_PRODUCTS];
  /* an entry of the old format under this key: ignored, not misread */
  payload_v1 v1;
  memset(&v1, 0, sizeof v1);
  memcpy(v1.magic, "CLGTUNE1", 8);
  for (int i = 0; i < CONV_PRODUCTS; i++) v1.variant[i][5] = 1, v1.winner_ms[i] = 1;
  ck_assert_int_eq(clgan_cache_store(dir, "tune", key, &v1, sizeof v1), CLGAN_OK);
  ck_assert(!conv_tune_load(tu_ctx(), key, &got, a, b));
  /* out-of-range parameters: ignored */
  cv.adj_direct = (convt_direct_params){3, 4, 4, 5, 16};
  conv_tune_store(tu_ctx(), key, &cv, ms, ms);
  ck_assert(!conv_tune_load(tu_ctx(), key, &got, a, b));
  /* a valid one: read back, and what the plan runs */
  const convt_direct_params *t;
  convt_direct_candidates(1, &t);
  cv.adj_direct = t[1];
  conv_tune_store(tu_ctx(), key, &cv, ms, ms);
  ck_assert(conv_tune_load(tu_ctx(), key, &got, a, b));
  ck_assert(memcmp(&got.adj_direct, &t[1], sizeof t[1]) == 0);
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  ck_assert_ptr_nonnull(p.adj_direct.kernel);
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 1);
  ck_assert_str_eq(r.winner[CONV_ADJ], "direct 32x128 wg 16x8 kc16");
  tt_restore(&old, dir);
}
END_TEST

/* The search tries the direct sets on the backward data, each checked
 * against the reference (the default's result) and timed. */
START_TEST(test_search_times_the_direct_sets) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  tt_candidate_count count = {.prefix = "direct "};
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(4, 8, 16, 16, 16, 4, 2, 1, &s));
  tu_ctx()->tune_test_no_prune = 1; /* every set, however far the first is behind */
  tt_plan_counting(&s, &count);
  tu_ctx()->tune_test_no_prune = 0;
  const convt_direct_params *t;
  ck_assert_int_eq(count.timed, convt_direct_candidates(clgan_ctx_gpu_paths(tu_ctx()), &t));
  ck_assert_int_eq(count.rejected, 0);
  clgan_tune_record last = tt_last_record();
  ck_assert_int_eq(last.source, 2);
  fprintf(stderr, "backward data of %s: %s\n", last.shape, last.winner[CONV_ADJ]);
  tt_restore(&old, dir);
}
END_TEST

/* Two steps with the direct adjoint forced on (from the cache) equal two default ones
 * within the parity test's tolerances (tt_assert_same_step). */
START_TEST(test_direct_step_equals_default) {
  clgan_dcgan_config cfg = tt_small_config(3, 6);
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_OFF, dir, sizeof dir);
  /* cache entries choosing the direct adjoint (this device's first set)
   * for every shape the model planned */
  const convt_direct_params *t;
  convt_direct_candidates(clgan_ctx_gpu_paths(tu_ctx()), &t);
  conv_variants cv = conv_variants_default();
  cv.adj_direct = t[0];
  tt_step_result plain;
  clgan_tune_report after;
  int first;
  tt_step_result direct = tt_steps_forced(&cfg, 2, &cv, &plain, &after, &first);
  for (int i = first; i < after.nrecords; i++)
    ck_assert_msg(strncmp(after.records[i].winner[CONV_ADJ], "direct ", 7) == 0,
                  "%s: backward data runs %s", after.records[i].shape,
                  after.records[i].winner[CONV_ADJ]);
  tt_assert_same_step("direct adjoint step", &direct, &plain); /* frees direct's parameters */
  tt_step_free(&plain);
  tt_restore(&old, dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("convt_direct");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_every_set_against_the_reference);
  tcase_add_test(tc, test_params_and_workspace);
  tcase_add_test(tc, test_cache_entry_carries_the_mapping);
  tcase_add_test(tc, test_search_times_the_direct_sets);
  tcase_add_test(tc, test_direct_step_equals_default);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
