/* BatchNorm2d with the activation after it fused (src/ops/batchnorm.c):
 * training mode (batch statistics, running statistics updated) or
 * evaluation mode (running statistics). With several ranks (p->dist) the
 * training mode is SyncBatchNorm: the statistics and the backward sums are
 * those of the global batch, summed over the ranks between two kernels. */
#include "clgan/dist.h"
#include "graph/nodes.h"

clgan_status node_bn_act_plan(clgan_ctx *ctx, graph_node *n) {
  return clgan_bn_plan_make(ctx, n->act, &n->plan.bn);
}

/* A padded copy graph_plan chose (NULL: none) in *buf, its buffer the
 * pass's col unless graph_alloc set one (a conv's kept copy). */
static const clgan_padded_copy *copy_in(const clgan_padded_copy *c, const graph_pass *p,
                                        clgan_padded_copy *buf) {
  if (c->h == 0) return NULL;
  *buf = *c;
  if (!buf->buf.mem) buf->buf = p->col;
  return buf;
}

static size_t pixels(const graph *g, const graph_node *n) {
  size_t hw = (size_t)g->slots[n->out].hw;
  return (size_t)g->batch * hw * hw;
}

/* Statistics of this rank -> combined over all ranks -> normalise. */
static clgan_status forward_sync(const graph *g, const graph_node *n, const graph_pass *p) {
  clgan_padded_copy copy;
  int c = g->slots[n->out].c;
  size_t m = pixels(g, n), m_total = m * (size_t)clgan_dist_size(p->dist);
  clgan_buf x = graph_slot_buf(g, p, n->in), y = g->slots[n->out].buf;
  clgan_status st = clgan_batchnorm_sync_stats(p->ctx, &n->plan.bn, c, m, x, p->bn_sums);
  if (st == CLGAN_OK) st = clgan_dist_bn_stats(p->dist, p->ctx, p->bn_sums, c, m);
  if (st != CLGAN_OK) return st;
  return clgan_batchnorm_sync_apply(
      p->ctx, &n->plan.bn, c, m, m_total, x, clgan_buf_at(p->params, n->gamma_off),
      clgan_buf_at(p->params, n->beta_off), y, p->bn_sums, n->save_mean, n->save_invstd,
      clgan_buf_at(p->stats, n->rmean_off), clgan_buf_at(p->stats, n->rvar_off), p->bn_momentum,
      p->bn_eps, p->slope, copy_in(&n->out_copy, p, &copy));
}

clgan_status node_bn_act_forward(const graph *g, const graph_node *n, const graph_pass *p) {
  clgan_padded_copy copy;
  int c = g->slots[n->out].c;
  size_t m = pixels(g, n);
  clgan_buf x = graph_slot_buf(g, p, n->in), y = g->slots[n->out].buf;
  clgan_buf gamma = clgan_buf_at(p->params, n->gamma_off), beta = clgan_buf_at(p->params, n->beta_off);
  clgan_buf rmean = clgan_buf_at(p->stats, n->rmean_off), rvar = clgan_buf_at(p->stats, n->rvar_off);
  if (p->bn_eval)
    return clgan_batchnorm_forward_eval(p->ctx, &n->plan.bn, c, m, x, gamma, beta, rmean, rvar,
                                        p->bn_eps, y, p->slope,
                                        copy_in(&n->out_copy, p, &copy));
  if (clgan_dist_active(p->dist)) return forward_sync(g, n, p);
  return clgan_batchnorm_forward_train(p->ctx, &n->plan.bn, c, m, x, gamma, beta, y, n->save_mean,
                                       n->save_invstd, rmean, rvar, p->bn_momentum, p->bn_eps,
                                       p->slope, copy_in(&n->out_copy, p, &copy));
}

/* This rank's sums (and its share of dgamma, dbeta) -> summed over all ranks
 * -> dx. */
static clgan_status backward_sync(const graph *g, const graph_node *n, const graph_pass *p,
                                  const graph_grad *gr, clgan_buf dgamma, clgan_buf dbeta) {
  clgan_padded_copy copy;
  int c = g->slots[n->out].c;
  size_t m = pixels(g, n), m_total = m * (size_t)clgan_dist_size(p->dist);
  clgan_buf x = graph_slot_buf(g, p, n->in), y = g->slots[n->out].buf;
  clgan_buf dy = p->grad_buf[gr->cur], dx = p->grad_buf[1 - gr->cur];
  clgan_status st = clgan_batchnorm_sync_sums(p->ctx, &n->plan.bn, c, m, x, y, dy, n->save_mean,
                                              n->save_invstd, p->bn_sums, dgamma, dbeta,
                                              gr->param_grads ? gr->accumulate : 0, p->slope);
  if (st == CLGAN_OK) st = clgan_dist_allreduce_buf(p->dist, p->ctx, p->bn_sums, 2 * (size_t)c, 1);
  if (st != CLGAN_OK) return st;
  return clgan_batchnorm_sync_dx(p->ctx, &n->plan.bn, c, m, m_total, x, y, dy,
                                 clgan_buf_at(p->params, n->gamma_off), n->save_mean,
                                 n->save_invstd, p->bn_sums, dx, p->slope,
                                 copy_in(&n->grad_copy, p, &copy));
}

/* The activation's derivative is applied as dy is read (one pass less); the
 * input's gradient goes to the other buffer, the parameters' to the arena or
 * to scratch when not wanted. */
clgan_status node_bn_act_backward(const graph *g, const graph_node *n, const graph_pass *p,
                                  graph_grad *gr) {
  clgan_padded_copy copy;
  int c = g->slots[n->out].c;
  clgan_buf dy = p->grad_buf[gr->cur], dx = p->grad_buf[1 - gr->cur];
  clgan_buf dgamma = gr->param_grads ? clgan_buf_at(p->grads, n->gamma_off) : p->discard;
  clgan_buf dbeta = gr->param_grads ? clgan_buf_at(p->grads, n->beta_off)
                                    : clgan_buf_at(p->discard, (size_t)c);
  clgan_status st;
  if (clgan_dist_active(p->dist))
    st = backward_sync(g, n, p, gr, dgamma, dbeta);
  else
    st = clgan_batchnorm_backward(
        p->ctx, &n->plan.bn, c, pixels(g, n), graph_slot_buf(g, p, n->in), g->slots[n->out].buf,
        dy, clgan_buf_at(p->params, n->gamma_off), n->save_mean, n->save_invstd, dx, dgamma,
        dbeta, gr->param_grads ? gr->accumulate : 0, p->slope,
        copy_in(&n->grad_copy, p, &copy));
  gr->cur = 1 - gr->cur;
  return st;
}
