/* D's regularisers in the model (clgan/regularize.h): LeCam's anchors,
 * spectral normalisation's u, v and effective weights, bCR's second pass.
 *
 * Order within the D step (step.c), per side (real, then fake):
 *   W_sn from one power iteration (as PyTorch's pre-forward hook, so every
 *   training forward of D moves u and v: three per iteration);
 *   D(input) and its BCE gradient; LeCam adds its gradient and moves this
 *   side's anchor (the term uses the other side's anchor as it stands: on
 *   the real side, the fake anchor of the previous step);
 *   bCR: T(x) through D's second graph with the same W_sn (no power
 *   iteration of its own, unlike a second call of a PyTorch module), its gradient
 *   added on D(input)'s logits and kept for D(T(x));
 *   D's backward, W_sn's gradient mapped to W; bCR's backward through the
 *   second graph (added), mapped likewise.
 * BatchNorm in bCR's pass: training mode (T(x)'s own batch statistics, as
 * calling D on T(x) in PyTorch would) with momentum 0, so the running
 * statistics are those of the recipe's passes alone.
 * A step that --nan-guard skips still moves u, v and LeCam's anchors (they
 * are made in the forwards, before the gradients are seen).
 * Over several ranks (src/dist) each rank's moved anchor is averaged over
 * the ranks at once, both terms' weights take grad_scale (1 / ranks) as the
 * BCE's gradient does, and the reported terms are the means over the ranks:
 * N ranks train what one rank trains on the global batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clgan/rng.h"
#include "runtime/internal.h"
#include "train/dcgan_internal.h"

static void add_tensor(dcgan_reg *r, const char *name, int ndim, int d0, size_t *off) {
  clgan_tensor_desc *t = &r->tensors[r->ntensors++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = ndim;
  t->shape[0] = d0;
  t->count = (size_t)d0;
  t->offset = *off;
  *off += t->count;
}

/* Spectral norm over every conv of D: plans, state and scratch offsets. */
static clgan_status plan_sn(clgan_dcgan *d, dcgan_reg *r) {
  const graph *dg = &d->net[CLGAN_NET_D].g;
  for (int i = 0; i < dg->nnodes; i++) {
    const graph_node *n = &dg->nodes[i];
    if (n->op != GRAPH_OP_CONV) continue;
    if (r->nsn == DCGAN_REG_MAX_SN)
      return clgan_fail(CLGAN_ERR_INVALID, "spectral norm: too many convs");
    sn_layer *l = &r->sn[r->nsn++];
    const clgan_conv_shape *s = &n->shape;
    int rows = s->cout, cols = s->cin * s->k * s->k;
    clgan_status st = clgan_sn_plan_make(d->ctx, rows, cols, &l->plan);
    if (st != CLGAN_OK) return st;
    l->node = i;
    char name[48];
    snprintf(name, sizeof name, "netD.main.%d.weight_u", n->seq);
    l->u_off = r->state_floats;
    add_tensor(r, name, 1, rows, &r->state_floats);
    snprintf(name, sizeof name, "netD.main.%d.weight_v", n->seq);
    l->v_off = r->state_floats;
    add_tensor(r, name, 1, cols, &r->state_floats);
    l->work_off = r->work_floats;
    r->work_floats += clgan_sn_work_floats(&l->plan);
  }
  return CLGAN_OK;
}

clgan_status dcgan_reg_plan(clgan_dcgan *d) {
  const clgan_dcgan_config *c = &d->cfg;
  dcgan_reg *r = &d->reg;
  clgan_status st = CLGAN_OK;
  r->nsn = r->ntensors = 0;
  r->state_floats = 0;
  r->work_floats = REG_SN_WORK;
  r->cr_planned = 0;
  if (c->lecam > 0.0f || c->consistency > 0.0f)
    st = clgan_logit_reg_plan_make(d->ctx, (size_t)c->batch, &r->logit);
  if (st == CLGAN_OK && c->lecam > 0.0f) {
    r->lecam_off = r->state_floats;
    add_tensor(r, "train.lecam_anchors", 1, CLGAN_LECAM_STATE_FLOATS, &r->state_floats);
  }
  if (st == CLGAN_OK && c->spectral_norm) st = plan_sn(d, r);
  if (st != CLGAN_OK || !(c->consistency > 0.0f)) return st;
  if (!c->augment)
    st = clgan_augment_plan_make(d->ctx, CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT, c->channels,
                                 c->batch, c->image_size, c->image_size, &r->cr_aug);
  if (st == CLGAN_OK) st = graph_describe(c, CLGAN_NET_D, &r->cr_graph);
  if (st == CLGAN_OK) st = graph_plan(d->ctx, &r->cr_graph);
  if (st == CLGAN_OK) r->cr_planned = 1;
  return st;
}

int dcgan_reg_buffers(clgan_dcgan *d, clgan_buf **bufs, size_t *floats) {
  const clgan_dcgan_config *c = &d->cfg;
  dcgan_reg *r = &d->reg;
  int n = 0;
  if (!(c->lecam > 0.0f) && !c->spectral_norm && !(c->consistency > 0.0f)) return 0;
  bufs[n] = &r->state, floats[n++] = r->state_floats;
  bufs[n] = &r->work, floats[n++] = r->work_floats;
  if (c->spectral_norm) {
    size_t params = d->net[CLGAN_NET_D].g.param_floats;
    bufs[n] = &r->sn_w, floats[n++] = params;
    bufs[n] = &r->sn_g, floats[n++] = params;
  }
  if (c->consistency > 0.0f) {
    bufs[n] = &r->cr_x,
    floats[n++] = (size_t)c->channels * c->batch * c->image_size * c->image_size;
    bufs[n] = &r->cr_work,
    floats[n++] = clgan_augment_work_floats(c->channels, c->batch, c->image_size, c->image_size);
    bufs[n] = &r->cr_dl, floats[n++] = (size_t)c->batch;
  }
  return n;
}

size_t dcgan_reg_graph_bytes(const clgan_dcgan *d) {
  return d->reg.cr_planned ? d->reg.cr_graph.device_bytes : 0;
}

static clgan_status init_state(clgan_dcgan *d, uint64_t seed, int refresh);

clgan_status dcgan_reg_alloc(clgan_dcgan *d) {
  dcgan_reg *r = &d->reg;
  clgan_status st = CLGAN_OK;
  if (r->cr_planned) st = graph_alloc(d->ctx, &r->cr_graph);
  if (st == CLGAN_OK && r->work.mem)
    st = clgan_fill(d->ctx, clgan_buf_at(r->work, REG_ONE), 1, 1.0f);
  /* never a zero u, v (the run's seed follows); the weights are still 0, so
   * no W_sn is made from them */
  if (st == CLGAN_OK) st = init_state(d, 0, 0);
  return st;
}

void dcgan_reg_release(clgan_dcgan *d) {
  dcgan_reg *r = &d->reg;
  if (r->cr_planned) graph_release(&r->cr_graph);
  clgan_buf *bufs[] = {&r->state, &r->work, &r->sn_w, &r->sn_g, &r->cr_x, &r->cr_work, &r->cr_dl};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clgan_buf_release(bufs[i]);
}

/* x = normal draws / max(||x||, eps), as PyTorch's spectral_norm starts. */
static void unit_normal(clgan_rng *rng, float *x, int n) {
  clgan_rng_normal(rng, x, (size_t)n, 0.0f, 1.0f);
  double sq = 0.0;
  for (int i = 0; i < n; i++) sq += (double)x[i] * x[i];
  double norm = fmax(sqrt(sq), (double)CLGAN_SN_EPS);
  for (int i = 0; i < n; i++) x[i] = (float)(x[i] / norm);
}

/* u and v from the seed's stream, LeCam unset; refresh: W_sn from them. */
static clgan_status init_state(clgan_dcgan *d, uint64_t seed, int refresh) {
  dcgan_reg *r = &d->reg;
  if (r->state_floats == 0) return CLGAN_OK;
  float *host = calloc(r->state_floats, sizeof(float)); /* LeCam's anchors: 0, unset */
  if (!host) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < r->nsn; i++) {
    clgan_rng rng;
    clgan_rng_seed_stream(&rng, seed, CLGAN_STREAM_SPECTRAL, (uint64_t)i);
    unit_normal(&rng, host + r->sn[i].u_off, r->sn[i].plan.rows);
    unit_normal(&rng, host + r->sn[i].v_off, r->sn[i].plan.cols);
  }
  clgan_status st = refresh ? clgan_dcgan_reg_write(d, host)
                            : clgan_buf_write(d->ctx, r->state, host, r->state_floats);
  free(host);
  return st;
}

clgan_status dcgan_reg_init(clgan_dcgan *d, uint64_t seed) {
  return init_state(d, seed, 1);
}

void dcgan_reg_pass(const clgan_dcgan *d, clgan_net which, graph_pass *p) {
  if (which != CLGAN_NET_D || !d->cfg.spectral_norm) return;
  p->weights = d->reg.sn_w;
  p->weight_grads = d->reg.sn_g;
}

/* W_sn of every layer; update: one power iteration first (training). */
static clgan_status sn_all(clgan_dcgan *d, int update) {
  dcgan_reg *r = &d->reg;
  clgan_buf params = d->net[CLGAN_NET_D].arena[CLGAN_ARENA_PARAM];
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < r->nsn && st == CLGAN_OK; i++) {
    const sn_layer *l = &r->sn[i];
    size_t w_off = d->net[CLGAN_NET_D].g.nodes[l->node].w_off;
    st = clgan_sn_forward(d->ctx, &l->plan, clgan_buf_at(params, w_off),
                          clgan_buf_at(r->state, l->u_off), clgan_buf_at(r->state, l->v_off),
                          clgan_buf_at(r->work, l->work_off), clgan_buf_at(r->sn_w, w_off), update);
  }
  return st;
}

clgan_status dcgan_sn_forward(clgan_dcgan *d) {
  if (!d->cfg.spectral_norm) return CLGAN_OK;
  clgan_profile_region(d->ctx, "spectral norm");
  return sn_all(d, 1);
}

/* D's weight gradients (+)= the map of W_sn's. */
static clgan_status sn_backward(clgan_dcgan *d, int accumulate) {
  dcgan_reg *r = &d->reg;
  if (!d->cfg.spectral_norm) return CLGAN_OK;
  clgan_profile_region(d->ctx, "spectral norm");
  clgan_buf grads = d->net[CLGAN_NET_D].arena[CLGAN_ARENA_GRAD];
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < r->nsn && st == CLGAN_OK; i++) {
    const sn_layer *l = &r->sn[i];
    size_t w_off = d->net[CLGAN_NET_D].g.nodes[l->node].w_off;
    st = clgan_sn_backward(d->ctx, &l->plan, clgan_buf_at(r->sn_g, w_off),
                           clgan_buf_at(r->sn_w, w_off), clgan_buf_at(r->state, l->u_off),
                           clgan_buf_at(r->state, l->v_off), clgan_buf_at(r->work, l->work_off),
                           clgan_buf_at(grads, w_off), accumulate);
  }
  return st;
}

/* bCR's pass: D's pass over the second graph on T(x), running statistics
 * left alone. */
static graph_pass cr_pass(const dcgan_reg *r, const graph_pass *pd) {
  graph_pass pc = *pd;
  pc.input = r->cr_x;
  pc.bn_momentum = 0.0f;
  return pc;
}

clgan_status dcgan_reg_forward(clgan_dcgan *d, const graph_pass *pd, clgan_buf x, int fake) {
  const clgan_dcgan_config *c = &d->cfg;
  dcgan_reg *r = &d->reg;
  clgan_buf logits = graph_output(&d->net[CLGAN_NET_D].g);
  clgan_status st = CLGAN_OK;
  /* several ranks: the weights take grad_scale (1 / ranks) like the BCE's,
   * so that the summed gradients are those of the global batch's means */
  if (c->lecam > 0.0f) {
    clgan_profile_region(d->ctx, "lecam");
    clgan_buf anchors = clgan_buf_at(r->state, r->lecam_off);
    st = clgan_lecam_step(d->ctx, &r->logit, logits, fake, CLGAN_LECAM_DECAY,
                          c->lecam * d->grad_scale, anchors, d->grad_buf[0],
                          clgan_buf_at(r->work, (size_t)(REG_LOSS_LECAM + fake)));
    /* the anchor each rank moved towards its share's mean, averaged: the
     * move towards the global batch's mean (the update is linear in the
     * mean and the old anchor is every rank's), before the fake side reads
     * the real anchor */
    if (st == CLGAN_OK) st = dcgan_dist_mean_buf(d, clgan_buf_at(anchors, (size_t)fake), 1);
  }
  if (st != CLGAN_OK || !(c->consistency > 0.0f)) return st;
  clgan_profile_region(d->ctx, "consistency");
  /* T at full strength, whatever ADA's p; its draws use the augmentation's
   * counter, so they resume exactly */
  st = clgan_augment_forward(d->ctx, c->augment ? &d->aug_plan : &r->cr_aug, d->aug.seed,
                             d->aug.counter++, clgan_buf_at(r->work, REG_ONE), x, r->cr_x,
                             r->cr_work);
  graph_pass pc = cr_pass(r, pd);
  if (st == CLGAN_OK) st = graph_forward(&r->cr_graph, &pc);
  if (st == CLGAN_OK)
    st = clgan_consistency_step(d->ctx, &r->logit, logits, graph_output(&r->cr_graph),
                                c->consistency * d->grad_scale, d->grad_buf[0], r->cr_dl,
                                clgan_buf_at(r->work, (size_t)(REG_LOSS_CR + fake)));
  return st;
}

clgan_status dcgan_reg_backward(clgan_dcgan *d, const graph_pass *pd, int accumulate) {
  dcgan_reg *r = &d->reg;
  clgan_status st = sn_backward(d, accumulate);
  if (st != CLGAN_OK || !(d->cfg.consistency > 0.0f)) return st;
  clgan_profile_region(d->ctx, "consistency");
  graph_pass pc = cr_pass(r, pd);
  graph_grad gr = {.param_grads = 1, .accumulate = 1};
  st = clgan_copy(d->ctx, r->cr_dl, d->grad_buf[0], (size_t)d->cfg.batch);
  if (st == CLGAN_OK) st = graph_backward(&r->cr_graph, &pc, &gr);
  if (st == CLGAN_OK) st = sn_backward(d, 1);
  return st;
}

static int reg_reports(const clgan_dcgan *d) {
  return d->cfg.lecam > 0.0f || d->cfg.consistency > 0.0f;
}

clgan_status dcgan_reg_stats_enqueue(clgan_dcgan *d, float host[REG_LOSS_FLOATS]) {
  if (!reg_reports(d)) return CLGAN_OK;
  cl_event done = NULL;
  clgan_status st = clgan_buf_read_enqueue(d->ctx, clgan_buf_at(d->reg.work, REG_LOSS_LECAM),
                                           host, REG_LOSS_FLOATS, &done);
  if (done) clReleaseEvent(done); /* the caller waits on a later command of the queue */
  return st;
}

static void reg_stats_fill(const clgan_dcgan *d, const float host[REG_LOSS_FLOATS],
                           clgan_dcgan_stats *stats) {
  stats->lecam = d->cfg.lecam > 0.0f ? host[0] + host[1] : 0.0f;
  stats->consistency = d->cfg.consistency > 0.0f ? host[2] + host[3] : 0.0f;
}

/* Several ranks: each term is its share's mean, the shares equal, so the
 * global batch's is their mean. */
clgan_status dcgan_reg_stats_take(clgan_dcgan *d, float host[REG_LOSS_FLOATS],
                                  clgan_dcgan_stats *stats) {
  clgan_status st = reg_reports(d) ? dcgan_dist_mean(d, host, REG_LOSS_FLOATS) : CLGAN_OK;
  if (st == CLGAN_OK) reg_stats_fill(d, host, stats);
  return st;
}

clgan_status dcgan_reg_stats(clgan_dcgan *d, clgan_dcgan_stats *stats) {
  float t[REG_LOSS_FLOATS] = {0};
  clgan_status st = CLGAN_OK;
  if (reg_reports(d))
    st = clgan_buf_read(d->ctx, clgan_buf_at(d->reg.work, REG_LOSS_LECAM), t, REG_LOSS_FLOATS);
  if (st == CLGAN_OK) st = dcgan_reg_stats_take(d, t, stats);
  return st;
}

int clgan_dcgan_reg_tensors(const clgan_dcgan *d, const clgan_tensor_desc **list) {
  *list = d->reg.tensors;
  return d->reg.ntensors;
}

size_t clgan_dcgan_reg_floats(const clgan_dcgan *d) {
  return d->reg.state_floats;
}

clgan_status clgan_dcgan_reg_read(clgan_dcgan *d, float *host) {
  if (d->reg.state_floats == 0) return CLGAN_OK;
  return clgan_buf_read(d->ctx, d->reg.state, host, d->reg.state_floats);
}

clgan_status clgan_dcgan_reg_write(clgan_dcgan *d, const float *host) {
  if (d->reg.state_floats == 0) return CLGAN_OK;
  clgan_status st = clgan_buf_write(d->ctx, d->reg.state, host, d->reg.state_floats);
  if (st == CLGAN_OK && d->cfg.spectral_norm) st = sn_all(d, 0);
  return st;
}
