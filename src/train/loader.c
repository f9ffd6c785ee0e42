#include "train/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "clgan/rng.h"

struct batch_loader {
  const clgan_dataset *ds;
  int batch;          /* the global batch */
  int share_first, share_count; /* this rank's images of each batch */
  uint64_t seed;
  long ipe;
  loader_indices_fn indices; /* NULL: the epoch shuffle */
  const void *indices_user;
  int *perm;          /* [count] order of perm_epoch */
  int perm_epoch;
  float *slot[2];     /* [c][share_count][s][s] */
  long slot_it[2];    /* iteration held by each slot, -1 when free */
  long next_fill;     /* next iteration the thread prepares */
  long consumer_holds;/* slot the consumer is reading, or -1 */
  int stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
};

void train_epoch_order(uint64_t seed, int epoch, int n, int *perm) {
  clgan_rng er;
  clgan_rng_seed_stream(&er, seed, CLGAN_STREAM_EPOCH, (uint64_t)epoch);
  for (int i = 0; i < n; i++) perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(clgan_rng_next(&er) % (uint64_t)(i + 1));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static void gather(batch_loader *l, long it, float *out) {
  const clgan_dataset *ds = l->ds;
  int epoch = (int)(it / l->ipe);
  size_t first = (size_t)(it % l->ipe) * (size_t)l->batch;
  if (l->indices) { /* perm holds this batch alone */
    l->indices(l->indices_user, it, l->perm);
    first = 0;
  } else if (epoch != l->perm_epoch) {
    train_epoch_order(l->seed, epoch, ds->count, l->perm);
    l->perm_epoch = epoch;
  }
  first += (size_t)l->share_first; /* this rank's part of the batch */
  size_t hw = (size_t)ds->image_size * ds->image_size;
  int n = l->share_count;
  for (int b = 0; b < n; b++) {
    const float *img = clgan_dataset_image(ds, l->perm[first + (size_t)b]);
    for (int ch = 0; ch < ds->channels; ch++)
      memcpy(out + ((size_t)ch * n + b) * hw, img + (size_t)ch * hw, hw * sizeof(float));
  }
}

static void *run(void *arg) {
  batch_loader *l = arg;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    int s = (int)(l->next_fill % 2);
    while (!l->stop && (l->slot_it[s] >= 0 || l->consumer_holds == s))
      pthread_cond_wait(&l->cv, &l->mu);
    if (l->stop) break;
    long it = l->next_fill++;
    pthread_mutex_unlock(&l->mu);
    gather(l, it, l->slot[s]); /* the slot is ours: free and not being read */
    pthread_mutex_lock(&l->mu);
    l->slot_it[s] = it;
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

clgan_status loader_start(const clgan_dataset *ds, int batch, int share_first, int share_count,
                          uint64_t seed, long first, long iters_per_epoch,
                          loader_indices_fn indices, const void *user, batch_loader **out) {
  *out = NULL;
  if (share_first < 0 || share_count < 1 || share_first + share_count > batch)
    return clgan_fail(CLGAN_ERR_INVALID, "batch loader: images %d..%d of a batch of %d",
                      share_first, share_first + share_count, batch);
  batch_loader *l = calloc(1, sizeof *l);
  size_t floats = (size_t)ds->channels * share_count * ds->image_size * ds->image_size;
  if (!l) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory for the batch loader");
  l->ds = ds;
  l->batch = batch;
  l->share_first = share_first;
  l->share_count = share_count;
  l->seed = seed;
  l->ipe = iters_per_epoch;
  l->indices = indices;
  l->indices_user = user;
  l->perm = malloc(sizeof(int) * (size_t)(ds->count > batch ? ds->count : batch));
  l->slot[0] = malloc(sizeof(float) * floats);
  l->slot[1] = malloc(sizeof(float) * floats);
  l->slot_it[0] = l->slot_it[1] = -1;
  l->perm_epoch = -1;
  l->next_fill = first;
  l->consumer_holds = -1;
  if (!l->perm || !l->slot[0] || !l->slot[1]) {
    free(l->perm);
    free(l->slot[0]);
    free(l->slot[1]);
    free(l);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory for the batch loader");
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  if (pthread_create(&l->thread, NULL, run, l) != 0) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->perm);
    free(l->slot[0]);
    free(l->slot[1]);
    free(l);
    return clgan_fail(CLGAN_ERR_NOMEM, "cannot start the batch loader thread");
  }
  *out = l;
  return CLGAN_OK;
}

const float *loader_next(batch_loader *l, long it) {
  int s = (int)(it % 2);
  pthread_mutex_lock(&l->mu);
  if (l->consumer_holds >= 0) { /* the previous batch is done with */
    l->slot_it[l->consumer_holds] = -1;
    l->consumer_holds = -1;
    pthread_cond_broadcast(&l->cv);
  }
  while (l->slot_it[s] != it) pthread_cond_wait(&l->cv, &l->mu);
  l->consumer_holds = s;
  pthread_mutex_unlock(&l->mu);
  return l->slot[s];
}

void loader_stop(batch_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l->perm);
  free(l->slot[0]);
  free(l->slot[1]);
  free(l);
}
