/* Row sorts for the sliced Wasserstein distance (cl/metrics_sort.cl). */
#include <limits.h>
#include <string.h>

#include "metrics/internal.h"

clgan_status clgan_metrics_sort_plan_make(clgan_ctx *ctx, int method,
                                          clgan_metrics_sort_plan *out) {
  memset(out, 0, sizeof *out);
  if (method < 0 || method > 2)
    return clgan_fail(CLGAN_ERR_INVALID, "sort: unknown method %d", method);
  if (method == 0) method = ctx->tuning.metrics_sort;
  if (method != 1 && method != 2) method = clgan_ctx_cpu_paths(ctx) ? 1 : 2;
  out->method = method;
  if (method == 1)
    return clgan_kernel_get(ctx, "metrics_sort", NULL, "sort_rows_radix", &out->radix);
  clgan_status st;
  if ((st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_pad", &out->pad)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_sort", NULL, "sort_bitonic_local", &out->local)) !=
          CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_sort", NULL, "sort_bitonic_merge_local",
                             &out->merge)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_sort", NULL, "sort_bitonic_global", &out->global)) !=
          CLGAN_OK)
    return st;
  /* the largest group both local kernels allow (local memory: 2L floats) */
  size_t lim = ctx->dev.max_work_group_size;
  if (ctx->tuning.metrics_local) lim = ctx->tuning.metrics_local;
  cl_kernel ks[2] = {out->local, out->merge};
  for (int i = 0; i < 2; i++) {
    size_t kw = clgan_kernel_max_local(ctx, ks[i]);
    if (kw < lim) lim = kw;
  }
  out->local_cap = lim;
  out->local_mem_floats = ctx->dev.local_mem_bytes / (2 * sizeof(float)) / 2; /* keep half spare */
  return CLGAN_OK;
}

static clgan_status radix(clgan_ctx *ctx, const clgan_metrics_sort_plan *p, clgan_buf data,
                          size_t rows, size_t n, size_t ld, clgan_buf tmp) {
  if (!tmp.mem) return clgan_fail(CLGAN_ERR_INVALID, "sort: the radix sort needs scratch");
  cl_kernel k = p->radix;
  cl_uint off = (cl_uint)data.off, uld = (cl_uint)ld, un = (cl_uint)n, ur = (cl_uint)rows,
          toff = (cl_uint)tmp.off;
  clgan_status st;
  if ((st = clgan_set_args(k, 7, sizeof(cl_mem), &data.mem, sizeof off, &off, sizeof uld, &uld,
                           sizeof un, &un, sizeof ur, &ur, sizeof(cl_mem), &tmp.mem, sizeof toff,
                           &toff)) != CLGAN_OK)
    return st;
  /* one row per work-group: rows spread over the compute units */
  size_t local = 1, global = rows;
  return clgan_launch(ctx, k, 1, &global, &local, "sort_rows_radix");
}

/* The largest power-of-two local size L with 2L <= ld within the plan's caps. */
static size_t bitonic_local(const clgan_metrics_sort_plan *p, size_t ld) {
  size_t L = 1;
  while (L * 2 <= p->local_cap && L * 2 <= 512 && L * 2 <= p->local_mem_floats && L * 4 <= ld)
    L *= 2;
  return L;
}

static clgan_status bitonic(clgan_ctx *ctx, const clgan_metrics_sort_plan *p, clgan_buf data,
                            size_t rows, size_t n, size_t ld) {
  if (ld < 2 || (ld & (ld - 1)))
    return clgan_fail(CLGAN_ERR_INVALID, "sort: bitonic rows need a power-of-two stride (%zu)", ld);
  cl_kernel kpad = p->pad, kloc = p->local, kmerge = p->merge, kglob = p->global;
  clgan_status st;
  cl_uint off = (cl_uint)data.off, uld = (cl_uint)ld, um = (cl_uint)n;
  if (n < ld) {
    if ((st = clgan_set_args(kpad, 4, sizeof(cl_mem), &data.mem, sizeof off, &off, sizeof uld,
                             &uld, sizeof um, &um)) != CLGAN_OK)
      return st;
    size_t g[2] = {clgan_round_up(ld - n, 64), rows};
    if ((st = clgan_launch(ctx, kpad, 2, g, NULL, "swd_pad")) != CLGAN_OK) return st;
  }
  size_t L = bitonic_local(p, ld), B = 2 * L;
  size_t lg[2] = {ld / 2, rows}, ll[2] = {L, 1};
  if ((st = clgan_set_args(kloc, 4, sizeof(cl_mem), &data.mem, sizeof off, &off, sizeof uld, &uld,
                           B * sizeof(float), (const void *)NULL)) != CLGAN_OK ||
      (st = clgan_launch(ctx, kloc, 2, lg, ll, "sort_bitonic_local")) != CLGAN_OK)
    return st;
  size_t gg[2] = {clgan_round_up(ld / 2, 64), rows};
  for (size_t k = 2 * B; k <= ld; k <<= 1) {
    cl_uint uk = (cl_uint)k;
    for (size_t j = k >> 1; j >= B; j >>= 1) {
      cl_uint uj = (cl_uint)j;
      if ((st = clgan_set_args(kglob, 5, sizeof(cl_mem), &data.mem, sizeof off, &off, sizeof uld,
                               &uld, sizeof uk, &uk, sizeof uj, &uj)) != CLGAN_OK ||
          (st = clgan_launch(ctx, kglob, 2, gg, NULL, "sort_bitonic_global")) != CLGAN_OK)
        return st;
    }
    if ((st = clgan_set_args(kmerge, 5, sizeof(cl_mem), &data.mem, sizeof off, &off, sizeof uld,
                             &uld, sizeof uk, &uk, B * sizeof(float), (const void *)NULL)) !=
            CLGAN_OK ||
        (st = clgan_launch(ctx, kmerge, 2, lg, ll, "sort_bitonic_merge_local")) != CLGAN_OK)
      return st;
  }
  return CLGAN_OK;
}

clgan_status clgan_metrics_sort_rows(clgan_ctx *ctx, const clgan_metrics_sort_plan *p,
                                     clgan_buf data, size_t rows, size_t n, size_t ld,
                                     clgan_buf tmp) {
  if (!data.mem || ld < n) return clgan_fail(CLGAN_ERR_INVALID, "sort: invalid rows");
  if (rows == 0 || n <= 1) return CLGAN_OK;
  if (data.off > UINT_MAX || rows * ld > UINT_MAX - data.off ||
      (tmp.mem && (tmp.off > UINT_MAX || rows * ld > UINT_MAX - tmp.off)))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "sort: %zu x %zu floats beyond 32-bit indexing", rows,
                      ld);
  if (p->method == 1) return radix(ctx, p, data, rows, n, ld, tmp);
  if (p->method == 2) return bitonic(ctx, p, data, rows, n, ld);
  return clgan_fail(CLGAN_ERR_INVALID, "sort: unknown method %d", p->method);
}
