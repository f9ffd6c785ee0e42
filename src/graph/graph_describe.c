/* The DCGAN's generator and discriminator as node lists, derived from the
 * configuration: one stride-2 stage per doubling above 4x4, widths doubling
 * towards the 4x4 end, PyTorch's nn.Sequential indices for tensor names. */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "runtime/internal.h"

/* A graph under construction: the next Sequential index, the current slot. */
typedef struct builder {
  graph *g;
  int batch, seq, slot;
  clgan_status st;
} builder;

static void add_tensor(builder *b, int seq, const char *field, int ndim, const int *shape,
                       size_t *arena, int is_param) {
  graph *g = b->g;
  clgan_tensor_desc *t = &g->tensors[g->ntensors++];
  snprintf(t->name, sizeof t->name, "main.%d.%s", seq, field);
  t->ndim = ndim;
  t->count = 1;
  for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 0;
  for (int i = 0; i < ndim; i++) t->count *= (size_t)shape[i];
  t->offset = *arena;
  t->is_param = is_param;
  *arena += t->count;
}

static graph_node *add_node(builder *b, graph_op op) {
  graph_node *n = &b->g->nodes[b->g->nnodes++];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->seq = b->seq;
  n->layer = b->g->nlayers;
  n->in = n->out = b->slot;
  return n;
}

static int new_slot(builder *b, int c, int hw) {
  graph *g = b->g;
  g->slots[g->nslots].c = c;
  g->slots[g->nslots].hw = hw;
  return g->nslots++;
}

/* Conv2d (or ConvTranspose2d) to out_c channels, no bias. */
static void conv(builder *b, int transposed, int out_c, int k, int stride, int pad) {
  if (b->st != CLGAN_OK) return;
  const graph_slot *in = &b->g->slots[b->slot];
  int in_c = in->c, hw = in->hw;
  b->g->nlayers++;
  graph_node *n = add_node(b, transposed ? GRAPH_OP_CONVT : GRAPH_OP_CONV);
  b->st = transposed ? clgan_conv_shape_convt(b->batch, in_c, hw, hw, out_c, k, stride, pad, &n->shape)
                     : clgan_conv_shape_conv(b->batch, in_c, hw, hw, out_c, k, stride, pad, &n->shape);
  if (b->st != CLGAN_OK) return;
  int out_hw = transposed ? n->shape.h : n->shape.ho;
  int wshape[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, k, k};
  n->w_off = b->g->param_floats;
  add_tensor(b, b->seq, "weight", 4, wshape, &b->g->param_floats, 1);
  size_t px = (size_t)b->batch * (transposed ? (size_t)hw * hw : (size_t)out_hw * out_hw);
  n->macs = (double)in_c * out_c * k * k * (double)px;
  n->out = b->slot = new_slot(b, out_c, out_hw);
  b->seq++;
}

/* BatchNorm2d and the activation after it (two Sequential modules). */
static void bn_act(builder *b, clgan_act act) {
  if (b->st != CLGAN_OK) return;
  graph *g = b->g;
  graph_node *n = add_node(b, GRAPH_OP_BN_ACT);
  int c = g->slots[b->slot].c, cshape[1] = {c};
  n->act = act;
  n->gamma_off = g->param_floats;
  add_tensor(b, b->seq, "weight", 1, cshape, &g->param_floats, 1);
  n->beta_off = g->param_floats;
  add_tensor(b, b->seq, "bias", 1, cshape, &g->param_floats, 1);
  n->rmean_off = g->stats_floats;
  add_tensor(b, b->seq, "running_mean", 1, cshape, &g->stats_floats, 0);
  n->rvar_off = g->stats_floats;
  add_tensor(b, b->seq, "running_var", 1, cshape, &g->stats_floats, 0);
  n->out = b->slot = new_slot(b, c, g->slots[b->slot].hw);
  b->seq += 2;
}

/* An activation module, in place. */
static void act(builder *b, clgan_act a) {
  if (b->st != CLGAN_OK) return;
  add_node(b, GRAPH_OP_ACT)->act = a;
  b->seq++;
}

static clgan_status check_config(const clgan_dcgan_config *cfg, int *stages) {
  *stages = 0;
  for (int s = cfg->image_size; s > 4 && s % 2 == 0; s /= 2) (*stages)++;
  if (cfg->image_size < 8 || (4 << *stages) != cfg->image_size || *stages > GRAPH_MAX_STAGES)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "image size %d is not supported: use a power of two from 8 to 512 "
                      "(the recipe's 64, or 32, 128, 256)",
                      cfg->image_size);
  if (cfg->channels < 1 || cfg->nz < 1 || cfg->ngf < 1 || cfg->ndf < 1 || cfg->batch < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "channels (%d), nz (%d), ngf (%d), ndf (%d) and batch (%d) must be positive",
                      cfg->channels, cfg->nz, cfg->ngf, cfg->ndf, cfg->batch);
  if (cfg->batch < 2)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "batch %d: training-mode BatchNorm needs at least 2 images per batch",
                      cfg->batch);
  return CLGAN_OK;
}

/* The tutorial's Generator: ConvT(nz, ngf*mult, 4, 1, 0) BN ReLU, stride-2
 * stages halving the width, ConvT(ngf, nc, 4, 2, 1) Tanh. */
static void describe_g(builder *b, const clgan_dcgan_config *cfg, int stages) {
  int c = cfg->ngf << (stages - 1);
  conv(b, 1, c, 4, 1, 0);
  bn_act(b, CLGAN_ACT_RELU);
  for (int s = 1; s < stages; s++, c /= 2) {
    conv(b, 1, c / 2, 4, 2, 1);
    bn_act(b, CLGAN_ACT_RELU);
  }
  conv(b, 1, cfg->channels, 4, 2, 1);
  act(b, CLGAN_ACT_TANH);
}

/* The tutorial's Discriminator: Conv(nc, ndf, 4, 2, 1) LeakyReLU, stride-2
 * stages doubling the width with BN, Conv(ndf*mult, outputs, 4, 1, 0): one
 * output whose Sigmoid is folded into the loss (the graph ends at the
 * logits), or one per class for the classifier. */
static void describe_d(builder *b, const clgan_dcgan_config *cfg, int stages, int outputs) {
  int c = cfg->ndf;
  conv(b, 0, c, 4, 2, 1);
  act(b, CLGAN_ACT_LEAKY_RELU);
  for (int s = 1; s < stages; s++, c *= 2) {
    conv(b, 0, c * 2, 4, 2, 1);
    bn_act(b, CLGAN_ACT_LEAKY_RELU);
  }
  conv(b, 0, outputs, 4, 1, 0);
}

clgan_status graph_describe(const clgan_dcgan_config *cfg, clgan_net which, graph *g) {
  memset(g, 0, sizeof *g);
  g->which = which;
  g->batch = cfg->batch;
  int stages;
  clgan_status st = check_config(cfg, &stages);
  if (st != CLGAN_OK) return st;
  builder b = {.g = g, .batch = cfg->batch};
  if (which == CLGAN_NET_G) {
    new_slot(&b, graph_g_input_channels(cfg), 1); /* the noise [nz (+ embedding), batch, 1, 1] */
    describe_g(&b, cfg, stages);
  } else {
    new_slot(&b, graph_d_input_channels(cfg), cfg->image_size);
    describe_d(&b, cfg, stages, 1);
  }
  if (b.st == CLGAN_OK && cfg->conditional) b.st = graph_describe_cond(cfg, g);
  return b.st;
}

clgan_status graph_describe_classifier(const clgan_dcgan_config *cfg, int classes, graph *g) {
  memset(g, 0, sizeof *g);
  g->which = CLGAN_NET_D;
  g->batch = cfg->batch;
  int stages;
  clgan_status st = check_config(cfg, &stages);
  if (st != CLGAN_OK) return st;
  if (classes < 2)
    return clgan_fail(CLGAN_ERR_INVALID, "a classifier needs at least 2 classes, not %d", classes);
  builder b = {.g = g, .batch = cfg->batch};
  new_slot(&b, cfg->channels, cfg->image_size);
  describe_d(&b, cfg, stages, classes);
  return b.st;
}
