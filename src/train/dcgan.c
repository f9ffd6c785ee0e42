/* The seed's DCGAN built once: both graphs described and planned, their
 * parameter arenas, every device buffer a step needs; the initialisation,
 * the arenas' host copies and the model summary. The step is in step.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "clgan/dist.h"
#include "clgan/rng.h"
#include "train/dcgan_internal.h"

static size_t arena_size(const net_state *s, clgan_arena a) {
  if (a == CLGAN_ARENA_EMA) return s->has_ema ? s->g.param_floats : 0;
  if (a == CLGAN_ARENA_EMA_STATS) return s->has_ema ? s->g.stats_floats : 0;
  return a == CLGAN_ARENA_STATS ? s->g.stats_floats : s->g.param_floats;
}

/* The model's own buffers as the plan sizes them: every one is listed here
 * first, its total compared with the device, then all are allocated. */
#define MODEL_MAX_BUFFERS (2 * CLGAN_ARENA_COUNT + 15 + DCGAN_REG_MAX_BUFFERS)
typedef struct buffer_plan {
  int count;
  clgan_buf *buf[MODEL_MAX_BUFFERS];
  size_t floats[MODEL_MAX_BUFFERS];
} buffer_plan;

static void request(buffer_plan *bp, clgan_buf *b, size_t floats) {
  bp->buf[bp->count] = b;
  bp->floats[bp->count++] = floats;
}

/* The shared buffers: the conv workspace, the gradient ping-pong (D's input
 * gradient, an image, fits: it is D's slot 0), BN scratch, the losses, and
 * those of the switches beyond the recipe (augmentation, nan_guard). */
static void list_buffers(clgan_dcgan *d, buffer_plan *bp) {
  const clgan_dcgan_config *cfg = &d->cfg;
  size_t col = 0, act = 0;
  int channels = 0;
  for (int w = 0; w < 2; w++) {
    net_state *s = &d->net[w];
    for (int a = 0; a < CLGAN_ARENA_COUNT; a++) request(bp, &s->arena[a], arena_size(s, a));
    if (s->g.col_floats > col) col = s->g.col_floats;
    if (s->g.max_act_floats > act) act = s->g.max_act_floats;
    if (s->g.max_channels > channels) channels = s->g.max_channels;
  }
  request(bp, &d->col, col);
  request(bp, &d->grad_buf[0], act);
  request(bp, &d->grad_buf[1], act);
  request(bp, &d->discard, 2 * (size_t)channels);
  request(bp, &d->loss, LOSS_FLOATS);
  if (d->ranks > 1) request(bp, &d->bn_sums, 2 * (size_t)channels);
  if (cfg->augment) {
    request(bp, &d->aug_x, (size_t)cfg->channels * cfg->batch * cfg->image_size * cfg->image_size);
    request(bp, &d->aug_work, clgan_augment_work_floats(cfg->channels, cfg->batch,
                                                        cfg->image_size, cfg->image_size));
  }
  if (d->net[CLGAN_NET_G].has_ema) request(bp, &d->ema_noise, (size_t)cfg->nz * cfg->batch);
  if (cfg->conditional) { /* z' = [z; E_g[y]] and the labels of unlabelled generation */
    request(bp, &d->cond.z_in, (size_t)graph_g_input_channels(cfg) * cfg->batch);
    request(bp, &d->cond.cycle_labels, (size_t)cfg->batch);
  }
  if (cfg->conditional && !cfg->projection) /* D's input [x; one-hot planes] */
    request(bp, &d->cond.d_in, (size_t)graph_d_input_channels(cfg) * cfg->batch *
                                   cfg->image_size * cfg->image_size);
  if (cfg->nan_guard) {
    request(bp, &d->guard, 2);
    for (int n = 0; n < 2; n++) request(bp, &d->stats_backup[n], d->net[n].g.stats_floats);
  }
  clgan_buf *reg[DCGAN_REG_MAX_BUFFERS];
  size_t reg_floats[DCGAN_REG_MAX_BUFFERS];
  for (int i = 0, n = dcgan_reg_buffers(d, reg, reg_floats); i < n; i++)
    request(bp, reg[i], reg_floats[i]);
}

/* Bytes of every buffer the model allocates, and the largest one. */
static void model_bytes(const clgan_dcgan *d, const buffer_plan *bp, size_t *total, size_t *largest) {
  *total = *largest = 0;
  for (int i = 0; i < bp->count; i++) {
    size_t bytes = (bp->floats[i] ? bp->floats[i] : 1) * sizeof(float);
    *total += bytes;
    if (bytes > *largest) *largest = bytes;
  }
  for (int w = 0; w < 2; w++) {
    *total += d->net[w].g.device_bytes;
    size_t slot = d->net[w].g.max_act_floats * sizeof(float);
    if (slot > *largest) *largest = slot;
  }
  *total += dcgan_reg_graph_bytes(d); /* bCR's second set of D's slots */
}

/* Describes and plans both graphs of cfg on ctx, and lists their buffers. */
static clgan_status plan_model(clgan_dcgan *d, buffer_plan *bp) {
  clgan_status st = CLGAN_OK;
  d->net[CLGAN_NET_G].has_ema = d->cfg.ema_decay > 0.0f;
  for (int w = 0; w < 2 && st == CLGAN_OK; w++) {
    st = graph_describe(&d->cfg, (clgan_net)w, &d->net[w].g);
    /* D's weights serve three passes per update (real, fake, the G step) */
    d->net[w].g.keep_weights = w == CLGAN_NET_D;
    if (st == CLGAN_OK) st = graph_plan(d->ctx, &d->net[w].g);
  }
  if (st == CLGAN_OK) st = dcgan_reg_plan(d);
  bp->count = 0;
  if (st == CLGAN_OK) list_buffers(d, bp);
  return st;
}

/* Whether the model of cfg, planned on ctx, fits the device's memory. */
static clgan_status fits(clgan_ctx *ctx, const clgan_dcgan_config *cfg, clgan_dcgan *scratch,
                         int *ok) {
  memset(scratch, 0, sizeof *scratch);
  scratch->ctx = ctx;
  scratch->cfg = *cfg;
  buffer_plan bp;
  clgan_status st = plan_model(scratch, &bp);
  size_t total, largest;
  model_bytes(scratch, &bp, &total, &largest);
  const clgan_device_info *dev = clgan_ctx_device(ctx);
  *ok = st == CLGAN_OK && total <= dev->global_mem_bytes && largest <= dev->max_alloc_bytes;
  return st;
}

/* The model does not fit: the largest batch that would, found by bisection
 * (memory grows with the batch), or 0. */
static int largest_batch(clgan_ctx *ctx, const clgan_dcgan_config *cfg) {
  clgan_dcgan *scratch = malloc(sizeof *scratch);
  if (!scratch) return 0;
  clgan_dcgan_config c = *cfg;
  int lo = 1, hi = cfg->batch; /* lo: fits or is the floor; hi: does not fit */
  while (hi - lo > 1) {
    int ok = 0;
    c.batch = lo + (hi - lo) / 2;
    if (fits(ctx, &c, scratch, &ok) != CLGAN_OK) break;
    if (ok) lo = c.batch;
    else hi = c.batch;
  }
  int ok = 0;
  c.batch = lo;
  int found = lo >= 2 && fits(ctx, &c, scratch, &ok) == CLGAN_OK && ok ? lo : 0;
  free(scratch);
  return found;
}

/* Refuses, before anything is allocated, a model the device cannot hold. */
static clgan_status check_memory(clgan_dcgan *d, const buffer_plan *bp) {
  size_t total, largest;
  model_bytes(d, bp, &total, &largest);
  const clgan_device_info *dev = clgan_ctx_device(d->ctx);
  if (total <= dev->global_mem_bytes && largest <= dev->max_alloc_bytes) return CLGAN_OK;
  int batch = largest_batch(d->ctx, &d->cfg);
  char fit[96] = "no batch of 2 or more images fits";
  if (batch > 0) snprintf(fit, sizeof fit, "a batch of %d images would fit", batch);
  const double mib = 1024.0 * 1024.0;
  return clgan_fail(CLGAN_ERR_DEVICE_MEMORY,
                    "the model needs %.0f MiB of device memory (largest buffer %.0f MiB) but %s "
                    "has %.0f MiB (largest allocation %.0f MiB) at batch %d; %s",
                    total / mib, largest / mib, dev->name, dev->global_mem_bytes / mib,
                    dev->max_alloc_bytes / mib, d->cfg.batch, fit);
}

/* Allocates what the plan listed, zeroes the arenas; PyTorch starts
 * running_var at 1. */
static clgan_status alloc_model(clgan_dcgan *d, const buffer_plan *bp) {
  clgan_status st = CLGAN_OK;
  for (int w = 0; w < 2 && st == CLGAN_OK; w++) st = graph_alloc(d->ctx, &d->net[w].g);
  for (int i = 0; i < bp->count && st == CLGAN_OK; i++) {
    st = clgan_buf_alloc(d->ctx, bp->floats[i], bp->buf[i]);
    if (st == CLGAN_OK) st = clgan_fill(d->ctx, *bp->buf[i], bp->floats[i], 0.0f);
  }
  for (int w = 0; w < 2; w++) {
    const graph *g = &d->net[w].g;
    for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++)
      if (g->nodes[i].op == GRAPH_OP_BN_ACT)
        for (int a = CLGAN_ARENA_STATS; a <= CLGAN_ARENA_EMA_STATS && st == CLGAN_OK; a++)
          if (a != CLGAN_ARENA_EMA && arena_size(&d->net[w], (clgan_arena)a) > 0)
            st = clgan_fill(d->ctx, clgan_buf_at(d->net[w].arena[a], g->nodes[i].rvar_off),
                            (size_t)g->slots[g->nodes[i].out].c, 1.0f);
  }
  if (st == CLGAN_OK) st = dcgan_reg_alloc(d);
  return st;
}

/* The fixed noise of the averaged generator's statistics: its own seed, so
 * they depend on the averaged weights alone. */
static clgan_status ema_noise(clgan_dcgan *d) {
  if (!d->net[CLGAN_NET_G].has_ema) return CLGAN_OK;
  size_t n = (size_t)CLGAN_EMA_STATS_BATCHES * d->cfg.nz * d->cfg.batch;
  if (!(d->ema_noise_host = malloc(n * sizeof(float))))
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  d->net[CLGAN_NET_G].ema_stats_stale = 1;
  if (d->ranks > 1) return dcgan_dist_ema_noise(d, d->ema_noise_host);
  clgan_rng rng;
  clgan_rng_seed(&rng, CLGAN_EMA_STATS_SEED);
  clgan_rng_normal(&rng, d->ema_noise_host, n, 0.0f, 1.0f);
  return CLGAN_OK;
}

/* The plans of the step's ops outside the graphs: loss, Adam, the guard, the
 * average, the augmentation and ADA (p starts at 1 for DiffAugment, 0 for
 * ADA). */
static clgan_status plan_step_ops(clgan_dcgan *d) {
  const clgan_dcgan_config *cfg = &d->cfg;
  clgan_status st = clgan_bce_plan_make(d->ctx, (size_t)cfg->batch, &d->bce);
  if (st == CLGAN_OK) st = clgan_adam_plan_make(d->ctx, cfg->nan_guard, &d->adam);
  if (st == CLGAN_OK && cfg->nan_guard) st = clgan_guard_plan_make(d->ctx, &d->guard_plan);
  if (st == CLGAN_OK && d->net[CLGAN_NET_G].has_ema) st = clgan_ema_plan_make(d->ctx, &d->ema);
  if (st == CLGAN_OK && cfg->conditional) st = cond_plan(d);
  if (st != CLGAN_OK) return st;
  if (cfg->ada) st = clgan_ada_plan_make(d->ctx, cfg->batch, cfg->ada_target, &d->ada_plan);
  if (st != CLGAN_OK || !cfg->augment) return st;
  st = clgan_augment_plan_make(d->ctx, cfg->augment, cfg->channels, cfg->batch, cfg->image_size,
                               cfg->image_size, &d->aug_plan);
  clgan_augment_state a0 = {.p = cfg->ada ? 0.0f : 1.0f};
  if (st == CLGAN_OK) st = clgan_dcgan_set_augment(d, &a0);
  return st;
}

clgan_status clgan_dcgan_create(clgan_ctx *ctx, const clgan_dcgan_config *cfg, clgan_dcgan **out) {
  return dcgan_create_with(ctx, cfg, NULL, out);
}

clgan_status dcgan_create_with(clgan_ctx *ctx, const clgan_dcgan_config *cfg,
                               struct clgan_dist *dist, clgan_dcgan **out) {
  *out = NULL;
  clgan_dcgan *d = calloc(1, sizeof *d);
  if (!d) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  d->ctx = ctx;
  d->cfg = *cfg;
  d->dist = dist;
  d->ranks = clgan_dist_size(dist);
  d->grad_scale = d->ranks > 1 ? 1.0f / (float)d->ranks : 1.0f;
  buffer_plan bp;
  clgan_status st = plan_model(d, &bp);
  if (st == CLGAN_OK) st = check_memory(d, &bp);
  if (st == CLGAN_OK) st = alloc_model(d, &bp);
  if (st == CLGAN_OK) st = ema_noise(d);
  if (st == CLGAN_OK) st = plan_step_ops(d);
  if (st == CLGAN_OK) model_bytes(d, &bp, &d->device_bytes, &(size_t){0});
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
  dcgan_stats_release(d);
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
  clgan_buf_release(&d->ema_noise);
  dcgan_reg_release(d);
  clgan_buf_release(&d->bn_sums);
  cond_release(d);
  free(d->ema_noise_host);
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
  if (arena == CLGAN_ARENA_EMA_STATS) {
    clgan_status st = dcgan_ema_stats(d);
    if (st != CLGAN_OK) return st;
  }
  return clgan_buf_read(d->ctx, d->net[which].arena[arena], host,
                        arena_size(&d->net[which], arena));
}

clgan_status clgan_dcgan_arena_write(clgan_dcgan *d, clgan_net which, clgan_arena arena,
                                     const float *host) {
  if (arena == CLGAN_ARENA_EMA) d->net[which].ema_stats_stale = 1;
  if (arena == CLGAN_ARENA_PARAM) d->net[which].param_version = ++d->params_clock;
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
      else if (td->ndim == 2) /* the conditional model's class tables */
        cond_init_table(td, (clgan_net)n, &rng, host);
      else if (strstr(td->name, ".weight"))
        clgan_rng_normal(&rng, host + td->offset, td->count, 1.0f, 0.02f);
    }
    st = clgan_dcgan_arena_write(d, n, CLGAN_ARENA_PARAM, host);
    if (st == CLGAN_OK && s->has_ema) st = clgan_dcgan_arena_write(d, n, CLGAN_ARENA_EMA, host);
    free(host);
  }
  if (st == CLGAN_OK) st = dcgan_reg_init(d, seed); /* spectral norm's u, v; LeCam unset */
  return st;
}

long clgan_dcgan_adam_steps(const clgan_dcgan *d, clgan_net which) {
  return d->net[which].adam_step;
}

void clgan_dcgan_set_adam_steps(clgan_dcgan *d, clgan_net which, long steps) {
  d->net[which].adam_step = steps;
}

size_t clgan_dcgan_device_bytes(const clgan_dcgan *d) { return d->device_bytes; }

clgan_status clgan_dcgan_get_augment(clgan_dcgan *d, clgan_augment_state *out) {
  float dev[CLGAN_ADA_STATE_FLOATS];
  clgan_status st = clgan_buf_read(d->ctx, clgan_buf_at(d->loss, LOSS_ADA), dev,
                                   CLGAN_ADA_STATE_FLOATS);
  if (st != CLGAN_OK) return st;
  *out = d->aug;
  clgan_ada_state_unpack(dev, out);
  return CLGAN_OK;
}

clgan_status clgan_dcgan_set_augment(clgan_dcgan *d, const clgan_augment_state *a) {
  if (!(a->p >= 0.0f && a->p <= 1.0f) || a->ada_count < 0)
    return clgan_fail(CLGAN_ERR_INVALID, "augmentation state: p %g, ADA count %d", (double)a->p,
                      a->ada_count);
  float dev[CLGAN_ADA_STATE_FLOATS];
  clgan_ada_state_pack(a, dev);
  clgan_status st = clgan_buf_write(d->ctx, clgan_buf_at(d->loss, LOSS_ADA), dev,
                                    CLGAN_ADA_STATE_FLOATS);
  if (st == CLGAN_OK) d->aug = *a;
  return st;
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
