/* Networks as data: a graph is a list of nodes over activation slots, each
 * node one op of the table in graph_ops.c (plan, forward, backward).
 *
 * Build (graph_describe.c): the generator and the discriminator are short
 * descriptions derived from the configuration (never hand-edited), with
 * PyTorch's nn.Sequential indices for tensor names. Plan (graph_plan): every
 * node makes its kernels and chooses its variants, and every slot gets its
 * buffer, before the first step. Run (graph_forward / graph_backward): flat
 * loops over the nodes that allocate and build nothing. */
#ifndef CLGAN_GRAPH_H
#define CLGAN_GRAPH_H

#include <stdint.h>

#include "clgan/dcgan.h"

#define GRAPH_MAX_STAGES 7 /* 512 px: the limits below hold for it */
#define GRAPH_MAX_NODES 32
#define GRAPH_MAX_SLOTS 32
#define GRAPH_MAX_TENSORS 40

/* The op kinds; graph_ops[] in graph_ops.c has one entry per kind. */
typedef enum graph_op {
  GRAPH_OP_CONV,   /* Conv2d without bias */
  GRAPH_OP_CONVT,  /* ConvTranspose2d without bias */
  GRAPH_OP_BN_ACT, /* BatchNorm2d with the following activation fused */
  GRAPH_OP_ACT,    /* an activation, in place */
  GRAPH_OP_COUNT
} graph_op;

/* An activation [c, batch, hw, hw] (C,N,H,W). Slot 0 is the graph's input,
 * bound per pass (graph_pass.input); the plan allocates the others. */
typedef struct graph_slot {
  int c, hw;
  clgan_buf buf;
} graph_slot;

typedef struct graph_node {
  graph_op op;
  int layer;               /* 1-based conv block: profiling regions and the summary */
  int seq;                 /* nn.Sequential index of the node's first module */
  int in, out;             /* slots; out == in for in-place ops */
  clgan_act act;           /* BN_ACT and ACT */
  clgan_conv_shape shape;  /* CONV, CONVT (adjoint form for CONVT) */
  size_t w_off;            /* CONV, CONVT: weight in the parameter arena */
  size_t gamma_off, beta_off;  /* BN_ACT: parameter arena */
  size_t rmean_off, rvar_off;  /* BN_ACT: statistics arena */
  double macs;             /* multiply-adds of the forward, whole batch */
  /* made by the plan: */
  union {
    clgan_bn_plan bn;      /* BN_ACT */
    clgan_act_plan act;    /* ACT */
    clgan_conv_plan conv;  /* CONV, CONVT */
  } plan;
  size_t col_floats;       /* CONV, CONVT: col workspace this node needs */
  clgan_act epilogue_act;  /* CONV: the next node's activation, applied as its GEMM stores
                              (graph_plan, where the plan allows it; else NONE) */
  int forward_fused;       /* ACT: its forward is the conv's epilogue above (a no-op) */
  clgan_act adjoint_act;   /* CONV: the previous node's activation, whose derivative its
                              backward data applies as it stores dx (graph_plan, where the
                              plan allows it; else NONE) */
  int backward_fused;      /* ACT: its backward is the next conv's, above (a no-op) */
  clgan_buf save_mean, save_invstd; /* BN_ACT [c]: batch statistics for backward */
  clgan_buf kept;          /* CONV [cin, n, h + 2p, w + 2p]: the padded input its forward
                              keeps for its weight gradient (clgan_conv_kept_floats; no
                              buffer where the plan keeps none). Like the slots, it holds
                              the node's last forward, which its backward follows. */
  /* Padded copies (graph_plan, where the conv next to a BatchNorm reads that
   * side padded: clgan_conv_reads_padded), so that no padding kernel runs;
   * h == 0: none. The BatchNorm writes its output (dx) plainly as well. */
  clgan_padded_copy out_copy;  /* BN_ACT: of its output, for the conv after it: into that
                                  conv's `kept` (CONV; buf set by graph_alloc) or at the
                                  start of the pass's col (CONVT; buf empty) */
  clgan_padded_copy grad_copy; /* BN_ACT: of its dx, for the conv before it: at the start of
                                  the pass's col (buf empty) */
  clgan_buf weights_kept;  /* CONV, CONVT where the graph keeps weights: the transformed
                              weights of its Winograd forward and adjoint
                              (clgan_conv_keep_weights; no buffer where it runs neither) */
  int in_padded;           /* CONV, CONVT: the forward reads its input from that copy */
  int grad_padded;         /* CONV, CONVT: the backward reads dy from that copy */
} graph_node;

typedef struct graph {
  clgan_net which;
  int nnodes, nslots, nlayers;
  graph_node nodes[GRAPH_MAX_NODES];
  graph_slot slots[GRAPH_MAX_SLOTS];
  int ntensors;
  clgan_tensor_desc tensors[GRAPH_MAX_TENSORS];
  size_t param_floats, stats_floats;
  int batch;
  int keep_weights;        /* set before graph_plan where the weights serve several passes
                              between updates (a discriminator's three): its convs keep
                              their transformed weights (node weights_kept) */
  /* made by the plan: */
  size_t col_floats;       /* the largest node workspace */
  size_t max_act_floats;   /* the largest slot, the input included */
  int max_channels;
  size_t device_bytes;     /* slots, saved statistics, kept copies and weights (graph_alloc) */
  uint64_t *kept_versions; /* host [nnodes][2] where the graph keeps weights (graph_alloc):
                              the params_version (graph_pass) of the weights whose transform
                              node i's kept forward [i][0] and adjoint [i][1] hold; 0:
                              unknown, the next call compares them on the device */
  /* the conditional model (graph_cond.c; src/train/cond.c runs it): */
  int cond;                /* 1: the graph has a class table and takes labels */
  size_t emb_off;          /* the table [emb_rows, emb_dim] in the parameter arena */
  int emb_rows, emb_dim;   /* classes; G: embed_dim, D: channels of proj_slot */
  int proj_slot;           /* D: the feature map h before the final conv (projection) */
  int label_planes;        /* D with label channels: one-hot planes after the image's
                              channels in its input (then no table, no projection) */
} graph;

/* Derives G or D from cfg; INVALID (with a message) for sizes or widths the
 * recipe does not allow. */
clgan_status graph_describe(const clgan_dcgan_config *cfg, clgan_net which, graph *g);
/* The classifier of clgan/classify.h: D's layers for cfg (channels,
 * image_size, ndf, batch), its last conv with one output per class, so the
 * graph ends at logits [classes, batch, 1, 1]. INVALID for fewer than 2
 * classes or a configuration D refuses. */
clgan_status graph_describe_classifier(const clgan_dcgan_config *cfg, int classes, graph *g);

/* Plans every node on ctx (kernels, variants, workspace needs) and sizes
 * every buffer the graph will own (device_bytes), allocating nothing. */
clgan_status graph_plan(clgan_ctx *ctx, graph *g);
/* Allocates the planned slots and saved statistics. */
clgan_status graph_alloc(clgan_ctx *ctx, graph *g);
/* Releases what graph_alloc allocated (kernels belong to ctx). */
void graph_release(graph *g);

/* Everything a pass needs besides the graph's own buffers. */
typedef struct graph_pass {
  clgan_ctx *ctx;
  clgan_buf input;                /* slot 0 */
  clgan_buf params, grads, stats; /* arenas of this network */
  uint64_t params_version;        /* names the contents of params: the owner gives them a
                                     new version whenever they change (0: unversioned) */
  clgan_buf col;                  /* shared conv workspace */
  clgan_buf grad_buf[2];          /* ping-pong gradient buffers */
  clgan_buf discard;              /* scratch for BN gradients not wanted */
  float bn_momentum, bn_eps, slope;
  int bn_eval;                    /* BatchNorm with running statistics */
  /* when set (spectral norm): the conv weights are read from `weights` (at
   * the parameter arena's offsets) and their gradients written, never
   * added, to `weight_grads`, for the caller to map to the parameters */
  clgan_buf weights, weight_grads;
  /* SyncBatchNorm: the ranks the batch is split over (NULL or one rank: the
   * fused one-rank kernels) and a device scratch [2 * max channels] */
  struct clgan_dist *dist;
  clgan_buf bn_sums;
} graph_pass;

/* Backward state: the gradient of the current node's output is in
 * grad_buf[cur]; a node that writes its input's gradient to the other buffer
 * flips cur. */
typedef struct graph_grad {
  int cur;
  int param_grads;  /* write weight / BN gradients */
  int accumulate;   /* add to them */
  int input_grad;   /* also the gradient of slot 0 */
} graph_grad;

/* The buffer of slot s in pass p. */
static inline clgan_buf graph_slot_buf(const graph *g, const graph_pass *p, int s) {
  return s == 0 ? p->input : g->slots[s].buf;
}

/* Forward from p->input; training-mode BatchNorm unless p->bn_eval. */
clgan_status graph_forward(const graph *g, const graph_pass *p);
/* Backward from the gradient of the last node's output in grad_buf[gr->cur];
 * with gr->input_grad the input's gradient is left in grad_buf[gr->cur]. */
clgan_status graph_backward(const graph *g, const graph_pass *p, graph_grad *gr);

/* Backward over nodes last, last - 1, ..., first only: a module around the
 * graph (the projection discriminator) works between two nodes. */
clgan_status graph_backward_nodes(const graph *g, const graph_pass *p, graph_grad *gr, int first,
                                  int last);

/* Channels of G's input: nz, plus the class embedding's width when
 * conditional (z' = [z; E_g[y]]); of D's: the image's, plus one plane per
 * class unless D is a projection discriminator. */
int graph_g_input_channels(const clgan_dcgan_config *cfg);
int graph_d_input_channels(const clgan_dcgan_config *cfg);
/* Adds the class table of the conditional model to a described graph
 * (tensor "label_emb.weight" [classes, width], after every main.* tensor),
 * and for D the projection's feature map. */
clgan_status graph_describe_cond(const clgan_dcgan_config *cfg, graph *g);

/* The last node's output: G's images, D's logits. */
clgan_buf graph_output(const graph *g);

/* One op kind: its three verbs. */
typedef struct graph_op_def {
  const char *name; /* PyTorch's module name (summaries) */
  /* makes the node's kernels, chooses its variants, sets node->col_floats */
  clgan_status (*plan)(clgan_ctx *ctx, graph_node *node);
  /* slot out = op(slot in) */
  clgan_status (*forward)(const graph *g, const graph_node *node, const graph_pass *p);
  /* the input's gradient from the output's (skipped for node 0 unless
   * gr->input_grad), and the parameters' gradients when gr->param_grads */
  clgan_status (*backward)(const graph *g, const graph_node *node, const graph_pass *p,
                           graph_grad *gr);
} graph_op_def;

extern const graph_op_def graph_ops[GRAPH_OP_COUNT];

#endif
