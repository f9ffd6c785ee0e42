/* The communicator over MPI: MPI_COMM_WORLD duplicated, errors returned (not
 * fatal) so that each one becomes a clgan_status with MPI's message. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist_internal.h"

int clgan_dist_has_mpi(void) { return 1; }

static clgan_status mpi_check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return CLGAN_OK;
  char msg[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return clgan_fail(CLGAN_ERR_IO, "%s failed: %s", what, msg);
}

/* The ranks sharing this host (one per device of the host). */
static clgan_status local_ranks(clgan_dist *d) {
  MPI_Comm local;
  clgan_status st = mpi_check(
      MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local),
      "MPI_Comm_split_type");
  if (st != CLGAN_OK) return st;
  MPI_Comm_rank(local, &d->local_rank);
  MPI_Comm_size(local, &d->local_size);
  MPI_Comm_free(&local);
  return CLGAN_OK;
}

clgan_status clgan_dist_init(int *argc, char ***argv, clgan_dist **out) {
  *out = NULL;
  clgan_dist *d = calloc(1, sizeof *d);
  if (!d) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_status st = mpi_check(MPI_Init(argc, argv), "MPI_Init");
  if (st != CLGAN_OK) {
    free(d);
    return st;
  }
  st = mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &d->comm), "MPI_Comm_dup");
  if (st == CLGAN_OK) {
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    st = local_ranks(d);
  }
  if (st != CLGAN_OK) {
    MPI_Finalize();
    free(d);
    return st;
  }
  *out = d;
  return CLGAN_OK;
}

void clgan_dist_finalize(clgan_dist *d) {
  if (!d) return;
  MPI_Comm_free(&d->comm);
  MPI_Finalize();
  free(d->stage);
  free(d);
}

void clgan_dist_abort(clgan_dist *d, int code) {
  if (d && d->size > 1) MPI_Abort(d->comm, code);
}

/* MPI counts are int: large buffers go in chunks. */
#define CHUNK ((size_t)1 << 30)

clgan_status clgan_dist_allreduce_sum(clgan_dist *d, float *buf, size_t n) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  d->timing.calls++;
  d->timing.reduce_bytes += (double)n * sizeof(float);
  for (size_t at = 0; at < n; at += CHUNK) {
    int count = (int)(n - at < CHUNK ? n - at : CHUNK);
    clgan_status st = mpi_check(
        MPI_Allreduce(MPI_IN_PLACE, buf + at, count, MPI_FLOAT, MPI_SUM, d->comm), "MPI_Allreduce");
    if (st != CLGAN_OK) return st;
  }
  return CLGAN_OK;
}

clgan_status clgan_dist_allreduce_sum_f64(clgan_dist *d, double *buf, size_t n) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  if (n > CHUNK) return clgan_fail(CLGAN_ERR_INVALID, "allreduce of %zu doubles: too many", n);
  d->timing.calls++;
  return mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, d->comm),
                   "MPI_Allreduce");
}

clgan_status clgan_dist_allgather(clgan_dist *d, const float *send, size_t n, float *recv) {
  if (!clgan_dist_active(d)) {
    memmove(recv, send, n * sizeof(float));
    return CLGAN_OK;
  }
  if (n > CHUNK) return clgan_fail(CLGAN_ERR_INVALID, "allgather of %zu floats: too many", n);
  d->timing.calls++;
  d->timing.reduce_bytes += (double)n * sizeof(float) * d->size;
  return mpi_check(MPI_Allgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, d->comm),
                   "MPI_Allgather");
}

clgan_status clgan_dist_gather(clgan_dist *d, const float *send, size_t n, float *recv) {
  if (!clgan_dist_active(d)) {
    memmove(recv, send, n * sizeof(float));
    return CLGAN_OK;
  }
  if (n > CHUNK) return clgan_fail(CLGAN_ERR_INVALID, "gather of %zu floats: too many", n);
  d->timing.calls++;
  return mpi_check(MPI_Gather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, 0, d->comm),
                   "MPI_Gather");
}

clgan_status clgan_dist_bcast(clgan_dist *d, void *buf, size_t bytes) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  if (bytes > CHUNK)
    return clgan_fail(CLGAN_ERR_INVALID, "broadcast of %zu bytes: too many", bytes);
  d->timing.calls++;
  return mpi_check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, d->comm), "MPI_Bcast");
}

clgan_status clgan_dist_max_int(clgan_dist *d, int *value) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  d->timing.calls++;
  return mpi_check(MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, d->comm),
                   "MPI_Allreduce");
}

clgan_status clgan_dist_idle_barrier(clgan_dist *d) {
  if (!clgan_dist_active(d)) return CLGAN_OK;
  MPI_Request req;
  clgan_status st = mpi_check(MPI_Ibarrier(d->comm, &req), "MPI_Ibarrier");
  for (int done = 0; st == CLGAN_OK && !done;) {
    st = mpi_check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    struct timespec nap = {0, 1000000}; /* 1 ms: sleep, do not spin */
    if (st == CLGAN_OK && !done) nanosleep(&nap, NULL);
  }
  return st;
}

clgan_status clgan_dist_agree_u64(clgan_dist *d, uint64_t value, int *differs) {
  *differs = -1;
  if (!clgan_dist_active(d)) return CLGAN_OK;
  uint64_t *all = malloc(sizeof(uint64_t) * (size_t)d->size);
  if (!all) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  d->timing.calls++;
  clgan_status st = mpi_check(
      MPI_Allgather(&value, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, d->comm), "MPI_Allgather");
  for (int r = 1; r < d->size && st == CLGAN_OK && *differs < 0; r++)
    if (all[r] != all[0]) *differs = r;
  free(all);
  return st;
}
