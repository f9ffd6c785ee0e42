/* D's regularisers as ops (cl/regularize.cl): LeCam and bCR terms on the
 * logits, spectral normalisation of one weight. */
#include <limits.h>

#include "clgan/regularize.h"
#include "runtime/internal.h"

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_logit_reg_plan_make(clgan_ctx *ctx, size_t count, clgan_logit_reg_plan *out) {
  if (count == 0 || count > UINT_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "logit regulariser: %zu logits", count);
  clgan_logit_reg_plan p = {.count = count};
  clgan_status st = clgan_kernel_get(ctx, "regularize", NULL, "lecam_step", &p.lecam);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "regularize", NULL, "consistency_step", &p.consistency);
  if (st != CLGAN_OK) return st;
  size_t need = 1;
  while (need < count && need < 256) need *= 2;
  size_t a = clgan_pow2_local(ctx, p.lecam, need), b = clgan_pow2_local(ctx, p.consistency, need);
  p.local = a < b ? a : b;
  *out = p;
  return CLGAN_OK;
}

clgan_status clgan_lecam_step(clgan_ctx *ctx, const clgan_logit_reg_plan *plan, clgan_buf logits,
                              int which, float decay, float weight, clgan_buf state,
                              clgan_buf dlogits, clgan_buf out) {
  if (!plan || !plan->lecam) return clgan_fail(CLGAN_ERR_INVALID, "lecam: no plan");
  if (!logits.mem || !state.mem || !dlogits.mem || !out.mem)
    return clgan_fail(CLGAN_ERR_INVALID, "lecam: null buffer");
  if ((which != 0 && which != 1) || !(decay >= 0.0f && decay <= 1.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "lecam: side %d, decay %g", which, (double)decay);
  size_t n = plan->count;
  if (!fits_uint(logits, n) || !fits_uint(dlogits, n) ||
      !fits_uint(state, CLGAN_LECAM_STATE_FLOATS) || !fits_uint(out, 1))
    return clgan_fail(CLGAN_ERR_INVALID, "lecam: buffers exceed 2^32 addressing");
  cl_uint xo = (cl_uint)logits.off, cn = (cl_uint)n, so = (cl_uint)state.off, w = (cl_uint)which,
          dlo = (cl_uint)dlogits.off, oo = (cl_uint)out.off;
  size_t local = plan->local;
  clgan_status st = clgan_set_args(
      plan->lecam, 13, sizeof(cl_mem), &logits.mem, sizeof xo, &xo, sizeof cn, &cn, sizeof(cl_mem),
      &state.mem, sizeof so, &so, sizeof w, &w, sizeof decay, &decay, sizeof weight, &weight,
      sizeof(cl_mem), &dlogits.mem, sizeof dlo, &dlo, sizeof(cl_mem), &out.mem, sizeof oo, &oo,
      local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, plan->lecam, 1, &local, &local, "lecam_step");
}

clgan_status clgan_consistency_step(clgan_ctx *ctx, const clgan_logit_reg_plan *plan, clgan_buf x1,
                                    clgan_buf x2, float weight, clgan_buf dl1, clgan_buf dl2,
                                    clgan_buf out) {
  if (!plan || !plan->consistency) return clgan_fail(CLGAN_ERR_INVALID, "consistency: no plan");
  if (!x1.mem || !x2.mem || !dl1.mem || !dl2.mem || !out.mem)
    return clgan_fail(CLGAN_ERR_INVALID, "consistency: null buffer");
  size_t n = plan->count;
  if (!fits_uint(x1, n) || !fits_uint(x2, n) || !fits_uint(dl1, n) || !fits_uint(dl2, n) ||
      !fits_uint(out, 1))
    return clgan_fail(CLGAN_ERR_INVALID, "consistency: buffers exceed 2^32 addressing");
  cl_uint o1 = (cl_uint)x1.off, o2 = (cl_uint)x2.off, cn = (cl_uint)n, d1 = (cl_uint)dl1.off,
          d2 = (cl_uint)dl2.off, oo = (cl_uint)out.off;
  size_t local = plan->local;
  clgan_status st = clgan_set_args(
      plan->consistency, 13, sizeof(cl_mem), &x1.mem, sizeof o1, &o1, sizeof(cl_mem), &x2.mem,
      sizeof o2, &o2, sizeof cn, &cn, sizeof weight, &weight, sizeof(cl_mem), &dl1.mem, sizeof d1,
      &d1, sizeof(cl_mem), &dl2.mem, sizeof d2, &d2, sizeof(cl_mem), &out.mem, sizeof oo, &oo,
      local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, plan->consistency, 1, &local, &local, "consistency_step");
}

clgan_status clgan_sn_plan_make(clgan_ctx *ctx, int rows, int cols, clgan_sn_plan *out) {
  if (rows < 1 || cols < 1 || (size_t)rows * (size_t)cols > UINT_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "spectral norm: weight [%d, %d]", rows, cols);
  clgan_sn_plan p = {.rows = rows, .cols = cols};
  const char *names[5] = {"sn_wt_u", "sn_row_dot", "sn_reduce", "sn_scale", "sn_grad_map"};
  cl_kernel *ks[5] = {&p.wt_u, &p.row_dot, &p.reduce, &p.scale, &p.grad_map};
  for (int i = 0; i < 5; i++) {
    clgan_status st = clgan_kernel_get(ctx, "regularize", NULL, names[i], ks[i]);
    if (st != CLGAN_OK) return st;
  }
  /* CPUs: one work-item streams a row (see clgan_bn_plan); GPUs: a row's
   * lanes stride it together */
  int cpu = clgan_ctx_cpu_paths(ctx);
  size_t need = 1;
  while (need < (size_t)cols && need < 256) need *= 2;
  p.row_local = cpu ? 1 : clgan_pow2_local(ctx, p.row_dot, need);
  size_t longest = (size_t)(rows > cols ? rows : cols);
  for (need = 1; need < longest && need < 256;) need *= 2;
  p.vec_local = clgan_pow2_local(ctx, p.reduce, need);
  *out = p;
  return CLGAN_OK;
}

size_t clgan_sn_work_floats(const clgan_sn_plan *plan) {
  return (size_t)plan->rows + 2;
}

/* sn_reduce over n floats of raw in `mode` (cl/regularize.cl). */
static clgan_status reduce(clgan_ctx *ctx, const clgan_sn_plan *p, clgan_buf raw, size_t n,
                           clgan_buf u, cl_uint mode, clgan_buf out) {
  cl_uint ro = (cl_uint)raw.off, cn = (cl_uint)n, uo = (cl_uint)u.off, oo = (cl_uint)out.off;
  float eps = CLGAN_SN_EPS;
  size_t local = p->vec_local;
  clgan_status st = clgan_set_args(p->reduce, 10, sizeof(cl_mem), &raw.mem, sizeof ro, &ro,
                                   sizeof cn, &cn, sizeof(cl_mem), &u.mem, sizeof uo, &uo,
                                   sizeof mode, &mode, sizeof eps, &eps, sizeof(cl_mem), &out.mem,
                                   sizeof oo, &oo, local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->reduce, 1, &local, &local, "sn_reduce");
}

/* y[i] = a_i . b_i (bstride cols) or a_i . b (bstride 0), one group per row. */
static clgan_status row_dot(clgan_ctx *ctx, const clgan_sn_plan *p, clgan_buf a, clgan_buf b,
                            cl_uint bstride, clgan_buf y) {
  cl_uint ao = (cl_uint)a.off, bo = (cl_uint)b.off, cols = (cl_uint)p->cols, yo = (cl_uint)y.off;
  size_t local = p->row_local, global = local * (size_t)p->rows;
  clgan_status st =
      clgan_set_args(p->row_dot, 9, sizeof(cl_mem), &a.mem, sizeof ao, &ao, sizeof(cl_mem), &b.mem,
                     sizeof bo, &bo, sizeof bstride, &bstride, sizeof cols, &cols, sizeof(cl_mem),
                     &y.mem, sizeof yo, &yo, local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->row_dot, 1, &global, &local, "sn_row_dot");
}

static clgan_status check(const clgan_sn_plan *p, const clgan_buf *bufs, int n, const char *what) {
  if (!p || !p->reduce) return clgan_fail(CLGAN_ERR_INVALID, "%s: no plan", what);
  size_t w = (size_t)p->rows * p->cols;
  for (int i = 0; i < n; i++)
    if (!bufs[i].mem || !fits_uint(bufs[i], w))
      return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer %d null or past 2^32 addressing", what, i);
  return CLGAN_OK;
}

clgan_status clgan_sn_forward(clgan_ctx *ctx, const clgan_sn_plan *plan, clgan_buf w, clgan_buf u,
                              clgan_buf v, clgan_buf work, clgan_buf w_sn, int update) {
  const clgan_buf bufs[5] = {w, u, v, work, w_sn};
  clgan_status st = check(plan, bufs, 5, "sn_forward");
  if (st != CLGAN_OK) return st;
  cl_uint rows = (cl_uint)plan->rows, cols = (cl_uint)plan->cols;
  clgan_buf sigma = clgan_buf_at(work, (size_t)rows);
  if (update) {
    cl_uint wo = (cl_uint)w.off, uo = (cl_uint)u.off, vo = (cl_uint)v.off;
    size_t global = clgan_round_up(cols, 64);
    st = clgan_set_args(plan->wt_u, 8, sizeof(cl_mem), &w.mem, sizeof wo, &wo, sizeof rows, &rows,
                        sizeof cols, &cols, sizeof(cl_mem), &u.mem, sizeof uo, &uo, sizeof(cl_mem),
                        &v.mem, sizeof vo, &vo);
    if (st == CLGAN_OK) st = clgan_launch(ctx, plan->wt_u, 1, &global, NULL, "sn_wt_u");
    if (st == CLGAN_OK) st = reduce(ctx, plan, v, cols, v, 0, sigma); /* v normalised */
  }
  if (st == CLGAN_OK) st = row_dot(ctx, plan, w, v, 0, work); /* W v */
  if (st == CLGAN_OK) st = reduce(ctx, plan, work, rows, u, update ? 1 : 2, sigma);
  if (st != CLGAN_OK) return st;
  cl_uint count = rows * cols, wo = (cl_uint)w.off, so = (cl_uint)sigma.off,
          wso = (cl_uint)w_sn.off;
  size_t global = clgan_round_up(count, 64);
  st = clgan_set_args(plan->scale, 7, sizeof(cl_mem), &w.mem, sizeof wo, &wo, sizeof(cl_mem),
                      &work.mem, sizeof so, &so, sizeof count, &count, sizeof(cl_mem), &w_sn.mem,
                      sizeof wso, &wso);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, plan->scale, 1, &global, NULL, "sn_scale");
}

clgan_status clgan_sn_backward(clgan_ctx *ctx, const clgan_sn_plan *plan, clgan_buf g,
                               clgan_buf w_sn, clgan_buf u, clgan_buf v, clgan_buf work,
                               clgan_buf dw, int accumulate) {
  const clgan_buf bufs[6] = {g, w_sn, u, v, work, dw};
  clgan_status st = check(plan, bufs, 6, "sn_backward");
  if (st != CLGAN_OK) return st;
  cl_uint rows = (cl_uint)plan->rows, cols = (cl_uint)plan->cols;
  clgan_buf sig = clgan_buf_at(work, (size_t)rows);
  st = row_dot(ctx, plan, g, w_sn, cols, work); /* <G_i, W_sn_i> per row */
  if (st == CLGAN_OK) st = reduce(ctx, plan, work, rows, work, 3, clgan_buf_at(sig, 1));
  if (st != CLGAN_OK) return st;
  cl_uint go = (cl_uint)g.off, uo = (cl_uint)u.off, vo = (cl_uint)v.off, so = (cl_uint)sig.off,
          dwo = (cl_uint)dw.off;
  cl_int acc = accumulate != 0;
  size_t global = clgan_round_up((size_t)rows * cols, 64);
  st = clgan_set_args(plan->grad_map, 13, sizeof(cl_mem), &g.mem, sizeof go, &go, sizeof(cl_mem),
                      &u.mem, sizeof uo, &uo, sizeof(cl_mem), &v.mem, sizeof vo, &vo, sizeof rows,
                      &rows, sizeof cols, &cols, sizeof(cl_mem), &work.mem, sizeof so, &so,
                      sizeof(cl_mem), &dw.mem, sizeof dwo, &dwo, sizeof acc, &acc);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, plan->grad_map, 1, &global, NULL, "sn_grad_map");
}
