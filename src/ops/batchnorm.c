/* BatchNorm2d over channel rows (cl/batchnorm.cl): training forward with
 * batch statistics and running-stat update, evaluation forward, backward,
 * each with a fused activation. */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

/* The backward kernel of each activation, in clgan_act order (the forwards
 * take the activation as an argument). */
static const char *const bn_backward_kernels[] = {
    "bn_backward", "bn_backward_relu", "bn_backward_leaky_relu", "bn_backward_tanh",
    "bn_backward_sigmoid"};
_Static_assert(sizeof bn_backward_kernels / sizeof bn_backward_kernels[0] == CLGAN_ACT_COUNT,
               "one bn_backward kernel per clgan_act");
static const char *const bn_sync_sums_kernels[] = {
    "bn_sync_sums", "bn_sync_sums_relu", "bn_sync_sums_leaky_relu", "bn_sync_sums_tanh",
    "bn_sync_sums_sigmoid"};
static const char *const bn_sync_dx_kernels[] = {
    "bn_sync_dx", "bn_sync_dx_relu", "bn_sync_dx_leaky_relu", "bn_sync_dx_tanh",
    "bn_sync_dx_sigmoid"};
_Static_assert(sizeof bn_sync_sums_kernels / sizeof bn_sync_sums_kernels[0] == CLGAN_ACT_COUNT &&
                   sizeof bn_sync_dx_kernels / sizeof bn_sync_dx_kernels[0] == CLGAN_ACT_COUNT,
               "one SyncBatchNorm kernel pair per clgan_act");

/* Work-group size of a per-channel kernel (see clgan_bn_plan). */
static clgan_status channel_local_size(clgan_ctx *ctx, cl_kernel k, size_t *out) {
  size_t forced = ctx->tuning.bn_local, max = clgan_kernel_max_local(ctx, k);
  if (forced) {
    if ((forced & (forced - 1)) != 0 || forced > max)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "BatchNorm work-group size %zu: not a power of two the device and "
                        "kernel allow (at most %zu)",
                        forced, max);
    *out = forced;
  } else {
    *out = clgan_ctx_cpu_paths(ctx) ? 1 : clgan_pow2_local(ctx, k, 256);
  }
  return CLGAN_OK;
}

clgan_status clgan_bn_plan_make(clgan_ctx *ctx, clgan_act act, clgan_bn_plan *out) {
  if ((int)act < 0 || act >= CLGAN_ACT_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "batchnorm: unknown activation %d", (int)act);
  clgan_bn_plan p = {.act = act};
  clgan_status st = clgan_kernel_get(ctx, "batchnorm", NULL, "bn_forward_train", &p.forward_train);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "batchnorm", NULL, "bn_forward_eval", &p.forward_eval);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "batchnorm", NULL, bn_backward_kernels[act], &p.backward);
  if (st == CLGAN_OK) st = channel_local_size(ctx, p.forward_train, &p.train_local);
  if (st == CLGAN_OK) st = channel_local_size(ctx, p.forward_eval, &p.eval_local);
  if (st == CLGAN_OK) st = channel_local_size(ctx, p.backward, &p.backward_local);
  if (st == CLGAN_OK) st = clgan_kernel_get(ctx, "batchnorm", NULL, "bn_sync_stats", &p.sync_stats);
  if (st == CLGAN_OK) st = clgan_kernel_get(ctx, "batchnorm", NULL, "bn_sync_apply", &p.sync_apply);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "batchnorm", NULL, bn_sync_sums_kernels[act], &p.sync_sums);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "batchnorm", NULL, bn_sync_dx_kernels[act], &p.sync_dx);
  if (st == CLGAN_OK) st = channel_local_size(ctx, p.sync_sums, &p.sync_local);
  if (st == CLGAN_OK) *out = p;
  return st;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

/* Checks buffers (NULL mem allowed where optional[i]) and sizes. */
static clgan_status check_bufs(const char *what, const clgan_buf *bufs, const size_t *floats,
                               const int *optional, int n) {
  for (int i = 0; i < n; i++) {
    if (!bufs[i].mem) {
      if (optional && optional[i]) continue;
      return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer argument %d is null", what, i);
    }
    if (!fits_uint(bufs[i], floats[i]))
      return clgan_fail(CLGAN_ERR_INVALID, "%s: %zu floats at offset %zu exceed 2^32", what,
                        floats[i], bufs[i].off);
  }
  return CLGAN_OK;
}

static clgan_status check_shape(const char *what, const clgan_bn_plan *plan, int c, size_t m) {
  if (!plan || (int)plan->act < 0 || plan->act >= CLGAN_ACT_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: no valid plan", what);
  if (c <= 0 || m == 0)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: empty input (c %d, m %zu)", what, c, m);
  if ((size_t)c > UINT_MAX / m)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %d x %zu floats exceed 2^32", what, c, m);
  return CLGAN_OK;
}

/* Kernel arguments first .. first + 4, the padded copy (cl/batchnorm.cl:
 * pc, pcoff, ph, pw, ppad; pw 0 and `bound` for none), once copy is checked
 * against c channels of m values. */
static clgan_status copy_args(const char *what, cl_kernel k, cl_uint first,
                              const clgan_padded_copy *copy, int c, size_t m, clgan_buf bound) {
  clgan_buf b = bound;
  cl_int h = 0, w = 0, pad = 0;
  if (copy) {
    if (!copy->buf.mem)
      return clgan_fail(CLGAN_ERR_INVALID, "%s: padded copy without a buffer", what);
    if (copy->h <= 0 || copy->w <= 0 || copy->pad < 0 || copy->pad > 64 ||
        m % ((size_t)copy->h * (size_t)copy->w) != 0)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s: a copy of %d x %d planes padded by %d does not hold %zu values per "
                        "channel",
                        what, copy->h, copy->w, copy->pad, m);
    size_t planes = m / ((size_t)copy->h * (size_t)copy->w);
    uint64_t floats = (uint64_t)c * planes * (uint64_t)(copy->h + 2 * copy->pad) *
                      (uint64_t)(copy->w + 2 * copy->pad);
    if (floats > UINT_MAX || !fits_uint(copy->buf, (size_t)floats) ||
        (copy->buf.floats != 0 && copy->buf.floats < floats))
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s: the padded copy needs %llu floats, its buffer holds %zu", what,
                        (unsigned long long)floats, copy->buf.floats);
    b = copy->buf, h = copy->h, w = copy->w, pad = copy->pad;
  }
  cl_uint off = (cl_uint)b.off;
  const size_t size[5] = {sizeof(cl_mem), sizeof off, sizeof h, sizeof w, sizeof pad};
  const void *val[5] = {&b.mem, &off, &h, &w, &pad};
  for (cl_uint i = 0; i < 5; i++) {
    clgan_status st = CLGAN_CL(clSetKernelArg(k, first + i, size[i], val[i]));
    if (st != CLGAN_OK) return st;
  }
  return CLGAN_OK;
}

#define MEM(b) sizeof(cl_mem), &(b).mem
#define OFF(u) sizeof(cl_uint), &(u)

clgan_status clgan_batchnorm_forward_train(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                           size_t m, clgan_buf x, clgan_buf gamma,
                                           clgan_buf beta, clgan_buf y, clgan_buf save_mean,
                                           clgan_buf save_invstd, clgan_buf running_mean,
                                           clgan_buf running_var, float momentum, float eps,
                                           float slope, const clgan_padded_copy *copy) {
  const char *what = "batchnorm_forward_train";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  if (m < 2)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: expected more than 1 value per channel when training (m = %zu)", what,
                      m);
  size_t cm = (size_t)c * m, cc = (size_t)c;
  /* running_mean / running_var: both null = no running statistics */
  int update = running_mean.mem != NULL || running_var.mem != NULL;
  clgan_buf bufs[8] = {x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var};
  size_t floats[8] = {cm, cc, cc, cm, cc, cc, cc, cc};
  int optional[8] = {0, 0, 0, 0, 0, 0, !update, !update};
  if ((st = check_bufs(what, bufs, floats, optional, 8)) != CLGAN_OK) return st;
  if (!update) running_mean = running_var = save_mean; /* bound, never touched */

  cl_kernel k = plan->forward_train;
  size_t local = plan->train_local, global = local * cc;
  cl_uint xo = (cl_uint)x.off, go = (cl_uint)gamma.off, bo = (cl_uint)beta.off,
          yo = (cl_uint)y.off, smo = (cl_uint)save_mean.off, sio = (cl_uint)save_invstd.off,
          rmo = (cl_uint)running_mean.off, rvo = (cl_uint)running_var.off, mu = (cl_uint)m;
  cl_int upd = update, a = (cl_int)plan->act;
  st = clgan_set_args(k, 23, MEM(x), OFF(xo), MEM(gamma), OFF(go), MEM(beta), OFF(bo), MEM(y),
                      OFF(yo), MEM(save_mean), OFF(smo), MEM(save_invstd), OFF(sio),
                      MEM(running_mean), OFF(rmo), MEM(running_var), OFF(rvo), sizeof upd, &upd,
                      OFF(mu), sizeof momentum, &momentum, sizeof eps, &eps, sizeof a, &a,
                      sizeof slope, &slope, local * sizeof(float), (const void *)NULL);
  if (st == CLGAN_OK) st = copy_args(what, k, 23, copy, c, m, y);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &global, &local, "bn_forward_train");
}

clgan_status clgan_batchnorm_forward_eval(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                          size_t m, clgan_buf x, clgan_buf gamma,
                                          clgan_buf beta, clgan_buf running_mean,
                                          clgan_buf running_var, float eps, clgan_buf y,
                                          float slope, const clgan_padded_copy *copy) {
  const char *what = "batchnorm_forward_eval";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  size_t cm = (size_t)c * m, cc = (size_t)c;
  clgan_buf bufs[6] = {x, gamma, beta, running_mean, running_var, y};
  size_t floats[6] = {cm, cc, cc, cc, cc, cm};
  if ((st = check_bufs(what, bufs, floats, NULL, 6)) != CLGAN_OK) return st;

  cl_kernel k = plan->forward_eval;
  cl_uint xo = (cl_uint)x.off, go = (cl_uint)gamma.off, bo = (cl_uint)beta.off,
          rmo = (cl_uint)running_mean.off, rvo = (cl_uint)running_var.off, yo = (cl_uint)y.off,
          mu = (cl_uint)m;
  cl_int a = (cl_int)plan->act;
  st = clgan_set_args(k, 16, MEM(x), OFF(xo), MEM(gamma), OFF(go), MEM(beta), OFF(bo),
                      MEM(running_mean), OFF(rmo), MEM(running_var), OFF(rvo), MEM(y), OFF(yo),
                      OFF(mu), sizeof eps, &eps, sizeof a, &a, sizeof slope, &slope);
  if (st == CLGAN_OK) st = copy_args(what, k, 16, copy, c, m, y);
  if (st != CLGAN_OK) return st;
  size_t local = plan->eval_local, global = local * cc;
  return clgan_launch(ctx, k, 1, &global, &local, "bn_forward_eval");
}

clgan_status clgan_batchnorm_backward(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                      size_t m, clgan_buf x, clgan_buf y, clgan_buf dy,
                                      clgan_buf gamma, clgan_buf save_mean,
                                      clgan_buf save_invstd, clgan_buf dx, clgan_buf dgamma,
                                      clgan_buf dbeta, int accumulate, float slope,
                                      const clgan_padded_copy *copy) {
  const char *what = "batchnorm_backward";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  size_t cm = (size_t)c * m, cc = (size_t)c;
  /* dx, dgamma, dbeta: a null mem skips that output; y: only read (and
   * required) with an activation */
  clgan_buf bufs[9] = {x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, y};
  size_t floats[9] = {cm, cm, cc, cc, cc, cm, cc, cc, cm};
  int optional[9] = {0, 0, 0, 0, 0, 1, 1, 1, plan->act == CLGAN_ACT_NONE};
  if ((st = check_bufs(what, bufs, floats, optional, 9)) != CLGAN_OK) return st;
  cl_int want_dx = dx.mem != NULL, want_dg = dgamma.mem != NULL, want_db = dbeta.mem != NULL;
  if (copy && !want_dx)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: a padded copy of dx without dx", what);
  if (!want_dx && !want_dg && !want_db) return CLGAN_OK;
  if (!want_dx) dx = save_mean; /* bound, never touched */
  if (!want_dg) dgamma = save_mean;
  if (!want_db) dbeta = save_mean;
  if (plan->act == CLGAN_ACT_NONE) y = dy; /* bound, never read */

  cl_kernel k = plan->backward; /* one kernel per activation (cl/batchnorm.cl) */
  size_t local = plan->backward_local, global = local * cc;
  cl_uint xo = (cl_uint)x.off, yo = (cl_uint)y.off, dyo = (cl_uint)dy.off,
          go = (cl_uint)gamma.off, smo = (cl_uint)save_mean.off, sio = (cl_uint)save_invstd.off,
          dxo = (cl_uint)dx.off, dgo = (cl_uint)dgamma.off, dbo = (cl_uint)dbeta.off,
          mu = (cl_uint)m;
  cl_int acc = accumulate != 0;
  st = clgan_set_args(k, 25, MEM(x), OFF(xo), MEM(y), OFF(yo), MEM(dy), OFF(dyo), MEM(gamma),
                      OFF(go), MEM(save_mean), OFF(smo), MEM(save_invstd), OFF(sio), MEM(dx),
                      OFF(dxo), MEM(dgamma), OFF(dgo), MEM(dbeta), OFF(dbo), OFF(mu),
                      sizeof acc, &acc, sizeof want_dx, &want_dx, sizeof want_dg, &want_dg,
                      sizeof want_db, &want_db, sizeof slope, &slope,
                      local * sizeof(float), (const void *)NULL);
  if (st == CLGAN_OK) st = copy_args(what, k, 25, copy, c, m, dx);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &global, &local, bn_backward_kernels[plan->act]);
}

/* ---- SyncBatchNorm's split path ------------------------------------------ */

clgan_status clgan_batchnorm_sync_stats(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                        size_t m, clgan_buf x, clgan_buf sums) {
  const char *what = "batchnorm_sync_stats";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  clgan_buf bufs[2] = {x, sums};
  size_t floats[2] = {(size_t)c * m, 2 * (size_t)c};
  if ((st = check_bufs(what, bufs, floats, NULL, 2)) != CLGAN_OK) return st;
  cl_kernel k = plan->sync_stats;
  size_t local = plan->sync_local, global = local * (size_t)c;
  cl_uint xo = (cl_uint)x.off, so = (cl_uint)sums.off, mu = (cl_uint)m, cu = (cl_uint)c;
  st = clgan_set_args(k, 7, MEM(x), OFF(xo), MEM(sums), OFF(so), OFF(mu), OFF(cu),
                      local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &global, &local, "bn_sync_stats");
}

clgan_status clgan_batchnorm_sync_apply(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                        size_t m, size_t m_total, clgan_buf x, clgan_buf gamma,
                                        clgan_buf beta, clgan_buf y, clgan_buf sums,
                                        clgan_buf save_mean, clgan_buf save_invstd,
                                        clgan_buf running_mean, clgan_buf running_var,
                                        float momentum, float eps, float slope,
                                        const clgan_padded_copy *copy) {
  const char *what = "batchnorm_sync_apply";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  if (m_total < 2 || m_total < m)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %zu values in all, %zu on this rank", what,
                      m_total, m);
  size_t cm = (size_t)c * m, cc = (size_t)c;
  int update = running_mean.mem != NULL || running_var.mem != NULL;
  clgan_buf bufs[9] = {x, gamma, beta, y, sums, save_mean, save_invstd, running_mean, running_var};
  size_t floats[9] = {cm, cc, cc, cm, 2 * cc, cc, cc, cc, cc};
  int optional[9] = {0, 0, 0, 0, 0, 0, 0, !update, !update};
  if ((st = check_bufs(what, bufs, floats, optional, 9)) != CLGAN_OK) return st;
  if (!update) running_mean = running_var = save_mean; /* bound, never touched */
  cl_kernel k = plan->sync_apply;
  cl_uint xo = (cl_uint)x.off, go = (cl_uint)gamma.off, bo = (cl_uint)beta.off,
          yo = (cl_uint)y.off, so = (cl_uint)sums.off, smo = (cl_uint)save_mean.off,
          sio = (cl_uint)save_invstd.off, rmo = (cl_uint)running_mean.off,
          rvo = (cl_uint)running_var.off, mu = (cl_uint)m, cu = (cl_uint)c;
  cl_int upd = update, a = (cl_int)plan->act;
  float mt = (float)m_total;
  st = clgan_set_args(k, 26, MEM(x), OFF(xo), MEM(gamma), OFF(go), MEM(beta), OFF(bo), MEM(y),
                      OFF(yo), MEM(sums), OFF(so), MEM(save_mean), OFF(smo), MEM(save_invstd),
                      OFF(sio), MEM(running_mean), OFF(rmo), MEM(running_var), OFF(rvo),
                      sizeof upd, &upd, OFF(mu), OFF(cu), sizeof mt, &mt, sizeof momentum,
                      &momentum, sizeof eps, &eps, sizeof a, &a, sizeof slope, &slope);
  if (st == CLGAN_OK) st = copy_args(what, k, 26, copy, c, m, y);
  if (st != CLGAN_OK) return st;
  size_t local = plan->sync_local, global = local * cc;
  return clgan_launch(ctx, k, 1, &global, &local, "bn_sync_apply");
}

clgan_status clgan_batchnorm_sync_sums(clgan_ctx *ctx, const clgan_bn_plan *plan, int c, size_t m,
                                       clgan_buf x, clgan_buf y, clgan_buf dy,
                                       clgan_buf save_mean, clgan_buf save_invstd,
                                       clgan_buf sums, clgan_buf dgamma, clgan_buf dbeta,
                                       int accumulate, float slope) {
  const char *what = "batchnorm_sync_sums";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  size_t cm = (size_t)c * m, cc = (size_t)c;
  clgan_buf bufs[8] = {x, dy, save_mean, save_invstd, sums, dgamma, dbeta, y};
  size_t floats[8] = {cm, cm, cc, cc, 2 * cc, cc, cc, cm};
  int optional[8] = {0, 0, 0, 0, 0, 1, 1, plan->act == CLGAN_ACT_NONE};
  if ((st = check_bufs(what, bufs, floats, optional, 8)) != CLGAN_OK) return st;
  cl_int want_dg = dgamma.mem != NULL, want_db = dbeta.mem != NULL, acc = accumulate != 0;
  if (!want_dg) dgamma = save_mean; /* bound, never touched */
  if (!want_db) dbeta = save_mean;
  if (plan->act == CLGAN_ACT_NONE) y = dy; /* bound, never read */
  cl_kernel k = plan->sync_sums;
  cl_uint xo = (cl_uint)x.off, yo = (cl_uint)y.off, dyo = (cl_uint)dy.off,
          smo = (cl_uint)save_mean.off, sio = (cl_uint)save_invstd.off, so = (cl_uint)sums.off,
          dgo = (cl_uint)dgamma.off, dbo = (cl_uint)dbeta.off, mu = (cl_uint)m, cu = (cl_uint)c;
  size_t local = plan->sync_local, global = local * cc;
  st = clgan_set_args(k, 23, MEM(x), OFF(xo), MEM(y), OFF(yo), MEM(dy), OFF(dyo), MEM(save_mean),
                      OFF(smo), MEM(save_invstd), OFF(sio), MEM(sums), OFF(so), MEM(dgamma),
                      OFF(dgo), MEM(dbeta), OFF(dbo), OFF(mu), OFF(cu), sizeof acc, &acc,
                      sizeof want_dg, &want_dg, sizeof want_db, &want_db, sizeof slope, &slope,
                      local * sizeof(float), (const void *)NULL);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &global, &local, bn_sync_sums_kernels[plan->act]);
}

clgan_status clgan_batchnorm_sync_dx(clgan_ctx *ctx, const clgan_bn_plan *plan, int c, size_t m,
                                     size_t m_total, clgan_buf x, clgan_buf y, clgan_buf dy,
                                     clgan_buf gamma, clgan_buf save_mean, clgan_buf save_invstd,
                                     clgan_buf sums, clgan_buf dx, float slope,
                                     const clgan_padded_copy *copy) {
  const char *what = "batchnorm_sync_dx";
  clgan_status st = check_shape(what, plan, c, m);
  if (st != CLGAN_OK) return st;
  size_t cm = (size_t)c * m, cc = (size_t)c;
  clgan_buf bufs[8] = {x, dy, gamma, save_mean, save_invstd, sums, dx, y};
  size_t floats[8] = {cm, cm, cc, cc, cc, 2 * cc, cm, cm};
  int optional[8] = {0, 0, 0, 0, 0, 0, 0, plan->act == CLGAN_ACT_NONE};
  if ((st = check_bufs(what, bufs, floats, optional, 8)) != CLGAN_OK) return st;
  if (plan->act == CLGAN_ACT_NONE) y = dy; /* bound, never read */
  cl_kernel k = plan->sync_dx;
  cl_uint xo = (cl_uint)x.off, yo = (cl_uint)y.off, dyo = (cl_uint)dy.off,
          go = (cl_uint)gamma.off, smo = (cl_uint)save_mean.off, sio = (cl_uint)save_invstd.off,
          so = (cl_uint)sums.off, dxo = (cl_uint)dx.off, mu = (cl_uint)m, cu = (cl_uint)c;
  float mt = (float)m_total;
  st = clgan_set_args(k, 20, MEM(x), OFF(xo), MEM(y), OFF(yo), MEM(dy), OFF(dyo), MEM(gamma),
                      OFF(go), MEM(save_mean), OFF(smo), MEM(save_invstd), OFF(sio), MEM(sums),
                      OFF(so), MEM(dx), OFF(dxo), OFF(mu), OFF(cu), sizeof mt, &mt,
                      sizeof slope, &slope);
  if (st == CLGAN_OK) st = copy_args(what, k, 20, copy, c, m, dx);
  if (st != CLGAN_OK) return st;
  size_t local = plan->sync_local, global = local * cc;
  return clgan_launch(ctx, k, 1, &global, &local, bn_sync_dx_kernels[plan->act]);
}
