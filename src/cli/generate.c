/* `clgan generate`: N synthetic images from a checkpoint or an exported
 * generator, ready to drop into the scarce class's folder; `clgan export`:
 * the generator alone with the tutorial's tensor names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "clgan/checkpoint.h"
#include "clgan/image.h"
#include "clgan/report.h"
#include "clgan/train.h"
#include "commands.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: clgan generate (--checkpoint FILE | --generator FILE) --count N --out DIR\n"
          "                      [--seed N] [--bits 8|16] [--grid FILE] [--bn running|batch]\n"
          "                      [--noise FILE] [--device SPEC]\n\n"
          "Writes N images (PNG, the model's channels) into DIR as gen_<seed>_<index>.png.\n"
          "The same seed gives the same images.\n"
          "  --checkpoint FILE  a training checkpoint (checkpoint.safetensors)\n"
          "  --generator FILE   a generator written by 'clgan export' (or PyTorch, same names)\n"
          "  --seed N           noise seed (default 0)\n"
          "  --bits 8|16        PNG bit depth (default 8)\n"
          "  --grid FILE        also write the first 64 images as one grid PNG\n"
          "  --bn running       BatchNorm with the running statistics (default: eval mode)\n"
          "  --bn batch         BatchNorm with each batch's statistics (as the tutorial's grids)\n"
          "  --noise FILE       read the noise from FILE (float32, [N][nz]) instead of the seed\n");
}

static int write_images(const char *cmd, const char *dir, unsigned long long seed, long first,
                        int n, const clgan_dcgan_config *c, const float *nchw, int bits) {
  int s = c->image_size, ch = c->channels;
  float *hwc = malloc(sizeof(float) * (size_t)s * s * ch);
  if (!hwc) return 0;
  for (int b = 0; b < n; b++) {
    for (int k = 0; k < ch; k++)
      for (int p = 0; p < s * s; p++)
        hwc[(size_t)p * ch + k] = 0.5f * (nchw[((size_t)b * ch + k) * s * s + p] + 1.0f);
    char path[1200];
    snprintf(path, sizeof path, "%s/gen_%llu_%05ld.png", dir, seed, first + b);
    clgan_status st = clgan_png_write(path, s, s, ch, bits, hwc);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "cannot write an image");
      free(hwc);
      return 0;
    }
  }
  free(hwc);
  return 1;
}

/* The images of a loaded model, a batch at a time (written as they come),
 * and the grid of the first 64. Reports its errors; 1 when all went well. */
static int write_generated(const char *cmd, clgan_ctx *ctx, clgan_dcgan *net, long count,
                           unsigned long long seed, clgan_bn_mode mode, const float *noise_in,
                           const char *out, const char *grid, int bits) {
  const clgan_dcgan_config cfg = *clgan_dcgan_get_config(net);
  size_t img_floats = (size_t)cfg.channels * cfg.image_size * cfg.image_size;
  size_t hw = (size_t)cfg.image_size * cfg.image_size;
  int ngrid = count < 64 ? (int)count : 64, ok = 0;
  float *images = malloc(sizeof(float) * img_floats * cfg.batch);           /* [batch][c][s][s] */
  float *grid_px = grid ? malloc(sizeof(float) * img_floats * ngrid) : NULL; /* [c][ngrid][s][s] */
  clgan_sampler *sampler = NULL;
  clgan_status st = !images || (grid && !grid_px) ? CLGAN_ERR_NOMEM
                                                  : clgan_sampler_create(ctx, net, seed, &sampler);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot allocate");
    goto done;
  }
  for (long first = 0; first < count; first += cfg.batch) {
    int n = count - first < cfg.batch ? (int)(count - first) : cfg.batch;
    st = clgan_sample(sampler, mode, n, noise_in ? noise_in + (size_t)first * cfg.nz : NULL, images);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "generation failed");
      goto done;
    }
    if (!write_images(cmd, out, seed, first, n, &cfg, images, bits)) goto done;
    for (int b = 0; grid_px && b < n && first + b < ngrid; b++)
      for (int k = 0; k < cfg.channels; k++)
        memcpy(grid_px + ((size_t)k * ngrid + first + b) * hw,
               images + ((size_t)b * cfg.channels + k) * hw, hw * sizeof(float));
  }
  if (grid && (st = clgan_grid_write(grid, grid_px, cfg.channels, ngrid, cfg.image_size,
                                     cfg.image_size, 8, bits)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot write the grid");
    goto done;
  }
  ok = 1;
done:
  free(images);
  free(grid_px);
  clgan_sampler_destroy(sampler);
  return ok;
}

int cmd_generate(int argc, char **argv) {
  const char *cmd = "generate";
  const char *ckpt = NULL, *gen = NULL, *out = NULL, *grid = NULL, *device = NULL, *noise_file = NULL;
  long count = 0, seed = 0, bits = 8;
  clgan_bn_mode mode = CLGAN_BN_RUNNING;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (!(v = cli_value(cmd, argc, argv, &i))) return 2;
    if (strcmp(a, "--checkpoint") == 0) ckpt = v;
    else if (strcmp(a, "--generator") == 0) gen = v;
    else if (strcmp(a, "--out") == 0) out = v;
    else if (strcmp(a, "--grid") == 0) grid = v;
    else if (strcmp(a, "--device") == 0) device = v;
    else if (strcmp(a, "--noise") == 0) noise_file = v;
    else if (strcmp(a, "--count") == 0) { if (!cli_long(cmd, a, v, 1, 100000000, &count)) return 2; }
    else if (strcmp(a, "--seed") == 0) { if (!cli_long(cmd, a, v, 0, 0x7fffffffffffffffL, &seed)) return 2; }
    else if (strcmp(a, "--bits") == 0) {
      if (!cli_long(cmd, a, v, 8, 16, &bits) || (bits != 8 && bits != 16)) {
        fprintf(stderr, "clgan generate: --bits must be 8 or 16\n");
        return 2;
      }
    } else if (strcmp(a, "--bn") == 0) {
      if (strcmp(v, "running") == 0) mode = CLGAN_BN_RUNNING;
      else if (strcmp(v, "batch") == 0) mode = CLGAN_BN_BATCH;
      else {
        fprintf(stderr, "clgan generate: --bn must be 'running' or 'batch'\n");
        return 2;
      }
    } else {
      fprintf(stderr, "clgan generate: unknown option '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (!!ckpt == !!gen || !out || count < 1) {
    fprintf(stderr, "clgan generate: give one of --checkpoint or --generator, --count and --out "
                    "(see --help)\n");
    return 2;
  }
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  clgan_status st = ckpt ? clgan_checkpoint_read_config(ckpt, &cfg)
                         : clgan_generator_read_config(gen, &cfg);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot read the model");
    return 1;
  }
  if (gen) cfg.batch = count < 2 ? 2 : count > 64 ? 64 : (int)count;
  float *noise_in = NULL;
  if (noise_file) {
    FILE *f = fopen(noise_file, "rb");
    size_t want = (size_t)count * cfg.nz;
    noise_in = malloc(sizeof(float) * want);
    if (!f || !noise_in || fread(noise_in, sizeof(float), want, f) != want || fgetc(f) != EOF) {
      fprintf(stderr, "clgan generate: %s: expected exactly %ld x %d float32 noise values\n",
              noise_file, count, cfg.nz);
      if (f) fclose(f);
      free(noise_in);
      return 1;
    }
    fclose(f);
  }
  if ((st = clgan_make_dirs(out)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot create the output folder");
    free(noise_in);
    return 1;
  }
  clgan_ctx *ctx = cli_context(cmd, device, 0);
  if (!ctx) {
    free(noise_in);
    return 1;
  }
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  int rc = 1;
  st = clgan_dcgan_create(ctx, &cfg, &net);
  if (st == CLGAN_OK) st = ckpt ? clgan_checkpoint_load(ckpt, net, &ts) : clgan_import_generator(gen, net);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the model");
    goto done;
  }
  if (!write_generated(cmd, ctx, net, count, (unsigned long long)seed, mode, noise_in, out, grid,
                       (int)bits))
    goto done;
  printf("wrote %ld image%s (%dx%d, %d channel%s, %ld-bit) to %s/gen_%ld_*.png%s%s\n", count,
         count == 1 ? "" : "s", cfg.image_size, cfg.image_size, cfg.channels,
         cfg.channels == 1 ? "" : "s", bits, out, seed, grid ? ", grid " : "", grid ? grid : "");
  rc = 0;
done:
  free(ts.fixed_noise);
  free(noise_in);
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
  return rc;
}

int cmd_export(int argc, char **argv) {
  const char *cmd = "export", *ckpt = NULL, *out = NULL, *device = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("usage: clgan export CHECKPOINT --out FILE.safetensors [--device SPEC]\n\n"
             "Writes the generator alone with the PyTorch tutorial Generator's state_dict\n"
             "names (main.0.weight, main.1.weight, main.1.bias, main.1.running_mean, ...),\n"
             "loadable with load_state_dict after reading the safetensors file.\n");
      return 0;
    } else if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--device") == 0) {
      const char *v = cli_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if (argv[i - 1][2] == 'o') out = v; else device = v;
    } else if (argv[i][0] != '-' && !ckpt) {
      ckpt = argv[i];
    } else {
      fprintf(stderr, "clgan export: unexpected argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!ckpt || !out) {
    fprintf(stderr, "clgan export: usage: clgan export CHECKPOINT --out FILE\n");
    return 2;
  }
  clgan_dcgan_config cfg;
  clgan_status st = clgan_checkpoint_read_config(ckpt, &cfg);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot read the checkpoint");
    return 1;
  }
  clgan_ctx *ctx = cli_context(cmd, device, 1);
  if (!ctx) return 1;
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  st = clgan_dcgan_create(ctx, &cfg, &net);
  if (st == CLGAN_OK) st = clgan_checkpoint_load(ckpt, net, &ts);
  if (st == CLGAN_OK) st = clgan_export_generator(out, net);
  if (st != CLGAN_OK)
    cli_report(cmd, st, "export failed");
  else
    printf("wrote the generator of %s (iteration %ld) to %s\n", ckpt, ts.iteration, out);
  free(ts.fixed_noise);
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
  return st == CLGAN_OK ? 0 : 1;
}
