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
#include "commands.h"
#include "generate_class.h"
#include "outfiles.h"

static const char head[] =
    "usage: clgan generate (--checkpoint FILE | --generator FILE) --count N --out DIR\n"
    "                      [--seed N] [--bits 8|16] [--grid FILE] [--bn running|batch]\n"
    "                      [--noise FILE] [--class NAME|all] [--overwrite]\n"
    "                      [--device SPEC]\n\n"
    "Writes N images (PNG, the model's channels) into DIR as gen_<seed>_<index>.png.\n"
    "The same seed gives the same images. Existing files of the same names are\n"
    "not replaced unless --overwrite is given (nothing is written then).\n";
static const char *const bits_names[] = {"8", "16", NULL};
static const int bits_values[] = {8, 16};
static const char *const bn_names[] = {"running", "batch", NULL};
static const int bn_values[] = {CLGAN_BN_RUNNING, CLGAN_BN_BATCH};

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
                           const char *out, const char *grid, int bits, const int *labels) {
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
    st = clgan_sample_labels(sampler, mode, n, noise_in ? noise_in + (size_t)first * cfg.nz : NULL,
                             labels ? labels + first : NULL, images);
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

/* What `clgan generate` was asked for, and the model's configuration. */
typedef struct gen_args {
  const char *ckpt, *gen, *out, *grid, *device, *noise_file, *cls;
  long count, seed;
  int bits, mode, overwrite;
  clgan_dcgan_config cfg;
} gen_args;

/* The outputs are checked before anything is read or written: --out a
 * folder (or missing), and no image or grid of this run's names there
 * unless --overwrite. 0 after a message. */
static int check_outputs(const char *cmd, const gen_args *g) {
  if (!cli_check_out_dir(cmd, "--out", g->out)) return 0;
  if (g->grid && !*g->grid) {
    fprintf(stderr, "clgan %s: empty --grid: give a file name\n", cmd);
    return 0;
  }
  char prefix[48], first[1200];
  snprintf(prefix, sizeof prefix, "gen_%ld_", g->seed);
  long n = cli_count_numbered(g->out, prefix, ".png", g->count, first, sizeof first);
  return cli_keep_numbered(cmd, n, first, g->overwrite, "--out or --seed") &&
         cli_keep_file(cmd, "--grid", g->grid, g->overwrite);
}

/* Options into *g and the model's configuration; -1 to go on, else the exit code. */
static int parse_generate(const char *cmd, int argc, char **argv, gen_args *g) {
  *g = (gen_args){.bits = 8, .mode = CLGAN_BN_RUNNING};
  const cli_opt opts[] = {
      CLI_STR_OPT("--checkpoint", "FILE", &g->ckpt,
                  "a training checkpoint (checkpoint.safetensors)"),
      CLI_STR_OPT("--generator", "FILE", &g->gen,
                  "a generator written by 'clgan export' (or PyTorch, same names)"),
      CLI_LONG_OPT("--count", "N", &g->count, 1, 100000000, "images to write"),
      CLI_STR_OPT("--out", "DIR", &g->out, "output folder (created when missing)"),
      CLI_OPT_SEED(&g->seed, "noise seed (default 0)"),
      CLI_CHOICE_OPT("--bits", "8|16", &g->bits, bits_names, bits_values,
                     "PNG bit depth (default 8)"),
      CLI_STR_OPT("--grid", "FILE", &g->grid, "also write the first 64 images as one grid PNG"),
      CLI_CHOICE_OPT("--bn", "MODE", &g->mode, bn_names, bn_values,
                     "running: BatchNorm with the running statistics (default: eval\n"
                     "mode); batch: with each batch's statistics (as the tutorial's grids)"),
      CLI_STR_OPT("--noise", "FILE", &g->noise_file,
                  "read the noise from FILE (float32, [N][nz]) instead of the seed"),
      CLI_STR_OPT("--class", "NAME", &g->cls,
                  "conditional models: images of class NAME, or 'all': N images of\n"
                  "every class, each in DIR/<class>/ (grids as FILE_<class>.png)"),
      CLI_FLAG_OPT("--overwrite", &g->overwrite,
                   "replace existing images and grid of the same names"),
      CLI_OPT_DEVICE(&g->device),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  if (!!g->ckpt == !!g->gen || !g->out || g->count < 1) {
    fprintf(stderr, "clgan generate: give one of --checkpoint or --generator, --count and --out "
                    "(see --help)\n");
    return 2;
  }
  if (!check_outputs(cmd, g)) return 2;
  g->cfg = clgan_dcgan_default_config();
  clgan_status st = g->ckpt ? clgan_checkpoint_read_config(g->ckpt, &g->cfg)
                            : clgan_generator_read_config(g->gen, &g->cfg);
  if (st != CLGAN_OK) {
    cli_report_hint(cmd, st, "cannot read the model", cli_checkpoint_hint(st, g->ckpt));
    return 1;
  }
  return -1;
}

/* --noise FILE: exactly count x nz float32 values (malloc'd), or NULL after a message. */
static float *read_noise(const char *path, long count, int nz) {
  FILE *f = fopen(path, "rb");
  size_t want = (size_t)count * nz;
  float *noise = malloc(sizeof(float) * want);
  if (!f || !noise || fread(noise, sizeof(float), want, f) != want || fgetc(f) != EOF) {
    fprintf(stderr, "clgan generate: %s: expected exactly %ld x %d float32 noise values\n", path,
            count, nz);
    if (f) fclose(f);
    free(noise);
    return NULL;
  }
  fclose(f);
  return noise;
}

int cmd_generate(int argc, char **argv) {
  const char *cmd = "generate";
  gen_args g;
  int parsed = parse_generate(cmd, argc, argv, &g);
  if (parsed != -1) return parsed;
  clgan_dcgan_config cfg = g.cfg;
  if (g.gen) cfg.batch = g.count < 2 ? 2 : g.count > 64 ? 64 : (int)g.count;
  float *noise_in = NULL;
  if (g.noise_file && !(noise_in = read_noise(g.noise_file, g.count, cfg.nz))) return 1;
  clgan_ctx *ctx = cli_context(cmd, g.device, 0);
  if (!ctx) {
    free(noise_in);
    return 1;
  }
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  int rc = 1;
  clgan_status st = clgan_dcgan_create(ctx, &cfg, &net);
  if (st == CLGAN_OK)
    st = g.ckpt ? clgan_checkpoint_load(g.ckpt, net, &ts) : clgan_import_generator(g.gen, net);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the model");
    goto done;
  }
  gen_class_job *jobs = NULL; /* --class: which classes, where (checked before --out is made) */
  int njobs = 1;
  if (g.cls && !gen_class_jobs(cmd, net, g.cls, g.ckpt ? g.ckpt : g.gen, g.out, g.grid, g.count,
                               g.seed, g.overwrite, &jobs, &njobs))
    goto done;
  /* the folder only once the model loaded: a failed command leaves none */
  if ((st = clgan_make_dirs(g.out)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot create the output folder");
    gen_class_jobs_free(jobs, njobs);
    goto done;
  }
  for (int j = 0; j < njobs; j++)
    if (!write_generated(cmd, ctx, net, g.count, (unsigned long long)g.seed,
                         (clgan_bn_mode)g.mode, noise_in, jobs ? jobs[j].dir : g.out,
                         jobs ? (jobs[j].grid[0] ? jobs[j].grid : NULL) : g.grid, g.bits,
                         jobs ? jobs[j].labels : NULL)) {
      gen_class_jobs_free(jobs, njobs);
      goto done;
    }
  gen_class_jobs_free(jobs, njobs);
  if (g.cls && strcmp(g.cls, "all") == 0)
    printf("wrote %ld image%s of each of the %d classes to %s/<class>/\n", g.count,
           g.count == 1 ? "" : "s", njobs, g.out);
  else if (g.cls) printf("class %s: ", g.cls);
  if (!g.cls || strcmp(g.cls, "all") != 0)
    printf("wrote %ld image%s (%dx%d, %d channel%s, %d-bit) to %s/gen_%ld_*.png%s%s\n", g.count,
           g.count == 1 ? "" : "s", cfg.image_size, cfg.image_size, cfg.channels,
           cfg.channels == 1 ? "" : "s", g.bits, g.out, g.seed, g.grid ? ", grid " : "",
           g.grid ? g.grid : "");
  rc = 0;
done:
  free(ts.fixed_noise);
  free(noise_in);
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
  return rc;
}

/* Whether a and b name one existing file (links and ./ spellings included). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_export(int argc, char **argv) {
  const char *cmd = "export", *ckpt = NULL, *out = NULL, *device = NULL, *pos[1];
  int npos = 0, overwrite = 0;
  const cli_opt opts[] = {
      CLI_STR_OPT("--checkpoint", "FILE", &ckpt,
                  "the training checkpoint (or give it as the first argument)"),
      CLI_STR_OPT("--out", "FILE", &out, "where to write the generator (.safetensors)"),
      CLI_FLAG_OPT("--overwrite", &overwrite, "replace --out when it exists"),
      CLI_OPT_DEVICE(&device),
      CLI_OPT_END};
  const cli_spec spec = {
      .cmd = cmd,
      .head = "usage: clgan export (--checkpoint FILE | FILE) --out FILE.safetensors\n"
              "                    [--overwrite] [--device SPEC]\n\n"
              "Writes the generator alone with the PyTorch tutorial Generator's state_dict\n"
              "names (main.0.weight, main.1.weight, main.1.bias, main.1.running_mean, ...),\n"
              "loadable with load_state_dict after reading the safetensors file.\n\n",
      .opts = opts,
      .positional = pos,
      .max_positional = 1,
      .npositional = &npos};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  if (npos && ckpt) {
    fprintf(stderr, "clgan export: give the checkpoint once, as --checkpoint FILE or FILE\n");
    return 2;
  }
  if (npos) ckpt = pos[0];
  if (!ckpt || !out) {
    fprintf(stderr, "clgan export: usage: clgan export --checkpoint FILE --out FILE\n");
    return 2;
  }
  if (same_file(ckpt, out)) {
    fprintf(stderr, "clgan export: --out %s is the checkpoint itself: the training state would "
                    "be replaced by the generator alone; choose another file\n", out);
    return 2;
  }
  if (!*out) {
    fprintf(stderr, "clgan export: empty --out: give a file name\n");
    return 2;
  }
  if (!cli_keep_file(cmd, "--out", out, overwrite)) return 2;
  clgan_dcgan_config cfg;
  clgan_status st = clgan_checkpoint_read_config(ckpt, &cfg);
  if (st != CLGAN_OK) {
    cli_report_hint(cmd, st, "cannot read the checkpoint", cli_checkpoint_hint(st, ckpt));
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
