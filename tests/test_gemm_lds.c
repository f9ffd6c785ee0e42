/* The local-memory GEMM backend (cl/gemm_lds.cl, src/ops/gemm_lds.c)
 * against a C reference (sums in double): every parameter set the tuner can
 * try (on GPUs; CPUs try the default) on a few shapes, and the default set
 * on many odd ones (m, n, k of 1, 7, 33, 65, 130 and primes; a long k that
 * splits over work-groups), all four transposes, offsets and row strides
 * wider than the matrix (aligned: the vector entries; not: the scalar
 * twins), alpha and beta with beta 0 over NaN, columns past n untouched;
 * and the conv entries that read op(B) from a zero-padded image (forward
 * and weight gradient, pad 0 and 1, stride 1 and 2) against im2col and the
 * reference product. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ops/gemm_lds.h"
#include "test_util.h"

#define MAX_SETS 16

typedef struct gemm_case {
  int ta, tb;
  size_t m, n, k;
  size_t pad; /* extra floats per row of every stored matrix */
  size_t off; /* floats before each matrix in its buffer */
  float alpha, beta;
  size_t align; /* row strides rounded up to a multiple of this (0: not) */
} gemm_case;

static size_t stride_of(const gemm_case *g, size_t cols) {
  size_t ld = cols + g->pad;
  return g->align ? (ld + g->align - 1) / g->align * g->align : ld;
}

/* C = alpha op(A) op(B) + beta C in double; beta 0 ignores C (NaN too). */
static void ref_gemm(const gemm_case *g, const float *a, size_t lda, const float *b, size_t ldb,
                     float *c, size_t ldc) {
  for (size_t i = 0; i < g->m; i++)
    for (size_t j = 0; j < g->n; j++) {
      double s = 0;
      for (size_t p = 0; p < g->k; p++) {
        double x = g->ta ? a[p * lda + i] : a[i * lda + p];
        double y = g->tb ? b[j * ldb + p] : b[p * ldb + j];
        s += x * y;
      }
      float *cp = &c[i * ldc + j];
      *cp = g->beta == 0.0f ? (float)(g->alpha * s) : (float)(g->alpha * s + g->beta * *cp);
    }
}

/* One GEMM on variant v against the reference; C's padding columns and the
 * floats before it must keep their values. */
static void check_gemm(const clgan_gemm_variant *v, const gemm_case *g, uint64_t seed) {
  size_t a_rows = g->ta ? g->k : g->m, a_cols = g->ta ? g->m : g->k;
  size_t b_rows = g->tb ? g->n : g->k, b_cols = g->tb ? g->k : g->n;
  size_t lda = stride_of(g, a_cols), ldb = stride_of(g, b_cols), ldc = stride_of(g, g->n);
  size_t na = g->off + a_rows * lda, nb = g->off + b_rows * ldb, nc = g->off + g->m * ldc;
  float *a = tu_malloc(na * sizeof(float)), *b = tu_malloc(nb * sizeof(float));
  float *c = tu_malloc(nc * sizeof(float)), *want = tu_malloc(nc * sizeof(float));
  tu_fill_uniform(a, na, seed, -1.0f, 1.0f);
  tu_fill_uniform(b, nb, seed + 1, -1.0f, 1.0f);
  tu_fill_uniform(c, nc, seed + 2, -1.0f, 1.0f);
  if (g->beta == 0.0f)
    for (size_t i = 0; i < g->m; i++)
      for (size_t j = 0; j < g->n; j++) c[g->off + i * ldc + j] = NAN;
  memcpy(want, c, nc * sizeof(float));
  ref_gemm(g, a + g->off, lda, b + g->off, ldb, want + g->off, ldc);
  clgan_buf da = tu_upload(a, na), db = tu_upload(b, nb), dc = tu_upload(c, nc);
  clgan_gemm_plan plan;
  clgan_ctx *ctx = tu_ctx();
  TU_OK(clgan_gemm_plan_variant(ctx, v, g->ta, g->tb, g->m, g->n, g->k, &plan));
  ck_assert_int_eq(plan.path, CLGAN_GEMM_PATH_LDS);
  TU_OK(clgan_gemm_plan_prepare(ctx, &plan));
  TU_OK(clgan_gemm_run(ctx, &plan, g->alpha, clgan_buf_at(da, g->off), lda,
                       clgan_buf_at(db, g->off), ldb, g->beta, clgan_buf_at(dc, g->off), ldc));
  float *got = tu_download(dc, nc);
  char what[160], name[48];
  gemm_lds_plan_name(&plan, name, sizeof name);
  snprintf(what, sizeof what, "%s%s %c%c %zux%zux%zu pad %zu off %zu alpha %g beta %g", name,
           plan.lds.splits > 1 ? " split-k" : "", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n,
           g->k, g->pad, g->off, g->alpha, g->beta);
  TU_ASSERT_CLOSE(what, got, want, nc, 1e-4, 1e-5 + 2e-6 * (double)g->k);
  free(got), free(a), free(b), free(c), free(want);
  clgan_buf_release(&da), clgan_buf_release(&db), clgan_buf_release(&dc);
}

/* The default set (all 0) on odd shapes, all transposes, both alignments. */
START_TEST(test_default_set_odd_shapes) {
  static const size_t shapes[][3] = {
      {1, 1, 1},     {1, 7, 33},      {7, 1, 65},   {33, 65, 7},   {65, 33, 130}, {130, 7, 1},
      {97, 131, 61}, {130, 130, 130}, {1, 130, 33}, {7, 33, 4099}, {65, 65, 65},  {131, 1, 97},
  };
  clgan_gemm_variant v = {.backend = CLGAN_GEMM_LDS};
  uint64_t seed = 100;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int t = 0; t < 4; t++)
      for (int aligned = 0; aligned < 2; aligned++) {
        /* aligned: offsets and row strides on 4 floats (the vector entries),
         * else odd (their scalar twins) */
        gemm_case g = {t & 1,
                       t >> 1,
                       shapes[s][0],
                       shapes[s][1],
                       shapes[s][2],
                       aligned ? 4 : 3,
                       aligned ? 8 : 5,
                       aligned ? 1.0f : -0.75f,
                       (t + aligned) % 2 ? 0.0f : 0.5f,
                       aligned ? 4 : 0};
        check_gemm(&v, &g, seed += 3);
      }
}
END_TEST

/* Every set a GPU or a CPU tuner tries, on a few shapes: edges, each
 * transpose once, vector and scalar entries, split k (few entries per set:
 * PoCL compiles each entry of each set on its first launch). */
START_TEST(test_every_param_set) {
  clgan_gemm_variant sets[MAX_SETS];
  int nsets = gemm_lds_param_sets(1, sets, MAX_SETS);
  ck_assert_int_ge(nsets, 4);
  clgan_gemm_variant cpu[1];
  ck_assert_int_eq(gemm_lds_param_sets(0, cpu, 1), 1);
  ck_assert_mem_eq(&cpu[0], &sets[0], sizeof cpu[0]); /* the default set */
  static const gemm_case cases[] = {
      {0, 0, 65, 130, 37, 0, 0, 1.0f, 0.0f, 4},  {0, 1, 33, 97, 61, 4, 4, 1.5f, 0.0f, 4},
      {1, 0, 130, 65, 33, 3, 1, 1.0f, 1.0f, 0},  {1, 1, 7, 131, 65, 1, 2, 0.5f, -1.0f, 0},
      {0, 1, 9, 40, 2100, 0, 0, 1.0f, 0.25f, 4}, {0, 0, 128, 128, 64, 0, 0, 1.0f, 0.0f, 4},
  };
  uint64_t seed = 7000;
  for (int i = 0; i < nsets; i++) {
    ck_assert(gemm_lds_variant_valid(&sets[i]));
    char name[48];
    gemm_lds_variant_name(&sets[i], name, sizeof name);
    fprintf(stderr, "set %d: %s\n", i, name);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
      check_gemm(&sets[i], &cases[c], seed += 3);
  }
}
END_TEST

START_TEST(test_names_and_validation) {
  char name[48];
  clgan_gemm_variant d = {.backend = CLGAN_GEMM_LDS};
  gemm_lds_variant_name(&d, name, sizeof name);
  ck_assert_str_eq(name, "lds64x64k16/4x4v4");
  clgan_gemm_variant big = {CLGAN_GEMM_LDS, 8, 8, 16, 16, 8, 4};
  gemm_lds_variant_name(&big, name, sizeof name);
  ck_assert_str_eq(name, "lds128x128k8/8x8v4");
  ck_assert_str_eq(clgan_gemm_backend_name(CLGAN_GEMM_LDS), "lds");
  ck_assert(clgan_gemm_variant_valid(&d) && clgan_gemm_variant_valid(&big));
  static const clgan_gemm_variant bad[] = {
      {CLGAN_GEMM_LDS, 4, 4, 16, 16, 16, 3}, /* vw 3 */
      {CLGAN_GEMM_LDS, 4, 4, 16, 16, 6, 4},  /* wgk not a multiple of vw */
      {CLGAN_GEMM_LDS, 4, 4, 64, 32, 16, 4}, /* 2048 work-items */
      {CLGAN_GEMM_LDS, 1, 1, 2, 1, 8, 4},    /* a 1 x 2 tile, vw 4 */
      {CLGAN_GEMM_LDS, 4, 4, 16, 16, 0, 4},  /* wgk 0 */
      {CLGAN_GEMM_LDS, 16, 16, 4, 4, 16, 4}, /* 256 accumulators per work-item */
      {CLGAN_GEMM_OWN, 4, 1, 16, 8, 16, 0},  /* an own tile with LDS fields */
      {CLGAN_GEMM_AUTO, 0, 0, 0, 0, 0, 4},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(!clgan_gemm_variant_valid(&bad[i]), "bad variant %zu accepted", i);
    clgan_gemm_plan p;
    ck_assert_int_eq(clgan_gemm_plan_variant(tu_ctx(), &bad[i], 0, 0, 64, 64, 64, &p),
                     CLGAN_ERR_INVALID);
  }
}
END_TEST

/* ---- the conv entries ---------------------------------------------------- */

typedef struct conv_case {
  int n, cin, h, w, cout, k, stride, pad;
} conv_case;

/* col[(c*k + ki)*k + kj, (b*ho + oy)*wo + ox] of the padded image
 * [cin, n, hp, wp]. */
static void im2col_padded(const conv_case *s, int ho, int wo, const float *img, float *col) {
  int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad;
  size_t P = (size_t)s->n * ho * wo;
  for (int c = 0; c < s->cin; c++)
    for (int ki = 0; ki < s->k; ki++)
      for (int kj = 0; kj < s->k; kj++)
        for (int b = 0; b < s->n; b++)
          for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
              size_t row = ((size_t)c * s->k + ki) * s->k + kj,
                     colx = ((size_t)b * ho + oy) * wo + ox;
              col[row * P + colx] = img[(((size_t)c * s->n + b) * hp + oy * s->stride + ki) * wp +
                                        ox * s->stride + kj];
            }
}

/* One conv shape on set v: Y = W col and dW = dY col^T + dW (beta 1). */
static void check_conv(const clgan_gemm_variant *v, const conv_case *s, uint64_t seed) {
  int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad;
  int ho = (hp - s->k) / s->stride + 1, wo = (wp - s->k) / s->stride + 1;
  size_t K = (size_t)s->cin * s->k * s->k, P = (size_t)s->n * ho * wo, cout = (size_t)s->cout;
  size_t nimg = (size_t)s->cin * s->n * hp * wp;
  float *img = tu_malloc(nimg * sizeof(float)), *col = tu_malloc(K * P * sizeof(float));
  float *w = tu_malloc(cout * K * sizeof(float)), *dy = tu_malloc(cout * P * sizeof(float));
  float *y = tu_malloc(cout * P * sizeof(float)), *dw = tu_malloc(cout * K * sizeof(float));
  tu_fill_uniform(img, nimg, seed, -1.0f, 1.0f);
  for (int c = 0; c < s->cin * s->n; c++) /* the zero border a padded copy has */
    for (int yy = 0; yy < hp; yy++)
      for (int xx = 0; xx < wp; xx++)
        if (yy < s->pad || yy >= hp - s->pad || xx < s->pad || xx >= wp - s->pad)
          img[((size_t)c * hp + yy) * wp + xx] = 0.0f;
  tu_fill_uniform(w, cout * K, seed + 1, -1.0f, 1.0f);
  tu_fill_uniform(dy, cout * P, seed + 2, -1.0f, 1.0f);
  tu_fill_uniform(dw, cout * K, seed + 3, -1.0f, 1.0f);
  for (size_t i = 0; i < cout * P; i++) y[i] = NAN; /* overwritten */
  im2col_padded(s, ho, wo, img, col);
  float *want_y = tu_malloc(cout * P * sizeof(float)),
        *want_dw = tu_malloc(cout * K * sizeof(float));
  memcpy(want_dw, dw, cout * K * sizeof(float));
  gemm_case fwd = {0, 0, cout, P, K, 0, 0, 1.0f, 0.0f, 0};
  gemm_case filt = {0, 1, cout, K, P, 0, 0, 1.0f, 1.0f, 0};
  ref_gemm(&fwd, w, K, col, P, want_y, P);
  ref_gemm(&filt, dy, P, col, P, want_dw, K);
  clgan_ctx *ctx = tu_ctx();
  clgan_buf dimg = tu_upload(img, nimg), dwt = tu_upload(w, cout * K);
  clgan_buf ddy = tu_upload(dy, cout * P), dout = tu_upload(y, cout * P);
  clgan_buf ddw = tu_upload(dw, cout * K);
  clgan_gemm_conv_x x = {dimg, s->cin, s->n, hp, wp, s->k, s->stride, ho, wo};
  clgan_gemm_plan pf, pw;
  int ok_f = 0, ok_w = 0;
  TU_OK(clgan_gemm_conv_plan_variant(ctx, v, 0, cout, P, K, &pf, &ok_f));
  TU_OK(clgan_gemm_conv_plan_variant(ctx, v, 1, cout, K, P, &pw, &ok_w));
  ck_assert(ok_f && ok_w);
  ck_assert(pf.path == CLGAN_GEMM_PATH_LDS && pf.lds.conv_x && pw.path == CLGAN_GEMM_PATH_LDS);
  TU_OK(clgan_gemm_plan_prepare(ctx, &pf));
  TU_OK(clgan_gemm_plan_prepare(ctx, &pw));
  TU_OK(clgan_gemm_conv_forward(ctx, &pf, dwt, &x, dout, NULL));
  TU_OK(clgan_gemm_conv_filter(ctx, &pw, ddy, &x, ddw, 1.0f));
  float *got_y = tu_download(dout, cout * P), *got_dw = tu_download(ddw, cout * K);
  char what[160], name[48];
  gemm_lds_plan_name(&pf, name, sizeof name);
  snprintf(what, sizeof what, "%s conv n%d cin%d %dx%d cout%d k%d s%d p%d forward", name, s->n,
           s->cin, s->h, s->w, s->cout, s->k, s->stride, s->pad);
  TU_ASSERT_CLOSE(what, got_y, want_y, cout * P, 1e-4, 1e-5 + 2e-6 * (double)K);
  snprintf(what, sizeof what, "%s%s conv n%d cin%d %dx%d cout%d k%d s%d p%d weight gradient", name,
           pw.lds.splits > 1 ? " split-k" : "", s->n, s->cin, s->h, s->w, s->cout, s->k, s->stride,
           s->pad);
  TU_ASSERT_CLOSE(what, got_dw, want_dw, cout * K, 1e-4, 1e-5 + 2e-6 * (double)P);
  free(img), free(col), free(w), free(dy), free(y), free(dw), free(want_y), free(want_dw);
  free(got_y), free(got_dw);
  clgan_buf *bufs[] = {&dimg, &dwt, &ddy, &dout, &ddw};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clgan_buf_release(bufs[i]);
}

static const conv_case conv_cases[] = {
    {2, 5, 11, 11, 7, 3, 1, 1}, /* pad 1, stride 1 */
    {3, 3, 16, 12, 9, 4, 2, 1}, /* the DCGAN's k4 s2 p1 on a non-square image */
    {4, 6, 13, 9, 9, 3, 2, 0},  /* pad 0, stride 2, odd sizes */
    {4, 2, 24, 24, 3, 3, 1, 0}, /* pad 0, stride 1; a long weight-gradient k (split) */
    {2, 9, 7, 7, 70, 4, 1, 1},  /* cout past one 64-row tile */
};

START_TEST(test_conv_entries_default_set) {
  clgan_gemm_variant v = {.backend = CLGAN_GEMM_LDS};
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
    check_conv(&v, &conv_cases[i], 300 + 10 * i);
}
END_TEST

START_TEST(test_conv_entries_every_set) {
  clgan_gemm_variant sets[MAX_SETS];
  int nsets = gemm_lds_param_sets(1, sets, MAX_SETS);
  for (int i = 1; i < nsets; i++) /* set 0 is the default: above */
    check_conv(&sets[i], &conv_cases[1], 900 + 10 * i);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gemm_lds");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_names_and_validation);
  tcase_add_test(tc, test_default_set_odd_shapes);
  tcase_add_test(tc, test_every_param_set);
  tcase_add_test(tc, test_conv_entries_default_set);
  tcase_add_test(tc, test_conv_entries_every_set);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
