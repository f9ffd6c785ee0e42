/* Softmax cross-entropy from class-major logits (cl/softmax_ce.cl). */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_softmax_ce_plan_make(clgan_ctx *ctx, size_t classes, size_t count,
                                        clgan_softmax_ce_plan *out) {
  if (classes < 2 || count == 0)
    return clgan_fail(CLGAN_ERR_INVALID, "softmax_ce: %zu classes, %zu samples (need >= 2, >= 1)",
                      classes, count);
  if (classes > UINT_MAX / count)
    return clgan_fail(CLGAN_ERR_INVALID, "softmax_ce: %zu x %zu logits exceed 2^32", classes,
                      count);
  clgan_softmax_ce_plan p = {.classes = classes, .count = count};
  clgan_status st = clgan_kernel_get(ctx, "softmax_ce", NULL, "softmax_ce", &p.kernel);
  if (st != CLGAN_OK) return st;
  size_t need = 1;
  while (need < count && need < 256) need *= 2;
  p.local = clgan_pow2_local(ctx, p.kernel, need);
  *out = p;
  return CLGAN_OK;
}

clgan_status clgan_softmax_ce(clgan_ctx *ctx, const clgan_softmax_ce_plan *plan, clgan_buf logits,
                              cl_mem labels, cl_mem order, size_t first, clgan_buf out,
                              clgan_buf dlogits, float scale) {
  if (!plan || !plan->kernel) return clgan_fail(CLGAN_ERR_INVALID, "softmax_ce: no plan");
  if (!logits.mem || !labels || !out.mem)
    return clgan_fail(CLGAN_ERR_INVALID, "softmax_ce: null buffer");
  size_t floats = plan->classes * plan->count;
  cl_int want_grad = dlogits.mem != NULL, use_order = order != NULL;
  if (!fits_uint(logits, floats) || !fits_uint(out, 3) ||
      (want_grad && !fits_uint(dlogits, floats)) || first > UINT_MAX - plan->count)
    return clgan_fail(CLGAN_ERR_INVALID, "softmax_ce: %zu logits from sample %zu exceed 2^32",
                      floats, first);
  if (!want_grad) dlogits = out;  /* bound, never touched */
  if (!use_order) order = labels; /* likewise */
  cl_kernel k = plan->kernel;
  size_t local = plan->local;
  cl_uint xo = (cl_uint)logits.off, nk = (cl_uint)plan->classes, n = (cl_uint)plan->count,
          f = (cl_uint)first, oo = (cl_uint)out.off, dlo = (cl_uint)dlogits.off;
  size_t lbytes = local * sizeof(float);
  clgan_status st = clgan_set_args(
      k, 17, sizeof(cl_mem), &logits.mem, sizeof xo, &xo, sizeof nk, &nk, sizeof n, &n,
      sizeof(cl_mem), &labels, sizeof(cl_mem), &order, sizeof f, &f, sizeof use_order, &use_order,
      sizeof(cl_mem), &out.mem, sizeof oo, &oo, sizeof(cl_mem), &dlogits.mem, sizeof dlo, &dlo,
      sizeof want_grad, &want_grad, sizeof scale, &scale, lbytes, (const void *)NULL, lbytes,
      (const void *)NULL, lbytes, (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &local, &local, "softmax_ce");
}
