/* D's regulariser ops (clgan/regularize.h) against plain C references in
 * double and against finite differences of the terms they differentiate:
 * LeCam, bCR's consistency term, spectral normalisation forward (training
 * and evaluation) and backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/regularize.h"
#include "test_util.h"

enum { N = 37 }; /* logits: not a power of two, more than one lane each */

static double mean_sq(const float *x, float a, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += ((double)x[i] - a) * ((double)x[i] - a);
  return s / n;
}

/* d/dx_i of weight * mean((x - a)^2) by central differences in double. */
static double fd_lecam(const float *x, float a, int n, int i, double weight) {
  float p[N], m[N];
  memcpy(p, x, sizeof p);
  memcpy(m, x, sizeof m);
  const double h = 1e-3;
  p[i] = (float)(x[i] + h);
  m[i] = (float)(x[i] - h);
  return weight * (mean_sq(p, a, n) - mean_sq(m, a, n)) / ((double)p[i] - m[i]);
}

START_TEST(test_lecam_matches_reference) {
  float x[N], dl0[N], state[4] = {0.25f, -0.5f, 1.0f, 1.0f};
  tu_fill_normal(x, N, 1, 0.1f, 1.0f);
  tu_fill_uniform(dl0, N, 2, -0.1f, 0.1f);
  clgan_logit_reg_plan plan;
  TU_OK(clgan_logit_reg_plan_make(tu_ctx(), N, &plan));
  const float weight = 0.3f, decay = CLGAN_LECAM_DECAY;
  for (int which = 0; which < 2; which++) {
    clgan_buf bx = tu_upload(x, N), bs = tu_upload(state, 4), bdl = tu_upload(dl0, N),
              out = tu_upload(NULL, 1);
    TU_OK(clgan_lecam_step(tu_ctx(), &plan, bx, which, decay, weight, bs, bdl, out));
    float *dl = tu_download(bdl, N), *st = tu_download(bs, 4), *o = tu_download(out, 1);
    float other = state[1 - which], want[N];
    double mean = 0.0;
    for (int i = 0; i < N; i++) {
      want[i] = (float)(dl0[i] + weight * 2.0 * ((double)x[i] - other) / N);
      mean += x[i] / (double)N;
    }
    TU_ASSERT_CLOSE("lecam gradient", dl, want, N, 1e-5, 1e-7);
    float term = (float)mean_sq(x, other, N);
    TU_ASSERT_CLOSE("lecam term", o, &term, 1, 1e-5, 0);
    float anchor = (float)(decay * state[which] + (1.0 - decay) * mean);
    TU_ASSERT_CLOSE("lecam anchor", &st[which], &anchor, 1, 1e-6, 1e-7);
    ck_assert(st[1 - which] == other && st[2] == 1.0f && st[3] == 1.0f);
    /* the gradient is that of the term, the anchor held constant */
    for (int i = 0; i < N; i += 6) {
      float fd = (float)fd_lecam(x, other, N, i, weight), got = dl[i] - dl0[i];
      TU_ASSERT_CLOSE("lecam finite differences", &got, &fd, 1, 1e-3, 1e-6);
    }
    free(dl);
    free(st);
    free(o);
    clgan_buf_release(&bx);
    clgan_buf_release(&bs);
    clgan_buf_release(&bdl);
    clgan_buf_release(&out);
  }
}
END_TEST

/* The first step of a run: the real side has no fake anchor yet (no term,
 * no gradient) and sets its own anchor to the batch's mean. */
START_TEST(test_lecam_first_step) {
  float x[N], dl0[N], state[4] = {0, 0, 0, 0};
  tu_fill_normal(x, N, 3, -0.2f, 0.5f);
  tu_fill_uniform(dl0, N, 4, -0.1f, 0.1f);
  clgan_logit_reg_plan plan;
  TU_OK(clgan_logit_reg_plan_make(tu_ctx(), N, &plan));
  clgan_buf bx = tu_upload(x, N), bs = tu_upload(state, 4), bdl = tu_upload(dl0, N),
            out = tu_upload(NULL, 1);
  TU_OK(clgan_lecam_step(tu_ctx(), &plan, bx, 0, CLGAN_LECAM_DECAY, 1.0f, bs, bdl, out));
  float *dl = tu_download(bdl, N), *st = tu_download(bs, 4), *o = tu_download(out, 1);
  ck_assert_mem_eq(dl, dl0, sizeof dl0);
  ck_assert(o[0] == 0.0f);
  double mean = 0.0;
  for (int i = 0; i < N; i++) mean += x[i] / (double)N;
  float want = (float)mean;
  TU_ASSERT_CLOSE("first anchor", &st[0], &want, 1, 1e-6, 1e-7);
  ck_assert(st[1] == 0.0f && st[2] == 1.0f && st[3] == 0.0f);
  ck_assert_int_eq(clgan_lecam_step(tu_ctx(), &plan, bx, 2, 0.99f, 1.0f, bs, bdl, out),
                   CLGAN_ERR_INVALID);
  free(dl);
  free(st);
  free(o);
  clgan_buf_release(&bx);
  clgan_buf_release(&bs);
  clgan_buf_release(&bdl);
  clgan_buf_release(&out);
}
END_TEST

static double cr_term(const float *x1, const float *x2, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += ((double)x1[i] - x2[i]) * ((double)x1[i] - x2[i]);
  return s / n;
}

START_TEST(test_consistency_matches_reference) {
  float x1[N], x2[N], dl0[N];
  tu_fill_normal(x1, N, 5, 0.0f, 1.0f);
  tu_fill_normal(x2, N, 6, 0.0f, 1.0f);
  tu_fill_uniform(dl0, N, 7, -0.1f, 0.1f);
  clgan_logit_reg_plan plan;
  TU_OK(clgan_logit_reg_plan_make(tu_ctx(), N, &plan));
  const float weight = 10.0f;
  clgan_buf b1 = tu_upload(x1, N), b2 = tu_upload(x2, N), d1 = tu_upload(dl0, N),
            d2 = tu_upload(dl0, N), out = tu_upload(NULL, 1);
  TU_OK(clgan_consistency_step(tu_ctx(), &plan, b1, b2, weight, d1, d2, out));
  float *g1 = tu_download(d1, N), *g2 = tu_download(d2, N), *o = tu_download(out, 1);
  float want1[N], want2[N], term = (float)cr_term(x1, x2, N);
  for (int i = 0; i < N; i++) {
    double g = weight * 2.0 * ((double)x1[i] - x2[i]) / N;
    want1[i] = (float)(dl0[i] + g);
    want2[i] = (float)-g;
  }
  TU_ASSERT_CLOSE("bCR gradient of D(x)", g1, want1, N, 1e-5, 1e-7);
  TU_ASSERT_CLOSE("bCR gradient of D(T(x))", g2, want2, N, 1e-5, 1e-7);
  TU_ASSERT_CLOSE("bCR term", o, &term, 1, 1e-5, 0);
  /* both branches by finite differences of the term */
  for (int i = 0; i < N; i += 5) {
    float p[N], m[N];
    const double h = 1e-3;
    for (int side = 0; side < 2; side++) {
      const float *x = side ? x2 : x1;
      memcpy(p, x, sizeof p);
      memcpy(m, x, sizeof m);
      p[i] = (float)(x[i] + h);
      m[i] = (float)(x[i] - h);
      double fp = side ? cr_term(x1, p, N) : cr_term(p, x2, N);
      double fm = side ? cr_term(x1, m, N) : cr_term(m, x2, N);
      float fd = (float)(weight * (fp - fm) / ((double)p[i] - m[i]));
      float got = side ? g2[i] : g1[i] - dl0[i];
      TU_ASSERT_CLOSE("bCR finite differences", &got, &fd, 1, 1e-3, 1e-6);
    }
  }
  free(g1);
  free(g2);
  free(o);
  clgan_buf *bufs[] = {&b1, &b2, &d1, &d2, &out};
  for (int i = 0; i < 5; i++) clgan_buf_release(bufs[i]);
}
END_TEST

/* y = W x (W [rows, cols]) and y = W^T x, in double. */
static void mv(const float *w, int rows, int cols, const double *x, double *y, int trans) {
  for (int o = 0; o < (trans ? cols : rows); o++) {
    double s = 0.0;
    for (int k = 0; k < (trans ? rows : cols); k++)
      s += (trans ? w[(size_t)k * cols + o] : w[(size_t)o * cols + k]) * x[k];
    y[o] = s;
  }
}

static void normalize(double *x, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  double norm = fmax(sqrt(s), 1e-12);
  for (int i = 0; i < n; i++) x[i] /= norm;
}

/* PyTorch's spectral_norm forward in double: u, v updated when asked;
 * returns sigma. */
static double sn_ref(const float *w, int rows, int cols, double *u, double *v, int update) {
  double *wv = malloc(sizeof(double) * (size_t)rows);
  ck_assert_ptr_nonnull(wv);
  if (update) {
    mv(w, rows, cols, u, v, 1);
    normalize(v, cols);
    mv(w, rows, cols, v, u, 0);
    normalize(u, rows);
  }
  mv(w, rows, cols, v, wv, 0);
  double sigma = 0.0;
  for (int i = 0; i < rows; i++) sigma += u[i] * wv[i];
  free(wv);
  return sigma;
}

typedef struct sn_case {
  int rows, cols;
} sn_case;
/* a hidden conv, D's last conv (one row), a first conv with few columns */
static const sn_case cases[] = {{8, 48}, {1, 128}, {16, 16 * 1}, {24, 3}};

static float *unit(int n, uint64_t seed) {
  float *x = tu_malloc(sizeof(float) * (size_t)n);
  tu_fill_normal(x, (size_t)n, seed, 0.0f, 1.0f);
  double s = 0.0;
  for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
  for (int i = 0; i < n; i++) x[i] = (float)(x[i] / sqrt(s));
  return x;
}

START_TEST(test_sn_forward_matches_reference) {
  const sn_case *c = &cases[_i / 2];
  int update = _i % 2, rows = c->rows, cols = c->cols;
  size_t nw = (size_t)rows * cols;
  float *w = tu_malloc(sizeof(float) * nw), *u0 = unit(rows, 11), *v0 = unit(cols, 12);
  tu_fill_normal(w, nw, 13, 0.0f, 0.02f);
  clgan_sn_plan plan;
  TU_OK(clgan_sn_plan_make(tu_ctx(), rows, cols, &plan));
  clgan_buf bw = tu_upload(w, nw), bu = tu_upload(u0, (size_t)rows),
            bv = tu_upload(v0, (size_t)cols), work = tu_upload(NULL, clgan_sn_work_floats(&plan)),
            bsn = tu_upload(NULL, nw);
  TU_OK(clgan_sn_forward(tu_ctx(), &plan, bw, bu, bv, work, bsn, update));
  double *u = malloc(sizeof(double) * (size_t)rows), *v = malloc(sizeof(double) * (size_t)cols);
  for (int i = 0; i < rows; i++) u[i] = u0[i];
  for (int j = 0; j < cols; j++) v[j] = v0[j];
  double sigma = sn_ref(w, rows, cols, u, v, update);
  float *gu = tu_download(bu, (size_t)rows), *gv = tu_download(bv, (size_t)cols);
  float *gw = tu_download(bsn, nw), *gs = tu_download(work, clgan_sn_work_floats(&plan));
  float *fu = tu_malloc(sizeof(float) * (size_t)rows),
        *fv = tu_malloc(sizeof(float) * (size_t)cols);
  float *fw = tu_malloc(sizeof(float) * nw), fs = (float)sigma;
  for (int i = 0; i < rows; i++) fu[i] = (float)u[i];
  for (int j = 0; j < cols; j++) fv[j] = (float)v[j];
  for (size_t k = 0; k < nw; k++) fw[k] = (float)(w[k] / sigma);
  TU_ASSERT_CLOSE("sigma", &gs[rows], &fs, 1, 1e-5, 0);
  TU_ASSERT_CLOSE("u", gu, fu, (size_t)rows, 1e-5, 1e-6);
  TU_ASSERT_CLOSE("v", gv, fv, (size_t)cols, 1e-5, 1e-6);
  TU_ASSERT_CLOSE("W_sn", gw, fw, nw, 1e-5, 1e-6);
  if (!update) { /* evaluation: u and v exactly as stored */
    ck_assert_mem_eq(gu, u0, sizeof(float) * (size_t)rows);
    ck_assert_mem_eq(gv, v0, sizeof(float) * (size_t)cols);
  }
  free(u), free(v), free(w), free(u0), free(v0), free(gu), free(gv), free(gw), free(gs);
  free(fu), free(fv), free(fw);
  clgan_buf *bufs[] = {&bw, &bu, &bv, &work, &bsn};
  for (int i = 0; i < 5; i++) clgan_buf_release(bufs[i]);
}
END_TEST

/* f(W) = <R, W / (u^T W v)> with u, v fixed, in double. */
static double sn_objective(const float *w, const float *r, const double *u, const double *v,
                           int rows, int cols) {
  double sigma = 0.0, dot = 0.0;
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      double x = w[(size_t)i * cols + j];
      sigma += u[i] * x * v[j];
      dot += r[(size_t)i * cols + j] * x;
    }
  return dot / sigma;
}

/* The backward maps G = dL/dW_sn to dL/dW with u, v held constant: against
 * the formula and against finite differences of <G, W_sn(W)>. */
START_TEST(test_sn_backward_matches_reference) {
  const sn_case *c = &cases[_i];
  int rows = c->rows, cols = c->cols;
  size_t nw = (size_t)rows * cols;
  float *w = tu_malloc(sizeof(float) * nw), *g = tu_malloc(sizeof(float) * nw);
  float *dw0 = tu_malloc(sizeof(float) * nw), *u0 = unit(rows, 21), *v0 = unit(cols, 22);
  tu_fill_normal(w, nw, 23, 0.0f, 0.02f);
  tu_fill_normal(g, nw, 24, 0.0f, 1.0f);
  tu_fill_normal(dw0, nw, 25, 0.0f, 1.0f);
  clgan_sn_plan plan;
  TU_OK(clgan_sn_plan_make(tu_ctx(), rows, cols, &plan));
  clgan_buf bw = tu_upload(w, nw), bu = tu_upload(u0, (size_t)rows),
            bv = tu_upload(v0, (size_t)cols), work = tu_upload(NULL, clgan_sn_work_floats(&plan)),
            bsn = tu_upload(NULL, nw), bg = tu_upload(g, nw), bdw = tu_upload(dw0, nw),
            bdw1 = tu_upload(NULL, nw);
  TU_OK(clgan_sn_forward(tu_ctx(), &plan, bw, bu, bv, work, bsn, 1));
  TU_OK(clgan_sn_backward(tu_ctx(), &plan, bg, bsn, bu, bv, work, bdw, 1));
  TU_OK(clgan_sn_backward(tu_ctx(), &plan, bg, bsn, bu, bv, work, bdw1, 0));
  float *fu = tu_download(bu, (size_t)rows), *fv = tu_download(bv, (size_t)cols);
  float *acc = tu_download(bdw, nw), *got = tu_download(bdw1, nw), *wsn = tu_download(bsn, nw);
  double *u = malloc(sizeof(double) * (size_t)rows), *v = malloc(sizeof(double) * (size_t)cols);
  for (int i = 0; i < rows; i++) u[i] = fu[i];
  for (int j = 0; j < cols; j++) v[j] = fv[j];
  double sigma = sn_ref(w, rows, cols, u, v, 0), t = 0.0;
  for (size_t k = 0; k < nw; k++) t += (double)g[k] * wsn[k];
  float *want = tu_malloc(sizeof(float) * nw), *want_acc = tu_malloc(sizeof(float) * nw);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      size_t k = (size_t)i * cols + j;
      double m = (g[k] - t * u[i] * v[j]) / sigma;
      want[k] = (float)m;
      want_acc[k] = (float)(dw0[k] + m);
    }
  TU_ASSERT_CLOSE("dW", got, want, nw, 1e-4, 1e-3);
  TU_ASSERT_CLOSE("dW accumulated", acc, want_acc, nw, 1e-4, 1e-3);
  /* finite differences of f(W) = <G, W_sn(W)>, u and v fixed: df/dW is the map of G */
  for (size_t k = 0; k < nw; k += 1 + nw / 7) {
    float save = w[k];
    const float h = 1e-3f;
    w[k] = save + h;
    double fp = sn_objective(w, g, u, v, rows, cols);
    float hp = w[k] - save;
    w[k] = save - h;
    double fm = sn_objective(w, g, u, v, rows, cols);
    float hm = save - w[k];
    w[k] = save;
    float fd = (float)((fp - fm) / ((double)hp + hm));
    TU_ASSERT_CLOSE("dW finite differences", &got[k], &fd, 1, 2e-3, 1e-2);
  }
  free(w), free(g), free(dw0), free(u0), free(v0), free(fu), free(fv), free(acc), free(got);
  free(wsn), free(u), free(v), free(want), free(want_acc);
  clgan_buf *bufs[] = {&bw, &bu, &bv, &work, &bsn, &bg, &bdw, &bdw1};
  for (int i = 0; i < 8; i++) clgan_buf_release(bufs[i]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("regularize");
  TCase *tc = tcase_create("regularize");
  tcase_add_test(tc, test_lecam_matches_reference);
  tcase_add_test(tc, test_lecam_first_step);
  tcase_add_test(tc, test_consistency_matches_reference);
  int ncases = (int)(sizeof cases / sizeof cases[0]);
  tcase_add_loop_test(tc, test_sn_forward_matches_reference, 0, 2 * ncases);
  tcase_add_loop_test(tc, test_sn_backward_matches_reference, 0, ncases);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
