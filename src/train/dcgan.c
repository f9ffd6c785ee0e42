/* The seed's DCGAN: both layer graphs, their parameter arenas, every device
 * buffer a step needs (allocated once here), and the training step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/augment.h"
#include "graph/graph.h"
#include "runtime/internal.h"
#include "train/rng.h"

typedef struct net_state {
  graph g;
  clgan_buf arena[CLGAN_ARENA_COUNT]; /* PARAM, GRAD, ADAM_M, ADAM_V: param_floats; STATS */
  long adam_step;
  int has_ema;
} net_state;

struct clgan_dcgan {
  clgan_ctx *ctx;
  clgan_dcgan_config cfg;
  net_state net[2];
  clgan_buf col;         /* [max col floats] shared im2col workspace */
  clgan_buf grad_buf[2]; /* [max activation floats] ping-pong gradients */
  clgan_buf discard;     /* [2 * max channels] BN gradients not wanted */
  clgan_buf loss;        /* [7] errD_real, D(x), errD_fake, D(G(z1)), errG, D(G(z2)),
                            mean sign of D's logits on real */
  clgan_buf guard;       /* [2] nan_guard flags: D, G gradients not finite */
  clgan_buf aug_x;       /* [c, batch, s, s] the augmented D input (augment != 0) */
  clgan_buf aug_work;    /* per-image augmentation parameters of the last call */
  clgan_augment_state aug;
  clgan_buf stats_backup[2]; /* nan_guard: running statistics before the step */
  size_t device_bytes;
};

static size_t arena_size(const net_state *s, clgan_arena a) {
  if (a == CLGAN_ARENA_EMA) return s->has_ema ? s->g.param_floats : 0;
  return a == CLGAN_ARENA_STATS ? s->g.stats_floats : s->g.param_floats;
}

static clgan_status alloc(clgan_dcgan *d, size_t floats, clgan_buf *b) {
  clgan_status st = clgan_buf_alloc(d->ctx, floats, b);
  if (st == CLGAN_OK) d->device_bytes += (floats ? floats : 1) * sizeof(float);
  return st;
}

static clgan_status bind_layers(clgan_dcgan *d, graph *g) {
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < g->nlayers && st == CLGAN_OK; i++) {
    graph_layer *l = &g->layers[i];
    size_t floats = (size_t)l->out_c * d->cfg.batch * l->out_hw * l->out_hw;
    st = alloc(d, floats, &l->z);
    if (st == CLGAN_OK && l->bn) st = alloc(d, floats, &l->y);
    if (st == CLGAN_OK && l->bn) st = alloc(d, (size_t)l->out_c, &l->save_mean);
    if (st == CLGAN_OK && l->bn) st = alloc(d, (size_t)l->out_c, &l->save_invstd);
    if (!l->bn) l->y = l->z; /* activation applied in place */
  }
  return st;
}

static clgan_status init_arenas(clgan_dcgan *d, net_state *s) {
  clgan_status st = CLGAN_OK;
  for (int a = 0; a < CLGAN_ARENA_COUNT && st == CLGAN_OK; a++) {
    st = alloc(d, arena_size(s, a), &s->arena[a]);
    if (st == CLGAN_OK) st = clgan_fill(d->ctx, s->arena[a], arena_size(s, a), 0.0f);
  }
  /* PyTorch starts running_var at 1 */
  for (int l = 0; l < s->g.nlayers && st == CLGAN_OK; l++)
    if (s->g.layers[l].bn)
      st = clgan_fill(d->ctx, clgan_buf_at(s->arena[CLGAN_ARENA_STATS], s->g.layers[l].rvar_off),
                      (size_t)s->g.layers[l].out_c, 1.0f);
  return st;
}

clgan_status clgan_dcgan_create(clgan_ctx *ctx, const clgan_dcgan_config *cfg, clgan_dcgan **out) {
  *out = NULL;
  clgan_dcgan *d = calloc(1, sizeof *d);
  if (!d) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  d->ctx = ctx;
  d->cfg = *cfg;
  clgan_status st = graph_build(cfg, CLGAN_NET_G, &d->net[CLGAN_NET_G].g);
  if (st == CLGAN_OK) st = graph_build(cfg, CLGAN_NET_D, &d->net[CLGAN_NET_D].g);
  if (st != CLGAN_OK) {
    free(d);
    return st;
  }
  const graph *g = &d->net[CLGAN_NET_G].g, *dg = &d->net[CLGAN_NET_D].g;
  /* the conv core's column workspace as this device needs it (on CPUs far
   * less than the largest column matrix: see clgan_conv_col_need) */
  size_t max_col = 0;
  for (int n = 0; n < 2 && st == CLGAN_OK; n++)
    for (int i = 0; i < d->net[n].g.nlayers && st == CLGAN_OK; i++) {
      size_t need = 0;
      st = clgan_conv_col_need(ctx, &d->net[n].g.layers[i].shape, &need);
      if (need > max_col) max_col = need;
    }
  size_t max_act = g->max_act_floats > dg->max_act_floats ? g->max_act_floats : dg->max_act_floats;
  /* D's input gradient (the image) must fit too */
  size_t img = (size_t)cfg->channels * cfg->batch * cfg->image_size * cfg->image_size;
  if (img > max_act) max_act = img;
  int max_c = g->max_channels > dg->max_channels ? g->max_channels : dg->max_channels;
  d->net[CLGAN_NET_G].has_ema = cfg->ema_decay > 0.0f;
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    st = bind_layers(d, &d->net[n].g);
    if (st == CLGAN_OK) st = init_arenas(d, &d->net[n]);
  }
  if (st == CLGAN_OK) st = alloc(d, max_col, &d->col);
  if (st == CLGAN_OK) st = alloc(d, max_act, &d->grad_buf[0]);
  if (st == CLGAN_OK) st = alloc(d, max_act, &d->grad_buf[1]);
  if (st == CLGAN_OK) st = alloc(d, 2 * (size_t)max_c, &d->discard);
  if (st == CLGAN_OK) st = alloc(d, 7, &d->loss);
  if (st == CLGAN_OK && cfg->augment) {
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
    graph *g = &d->net[n].g;
    for (int i = 0; i < g->nlayers; i++) {
      graph_layer *l = &g->layers[i];
      if (l->y.mem == l->z.mem) l->y.mem = NULL;
      clgan_buf_release(&l->z);
      clgan_buf_release(&l->y);
      clgan_buf_release(&l->save_mean);
      clgan_buf_release(&l->save_invstd);
    }
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

int clgan_dcgan_layers(const clgan_dcgan *d, clgan_layer_info *out, int cap) {
  int n = 0;
  for (int w = 0; w < 2; w++) {
    const graph *g = &d->net[w].g;
    for (int i = 0; i < g->nlayers; i++, n++) {
      if (n >= cap) continue;
      const graph_layer *l = &g->layers[i];
      clgan_layer_info *o = &out[n];
      o->net = (clgan_net)w;
      /* D's last layer: its Sigmoid is computed inside the loss, from the logit */
      snprintf(o->desc, sizeof o->desc, "%s(%d, %d, %d, %d, %d)%s%s",
               l->transposed ? "ConvTranspose2d" : "Conv2d", l->in_c, l->out_c, l->shape.k,
               l->shape.stride, l->shape.pad, l->bn ? " BN" : "",
               w == CLGAN_NET_D && i == g->nlayers - 1 ? " Sigmoid" : act_name(l->act));
      o->out_c = l->out_c;
      o->out_h = o->out_w = l->out_hw;
      o->params = (size_t)l->in_c * l->out_c * l->shape.k * l->shape.k + (l->bn ? 2u * l->out_c : 0u);
      o->flops = 2.0 * l->macs;
      size_t act = (size_t)l->out_c * d->cfg.batch * l->out_hw * l->out_hw * sizeof(float);
      o->device_bytes = act * (l->bn ? 2 : 1) + (l->bn ? 2 * sizeof(float) * (size_t)l->out_c : 0);
    }
  }
  return n;
}

double clgan_dcgan_step_flops(const clgan_dcgan *d) {
  double g = 0, dd = 0, d_first = 0;
  for (int i = 0; i < d->net[CLGAN_NET_G].g.nlayers; i++) g += 2.0 * d->net[CLGAN_NET_G].g.layers[i].macs;
  for (int i = 0; i < d->net[CLGAN_NET_D].g.nlayers; i++) dd += 2.0 * d->net[CLGAN_NET_D].g.layers[i].macs;
  d_first = 2.0 * d->net[CLGAN_NET_D].g.layers[0].macs;
  /* D real: fwd + bwd (filter + data, but not the image's gradient);
   * G fwd; D fake: fwd + bwd likewise; D for G: fwd + data gradients only;
   * G bwd: filter + data, minus the noise's gradient (negligible). */
  double d_train = dd + (2 * dd - d_first);
  return d_train + g + d_train + (dd + dd) + 2 * g;
}

clgan_buf clgan_dcgan_fake(const clgan_dcgan *d) {
  const graph *g = &d->net[CLGAN_NET_G].g;
  return g->layers[g->nlayers - 1].y;
}

static graph_pass pass_for(clgan_dcgan *d, clgan_net which) {
  net_state *s = &d->net[which];
  graph_pass p = {.ctx = d->ctx,
                  .params = s->arena[CLGAN_ARENA_PARAM],
                  .grads = s->arena[CLGAN_ARENA_GRAD],
                  .stats = s->arena[CLGAN_ARENA_STATS],
                  .col = d->col,
                  .grad_buf = {d->grad_buf[0], d->grad_buf[1]},
                  .discard = d->discard,
                  .bn_momentum = d->cfg.bn_momentum,
                  .bn_eps = d->cfg.bn_eps,
                  .slope = d->cfg.lrelu_slope};
  return p;
}

/* D's input: x itself, or x augmented with fresh randomness (the augmented
 * batch and its parameters stay for the backward of this pass). */
static clgan_status d_input(clgan_dcgan *d, clgan_buf x, clgan_buf *in) {
  *in = x;
  if (!d->cfg.augment) return CLGAN_OK;
  const clgan_dcgan_config *c = &d->cfg;
  clgan_profile_region(d->ctx, "augment");
  *in = d->aug_x;
  return clgan_augment_forward(d->ctx, c->augment, d->aug.p, d->aug.seed, d->aug.counter++,
                               c->channels, c->batch, c->image_size, c->image_size, x, d->aug_x,
                               d->aug_work);
}

/* D forward on its input, then BCE of its logits against target into
 * loss[slot..slot+1] with the logit gradient in grad_buf[0]. */
static clgan_status d_forward_loss(clgan_dcgan *d, const graph_pass *p, clgan_buf in, float target,
                                   int slot) {
  const graph *dg = &d->net[CLGAN_NET_D].g;
  clgan_status st = graph_forward(dg, p, in);
  if (st != CLGAN_OK) return st;
  clgan_profile_region(d->ctx, "loss"); /* profiling region for clgan bench */
  return clgan_bce_logits(d->ctx, (size_t)d->cfg.batch, dg->layers[dg->nlayers - 1].z, target,
                          clgan_buf_at(d->loss, (size_t)slot), d->grad_buf[0], 1.0f);
}

static clgan_status adam(clgan_dcgan *d, clgan_net which, float lr) {
  net_state *s = &d->net[which];
  clgan_adam_params ap = {lr, d->cfg.beta1, d->cfg.beta2, d->cfg.adam_eps};
  s->adam_step++;
  /* profiling region for clgan bench (no-op unless profiling) */
  clgan_profile_region(d->ctx, which == CLGAN_NET_G ? "G update" : "D update");
  if (!d->cfg.nan_guard)
    return clgan_adam_step(d->ctx, &ap, s->adam_step, s->g.param_floats,
                           s->arena[CLGAN_ARENA_PARAM], s->arena[CLGAN_ARENA_GRAD],
                           s->arena[CLGAN_ARENA_ADAM_M], s->arena[CLGAN_ARENA_ADAM_V]);
  /* the guard: flag non-finite gradients, and the update skips itself */
  clgan_buf flag = clgan_buf_at(d->guard, (size_t)which);
  clgan_status st = clgan_nonfinite_flag(d->ctx, s->g.param_floats, s->arena[CLGAN_ARENA_GRAD], flag);
  if (st != CLGAN_OK) return st;
  return clgan_adam_step_guarded(d->ctx, &ap, s->adam_step, s->g.param_floats,
                                 s->arena[CLGAN_ARENA_PARAM], s->arena[CLGAN_ARENA_GRAD],
                                 s->arena[CLGAN_ARENA_ADAM_M], s->arena[CLGAN_ARENA_ADAM_V], flag);
}

/* nan_guard, after the step: read the flags; a skipped update keeps its Adam
 * step count, and the running statistics of the step are restored. */
static clgan_status guard_finish(clgan_dcgan *d, int *skipped) {
  float flags[2];
  clgan_status st = clgan_buf_read(d->ctx, d->guard, flags, 2);
  *skipped = 0;
  for (int which = 0; which < 2 && st == CLGAN_OK; which++) {
    if (flags[which] == 0.0f) continue;
    *skipped |= which == CLGAN_NET_D ? 1 : 2;
    d->net[which].adam_step--;
    st = clgan_copy(d->ctx, d->stats_backup[which], d->net[which].arena[CLGAN_ARENA_STATS],
                    d->net[which].g.stats_floats);
  }
  return st;
}

clgan_status clgan_dcgan_generate(clgan_dcgan *d, clgan_buf noise, clgan_bn_mode mode) {
  graph_pass pg = pass_for(d, CLGAN_NET_G);
  if (d->net[CLGAN_NET_G].has_ema) pg.params = d->net[CLGAN_NET_G].arena[CLGAN_ARENA_EMA];
  pg.bn_eval = mode == CLGAN_BN_RUNNING;
  pg.bn_momentum = 0.0f; /* batch statistics without touching the running ones */
  return graph_forward(&d->net[CLGAN_NET_G].g, &pg, noise);
}

clgan_status clgan_dcgan_step(clgan_dcgan *d, clgan_buf real, clgan_buf noise,
                              clgan_dcgan_stats *stats) {
  graph_pass pd = pass_for(d, CLGAN_NET_D), pg = pass_for(d, CLGAN_NET_G);
  const graph *gg = &d->net[CLGAN_NET_G].g, *dg = &d->net[CLGAN_NET_D].g;
  clgan_buf fake = clgan_dcgan_fake(d);
  int cur = 0;
  clgan_status st = CLGAN_OK;
  for (int n = 0; n < 2 && d->cfg.nan_guard && st == CLGAN_OK; n++)
    st = clgan_copy(d->ctx, d->net[n].arena[CLGAN_ARENA_STATS], d->stats_backup[n],
                    d->net[n].g.stats_floats);
  /* D step: real (label 1, or 1 - label_smooth) then fake.detach() (label 0),
   * gradients summed. Every D input goes through the augmentation when on. */
  clgan_buf in = real;
  const clgan_buf logits = dg->layers[dg->nlayers - 1].z;
  if (st == CLGAN_OK) st = d_input(d, real, &in);
  if (st == CLGAN_OK) st = d_forward_loss(d, &pd, in, 1.0f - d->cfg.label_smooth, 0);
  if (st == CLGAN_OK && d->cfg.ada)
    st = clgan_sign_mean(d->ctx, (size_t)d->cfg.batch, logits, clgan_buf_at(d->loss, 6));
  if (st == CLGAN_OK) st = graph_backward(dg, &pd, in, &cur, 1, 0, 0);
  if (st == CLGAN_OK) st = graph_forward(gg, &pg, noise);
  if (st == CLGAN_OK) st = d_input(d, fake, &in);
  if (st == CLGAN_OK) st = d_forward_loss(d, &pd, in, 0.0f, 2);
  cur = 0;
  if (st == CLGAN_OK) st = graph_backward(dg, &pd, in, &cur, 1, 1, 0);
  if (st == CLGAN_OK) st = adam(d, CLGAN_NET_D, d->cfg.lr_d);
  /* G step: D(fake) against label 1, gradient through D (and the
   * augmentation) into G only. */
  if (st == CLGAN_OK) st = d_input(d, fake, &in);
  if (st == CLGAN_OK) st = d_forward_loss(d, &pd, in, 1.0f, 4);
  cur = 0;
  if (st == CLGAN_OK) st = graph_backward(dg, &pd, in, &cur, 0, 0, 1);
  if (st == CLGAN_OK && d->cfg.augment) {
    const clgan_dcgan_config *c = &d->cfg;
    st = clgan_augment_backward(d->ctx, c->augment, c->channels, c->batch, c->image_size,
                                c->image_size, d->aug_work, d->grad_buf[cur],
                                d->grad_buf[1 - cur]);
    cur = 1 - cur;
  }
  if (st == CLGAN_OK) {
    /* the gradient of fake is G's output gradient: hand over the ping-pong */
    pg.grad_buf[0] = d->grad_buf[cur];
    pg.grad_buf[1] = d->grad_buf[1 - cur];
    int gcur = 0;
    st = graph_backward(gg, &pg, noise, &gcur, 1, 0, 0);
  }
  if (st == CLGAN_OK) st = adam(d, CLGAN_NET_G, d->cfg.lr_g);
  if (st == CLGAN_OK && d->net[CLGAN_NET_G].has_ema)
    st = clgan_ema_update(d->ctx, d->net[CLGAN_NET_G].g.param_floats,
                          d->net[CLGAN_NET_G].arena[CLGAN_ARENA_EMA],
                          d->net[CLGAN_NET_G].arena[CLGAN_ARENA_PARAM], d->cfg.ema_decay);
  int skipped = 0;
  if (st == CLGAN_OK && d->cfg.nan_guard) st = guard_finish(d, &skipped);
  if (st == CLGAN_OK && stats) {
    float l[7] = {0};
    st = clgan_buf_read(d->ctx, d->loss, l, d->cfg.ada ? 7 : 6);
    if (st == CLGAN_OK) {
      stats->loss_d = l[0] + l[2];
      stats->d_x = l[1];
      stats->d_g_z1 = l[3];
      stats->loss_g = l[4];
      stats->d_g_z2 = l[5];
      stats->skipped = skipped;
      stats->sign_real = l[6];
    }
  }
  return st;
}
