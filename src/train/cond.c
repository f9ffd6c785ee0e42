/* The conditional model around the two graphs: G's input z' = [z; E_g[y]]
 * and its gradient into E_g, D's input with the label planes (or its
 * projection term and its gradients), the class names, and the labelled step
 * and generation (clgan/cond.h). */
#include "train/cond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "train/dcgan_internal.h"

clgan_status cond_plan(clgan_dcgan *d) {
  const clgan_dcgan_config *c = &d->cfg;
  clgan_status st = CLGAN_OK;
  for (int w = 0; w < 2 && st == CLGAN_OK; w++) {
    const graph *g = &d->net[w].g;
    /* D with label channels: no table, the plan makes its one-hot planes */
    int rows = g->label_planes ? g->label_planes : g->emb_rows, dim = g->label_planes ? 1 : g->emb_dim;
    st = clgan_embed_plan_make(d->ctx, rows, dim, c->batch, &d->cond.plan[w]);
  }
  float *cycle = malloc(sizeof(float) * (size_t)c->batch);
  if (!cycle) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int b = 0; b < c->batch; b++) cycle[b] = (float)(b % c->num_classes);
  if (st == CLGAN_OK) st = clgan_buf_write(d->ctx, d->cond.cycle_labels, cycle, (size_t)c->batch);
  free(cycle);
  return st;
}

static void free_names(cond_state *cs, int count) {
  if (!cs->class_names) return;
  for (int i = 0; i < count; i++) free(cs->class_names[i]);
  free(cs->class_names);
  cs->class_names = NULL;
}

void cond_release(clgan_dcgan *d) {
  clgan_buf_release(&d->cond.z_in);
  clgan_buf_release(&d->cond.d_in);
  clgan_buf_release(&d->cond.cycle_labels);
  free_names(&d->cond, d->cfg.num_classes);
}

void cond_init_table(const clgan_tensor_desc *t, clgan_net which, clgan_rng *rng, float *host) {
  clgan_rng_normal(rng, host + t->offset, t->count, 0.0f, which == CLGAN_NET_G ? 1.0f : 0.02f);
}

/* z' = [z; E_g[y]]: the noise [nz, batch] then the embeddings [E, batch],
 * which in the [channels, batch] layout is two consecutive ranges. */
static graph_pass g_input(clgan_dcgan *d, const graph_pass *p, clgan_buf labels,
                          clgan_status *st) {
  graph_pass q = *p;
  q.input = d->cond.z_in;
  const graph *g = &d->net[CLGAN_NET_G].g;
  size_t nzb = (size_t)d->cfg.nz * d->cfg.batch;
  *st = clgan_copy(d->ctx, p->input, d->cond.z_in, nzb);
  if (*st == CLGAN_OK)
    *st = clgan_embed_gather(d->ctx, &d->cond.plan[CLGAN_NET_G], clgan_buf_at(p->params, g->emb_off),
                             labels.mem ? labels : d->cond.cycle_labels,
                             clgan_buf_at(d->cond.z_in, nzb));
  return q;
}

clgan_status cond_g_forward(clgan_dcgan *d, const graph_pass *p, clgan_buf labels) {
  const graph *g = &d->net[CLGAN_NET_G].g;
  if (!g->cond) return graph_forward(g, p);
  clgan_status st;
  graph_pass q = g_input(d, p, labels, &st);
  return st == CLGAN_OK ? graph_forward(g, &q) : st;
}

/* z' still holds the forward's input; its gradient's embedding rows are
 * scatter-added by label into E_g's gradient. */
clgan_status cond_g_backward(clgan_dcgan *d, const graph_pass *p, graph_grad *gr,
                             clgan_buf labels) {
  const graph *g = &d->net[CLGAN_NET_G].g;
  if (!g->cond) return graph_backward(g, p, gr);
  graph_pass q = *p;
  q.input = d->cond.z_in;
  int input_grad = gr->input_grad;
  gr->input_grad = 1;
  clgan_status st = graph_backward(g, &q, gr);
  gr->input_grad = input_grad;
  if (st != CLGAN_OK || !gr->param_grads) return st;
  size_t nzb = (size_t)d->cfg.nz * d->cfg.batch;
  return clgan_embed_scatter_add(d->ctx, &d->cond.plan[CLGAN_NET_G],
                                 labels.mem ? labels : d->cond.cycle_labels,
                                 clgan_buf_at(p->grad_buf[gr->cur], nzb),
                                 clgan_buf_at(p->grads, g->emb_off), gr->accumulate);
}

static int h_positions(const graph *g) { return g->slots[g->proj_slot].hw * g->slots[g->proj_slot].hw; }

/* The label-channel D's input [x; one-hot planes of the labels]. */
static graph_pass d_input_planes(clgan_dcgan *d, const graph_pass *p, clgan_buf labels,
                                 clgan_status *st) {
  const clgan_dcgan_config *c = &d->cfg;
  int hw = c->image_size * c->image_size;
  graph_pass q = *p;
  q.input = d->cond.d_in;
  *st = clgan_copy(d->ctx, p->input, d->cond.d_in, (size_t)c->channels * c->batch * hw);
  if (*st == CLGAN_OK)
    *st = clgan_label_planes(d->ctx, &d->cond.plan[CLGAN_NET_D], labels, hw, c->channels,
                             d->cond.d_in);
  return q;
}

clgan_status cond_d_forward(clgan_dcgan *d, const graph_pass *p, clgan_buf labels) {
  const graph *g = &d->net[CLGAN_NET_D].g;
  if (g->label_planes) {
    clgan_status st;
    graph_pass q = d_input_planes(d, p, labels, &st);
    return st == CLGAN_OK ? graph_forward(g, &q) : st;
  }
  clgan_status st = graph_forward(g, p);
  if (st != CLGAN_OK || !g->cond) return st;
  return clgan_proj_forward(d->ctx, &d->cond.plan[CLGAN_NET_D], clgan_buf_at(p->params, g->emb_off),
                            labels, graph_slot_buf(g, p, g->proj_slot), h_positions(g),
                            graph_output(g));
}

/* The final conv first (its input's gradient is h's), then the projection's
 * share of h's gradient is added, then the rest of D. */
clgan_status cond_d_backward(clgan_dcgan *d, const graph_pass *p, graph_grad *gr,
                             clgan_buf labels) {
  const graph *g = &d->net[CLGAN_NET_D].g;
  if (!g->cond) return graph_backward(g, p, gr);
  if (g->label_planes) { /* the image's gradient is the first channels of the input's */
    graph_pass q = *p;
    q.input = d->cond.d_in;
    return graph_backward(g, &q, gr);
  }
  const clgan_embed_plan *plan = &d->cond.plan[CLGAN_NET_D];
  clgan_buf h = graph_slot_buf(g, p, g->proj_slot), dlogits = p->grad_buf[gr->cur];
  int last = g->nnodes - 1, hw = h_positions(g);
  clgan_status st = CLGAN_OK;
  if (gr->param_grads)
    st = clgan_proj_backward_weight(d->ctx, plan, labels, h, hw, dlogits,
                                    clgan_buf_at(p->grads, g->emb_off), gr->accumulate);
  if (st == CLGAN_OK) st = graph_backward_nodes(g, p, gr, last, last);
  /* the final conv wrote h's gradient into the other buffer: dlogits is intact */
  if (st == CLGAN_OK)
    st = clgan_proj_backward_data(d->ctx, plan, clgan_buf_at(p->params, g->emb_off), labels,
                                  dlogits, hw, p->grad_buf[gr->cur]);
  if (st == CLGAN_OK) st = graph_backward_nodes(g, p, gr, 0, last - 1);
  return st;
}

/* The step's labels, checked against the model, for the length of one call. */
static clgan_status set_step_labels(clgan_dcgan *d, clgan_buf real_labels, clgan_buf fake_labels) {
  int cond = d->cfg.conditional;
  if (cond != (real_labels.mem != NULL) || cond != (fake_labels.mem != NULL))
    return clgan_fail(CLGAN_ERR_INVALID, cond ? "a conditional model's step needs the labels of "
                                                "the real and the fake batch"
                                              : "an unconditional model takes no labels");
  d->cond.step_labels[COND_REAL] = real_labels;
  d->cond.step_labels[COND_FAKE] = fake_labels;
  return CLGAN_OK;
}

clgan_status clgan_dcgan_step_labels(clgan_dcgan *d, clgan_buf real, clgan_buf real_labels,
                                     clgan_buf noise, clgan_buf fake_labels,
                                     clgan_dcgan_stats *stats) {
  clgan_status st = set_step_labels(d, real_labels, fake_labels);
  if (st == CLGAN_OK) st = clgan_dcgan_step(d, real, noise, stats);
  d->cond.step_labels[COND_REAL] = d->cond.step_labels[COND_FAKE] = (clgan_buf){0};
  return st;
}

clgan_status clgan_dcgan_step_deferred_labels(clgan_dcgan *d, clgan_buf real,
                                              clgan_buf real_labels, clgan_buf noise,
                                              clgan_buf fake_labels) {
  clgan_status st = set_step_labels(d, real_labels, fake_labels);
  if (st == CLGAN_OK) st = clgan_dcgan_step_deferred(d, real, noise);
  d->cond.step_labels[COND_REAL] = d->cond.step_labels[COND_FAKE] = (clgan_buf){0};
  return st;
}

clgan_status clgan_dcgan_set_classes(clgan_dcgan *d, char *const *names, int count) {
  if (!d->cfg.conditional || count != d->cfg.num_classes)
    return clgan_fail(CLGAN_ERR_INVALID, "%d class name(s) for a model with %d class(es)%s",
                      count, d->cfg.num_classes, d->cfg.conditional ? "" : " (not conditional)");
  char **copy = calloc((size_t)count, sizeof *copy);
  int ok = copy != NULL;
  for (int i = 0; i < count && ok; i++) {
    size_t len = strlen(names[i]) + 1;
    if ((ok = (copy[i] = malloc(len)) != NULL)) memcpy(copy[i], names[i], len);
  }
  if (!ok) {
    for (int i = 0; copy && i < count; i++) free(copy[i]);
    free(copy);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  free_names(&d->cond, count);
  d->cond.class_names = copy;
  return CLGAN_OK;
}

int clgan_dcgan_class_count(const clgan_dcgan *d) { return d->cfg.conditional ? d->cfg.num_classes : 0; }

const char *clgan_dcgan_class_name(const clgan_dcgan *d, int i) {
  if (!d->cond.class_names || i < 0 || i >= clgan_dcgan_class_count(d)) return NULL;
  return d->cond.class_names[i];
}

clgan_status clgan_dcgan_find_class(const clgan_dcgan *d, const char *name, const char *source,
                                    int *index) {
  int n = clgan_dcgan_class_count(d);
  if (n == 0)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: not a conditional model: it has no class '%s'",
                      source, name);
  char known[512] = "";
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    const char *c = clgan_dcgan_class_name(d, i);
    char num[16];
    if (!c) snprintf(num, sizeof num, "%d", i), c = num;
    if (strcmp(c, name) == 0) {
      *index = i;
      return CLGAN_OK;
    }
    if (len + 1 < sizeof known)
      len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", c);
  }
  return clgan_fail(CLGAN_ERR_INVALID, "%s has no class '%s'; its classes: %s", source, name,
                    known);
}
