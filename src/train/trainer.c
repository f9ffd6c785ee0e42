/* The training loop: set up once, then steps that allocate nothing; the run
 * directory (log, grids, plot, page, checkpoints) is kept up to date. */
#include "clgan/train.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clgan/config.h"
#include "clgan/report.h"
#include "runtime/internal.h"
#include "train/loader.h"
#include "train/rng.h"

#define GRID_MAX 64

typedef struct run {
  clgan_ctx *ctx;
  const clgan_train_options *o;
  const clgan_dataset *ds;
  clgan_dcgan *net;
  clgan_dcgan_config cfg;
  clgan_train_state ts;
  clgan_rng rng;             /* noise; saved in checkpoints */
  long ipe, total;
  /* device */
  cl_mem images;             /* [count][c][s][s] when resident, else NULL */
  cl_mem order;              /* [count] int: this epoch's permutation */
  clgan_buf real;            /* [c, batch, s, s] */
  clgan_buf noise;           /* [nz, batch] */
  clgan_buf fixed;           /* [nz, batch] fixed noise for grids */
  /* host */
  int *perm;                 /* [count] */
  float *noise_host;         /* [nz * batch] */
  batch_loader *loader;      /* streaming path, when the data does not stay on the device */
  float *fake_host;          /* [c, batch, s, s] */
  float *loss_d, *loss_g;    /* [total] for the plot */
  float *aug_p;              /* [total] augmentation probability (ADA) */
  FILE *log;
  char path[1024];
  /* evaluation during training (eval_every > 0) */
  clgan_eval *eval;
  clgan_buf eval_real;       /* [nreal][c][s][s] a fixed subset of the data */
  clgan_buf eval_fake;       /* [eval_batches * batch][c][s][s] */
  float *eval_noise;         /* [eval_batches][nz * batch], fixed */
  int eval_batches;
  float *swd_curve;          /* [total] SWD at evaluated iterations, NaN elsewhere */
  FILE *metrics;
} run;

#define EVAL_MAX_REAL 1024
#define EVAL_MAX_FAKE 256

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *run_path(run *r, const char *name) {
  snprintf(r->path, sizeof r->path, "%s/%s", r->o->out_dir, name);
  return r->path;
}

long clgan_train_iters_per_epoch(int count, int batch) { return batch > 0 ? count / batch : 0; }

static void epoch_order(run *r, int epoch) {
  train_epoch_order(r->ts.seed, epoch, r->ds->count, r->perm);
}

static clgan_status load_batch(run *r, long it) {
  int epoch = (int)(it / r->ipe);
  long pos = it % r->ipe;
  const clgan_dcgan_config *c = &r->cfg;
  int hw = c->image_size * c->image_size;
  clgan_status st = CLGAN_OK;
  if (r->images && (pos == 0 || it == r->ts.iteration)) {
    epoch_order(r, epoch);
    st = CLGAN_CL(clEnqueueWriteBuffer(clgan_ctx_queue(r->ctx), r->order, CL_TRUE, 0,
                                       sizeof(int) * (size_t)r->ds->count, r->perm, 0, NULL, NULL));
  }
  size_t first = (size_t)pos * (size_t)c->batch;
  if (st != CLGAN_OK) return st;
  if (r->images)
    return clgan_gather_batch(r->ctx, r->images, r->order, first, c->batch, c->channels, hw,
                              r->real);
  /* streaming: the loader thread has gathered this batch on the host */
  return clgan_buf_write(r->ctx, r->real, loader_next(r->loader, it),
                         (size_t)c->channels * c->batch * (size_t)hw);
}

static clgan_status write_config(run *r) {
  /* the run, every configuration field (clgan/config.h), then the schedule */
  json_t *j = json_pack("{s:s, s:s, s:s?, s:I, s:I}", "tool", "clgan", "data",
                        r->o->data_label ? r->o->data_label : "", "resumed_from", r->o->resume,
                        "seed", (json_int_t)r->ts.seed, "iterations", (json_int_t)r->total);
  json_t *tail = json_pack("{s:i, s:i, s:s, s:I}", "sample_every", r->o->sample_every,
                           "checkpoint_every", r->o->checkpoint_every, "device",
                           clgan_ctx_device(r->ctx)->name, "dataset_images",
                           (json_int_t)r->ds->count);
  if (j && (!tail || clgan_config_to_json(&r->cfg, j) != CLGAN_OK ||
            json_object_update(j, tail) != 0)) {
    json_decref(j);
    j = NULL;
  }
  json_decref(tail);
  if (!j) return clgan_fail(CLGAN_ERR_NOMEM, "cannot encode config.json");
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s/config.json.tmp", r->o->out_dir);
  int ok = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(7)) == 0;
  json_decref(j);
  if (!ok || rename(tmp, run_path(r, "config.json")) != 0) {
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s/config.json", r->o->out_dir);
  }
  return CLGAN_OK;
}

static clgan_status write_index(run *r) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s/index.html.tmp", r->o->out_dir);
  FILE *f = fopen(tmp, "w");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  const clgan_dcgan_config *c = &r->cfg;
  fprintf(f,
          "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"refresh\" content=\"15\">\n<title>clgan run</title>\n"
          "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
          "img{image-rendering:pixelated;max-width:100%%;border:1px solid #ccc}"
          ".row{display:flex;gap:2em;flex-wrap:wrap}.row div{flex:1;min-width:300px}"
          "</style></head><body>\n<h1>clgan training run</h1>\n"
          "<p>%dx%d, %d channel%s, nz %d, ngf %d, ndf %d, batch %d, %ld iterations on %s. "
          "This page reloads every 15 s; the log is <a href=\"log.csv\">log.csv</a>, the "
          "configuration <a href=\"config.json\">config.json</a>.</p>\n"
          "<div class=\"row\"><div><h2>Generated (fixed noise)</h2>"
          "<img src=\"samples/latest.png\" alt=\"latest samples\" width=\"512\"></div>\n"
          "<div><h2>Real training images</h2>"
          "<img src=\"real.png\" alt=\"real images\" width=\"512\"></div></div>\n"
          "<h2>Losses</h2><img src=\"losses.svg\" alt=\"loss curves\">\n%s%s"
          "</body></html>\n",
          c->image_size, c->image_size, c->channels, c->channels == 1 ? "" : "s", c->nz, c->ngf,
          c->ndf, c->batch, r->total, clgan_ctx_device(r->ctx)->name,
          c->augment && c->ada ? "<h2>Augmentation strength</h2><img src=\"augment.svg\" "
                                 "alt=\"ADA probability\">\n"
                               : "",
          r->o->eval_every > 0
              ? "<h2>Distance to the real images</h2><img src=\"metrics.svg\" alt=\"SWD\">\n"
                "<p>All figures: <a href=\"metrics.csv\">metrics.csv</a>.</p>\n"
                "<h2>Closest generated / real pairs (memorisation check)</h2>"
                "<img src=\"closest_pairs.png\" alt=\"closest pairs\" height=\"400\">\n"
              : "");
  int ok = fclose(f) == 0;
  if (!ok || rename(tmp, run_path(r, "index.html")) != 0) {
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s/index.html", r->o->out_dir);
  }
  return CLGAN_OK;
}

static clgan_status write_real_grid(run *r) {
  const clgan_dcgan_config *c = &r->cfg;
  int n = r->ds->count < GRID_MAX ? r->ds->count : GRID_MAX;
  size_t hw = (size_t)c->image_size * c->image_size;
  float *g = malloc(sizeof(float) * (size_t)c->channels * n * hw);
  if (!g) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  epoch_order(r, 0); /* the images of the first batches, as the tutorial shows */
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c->channels; ch++)
      memcpy(g + ((size_t)ch * n + b) * hw, clgan_dataset_image(r->ds, r->perm[b]) + ch * hw,
             hw * sizeof(float));
  clgan_status st = clgan_grid_write(run_path(r, "real.png"), g, c->channels, n, c->image_size,
                                     c->image_size, 8, 8);
  free(g);
  return st;
}

/* Fixed-noise grid (BatchNorm on the batch's statistics, as the tutorial's
 * samples), the loss plot, and the page. */
static clgan_status write_samples(run *r, long it, char *note, size_t cap) {
  const clgan_dcgan_config *c = &r->cfg;
  clgan_status st = clgan_dcgan_generate(r->net, r->fixed, CLGAN_BN_BATCH);
  size_t count = (size_t)c->channels * c->batch * c->image_size * c->image_size;
  if (st == CLGAN_OK) st = clgan_buf_read(r->ctx, clgan_dcgan_fake(r->net), r->fake_host, count);
  int n = c->batch < GRID_MAX ? c->batch : GRID_MAX;
  /* first n images of each channel plane: [c][batch][hw] -> [c][n][hw] in place */
  size_t hw = (size_t)c->image_size * c->image_size;
  for (int ch = 1; ch < c->channels && st == CLGAN_OK; ch++)
    memmove(r->fake_host + (size_t)ch * n * hw, r->fake_host + (size_t)ch * c->batch * hw,
            (size_t)n * hw * sizeof(float));
  char name[64];
  snprintf(name, sizeof name, "samples/iter_%06ld.png", it);
  if (st == CLGAN_OK)
    st = clgan_grid_write(run_path(r, name), r->fake_host, c->channels, n, c->image_size,
                          c->image_size, 8, 8);
  if (st == CLGAN_OK)
    st = clgan_grid_write(run_path(r, "samples/latest.png"), r->fake_host, c->channels, n,
                          c->image_size, c->image_size, 8, 8);
  clgan_series s[2] = {{"Loss_G", "#d62728", r->loss_g}, {"Loss_D", "#1f77b4", r->loss_d}};
  if (st == CLGAN_OK)
    st = clgan_plot_svg(run_path(r, "losses.svg"), "Generator and discriminator loss", "loss", s,
                        2, (size_t)it);
  clgan_series ps = {"p", "#2ca02c", r->aug_p};
  if (st == CLGAN_OK && c->augment && c->ada)
    st = clgan_plot_svg(run_path(r, "augment.svg"), "Adaptive augmentation probability (ADA)",
                        "p", &ps, 1, (size_t)it);
  snprintf(note, cap, "%s", name);
  return st;
}

/* Generates the fixed evaluation set (as `clgan generate` would: running
 * statistics) and measures it against the real subset. */
static clgan_status evaluate(run *r, long it, clgan_eval_report *rep) {
  const clgan_dcgan_config *c = &r->cfg;
  size_t nzb = (size_t)c->nz * c->batch, hw = (size_t)c->image_size * c->image_size;
  cl_command_queue q = clgan_ctx_queue(r->ctx);
  clgan_buf fake = clgan_dcgan_fake(r->net);
  clgan_status st = CLGAN_OK;
  for (int k = 0; k < r->eval_batches && st == CLGAN_OK; k++) {
    st = clgan_buf_write(r->ctx, r->noise, r->eval_noise + (size_t)k * nzb, nzb);
    if (st == CLGAN_OK) st = clgan_dcgan_generate(r->net, r->noise, CLGAN_BN_RUNNING);
    /* [c][batch][hw] -> images k*batch.. of [n][c][hw]: one strided copy per channel */
    for (int ch = 0; ch < c->channels && st == CLGAN_OK; ch++) {
      size_t src[3] = {(fake.off + (size_t)ch * c->batch * hw) * sizeof(float), 0, 0};
      size_t dst[3] = {(r->eval_fake.off + ((size_t)k * c->batch * c->channels + ch) * hw) * sizeof(float), 0, 0};
      size_t region[3] = {hw * sizeof(float), (size_t)c->batch, 1};
      st = CLGAN_CL(clEnqueueCopyBufferRect(q, fake.mem, r->eval_fake.mem, src, dst, region,
                                            hw * sizeof(float), 0, c->channels * hw * sizeof(float),
                                            0, 0, NULL, NULL));
    }
  }
  clgan_image_set set = clgan_image_set_nchw(r->eval_fake, r->eval_batches * c->batch,
                                             c->channels, c->image_size);
  if (st == CLGAN_OK) st = clgan_eval_run(r->eval, &set, rep);
  if (st == CLGAN_OK) st = clgan_eval_write_closest(r->eval, &set, run_path(r, "closest_pairs.png"));
  if (st != CLGAN_OK) return st;
  r->swd_curve[it - 1] = (float)rep->swd_mean;
  fprintf(r->metrics, "%ld,%.4f,%.4f,%.4f,%.5f,%.5f,%.4f\n", it, rep->swd_mean, rep->msssim_fake,
          rep->msssim_real, rep->nn_fake_median, rep->nn_real_median, rep->nn_fake_below_real_p5);
  fflush(r->metrics);
  clgan_series s = {"SWD x1e3 (lower is closer to the real slices)", "#9467bd", r->swd_curve};
  return clgan_plot_svg(run_path(r, "metrics.svg"), "Sliced Wasserstein distance to the real images",
                        "SWD x1e3", &s, 1, (size_t)it);
}

static clgan_status save_checkpoint(run *r, long it) {
  r->ts.iteration = it;
  r->ts.rng[0] = r->rng.s[0];
  r->ts.rng[1] = r->rng.s[1];
  r->ts.rng[2] = r->rng.s[2];
  r->ts.rng[3] = r->rng.s[3];
  return clgan_checkpoint_save(run_path(r, "checkpoint.safetensors"), r->net, &r->ts);
}

/* Keeps the log rows of iterations up to `upto` (a resumed run continues
 * the file) and loads their losses for the plot. */
static clgan_status open_log(run *r, long upto) {
  const char *path = run_path(r, "log.csv");
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *in = upto > 0 ? fopen(path, "r") : NULL;
  FILE *out = fopen(tmp, "w");
  if (!out) {
    if (in) fclose(in);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  }
  fprintf(out, "iteration,epoch,loss_d,loss_g,d_x,d_g_z1,d_g_z2,img_per_s,augment_p,sign_real\n");
  char line[512];
  while (in && fgets(line, sizeof line, in)) {
    long it;
    int ep;
    float ld, lg, f[4], p = 0;
    if (sscanf(line, "%ld,%d,%f,%f,%f,%f,%f,%f,%f", &it, &ep, &ld, &lg, &f[0], &f[1], &f[2], &f[3],
               &p) < 4 ||
        it < 1 || it > upto)
      continue;
    fputs(line, out);
    r->loss_d[it - 1] = ld;
    r->loss_g[it - 1] = lg;
    r->aug_p[it - 1] = p;
  }
  if (in) fclose(in);
  if (fflush(out) != 0 || rename(tmp, path) != 0) {
    fclose(out);
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  }
  r->log = out; /* still open on the renamed file */
  return CLGAN_OK;
}

/* The evaluator: a fixed random subset of the real images on the device,
 * fixed noise for the generated ones, every plan made now (none in a step). */
static clgan_status eval_setup(run *r) {
  const clgan_dcgan_config *c = &r->cfg;
  int nreal = r->ds->count < EVAL_MAX_REAL ? r->ds->count : EVAL_MAX_REAL;
  int nfake = nreal < EVAL_MAX_FAKE ? nreal : EVAL_MAX_FAKE;
  r->eval_batches = nfake / c->batch > 0 ? nfake / c->batch : 1;
  nfake = r->eval_batches * c->batch;
  size_t img = r->ds->image_floats, nzb = (size_t)c->nz * c->batch;
  float *host = malloc(sizeof(float) * img * (size_t)nreal);
  int *order = malloc(sizeof(int) * (size_t)r->ds->count);
  r->eval_noise = malloc(sizeof(float) * nzb * (size_t)r->eval_batches);
  r->swd_curve = malloc(sizeof(float) * (size_t)r->total);
  clgan_status st = CLGAN_OK;
  if (!host || !order || !r->eval_noise || !r->swd_curve)
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  if (st == CLGAN_OK) {
    for (long i = 0; i < r->total; i++) r->swd_curve[i] = NAN;
    train_epoch_order(r->ts.seed ^ 0xe7a1e7a1ULL, 0, r->ds->count, order);
    for (int i = 0; i < nreal; i++)
      memcpy(host + (size_t)i * img, clgan_dataset_image(r->ds, order[i]), sizeof(float) * img);
    clgan_rng er;
    clgan_rng_seed(&er, r->ts.seed ^ 0xe7a1000000000000ULL);
    clgan_rng_normal(&er, r->eval_noise, nzb * (size_t)r->eval_batches, 0.0f, 1.0f);
    st = clgan_buf_alloc(r->ctx, img * (size_t)nreal, &r->eval_real);
  }
  if (st == CLGAN_OK) st = clgan_buf_write(r->ctx, r->eval_real, host, img * (size_t)nreal);
  if (st == CLGAN_OK) st = clgan_buf_alloc(r->ctx, img * (size_t)nfake, &r->eval_fake);
  if (st == CLGAN_OK) {
    clgan_eval_config ec = clgan_eval_default_config(c->channels, c->image_size, nfake);
    clgan_image_set real = clgan_image_set_nchw(r->eval_real, nreal, c->channels, c->image_size);
    st = clgan_eval_create(r->ctx, &ec, &real, &r->eval);
  }
  free(host);
  free(order);
  return st;
}

static clgan_status setup(run *r) {
  const clgan_train_options *o = r->o;
  clgan_status st;
  if (o->resume) {
    if ((st = clgan_checkpoint_read_config(o->resume, &r->cfg)) != CLGAN_OK) return st;
  } else {
    r->cfg = o->cfg;
  }
  const clgan_dcgan_config *c = &r->cfg;
  if (r->ds->channels != c->channels || r->ds->image_size != c->image_size)
    return clgan_fail(CLGAN_ERR_INVALID, "the dataset was loaded as %dx%d with %d channel(s); the model needs %dx%d with %d",
                      r->ds->image_size, r->ds->image_size, r->ds->channels, c->image_size,
                      c->image_size, c->channels);
  r->ipe = clgan_train_iters_per_epoch(r->ds->count, c->batch);
  if (r->ipe < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "the dataset has %d image(s), fewer than one batch of %d",
                      r->ds->count, c->batch);
  r->total = o->iters > 0 ? o->iters : (long)o->epochs * r->ipe;
  if (r->total < 1) return clgan_fail(CLGAN_ERR_INVALID, "nothing to do: the iteration count is not positive");
  if ((st = clgan_dcgan_create(r->ctx, c, &r->net)) != CLGAN_OK) return st;
  size_t nzb = (size_t)c->nz * c->batch;
  size_t img = (size_t)c->channels * c->batch * c->image_size * c->image_size;
  r->perm = malloc(sizeof(int) * (size_t)r->ds->count);
  r->noise_host = malloc(sizeof(float) * nzb);
  r->fake_host = malloc(sizeof(float) * img);
  r->loss_d = calloc((size_t)r->total, sizeof(float));
  r->loss_g = calloc((size_t)r->total, sizeof(float));
  r->aug_p = calloc((size_t)r->total, sizeof(float));
  if (!r->perm || !r->noise_host || !r->fake_host || !r->loss_d || !r->loss_g ||
      !r->aug_p)
    return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory");
  if ((st = clgan_buf_alloc(r->ctx, img, &r->real)) != CLGAN_OK) return st;
  if ((st = clgan_buf_alloc(r->ctx, nzb, &r->noise)) != CLGAN_OK) return st;
  if ((st = clgan_buf_alloc(r->ctx, nzb, &r->fixed)) != CLGAN_OK) return st;

  /* Small datasets (the ones this tool is for) live on the device. */
  const clgan_device_info *dev = clgan_ctx_device(r->ctx);
  size_t ds_bytes = sizeof(float) * r->ds->image_floats * (size_t)r->ds->count;
  if (!o->stream && ds_bytes <= dev->max_alloc_bytes && ds_bytes <= dev->global_mem_bytes / 4) {
    cl_int err;
    r->images = clCreateBuffer(clgan_ctx_cl_context(r->ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                               ds_bytes, r->ds->data, &err);
    if ((st = clgan_cl_check(err, "clCreateBuffer(dataset)")) != CLGAN_OK) return st;
    r->order = clCreateBuffer(clgan_ctx_cl_context(r->ctx), CL_MEM_READ_ONLY,
                              sizeof(int) * (size_t)r->ds->count, NULL, &err);
    if ((st = clgan_cl_check(err, "clCreateBuffer(order)")) != CLGAN_OK) return st;
  }

  if (o->resume) {
    if ((st = clgan_checkpoint_load(o->resume, r->net, &r->ts)) != CLGAN_OK) return st;
    memcpy(r->rng.s, r->ts.rng, sizeof r->rng.s);
    if (r->ts.fixed_count != c->batch || !r->ts.fixed_noise)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: fixed noise missing or not %d vectors", o->resume,
                        c->batch);
    if (r->ts.iteration >= r->total)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s is at iteration %ld already",
                        o->resume, r->ts.iteration);
  } else {
    r->ts.seed = o->seed;
    if ((st = clgan_dcgan_init_weights(r->net, o->seed)) != CLGAN_OK) return st;
    clgan_augment_state aug = clgan_dcgan_get_augment(r->net);
    aug.seed = o->seed ^ 0xa0a0a0a0a0a0a0a0ULL;
    clgan_dcgan_set_augment(r->net, aug);
    clgan_rng_seed(&r->rng, o->seed ^ 0x5eed0000000000ffULL);
    r->ts.fixed_count = c->batch;
    if (!(r->ts.fixed_noise = malloc(sizeof(float) * nzb)))
      return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory");
    clgan_rng_normal(&r->rng, r->ts.fixed_noise, nzb, 0.0f, 1.0f);
  }
  if ((st = clgan_buf_write(r->ctx, r->fixed, r->ts.fixed_noise, nzb)) != CLGAN_OK) return st;
  if (!r->images &&
      (st = loader_start(r->ds, c->batch, r->ts.seed, r->ts.iteration, r->ipe, &r->loader)) != CLGAN_OK)
    return st;
  if (o->eval_every > 0 && (st = eval_setup(r)) != CLGAN_OK) return st;
  if ((st = clgan_make_dirs(o->out_dir)) != CLGAN_OK) return st;
  if ((st = clgan_make_dirs(run_path(r, "samples"))) != CLGAN_OK) return st;
  if ((st = write_config(r)) != CLGAN_OK) return st;
  if ((st = write_real_grid(r)) != CLGAN_OK) return st;
  if ((st = write_index(r)) != CLGAN_OK) return st;
  if ((st = open_log(r, r->ts.iteration)) != CLGAN_OK) return st;
  if (o->eval_every > 0) {
    const char *mp = run_path(r, "metrics.csv");
    int fresh = r->ts.iteration == 0 || access(mp, F_OK) != 0;
    if (!(r->metrics = fopen(mp, fresh ? "w" : "a")))
      return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", mp, strerror(errno));
    if (fresh)
      fprintf(r->metrics, "iteration,swd_x1e3,msssim_fake,msssim_real,nn_fake_median,"
                          "nn_real_median,fake_nearer_than_real_p5\n");
  }
  return CLGAN_OK;
}

static void teardown(run *r) {
  if (r->log) fclose(r->log);
  if (r->images) clReleaseMemObject(r->images);
  if (r->order) clReleaseMemObject(r->order);
  clgan_buf_release(&r->real);
  clgan_buf_release(&r->noise);
  clgan_buf_release(&r->fixed);
  clgan_dcgan_destroy(r->net);
  free(r->ts.fixed_noise);
  free(r->perm);
  free(r->noise_host);
  free(r->fake_host);
  loader_stop(r->loader);
  if (r->metrics) fclose(r->metrics);
  clgan_eval_destroy(r->eval);
  clgan_buf_release(&r->eval_real);
  clgan_buf_release(&r->eval_fake);
  free(r->eval_noise);
  free(r->swd_curve);
  free(r->loss_d);
  free(r->loss_g);
  free(r->aug_p);
}

clgan_status clgan_train(clgan_ctx *ctx, const clgan_train_options *opts, const clgan_dataset *ds,
                         clgan_train_callback cb, void *user) {
  run r = {.ctx = ctx, .o = opts, .ds = ds};
  double t_setup = now();
  clgan_status st = setup(&r);
  if (st == CLGAN_OK && cb) {
    clgan_train_progress p = {.setup = 1,
                              .iteration = r.ts.iteration,
                              .total = r.total,
                              .iters_per_epoch = r.ipe,
                              .model = r.net,
                              .setup_seconds = now() - t_setup};
    if (cb(user, &p)) {
      teardown(&r);
      return CLGAN_OK;
    }
  }
  const clgan_dcgan_config *c = &r.cfg;
  size_t nzb = (size_t)c->nz * c->batch;
  double t_last = now(), rate = 0;
  long start = r.ts.iteration, done_since = 0;
  int bad_in_row = 0;
  /* Steps must not create kernels: the first step runs unfrozen (kernels
   * are created lazily by the ops), every later one frozen. */
  for (long it = start; it < r.total && st == CLGAN_OK; it++) {
    clgan_dcgan_stats s;
    if ((st = load_batch(&r, it)) != CLGAN_OK) break;
    clgan_rng_normal(&r.rng, r.noise_host, nzb, 0.0f, 1.0f);
    if ((st = clgan_buf_write(ctx, r.noise, r.noise_host, nzb)) != CLGAN_OK) break;
    if ((st = clgan_dcgan_step(r.net, r.real, r.noise, &s)) != CLGAN_OK) break;
    if (it == start) {
      /* create the sampling and evaluation kernels too, then freeze */
      char note0[80];
      if ((st = write_samples(&r, it + 1, note0, sizeof note0)) != CLGAN_OK) break;
    }
    long done = it + 1;
    bad_in_row = s.skipped ? bad_in_row + 1 : 0;
    int max_bad = opts->max_bad_steps > 0 ? opts->max_bad_steps : 10;
    if (bad_in_row >= max_bad) {
      /* the updates were skipped, so the model still holds the last good state */
      fflush(r.log);
      st = save_checkpoint(&r, done);
      if (st == CLGAN_OK)
        st = clgan_fail(CLGAN_ERR_DIVERGED,
                        "%d steps in a row had non-finite gradients (up to iteration %ld); the "
                        "last good state is in %s/checkpoint.safetensors",
                        bad_in_row, done, opts->out_dir);
      break;
    }
    if (!c->nan_guard && !(isfinite(s.loss_d) && isfinite(s.loss_g))) {
      /* the weights may already be broken: keep the last checkpoint as it is */
      fflush(r.log);
      st = clgan_fail(CLGAN_ERR_DIVERGED,
                      "the losses are not finite at iteration %ld (Loss_D %g, Loss_G %g); the "
                      "last checkpoint was kept",
                      done, (double)s.loss_d, (double)s.loss_g);
      break;
    }
    r.loss_d[it] = s.loss_d;
    r.loss_g[it] = s.loss_g;
    done_since++;
    double t = now();
    if (t - t_last >= 1.0 || done == r.total) {
      double inst = (double)done_since * c->batch / (t - t_last);
      rate = rate > 0 ? 0.7 * rate + 0.3 * inst : inst;
      t_last = t;
      done_since = 0;
    }
    clgan_augment_state aug = clgan_dcgan_get_augment(r.net);
    r.aug_p[it] = c->augment ? aug.p : 0.0f;
    fprintf(r.log, "%ld,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.4g,%.6g,%.4g\n", done, it / r.ipe,
            s.loss_d, s.loss_g, s.d_x, s.d_g_z1, s.d_g_z2, rate, r.aug_p[it], s.sign_real);
    if (c->augment && c->ada) {
      clgan_ada_observe(&aug, s.sign_real, c->ada_target, c->batch);
      clgan_dcgan_set_augment(r.net, aug);
    }
    char note[80] = "";
    int sample = opts->sample_every > 0 && (done % opts->sample_every == 0 || done == r.total);
    if (sample) {
      fflush(r.log);
      if ((st = write_samples(&r, done, note, sizeof note)) != CLGAN_OK) break;
    }
    clgan_eval_report rep;
    /* the first step of the process also evaluates (a baseline, and the
     * evaluator's kernels are created before the context is frozen) */
    int evaluated = opts->eval_every > 0 &&
                    (done % opts->eval_every == 0 || done == r.total || it == start);
    if (evaluated && (st = evaluate(&r, done, &rep)) != CLGAN_OK) break;
    clgan_ctx_freeze(ctx, 1);
    int stop = 0;
    if (cb) {
      clgan_train_progress p = {.iteration = done,
                                .total = r.total,
                                .epoch = (int)(it / r.ipe),
                                .iters_per_epoch = r.ipe,
                                .stats = s,
                                .img_per_s = rate,
                                .eta_seconds = rate > 0 ? (double)(r.total - done) * c->batch / rate : 0,
                                .note = sample ? note : NULL,
                                .augment_p = c->ada ? clgan_dcgan_get_augment(r.net).p : -1.0f,
                                .model = r.net,
                                .eval = evaluated ? &rep : NULL};
      stop = cb(user, &p);
    }
    if (stop || done == r.total ||
        (opts->checkpoint_every > 0 && done % opts->checkpoint_every == 0)) {
      fflush(r.log);
      if ((st = save_checkpoint(&r, done)) != CLGAN_OK) break;
    }
    if (stop) break;
  }
  clgan_ctx_freeze(ctx, 0);
  teardown(&r);
  return st;
}
