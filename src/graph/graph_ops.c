/* The op table: one entry per graph_op, each the op's plan, forward and
 * backward. A new node kind is one enum value, one entry here and its own
 * node_*.c file; the executor (graph.c) does not change. */
#include "graph/nodes.h"

#define OP(kind, module) {module, node_##kind##_plan, node_##kind##_forward, node_##kind##_backward}

const graph_op_def graph_ops[] = {
    [GRAPH_OP_CONV] = OP(conv, "Conv2d"),            /* image -> features, no bias */
    [GRAPH_OP_CONVT] = OP(convt, "ConvTranspose2d"), /* features -> image, no bias */
    [GRAPH_OP_BN_ACT] = OP(bn_act, "BatchNorm2d"),   /* BatchNorm2d + its activation, fused */
    [GRAPH_OP_ACT] = OP(act, "activation"),          /* an activation in place */
};

_Static_assert(sizeof graph_ops / sizeof graph_ops[0] == GRAPH_OP_COUNT,
               "graph_ops[] must have one entry per graph_op");
