/* Static layer graphs of the DCGAN's generator and discriminator.
 *
 * graph_build derives the layer list from the configuration (never
 * hand-edited): one stride-2 stage per doubling above 4x4, widths doubling
 * towards the 4x4 end, PyTorch's nn.Sequential indices for tensor names.
 * The graph only describes; buffers are bound by the owner (src/train/dcgan.c). */
#ifndef CLGAN_GRAPH_H
#define CLGAN_GRAPH_H

#include "clgan/dcgan.h"

#define GRAPH_MAX_LAYERS 8
#define GRAPH_MAX_TENSORS (GRAPH_MAX_LAYERS * 5)

typedef struct graph_layer {
  int transposed;          /* ConvTranspose2d (G) or Conv2d (D) */
  clgan_conv_shape shape;  /* conv geometry (adjoint form for ConvT) */
  clgan_conv_plan plan;    /* the conv's plan on the owner's context (made by the owner) */
  int in_c, in_hw;         /* layer input  [in_c, N, in_hw, in_hw] */
  int out_c, out_hw;       /* layer output [out_c, N, out_hw, out_hw] */
  size_t w_off;            /* weight in the parameter arena */
  int bn;                  /* followed by BatchNorm2d */
  size_t gamma_off, beta_off;  /* parameter arena */
  size_t rmean_off, rvar_off;  /* statistics arena */
  clgan_act act;           /* activation after BN (NONE: D's logit layer) */
  double macs;             /* multiply-adds of the forward conv, whole batch */
  /* bound by the owner: */
  clgan_buf z;             /* conv output, kept for BatchNorm backward */
  clgan_buf y;             /* BN + activation output; same as z without BN */
  clgan_buf save_mean, save_invstd; /* [out_c] batch statistics for backward */
} graph_layer;

typedef struct graph {
  clgan_net which;
  int nlayers;
  graph_layer layers[GRAPH_MAX_LAYERS];
  int ntensors;
  clgan_tensor_desc tensors[GRAPH_MAX_TENSORS];
  size_t param_floats, stats_floats;
  size_t max_act_floats;   /* largest layer output */
  int max_channels;
} graph;

/* Derives G or D from cfg; returns INVALID (with a message) for sizes or
 * widths the recipe does not allow. */
clgan_status graph_build(const clgan_dcgan_config *cfg, clgan_net which, graph *g);

/* Everything a pass needs besides the graph's own bound buffers. */
typedef struct graph_pass {
  clgan_ctx *ctx;
  clgan_buf params, grads, stats; /* arenas of this network */
  clgan_buf col;                  /* shared im2col workspace */
  clgan_buf grad_buf[2];          /* ping-pong gradient buffers */
  clgan_buf discard;              /* scratch for BN gradients not wanted */
  float bn_momentum, bn_eps, slope;
  int bn_eval;                    /* BatchNorm with running statistics */
} graph_pass;

/* Forward from x (the first layer's input); training-mode BatchNorm unless
 * p->bn_eval. */
clgan_status graph_forward(const graph *g, const graph_pass *p, clgan_buf x);

/* Backward from the gradient of the last layer's output, held in
 * p->grad_buf[*cur]. param_grads: write weight/BN gradients (accumulate:
 * add to them); input_grad: also compute the gradient of x, left in
 * p->grad_buf[*cur] on return. */
clgan_status graph_backward(const graph *g, const graph_pass *p, clgan_buf x, int *cur,
                            int param_grads, int accumulate, int input_grad);

#endif
