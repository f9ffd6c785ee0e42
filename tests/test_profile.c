/* The per-kernel profiling hook (src/runtime/profile.c) that `clgan bench`
 * uses: events recorded per launch under regions, summed and released by
 * collect, dropped beyond capacity, regions set by the graph and the step. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "test_util.h"

static clgan_ctx *profiling_ctx(void) {
  tu_ctx(); /* skips (77) when no OpenCL device exists */
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .profiling = 1};
  clgan_ctx *ctx = NULL;
  TU_OK(clgan_ctx_create(&o, &ctx));
  return ctx;
}

static const clgan_profile_item *item(const clgan_profile_item *list, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(list[i].name, name) == 0) return &list[i];
  return NULL;
}

START_TEST(test_regions_and_reset) {
  clgan_ctx *ctx = profiling_ctx();
  clgan_buf b = {0};
  TU_OK(clgan_buf_alloc(ctx, 4096, &b));
  clgan_profile_region(ctx, "first %d", 1);
  for (int i = 0; i < 3; i++) TU_OK(clgan_fill(ctx, b, 4096, (float)i));
  clgan_profile_region(ctx, "second");
  for (int i = 0; i < 2; i++) TU_OK(clgan_fill(ctx, b, 4096, (float)i));
  clgan_profile_report *r = tu_malloc(sizeof *r);
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  ck_assert_int_eq(r->events, 5);
  ck_assert_int_eq(r->dropped, 0);
  const clgan_profile_item *a = item(r->regions, r->nregions, "first 1");
  const clgan_profile_item *s = item(r->regions, r->nregions, "second");
  const clgan_profile_item *k = item(r->kernels, r->nkernels, "fill");
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(k);
  ck_assert_int_eq(a->launches, 3);
  ck_assert_int_eq(s->launches, 2);
  ck_assert_int_eq(k->launches, 5);
  ck_assert(r->busy_seconds > 0);
  ck_assert(r->span_seconds >= 0);
  double cells = 0;
  for (int i = 0; i < r->nregions; i++)
    for (int j = 0; j < r->nkernels; j++) cells += r->cell_seconds[i][j];
  ck_assert(cells > 0.999 * r->busy_seconds && cells < 1.001 * r->busy_seconds);
  ck_assert(a->seconds + s->seconds <= r->busy_seconds * 1.001);
  /* collect starts afresh */
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  ck_assert_int_eq(r->events, 0);
  /* a context without profiling records nothing and says so */
  ck_assert_ptr_null(clgan_profile_next_event(tu_ctx(), "x"));
  ck_assert_int_eq(clgan_ctx_profile_collect(tu_ctx(), r), CLGAN_ERR_INVALID);
  free(r);
  clgan_buf_release(&b);
  clgan_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_capacity_drops) {
  clgan_ctx *ctx = profiling_ctx();
  clgan_buf b = {0};
  TU_OK(clgan_buf_alloc(ctx, 16, &b));
  for (int i = 0; i < CLGAN_PROFILE_CAPACITY + 7; i++) TU_OK(clgan_fill(ctx, b, 16, 1.0f));
  clgan_profile_report *r = tu_malloc(sizeof *r);
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  ck_assert_int_eq(r->events, CLGAN_PROFILE_CAPACITY);
  ck_assert_int_eq(r->dropped, 7);
  TU_OK(clgan_fill(ctx, b, 16, 1.0f)); /* recording again after collect */
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  ck_assert_int_eq(r->events, 1);
  ck_assert_int_eq(r->dropped, 0);
  free(r);
  clgan_buf_release(&b);
  clgan_ctx_destroy(ctx); /* also releases events never collected */
}
END_TEST

START_TEST(test_step_regions) {
  clgan_ctx *ctx = profiling_ctx();
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 16, cfg.channels = 1, cfg.nz = 5, cfg.ngf = 3, cfg.ndf = 2, cfg.batch = 3;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(ctx, &cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 7));
  size_t nreal = (size_t)cfg.batch * 16 * 16, nnoise = (size_t)cfg.nz * cfg.batch;
  float *host = tu_malloc(nreal * sizeof *host);
  /* on the profiling context: a buffer of another context (tu_upload's) is
   * invalid there (NVIDIA's runtime says so; PoCL does not check) */
  clgan_buf real, noise;
  TU_OK(clgan_buf_alloc(ctx, nreal, &real));
  TU_OK(clgan_buf_alloc(ctx, nnoise, &noise));
  tu_fill_uniform(host, nreal, 3, -1, 1);
  TU_OK(clgan_buf_write(ctx, real, host, nreal));
  tu_fill_normal(host, nnoise, 4, 0, 1);
  TU_OK(clgan_buf_write(ctx, noise, host, nnoise));
  clgan_profile_report *r = tu_malloc(sizeof *r);
  TU_OK(clgan_dcgan_step(net, real, noise, NULL)); /* creates the kernels */
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  clgan_dcgan_stats s;
  TU_OK(clgan_dcgan_step(net, real, noise, &s));
  TU_OK(clgan_ctx_profile_collect(ctx, r));
  /* 16 px: G and D have three layers each; every launch of the step is in a
   * named region (nothing left in "other") */
  static const char *const want[] = {"G1 fwd", "G2 fwd", "G3 fwd", "G1 bwd", "G2 bwd",
                                     "G3 bwd", "D1 fwd", "D3 fwd", "D1 bwd", "D3 bwd",
                                     "loss",   "D update", "G update"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    const clgan_profile_item *it = item(r->regions, r->nregions, want[i]);
    ck_assert_msg(it && it->launches > 0, "no launches in region %s", want[i]);
  }
  const clgan_profile_item *other = item(r->regions, r->nregions, "other");
  ck_assert_msg(!other || other->launches == 0, "%ld launches outside the named regions",
                other ? other->launches : 0L);
  ck_assert_int_eq(r->dropped, 0);
  free(r);
  free(host);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("profile");
  TCase *tc = tcase_create("profile");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_regions_and_reset);
  tcase_add_test(tc, test_capacity_drops);
  tcase_add_test(tc, test_step_regions);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
