/* BatchNorm2d and its fused activation backward against double-precision
 * host references (PyTorch 1.13 semantics) and finite differences of
 * sum(out * r). */
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

/* The BN plan of act on the shared context, with its current tuning. */
static clgan_bn_plan bn_plan(int act) {
  clgan_bn_plan p;
  TU_OK(clgan_bn_plan_make(tu_ctx(), (clgan_act)act, &p));
  return p;
}

/* Sets the context's BatchNorm work-group size (0: the device's choice);
 * plans made afterwards use it. */
static void set_bn_local(size_t local) {
  clgan_tuning t = *clgan_ctx_tuning(tu_ctx());
  t.bn_local = local;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
}

/* Per-channel work-group size (the context's tuning.bn_local): each BN test
 * runs as a loop test over the device's choice (1 on CPUs), 256 (the GPU
 * path: strided float4 loop and local-memory tree) and 8, planning its ops
 * after setting it. */
static const size_t bn_locals[] = {0, 256, 8};
#define NLOCALS ((int)(sizeof bn_locals / sizeof *bn_locals))
#define BN_LOCAL_SETUP() set_bn_local(bn_locals[_i])

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
  clgan_buf *slots[] = {&b.gamma, &b.beta, &b.mean,   &b.invstd,
                        &b.rmean, &b.rvar, &b.dgamma, &b.dbeta};
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

static void bn_host_free(bn_host *h) {
  free(h->x), free(h->gamma), free(h->beta), free(h->dy);
}

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
    double *rm = ref_to_double(rm0, (size_t)c), *rv = ref_to_double(rv0, (size_t)c);
    double *g = ref_to_double(h1.gamma, (size_t)c), *be = ref_to_double(h1.beta, (size_t)c);
    double *yd = tu_malloc(cm * sizeof(double)), *mean = tu_malloc((size_t)c * sizeof(double));
    double *invstd = tu_malloc((size_t)c * sizeof(double)),
           *var = tu_malloc((size_t)c * sizeof(double));
    for (int call = 0; call < 2; call++) {
      /* the second call normalises other data with a fused LeakyReLU */
      bn_host *h = call ? &h2 : &h1;
      int act = call ? CLGAN_ACT_LEAKY_RELU : CLGAN_ACT_NONE;
      TU_OK(clgan_buf_write(ctx, b.x, h->x, cm));
      clgan_bn_plan plan = bn_plan(act);
      TU_OK(clgan_batchnorm_forward_train(ctx, &plan, c, m, b.x, b.gamma, b.beta, b.y, b.mean,
                                          b.invstd, b.rmean, b.rvar, momentum, eps, SLOPE, NULL));
      double *xd = ref_to_double(h->x, cm);
      ref_bn_train(c, m, xd, g, be, eps, act, SLOPE, yd, mean, invstd, var);
      for (int ch = 0; ch < c; ch++) {
        rm[ch] = momentum * mean[ch] + (1 - momentum) * rm[ch];
        rv[ch] = momentum * var[ch] * (double)m / (double)(m - 1) + (1 - momentum) * rv[ch];
      }
      float *y = read_all(b.y, cm), *sm = read_all(b.mean, (size_t)c);
      float *si = read_all(b.invstd, (size_t)c);
      float *wy = ref_to_float(yd, cm), *wm = ref_to_float(mean, (size_t)c);
      float *wi = ref_to_float(invstd, (size_t)c);
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
    float *wrm = ref_to_float(rm, (size_t)c), *wrv = ref_to_float(rv, (size_t)c);
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
  double *xd = ref_to_double(h.x, cm), *g = ref_to_double(h.gamma, c),
         *be = ref_to_double(h.beta, c);
  double *yd = tu_malloc(cm * sizeof(double));
  for (int act = 0; act < CLGAN_ACT_COUNT; act++) {
    bn_bufs b = bn_alloc(c, m);
    TU_OK(clgan_buf_write(ctx, b.x, h.x, cm));
    TU_OK(clgan_buf_write(ctx, b.gamma, h.gamma, (size_t)c));
    TU_OK(clgan_buf_write(ctx, b.beta, h.beta, (size_t)c));
    clgan_buf none = {0};
    clgan_bn_plan plan = bn_plan(act);
    TU_OK(clgan_batchnorm_forward_train(ctx, &plan, c, m, b.x, b.gamma, b.beta, b.x, b.mean,
                                        b.invstd, none, none, 0.1f, 1e-5f, SLOPE, NULL));
    ref_bn_train(c, m, xd, g, be, 1e-5, act, SLOPE, yd, NULL, NULL, NULL);
    float *y = read_all(b.x, cm), *want = ref_to_float(yd, cm);
    char what[64];
    snprintf(what, sizeof what, "bn train in place, %s", ref_act_names[act]);
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
      clgan_bn_plan plan = bn_plan(act);
      TU_OK(clgan_batchnorm_forward_eval(ctx, &plan, c, m, b.x, b.gamma, b.beta, b.rmean, b.rvar,
                                         1e-5f, b.y, SLOPE, NULL));
      float *y = read_all(b.y, cm), *want = tu_malloc(cm * sizeof(float));
      for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < m; i++) {
          double v = ((double)h.x[(size_t)ch * m + i] - rm[ch]) / sqrt((double)rv[ch] + 1e-5) *
                         h.gamma[ch] +
                     h.beta[ch];
          want[(size_t)ch * m + i] = (float)ref_act(act, v, SLOPE);
        }
      char what[96];
      snprintf(what, sizeof what, "bn eval c=%d m=%zu %s", c, m, ref_act_names[act]);
      TU_ASSERT_CLOSE(what, y, want, cm, 1e-5, 1e-5);
      free(y), free(want), free(rm), free(rv);
      bn_host_free(&h);
      bn_free(&b);
    }
  }
}
END_TEST

/* Expected BN backward of one case (ref_bn_grads) from the device's output
 * y; scale is the largest |gamma * invstd|. */
typedef struct bn_grads {
  float *dx, *dgamma, *dbeta;
  double scale;
} bn_grads;

static bn_grads ref_bn_backward(int c, size_t m, const bn_host *h, const float *y, int act) {
  size_t cm = (size_t)c * m, cc = (size_t)c;
  bn_grads r = {tu_malloc(cm * sizeof(float)), tu_malloc(cc * sizeof(float)),
                tu_malloc(cc * sizeof(float)), 0};
  r.scale = ref_bn_grads(c, m, h->x, h->gamma, h->dy, y, act, SLOPE, r.dx, r.dgamma, r.dbeta);
  return r;
}

static void bn_grads_free(bn_grads *g) {
  free(g->dx), free(g->dgamma), free(g->dbeta);
}

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
  clgan_bn_plan plan = bn_plan(act);
  TU_OK(clgan_batchnorm_forward_train(ctx, &plan, c, m, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd,
                                      b.rmean, b.rvar, 0.1f, 1e-5f, SLOPE, NULL));
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
  int exact = clgan_ctx_cpu_paths(ctx);
  clgan_buf g = tu_upload(NULL, cm);
  clgan_act_plan act_plan;
  TU_OK(clgan_act_plan_make(ctx, (clgan_act)act, &act_plan));
  TU_OK(clgan_act_backward(ctx, &act_plan, SLOPE, cm, b->y, b->dy, g));
  clgan_buf none = {0};
  clgan_bn_plan plain = bn_plan(CLGAN_ACT_NONE);
  TU_OK(clgan_batchnorm_backward(ctx, &plain, c, m, b->x, none, g, b->gamma, b->mean, b->invstd, g,
                                 b->dgamma, b->dbeta, 0, 0, NULL));
  float *udx = read_all(g, cm), *udg = read_all(b->dgamma, cc), *udb = read_all(b->dbeta, cc);
  char what[96];
  snprintf(what, sizeof what, "bn fused vs unfused dx c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dx, udx, cm, exact ? 0 : 1e-5, exact ? 0 : 1e-6 * scale);
  snprintf(what, sizeof what, "bn fused vs unfused dgamma c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dg, udg, cc, exact ? 0 : 1e-5, exact ? 0 : 1e-6 * sqrt((double)m));
  snprintf(what, sizeof what, "bn fused vs unfused dbeta c=%d m=%zu %s", c, m, ref_act_names[act]);
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
  clgan_bn_plan plan = bn_plan(act);
  TU_OK(clgan_batchnorm_backward(ctx, &plan, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, SLOPE, NULL));
  float *dx = read_all(b.dx, cm), *dg = read_all(b.dgamma, cc), *db = read_all(b.dbeta, cc);
  float *dy = read_all(b.dy, cm);
  snprintf(what, sizeof what, "bn backward dx c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dx, want.dx, cm, 1e-4, 1e-5 * want.scale);
  snprintf(what, sizeof what, "bn backward dgamma c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dg, want.dgamma, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward dbeta c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, db, want.dbeta, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward leaves dy c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dy, h.dy, cm, 0, 0);

  /* accumulate; in place (dx == dy) gives the same dx */
  TU_OK(clgan_buf_write(ctx, b.dgamma, prev_g, cc));
  TU_OK(clgan_buf_write(ctx, b.dbeta, prev_b, cc));
  TU_OK(clgan_batchnorm_backward(ctx, &plan, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dy,
                                 b.dgamma, b.dbeta, 1, SLOPE, NULL));
  float *dx2 = read_all(b.dy, cm), *dg2 = read_all(b.dgamma, cc), *db2 = read_all(b.dbeta, cc);
  snprintf(what, sizeof what, "bn backward in-place dx c=%d m=%zu %s", c, m, ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dx2, dx, cm, 0, 0);
  snprintf(what, sizeof what, "bn backward accumulated dgamma c=%d m=%zu %s", c, m,
           ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dg2, wdga, cc, 1e-4, patol);
  snprintf(what, sizeof what, "bn backward accumulated dbeta c=%d m=%zu %s", c, m,
           ref_act_names[act]);
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
static double bn_loss(int c, size_t m, const double *x, const double *g, const double *be, int act,
                      const double *r, double *ybuf) {
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
  clgan_bn_plan plan = bn_plan(act);
  TU_OK(clgan_batchnorm_backward(ctx, &plan, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, SLOPE, NULL));
  float *dx = read_all(b.dx, cm), *dg = read_all(b.dgamma, cc), *db = read_all(b.dbeta, cc);

  double *x = ref_to_double(h.x, cm), *g = ref_to_double(h.gamma, cc),
         *be = ref_to_double(h.beta, cc);
  double *r = ref_to_double(h.dy, cm), *ybuf = tu_malloc(cm * sizeof(double));
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
  snprintf(what, sizeof what, "bn dx vs finite differences c=%d m=%zu %s", c, m,
           ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dx, fdx, cm, 1e-3, 1e-4 * scale + 1e-6);
  snprintf(what, sizeof what, "bn dgamma vs finite differences c=%d m=%zu %s", c, m,
           ref_act_names[act]);
  TU_ASSERT_CLOSE(what, dg, fdg, cc, 1e-4, 1e-5);
  snprintf(what, sizeof what, "bn dbeta vs finite differences c=%d m=%zu %s", c, m,
           ref_act_names[act]);
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
  clgan_bn_plan plan = bn_plan(act);
  TU_OK(clgan_batchnorm_backward(ctx, &plan, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx,
                                 b.dgamma, b.dbeta, 0, SLOPE, NULL));
  float *dg = read_all(b.dgamma, (size_t)c), *db = read_all(b.dbeta, (size_t)c);
  clgan_buf none = {0};
  TU_OK(clgan_fill(ctx, b.dgamma, (size_t)c, 0.0f));
  TU_OK(clgan_fill(ctx, b.dbeta, (size_t)c, 0.0f));
  TU_OK(clgan_fill(ctx, b.dx, cm, 5.0f));
  TU_OK(clgan_batchnorm_backward(ctx, &plan, c, m, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, none,
                                 b.dgamma, b.dbeta, 0, SLOPE, NULL));
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
  set_bn_local(0);
  clgan_ctx *ctx = tu_ctx();
  bn_bufs b = bn_alloc(2, 1);
  clgan_bn_plan none_plan = bn_plan(CLGAN_ACT_NONE), tanh_plan = bn_plan(CLGAN_ACT_TANH), bad;
  /* PyTorch: "Expected more than 1 value per channel when training" */
  ck_assert_int_eq(clgan_batchnorm_forward_train(ctx, &none_plan, 2, 1, b.x, b.gamma, b.beta, b.y,
                                                 b.mean, b.invstd, b.rmean, b.rvar, 0.1f, 1e-5f, 0,
                                                 NULL),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_batchnorm_forward_train(ctx, &none_plan, 0, 4, b.x, b.gamma, b.beta, b.y,
                                                 b.mean, b.invstd, b.rmean, b.rvar, 0.1f, 1e-5f, 0,
                                                 NULL),
                   CLGAN_ERR_INVALID);
  /* unknown activations have no plan, and a launch needs one */
  ck_assert_int_eq(clgan_bn_plan_make(ctx, CLGAN_ACT_COUNT, &bad), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_batchnorm_forward_eval(ctx, NULL, 2, 1, b.x, b.gamma, b.beta, b.rmean,
                                                b.rvar, 1e-5f, b.y, 0, NULL),
                   CLGAN_ERR_INVALID);
  /* backward: y is required with an activation */
  clgan_buf none = {0};
  ck_assert_int_eq(clgan_batchnorm_backward(ctx, &tanh_plan, 2, 1, b.x, none, b.dy, b.gamma, b.mean,
                                            b.invstd, b.dx, b.dgamma, b.dbeta, 0, 0, NULL),
                   CLGAN_ERR_INVALID);
  TU_OK(clgan_batchnorm_backward(ctx, &none_plan, 2, 1, b.x, none, b.dy, b.gamma, b.mean, b.invstd,
                                 b.dx, b.dgamma, b.dbeta, 0, 0, NULL));
  clgan_bn_plan forged = none_plan;
  forged.act = CLGAN_ACT_COUNT;
  ck_assert_int_eq(clgan_batchnorm_backward(ctx, &forged, 2, 1, b.x, b.y, b.dy, b.gamma, b.mean,
                                            b.invstd, b.dx, b.dgamma, b.dbeta, 0, 0, NULL),
                   CLGAN_ERR_INVALID);
  bn_free(&b);
}
END_TEST

/* The plan takes its work-group sizes from the context's tuning: forced
 * sizes must be powers of two the kernels allow; 0 is the device's choice
 * (1 on CPUs); a plan made earlier keeps its own. */
START_TEST(test_bn_plan_local_sizes) {
  clgan_ctx *ctx = tu_ctx();
  set_bn_local(0);
  clgan_bn_plan dflt = bn_plan(CLGAN_ACT_RELU), p;
  if (clgan_ctx_cpu_paths(ctx)) ck_assert_uint_eq(dflt.train_local, 1);
  size_t sizes[3] = {dflt.train_local, dflt.eval_local, dflt.backward_local};
  for (int i = 0; i < 3; i++)
    ck_assert_msg((sizes[i] & (sizes[i] - 1)) == 0 && sizes[i] <= 256, "default size %zu",
                  sizes[i]);
  set_bn_local(8);
  p = bn_plan(CLGAN_ACT_RELU);
  ck_assert_uint_eq(p.train_local, 8);
  ck_assert_uint_eq(p.eval_local, 8);
  ck_assert_uint_eq(p.backward_local, 8);
  ck_assert_uint_eq(dflt.train_local, sizes[0]);
  const size_t bad[] = {3, 12, (size_t)1 << 40};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    set_bn_local(bad[i]);
    ck_assert_int_eq(clgan_bn_plan_make(ctx, CLGAN_ACT_RELU, &p), CLGAN_ERR_INVALID);
  }
  set_bn_local(0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("batchnorm");
  TCase *tc = tcase_create("batchnorm");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_bn_train_forward_and_running_stats, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_train_fused_act_in_place, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_eval, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward_finite_differences, 0, NLOCALS);
  tcase_add_loop_test(tc, test_bn_backward_optional_outputs, 0, NLOCALS);
  tcase_add_test(tc, test_bn_invalid);
  tcase_add_test(tc, test_bn_plan_local_sizes);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
