/* Run by tests/mpi/run_mpi.sh under mpirun: the model over the ranks with
 * augmentation, ADA, nan_guard and the averaged generator on, steps that
 * create no OpenCL object (SyncBatchNorm, the gradient allreduce and the
 * loss means use what set-up reserved), and every rank holding the same
 * bits of every arena afterwards (the replicas never drift apart). With
 * DATA OUT1 OUT2: clgan_train over the ranks on DATA with the images on the
 * device (OUT1) and streamed by the loader thread (OUT2), for the script to
 * compare. Prints one line per failure; exits 0 when all hold, 77 when no
 * OpenCL device. usage: dist_steps [DATA OUT1 OUT2] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/clgan.h"
#include "clgan/dist.h"

static int failed(const char *what, clgan_status st) {
  fprintf(stderr, "dist_steps: %s: %s: %s\n", what, clgan_status_name(st), clgan_last_error());
  return 1;
}

/* FNV-1a over the bytes of every arena of both networks. */
static uint64_t arenas_hash(clgan_dcgan *net, int *bad) {
  uint64_t h = 1469598103934665603ull;
  for (int w = 0; w < 2; w++)
    for (int a = 0; a < CLGAN_ARENA_COUNT; a++) {
      size_t n = clgan_dcgan_arena_floats(net, (clgan_net)w, (clgan_arena)a);
      if (n == 0 || a == CLGAN_ARENA_GRAD) continue;
      float *host = malloc(n * sizeof(float));
      if (!host || clgan_dcgan_arena_read(net, (clgan_net)w, (clgan_arena)a, host) != CLGAN_OK) {
        *bad = 1;
        free(host);
        return 0;
      }
      const unsigned char *p = (const unsigned char *)host;
      for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
      free(host);
    }
  return h;
}

static int run(clgan_dist *dist, clgan_ctx *ctx) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 32, cfg.channels = 1, cfg.nz = 16, cfg.ngf = cfg.ndf = 8, cfg.batch = 24;
  cfg.augment = CLGAN_AUG_ALL, cfg.ada = 1, cfg.nan_guard = 1, cfg.ema_decay = 0.99f;
  clgan_dcgan *net = NULL;
  clgan_status st = clgan_dcgan_create_dist(ctx, &cfg, dist, &net);
  if (st != CLGAN_OK) return failed("model", st);
  int first = 0, share = clgan_dist_share(dist, cfg.batch, &first), bad = 0;
  size_t nreal = (size_t)share * 32 * 32, nnoise = (size_t)cfg.nz * share;
  float *host = calloc(nreal, sizeof(float));
  clgan_buf real = {0}, noise = {0};
  st = host ? clgan_dcgan_init_weights(net, 5) : CLGAN_ERR_NOMEM;
  clgan_rng rng;
  clgan_rng_seed(&rng, 11 + (uint64_t)first);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nreal, &real);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nnoise, &noise);
  for (size_t i = 0; i < nreal && st == CLGAN_OK; i++)
    host[i] = 2.0f * (float)clgan_rng_uniform(&rng) - 1.0f;
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, real, host, nreal);
  clgan_rng_normal(&rng, host, nnoise, 0.0f, 1.0f);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, noise, host, nnoise);
  clgan_dcgan_stats stats;
  if (st == CLGAN_OK) st = clgan_dcgan_step(net, real, noise, &stats); /* warm */
  clgan_ctx_counts before, after;
  clgan_ctx_created(ctx, &before);
  clgan_ctx_freeze(ctx, 1);
  for (int i = 0; i < 4 && st == CLGAN_OK; i++) st = clgan_dcgan_step(net, real, noise, &stats);
  if (st == CLGAN_OK) st = clgan_dcgan_generate(net, noise, CLGAN_BN_BATCH);
  if (st == CLGAN_OK) st = clgan_dcgan_dist_prepare_save(net);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  clgan_ctx_freeze(ctx, 0);
  clgan_ctx_created(ctx, &after);
  if (st != CLGAN_OK) bad |= failed("steps", st);
  if (after.buffers != before.buffers || after.programs != before.programs ||
      after.kernels != before.kernels) {
    fprintf(stderr, "dist_steps: steps created OpenCL objects (buffers %ld -> %ld, kernels %ld -> "
            "%ld)\n", before.buffers, after.buffers, before.kernels, after.kernels);
    bad = 1;
  }
  /* every rank's arenas against rank 0's: the hash as two floats' bits */
  uint64_t h = arenas_hash(net, &bad);
  float mine[2], all[2 * 16];
  memcpy(mine, &h, sizeof h);
  int ranks = clgan_dist_size(dist);
  /* every rank takes part in the collective, whatever it found */
  if (ranks <= 16 && clgan_dist_allgather(dist, mine, 2, all) == CLGAN_OK)
    for (int r = 1; r < ranks; r++)
      if (memcmp(all, all + 2 * r, sizeof mine) != 0) {
        fprintf(stderr, "dist_steps: rank %d's weights, moments or statistics differ from "
                "rank 0's\n", r);
        bad = 1;
      }
  free(host);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(net);
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
  int rc = st == CLGAN_ERR_NO_DEVICE ? 77 : st != CLGAN_OK ? failed("context", st) : run(dist, ctx);
  if (rc == 0 && argc == 4) rc = train_both(dist, ctx, argv + 1);
  /* the job's result: any rank's failure */
  if (clgan_dist_max_int(dist, &rc) != CLGAN_OK) rc = 1;
  if (clgan_dist_rank(dist) == 0)
    printf("dist_steps over %d ranks: %s\n", clgan_dist_size(dist), rc ? "FAIL" : "ok");
  clgan_ctx_destroy(ctx);
  clgan_dist_finalize(dist);
  return rc;
}
