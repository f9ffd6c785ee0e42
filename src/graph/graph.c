/* The executor: plan every node once, then flat loops over the nodes. It
 * knows nothing of the ops themselves (graph_ops[]). */
#include "graph/graph.h"

#include <stdlib.h>

#include "runtime/internal.h"

static size_t slot_floats(const graph *g, int s) {
  return (size_t)g->slots[s].c * g->batch * g->slots[s].hw * g->slots[s].hw;
}

/* An activation in place between two convs (D's first LeakyReLU): where
 * the conv before it can apply it as it stores, the activation's forward
 * pass is dropped (clgan_conv2d_forward_act); where the conv after it can
 * apply its derivative as its backward data stores dx, the backward pass is
 * (clgan_conv2d_backward_data_act). The same bits either way. */
static void fuse_activations(graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    graph_node *n = &g->nodes[i];
    n->epilogue_act = n->adjoint_act = CLGAN_ACT_NONE;
    n->forward_fused = n->backward_fused = 0;
  }
  for (int i = 0; i < g->nnodes; i++) {
    graph_node *act = &g->nodes[i];
    if (act->op != GRAPH_OP_ACT || act->out != act->in || act->act == CLGAN_ACT_NONE) continue;
    graph_node *before = i > 0 ? &g->nodes[i - 1] : NULL;
    graph_node *after = i + 1 < g->nnodes ? &g->nodes[i + 1] : NULL;
    if (before && before->op == GRAPH_OP_CONV && before->out == act->in &&
        clgan_conv2d_forward_fuses_act(&before->plan.conv, act->act)) {
      before->epilogue_act = act->act;
      act->forward_fused = 1;
    }
    if (after && after->op == GRAPH_OP_CONV && after->in == act->out && act->out != 0 &&
        clgan_conv2d_backward_data_fuses_act(&after->plan.conv, act->act)) {
      after->adjoint_act = act->act;
      act->backward_fused = 1;
    }
  }
}

static size_t copy_floats(const graph *g, int c, const clgan_padded_copy *copy) {
  return (size_t)c * g->batch * (size_t)(copy->h + 2 * copy->pad) *
         (size_t)(copy->w + 2 * copy->pad);
}

/* Whether conv node n reads side `side` padded, the copy's geometry in
 * *copy; in_col: the copy goes to the start of col, where n's own padding
 * would put it (its plan's col holds it, and nothing else runs in between:
 * see node_conv.c), else to n's kept buffer. */
static int reads_padded(const graph *g, const graph_node *n, clgan_conv_side side, int c,
                        int in_col, clgan_padded_copy *copy) {
  if (!clgan_conv_reads_padded(&n->plan.conv, side, copy)) return 0;
  if (in_col && copy_floats(g, c, copy) > n->col_floats) return copy->h = 0, 0;
  return 1;
}

/* A BatchNorm between two convs hands each the side it reads padded
 * (clgan_conv_reads_padded): its output to the conv after it (a Conv2d's x,
 * into its kept copy for the weight gradient, or a ConvTranspose2d's x), its
 * dx to the conv before it (a Conv2d's dy for the sub-pixel adjoint, a
 * ConvTranspose2d's dy). Copies read by the very next node go to the start
 * of the pass's col, where that conv would pad: a buffer in cache, which a
 * scratch buffer of their own was not (the BatchNorms' writes then cost
 * more than the padding kernels saved). The tuning's padded_copies -1
 * (CLGAN_PADDED_COPIES=0): none. */
static void plan_padded_copies(const clgan_ctx *ctx, graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    graph_node *n = &g->nodes[i];
    n->out_copy.h = n->grad_copy.h = 0;
    n->in_padded = n->grad_padded = 0;
  }
  if (clgan_ctx_tuning(ctx)->padded_copies < 0) return;
  for (int i = 0; i < g->nnodes; i++) {
    graph_node *bn = &g->nodes[i];
    if (bn->op != GRAPH_OP_BN_ACT || bn->in == bn->out) continue;
    graph_node *after = i + 1 < g->nnodes ? &g->nodes[i + 1] : NULL;
    graph_node *before = i > 0 ? &g->nodes[i - 1] : NULL;
    int c_out = g->slots[bn->out].c, c_in = g->slots[bn->in].c;
    if (after && after->in == bn->out &&
        ((after->op == GRAPH_OP_CONV &&
          reads_padded(g, after, CLGAN_CONV_IMAGE_SIDE, c_out, 0, &bn->out_copy)) ||
         (after->op == GRAPH_OP_CONVT &&
          reads_padded(g, after, CLGAN_CONV_FEATURE_SIDE, c_out, 1, &bn->out_copy))))
      after->in_padded = 1;
    if (before && before->out == bn->in &&
        ((before->op == GRAPH_OP_CONV &&
          reads_padded(g, before, CLGAN_CONV_FEATURE_SIDE, c_in, 1, &bn->grad_copy)) ||
         (before->op == GRAPH_OP_CONVT &&
          reads_padded(g, before, CLGAN_CONV_IMAGE_SIDE, c_in, 1, &bn->grad_copy))))
      before->grad_padded = 1;
  }
}

/* The floats of n's kept transformed weights (0: none). */
static size_t weights_kept_floats(const graph *g, const graph_node *n) {
  int conv = n->op == GRAPH_OP_CONV || n->op == GRAPH_OP_CONVT;
  return g->keep_weights && conv ? clgan_conv_weights_kept_floats(&n->plan.conv) : 0;
}

clgan_status graph_plan(clgan_ctx *ctx, graph *g) {
  clgan_status st = CLGAN_OK;
  g->col_floats = g->max_act_floats = g->device_bytes = 0;
  g->max_channels = 0;
  for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++) {
    graph_node *n = &g->nodes[i];
    st = graph_ops[n->op].plan(ctx, n);
    if (n->col_floats > g->col_floats) g->col_floats = n->col_floats;
    if (n->op == GRAPH_OP_BN_ACT) g->device_bytes += 2 * sizeof(float) * g->slots[n->out].c;
    if (st == CLGAN_OK && n->op == GRAPH_OP_CONV)
      g->device_bytes += clgan_conv_kept_floats(&n->plan.conv) * sizeof(float);
    g->device_bytes += weights_kept_floats(g, n) * sizeof(float);
  }
  if (st == CLGAN_OK) fuse_activations(g);
  if (st == CLGAN_OK) plan_padded_copies(ctx, g);
  for (int s = 0; s < g->nslots; s++) {
    size_t floats = slot_floats(g, s);
    if (floats > g->max_act_floats) g->max_act_floats = floats;
    if (g->slots[s].c > g->max_channels) g->max_channels = g->slots[s].c;
    if (s > 0) g->device_bytes += floats * sizeof(float);
  }
  return st;
}

clgan_status graph_alloc(clgan_ctx *ctx, graph *g) {
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++) {
    graph_node *n = &g->nodes[i];
    /* the conv's GEMM workspace grown, CLBlast built */
    if (n->op == GRAPH_OP_CONV || n->op == GRAPH_OP_CONVT)
      st = clgan_conv_plan_prepare(ctx, &n->plan.conv);
    size_t kept = n->op == GRAPH_OP_CONV ? clgan_conv_kept_floats(&n->plan.conv) : 0;
    if (st == CLGAN_OK && kept > 0) st = clgan_buf_alloc(ctx, kept, &n->kept);
    size_t weights = weights_kept_floats(g, n);
    if (st == CLGAN_OK && weights > 0) st = clgan_buf_alloc(ctx, weights, &n->weights_kept);
    if (st == CLGAN_OK && weights > 0)
      st = clgan_conv_keep_weights(ctx, &n->plan.conv, n->weights_kept);
    if (st != CLGAN_OK || n->op != GRAPH_OP_BN_ACT) continue;
    size_t c = (size_t)g->slots[n->out].c;
    st = clgan_buf_alloc(ctx, c, &n->save_mean);
    if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, c, &n->save_invstd);
  }
  if (st == CLGAN_OK && g->keep_weights) {
    g->kept_versions = calloc((size_t)g->nnodes * 2, sizeof *g->kept_versions);
    if (!g->kept_versions) st = clgan_fail(CLGAN_ERR_NOMEM, "graph: the kept weights' versions");
  }
  for (int s = 1; s < g->nslots && st == CLGAN_OK; s++)
    st = clgan_buf_alloc(ctx, slot_floats(g, s), &g->slots[s].buf);
  /* the kept copies' buffers, now that they exist */
  for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++) {
    graph_node *n = &g->nodes[i];
    if (n->out_copy.h > 0 && g->nodes[i + 1].op == GRAPH_OP_CONV)
      n->out_copy.buf = g->nodes[i + 1].kept;
  }
  return st;
}

void graph_release(graph *g) {
  free(g->kept_versions);
  g->kept_versions = NULL;
  for (int s = 1; s < g->nslots; s++) clgan_buf_release(&g->slots[s].buf);
  for (int i = 0; i < g->nnodes; i++) {
    clgan_buf_release(&g->nodes[i].save_mean);
    clgan_buf_release(&g->nodes[i].save_invstd);
    clgan_buf_release(&g->nodes[i].kept);
    if (g->nodes[i].weights_kept.mem) { /* the plan no longer keeps them */
      clgan_buf_release(&g->nodes[i].weights_kept);
      g->nodes[i].plan.conv.wino.weights_kept = g->nodes[i].plan.conv.adj_wino.weights_kept =
          (clgan_buf){0};
    }
    g->nodes[i].out_copy.buf = g->nodes[i].grad_copy.buf = (clgan_buf){0};
  }
}

clgan_buf graph_output(const graph *g) { return g->slots[g->nodes[g->nnodes - 1].out].buf; }

/* Names the work of a node's layer for clgan bench's profile ("G3 fwd"); a
 * no-op unless the context profiles. */
static void region(const graph *g, const graph_pass *p, const graph_node *n, const char *pass) {
  clgan_profile_region(p->ctx, "%c%d %s", g->which == CLGAN_NET_G ? 'G' : 'D', n->layer, pass);
}

clgan_status graph_forward(const graph *g, const graph_pass *p) {
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++) {
    const graph_node *n = &g->nodes[i];
    region(g, p, n, "fwd");
    st = graph_ops[n->op].forward(g, n, p);
  }
  return st;
}

clgan_status graph_backward(const graph *g, const graph_pass *p, graph_grad *gr) {
  return graph_backward_nodes(g, p, gr, 0, g->nnodes - 1);
}

clgan_status graph_backward_nodes(const graph *g, const graph_pass *p, graph_grad *gr, int first,
                                  int last) {
  clgan_status st = CLGAN_OK;
  for (int i = last; i >= first && st == CLGAN_OK; i--) {
    const graph_node *n = &g->nodes[i];
    region(g, p, n, "bwd");
    st = graph_ops[n->op].backward(g, n, p, gr);
  }
  return st;
}
