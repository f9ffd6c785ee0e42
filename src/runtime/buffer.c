/* Device float buffers: allocation, blocking transfers, fill and copy. Uses
 * the context (launches) and the program table (the fill kernel); neither
 * uses this file. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

clgan_status clgan_buf_alloc(clgan_ctx *ctx, size_t floats, clgan_buf *out) {
  out->mem = NULL;
  out->off = 0;
  out->floats = 0;
  cl_int err;
  size_t n = floats ? floats : 1;
  size_t bytes = n * sizeof(float);
  /* Integrated GPUs share memory with the host: ask for host-visible memory
   * so transfers can be zero-copy instead of staging through a second copy. */
  cl_mem_flags flags = CL_MEM_READ_WRITE;
  if (ctx->dev.is_gpu && ctx->dev.unified_memory) flags |= CL_MEM_ALLOC_HOST_PTR;
  out->mem = clCreateBuffer(ctx->context, flags, bytes, NULL, &err);
  if (err != CL_SUCCESS)
    return clgan_fail(CLGAN_ERR_OPENCL, "clCreateBuffer(%zu bytes) failed on %s: %s (%d)", bytes,
                      ctx->dev.name, clgan_cl_error_name(err), (int)err);
  out->floats = n;
  ctx->created.buffers++;
  return CLGAN_OK;
}

void clgan_buf_release(clgan_buf *b) {
  if (b && b->mem) clReleaseMemObject(b->mem);
  if (b) b->mem = NULL, b->floats = 0;
}

/* INVALID when a view of known size holds fewer than `floats` floats. */
static clgan_status check_size(const char *what, clgan_buf b, size_t floats) {
  if (b.floats == 0 || floats <= b.floats) return CLGAN_OK;
  return clgan_fail(CLGAN_ERR_INVALID, "%s: %zu floats requested from a view of %zu (offset %zu)",
                    what, floats, b.floats, b.off);
}

clgan_status clgan_buf_write(clgan_ctx *ctx, clgan_buf dst, const float *src, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  clgan_status st = check_size("clgan_buf_write", dst, floats);
  if (st != CLGAN_OK) return st;
  ctx->activity.blocking_writes++;
  return CLGAN_CL(clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_TRUE, dst.off * sizeof(float),
                                       floats * sizeof(float), src, 0, NULL, NULL));
}

clgan_status clgan_buf_read(clgan_ctx *ctx, clgan_buf src, float *dst, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  clgan_status st = check_size("clgan_buf_read", src, floats);
  if (st != CLGAN_OK) return st;
  ctx->activity.blocking_reads++;
  return CLGAN_CL(clEnqueueReadBuffer(ctx->queue, src.mem, CL_TRUE, src.off * sizeof(float),
                                      floats * sizeof(float), dst, 0, NULL, NULL));
}

clgan_status clgan_buf_write_enqueue(clgan_ctx *ctx, clgan_buf dst, const float *src,
                                     size_t floats) {
  if (floats == 0) return CLGAN_OK;
  clgan_status st = check_size("clgan_buf_write_enqueue", dst, floats);
  if (st != CLGAN_OK) return st;
  return CLGAN_CL(clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_FALSE, dst.off * sizeof(float),
                                       floats * sizeof(float), src, 0, NULL, NULL));
}

clgan_status clgan_buf_read_enqueue(clgan_ctx *ctx, clgan_buf src, float *dst, size_t floats,
                                    cl_event *done) {
  *done = NULL;
  /* a marker for an empty read, so that there is always an event to wait on */
  if (floats == 0) return CLGAN_CL(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, done));
  clgan_status st = check_size("clgan_buf_read_enqueue", src, floats);
  if (st != CLGAN_OK) return st;
  return CLGAN_CL(clEnqueueReadBuffer(ctx->queue, src.mem, CL_FALSE, src.off * sizeof(float),
                                      floats * sizeof(float), dst, 0, NULL, done));
}

clgan_status clgan_event_wait(clgan_ctx *ctx, cl_event *ev) {
  if (!ev || !*ev) return CLGAN_OK;
  ctx->activity.event_waits++;
  clgan_status st = CLGAN_CL(clWaitForEvents(1, ev));
  clReleaseEvent(*ev);
  *ev = NULL;
  return st;
}

clgan_status clgan_fill(clgan_ctx *ctx, clgan_buf dst, size_t floats, float value) {
  if (floats == 0) return CLGAN_OK;
  clgan_status st = check_size("clgan_fill", dst, floats);
  if (st != CLGAN_OK) return st;
  cl_kernel k;
  if ((st = clgan_kernel_get(ctx, "fill", NULL, "fill", &k)) != CLGAN_OK) return st;
  cl_uint off = (cl_uint)dst.off, n = (cl_uint)floats;
  if ((st = clgan_set_args(k, 4, sizeof(cl_mem), &dst.mem, sizeof off, &off, sizeof n, &n,
                           sizeof value, &value)) != CLGAN_OK)
    return st;
  size_t g = clgan_round_up(floats, 64);
  return clgan_launch(ctx, k, 1, &g, NULL, "fill");
}

clgan_status clgan_copy(clgan_ctx *ctx, clgan_buf src, clgan_buf dst, size_t floats) {
  if (floats == 0) return CLGAN_OK;
  clgan_status st = check_size("clgan_copy (source)", src, floats);
  if (st == CLGAN_OK) st = check_size("clgan_copy (destination)", dst, floats);
  if (st != CLGAN_OK) return st;
  return CLGAN_CL(clEnqueueCopyBuffer(ctx->queue, src.mem, dst.mem, src.off * sizeof(float),
                                      dst.off * sizeof(float), floats * sizeof(float), 0, NULL,
                                      NULL));
}

static clgan_status mem_create(clgan_ctx *ctx, cl_mem_flags flags, size_t bytes, const void *init,
                               cl_mem *out) {
  cl_int err;
  /* clCreateBuffer takes a non-const host pointer; with COPY_HOST_PTR it only reads it */
  *out = clCreateBuffer(ctx->context, flags, bytes ? bytes : 1, (void *)(uintptr_t)init, &err);
  if (err != CL_SUCCESS) {
    *out = NULL;
    return clgan_fail(CLGAN_ERR_OPENCL, "clCreateBuffer(%zu bytes) failed on %s: %s (%d)", bytes,
                      ctx->dev.name, clgan_cl_error_name(err), (int)err);
  }
  ctx->created.buffers++;
  return CLGAN_OK;
}

clgan_status clgan_mem_alloc(clgan_ctx *ctx, size_t bytes, const void *init, cl_mem *out) {
  if (bytes == 0) init = NULL; /* a 1-byte buffer then, with nothing to copy */
  return mem_create(ctx, CL_MEM_READ_ONLY | (init ? CL_MEM_COPY_HOST_PTR : 0), bytes, init, out);
}

clgan_status clgan_mem_alloc_output(clgan_ctx *ctx, size_t bytes, cl_mem *out) {
  return mem_create(ctx, CL_MEM_WRITE_ONLY, bytes, NULL, out);
}

clgan_status clgan_mem_read(clgan_ctx *ctx, cl_mem src, size_t offset, void *dst, size_t bytes) {
  if (bytes == 0) return CLGAN_OK;
  ctx->activity.blocking_reads++;
  return CLGAN_CL(clEnqueueReadBuffer(ctx->queue, src, CL_TRUE, offset, bytes, dst, 0, NULL, NULL));
}

size_t clgan_mem_bytes(cl_mem m) {
  size_t bytes = 0;
  if (!m || clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS) return 0;
  return bytes;
}

clgan_status clgan_mem_write(clgan_ctx *ctx, cl_mem dst, size_t offset, const void *src,
                             size_t bytes) {
  if (bytes == 0) return CLGAN_OK;
  ctx->activity.blocking_writes++;
  return CLGAN_CL(clEnqueueWriteBuffer(ctx->queue, dst, CL_TRUE, offset, bytes, src, 0, NULL, NULL));
}

void clgan_mem_release(cl_mem *m) {
  if (m && *m) clReleaseMemObject(*m);
  if (m) *m = NULL;
}
