/* The utility experiment (clgan/classify.h): the three arms' training sets
 * built from the folders, one classifier trained per arm and seed with the
 * same recipe and steps, evaluated on the real test images, and the class
 * fidelity of the real-trained classifiers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clgan/classify.h"
#include "runtime/internal.h"

const char *clgan_utility_arm_name(clgan_utility_arm_kind arm) {
  switch (arm) {
  case CLGAN_ARM_REAL: return "real";
  case CLGAN_ARM_MIXED: return "real+synthetic";
  case CLGAN_ARM_SYNTHETIC: return "synthetic";
  default: return "?";
  }
}

/* A training or test set owned here: data [count][image floats], labels. */
typedef struct owned_set {
  int count;
  float *data;
  int *labels;
} owned_set;

typedef struct experiment {
  clgan_ctx *ctx;
  const clgan_utility_options *o;
  clgan_utility_report *r;
  clgan_dataset *train, *test, *synth;
  int synth_label[CLGAN_CLASSIFY_MAX_CLASSES]; /* synthetic folder's class -> training class */
  owned_set arm_set[CLGAN_ARM_COUNT], test_set, fidelity_set;
  size_t image_floats;
  clgan_classifier *classifier;
  double *probs;
} experiment;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* A line of r->notes (printf-style; cut when the notes are full). */
static void note(clgan_utility_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(clgan_utility_report *r, const char *fmt, ...) {
  size_t used = strlen(r->notes);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->notes + used, sizeof r->notes - used, fmt, ap);
  va_end(ap);
}

static clgan_status load(const experiment *e, const char *root, clgan_dataset **out) {
  clgan_dataset_options d = {.root = root,
                             .image_size = e->o->recipe.image_size,
                             .channels = e->o->recipe.channels};
  return clgan_dataset_load(&d, out);
}

/* The test folder's classes are the training folder's; the synthetic
 * folder's are among them. */
static clgan_status match_classes(experiment *e) {
  const clgan_dataset *tr = e->train, *te = e->test;
  if (tr->nclasses < 2 || tr->nclasses > CLGAN_CLASSIFY_MAX_CLASSES)
    return clgan_fail(CLGAN_ERR_INVALID, "%s has %d classes (2 to %d are needed)", e->o->train,
                      tr->nclasses, CLGAN_CLASSIFY_MAX_CLASSES);
  int same = te->nclasses == tr->nclasses;
  for (int c = 0; same && c < tr->nclasses; c++)
    same = strcmp(te->class_names[c], tr->class_names[c]) == 0;
  if (!same)
    return clgan_fail(CLGAN_ERR_INVALID, "%s and %s must have the same class folders",
                      e->o->test, e->o->train);
  for (int s = 0; e->synth && s < e->synth->nclasses; s++) {
    int c = 0;
    while (c < tr->nclasses && strcmp(tr->class_names[c], e->synth->class_names[s]) != 0) c++;
    if (c == tr->nclasses)
      return clgan_fail(CLGAN_ERR_INVALID, "%s has a class '%s' that %s does not have",
                        e->o->synthetic, e->synth->class_names[s], e->o->train);
    e->synth_label[s] = c;
  }
  return CLGAN_OK;
}

static clgan_status set_alloc(owned_set *s, int count, size_t image_floats) {
  s->count = 0;
  s->data = malloc(sizeof(float) * image_floats * (size_t)(count ? count : 1));
  s->labels = malloc(sizeof(int) * (size_t)(count ? count : 1));
  return s->data && s->labels ? CLGAN_OK : clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
}

static void set_push(owned_set *s, const float *image, int label, size_t image_floats) {
  memcpy(s->data + (size_t)s->count * image_floats, image, sizeof(float) * image_floats);
  s->labels[s->count++] = label;
}

static void set_free(owned_set *s) {
  free(s->data);
  free(s->labels);
}

/* With clgan balance's manifest beside them, only synthetic_* files count. */
static int usable_synthetic(const experiment *e, int i, int balanced_dir) {
  if (!balanced_dir) return 1;
  const char *base = strrchr(e->synth->files[i], '/');
  return strncmp(base ? base + 1 : e->synth->files[i], "synthetic_", 10) == 0;
}

/* The real set as it is; the test set; the synthetic images in folder
 * order, with the training folder's labels. */
static clgan_status build_plain_sets(experiment *e, int balanced_dir) {
  size_t f = e->image_floats;
  const clgan_dataset *tr = e->train, *te = e->test;
  clgan_status st = set_alloc(&e->arm_set[CLGAN_ARM_REAL], tr->count, f);
  if (st == CLGAN_OK) st = set_alloc(&e->test_set, te->count, f);
  if (st == CLGAN_OK) st = set_alloc(&e->fidelity_set, e->synth ? e->synth->count : 0, f);
  if (st != CLGAN_OK) return st;
  for (int i = 0; i < tr->count; i++)
    set_push(&e->arm_set[CLGAN_ARM_REAL], clgan_dataset_image(tr, i), tr->labels[i], f);
  for (int i = 0; i < te->count; i++) set_push(&e->test_set, clgan_dataset_image(te, i), te->labels[i], f);
  for (int i = 0; e->synth && i < e->synth->count; i++)
    if (usable_synthetic(e, i, balanced_dir)) {
      int label = e->synth_label[e->synth->labels[i]];
      set_push(&e->fidelity_set, clgan_dataset_image(e->synth, i), label, f);
      e->r->synthetic_per_class[label]++;
    }
  e->r->synthetic_count = e->fidelity_set.count;
  return CLGAN_OK;
}

/* MIXED: the real set plus, per class, the first synthetic images up to the
 * largest real class; SYNTHETIC: every synthetic image. */
static clgan_status build_synthetic_arms(experiment *e) {
  size_t f = e->image_floats;
  const owned_set *real = &e->arm_set[CLGAN_ARM_REAL], *syn = &e->fidelity_set;
  clgan_utility_report *r = e->r;
  int largest = 0, added[CLGAN_CLASSIFY_MAX_CLASSES] = {0};
  for (int c = 0; c < r->classes; c++)
    if (e->train->class_counts[c] > largest) largest = e->train->class_counts[c];
  clgan_status st = set_alloc(&e->arm_set[CLGAN_ARM_MIXED], real->count + syn->count, f);
  if (st == CLGAN_OK) st = set_alloc(&e->arm_set[CLGAN_ARM_SYNTHETIC], syn->count, f);
  if (st != CLGAN_OK) return st;
  for (int i = 0; i < real->count; i++)
    set_push(&e->arm_set[CLGAN_ARM_MIXED], real->data + (size_t)i * f, real->labels[i], f);
  for (int i = 0; i < syn->count; i++) {
    int c = syn->labels[i];
    set_push(&e->arm_set[CLGAN_ARM_SYNTHETIC], syn->data + (size_t)i * f, c, f);
    if (e->train->class_counts[c] + added[c] < largest) {
      set_push(&e->arm_set[CLGAN_ARM_MIXED], syn->data + (size_t)i * f, c, f);
      added[c]++;
    }
  }
  for (int c = 0; c < r->classes && syn->count > 0; c++)
    if (e->train->class_counts[c] + added[c] < largest)
      note(r, "class %s: %d synthetic images of the %d needed to balance it\n",
           r->class_names[c], added[c], largest - e->train->class_counts[c]);
  return CLGAN_OK;
}

static void count_arm(experiment *e, clgan_utility_arm_kind a) {
  clgan_utility_arm *arm = &e->r->arm[a];
  const owned_set *s = &e->arm_set[a];
  arm->count = s->count;
  for (int i = 0; i < s->count; i++) arm->per_class[s->labels[i]]++;
  arm->ran = s->count >= e->o->recipe.batch;
  if (a == CLGAN_ARM_REAL) return;
  if (e->fidelity_set.count == 0) { /* no synthetic image: MIXED would be REAL again */
    arm->ran = 0;
    if (a == CLGAN_ARM_MIXED && e->o->synthetic)
      note(e->r, "%s: no synthetic images: the arms with them are skipped\n", e->o->synthetic);
    return;
  }
  if (s->count < e->o->recipe.batch)
    note(e->r, "arm %s skipped: %d images, fewer than a batch of %d\n",
         clgan_utility_arm_name(a), s->count, e->o->recipe.batch);
}

static clgan_status evaluate(experiment *e, const owned_set *s, clgan_class_metrics *m) {
  clgan_labelled_set set = {s->count, s->data, s->labels};
  clgan_status st = clgan_classifier_predict(e->classifier, &set, e->probs);
  if (st == CLGAN_OK) st = clgan_class_metrics_compute(s->labels, e->probs, s->count, e->r->classes, m);
  return st;
}

/* Every arm, every seed; fidelity after each REAL fit. */
static clgan_status run_arms(experiment *e, clgan_utility_callback cb, void *user) {
  clgan_utility_report *r = e->r;
  clgan_status st = CLGAN_OK;
  for (int a = 0; a < CLGAN_ARM_COUNT && st == CLGAN_OK; a++) {
    clgan_utility_arm *arm = &r->arm[a];
    if (!arm->ran) continue;
    clgan_labelled_set set = {e->arm_set[a].count, e->arm_set[a].data, e->arm_set[a].labels};
    for (int s = 0; s < r->seeds && st == CLGAN_OK; s++) {
      double t0 = now();
      st = clgan_classifier_fit(e->classifier, &set, r->steps, e->o->seed + (uint64_t)s, NULL);
      if (st == CLGAN_OK) st = evaluate(e, &e->test_set, &arm->runs[s]);
      if (st == CLGAN_OK && a == CLGAN_ARM_REAL && r->has_fidelity)
        st = evaluate(e, &e->fidelity_set, &r->fidelity[s]);
      arm->seconds += now() - t0;
      if (st == CLGAN_OK && cb) cb(user, (clgan_utility_arm_kind)a, s, &arm->runs[s], now() - t0);
    }
  }
  return st;
}

static clgan_status check_options(const clgan_utility_options *o) {
  if (!o->train || !o->test)
    return clgan_fail(CLGAN_ERR_INVALID, "utility: the training and test folders are needed");
  if (o->seeds < 1 || o->seeds > CLGAN_UTILITY_MAX_SEEDS || o->epochs < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "utility: %d seeds (1 to %d), %d epochs (>= 1)",
                      o->seeds, CLGAN_UTILITY_MAX_SEEDS, o->epochs);
  return CLGAN_OK;
}

/* The folders loaded and matched, the sets built, the steps fixed. */
static clgan_status prepare(experiment *e) {
  clgan_utility_report *r = e->r;
  const clgan_utility_options *o = e->o;
  clgan_status st = load(e, o->train, &e->train);
  if (st == CLGAN_OK) st = load(e, o->test, &e->test);
  if (st == CLGAN_OK && o->synthetic) st = load(e, o->synthetic, &e->synth);
  if (st == CLGAN_OK) st = match_classes(e);
  if (st != CLGAN_OK) return st;
  r->classes = e->train->nclasses;
  r->seeds = o->seeds;
  for (int c = 0; c < r->classes; c++) {
    snprintf(r->class_names[c], sizeof r->class_names[c], "%s", e->train->class_names[c]);
    r->test_per_class[c] = e->test->class_counts[c];
  }
  r->test_count = e->test->count;
  e->image_floats = e->train->image_floats;
  char manifest[4096];
  struct stat sb;
  snprintf(manifest, sizeof manifest, "%s/manifest.csv", o->synthetic ? o->synthetic : "");
  st = build_plain_sets(e, o->synthetic && stat(manifest, &sb) == 0);
  if (st == CLGAN_OK) st = build_synthetic_arms(e);
  if (st != CLGAN_OK) return st;
  for (int a = 0; a < CLGAN_ARM_COUNT; a++) count_arm(e, (clgan_utility_arm_kind)a);
  if (!r->arm[CLGAN_ARM_REAL].ran)
    return clgan_fail(CLGAN_ERR_INVALID, "%s has %d images, fewer than a batch of %d", o->train,
                      e->train->count, o->recipe.batch);
  r->has_fidelity = e->fidelity_set.count > 0;
  r->steps = (long)o->epochs * (e->train->count / o->recipe.batch);
  return CLGAN_OK;
}

clgan_status clgan_utility_run(clgan_ctx *ctx, const clgan_utility_options *o,
                               clgan_utility_callback cb, void *user, clgan_utility_report *r) {
  memset(r, 0, sizeof *r);
  clgan_status st = check_options(o);
  if (st != CLGAN_OK) return st;
  experiment *e = calloc(1, sizeof *e);
  if (!e) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  e->ctx = ctx, e->o = o, e->r = r;
  st = prepare(e);
  int capacity = e->test_set.count;
  for (int a = 0; a < CLGAN_ARM_COUNT; a++)
    if (e->arm_set[a].count > capacity) capacity = e->arm_set[a].count;
  if (e->fidelity_set.count > capacity) capacity = e->fidelity_set.count;
  if (st == CLGAN_OK)
    st = clgan_classifier_create(ctx, &o->recipe, r->classes, capacity, &e->classifier);
  if (st == CLGAN_OK && !(e->probs = malloc(sizeof(double) * (size_t)capacity * r->classes)))
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (st == CLGAN_OK) st = run_arms(e, cb, user);
  clgan_classifier_destroy(e->classifier);
  free(e->probs);
  for (int a = 0; a < CLGAN_ARM_COUNT; a++) set_free(&e->arm_set[a]);
  set_free(&e->test_set);
  set_free(&e->fidelity_set);
  clgan_dataset_free(e->train);
  clgan_dataset_free(e->test);
  clgan_dataset_free(e->synth);
  free(e);
  return st;
}

void clgan_metric_summary(const clgan_class_metrics *runs, int n, clgan_metric_kind kind, int cls,
                          double *mean, double *std) {
  double v[CLGAN_UTILITY_MAX_SEEDS];
  if (n > CLGAN_UTILITY_MAX_SEEDS) n = CLGAN_UTILITY_MAX_SEEDS;
  for (int i = 0; i < n; i++) {
    const clgan_class_metrics *m = &runs[i];
    v[i] = kind == CLGAN_METRIC_ACCURACY   ? m->accuracy
           : kind == CLGAN_METRIC_BALANCED ? m->balanced_accuracy
           : kind == CLGAN_METRIC_MACRO_F1 ? m->macro_f1
           : kind == CLGAN_METRIC_AUC      ? m->auc
           : cls >= 0 && cls < CLGAN_CLASSIFY_MAX_CLASSES ? m->recall[cls]
                                                          : NAN;
  }
  clgan_mean_std(v, n, mean, std);
}
