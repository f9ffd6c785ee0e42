/* The run directory of a training run (see clgan/train.h for its files):
 * config.json, real.png and index.html once at set-up, log.csv row by row,
 * fixed-noise grids with the loss (and ADA) plots, metrics.csv and its
 * plot. It also keeps the curves the plots draw. */
#ifndef CLGAN_TRAIN_RUNDIR_H
#define CLGAN_TRAIN_RUNDIR_H

#include <stdio.h>

#include "clgan/train.h"

typedef struct rundir {
  /* what the files describe: set by the caller before rundir_open */
  clgan_ctx *ctx;
  const clgan_train_options *o;
  const clgan_dataset *ds;
  clgan_dcgan_config cfg;
  uint64_t seed;             /* the run's seed (the checkpoint's when resuming) */
  long total;                /* iterations in all */
  /* kept by the module */
  FILE *log;
  FILE *metrics;             /* eval_every > 0 */
  float *loss_d, *loss_g;    /* [total] for the plot */
  float *aug_p;              /* [total] augmentation probability (ADA) */
  float *swd_curve;          /* [total] SWD at evaluated iterations, NaN elsewhere */
  float *grid;               /* [c][GRID_MAX][s][s] a grid being assembled */
  int lock_fd, locked;       /* DIR/.lock, held (flock) from rundir_claim to rundir_close */
  int created;               /* rundir_claim made the folder (removed again if left empty) */
  char path[1024];
} rundir;

/* Claims the run directory o->out_dir before anything is written: creates it
 * when missing, takes the lock DIR/.lock (a second trainer on the folder
 * refuses, naming it; the kernel releases the lock of a dead process) and
 * refuses a folder that already holds a run's files (an empty or unrelated
 * folder is fine), unless resume (the checkpoint resumed from, or NULL) lies
 * in it: a run goes on in its own folder. Needs d->o. */
clgan_status rundir_claim(rundir *d, const char *resume);

/* Drops the lock (removing DIR/.lock) and removes the folder when the claim
 * created it and it is still empty. rundir_close calls it. */
void rundir_release(rundir *d);

/* The first file of a run found in dir ("checkpoint.safetensors", ...), its
 * path in buf; NULL when dir holds none. */
const char *rundir_existing_file(const char *dir, char *buf, size_t cap);

/* After rundir_claim: creates samples/, writes config.json, real.png and
 * index.html, and opens log.csv (keeping the rows up to `iteration`, whose
 * losses it loads for the plot) and, with eval_every > 0, metrics.csv. */
clgan_status rundir_open(rundir *d, long iteration);
/* Closes the files and releases the claim. With report, a failed final
 * write of buffered rows is CLGAN_ERR_IO with its message (a run that
 * already failed passes 0 and keeps its own). */
clgan_status rundir_close(rundir *d, int report);

/* out_dir/name in a buffer of d's, valid until the next call. */
const char *rundir_path(rundir *d, const char *name);

/* Records the step of 0-based iteration `it` (for the plots) and writes its
 * log row; a failed write is CLGAN_ERR_IO naming log.csv (training stops
 * before the next checkpoint, so the last complete one stays). */
clgan_status rundir_log(rundir *d, long it, long epoch, const clgan_dcgan_stats *s,
                        double img_per_s, float augment_p);
/* Writes the buffered log rows out; a failure as rundir_log's. */
clgan_status rundir_flush(rundir *d);

/* Writes samples/iter_<it>.png and samples/latest.png from the first
 * images of nchw [n][c][s][s], then losses.svg (and augment.svg with ADA)
 * up to iteration it; note receives the grid's name. */
clgan_status rundir_samples(rundir *d, long it, const float *nchw, int n, char *note, size_t cap);

/* Appends the evaluation at iteration it to metrics.csv and redraws
 * metrics.svg. */
clgan_status rundir_metrics(rundir *d, long it, const clgan_eval_report *rep);

#endif
