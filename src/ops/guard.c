/* The NaN/Inf guard's detector: one flag per checked range. */
#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_nonfinite_flag(clgan_ctx *ctx, size_t count, clgan_buf x, clgan_buf flag) {
  if (!x.mem || !flag.mem) return clgan_fail(CLGAN_ERR_INVALID, "nonfinite_flag: null buffer");
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "guard", NULL, "nonfinite_any", &k);
  if (st != CLGAN_OK) return st;
  size_t local = 256;
  while (local > ctx->dev.max_work_group_size) local /= 2;
  cl_uint off = (cl_uint)x.off, n = (cl_uint)count, foff = (cl_uint)flag.off;
  st = clgan_set_args(k, 6, sizeof(cl_mem), &x.mem, sizeof off, &off, sizeof n, &n,
                      sizeof(cl_mem), &flag.mem, sizeof foff, &foff, local * sizeof(cl_int), NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &local, &local, "nonfinite_any");
}
