/* The classifier of clgan/classify.h: D's graph with one logit per class,
 * planned and allocated once; fit (gather, augment, forward, softmax
 * cross-entropy, backward, Adam) and predict run over those buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/augment.h"
#include "clgan/classify.h"
#include "clgan/rng.h"
#include "graph/graph.h"
#include "runtime/internal.h"

clgan_classifier_recipe clgan_classifier_default_recipe(void) {
  clgan_classifier_recipe r = {.image_size = 64,
                               .channels = 1,
                               .ndf = 32,
                               .batch = 32,
                               .lr = 2e-4f,
                               .beta1 = 0.5f,
                               .beta2 = 0.999f,
                               .augment = CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT};
  return r;
}

/* Named after the model's arenas (CLGAN_ARENA_*); PARAM..ADAM_V hold
 * param_floats, STATS stats_floats. */
enum { ARENA_PARAM, ARENA_GRAD, ARENA_M, ARENA_V, ARENA_STATS, ARENA_COUNT };
enum { LOSS_FLOATS = 3, AUG_P = 3, SCRATCH_FLOATS = 4 }; /* scratch: loss, accuracy, bad, p */

struct clgan_classifier {
  clgan_ctx *ctx;
  clgan_classifier_recipe recipe;
  int classes, capacity, order_len; /* order_len: capacity rounded up to a batch */
  graph g;
  clgan_buf arena[ARENA_COUNT];
  clgan_buf col;          /* [g.col_floats] conv workspace */
  clgan_buf grad_buf[2];  /* [g.max_act_floats] ping-pong gradients */
  clgan_buf discard;      /* [2 * max channels] BN gradients not wanted */
  clgan_buf input;        /* [c, batch, s, s] the gathered batch */
  clgan_buf aug_x, aug_work; /* augmented batch and its parameters (augment != 0) */
  clgan_buf scratch;      /* [SCRATCH_FLOATS] softmax_ce's out, then the augmentation's p */
  cl_mem images;          /* [capacity][c][s][s] the set being fitted or predicted */
  cl_mem labels;          /* int [capacity] */
  cl_mem order;           /* int [order_len] an epoch's permutation, or 0..count-1 */
  int *order_host;        /* [order_len] */
  float *logits_host;     /* [classes][batch] */
  float *init_host;       /* [param_floats] initial weights */
  clgan_gather_plan gather;
  clgan_softmax_ce_plan ce;
  clgan_adam_plan adam;
  clgan_augment_plan aug;
};

static size_t image_floats(const clgan_classifier *c) {
  return (size_t)c->recipe.channels * c->recipe.image_size * c->recipe.image_size;
}

static clgan_dcgan_config graph_config(const clgan_classifier_recipe *r) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = r->image_size;
  cfg.channels = r->channels;
  cfg.ndf = r->ndf;
  cfg.batch = r->batch;
  return cfg;
}

/* The plans of the graph and of the ops around it. */
static clgan_status plan_all(clgan_classifier *c) {
  clgan_dcgan_config cfg = graph_config(&c->recipe);
  clgan_status st = graph_describe_classifier(&cfg, c->classes, &c->g);
  if (st == CLGAN_OK) st = graph_plan(c->ctx, &c->g);
  if (st == CLGAN_OK) st = clgan_gather_plan_make(c->ctx, &c->gather);
  if (st == CLGAN_OK)
    st = clgan_softmax_ce_plan_make(c->ctx, (size_t)c->classes, (size_t)cfg.batch, &c->ce);
  if (st == CLGAN_OK) st = clgan_adam_plan_make(c->ctx, 0, &c->adam);
  if (st == CLGAN_OK && c->recipe.augment)
    st = clgan_augment_plan_make(c->ctx, c->recipe.augment, cfg.channels, cfg.batch,
                                 cfg.image_size, cfg.image_size, &c->aug);
  return st;
}

static clgan_status alloc_all(clgan_classifier *c) {
  const graph *g = &c->g;
  size_t batch_floats = image_floats(c) * (size_t)c->recipe.batch;
  clgan_status st = graph_alloc(c->ctx, &c->g);
  for (int a = 0; a < ARENA_COUNT && st == CLGAN_OK; a++)
    st = clgan_buf_alloc(c->ctx, a == ARENA_STATS ? g->stats_floats : g->param_floats,
                         &c->arena[a]);
  if (st == CLGAN_OK) st = clgan_buf_alloc(c->ctx, g->col_floats, &c->col);
  for (int i = 0; i < 2 && st == CLGAN_OK; i++)
    st = clgan_buf_alloc(c->ctx, g->max_act_floats, &c->grad_buf[i]);
  if (st == CLGAN_OK) st = clgan_buf_alloc(c->ctx, 2 * (size_t)g->max_channels, &c->discard);
  if (st == CLGAN_OK) st = clgan_buf_alloc(c->ctx, batch_floats, &c->input);
  if (st == CLGAN_OK) st = clgan_buf_alloc(c->ctx, SCRATCH_FLOATS, &c->scratch);
  if (st == CLGAN_OK && c->recipe.augment) {
    st = clgan_buf_alloc(c->ctx, batch_floats, &c->aug_x);
    if (st == CLGAN_OK)
      st = clgan_buf_alloc(c->ctx,
                           clgan_augment_work_floats(c->recipe.channels, c->recipe.batch,
                                                     c->recipe.image_size, c->recipe.image_size),
                           &c->aug_work);
  }
  if (st == CLGAN_OK)
    st = clgan_mem_alloc(c->ctx, sizeof(float) * image_floats(c) * (size_t)c->capacity, NULL,
                         &c->images);
  if (st == CLGAN_OK)
    st = clgan_mem_alloc(c->ctx, sizeof(int) * (size_t)c->capacity, NULL, &c->labels);
  if (st == CLGAN_OK)
    st = clgan_mem_alloc(c->ctx, sizeof(int) * (size_t)c->order_len, NULL, &c->order);
  c->order_host = calloc((size_t)c->order_len, sizeof(int));
  c->logits_host = calloc((size_t)c->classes * c->recipe.batch, sizeof(float));
  c->init_host = calloc(g->param_floats ? g->param_floats : 1, sizeof(float));
  if (st == CLGAN_OK && (!c->order_host || !c->logits_host || !c->init_host))
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  /* zeroed weights until a fit (this also makes the fill kernel a fit uses) */
  for (int a = 0; a < ARENA_COUNT && st == CLGAN_OK; a++)
    st = clgan_fill(c->ctx, c->arena[a], a == ARENA_STATS ? g->stats_floats : g->param_floats, 0.0f);
  return st;
}

clgan_status clgan_classifier_create(clgan_ctx *ctx, const clgan_classifier_recipe *recipe,
                                     int classes, int capacity, clgan_classifier **out) {
  *out = NULL;
  if (classes < 2 || classes > CLGAN_CLASSIFY_MAX_CLASSES)
    return clgan_fail(CLGAN_ERR_INVALID, "classifier: %d classes (2 to %d)", classes,
                      CLGAN_CLASSIFY_MAX_CLASSES);
  if (capacity < 1 || recipe->batch < 2 || !(recipe->lr > 0.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "classifier: capacity %d, batch %d, lr %g", capacity,
                      recipe->batch, (double)recipe->lr);
  clgan_classifier *c = calloc(1, sizeof *c);
  if (!c) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  c->ctx = ctx;
  c->recipe = *recipe;
  c->classes = classes;
  c->capacity = capacity;
  c->order_len = (int)clgan_round_up((size_t)capacity, (size_t)recipe->batch);
  clgan_status st = plan_all(c);
  if (st == CLGAN_OK) st = alloc_all(c);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  if (st != CLGAN_OK) {
    clgan_classifier_destroy(c);
    return st;
  }
  *out = c;
  return CLGAN_OK;
}

void clgan_classifier_destroy(clgan_classifier *c) {
  if (!c) return;
  graph_release(&c->g);
  for (int a = 0; a < ARENA_COUNT; a++) clgan_buf_release(&c->arena[a]);
  clgan_buf *bufs[] = {&c->col, &c->grad_buf[0], &c->grad_buf[1], &c->discard, &c->input,
                       &c->aug_x, &c->aug_work, &c->scratch};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) clgan_buf_release(bufs[i]);
  clgan_mem_release(&c->images);
  clgan_mem_release(&c->labels);
  clgan_mem_release(&c->order);
  free(c->order_host);
  free(c->logits_host);
  free(c->init_host);
  free(c);
}

static graph_pass make_pass(clgan_classifier *c, clgan_buf input, int bn_eval) {
  graph_pass p = {.ctx = c->ctx,
                  .input = input,
                  .params = c->arena[ARENA_PARAM],
                  .grads = c->arena[ARENA_GRAD],
                  .stats = c->arena[ARENA_STATS],
                  .col = c->col,
                  .grad_buf = {c->grad_buf[0], c->grad_buf[1]},
                  .discard = c->discard,
                  .bn_momentum = 0.1f,
                  .bn_eps = 1e-5f,
                  .slope = 0.2f,
                  .bn_eval = bn_eval};
  return p;
}

/* The set's images (and labels) onto the device. */
static clgan_status upload(clgan_classifier *c, const clgan_labelled_set *set, int with_labels) {
  if (set->count < 1 || set->count > c->capacity || !set->data)
    return clgan_fail(CLGAN_ERR_INVALID, "classifier: a set of %d images (capacity %d)",
                      set->count, c->capacity);
  clgan_status st = clgan_mem_write(c->ctx, c->images, 0, set->data,
                                    sizeof(float) * image_floats(c) * (size_t)set->count);
  if (st != CLGAN_OK || !with_labels) return st;
  for (int i = 0; i < set->count; i++)
    if (set->labels[i] < 0 || set->labels[i] >= c->classes)
      return clgan_fail(CLGAN_ERR_INVALID, "classifier: image %d has label %d (classes 0 to %d)",
                        i, set->labels[i], c->classes - 1);
  return clgan_mem_write(c->ctx, c->labels, 0, set->labels, sizeof(int) * (size_t)set->count);
}

/* The DCGAN initialisation from seed; Adam moments 0, BN statistics (0, 1). */
static clgan_status init_weights(clgan_classifier *c, uint64_t seed) {
  const graph *g = &c->g;
  clgan_rng rng;
  clgan_rng_seed(&rng, seed); /* as the DCGAN's initialisation */
  memset(c->init_host, 0, sizeof(float) * g->param_floats);
  for (int t = 0; t < g->ntensors; t++) {
    const clgan_tensor_desc *td = &g->tensors[t];
    if (!td->is_param) continue;
    if (td->ndim == 4)
      clgan_rng_normal(&rng, c->init_host + td->offset, td->count, 0.0f, 0.02f);
    else if (strstr(td->name, ".weight"))
      clgan_rng_normal(&rng, c->init_host + td->offset, td->count, 1.0f, 0.02f);
  }
  clgan_status st = clgan_buf_write(c->ctx, c->arena[ARENA_PARAM], c->init_host, g->param_floats);
  if (st == CLGAN_OK) st = clgan_fill(c->ctx, c->arena[ARENA_M], g->param_floats, 0.0f);
  if (st == CLGAN_OK) st = clgan_fill(c->ctx, c->arena[ARENA_V], g->param_floats, 0.0f);
  if (st == CLGAN_OK) st = clgan_fill(c->ctx, c->arena[ARENA_STATS], g->stats_floats, 0.0f);
  for (int i = 0; i < g->nnodes && st == CLGAN_OK; i++)
    if (g->nodes[i].op == GRAPH_OP_BN_ACT)
      st = clgan_fill(c->ctx, clgan_buf_at(c->arena[ARENA_STATS], g->nodes[i].rvar_off),
                      (size_t)g->slots[g->nodes[i].out].c, 1.0f);
  return st;
}

/* Epoch e's permutation of 0..count-1 (Fisher-Yates from the epoch stream
 * of seed), onto the device. */
static clgan_status shuffle(clgan_classifier *c, uint64_t seed, long epoch, int count) {
  clgan_rng rng;
  clgan_rng_seed_stream(&rng, seed, CLGAN_STREAM_EPOCH, (uint64_t)epoch);
  for (int i = 0; i < count; i++) c->order_host[i] = i;
  for (int i = count - 1; i > 0; i--) {
    int j = (int)(clgan_rng_next(&rng) % (uint64_t)(i + 1));
    int t = c->order_host[i];
    c->order_host[i] = c->order_host[j];
    c->order_host[j] = t;
  }
  return clgan_mem_write(c->ctx, c->order, 0, c->order_host, sizeof(int) * (size_t)count);
}

/* One Adam step on the batch at order[first..first + batch). */
static clgan_status train_step(clgan_classifier *c, size_t first, uint64_t aug_seed, long step) {
  const clgan_classifier_recipe *r = &c->recipe;
  const graph *g = &c->g;
  clgan_status st = clgan_gather_batch(c->ctx, &c->gather, c->images, c->order, first, r->batch,
                                       r->channels, r->image_size * r->image_size, c->input);
  clgan_buf x = c->input;
  if (st == CLGAN_OK && r->augment) {
    st = clgan_augment_forward(c->ctx, &c->aug, aug_seed, (uint64_t)step,
                               clgan_buf_at(c->scratch, AUG_P), c->input, c->aug_x, c->aug_work);
    x = c->aug_x;
  }
  graph_pass p = make_pass(c, x, 0);
  graph_grad gr = {.param_grads = 1};
  if (st == CLGAN_OK) st = graph_forward(g, &p);
  if (st == CLGAN_OK)
    st = clgan_softmax_ce(c->ctx, &c->ce, graph_output(g), c->labels, c->order, first,
                          c->scratch, c->grad_buf[0], 1.0f);
  if (st == CLGAN_OK) st = graph_backward(g, &p, &gr);
  clgan_adam_params ap = {r->lr, r->beta1, r->beta2, 1e-8f};
  clgan_buf none = {0};
  if (st == CLGAN_OK)
    st = clgan_adam_step(c->ctx, &c->adam, &ap, step + 1, g->param_floats,
                         c->arena[ARENA_PARAM], c->arena[ARENA_GRAD], c->arena[ARENA_M],
                         c->arena[ARENA_V], none);
  return st;
}

clgan_status clgan_classifier_fit(clgan_classifier *c, const clgan_labelled_set *set, long steps,
                                  uint64_t seed, float *last_loss) {
  int batch = c->recipe.batch;
  if (set->count < batch)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "classifier: %d training images are fewer than one batch of %d", set->count,
                      batch);
  clgan_status st = upload(c, set, 1);
  if (st == CLGAN_OK) st = init_weights(c, seed);
  const float p_one = 1.0f; /* plain DiffAugment: every op on every image */
  if (st == CLGAN_OK && c->recipe.augment)
    st = clgan_buf_write(c->ctx, clgan_buf_at(c->scratch, AUG_P), &p_one, 1);
  uint64_t aug_seed = clgan_rng_stream_seed(seed, CLGAN_STREAM_AUGMENT, 0);
  long per_epoch = set->count / batch;
  for (long s = 0; s < steps && st == CLGAN_OK; s++) {
    if (s % per_epoch == 0) st = shuffle(c, seed, s / per_epoch, set->count);
    if (st == CLGAN_OK) st = train_step(c, (size_t)(s % per_epoch) * batch, aug_seed, s);
  }
  float out[LOSS_FLOATS] = {0};
  if (st == CLGAN_OK && last_loss) st = clgan_buf_read(c->ctx, c->scratch, out, LOSS_FLOATS);
  if (st == CLGAN_OK && last_loss) *last_loss = out[0];
  return st == CLGAN_OK ? clgan_ctx_finish(c->ctx) : st;
}

clgan_status clgan_classifier_predict(clgan_classifier *c, const clgan_labelled_set *set,
                                      double *probs) {
  const clgan_classifier_recipe *r = &c->recipe;
  int batch = r->batch, k = c->classes;
  clgan_status st = upload(c, set, 0);
  /* 0..count-1, the last batch padded with image 0 (its rows are dropped;
   * with running statistics the images do not affect one another) */
  for (int i = 0; i < c->order_len; i++) c->order_host[i] = i < set->count ? i : 0;
  size_t padded = clgan_round_up((size_t)set->count, (size_t)batch);
  if (st == CLGAN_OK)
    st = clgan_mem_write(c->ctx, c->order, 0, c->order_host, sizeof(int) * padded);
  graph_pass p = make_pass(c, c->input, 1);
  for (size_t first = 0; first < padded && st == CLGAN_OK; first += (size_t)batch) {
    st = clgan_gather_batch(c->ctx, &c->gather, c->images, c->order, first, batch, r->channels,
                            r->image_size * r->image_size, c->input);
    if (st == CLGAN_OK) st = graph_forward(&c->g, &p);
    if (st == CLGAN_OK)
      st = clgan_buf_read(c->ctx, graph_output(&c->g), c->logits_host, (size_t)k * batch);
    for (int b = 0; b < batch && st == CLGAN_OK && first + (size_t)b < (size_t)set->count; b++) {
      double m = -INFINITY, sum = 0;
      double *row = probs + (first + (size_t)b) * (size_t)k;
      for (int j = 0; j < k; j++) m = fmax(m, c->logits_host[(size_t)j * batch + b]);
      for (int j = 0; j < k; j++) sum += row[j] = exp(c->logits_host[(size_t)j * batch + b] - m);
      for (int j = 0; j < k; j++) row[j] /= sum;
    }
  }
  return st;
}
