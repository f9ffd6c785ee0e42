/* The verbs of each node kind, one file per kind (node_*.c); graph_ops.c
 * lists them in the op table. */
#ifndef CLGAN_GRAPH_NODES_H
#define CLGAN_GRAPH_NODES_H

#include "graph/graph.h"

#define NODE_VERBS(kind)                                                                     \
  clgan_status node_##kind##_plan(clgan_ctx *ctx, graph_node *n);                            \
  clgan_status node_##kind##_forward(const graph *g, const graph_node *n, const graph_pass *p); \
  clgan_status node_##kind##_backward(const graph *g, const graph_node *n, const graph_pass *p, \
                                      graph_grad *gr);

NODE_VERBS(conv)
NODE_VERBS(convt)
NODE_VERBS(bn_act)
NODE_VERBS(act)

#undef NODE_VERBS

#endif
