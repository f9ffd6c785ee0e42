/* Exponential moving average of the generator's weights (sampling, export). */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_ema_plan_make(clgan_ctx *ctx, clgan_ema_plan *out) {
  clgan_ema_plan p = {0};
  clgan_status st = clgan_kernel_get(ctx, "ema", NULL, "ema_update", &p.kernel);
  if (st == CLGAN_OK) *out = p;
  return st;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_ema_update(clgan_ctx *ctx, const clgan_ema_plan *plan, size_t count,
                              clgan_buf ema, clgan_buf param, float decay) {
  if (!plan || !plan->kernel) return clgan_fail(CLGAN_ERR_INVALID, "ema_update: no plan");
  if (!ema.mem || !param.mem) return clgan_fail(CLGAN_ERR_INVALID, "ema_update: null buffer");
  if (!(decay >= 0.0f && decay <= 1.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "ema_update: decay %g outside [0, 1]", (double)decay);
  if (!fits_uint(ema, count) || !fits_uint(param, count))
    return clgan_fail(CLGAN_ERR_INVALID, "ema_update: %zu floats exceed 2^32 addressing", count);
  if (count == 0) return CLGAN_OK;
  cl_kernel k = plan->kernel;
  cl_uint eo = (cl_uint)ema.off, po = (cl_uint)param.off, n = (cl_uint)count;
  clgan_status st = clgan_set_args(k, 6, sizeof(cl_mem), &ema.mem, sizeof eo, &eo, sizeof(cl_mem),
                                   &param.mem, sizeof po, &po, sizeof n, &n, sizeof decay, &decay);
  if (st != CLGAN_OK) return st;
  size_t global = clgan_round_up(count, 64);
  return clgan_launch(ctx, k, 1, &global, NULL, "ema_update");
}
