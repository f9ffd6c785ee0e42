/* The communicator of a build without MPI: one rank, and a refusal to run
 * as one of several (a launcher started this process with others that it
 * cannot talk to). */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"

int clgan_dist_has_mpi(void) { return 0; }

clgan_status clgan_dist_init(int *argc, char ***argv, clgan_dist **out) {
  (void)argc, (void)argv;
  *out = NULL;
  int n = clgan_dist_env_size();
  if (n > 1)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "started as one of %d ranks (mpirun), but this clgan was built without "
                      "MPI: install libopenmpi-dev and rebuild (meson setup -Dmpi=enabled)",
                      n);
  return CLGAN_OK;
}

void clgan_dist_finalize(clgan_dist *d) {
  if (!d) return;
  free(d->stage);
  free(d);
}

void clgan_dist_abort(clgan_dist *d, int code) { (void)d, (void)code; }

/* One rank: every reduction is the identity. */
clgan_status clgan_dist_allreduce_sum(clgan_dist *d, float *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLGAN_OK;
}

clgan_status clgan_dist_allreduce_sum_f64(clgan_dist *d, double *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLGAN_OK;
}

clgan_status clgan_dist_allgather(clgan_dist *d, const float *send, size_t n, float *recv) {
  (void)d;
  memmove(recv, send, n * sizeof(float));
  return CLGAN_OK;
}

clgan_status clgan_dist_gather(clgan_dist *d, const float *send, size_t n, float *recv) {
  (void)d;
  memmove(recv, send, n * sizeof(float));
  return CLGAN_OK;
}

clgan_status clgan_dist_bcast(clgan_dist *d, void *buf, size_t bytes) {
  (void)d, (void)buf, (void)bytes;
  return CLGAN_OK;
}

clgan_status clgan_dist_max_int(clgan_dist *d, int *value) {
  (void)d, (void)value;
  return CLGAN_OK;
}

clgan_status clgan_dist_idle_barrier(clgan_dist *d) {
  (void)d;
  return CLGAN_OK;
}

clgan_status clgan_dist_agree_u64(clgan_dist *d, uint64_t value, int *differs) {
  (void)d, (void)value;
  *differs = -1;
  return CLGAN_OK;
}
