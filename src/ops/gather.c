/* Gathering a training batch from a dataset kept on the device (cl/gather.cl). */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_gather_plan_make(clgan_ctx *ctx, clgan_gather_plan *out) {
  clgan_gather_plan p = {0};
  clgan_status st = clgan_kernel_get(ctx, "gather", NULL, "gather_batch", &p.kernel);
  if (st == CLGAN_OK) *out = p;
  return st;
}

clgan_status clgan_gather_batch(clgan_ctx *ctx, const clgan_gather_plan *plan, cl_mem images,
                                cl_mem order, size_t first, int n, int c, int hw, clgan_buf out) {
  if (!plan || !plan->kernel) return clgan_fail(CLGAN_ERR_INVALID, "gather_batch: no plan");
  if (!images || !order || !out.mem)
    return clgan_fail(CLGAN_ERR_INVALID, "gather_batch: null buffer");
  if (n < 1 || c < 1 || hw < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "gather_batch: empty batch (n %d, c %d, hw %d)", n, c, hw);
  /* the kernel indexes order and out with uint */
  size_t batch = (size_t)n * (size_t)c * (size_t)hw;
  if (first > UINT_MAX - (size_t)n || out.off > UINT_MAX || batch > UINT_MAX - out.off)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "gather_batch: batch of %zu floats from image %zu "
                      "exceeds 2^32 addressing",
                      batch, first);
  cl_kernel k = plan->kernel;
  cl_uint f = (cl_uint)first, un = (cl_uint)n, uc = (cl_uint)c, uhw = (cl_uint)hw,
          off = (cl_uint)out.off;
  clgan_status st = clgan_set_args(k, 8, sizeof(cl_mem), &images, sizeof(cl_mem), &order, sizeof f,
                                   &f, sizeof un, &un, sizeof uc, &uc, sizeof uhw, &uhw,
                                   sizeof(cl_mem), &out.mem, sizeof off, &off);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)hw, 64), (size_t)n};
  return clgan_launch(ctx, k, 2, global, NULL, "gather_batch");
}
