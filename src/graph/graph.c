/* Building the DCGAN layer graphs from a configuration, and running them
 * forward and backward over bound buffers. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

static void add_tensor(graph *g, int index, const char *field, int ndim, const int *shape,
                       size_t *arena, int is_param) {
  clgan_tensor_desc *t = &g->tensors[g->ntensors++];
  snprintf(t->name, sizeof t->name, "main.%d.%s", index, field);
  t->ndim = ndim;
  t->count = 1;
  for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 0;
  for (int i = 0; i < ndim; i++) t->count *= (size_t)shape[i];
  t->offset = *arena;
  t->is_param = is_param;
  *arena += t->count;
}

/* Appends conv (or convT) + optional BN at Sequential index idx; returns the
 * next free Sequential index. */
static int add_layer(graph *g, const clgan_dcgan_config *cfg, int idx, int transposed, int in_c,
                     int in_hw, int out_c, int k, int stride, int pad, int bn, clgan_act act,
                     clgan_status *st) {
  graph_layer *l = &g->layers[g->nlayers++];
  memset(l, 0, sizeof *l);
  l->transposed = transposed;
  l->in_c = in_c;
  l->in_hw = in_hw;
  l->out_c = out_c;
  l->bn = bn;
  l->act = act;
  if (transposed)
    *st = clgan_conv_shape_convt(cfg->batch, in_c, in_hw, in_hw, out_c, k, stride, pad, &l->shape);
  else
    *st = clgan_conv_shape_conv(cfg->batch, in_c, in_hw, in_hw, out_c, k, stride, pad, &l->shape);
  if (*st != CLGAN_OK) return idx;
  l->out_hw = transposed ? l->shape.h : l->shape.ho;
  int wshape[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, k, k};
  l->w_off = g->param_floats;
  add_tensor(g, idx, "weight", 4, wshape, &g->param_floats, 1);
  size_t out_px = (size_t)cfg->batch * (size_t)l->out_hw * (size_t)l->out_hw;
  size_t in_px = (size_t)cfg->batch * (size_t)in_hw * (size_t)in_hw;
  l->macs = (double)in_c * out_c * k * k * (double)(transposed ? in_px : out_px);
  size_t act_floats = (size_t)out_c * out_px;
  if (act_floats > g->max_act_floats) g->max_act_floats = act_floats;
  if (out_c > g->max_channels) g->max_channels = out_c;
  idx++;
  if (bn) {
    int cshape[1] = {out_c};
    l->gamma_off = g->param_floats;
    add_tensor(g, idx, "weight", 1, cshape, &g->param_floats, 1);
    l->beta_off = g->param_floats;
    add_tensor(g, idx, "bias", 1, cshape, &g->param_floats, 1);
    l->rmean_off = g->stats_floats;
    add_tensor(g, idx, "running_mean", 1, cshape, &g->stats_floats, 0);
    l->rvar_off = g->stats_floats;
    add_tensor(g, idx, "running_var", 1, cshape, &g->stats_floats, 0);
    idx++;
  }
  return idx + 1; /* every block ends in an activation module (D's Sigmoid too) */
}

clgan_status graph_build(const clgan_dcgan_config *cfg, clgan_net which, graph *g) {
  memset(g, 0, sizeof *g);
  g->which = which;
  int stages = 0;
  for (int s = cfg->image_size; s > 4 && s % 2 == 0; s /= 2) stages++;
  if (cfg->image_size < 8 || (4 << stages) != cfg->image_size || stages + 1 > GRAPH_MAX_LAYERS)
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
  clgan_status st = CLGAN_OK;
  int mult = 1 << (stages - 1), idx = 0;
  if (which == CLGAN_NET_G) {
    /* ConvT(nz, ngf*mult, 4, 1, 0) BN ReLU, then stride-2 stages halving widths. */
    int c = cfg->ngf * mult, hw = 4;
    idx = add_layer(g, cfg, idx, 1, cfg->nz, 1, c, 4, 1, 0, 1, CLGAN_ACT_RELU, &st);
    for (int s = 1; s < stages && st == CLGAN_OK; s++) {
      idx = add_layer(g, cfg, idx, 1, c, hw, c / 2, 4, 2, 1, 1, CLGAN_ACT_RELU, &st);
      c /= 2;
      hw *= 2;
    }
    if (st == CLGAN_OK)
      idx = add_layer(g, cfg, idx, 1, c, hw, cfg->channels, 4, 2, 1, 0, CLGAN_ACT_TANH, &st);
  } else {
    /* Conv(nc, ndf, 4, 2, 1) LReLU, stride-2 stages doubling widths with BN,
     * then Conv(ndf*mult, 1, 4, 1, 0) whose Sigmoid is folded into the loss. */
    int c = cfg->ndf, hw = cfg->image_size / 2;
    idx = add_layer(g, cfg, idx, 0, cfg->channels, cfg->image_size, c, 4, 2, 1, 0,
                    CLGAN_ACT_LEAKY_RELU, &st);
    for (int s = 1; s < stages && st == CLGAN_OK; s++) {
      idx = add_layer(g, cfg, idx, 0, c, hw, c * 2, 4, 2, 1, 1, CLGAN_ACT_LEAKY_RELU, &st);
      c *= 2;
      hw /= 2;
    }
    if (st == CLGAN_OK) idx = add_layer(g, cfg, idx, 0, c, hw, 1, 4, 1, 0, 0, CLGAN_ACT_NONE, &st);
  }
  return st;
}

static clgan_buf at(clgan_buf arena, size_t off) { return clgan_buf_at(arena, off); }

clgan_status graph_forward(const graph *g, const graph_pass *p, clgan_buf x) {
  clgan_status st = CLGAN_OK;
  clgan_buf in = x;
  for (int i = 0; i < g->nlayers && st == CLGAN_OK; i++) {
    const graph_layer *l = &g->layers[i];
    /* profiling region for clgan bench (no-op unless profiling) */
    clgan_profile_region(p->ctx, "%c%d fwd", g->which == CLGAN_NET_G ? 'G' : 'D', i + 1);
    clgan_buf w = at(p->params, l->w_off);
    st = l->transposed ? clgan_convt2d_forward(p->ctx, &l->plan, in, w, l->z, p->col)
                       : clgan_conv2d_forward(p->ctx, &l->plan, in, w, l->z, p->col);
    size_t m = (size_t)l->shape.n * l->out_hw * l->out_hw;
    if (st == CLGAN_OK && l->bn && p->bn_eval)
      st = clgan_batchnorm_forward_eval(p->ctx, l->out_c, m, l->z, at(p->params, l->gamma_off),
                                        at(p->params, l->beta_off), at(p->stats, l->rmean_off),
                                        at(p->stats, l->rvar_off), p->bn_eps, l->y, l->act,
                                        p->slope);
    else if (st == CLGAN_OK && l->bn)
      st = clgan_batchnorm_forward_train(p->ctx, l->out_c, m, l->z, at(p->params, l->gamma_off),
                                         at(p->params, l->beta_off), l->y, l->save_mean,
                                         l->save_invstd, at(p->stats, l->rmean_off),
                                         at(p->stats, l->rvar_off), p->bn_momentum, p->bn_eps,
                                         l->act, p->slope);
    else if (st == CLGAN_OK && l->act != CLGAN_ACT_NONE)
      st = clgan_act_forward(p->ctx, l->act, p->slope, (size_t)l->out_c * m, l->z, l->y);
    in = l->y;
  }
  return st;
}

clgan_status graph_backward(const graph *g, const graph_pass *p, clgan_buf x, int *cur,
                            int param_grads, int accumulate, int input_grad) {
  clgan_status st = CLGAN_OK;
  for (int i = g->nlayers - 1; i >= 0 && st == CLGAN_OK; i--) {
    const graph_layer *l = &g->layers[i];
    /* profiling region for clgan bench (no-op unless profiling) */
    clgan_profile_region(p->ctx, "%c%d bwd", g->which == CLGAN_NET_G ? 'G' : 'D', i + 1);
    size_t m = (size_t)l->shape.n * l->out_hw * l->out_hw;
    clgan_buf dy = p->grad_buf[*cur];
    if (l->bn) {
      /* BN's backward applies its activation's derivative as it reads dy
       * (one pass less). Its input gradient goes to the other buffer; its
       * parameter gradients go to the arena, or to scratch when not wanted. */
      clgan_buf dz = p->grad_buf[1 - *cur];
      clgan_buf dgamma = param_grads ? at(p->grads, l->gamma_off) : p->discard;
      clgan_buf dbeta = param_grads ? at(p->grads, l->beta_off) : at(p->discard, l->out_c);
      st = clgan_batchnorm_backward(p->ctx, l->out_c, m, l->z, l->y, dy,
                                    at(p->params, l->gamma_off), l->save_mean, l->save_invstd,
                                    dz, dgamma, dbeta, param_grads ? accumulate : 0, l->act,
                                    p->slope);
      *cur = 1 - *cur;
      dy = dz;
    } else if (l->act != CLGAN_ACT_NONE) {
      st = clgan_act_backward(p->ctx, l->act, p->slope, (size_t)l->out_c * m, l->y, dy, dy);
    }
    clgan_buf in = i > 0 ? g->layers[i - 1].y : x;
    clgan_buf w = at(p->params, l->w_off);
    if (st == CLGAN_OK && param_grads)
      st = l->transposed ? clgan_convt2d_backward_filter(p->ctx, &l->plan, in, dy,
                                                         at(p->grads, l->w_off), p->col, accumulate)
                         : clgan_conv2d_backward_filter(p->ctx, &l->plan, in, dy,
                                                        at(p->grads, l->w_off), p->col, accumulate);
    if (st == CLGAN_OK && (i > 0 || input_grad)) {
      clgan_buf dx = p->grad_buf[1 - *cur];
      st = l->transposed ? clgan_convt2d_backward_data(p->ctx, &l->plan, dy, w, dx, p->col)
                         : clgan_conv2d_backward_data(p->ctx, &l->plan, dy, w, dx, p->col);
      *cur = 1 - *cur;
    }
  }
  return st;
}
