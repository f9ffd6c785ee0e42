/* Activations and BatchNorm2d against double-precision host references,
 * PyTorch 1.13 semantics, and finite differences of sum(out * r). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *const act_name[CLGAN_ACT_COUNT] = {"none", "relu", "leaky_relu", "tanh",
                                                      "sigmoid"};
#define SLOPE 0.2f

/* ---- host references -------------------------------------------------- */

static double ref_act(int act, double v, double slope) {
  switch (act) {
    case CLGAN_ACT_RELU: return v > 0 ? v : 0;
    case CLGAN_ACT_LEAKY_RELU: return v > 0 ? v : v * slope;
    case CLGAN_ACT_TANH: return tanh(v);
    case CLGAN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    default: return v;
  }
}

/* d act / d x expressed through the output, as PyTorch's backward does. */
static double ref_act_grad_from_out(int act, double y, double slope) {
  switch (act) {
    case CLGAN_ACT_RELU: return y > 0 ? 1 : 0;
    case CLGAN_ACT_LEAKY_RELU: return y > 0 ? 1 : slope;
    case CLGAN_ACT_TANH: return 1 - y * y;
    case CLGAN_ACT_SIGMOID: return (1 - y) * y;
    default: return 1;
  }
}

/* Training-mode BN on [c, m] in double: y, mean, invstd, biased var. */
static void ref_bn_train(int c, size_t m, const double *x, const double *gamma,
                         const double *beta, double eps, int act, double slope, double *y,
                         double *mean, double *invstd, double *var) {
  for (int ch = 0; ch < c; ch++) {
    const double *xr = x + (size_t)ch * m;
    double s = 0;
    for (size_t i = 0; i < m; i++) s += xr[i];
    double mu = s / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++) ss += (xr[i] - mu) * (xr[i] - mu);
    double v = ss / (double)m, is = 1.0 / sqrt(v + eps);
    if (mean) mean[ch] = mu;
    if (invstd) invstd[ch] = is;
    if (var) var[ch] = v;
    if (y)
      for (size_t i = 0; i < m; i++)
        y[(size_t)ch * m + i] = ref_act(act, (xr[i] - mu) * is * gamma[ch] + beta[ch], slope);
  }
}

static double *to_double(const float *x, size_t n) {
  double *d = tu_malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

static float *to_float(const double *x, size_t n) {
  float *f = tu_malloc(n * sizeof *f);
  for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}

static float *read_all(clgan_buf b, size_t n) {
  TU_OK(clgan_ctx_finish(tu_ctx()));
  return tu_download(b, n);
}

/* ---- activations ------------------------------------------------------ */

static const size_t act_sizes[] = {1, 7, 33, 1000, 4099};

START_TEST(test_act_forward_backward) {
  clgan_ctx *ctx = tu_ctx();
  for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
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
      TU_OK(clgan_act_forward(ctx, act, SLOPE, n, bx, by));
      TU_OK(clgan_act_backward(ctx, act, SLOPE, n, by, bdy, bdx));
      float *y = read_all(by, n), *dx = read_all(bdx, n);
      float *want = tu_malloc(n * sizeof *want), *wantd = tu_malloc(n * sizeof *wantd);
      for (size_t i = 0; i < n; i++) {
        want[i] = (float)ref_act(act, x[i], SLOPE);
        wantd[i] = (float)(dy[i] * ref_act_grad_from_out(act, y[i], SLOPE));
      }
      snprintf(what, sizeof what, "%s forward n=%zu", act_name[act], n);
      TU_ASSERT_CLOSE(what, y, want, n, 2e-6, 1e-7);
      snprintf(what, sizeof what, "%s backward n=%zu", act_name[act], n);
      TU_ASSERT_CLOSE(what, dx, wantd, n, 2e-6, 1e-7);
      /* the untouched guard floats around x and y stay zero */
      float *all = read_all(arena, 2 * n + 8);
      ck_assert_float_eq(all[0], 0.0f);
      ck_assert_float_eq(all[2 * n + 7], 0.0f);
      free(all);

      /* in place: y = act(x) over x, then dy * act'(y) over dy */
      TU_OK(clgan_act_forward(ctx, act, SLOPE, n, bx, bx));
      TU_OK(clgan_act_backward(ctx, act, SLOPE, n, bx, bdy, bdy));
      float *y2 = read_all(bx, n), *dx2 = read_all(bdy, n);
      snprintf(what, sizeof what, "%s in-place forward n=%zu", act_name[act], n);
      TU_ASSERT_CLOSE(what, y2, y, n, 0, 0);
      snprintf(what, sizeof what, "%s in-place backward n=%zu", act_name[act], n);
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
    tu_fill_normal(x, n, 7 + (uint64_t)act, 0.0f, 2.0f);
    tu_fill_uniform(r, n, 8 + (uint64_t)act, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
      if (fabsf(x[i]) < 1e-3f) x[i] = 0.5f; /* keep away from ReLU's kink */
    clgan_buf bx = tu_upload(x, n), by = tu_upload(NULL, n), br = tu_upload(r, n);
    clgan_buf bdx = tu_upload(NULL, n);
    TU_OK(clgan_act_forward(ctx, act, SLOPE, n, bx, by));
    TU_OK(clgan_act_backward(ctx, act, SLOPE, n, by, br, bdx));
    float *dx = read_all(bdx, n);
    const double h = 1e-5;
    for (size_t i = 0; i < n; i++)
      fd[i] = (float)(r[i] * (ref_act(act, x[i] + h, SLOPE) - ref_act(act, x[i] - h, SLOPE)) /
                      (2 * h));
    char what[64];
    snprintf(what, sizeof what, "%s backward vs finite differences", act_name[act]);
    TU_ASSERT_CLOSE(what, dx, fd, n, 1e-5, 1e-6);
    free(dx);
    clgan_buf_release(&bx), clgan_buf_release(&by), clgan_buf_release(&br),
        clgan_buf_release(&bdx);
  }
  free(x), free(r), free(fd);
}
END_TEST

START_TEST(test_act_invalid) {
  clgan_buf b = tu_upload(NULL, 4);
  ck_assert_int_eq(clgan_act_forward(tu_ctx(), CLGAN_ACT_COUNT, 0, 4, b, b), CLGAN_ERR_INVALID);
  TU_OK(clgan_act_forward(tu_ctx(), CLGAN_ACT_RELU, 0, 0, b, b)); /* empty: nothing to do */
  clgan_buf null = {0};
  ck_assert_int_eq(clgan_act_backward(tu_ctx(), CLGAN_ACT_TANH, 0, 4, b, null, b),
                   CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

/* ---- BatchNorm -------------------------------------------------------- */

/* Per-channel work-group size (src/ops/batchnorm.c): each BN test runs as a
 * loop test over the device's choice (1 on CPUs), 256 (the GPU path: strided
 * float4 loop and local-memory tree) and 8. */
extern size_t clgan_bn_local_override;
static const size_t bn_locals[] = {0, 256, 8};
#define NLOCALS ((int)(sizeof bn_locals / sizeof *bn_locals))
#define BN_LOCAL_SETUP() (clgan_bn_local_override = bn_locals[_i])

typedef struct bn_case {
  int c;
  size_t m;
} bn_case;
static const bn_case bn_cases[] = {{1, 2}, {3, 7}, {5, 33}, {3, 1000}, {1, 4099}, {2, 65539}};
#define NCASES (sizeof bn_cases / sizeof *bn_cases)

/* Device buffers of one BN layer; gamma, beta, stats live in one arena at
 * odd offsets, as parameters do in the engine. */
typedef struct bn_bufs {
  clgan_buf x, y, dy, dx, arena;
  clgan_buf gamma, beta, mean, invstd, rmean, rvar, dgamma, dbeta;
} bn_bufs;

static bn_bufs bn_alloc(int c, size_t m) {
  bn_bufs b;
  size_t cm = (size_t)c * m, cc = (size_t)c;
  b.x = tu_upload(NULL, cm + 1);
  b.x = clgan_buf_at(b.x, 1);
  b.y = tu_upload(NULL, cm);
  b.dy = tu_upload(NULL, cm);
  b.dx = tu_upload(NULL, cm);
  b.arena = tu_upload(NULL, 8 * cc + 3);
  clgan_buf *slots[] = {&b.gamma, &b.beta, &b.mean, &b.invstd, &b.rmean, &b.rvar, &b.dgamma,
                        &b.dbeta};
  for (size_t i = 0; i < 8; i++) *slots[i] = clgan_buf_at(b.arena, 3 + i * cc);
  return b;
}

static void bn_free(bn_bufs *b) {
  b->x.off = 0;
  clgan_buf_release(&b->x), clgan_buf_release(&b->y), clgan_buf_release(&b->dy);
  clgan_buf_release(&b->dx), clgan_buf_release(&b->arena);
}

/* Host data for one case: x with a large per-channel mean (a one-pass
 * E[x^2]-E[x]^2 in float would lose the variance), gamma ~ N(1, 0.3),
 * beta ~ N(0, 0.5), dy ~ U(-1, 1). */
typedef struct bn_host {
  float *x, *gamma, *beta, *dy;
} bn_host;

static bn_host bn_host_make(int c, size_t m, uint64_t seed) {
  bn_host h;
  size_t cm = (size_t)c * m;
  h.x = tu_malloc(cm * sizeof(float));
  h.dy = tu_malloc(cm * sizeof(float));
  h.gamma = tu_malloc((size_t)c * sizeof(float));
  h.beta = tu_malloc((size_t)c * sizeof(float));
  for (int ch = 0; ch < c; ch++)
    tu_fill_normal(h.x + (size_t)ch * m, m, seed + (uint64_t)ch, 10.0f * (float)(ch + 1) - 25.0f,
                   0.5f + (float)ch);
  tu_fill_uniform(h.dy, cm, seed + 99, -1.0f, 1.0f);
  tu_fill_normal(h.gamma, (size_t)c, seed + 7, 1.0f, 0.3f);
  tu_fill_normal(h.beta, (size_t)c, seed + 8, 0.0f, 0.5f);
  return h;
}

static void bn_host_free(bn_host *h) { free(h->x), free(h->gamma), free(h->beta), free(h->dy); }

START_TEST(test_bn_train_forward_and_running_stats) {
  BN_LOCAL_SETUP();
  clgan_ctx *ctx = tu_ctx();
  const float momentum = 0.1f, eps = 1e-5f;
  for (size_t ci = 0; ci < NCASES; ci++) {
    int c = bn_cases[ci].c;
    size_t m = bn_cases[ci].m, cm = (size_t)c * m;
    bn_bufs b = bn_alloc(c, m);
    bn_host h1 = bn_host_make(c, m, 1000 + ci), h2 = bn_host_make(c, m, 2000 + ci);
    float *rm0 = tu_malloc((size_t)c * sizeof(float)), *rv0 = tu_malloc((size_t)c * sizeof(float));
    tu_fill_uniform(rm0, (size_t)c, 5, -1.0f, 1.0f);
    tu_fill_uniform(rv0, (size_t)c, 6, 0.5f, 2.0f);
    TU_OK(clgan_buf_write(ctx, b.gamma, h1.gamma, (size_t)c));
    TU_OK(clgan_buf_write(ctx, b.beta, h1.beta, (size_t)c));
    TU_OK(clgan_buf_write(ctx, b.rmean, rm0, (size_t)c));
    TU_OK(clgan_buf_write(ctx, b.rvar, rv0, (size_t)c));
    double *rm = to_double(rm0, (size_t)c), *rv = to_double(rv0, (size_t)c);
    double *g = to_double(h1.gamma, (size_t)c), *be = to_double(h1.beta, (size_t)c);
    double *yd = tu_malloc(cm * sizeof(double)), *mean = tu_malloc((size_t)c * sizeof(double));
    double *invstd = tu_malloc((size_t)c * sizeof(double)),
           *var = tu_malloc((size_t)c * sizeof(double));
    for (int call = 0; call < 2; call++) {
      /* the second call normalises other data with a fused LeakyReLU */
      bn_host *h = call ? &h2 : &h1;
      int act = call ? CLGAN_ACT_LEAKY_RELU : CLGAN_ACT_NONE;
      TU_OK(clgan_buf_write(ctx, b.x, h->x, cm));
      TU_OK(clgan_batchnorm_forward_train(ctx, c, m, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd,
                                          b.rmean, b.rvar, momentum, eps, act, SLOPE));
      double *xd = to_double(h->x, cm);
      ref_bn_train(c, m, xd, g, be, eps, act, SLOPE, yd, mean, invstd, var);
      for (int ch = 0; ch < c; ch++) {
        rm[ch] = momentum * mean[ch] + (1 - momentum) * rm[ch];
        rv[ch] = momentum * var[ch] * (double)m / (double)(m - 1) + (1 - momentum) * rv[ch];
      }
      float *y = read_all(b.y, cm), *sm = read_all(b.mean, (size_t)c);
      float *si = read_all(b.invstd, (size_t)c);
      float *wy = to_float(yd, cm), *wm = to_float(mean, (size_t)c);
      float *wi = to_float(invstd, (size_t)c);
      char what[96];
      snprintf(what, sizeof what, "bn train y c=%d m=%zu call %d", c, m, call);
      TU_ASSERT_CLOSE(what, y, wy, cm, 1e-5, 2e-5);
      snprintf(what, sizeof what, "bn save_mean c=%d m=%zu call %d", c, m, call);
      TU_ASSERT_CLOSE(what, sm, wm, (size_t)c, 1e-6, 1e-6);
      snprintf(what, sizeof what, "bn save_invstd c=%d m=%zu call %d", c, m, call);
      TU_ASSERT_CLOSE(what, si, wi, (size_t)c, 1e-5, 0);
      free(y), free(sm), free(si), free(wy), free(wm), free(wi), free(xd);
    }
    float *grm = read_all(b.rmean, (size_t)c), *grv = read_all(b.rvar, (size_t)c);
    float *wrm = to_float(rm, (size_t)c), *wrv = to_float(rv, (size_t)c);
    char what[96];
    snprintf(what, sizeof what, "bn running_mean c=%d m=%zu", c, m);
    TU_ASSERT_CLOSE(what, grm, wrm, (size_t)c, 1e-6, 1e-6);
    snprintf(what, sizeof what, "bn running_var c=%d m=%zu", c, m);
    TU_ASSERT_CLOSE(what, grv, wrv, (size_t)c, 1e-5, 1e-6);
    free(grm), free(grv), free(wrm), free(wrv), free(rm0), free(rv0), free(rm), free(rv);
    free(g), free(be), free(yd), free(mean), free(invstd), free(var);
    bn_host_free(&h1), bn_host_free(&h2);
    bn_free(&b);
  }
}
END_TEST

/* Every fused activation, in place (y == x), without running statistics. */
START_TEST(test_bn_train_fused_act_in_place) {
  BN_LOCAL_SETUP();
  clgan_ctx *ctx = tu_ctx();
  const int c = 3;
  const size_t m = 37, cm = (size_t)c * m;
  bn_host h = bn_host_make(c, m, 31);
  double *xd = to_double(h.x, cm), *g = to_double(h.gamma, c), *be = to_double(h.beta, c);
  double *yd = tu_malloc(cm * sizeof(double));
  for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
    bn_bufs b = bn_alloc(c, m);
    TU_OK(clgan_buf_write(ctx, b.x, h.x, cm));
    TU_OK(clgan_buf_write(ctx, b.gamma, h.gamma, (size_t)c));
    TU_OK(clgan_buf_write(ctx, b.beta, h.beta, (size_t)c));
    clgan_buf none = {0};
    TU_OK(clgan_batchnorm_forward_train(ctx, c, m, b.x, b.gamma, b.beta, b.x, b.mean, b.invstd,
                                        none, none, 0.1f, 1e-5f, act, SLOPE));
    ref_bn_train(c, m, xd, g, be, 1e-5, act, SLOPE, yd, NULL, NULL, NULL);
    float *y = read_all(b.x, cm), *want = to_float(yd, cm);
    char what[64];
    snprintf(what, sizeof what, "bn train in place, %s", act_name[act]);
    TU_ASSERT_CLOSE(what, y, want, cm, 1e-5, 2e-5);
    free(y), free(want);
    bn_free(&b);
  }
  free(xd), free(g), free(be), free(yd);
  bn_host_free(&h);
}
END_TEST

START_TEST(test_bn_eval) {
  BN_LOCAL_SETUP();
  clgan_ctx *ctx = tu_ctx();
  const bn_case cases[] = {{1, 1}, {3, 1}, {5, 7}, {3, 33}, {2, 4099}};
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    int c = cases[ci].c;
    size_t m = cases[ci].m, cm = (size_t)c * m;
    for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
      bn_bufs b = bn_alloc(c, m);
      bn_host h = bn_host_make(c, m, 77 + ci);
      float *rm = tu_malloc((size_t)c * sizeof(float)), *rv = tu_malloc((size_t)c * sizeof(float));
      for (int ch = 0; ch < c; ch++) rm[ch] = 10.0f * (float)(ch + 1) - 25.0f;
      tu_fill_uniform(rv, (size_t)c, 9, 0.25f, 4.0f);
      TU_OK(clgan_buf_write(ctx, b.x, h.x, cm));
      TU_OK(clgan_buf_write(ctx, b.gamma, h.gamma, (size_t)c));
      TU_OK(clgan_buf_write(ctx, b.beta, h.beta, (size_t)c));
      TU_OK(clgan_buf_write(ctx, b.rmean, rm, (size_t)c));
      TU_OK(clgan_buf_write(ctx, b.rvar, rv, (size_t)c));
      TU_OK(clgan_batchnorm_forward_eval(ctx, c, m, b.x, b.gamma, b.beta, b.rmean, b.rvar, 1e-5f,
                                         b.y, act, SLOPE));
      float *y = read_all(b.y, cm), *want = tu_malloc(cm * sizeof(float));
      for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < m; i++) {
          double v = ((double)h.x[(size_t)ch * m + i] - rm[ch]) / sqrt((double)rv[ch] + 1e-5) *
                         h.gamma[ch] +
                     h.beta[ch];
          want[(size_t)ch * m + i] = (float)ref_act(act, v, SLOPE);
        }
      char what[96];
      snprintf(what, sizeof what, "bn eval c=%d m=%zu %s", c, m, act_name[act]);
      TU_ASSERT_CLOSE(what, y, want, cm, 1e-5, 1e-5);
      free(y), free(want), free(rm), free(rv);
      bn_host_free(&h);
      bn_free(&b);
    }
  }
}
END_TEST

/* Expected BN backward of one case in double: the unfused sequence, act
 * backward from the device's output y (g = dy * act'(y)), then PyTorch's BN
 * backward formula on g. dx [c, m], dgamma/dbeta [c]; *scale gets the
 * largest |gamma * invstd|, the size of the terms dx is a difference of. */
typedef struct bn_grads {
  float *dx, *dgamma, *dbeta;
  double scale;
} bn_grads;

static bn_grads ref_bn_backward(int c, size_t m, const bn_host *h, const float *y, int act) {
  size_t cm = (size_t)c * m, cc = (size_t)c;
  bn_grads r = {tu_malloc(cm * sizeof(float)), tu_malloc(cc * sizeof(float)),
                tu_malloc(cc * sizeof(float)), 0};
  double *xd = to_double(h->x, cm), *g = tu_malloc(m * sizeof(double));
  double *mean = tu_malloc(cc * sizeof(double)), *invstd = tu_malloc(cc * sizeof(double));
  ref_bn_train(c, m, xd, NULL, NULL, 1e-5, 0, 0, NULL, mean, invstd, NULL);
  for (int ch = 0; ch < c; ch++) {
    size_t row = (size_t)ch * m;
    const double *xr = xd + row;
    double sum = 0, dotp = 0, is = invstd[ch];
    for (size_t i = 0; i < m; i++) {
      g[i] = h->dy[row + i] * ref_act_grad_from_out(act, y[row + i], SLOPE);
      sum += g[i], dotp += (xr[i] - mean[ch]) * g[i];
    }
    double dg = dotp * is;
    r.dgamma[ch] = (float)dg, r.dbeta[ch] = (float)sum;
    if (fabs(h->gamma[ch] * is) > r.scale) r.scale = fabs(h->gamma[ch] * is);
    for (size_t i = 0; i < m; i++) {
      double xhat = (xr[i] - mean[ch]) * is;
      r.dx[row + i] = (float)(h->gamma[ch] * is / (double)m * ((double)m * g[i] - sum - xhat * dg));
    }
  }
  free(xd), free(g), free(mean), free(invstd);
  return r;
}

static void bn_grads_free(bn_grads *g) { free(g->dx), free(g->dgamma), free(g->dbeta); }

/* Uploads a case and runs the training forward with activation act, so that
 * y, mean and invstd are the device's own, as in a training step. */
static bn_bufs bn_setup(int c, size_t m, const bn_host *h, int act) {
  clgan_ctx *ctx = tu_ctx();
  size_t cm = (size_t)c * m, cc = (size_t)c;
  bn_bufs b = bn_alloc(c, m);
  TU_OK(clgan_buf_write(ctx, b.x, h->x, cm));
  TU_OK(clgan_buf_write(ctx, b.dy, h->dy, cm));
  TU_OK(clgan_buf_write(ctx, b.gamma, h->gamma, cc));
  TU_OK(clgan_buf_write(ctx, b.beta, h->beta, cc));
  TU_OK(clgan_batchnorm_forward_train(ctx, c, m, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd,
                                      b.rmean, b.rvar, 0.1f, 1e-5f, act, SLOPE));
  return b;
}

/* The fused backward vs the device's unfused sequence (act backward into a
 * temporary, then BN backward without activation). On CPU devices the two
 * round identically; GPU compilers may contract the derivative into the
 * sums' fma, so there they only agree to rounding. */
static void check_fused_matches_unfused(int c, size_t m, bn_bufs *b, int act, const float *dx,
                                        const float *dg, const float *db, double scale) {
  clgan_ctx *ctx = tu_ctx();
  size_t cm = (size_t)c * m, cc = (size_t)c;
  int exact = clgan_ctx_device(ctx)->is_cpu;
  clgan_buf g = tu_upload(NULL, cm);
  TU_OK(clgan_act_backward(ctx, act, SLOPE, cm, b->y, b->dy, g));
  clgan_buf none = {0};
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b->x, none, g, b->gamma, b->mean, b->invstd, g,
                                 b->dgamma, b->dbeta, 0, CLGAN_ACT_NONE, 0));
  float *udx = read_all(g, cm), *udg = read_all(b->dgamma, cc), *udb = read_all(b->dbeta, cc);
  char what[96];
  snprintf(what, sizeof what, "bn fused vs unfused dx c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dx, udx, cm, exact ? 0 : 1e-5, exact ? 0 : 1e-6 * scale);
  snprintf(what, sizeof what, "bn fused vs unfused dgamma c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dg, udg, cc, exact ? 0 : 1e-5, exact ? 0 : 1e-6 * sqrt((double)m));
  snprintf(what, sizeof what, "bn fused vs unfused dbeta c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, db, udb, cc, exact ? 0 : 1e-5, exact ? 0 : 1e-6 * sqrt((double)m));
  free(udx), free(udg), free(udb);
  clgan_buf_release(&g);
}

/* One case of test_bn_backward: overwrite, then accumulate in place. */
static void bn_backward_case(int c, size_t m, uint64_t seed, int act) {
  clgan_ctx *ctx = tu_ctx();
  size_t cm = (size_t)c * m, cc = (size_t)c;
  bn_host h = bn_host_make(c, m, seed);
  bn_bufs b = bn_setup(c, m, &h, act);
  float *y = read_all(b.y, cm);
  bn_grads want = ref_bn_backward(c, m, &h, y, act);
  float *prev_g = tu_malloc(cc * sizeof(float)), *prev_b = tu_malloc(cc * sizeof(float));
  float *wdga = tu_malloc(cc * sizeof(float)), *wdba = tu_malloc(cc * sizeof(float));
  tu_fill_uniform(prev_g, cc, 3, -2.0f, 2.0f);
  tu_fill_uniform(prev_b, cc, 4, -2.0f, 2.0f);
  for (size_t ch = 0; ch < cc; ch++)
    wdga[ch] = prev_g[ch] + want.dgamma[ch], wdba[ch] = prev_b[ch] + want.dbeta[ch];
  /* sums of m terms of size <= 1 */
  double patol = 1e-5 * sqrt((double)m);
  char what[96];

  /* overwrite (the 123s must go); dy stays as it was */
  TU_OK(clgan_fill(ctx, b.dgamma, cc, 123.0f));
  TU_OK(clgan_fill(ctx, b.dbeta, cc, 123.0f));
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, act, SLOPE));
  float *dx = read_all(b.dx, cm), *dg = read_all(b.dgamma, cc), *db = read_all(b.dbeta, cc);
  float *dy = read_all(b.dy, cm);
  snprintf(what, sizeof what, "bn backward dx c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dx, want.dx, cm, 1e-4, 1e-5 * want.scale);
  snprintf(what, sizeof what, "bn backward dgamma c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dg, want.dgamma, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward dbeta c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, db, want.dbeta, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward leaves dy c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dy, h.dy, cm, 0, 0);

  /* accumulate; in place (dx == dy) gives the same dx */
  TU_OK(clgan_buf_write(ctx, b.dgamma, prev_g, cc));
  TU_OK(clgan_buf_write(ctx, b.dbeta, prev_b, cc));
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dy,
                                 b.dgamma, b.dbeta, 1, act, SLOPE));
  float *dx2 = read_all(b.dy, cm), *dg2 = read_all(b.dgamma, cc), *db2 = read_all(b.dbeta, cc);
  snprintf(what, sizeof what, "bn backward in-place dx c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dx2, dx, cm, 0, 0);
  snprintf(what, sizeof what, "bn backward accumulated dgamma c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dg2, wdga, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward accumulated dbeta c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, db2, wdba, cc, 1e-4, patol);

  TU_OK(clgan_buf_write(ctx, b.dy, h.dy, cm));
  check_fused_matches_unfused(c, m, &b, act, dx, dg, db, want.scale);
  free(y), free(prev_g), free(prev_b), free(wdga), free(wdba);
  free(dx), free(dg), free(db), free(dy), free(dx2), free(dg2), free(db2);
  bn_grads_free(&want);
  bn_host_free(&h);
  bn_free(&b);
}

/* Analytic backward in double (PyTorch's formula) vs the device, for every
 * fused activation, with and without accumulation into dgamma/dbeta. */
START_TEST(test_bn_backward) {
  BN_LOCAL_SETUP();
  for (size_t ci = 0; ci < NCASES; ci++)
    for (int act = 0; act < CLGAN_ACT_COUNT; act++)
      bn_backward_case(bn_cases[ci].c, bn_cases[ci].m, 500 + ci, act);
}
END_TEST

/* sum(act(bn_train(x; gamma, beta)) * r) in double. */
static double bn_loss(int c, size_t m, const double *x, const double *g, const double *be,
                      int act, const double *r, double *ybuf) {
  ref_bn_train(c, m, x, g, be, 1e-5, act, SLOPE, ybuf, NULL, NULL, NULL);
  double s = 0;
  for (size_t i = 0; i < (size_t)c * m; i++) s += ybuf[i] * r[i];
  return s;
}

/* Device backward with fused activation vs central differences of the
 * double forward, for x, gamma and beta; dx includes the paths through the
 * batch statistics. */
static void bn_fd_case(int c, size_t m, uint64_t seed, int act) {
  clgan_ctx *ctx = tu_ctx();
  size_t cm = (size_t)c * m, cc = (size_t)c;
  bn_host h = bn_host_make(c, m, seed);
  for (size_t i = 0; i < cm; i++) h.x[i] = h.x[i] * 0.1f + 0.3f; /* small scale: FD accuracy */
  bn_bufs b = bn_setup(c, m, &h, act);
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, act, SLOPE));
  float *dx = read_all(b.dx, cm), *dg = read_all(b.dgamma, cc), *db = read_all(b.dbeta, cc);

  double *x = to_double(h.x, cm), *g = to_double(h.gamma, cc), *be = to_double(h.beta, cc);
  double *r = to_double(h.dy, cm), *ybuf = tu_malloc(cm * sizeof(double));
  float *fdx = tu_malloc(cm * sizeof(float)), *fdg = tu_malloc(cc * sizeof(float));
  float *fdb = tu_malloc(cc * sizeof(float));
  const double eps = 1e-6;
  double *params[3] = {x, g, be};
  float *outs[3] = {fdx, fdg, fdb};
  size_t lens[3] = {cm, cc, cc};
  double scale = 0;
  for (int p = 0; p < 3; p++)
    for (size_t i = 0; i < lens[p]; i++) {
      double keep = params[p][i];
      params[p][i] = keep + eps;
      double lp = bn_loss(c, m, x, g, be, act, r, ybuf);
      params[p][i] = keep - eps;
      double lm = bn_loss(c, m, x, g, be, act, r, ybuf);
      params[p][i] = keep;
      outs[p][i] = (float)((lp - lm) / (2 * eps));
      if (p == 0 && fabs(outs[p][i]) > scale) scale = fabs(outs[p][i]);
    }
  char what[96];
  snprintf(what, sizeof what, "bn dx vs finite differences c=%d m=%zu %s", c, m, act_name[act]);
  TU_ASSERT_CLOSE(what, dx, fdx, cm, 1e-3, 1e-4 * scale + 1e-6);
  snprintf(what, sizeof what, "bn dgamma vs finite differences c=%d m=%zu %s", c, m,
           act_name[act]);
  TU_ASSERT_CLOSE(what, dg, fdg, cc, 1e-4, 1e-5);
  snprintf(what, sizeof what, "bn dbeta vs finite differences c=%d m=%zu %s", c, m,
           act_name[act]);
  TU_ASSERT_CLOSE(what, db, fdb, cc, 1e-4, 1e-5);
  free(dx), free(dg), free(db), free(x), free(g), free(be), free(r), free(ybuf);
  free(fdx), free(fdg), free(fdb);
  bn_host_free(&h);
  bn_free(&b);
}

START_TEST(test_bn_backward_finite_differences) {
  BN_LOCAL_SETUP();
  const bn_case cases[] = {{1, 2}, {3, 7}, {2, 33}, {1, 300}};
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++)
    for (int act = 0; act < CLGAN_ACT_COUNT; act++)
      bn_fd_case(cases[ci].c, cases[ci].m, 900 + ci, act);
}
END_TEST

/* Skipping outputs: null dx computes only the parameter gradients (with a
 * fused LeakyReLU: its derivative also enters them). */
START_TEST(test_bn_backward_optional_outputs) {
  BN_LOCAL_SETUP();
  clgan_ctx *ctx = tu_ctx();
  const int c = 2;
  const size_t m = 19, cm = (size_t)c * m;
  const int act = CLGAN_ACT_LEAKY_RELU;
  bn_host h = bn_host_make(c, m, 4242);
  bn_bufs b = bn_setup(c, m, &h, act);
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, act, SLOPE));
  float *dg = read_all(b.dgamma, (size_t)c), *db = read_all(b.dbeta, (size_t)c);
  clgan_buf none = {0};
  TU_OK(clgan_fill(ctx, b.dgamma, (size_t)c, 0.0f));
  TU_OK(clgan_fill(ctx, b.dbeta, (size_t)c, 0.0f));
  TU_OK(clgan_fill(ctx, b.dx, cm, 5.0f));
  TU_OK(clgan_batchnorm_backward(ctx, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, none,
                                 b.dgamma, b.dbeta, 0, act, SLOPE));
  float *dg2 = read_all(b.dgamma, (size_t)c), *db2 = read_all(b.dbeta, (size_t)c);
  float *dx = read_all(b.dx, cm);
  TU_ASSERT_CLOSE("dgamma without dx", dg2, dg, (size_t)c, 0, 0);
  TU_ASSERT_CLOSE("dbeta without dx", db2, db, (size_t)c, 0, 0);
  for (size_t i = 0; i < cm; i++) ck_assert_float_eq(dx[i], 5.0f);
  free(dg), free(db), free(dg2), free(db2), free(dx);
  bn_host_free(&h);
  bn_free(&b);
}
END_TEST

START_TEST(test_bn_invalid) {
  clgan_ctx *ctx = tu_ctx();
  bn_bufs b = bn_alloc(2, 1);
  /* PyTorch: "Expected more than 1 value per channel when training" */
  ck_assert_int_eq(clgan_batchnorm_forward_train(ctx, 2, 1, b.x, b.gamma, b.beta, b.y, b.mean,
                                                 b.invstd, b.rmean, b.rvar, 0.1f, 1e-5f,
                                                 CLGAN_ACT_NONE, 0),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_batchnorm_forward_train(ctx, 0, 4, b.x, b.gamma, b.beta, b.y, b.mean,
                                                 b.invstd, b.rmean, b.rvar, 0.1f, 1e-5f,
                                                 CLGAN_ACT_NONE, 0),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_batchnorm_forward_eval(ctx, 2, 1, b.x, b.gamma, b.beta, b.rmean, b.rvar,
                                                1e-5f, b.y, CLGAN_ACT_COUNT, 0),
                   CLGAN_ERR_INVALID);
  /* backward: y is required with an activation; unknown activations fail */
  clgan_buf none = {0};
  ck_assert_int_eq(clgan_batchnorm_backward(ctx, 2, 1, b.x, none, b.dy, b.gamma, b.mean,
                                            b.invstd, b.dx, b.dgamma, b.dbeta, 0,
                                            CLGAN_ACT_TANH, 0),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_batchnorm_backward(ctx, 2, 1, b.x, b.y, b.dy, b.gamma, b.mean,
                                            b.invstd, b.dx, b.dgamma, b.dbeta, 0,
                                            CLGAN_ACT_COUNT, 0),
                   CLGAN_ERR_INVALID);
  bn_free(&b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("norm_act");
  TCase *tc = tcase_create("norm_act");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_act_forward_backward);
  tcase_add_test(tc, test_act_finite_differences);
  tcase_add_test(tc, test_act_invalid);
  tcase_add_loop_test(tc, test_bn_train_forward_and_running_stats, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_train_fused_act_in_place, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_eval, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward_finite_differences, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward_optional_outputs, 0, NLOCALS);
  tcase_add_test(tc, test_bn_invalid);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
