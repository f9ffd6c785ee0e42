/* The run directory: every file of a training run but the checkpoint's
 * contents (see rundir.h). Files read while the run goes on are replaced
 * atomically (written beside, then renamed). */
#include "clgan/config.h"
#include "train/rundir.h"
#include "train/cond_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/report.h"
#include "runtime/internal.h"
#include "train/loader.h"

#define GRID_MAX 64

static const char *run_path(rundir *r, const char *name) {
  snprintf(r->path, sizeof r->path, "%s/%s", r->o->out_dir, name);
  return r->path;
}

const char *rundir_path(rundir *d, const char *name) { return run_path(d, name); }

static clgan_status write_config(rundir *r) {
  /* the run, every configuration field (clgan/config.h), then the schedule */
  json_t *j = json_pack("{s:s, s:s, s:s?, s:I, s:I}", "tool", "clgan", "data",
                        r->o->data_label ? r->o->data_label : "", "resumed_from", r->o->resume,
                        "seed", (json_int_t)r->seed, "iterations", (json_int_t)r->total);
  json_t *tail = json_pack("{s:i, s:i, s:s, s:I}", "sample_every", r->o->sample_every,
                           "checkpoint_every", r->o->checkpoint_every, "device",
                           clgan_ctx_device(r->ctx)->name, "dataset_images",
                           (json_int_t)r->ds->count);
  if (j && (!tail || clgan_config_to_json(&r->cfg, j) != CLGAN_OK ||
            (r->cfg.conditional && cond_meta_json_classes(j, r->ds) != CLGAN_OK) ||
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

static clgan_status write_index(rundir *r) {
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
  int ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, run_path(r, "index.html")) != 0) {
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s/index.html", r->o->out_dir);
  }
  return CLGAN_OK;
}

/* Keeps the log rows of iterations up to `upto` (a resumed run continues
 * the file) and loads their losses for the plot. */
static clgan_status open_log(rundir *r, long upto) {
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
  if (ferror(out) || fflush(out) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    fclose(out);
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  r->log = out; /* still open on the renamed file */
  return CLGAN_OK;
}

/* The images of the first batches, as the tutorial shows. */
static clgan_status write_real_grid(rundir *r) {
  const clgan_dcgan_config *c = &r->cfg;
  int n = r->ds->count < GRID_MAX ? r->ds->count : GRID_MAX;
  size_t hw = (size_t)c->image_size * c->image_size;
  int *perm = malloc(sizeof(int) * (size_t)r->ds->count);
  if (!perm) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  train_epoch_order(r->seed, 0, r->ds->count, perm);
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c->channels; ch++)
      memcpy(r->grid + ((size_t)ch * n + b) * hw, clgan_dataset_image(r->ds, perm[b]) + ch * hw,
             hw * sizeof(float));
  free(perm);
  return clgan_grid_write(run_path(r, "real.png"), r->grid, c->channels, n, c->image_size,
                          c->image_size, 8, 8);
}

static clgan_status open_metrics(rundir *r, long iteration) {
  const char *mp = run_path(r, "metrics.csv");
  int fresh = iteration == 0 || access(mp, F_OK) != 0;
  if (!(r->metrics = fopen(mp, fresh ? "w" : "a")))
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", mp, strerror(errno));
  if (fresh &&
      (fprintf(r->metrics, "iteration,swd_x1e3,msssim_fake,msssim_real,nn_fake_median,"
                           "nn_real_median,fake_nearer_than_real_p5\n") < 0 ||
       fflush(r->metrics) != 0))
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", mp, strerror(errno));
  return CLGAN_OK;
}

/* ---- claiming the directory ------------------------------------------------ */

/* The files a run writes: a folder holding any of them holds a run. */
static const char *const run_files[] = {
    "checkpoint.safetensors", "log.csv", "config.json", "samples", "real.png", "index.html",
    "losses.svg", "augment.svg", "metrics.csv", "metrics.svg", "closest_pairs.png",
    "metrics_classes.csv", NULL};

const char *rundir_existing_file(const char *dir, char *buf, size_t cap) {
  for (int i = 0; run_files[i]; i++) {
    snprintf(buf, cap, "%s/%s", dir, run_files[i]);
    if (access(buf, F_OK) == 0) return run_files[i];
  }
  return NULL;
}

/* The pid a lock holder wrote into the lock file, or 0. */
static long lock_holder(const char *path) {
  long pid = 0;
  FILE *f = fopen(path, "r");
  if (f && fscanf(f, "%ld", &pid) != 1) pid = 0;
  if (f) fclose(f);
  return pid;
}

/* flock on DIR/.lock: the kernel drops it when the process ends, however it
 * ends, so a dead run never blocks. The file is removed when the run closes;
 * a lock taken on a file unlinked meanwhile is retried on the new one. */
static clgan_status lock_dir(rundir *r) {
  const char *path = run_path(r, ".lock");
  for (int attempt = 0; attempt < 8; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return clgan_fail(CLGAN_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd);
      if (e != EWOULDBLOCK)
        return clgan_fail(CLGAN_ERR_IO, "cannot lock %s: %s", path, strerror(e));
      long pid = lock_holder(path);
      char who[48] = "";
      if (pid > 0) snprintf(who, sizeof who, " (process %ld)", pid);
      return clgan_fail(CLGAN_ERR_IO,
                        "%s is in use by another clgan train%s: one run at a time writes a run "
                        "directory; wait for it or choose another --out",
                        r->o->out_dir, who);
    }
    struct stat held, now;
    if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      char pid[32];
      int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
      /* the pid only names the holder in messages: the lock is what counts */
      int named = ftruncate(fd, 0) == 0 && write(fd, pid, (size_t)n) == n;
      (void)named;
      r->lock_fd = fd;
      r->locked = 1;
      return CLGAN_OK;
    }
    close(fd);
  }
  return clgan_fail(CLGAN_ERR_IO, "cannot lock %s: it keeps being replaced", path);
}

/* Whether the checkpoint at path lies in folder dir. */
static int checkpoint_in(const char *path, const char *dir) {
  char parent[1024];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  if (slash) *slash = '\0';
  else snprintf(parent, sizeof parent, ".");
  struct stat a, b;
  return stat(parent, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

clgan_status rundir_claim(rundir *r, const char *resume) {
  const char *dir = r->o->out_dir;
  if (!dir || !*dir) return clgan_fail(CLGAN_ERR_INVALID, "empty run directory name (--out)");
  if (mkdir(dir, 0755) == 0) {
    r->created = 1;
  } else if (errno == ENOENT) {
    clgan_status st = clgan_make_dirs(dir);
    if (st != CLGAN_OK) return st;
    r->created = 1;
  } else if (errno != EEXIST) {
    return clgan_fail(CLGAN_ERR_IO, "cannot create the run directory %s: %s", dir,
                      strerror(errno));
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return clgan_fail(CLGAN_ERR_IO, "the run directory %s is not a folder", dir);
  clgan_status st = lock_dir(r);
  if (st != CLGAN_OK) return st;
  /* a run goes on only in its own folder, or in one that holds no run */
  char found[1100];
  const char *name = resume && checkpoint_in(resume, dir)
                         ? NULL
                         : rundir_existing_file(dir, found, sizeof found);
  if (name) {
    rundir_release(r);
    if (resume)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s already holds another run (%s): nothing is replaced; resume %s in "
                        "its own folder (leave --out out) or choose an empty --out",
                        dir, name, resume);
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s already holds a run (%s): nothing is replaced; continue it with "
                      "--resume %s, or choose another --out",
                      dir, name, dir);
  }
  return CLGAN_OK;
}

void rundir_release(rundir *r) {
  if (r->locked) {
    /* unlink first, then drop the lock (see lock_dir) */
    unlink(run_path(r, ".lock"));
    close(r->lock_fd);
    r->locked = 0;
  }
  /* a folder this run made and left empty (it failed before writing) goes */
  if (r->created && r->o && r->o->out_dir) rmdir(r->o->out_dir);
  r->created = 0;
}

clgan_status clgan_run_dir_create_unique(const char *base, char *out, size_t cap) {
  char parent[1024];
  if (!base || !*base) return clgan_fail(CLGAN_ERR_INVALID, "empty run directory name");
  if (snprintf(parent, sizeof parent, "%s", base) >= (int)sizeof parent)
    return clgan_fail(CLGAN_ERR_INVALID, "run directory name too long: %s", base);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    clgan_status st = clgan_make_dirs(parent);
    if (st != CLGAN_OK) return st;
  }
  /* mkdir is the test and the claim at once: a name another run took
   * meanwhile fails with EEXIST and the next suffix is tried */
  for (int k = 1; k < 1000; k++) {
    int n = k == 1 ? snprintf(out, cap, "%s", base) : snprintf(out, cap, "%s-%d", base, k);
    if (n < 0 || (size_t)n >= cap)
      return clgan_fail(CLGAN_ERR_INVALID, "run directory name too long: %s", base);
    if (mkdir(out, 0755) == 0) return CLGAN_OK;
    if (errno != EEXIST)
      return clgan_fail(CLGAN_ERR_IO, "cannot create the run directory %s: %s", out,
                        strerror(errno));
  }
  return clgan_fail(CLGAN_ERR_IO, "cannot create a run directory: %s-2 .. %s-999 all exist",
                    base, base);
}

clgan_status rundir_open(rundir *r, long iteration) {
  const clgan_dcgan_config *c = &r->cfg;
  r->loss_d = calloc((size_t)r->total, sizeof(float));
  r->loss_g = calloc((size_t)r->total, sizeof(float));
  r->aug_p = calloc((size_t)r->total, sizeof(float));
  r->grid = malloc(sizeof(float) * (size_t)c->channels * GRID_MAX * c->image_size * c->image_size);
  if (r->o->eval_every > 0 && (r->swd_curve = malloc(sizeof(float) * (size_t)r->total)))
    for (long i = 0; i < r->total; i++) r->swd_curve[i] = NAN;
  if (!r->loss_d || !r->loss_g || !r->aug_p || !r->grid || (r->o->eval_every > 0 && !r->swd_curve))
    return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory");
  clgan_status st;
  if ((st = clgan_make_dirs(r->o->out_dir)) != CLGAN_OK) return st;
  if ((st = clgan_make_dirs(run_path(r, "samples"))) != CLGAN_OK) return st;
  if ((st = write_config(r)) != CLGAN_OK) return st;
  if ((st = write_real_grid(r)) != CLGAN_OK) return st;
  if ((st = write_index(r)) != CLGAN_OK) return st;
  if ((st = open_log(r, iteration)) != CLGAN_OK) return st;
  if (r->o->eval_every > 0) return open_metrics(r, iteration);
  return CLGAN_OK;
}

clgan_status rundir_close(rundir *r, int report) {
  clgan_status st = CLGAN_OK;
  /* fclose writes what is still buffered: its failure is a failed write */
  if (r->log && fclose(r->log) != 0 && report)
    st = clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", run_path(r, "log.csv"), strerror(errno));
  if (r->metrics && fclose(r->metrics) != 0 && report && st == CLGAN_OK)
    st = clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", run_path(r, "metrics.csv"),
                    strerror(errno));
  r->log = r->metrics = NULL;
  free(r->loss_d);
  free(r->loss_g);
  free(r->aug_p);
  free(r->swd_curve);
  free(r->grid);
  r->loss_d = r->loss_g = r->aug_p = r->swd_curve = r->grid = NULL;
  rundir_release(r);
  return st;
}

/* A failed write of log.csv: stdio keeps the error in the stream. */
static clgan_status log_failed(rundir *r) {
  return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s; training stopped (the last checkpoint "
                    "is kept)", run_path(r, "log.csv"), strerror(errno ? errno : EIO));
}

clgan_status rundir_log(rundir *r, long it, long epoch, const clgan_dcgan_stats *s,
                        double img_per_s, float augment_p) {
  r->loss_d[it] = s->loss_d;
  r->loss_g[it] = s->loss_g;
  r->aug_p[it] = augment_p;
  errno = 0;
  if (fprintf(r->log, "%ld,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.4g,%.6g,%.4g\n", it + 1, epoch,
              s->loss_d, s->loss_g, s->d_x, s->d_g_z1, s->d_g_z2, img_per_s, augment_p,
              s->sign_real) < 0 ||
      ferror(r->log))
    return log_failed(r);
  return CLGAN_OK;
}

clgan_status rundir_flush(rundir *r) {
  errno = 0;
  if (r->log && (fflush(r->log) != 0 || ferror(r->log))) return log_failed(r);
  return CLGAN_OK;
}

/* The fixed-noise grid (the first images), the loss plot, and ADA's. */
clgan_status rundir_samples(rundir *r, long it, const float *nchw, int n, char *note, size_t cap) {
  const clgan_dcgan_config *c = &r->cfg;
  if (n > GRID_MAX) n = GRID_MAX;
  size_t hw = (size_t)c->image_size * c->image_size;
  /* [n][c][hw] -> the grid's [c][n][hw] */
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c->channels; ch++)
      memcpy(r->grid + ((size_t)ch * n + b) * hw, nchw + ((size_t)b * c->channels + ch) * hw,
             hw * sizeof(float));
  char name[64];
  snprintf(name, sizeof name, "samples/iter_%06ld.png", it);
  clgan_status st = clgan_grid_write(run_path(r, name), r->grid, c->channels, n, c->image_size,
                                     c->image_size, 8, 8);
  if (st == CLGAN_OK)
    st = clgan_grid_write(run_path(r, "samples/latest.png"), r->grid, c->channels, n,
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

clgan_status rundir_metrics(rundir *r, long it, const clgan_eval_report *rep) {
  r->swd_curve[it - 1] = (float)rep->swd_mean;
  if (fprintf(r->metrics, "%ld,%.4f,%.4f,%.4f,%.5f,%.5f,%.4f\n", it, rep->swd_mean,
              rep->msssim_fake, rep->msssim_real, rep->nn_fake_median, rep->nn_real_median,
              rep->nn_fake_below_real_p5) < 0 ||
      fflush(r->metrics) != 0)
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", run_path(r, "metrics.csv"),
                      strerror(errno));
  clgan_series s = {"SWD x1e3 (lower is closer to the real slices)", "#9467bd", r->swd_curve};
  return clgan_plot_svg(run_path(r, "metrics.svg"), "Sliced Wasserstein distance to the real images",
                        "SWD x1e3", &s, 1, (size_t)it);
}
