/* Measured FMA peak of a device, remembered in the disk cache: the
 * denominator of every "fraction of peak" figure clgan reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clgan_status run_once(clgan_ctx *ctx, cl_kernel k, clgan_buf out, size_t global,
                             int iters, double *seconds) {
  float a = 0.9999f, b = 1e-4f;
  clgan_status st = clgan_set_args(k, 4, sizeof(cl_mem), &out.mem, sizeof iters, &iters,
                                   sizeof a, &a, sizeof b, &b);
  if (st != CLGAN_OK) return st;
  double t0 = now_seconds();
  if ((st = clgan_launch(ctx, k, 1, &global, NULL, "peak_fma")) != CLGAN_OK) return st;
  if ((st = clgan_ctx_finish(ctx)) != CLGAN_OK) return st;
  *seconds = now_seconds() - t0;
  return CLGAN_OK;
}

clgan_status clgan_ctx_peak_gflops(clgan_ctx *ctx, double *gflops) {
  if (ctx->peak_gflops > 0) {
    *gflops = ctx->peak_gflops;
    return CLGAN_OK;
  }
  char key[700];
  clgan_device_key(&ctx->dev, key, sizeof key);
  const char *cache = clgan_cache_dir(&ctx->tuning);
  void *payload = NULL;
  size_t size = 0;
  if (clgan_cache_load(cache, "peak", key, &payload, &size) == CLGAN_OK &&
      size == sizeof(double)) {
    memcpy(&ctx->peak_gflops, payload, sizeof(double));
    free(payload);
    if (ctx->peak_gflops > 0) {
      *gflops = ctx->peak_gflops;
      return CLGAN_OK;
    }
  }
  free(payload);

  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "peak", NULL, "peak_fma", &k);
  if (st != CLGAN_OK) return st;
  size_t global = (size_t)ctx->dev.compute_units * (ctx->dev.is_gpu ? 4096 : 64);
  clgan_buf out;
  if ((st = clgan_buf_alloc(ctx, global, &out)) != CLGAN_OK) return st;
  double secs = 0, best = 0;
  int iters = 256;
  /* Grow the run until it takes ~50 ms, then keep the best of three. */
  while ((st = run_once(ctx, k, out, global, iters, &secs)) == CLGAN_OK && secs < 0.05 &&
         iters < (1 << 26))
    iters *= 2;
  for (int r = 0; r < 3 && st == CLGAN_OK; r++) {
    if ((st = run_once(ctx, k, out, global, iters, &secs)) != CLGAN_OK) break;
    double g = (double)global * iters * 8.0 * 16.0 * 2.0 / secs * 1e-9;
    if (g > best) best = g;
  }
  clgan_buf_release(&out);
  if (st != CLGAN_OK) return st;
  ctx->peak_gflops = best;
  clgan_cache_store(cache, "peak", key, &best, sizeof best); /* best effort */
  *gflops = best;
  return CLGAN_OK;
}
