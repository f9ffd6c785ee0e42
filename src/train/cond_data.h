/* The trainer's side of the conditional model and of class-balanced
 * sampling: which images make each real batch, their classes, and the
 * classes of each fake batch, all pure functions of the run's seed and the
 * iteration, so a resumed run draws exactly what the uninterrupted one did. */
#ifndef CLGAN_TRAIN_COND_DATA_H
#define CLGAN_TRAIN_COND_DATA_H

#include <stdint.h>

#include "clgan/dataset.h"
#include "clgan/cond.h"

/* Settles the configuration's classes from the data before the model is
 * built: a new conditional run takes num_classes from the ImageFolder (every
 * class folder must hold images, and --class is refused); a resumed one must
 * see as many classes as its checkpoint. */
clgan_status cond_data_config(clgan_dcgan_config *cfg, const clgan_dataset *ds,
                              const char *resume);

typedef struct cond_data cond_data;

/* For a model with conditional or balanced_sampling (else *out = NULL):
 * names the model's classes after the data (new run) or checks that the
 * checkpoint's names are the data's (resume: `resume` is its path), and
 * allocates the label buffers (real, fake) of this rank's share of the
 * global batch (the model's batch). Every draw below is the global batch's,
 * so that N ranks draw what one rank draws. */
clgan_status cond_data_create(clgan_ctx *ctx, clgan_dcgan *net, const clgan_dataset *ds,
                              uint64_t seed, long iters_per_epoch, const char *resume,
                              cond_data **out);
void cond_data_destroy(cond_data *t); /* accepts NULL */

/* The images of iteration it's real (global) batch, balanced_sampling's
 * draw: for each position a class uniform over the classes holding images,
 * then an image of that class uniformly (stream CLGAN_STREAM_BALANCED,
 * index it). Thread safe (reads t only): the loader thread calls it. */
void cond_data_balanced(const void *t, long it, int *idx);

/* Iteration it: the real batch's images (the epoch shuffle's, or the
 * balanced draw) and, when conditional, their classes and the fake batch's
 * (uniform, stream CLGAN_STREAM_FAKE_LABELS, index it) written to the device. */
clgan_status cond_data_batch(cond_data *t, long it);
/* The image indices of the last cond_data_batch [global batch]. */
const int *cond_data_indices(const cond_data *t);
int cond_data_balanced_on(const cond_data *t); /* 0 for NULL */
/* The device labels of this rank's share of the last batch (null buffers
 * unless conditional). */
clgan_buf cond_data_labels(const cond_data *t, int fake);
/* The classes of the fixed grid's images at this rank's share of the batch
 * ((first + i) % classes, as one rank's sampler cycles them), for
 * clgan_sample_labels; NULL unless conditional. */
const int *cond_data_grid_labels(const cond_data *t);

#endif
