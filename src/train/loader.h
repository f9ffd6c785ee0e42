/* Training batches for datasets too large to keep on the device: a loader
 * thread gathers the next batch into the C,N,H,W layout while the device
 * runs the current step (double buffering). The data order is the same as
 * the device-resident path's: train_epoch_order. */
#ifndef CLGAN_TRAIN_LOADER_H
#define CLGAN_TRAIN_LOADER_H

#include <stdint.h>

#include "clgan/dataset.h"

/* perm[0..n) = the image order of epoch `epoch` for a run seeded with seed
 * (Fisher-Yates from an RNG seeded by seed and epoch, so any epoch can be
 * produced without the ones before it: resume is exact). */
void train_epoch_order(uint64_t seed, int epoch, int n, int *perm);

typedef struct batch_loader batch_loader;

/* Which images make batch `it` (idx[0 .. batch)), instead of the epoch
 * shuffle: balanced sampling (train/cond_data.h). Called on the thread. */
typedef void (*loader_indices_fn)(const void *user, long it, int *idx);

/* Starts the thread, which fills batches for iterations first, first + 1, ...
 * (iters_per_epoch whole batches per epoch, in the epoch shuffle's order, or
 * the images indices(user, it) chooses when indices is not NULL): images
 * share_first .. share_first + share_count of each batch of `batch` (one
 * rank's share; 0, batch for all of it). */
clgan_status loader_start(const clgan_dataset *ds, int batch, int share_first, int share_count,
                          uint64_t seed, long first, long iters_per_epoch,
                          loader_indices_fn indices, const void *user, batch_loader **out);

/* Blocks until the batch of iteration `it` (the next one in sequence) is
 * ready and returns it: [channels][share_count][size][size] floats, valid
 * until the next call. */
const float *loader_next(batch_loader *l, long it);

/* Stops and joins the thread; accepts NULL. */
void loader_stop(batch_loader *l);

#endif
