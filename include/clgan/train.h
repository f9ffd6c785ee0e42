/* A training run: the seed's DCGAN on a dataset, with everything a user
 * watches and keeps in one run directory:
 *   config.json        the resolved configuration
 *   log.csv            one row per iteration (losses, D outputs, img/s)
 *   real.png           a grid of training images
 *   samples/iter_NNNNNN.png, samples/latest.png   fixed-noise grids
 *   losses.svg         G and D loss curves, redrawn with every grid
 *   index.html         the grids and the plot together; reloads itself
 *   checkpoint.safetensors   the latest checkpoint (atomic)
 * and with eval_every > 0:
 *   metrics.csv, metrics.svg   SWD, MS-SSIM diversity and nearest-real
 *                              distances of generated images over training
 *   closest_pairs.png          the generated images closest to training images */
#ifndef CLGAN_TRAIN_H
#define CLGAN_TRAIN_H

#include "clgan/checkpoint.h"
#include "clgan/dataset.h"
#include "clgan/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_train_options {
  clgan_dcgan_config cfg;  /* ignored when resuming: the checkpoint's is used */
  const char *out_dir;     /* run directory (created) */
  const char *resume;      /* checkpoint to continue from, or NULL */
  long iters;              /* stop after this many iterations in total (0: use epochs) */
  int epochs;              /* epochs in total when iters == 0 */
  uint64_t seed;           /* initialisation, data order, noise (ignored when resuming) */
  int sample_every;        /* iterations between fixed-noise grids (and plot updates) */
  int checkpoint_every;    /* iterations between checkpoints (and at the end) */
  const char *data_label;  /* for config.json: where the data came from */
  int stream;              /* stream batches from a loader thread even when the dataset
                              would fit on the device (it is streamed when it does not) */
  int eval_every;          /* evaluate (SWD, diversity, memorisation) every N iterations
                              on a fixed subset; 0: off */
  int max_bad_steps;       /* nan_guard: stop after this many skipped steps in a row (default 10) */
  int stats_lag;           /* 1: each iteration's statistics are taken one step behind, after
                              the next step is queued, so the device does not wait for the
                              host between steps (iterations that sample, evaluate or save
                              wait as before); log.csv and checkpoints are the same. A stop
                              the callback asks for then comes after the step already queued
                              (logged, reported, and checkpointed). 0: every step waits. */
  struct clgan_dist *dist; /* data parallel over these ranks (clgan/dist.h; borrowed): cfg.batch
                              is the global batch, rank 0 writes the run directory; NULL: one */
} clgan_train_options;

typedef struct clgan_train_progress {
  int setup;               /* 1 for the call after set-up, before the first step */
  long iteration;          /* iterations done, 1-based after a step */
  long total;              /* iterations the run will do in all */
  int epoch;               /* 0-based */
  long iters_per_epoch;
  clgan_dcgan_stats stats;
  double img_per_s;        /* recent throughput */
  double eta_seconds;
  const char *note;        /* a file just written ("samples/iter_000100.png"), or NULL */
  const clgan_dcgan *model; /* the model (for a summary) */
  float augment_p;         /* ADA's current p, or -1 when ADA is off */
  double setup_seconds;    /* set-up time so far (model, data upload, run directory) */
  const clgan_eval_report *eval; /* the evaluation just made at this iteration, or NULL */
  const double *class_swd; /* with eval, conditional: SWD x1e3 of each class's generated
                              images against its real ones [num_classes] (else NULL) */
} clgan_train_progress;

/* Called once with iteration == the starting iteration and zero stats when
 * everything is set up, then after every iteration; return nonzero to stop
 * (a checkpoint is written first). */
typedef int (*clgan_train_callback)(void *user, const clgan_train_progress *p);

/* Iterations per epoch for a dataset (whole batches only, as the static
 * graph has a fixed batch). */
long clgan_train_iters_per_epoch(int count, int batch);

/* Runs training on ctx. With cfg.nan_guard, a step whose gradients are not
 * finite is skipped (reported through the callback's stats.skipped), and
 * max_bad_steps of them in a row stop the run with CLGAN_ERR_DIVERGED after
 * a checkpoint of the last good state. The dataset must match the configuration's size and
 * channels. Sets up everything (model, buffers, kernels, run directory)
 * before the first step; steps allocate nothing. */
clgan_status clgan_train(clgan_ctx *ctx, const clgan_train_options *opts, const clgan_dataset *ds,
                         clgan_train_callback cb, void *user);
/* The run directory rule (clgan_train applies it before anything else):
 * out_dir is locked for the whole run (a second trainer on it fails with
 * CLGAN_ERR_IO naming it) and, unless resuming, a folder that already holds
 * a run's files is refused (CLGAN_ERR_INVALID): nothing is replaced. */

/* Creates a new folder named base, or base-2, base-3, ... when that name is
 * taken (its parents made as needed), and writes its name into out. mkdir
 * both tests and claims the name, so runs started at once never share one. */
clgan_status clgan_run_dir_create_unique(const char *base, char *out, size_t cap);

/* ---- Sampling: images from a generator -----------------------------------
 * The one generation loop of the engine (`clgan generate`, `clgan evaluate`
 * and the trainer's grids and evaluations): noise in image order, G batch by
 * batch, images read back as [count][channels][size][size] host floats in
 * [-1, 1]. The sampler holds its buffers, so sampling allocates nothing. */
typedef struct clgan_sampler clgan_sampler;

/* A sampler for net (borrowed; it must outlive the sampler) on ctx. Drawn
 * noise comes from an RNG seeded with seed: `clgan generate --seed S` is
 * seed S. */
clgan_status clgan_sampler_create(clgan_ctx *ctx, clgan_dcgan *net, uint64_t seed,
                                  clgan_sampler **out);
/* Accepts NULL. */
void clgan_sampler_destroy(clgan_sampler *s);

/* Generates the next `count` images into out [count][c][size][size]. Image
 * i's noise is noise[i * nz .. i * nz + nz) when noise is not NULL, else nz
 * normals drawn now (image after image, continuing from earlier calls). The
 * images go through G `batch` at a time, the last batch padded with zero
 * vectors (with CLGAN_BN_BATCH the padding takes part in the statistics). */
clgan_status clgan_sample(clgan_sampler *s, clgan_bn_mode mode, long count, const float *noise,
                          float *out);

#ifdef __cplusplus
}
#endif
#endif
