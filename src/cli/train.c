/* `clgan train`: the seed's DCGAN on an ImageFolder of scans. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "clgan/augment.h"
#include "clgan/train.h"
#include "commands.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: clgan train --data DIR [options]\n\n"
          "Trains the PyTorch DCGAN tutorial's recipe on DIR/<class>/*.png (ImageFolder).\n"
          "Defaults reproduce the recipe: 64 px, 3 channels, nz 100, ngf = ndf = 64,\n"
          "batch 128, Adam(lr 2e-4, beta1 0.5).\n\n"
          "  --data DIR            dataset root (ImageFolder layout)\n"
          "  --class NAME          train on one class only (the scarce one)\n"
          "  --size N              image size: 32, 64, 128 or 256 (default 64)\n"
          "  --channels C          1 (gray) or 3 (default 3)\n"
          "  --nz N --ngf N --ndf N  latent size and widths (100, 64, 64)\n"
          "  --batch N             batch size (128)\n"
          "  --epochs N            epochs to train (5), or\n"
          "  --iters N             iterations in total (overrides --epochs)\n"
          "  --lr X                Adam learning rate for G and D (2e-4)\n"
          "  --lr-g X, --lr-d X    separate learning rates for G and D\n"
          "  --beta1 X             Adam beta1 (0.5)\n"
          "  --seed N              seed for weights, data order and noise (999)\n"
          "  --device SPEC         OpenCL device: index, P:D, gpu, cpu or a name part\n"
          "  --out DIR             run directory (runs/<date-time>)\n"
          "  --resume FILE         continue from a checkpoint (its run directory by default)\n"
          "  --sample-every N      fixed-noise grid and plot every N iterations (100)\n"
          "  --checkpoint-every N  checkpoint every N iterations (500, and at the end)\n"
          "  --log-every N         progress line every N iterations (10)\n"
          "  --eval-every N        every N iterations: SWD, diversity and memorisation of\n"
          "                        generated images against the data (off)\n\n"
          "Stability switches (off by default, so the recipe is reproduced exactly):\n"
          "  --label-smooth X      one-sided label smoothing: D's real label is 1 - X\n"
          "  --ema DECAY           average G's weights (e.g. 0.999) for samples and export\n"
          "  --nan-guard           skip steps with NaN/Inf gradients; stop after 10 in a row\n\n"
          "Small data (off by default):\n"
          "  --augment LIST        DiffAugment on every D input: any of color,translation,cutout\n"
          "  --ada                 adaptive strength: each op with probability p, tuned so that\n"
          "                        E[sign(D(real))] stays near --ada-target (0.6)\n");
}

typedef struct printer {
  long log_every;
  double t0;
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

static void fmt_bytes(char *buf, size_t cap, double b) {
  if (b >= 1 << 30)
    snprintf(buf, cap, "%.2f GiB", b / (1 << 30));
  else if (b >= 1 << 20)
    snprintf(buf, cap, "%.1f MiB", b / (1 << 20));
  else
    snprintf(buf, cap, "%.1f KiB", b / 1024);
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
    fmt_bytes(bytes, sizeof bytes, (double)layers[i].device_bytes);
    printf("%-3s %-46s %-16s %10zu %12.1f %11s\n", layers[i].net == CLGAN_NET_G ? "G" : "D",
           layers[i].desc, shape, layers[i].params, layers[i].flops / c->batch * 1e-6, bytes);
    tp[layers[i].net] += layers[i].params;
  }
  char total[32];
  fmt_bytes(total, sizeof total, (double)clgan_dcgan_device_bytes(net));
  printf("parameters: G %zu, D %zu; one iteration: %.2f GFLOP/image; device memory: %s\n", tp[0],
         tp[1], clgan_dcgan_step_flops(net) / c->batch * 1e-9, total);
}

static int on_progress(void *user, const clgan_train_progress *p) {
  printer *pr = user;
  if (p->setup) {
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
    fflush(stdout);
  }
  if (p->eval) {
    const clgan_eval_report *e = p->eval;
    printf("    eval at %ld: SWD x1e3 %.1f; MS-SSIM generated %.3f vs real %.3f; nearest-real "
           "distance median %.3f (real-real %.3f)\n",
           p->iteration, e->swd_mean, e->msssim_fake, e->msssim_real, e->nn_fake_median,
           e->nn_real_median);
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

int cmd_train(int argc, char **argv) {
  const char *cmd = "train";
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(),
                           .epochs = 5,
                           .seed = 999,
                           .sample_every = 100,
                           .checkpoint_every = 500};
  const char *data = NULL, *cls = NULL, *device = NULL, *out = NULL;
  long v, log_every = 10;
  float f;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    CLI_LONG_OPT("--size", 8, 1024, o.cfg.image_size)
    CLI_LONG_OPT("--channels", 1, 3, o.cfg.channels)
    CLI_LONG_OPT("--nz", 1, 100000, o.cfg.nz)
    CLI_LONG_OPT("--ngf", 1, 100000, o.cfg.ngf)
    CLI_LONG_OPT("--ndf", 1, 100000, o.cfg.ndf)
    CLI_LONG_OPT("--batch", 2, 1000000, o.cfg.batch)
    CLI_LONG_OPT("--epochs", 1, 1000000000L, o.epochs)
    CLI_LONG_OPT("--iters", 1, 1000000000000L, o.iters)
    CLI_LONG_OPT("--seed", 0, 0x7fffffffffffffffL, o.seed)
    CLI_LONG_OPT("--sample-every", 0, 1000000000L, o.sample_every)
    CLI_LONG_OPT("--checkpoint-every", 0, 1000000000L, o.checkpoint_every)
    CLI_LONG_OPT("--log-every", 1, 1000000000L, log_every)
    CLI_LONG_OPT("--eval-every", 0, 1000000000L, o.eval_every)
    if (strcmp(a, "--lr") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, 0, 10, &f)) return 2;
      o.cfg.lr_g = o.cfg.lr_d = f;
    } else if (strcmp(a, "--lr-g") == 0 || strcmp(a, "--lr-d") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, 0, 10, &f)) return 2;
      *(a[5] == 'g' ? &o.cfg.lr_g : &o.cfg.lr_d) = f;
    } else if (strcmp(a, "--label-smooth") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, -1e-9, 0.5, &f)) return 2;
      o.cfg.label_smooth = f;
    } else if (strcmp(a, "--ema") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, 0, 0.999999, &f)) return 2;
      o.cfg.ema_decay = f;
    } else if (strcmp(a, "--augment") == 0) {
      CLI_VALUE();
      if (clgan_augment_parse_policy(val, &o.cfg.augment) != CLGAN_OK) {
        fprintf(stderr, "clgan train: --augment: %s\n", clgan_last_error());
        return 2;
      }
    } else if (strcmp(a, "--ada") == 0) {
      o.cfg.ada = 1;
    } else if (strcmp(a, "--ada-target") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, 0, 1, &f)) return 2;
      o.cfg.ada_target = f;
    } else if (strcmp(a, "--nan-guard") == 0) {
      o.cfg.nan_guard = 1;
    } else if (strcmp(a, "--beta1") == 0) {
      CLI_VALUE();
      if (!cli_float(cmd, a, val, -1e-9, 0.999999, &f)) return 2;
      o.cfg.beta1 = f;
    } else if (strcmp(a, "--data") == 0) {
      CLI_VALUE();
      data = val;
    } else if (strcmp(a, "--class") == 0) {
      CLI_VALUE();
      cls = val;
    } else if (strcmp(a, "--device") == 0) {
      CLI_VALUE();
      device = val;
    } else if (strcmp(a, "--out") == 0) {
      CLI_VALUE();
      out = val;
    } else if (strcmp(a, "--resume") == 0) {
      CLI_VALUE();
      o.resume = val;
    } else {
      fprintf(stderr, "clgan train: unknown option '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (o.cfg.ada && !o.cfg.augment) o.cfg.augment = CLGAN_AUG_ALL; /* ADA tunes some augmentation */
  if (o.cfg.channels == 2) {
    fprintf(stderr, "clgan train: --channels must be 1 or 3\n");
    return 2;
  }
  if (!data) {
    fprintf(stderr, "clgan train: --data DIR is required (see --help)\n");
    return 2;
  }
  if (o.resume) {
    clgan_status st = clgan_checkpoint_read_config(o.resume, &o.cfg);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "cannot resume");
      return 1;
    }
  }
  char outbuf[1024];
  if (!out && o.resume) {
    /* the checkpoint's own run directory */
    snprintf(outbuf, sizeof outbuf, "%s", o.resume);
    char *slash = strrchr(outbuf, '/');
    if (slash)
      *slash = '\0';
    else
      snprintf(outbuf, sizeof outbuf, ".");
    out = outbuf;
  } else if (!out) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(outbuf, sizeof outbuf, "runs/%Y%m%d-%H%M%S", &tm);
    out = outbuf;
  }
  o.out_dir = out;
  o.data_label = data;

  clgan_dataset_options dopt = {.root = data,
                                .class_name = cls,
                                .image_size = o.cfg.image_size,
                                .channels = o.cfg.channels};
  clgan_dataset *ds = NULL;
  clgan_status st = clgan_dataset_load(&dopt, &ds);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the dataset");
    return 1;
  }
  for (int i = 0; i < ds->files_skipped; i++) fprintf(stderr, "skipped %s\n", ds->skipped[i]);
  printf("data: %s%s%s: %d image%s used, %d skipped, %d non-PNG file%s ignored\n", data,
         cls ? " class " : "", cls ? cls : "", ds->files_used, ds->files_used == 1 ? "" : "s",
         ds->files_skipped, ds->files_ignored, ds->files_ignored == 1 ? "" : "s");
  clgan_ctx *ctx = cli_context(cmd, device, 0);
  if (!ctx) {
    clgan_dataset_free(ds);
    return 1;
  }
  printf("model: %dx%d, %d channel%s, nz %d, ngf %d, ndf %d, batch %d; run directory %s\n",
         o.cfg.image_size, o.cfg.image_size, o.cfg.channels, o.cfg.channels == 1 ? "" : "s",
         o.cfg.nz, o.cfg.ngf, o.cfg.ndf, o.cfg.batch, out);
  printer pr = {.log_every = log_every};
  st = clgan_train(ctx, &o, ds, on_progress, &pr);
  int rc = 0;
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "training stopped");
    rc = 1;
  } else {
    printf("done: samples in %s/samples/, checkpoint %s/checkpoint.safetensors, open "
           "%s/index.html\n", out, out, out);
  }
  clgan_ctx_destroy(ctx);
  clgan_dataset_free(ds);
  return rc;
}
