/* `clgan evaluate`: generated images against real ones, on the device, with
 * nothing downloaded: sliced Wasserstein distance (ProGAN), MS-SSIM
 * diversity, and memorisation (nearest real image of each generated one,
 * plus a PNG of the closest pairs). See clgan/metrics.h. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "clgan/checkpoint.h"
#include "clgan/metrics.h"
#include "clgan/train.h"
#include "commands.h"
#include "outfiles.h"

static const char head[] =
    "usage: clgan evaluate --real DIR (--fake DIR | --checkpoint FILE --count N [--seed S]\n"
    "                      | --generator FILE --count N [--seed S])\n"
    "                      [--class NAME] [--size N] [--channels 1|3] [--pairs N]\n"
    "                      [--closest N] [--closest-png FILE] [--json FILE] [--overwrite]\n"
    "                      [--device SPEC]\n\n"
    "Compares generated images with real ones, all on the OpenCL device:\n"
    "  - sliced Wasserstein distance x1e3 per Laplacian level and averaged (ProGAN:\n"
    "    128 7x7 neighbourhoods per image and level, 4 x 128 directions; on equal\n"
    "    counts, a seeded random subset of the larger set); lower is closer;\n"
    "  - diversity: mean MS-SSIM of random pairs within each set (ProGAN's ms_ssim);\n"
    "    generated pairs far more similar than real pairs means mode collapse;\n"
    "  - memorisation: each generated image's nearest real image (L2, reported as\n"
    "    the RMS difference on the [0, 1] scale, and the pair's SSIM) against each\n"
    "    real image's nearest other real image, and a PNG of the closest pairs\n"
    "    (--closest-png FILE).\n\n"
    "It writes only the files named (--closest-png, --json), and replaces none that\n"
    "exists unless --overwrite is given (checked before anything is computed).\n\n";
static const char *const channel_names[] = {"1", "3", NULL};
static const int channel_values[] = {1, 3};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Generates count images [count][c][s][s] with the model, as `clgan generate`
 * does for the same seed (BatchNorm with running statistics). */
static int generate_images(const char *cmd, clgan_ctx *ctx, const char *ckpt, const char *gen,
                           const clgan_dcgan_config *cfg_in, long count, long seed, float *out) {
  clgan_dcgan_config cfg = *cfg_in;
  if (gen) cfg.batch = count < 2 ? 2 : count > 64 ? 64 : (int)count;
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  clgan_sampler *sampler = NULL;
  clgan_status st = clgan_dcgan_create(ctx, &cfg, &net);
  if (st == CLGAN_OK) st = ckpt ? clgan_checkpoint_load(ckpt, net, &ts) : clgan_import_generator(gen, net);
  if (st != CLGAN_OK) cli_report(cmd, st, "cannot load the model");
  else if ((st = clgan_sampler_create(ctx, net, (uint64_t)seed, &sampler)) != CLGAN_OK)
    cli_report(cmd, st, "cannot allocate");
  else if ((st = clgan_sample(sampler, CLGAN_BN_RUNNING, count, NULL, out)) != CLGAN_OK)
    cli_report(cmd, st, "generation failed");
  free(ts.fixed_noise);
  clgan_sampler_destroy(sampler);
  clgan_dcgan_destroy(net);
  return st == CLGAN_OK;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int write_json(const char *path, const clgan_eval_report *r, const char *real_dir,
                      const char *fake_src, char **real_files, char **fake_files, int size,
                      int channels, const char *png, const double *secs) {
  json_t *root = json_object(), *levels = json_array(), *closest = json_array();
  json_object_set_new(root, "real", json_pack("{s:s, s:i}", "source", real_dir, "count", r->nreal));
  json_object_set_new(root, "generated",
                      json_pack("{s:s, s:i}", "source", fake_src, "count", r->nfake));
  json_object_set_new(root, "image_size", json_integer(size));
  json_object_set_new(root, "channels", json_integer(channels));
  for (int l = 0; l < r->swd_levels; l++)
    json_array_append_new(levels, json_pack("{s:i, s:f}", "resolution", r->swd_resolution[l],
                                            "swd_x1e3", r->swd[l]));
  json_object_set_new(root, "swd", json_pack("{s:i, s:o, s:f}", "images", r->swd_images,
                                             "levels", levels, "mean_x1e3", r->swd_mean));
  json_object_set_new(root, "msssim",
                      json_pack("{s:f, s:f, s:i, s:i}", "generated", r->msssim_fake, "real",
                                r->msssim_real, "pairs_generated", r->pairs_fake, "pairs_real",
                                r->pairs_real));
  json_object_set_new(
      root, "memorisation",
      json_pack("{s:s, s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:f, s:f, s:f}", "distance",
                "rms difference on the [0, 1] scale", "generated_to_real", "min", r->nn_fake_min,
                "p5", r->nn_fake_p5, "median", r->nn_fake_median, "real_to_real", "min",
                r->nn_real_min, "p5", r->nn_real_p5, "median", r->nn_real_median,
                "ssim_mean", r->nn_ssim_mean, "ssim_max", r->nn_ssim_max,
                "fraction_below_real_p5", r->nn_fake_below_real_p5));
  for (int j = 0; j < r->nclosest; j++)
    json_array_append_new(
        closest, json_pack("{s:s, s:s, s:f, s:f}", "generated",
                           fake_files ? fake_files[r->closest_fake[j]] : "",
                           "real", real_files[r->closest_real[j]], "rms", (double)r->closest_rms[j],
                           "ssim", (double)r->closest_ssim[j]));
  json_object_set_new(root, "closest", closest);
  json_object_set_new(root, "closest_png", png ? json_string(png) : json_null());
  json_object_set_new(root, "seconds",
                      json_pack("{s:f, s:f, s:f, s:f, s:f}", "load", secs[0], "generate", secs[1],
                                "swd", r->seconds_swd, "msssim", r->seconds_msssim, "nearest",
                                r->seconds_nn));
  int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
  json_decref(root);
  return rc == 0;
}

/* The names `clgan generate --seed seed` gives its images ("gen_<seed>_<index>"),
 * in *names (calloc'd; on failure the entries made so far, freed by the caller). */
static int gen_file_names(long seed, int n, char ***names) {
  if (!(*names = calloc((size_t)n, sizeof(char *)))) return 0;
  for (int i = 0; i < n; i++) {
    if (!((*names)[i] = malloc(48))) return 0;
    snprintf((*names)[i], 48, "gen_%ld_%05d", seed, i);
  }
  return 1;
}

/* The figures on stdout. */
static void print_report(const clgan_eval_report *r, char **fnames, char **real_files) {
  printf("\nsliced Wasserstein distance x1e3 (ProGAN; %d images of each set, lower = closer):\n",
         r->swd_images);
  for (int l = 0; l < r->swd_levels; l++)
    printf("  %4d px  %9.2f\n", r->swd_resolution[l], r->swd[l]);
  printf("  average  %9.2f\n", r->swd_mean);
  printf("\ndiversity, mean MS-SSIM of random pairs (lower = more diverse):\n");
  printf("  generated %.4f (%d pairs)   real %.4f (%d pairs)\n", r->msssim_fake, r->pairs_fake,
         r->msssim_real, r->pairs_real);
  if (r->msssim_fake > r->msssim_real + 0.1)
    printf("  -> generated pairs are much more alike than real pairs: mode collapse?\n");
  printf("\nmemorisation, RMS difference to the nearest real image ([0, 1] scale):\n");
  printf("                         min      5%%  median\n");
  printf("  generated -> real   %.4f  %.4f  %.4f\n", r->nn_fake_min, r->nn_fake_p5,
         r->nn_fake_median);
  printf("  real -> other real  %.4f  %.4f  %.4f\n", r->nn_real_min, r->nn_real_p5,
         r->nn_real_median);
  printf("  SSIM with the nearest real image: mean %.4f, max %.4f\n", r->nn_ssim_mean,
         r->nn_ssim_max);
  printf("  %.1f%% of generated images are nearer to a real image than the real set's 5th "
         "percentile%s\n",
         100 * r->nn_fake_below_real_p5,
         r->nn_fake_below_real_p5 > 0.25 ? " -> copies of training images?" : "");
  if (r->nclosest) printf("  closest pairs (generated ~ nearest real, rms, ssim):\n");
  for (int j = 0; j < r->nclosest; j++)
    printf("  %3d. %s ~ %s  %.4f  %.4f\n", j + 1, base_name(fnames[r->closest_fake[j]]),
           real_files[r->closest_real[j]], r->closest_rms[j], r->closest_ssim[j]);
}

/* What `clgan evaluate` was asked for, with the geometry resolved. */
typedef struct eval_args {
  const char *real_dir, *fake_dir, *ckpt, *gen, *cls, *device, *json, *png;
  long count, seed, size, pairs, nclosest;
  int channels, overwrite;
  char real_path[4096];
  clgan_dcgan_config mcfg; /* the model's, when generating */
} eval_args;

/* Options into *e; the geometry is the model's, else the first generated
 * image's. Returns -1 to go on, else the exit code. */
static int parse_evaluate(const char *cmd, int argc, char **argv, eval_args *e) {
  *e = (eval_args){.pairs = 1000, .nclosest = 8};
  char closest_help[96];
  snprintf(closest_help, sizeof closest_help,
           "closest pairs listed and drawn (default 8, at most %d)", CLGAN_EVAL_MAX_CLOSEST);
  const cli_opt opts[] = {
      CLI_STR_OPT("--real", "DIR", &e->real_dir,
                  "real images: an ImageFolder root, a class folder or any\n"
                  "folder of PNGs (searched recursively)"),
      CLI_STR_OPT("--class", "NAME", &e->cls, "use DIR/NAME only"),
      CLI_STR_OPT("--fake", "DIR", &e->fake_dir,
                  "generated images (e.g. from 'clgan generate --out DIR')"),
      CLI_STR_OPT("--checkpoint", "FILE", &e->ckpt,
                  "generate --count images from a training checkpoint"),
      CLI_STR_OPT("--generator", "FILE", &e->gen, "... or from an exported generator"),
      CLI_LONG_OPT("--count", "N", &e->count, 2, 1000000, "images to generate"),
      CLI_OPT_SEED(&e->seed, "noise seed for generation (default 0: the images\n"
                          "'clgan generate --seed S' writes)"),
      CLI_LONG_OPT("--size", "N", &e->size, 16, 4096,
                   "image side (default: the model's, else the first generated\n"
                   "image's); every image is resized and centre-cropped to it"),
      CLI_CHOICE_OPT("--channels", "1|3", &e->channels, channel_names, channel_values,
                     "(default: the model's, else the first generated image's)"),
      CLI_LONG_OPT("--pairs", "N", &e->pairs, 1, 10000000,
                   "random pairs per set for MS-SSIM (default 1000)"),
      CLI_LONG_OPT("--closest", "N", &e->nclosest, 0, CLGAN_EVAL_MAX_CLOSEST, closest_help),
      CLI_STR_OPT("--closest-png", "FILE", &e->png,
                  "draw them into FILE (default: not drawn)"),
      CLI_STR_OPT("--json", "FILE", &e->json, "also write every figure as JSON"),
      CLI_FLAG_OPT("--overwrite", &e->overwrite, "replace --closest-png and --json files"),
      CLI_OPT_DEVICE(&e->device),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  if (e->png && strcmp(e->png, "-") == 0) e->png = NULL;
  int sources = !!e->fake_dir + !!e->ckpt + !!e->gen;
  if (!e->real_dir || sources != 1 || (e->fake_dir && e->count) || (!e->fake_dir && e->count < 2)) {
    fprintf(stderr, "clgan evaluate: give --real DIR and one of --fake DIR or --checkpoint/"
                    "--generator FILE with --count N >= 2 (see --help)\n");
    return 2;
  }
  if (e->nclosest == 0) e->png = NULL;
  if ((e->png && !*e->png) || (e->json && !*e->json)) {
    fprintf(stderr, "clgan evaluate: empty %s: give a file name\n",
            e->json && !*e->json ? "--json" : "--closest-png");
    return 2;
  }
  if (!cli_keep_file(cmd, "--closest-png", e->png, e->overwrite) ||
      !cli_keep_file(cmd, "--json", e->json, e->overwrite))
    return 2;
  if (e->cls) snprintf(e->real_path, sizeof e->real_path, "%s/%s", e->real_dir, e->cls);
  else snprintf(e->real_path, sizeof e->real_path, "%s", e->real_dir);

  /* geometry: the model's, else the first generated image's */
  e->mcfg = clgan_dcgan_default_config();
  clgan_status st;
  if (!e->fake_dir) {
    st = e->ckpt ? clgan_checkpoint_read_config(e->ckpt, &e->mcfg)
                 : clgan_generator_read_config(e->gen, &e->mcfg);
    if (st != CLGAN_OK) {
      cli_report_hint(cmd, st, "cannot read the model", cli_checkpoint_hint(st, e->ckpt));
      return 1;
    }
    if ((e->size && e->size != e->mcfg.image_size) ||
        (e->channels && e->channels != e->mcfg.channels)) {
      fprintf(stderr, "clgan evaluate: the model makes %d px images with %d channel(s); --size and "
                      "--channels must match or be left out\n",
              e->mcfg.image_size, e->mcfg.channels);
      return 2;
    }
    e->size = e->mcfg.image_size;
    e->channels = e->mcfg.channels;
  } else if (!e->size || !e->channels) {
    int pc = 0, ps = 0;
    if ((st = clgan_image_folder_probe(e->fake_dir, &pc, &ps)) != CLGAN_OK) {
      cli_report(cmd, st, "cannot read the generated images");
      return 1;
    }
    if (!e->size) e->size = ps;
    if (!e->channels) e->channels = pc;
    if (e->size < 16) {
      fprintf(stderr, "clgan evaluate: the generated images are %ld px; the SWD pyramid needs 16 "
                      "or more (give --size)\n", e->size);
      return 2;
    }
  }

  return -1;
}

/* The real images and the generated ones from --fake (else *fake stays
 * NULL), each announced on stdout; 0 after a message. */
static int load_sets(const char *cmd, const eval_args *e, clgan_image_folder **real,
                     clgan_image_folder **fake) {
  clgan_status st;
  int size = (int)e->size, channels = e->channels;
  if ((st = clgan_image_folder_load(e->real_path, size, channels, real)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the real images");
    return 0;
  }
  if (e->fake_dir &&
      (st = clgan_image_folder_load(e->fake_dir, size, channels, fake)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot load the generated images");
    clgan_image_folder_free(*real);
    return 0;
  }
  const clgan_image_folder *r = *real, *f = *fake;
  int nfake = f ? f->count : (int)e->count;
  printf("real:      %d images from %s (%d px, %d %s)", r->count, e->real_path, size, channels,
         channels == 1 ? "channel" : "channels");
  if (r->skipped) printf(", %d unreadable skipped (%s)", r->skipped, r->first_error);
  printf("\n");
  if (f) {
    printf("generated: %d images from %s", nfake, e->fake_dir);
    if (f->skipped) printf(", %d unreadable skipped (%s)", f->skipped, f->first_error);
    printf("\n");
  }
  if (r->count < 2 || nfake < 2) {
    fprintf(stderr, "clgan evaluate: need at least 2 real and 2 generated images\n");
    clgan_image_folder_free(*real);
    clgan_image_folder_free(*fake);
    return 0;
  }
  return 1;
}

int cmd_evaluate(int argc, char **argv) {
  const char *cmd = "evaluate";
  eval_args e;
  int parsed = parse_evaluate(cmd, argc, argv, &e);
  if (parsed != -1) return parsed;
  const char *fake_dir = e.fake_dir, *ckpt = e.ckpt, *gen = e.gen, *json = e.json, *png = e.png;
  const char *real_path = e.real_path;
  long count = e.count, seed = e.seed, size = e.size;
  int channels = e.channels;
  clgan_status st;
  double t0 = now(), secs[2] = {0, 0};
  clgan_image_folder *real = NULL, *fake = NULL;
  if (!load_sets(cmd, &e, &real, &fake)) return 1;
  secs[0] = now() - t0;
  int nreal = real->count, nfake = fake ? fake->count : (int)count, rc = 1;

  clgan_ctx *ctx = cli_context(cmd, e.device, 0);
  clgan_buf breal = {0}, bfake = {0};
  clgan_eval *ev = NULL;
  float *gen_px = NULL;
  char **gen_names = NULL;
  if (!ctx) goto done;
  size_t img = (size_t)channels * size * size;
  if (!fake) {
    double tg = now();
    gen_px = malloc(sizeof(float) * img * (size_t)nfake);
    if (!gen_px) {
      cli_report(cmd, CLGAN_ERR_NOMEM, "cannot allocate the generated images");
      goto done;
    }
    if (!generate_images(cmd, ctx, ckpt, gen, &e.mcfg, count, seed, gen_px)) goto done;
    secs[1] = now() - tg;
    printf("generated: %d images from %s (seed %ld) in %.2f s\n", nfake, ckpt ? ckpt : gen, seed,
           secs[1]);
    if (!gen_file_names(seed, nfake, &gen_names)) {
      cli_report(cmd, CLGAN_ERR_NOMEM, "cannot allocate");
      goto done;
    }
  }
  if ((st = clgan_buf_alloc(ctx, img * nreal, &breal)) != CLGAN_OK ||
      (st = clgan_buf_write(ctx, breal, real->data, img * nreal)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, img * nfake, &bfake)) != CLGAN_OK ||
      (st = clgan_buf_write(ctx, bfake, fake ? fake->data : gen_px, img * nfake)) != CLGAN_OK) {
    cli_report(cmd, st, "cannot upload the images");
    goto done;
  }
  clgan_image_set sreal = clgan_image_set_nchw(breal, nreal, (int)channels, (int)size);
  clgan_image_set sfake = clgan_image_set_nchw(bfake, nfake, (int)channels, (int)size);
  clgan_eval_config ecfg = clgan_eval_default_config((int)channels, (int)size, nfake);
  ecfg.pairs = (int)e.pairs;
  ecfg.closest = (int)e.nclosest;
  clgan_eval_report r;
  if ((st = clgan_eval_create(ctx, &ecfg, &sreal, &ev)) != CLGAN_OK ||
      (st = clgan_eval_run(ev, &sfake, &r)) != CLGAN_OK) {
    cli_report(cmd, st, "evaluation failed");
    goto done;
  }
  char **fnames = fake ? fake->files : gen_names;

  print_report(&r, fnames, real->files);
  if (png) {
    if ((st = clgan_eval_write_closest(ev, &sfake, png)) != CLGAN_OK) {
      cli_report(cmd, st, "cannot write the closest pairs");
      goto done;
    }
    printf("  closest pairs drawn in %s (a row per pair, nearest first: generated | real)\n", png);
  }
  printf("\ntime: load %.2f s", secs[0]);
  if (!fake) printf(", generate %.2f s", secs[1]);
  printf(", SWD %.2f s, MS-SSIM %.2f s, nearest neighbours %.2f s\n", r.seconds_swd,
         r.seconds_msssim, r.seconds_nn);
  if (json) {
    if (!write_json(json, &r, real_path, fake_dir ? fake_dir : (ckpt ? ckpt : gen), real->files,
                    fnames, (int)size, (int)channels, png, secs)) {
      fprintf(stderr, "clgan evaluate: cannot write %s\n", json);
      goto done;
    }
    printf("figures written to %s\n", json);
  }
  rc = 0;
done:
  clgan_eval_destroy(ev);
  clgan_buf_release(&breal);
  clgan_buf_release(&bfake);
  clgan_ctx_destroy(ctx);
  for (int i = 0; gen_names && i < nfake; i++) free(gen_names[i]);
  free(gen_names);
  free(gen_px);
  clgan_image_folder_free(real);
  clgan_image_folder_free(fake);
  return rc;
}
