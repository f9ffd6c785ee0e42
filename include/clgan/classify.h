/* Does synthetic data help? A classifier built from the discriminator's
 * architecture, trained on the device by the same engine, its metrics, the
 * three-arm utility experiment, and the balanced dataset writer.
 *
 * The classifier: D's layers (Conv 4/2/1 LeakyReLU(0.2), stride-2 stages
 * with BatchNorm, widths doubling from ndf) with a last Conv(ndf*mult,
 * classes, 4, 1, 0) giving one logit per class; softmax cross-entropy
 * (clgan_softmax_ce), Adam, the DCGAN initialisation (conv N(0, 0.02), BN
 * weight N(1, 0.02)), training-mode BatchNorm while training and running
 * statistics while predicting. Everything is planned and allocated when the
 * classifier is created; fitting and predicting allocate and build nothing.
 * A fit is deterministic from its seed: initialisation, the epoch
 * permutations and the augmentation draws all come from it. */
#ifndef CLGAN_CLASSIFY_H
#define CLGAN_CLASSIFY_H

#include <stdint.h>

#include "clgan/dataset.h"
#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLGAN_CLASSIFY_MAX_CLASSES 32

/* The fixed training recipe (the same for every arm of an experiment). */
typedef struct clgan_classifier_recipe {
  int image_size;   /* 8 .. 512, a power of two (64 by default) */
  int channels;     /* 1 or 3 (1) */
  int ndf;          /* D's width (32) */
  int batch;        /* images per step (32) */
  float lr, beta1, beta2; /* Adam (2e-4, 0.5, 0.999), eps 1e-8 */
  unsigned augment; /* DiffAugment policy on every training batch
                       (CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT by default) */
} clgan_classifier_recipe;

clgan_classifier_recipe clgan_classifier_default_recipe(void);

/* Labelled images on the host: data [count][channels][size][size] in
 * [-1, 1] (a clgan_dataset's layout), labels [count] in [0, classes). */
typedef struct clgan_labelled_set {
  int count;
  const float *data;
  const int *labels;
} clgan_labelled_set;

typedef struct clgan_classifier clgan_classifier;

/* Plans and allocates a classifier for `classes` classes and sets of up to
 * `capacity` images (training or predicting) on ctx. */
clgan_status clgan_classifier_create(clgan_ctx *ctx, const clgan_classifier_recipe *recipe,
                                     int classes, int capacity, clgan_classifier **out);
void clgan_classifier_destroy(clgan_classifier *c); /* accepts NULL */

/* Initialises the weights from seed and trains `steps` Adam steps on set
 * (at least one batch of images): epochs of whole batches in an order
 * shuffled from seed. *last_loss (may be NULL) gets the mean softmax
 * cross-entropy of the last step's batch. INVALID for a label outside
 * [0, classes) or a set larger than the capacity or smaller than a batch. */
clgan_status clgan_classifier_fit(clgan_classifier *c, const clgan_labelled_set *set, long steps,
                                  uint64_t seed, float *last_loss);

/* Class probabilities (softmax of the logits, BatchNorm with the running
 * statistics) of every image of set into probs [count][classes]; the
 * labels are not read. */
clgan_status clgan_classifier_predict(clgan_classifier *c, const clgan_labelled_set *set,
                                      double *probs);

/* ---- Metrics (src/classify/utility.c) --------------------------------------
 * The confusion matrix is truth-major: confusion[t * classes + p] counts the
 * images of class t predicted as p. */
typedef struct clgan_class_metrics {
  int classes, count;
  double accuracy;          /* correct / count */
  double balanced_accuracy; /* mean recall over the classes present in the truth */
  double macro_f1;          /* mean F1 over the classes present in the truth or the
                               predictions (F1 0 where precision + recall is 0) */
  double auc;               /* two classes: ROC AUC of P(class 1); else NAN */
  int support[CLGAN_CLASSIFY_MAX_CLASSES];     /* images per true class */
  double recall[CLGAN_CLASSIFY_MAX_CLASSES];   /* NAN for a class absent from the truth */
  double precision[CLGAN_CLASSIFY_MAX_CLASSES]; /* NAN for a class never predicted */
  double f1[CLGAN_CLASSIFY_MAX_CLASSES];
} clgan_class_metrics;

/* The arg-max of each row of probs [count][classes] (the first on ties). */
void clgan_predicted_labels(const double *probs, int count, int classes, int *pred);

/* Fills confusion [classes * classes]; INVALID for a label outside [0, classes). */
clgan_status clgan_confusion_matrix(const int *truth, const int *pred, int count, int classes,
                                    long *confusion);

/* Every metric from a confusion matrix (auc left NAN). */
void clgan_metrics_from_confusion(const long *confusion, int classes, clgan_class_metrics *out);

/* ROC AUC of scores for positives (truth 1) against negatives (truth 0):
 * the Mann-Whitney probability that a positive scores above a negative,
 * ties counting one half (average ranks). NAN without both kinds. */
double clgan_roc_auc(const int *truth, const double *score, int count);

/* All of the above from probabilities: pred by arg-max, auc from the second
 * column when classes == 2. INVALID as clgan_confusion_matrix. */
clgan_status clgan_class_metrics_compute(const int *truth, const double *probs, int count,
                                         int classes, clgan_class_metrics *out);

/* Mean and sample standard deviation (n - 1; 0 for one value) of the finite
 * values among v[0..n); NAN both when there are none. */
void clgan_mean_std(const double *v, int n, double *mean, double *std);

/* ---- The utility experiment (src/classify/experiment.c) ---------------------
 * Three arms, each trained with the same recipe, the same number of steps
 * (epochs of the real training set) and, per seed, the same initialisation,
 * then evaluated on the real test images:
 *   REAL       the real training images
 *   MIXED      the real ones plus synthetic ones of each class, up to the
 *              largest real class's count (fewer when there are not enough)
 *   SYNTHETIC  the synthetic images alone (train on synthetic, test on real)
 * and the class fidelity: the REAL arm's classifier of each seed on the
 * synthetic images, labelled with the class they were generated for.
 * Classes are the training folder's; the test folder must have the same
 * ones, the synthetic folder a subset (by name). A synthetic folder that
 * holds a manifest.csv (clgan balance's output) contributes only its
 * synthetic_* files. */
#define CLGAN_UTILITY_MAX_SEEDS 32

typedef enum clgan_utility_arm_kind {
  CLGAN_ARM_REAL = 0,
  CLGAN_ARM_MIXED,
  CLGAN_ARM_SYNTHETIC,
  CLGAN_ARM_COUNT
} clgan_utility_arm_kind;

const char *clgan_utility_arm_name(clgan_utility_arm_kind arm); /* "real", "real+synthetic", ... */

typedef struct clgan_utility_options {
  const char *train, *test, *synthetic; /* ImageFolder roots; synthetic may be NULL */
  clgan_classifier_recipe recipe;
  int epochs;              /* steps = epochs * (real training images / batch) */
  int seeds;               /* 1 .. CLGAN_UTILITY_MAX_SEEDS: seeds seed, seed + 1, ... */
  uint64_t seed;
} clgan_utility_options;

typedef struct clgan_utility_arm {
  int ran;                 /* 0: skipped (no or too few synthetic images; see notes) */
  int count;               /* training images */
  int per_class[CLGAN_CLASSIFY_MAX_CLASSES];
  double seconds;          /* training and evaluation, every seed */
  clgan_class_metrics runs[CLGAN_UTILITY_MAX_SEEDS]; /* on the real test images */
} clgan_utility_arm;

typedef struct clgan_utility_report {
  int classes, seeds;
  char class_names[CLGAN_CLASSIFY_MAX_CLASSES][128];
  int test_count, test_per_class[CLGAN_CLASSIFY_MAX_CLASSES];
  int synthetic_count, synthetic_per_class[CLGAN_CLASSIFY_MAX_CLASSES];
  long steps;
  clgan_utility_arm arm[CLGAN_ARM_COUNT];
  int has_fidelity;
  clgan_class_metrics fidelity[CLGAN_UTILITY_MAX_SEEDS];
  char notes[1024];        /* what was short or skipped, one line each */
} clgan_utility_report;

/* Called after each arm and seed (progress for people). */
typedef void (*clgan_utility_callback)(void *user, clgan_utility_arm_kind arm, int seed_index,
                                       const clgan_class_metrics *m, double seconds);

/* Runs the experiment on ctx. INVALID for folders whose classes do not
 * match (named), a real training set smaller than a batch, bad options. */
clgan_status clgan_utility_run(clgan_ctx *ctx, const clgan_utility_options *opts,
                               clgan_utility_callback cb, void *user, clgan_utility_report *out);

typedef enum clgan_metric_kind {
  CLGAN_METRIC_ACCURACY = 0,
  CLGAN_METRIC_BALANCED,
  CLGAN_METRIC_MACRO_F1,
  CLGAN_METRIC_AUC,
  CLGAN_METRIC_RECALL,     /* of class `cls` */
  CLGAN_METRIC_COUNT
} clgan_metric_kind;

/* One metric of each run (recall: of class cls), its mean and standard
 * deviation over the n runs (clgan_mean_std). */
void clgan_metric_summary(const clgan_class_metrics *runs, int n, clgan_metric_kind kind, int cls,
                          double *mean, double *std);

/* A grouped bar chart (SVG) of accuracy, balanced accuracy, macro F1 (and
 * AUC with two classes) per arm, mean with +-1 standard deviation whiskers,
 * and the class fidelity. Written atomically. */
clgan_status clgan_utility_chart_svg(const char *path, const clgan_utility_report *r);

/* ---- Balanced datasets (src/classify/balance.c) ------------------------------
 * OUT/<class>/ holds the class's real images (hard links to the data's
 * files, copies where the link cannot be made, e.g. across file systems;
 * sub-folders kept) and synthetic_NNNNNN.png images generated from the
 * class's checkpoint until the class has `target` images; OUT/manifest.csv
 * lists every file: file (relative to OUT), class, kind (real|synthetic),
 * source (the real file, or the checkpoint), sha256 (the checkpoint's),
 * seed, index. Synthetic image i of a class is image i of `clgan generate
 * --checkpoint CKPT --seed SEED` (with `--class C` for a conditional
 * checkpoint; `--bits 16` where the class's first image is 16-bit): the
 * same noise, the same pixels. A class with target or more real images
 * keeps them all and gets none.
 *
 * The sources are either one unconditional checkpoint per class, or a
 * single conditional one (`clgan train --conditional`; class_name NULL)
 * that makes the images of every class; the two forms do not mix. */
typedef struct clgan_balance_source {
  const char *class_name; /* a class folder of the data; NULL: a conditional checkpoint
                             whose classes include every class of the data */
  const char *checkpoint; /* unconditional, trained on that class; or conditional */
} clgan_balance_source;

typedef struct clgan_balance_options {
  const char *data;       /* ImageFolder root: data/<class>/[sub/]NAME.png */
  const char *out;        /* created; refused when it exists and is not an empty folder */
  const clgan_balance_source *sources;
  int nsources;
  long target;            /* images per class; 0: the largest class's count */
  uint64_t seed;          /* the generators' noise seed */
} clgan_balance_options;

typedef struct clgan_balance_report {
  int nclasses;
  long target;
  char class_names[CLGAN_CLASSIFY_MAX_CLASSES][128];
  long real[CLGAN_CLASSIFY_MAX_CLASSES], synthetic[CLGAN_CLASSIFY_MAX_CLASSES];
  long linked, copied;    /* real images hard-linked, copied */
  int files_skipped;      /* .png files of the data that did not decode (not carried) */
  int files_ignored;      /* other files of the data (not carried) */
} clgan_balance_report;

/* Writes the balanced dataset. Everything is checked before the first file
 * is written: INVALID for an OUT that exists and is not empty (nothing is
 * replaced), a source naming no class of the data or a class twice, a class
 * that needs synthetic images and has no source, a checkpoint whose image
 * size or channels differ from the class's first real image, a conditional
 * checkpoint given for one class or with other sources (or two of them), an
 * unconditional one without its class, a class of the data that the
 * conditional checkpoint lacks (the message names the file and lists its
 * classes); IO or FORMAT
 * for an unreadable checkpoint or data folder. */
clgan_status clgan_balance(clgan_ctx *ctx, const clgan_balance_options *opts,
                           clgan_balance_report *report);

/* ---- SHA-256 (src/classify/sha256.c): checkpoint hashes in manifests ---- */
typedef struct clgan_sha256_ctx {
  uint32_t h[8];
  uint64_t bytes;
  uint8_t block[64];
  size_t fill;
} clgan_sha256_ctx;

void clgan_sha256_init(clgan_sha256_ctx *s);
void clgan_sha256_update(clgan_sha256_ctx *s, const void *data, size_t len);
void clgan_sha256_final(clgan_sha256_ctx *s, uint8_t out[32]);
/* 64 lower-case hex digits and a NUL. */
void clgan_sha256_hex(const uint8_t digest[32], char hex[65]);
/* The hex digest of a file's bytes; IO naming the file when it cannot be read. */
clgan_status clgan_sha256_file(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif
