/* The class-embedding op (clgan/embed.h) against a C reference: the lookup
 * appended to G's noise and its scatter-add backward, the projection
 * discriminator's term and both of its gradients; repeated labels, classes
 * no label names, buffers at offsets, accumulate on and off. The
 * reference's gradients are checked against finite differences first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/embed.h"
#include "test_util.h"

typedef struct ecase {
  int rows, dim, batch, hw;
} ecase;

static const ecase cases[] = {{3, 5, 4, 16}, {2, 32, 7, 1}, {5, 3, 1, 9}, {4, 17, 33, 4}};

#define OFF 3 /* every device buffer starts OFF floats into its allocation */

static void ref_gather(const float *t, const float *y, int rows, int dim, int n, float *out) {
  (void)rows;
  for (int e = 0; e < dim; e++)
    for (int b = 0; b < n; b++) out[e * n + b] = t[(int)y[b] * dim + e];
}

static void ref_scatter(const float *y, int rows, int dim, int n, const float *dout, float *dt,
                        int acc) {
  for (int r = 0; r < rows; r++)
    for (int e = 0; e < dim; e++) {
      double s = 0;
      for (int b = 0; b < n; b++)
        if ((int)y[b] == r) s += dout[e * n + b];
      dt[r * dim + e] = (float)(acc ? dt[r * dim + e] + s : s);
    }
}

static double hsum(const float *h, int c, int b, int n, int hw) {
  double s = 0;
  for (int i = 0; i < hw; i++) s += h[((size_t)c * n + b) * hw + i];
  return s;
}

static void ref_proj(const float *t, const float *y, int dim, int n, const float *h, int hw,
                     float *logits) {
  for (int b = 0; b < n; b++) {
    double s = 0;
    for (int c = 0; c < dim; c++) s += t[(int)y[b] * dim + c] * hsum(h, c, b, n, hw);
    logits[b] += (float)s;
  }
}

static void ref_proj_dw(const float *y, int rows, int dim, int n, const float *h, int hw,
                        const float *g, float *dt, int acc) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < dim; c++) {
      double s = 0;
      for (int b = 0; b < n; b++)
        if ((int)y[b] == r) s += g[b] * hsum(h, c, b, n, hw);
      dt[r * dim + c] = (float)(acc ? dt[r * dim + c] + s : s);
    }
}

static void ref_proj_dx(const float *t, const float *y, int dim, int n, const float *g, int hw,
                        float *dh) {
  for (int c = 0; c < dim; c++)
    for (int b = 0; b < n; b++)
      for (int i = 0; i < hw; i++) dh[((size_t)c * n + b) * hw + i] += g[b] * t[(int)y[b] * dim + c];
}

/* Labels with repeats, and (when rows > 1) a class no label names. */
static void labels_for(const ecase *k, float *y) {
  for (int b = 0; b < k->batch; b++) y[b] = (float)((b * 7 + 1) % (k->rows > 1 ? k->rows - 1 : 1));
}

static clgan_buf up(const float *x, size_t n) {
  float *pad = tu_malloc((n + OFF) * sizeof(float));
  for (int i = 0; i < OFF; i++) pad[i] = 1e30f; /* read by mistake: visible */
  memcpy(pad + OFF, x, n * sizeof(float));
  clgan_buf b = tu_upload(pad, n + OFF);
  free(pad);
  return b;
}

static float *down(clgan_buf b, size_t n) {
  float *all = tu_download(b, n + OFF), *x = tu_malloc(n * sizeof(float));
  memcpy(x, all + OFF, n * sizeof(float));
  free(all);
  return x;
}

START_TEST(test_gather_and_scatter) {
  const ecase *k = &cases[_i];
  size_t rd = (size_t)k->rows * k->dim, db = (size_t)k->dim * k->batch;
  float *t = tu_malloc(rd * sizeof(float)), *y = tu_malloc(sizeof(float) * k->batch);
  float *dout = tu_malloc(db * sizeof(float)), *want = tu_malloc(rd * sizeof(float));
  float *wg = tu_malloc(db * sizeof(float));
  tu_fill_normal(t, rd, 11 + _i, 0, 1);
  tu_fill_normal(dout, db, 12 + _i, 0, 1);
  labels_for(k, y);
  clgan_embed_plan plan;
  TU_OK(clgan_embed_plan_make(tu_ctx(), k->rows, k->dim, k->batch, &plan));
  clgan_buf dt = up(t, rd), dy = up(y, (size_t)k->batch), dd = up(dout, db), dz = up(dout, db);
  TU_OK(clgan_embed_gather(tu_ctx(), &plan, clgan_buf_at(dt, OFF), clgan_buf_at(dy, OFF),
                           clgan_buf_at(dz, OFF)));
  float *got = down(dz, db);
  ref_gather(t, y, k->rows, k->dim, k->batch, wg);
  ck_assert_msg(memcmp(got, wg, db * sizeof(float)) == 0, "gather differs (case %d)", _i);
  free(got);
  for (int acc = 0; acc < 2; acc++) { /* dt holds t: accumulate adds to it */
    clgan_buf g = up(t, rd);
    TU_OK(clgan_embed_scatter_add(tu_ctx(), &plan, clgan_buf_at(dy, OFF), clgan_buf_at(dd, OFF),
                                  clgan_buf_at(g, OFF), acc));
    memcpy(want, t, rd * sizeof(float));
    ref_scatter(y, k->rows, k->dim, k->batch, dout, want, acc);
    got = down(g, rd);
    TU_ASSERT_CLOSE("scatter_add", got, want, rd, 1e-5, 1e-6);
    if (k->rows > 1) /* the class no label names: 0, or untouched */
      ck_assert_float_eq(got[(k->rows - 1) * k->dim], acc ? t[(k->rows - 1) * k->dim] : 0.0f);
    free(got);
    clgan_buf_release(&g);
  }
  clgan_buf_release(&dt);
  clgan_buf_release(&dy);
  clgan_buf_release(&dd);
  clgan_buf_release(&dz);
  free(t), free(y), free(dout), free(want), free(wg);
}
END_TEST

/* The reference gradients are those of L = sum_b g_b * logit_b. */
static void check_reference_by_differences(const ecase *k, const float *t, const float *y,
                                           const float *h, const float *g) {
  size_t rd = (size_t)k->rows * k->dim, hf = (size_t)k->dim * k->batch * k->hw;
  float *dt = tu_malloc(rd * sizeof(float)), *dh = calloc(hf, sizeof(float));
  float *tt = tu_malloc(rd * sizeof(float)), *hh = tu_malloc(hf * sizeof(float));
  float *lg = tu_malloc(sizeof(float) * k->batch);
  ref_proj_dw(y, k->rows, k->dim, k->batch, h, k->hw, g, dt, 0);
  ref_proj_dx(t, y, k->dim, k->batch, g, k->hw, dh);
  const double eps = 1e-2;
  for (int pick = 0; pick < 2; pick++) {
    size_t n = pick ? hf : rd, i = n / 2;
    double lp[2];
    for (int sgn = 0; sgn < 2; sgn++) {
      memcpy(tt, t, rd * sizeof(float));
      memcpy(hh, h, hf * sizeof(float));
      (pick ? hh : tt)[i] += (float)(sgn ? -eps : eps);
      memset(lg, 0, sizeof(float) * k->batch);
      ref_proj(tt, y, k->dim, k->batch, hh, k->hw, lg);
      lp[sgn] = 0;
      for (int b = 0; b < k->batch; b++) lp[sgn] += g[b] * lg[b];
    }
    double fd = (lp[0] - lp[1]) / (2 * eps), an = pick ? dh[i] : dt[i];
    ck_assert_msg(fabs(fd - an) <= 1e-3 + 1e-2 * fabs(an), "%s[%zu]: analytic %g, differences %g",
                  pick ? "dh" : "dtable", i, an, fd);
  }
  free(dt), free(dh), free(tt), free(hh), free(lg);
}

START_TEST(test_projection) {
  const ecase *k = &cases[_i];
  size_t rd = (size_t)k->rows * k->dim, hf = (size_t)k->dim * k->batch * k->hw;
  size_t n = (size_t)k->batch;
  float *t = tu_malloc(rd * sizeof(float)), *y = tu_malloc(sizeof(float) * n);
  float *h = tu_malloc(hf * sizeof(float)), *g = tu_malloc(sizeof(float) * n);
  float *lg = tu_malloc(sizeof(float) * n), *dh = tu_malloc(hf * sizeof(float));
  float *dt = tu_malloc(rd * sizeof(float));
  tu_fill_normal(t, rd, 21 + _i, 0, 1);
  tu_fill_uniform(h, hf, 22 + _i, -1, 1);
  tu_fill_normal(g, n, 23 + _i, 0, 1);
  tu_fill_normal(lg, n, 24 + _i, 0, 1);
  tu_fill_normal(dh, hf, 25 + _i, 0, 1);
  labels_for(k, y);
  check_reference_by_differences(k, t, y, h, g);
  clgan_embed_plan plan;
  TU_OK(clgan_embed_plan_make(tu_ctx(), k->rows, k->dim, k->batch, &plan));
  clgan_buf bt = up(t, rd), by = up(y, n), bh = up(h, hf), bg = up(g, n), bl = up(lg, n);
  clgan_buf bdh = up(dh, hf);
  TU_OK(clgan_proj_forward(tu_ctx(), &plan, clgan_buf_at(bt, OFF), clgan_buf_at(by, OFF),
                           clgan_buf_at(bh, OFF), k->hw, clgan_buf_at(bl, OFF)));
  ref_proj(t, y, k->dim, k->batch, h, k->hw, lg);
  float *got = down(bl, n);
  TU_ASSERT_CLOSE("proj_forward", got, lg, n, 1e-5, 1e-5);
  free(got);
  TU_OK(clgan_proj_backward_data(tu_ctx(), &plan, clgan_buf_at(bt, OFF), clgan_buf_at(by, OFF),
                                 clgan_buf_at(bg, OFF), k->hw, clgan_buf_at(bdh, OFF)));
  ref_proj_dx(t, y, k->dim, k->batch, g, k->hw, dh);
  got = down(bdh, hf);
  TU_ASSERT_CLOSE("proj_backward_data", got, dh, hf, 1e-6, 1e-6);
  free(got);
  for (int acc = 0; acc < 2; acc++) {
    clgan_buf bdt = up(t, rd);
    TU_OK(clgan_proj_backward_weight(tu_ctx(), &plan, clgan_buf_at(by, OFF), clgan_buf_at(bh, OFF),
                                     k->hw, clgan_buf_at(bg, OFF), clgan_buf_at(bdt, OFF), acc));
    memcpy(dt, t, rd * sizeof(float));
    ref_proj_dw(y, k->rows, k->dim, k->batch, h, k->hw, g, dt, acc);
    got = down(bdt, rd);
    TU_ASSERT_CLOSE("proj_backward_weight", got, dt, rd, 1e-5, 1e-5);
    free(got);
    clgan_buf_release(&bdt);
  }
  clgan_buf bufs[] = {bt, by, bh, bg, bl, bdh};
  for (int i = 0; i < 6; i++) clgan_buf_release(&bufs[i]);
  free(t), free(y), free(h), free(g), free(lg), free(dh), free(dt);
}
END_TEST

/* One-hot planes after `first` channels of a [channels, batch, hw] input;
 * the channels before them are left alone. */
START_TEST(test_label_planes) {
  const ecase *k = &cases[_i];
  int first = 2, chans = first + k->rows;
  size_t n = (size_t)chans * k->batch * k->hw;
  float *y = tu_malloc(sizeof(float) * k->batch), *x = tu_malloc(n * sizeof(float));
  labels_for(k, y);
  tu_fill_normal(x, n, 31 + _i, 0, 1);
  clgan_embed_plan plan;
  TU_OK(clgan_embed_plan_make(tu_ctx(), k->rows, 1, k->batch, &plan));
  clgan_buf by = up(y, (size_t)k->batch), bx = up(x, n);
  TU_OK(clgan_label_planes(tu_ctx(), &plan, clgan_buf_at(by, OFF), k->hw, first,
                           clgan_buf_at(bx, OFF)));
  float *got = down(bx, n);
  for (int c = 0; c < chans; c++)
    for (int b = 0; b < k->batch; b++)
      for (int i = 0; i < k->hw; i++) {
        size_t at = ((size_t)c * k->batch + b) * k->hw + i;
        float want = c < first ? x[at] : (int)y[b] == c - first ? 1.0f : 0.0f;
        ck_assert_msg(got[at] == want, "channel %d image %d [%d]: %g, want %g", c, b, i,
                      (double)got[at], (double)want);
      }
  ck_assert_int_eq(clgan_label_planes(tu_ctx(), &plan, clgan_buf_at(by, OFF), k->hw, -1,
                                      clgan_buf_at(bx, OFF)), CLGAN_ERR_INVALID);
  clgan_buf_release(&by);
  clgan_buf_release(&bx);
  free(got), free(y), free(x);
}
END_TEST

START_TEST(test_bad_plans_refused) {
  clgan_embed_plan plan;
  ck_assert_int_eq(clgan_embed_plan_make(tu_ctx(), 0, 4, 4, &plan), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_embed_plan_make(tu_ctx(), 2, 0, 4, &plan), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_embed_plan_make(tu_ctx(), 2, 4, 0, &plan), CLGAN_ERR_INVALID);
  TU_OK(clgan_embed_plan_make(tu_ctx(), 2, 4, 4, &plan));
  clgan_buf none = {0};
  ck_assert_int_eq(clgan_embed_gather(tu_ctx(), &plan, none, none, none), CLGAN_ERR_INVALID);
}
END_TEST

int main(void) {
  Suite *s = suite_create("embed");
  TCase *tc = tcase_create("embed");
  int n = (int)(sizeof cases / sizeof cases[0]);
  tcase_add_loop_test(tc, test_gather_and_scatter, 0, n);
  tcase_add_loop_test(tc, test_projection, 0, n);
  tcase_add_loop_test(tc, test_label_planes, 0, n);
  tcase_add_test(tc, test_bad_plans_refused);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
