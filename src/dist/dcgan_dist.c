/* The model over several ranks: the global batch split into equal shares,
 * the step's hooks (gradients, losses, ADA's r_t, LeCam's anchors and the
 * regularisers' terms averaged over the ranks; src/train/regularize.c calls
 * them), the fixed noise of the EMA statistics taken column by column and
 * the conditional model's labels by the global batch's index, so that N
 * ranks train the model one rank trains, up to the order of float sums. */
#include <stdlib.h>
#include <string.h>

#include "clgan/dataset.h"
#include "clgan/rng.h"
#include "dist/dist_internal.h"
#include "runtime/internal.h"
#include "train/dcgan_internal.h"

clgan_status clgan_dist_check_batch(const clgan_dist *dist, int batch) {
  int n = clgan_dist_size(dist);
  if (batch % n != 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "--batch %d is the global batch: it must be divisible by the %d ranks", batch,
                      n);
  if (batch / n < 2)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "--batch %d over %d ranks leaves %d image(s) per rank; BatchNorm needs 2",
                      batch, n, batch / n);
  return CLGAN_OK;
}

/* The conditional model's labels of unlabelled generation (the EMA
 * statistics' passes) by the image's index in the global batch, as one rank
 * has them: (first + b) % classes. */
static clgan_status share_cycle_labels(clgan_dcgan *d, int first) {
  int n = d->cfg.batch;
  float *cycle = malloc(sizeof(float) * (size_t)n); /* [share] */
  if (!cycle) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int b = 0; b < n; b++) cycle[b] = (float)((first + b) % d->cfg.num_classes);
  clgan_status st = clgan_buf_write(d->ctx, d->cond.cycle_labels, cycle, (size_t)n);
  free(cycle);
  return st;
}

clgan_status clgan_dcgan_create_dist(clgan_ctx *ctx, const clgan_dcgan_config *cfg,
                                     clgan_dist *dist, clgan_dcgan **out) {
  *out = NULL;
  clgan_status st = clgan_dist_check_batch(dist, cfg->batch);
  if (st != CLGAN_OK) return st;
  if (!clgan_dist_active(dist)) return clgan_dcgan_create(ctx, cfg, out);
  clgan_dcgan_config local = *cfg;
  local.batch = cfg->batch / clgan_dist_size(dist);
  if ((st = dcgan_create_with(ctx, &local, dist, out)) != CLGAN_OK) return st;
  clgan_dcgan *d = *out;
  /* per image draws by the image's index in the global batch (bCR's T
   * too); ADA's step in p by the global batch */
  int first = 0;
  clgan_dist_share(dist, cfg->batch, &first);
  d->aug_plan.first_image = first;
  d->reg.cr_aug.first_image = first;
  if (cfg->ada) d->ada_plan.delta = CLGAN_ADA_DELTA(cfg->batch);
  if (cfg->conditional) st = share_cycle_labels(d, first);
  /* staging: the larger gradient arena, and SyncBatchNorm's gathered pairs */
  size_t need = 0;
  for (int w = 0; w < 2; w++) {
    size_t bn = 2 * (size_t)d->net[w].g.max_channels * (size_t)(clgan_dist_size(dist) + 1);
    if (d->net[w].g.param_floats > need) need = d->net[w].g.param_floats;
    if (bn > need) need = bn;
  }
  if (st == CLGAN_OK) st = clgan_dist_reserve(dist, need);
  if (st != CLGAN_OK) {
    clgan_dcgan_destroy(d);
    *out = NULL;
  }
  return st;
}

int clgan_dcgan_global_batch(const clgan_dcgan *d) { return d->cfg.batch * d->ranks; }

clgan_dist *clgan_dcgan_dist(const clgan_dcgan *d) { return d->dist; }

clgan_status dcgan_dist_reduce_grads(clgan_dcgan *d, clgan_net which) {
  if (d->ranks < 2) return CLGAN_OK;
  clgan_profile_region(d->ctx, "allreduce");
  net_state *s = &d->net[which];
  return clgan_dist_allreduce_buf(d->dist, d->ctx, s->arena[CLGAN_ARENA_GRAD], s->g.param_floats,
                                  0);
}

clgan_status dcgan_dist_mean(clgan_dcgan *d, float *v, int n) {
  if (d->ranks < 2) return CLGAN_OK;
  clgan_status st = clgan_dist_allreduce_sum(d->dist, v, (size_t)n);
  for (int i = 0; i < n && st == CLGAN_OK; i++) v[i] /= (float)d->ranks;
  return st;
}

clgan_status dcgan_dist_mean_buf(clgan_dcgan *d, clgan_buf b, int n) {
  if (d->ranks < 2) return CLGAN_OK;
  float v[DCGAN_DIST_MEAN_MAX];
  if (n < 1 || n > DCGAN_DIST_MEAN_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "mean over the ranks of %d device floats (1..%d)", n,
                      DCGAN_DIST_MEAN_MAX);
  clgan_status st = clgan_buf_read(d->ctx, b, v, (size_t)n);
  if (st == CLGAN_OK) st = dcgan_dist_mean(d, v, n);
  if (st == CLGAN_OK) st = clgan_buf_write(d->ctx, b, v, (size_t)n);
  return st;
}

clgan_status dcgan_dist_mean_slot(clgan_dcgan *d, int slot) {
  return dcgan_dist_mean_buf(d, clgan_buf_at(d->loss, (size_t)slot), 1);
}

clgan_status dcgan_dist_ema_noise(clgan_dcgan *d, float *out) {
  int global = clgan_dcgan_global_batch(d), nz = d->cfg.nz;
  size_t block = (size_t)nz * global;
  float *full = malloc(sizeof(float) * block * CLGAN_EMA_STATS_BATCHES);
  if (!full) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_rng rng;
  clgan_rng_seed(&rng, CLGAN_EMA_STATS_SEED);
  clgan_rng_normal(&rng, full, block * CLGAN_EMA_STATS_BATCHES, 0.0f, 1.0f);
  for (int i = 0; i < CLGAN_EMA_STATS_BATCHES; i++)
    clgan_dist_columns(d->dist, full + block * (size_t)i, nz, global,
                       out + (size_t)nz * d->cfg.batch * (size_t)i);
  free(full);
  return CLGAN_OK;
}

clgan_status clgan_dcgan_dist_prepare_save(clgan_dcgan *d) {
  if (d->ranks < 2) return CLGAN_OK;
  return dcgan_ema_stats(d); /* SyncBatchNorm passes: every rank, at once */
}

/* FNV-1a of the dataset's shape and pixels (every pixel up to 2^26 floats,
 * a regular sample of larger sets). */
static uint64_t dataset_hash(const clgan_dataset *ds) {
  uint64_t h = 1469598103934665603ull;
  const uint64_t shape[3] = {(uint64_t)ds->count, (uint64_t)ds->channels,
                             (uint64_t)ds->image_size};
  const unsigned char *p = (const unsigned char *)shape;
  for (size_t i = 0; i < sizeof shape; i++) h = (h ^ p[i]) * 1099511628211ull;
  size_t n = ds->image_floats * (size_t)ds->count, stride = n >> 26 ? (n >> 26) + 1 : 1;
  for (size_t i = 0; i < n; i += stride) {
    uint32_t bits;
    memcpy(&bits, &ds->data[i], sizeof bits);
    h = (h ^ bits) * 1099511628211ull;
  }
  return h;
}

clgan_status clgan_dist_check_dataset(clgan_dist *d, const clgan_dataset *ds) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  int differs = -1;
  clgan_status st = clgan_dist_agree_u64(d, dataset_hash(ds), &differs);
  if (st != CLGAN_OK || differs < 0) return st;
  return clgan_fail(CLGAN_ERR_INVALID,
                    "rank %d loaded other images than rank 0 (this rank: %d of %dx%d px): "
                    "every rank must read the same data",
                    differs, ds->count, ds->image_size, ds->image_size);
}
