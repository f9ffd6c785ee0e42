/* The seed's DCGAN built once: both graphs described and planned, their
 * parameter arenas, every device buffer a step needs; the initialisation,
 * the arenas' host copies and the model summary. The step is in step.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "train/dcgan_internal.h"
#include "train/rng.h"

clgan_dcgan_config clgan_dcgan_default_config(void) {
  clgan_dcgan_config c = {.image_size = 64,
                          .channels = 3,
                          .nz = 100,
                          .ngf = 64,
                          .ndf = 64,
                          .batch = 128,
                          .lr_g = 2e-4f,
                          .lr_d = 2e-4f,
                          .beta1 = 0.5f,
                          .beta2 = 0.999f,
                          .adam_eps = 1e-8f,
                          .bn_momentum = 0.1f,
                          .bn_eps = 1e-5f,
                          .lrelu_slope = 0.2f,
                          .ada_target = 0.6f};
  return c;
}

static size_t arena_size(const net_state *s, clgan_arena a) {
  if (a == CLGAN_ARENA_EMA) return s->has_ema ? s->g.param_floats : 0;
  return a == CLGAN_ARENA_STATS ? s->g.stats_floats : s->g.param_floats;
}

static clgan_status alloc(clgan_dcgan *d, size_t floats, clgan_buf *b) {
  clgan_status st = clgan_buf_alloc(d->ctx, floats, b);
  if (st == CLGAN_OK) d->device_bytes += (floats ? floats : 1) * sizeof(float);
  return st;
}

static clgan_status init_arenas(clgan_dcgan *d, net_state *s) {
  clgan_status st = CLGAN_OK;
  for (int a = 0; a < CLGAN_ARENA_COUNT && st == CLGAN_OK; a++) {
    st = alloc(d, arena_size(s, a), &s->arena[a]);
    if (st == CLGAN_OK) st = clgan_fill(d->ctx, s->arena[a], arena_size(s, a), 0.0f);
  }
  /* PyTorch starts running_var at 1 */
  for (int i = 0; i < s->g.nnodes && st == CLGAN_OK; i++) {
    const graph_node *n = &s->g.nodes[i];
    if (n->op == GRAPH_OP_BN_ACT)
      st = clgan_fill(d->ctx, clgan_buf_at(s->arena[CLGAN_ARENA_STATS], n->rvar_off),
                      (size_t)s->g.slots[n->out].c, 1.0f);
  }
  return st;
}

/* Both graphs planned, then the buffers they share: the conv workspace, the
 * gradient ping-pong (D's input gradient, an image, must fit), BN scratch. */
static clgan_status plan_model(clgan_dcgan *d) {
  const clgan_dcgan_config *cfg = &d->cfg;
  clgan_status st = CLGAN_OK;
  size_t col = 0, act = 0;
  int channels = 0;
  d->net[CLGAN_NET_G].has_ema = cfg->ema_decay > 0.0f;
  for (int w = 0; w < 2 && st == CLGAN_OK; w++) {
    graph *g = &d->net[w].g;
    st = graph_plan(d->ctx, g);
    d->device_bytes += g->device_bytes;
    if (g->col_floats > col) col = g->col_floats;
    if (g->max_act_floats > act) act = g->max_act_floats;
    if (g->max_channels > channels) channels = g->max_channels;
    if (st == CLGAN_OK) st = init_arenas(d, &d->net[w]);
  }
  if (st == CLGAN_OK) st = alloc(d, col, &d->col);
  if (st == CLGAN_OK) st = alloc(d, act, &d->grad_buf[0]);
  if (st == CLGAN_OK) st = alloc(d, act, &d->grad_buf[1]);
  if (st == CLGAN_OK) st = alloc(d, 2 * (size_t)channels, &d->discard);
  if (st == CLGAN_OK) st = alloc(d, LOSS_FLOATS, &d->loss);
  return st;
}

/* The buffers of the switches beyond the recipe (augmentation, nan_guard). */
static clgan_status plan_options(clgan_dcgan *d) {
  const clgan_dcgan_config *cfg = &d->cfg;
  clgan_status st = CLGAN_OK;
  if (cfg->augment) {
    size_t img = (size_t)cfg->channels * cfg->batch * cfg->image_size * cfg->image_size;
    st = alloc(d, img, &d->aug_x);
    if (st == CLGAN_OK)
      st = alloc(d, clgan_augment_work_floats(cfg->channels, cfg->batch, cfg->image_size,
                                              cfg->image_size), &d->aug_work);
    d->aug.p = cfg->ada ? 0.0f : 1.0f;
  }
  if (st == CLGAN_OK && cfg->nan_guard) {
    st = alloc(d, 2, &d->guard);
    for (int n = 0; n < 2 && st == CLGAN_OK; n++)
      st = alloc(d, d->net[n].g.stats_floats, &d->stats_backup[n]);
  }
  return st;
}

clgan_status clgan_dcgan_create(clgan_ctx *ctx, const clgan_dcgan_config *cfg, clgan_dcgan **out) {
  *out = NULL;
  clgan_dcgan *d = calloc(1, sizeof *d);
  if (!d) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  d->ctx = ctx;
  d->cfg = *cfg;
  clgan_status st = graph_describe(cfg, CLGAN_NET_G, &d->net[CLGAN_NET_G].g);
  if (st == CLGAN_OK) st = graph_describe(cfg, CLGAN_NET_D, &d->net[CLGAN_NET_D].g);
  if (st != CLGAN_OK) {
    free(d);
    return st;
  }
  st = plan_model(d);
  if (st == CLGAN_OK) st = plan_options(d);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  if (st != CLGAN_OK) {
    clgan_dcgan_destroy(d);
    return st;
  }
  *out = d;
  return CLGAN_OK;
}

void clgan_dcgan_destroy(clgan_dcgan *d) {
  if (!d) return;
  for (int n = 0; n < 2; n++) {
    graph_release(&d->net[n].g);
    for (int a = 0; a < CLGAN_ARENA_COUNT; a++) clgan_buf_release(&d->net[n].arena[a]);
  }
  clgan_buf_release(&d->col);
  clgan_buf_release(&d->grad_buf[0]);
  clgan_buf_release(&d->grad_buf[1]);
  clgan_buf_release(&d->discard);
  clgan_buf_release(&d->loss);
  clgan_buf_release(&d->guard);
  clgan_buf_release(&d->aug_x);
  clgan_buf_release(&d->aug_work);
  clgan_buf_release(&d->stats_backup[0]);
  clgan_buf_release(&d->stats_backup[1]);
  free(d);
}

const clgan_dcgan_config *clgan_dcgan_get_config(const clgan_dcgan *d) { return &d->cfg; }

void clgan_dcgan_tensors(const clgan_dcgan *d, clgan_net which, const clgan_tensor_desc **list,
                         int *count) {
  *list = d->net[which].g.tensors;
  *count = d->net[which].g.ntensors;
}

size_t clgan_dcgan_arena_floats(const clgan_dcgan *d, clgan_net which, clgan_arena arena) {
  return arena_size(&d->net[which], arena);
}

clgan_status clgan_dcgan_arena_read(clgan_dcgan *d, clgan_net which, clgan_arena arena,
                                    float *host) {
  return clgan_buf_read(d->ctx, d->net[which].arena[arena], host,
                        arena_size(&d->net[which], arena));
}

clgan_status clgan_dcgan_arena_write(clgan_dcgan *d, clgan_net which, clgan_arena arena,
                                     const float *host) {
  return clgan_buf_write(d->ctx, d->net[which].arena[arena], host,
                         arena_size(&d->net[which], arena));
}

clgan_status clgan_dcgan_init_weights(clgan_dcgan *d, uint64_t seed) {
  clgan_rng rng;
  clgan_rng_seed(&rng, seed);
  clgan_status st = CLGAN_OK;
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    net_state *s = &d->net[n];
    float *host = calloc(s->g.param_floats ? s->g.param_floats : 1, sizeof(float));
    if (!host) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    /* DCGAN init: conv weights N(0, 0.02); BN weight N(1, 0.02), bias 0. */
    for (int t = 0; t < s->g.ntensors; t++) {
      const clgan_tensor_desc *td = &s->g.tensors[t];
      if (!td->is_param) continue;
      if (td->ndim == 4)
        clgan_rng_normal(&rng, host + td->offset, td->count, 0.0f, 0.02f);
      else if (strstr(td->name, ".weight"))
        clgan_rng_normal(&rng, host + td->offset, td->count, 1.0f, 0.02f);
    }
    st = clgan_dcgan_arena_write(d, n, CLGAN_ARENA_PARAM, host);
    if (st == CLGAN_OK && s->has_ema) st = clgan_dcgan_arena_write(d, n, CLGAN_ARENA_EMA, host);
    free(host);
  }
  return st;
}

long clgan_dcgan_adam_steps(const clgan_dcgan *d, clgan_net which) {
  return d->net[which].adam_step;
}

void clgan_dcgan_set_adam_steps(clgan_dcgan *d, clgan_net which, long steps) {
  d->net[which].adam_step = steps;
}

size_t clgan_dcgan_device_bytes(const clgan_dcgan *d) { return d->device_bytes; }

clgan_augment_state clgan_dcgan_get_augment(const clgan_dcgan *d) { return d->aug; }
void clgan_dcgan_set_augment(clgan_dcgan *d, clgan_augment_state state) { d->aug = state; }

#define ADA_INTERVAL 4
#define ADA_KIMG 500000.0 /* images for p to go from 0 to 1 at full speed */

int clgan_ada_observe(clgan_augment_state *a, float rt, float target, int batch) {
  a->ada_sum += rt;
  if (++a->ada_count < ADA_INTERVAL) return 0;
  float mean = a->ada_sum / ADA_INTERVAL;
  double delta = (double)batch * ADA_INTERVAL / ADA_KIMG;
  double p = a->p + (mean > target ? delta : mean < target ? -delta : 0.0);
  a->p = (float)(p < 0 ? 0 : p > 1 ? 1 : p);
  a->ada_sum = 0;
  a->ada_count = 0;
  return 1;
}

static const char *act_name(clgan_act a) {
  switch (a) {
  case CLGAN_ACT_RELU: return " ReLU";
  case CLGAN_ACT_LEAKY_RELU: return " LeakyReLU(0.2)";
  case CLGAN_ACT_TANH: return " Tanh";
  case CLGAN_ACT_SIGMOID: return " Sigmoid";
  default: return "";
  }
}

/* One conv node and the BN / activation nodes after it, as a summary line. */
static int layer_info(const clgan_dcgan *d, clgan_net w, int first, clgan_layer_info *o) {
  const graph *g = &d->net[w].g;
  const graph_node *c = &g->nodes[first];
  const clgan_conv_shape *s = &c->shape;
  int bn = 0, last = first + 1;
  clgan_act act = CLGAN_ACT_NONE;
  for (; last < g->nnodes && g->nodes[last].layer == c->layer; last++) {
    bn |= g->nodes[last].op == GRAPH_OP_BN_ACT;
    act = g->nodes[last].act;
  }
  const graph_slot *in = &g->slots[c->in], *out = &g->slots[g->nodes[last - 1].out];
  o->net = w;
  /* D's last layer: its Sigmoid is computed inside the loss, from the logit */
  snprintf(o->desc, sizeof o->desc, "%s(%d, %d, %d, %d, %d)%s%s",
           graph_ops[c->op].name, in->c, out->c, s->k, s->stride, s->pad, bn ? " BN" : "",
           w == CLGAN_NET_D && last == g->nnodes ? " Sigmoid" : act_name(act));
  o->out_c = out->c;
  o->out_h = o->out_w = out->hw;
  o->params = (size_t)in->c * out->c * s->k * s->k + (bn ? 2u * out->c : 0u);
  o->flops = 2.0 * c->macs;
  size_t bytes = (size_t)out->c * d->cfg.batch * out->hw * out->hw * sizeof(float);
  o->device_bytes = bytes * (bn ? 2 : 1) + (bn ? 2 * sizeof(float) * (size_t)out->c : 0);
  return last;
}

int clgan_dcgan_layers(const clgan_dcgan *d, clgan_layer_info *out, int cap) {
  int count = 0;
  for (int w = 0; w < 2; w++) {
    const graph *g = &d->net[w].g;
    for (int i = 0; i < g->nnodes; count++) {
      clgan_layer_info scratch;
      i = layer_info(d, (clgan_net)w, i, count < cap ? &out[count] : &scratch);
    }
  }
  return count;
}

static double forward_flops(const graph *g) {
  double f = 0;
  for (int i = 0; i < g->nnodes; i++) f += 2.0 * g->nodes[i].macs;
  return f;
}

double clgan_dcgan_step_flops(const clgan_dcgan *d) {
  double g = forward_flops(&d->net[CLGAN_NET_G].g), dd = forward_flops(&d->net[CLGAN_NET_D].g);
  double d_first = 2.0 * d->net[CLGAN_NET_D].g.nodes[0].macs;
  /* D real: fwd + bwd (filter + data, but not the image's gradient);
   * G fwd; D fake: fwd + bwd likewise; D for G: fwd + data gradients only;
   * G bwd: filter + data, minus the noise's gradient (negligible). */
  double d_train = dd + (2 * dd - d_first);
  return d_train + g + d_train + (dd + dd) + 2 * g;
}

clgan_buf clgan_dcgan_fake(const clgan_dcgan *d) { return graph_output(&d->net[CLGAN_NET_G].g); }
