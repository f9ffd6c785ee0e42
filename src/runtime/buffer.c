/* Device float buffers: allocation, blocking transfers, fill and copy. */
#include <stdlib.h>

#include "internal.h"

clgan_status clgan_buf_alloc(clgan_ctx *ctx, size_t floats, clgan_buf *out) {
  out->mem = NULL;
  out->off = 0;
  cl_int err;
  size_t bytes = (floats ? floats : 1) * sizeof(float);
  /* Integrated GPUs share memory with the host: ask for host-visible memory
   * so transfers can be zero-copy instead of staging through a second copy. */
  cl_mem_flags flags = CL_MEM_READ_WRITE;
  if (ctx->dev.is_gpu && ctx->dev.unified_memory) flags |= CL_MEM_ALLOC_HOST_PTR;
  out->mem = clCreateBuffer(ctx->context, flags, bytes, NULL, &err);
  if (err != CL_SUCCESS)
    return clgan_fail(CLGAN_ERR_OPENCL, "clCreateBuffer(%zu bytes) failed on %s: %s (%d)", bytes,
                      ctx->dev.name, clgan_cl_error_name(err), (int)err);
  ctx->created.buffers++;
  return CLGAN_OK;
}

void clgan_buf_release(clgan_buf *b) {
  if (b && b->mem) clReleaseMemObject(b->mem);
  if (b) b->mem = NULL;
}

clgan_status clgan_buf_write(clgan_ctx *ctx, clgan_buf dst, const float *src, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  return CLGAN_CL(clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_TRUE, dst.off * sizeof(float),
                                       floats * sizeof(float), src, 0, NULL, NULL));
}

clgan_status clgan_buf_read(clgan_ctx *ctx, clgan_buf src, float *dst, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  return CLGAN_CL(clEnqueueReadBuffer(ctx->queue, src.mem, CL_TRUE, src.off * sizeof(float),
                                      floats * sizeof(float), dst, 0, NULL, NULL));
}

clgan_status clgan_fill(clgan_ctx *ctx, clgan_buf dst, size_t floats, float value) {
  if (floats == 0) return CLGAN_OK;
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "fill", NULL, "fill", &k);
  if (st != CLGAN_OK) return st;
  cl_uint off = (cl_uint)dst.off, n = (cl_uint)floats;
  if ((st = clgan_set_args(k, 4, sizeof(cl_mem), &dst.mem, sizeof off, &off, sizeof n, &n,
                           sizeof value, &value)) != CLGAN_OK)
    return st;
  size_t g = clgan_round_up(floats, 64);
  return clgan_launch(ctx, k, 1, &g, NULL, "fill");
}

clgan_status clgan_copy(clgan_ctx *ctx, clgan_buf src, clgan_buf dst, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  return CLGAN_CL(clEnqueueCopyBuffer(ctx->queue, src.mem, dst.mem, src.off * sizeof(float),
                                      dst.off * sizeof(float), floats * sizeof(float), 0, NULL,
                                      NULL));
}
