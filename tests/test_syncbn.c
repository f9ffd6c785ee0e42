/* SyncBatchNorm's split path (batchnorm_sync_* and the host combination of
 * clgan/dist.h) against the fused one-rank kernels: R ranks emulated in one
 * process, each holding its share of every channel's row (the images of its
 * part of the batch), must give the whole batch's y, statistics, running
 * statistics, dx and (summed over the ranks) dgamma and dbeta. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/dist.h"
#include "test_util.h"

#define MAX_RANKS 4

typedef struct rank_bufs {
  clgan_buf x, y, dy, dx, sums, mean, invstd, rmean, rvar, dgamma, dbeta;
} rank_bufs;

/* Rank r's share of each row of full [c, m]: [c, m / ranks]. */
static void share_of(const float *full, int c, size_t m, int ranks, int r, float *out) {
  size_t mr = m / (size_t)ranks;
  for (int k = 0; k < c; k++) memcpy(out + k * mr, full + k * m + r * mr, mr * sizeof(float));
}

static float *read_back(clgan_buf b, size_t n) {
  TU_OK(clgan_ctx_finish(tu_ctx()));
  return tu_download(b, n);
}

/* Checks rank r's share of the fused result `want` [c, m] against got [c, m/R]. */
static void check_share(const char *what, const float *got, const float *want, int c, size_t m,
                        int ranks, int r) {
  size_t mr = m / (size_t)ranks;
  float *w = tu_malloc(sizeof(float) * c * mr);
  share_of(want, c, m, ranks, r, w);
  TU_ASSERT_CLOSE(what, got, w, (size_t)c * mr, 2e-5, 2e-5);
  free(w);
}

static void sync_case(int c, size_t m, int ranks, int act, uint64_t seed) {
  clgan_ctx *ctx = tu_ctx();
  clgan_bn_plan p;
  TU_OK(clgan_bn_plan_make(ctx, (clgan_act)act, &p));
  size_t cm = (size_t)c * m, mr = m / (size_t)ranks, cmr = (size_t)c * mr;
  float *x = tu_malloc(sizeof(float) * cm), *dy = tu_malloc(sizeof(float) * cm);
  float *gamma = tu_malloc(sizeof(float) * c), *beta = tu_malloc(sizeof(float) * c);
  float *ones = tu_malloc(sizeof(float) * c), *part = tu_malloc(sizeof(float) * cmr);
  tu_fill_normal(x, cm, seed, 0.3f, 1.7f);
  tu_fill_normal(dy, cm, seed + 1, 0.0f, 1.0f);
  tu_fill_normal(gamma, (size_t)c, seed + 2, 1.0f, 0.2f);
  tu_fill_normal(beta, (size_t)c, seed + 3, 0.0f, 0.2f);
  for (int k = 0; k < c; k++) ones[k] = 1.0f;
  clgan_buf g = tu_upload(gamma, c), b = tu_upload(beta, c);
  /* the fused kernels on the whole batch */
  clgan_buf fx = tu_upload(x, cm), fy = tu_upload(NULL, cm), fdy = tu_upload(dy, cm),
            fdx = tu_upload(NULL, cm), fm = tu_upload(NULL, c), fi = tu_upload(NULL, c),
            frm = tu_upload(NULL, c), frv = tu_upload(ones, c), fdg = tu_upload(NULL, c),
            fdb = tu_upload(NULL, c);
  TU_OK(clgan_batchnorm_forward_train(ctx, &p, c, m, fx, g, b, fy, fm, fi, frm, frv, 0.1f, 1e-5f,
                                      0.2f, NULL));
  TU_OK(clgan_batchnorm_backward(ctx, &p, c, m, fx, fy, fdy, g, fm, fi, fdx, fdg, fdb, 0, 0.2f,
                                 NULL));
  /* the split path, rank by rank, the host summing in between */
  rank_bufs rb[MAX_RANKS];
  float gathered[MAX_RANKS * 2 * 64], global[2 * 64];
  for (int r = 0; r < ranks; r++) {
    share_of(x, c, m, ranks, r, part);
    rb[r].x = tu_upload(part, cmr);
    share_of(dy, c, m, ranks, r, part);
    rb[r].dy = tu_upload(part, cmr);
    rb[r].y = tu_upload(NULL, cmr), rb[r].dx = tu_upload(NULL, cmr);
    rb[r].sums = tu_upload(NULL, 2 * c), rb[r].mean = tu_upload(NULL, c);
    rb[r].invstd = tu_upload(NULL, c), rb[r].rmean = tu_upload(NULL, c);
    rb[r].rvar = tu_upload(ones, c), rb[r].dgamma = tu_upload(NULL, c);
    rb[r].dbeta = tu_upload(NULL, c);
    TU_OK(clgan_batchnorm_sync_stats(ctx, &p, c, mr, rb[r].x, rb[r].sums));
    TU_OK(clgan_buf_read(ctx, rb[r].sums, gathered + r * 2 * c, 2 * (size_t)c));
  }
  clgan_dist_combine_stats(gathered, ranks, c, mr, global);
  for (int r = 0; r < ranks; r++) {
    TU_OK(clgan_buf_write(ctx, rb[r].sums, global, 2 * (size_t)c));
    TU_OK(clgan_batchnorm_sync_apply(ctx, &p, c, mr, m, rb[r].x, g, b, rb[r].y, rb[r].sums,
                                     rb[r].mean, rb[r].invstd, rb[r].rmean, rb[r].rvar, 0.1f,
                                     1e-5f, 0.2f, NULL));
    TU_OK(clgan_batchnorm_sync_sums(ctx, &p, c, mr, rb[r].x, rb[r].y, rb[r].dy, rb[r].mean,
                                    rb[r].invstd, rb[r].sums, rb[r].dgamma, rb[r].dbeta, 0, 0.2f));
    TU_OK(clgan_buf_read(ctx, rb[r].sums, gathered + r * 2 * c, 2 * (size_t)c));
  }
  for (int k = 0; k < 2 * c; k++) {
    global[k] = 0.0f;
    for (int r = 0; r < ranks; r++) global[k] += gathered[r * 2 * c + k];
  }
  float *want_y = read_back(fy, cm), *want_dx = read_back(fdx, cm);
  float *want[6] = {read_back(fm, c), read_back(fi, c), read_back(frm, c), read_back(frv, c),
                    read_back(fdg, c), read_back(fdb, c)};
  float dg_sum[64] = {0}, db_sum[64] = {0};
  for (int r = 0; r < ranks; r++) {
    TU_OK(clgan_buf_write(ctx, rb[r].sums, global, 2 * (size_t)c));
    TU_OK(clgan_batchnorm_sync_dx(ctx, &p, c, mr, m, rb[r].x, rb[r].y, rb[r].dy, g, rb[r].mean,
                                  rb[r].invstd, rb[r].sums, rb[r].dx, 0.2f, NULL));
    float *y = read_back(rb[r].y, cmr), *dx = read_back(rb[r].dx, cmr);
    check_share("y", y, want_y, c, m, ranks, r);
    check_share("dx", dx, want_dx, c, m, ranks, r);
    clgan_buf stat[4] = {rb[r].mean, rb[r].invstd, rb[r].rmean, rb[r].rvar};
    const char *names[4] = {"save_mean", "save_invstd", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++) {
      float *got = read_back(stat[i], c);
      TU_ASSERT_CLOSE(names[i], got, want[i], (size_t)c, 2e-5, 2e-6);
      free(got);
    }
    float *dg = read_back(rb[r].dgamma, c), *db = read_back(rb[r].dbeta, c);
    for (int k = 0; k < c; k++) dg_sum[k] += dg[k], db_sum[k] += db[k];
    free(dg), free(db), free(y), free(dx);
  }
  TU_ASSERT_CLOSE("dgamma summed over the ranks", dg_sum, want[4], (size_t)c, 1e-4, 1e-4);
  TU_ASSERT_CLOSE("dbeta summed over the ranks", db_sum, want[5], (size_t)c, 1e-4, 1e-4);
  for (int i = 0; i < 6; i++) free(want[i]);
  free(want_y), free(want_dx);
  for (int r = 0; r < ranks; r++) {
    clgan_buf *all[11] = {&rb[r].x, &rb[r].y, &rb[r].dy, &rb[r].dx, &rb[r].sums, &rb[r].mean,
                          &rb[r].invstd, &rb[r].rmean, &rb[r].rvar, &rb[r].dgamma, &rb[r].dbeta};
    for (int i = 0; i < 11; i++) clgan_buf_release(all[i]);
  }
  clgan_buf *fused[12] = {&fx, &fy, &fdy, &fdx, &fm, &fi, &frm, &frv, &fdg, &fdb, &g, &b};
  for (int i = 0; i < 12; i++) clgan_buf_release(fused[i]);
  free(x), free(dy), free(gamma), free(beta), free(ones), free(part);
}

/* Every activation, 1 to 4 ranks, rows with and without a float4 tail. */
START_TEST(test_sync_matches_fused) {
  static const struct { int c; size_t m; } shapes[] = {{3, 48}, {5, 1000}, {2, 4104}};
  for (int act = 0; act < CLGAN_ACT_COUNT; act++)
    for (int ranks = 1; ranks <= MAX_RANKS; ranks++)
      for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        if (shapes[s].m % (size_t)ranks == 0)
          sync_case(shapes[s].c, shapes[s].m, ranks, act, 100 + (uint64_t)(act * 7 + ranks));
}
END_TEST

/* The combination alone: two ranks of known statistics, in double by hand. */
START_TEST(test_combine_stats) {
  /* rank 0: {1, 3} (mean 2, M2 2); rank 1: {5, 9} (mean 7, M2 8); all: mean 4.5, M2 35 */
  const float g[2 * 2] = {2.0f, 2.0f, 7.0f, 8.0f};
  float out[2];
  clgan_dist_combine_stats(g, 2, 1, 2, out);
  ck_assert_float_eq_tol(out[0], 4.5f, 1e-6f);
  ck_assert_float_eq_tol(out[1], 35.0f, 1e-5f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("syncbn");
  TCase *tc = tcase_create("syncbn");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_combine_stats);
  tcase_add_test(tc, test_sync_matches_fused);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
