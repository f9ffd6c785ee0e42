/* The GEMM backend a context uses, per shape class. For a context created
 * with CLGAN_GEMM_AUTO, first match wins:
 *   1. the context's tuning (CLGAN_GEMM=own|clblast) forces a backend;
 *   2. a choice remembered in the disk cache for this device (kind "gemm");
 *   3. otherwise both backends are timed once and the faster one is
 *      remembered.
 * The choice is made while planning (clgan_gemm_plan_make in gemm.c, which
 * depends on this file; this file only on the backends, gemm_own.h).
 * The classes: regular GEMMs (timed on 512^3) and long reductions (k much
 * larger than m and n: the weight gradients, timed on 128 x 256 x 32768,
 * where the own kernel's split-K may win even on a device where CLBlast wins
 * the rest). The LDS backend (gemm_lds.c) is not among the measured: the
 * plan-time tuner offers it per shape (conv_tune.c), and a cached choice is
 * OWN or CLBLAST only (values 1 and 2, as before the LDS backend existed).
 * The cache also keeps how much slower CLBlast was: the tuner leaves it out
 * where it cannot win (on PoCL it runs the conv GEMMs 10-20x slower). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ops/gemm_own.h"
#include "runtime/internal.h"

#define GEMM_CACHE_VERSION "4"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- backend choice ------------------------------------------------------ */

/* The two shape classes and the GEMM each is timed on. */
enum { CLASS_REGULAR = 0, CLASS_LONG_K = 1 };
static const size_t class_shape[2][3] = {{512, 512, 512}, {128, 256, 32768}};
static const int class_trans_b[2] = {0, 1}; /* a weight gradient is dY x col^T */

static int shape_class(size_t m, size_t n, size_t k) {
  return gemm_long_reduction(m, n, k) ? CLASS_LONG_K : CLASS_REGULAR;
}

/* Best of a few timed runs of one backend on the class's GEMM (through the
 * backends themselves: this file sits below the plan step, gemm.c). */
static clgan_status time_backend(clgan_ctx *ctx, clgan_gemm_backend be, int cls, clgan_buf a,
                                 clgan_buf b, clgan_buf c, double *best) {
  size_t m = class_shape[cls][0], n = class_shape[cls][1], k = class_shape[cls][2];
  int tb = class_trans_b[cls];
  size_t ldb = tb ? k : n;
  clgan_gemm_plan plan = {.trans_a = 0, .trans_b = tb, .m = m, .n = n, .k = k};
  clgan_status st = be == CLGAN_GEMM_OWN ? gemm_own_plan(ctx, 0, &plan) : CLGAN_OK;
  if (st != CLGAN_OK) return st;
  *best = 1e30;
  for (int r = 0; r < 4; r++) { /* the first run builds kernels */
    double t0 = now_seconds();
    st = be == CLGAN_GEMM_OWN
             ? gemm_own_run(ctx, &plan, 1.0f, a, k, b, ldb, 0.0f, c, n, NULL, NULL)
             : gemm_clblast_run(ctx, 0, tb, m, n, k, 1.0f, a, k, b, ldb, 0.0f, c, n);
    if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
    if (st != CLGAN_OK) return st;
    double t = now_seconds() - t0;
    if (r > 0 && t < *best) *best = t;
  }
  return CLGAN_OK;
}

/* A remembered choice: the backend (a clgan_gemm_backend) and CLBlast's
 * time over the own kernel's. */
typedef struct gemm_choice_entry {
  int32_t backend;
  float clblast_slowdown;
} gemm_choice_entry;

static clgan_status measure_backends(clgan_ctx *ctx, int cls, gemm_choice_entry *out) {
  size_t m = class_shape[cls][0], n = class_shape[cls][1], k = class_shape[cls][2];
  size_t ws_before = ctx->gemm_ws_floats;
  clgan_buf a = {0}, b = {0}, c = {0};
  clgan_status st = clgan_buf_alloc(ctx, m * k, &a);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, k * n, &b);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, m * n, &c);
  if (st == CLGAN_OK) st = clgan_fill(ctx, a, m * k, 0.5f);
  if (st == CLGAN_OK) st = clgan_fill(ctx, b, k * n, 0.25f);
  double t_own = 1e30, t_blast = 1e30;
  if (st == CLGAN_OK) st = time_backend(ctx, CLGAN_GEMM_OWN, cls, a, b, c, &t_own);
  /* A CLBlast failure (unsupported device, no database entry) only loses. */
  if (st == CLGAN_OK && time_backend(ctx, CLGAN_GEMM_CLBLAST, cls, a, b, c, &t_blast) != CLGAN_OK)
    t_blast = 1e30;
  clgan_buf_release(&a);
  clgan_buf_release(&b);
  clgan_buf_release(&c);
  if (st != CLGAN_OK) return st;
  /* the measurement's workspace is not the model's: give it back (plans
   * size it for the real shapes) */
  if (ctx->gemm_ws_floats > ws_before) {
    clgan_buf_release(&ctx->gemm_ws);
    ctx->gemm_ws_floats = 0;
    if (ws_before > 0 && (st = gemm_ws_reserve(ctx, ws_before)) != CLGAN_OK) return st;
  }
  out->backend = t_blast < t_own ? CLGAN_GEMM_CLBLAST : CLGAN_GEMM_OWN;
  out->clblast_slowdown = (float)(t_blast / t_own); /* 1e30: CLBlast failed */
  return CLGAN_OK;
}

/* The remembered choice is tied to the device and to the own kernels' source,
 * so a changed kernel is measured again. */
static void cache_key(const clgan_ctx *ctx, int cls, char *key, size_t cap) {
  char dev[600];
  clgan_ctx_cache_key(ctx, dev, sizeof dev);
  uint64_t h = clgan_program_source_hash("gemm", CLGAN_FNV_SEED);
  snprintf(key, cap, "gemm backend v" GEMM_CACHE_VERSION "|class %d|%s|%016llx", cls, dev,
           (unsigned long long)h);
}

static clgan_status class_backend(clgan_ctx *ctx, int cls, clgan_gemm_backend *out) {
  if (ctx->tuning.gemm != CLGAN_GEMM_AUTO) {
    *out = ctx->tuning.gemm;
    return CLGAN_OK;
  }
  if (ctx->gemm_chosen[cls] != CLGAN_GEMM_AUTO) {
    *out = ctx->gemm_chosen[cls];
    return CLGAN_OK;
  }
  char key[700];
  cache_key(ctx, cls, key, sizeof key);
  void *payload = NULL;
  size_t size = 0;
  const char *cache = clgan_cache_dir(&ctx->tuning);
  gemm_choice_entry e;
  int loaded = clgan_cache_load(cache, "gemm", key, &payload, &size) == CLGAN_OK &&
               size == sizeof e;
  if (loaded) memcpy(&e, payload, sizeof e);
  free(payload);
  if (!loaded || (e.backend != CLGAN_GEMM_OWN && e.backend != CLGAN_GEMM_CLBLAST) ||
      !(e.clblast_slowdown > 0)) {
    clgan_status st = measure_backends(ctx, cls, &e);
    if (st != CLGAN_OK) return st;
    clgan_cache_store(cache, "gemm", key, &e, sizeof e); /* best effort */
  }
  ctx->gemm_chosen[cls] = (clgan_gemm_backend)e.backend;
  ctx->gemm_clblast_slowdown[cls] = e.clblast_slowdown;
  *out = ctx->gemm_chosen[cls];
  return CLGAN_OK;
}

clgan_status gemm_backend_for(clgan_ctx *ctx, size_t m, size_t n, size_t k,
                                clgan_gemm_backend *out) {
  return class_backend(ctx, shape_class(m, n, k), out);
}

double gemm_clblast_slowdown(const clgan_ctx *ctx, size_t m, size_t n, size_t k) {
  return ctx->gemm_clblast_slowdown[shape_class(m, n, k)];
}

clgan_status clgan_gemm_backend_get(clgan_ctx *ctx, clgan_gemm_backend *out) {
  return class_backend(ctx, CLASS_REGULAR, out);
}

