/* Measurement code of `clgan bench` (see bench.h): timed training steps on
 * synthetic data, one profiled step on a separate profiling context, and the
 * cold / warm start-up of a child process. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clgan/rng.h"

extern char **environ;

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(const bench_options *o, const char *phase, int i, int n) {
  if (o->progress) o->progress(o->user, phase, i, n);
}

/* ---- model and synthetic data ------------------------------------------ */

typedef struct bench_model {
  clgan_dcgan *net;
  clgan_buf real, noise;
  size_t data_floats;
} bench_model;

static void model_free(bench_model *m) {
  clgan_dcgan_destroy(m->net);
  m->net = NULL;
  clgan_buf_release(&m->real);
  clgan_buf_release(&m->noise);
}

/* The model with the recipe's initialisation, a real batch uniform in
 * [-1, 1) and a noise batch N(0, 1), uploaded once. */
static clgan_status model_setup(clgan_ctx *ctx, const bench_options *o, bench_model *m) {
  memset(m, 0, sizeof *m);
  const clgan_dcgan_config *c = &o->cfg;
  size_t nreal = (size_t)c->channels * c->batch * c->image_size * c->image_size;
  size_t nnoise = (size_t)c->nz * c->batch;
  clgan_status st = clgan_dcgan_create(ctx, c, &m->net);
  if (st == CLGAN_OK) st = clgan_dcgan_init_weights(m->net, o->seed);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nreal, &m->real);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nnoise, &m->noise);
  float *host = NULL;
  if (st == CLGAN_OK && !(host = malloc((nreal > nnoise ? nreal : nnoise) * sizeof(float))))
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (st == CLGAN_OK) {
    clgan_rng rng;
    clgan_rng_seed_stream(&rng, o->seed, CLGAN_STREAM_BENCH_DATA, 0);
    for (size_t i = 0; i < nreal; i++) host[i] = (float)(2.0 * clgan_rng_uniform(&rng) - 1.0);
    st = clgan_buf_write(ctx, m->real, host, nreal);
    clgan_rng_normal(&rng, host, nnoise, 0.0f, 1.0f);
    if (st == CLGAN_OK) st = clgan_buf_write(ctx, m->noise, host, nnoise);
  }
  free(host);
  m->data_floats = nreal + nnoise;
  if (st != CLGAN_OK) model_free(m);
  return st;
}

/* One training step ended by clFinish; its wall time in ms, and in
 * *host_ms (when not NULL) the time the host took to enqueue it: with s
 * NULL the step does not wait for its statistics, so that is the host's
 * share alone (the device works meanwhile). */
static clgan_status timed_step(clgan_ctx *ctx, bench_model *m, clgan_dcgan_stats *s,
                               double *ms, double *host_ms) {
  double t0 = bench_now();
  clgan_status st = clgan_dcgan_step(m->net, m->real, m->noise, s);
  if (host_ms) *host_ms = (bench_now() - t0) * 1e3;
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  *ms = (bench_now() - t0) * 1e3;
  return st;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static int find_region(const clgan_profile_report *p, const char *name) {
  for (int i = 0; i < p->nregions; i++)
    if (strcmp(p->regions[i].name, name) == 0) return i;
  return -1;
}

static double region_ms(const clgan_profile_report *p, const char *name) {
  int i = find_region(p, name);
  return i < 0 ? 0.0 : p->regions[i].seconds * 1e3;
}

/* One warm-up step on a profiling context (it loads the kernels), then the
 * profiled step; per-layer sums from the second. */
static clgan_status profile_pass(const char *device, const bench_options *o, bench_result *r) {
  clgan_ctx_options co = {.device = device, .profiling = 1, .tuning = &o->tuning};
  clgan_ctx *ctx = NULL;
  bench_model m = {0};
  clgan_status st = clgan_ctx_create(&co, &ctx);
  if (st == CLGAN_OK) st = model_setup(ctx, o, &m);
  clgan_profile_report *rep = calloc(1, sizeof *rep);
  if (st == CLGAN_OK && !rep) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  double ms = 0;
  clgan_dcgan_stats s;
  progress(o, "profile", 0, 1);
  if (st == CLGAN_OK) st = timed_step(ctx, &m, &s, &ms, NULL);
  if (st == CLGAN_OK) st = clgan_ctx_profile_collect(ctx, rep); /* discard: warm-up */
  if (st == CLGAN_OK) st = timed_step(ctx, &m, &s, &ms, NULL);
  if (st == CLGAN_OK) st = clgan_ctx_profile_collect(ctx, rep);
  progress(o, "profile", 1, 1);
  if (st == CLGAN_OK) {
    r->profiled = 1;
    r->profile_wall_ms = ms;
    r->profile = rep;
    rep = NULL;
    clgan_layer_info info[BENCH_MAX_LAYERS];
    int n = clgan_dcgan_layers(m.net, info, BENCH_MAX_LAYERS);
    if (n > BENCH_MAX_LAYERS) n = BENCH_MAX_LAYERS;
    int idx[2] = {0, 0};
    for (int i = 0; i < n; i++) {
      bench_layer *l = &r->layers[i];
      char c = info[i].net == CLGAN_NET_G ? 'G' : 'D';
      snprintf(l->name, sizeof l->name, "%c%d", c, ++idx[info[i].net]);
      snprintf(l->desc, sizeof l->desc, "%s", info[i].desc);
      l->gflop_fwd = info[i].flops * 1e-9;
      char key[32];
      snprintf(key, sizeof key, "%s fwd", l->name);
      l->fwd_ms = region_ms(r->profile, key);
      snprintf(key, sizeof key, "%s bwd", l->name);
      l->bwd_ms = region_ms(r->profile, key);
    }
    r->nlayers = n;
  }
  free(rep);
  model_free(&m);
  clgan_ctx_destroy(ctx);
  return st;
}

clgan_status bench_run(const char *device, const bench_options *o, bench_result *r) {
  memset(r, 0, sizeof *r);
  if (o->steps < 1 || o->warmup < 0)
    return clgan_fail(CLGAN_ERR_INVALID, "bench: steps must be >= 1 and warm-up >= 0");
  double *ms = calloc((size_t)o->steps, sizeof *ms), *host = calloc((size_t)o->steps, sizeof *host);
  if (!ms || !host) {
    free(ms);
    free(host);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  progress(o, "setup", 0, 1);
  double t0 = bench_now();
  clgan_ctx_options co = {.device = device, .tuning = &o->tuning};
  clgan_ctx *ctx = NULL;
  bench_model m = {0};
  clgan_status st = clgan_ctx_create(&co, &ctx);
  if (st == CLGAN_OK) {
    r->dev = *clgan_ctx_device(ctx);
    st = model_setup(ctx, o, &m);
  }
  r->tune_mode = o->tuning.tune;
  if (st == CLGAN_OK && (r->tune = malloc(sizeof *r->tune))) clgan_ctx_tune_report(ctx, r->tune);
  clgan_gemm_backend be = CLGAN_GEMM_AUTO;
  if (st == CLGAN_OK) st = clgan_gemm_backend_get(ctx, &be);
  r->gemm_backend = clgan_gemm_backend_name(be);
  if (st == CLGAN_OK) r->flops_per_step = clgan_dcgan_step_flops(m.net);
  clgan_dcgan_stats s = {0};
  double t;
  /* Warm-up: the first step creates the kernels (from the disk cache or the
   * compiler); afterwards the context is frozen, as in training. */
  for (int i = 0; i < o->warmup && st == CLGAN_OK; i++) {
    progress(o, "warm-up", i + 1, o->warmup);
    st = timed_step(ctx, &m, &s, &t, NULL);
    if (i == 0) {
      r->setup_s = bench_now() - t0;
      clgan_ctx_freeze(ctx, 1);
    }
  }
  /* the last timed step reads the statistics (the losses shown); the
   * others give the host's enqueue time */
  for (int i = 0; i < o->steps && st == CLGAN_OK; i++) {
    progress(o, "step", i + 1, o->steps);
    int last = i == o->steps - 1;
    clgan_ctx_activity a0, a1;
    clgan_ctx_activity_get(ctx, &a0);
    st = timed_step(ctx, &m, last ? &s : NULL, &ms[i], last ? NULL : &host[i]);
    clgan_ctx_activity_get(ctx, &a1);
    if (last)
      r->per_step = (clgan_ctx_activity){a1.launches - a0.launches,
                                         a1.blocking_reads - a0.blocking_reads,
                                         a1.blocking_writes - a0.blocking_writes,
                                         a1.finishes - a0.finishes - 1,
                                         a1.event_waits - a0.event_waits};
    if (i == 0 && o->warmup == 0) {
      r->setup_s = bench_now() - t0;
      clgan_ctx_freeze(ctx, 1);
    }
  }
  if (ctx) clgan_ctx_freeze(ctx, 0);
  if (st == CLGAN_OK) {
    r->loss_d = s.loss_d;
    r->loss_g = s.loss_g;
    qsort(ms, (size_t)o->steps, sizeof *ms, cmp_double);
    int n = o->steps;
    r->ms_median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    if (--n > 0) {
      qsort(host, (size_t)n, sizeof *host, cmp_double);
      r->host_ms_median = n % 2 ? host[n / 2] : 0.5 * (host[n / 2 - 1] + host[n / 2]);
    }
    n = o->steps;
    r->ms_min = ms[0];
    r->ms_max = ms[n - 1];
    r->img_per_s = o->cfg.batch / (r->ms_median * 1e-3);
    r->gflops = r->flops_per_step / (r->ms_median * 1e-3) * 1e-9;
    r->model_bytes = clgan_dcgan_device_bytes(m.net);
    r->workspace_bytes = clgan_ctx_workspace_bytes(ctx);
    r->data_bytes = m.data_floats * sizeof(float);
    r->peak_bytes = r->model_bytes + r->workspace_bytes + r->data_bytes;
    /* the FMA peak (cached on disk; measured once otherwise), after the
     * timed steps so it cannot disturb them */
    if (clgan_ctx_peak_gflops(ctx, &r->peak_gflops) != CLGAN_OK) r->peak_gflops = 0;
    /* a step cannot run above the peak: the one remembered was measured
     * while other work ran, so measure again (the higher one is kept) */
    if (r->peak_gflops > 0 && r->gflops > r->peak_gflops) {
      r->peak_stale = r->peak_gflops;
      if (clgan_ctx_peak_remeasure(ctx, NULL, &r->peak_gflops) != CLGAN_OK) r->peak_gflops = 0;
    }
    if (r->peak_gflops > 0) r->peak_fraction = r->gflops / r->peak_gflops;
  }
  free(ms);
  free(host);
  model_free(&m);
  clgan_ctx_destroy(ctx);
  /* Profiling on a separate context, so that the timed steps ran without it. */
  if (st == CLGAN_OK && o->profile) st = profile_pass(device, o, r);
  return st;
}

void bench_result_free(bench_result *r) {
  free(r->profile);
  r->profile = NULL;
  free(r->tune);
  r->tune = NULL;
}

/* ---- start-up in a child process ---------------------------------------- */

clgan_status bench_first_step(const char *device, const bench_options *o, double *done,
                              bench_startup *out) {
  memset(out, 0, sizeof *out);
  clgan_ctx_options co = {.device = device, .tuning = &o->tuning};
  clgan_ctx *ctx = NULL;
  bench_model m = {0};
  clgan_dcgan_stats s;
  double t;
  clgan_status st = clgan_ctx_create(&co, &ctx);
  if (st == CLGAN_OK) st = model_setup(ctx, o, &m);
  if (st == CLGAN_OK) st = timed_step(ctx, &m, &s, &t, NULL);
  *done = bench_now();
  if (ctx) {
    out->build_s = clgan_ctx_build_seconds(ctx);
    clgan_ctx_build_counts(ctx, &out->cached, &out->compiled);
  }
  model_free(&m);
  clgan_ctx_destroy(ctx);
  return st;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

/* environ with the cache variables replaced (cold), or as it is. */
static char **child_env(int cold, const char *tmp, char *store[3]) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 4, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (cold && (strncmp(environ[i], "CLGAN_CACHE_DIR=", 16) == 0 ||
                 strncmp(environ[i], "CLGAN_CACHE=", 12) == 0 ||
                 strncmp(environ[i], "POCL_CACHE_DIR=", 15) == 0 ||
                 strncmp(environ[i], "CUDA_CACHE_PATH=", 16) == 0))
      continue;
    env[k++] = environ[i];
  }
  if (cold) {
    static const char *const vars[3] = {"CLGAN_CACHE_DIR", "POCL_CACHE_DIR", "CUDA_CACHE_PATH"};
    static const char *const sub[3] = {"clgan", "pocl", "cuda"};
    for (int i = 0; i < 3; i++) {
      size_t len = strlen(vars[i]) + strlen(tmp) + strlen(sub[i]) + 3;
      if (!(store[i] = malloc(len))) {
        free(env);
        return NULL;
      }
      snprintf(store[i], len, "%s=%s/%s", vars[i], tmp, sub[i]);
      env[k++] = store[i];
    }
  }
  env[k] = NULL;
  return env;
}

clgan_status bench_spawn_startup(char *const argv[], int cold, bench_startup *out) {
  memset(out, 0, sizeof *out);
  char tmp[1024] = "";
  if (cold) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/clgan-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp))
      return clgan_fail(CLGAN_ERR_IO, "cannot create a temporary directory %s: %s", tmp,
                        strerror(errno));
  }
  char *store[3] = {NULL, NULL, NULL};
  char **env = child_env(cold, tmp, store);
  clgan_status st = CLGAN_OK;
  int fd[2] = {-1, -1};
  pid_t pid = -1;
  posix_spawn_file_actions_t fa;
  int have_fa = 0;
  if (!env) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (st == CLGAN_OK && pipe(fd) != 0)
    st = clgan_fail(CLGAN_ERR_IO, "pipe: %s", strerror(errno));
  if (st == CLGAN_OK) {
    posix_spawn_file_actions_init(&fa);
    have_fa = 1;
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
  }
  double t0 = bench_now();
  if (st == CLGAN_OK) {
    /* /proc/self/exe: this very binary, even if the file was replaced since */
    const char *path = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv[0];
    int e = posix_spawn(&pid, path, &fa, NULL, argv, env);
    if (e != 0) st = clgan_fail(CLGAN_ERR_IO, "cannot run %s: %s", argv[0], strerror(e));
  }
  if (fd[1] >= 0) close(fd[1]);
  char buf[4096];
  size_t len = 0;
  if (st == CLGAN_OK) {
    ssize_t got;
    while ((got = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0 ||
           (got < 0 && errno == EINTR))
      if (got > 0) len += (size_t)got;
  }
  buf[len] = '\0';
  if (fd[0] >= 0) close(fd[0]);
  int status = 0;
  if (pid > 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      st = clgan_fail(CLGAN_ERR_IO, "the %s start-up run failed (%s %d; its errors are above)",
                      cold ? "cold-cache" : "warm-cache",
                      WIFEXITED(status) ? "exit status" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
  if (st == CLGAN_OK) {
    const char *line = strstr(buf, BENCH_STARTUP_TAG " ");
    double done = 0;
    if (!line || sscanf(line + strlen(BENCH_STARTUP_TAG), "%lf %lf %d %d", &done, &out->build_s,
                        &out->cached, &out->compiled) != 4)
      st = clgan_fail(CLGAN_ERR_FORMAT, "the start-up run printed no result line");
    else
      out->seconds = done - t0;
  }
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 3; i++) free(store[i]);
  free(env);
  if (cold && *tmp) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return st;
}
