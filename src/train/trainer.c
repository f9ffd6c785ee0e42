/* The training loop: set up once, then steps that allocate nothing; the run
 * directory (src/train/rundir.c) is kept up to date as the steps go. */
#include "clgan/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/internal.h"
#include "train/cond_data.h"
#include "train/cond_eval.h"
#include "train/loader.h"
#include "clgan/dist.h"
#include "clgan/rng.h"
#include "train/rundir.h"

typedef struct run {
  clgan_ctx *ctx;
  const clgan_train_options *o;
  const clgan_dataset *ds;
  clgan_dcgan *net;
  clgan_dcgan_config cfg;
  clgan_train_state ts;
  clgan_rng rng;             /* noise; saved in checkpoints */
  long ipe, total;
  rundir dir;                /* the run directory's files */
  /* device */
  cl_mem images;             /* [count][c][s][s] when resident, else NULL */
  cl_mem order;              /* [count] int: this epoch's permutation */
  clgan_gather_plan gather;  /* batches from images, when resident */
  clgan_buf real;            /* [c, batch, s, s] */
  clgan_buf noise;           /* [nz, batch] */
  /* host */
  int *perm;                 /* [count] */
  float *noise_host;         /* [2][nz * batch]: this step's and the previous one's (its
                                write may still be queued: stats_lag) */
  batch_loader *loader;      /* streaming path, when the data does not stay on the device */
  clgan_sampler *sampler;    /* fixed-noise grids and evaluation images */
  float *fixed_z;            /* [batch][nz] the fixed noise (ts.fixed_noise is [nz][batch]) */
  float *fake_host;          /* [max(batch, eval images)][c][s][s] sampled images */
  /* evaluation during training (eval_every > 0) */
  clgan_eval *eval;
  clgan_buf eval_real;       /* [nreal][c][s][s] a fixed subset of the data */
  clgan_buf eval_fake;       /* [eval_batches * batch][c][s][s] */
  float *eval_noise;         /* [eval_batches * batch][nz], fixed */
  int eval_batches;
  /* data parallel (o->dist): this rank trains images share_first ..
   * share_first + share of each global batch; rank 0 (root) writes */
  clgan_dist *dist;
  int root, share_first, share;
  float *noise_share;        /* [2][nz * share] this rank's columns of noise_host's two */
  float *fake_share;         /* [share][c][s][s] this rank's fixed-noise images */
  cond_data *cond;           /* classes of the batches (conditional, balanced sampling) */
  cond_eval *cond_eval;      /* evaluation per class (conditional, eval_every > 0) */
  double *class_swd;         /* [num_classes] its last SWD figures */
} run;

#define EVAL_MAX_REAL 1024
#define EVAL_MAX_FAKE 256
#define EVAL_MAX_REAL_CLASS 256 /* real images per class in the per-class evaluation */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

long clgan_train_iters_per_epoch(int count, int batch) { return batch > 0 ? count / batch : 0; }

/* [nz][n] (one column per image) -> [n][nz] (one row per image) */
static void noise_rows(const float *cols, int nz, int n, float *rows) {
  for (int b = 0; b < n; b++)
    for (int k = 0; k < nz; k++) rows[(size_t)b * nz + k] = cols[(size_t)k * n + b];
}

static clgan_status load_batch(run *r, long it) {
  int epoch = (int)(it / r->ipe);
  long pos = it % r->ipe;
  const clgan_dcgan_config *c = &r->cfg;
  int hw = c->image_size * c->image_size;
  clgan_status st = r->cond ? cond_data_batch(r->cond, it) : CLGAN_OK;
  if (st == CLGAN_OK && r->images && (pos == 0 || it == r->ts.iteration)) {
    train_epoch_order(r->ts.seed, epoch, r->ds->count, r->perm);
    st = clgan_mem_write(r->ctx, r->order, 0, r->perm, sizeof(int) * (size_t)r->ds->count);
  }
  size_t first = (size_t)pos * (size_t)c->batch + (size_t)r->share_first;
  if (st == CLGAN_OK && r->images && cond_data_balanced_on(r->cond)) { /* this batch's images */
    first = (size_t)r->share_first;
    st = clgan_mem_write(r->ctx, r->order, 0, cond_data_indices(r->cond), sizeof(int) * (size_t)c->batch);
  }
  if (st != CLGAN_OK) return st;
  if (r->images)
    return clgan_gather_batch(r->ctx, &r->gather, r->images, r->order, first, r->share,
                              c->channels, hw, r->real);
  /* streaming: the loader thread has gathered this batch on the host */
  return clgan_buf_write(r->ctx, r->real, loader_next(r->loader, it),
                         (size_t)c->channels * r->share * (size_t)hw);
}

/* Fixed-noise grid (BatchNorm on the batch's statistics, as the tutorial's
 * samples), the loss plot, and the page. */
static clgan_status write_samples(run *r, long it, char *note, size_t cap) {
  const clgan_dcgan_config *c = &r->cfg;
  clgan_status st;
  if (clgan_dist_active(r->dist)) {
    /* SyncBatchNorm over the ranks: each its share of the fixed noise (and
     * of the classes of a conditional grid), the images gathered on rank 0 */
    st = clgan_sample_labels(r->sampler, CLGAN_BN_BATCH, r->share,
                             r->fixed_z + (size_t)r->share_first * c->nz,
                             cond_data_grid_labels(r->cond), r->fake_share);
    if (st == CLGAN_OK)
      st = clgan_dist_gather(r->dist, r->fake_share, r->ds->image_floats * (size_t)r->share,
                             r->fake_host);
  } else {
    st = clgan_sample(r->sampler, CLGAN_BN_BATCH, c->batch, r->fixed_z, r->fake_host);
  }
  if (st != CLGAN_OK || !r->root) return st;
  return rundir_samples(&r->dir, it, r->fake_host, c->batch, note, cap);
}

/* Generates the fixed evaluation set (as `clgan generate` would: running
 * statistics) and measures it against the real subset. */
static clgan_status evaluate(run *r, long it, clgan_eval_report *rep) {
  const clgan_dcgan_config *c = &r->cfg;
  int n = r->eval_batches * c->batch;
  /* every rank generates (the EMA statistics are made over the ranks), rank 0
   * measures and writes, and every rank gets its figures */
  clgan_status st = clgan_sample(r->sampler, CLGAN_BN_RUNNING, n, r->eval_noise, r->fake_host);
  if (st == CLGAN_OK && !r->root) return clgan_dist_bcast(r->dist, rep, sizeof *rep);
  if (st == CLGAN_OK) st = clgan_buf_write(r->ctx, r->eval_fake, r->fake_host, r->ds->image_floats * (size_t)n);
  clgan_image_set set = clgan_image_set_nchw(r->eval_fake, n, c->channels, c->image_size);
  if (st == CLGAN_OK) st = clgan_eval_run(r->eval, &set, rep);
  if (st == CLGAN_OK)
    st = clgan_eval_write_closest(r->eval, &set, rundir_path(&r->dir, "closest_pairs.png"));
  if (st == CLGAN_OK) st = clgan_dist_bcast(r->dist, rep, sizeof *rep);
  if (st == CLGAN_OK) st = rundir_metrics(&r->dir, it, rep);
  if (st == CLGAN_OK && r->cond_eval) st = cond_eval_run(r->cond_eval, r->sampler, it, r->class_swd);
  return st;
}

static clgan_status save_checkpoint(run *r, long it) {
  r->ts.iteration = it;
  r->ts.rng[0] = r->rng.s[0];
  r->ts.rng[1] = r->rng.s[1];
  r->ts.rng[2] = r->rng.s[2];
  r->ts.rng[3] = r->rng.s[3];
  /* every rank takes part in what the save computes; rank 0 writes */
  clgan_status st = clgan_dcgan_dist_prepare_save(r->net);
  if (st != CLGAN_OK || !r->root) return st;
  return clgan_checkpoint_save(rundir_path(&r->dir, "checkpoint.safetensors"), r->net, &r->ts);
}

/* The evaluation per class: each class's real images against images
 * generated for it from the evaluation noise. */
static clgan_status cond_eval_setup(run *r, int nfake) {
  char csv[1100];
  snprintf(csv, sizeof csv, "%s/metrics_classes.csv", r->o->out_dir);
  if (!(r->class_swd = calloc((size_t)r->cfg.num_classes, sizeof(double))))
    return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  return cond_eval_create(r->ctx, r->net, r->ds, r->ts.seed, EVAL_MAX_REAL_CLASS, nfake,
                          r->eval_noise, csv, r->ts.iteration > 0, &r->cond_eval);
}

/* The evaluator: a fixed random subset of the real images on the device,
 * fixed noise for the generated ones, every plan made now (none in a step). */
static clgan_status eval_setup(run *r) {
  const clgan_dcgan_config *c = &r->cfg;
  int nreal = r->ds->count < EVAL_MAX_REAL ? r->ds->count : EVAL_MAX_REAL;
  int nfake = nreal < EVAL_MAX_FAKE ? nreal : EVAL_MAX_FAKE;
  r->eval_batches = nfake / c->batch > 0 ? nfake / c->batch : 1;
  nfake = r->eval_batches * c->batch;
  size_t img = r->ds->image_floats, nzb = (size_t)c->nz * c->batch;
  float *host = malloc(sizeof(float) * img * (size_t)nreal);
  int *order = malloc(sizeof(int) * (size_t)r->ds->count);
  float *cols = malloc(sizeof(float) * nzb * (size_t)r->eval_batches);
  r->eval_noise = malloc(sizeof(float) * nzb * (size_t)r->eval_batches);
  if (nfake > c->batch) {
    free(r->fake_host);
    r->fake_host = malloc(sizeof(float) * img * (size_t)nfake);
  }
  clgan_status st = CLGAN_OK;
  if (!host || !order || !cols || !r->eval_noise || !r->fake_host)
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  if (st == CLGAN_OK) {
    train_epoch_order(clgan_rng_stream_seed(r->ts.seed, CLGAN_STREAM_EVAL_ORDER, 0), 0,
                      r->ds->count, order);
    for (int i = 0; i < nreal; i++)
      memcpy(host + (size_t)i * img, clgan_dataset_image(r->ds, order[i]), sizeof(float) * img);
    /* drawn as eval_batches noise blocks [nz, batch], kept image by image */
    clgan_rng er;
    clgan_rng_seed_stream(&er, r->ts.seed, CLGAN_STREAM_EVAL_NOISE, 0);
    clgan_rng_normal(&er, cols, nzb * (size_t)r->eval_batches, 0.0f, 1.0f);
    for (int k = 0; k < r->eval_batches; k++)
      noise_rows(cols + (size_t)k * nzb, c->nz, c->batch, r->eval_noise + (size_t)k * nzb);
    st = clgan_buf_alloc(r->ctx, img * (size_t)nreal, &r->eval_real);
  }
  if (st == CLGAN_OK) st = clgan_buf_write(r->ctx, r->eval_real, host, img * (size_t)nreal);
  if (st == CLGAN_OK) st = clgan_buf_alloc(r->ctx, img * (size_t)nfake, &r->eval_fake);
  if (st == CLGAN_OK) {
    clgan_eval_config ec = clgan_eval_default_config(c->channels, c->image_size, nfake);
    clgan_image_set real = clgan_image_set_nchw(r->eval_real, nreal, c->channels, c->image_size);
    st = clgan_eval_create(r->ctx, &ec, &real, &r->eval);
  }
  if (st == CLGAN_OK && c->conditional) st = cond_eval_setup(r, nfake);
  free(host);
  free(order);
  free(cols);
  return st;
}

/* The configuration (the checkpoint's when resuming), checked against the
 * data, and the model. */
static clgan_status setup_model(run *r) {
  const clgan_train_options *o = r->o;
  clgan_status st;
  if (o->resume) {
    if ((st = clgan_checkpoint_read_config(o->resume, &r->cfg)) != CLGAN_OK) return st;
  } else {
    r->cfg = o->cfg;
  }
  const clgan_dcgan_config *c = &r->cfg;
  /* several ranks: one dataset, and the global batch splits into equal shares */
  if ((st = clgan_dist_check_dataset(r->dist, r->ds)) != CLGAN_OK) return st;
  if ((st = clgan_dist_check_batch(r->dist, c->batch)) != CLGAN_OK) return st;
  r->share = clgan_dist_share(r->dist, c->batch, &r->share_first);
  if (r->ds->channels != c->channels || r->ds->image_size != c->image_size)
    return clgan_fail(CLGAN_ERR_INVALID, "the dataset was loaded as %dx%d with %d channel(s); the model needs %dx%d with %d",
                      r->ds->image_size, r->ds->image_size, r->ds->channels, c->image_size,
                      c->image_size, c->channels);
  r->ipe = clgan_train_iters_per_epoch(r->ds->count, c->batch);
  if (r->ipe < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "the dataset has %d image(s), fewer than one batch of %d",
                      r->ds->count, c->batch);
  r->total = o->iters > 0 ? o->iters : (long)o->epochs * r->ipe;
  if (r->total < 1) return clgan_fail(CLGAN_ERR_INVALID, "nothing to do: the iteration count is not positive");
  if ((st = cond_data_config(&r->cfg, r->ds, o->resume)) != CLGAN_OK) return st;
  return clgan_dcgan_create_dist(r->ctx, c, r->dist, &r->net);
}

/* Host and device buffers of the steps, the grids and the evaluations. */
static clgan_status setup_buffers(run *r) {
  const clgan_dcgan_config *c = &r->cfg;
  size_t nzb = (size_t)c->nz * c->batch;
  size_t img = (size_t)c->channels * c->batch * c->image_size * c->image_size;
  size_t share = (size_t)r->share;
  r->perm = malloc(sizeof(int) * (size_t)r->ds->count);
  r->noise_host = malloc(sizeof(float) * nzb * 2);
  r->fixed_z = malloc(sizeof(float) * nzb);
  r->fake_host = malloc(sizeof(float) * img); /* eval_setup enlarges it for its set */
  r->noise_share = malloc(sizeof(float) * (size_t)c->nz * share * 2);
  r->fake_share = malloc(sizeof(float) * r->ds->image_floats * share);
  if (!r->perm || !r->noise_host || !r->fixed_z || !r->fake_host || !r->noise_share ||
      !r->fake_share)
    return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory");
  clgan_status st;
  if ((st = clgan_buf_alloc(r->ctx, r->ds->image_floats * share, &r->real)) != CLGAN_OK) return st;
  if ((st = clgan_buf_alloc(r->ctx, (size_t)c->nz * share, &r->noise)) != CLGAN_OK) return st;
  /* the trainer always gives the sampler its noise (fixed, evaluation): no seed */
  if ((st = clgan_sampler_create(r->ctx, r->net, 0, &r->sampler)) != CLGAN_OK) return st;

  /* Small datasets (the ones this tool is for) live on the device. */
  const clgan_device_info *dev = clgan_ctx_device(r->ctx);
  size_t ds_bytes = sizeof(float) * r->ds->image_floats * (size_t)r->ds->count;
  if (!r->o->stream && ds_bytes <= dev->max_alloc_bytes && ds_bytes <= dev->global_mem_bytes / 4) {
    if ((st = clgan_mem_alloc(r->ctx, ds_bytes, r->ds->data, &r->images)) != CLGAN_OK) return st;
    if ((st = clgan_mem_alloc(r->ctx, sizeof(int) * (size_t)r->ds->count, NULL, &r->order)) !=
        CLGAN_OK)
      return st;
    if ((st = clgan_gather_plan_make(r->ctx, &r->gather)) != CLGAN_OK) return st;
  }
  return CLGAN_OK;
}

/* Weights, augmentation, noise RNG and fixed noise: the checkpoint's, or new. */
static clgan_status setup_state(run *r) {
  const clgan_train_options *o = r->o;
  const clgan_dcgan_config *c = &r->cfg;
  size_t nzb = (size_t)c->nz * c->batch;
  clgan_status st;
  if (o->resume) {
    if ((st = clgan_checkpoint_load(o->resume, r->net, &r->ts)) != CLGAN_OK) return st;
    memcpy(r->rng.s, r->ts.rng, sizeof r->rng.s);
    if (r->ts.fixed_count != c->batch || !r->ts.fixed_noise)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: fixed noise missing or not %d vectors", o->resume,
                        c->batch);
    if (r->ts.iteration >= r->total)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s is at iteration %ld already",
                        o->resume, r->ts.iteration);
  } else {
    r->ts.seed = o->seed;
    if ((st = clgan_dcgan_init_weights(r->net, o->seed)) != CLGAN_OK) return st;
    clgan_augment_state aug;
    if ((st = clgan_dcgan_get_augment(r->net, &aug)) != CLGAN_OK) return st;
    aug.seed = clgan_rng_stream_seed(o->seed, CLGAN_STREAM_AUGMENT, 0);
    if ((st = clgan_dcgan_set_augment(r->net, &aug)) != CLGAN_OK) return st;
    clgan_rng_seed_stream(&r->rng, o->seed, CLGAN_STREAM_NOISE, 0);
    r->ts.fixed_count = c->batch;
    if (!(r->ts.fixed_noise = malloc(sizeof(float) * nzb)))
      return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory");
    clgan_rng_normal(&r->rng, r->ts.fixed_noise, nzb, 0.0f, 1.0f);
  }
  noise_rows(r->ts.fixed_noise, c->nz, c->batch, r->fixed_z);
  return CLGAN_OK;
}

static clgan_status setup(run *r) {
  clgan_status st;
  r->dir.o = r->o;
  /* the run directory first: a refused one leaves nothing half-done (rank 0's) */
  if (r->root && (st = rundir_claim(&r->dir, r->o->resume)) != CLGAN_OK) return st;
  if ((st = setup_model(r)) != CLGAN_OK) return st;
  if ((st = setup_buffers(r)) != CLGAN_OK) return st;
  if ((st = setup_state(r)) != CLGAN_OK) return st;
  if ((st = cond_data_create(r->ctx, r->net, r->ds, r->ts.seed, r->ipe, r->o->resume, &r->cond)) !=
      CLGAN_OK)
    return st;
  const clgan_dcgan_config *c = &r->cfg;
  if (!r->images &&
      (st = loader_start(r->ds, c->batch, r->share_first, r->share, r->ts.seed, r->ts.iteration,
                         r->ipe, cond_data_balanced_on(r->cond) ? cond_data_balanced : NULL,
                         r->cond, &r->loader)) != CLGAN_OK)
    return st;
  if (r->o->eval_every > 0 && (st = eval_setup(r)) != CLGAN_OK) return st;
  r->dir.ctx = r->ctx;
  r->dir.o = r->o;
  r->dir.ds = r->ds;
  r->dir.cfg = r->cfg;
  r->dir.seed = r->ts.seed;
  r->dir.total = r->total;
  return r->root ? rundir_open(&r->dir, r->ts.iteration) : CLGAN_OK;
}

/* Frees everything. Returns st, or when st is CLGAN_OK the status of closing
 * the run's files (a failed run keeps its own message). */
static clgan_status teardown(run *r, clgan_status st) {
  clgan_status closed = rundir_close(&r->dir, st == CLGAN_OK);
  if (st == CLGAN_OK) st = closed;
  clgan_mem_release(&r->images);
  clgan_mem_release(&r->order);
  clgan_buf_release(&r->real);
  clgan_buf_release(&r->noise);
  clgan_sampler_destroy(r->sampler);
  clgan_dcgan_destroy(r->net);
  free(r->ts.fixed_noise);
  free(r->perm);
  free(r->noise_host);
  free(r->fixed_z);
  free(r->fake_host);
  free(r->noise_share);
  free(r->fake_share);
  loader_stop(r->loader);
  cond_data_destroy(r->cond);
  clgan_eval_destroy(r->eval);
  cond_eval_destroy(r->cond_eval);
  free(r->class_swd);
  clgan_buf_release(&r->eval_real);
  clgan_buf_release(&r->eval_fake);
  free(r->eval_noise);
  return st;
}

/* Stops a run whose steps went bad: nan_guard skipped max_bad_steps in a row
 * (after a checkpoint of the last good state), or the losses are not finite
 * without nan_guard. */
static clgan_status check_step(run *r, const clgan_dcgan_stats *s, long done, int *bad_in_row) {
  const clgan_train_options *opts = r->o;
  *bad_in_row = s->skipped ? *bad_in_row + 1 : 0;
  int max_bad = opts->max_bad_steps > 0 ? opts->max_bad_steps : 10;
  if (*bad_in_row >= max_bad) {
    /* the updates were skipped, so the model still holds the last good state */
    clgan_status st = rundir_flush(&r->dir);
    if (st == CLGAN_OK) st = save_checkpoint(r, done);
    if (st == CLGAN_OK)
      st = clgan_fail(CLGAN_ERR_DIVERGED,
                      "%d steps in a row had non-finite gradients (up to iteration %ld); the "
                      "last good state is in %s/checkpoint.safetensors",
                      *bad_in_row, done, opts->out_dir);
    return st;
  }
  if (!r->cfg.nan_guard && !(isfinite(s->loss_d) && isfinite(s->loss_g))) {
    /* the weights may already be broken: keep the last checkpoint as it is */
    clgan_status st = rundir_flush(&r->dir);
    if (st != CLGAN_OK) return st;
    return clgan_fail(CLGAN_ERR_DIVERGED,
                      "the losses are not finite at iteration %ld (Loss_D %g, Loss_G %g); the "
                      "last checkpoint was kept",
                      done, (double)s->loss_d, (double)s->loss_g);
  }
  return CLGAN_OK;
}

/* Throughput in images per second, smoothed over updates a second apart. */
typedef struct pace {
  double t_last, rate;
  long done_since;
} pace;

static void pace_step(pace *p, int last, int batch) {
  p->done_since++;
  double t = now();
  if (t - p->t_last >= 1.0 || last) {
    double inst = (double)p->done_since * batch / (t - p->t_last);
    p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * inst : inst;
    p->t_last = t;
    p->done_since = 0;
  }
}

/* After the step of iteration it (0-based): the log row, the grid, the
 * evaluation, the callback and the checkpoint. *stop: the callback asked
 * (then no checkpoint when `queued`: the next step is queued already, and
 * the caller finishes it first). */
static clgan_status after_step(run *r, long it, long start, const clgan_dcgan_stats *s,
                               double rate, clgan_train_callback cb, void *user, int queued,
                               int *stop) {
  const clgan_train_options *opts = r->o;
  const clgan_dcgan_config *c = &r->cfg;
  long done = it + 1;
  clgan_status st;
  /* ADA updates p on the device within the step; s->augment_p is the p it used */
  if (r->root && (st = rundir_log(&r->dir, it, it / r->ipe, s, rate, s->augment_p)) != CLGAN_OK)
    return st;
  char note[80] = "";
  int sample = opts->sample_every > 0 && (done % opts->sample_every == 0 || done == r->total);
  if (sample) {
    if ((st = rundir_flush(&r->dir)) != CLGAN_OK) return st;
    if ((st = write_samples(r, done, note, sizeof note)) != CLGAN_OK) return st;
  }
  clgan_eval_report rep;
  /* the first step of the process also evaluates: a baseline */
  int evaluated = opts->eval_every > 0 &&
                  (done % opts->eval_every == 0 || done == r->total || it == start);
  if (evaluated && (st = evaluate(r, done, &rep)) != CLGAN_OK) return st;
  *stop = 0;
  if (cb) {
    clgan_train_progress p = {.iteration = done,
                              .total = r->total,
                              .epoch = (int)(it / r->ipe),
                              .iters_per_epoch = r->ipe,
                              .stats = *s,
                              .img_per_s = rate,
                              .eta_seconds = rate > 0 ? (double)(r->total - done) * c->batch / rate : 0,
                              .note = sample ? note : NULL,
                              .augment_p = c->ada ? s->augment_p : -1.0f,
                              .model = r->net,
                              .eval = evaluated ? &rep : NULL,
                              .class_swd = evaluated && r->cond_eval ? r->class_swd : NULL};
    *stop = cb(user, &p);
  }
  /* one rank's callback stops every rank */
  if ((st = clgan_dist_max_int(r->dist, stop)) != CLGAN_OK) return st;
  if ((*stop && !queued) || done == r->total ||
      (opts->checkpoint_every > 0 && done % opts->checkpoint_every == 0)) {
    /* a log that cannot be written stops the run before the checkpoint */
    if ((st = rundir_flush(&r->dir)) != CLGAN_OK) return st;
    if ((st = save_checkpoint(r, done)) != CLGAN_OK) return st;
  }
  return CLGAN_OK;
}

/* Whether iteration it must be finished before the next step is queued:
 * its after_step samples, evaluates or saves (reading the model, the noise
 * RNG, the data order as this step left them), or nan_guard may save. */
static int needs_sync(const run *r, long it, long start) {
  const clgan_train_options *o = r->o;
  long done = it + 1;
  return !o->stats_lag || it == start || done == r->total || r->cfg.nan_guard ||
         (o->sample_every > 0 && done % o->sample_every == 0) ||
         (o->eval_every > 0 && done % o->eval_every == 0) ||
         (o->checkpoint_every > 0 && done % o->checkpoint_every == 0);
}

/* The loop's state across iterations. */
typedef struct loop {
  long start;
  pace pc;
  int bad_in_row, stop;
  clgan_train_callback cb;
  void *user;
} loop;

/* Takes iteration it's statistics (the oldest pending) and finishes it;
 * queued: the next step is queued already. */
static clgan_status finish(run *r, loop *l, long it, int queued) {
  clgan_dcgan_stats s;
  clgan_status st = clgan_dcgan_stats_take(r->net, &s);
  if (st == CLGAN_OK && it == l->start) {
    char note0[80]; /* the first step of the process always leaves a grid */
    st = write_samples(r, it + 1, note0, sizeof note0);
  }
  if (st == CLGAN_OK) st = check_step(r, &s, it + 1, &l->bad_in_row);
  if (st != CLGAN_OK) return st;
  pace_step(&l->pc, it + 1 == r->total, r->cfg.batch);
  return after_step(r, it, l->start, &s, l->pc.rate, l->cb, l->user, queued, &l->stop);
}

/* The steps from l->start on (a frozen context). With stats_lag, the
 * figures of step t are taken after step t + 1 is queued. */
static clgan_status run_steps(run *r, loop *l) {
  const clgan_dcgan_config *c = &r->cfg;
  size_t nzb = (size_t)c->nz * c->batch, share_nz = (size_t)c->nz * r->share;
  long pending = -1; /* an iteration whose statistics are still to be taken */
  clgan_status st = CLGAN_OK;
  for (long it = l->start; it < r->total && st == CLGAN_OK && !l->stop; it++) {
    if ((st = load_batch(r, it)) != CLGAN_OK) break;
    /* the global batch's noise [nz, batch]; this rank's columns [nz, share] */
    float *noise = r->noise_host + (size_t)(it & 1) * nzb;
    float *mine = r->noise_share + (size_t)(it & 1) * share_nz;
    clgan_rng_normal(&r->rng, noise, nzb, 0.0f, 1.0f);
    clgan_dist_columns(r->dist, noise, c->nz, c->batch, mine);
    st = r->o->stats_lag ? clgan_buf_write_enqueue(r->ctx, r->noise, mine, share_nz)
                         : clgan_buf_write(r->ctx, r->noise, mine, share_nz);
    if (st == CLGAN_OK)
      st = clgan_dcgan_step_deferred_labels(r->net, r->real, cond_data_labels(r->cond, 0), r->noise,
                                            cond_data_labels(r->cond, 1));
    if (st == CLGAN_OK && pending >= 0) st = finish(r, l, pending, 1);
    pending = -1;
    if (st == CLGAN_OK && l->stop) { /* asked at it - 1: finish the step queued, and save */
      st = finish(r, l, it, 0);
      if (st == CLGAN_OK && !l->stop) st = rundir_flush(&r->dir);
      if (st == CLGAN_OK && !l->stop) st = save_checkpoint(r, it + 1);
      l->stop = 1;
      break;
    }
    if (st != CLGAN_OK) break;
    if (needs_sync(r, it, l->start)) st = finish(r, l, it, 0);
    else pending = it;
  }
  clgan_status fin = clgan_ctx_finish(r->ctx); /* no transfer outlives its host memory */
  return st != CLGAN_OK ? st : fin;
}

clgan_status clgan_train(clgan_ctx *ctx, const clgan_train_options *opts, const clgan_dataset *ds,
                         clgan_train_callback cb, void *user) {
  run r = {.ctx = ctx, .o = opts, .ds = ds, .dist = opts->dist,
           .root = clgan_dist_rank(opts->dist) == 0};
  double t_setup = now();
  clgan_status st = setup(&r);
  if (st == CLGAN_OK && cb) {
    clgan_train_progress p = {.setup = 1,
                              .iteration = r.ts.iteration,
                              .total = r.total,
                              .iters_per_epoch = r.ipe,
                              .model = r.net,
                              .setup_seconds = now() - t_setup};
    if (cb(user, &p)) return teardown(&r, CLGAN_OK);
  }
  loop l = {.start = r.ts.iteration, .pc = {.t_last = now()}, .cb = cb, .user = user};
  /* Setup planned every kernel the loop uses (the model's, the sampler's,
   * the evaluator's): steps run on a frozen context, which refuses to
   * create one. */
  if (st == CLGAN_OK) {
    clgan_ctx_freeze(ctx, 1);
    st = run_steps(&r, &l);
  }
  clgan_ctx_freeze(ctx, 0);
  return teardown(&r, st);
}
