/* Measured FMA peak of a device, remembered in the disk cache: the
 * denominator of every "fraction of peak" figure clgan reports. */
#include <math.h>
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

/* The vector widths the FMA kernel is built at; the peak is the best of
 * them (the widest that fits the registers wins on CPUs). */
static const int peak_widths[] = {4, 8, 16};

/* One width's measurement: the best of three runs, each grown to ~50 ms.
 * Other work on the device can only lower it. */
static clgan_status measure_width(clgan_ctx *ctx, int width, clgan_buf out, size_t global,
                                  double *gflops) {
  cl_kernel k;
  char opts[32];
  snprintf(opts, sizeof opts, "-DPEAK_WIDTH=%d", width);
  clgan_status st = clgan_kernel_get(ctx, "peak", opts, "peak_fma", &k);
  if (st != CLGAN_OK) return st;
  double secs = 0, best = 0;
  int iters = 256;
  while ((st = run_once(ctx, k, out, global, iters, &secs)) == CLGAN_OK && secs < 0.05 &&
         iters < (1 << 26))
    iters *= 2;
  for (int r = 0; r < 3 && st == CLGAN_OK; r++) {
    if ((st = run_once(ctx, k, out, global, iters, &secs)) != CLGAN_OK) break;
    double g = (double)global * iters * 8.0 * width * 2.0 / secs * 1e-9;
    if (g > best) best = g;
  }
  *gflops = best;
  return st;
}

/* A fresh measurement: the best over the widths. */
static clgan_status measure(clgan_ctx *ctx, double *gflops) {
  size_t global = (size_t)ctx->dev.compute_units * (ctx->dev.is_gpu ? 4096 : 64);
  clgan_buf out;
  clgan_status st = clgan_buf_alloc(ctx, global, &out);
  if (st != CLGAN_OK) return st;
  double best = 0;
  for (size_t i = 0; i < sizeof peak_widths / sizeof peak_widths[0] && st == CLGAN_OK; i++) {
    double g = 0;
    st = measure_width(ctx, peak_widths[i], out, global, &g);
    if (g > best) best = g;
  }
  clgan_buf_release(&out);
  *gflops = best;
  return st;
}

void clgan_peak_cache_key(const clgan_device_info *dev, char *key, size_t cap) {
  char dk[700];
  clgan_device_key(dev, dk, sizeof dk);
  snprintf(key, cap, "%s|fma widths 4 8 16", dk);
}

/* The peak remembered for this device in the cache (0 when none). */
static double cached(clgan_ctx *ctx) {
  char key[740];
  clgan_peak_cache_key(&ctx->dev, key, sizeof key);
  void *payload = NULL;
  size_t size = 0;
  double g = 0;
  if (clgan_cache_load(clgan_cache_dir(&ctx->tuning), "peak", key, &payload, &size) ==
          CLGAN_OK &&
      size == sizeof(double))
    memcpy(&g, payload, sizeof(double));
  free(payload);
  return g > 0 && isfinite(g) ? g : 0;
}

static void remember(clgan_ctx *ctx, double gflops) {
  char key[740];
  clgan_peak_cache_key(&ctx->dev, key, sizeof key);
  ctx->peak_gflops = gflops;
  clgan_cache_store(clgan_cache_dir(&ctx->tuning), "peak", key, &gflops,
                    sizeof gflops); /* best effort */
}

clgan_status clgan_ctx_peak_gflops(clgan_ctx *ctx, double *gflops) {
  if (ctx->peak_gflops <= 0) ctx->peak_gflops = cached(ctx);
  if (ctx->peak_gflops > 0) {
    *gflops = ctx->peak_gflops;
    return CLGAN_OK;
  }
  double g = 0;
  clgan_status st = measure(ctx, &g);
  if (st != CLGAN_OK) return st;
  remember(ctx, g);
  *gflops = g;
  return CLGAN_OK;
}

clgan_status clgan_ctx_peak_remeasure(clgan_ctx *ctx, double *now, double *gflops) {
  double g = 0, before = cached(ctx);
  if (ctx->peak_gflops > before) before = ctx->peak_gflops;
  clgan_status st = measure(ctx, &g);
  if (st != CLGAN_OK) return st;
  if (now) *now = g;
  if (g > before) remember(ctx, g);
  else ctx->peak_gflops = before;
  *gflops = ctx->peak_gflops;
  return CLGAN_OK;
}
