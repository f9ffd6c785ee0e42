/* GEMM: both backends against a double-precision C reference, every
 * transpose combination, odd shapes, padded strides, offsets, alpha, beta. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_own.h"
#include "test_util.h"

typedef struct shape {
  size_t m, n, k;
} shape;

/* Odd sizes so that no dimension is a multiple of any tile, plus a few that
 * span several tiles in every direction. */
static const shape shapes[] = {
    {1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {100, 3, 257}, {65, 130, 33}, {3, 100, 1}, {17, 1, 40},
};

/* C = alpha * op(A) op(B) + beta * C in double, row-major with strides. */
static void ref_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                     size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0;
      for (size_t p = 0; p < k; p++) {
        double x = ta ? a[p * lda + i] : a[i * lda + p];
        double y = tb ? b[j * ldb + p] : b[p * ldb + j];
        acc += x * y;
      }
      double old = beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j];
      c[i * ldc + j] = (float)(alpha * acc + old);
    }
}

/* Runs one case on `backend` and compares all of C's storage (padding
 * columns included: they must be left alone). */
static void check_case(clgan_gemm_backend backend, int ta, int tb, shape s, float alpha,
                       float beta, unsigned seed) {
  size_t pad_a = 1 + seed % 5, pad_b = 2 + seed % 3, pad_c = 3;
  size_t off_a = 5 + seed % 7, off_b = 11, off_c = 3 + seed % 4;
  size_t lda = (ta ? s.m : s.k) + pad_a, ldb = (tb ? s.k : s.n) + pad_b, ldc = s.n + pad_c;
  size_t na = off_a + (ta ? s.k : s.m) * lda, nb = off_b + (tb ? s.n : s.k) * ldb;
  size_t nc = off_c + s.m * ldc;
  float *a = tu_malloc(na * sizeof *a), *b = tu_malloc(nb * sizeof *b);
  float *c0 = tu_malloc(nc * sizeof *c0), *want = tu_malloc(nc * sizeof *want);
  tu_fill_uniform(a, na, seed * 3 + 1, -1.0f, 1.0f);
  tu_fill_uniform(b, nb, seed * 3 + 2, -1.0f, 1.0f);
  tu_fill_uniform(c0, nc, seed * 3 + 3, -1.0f, 1.0f);
  if (beta == 0.0f) /* beta == 0 must overwrite, NaN included */
    for (size_t i = 0; i < s.m; i++)
      for (size_t j = 0; j < s.n; j++) c0[off_c + i * ldc + j] = NAN;
  memcpy(want, c0, nc * sizeof *want);
  ref_gemm(ta, tb, s.m, s.n, s.k, alpha, a + off_a, lda, b + off_b, ldb, beta, want + off_c, ldc);

  clgan_buf da = tu_upload(a, na), db = tu_upload(b, nb), dc = tu_upload(c0, nc);
  TU_OK(clgan_gemm_with(tu_ctx(), backend, ta, tb, s.m, s.n, s.k, alpha, clgan_buf_at(da, off_a),
                        lda, clgan_buf_at(db, off_b), ldb, beta, clgan_buf_at(dc, off_c), ldc));
  float *got = tu_download(dc, nc);
  char what[160];
  snprintf(what, sizeof what, "%s %c%c m=%zu n=%zu k=%zu alpha=%g beta=%g",
           clgan_gemm_backend_name(backend), ta ? 'T' : 'N', tb ? 'T' : 'N', s.m, s.n, s.k,
           (double)alpha, (double)beta);
  /* fp32 accumulation over k terms of size <= 1 */
  double atol = 1e-5 + 2e-6 * (double)s.k;
  for (size_t i = 0; i < nc; i++) /* padding must be left exactly as it was */
    if (i < off_c || (i - off_c) % ldc >= s.n)
      ck_assert_msg(got[i] == want[i], "%s: padding [%zu] changed", what, i);
  TU_ASSERT_CLOSE(what, got, want, nc, 1e-5, atol);
  free(got);
  clgan_buf_release(&da);
  clgan_buf_release(&db);
  clgan_buf_release(&dc);
  free(a);
  free(b);
  free(c0);
  free(want);
}

static void check_backend(clgan_gemm_backend backend) {
  unsigned seed = 1;
  for (int t = 0; t < 4; t++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      check_case(backend, t & 1, t >> 1, shapes[i], 1.0f, 0.0f, seed++);
      check_case(backend, t & 1, t >> 1, shapes[i], -0.75f, 1.0f, seed++);
    }
  /* beta other than 0 and 1, and a larger problem spanning many tiles */
  check_case(backend, 0, 0, (shape){37, 29, 11}, 2.0f, -0.5f, seed++);
  for (int t = 0; t < 4; t++)
    check_case(backend, t & 1, t >> 1, (shape){131, 263, 300}, 0.5f, 0.0f, seed++);
  /* small C, long k: the own backend splits k over work-groups */
  for (int t = 0; t < 4; t++)
    check_case(backend, t & 1, t >> 1, (shape){9, 17, 5000}, 1.0f, 1.0f, seed++);
  check_case(backend, 0, 1, (shape){9, 17, 20000}, 1.0f, 0.0f, seed++);
  check_case(backend, 1, 0, (shape){70, 500, 4500}, 1.0f, 0.0f, seed++);
  /* whole tiles in m and n: the own backend reads operands in place (rows of
   * B, columns of A^T, rows of A) or computes C^T with a transposed store,
   * also with split k; the odd shapes keep some operands packed */
  static const shape whole[] = {{64, 96, 70}, {40, 64, 300}, {96, 40, 129}, {33, 64, 50},
                                {64, 33, 50}, {32, 64, 5000}, {64, 16, 9000}};
  for (int t = 0; t < 4; t++)
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
      check_case(backend, t & 1, t >> 1, whole[i], 0.5f, t == 3 ? 1.0f : 0.0f, seed++);
  /* B larger than the own backend's panel workspace: packed and multiplied
   * in column chunks (the last one ragged); and a long reduction without
   * split k chunked likewise (the weight gradient's NT form) */
  for (int t = 0; t < 4; t++)
    check_case(backend, t & 1, t >> 1, (shape){24, 4200, 1100}, 1.0f, t == 1 ? 1.0f : 0.0f,
               seed++);
  check_case(backend, 0, 1, (shape){136, 300, 14000}, 1.0f, 0.0f, seed++);
}

START_TEST(test_gemm_own) { check_backend(CLGAN_GEMM_OWN); }
END_TEST

START_TEST(test_gemm_clblast) { check_backend(CLGAN_GEMM_CLBLAST); }
END_TEST

START_TEST(test_gemm_degenerate) {
  /* k == 0: C = beta * C; m == 0: nothing; bad strides or overruns: INVALID. */
  float c0[6] = {1, 2, 3, 4, 5, 6};
  clgan_buf a = tu_upload(c0, 6), c = tu_upload(c0, 6);
  for (int be = CLGAN_GEMM_OWN; be <= CLGAN_GEMM_CLBLAST; be++) {
    TU_OK(clgan_buf_write(tu_ctx(), c, c0, 6));
    TU_OK(clgan_gemm_with(tu_ctx(), be, 0, 0, 2, 3, 0, 1.0f, a, 1, a, 3, 2.0f, c, 3));
    float *got = tu_download(c, 6);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(got[i], 2.0f * c0[i]);
    free(got);
    TU_OK(clgan_gemm_with(tu_ctx(), be, 0, 0, 0, 3, 2, 1.0f, a, 2, a, 3, 0.0f, c, 3));
    ck_assert_int_eq(clgan_gemm_with(tu_ctx(), be, 0, 0, 2, 3, 2, 1.0f, a, 1, a, 3, 0.0f, c, 3),
                     CLGAN_ERR_INVALID);
    ck_assert_int_eq(clgan_gemm_with(tu_ctx(), be, 0, 1, 2, 3, 2, 1.0f, a, 2, a, 1, 0.0f, c, 3),
                     CLGAN_ERR_INVALID);
    /* C one float past its buffer, B reaching past it */
    ck_assert_int_eq(clgan_gemm_with(tu_ctx(), be, 0, 0, 2, 3, 2, 1.0f, a, 2, a, 3, 0.0f,
                                     clgan_buf_at(c, 1), 3),
                     CLGAN_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "holds 6"));
    ck_assert_int_eq(clgan_gemm_with(tu_ctx(), be, 0, 0, 2, 3, 2, 1.0f, a, 2, a, 4, 0.0f, c, 3),
                     CLGAN_ERR_INVALID);
  }
  clgan_buf_release(&a);
  clgan_buf_release(&c);
}
END_TEST

START_TEST(test_gemm_auto_choice) {
  clgan_gemm_backend be1 = CLGAN_GEMM_AUTO, be2 = CLGAN_GEMM_AUTO;
  TU_OK(clgan_gemm_backend_get(tu_ctx(), &be1));
  ck_assert(be1 == CLGAN_GEMM_OWN || be1 == CLGAN_GEMM_CLBLAST);
  TU_OK(clgan_gemm_backend_get(tu_ctx(), &be2));
  ck_assert_int_eq(be1, be2);
  /* a fresh context finds the same choice (remembered on disk or forced) */
  clgan_ctx *second = NULL;
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE")};
  TU_OK(clgan_ctx_create(&o, &second));
  TU_OK(clgan_gemm_backend_get(second, &be2));
  clgan_ctx_destroy(second);
  ck_assert_int_eq(be1, be2);
  ck_assert_str_eq(clgan_gemm_backend_name(CLGAN_GEMM_OWN), "own");
  ck_assert_str_eq(clgan_gemm_backend_name(CLGAN_GEMM_CLBLAST), "clblast");
  ck_assert_str_eq(clgan_gemm_backend_name(CLGAN_GEMM_AUTO), "auto");
  fprintf(stderr, "gemm backend chosen: %s\n", clgan_gemm_backend_name(be1));
  /* clgan_gemm runs on the chosen backend */
  float x[4] = {1, 2, 3, 4}, want[4] = {7, 10, 15, 22};
  clgan_buf a = tu_upload(x, 4), c = tu_upload(NULL, 4);
  TU_OK(clgan_gemm(tu_ctx(), 0, 0, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, c, 2));
  float *got = tu_download(c, 4);
  TU_ASSERT_CLOSE("2x2 square", got, want, 4, 1e-6, 1e-6);
  free(got);
  clgan_buf_release(&a);
  clgan_buf_release(&c);
}
END_TEST

/* On a CPU's default tile a work-group's B panels stay within the L2
 * budget (gemm_own.c): long reductions run in groups one column tile wide
 * (the B panel they stream is shared), shorter k on the default 4 x 16, k
 * whose four panels would exceed the budget in narrower groups, and k whose
 * one panel exceeds it split into ranges that fit; each against the
 * reference, several column panels with a ragged last one, every transpose.
 * A panel is k x TN floats, so the k of the narrower and the split cases
 * follow the default tile's width (32 with AVX-512's vectors, 16 with
 * AVX2's). */
START_TEST(test_gemm_long_reduction_groups) {
  clgan_tuning t;
  TU_OK(clgan_tuning_from_env(&t));
  t.gemm = CLGAN_GEMM_OWN;
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
  clgan_ctx *ctx = NULL;
  TU_OK(clgan_ctx_create(&o, &ctx));
  int default_cpu_tile = clgan_ctx_cpu_paths(ctx) && t.gemm_tile[0] == 0;
  int tm = 0, nv = 0;
  size_t lx = 0, ly = 0;
  gemm_own_default_tile(ctx, &tm, &nv, &lx, &ly);
  size_t tn = 16 * (size_t)nv;
  /* not long reductions (k < 16 x max(m, n)): 2 panels of mid_k x TN
   * floats fit 1 MiB, 4 do not; one panel of huge_k x TN does not */
  shape mid = {0, 0, 96000 / tn}, huge = {0, 70, 288000 / tn};
  mid.m = mid.n = mid.k / 16 + 100, huge.m = huge.k / 16 + 75;
  /* 300 rows of C: enough row tiles that the 64-tile-tall group is not
   * folded back into columns; 70 columns: several panels, the last ragged */
  clgan_gemm_plan longp, shortp, midp, hugep;
  TU_OK(clgan_gemm_plan_make(ctx, 0, 1, 300, 70, 5000, &longp));
  TU_OK(clgan_gemm_plan_make(ctx, 0, 1, 300, 70, 500, &shortp));
  TU_OK(clgan_gemm_plan_make(ctx, 0, 1, mid.m, mid.n, mid.k, &midp));
  TU_OK(clgan_gemm_plan_make(ctx, 0, 1, huge.m, huge.n, huge.k, &hugep));
  ck_assert_int_eq(longp.path, CLGAN_GEMM_PATH_TILED);
  ck_assert_int_eq(shortp.path, CLGAN_GEMM_PATH_TILED);
  if (default_cpu_tile) {
    ck_assert_uint_eq(longp.main_local[0], 1);
    ck_assert_uint_eq(longp.main_local[1], 64);
    ck_assert_uint_eq(shortp.main_local[0], 4);
    ck_assert_uint_eq(shortp.main_local[1], 16);
    ck_assert_uint_eq(midp.main_local[0], 2);
    ck_assert_uint_eq(midp.main_local[1], 32);
    ck_assert_uint_eq(midp.own.splits, 1);
    ck_assert_uint_eq(hugep.main_local[0], 1);
    ck_assert_uint_ge(hugep.own.splits, 2);
    ck_assert_uint_le(hugep.own.kz * tn * sizeof(float), (size_t)1 << 20);
    /* a large C is not split for its panel: 8 ranges of 4096 x 4096 partial
     * products would be 512 MiB of workspace (planned only, not run) */
    clgan_gemm_plan bigc;
    TU_OK(clgan_gemm_plan_make(ctx, 0, 1, 4096, 4096, 65536, &bigc));
    ck_assert_uint_eq(bigc.own.splits, 1);
    ck_assert_uint_le(bigc.ws_floats, (size_t)64 << 20);
  }
  clgan_ctx_destroy(ctx);
  unsigned seed = 900;
  for (int tr = 0; tr < 4; tr++) {
    check_case(CLGAN_GEMM_OWN, tr & 1, tr >> 1, (shape){300, 70, 5000}, 1.0f,
               tr == 2 ? 1.0f : 0.0f, seed++);
    check_case(CLGAN_GEMM_OWN, tr & 1, tr >> 1, (shape){70, 300, 5000}, 0.5f, 0.0f, seed++);
  }
  /* the narrower group and the split panel (the group's shape leaves the
   * sums as they are; the split changes their order) */
  check_case(CLGAN_GEMM_OWN, 0, 1, mid, 1.0f, 0.0f, seed++);
  check_case(CLGAN_GEMM_OWN, 0, 1, huge, 1.0f, 0.0f, seed++);
  check_case(CLGAN_GEMM_OWN, 1, 0, huge, 0.5f, 1.0f, seed++);
}
END_TEST

/* clgan_gemm_reserve prepares a shape: afterwards a frozen context runs it
 * (and anything smaller) without building or allocating, and refuses a GEMM
 * that would need a larger workspace. */
START_TEST(test_gemm_reserve_then_frozen) {
  clgan_ctx *ctx = NULL;
  clgan_tuning t;
  TU_OK(clgan_tuning_from_env(&t));
  t.gemm = CLGAN_GEMM_OWN;
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
  TU_OK(clgan_ctx_create(&o, &ctx));
  const size_t m = 40, n = 300, k = 200;
  clgan_buf a, b, c;
  TU_OK(clgan_buf_alloc(ctx, 400 * k, &a));
  TU_OK(clgan_buf_alloc(ctx, k * 3000, &b));
  TU_OK(clgan_buf_alloc(ctx, 400 * n, &c));
  TU_OK(clgan_fill(ctx, a, 400 * k, 1.0f));
  TU_OK(clgan_fill(ctx, b, k * 3000, 2.0f));
  TU_OK(clgan_gemm_reserve(ctx, m, n, k));
  clgan_ctx_freeze(ctx, 1);
  TU_OK(clgan_gemm(ctx, 0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n));
  TU_OK(clgan_gemm(ctx, 1, 1, m - 7, n - 30, k - 50, 1.0f, a, m - 7, b, k - 50, 0.0f,
                   clgan_buf_at(c, m * n), n - 30));
  /* 2990 columns: B (not a whole number of 32-column tiles) is packed into
   * panels ten times larger than the reserved shape's */
  ck_assert_int_eq(clgan_gemm(ctx, 0, 0, m, 2990, k, 1.0f, a, k, b, 2990, 0.0f, c, 2990),
                   CLGAN_ERR_FROZEN);
  clgan_ctx_freeze(ctx, 0);
  float *got = tu_malloc(m * n * 2 * sizeof *got);
  TU_OK(clgan_buf_read(ctx, c, got, m * n * 2));
  for (size_t i = 0; i < m * n; i++) ck_assert_float_eq(got[i], 2.0f * k);
  for (size_t i = 0; i < (m - 7) * (n - 30); i++)
    ck_assert_float_eq(got[m * n + i], 2.0f * (k - 50));
  free(got);
  clgan_buf_release(&a);
  clgan_buf_release(&b);
  clgan_buf_release(&c);
  clgan_ctx_destroy(ctx);
}
END_TEST

/* A plan holds what its runs need: on a fresh context, planned, prepared
 * and then frozen, each shape runs (at padded strides and offsets too: a plan
 * serves any) on both backends, against the reference. Shapes: regular,
 * split k, a long reduction reading rows in place, B in column chunks. */
START_TEST(test_gemm_plan_then_frozen) {
  static const struct { int ta, tb; shape s; } cases[] = {
      {0, 0, {40, 300, 200}}, {1, 0, {9, 17, 5000}}, {0, 1, {64, 96, 8192}}, {0, 0, {24, 4200, 1100}},
      {1, 1, {33, 65, 17}},   {0, 0, {7, 13, 5}}};
  enum { NCASES = sizeof cases / sizeof cases[0] };
  for (int be = CLGAN_GEMM_OWN; be <= CLGAN_GEMM_CLBLAST; be++) {
    clgan_tuning t;
    TU_OK(clgan_tuning_from_env(&t));
    t.gemm = (clgan_gemm_backend)be;
    clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
    clgan_ctx *ctx = NULL;
    TU_OK(clgan_ctx_create(&o, &ctx));
    clgan_gemm_plan plans[NCASES];
    size_t ws = clgan_ctx_workspace_bytes(ctx), need = 0;
    for (int i = 0; i < NCASES; i++) {
      TU_OK(clgan_gemm_plan_make(ctx, cases[i].ta, cases[i].tb, cases[i].s.m, cases[i].s.n,
                                 cases[i].s.k, &plans[i]));
      if (plans[i].ws_floats > need) need = plans[i].ws_floats;
      ck_assert_int_eq(plans[i].backend, be == CLGAN_GEMM_CLBLAST && cases[i].s.k == 0
                                             ? CLGAN_GEMM_OWN : be);
    }
    /* planning sizes the workspace, preparing allocates it */
    ck_assert_uint_eq(clgan_ctx_workspace_bytes(ctx), ws);
    for (int i = 0; i < NCASES; i++) TU_OK(clgan_gemm_plan_prepare(ctx, &plans[i]));
    ck_assert_uint_ge(clgan_ctx_workspace_bytes(ctx), need * sizeof(float));
    for (int i = 0; i < NCASES; i++) {
      int ta = cases[i].ta, tb = cases[i].tb;
      shape s = cases[i].s;
      size_t lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 1, ldc = s.n + 2, off = 5;
      size_t na = off + (ta ? s.k : s.m) * lda, nb = off + (tb ? s.n : s.k) * ldb;
      size_t nc = off + s.m * ldc;
      float *a = tu_malloc(na * sizeof *a), *b = tu_malloc(nb * sizeof *b);
      float *want = tu_malloc(nc * sizeof *want), *got = tu_malloc(nc * sizeof *got);
      tu_fill_uniform(a, na, 100 + i, -1.0f, 1.0f);
      tu_fill_uniform(b, nb, 200 + i, -1.0f, 1.0f);
      tu_fill_uniform(want, nc, 300 + i, -1.0f, 1.0f);
      clgan_buf da, db, dc;
      TU_OK(clgan_buf_alloc(ctx, na, &da));
      TU_OK(clgan_buf_alloc(ctx, nb, &db));
      TU_OK(clgan_buf_alloc(ctx, nc, &dc));
      TU_OK(clgan_buf_write(ctx, da, a, na));
      TU_OK(clgan_buf_write(ctx, db, b, nb));
      TU_OK(clgan_buf_write(ctx, dc, want, nc));
      clgan_ctx_freeze(ctx, 1);
      TU_OK(clgan_gemm_run(ctx, &plans[i], 0.5f, clgan_buf_at(da, off), lda,
                           clgan_buf_at(db, off), ldb, 1.0f, clgan_buf_at(dc, off), ldc));
      TU_OK(clgan_buf_read(ctx, dc, got, nc));
      clgan_ctx_freeze(ctx, 0);
      ref_gemm(ta, tb, s.m, s.n, s.k, 0.5f, a + off, lda, b + off, ldb, 1.0f, want + off, ldc);
      char what[120];
      snprintf(what, sizeof what, "planned %s %c%c m=%zu n=%zu k=%zu, frozen",
               clgan_gemm_backend_name((clgan_gemm_backend)be), ta ? 'T' : 'N', tb ? 'T' : 'N',
               s.m, s.n, s.k);
      TU_ASSERT_CLOSE(what, got, want, nc, 1e-5, 1e-5 + 2e-6 * (double)s.k);
      free(a);
      free(b);
      free(want);
      free(got);
      clgan_buf_release(&da);
      clgan_buf_release(&db);
      clgan_buf_release(&dc);
    }
    clgan_ctx_destroy(ctx);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("gemm");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_gemm_own);
  tcase_add_test(tc, test_gemm_clblast);
  tcase_add_test(tc, test_gemm_degenerate);
  tcase_add_test(tc, test_gemm_auto_choice);
  tcase_add_test(tc, test_gemm_long_reduction_groups);
  tcase_add_test(tc, test_gemm_reserve_then_frozen);
  tcase_add_test(tc, test_gemm_plan_then_frozen);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
