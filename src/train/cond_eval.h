/* Evaluation during training per class (a conditional run with eval_every):
 * for each class, the SWD (and diversity, memorisation) of images generated
 * for that class against that class's real images, appended to
 * metrics_classes.csv. Everything is planned at set-up; a run allocates
 * nothing. */
#ifndef CLGAN_TRAIN_COND_EVAL_H
#define CLGAN_TRAIN_COND_EVAL_H

#include <stdint.h>

#include "clgan/cond.h"
#include "clgan/dataset.h"
#include "clgan/metrics.h"
#include "clgan/train.h"

typedef struct cond_eval cond_eval;

/* Per class: up to max_real of its images (a seeded subset) as the real set,
 * and nfake generated images from noise [nfake][nz] (fixed, the trainer's
 * evaluation noise) with that class. csv: the file the rows go to, opened
 * by the first run (appended to when `append`, else created with a header). */
clgan_status cond_eval_create(clgan_ctx *ctx, const clgan_dcgan *net, const clgan_dataset *ds,
                              uint64_t seed, int max_real, int nfake, const float *noise,
                              const char *csv, int append, cond_eval **out);
void cond_eval_destroy(cond_eval *e); /* accepts NULL */

/* Generates each class's images with the sampler (running statistics, as
 * `clgan generate`), measures them and writes the rows of iteration it;
 * swd[c] (num_classes entries) gets each class's SWD x 1e3. */
clgan_status cond_eval_run(cond_eval *e, clgan_sampler *s, long it, double *swd);
/* Classes (the length of swd). */
int cond_eval_classes(const cond_eval *e);

#endif
