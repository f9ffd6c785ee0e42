/* Exponential moving average of the generator's weights (sampling, export). */
#include "clgan/ops.h"
#include "runtime/internal.h"

clgan_status clgan_ema_update(clgan_ctx *ctx, size_t count, clgan_buf ema, clgan_buf param,
                              float decay) {
  if (!ema.mem || !param.mem) return clgan_fail(CLGAN_ERR_INVALID, "ema_update: null buffer");
  if (!(decay >= 0.0f && decay <= 1.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "ema_update: decay %g outside [0, 1]", (double)decay);
  if (count == 0) return CLGAN_OK;
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "ema", NULL, "ema_update", &k);
  if (st != CLGAN_OK) return st;
  cl_uint eo = (cl_uint)ema.off, po = (cl_uint)param.off, n = (cl_uint)count;
  st = clgan_set_args(k, 6, sizeof(cl_mem), &ema.mem, sizeof eo, &eo, sizeof(cl_mem), &param.mem,
                      sizeof po, &po, sizeof n, &n, sizeof decay, &decay);
  if (st != CLGAN_OK) return st;
  size_t global = clgan_round_up(count, 64);
  return clgan_launch(ctx, k, 1, &global, NULL, "ema_update");
}
