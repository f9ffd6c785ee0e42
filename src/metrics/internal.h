/* Shared pieces of the metrics (src/metrics/): image-set checks, the gather
 * kernel, work-group sizes and the row sort. Not part of the public API. */
#ifndef CLGAN_METRICS_INTERNAL_H
#define CLGAN_METRICS_INTERNAL_H

#include "clgan/metrics.h"
#include "runtime/internal.h"

/* The metrics' knobs are the context's tuning (clgan_tuning):
 *   metrics_sort: row sort, 0 = the device's choice (per-row radix sort on
 *     CPUs, bitonic elsewhere), 1 = radix, 2 = bitonic;
 *   metrics_local: work-group size of the reductions (one group per row or
 *     pair), 0 = the device's choice (1 on CPUs, up to 256 elsewhere);
 *   metrics_swd_chunk: images per SWD pyramid pass, 0 = as the workspace
 *     budget allows;
 *   metrics_nn_segments: reference segments per nearest-neighbour query
 *     tile, 0 = the device's choice (1 on CPUs).
 * Tests set them (clgan_ctx_set_tuning) to run every path on any device. */

/* Validates a set against the geometry (channels, size; either < 0: any)
 * and the size of its buffer. `what` names it in the error. */
clgan_status clgan_metrics_check_set(const char *what, const clgan_image_set *s, int channels,
                                     int size);

/* Every metric creates its kernels at its own setup (create) and keeps the
 * handles, borrowed from the context: launches look nothing up by name and
 * read no tuning. */

/* The gather kernel (cl/metrics.cl) for clgan_metrics_gather. */
clgan_status clgan_metrics_gather_kernel(clgan_ctx *ctx, cl_kernel *out);

/* out[(i*c + k)*hw + p] = scale * image(idx[i] or first + i)[k][p] + shift for
 * i < n: copies n images of a set into a contiguous [n][c][size][size] block.
 * idx: a device int buffer (NULL: consecutive images from `first`); k: the
 * gather kernel. */
clgan_status clgan_metrics_gather(clgan_ctx *ctx, cl_kernel k, const clgan_image_set *s,
                                  cl_mem idx, int first, int n, clgan_buf out, float scale,
                                  float shift);

/* The work-group size for a one-group-per-row reduction kernel (the tuning's
 * metrics_local, else the device's); for setup. */
size_t clgan_metrics_local_size(clgan_ctx *ctx, cl_kernel k);

/* The row sort of one metric: the method and its kernels. */
typedef struct clgan_metrics_sort_plan {
  int method;                  /* 1 radix, 2 bitonic */
  size_t local_cap;            /* bitonic work-group cap: device and kernels (and tuning) */
  size_t local_mem_floats;     /* local floats a bitonic group may use (half the device's) */
  cl_kernel radix;             /* method 1 */
  cl_kernel pad, local, merge, global; /* method 2 */
} clgan_metrics_sort_plan;

/* method: 1 radix, 2 bitonic, 0 the tuning's metrics_sort, else the
 * device's (radix on CPUs, bitonic elsewhere). */
clgan_status clgan_metrics_sort_plan_make(clgan_ctx *ctx, int method,
                                          clgan_metrics_sort_plan *out);

/* Sorts `rows` rows of n floats ascending, row r at data.off + r*ld. Bitonic
 * needs ld a power of two >= n with the tail [n, ld) of every row free (it is
 * set to +inf); radix needs tmp with rows*ld floats. */
clgan_status clgan_metrics_sort_rows(clgan_ctx *ctx, const clgan_metrics_sort_plan *p,
                                     clgan_buf data, size_t rows, size_t n, size_t ld,
                                     clgan_buf tmp);

/* Smallest power of two >= x (x >= 1). */
size_t clgan_metrics_pow2(size_t x);

/* Linear-interpolation quantile (numpy's default) of n sorted values. */
double clgan_metrics_quantile(const double *sorted, int n, double q);

double clgan_metrics_now(void);

#endif
