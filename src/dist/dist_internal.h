/* The communicator object behind include/clgan/dist.h, shared by the MPI
 * build (dist_mpi.c) and the one-rank build (dist_single.c); the helpers of
 * dist_common.c work on either. */
#ifndef CLGAN_DIST_INTERNAL_H
#define CLGAN_DIST_INTERNAL_H

#include "clgan/dist.h"

#ifdef CLGAN_HAVE_MPI
#include <mpi.h>
#endif

struct clgan_dist {
  int rank, size;
  int local_rank, local_size; /* among the ranks of this host */
  float *stage;               /* [stage_floats] host staging of device buffers */
  size_t stage_floats;
  clgan_dist_timing timing;
#ifdef CLGAN_HAVE_MPI
  MPI_Comm comm;              /* a duplicate of MPI_COMM_WORLD, errors returned */
#endif
};

/* Seconds on a monotonic clock. */
double dist_now(void);

#endif
