/* Checkpoints (full training state) and exported generators as safetensors. */
#include "clgan/checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "runtime/internal.h"

#define CHECKPOINT_VERSION "1"
#define MAX_TENSORS 512
#define MAX_META 40
#define GRAPH_EXPORT_MAX (GRAPH_MAX_TENSORS + GRAPH_MAX_NODES)

/* Configuration fields stored as "config.<name>" metadata. */
typedef struct cfg_field {
  const char *name;
  int is_float;
  size_t offset;
  int optional; /* switches added after version 1: absent means the default */
} cfg_field;

#define INT_FIELD(f) {#f, 0, offsetof(clgan_dcgan_config, f), 0}
#define FLOAT_FIELD(f) {#f, 1, offsetof(clgan_dcgan_config, f), 0}
#define OPT_INT_FIELD(f) {#f, 0, offsetof(clgan_dcgan_config, f), 1}
#define OPT_FLOAT_FIELD(f) {#f, 1, offsetof(clgan_dcgan_config, f), 1}
static const cfg_field cfg_fields[] = {
    INT_FIELD(image_size), INT_FIELD(channels),    INT_FIELD(nz),        INT_FIELD(ngf),
    INT_FIELD(ndf),        INT_FIELD(batch),       FLOAT_FIELD(lr_g),    FLOAT_FIELD(lr_d),
    FLOAT_FIELD(beta1),    FLOAT_FIELD(beta2),     FLOAT_FIELD(adam_eps), FLOAT_FIELD(bn_momentum),
    FLOAT_FIELD(bn_eps),   FLOAT_FIELD(lrelu_slope), OPT_FLOAT_FIELD(label_smooth),
    OPT_FLOAT_FIELD(ema_decay), OPT_INT_FIELD(nan_guard), OPT_INT_FIELD(augment),
    OPT_INT_FIELD(ada),    OPT_FLOAT_FIELD(ada_target),
};
#define NFIELDS ((int)(sizeof cfg_fields / sizeof cfg_fields[0]))

/* Metadata key/value storage for one write. */
typedef struct meta {
  int n;
  char keys[MAX_META][48];
  char values[MAX_META][48];
  const char *kp[MAX_META], *vp[MAX_META];
} meta;

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

static void meta_add_config(meta *m, const clgan_dcgan_config *cfg) {
  for (int i = 0; i < NFIELDS; i++) {
    char key[48];
    snprintf(key, sizeof key, "config.%s", cfg_fields[i].name);
    const char *p = (const char *)cfg + cfg_fields[i].offset;
    if (cfg_fields[i].is_float)
      meta_add(m, key, "%.9g", (double)*(const float *)p);
    else
      meta_add(m, key, "%d", *(const int *)p);
  }
}

/* Parses config.* metadata into cfg; fields absent keep their value unless
 * all_required. */
static clgan_status config_from_meta(const clgan_safetensors *st, clgan_dcgan_config *cfg,
                                     int all_required) {
  for (int i = 0; i < NFIELDS; i++) {
    char key[48];
    snprintf(key, sizeof key, "config.%s", cfg_fields[i].name);
    const char *v = clgan_safetensors_meta(st, key);
    if (!v) {
      if (all_required && !cfg_fields[i].optional)
        return clgan_fail(CLGAN_ERR_FORMAT, "%s: checkpoint metadata lacks '%s'",
                          clgan_safetensors_path(st), key);
      continue;
    }
    char *end = NULL;
    errno = 0;
    char *p = (char *)cfg + cfg_fields[i].offset;
    if (cfg_fields[i].is_float) {
      float f = strtof(v, &end);
      if (end == v || *end || errno) goto bad;
      *(float *)p = f;
    } else {
      long l = strtol(v, &end, 10);
      if (end == v || *end || errno || l < 0 || l > (1 << 24)) goto bad;
      *(int *)p = (int)l;
    }
    continue;
  bad:
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: metadata '%s' has an invalid value '%s'",
                      clgan_safetensors_path(st), key, v);
  }
  return CLGAN_OK;
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
  const clgan_dcgan_config *cfg = clgan_dcgan_get_config(net);
  host_net h[2];
  clgan_st_tensor *tensors = calloc(MAX_TENSORS, sizeof *tensors);
  char(*names)[96] = calloc(MAX_TENSORS, sizeof *names);
  clgan_status st = tensors && names ? CLGAN_OK : clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  int nt = 0, have[2] = {0, 0};
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    if ((st = host_net_alloc(net, n, &h[n])) != CLGAN_OK) break;
    have[n] = 1;
    for (int a = 0; a < CLGAN_ARENA_COUNT && st == CLGAN_OK; a++)
      if (a != CLGAN_ARENA_GRAD) st = clgan_dcgan_arena_read(net, n, a, h[n].arena[a]);
  }
  for (int n = 0; n < 2 && st == CLGAN_OK; n++) {
    for (int t = 0; t < h[n].count && nt + 4 <= MAX_TENSORS; t++) {
      const clgan_tensor_desc *d = &h[n].desc[t];
      snprintf(names[nt], sizeof names[0], "%s.%s", net_prefix[n], d->name);
      tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_F32};
      set_shape(&tensors[nt], d);
      tensors[nt++].data = h[n].arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset;
      if (!d->is_param) continue;
      if (clgan_dcgan_arena_floats(net, n, CLGAN_ARENA_EMA) > 0) {
        snprintf(names[nt], sizeof names[0], "%s_ema.%s", net_prefix[n], d->name);
        tensors[nt] = (clgan_st_tensor){.name = names[nt], .dtype = CLGAN_F32};
        set_shape(&tensors[nt], d);
        tensors[nt++].data = h[n].arena[CLGAN_ARENA_EMA] + d->offset;
      }
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
    meta m = {0};
    meta_add(&m, "format", "clgan-checkpoint");
    meta_add(&m, "version", CHECKPOINT_VERSION);
    meta_add(&m, "iteration", "%ld", ts->iteration);
    meta_add(&m, "seed", "%llu", (unsigned long long)ts->seed);
    meta_add(&m, "optG.step", "%ld", clgan_dcgan_adam_steps(net, CLGAN_NET_G));
    meta_add(&m, "optD.step", "%ld", clgan_dcgan_adam_steps(net, CLGAN_NET_D));
    clgan_augment_state aug = {0};
    st = clgan_dcgan_get_augment(net, &aug);
    meta_add(&m, "augment.seed", "%llu", (unsigned long long)aug.seed);
    meta_add(&m, "augment.counter", "%llu", (unsigned long long)aug.counter);
    meta_add(&m, "augment.p", "%.9g", (double)aug.p);
    meta_add(&m, "augment.ada_sum", "%.9g", (double)aug.ada_sum);
    meta_add(&m, "augment.ada_count", "%d", aug.ada_count);
    meta_add_config(&m, cfg);
    if (st == CLGAN_OK) st = clgan_safetensors_write(path, tensors, nt, m.kp, m.vp, m.n);
  }
  for (int n = 0; n < 2; n++)
    if (have[n]) host_net_free(&h[n]);
  free(tensors);
  free(names);
  return st;
}

static clgan_status open_checkpoint(const char *path, clgan_safetensors **st) {
  clgan_status s = clgan_safetensors_open(path, st);
  if (s != CLGAN_OK) return s;
  const char *fmt = clgan_safetensors_meta(*st, "format");
  const char *ver = clgan_safetensors_meta(*st, "version");
  if (!fmt || strcmp(fmt, "clgan-checkpoint") != 0 || !ver || strcmp(ver, CHECKPOINT_VERSION) != 0) {
    clgan_safetensors_close(*st);
    *st = NULL;
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: not a clgan checkpoint (version " CHECKPOINT_VERSION
                      "); for an exported generator use 'clgan generate --generator'",
                      path);
  }
  return CLGAN_OK;
}

clgan_status clgan_checkpoint_read_config(const char *path, clgan_dcgan_config *cfg) {
  clgan_safetensors *st;
  clgan_status s = open_checkpoint(path, &st);
  if (s != CLGAN_OK) return s;
  *cfg = clgan_dcgan_default_config();
  s = config_from_meta(st, cfg, 1);
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

clgan_status clgan_checkpoint_load(const char *path, clgan_dcgan *net, clgan_train_state *ts) {
  memset(ts, 0, sizeof *ts);
  clgan_safetensors *st;
  clgan_status s = open_checkpoint(path, &st);
  if (s != CLGAN_OK) return s;
  const clgan_dcgan_config *have = clgan_dcgan_get_config(net);
  clgan_dcgan_config want = *have;
  if ((s = config_from_meta(st, &want, 1)) != CLGAN_OK) goto out;
  if (want.image_size != have->image_size || want.channels != have->channels ||
      want.nz != have->nz || want.ngf != have->ngf || want.ndf != have->ndf ||
      want.batch != have->batch) {
    s = clgan_fail(CLGAN_ERR_FORMAT,
                   "%s: checkpoint was made for size %d, channels %d, nz %d, ngf %d, ndf %d, "
                   "batch %d; this model has %d, %d, %d, %d, %d, %d",
                   path, want.image_size, want.channels, want.nz, want.ngf, want.ndf, want.batch,
                   have->image_size, have->channels, have->nz, have->ngf, have->ndf, have->batch);
    goto out;
  }
  clgan_augment_state aug;
  if ((s = clgan_dcgan_get_augment(net, &aug)) != CLGAN_OK) goto out;
  const char *aug_text[3] = {clgan_safetensors_meta(st, "augment.seed"),
                             clgan_safetensors_meta(st, "augment.counter"),
                             clgan_safetensors_meta(st, "augment.p")};
  char *ends[3] = {NULL, NULL, NULL};
  if (aug_text[0] && aug_text[1] && aug_text[2]) {
    aug.seed = strtoull(aug_text[0], &ends[0], 10);
    aug.counter = strtoull(aug_text[1], &ends[1], 10);
    aug.p = strtof(aug_text[2], &ends[2]);
  }
  const char *ada_text[2] = {clgan_safetensors_meta(st, "augment.ada_sum"),
                             clgan_safetensors_meta(st, "augment.ada_count")};
  if (ada_text[0] && ada_text[1]) {
    char *e1, *e2;
    aug.ada_sum = strtof(ada_text[0], &e1);
    long n = strtol(ada_text[1], &e2, 10);
    if (*e1 || *e2 || n < 0 || n > 1000) {
      s = clgan_fail(CLGAN_ERR_FORMAT, "%s: ADA state invalid", path);
      goto out;
    }
    aug.ada_count = (int)n;
  }
  int aug_absent = !aug_text[0] && !aug_text[1] && !aug_text[2]; /* older files: defaults */
  if (!aug_absent && (!aug_text[0] || !aug_text[1] || !aug_text[2] || *ends[0] || *ends[1] ||
                      *ends[2] || !(aug.p >= 0.0f && aug.p <= 1.0f))) {
    s = clgan_fail(CLGAN_ERR_FORMAT, "%s: augmentation state missing or invalid", path);
    goto out;
  }
  long iteration, steps[2];
  const char *seed_text = clgan_safetensors_meta(st, "seed");
  char *seed_end = NULL;
  unsigned long long seed = seed_text ? strtoull(seed_text, &seed_end, 10) : 0;
  if (!seed_text || seed_end == seed_text || *seed_end) {
    s = clgan_fail(CLGAN_ERR_FORMAT, "%s: seed missing or invalid", path);
    goto out;
  }
  if (!parse_long(clgan_safetensors_meta(st, "iteration"), &iteration) ||
      !parse_long(clgan_safetensors_meta(st, "optG.step"), &steps[0]) ||
      !parse_long(clgan_safetensors_meta(st, "optD.step"), &steps[1])) {
    s = clgan_fail(CLGAN_ERR_FORMAT, "%s: iteration or optimiser steps missing or invalid", path);
    goto out;
  }
  host_net h[2];
  int alloced = 0;
  /* Check and gather everything on the host first; only then touch the device. */
  for (int n = 0; n < 2 && s == CLGAN_OK; n++) {
    if ((s = host_net_alloc(net, n, &h[n])) != CLGAN_OK) break;
    alloced++;
    for (int t = 0; t < h[n].count && s == CLGAN_OK; t++) {
      const clgan_tensor_desc *d = &h[n].desc[t];
      int64_t shape[4];
      for (int i = 0; i < d->ndim; i++) shape[i] = d->shape[i];
      char name[96];
      const float *src;
      snprintf(name, sizeof name, "%s.%s", net_prefix[n], d->name);
      s = clgan_safetensors_expect_f32(st, name, d->ndim, shape, &src);
      if (s != CLGAN_OK) break;
      memcpy(h[n].arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset, src,
             d->count * sizeof(float));
      if (d->is_param && clgan_dcgan_arena_floats(net, n, CLGAN_ARENA_EMA) > 0) {
        snprintf(name, sizeof name, "%s_ema.%s", net_prefix[n], d->name);
        s = clgan_safetensors_expect_f32(st, name, d->ndim, shape, &src);
        if (s != CLGAN_OK) break;
        memcpy(h[n].arena[CLGAN_ARENA_EMA] + d->offset, src, d->count * sizeof(float));
      }
      for (int k = 0; k < 2 && d->is_param && s == CLGAN_OK; k++) {
        snprintf(name, sizeof name, "%s.%s.%s", opt_prefix[n], k ? "exp_avg_sq" : "exp_avg", d->name);
        s = clgan_safetensors_expect_f32(st, name, d->ndim, shape, &src);
        if (s == CLGAN_OK)
          memcpy(h[n].arena[k ? CLGAN_ARENA_ADAM_V : CLGAN_ARENA_ADAM_M] + d->offset, src,
                 d->count * sizeof(float));
      }
    }
  }
  const clgan_st_tensor *rng = s == CLGAN_OK ? clgan_safetensors_find(st, "train.rng_state") : NULL;
  if (s == CLGAN_OK && (!rng || rng->dtype != CLGAN_U64 || rng->ndim != 1 || rng->shape[0] != 4))
    s = clgan_fail(CLGAN_ERR_FORMAT, "%s: train.rng_state missing or not U64 [4]", path);
  const clgan_st_tensor *fixed = s == CLGAN_OK ? clgan_safetensors_find(st, "train.fixed_noise") : NULL;
  if (s == CLGAN_OK && fixed &&
      (fixed->dtype != CLGAN_F32 || fixed->ndim != 4 || fixed->shape[1] != want.nz ||
       fixed->shape[2] != 1 || fixed->shape[3] != 1 || fixed->shape[0] > 100000))
    s = clgan_fail(CLGAN_ERR_FORMAT, "%s: train.fixed_noise is not F32 [count, %d, 1, 1]", path,
                   want.nz);
  if (s == CLGAN_OK && fixed && fixed->shape[0] > 0) {
    size_t n = (size_t)fixed->shape[0] * (size_t)want.nz;
    if (!(ts->fixed_noise = malloc(n * sizeof(float))))
      s = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    else {
      memcpy(ts->fixed_noise, fixed->data, n * sizeof(float));
      ts->fixed_count = (int)fixed->shape[0];
    }
  }
  for (int n = 0; n < 2 && s == CLGAN_OK; n++)
    for (int a = 0; a < CLGAN_ARENA_COUNT && s == CLGAN_OK; a++)
      if (a != CLGAN_ARENA_GRAD) s = clgan_dcgan_arena_write(net, n, a, h[n].arena[a]);
  if (s == CLGAN_OK) {
    memcpy(ts->rng, rng->data, sizeof ts->rng);
    ts->iteration = iteration;
    ts->seed = seed;
    clgan_dcgan_set_adam_steps(net, CLGAN_NET_G, steps[0]);
    clgan_dcgan_set_adam_steps(net, CLGAN_NET_D, steps[1]);
    s = clgan_dcgan_set_augment(net, &aug);
  }
  if (s != CLGAN_OK) {
    free(ts->fixed_noise);
    ts->fixed_noise = NULL;
    ts->fixed_count = 0;
  }
  for (int n = 0; n < alloced; n++) host_net_free(&h[n]);
out:
  clgan_safetensors_close(st);
  return s;
}

clgan_status clgan_export_generator(const char *path, clgan_dcgan *net) {
  host_net h;
  clgan_status s = host_net_alloc(net, CLGAN_NET_G, &h);
  if (s != CLGAN_OK) return s;
  /* the averaged weights when the model keeps them (they are what samples use) */
  clgan_arena weights =
      clgan_dcgan_arena_floats(net, CLGAN_NET_G, CLGAN_ARENA_EMA) > 0 ? CLGAN_ARENA_EMA : CLGAN_ARENA_PARAM;
  s = clgan_dcgan_arena_read(net, CLGAN_NET_G, weights, h.arena[CLGAN_ARENA_PARAM]);
  if (s == CLGAN_OK)
    s = clgan_dcgan_arena_read(net, CLGAN_NET_G, CLGAN_ARENA_STATS, h.arena[CLGAN_ARENA_STATS]);
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
    meta_add(&m, "version", CHECKPOINT_VERSION);
    meta_add_config(&m, clgan_dcgan_get_config(net));
    s = clgan_safetensors_write(path, tensors, nt, m.kp, m.vp, m.n);
  }
  host_net_free(&h);
  return s;
}

clgan_status clgan_generator_read_config(const char *path, clgan_dcgan_config *cfg) {
  clgan_safetensors *st;
  clgan_status s = clgan_safetensors_open(path, &st);
  if (s != CLGAN_OK) return s;
  s = config_from_meta(st, cfg, 0);
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
    int64_t shape[4];
    for (int i = 0; i < d->ndim; i++) shape[i] = d->shape[i];
    const float *src;
    s = clgan_safetensors_expect_f32(st, d->name, d->ndim, shape, &src);
    if (s == CLGAN_OK)
      memcpy(h.arena[d->is_param ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS] + d->offset, src,
             d->count * sizeof(float));
  }
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
