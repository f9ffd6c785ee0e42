/* Nearest neighbours by brute force on the device (cl/metrics_nn.cl). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "metrics/internal.h"

#define NN_TQ 4          /* queries per work-item, as TQ in the kernel */
#define NN_MAX_SEGMENTS 64


struct clgan_nn {
  clgan_ctx *ctx;
  int channels, size, max_queries;
  cl_mem best_d, best_i;   /* [max_queries][NN_MAX_SEGMENTS] */
  float *host_d;
  int *host_i;
  cl_kernel k_search;      /* nn_search, created at setup */
  int forced_segments;     /* the tuning's metrics_nn_segments (0: the device's choice) */
};

void clgan_nn_destroy(clgan_nn *nn) {
  if (!nn) return;
  clgan_mem_release(&nn->best_d);
  clgan_mem_release(&nn->best_i);
  free(nn->host_d);
  free(nn->host_i);
  free(nn);
}

clgan_status clgan_nn_create(clgan_ctx *ctx, int channels, int size, int max_queries,
                             clgan_nn **out) {
  *out = NULL;
  if (!ctx || channels < 1 || size < 1 || max_queries < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "nn: invalid plan (%d channels, %d px, %d queries)",
                      channels, size, max_queries);
  clgan_nn *nn = calloc(1, sizeof *nn);
  if (!nn) return clgan_fail(CLGAN_ERR_NOMEM, "nn: out of memory");
  nn->ctx = ctx;
  nn->channels = channels;
  nn->size = size;
  nn->max_queries = max_queries;
  size_t slots = (size_t)max_queries * NN_MAX_SEGMENTS;
  nn->host_d = malloc(sizeof(float) * slots);
  nn->host_i = malloc(sizeof(int) * slots);
  clgan_status st = CLGAN_OK;
  if (!nn->host_d || !nn->host_i) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "nn: out of memory");
    goto fail;
  }
  if ((st = clgan_mem_alloc_output(ctx, sizeof(cl_float) * slots, &nn->best_d)) != CLGAN_OK ||
      (st = clgan_mem_alloc_output(ctx, sizeof(cl_int) * slots, &nn->best_i)) != CLGAN_OK)
    goto fail;
  if ((st = clgan_kernel_get(ctx, "metrics_nn", NULL, "nn_search", &nn->k_search)) != CLGAN_OK)
    goto fail;
  nn->forced_segments = ctx->tuning.metrics_nn_segments;
  *out = nn;
  return CLGAN_OK;
fail:
  clgan_nn_destroy(nn);
  return st;
}

static int segments_for(const clgan_nn *nn, int nq, int nr) {
  int seg;
  if (nn->forced_segments > 0)
    seg = nn->forced_segments;
  else if (clgan_ctx_cpu_paths(nn->ctx))
    seg = 1;
  else {
    /* enough work-items to fill a GPU: about 16k query tiles x segments,
     * segments of at least 32 references */
    int tiles = (nq + NN_TQ - 1) / NN_TQ;
    seg = 16384 / (tiles > 0 ? tiles : 1);
    if (seg > nr / 32) seg = nr / 32;
  }
  if (seg > NN_MAX_SEGMENTS) seg = NN_MAX_SEGMENTS;
  if (seg > nr) seg = nr;
  return seg < 1 ? 1 : seg;
}

clgan_status clgan_nn_search(clgan_nn *nn, const clgan_image_set *queries,
                             const clgan_image_set *refs, int exclude_same, int *nearest,
                             float *rms) {
  if (!nn) return clgan_fail(CLGAN_ERR_INVALID, "nn: null plan");
  clgan_status st;
  if ((st = clgan_metrics_check_set("nn (queries)", queries, nn->channels, nn->size)) != CLGAN_OK ||
      (st = clgan_metrics_check_set("nn (references)", refs, nn->channels, nn->size)) != CLGAN_OK)
    return st;
  int nq = queries->count, nr = refs->count;
  if (nq > nn->max_queries)
    return clgan_fail(CLGAN_ERR_INVALID, "nn: %d queries, the plan holds %d", nq, nn->max_queries);
  if (nr < 1 + (exclude_same != 0) || (exclude_same && nq != nr))
    return clgan_fail(CLGAN_ERR_INVALID, "nn: %d references for %d queries%s", nr, nq,
                      exclude_same ? " of the same set" : "");
  if (nq == 0) return CLGAN_OK;
  clgan_ctx *ctx = nn->ctx;
  cl_kernel k = nn->k_search;
  int nseg = segments_for(nn, nq, nr);
  cl_int seg_len = (nr + nseg - 1) / nseg;
  nseg = (nr + seg_len - 1) / seg_len; /* no empty segment */
  cl_ulong qoff = queries->buf.off, qis = queries->image_stride, qcs = queries->channel_stride,
           roff = refs->buf.off, ris = refs->image_stride, rcs = refs->channel_stride;
  cl_int cnq = nq, cnr = nr, cc = nn->channels, hw = nn->size * nn->size, ex = exclude_same != 0;
  if ((st = clgan_set_args(k, 16, sizeof(cl_mem), &queries->buf.mem, sizeof qoff, &qoff, sizeof qis,
                           &qis, sizeof qcs, &qcs, sizeof cnq, &cnq, sizeof(cl_mem), &refs->buf.mem,
                           sizeof roff, &roff, sizeof ris, &ris, sizeof rcs, &rcs, sizeof cnr, &cnr,
                           sizeof cc, &cc, sizeof hw, &hw, sizeof ex, &ex, sizeof seg_len, &seg_len,
                           sizeof(cl_mem), &nn->best_d, sizeof(cl_mem), &nn->best_i)) != CLGAN_OK)
    return st;
  size_t g[2] = {clgan_round_up((size_t)(nq + NN_TQ - 1) / NN_TQ, 8), (size_t)nseg};
  if ((st = clgan_launch(ctx, k, 2, g, NULL, "nn_search")) != CLGAN_OK) return st;
  size_t slots = (size_t)nq * nseg;
  if ((st = clgan_mem_read(ctx, nn->best_d, 0, nn->host_d, sizeof(cl_float) * slots)) != CLGAN_OK ||
      (st = clgan_mem_read(ctx, nn->best_i, 0, nn->host_i, sizeof(cl_int) * slots)) != CLGAN_OK)
    return st;
  double values = (double)nn->channels * nn->size * nn->size;
  for (int q = 0; q < nq; q++) {
    float best = INFINITY;
    int bi = -1;
    /* segments in reference order, strict <: ties keep the lowest index */
    for (int s = 0; s < nseg; s++) {
      float d = nn->host_d[(size_t)q * nseg + s];
      int i = nn->host_i[(size_t)q * nseg + s];
      if (i >= 0 && (bi < 0 || d < best)) {
        best = d;
        bi = i;
      }
    }
    if (nearest) nearest[q] = bi;
    if (rms) rms[q] = bi < 0 ? NAN : (float)(sqrt((double)best / values) / 2.0);
  }
  return CLGAN_OK;
}
