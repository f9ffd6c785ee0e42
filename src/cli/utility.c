/* `clgan utility`: does the synthetic data help? Trains the classifier of
 * clgan/classify.h on real, real + synthetic and synthetic images, tests it
 * on real ones, and prints, writes (JSON) and draws (SVG) the answer. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "clgan/augment.h"
#include "clgan/classify.h"
#include "commands.h"
#include "outfiles.h"

static const char head[] =
    "usage: clgan utility --train DIR --test DIR [--synthetic DIR] [--seeds N] [--seed S]\n"
    "                     [--epochs E] [--size S] [--channels C] [--ndf N] [--batch B]\n"
    "                     [--augment POLICY] [--json FILE] [--chart FILE] [--overwrite]\n"
    "                     [--device SPEC]\n\n"
    "Trains a classifier built from the discriminator (one output per class, softmax\n"
    "cross-entropy, Adam 2e-4 / 0.5) on (a) the real training images, (b) real plus\n"
    "synthetic images of each class up to the largest class, (c) the synthetic images\n"
    "alone, each for the same number of steps (E epochs of the real set) and seeds, and\n"
    "evaluates it on the real test images: accuracy, balanced accuracy, per-class\n"
    "recall, macro F1 (ROC AUC for two classes), mean +- sd over the seeds. Class\n"
    "fidelity: the real-trained classifier's accuracy on the synthetic images, labelled\n"
    "with their class. A --synthetic folder written by 'clgan balance' contributes only\n"
    "its synthetic_* files.\n\n";

static void progress(void *user, clgan_utility_arm_kind arm, int seed_index,
                     const clgan_class_metrics *m, double seconds) {
  (void)user;
  printf("  %-15s seed %2d: accuracy %.3f, balanced %.3f, macro F1 %.3f (%.1f s)\n",
         clgan_utility_arm_name(arm), seed_index, m->accuracy, m->balanced_accuracy, m->macro_f1,
         seconds);
  fflush(stdout);
}

static void cell(const clgan_class_metrics *runs, int n, clgan_metric_kind k, int cls) {
  double mean, sd;
  clgan_metric_summary(runs, n, k, cls, &mean, &sd);
  if (isfinite(mean))
    printf(" %6.3f+-%.3f", mean, sd);
  else
    printf(" %12s", "-");
}

static void print_table(const clgan_utility_report *r) {
  int auc = r->classes == 2;
  printf("\n%-15s %7s %12s %12s %12s%s", "trained on", "images", "accuracy", "balanced",
         "macro F1", auc ? "      ROC AUC" : "");
  for (int c = 0; c < r->classes; c++) printf(" %12.12s", r->class_names[c]);
  printf("\n%*s(recall per class:)\n", 64 + (auc ? 13 : 0), "");
  for (int a = 0; a < CLGAN_ARM_COUNT; a++) {
    const clgan_utility_arm *arm = &r->arm[a];
    if (!arm->ran) continue;
    printf("%-15s %7d", clgan_utility_arm_name((clgan_utility_arm_kind)a), arm->count);
    for (int k = 0; k <= CLGAN_METRIC_AUC; k++)
      if (k != CLGAN_METRIC_AUC || auc) cell(arm->runs, r->seeds, (clgan_metric_kind)k, 0);
    for (int c = 0; c < r->classes; c++) cell(arm->runs, r->seeds, CLGAN_METRIC_RECALL, c);
    printf("\n");
  }
  if (r->has_fidelity) {
    printf("%-15s %7d", "class fidelity", r->synthetic_count);
    cell(r->fidelity, r->seeds, CLGAN_METRIC_ACCURACY, 0);
    printf("%*s", 26 + (auc ? 13 : 0), "");
    for (int c = 0; c < r->classes; c++) cell(r->fidelity, r->seeds, CLGAN_METRIC_RECALL, c);
    printf("\n(the real-trained classifier on the synthetic images, labelled with their class)\n");
  }
  printf("%d seed%s, %ld steps per run; test images %d\n", r->seeds, r->seeds == 1 ? "" : "s",
         r->steps, r->test_count);
  if (r->notes[0]) printf("notes:\n%s", r->notes);
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* mean, sd and the per-seed values of every metric of runs. */
static json_t *metrics_json(const clgan_utility_report *r, const clgan_class_metrics *runs) {
  static const char *const names[] = {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc"};
  json_t *o = json_object();
  for (int k = 0; k <= CLGAN_METRIC_AUC; k++) {
    if (k == CLGAN_METRIC_AUC && r->classes != 2) continue;
    double mean, sd;
    clgan_metric_summary(runs, r->seeds, (clgan_metric_kind)k, 0, &mean, &sd);
    json_t *m = json_object(), *per = json_array();
    for (int s = 0; s < r->seeds; s++) {
      const clgan_class_metrics *x = &runs[s];
      json_array_append_new(per, num(k == 0 ? x->accuracy : k == 1 ? x->balanced_accuracy
                                                   : k == 2 ? x->macro_f1 : x->auc));
    }
    json_object_set_new(m, "mean", num(mean));
    json_object_set_new(m, "sd", num(sd));
    json_object_set_new(m, "per_seed", per);
    json_object_set_new(o, names[k], m);
  }
  json_t *recall = json_object();
  for (int c = 0; c < r->classes; c++) {
    double mean, sd;
    clgan_metric_summary(runs, r->seeds, CLGAN_METRIC_RECALL, c, &mean, &sd);
    json_t *m = json_object();
    json_object_set_new(m, "mean", num(mean));
    json_object_set_new(m, "sd", num(sd));
    json_object_set_new(recall, r->class_names[c], m);
  }
  json_object_set_new(o, "recall", recall);
  return o;
}

static json_t *counts_json(const clgan_utility_report *r, const int *per_class) {
  json_t *o = json_object();
  for (int c = 0; c < r->classes; c++)
    json_object_set_new(o, r->class_names[c], json_integer(per_class[c]));
  return o;
}

/* A float as people wrote it (2e-4, not 0.000199999995). */
static const char *fmt_g(float v, char buf[32]) {
  snprintf(buf, 32, "%g", (double)v);
  return buf;
}

static int write_json(const char *path, const clgan_utility_report *r,
                      const clgan_utility_options *o) {
  char buf[32];
  json_t *root = json_object(), *arms = json_object(), *recipe = json_object();
  json_object_set_new(recipe, "image_size", json_integer(o->recipe.image_size));
  json_object_set_new(recipe, "channels", json_integer(o->recipe.channels));
  json_object_set_new(recipe, "ndf", json_integer(o->recipe.ndf));
  json_object_set_new(recipe, "batch", json_integer(o->recipe.batch));
  json_object_set_new(recipe, "lr", json_real(strtod(fmt_g(o->recipe.lr, buf), NULL)));
  json_object_set_new(recipe, "beta1", json_real(o->recipe.beta1));
  char policy[64];
  clgan_augment_format_policy(o->recipe.augment, policy, sizeof policy);
  json_object_set_new(recipe, "augment", json_string(policy));
  json_object_set_new(recipe, "epochs", json_integer(o->epochs));
  json_object_set_new(recipe, "steps", json_integer(r->steps));
  json_object_set_new(root, "recipe", recipe);
  json_object_set_new(root, "seeds", json_integer(r->seeds));
  json_object_set_new(root, "first_seed", json_integer((json_int_t)o->seed));
  json_object_set_new(root, "test_images", counts_json(r, r->test_per_class));
  json_object_set_new(root, "synthetic_images", counts_json(r, r->synthetic_per_class));
  for (int a = 0; a < CLGAN_ARM_COUNT; a++) {
    if (!r->arm[a].ran) continue;
    json_t *arm = metrics_json(r, r->arm[a].runs);
    json_object_set_new(arm, "train_images", counts_json(r, r->arm[a].per_class));
    json_object_set_new(arm, "seconds", json_real(r->arm[a].seconds));
    json_object_set_new(arms, clgan_utility_arm_name((clgan_utility_arm_kind)a), arm);
  }
  json_object_set_new(root, "arms", arms);
  if (r->has_fidelity) json_object_set_new(root, "class_fidelity", metrics_json(r, r->fidelity));
  json_object_set_new(root, "notes", json_string(r->notes));
  int ok = json_dump_file(root, path, JSON_INDENT(2)) == 0;
  json_decref(root);
  if (!ok) fprintf(stderr, "clgan utility: cannot write %s\n", path);
  return ok;
}

static int parse_augment(const char *cmd, const char *flag, const char *value, void *dst) {
  if (clgan_augment_parse_policy(value, dst) == CLGAN_OK) return 1;
  fprintf(stderr, "clgan %s: %s: %s\n", cmd, flag, clgan_last_error());
  return 0;
}

int cmd_utility(int argc, char **argv) {
  const char *cmd = "utility", *json = NULL, *chart = NULL, *device = NULL;
  long seed = 0;
  int overwrite = 0;
  clgan_utility_options o = {.recipe = clgan_classifier_default_recipe(), .epochs = 20, .seeds = 3};
  const cli_opt opts[] = {
      CLI_STR_OPT("--train", "DIR", &o.train, "real training images: DIR/<class>/*.png"),
      CLI_STR_OPT("--test", "DIR", &o.test, "real test images, the same class folders"),
      CLI_STR_OPT("--synthetic", "DIR", &o.synthetic, "synthetic images, DIR/<class>/*.png"),
      CLI_INT_OPT("--seeds", "N", &o.seeds, 1, CLGAN_UTILITY_MAX_SEEDS, "seeds per arm (default 3)"),
      CLI_OPT_SEED(&seed, "the first seed (default 0)"),
      CLI_INT_OPT("--epochs", "E", &o.epochs, 1, 100000,
                  "steps = E epochs of the real training set, every arm (default 20)"),
      CLI_INT_OPT("--size", "S", &o.recipe.image_size, 8, 512, "image size (default 64)"),
      CLI_INT_OPT("--channels", "C", &o.recipe.channels, 1, 3, "1 or 3 (default 1)"),
      CLI_INT_OPT("--ndf", "N", &o.recipe.ndf, 1, 1024, "the classifier's width (default 32)"),
      CLI_INT_OPT("--batch", "B", &o.recipe.batch, 2, 4096, "images per step (default 32)"),
      CLI_CALL_OPT("--augment", "POLICY", &o.recipe.augment, parse_augment,
                   "DiffAugment on every training batch (default translation,cutout;\n"
                   "'none' for none)"),
      CLI_STR_OPT("--json", "FILE", &json, "write every figure as JSON"),
      CLI_STR_OPT("--chart", "FILE", &chart, "write a bar chart (SVG)"),
      CLI_FLAG_OPT("--overwrite", &overwrite, "replace an existing --json or --chart file"),
      CLI_OPT_DEVICE(&device),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  if (!o.train || !o.test) {
    fprintf(stderr, "clgan utility: --train and --test are required (see --help)\n");
    return 2;
  }
  if (o.recipe.channels == 2) {
    fprintf(stderr, "clgan utility: --channels is 1 or 3\n");
    return 2;
  }
  /* nothing the user has is replaced unless asked (checked before the runs) */
  if (!cli_keep_file(cmd, "--json", json, overwrite) || !cli_keep_file(cmd, "--chart", chart, overwrite))
    return 2;
  o.seed = (uint64_t)seed;
  clgan_ctx *ctx = cli_context(cmd, device, 0);
  if (!ctx) return 1;
  clgan_utility_report *r = malloc(sizeof *r);
  clgan_status st = r ? clgan_utility_run(ctx, &o, progress, NULL, r) : CLGAN_ERR_NOMEM;
  int rc = 1;
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "the experiment failed");
  } else {
    print_table(r);
    rc = json && !write_json(json, r, &o) ? 1 : 0;
    if (chart && (st = clgan_utility_chart_svg(chart, r)) != CLGAN_OK) {
      cli_report(cmd, st, "cannot write the chart");
      rc = 1;
    }
  }
  free(r);
  clgan_ctx_destroy(ctx);
  return rc;
}
