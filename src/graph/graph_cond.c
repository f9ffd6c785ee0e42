/* The conditional model's additions to the described graphs: G's input
 * grows by the class embedding (z' = [z; E_g[y]]) and D's by one-hot class
 * planes; G gets a class table in its parameter arena, and so does a
 * projection D (its E_d, Miyato & Koyama 2018), both named
 * "label_emb.weight" like a PyTorch nn.Embedding member `label_emb`. */
#include <stdio.h>

#include "graph/graph.h"
#include "runtime/internal.h"

int graph_g_input_channels(const clgan_dcgan_config *cfg) {
  return cfg->nz + (cfg->conditional ? cfg->embed_dim : 0);
}

int graph_d_input_channels(const clgan_dcgan_config *cfg) {
  return cfg->channels + (cfg->conditional && !cfg->projection ? cfg->num_classes : 0);
}

clgan_status graph_describe_cond(const clgan_dcgan_config *cfg, graph *g) {
  if (cfg->num_classes < 1 || cfg->embed_dim < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "a conditional model needs at least one class (num_classes %d) and an "
                      "embedding width of at least 1 (embed_dim %d)",
                      cfg->num_classes, cfg->embed_dim);
  if (cfg->consistency > 0.0f)
    return clgan_fail(CLGAN_ERR_INVALID, "--consistency (bCR) is not supported with a "
                                         "conditional model: its extra D passes take no labels");
  g->cond = 1;
  g->emb_rows = cfg->num_classes;
  if (g->which == CLGAN_NET_D && !cfg->projection) {
    g->label_planes = cfg->num_classes; /* D's first conv reads them: no table */
    return CLGAN_OK;
  }
  if (g->which == CLGAN_NET_G) {
    g->emb_dim = cfg->embed_dim;
  } else {
    /* h: the input of D's final conv, [8 ndf (at 64 px), batch, 4, 4] */
    g->proj_slot = g->nodes[g->nnodes - 1].in;
    g->emb_dim = g->slots[g->proj_slot].c;
  }
  clgan_tensor_desc *t = &g->tensors[g->ntensors++];
  snprintf(t->name, sizeof t->name, "label_emb.weight");
  t->ndim = 2;
  t->shape[0] = g->emb_rows;
  t->shape[1] = g->emb_dim;
  t->shape[2] = t->shape[3] = 0;
  t->count = (size_t)g->emb_rows * g->emb_dim;
  t->offset = g->emb_off = g->param_floats;
  t->is_param = 1;
  g->param_floats += t->count;
  return CLGAN_OK;
}
