/* Gathering a training batch from a dataset kept on the device. */
#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_gather_batch(clgan_ctx *ctx, cl_mem images, cl_mem order, size_t first,
                                int n, int c, int hw, clgan_buf out) {
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "gather", NULL, "gather_batch", &k);
  if (st != CLGAN_OK) return st;
  cl_uint f = (cl_uint)first, un = (cl_uint)n, uc = (cl_uint)c, uhw = (cl_uint)hw,
          off = (cl_uint)out.off;
  st = clgan_set_args(k, 8, sizeof(cl_mem), &images, sizeof(cl_mem), &order, sizeof f, &f,
                      sizeof un, &un, sizeof uc, &uc, sizeof uhw, &uhw, sizeof(cl_mem), &out.mem,
                      sizeof off, &off);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)hw, 64), (size_t)n};
  return clgan_launch(ctx, k, 2, global, NULL, "gather_batch");
}
