/* BatchNorm2d with the activation after it fused (src/ops/batchnorm.c):
 * training mode (batch statistics, running statistics updated) or
 * evaluation mode (running statistics). */
#include "graph/nodes.h"

clgan_status node_bn_act_plan(clgan_ctx *ctx, graph_node *n) {
  return clgan_bn_plan_make(ctx, n->act, &n->plan.bn);
}

static size_t pixels(const graph *g, const graph_node *n) {
  size_t hw = (size_t)g->slots[n->out].hw;
  return (size_t)g->batch * hw * hw;
}

clgan_status node_bn_act_forward(const graph *g, const graph_node *n, const graph_pass *p) {
  int c = g->slots[n->out].c;
  size_t m = pixels(g, n);
  clgan_buf x = graph_slot_buf(g, p, n->in), y = g->slots[n->out].buf;
  clgan_buf gamma = clgan_buf_at(p->params, n->gamma_off), beta = clgan_buf_at(p->params, n->beta_off);
  clgan_buf rmean = clgan_buf_at(p->stats, n->rmean_off), rvar = clgan_buf_at(p->stats, n->rvar_off);
  if (p->bn_eval)
    return clgan_batchnorm_forward_eval(p->ctx, &n->plan.bn, c, m, x, gamma, beta, rmean, rvar,
                                        p->bn_eps, y, p->slope);
  return clgan_batchnorm_forward_train(p->ctx, &n->plan.bn, c, m, x, gamma, beta, y, n->save_mean,
                                       n->save_invstd, rmean, rvar, p->bn_momentum, p->bn_eps,
                                       p->slope);
}

/* The activation's derivative is applied as dy is read (one pass less); the
 * input's gradient goes to the other buffer, the parameters' to the arena or
 * to scratch when not wanted. */
clgan_status node_bn_act_backward(const graph *g, const graph_node *n, const graph_pass *p,
                                  graph_grad *gr) {
  int c = g->slots[n->out].c;
  clgan_buf dy = p->grad_buf[gr->cur], dx = p->grad_buf[1 - gr->cur];
  clgan_buf dgamma = gr->param_grads ? clgan_buf_at(p->grads, n->gamma_off) : p->discard;
  clgan_buf dbeta = gr->param_grads ? clgan_buf_at(p->grads, n->beta_off)
                                    : clgan_buf_at(p->discard, (size_t)c);
  clgan_status st = clgan_batchnorm_backward(
      p->ctx, &n->plan.bn, c, pixels(g, n), graph_slot_buf(g, p, n->in), g->slots[n->out].buf, dy,
      clgan_buf_at(p->params, n->gamma_off), n->save_mean, n->save_invstd, dx, dgamma, dbeta,
      gr->param_grads ? gr->accumulate : 0, p->slope);
  gr->cur = 1 - gr->cur;
  return st;
}
