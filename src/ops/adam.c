/* Adam (cl/adam.cl): PyTorch 1.13 _single_tensor_adam without weight decay
 * or amsgrad, one launch over a contiguous run of parameters. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

/* PyTorch computes the scalar parts (1 - beta, beta^step, lr / bc1) in
 * Python doubles from the decimal hyperparameters the user wrote. Our
 * parameters arrive as floats, so widen each to the shortest decimal that
 * rounds to the same float (0.999f -> 0.999, 2e-4f -> 0.0002): the value the
 * user typed, hence the same doubles as PyTorch's. */
static double widen(float f) {
  char buf[40];
  if (!isfinite(f) || f == 0.0f) return (double)f;
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) return strtod(buf, NULL);
  }
  return (double)f;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_adam_plan_make(clgan_ctx *ctx, int guarded, clgan_adam_plan *out) {
  clgan_adam_plan p = {.guarded = guarded != 0};
  clgan_status st =
      clgan_kernel_get(ctx, "adam", p.guarded ? "-DCLGAN_ADAM_GUARD" : NULL, "adam_step", &p.kernel);
  if (st == CLGAN_OK) *out = p;
  return st;
}

static clgan_status adam_check(const clgan_adam_plan *plan, const clgan_adam_params *p, long step,
                               size_t count, const clgan_buf *bufs, clgan_buf skip) {
  if (!plan || !plan->kernel) return clgan_fail(CLGAN_ERR_INVALID, "adam: no plan");
  if (!p) return clgan_fail(CLGAN_ERR_INVALID, "adam: null parameters");
  if (plan->guarded ? !skip.mem : skip.mem != NULL)
    return clgan_fail(CLGAN_ERR_INVALID, "adam: a skip flag %s",
                      plan->guarded ? "is required by a guarded plan"
                                    : "needs a guarded plan");
  if (step < 1) return clgan_fail(CLGAN_ERR_INVALID, "adam: step %ld is not >= 1", step);
  if (!(p->lr >= 0.0f) || !(p->eps >= 0.0f) || !(p->beta1 >= 0.0f && p->beta1 < 1.0f) ||
      !(p->beta2 >= 0.0f && p->beta2 < 1.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "adam: invalid lr %g, betas (%g, %g) or eps %g",
                      (double)p->lr, (double)p->beta1, (double)p->beta2, (double)p->eps);
  if (skip.mem && !fits_uint(skip, 1))
    return clgan_fail(CLGAN_ERR_INVALID, "adam: skip flag offset %zu exceeds 2^32", skip.off);
  for (int i = 0; i < 4 && count > 0; i++) {
    if (!bufs[i].mem) return clgan_fail(CLGAN_ERR_INVALID, "adam: null buffer");
    if (!fits_uint(bufs[i], count))
      return clgan_fail(CLGAN_ERR_INVALID, "adam: %zu floats at offset %zu exceed 2^32", count,
                        bufs[i].off);
  }
  return CLGAN_OK;
}

clgan_status clgan_adam_step(clgan_ctx *ctx, const clgan_adam_plan *plan,
                             const clgan_adam_params *p, long step, size_t count,
                             clgan_buf param, clgan_buf grad, clgan_buf m, clgan_buf v,
                             clgan_buf skip) {
  const clgan_buf bufs[4] = {param, grad, m, v};
  clgan_status st = adam_check(plan, p, step, count, bufs, skip);
  if (st != CLGAN_OK || count == 0) return st;
  double lr = widen(p->lr), b1 = widen(p->beta1), b2 = widen(p->beta2);
  double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
  float beta1 = p->beta1, beta2 = p->beta2, eps = p->eps;
  float omb1 = (float)(1.0 - b1), omb2 = (float)(1.0 - b2);
  float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);

  cl_kernel k = plan->kernel;
  cl_uint po = (cl_uint)param.off, go = (cl_uint)grad.off, mo = (cl_uint)m.off,
          vo = (cl_uint)v.off, n = (cl_uint)count, so = (cl_uint)skip.off;
  /* the guarded kernel takes the flag as two more arguments */
  st = clgan_set_args(k, plan->guarded ? 18 : 16, sizeof(cl_mem), &param.mem, sizeof po, &po,
                      sizeof(cl_mem), &grad.mem, sizeof go, &go, sizeof(cl_mem), &m.mem,
                      sizeof mo, &mo, sizeof(cl_mem), &v.mem, sizeof vo, &vo, sizeof n, &n,
                      sizeof beta1, &beta1, sizeof omb1, &omb1, sizeof beta2, &beta2,
                      sizeof omb2, &omb2, sizeof step_size, &step_size, sizeof bc2_sqrt,
                      &bc2_sqrt, sizeof eps, &eps, sizeof(cl_mem), &skip.mem, sizeof so, &so);
  if (st != CLGAN_OK) return st;
  size_t global = clgan_round_up(count, 64);
  return clgan_launch(ctx, k, 1, &global, NULL, "adam_step");
}
