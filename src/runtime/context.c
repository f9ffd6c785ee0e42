/* The context every op runs in: device, OpenCL context, in-order queue, and
 * launch helpers. Uses the profiler (profile.c) and the device list; the
 * buffer helpers and the program table build on this file, not the reverse. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clgan_status clgan_ctx_create(const clgan_ctx_options *opts, clgan_ctx **out) {
  *out = NULL;
  clgan_ctx_options def = {0};
  if (!opts) opts = &def;
  clgan_device_info *list = NULL;
  int count = 0;
  clgan_status st = clgan_devices_list(&list, &count);
  if (st != CLGAN_OK) return st;
  int i = clgan_device_pick(list, count, opts->device);
  if (i < 0) {
    free(list);
    return CLGAN_ERR_NO_DEVICE;
  }
  clgan_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) {
    free(list);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  ctx->dev = list[i];
  free(list);
  ctx->profiling = opts->profiling;
  ctx->tune_progress = opts->tune_progress;
  ctx->tune_user = opts->tune_user;
  if (opts->tuning)
    ctx->tuning = *opts->tuning;
  else if ((st = clgan_tuning_from_env(&ctx->tuning)) != CLGAN_OK) {
    free(ctx);
    return st;
  }
  ctx->gemm_chosen[0] = ctx->gemm_chosen[1] = ctx->tuning.gemm;
  cl_int err;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform,
                                   0};
  ctx->context = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &err);
  if ((st = clgan_cl_check(err, "clCreateContext")) != CLGAN_OK) goto fail;
  ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device,
                                    opts->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
  if ((st = clgan_cl_check(err, "clCreateCommandQueue")) != CLGAN_OK) goto fail;
  if (opts->profiling && (st = clgan_profile_create(ctx)) != CLGAN_OK) goto fail;
  *out = ctx;
  return CLGAN_OK;
fail:
  clgan_ctx_destroy(ctx);
  return st;
}

void clgan_ctx_destroy(clgan_ctx *ctx) {
  if (!ctx) return;
  if (ctx->queue) clFinish(ctx->queue);
  clgan_profile_destroy(ctx);
  if (ctx->gemm_ws.mem) clReleaseMemObject(ctx->gemm_ws.mem);
  for (int i = 0; i < ctx->nkernels; i++) {
    clReleaseKernel(ctx->kernels[i].kernel);
    free(ctx->kernels[i].name);
  }
  for (int i = 0; i < ctx->nprograms; i++) {
    clReleaseProgram(ctx->programs[i].program);
    free(ctx->programs[i].source);
    free(ctx->programs[i].options);
  }
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->context) clReleaseContext(ctx->context);
  free(ctx);
}

const clgan_device_info *clgan_ctx_device(const clgan_ctx *ctx) { return &ctx->dev; }
cl_context clgan_ctx_cl_context(const clgan_ctx *ctx) { return ctx->context; }
cl_command_queue clgan_ctx_queue(const clgan_ctx *ctx) { return ctx->queue; }
void clgan_ctx_freeze(clgan_ctx *ctx, int frozen) { ctx->frozen = frozen; }

clgan_status clgan_ctx_finish(clgan_ctx *ctx) {
  ctx->activity.finishes++;
  return CLGAN_CL(clFinish(ctx->queue));
}

size_t clgan_ctx_workspace_bytes(const clgan_ctx *ctx) {
  return ctx->gemm_ws_floats * sizeof(float);
}

clgan_status clgan_set_args(cl_kernel k, int nargs, ...) {
  va_list ap;
  va_start(ap, nargs);
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < nargs && st == CLGAN_OK; i++) {
    size_t size = va_arg(ap, size_t);
    const void *ptr = va_arg(ap, const void *);
    cl_int err = clSetKernelArg(k, (cl_uint)i, size, ptr);
    if (err != CL_SUCCESS) {
      char kname[128] = "?";
      clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof kname, kname, NULL);
      kname[sizeof kname - 1] = '\0';
      st = clgan_fail(CLGAN_ERR_OPENCL, "clSetKernelArg(%s, %d) failed: %s (%d)", kname, i,
                      clgan_cl_error_name(err), (int)err);
    }
  }
  va_end(ap);
  return st;
}

clgan_status clgan_launch(clgan_ctx *ctx, cl_kernel k, cl_uint dims, const size_t *global,
                          const size_t *local, const char *what) {
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, global, local, 0, NULL,
                                      clgan_profile_next_event(ctx, what));
  clgan_count_launch(ctx);
  if (err == CL_SUCCESS) return CLGAN_OK;
  return clgan_fail(CLGAN_ERR_OPENCL, "clEnqueueNDRangeKernel(%s) failed on %s: %s (%d)", what,
                    ctx->dev.name, clgan_cl_error_name(err), (int)err);
}

size_t clgan_kernel_max_local(const clgan_ctx *ctx, cl_kernel k) {
  size_t lim = ctx->dev.max_work_group_size, kw = 0;
  if (clGetKernelWorkGroupInfo(k, ctx->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw,
                               NULL) == CL_SUCCESS &&
      kw > 0 && kw < lim)
    lim = kw;
  return lim;
}

size_t clgan_pow2_local(const clgan_ctx *ctx, cl_kernel k, size_t cap) {
  size_t lim = clgan_kernel_max_local(ctx, k), w = 1;
  while (w * 2 <= lim && w * 2 <= cap) w *= 2;
  return w;
}
