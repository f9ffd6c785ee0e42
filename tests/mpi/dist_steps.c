/* Run by tests/mpi/run_mpi.sh under mpirun: models over the ranks with
 * augmentation, ADA, nan_guard and the averaged generator on, with LeCam and
 * bCR, and conditional; steps that create no OpenCL object (SyncBatchNorm,
 * the gradient allreduce, the loss means and LeCam's anchors use what set-up
 * reserved), and every rank holding the same bits of every arena and of the
 * regularisers' state afterwards (the replicas never drift apart). With
 * DATA OUT1 OUT2: clgan_train over the ranks on DATA with the images on the
 * device (OUT1) and streamed by the loader thread (OUT2), for the script to
 * compare. Prints one line per failure; exits 0 when all hold, 77 when no
 * OpenCL device. usage: dist_steps [DATA OUT1 OUT2] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/clgan.h"
#include "clgan/cond.h"
#include "clgan/dist.h"

static int failed(const char *what, clgan_status st) {
  fprintf(stderr, "dist_steps: %s: %s: %s\n", what, clgan_status_name(st), clgan_last_error());
  return 1;
}

/* FNV-1a over the bytes of n floats. */
static uint64_t fnv(uint64_t h, const float *v, size_t n) {
  const unsigned char *p = (const unsigned char *)v;
  for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* FNV-1a over every arena of both networks and the regularisers' state
 * (LeCam's anchors, spectral norm's u and v). */
static uint64_t model_hash(clgan_dcgan *net, int *bad) {
  uint64_t h = 1469598103934665603ull;
  for (int w = 0; w < 2; w++)
    for (int a = 0; a < CLGAN_ARENA_COUNT; a++) {
      size_t n = clgan_dcgan_arena_floats(net, (clgan_net)w, (clgan_arena)a);
      if (n == 0 || a == CLGAN_ARENA_GRAD) continue;
      float *host = malloc(n * sizeof(float));
      if (!host || clgan_dcgan_arena_read(net, (clgan_net)w, (clgan_arena)a, host) != CLGAN_OK)
        *bad = 1;
      else
        h = fnv(h, host, n);
      free(host);
    }
  size_t n = clgan_dcgan_reg_floats(net);
  float *reg = n ? malloc(n * sizeof(float)) : NULL;
  if (n && (!reg || clgan_dcgan_reg_read(net, reg) != CLGAN_OK)) *bad = 1;
  else if (n) h = fnv(h, reg, n);
  free(reg);
  return h;
}

/* Every rank's model against rank 0's: the hash as two floats' bits. */
static int same_on_every_rank(clgan_dist *dist, clgan_dcgan *net, const char *name) {
  int bad = 0;
  uint64_t h = model_hash(net, &bad);
  float mine[2], all[2 * 16];
  memcpy(mine, &h, sizeof h);
  int ranks = clgan_dist_size(dist);
  /* every rank takes part in the collective, whatever it found */
  if (ranks <= 16 && clgan_dist_allgather(dist, mine, 2, all) == CLGAN_OK)
    for (int r = 1; r < ranks; r++)
      if (memcmp(all, all + 2 * r, sizeof mine) != 0) {
        fprintf(stderr, "dist_steps (%s): rank %d's weights, moments, statistics or "
                "regularisers' state differ from rank 0's\n", name, r);
        bad = 1;
      }
  return bad;
}

/* This rank's share of a batch: images, noise and (conditional) the classes
 * of the real and the fake images, by their index in the global batch. */
typedef struct share_bufs {
  clgan_buf real, noise, labels[2];
} share_bufs;

static clgan_status share_make(clgan_ctx *ctx, const clgan_dcgan_config *cfg, int first,
                               int share, share_bufs *b) {
  size_t nreal = (size_t)share * 32 * 32, nnoise = (size_t)cfg->nz * share;
  float *host = calloc(nreal, sizeof(float));
  if (!host) return CLGAN_ERR_NOMEM;
  clgan_rng rng;
  clgan_rng_seed(&rng, 11 + (uint64_t)first);
  clgan_status st = clgan_buf_alloc(ctx, nreal, &b->real);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nnoise, &b->noise);
  for (size_t i = 0; i < nreal && st == CLGAN_OK; i++)
    host[i] = 2.0f * (float)clgan_rng_uniform(&rng) - 1.0f;
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, b->real, host, nreal);
  clgan_rng_normal(&rng, host, nnoise, 0.0f, 1.0f);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, b->noise, host, nnoise);
  for (int k = 0; k < 2 && cfg->conditional && st == CLGAN_OK; k++) {
    for (int i = 0; i < share; i++) host[i] = (float)((first + i + k) % cfg->num_classes);
    st = clgan_buf_alloc(ctx, (size_t)share, &b->labels[k]);
    if (st == CLGAN_OK) st = clgan_buf_write(ctx, b->labels[k], host, (size_t)share);
  }
  free(host);
  return st;
}

static void share_release(share_bufs *b) {
  clgan_buf_release(&b->real);
  clgan_buf_release(&b->noise);
  clgan_buf_release(&b->labels[0]);
  clgan_buf_release(&b->labels[1]);
}

static clgan_status step(clgan_dcgan *net, const clgan_dcgan_config *cfg, const share_bufs *b) {
  clgan_dcgan_stats stats;
  if (cfg->conditional)
    return clgan_dcgan_step_labels(net, b->real, b->labels[0], b->noise, b->labels[1], &stats);
  return clgan_dcgan_step(net, b->real, b->noise, &stats);
}

/* Steps of the model of cfg over the ranks: nothing created, and the same
 * model on every rank afterwards. */
static int run(clgan_dist *dist, clgan_ctx *ctx, const clgan_dcgan_config *cfg,
               const char *name) {
  clgan_dcgan *net = NULL;
  clgan_status st = clgan_dcgan_create_dist(ctx, cfg, dist, &net);
  if (st != CLGAN_OK) return failed(name, st);
  int first = 0, share = clgan_dist_share(dist, cfg->batch, &first), bad = 0;
  share_bufs b = {0};
  st = clgan_dcgan_init_weights(net, 5);
  if (st == CLGAN_OK) st = share_make(ctx, cfg, first, share, &b);
  if (st == CLGAN_OK) st = step(net, cfg, &b); /* warm */
  clgan_ctx_counts before, after;
  clgan_ctx_created(ctx, &before);
  clgan_ctx_freeze(ctx, 1);
  for (int i = 0; i < 4 && st == CLGAN_OK; i++) st = step(net, cfg, &b);
  if (st == CLGAN_OK) st = clgan_dcgan_generate(net, b.noise, CLGAN_BN_BATCH);
  if (st == CLGAN_OK) st = clgan_dcgan_dist_prepare_save(net);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  clgan_ctx_freeze(ctx, 0);
  clgan_ctx_created(ctx, &after);
  if (st != CLGAN_OK) bad |= failed(name, st);
  if (after.buffers != before.buffers || after.programs != before.programs ||
      after.kernels != before.kernels) {
    fprintf(stderr, "dist_steps (%s): steps created OpenCL objects (buffers %ld -> %ld, kernels "
            "%ld -> %ld)\n", name, before.buffers, after.buffers, before.kernels, after.kernels);
    bad = 1;
  }
  bad |= same_on_every_rank(dist, net, name);
  share_release(&b);
  clgan_dcgan_destroy(net);
  return bad;
}

/* The models run() steps: augmentation, ADA, nan_guard and the average;
 * LeCam and bCR (their anchors and terms over the ranks); a conditional
 * model with LeCam. */
static int run_all(clgan_dist *dist, clgan_ctx *ctx) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 32, cfg.channels = 1, cfg.nz = 16, cfg.ngf = cfg.ndf = 8, cfg.batch = 24;
  clgan_dcgan_config aug = cfg, reg = cfg, cond = cfg;
  aug.augment = CLGAN_AUG_ALL, aug.ada = 1, aug.nan_guard = 1, aug.ema_decay = 0.99f;
  reg.lecam = 0.3f, reg.consistency = 10.0f;
  cond.conditional = 1, cond.num_classes = 2, cond.lecam = 0.3f;
  int bad = run(dist, ctx, &aug, "augment, ADA, nan guard, EMA");
  bad |= run(dist, ctx, &reg, "LeCam, bCR");
  bad |= run(dist, ctx, &cond, "conditional, LeCam");
  return bad;
}

/* The same short run twice: its images resident on the device, then streamed. */
static int train_both(clgan_dist *dist, clgan_ctx *ctx, char **paths) {
  clgan_dataset_options d = {.root = paths[0], .image_size = 32, .channels = 1};
  clgan_dataset *ds = NULL;
  clgan_status st = clgan_dataset_load(&d, &ds);
  for (int stream = 0; stream < 2 && st == CLGAN_OK; stream++) {
    clgan_train_options o = {.cfg = clgan_dcgan_default_config(), .out_dir = paths[1 + stream],
                             .iters = 4, .seed = 3, .checkpoint_every = 4, .stream = stream,
                             .dist = dist};
    o.cfg.image_size = 32, o.cfg.channels = 1, o.cfg.nz = 16, o.cfg.ngf = o.cfg.ndf = 8;
    o.cfg.batch = 24;
    st = clgan_train(ctx, &o, ds, NULL, NULL);
  }
  clgan_dataset_free(ds);
  return st == CLGAN_OK ? 0 : failed("training", st);
}

int main(int argc, char **argv) {
  clgan_dist *dist = NULL;
  clgan_status st = clgan_dist_init(&argc, &argv, &dist);
  if (st != CLGAN_OK) return failed("MPI", st);
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE")};
  clgan_ctx *ctx = NULL;
  st = clgan_ctx_create(&o, &ctx);
  int rc = st == CLGAN_ERR_NO_DEVICE ? 77 : st != CLGAN_OK ? failed("context", st) : run_all(dist, ctx);
  if (rc == 0 && argc == 4) rc = train_both(dist, ctx, argv + 1);
  /* the job's result: any rank's failure */
  if (clgan_dist_max_int(dist, &rc) != CLGAN_OK) rc = 1;
  if (clgan_dist_rank(dist) == 0)
    printf("dist_steps over %d ranks: %s\n", clgan_dist_size(dist), rc ? "FAIL" : "ok");
  clgan_ctx_destroy(ctx);
  clgan_dist_finalize(dist);
  return rc;
}
