/* Data-parallel training: the communicator of the ranks of one job (MPI in a
 * build with -Dmpi, one rank otherwise). The program owns it (clgan_dist_init
 * at start, clgan_dist_finalize at exit); the trainer and the model borrow
 * it. A NULL clgan_dist is one rank: every call below accepts it and does
 * nothing (a reduction of one rank is the identity).
 *
 * Every collective here must be called by every rank in the same order; the
 * training step does so by construction (the same graphs, the same steps). */
#ifndef CLGAN_DIST_H
#define CLGAN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "clgan/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_dist clgan_dist;

/* Where the time of the collectives went, summed since the last reset. */
typedef struct clgan_dist_timing {
  double reduce_seconds;  /* gradient allreduce: device read + MPI + device write */
  double bn_seconds;      /* SyncBatchNorm statistics and sums (same, small) */
  double reduce_bytes;    /* bytes handed to MPI_Allreduce / MPI_Allgather */
  long calls;             /* collectives made */
} clgan_dist_timing;

/* 1 when this build has MPI. */
int clgan_dist_has_mpi(void);

/* The number of ranks the environment says this process was started with
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE...), 1 when none says. A
 * build without MPI uses it to refuse running as one of several ranks. */
int clgan_dist_env_size(void);

/* Starts the communicator: MPI_Init (MPI build), else one rank. *out is
 * NULL (one rank, nothing to finalize) when the build has no MPI; with MPI it
 * is set even for one rank. Fails when the build has no MPI but the
 * environment asks for more than one rank. */
clgan_status clgan_dist_init(int *argc, char ***argv, clgan_dist **out);
/* MPI_Finalize and free; accepts NULL. */
void clgan_dist_finalize(clgan_dist *d);
/* Ends every rank of the job now (MPI_Abort) with exit code code; with one
 * rank it returns. */
void clgan_dist_abort(clgan_dist *d, int code);

int clgan_dist_rank(const clgan_dist *d);        /* 0 .. size-1; 0 for NULL */
int clgan_dist_size(const clgan_dist *d);        /* 1 for NULL */
int clgan_dist_local_rank(const clgan_dist *d);  /* rank among those of this host */
int clgan_dist_local_size(const clgan_dist *d);
/* 1 when d has more than one rank (the model then takes the split paths). */
int clgan_dist_active(const clgan_dist *d);

/* Makes the host staging area hold at least `floats` floats (set-up time:
 * the collectives below never allocate). */
clgan_status clgan_dist_reserve(clgan_dist *d, size_t floats);

/* In place, over every rank: buf[i] = sum of every rank's buf[i]. */
clgan_status clgan_dist_allreduce_sum(clgan_dist *d, float *buf, size_t n);
clgan_status clgan_dist_allreduce_sum_f64(clgan_dist *d, double *buf, size_t n);
/* recv[r * n + i] = rank r's send[i], on every rank (recv holds size * n). */
clgan_status clgan_dist_allgather(clgan_dist *d, const float *send, size_t n, float *recv);
/* The same, on rank 0 only (recv may be NULL elsewhere). */
clgan_status clgan_dist_gather(clgan_dist *d, const float *send, size_t n, float *recv);
/* bytes of buf from rank 0 to every rank. */
clgan_status clgan_dist_bcast(clgan_dist *d, void *buf, size_t bytes);
/* Whether every rank holds the same value: *differs = the first rank whose
 * value is not rank 0's, or -1 when all agree (always -1 for one rank). */
clgan_status clgan_dist_agree_u64(clgan_dist *d, uint64_t value, int *differs);
/* Waits for every rank, sleeping (not spinning, as MPI's blocking calls do)
 * meanwhile: for ranks that wait long while another works on the same host. */
clgan_status clgan_dist_idle_barrier(clgan_dist *d);
/* The largest of every rank's value (an agreement: "any rank failed"). */
clgan_status clgan_dist_max_int(clgan_dist *d, int *value);

/* A device buffer summed over every rank in place, staged through the host
 * (read, MPI_Allreduce, write): the gradient arena's path. Timed into
 * reduce_seconds (or bn_seconds with bn != 0). */
clgan_status clgan_dist_allreduce_buf(clgan_dist *d, clgan_ctx *ctx, clgan_buf b, size_t floats,
                                      int bn);

/* SyncBatchNorm's statistics: sums [2c] on the device holds this rank's
 * per-channel mean (sums[0..c)) and sum of squared deviations (sums[c..2c))
 * over its m_local values; afterwards it holds the global mean and sum of
 * squared deviations over all ranks' values (Chan's combination in rank
 * order, in double: the same bits on every rank). Needs 2c * (size + 1)
 * floats reserved. */
clgan_status clgan_dist_bn_stats(clgan_dist *d, clgan_ctx *ctx, clgan_buf sums, int c,
                                 size_t m_local);

/* The combination clgan_dist_bn_stats makes, on the host: g [ranks][2c]
 * holds each rank's (means, sums of squared deviations) over m_local values
 * per channel; out [2c] the global ones (Chan et al.'s formula, in rank
 * order, in double). */
void clgan_dist_combine_stats(const float *g, int ranks, int c, size_t m_local, float *out);

void clgan_dist_timing_get(const clgan_dist *d, clgan_dist_timing *out);
void clgan_dist_timing_reset(clgan_dist *d);

/* Image share of one rank in a global batch: images [first, first + count). */
static inline int clgan_dist_share(const clgan_dist *d, int batch, int *first) {
  int n = clgan_dist_size(d), count = batch / n;
  *first = clgan_dist_rank(d) * count;
  return count;
}

/* This rank's columns of a [rows][batch] matrix (noise [nz, batch]) into
 * out [rows][count]. */
void clgan_dist_columns(const clgan_dist *d, const float *full, int rows, int batch, float *out);

/* ---- the model over the ranks ------------------------------------------ */
struct clgan_dcgan;
struct clgan_dcgan_config;

/* INVALID (with the figures) unless the global batch splits into equal
 * shares of at least 2 images. */
clgan_status clgan_dist_check_batch(const clgan_dist *d, int batch);

/* clgan_dcgan_create for cfg->batch as the global batch: the model is
 * planned for this rank's share (cfg->batch / ranks), its BatchNorm is
 * synchronised, its gradients and losses summed over the ranks. d NULL or of
 * one rank: exactly clgan_dcgan_create. */
clgan_status clgan_dcgan_create_dist(clgan_ctx *ctx, const struct clgan_dcgan_config *cfg,
                                     clgan_dist *d, struct clgan_dcgan **out);
/* The global batch (the model's batch times its ranks). */
int clgan_dcgan_global_batch(const struct clgan_dcgan *net);
/* The ranks the model was made for (NULL: one). */
clgan_dist *clgan_dcgan_dist(const struct clgan_dcgan *net);
struct clgan_dataset;
/* INVALID on every rank unless every rank loaded the same images (count,
 * size and pixels): the ranks of one job must train on one dataset. */
clgan_status clgan_dist_check_dataset(clgan_dist *d, const struct clgan_dataset *ds);
/* What saving the model computes over the ranks (the averaged generator's
 * statistics): called by every rank before rank 0 saves a checkpoint. */
clgan_status clgan_dcgan_dist_prepare_save(struct clgan_dcgan *net);

#ifdef __cplusplus
}
#endif
#endif
