/* The NaN/Inf guard's detector: one flag per checked range. */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_guard_plan_make(clgan_ctx *ctx, clgan_guard_plan *out) {
  clgan_guard_plan p = {0};
  clgan_status st = clgan_kernel_get(ctx, "guard", NULL, "nonfinite_any", &p.kernel);
  if (st != CLGAN_OK) return st;
  /* one work-group scans the range; its local-memory tree needs a power of two */
  p.local = clgan_pow2_local(ctx, p.kernel, 256);
  *out = p;
  return CLGAN_OK;
}

clgan_status clgan_nonfinite_flag(clgan_ctx *ctx, const clgan_guard_plan *plan, size_t count,
                                  clgan_buf x, clgan_buf flag) {
  if (!plan || !plan->kernel) return clgan_fail(CLGAN_ERR_INVALID, "nonfinite_flag: no plan");
  if (!x.mem || !flag.mem) return clgan_fail(CLGAN_ERR_INVALID, "nonfinite_flag: null buffer");
  if (x.off > UINT_MAX || count > UINT_MAX - x.off || flag.off > UINT_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "nonfinite_flag: %zu floats at offset %zu exceed 2^32",
                      count, x.off);
  cl_kernel k = plan->kernel;
  size_t local = plan->local;
  cl_uint off = (cl_uint)x.off, n = (cl_uint)count, foff = (cl_uint)flag.off;
  clgan_status st =
      clgan_set_args(k, 6, sizeof(cl_mem), &x.mem, sizeof off, &off, sizeof n, &n, sizeof(cl_mem),
                     &flag.mem, sizeof foff, &foff, local * sizeof(cl_int), NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &local, &local, "nonfinite_any");
}
