/* clgan_balance (clgan/classify.h): the real images of every class linked
 * into OUT, synthetic ones generated from each class's checkpoint (or from
 * one conditional checkpoint for every class) up to the target, and a
 * manifest that tells every file apart. Every check is made before the
 * first file is written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/checkpoint.h"
#include "clgan/classify.h"
#include "clgan/cond.h"
#include "clgan/train.h"
#include "runtime/internal.h"

/* Where the synthetic images of one class come from: an unconditional
 * checkpoint of that class, or the conditional checkpoint of every class
 * with the class's index given to the sampler. */
typedef struct synth_source {
  const char *checkpoint;
  char sha256[65];
  clgan_dcgan_config cfg;
  clgan_dcgan *net;
  clgan_sampler *sampler;  /* seeded with the job's seed, one per class */
  int label;               /* the class's index in a conditional model; -1: unconditional */
  int owns_net;            /* 0: net is the job's conditional model (balance_job.cond) */
} synth_source;

typedef struct balance_job {
  clgan_ctx *ctx;
  const clgan_balance_options *o;
  clgan_balance_report *r;
  clgan_dataset *ds;
  const clgan_balance_source *source[CLGAN_CLASSIFY_MAX_CLASSES]; /* per class, or NULL */
  int first_image[CLGAN_CLASSIFY_MAX_CLASSES]; /* index in ds of the class's first image */
  int bits[CLGAN_CLASSIFY_MAX_CLASSES];        /* the class's first image's bit depth */
  synth_source cond; /* the conditional checkpoint's model, loaded once (net NULL without one) */
  int label[CLGAN_CLASSIFY_MAX_CLASSES];       /* each class's index in cond's model */
  FILE *manifest;
} balance_job;

static clgan_status check_out(const char *out) {
  struct stat st;
  if (stat(out, &st) != 0) return CLGAN_OK;
  if (!S_ISDIR(st.st_mode))
    return clgan_fail(CLGAN_ERR_INVALID, "%s exists and is not a folder: choose a new --out", out);
  DIR *d = opendir(out);
  if (!d) return clgan_fail(CLGAN_ERR_IO, "cannot read %s: %s", out, strerror(errno));
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
  closedir(d);
  return empty ? CLGAN_OK
               : clgan_fail(CLGAN_ERR_INVALID,
                            "%s exists and is not empty: nothing is replaced; choose a new --out",
                            out);
}

/* A conditional source (no class name) serves every class, alone. */
static clgan_status map_conditional(balance_job *j, int *found) {
  const clgan_balance_source *cond = NULL, *per_class = NULL;
  for (int s = 0; s < j->o->nsources; s++) {
    const clgan_balance_source *src = &j->o->sources[s];
    if (src->class_name && !per_class) per_class = src;
    if (src->class_name) continue;
    if (cond)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "two conditional checkpoints (%s and %s): one serves every class",
                        cond->checkpoint, src->checkpoint);
    cond = src;
  }
  if (cond && per_class)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "the conditional checkpoint %s serves every class: give it alone, without "
                      "CLASS=FILE checkpoints (%s=%s)",
                      cond->checkpoint, per_class->class_name, per_class->checkpoint);
  for (int c = 0; cond && c < j->ds->nclasses; c++) j->source[c] = cond;
  *found = cond != NULL;
  return CLGAN_OK;
}

/* Each source to its class (by folder name). */
static clgan_status map_sources(balance_job *j) {
  const clgan_dataset *ds = j->ds;
  int conditional = 0;
  clgan_status st = map_conditional(j, &conditional);
  if (st != CLGAN_OK || conditional) return st;
  for (int s = 0; s < j->o->nsources; s++) {
    const clgan_balance_source *src = &j->o->sources[s];
    int c = 0;
    while (c < ds->nclasses && strcmp(ds->class_names[c], src->class_name) != 0) c++;
    if (c == ds->nclasses)
      return clgan_fail(CLGAN_ERR_INVALID, "checkpoint %s is for class '%s', which %s does not have",
                        src->checkpoint, src->class_name, j->o->data);
    if (j->source[c])
      return clgan_fail(CLGAN_ERR_INVALID, "class '%s' has two checkpoints (%s and %s)",
                        src->class_name, j->source[c]->checkpoint, src->checkpoint);
    j->source[c] = src;
  }
  return CLGAN_OK;
}

/* The class's first real image against its checkpoint's size and channels
 * (gray or gray+alpha for 1 channel, RGB or RGBA for 3). */
static clgan_status check_source(balance_job *j, int c, synth_source *s) {
  const char *name = j->ds->class_names[c];
  clgan_status st = clgan_checkpoint_read_config(s->checkpoint, &s->cfg);
  if (st != CLGAN_OK) return st;
  int conditional_form = !j->source[c]->class_name;
  if (s->cfg.conditional && !conditional_form)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "checkpoint %s is conditional (one model for every class): give it alone, "
                      "as --checkpoint %s",
                      s->checkpoint, s->checkpoint);
  if (!s->cfg.conditional && conditional_form)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "checkpoint %s is not conditional: give it for its class, as "
                      "--checkpoint CLASS=%s",
                      s->checkpoint, s->checkpoint);
  if (j->first_image[c] < 0) return CLGAN_OK; /* no real image to compare with */
  const char *file = j->ds->files[j->first_image[c]];
  clgan_image img = {0};
  st = clgan_png_read(file, &img);
  if (st != CLGAN_OK) return st;
  int channels = img.channels <= 2 ? 1 : 3, width = img.width, height = img.height;
  j->bits[c] = img.bit_depth;
  clgan_image_free(&img);
  if (width != s->cfg.image_size || height != s->cfg.image_size ||
      channels != s->cfg.channels)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "checkpoint %s makes %dx%d images with %d channel(s), but class '%s' has "
                      "%dx%d images with %d (%s)",
                      s->checkpoint, s->cfg.image_size, s->cfg.image_size, s->cfg.channels, name,
                      width, height, channels, file);
  return CLGAN_OK;
}

/* The model of a checkpoint and its hash (no sampler yet). */
static clgan_status model_open(balance_job *j, const char *checkpoint, synth_source *s) {
  *s = (synth_source){.checkpoint = checkpoint, .label = -1, .owns_net = 1};
  clgan_train_state ts = {0};
  clgan_status st = clgan_checkpoint_read_config(s->checkpoint, &s->cfg);
  if (st == CLGAN_OK) st = clgan_sha256_file(s->checkpoint, s->sha256);
  if (st == CLGAN_OK) st = clgan_dcgan_create(j->ctx, &s->cfg, &s->net);
  if (st == CLGAN_OK) st = clgan_checkpoint_load(s->checkpoint, s->net, &ts);
  free(ts.fixed_noise);
  return st;
}

/* Counts, the target, and every class's source checked. */
static clgan_status plan_classes(balance_job *j) {
  clgan_dataset *ds = j->ds;
  clgan_balance_report *r = j->r;
  if (ds->nclasses > CLGAN_CLASSIFY_MAX_CLASSES)
    return clgan_fail(CLGAN_ERR_INVALID, "%s has %d classes; at most %d are supported",
                      j->o->data, ds->nclasses, CLGAN_CLASSIFY_MAX_CLASSES);
  r->nclasses = ds->nclasses;
  long largest = 0;
  for (int c = 0; c < ds->nclasses; c++) {
    snprintf(r->class_names[c], sizeof r->class_names[c], "%s", ds->class_names[c]);
    r->real[c] = ds->class_counts[c];
    if (r->real[c] > largest) largest = r->real[c];
    j->first_image[c] = -1;
    j->bits[c] = 8;
  }
  for (int i = ds->count - 1; i >= 0; i--) j->first_image[ds->labels[i]] = i;
  for (int i = 0; i < ds->count; i++) {
    const char *base = strrchr(ds->files[i], '/');
    if (strncmp(base ? base + 1 : ds->files[i], "synthetic_", 10) == 0)
      return clgan_fail(CLGAN_ERR_INVALID, "%s: a real image named like a synthetic one",
                        ds->files[i]);
  }
  r->target = j->o->target > 0 ? j->o->target : largest;
  clgan_status st = map_sources(j);
  for (int c = 0; c < ds->nclasses && st == CLGAN_OK; c++) {
    long need = r->target - r->real[c];
    if (need > 0 && !j->source[c])
      return clgan_fail(CLGAN_ERR_INVALID,
                        "class '%s' has %ld images and needs %ld synthetic ones to reach %ld, "
                        "but has no checkpoint (--checkpoint %s=FILE)",
                        ds->class_names[c], r->real[c], need, r->target, ds->class_names[c]);
    if (!j->source[c]) continue;
    synth_source s = {.checkpoint = j->source[c]->checkpoint};
    st = check_source(j, c, &s);
  }
  /* the conditional model: loaded once, every class of the data among its classes */
  if (st == CLGAN_OK && ds->nclasses > 0 && j->source[0] && !j->source[0]->class_name) {
    st = model_open(j, j->source[0]->checkpoint, &j->cond);
    for (int c = 0; c < ds->nclasses && st == CLGAN_OK; c++)
      st = clgan_dcgan_find_class(j->cond.net, ds->class_names[c], j->cond.checkpoint,
                                  &j->label[c]);
  }
  return st;
}

/* One CSV field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s, const char *sep) {
  if (strpbrk(s, ",\"\n\r")) {
    fputc('"', f);
    for (; *s; s++) {
      if (*s == '"') fputc('"', f);
      fputc(*s, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
  fputs(sep, f);
}

static void manifest_row(FILE *f, const char *file, const char *cls, const char *kind,
                         const char *source, const char *sha, const char *seed, const char *index) {
  csv_field(f, file, ",");
  csv_field(f, cls, ",");
  csv_field(f, kind, ",");
  csv_field(f, source, ",");
  csv_field(f, sha, ",");
  csv_field(f, seed, ",");
  csv_field(f, index, "\n");
}

static clgan_status copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wbx") : NULL;
  char buf[65536];
  size_t n;
  int ok = in && out;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
  ok = ok && !ferror(in);
  if (in) fclose(in);
  if (out) ok = fclose(out) == 0 && ok;
  return ok ? CLGAN_OK : clgan_fail(CLGAN_ERR_IO, "cannot copy %s to %s: %s", src, dst, strerror(errno));
}

/* Real image i as OUT/<class>/<its path inside the class folder>. */
static clgan_status place_real(balance_job *j, int i) {
  const clgan_dataset *ds = j->ds;
  const char *cls = ds->class_names[ds->labels[i]], *src = ds->files[i];
  const char *rel = src + strlen(j->o->data) + 1 + strlen(cls) + 1;
  char file[4096], dst[4096 + 512];
  snprintf(file, sizeof file, "%s/%s", cls, rel);
  snprintf(dst, sizeof dst, "%s/%s", j->o->out, file);
  char *slash = strrchr(dst, '/');
  *slash = '\0';
  clgan_status st = clgan_make_dirs(dst);
  *slash = '/';
  if (st != CLGAN_OK) return st;
  if (link(src, dst) == 0) {
    j->r->linked++;
  } else if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP) {
    if ((st = copy_file(src, dst)) != CLGAN_OK) return st;
    j->r->copied++;
  } else {
    return clgan_fail(CLGAN_ERR_IO, "cannot link %s to %s: %s", src, dst, strerror(errno));
  }
  manifest_row(j->manifest, file, cls, "real", src, "", "", "");
  return CLGAN_OK;
}

/* Class c's source with a sampler of its own, seeded with the job's seed, so
 * that its image i is image i of `clgan generate --seed S` (with `--class C`
 * for the conditional model, which every class borrows). */
static clgan_status source_open(balance_job *j, int c, synth_source *s) {
  clgan_status st = CLGAN_OK;
  if (j->cond.net) {
    *s = j->cond;
    s->owns_net = 0;
    s->label = j->label[c];
  } else {
    st = model_open(j, j->source[c]->checkpoint, s);
  }
  if (st == CLGAN_OK) st = clgan_sampler_create(j->ctx, s->net, j->o->seed, &s->sampler);
  return st;
}

static void source_close(synth_source *s) {
  clgan_sampler_destroy(s->sampler);
  s->sampler = NULL;
  if (s->owns_net) clgan_dcgan_destroy(s->net);
  s->net = NULL;
}

/* images [n][c][s][s] in [-1, 1] as OUT/<class>/synthetic_<first + b>.png. */
static clgan_status write_synthetic(balance_job *j, int c, const synth_source *s, long first,
                                    int n, const float *images, float *hwc) {
  int size = s->cfg.image_size, ch = s->cfg.channels;
  const char *cls = j->ds->class_names[c];
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)j->o->seed);
  for (int b = 0; b < n; b++) {
    const float *img = images + (size_t)b * ch * size * size;
    for (int k = 0; k < ch; k++)
      for (int p = 0; p < size * size; p++)
        hwc[(size_t)p * ch + k] = 0.5f * (img[(size_t)k * size * size + p] + 1.0f);
    char file[512], path[4096 + 512], index[32];
    snprintf(index, sizeof index, "%ld", first + b);
    snprintf(file, sizeof file, "%s/synthetic_%06ld.png", cls, first + b);
    snprintf(path, sizeof path, "%s/%s", j->o->out, file);
    clgan_status st = clgan_png_write(path, size, size, ch, j->bits[c], hwc);
    if (st != CLGAN_OK) return st;
    manifest_row(j->manifest, file, cls, "synthetic", s->checkpoint, s->sha256, seed, index);
  }
  return CLGAN_OK;
}

/* The class's synthetic images, a batch at a time. */
static clgan_status generate_class(balance_job *j, int c, long count) {
  synth_source s = {0};
  clgan_status st = source_open(j, c, &s);
  size_t img_floats = (size_t)s.cfg.channels * s.cfg.image_size * s.cfg.image_size;
  float *images = st == CLGAN_OK ? malloc(sizeof(float) * img_floats * s.cfg.batch) : NULL;
  float *hwc = st == CLGAN_OK ? malloc(sizeof(float) * img_floats) : NULL;
  int *labels = st == CLGAN_OK ? malloc(sizeof(int) * (size_t)s.cfg.batch) : NULL; /* [batch] */
  if (st == CLGAN_OK && (!images || !hwc || !labels))
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int b = 0; st == CLGAN_OK && b < s.cfg.batch; b++) labels[b] = s.label;
  for (long first = 0; first < count && st == CLGAN_OK; first += s.cfg.batch) {
    int n = count - first < s.cfg.batch ? (int)(count - first) : s.cfg.batch;
    st = clgan_sample_labels(s.sampler, CLGAN_BN_RUNNING, n, NULL, s.label >= 0 ? labels : NULL,
                             images);
    if (st == CLGAN_OK) st = write_synthetic(j, c, &s, first, n, images, hwc);
  }
  if (st == CLGAN_OK) j->r->synthetic[c] = count;
  free(images);
  free(hwc);
  free(labels);
  source_close(&s);
  return st;
}

static clgan_status write_all(balance_job *j) {
  const clgan_dataset *ds = j->ds;
  clgan_status st = clgan_make_dirs(j->o->out);
  for (int c = 0; c < ds->nclasses && st == CLGAN_OK; c++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", j->o->out, ds->class_names[c]);
    st = clgan_make_dirs(dir);
  }
  if (st != CLGAN_OK) return st;
  char path[4096];
  snprintf(path, sizeof path, "%s/manifest.csv", j->o->out);
  if (!(j->manifest = fopen(path, "w")))
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  manifest_row(j->manifest, "file", "class", "kind", "source", "sha256", "seed", "index");
  for (int i = 0; i < ds->count && st == CLGAN_OK; i++) st = place_real(j, i);
  for (int c = 0; c < ds->nclasses && st == CLGAN_OK; c++)
    if (j->r->target > j->r->real[c]) st = generate_class(j, c, j->r->target - j->r->real[c]);
  int ok = !ferror(j->manifest);
  ok = fclose(j->manifest) == 0 && ok;
  if (st == CLGAN_OK && !ok) st = clgan_fail(CLGAN_ERR_IO, "cannot write %s", path);
  return st;
}

clgan_status clgan_balance(clgan_ctx *ctx, const clgan_balance_options *o,
                           clgan_balance_report *r) {
  memset(r, 0, sizeof *r);
  if (!o->data || !o->out || o->target < 0 || (o->nsources > 0 && !o->sources))
    return clgan_fail(CLGAN_ERR_INVALID, "balance: data, out and a target >= 0 are needed");
  balance_job j = {.ctx = ctx, .o = o, .r = r};
  clgan_status st = check_out(o->out);
  /* the listing: every class, decoded small (only the files are used) */
  clgan_dataset_options d = {.root = o->data, .image_size = 8, .channels = 1};
  if (st == CLGAN_OK) st = clgan_dataset_load(&d, &j.ds);
  if (st == CLGAN_OK) {
    r->files_skipped = j.ds->files_skipped;
    r->files_ignored = j.ds->files_ignored;
    st = plan_classes(&j);
  }
  if (st == CLGAN_OK) st = write_all(&j);
  source_close(&j.cond);
  clgan_dataset_free(j.ds);
  return st;
}
