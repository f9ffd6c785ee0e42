/* Binary cross-entropy from logits (cl/loss.cl). */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_bce_plan_make(clgan_ctx *ctx, size_t count, clgan_bce_plan *out) {
  if (count == 0) return clgan_fail(CLGAN_ERR_INVALID, "bce_logits: no logits");
  if (count > UINT_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "bce_logits: %zu logits exceed 2^32", count);
  clgan_bce_plan p = {.count = count};
  clgan_status st = clgan_kernel_get(ctx, "loss", NULL, "bce_logits", &p.kernel);
  if (st != CLGAN_OK) return st;
  /* one work-group (see clgan_bce_plan) */
  size_t need = 1;
  while (need < count && need < 256) need *= 2;
  p.local = clgan_pow2_local(ctx, p.kernel, need);
  *out = p;
  return CLGAN_OK;
}

clgan_status clgan_bce_logits(clgan_ctx *ctx, const clgan_bce_plan *plan, clgan_buf logits,
                              float target, clgan_buf out, clgan_buf dlogits, float scale) {
  if (!plan || plan->count == 0) return clgan_fail(CLGAN_ERR_INVALID, "bce_logits: no plan");
  size_t count = plan->count;
  if (!logits.mem || !out.mem) return clgan_fail(CLGAN_ERR_INVALID, "bce_logits: null buffer");
  cl_int want_grad = dlogits.mem != NULL;
  if (!fits_uint(logits, count) || !fits_uint(out, 2) || (want_grad && !fits_uint(dlogits, count)))
    return clgan_fail(CLGAN_ERR_INVALID, "bce_logits: %zu floats exceed 2^32 addressing", count);
  if (!want_grad) dlogits = out; /* bound, never touched */

  cl_kernel k = plan->kernel;
  size_t local = plan->local;
  cl_uint xo = (cl_uint)logits.off, n = (cl_uint)count, oo = (cl_uint)out.off,
          dlo = (cl_uint)dlogits.off;
  clgan_status st = clgan_set_args(k, 12, sizeof(cl_mem), &logits.mem, sizeof xo, &xo, sizeof n, &n,
                                   sizeof target, &target, sizeof(cl_mem), &out.mem, sizeof oo, &oo,
                                   sizeof(cl_mem), &dlogits.mem, sizeof dlo, &dlo, sizeof want_grad,
                                   &want_grad, sizeof scale, &scale, local * sizeof(float),
                                   (const void *)NULL, local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &local, &local, "bce_logits");
}
