/* Metrics plumbing shared by SWD, MS-SSIM and the nearest-neighbour search:
 * image sets, the gather kernel (cl/metrics.cl), seeded pairs and subsets. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "clgan/rng.h"
#include "metrics/internal.h"

clgan_image_set clgan_image_set_nchw(clgan_buf buf, int count, int channels, int size) {
  clgan_image_set s = {buf, count, channels, size,
                       (size_t)channels * (size_t)size * (size_t)size, (size_t)size * (size_t)size};
  return s;
}

clgan_image_set clgan_image_set_cnhw(clgan_buf buf, int count, int channels, int size) {
  clgan_image_set s = {buf, count, channels, size, (size_t)size * (size_t)size,
                       (size_t)count * (size_t)size * (size_t)size};
  return s;
}

clgan_status clgan_metrics_check_set(const char *what, const clgan_image_set *s, int channels,
                                     int size) {
  if (!s || !s->buf.mem)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: no image buffer", what);
  if (s->count < 0 || s->channels < 1 || s->size < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: invalid image set (%d images, %d channels, %d px)",
                      what, s->count, s->channels, s->size);
  if ((channels >= 0 && s->channels != channels) || (size >= 0 && s->size != size))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: images are %d channel(s) of %d px, the plan expects %d of %d px", what,
                      s->channels, s->size, channels, size);
  if (s->count == 0) return CLGAN_OK;
  size_t hw = (size_t)s->size * (size_t)s->size;
  /* the last float read: image count-1, channel c-1, pixel hw-1 */
  size_t last = s->buf.off + (size_t)(s->count - 1) * s->image_stride +
                (size_t)(s->channels - 1) * s->channel_stride + hw - 1;
  size_t bytes = clgan_mem_bytes(s->buf.mem);
  if (bytes == 0)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: not a valid buffer", what);
  if (last >= bytes / sizeof(float))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: %d images of %d x %d x %d (strides %zu, %zu) at offset %zu need %zu "
                      "floats, the buffer holds %zu",
                      what, s->count, s->channels, s->size, s->size, s->image_stride,
                      s->channel_stride, s->buf.off, last + 1, bytes / sizeof(float));
  return CLGAN_OK;
}

clgan_status clgan_metrics_gather_kernel(clgan_ctx *ctx, cl_kernel *out) {
  return clgan_kernel_get(ctx, "metrics", NULL, "metrics_gather", out);
}

clgan_status clgan_metrics_gather(clgan_ctx *ctx, cl_kernel k, const clgan_image_set *s,
                                  cl_mem idx, int first, int n, clgan_buf out, float scale,
                                  float shift) {
  if (n <= 0) return CLGAN_OK;
  size_t hw = (size_t)s->size * s->size, total = (size_t)n * s->channels * hw;
  if (out.off > UINT_MAX || total > UINT_MAX - out.off)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "metrics: %zu floats beyond 32-bit indexing", total);
  clgan_status st;
  cl_ulong inoff = s->buf.off, is = s->image_stride, cs = s->channel_stride;
  cl_int use_idx = idx != NULL, f = first;
  cl_mem im = idx ? idx : s->buf.mem; /* any valid buffer when unused */
  cl_uint oo = (cl_uint)out.off, un = (cl_uint)n, uc = (cl_uint)s->channels, uhw = (cl_uint)hw;
  if ((st = clgan_set_args(k, 14, sizeof(cl_mem), &s->buf.mem, sizeof inoff, &inoff, sizeof is, &is,
                           sizeof cs, &cs, sizeof(cl_mem), &im, sizeof use_idx, &use_idx,
                           sizeof f, &f, sizeof(cl_mem), &out.mem, sizeof oo, &oo, sizeof un, &un,
                           sizeof uc, &uc, sizeof uhw, &uhw, sizeof scale, &scale, sizeof shift,
                           &shift)) != CLGAN_OK)
    return st;
  size_t g = clgan_round_up(total, 64);
  return clgan_launch(ctx, k, 1, &g, NULL, "metrics_gather");
}

size_t clgan_metrics_local_size(clgan_ctx *ctx, cl_kernel k) {
  if (ctx->tuning.metrics_local) return ctx->tuning.metrics_local;
  if (clgan_ctx_cpu_paths(ctx)) return 1;
  return clgan_pow2_local(ctx, k, 256);
}

size_t clgan_metrics_pow2(size_t x) {
  size_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

void clgan_metrics_random_pairs(uint64_t seed, int n, int npairs, int *ia, int *ib) {
  clgan_rng r;
  clgan_rng_seed_stream(&r, seed, CLGAN_STREAM_PAIRS, 0);
  for (int p = 0; p < npairs; p++) {
    if (n < 2) {
      ia[p] = ib[p] = 0;
      continue;
    }
    int i = (int)(clgan_rng_next(&r) % (uint64_t)n);
    int j = (int)(clgan_rng_next(&r) % (uint64_t)(n - 1));
    if (j >= i) j++;
    ia[p] = i;
    ib[p] = j;
  }
}

void clgan_metrics_random_subset(uint64_t seed, int n, int k, int *out) {
  /* partial Fisher-Yates over an index table; out holds the first k */
  int *perm = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  if (!perm) { /* deterministic fallback: evenly spaced */
    for (int i = 0; i < k; i++) out[i] = (int)((long long)i * n / (k > 0 ? k : 1));
    return;
  }
  for (int i = 0; i < n; i++) perm[i] = i;
  clgan_rng r;
  clgan_rng_seed_stream(&r, seed, CLGAN_STREAM_SUBSET, 0);
  for (int i = 0; i < k && i < n; i++) {
    int j = i + (int)(clgan_rng_next(&r) % (uint64_t)(n - i));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    out[i] = perm[i];
  }
  free(perm);
}

double clgan_metrics_quantile(const double *sorted, int n, double q) {
  if (n <= 0) return NAN;
  double pos = q * (n - 1);
  int lo = (int)floor(pos);
  if (lo >= n - 1) return sorted[n - 1];
  double f = pos - lo;
  return sorted[lo] + f * (sorted[lo + 1] - sorted[lo]);
}

double clgan_metrics_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
