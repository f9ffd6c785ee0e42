/* Real and fake classes of each iteration, and class-balanced real batches
 * (train/cond_data.h). */
#include "train/cond_data.h"

#include <stdlib.h>
#include <string.h>

#include "clgan/dist.h"
#include "clgan/rng.h"
#include "runtime/internal.h"
#include "train/loader.h"

struct cond_data {
  clgan_ctx *ctx;
  const clgan_dataset *ds;
  uint64_t seed;
  int batch, classes, conditional, balanced; /* batch: the global batch */
  int share_first, share;  /* this rank's images of each batch (all of it on one rank) */
  long ipe;
  int *perm, perm_epoch;  /* [count] the epoch shuffle (as the trainer's) */
  int *by_class;          /* [count] image indices grouped by class */
  int *class_first;       /* [classes + 1] each class's range in by_class */
  int *drawable;          /* [classes] the classes holding images */
  int ndrawable;
  int *idx;               /* [batch] the current real batch's images */
  float *labels_host;     /* [batch] */
  clgan_buf labels[2];    /* [share] real, fake (conditional): this rank's */
  int *grid_labels;       /* [share] the fixed grid's classes at this rank's positions */
};

clgan_status cond_data_config(clgan_dcgan_config *cfg, const clgan_dataset *ds,
                              const char *resume) {
  if (!cfg->conditional) return CLGAN_OK;
  if (ds->selected_class >= 0)
    return clgan_fail(CLGAN_ERR_INVALID, "a conditional model trains every class: drop --class %s",
                      ds->class_names[ds->selected_class]);
  for (int c = 0; c < ds->nclasses; c++)
    if (ds->class_counts[c] == 0)
      return clgan_fail(CLGAN_ERR_INVALID, "class '%s' has no images: a conditional model needs "
                                           "images of every class folder", ds->class_names[c]);
  if (!resume) {
    cfg->num_classes = ds->nclasses;
    return CLGAN_OK;
  }
  if (cfg->num_classes != ds->nclasses)
    return clgan_fail(CLGAN_ERR_INVALID, "%s was trained on %d classes; the data has %d", resume,
                      cfg->num_classes, ds->nclasses);
  return CLGAN_OK;
}

/* The model's class names against the data's: the order fixes the labels. */
static clgan_status check_names(clgan_dcgan *net, const clgan_dataset *ds, const char *resume) {
  for (int c = 0; c < ds->nclasses; c++) {
    const char *have = clgan_dcgan_class_name(net, c);
    if (!have || strcmp(have, ds->class_names[c]) != 0)
      return clgan_fail(CLGAN_ERR_INVALID, "%s: class %d is '%s' but the data's class %d is '%s'",
                        resume, c, have ? have : "(unnamed)", c, ds->class_names[c]);
  }
  return CLGAN_OK;
}

/* Images grouped by class for the balanced draw. */
static clgan_status group_classes(cond_data *t) {
  const clgan_dataset *ds = t->ds;
  t->by_class = malloc(sizeof(int) * (size_t)ds->count);
  t->class_first = calloc((size_t)ds->nclasses + 1, sizeof(int));
  t->drawable = malloc(sizeof(int) * (size_t)ds->nclasses);
  if (!t->by_class || !t->class_first || !t->drawable)
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < ds->count; i++) t->class_first[ds->labels[i] + 1]++;
  for (int c = 0; c < ds->nclasses; c++) {
    if (t->class_first[c + 1] > 0) t->drawable[t->ndrawable++] = c;
    t->class_first[c + 1] += t->class_first[c];
  }
  int *fill = calloc((size_t)ds->nclasses, sizeof(int));
  if (!fill) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < ds->count; i++) { /* in loading order within each class */
    int c = ds->labels[i];
    t->by_class[t->class_first[c] + fill[c]++] = i;
  }
  free(fill);
  return CLGAN_OK;
}

clgan_status cond_data_create(clgan_ctx *ctx, clgan_dcgan *net, const clgan_dataset *ds,
                              uint64_t seed, long ipe, const char *resume, cond_data **out) {
  *out = NULL;
  const clgan_dcgan_config *cfg = clgan_dcgan_get_config(net);
  if (!cfg->conditional && !cfg->balanced_sampling) return CLGAN_OK;
  clgan_status st = CLGAN_OK;
  if (cfg->conditional)
    st = resume ? check_names(net, ds, resume)
                : clgan_dcgan_set_classes(net, ds->class_names, ds->nclasses);
  if (st != CLGAN_OK) return st;
  cond_data *t = calloc(1, sizeof *t);
  if (!t) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  /* the draws are the global batch's, whatever the ranks (so that N ranks
   * train what one rank trains); each rank takes its share of them */
  int global = clgan_dcgan_global_batch(net);
  *t = (cond_data){.ctx = ctx, .ds = ds, .seed = seed, .batch = global,
                   .classes = ds->nclasses, .conditional = cfg->conditional,
                   .balanced = cfg->balanced_sampling, .ipe = ipe, .perm_epoch = -1};
  t->share = clgan_dist_share(clgan_dcgan_dist(net), global, &t->share_first);
  t->perm = malloc(sizeof(int) * (size_t)ds->count);
  t->idx = malloc(sizeof(int) * (size_t)t->batch);
  t->labels_host = malloc(sizeof(float) * (size_t)t->batch);
  t->grid_labels = malloc(sizeof(int) * (size_t)t->share);
  if (!t->perm || !t->idx || !t->labels_host || !t->grid_labels)
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  /* the sampler's own cycle, i % classes, by the global batch's index */
  for (int i = 0; i < t->share && st == CLGAN_OK && t->conditional; i++)
    t->grid_labels[i] = (t->share_first + i) % t->classes;
  if (st == CLGAN_OK) st = group_classes(t);
  for (int k = 0; k < 2 && st == CLGAN_OK && t->conditional; k++)
    st = clgan_buf_alloc(ctx, (size_t)t->share, &t->labels[k]);
  if (st != CLGAN_OK) {
    cond_data_destroy(t);
    return st;
  }
  *out = t;
  return CLGAN_OK;
}

void cond_data_destroy(cond_data *t) {
  if (!t) return;
  clgan_buf_release(&t->labels[0]);
  clgan_buf_release(&t->labels[1]);
  free(t->perm);
  free(t->by_class);
  free(t->class_first);
  free(t->drawable);
  free(t->idx);
  free(t->labels_host);
  free(t->grid_labels);
  free(t);
}

void cond_data_balanced(const void *user, long it, int *idx) {
  const cond_data *t = user;
  clgan_rng r;
  clgan_rng_seed_stream(&r, t->seed, CLGAN_STREAM_BALANCED, (uint64_t)it);
  for (int b = 0; b < t->batch; b++) {
    int c = t->drawable[clgan_rng_next(&r) % (uint64_t)t->ndrawable];
    int n = t->class_first[c + 1] - t->class_first[c];
    idx[b] = t->by_class[t->class_first[c] + (int)(clgan_rng_next(&r) % (uint64_t)n)];
  }
}

/* The epoch shuffle's images of iteration it (train_epoch_order, as the
 * trainer and the loader use it). */
static void shuffled(cond_data *t, long it) {
  int epoch = (int)(it / t->ipe);
  if (epoch != t->perm_epoch) {
    train_epoch_order(t->seed, epoch, t->ds->count, t->perm);
    t->perm_epoch = epoch;
  }
  memcpy(t->idx, t->perm + (size_t)(it % t->ipe) * (size_t)t->batch, sizeof(int) * (size_t)t->batch);
}

clgan_status cond_data_batch(cond_data *t, long it) {
  if (t->balanced)
    cond_data_balanced(t, it, t->idx);
  else
    shuffled(t, it);
  if (!t->conditional) return CLGAN_OK;
  const float *mine = t->labels_host + t->share_first;
  for (int b = 0; b < t->batch; b++) t->labels_host[b] = (float)t->ds->labels[t->idx[b]];
  clgan_status st = clgan_buf_write(t->ctx, t->labels[0], mine, (size_t)t->share);
  if (st != CLGAN_OK) return st;
  clgan_rng r;
  clgan_rng_seed_stream(&r, t->seed, CLGAN_STREAM_FAKE_LABELS, (uint64_t)it);
  for (int b = 0; b < t->batch; b++)
    t->labels_host[b] = (float)(clgan_rng_next(&r) % (uint64_t)t->classes);
  return clgan_buf_write(t->ctx, t->labels[1], mine, (size_t)t->share);
}

const int *cond_data_indices(const cond_data *t) { return t->idx; }

int cond_data_balanced_on(const cond_data *t) { return t && t->balanced; }

const int *cond_data_grid_labels(const cond_data *t) {
  return t && t->conditional ? t->grid_labels : NULL;
}

clgan_buf cond_data_labels(const cond_data *t, int fake) {
  return t && t->conditional ? t->labels[fake ? 1 : 0] : (clgan_buf){0};
}
