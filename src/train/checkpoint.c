/* Checkpoints (full training state) and exported generators as safetensors. */
#include "clgan/checkpoint.h"
#include "clgan/dist.h"

#include "clgan/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/regularize.h"
#include "graph/graph.h"
#include "train/cond_meta.h"
#include "runtime/internal.h"
#include "train/checkpoint_reg.h"

#define MAX_TENSORS 512
#define MAX_META 64
#define GRAPH_EXPORT_MAX (GRAPH_MAX_TENSORS + GRAPH_MAX_NODES)

/* Metadata key/value storage for one write. */
typedef struct meta {
  int n;
  char keys[MAX_META][48];
  char values[MAX_META][48];
  const char *kp[MAX_META], *vp[MAX_META];
} meta;

/* A value too long for the table (the class names), kept alive by the caller. */
static void meta_add_ref(meta *m, const char *key, const char *value) {
  if (m->n == MAX_META || !value) return;
  snprintf(m->keys[m->n], sizeof m->keys[0], "%s", key);
  m->kp[m->n] = m->keys[m->n];
  m->vp[m->n++] = value;
}

static void meta_add(meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_add(meta *m, const char *key, const char *fmt, ...) {
  if (m->n == MAX_META) return;
  snprintf(m->keys[m->n], sizeof m->keys[0], "%s", key);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->values[m->n], sizeof m->values[0], fmt, ap);
  va_end(ap);
  m->kp[m->n] = m->keys[m->n];
  m->vp[m->n] = m->values[m->n];
  m->n++;
}

/* Every field of the configuration list as "config.<name>". */
static void meta_add_config(meta *m, const clgan_dcgan_config *cfg) {
  int n;
  const clgan_config_field *f = clgan_config_fields(&n);
  for (int i = 0; i < n; i++) {
    char key[48], value[48];
    snprintf(key, sizeof key, "config.%s", f[i].name);
    clgan_config_format(&f[i], cfg, value, sizeof value);
    meta_add(m, key, "%s", value);
  }
}

/* Parses config.* metadata into cfg. A field missing from a file of format
 * version `version` is an error when that version has it (since <= version)
 * and required; otherwise it keeps the value in cfg (the caller's defaults:
 * what older versions implied). */
static clgan_status config_from_meta(const clgan_safetensors *st, clgan_dcgan_config *cfg,
                                     int version, int required) {
  int n;
  const clgan_config_field *f = clgan_config_fields(&n);
  for (int i = 0; i < n; i++) {
    char key[48];
    snprintf(key, sizeof key, "config.%s", f[i].name);
    const char *v = clgan_safetensors_meta(st, key);
    if (!v) {
      if (required && f[i].since <= version)
        return clgan_fail(CLGAN_ERR_FORMAT, "%s: checkpoint metadata lacks '%s'",
                          clgan_safetensors_path(st), key);
      continue;
    }
    if (clgan_config_parse(&f[i], v, cfg) != CLGAN_OK)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: metadata '%s' has an invalid value '%s'",
                        clgan_safetensors_path(st), key, v);
  }
  return CLGAN_OK;
}

/* A configuration read from a file must be one the model accepts. */
static clgan_status check_file_config(const clgan_safetensors *st, const clgan_dcgan_config *cfg) {
  if (clgan_config_check(cfg, NULL) == CLGAN_OK) return CLGAN_OK;
  char why[256];
  snprintf(why, sizeof why, "%s", clgan_last_error());
  return clgan_fail(CLGAN_ERR_FORMAT, "%s: the stored configuration is invalid: %s",
                    clgan_safetensors_path(st), why);
}

/* Host copies of a network's arenas. */
typedef struct host_net {
  const clgan_tensor_desc *desc;
  int count;
  float *arena[CLGAN_ARENA_COUNT];
} host_net;

static void host_net_free(host_net *h) {
  for (int a = 0; a < CLGAN_ARENA_COUNT; a++) free(h->arena[a]);
}

static clgan_status host_net_alloc(clgan_dcgan *net, clgan_net which, host_net *h) {
  memset(h, 0, sizeof *h);
  clgan_dcgan_tensors(net, which, &h->desc, &h->count);
  for (int a = 0; a < CLGAN_ARENA_COUNT; a++) {
    size_t n = clgan_dcgan_arena_floats(net, which, a);
    if (!(h->arena[a] = malloc((n ? n : 1) * sizeof(float)))) {
      host_net_free(h);
      return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    }
  }
  return CLGAN_OK;
}

static void set_shape(clgan_st_tensor *t, const clgan_tensor_desc *d) {
  t->ndim = d->ndim;
  for (int i = 0; i < d->ndim; i++) t->shape[i] = d->shape[i];
}

static const char *const net_prefix[2] = {"netG", "netD"};
static const char *const opt_prefix[2] = {"optG", "optD"};

clgan_status clgan_checkpoint_save(const char *path, clgan_dcgan *net, const clgan_train_state *ts) {
  clgan_dcgan_config saved = *clgan_dcgan_get_config(net);
  saved.batch = clgan_dcgan_global_batch(net); /* over several ranks: the global batch */
  const clgan_dcgan_config *cfg = &saved;
  host_net h[2];
  clgan_st_tensor *tensors = calloc(MAX_TENSORS, sizeof *tensors);
  char(*names)[96] = calloc(MAX_TENSORS, sizeof *names);
  clgan_status st = tensors && names ? CLGAN_OK : clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  int nt = 0, have[2] = {0, 0};
  float *reg = NULL; /* the regularisers' state (checkpoint_reg.c) */
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    if ((st = host_net_alloc(net, n, &h[n])) != CLGAN_OK) break;
    have[n] = 1;
    /* gradients are not state. The averaged generator's statistics are
     * saved for readers of the file (netG_ema is a whole generator), though
     * a load recomputes them from the averaged weights (train/ema.c) */
    for (int a = 0; a < CLGAN_ARENA_COUNT && st == CLGAN_OK; a++)
      if (a != CLGAN_ARENA_GRAD)
        st = clgan_dcgan_arena_read(net, n, a, h[n].arena[a]);
  }
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    for (int t = 0; t < h[n].count && nt + 4 <= MAX_TENSORS; t++) {
      const clgan_tensor_desc *d = &h[n].desc[t];
      snprintf(names[nt], sizeof names[0], "%s.%s", net_prefix[n], d->name);
      tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_F32};
      set_shape(&tensors[nt], d);
      tensors[nt++].data = h[n].arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset;
      if (clgan_dcgan_arena_floats(net, n, CLGAN_ARENA_EMA) > 0) {
        snprintf(names[nt], sizeof names[0], "%s_ema.%s", net_prefix[n], d->name);
        tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_F32};
        set_shape(&tensors[nt], d);
        tensors[nt++].data =
            h[n].arena[d->is_param ? CLGAN_ARENA_EMA : CLGAN_ARENA_EMA_STATS] + d->offset;
      }
      if (!d->is_param) continue;
      for (int k = 0; k < 2; k++) {
        snprintf(names[nt], sizeof names[0], "%s.%s.%s", opt_prefix[n], k ? "exp_avg_sq" : "exp_avg",
                 d->name);
        tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_F32};
        set_shape(&tensors[nt], d);
        tensors[nt++].data = h[n].arena[k ? CLGAN_ARENA_ADAM_V : CLGAN_ARENA_ADAM_M] + d->offset;
      }
    }
  }
  if (st == CLGAN_OK) {
    tensors[nt] = (clgan_st_tensor){.name = "train.rng_state", .dtype = CLGAN_U64, .ndim = 1,
                                    .shape = {4}, .data = ts->rng};
    nt++;
    if (ts->fixed_count > 0 && ts->fixed_noise) {
      tensors[nt] = (clgan_st_tensor){.name = "train.fixed_noise", .dtype = CLGAN_F32, .ndim = 4,
                                      .shape = {ts->fixed_count, cfg->nz, 1, 1},
                                      .data = ts->fixed_noise};
      nt++;
    }
    st = checkpoint_reg_append(net, tensors, &nt, MAX_TENSORS, &reg);
    meta m = {0};
    meta_add(&m, "format", "clgan-checkpoint");
    meta_add(&m, "version", "%d", CLGAN_CHECKPOINT_VERSION);
    meta_add(&m, "iteration", "%ld", ts->iteration);
    meta_add(&m, "seed", "%llu", (unsigned long long)ts->seed);
    meta_add(&m, "optG.step", "%ld", clgan_dcgan_adam_steps(net, CLGAN_NET_G));
    meta_add(&m, "optD.step", "%ld", clgan_dcgan_adam_steps(net, CLGAN_NET_D));
    clgan_augment_state aug = {0};
    if (st == CLGAN_OK) st = clgan_dcgan_get_augment(net, &aug);
    meta_add(&m, "augment.seed", "%llu", (unsigned long long)aug.seed);
    meta_add(&m, "augment.counter", "%llu", (unsigned long long)aug.counter);
    meta_add(&m, "augment.p", "%.9g", (double)aug.p);
    meta_add(&m, "augment.ada_sum", "%.9g", (double)aug.ada_sum);
    meta_add(&m, "augment.ada_count", "%d", aug.ada_count);
    meta_add_config(&m, cfg);
    char *classes = NULL;
    if (st == CLGAN_OK) st = cond_meta_classes(net, &classes);
    meta_add_ref(&m, "classes", classes);
    if (st == CLGAN_OK) st = clgan_safetensors_write(path, tensors, nt, m.kp, m.vp, m.n);
    free(classes);
  }
  for (int n = 0; n < 2; n++)
    if (have[n]) host_net_free(&h[n]);
  free(reg);
  free(tensors);
  free(names);
  return st;
}

/* Opens a checkpoint of a format version this build reads (1 to
 * CLGAN_CHECKPOINT_VERSION) and returns that version in *version. */
static clgan_status open_checkpoint(const char *path, clgan_safetensors **st, int *version) {
  clgan_status s = clgan_safetensors_open(path, st);
  if (s != CLGAN_OK) return s;
  const char *fmt = clgan_safetensors_meta(*st, "format");
  const char *ver = clgan_safetensors_meta(*st, "version");
  char *end = NULL;
  long v = ver ? strtol(ver, &end, 10) : 0;
  if (!fmt || strcmp(fmt, "clgan-checkpoint") != 0 || !ver || end == ver || *end || v < 1 ||
      v > CLGAN_CHECKPOINT_VERSION) {
    clgan_safetensors_close(*st);
    *st = NULL;
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: not a clgan checkpoint (version 1 to %d)", path,
                      CLGAN_CHECKPOINT_VERSION);
  }
  *version = (int)v;
  return CLGAN_OK;
}

clgan_status clgan_checkpoint_read_config(const char *path, clgan_dcgan_config *cfg) {
  clgan_safetensors *st;
  int version;
  clgan_status s = open_checkpoint(path, &st, &version);
  if (s != CLGAN_OK) return s;
  *cfg = clgan_dcgan_default_config();
  s = config_from_meta(st, cfg, version, 1);
  if (s == CLGAN_OK) s = check_file_config(st, cfg);
  clgan_safetensors_close(st);
  return s;
}

static int parse_long(const char *v, long *out) {
  if (!v) return 0;
  char *end;
  errno = 0;
  long l = strtol(v, &end, 10);
  if (end == v || *end || errno || l < 0) return 0;
  *out = l;
  return 1;
}

/* The checkpoint's configuration into *want; its shape must be net's. */
static clgan_status check_config(clgan_safetensors *st, int version, const clgan_dcgan *net,
                                 clgan_dcgan_config *want) {
  clgan_dcgan_config global = *clgan_dcgan_get_config(net);
  global.batch = clgan_dcgan_global_batch(net); /* a checkpoint holds the global batch */
  const clgan_dcgan_config *have = &global;
  *want = *have;
  clgan_status s = config_from_meta(st, want, version, 1);
  if (s != CLGAN_OK) return s;
  if (want->image_size != have->image_size || want->channels != have->channels ||
      want->nz != have->nz || want->ngf != have->ngf || want->ndf != have->ndf ||
      want->batch != have->batch)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: checkpoint was made for size %d, channels %d, nz %d, ngf %d, ndf %d, "
                      "batch %d; this model has %d, %d, %d, %d, %d, %d",
                      clgan_safetensors_path(st), want->image_size, want->channels, want->nz,
                      want->ngf, want->ndf, want->batch, have->image_size, have->channels,
                      have->nz, have->ngf, have->ndf, have->batch);
  return CLGAN_OK;
}

/* The augmentation state; files older than augmentation have none (aug keeps
 * the model's state), and files older than ADA no ADA sums. */
static clgan_status read_augment(clgan_safetensors *st, clgan_augment_state *aug) {
  const char *path = clgan_safetensors_path(st);
  const char *text[3] = {clgan_safetensors_meta(st, "augment.seed"),
                         clgan_safetensors_meta(st, "augment.counter"),
                         clgan_safetensors_meta(st, "augment.p")};
  const char *ada[2] = {clgan_safetensors_meta(st, "augment.ada_sum"),
                        clgan_safetensors_meta(st, "augment.ada_count")};
  if (ada[0] && ada[1]) {
    char *e1, *e2;
    float sum = strtof(ada[0], &e1);
    long n = strtol(ada[1], &e2, 10);
    if (*e1 || *e2 || n < 0 || n > 1000)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: ADA state invalid", path);
    aug->ada_sum = sum;
    aug->ada_count = (int)n;
  }
  if (!text[0] && !text[1] && !text[2]) return CLGAN_OK;
  if (!text[0] || !text[1] || !text[2])
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: augmentation state missing or invalid", path);
  char *ends[3];
  aug->seed = strtoull(text[0], &ends[0], 10);
  aug->counter = strtoull(text[1], &ends[1], 10);
  aug->p = strtof(text[2], &ends[2]);
  if (*ends[0] || *ends[1] || *ends[2] || !(aug->p >= 0.0f && aug->p <= 1.0f))
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: augmentation state missing or invalid", path);
  return CLGAN_OK;
}

/* Iteration, seed and both Adam step counts. */
static clgan_status read_counters(clgan_safetensors *st, clgan_train_state *ts, long steps[2]) {
  const char *path = clgan_safetensors_path(st);
  const char *seed_text = clgan_safetensors_meta(st, "seed");
  char *seed_end = NULL;
  unsigned long long seed = seed_text ? strtoull(seed_text, &seed_end, 10) : 0;
  if (!seed_text || seed_end == seed_text || *seed_end)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: seed missing or invalid", path);
  ts->seed = seed;
  if (!parse_long(clgan_safetensors_meta(st, "iteration"), &ts->iteration) ||
      !parse_long(clgan_safetensors_meta(st, "optG.step"), &steps[0]) ||
      !parse_long(clgan_safetensors_meta(st, "optD.step"), &steps[1]))
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: iteration or optimiser steps missing or invalid",
                      path);
  return CLGAN_OK;
}

/* Copies the tensor `name` (checked against d's shape) into dst. */
/* A model's values must be finite, and variances not negative: anything
 * else would train or generate garbage without a word. */
static clgan_status check_values(clgan_safetensors *st, const char *name, const float *v,
                                 size_t n) {
  int variance = strstr(name, "running_var") != NULL;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]) || (variance && v[i] < 0.0f))
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: tensor %s holds %s value %g at index %zu",
                        clgan_safetensors_path(st), name,
                        isfinite(v[i]) ? "a negative variance" : "a non-finite", (double)v[i], i);
  return CLGAN_OK;
}

/* Tensor `name` of the shape d describes, checked, into dst. */
static clgan_status take_tensor(clgan_safetensors *st, const char *name,
                                const clgan_tensor_desc *d, float *dst) {
  int64_t shape[4];
  for (int i = 0; i < d->ndim; i++) shape[i] = d->shape[i];
  const float *src;
  clgan_status s = clgan_safetensors_expect_f32(st, name, d->ndim, shape, &src);
  if (s == CLGAN_OK) s = check_values(st, name, src, d->count);
  if (s == CLGAN_OK) memcpy(dst, src, d->count * sizeof(float));
  return s;
}

/* Every tensor of network n into the host arenas h (weights, statistics,
 * averaged weights when the model keeps them, Adam moments). */
static clgan_status gather_net(clgan_safetensors *st, clgan_dcgan *net, int n, host_net *h) {
  int ema = clgan_dcgan_arena_floats(net, n, CLGAN_ARENA_EMA) > 0;
  clgan_status s = CLGAN_OK;
  for (int t = 0; t < h->count && s == CLGAN_OK; t++) {
    const clgan_tensor_desc *d = &h->desc[t];
    char name[96];
    snprintf(name, sizeof name, "%s.%s", net_prefix[n], d->name);
    s = take_tensor(st, name, d,
                    h->arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset);
    if (s != CLGAN_OK || !d->is_param) continue;
    if (ema) {
      snprintf(name, sizeof name, "%s_ema.%s", net_prefix[n], d->name);
      s = take_tensor(st, name, d, h->arena[CLGAN_ARENA_EMA] + d->offset);
    }
    for (int k = 0; k < 2 && s == CLGAN_OK; k++) {
      snprintf(name, sizeof name, "%s.%s.%s", opt_prefix[n], k ? "exp_avg_sq" : "exp_avg",
               d->name);
      clgan_arena moment = k ? CLGAN_ARENA_ADAM_V : CLGAN_ARENA_ADAM_M;
      s = take_tensor(st, name, d, h->arena[moment] + d->offset);
    }
  }
  return s;
}

/* The host RNG state and the fixed noise (malloc'd into ts). */
static clgan_status read_train_tensors(clgan_safetensors *st, int nz, clgan_train_state *ts) {
  const char *path = clgan_safetensors_path(st);
  const clgan_st_tensor *rng = clgan_safetensors_find(st, "train.rng_state");
  if (!rng || rng->dtype != CLGAN_U64 || rng->ndim != 1 || rng->shape[0] != 4)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: train.rng_state missing or not U64 [4]", path);
  const clgan_st_tensor *fixed = clgan_safetensors_find(st, "train.fixed_noise");
  if (fixed && (fixed->dtype != CLGAN_F32 || fixed->ndim != 4 || fixed->shape[1] != nz ||
                fixed->shape[2] != 1 || fixed->shape[3] != 1 || fixed->shape[0] > 100000))
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: train.fixed_noise is not F32 [count, %d, 1, 1]",
                      path, nz);
  memcpy(ts->rng, rng->data, sizeof ts->rng);
  if (fixed && fixed->shape[0] > 0) {
    size_t n = (size_t)fixed->shape[0] * (size_t)nz;
    if (!(ts->fixed_noise = malloc(n * sizeof(float))))
      return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    memcpy(ts->fixed_noise, fixed->data, n * sizeof(float));
    ts->fixed_count = (int)fixed->shape[0];
  }
  return CLGAN_OK;
}

/* Checks and gathers everything on the host first; only then touches the
 * device, so that a bad file leaves net unchanged. */
static clgan_status load_into(clgan_safetensors *st, int version, clgan_dcgan *net,
                              clgan_train_state *ts) {
  clgan_dcgan_config want;
  clgan_augment_state aug;
  long steps[2];
  clgan_status s = clgan_dcgan_get_augment(net, &aug);
  if (s == CLGAN_OK) s = check_config(st, version, net, &want);
  if (s == CLGAN_OK) s = read_augment(st, &aug);
  if (s == CLGAN_OK) s = read_counters(st, ts, steps);
  host_net h[2];
  int alloced = 0;
  for (int n = 0; n < 2 && s == CLGAN_OK; n++) {
    if ((s = host_net_alloc(net, n, &h[n])) != CLGAN_OK) break;
    alloced++;
    s = gather_net(st, net, n, &h[n]);
  }
  if (s == CLGAN_OK) s = read_train_tensors(st, want.nz, ts);
  float *reg = NULL;
  if (s == CLGAN_OK) s = checkpoint_reg_gather(st, net, &reg);
  if (s == CLGAN_OK) s = cond_meta_read_classes(st, net);
  for (int n = 0; n < 2 && s == CLGAN_OK; n++)
    for (int a = 0; a < CLGAN_ARENA_COUNT && s == CLGAN_OK; a++)
      if (a != CLGAN_ARENA_GRAD && a != CLGAN_ARENA_EMA_STATS)
        s = clgan_dcgan_arena_write(net, n, a, h[n].arena[a]);
  if (s == CLGAN_OK) {
    clgan_dcgan_set_adam_steps(net, CLGAN_NET_G, steps[0]);
    clgan_dcgan_set_adam_steps(net, CLGAN_NET_D, steps[1]);
    s = clgan_dcgan_set_augment(net, &aug);
  }
  if (s == CLGAN_OK) s = clgan_dcgan_reg_write(net, reg); /* after D's weights: W_sn from them */
  free(reg);
  for (int n = 0; n < alloced; n++) host_net_free(&h[n]);
  return s;
}

clgan_status clgan_checkpoint_load(const char *path, clgan_dcgan *net, clgan_train_state *ts) {
  memset(ts, 0, sizeof *ts);
  clgan_safetensors *st;
  int version;
  clgan_status s = open_checkpoint(path, &st, &version);
  if (s != CLGAN_OK) return s;
  s = load_into(st, version, net, ts);
  if (s != CLGAN_OK) {
    free(ts->fixed_noise);
    memset(ts, 0, sizeof *ts);
  }
  clgan_safetensors_close(st);
  return s;
}

clgan_status clgan_export_generator(const char *path, clgan_dcgan *net) {
  host_net h;
  clgan_status s = host_net_alloc(net, CLGAN_NET_G, &h);
  if (s != CLGAN_OK) return s;
  /* the averaged weights when the model keeps them (they are what samples use) */
  int ema = clgan_dcgan_arena_floats(net, CLGAN_NET_G, CLGAN_ARENA_EMA) > 0;
  s = clgan_dcgan_arena_read(net, CLGAN_NET_G, ema ? CLGAN_ARENA_EMA : CLGAN_ARENA_PARAM,
                             h.arena[CLGAN_ARENA_PARAM]);
  /* and the statistics that belong to those weights */
  if (s == CLGAN_OK)
    s = clgan_dcgan_arena_read(net, CLGAN_NET_G, ema ? CLGAN_ARENA_EMA_STATS : CLGAN_ARENA_STATS,
                               h.arena[CLGAN_ARENA_STATS]);
  /* PyTorch's BatchNorm2d state_dict also has num_batches_tracked (int64
   * scalar): one per training-mode forward, i.e. one per G step. */
  int64_t tracked = clgan_dcgan_adam_steps(net, CLGAN_NET_G);
  clgan_st_tensor tensors[GRAPH_EXPORT_MAX];
  char names[GRAPH_EXPORT_MAX][64];
  int nt = 0;
  for (int t = 0; t < h.count && s == CLGAN_OK; t++) {
    const clgan_tensor_desc *d = &h.desc[t];
    tensors[nt] = (clgan_st_tensor){.name = d->name, .dtype = CLGAN_F32};
    set_shape(&tensors[nt], d);
    tensors[nt++].data = h.arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset;
    const char *suffix = strstr(d->name, ".running_var");
    if (suffix) {
      snprintf(names[nt], sizeof names[0], "%.*s.num_batches_tracked", (int)(suffix - d->name),
               d->name);
      tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_I64, .ndim = 0,
                                      .data = &tracked};
      nt++;
    }
  }
  if (s == CLGAN_OK) {
    meta m = {0};
    meta_add(&m, "format", "clgan-generator");
    meta_add(&m, "version", "%d", CLGAN_CHECKPOINT_VERSION);
    meta_add_config(&m, clgan_dcgan_get_config(net));
    char *classes = NULL;
    s = cond_meta_classes(net, &classes);
    meta_add_ref(&m, "classes", classes);
    if (s == CLGAN_OK) s = clgan_safetensors_write(path, tensors, nt, m.kp, m.vp, m.n);
    free(classes);
  }
  host_net_free(&h);
  return s;
}

clgan_status clgan_generator_read_config(const char *path, clgan_dcgan_config *cfg) {
  clgan_safetensors *st;
  clgan_status s = clgan_safetensors_open(path, &st);
  if (s != CLGAN_OK) return s;
  s = config_from_meta(st, cfg, CLGAN_CHECKPOINT_VERSION, 0);
  if (s == CLGAN_OK) s = check_file_config(st, cfg);
  clgan_safetensors_close(st);
  return s;
}

clgan_status clgan_import_generator(const char *path, clgan_dcgan *net) {
  clgan_safetensors *st;
  clgan_status s = clgan_safetensors_open(path, &st);
  if (s != CLGAN_OK) return s;
  host_net h;
  if ((s = host_net_alloc(net, CLGAN_NET_G, &h)) != CLGAN_OK) {
    clgan_safetensors_close(st);
    return s;
  }
  for (int t = 0; t < h.count && s == CLGAN_OK; t++) {
    const clgan_tensor_desc *d = &h.desc[t];
    s = take_tensor(st, d->name, d,
                    h.arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset);
  }
  if (s == CLGAN_OK) s = cond_meta_read_classes(st, net); /* before the device is written */
  if (s == CLGAN_OK)
    s = clgan_dcgan_arena_write(net, CLGAN_NET_G, CLGAN_ARENA_PARAM, h.arena[CLGAN_ARENA_PARAM]);
  if (s == CLGAN_OK && clgan_dcgan_arena_floats(net, CLGAN_NET_G, CLGAN_ARENA_EMA) > 0)
    s = clgan_dcgan_arena_write(net, CLGAN_NET_G, CLGAN_ARENA_EMA, h.arena[CLGAN_ARENA_PARAM]);
  if (s == CLGAN_OK)
    s = clgan_dcgan_arena_write(net, CLGAN_NET_G, CLGAN_ARENA_STATS, h.arena[CLGAN_ARENA_STATS]);
  host_net_free(&h);
  clgan_safetensors_close(st);
  return s;
}
