/* `clgan train`: the seed's DCGAN on an ImageFolder of scans. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "clgan/augment.h"
#include "clgan/cond.h"
#include "clgan/train.h"
#include "commands.h"
#include "small_data.h"
#include "dist_cli.h"

static const char head[] =
    "usage: clgan train --data DIR [options]\n\n"
    "Trains the PyTorch DCGAN tutorial's recipe on DIR/<class>/*.png (ImageFolder).\n"
    "Defaults reproduce the recipe: 64 px, 3 channels, nz 100, ngf = ndf = 64,\n"
    "batch 128, Adam(lr 2e-4, beta1 0.5).\n\n";

/* What `clgan train` was asked for. */
typedef struct train_args {
  clgan_train_options o;
  clgan_dcgan_config given;      /* the model options given: the others all bytes 0xff */
  clgan_dcgan_config typed;      /* given before --small-data filled in its fields */
  int lr_both;                   /* --lr set lr_g and lr_d (named so in messages) */
  const char *data, *cls, *device, *out;
  int log_every;
  int default_out;               /* no --out, no --resume: a new runs/<date-time> */
  char ckpt[1024], outbuf[1024]; /* the checkpoint resumed from, the run directory */
} train_args;

/* --lr X: both learning rates (of the given options). */
static int parse_lr(const char *cmd, const char *flag, const char *value, void *dst) {
  train_args *a = dst;
  const cli_opt lr = {.flag = flag, .kind = CLI_FLOAT_POS, .dst = &a->given.lr_g, .flo = 0,
                      .fhi = 10};
  if (!cli_take(cmd, &lr, value)) return 0;
  a->given.lr_d = a->given.lr_g;
  a->lr_both = 1;
  return 1;
}

/* --resume: a run directory (its checkpoint.safetensors) or a checkpoint;
 * *run_dir gets the directory the run continues in. */
static void resume_paths(const char *resume, char *ckpt, size_t cap, char *run_dir) {
  struct stat sb;
  if (stat(resume, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(ckpt, cap, "%s/checkpoint.safetensors", resume);
    snprintf(run_dir, cap, "%s", resume);
    return;
  }
  snprintf(ckpt, cap, "%s", resume);
  snprintf(run_dir, cap, "%s", resume);
  char *slash = strrchr(run_dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(run_dir, cap, ".");
}

/* The flag to try after a failed run (the library says what went wrong). */
static const char *train_hint(clgan_status st, const clgan_train_options *o,
                              const clgan_dataset *ds) {
  if (st == CLGAN_ERR_DIVERGED)
    return o->cfg.nan_guard ? ": try a lower --lr" : "; --nan-guard skips such steps";
  if (st != CLGAN_ERR_INVALID) return NULL;
  /* the library's message says which check failed */
  const char *why = clgan_last_error();
  if (clgan_train_iters_per_epoch(ds->count, o->cfg.batch) < 1 && strstr(why, "one batch"))
    return ": lower --batch";
  if (o->resume && strstr(why, "already")) return "; ask for more with --iters (total)";
  return NULL;
}

typedef struct printer {
  long log_every;
  double t0;
  int started; /* set-up done: a failure now stops training */
} printer;

static void fmt_time(char *buf, size_t cap, double s) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(buf, cap, "--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

/* The model summary: one row per layer, then totals. */
static void print_summary(const clgan_dcgan *net) {
  clgan_layer_info layers[32];
  int n = clgan_dcgan_layers(net, layers, 32);
  const clgan_dcgan_config *c = clgan_dcgan_get_config(net);
  printf("%-3s %-46s %-16s %10s %12s %11s\n", "net", "layer", "output", "params",
         "MFLOP/img", "device");
  size_t tp[2] = {0, 0};
  for (int i = 0; i < n && i < 32; i++) {
    char shape[32], bytes[32];
    snprintf(shape, sizeof shape, "%d x %d x %d", layers[i].out_c, layers[i].out_h,
             layers[i].out_w);
    cli_format_bytes(bytes, sizeof bytes, (double)layers[i].device_bytes);
    printf("%-3s %-46s %-16s %10zu %12.1f %11s\n", layers[i].net == CLGAN_NET_G ? "G" : "D",
           layers[i].desc, shape, layers[i].params, layers[i].flops / c->batch * 1e-6, bytes);
    tp[layers[i].net] += layers[i].params;
  }
  char total[32];
  cli_format_bytes(total, sizeof total, (double)clgan_dcgan_device_bytes(net));
  printf("parameters: G %zu, D %zu; one iteration: %.2f GFLOP/image; device memory: %s\n", tp[0],
         tp[1], clgan_dcgan_step_flops(net) / c->batch * 1e-9, total);
}

static int on_progress(void *user, const clgan_train_progress *p) {
  printer *pr = user;
  if (p->setup) {
    pr->started = 1;
    print_summary(p->model);
    printf("set up in %.2f s; training %ld iterations (%ld per epoch)\n", p->setup_seconds,
           p->total, p->iters_per_epoch);
    fflush(stdout);
    return 0;
  }
  if (p->iteration % pr->log_every == 0 || p->iteration == p->total || p->iteration == 1) {
    char eta[32];
    fmt_time(eta, sizeof eta, p->eta_seconds);
    printf("[%d][%ld/%ld] it %ld/%ld  Loss_D: %.4f  Loss_G: %.4f  D(x): %.4f  D(G(z)): %.4f / "
           "%.4f  %.1f img/s  ETA %s\n",
           p->epoch, p->iteration - (long)p->epoch * p->iters_per_epoch, p->iters_per_epoch,
           p->iteration, p->total, p->stats.loss_d, p->stats.loss_g, p->stats.d_x,
           p->stats.d_g_z1, p->stats.d_g_z2, p->img_per_s, eta);
    if (p->augment_p >= 0) printf("    augment p %.3f, E[sign D(real)] %.3f\n", p->augment_p, p->stats.sign_real);
    if (p->stats.lecam > 0 || p->stats.consistency > 0)
      printf("    D's regularisers: LeCam %.4f, bCR %.4f (terms before their weights)\n",
             p->stats.lecam, p->stats.consistency);
    fflush(stdout);
  }
  if (p->eval) {
    const clgan_eval_report *e = p->eval;
    printf("    eval at %ld: SWD x1e3 %.1f; MS-SSIM generated %.3f vs real %.3f; nearest-real "
           "distance median %.3f (real-real %.3f)\n",
           p->iteration, e->swd_mean, e->msssim_fake, e->msssim_real, e->nn_fake_median,
           e->nn_real_median);
    int k = clgan_dcgan_class_count(p->model);
    for (int c = 0; p->class_swd && c < k; c++)
      printf("%s%s %.1f%s", c ? ", " : "    SWD x1e3 per class: ", clgan_dcgan_class_name(p->model, c),
             p->class_swd[c], c + 1 == k ? "\n" : "");
    fflush(stdout);
  }
  if (p->stats.skipped) {
    printf("iteration %ld: non-finite gradients; the %s update%s skipped (--nan-guard)\n",
           p->iteration, p->stats.skipped == 3 ? "D and G" : p->stats.skipped == 1 ? "D" : "G",
           p->stats.skipped == 3 ? "s were" : " was");
    return 0;
  }
  return 0;
}

/* Whether the command line set field f of given (cli_parse stores only valid
 * values, and none of them is the all-0xff pattern: -1, NaN, ~0u). */
static int field_given(const clgan_config_field *f, const clgan_dcgan_config *given) {
  _Static_assert(sizeof(float) == sizeof(int) && sizeof(unsigned) == sizeof(int),
                 "every configuration field is 4 bytes");
  static const unsigned char unset[sizeof(int)] = {0xff, 0xff, 0xff, 0xff};
  return memcmp((const char *)given + f->offset, unset, sizeof unset) != 0;
}

/* The defaults, with every field given on the command line put in. */
static clgan_dcgan_config given_config(const clgan_dcgan_config *given) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  int n;
  const clgan_config_field *f = clgan_config_fields(&n);
  for (int i = 0; i < n; i++)
    if (field_given(&f[i], given))
      memcpy((char *)&cfg + f[i].offset, (const char *)given + f[i].offset, sizeof(int));
  return cfg;
}

/* The flag a conflict on field f is named by: --lr for both learning rates
 * when --lr set them (once: NULL for lr_d), and a field --small-data filled
 * in is marked so. */
static const char *conflict_flag(const train_args *a, const clgan_config_field *f, char *buf,
                                 size_t cap) {
  int lr_both = a->lr_both && a->given.lr_g == a->given.lr_d;
  if (lr_both && f->offset == offsetof(clgan_dcgan_config, lr_d)) return NULL;
  if (lr_both && f->offset == offsetof(clgan_dcgan_config, lr_g)) return "--lr";
  if (field_given(f, &a->typed)) return f->flag;
  snprintf(buf, cap, "%s (from --small-data)", f->flag);
  return buf;
}

/* --resume keeps the checkpoint's model: every option given that differs
 * from it is listed with both values, and the run refused (returns 0). */
static int resume_conflicts(const char *cmd, const train_args *a,
                            const clgan_dcgan_config *stored) {
  const clgan_dcgan_config *given = &a->given;
  int n, conflicts = 0;
  const clgan_config_field *f = clgan_config_fields(&n);
  for (int i = 0; i < n; i++) {
    char flagbuf[96];
    const char *flag = f[i].flag ? conflict_flag(a, &f[i], flagbuf, sizeof flagbuf) : NULL;
    if (!flag || !field_given(&f[i], given)) continue;
    char want[48], have[48];
    clgan_config_format(&f[i], given, want, sizeof want);
    clgan_config_format(&f[i], stored, have, sizeof have);
    if (strcmp(want, have) == 0) continue;
    if (f[i].kind == CLGAN_CFG_POLICY) { /* as --augment takes it */
      clgan_augment_format_policy(*(const unsigned *)((const char *)given + f[i].offset), want,
                                  sizeof want);
      clgan_augment_format_policy(*(const unsigned *)((const char *)stored + f[i].offset), have,
                                  sizeof have);
    }
    if (f[i].kind == CLGAN_CFG_FLOAT || f[i].kind == CLGAN_CFG_FLOAT_POS) {
      /* shown short (0.1, not 0.100000001) unless that hides the difference */
      char w[48], h[48];
      snprintf(w, sizeof w, "%g", *(const float *)((const char *)given + f[i].offset));
      snprintf(h, sizeof h, "%g", *(const float *)((const char *)stored + f[i].offset));
      if (strcmp(w, h) != 0) snprintf(want, sizeof want, "%s", w), snprintf(have, sizeof have, "%s", h);
    }
    if (conflicts++ == 0)
      fprintf(stderr, "clgan %s: cannot resume %s: options differ from the checkpoint's "
                      "configuration:\n", cmd, a->ckpt);
    fprintf(stderr, "  %s %s: the checkpoint has %s\n", flag, want, have);
  }
  if (conflicts)
    fprintf(stderr, "a resumed run keeps its model and optimiser: leave %s out, give the "
                    "checkpoint's value%s, or start a new run with --out\n",
            conflicts == 1 ? "it" : "them", conflicts == 1 ? "" : "s");
  return conflicts == 0;
}

/* Options into *a; -1 to go on, else the exit code. */
static int parse_train(const char *cmd, int argc, char **argv, train_args *a) {
  *a = (train_args){.log_every = 10};
  memset(&a->given, 0xff, sizeof a->given); /* every model option: not given */
  a->o = (clgan_train_options){.cfg = clgan_dcgan_default_config(),
                               .epochs = 5,
                               .seed = 999,
                               .stats_lag = 1, /* the device never waits for the log */
                               .sample_every = 100,
                               .checkpoint_every = 500};
  const char *resume = NULL;
  long iters = 0, seed = 999;
  int small_data = 0;
  cli_opt shape[CLI_MODEL_MAX], optim[CLI_MODEL_MAX], stability[CLI_MODEL_MAX],
      small[CLI_MODEL_MAX], cond[CLI_MODEL_MAX];
  cli_model_options(&a->given, CLGAN_CFG_SHAPE, shape);
  cli_model_options(&a->given, CLGAN_CFG_OPTIM, optim);
  cli_model_options(&a->given, CLGAN_CFG_STABILITY, stability);
  cli_model_options(&a->given, CLGAN_CFG_SMALL_DATA, small);
  cli_model_options(&a->given, CLGAN_CFG_CONDITIONAL, cond);
  const cli_opt opts[] = {
      CLI_STR_OPT("--data", "DIR", &a->data, "dataset root (ImageFolder layout)"),
      CLI_STR_OPT("--class", "NAME", &a->cls, "train on one class only (the scarce one)"),
      CLI_OPT_INCLUDE(shape),
      CLI_INT_OPT("--epochs", "N", &a->o.epochs, 1, 1000000000L, "epochs to train (5), or"),
      CLI_LONG_OPT("--iters", "N", &iters, 1, 1000000000000L,
                   "iterations in total (overrides --epochs)"),
      CLI_CALL_OPT("--lr", "X", a, parse_lr, "Adam learning rate for G and D (2e-4)"),
      CLI_OPT_INCLUDE(optim),
      CLI_OPT_SEED(&seed, "seed for weights, data order and noise (999)"),
      CLI_OPT_DEVICE(&a->device),
      CLI_STR_OPT("--out", "DIR", &a->out, "run directory (runs/<date-time>)"),
      CLI_STR_OPT("--resume", "RUN", &resume,
                  "continue a run: its directory or its checkpoint file (the\n"
                  "run goes on in the checkpoint's directory by default)"),
      CLI_INT_OPT("--sample-every", "N", &a->o.sample_every, 0, 1000000000L,
                  "fixed-noise grid and plot every N iterations (100)"),
      CLI_INT_OPT("--checkpoint-every", "N", &a->o.checkpoint_every, 0, 1000000000L,
                  "checkpoint every N iterations (500, and at the end)"),
      CLI_INT_OPT("--log-every", "N", &a->log_every, 1, 1000000000L,
                  "progress line every N iterations (10)"),
      CLI_INT_OPT("--eval-every", "N", &a->o.eval_every, 0, 1000000000L,
                  "every N iterations: SWD, diversity and memorisation of\n"
                  "generated images against the data (off)"),
      CLI_OPT_TEXT("\nStability switches (off by default, so the recipe is reproduced exactly):"),
      CLI_OPT_INCLUDE(stability),
      CLI_OPT_TEXT("\nSmall data (off by default):"),
      CLI_FLAG_OPT("--small-data", &small_data, SMALL_DATA_HELP),
      CLI_OPT_INCLUDE(small),
      CLI_OPT_TEXT("\nOne model for every class (off by default):"),
      CLI_OPT_INCLUDE(cond),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  a->o.iters = iters;
  a->o.seed = (uint64_t)seed;
  a->typed = a->given;
  if (small_data) small_data_preset(&a->given); /* into the options not given */
  a->o.cfg = given_config(&a->given);
  /* ADA tunes some augmentation: all of it unless --augment says which */
  if (a->o.cfg.ada && !a->o.cfg.augment) a->o.cfg.augment = CLGAN_AUG_ALL;
  if (!cli_check_config(cmd, &a->o.cfg)) return 2;
  if (a->o.cfg.conditional && a->cls) {
    fprintf(stderr, "clgan train: --conditional trains one model for every class: drop --class %s\n",
            a->cls);
    return 2;
  }
  if (!a->data) {
    fprintf(stderr, "clgan train: --data DIR is required (see --help)\n");
    return 2;
  }
  if (a->out && !*a->out) {
    fprintf(stderr, "clgan train: empty --out: give the run directory's name\n");
    return 2;
  }
  if (resume) {
    resume_paths(resume, a->ckpt, sizeof a->ckpt, a->outbuf);
    a->o.resume = a->ckpt;
    clgan_dcgan_config stored;
    clgan_status st = clgan_checkpoint_read_config(a->o.resume, &stored);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "cannot resume");
      return 1;
    }
    if (!resume_conflicts(cmd, a, &stored)) return 2;
    a->o.cfg = stored;
    if (!a->out) a->out = a->outbuf; /* the checkpoint's own run directory */
  } else if (!a->out) {
    a->default_out = 1; /* made just before training (cmd_train) */
  }
  a->o.out_dir = a->out;
  a->o.data_label = a->data;
  return -1;
}

/* A new runs/<date-time> (runs/<date-time>-2, ... when taken) into a->outbuf. */
static int make_default_out(const char *cmd, train_args *a) {
  char base[64];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(base, sizeof base, "runs/%Y%m%d-%H%M%S", &tm);
  clgan_status st = clgan_run_dir_create_unique(base, a->outbuf, sizeof a->outbuf);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot create the run directory");
    return 0;
  }
  a->out = a->o.out_dir = a->outbuf;
  return 1;
}

/* make_default_out on rank 0, its name handed to the other ranks (which
 * write nothing there). */
static int default_out_over_ranks(const char *cmd, train_args *a) {
  clgan_dist *dist = a->o.dist;
  if (clgan_dist_rank(dist) == 0 && !make_default_out(cmd, a)) return 0;
  clgan_status st = clgan_dist_bcast(dist, a->outbuf, sizeof a->outbuf);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot share the run directory's name");
    return 0;
  }
  a->out = a->o.out_dir = a->outbuf;
  return 1;
}

/* The dataset summary, and a warning when images were stretched a lot. */
static void print_dataset(const train_args *a, const clgan_dataset *ds) {
  for (int i = 0; i < ds->files_skipped; i++) fprintf(stderr, "skipped %s\n", ds->skipped[i]);
  printf("data: %s%s%s: %d image%s used, %d skipped, %d non-PNG file%s ignored\n", a->data,
         a->cls ? " class " : "", a->cls ? a->cls : "", ds->files_used,
         ds->files_used == 1 ? "" : "s", ds->files_skipped, ds->files_ignored,
         ds->files_ignored == 1 ? "" : "s");
  if (ds->files_upscaled > 0)
    fprintf(stderr, "warning: %d image%s smaller than half the model size (%d px) %s stretched "
                    "to it, e.g. %s: check --size or the data\n",
            ds->files_upscaled, ds->files_upscaled == 1 ? "" : "s", ds->image_size,
            ds->files_upscaled == 1 ? "is" : "are", ds->files[ds->first_upscaled]);
}

int cmd_train(int argc, char **argv) {
  const char *cmd = "train";
  train_args a;
  int parsed = parse_train(cmd, argc, argv, &a);
  if (parsed != -1) return parsed;
  /* several ranks (mpirun): --batch is the global batch, refused now unless it splits */
  a.o.dist = cli_dist();
  clgan_status split = clgan_dist_check_batch(a.o.dist, a.o.cfg.batch);
  if (split != CLGAN_OK) {
    cli_report(cmd, split, "cannot split the batch");
    return 2;
  }
  const clgan_train_options *o = &a.o;
  clgan_dataset_options dopt = {.root = a.data,
                                .class_name = a.cls,
                                .image_size = o->cfg.image_size,
                                .channels = o->cfg.channels};
  clgan_dataset *ds = NULL;
  clgan_status st = clgan_dataset_load(&dopt, &ds);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the dataset");
    return 1;
  }
  print_dataset(&a, ds);
  char device[64];
  clgan_ctx *ctx = cli_context(cmd, cli_dist_device(a.device, device, sizeof device), 0);
  if (!ctx || (a.default_out && !default_out_over_ranks(cmd, &a))) {
    clgan_ctx_destroy(ctx);
    clgan_dataset_free(ds);
    return 1;
  }
  const char *out = a.out;
  if (clgan_dist_active(o->dist))
    printf("ranks: %d, %d images each of the global batch %d\n", clgan_dist_size(o->dist),
           o->cfg.batch / clgan_dist_size(o->dist), o->cfg.batch);
  printf("model: %dx%d, %d channel%s, nz %d, ngf %d, ndf %d, batch %d; run directory %s\n",
         o->cfg.image_size, o->cfg.image_size, o->cfg.channels, o->cfg.channels == 1 ? "" : "s",
         o->cfg.nz, o->cfg.ngf, o->cfg.ndf, o->cfg.batch, out);
  printer pr = {.log_every = a.log_every};
  st = clgan_train(ctx, o, ds, on_progress, &pr);
  int rc = 0;
  if (st != CLGAN_OK) {
    cli_report_hint(cmd, st, pr.started ? "training stopped" : "cannot train",
                    train_hint(st, o, ds));
    /* made by this command (rank 0's); removed only when still empty */
    if (a.default_out && clgan_dist_rank(o->dist) == 0) rmdir(out);
    rc = 1;
  } else {
    printf("done: samples in %s/samples/, checkpoint %s/checkpoint.safetensors, open "
           "%s/index.html\n", out, out, out);
  }
  clgan_ctx_destroy(ctx);
  clgan_dataset_free(ds);
  return rc;
}
