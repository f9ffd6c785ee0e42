/* The DCGAN training step in the recipe's order, and generation: the two
 * graphs run over the buffers the model planned (nothing allocated or built
 * here). */
#include "runtime/internal.h"
#include "train/dcgan_internal.h"

graph_pass dcgan_pass(clgan_dcgan *d, clgan_net which, clgan_buf input) {
  net_state *s = &d->net[which];
  graph_pass p = {.ctx = d->ctx,
                  .input = input,
                  .params = s->arena[CLGAN_ARENA_PARAM],
                  /* D keeps its transformed weights from pass to pass (graph.h);
                   * G's passes may swap in the averaged weights */
                  .params_version = which == CLGAN_NET_D ? s->param_version : 0,
                  .grads = s->arena[CLGAN_ARENA_GRAD],
                  .stats = s->arena[CLGAN_ARENA_STATS],
                  .col = d->col,
                  .grad_buf = {d->grad_buf[0], d->grad_buf[1]},
                  .discard = d->discard,
                  .bn_momentum = d->cfg.bn_momentum,
                  .bn_eps = d->cfg.bn_eps,
                  .slope = d->cfg.lrelu_slope,
                  .dist = d->dist,
                  .bn_sums = d->bn_sums};
  dcgan_reg_pass(d, which, &p); /* D's effective weights with spectral norm */
  return p;
}

/* D's input: x itself, or x augmented with fresh randomness (the augmented
 * batch and its parameters stay for the backward of this pass). */
static clgan_status d_input(clgan_dcgan *d, clgan_buf x, clgan_buf *in) {
  *in = x;
  if (!d->cfg.augment) return CLGAN_OK;
  clgan_profile_region(d->ctx, "augment");
  *in = d->aug_x;
  return clgan_augment_forward(d->ctx, &d->aug_plan, d->aug.seed, d->aug.counter++,
                               clgan_buf_at(d->loss, LOSS_ADA + CLGAN_ADA_P), x, d->aug_x,
                               d->aug_work);
}

/* D forward on its input (p->input), then BCE of its logits against target
 * into loss[slot..slot+1] with the logit gradient in grad_buf[0]. */
static clgan_status d_forward_loss(clgan_dcgan *d, const graph_pass *p, float target, int slot,
                                   int labels) {
  const graph *dg = &d->net[CLGAN_NET_D].g;
  clgan_status st = dcgan_sn_forward(d); /* a training forward: W_sn from a power iteration */
  if (st == CLGAN_OK) st = cond_d_forward(d, p, d->cond.step_labels[labels]);
  if (st != CLGAN_OK) return st;
  clgan_profile_region(d->ctx, "loss"); /* profiling region for clgan bench */
  return clgan_bce_logits(d->ctx, &d->bce, graph_output(dg), target,
                          clgan_buf_at(d->loss, (size_t)slot), d->grad_buf[0], d->grad_scale);
}

static clgan_status adam(clgan_dcgan *d, clgan_net which, float lr) {
  net_state *s = &d->net[which];
  clgan_adam_params ap = {lr, d->cfg.beta1, d->cfg.beta2, d->cfg.adam_eps};
  /* several ranks: every rank's gradients summed (each is 1/ranks of its mean) */
  clgan_status rs = dcgan_dist_reduce_grads(d, which);
  if (rs != CLGAN_OK) return rs;
  s->adam_step++;
  s->param_version = ++d->params_clock; /* the update below writes them */
  /* profiling region for clgan bench (no-op unless profiling) */
  clgan_profile_region(d->ctx, which == CLGAN_NET_G ? "G update" : "D update");
  /* the guard: flag non-finite gradients, and the update skips itself */
  clgan_buf flag = {0};
  if (d->cfg.nan_guard) {
    flag = clgan_buf_at(d->guard, (size_t)which);
    clgan_status st = clgan_nonfinite_flag(d->ctx, &d->guard_plan, s->g.param_floats,
                                           s->arena[CLGAN_ARENA_GRAD], flag);
    if (st != CLGAN_OK) return st;
  }
  return clgan_adam_step(d->ctx, &d->adam, &ap, s->adam_step, s->g.param_floats,
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
  return clgan_dcgan_generate_labels(d, noise, (clgan_buf){0}, mode);
}

clgan_status clgan_dcgan_generate_labels(clgan_dcgan *d, clgan_buf noise, clgan_buf labels,
                                         clgan_bn_mode mode) {
  net_state *g = &d->net[CLGAN_NET_G];
  graph_pass pg = dcgan_pass(d, CLGAN_NET_G, noise);
  if (g->has_ema) {
    pg.params = g->arena[CLGAN_ARENA_EMA];
    pg.stats = g->arena[CLGAN_ARENA_EMA_STATS];
  }
  if (g->has_ema && mode == CLGAN_BN_RUNNING) {
    clgan_status st = dcgan_ema_stats(d);
    if (st != CLGAN_OK) return st;
  }
  pg.bn_eval = mode == CLGAN_BN_RUNNING;
  pg.bn_momentum = 0.0f; /* batch statistics without touching the running ones */
  return cond_g_forward(d, &pg, labels);
}

/* One side of the D step: D on x (real: fake 0, or fake.detach()) against
 * target, with the regularisers that are on, then D's parameter gradients
 * (the real side writes them, the fake side adds). */
static clgan_status d_side(clgan_dcgan *d, graph_pass *pd, clgan_buf x, int fake) {
  const graph *dg = &d->net[CLGAN_NET_D].g;
  graph_grad gr = {.param_grads = 1, .accumulate = fake};
  float target = fake ? 0.0f : 1.0f - d->cfg.label_smooth;
  clgan_status st = d_input(d, x, &pd->input);
  if (st == CLGAN_OK)
    st = d_forward_loss(d, pd, target, fake ? LOSS_D_FAKE : LOSS_D_REAL,
                        fake ? COND_FAKE : COND_REAL);
  if (st == CLGAN_OK) st = dcgan_reg_forward(d, pd, x, fake); /* LeCam, bCR (when on) */
  if (st == CLGAN_OK && d->cfg.ada && !fake)
    st = clgan_ada_sign_mean(d->ctx, &d->ada_plan, graph_output(dg),
                             clgan_buf_at(d->loss, LOSS_SIGN_REAL));
  if (st == CLGAN_OK)
    st = cond_d_backward(d, pd, &gr, d->cond.step_labels[fake ? COND_FAKE : COND_REAL]);
  if (st == CLGAN_OK) st = dcgan_reg_backward(d, pd, fake); /* spectral norm, bCR */
  return st;
}

/* The D step: real (label 1, or 1 - label_smooth) then fake.detach() (label
 * 0), gradients summed, then D's update. Every D input goes through the
 * augmentation when it is on. */
static clgan_status d_step(clgan_dcgan *d, clgan_buf real, clgan_buf noise) {
  graph_pass pd = dcgan_pass(d, CLGAN_NET_D, real), pg = dcgan_pass(d, CLGAN_NET_G, noise);
  clgan_status st = d_side(d, &pd, real, 0);
  if (st == CLGAN_OK) st = cond_g_forward(d, &pg, d->cond.step_labels[COND_FAKE]);
  if (st == CLGAN_OK) st = d_side(d, &pd, clgan_dcgan_fake(d), 1);
  if (st == CLGAN_OK) st = adam(d, CLGAN_NET_D, d->cfg.lr_d);
  return st;
}

/* The G step: D(fake) against label 1, the gradient through D (and the
 * augmentation) into G only, then G's update and its average. */
static clgan_status g_step(clgan_dcgan *d, clgan_buf noise) {
  const clgan_dcgan_config *c = &d->cfg;
  const graph *gg = &d->net[CLGAN_NET_G].g;
  graph_pass pd = dcgan_pass(d, CLGAN_NET_D, clgan_dcgan_fake(d)), pg = dcgan_pass(d, CLGAN_NET_G, noise);
  graph_grad through_d = {.input_grad = 1}, into_g = {.param_grads = 1};
  clgan_status st = d_input(d, clgan_dcgan_fake(d), &pd.input);
  if (st == CLGAN_OK) st = d_forward_loss(d, &pd, 1.0f, LOSS_G, COND_FAKE);
  if (st == CLGAN_OK) st = cond_d_backward(d, &pd, &through_d, d->cond.step_labels[COND_FAKE]);
  int cur = through_d.cur;
  if (st == CLGAN_OK && c->augment) {
    st = clgan_augment_backward(d->ctx, &d->aug_plan, d->aug_work, d->grad_buf[cur],
                                d->grad_buf[1 - cur]);
    cur = 1 - cur;
  }
  /* the gradient of fake is G's output gradient: hand over the ping-pong */
  pg.grad_buf[0] = d->grad_buf[cur];
  pg.grad_buf[1] = d->grad_buf[1 - cur];
  if (st == CLGAN_OK) st = cond_g_backward(d, &pg, &into_g, d->cond.step_labels[COND_FAKE]);
  if (st == CLGAN_OK) st = adam(d, CLGAN_NET_G, c->lr_g);
  net_state *g = &d->net[CLGAN_NET_G];
  if (st == CLGAN_OK && g->has_ema) {
    st = clgan_ema_update(d->ctx, &d->ema, gg->param_floats, g->arena[CLGAN_ARENA_EMA],
                          g->arena[CLGAN_ARENA_PARAM], clgan_ema_decay_at(c->ema_decay, g->adam_step));
    g->ema_stats_stale = 1;
  }
  return st;
}

/* The figures of a step from its loss buffer l. */
static void fill_stats(const clgan_dcgan *d, const float *l, int skipped,
                       clgan_dcgan_stats *stats) {
  stats->loss_d = l[LOSS_D_REAL] + l[LOSS_D_FAKE];
  stats->d_x = l[LOSS_D_REAL + 1];
  stats->d_g_z1 = l[LOSS_D_FAKE + 1];
  stats->loss_g = l[LOSS_G];
  stats->d_g_z2 = l[LOSS_G + 1];
  stats->skipped = skipped;
  stats->sign_real = d->cfg.ada ? l[LOSS_SIGN_REAL] : 0.0f;
  stats->augment_p = d->cfg.augment ? l[LOSS_ADA + CLGAN_ADA_P_STEP] : 0.0f;
}

static clgan_status read_stats(clgan_dcgan *d, int skipped, clgan_dcgan_stats *stats) {
  float l[LOSS_FLOATS] = {0};
  clgan_status st = clgan_buf_read(d->ctx, d->loss, l, LOSS_FLOATS);
  /* several ranks: the means over the global batch */
  if (st == CLGAN_OK) st = dcgan_dist_mean(d, l, LOSS_SIGN_REAL);
  if (st == CLGAN_OK) fill_stats(d, l, skipped, stats);
  if (st == CLGAN_OK) st = dcgan_reg_stats(d, stats);
  return st;
}

/* One iteration in the recipe's order (dcgan.h), nan_guard's outcome in
 * *skipped. */
static clgan_status run_step(clgan_dcgan *d, clgan_buf real, clgan_buf noise, int *skipped) {
  if (d->cfg.conditional && !d->cond.step_labels[COND_FAKE].mem)
    return clgan_fail(CLGAN_ERR_INVALID, "a conditional model is stepped with labels: "
                                         "clgan_dcgan_step_labels");
  clgan_status st = CLGAN_OK;
  for (int n = 0; n < 2 && d->cfg.nan_guard && st == CLGAN_OK; n++)
    st = clgan_copy(d->ctx, d->net[n].arena[CLGAN_ARENA_STATS], d->stats_backup[n],
                    d->net[n].g.stats_floats);
  if (st == CLGAN_OK) st = d_step(d, real, noise);
  if (st == CLGAN_OK) st = g_step(d, noise);
  /* ADA observes this step's r_t after its last augmentation (the whole step
   * used one p), on the device */
  if (st == CLGAN_OK && d->cfg.augment && d->cfg.ada) st = dcgan_dist_mean_slot(d, LOSS_SIGN_REAL);
  if (st == CLGAN_OK && d->cfg.augment && d->cfg.ada)
    st = clgan_ada_update(d->ctx, &d->ada_plan, clgan_buf_at(d->loss, LOSS_SIGN_REAL),
                          clgan_buf_at(d->loss, LOSS_ADA));
  *skipped = 0;
  if (st == CLGAN_OK && d->cfg.nan_guard) st = guard_finish(d, skipped);
  return st;
}

clgan_status clgan_dcgan_step(clgan_dcgan *d, clgan_buf real, clgan_buf noise,
                              clgan_dcgan_stats *stats) {
  int skipped = 0;
  clgan_status st = run_step(d, real, noise, &skipped);
  if (st == CLGAN_OK && stats) st = read_stats(d, skipped, stats);
  return st;
}

/* ---- statistics one step behind -------------------------------------------
 * The step's loss buffer is copied to host memory by a non-blocking read
 * enqueued behind the step (so the next step's work may follow it at once:
 * the in-order queue reads this step's figures before the next step
 * overwrites them); the caller takes them later, normally long arrived. */

clgan_status clgan_dcgan_step_deferred(clgan_dcgan *d, clgan_buf real, clgan_buf noise) {
  if (d->stats_count == 2)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "clgan_dcgan_step_deferred: two steps' statistics are pending already; "
                      "take them first (clgan_dcgan_stats_take)");
  int skipped = 0; /* (nan_guard's flags are read at once: they decide the step's end) */
  clgan_status st = run_step(d, real, noise, &skipped);
  if (st != CLGAN_OK) return st;
  int slot = (d->stats_head + d->stats_count) % 2;
  /* the regularisers' terms first: the queue is in order, so the loss read's
   * event covers both */
  st = dcgan_reg_stats_enqueue(d, d->stats_reg_host[slot]);
  if (st != CLGAN_OK) return st;
  st = clgan_buf_read_enqueue(d->ctx, d->loss, d->stats_host[slot], LOSS_FLOATS,
                              &d->stats_event[slot]);
  if (st != CLGAN_OK) return st;
  d->stats_skipped[slot] = skipped;
  d->stats_count++;
  return CLGAN_OK;
}

int clgan_dcgan_stats_pending(const clgan_dcgan *d) { return d->stats_count; }

clgan_status clgan_dcgan_stats_take(clgan_dcgan *d, clgan_dcgan_stats *stats) {
  if (d->stats_count == 0)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_dcgan_stats_take: no step's statistics pending");
  int slot = d->stats_head;
  clgan_status st = clgan_event_wait(d->ctx, &d->stats_event[slot]);
  d->stats_head = (slot + 1) % 2;
  d->stats_count--;
  /* several ranks: the means over the global batch (every rank takes the
   * same steps' figures at the same points) */
  if (st == CLGAN_OK) st = dcgan_dist_mean(d, d->stats_host[slot], LOSS_SIGN_REAL);
  if (st == CLGAN_OK) fill_stats(d, d->stats_host[slot], d->stats_skipped[slot], stats);
  if (st == CLGAN_OK) st = dcgan_reg_stats_take(d, d->stats_reg_host[slot], stats);
  return st;
}

void dcgan_stats_release(clgan_dcgan *d) {
  for (int i = 0; i < 2; i++)
    if (d->stats_event[i]) {
      clWaitForEvents(1, &d->stats_event[i]); /* the read writes into d */
      clReleaseEvent(d->stats_event[i]);
      d->stats_event[i] = NULL;
    }
  d->stats_count = 0;
}
