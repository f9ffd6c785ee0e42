/* `clgan tune`: runs the plan-time tuner for a model configuration on a
 * device, printing every candidate it times (per conv shape and product),
 * then per shape the variant that won, its time against the default's and
 * where it came from; the winners go to the cache, where every later plan
 * of the same shapes on the same device and driver finds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "clgan/clgan.h"
#include "commands.h"

static const char head[] =
    "usage: clgan tune [options]\n\n"
    "Tunes the convolutions of a model on a device: for each conv shape and each of its\n"
    "products (forward, backward data, weight gradient), the engine's own GEMM with other\n"
    "register tiles and work-group shapes, the local-memory GEMM (lds...: a handful of\n"
    "parameter sets on GPUs, one on CPUs for small products), each reading the image\n"
    "directly or through im2col, and CLBlast; for the backward data a direct kernel (no\n"
    "im2col matrix, no col2im) and the sub-pixel tiles; for k4 s2 p1 convs Winograd\n"
    "F(4x4, 2x2) in all three products. Each candidate is checked against the default\n"
    "variant's result and timed (OpenCL events, median of a few runs); what cannot win is\n"
    "skipped (CLBlast where the device's backend measurement found it far slower, the\n"
    "rest of a family of tiles whose first is far behind). The fastest wins if it beats\n"
    "the default by 3%; a forward and weight gradient that share the transformed image\n"
    "are confirmed together, as the step runs them. The winners are cached beside the\n"
    "kernel cache (CLGAN_TUNE_DIR to put it elsewhere): later runs of any command read\n"
    "them at once (CLGAN_TUNE=off ignores them; CLGAN_TUNE=on tunes missing shapes\n"
    "whenever a model is planned).\n\n";

/* The presets of `clgan bench`. */
static int preset(const char *name, clgan_dcgan_config *cfg) {
  *cfg = clgan_dcgan_default_config(); /* tutorial: 64 px, 3 ch, 64/64, batch 128 */
  if (strcmp(name, "tutorial") == 0) return 1;
  if (strcmp(name, "gray32") != 0) return 0;
  cfg->image_size = 32;
  cfg->channels = 1;
  cfg->batch = 64;
  cfg->ngf = cfg->ndf = 32;
  return 1;
}

/* Shape options given (-1: not) over cfg. */
static void overrides(const clgan_dcgan_config *given, clgan_dcgan_config *cfg) {
  int nf;
  const clgan_config_field *f = clgan_config_fields(&nf);
  for (int i = 0; i < nf; i++) {
    if (f[i].group != CLGAN_CFG_SHAPE) continue;
    int v = *(const int *)((const char *)given + f[i].offset);
    if (v >= 0) *(int *)((char *)cfg + f[i].offset) = v;
  }
}

static void on_candidate(void *user, const clgan_tune_progress *p) {
  (void)user;
  if (p->ms >= 0)
    printf("  [%5.1f/%.0f s] %-38s %-15s %-28s %9.3f ms\n", p->elapsed_s, p->budget_s, p->shape,
           p->product, p->candidate, p->ms);
  else
    printf("  [%5.1f/%.0f s] %-38s %-15s %-28s  rejected (differs from the reference)\n",
           p->elapsed_s, p->budget_s, p->shape, p->product, p->candidate);
  fflush(stdout);
}

static void print_summary(const clgan_tune_report *r) {
  static const char *const source[] = {"default", "cache", "tuned"};
  static const char *const product[] = {"forward", "backward data", "weight gradient"};
  printf("\n%-38s %-15s %-34s %10s %10s  %s\n", "shape", "product", "variant used", "ms",
         "default ms", "from");
  for (int i = 0; i < r->nrecords; i++) {
    const clgan_tune_record *rec = &r->records[i];
    for (int p = 0; p < 3; p++) {
      printf("%-38s %-15s %-34s ", p == 0 ? rec->shape : "", product[p], rec->winner[p]);
      if (rec->winner_ms[p] > 0)
        printf("%10.3f %10.3f", rec->winner_ms[p], rec->default_ms[p]);
      else
        printf("%10s %10s", "-", "-");
      printf("  %s\n", p == 0 ? source[rec->source] : "");
    }
  }
  printf("\n%d shapes: %d tuned now, %d from the cache, %d on defaults; %ld candidates timed, "
         "%ld rejected, %ld skipped (their kernel or mapping far behind); %.1f s tuning\n",
         r->nshapes, r->tuned, r->from_cache, r->nshapes - r->tuned - r->from_cache, r->timed,
         r->rejected, r->skipped, r->seconds);
}

int cmd_tune(int argc, char **argv) {
  const char *cmd = "tune", *config = "tutorial", *device = NULL;
  float budget = 0;
  int retune = 0;
  clgan_dcgan_config given;
  memset(&given, 0xff, sizeof given); /* every shape field -1: not given */
  cli_opt shape[CLI_MODEL_MAX];
  cli_model_options(&given, CLGAN_CFG_SHAPE, shape);
  const cli_opt opts[] = {
      CLI_STR_OPT("--config", "NAME", &config,
                  "tutorial (the default) or gray32, as in `clgan bench`"),
      CLI_OPT_INCLUDE(shape),
      CLI_OPT_DEVICE(&device),
      CLI_FLOAT_OPT("--budget", "S", &budget, 0.0, 86400.0,
                    "seconds of searching (default CLGAN_TUNE_BUDGET, else 10\n"
                    "on CPUs and 60 on GPUs); shapes left over keep the defaults"),
      CLI_FLAG_OPT("--retune", &retune, "tune every shape again, replacing cached winners"),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  clgan_dcgan_config cfg;
  if (!preset(config, &cfg)) {
    fprintf(stderr, "clgan tune: unknown --config '%s': use tutorial or gray32\n", config);
    return 2;
  }
  overrides(&given, &cfg);
  if (!cli_check_config(cmd, &cfg)) return 2;
  clgan_tuning t;
  clgan_status st = clgan_tuning_from_env(&t);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot read the tuning variables");
    return 2;
  }
  t.tune = retune ? CLGAN_TUNE_RETUNE : CLGAN_TUNE_ON;
  if (budget > 0) t.tune_budget_s = (double)budget;
  clgan_ctx_options co = {.device = device, .tuning = &t, .tune_progress = on_candidate};
  clgan_ctx *ctx = NULL;
  if ((st = clgan_ctx_create(&co, &ctx)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot create an OpenCL context");
    return 1;
  }
  printf("tuning %s on %s (%s)\n", config, clgan_ctx_device(ctx)->name,
         clgan_ctx_device(ctx)->driver_version);
  clgan_dcgan *net = NULL;
  st = clgan_dcgan_create(ctx, &cfg, &net);
  if (st == CLGAN_OK) {
    clgan_tune_report *r = malloc(sizeof *r);
    if (r) {
      clgan_ctx_tune_report(ctx, r);
      print_summary(r);
      free(r);
    }
    const char *dir = t.tune_dir[0] ? t.tune_dir : clgan_cache_dir(&t);
    printf("winners cached in %s\n", *dir ? dir : "(nowhere: the disk cache is off)");
  } else {
    cli_report(cmd, st, "cannot plan the model");
  }
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
  return st == CLGAN_OK ? 0 : 1;
}
