/* An activation in place (src/ops/act.c): D's first LeakyReLU, G's Tanh. */
#include "graph/nodes.h"

clgan_status node_act_plan(clgan_ctx *ctx, graph_node *n) {
  return clgan_act_plan_make(ctx, n->act, &n->plan.act);
}

static size_t count(const graph *g, const graph_node *n) {
  const graph_slot *s = &g->slots[n->out];
  return (size_t)s->c * g->batch * s->hw * s->hw;
}

clgan_status node_act_forward(const graph *g, const graph_node *n, const graph_pass *p) {
  if (n->forward_fused) return CLGAN_OK; /* applied by the conv before it (graph_plan) */
  clgan_buf y = graph_slot_buf(g, p, n->out);
  return clgan_act_forward(p->ctx, &n->plan.act, p->slope, count(g, n), graph_slot_buf(g, p, n->in),
                           y);
}

/* dx = dy * act'(y), in the same buffer. */
clgan_status node_act_backward(const graph *g, const graph_node *n, const graph_pass *p,
                               graph_grad *gr) {
  if (n->backward_fused) return CLGAN_OK; /* applied by the conv after it (graph_plan) */
  clgan_buf dy = p->grad_buf[gr->cur];
  return clgan_act_backward(p->ctx, &n->plan.act, p->slope, count(g, n),
                            graph_slot_buf(g, p, n->out), dy, dy);
}
