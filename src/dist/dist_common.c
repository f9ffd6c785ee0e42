/* The parts of the communicator that do not depend on MPI: ranks, staging,
 * timing, the image share and SyncBatchNorm's combination of statistics. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist_internal.h"

double dist_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int clgan_dist_env_size(void) {
  /* Open MPI, MPICH / Hydra (PMI), PMIx launchers, Slurm's srun */
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                     "MPI_LOCALNRANKS", "SLURM_NTASKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && atoi(v) > 1) return atoi(v);
  }
  return 1;
}

int clgan_dist_rank(const clgan_dist *d) { return d ? d->rank : 0; }
int clgan_dist_size(const clgan_dist *d) { return d ? d->size : 1; }
int clgan_dist_local_rank(const clgan_dist *d) { return d ? d->local_rank : 0; }
int clgan_dist_local_size(const clgan_dist *d) { return d ? d->local_size : 1; }
int clgan_dist_active(const clgan_dist *d) { return d && d->size > 1; }

clgan_status clgan_dist_reserve(clgan_dist *d, size_t floats) {
  if (!d || floats <= d->stage_floats) return CLGAN_OK;
  float *s = realloc(d->stage, floats * sizeof(float));
  if (!s) return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for %zu staging floats", floats);
  d->stage = s;
  d->stage_floats = floats;
  return CLGAN_OK;
}

static clgan_status need_stage(const clgan_dist *d, size_t floats, const char *what) {
  if (floats <= d->stage_floats) return CLGAN_OK;
  return clgan_fail(CLGAN_ERR_INVALID, "%s: %zu floats but %zu reserved for staging", what, floats,
                    d->stage_floats);
}

clgan_status clgan_dist_allreduce_buf(clgan_dist *d, clgan_ctx *ctx, clgan_buf b, size_t floats,
                                      int bn) {
  if (!clgan_dist_active(d) || floats == 0) return CLGAN_OK;
  clgan_status st = need_stage(d, floats, "allreduce");
  /* the device's queued work first (the read would wait for it anyway), so
   * that the time below is the collective's: transfers, MPI, and waiting for
   * the slowest rank */
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  if (st != CLGAN_OK) return st;
  double t0 = dist_now();
  st = clgan_buf_read(ctx, b, d->stage, floats);
  if (st == CLGAN_OK) st = clgan_dist_allreduce_sum(d, d->stage, floats);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, b, d->stage, floats);
  double dt = dist_now() - t0;
  if (bn) d->timing.bn_seconds += dt;
  else d->timing.reduce_seconds += dt;
  return st;
}

void clgan_dist_combine_stats(const float *g, int ranks, int c, size_t m_local, float *out) {
  for (int k = 0; k < c; k++) {
    double mean = 0, m2 = 0;
    for (int r = 0; r < ranks; r++) mean += g[(size_t)r * 2 * c + k];
    mean /= ranks;
    for (int r = 0; r < ranks; r++) {
      double dm = g[(size_t)r * 2 * c + k] - mean;
      m2 += g[(size_t)r * 2 * c + c + k] + (double)m_local * dm * dm;
    }
    out[k] = (float)mean;
    out[c + k] = (float)m2;
  }
}

clgan_status clgan_dist_bn_stats(clgan_dist *d, clgan_ctx *ctx, clgan_buf sums, int c,
                                 size_t m_local) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  size_t cc = 2 * (size_t)c;
  clgan_status st = need_stage(d, cc * (size_t)(d->size + 1), "SyncBatchNorm");
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx); /* as in clgan_dist_allreduce_buf */
  if (st != CLGAN_OK) return st;
  double t0 = dist_now();
  float *mine = d->stage, *all = d->stage + cc;
  st = clgan_buf_read(ctx, sums, mine, cc);
  if (st == CLGAN_OK) st = clgan_dist_allgather(d, mine, cc, all);
  if (st == CLGAN_OK) {
    clgan_dist_combine_stats(all, d->size, c, m_local, mine);
    st = clgan_buf_write(ctx, sums, mine, cc);
  }
  d->timing.bn_seconds += dist_now() - t0;
  return st;
}

void clgan_dist_timing_get(const clgan_dist *d, clgan_dist_timing *out) {
  if (d) *out = d->timing;
  else memset(out, 0, sizeof *out);
}

void clgan_dist_timing_reset(clgan_dist *d) {
  if (d) memset(&d->timing, 0, sizeof d->timing);
}

void clgan_dist_columns(const clgan_dist *d, const float *full, int rows, int batch, float *out) {
  int first, count = clgan_dist_share(d, batch, &first);
  for (int r = 0; r < rows; r++)
    memcpy(out + (size_t)r * count, full + (size_t)r * batch + first, sizeof(float) * count);
}
