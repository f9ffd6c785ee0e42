/* Conv2d and ConvTranspose2d nodes (no bias): the conv core of src/ops/conv.c. */
#include "graph/nodes.h"

/* The weights a conv reads: the effective ones when the pass has them. */
static clgan_buf weight(const graph_node *n, const graph_pass *p) {
  return clgan_buf_at(p->weights.mem ? p->weights : p->params, n->w_off);
}

/* Which of a node's kept transforms a call runs: the forward's (Conv2d's
 * forward, ConvTranspose2d's backward) or the adjoint's. */
enum { KEPT_FORWARD = 0, KEPT_ADJOINT = 1 };

/* The plan for a call of n that runs kept transform `which`: n's own, or,
 * where the pass's parameters carry the version whose transform that one
 * holds (the conv reads them, not effective weights), *copy marked so that
 * the transform is not run again, not even compared. */
static const clgan_conv_plan *plan_for(const graph *g, const graph_node *n, const graph_pass *p,
                                       int which, clgan_conv_plan *copy) {
  const uint64_t *held = g->kept_versions ? &g->kept_versions[2 * (n - g->nodes) + which] : NULL;
  if (!held || !n->weights_kept.mem || p->weights.mem || p->params_version == 0 ||
      *held != p->params_version)
    return &n->plan.conv;
  *copy = n->plan.conv;
  copy->wino.weights_current = copy->adj_wino.weights_current = 1;
  return copy;
}

/* After a call of n that ran kept transform `which` (status st): the
 * version it now holds (0 where unknown: the next call compares). */
static clgan_status ran(const graph *g, const graph_node *n, const graph_pass *p, int which,
                        clgan_status st) {
  if (g->kept_versions)
    g->kept_versions[2 * (n - g->nodes) + which] =
        st == CLGAN_OK && !p->weights.mem ? p->params_version : 0;
  return st;
}

static clgan_status plan(clgan_ctx *ctx, graph_node *n) {
  clgan_status st = clgan_conv_plan_make(ctx, &n->shape, &n->plan.conv);
  if (st == CLGAN_OK) n->col_floats = n->plan.conv.col_floats;
  return st;
}

clgan_status node_conv_plan(clgan_ctx *ctx, graph_node *n) { return plan(ctx, n); }
clgan_status node_convt_plan(clgan_ctx *ctx, graph_node *n) { return plan(ctx, n); }

static clgan_status conv_forward(const graph *g, const graph_node *n, const graph_pass *p,
                                 const clgan_conv_plan *pl) {
  clgan_buf x = graph_slot_buf(g, p, n->in), y = g->slots[n->out].buf;
  if (n->in_padded) /* x padded into kept by the BatchNorm before */
    return clgan_conv2d_forward_padded_keep(p->ctx, pl, n->kept, weight(n, p), y, p->col,
                                            n->epilogue_act, p->slope);
  if (n->kept.mem)
    return clgan_conv2d_forward_keep(p->ctx, pl, x, weight(n, p), y, p->col, n->kept,
                                     n->epilogue_act, p->slope);
  if (n->epilogue_act != CLGAN_ACT_NONE)
    return clgan_conv2d_forward_act(p->ctx, pl, x, weight(n, p), y, p->col, n->epilogue_act,
                                    p->slope);
  return clgan_conv2d_forward(p->ctx, pl, x, weight(n, p), y, p->col);
}

clgan_status node_conv_forward(const graph *g, const graph_node *n, const graph_pass *p) {
  clgan_conv_plan copy;
  const clgan_conv_plan *pl = plan_for(g, n, p, KEPT_FORWARD, &copy);
  return ran(g, n, p, KEPT_FORWARD, conv_forward(g, n, p, pl));
}

clgan_status node_convt_forward(const graph *g, const graph_node *n, const graph_pass *p) {
  clgan_conv_plan copy;
  const clgan_conv_plan *pl = plan_for(g, n, p, KEPT_ADJOINT, &copy);
  clgan_status st =
      n->in_padded /* x padded by the BatchNorm before, at col's start */
          ? clgan_convt2d_forward_padded(p->ctx, pl, p->col, weight(n, p), g->slots[n->out].buf,
                                         p->col)
          : clgan_convt2d_forward(p->ctx, pl, graph_slot_buf(g, p, n->in), weight(n, p),
                                  g->slots[n->out].buf, p->col);
  return ran(g, n, p, KEPT_ADJOINT, st);
}

/* The input's gradient into the other gradient buffer (gr->cur unchanged). */
static clgan_status data_product(const graph *g, const graph_node *n, const graph_pass *p,
                                 const graph_grad *gr, const clgan_conv_plan *pl) {
  clgan_buf x = graph_slot_buf(g, p, n->in), dy = p->grad_buf[gr->cur];
  clgan_buf w = weight(n, p), dx = p->grad_buf[1 - gr->cur];
  if (n->op == GRAPH_OP_CONVT) return clgan_convt2d_backward_data(p->ctx, pl, dy, w, dx, p->col);
  if (n->grad_padded) /* dy padded by the BatchNorm after, at col's start */
    return clgan_conv2d_backward_data_padded(p->ctx, pl, p->col, w, dx, p->col, x,
                                             n->adjoint_act, p->slope);
  if (n->adjoint_act != CLGAN_ACT_NONE) /* dx times the previous activation's derivative */
    return clgan_conv2d_backward_data_act(p->ctx, pl, dy, w, dx, p->col, x, n->adjoint_act,
                                          p->slope);
  return clgan_conv2d_backward_data(p->ctx, pl, dy, w, dx, p->col);
}

static clgan_status backward_data(const graph *g, const graph_node *n, const graph_pass *p,
                                  const graph_grad *gr) {
  /* a ConvTranspose2d's backward data is its core's forward */
  int which = n->op == GRAPH_OP_CONVT ? KEPT_FORWARD : KEPT_ADJOINT;
  clgan_conv_plan copy;
  const clgan_conv_plan *pl = plan_for(g, n, p, which, &copy);
  return ran(g, n, p, which, data_product(g, n, p, gr, pl));
}

/* The weight's gradient, then the input's into the other gradient buffer
 * (not for the graph's input unless asked; the input's first where dy
 * arrived padded in col). */
static clgan_status backward(const graph *g, const graph_node *n, const graph_pass *p,
                             graph_grad *gr, int transposed) {
  clgan_buf x = graph_slot_buf(g, p, n->in), dy = p->grad_buf[gr->cur];
  clgan_buf w = weight(n, p);
  clgan_buf dw = clgan_buf_at(p->weight_grads.mem ? p->weight_grads : p->grads, n->w_off);
  int acc = p->weight_grads.mem ? 0 : gr->accumulate;
  clgan_status st = CLGAN_OK;
  if (transposed && gr->param_grads && (n->in != 0 || gr->input_grad)) {
    /* both gradients in one call: dy padded once */
    clgan_buf dx = p->grad_buf[1 - gr->cur];
    clgan_conv_plan copy;
    const clgan_conv_plan *pl = plan_for(g, n, p, KEPT_FORWARD, &copy);
    st = n->grad_padded /* dy padded by the BatchNorm after, at col's start */
             ? clgan_convt2d_backward_padded(p->ctx, pl, x, p->col, w, dw, dx, p->col, acc)
             : clgan_convt2d_backward(p->ctx, pl, x, dy, w, dw, dx, p->col, acc);
    gr->cur = 1 - gr->cur;
    return ran(g, n, p, KEPT_FORWARD, st);
  }
  /* dy padded at col's start: the backward data reads it before the weight
   * gradient may use col */
  int data_first = n->grad_padded && !transposed && (n->in != 0 || gr->input_grad);
  if (data_first && (st = backward_data(g, n, p, gr)) != CLGAN_OK) return st;
  if (gr->param_grads && transposed)
    st = clgan_convt2d_backward_filter(p->ctx, &n->plan.conv, x, dy, dw, p->col, acc);
  else if (gr->param_grads && n->kept.mem) /* x padded by the forward */
    st = clgan_conv2d_backward_filter_kept(p->ctx, &n->plan.conv, n->kept, dy, dw, p->col, acc);
  else if (gr->param_grads)
    st = clgan_conv2d_backward_filter(p->ctx, &n->plan.conv, x, dy, dw, p->col, acc);
  if (data_first) {
    gr->cur = 1 - gr->cur;
    return st;
  }
  if (st != CLGAN_OK || (n->in == 0 && !gr->input_grad)) return st;
  st = backward_data(g, n, p, gr);
  gr->cur = 1 - gr->cur;
  return st;
}

clgan_status node_conv_backward(const graph *g, const graph_node *n, const graph_pass *p,
                                graph_grad *gr) {
  return backward(g, n, p, gr, 0);
}

clgan_status node_convt_backward(const graph *g, const graph_node *n, const graph_pass *p,
                                 graph_grad *gr) {
  return backward(g, n, p, gr, 1);
}
