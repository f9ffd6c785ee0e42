/* See bench_dist.h. The model is the one `clgan train` runs over the ranks
 * (clgan_dcgan_create_dist): --batch is the global batch, each rank steps on
 * its share of synthetic data; every step ends with clFinish on each rank,
 * and the step time is the slowest rank's (the collectives make the ranks
 * wait for each other anyway). */
#include "bench_dist.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "clgan/dist.h"
#include "dist_cli.h"

/* What one rank measured in one phase (floats: gathered on rank 0). */
enum { F_MS, F_REDUCE_MS, F_BN_MS, F_MB, F_PURE_MS, F_COUNT };

typedef struct phase {
  int ranks;
  double step_ms;            /* median over steps of the slowest rank's step */
  double img_per_s;          /* global batch / step_ms */
  float (*per_rank)[F_COUNT];/* [ranks] each rank's medians and means */
  char (*device)[128];       /* [ranks] device names (ranks' own; 0's list) */
} phase;

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A uniform [-1, 1) real share and an N(0, 1) noise share, uploaded once. */
static clgan_status synthetic(clgan_ctx *ctx, const clgan_dcgan_config *c, int share, uint64_t seed,
                              clgan_buf *real, clgan_buf *noise) {
  size_t nreal = (size_t)c->channels * share * c->image_size * c->image_size;
  size_t nnoise = (size_t)c->nz * share, n = nreal > nnoise ? nreal : nnoise;
  float *host = malloc(n * sizeof(float));
  if (!host) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_rng rng;
  clgan_rng_seed_stream(&rng, seed, CLGAN_STREAM_BENCH_DATA, 0);
  for (size_t i = 0; i < nreal; i++) host[i] = (float)(2.0 * clgan_rng_uniform(&rng) - 1.0);
  clgan_status st = clgan_buf_alloc(ctx, nreal, real);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, *real, host, nreal);
  clgan_rng_normal(&rng, host, nnoise, 0.0f, 1.0f);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nnoise, noise);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, *noise, host, nnoise);
  free(host);
  return st;
}

/* Warm-up and timed steps of net; per step: wall ms (slowest rank), and
 * this rank's collective times. */
static clgan_status time_steps(clgan_ctx *ctx, clgan_dist *dist, clgan_dcgan *net, clgan_buf real,
                               clgan_buf noise, const bench_options *o, float out[F_COUNT],
                               double *step_ms) {
  int n = o->steps;
  double *ms = malloc(sizeof(double) * 2 * (size_t)n), reduce = 0, bn = 0, bytes = 0;
  if (!ms) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  double *own = ms + n; /* [n] this rank's own step times; ms [n] the job's */
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < o->warmup + n && st == CLGAN_OK; i++) {
    clgan_dist_timing t0, t1;
    clgan_dist_timing_get(dist, &t0);
    double start = bench_now();
    st = clgan_dcgan_step(net, real, noise, NULL);
    if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
    float wall = (float)((bench_now() - start) * 1e3);
    clgan_dist_timing_get(dist, &t1);
    /* the job's step is as long as its slowest rank's */
    int wall_us = (int)(wall * 1e3f);
    if (st == CLGAN_OK) st = clgan_dist_max_int(dist, &wall_us);
    if (i < o->warmup) continue;
    ms[i - o->warmup] = wall_us * 1e-3;
    own[i - o->warmup] = wall;
    reduce += (t1.reduce_seconds - t0.reduce_seconds) * 1e3;
    bn += (t1.bn_seconds - t0.bn_seconds) * 1e3;
    bytes += t1.reduce_bytes - t0.reduce_bytes;
  }
  if (st == CLGAN_OK) {
    *step_ms = median(ms, n);
    out[F_MS] = (float)median(own, n); /* this rank's own step, to its clFinish */
    out[F_REDUCE_MS] = (float)(reduce / n);
    out[F_BN_MS] = (float)(bn / n);
    out[F_MB] = (float)(bytes / n / 1e6);
  }
  free(ms);
  return st;
}

/* MPI_Allreduce alone on host arrays of G's and D's gradient sizes (as one
 * step reduces them), ranks started together: ms per step, mean of 10. */
static clgan_status pure_allreduce(clgan_dist *dist, const clgan_dcgan *net, float *ms) {
  size_t n[2] = {clgan_dcgan_arena_floats(net, CLGAN_NET_G, CLGAN_ARENA_GRAD),
                 clgan_dcgan_arena_floats(net, CLGAN_NET_D, CLGAN_ARENA_GRAD)};
  float *host = calloc(n[0] > n[1] ? n[0] : n[1], sizeof(float));
  if (!host) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  const int reps = 10;
  clgan_status st = clgan_dist_idle_barrier(dist);
  double t0 = bench_now();
  for (int i = 0; i < reps && st == CLGAN_OK; i++)
    for (int w = 0; w < 2 && st == CLGAN_OK; w++) st = clgan_dist_allreduce_sum(dist, host, n[w]);
  *ms = (float)((bench_now() - t0) * 1e3 / reps);
  free(host);
  return st;
}

/* One phase on this rank: the model over dist (NULL: this rank alone). */
static clgan_status run_phase(clgan_ctx *ctx, clgan_dist *dist, const bench_options *o,
                              float out[F_COUNT], double *step_ms) {
  clgan_dcgan *net = NULL;
  clgan_buf real = {0}, noise = {0};
  int first = 0, share = clgan_dist_share(dist, o->cfg.batch, &first);
  clgan_status st = clgan_dcgan_create_dist(ctx, &o->cfg, dist, &net);
  if (st == CLGAN_OK) st = clgan_dcgan_init_weights(net, o->seed);
  if (st == CLGAN_OK) st = synthetic(ctx, &o->cfg, share, o->seed + (uint64_t)first, &real, &noise);
  clgan_dist_timing_reset(dist);
  if (st == CLGAN_OK) st = time_steps(ctx, dist, net, real, noise, o, out, step_ms);
  if (st == CLGAN_OK && clgan_dist_active(dist)) st = pure_allreduce(dist, net, &out[F_PURE_MS]);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(net);
  return st;
}

static void print_phase(const phase *p, const clgan_dcgan_config *c, double efficiency) {
  printf("%d rank%s, global batch %d (%d per rank): %.2f ms/step, %.0f img/s\n", p->ranks,
         p->ranks == 1 ? "" : "s", c->batch, c->batch / p->ranks, p->step_ms, p->img_per_s);
  int share = c->batch / p->ranks;
  printf("  %-5s %-30s %9s %8s %13s %10s %11s %12s\n", "rank", "device", "ms/step", "img/s",
         "allreduce ms", "SyncBN ms", "MB reduced", "MPI alone ms");
  for (int r = 0; r < p->ranks; r++)
    printf("  %-5d %-30.30s %9.2f %8.0f %13.2f %10.2f %11.2f %12.2f\n", r, p->device[r],
           p->per_rank[r][F_MS], share / p->per_rank[r][F_MS] * 1e3, p->per_rank[r][F_REDUCE_MS],
           p->per_rank[r][F_BN_MS], p->per_rank[r][F_MB], p->per_rank[r][F_PURE_MS]);
  if (p->ranks > 1)
    printf("  (allreduce: the gradients' device read, MPI_Allreduce and write, waits for\n"
           "  the slowest rank included; MPI alone: the same reduction of host arrays, the\n"
           "  ranks in step)\n");
  if (efficiency > 0)
    printf("  scaling efficiency %.0f%% (%.0f img/s over %d x %.0f img/s of one rank)\n",
           100 * efficiency, p->img_per_s, p->ranks, p->img_per_s / efficiency / p->ranks);
}

static json_t *phase_json(const phase *p, int batch) {
  json_t *o = json_pack("{s:i, s:f, s:f}", "ranks", p->ranks, "ms_per_step", p->step_ms,
                        "img_per_s", p->img_per_s);
  json_t *arr = json_array();
  for (int r = 0; r < p->ranks; r++)
    json_array_append_new(arr, json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "rank", r,
                                         "device", p->device[r], "ms_per_step",
                                         p->per_rank[r][F_MS], "img_per_s",
                                         batch / p->ranks / p->per_rank[r][F_MS] * 1e3,
                                         "allreduce_ms",
                                         p->per_rank[r][F_REDUCE_MS], "syncbn_ms",
                                         p->per_rank[r][F_BN_MS], "mb_reduced",
                                         p->per_rank[r][F_MB], "mpi_allreduce_alone_ms",
                                         p->per_rank[r][F_PURE_MS]));
  json_object_set_new(o, "per_rank", arr);
  return o;
}

static int write_json(const char *path, const bench_options *o, const phase *one,
                      const phase *all, double efficiency) {
  const clgan_dcgan_config *c = &o->cfg;
  json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "config", o->config_name,
                        "size", c->image_size, "channels", c->channels, "nz", c->nz, "ngf", c->ngf,
                        "ndf", c->ndf, "batch", c->batch, "steps", o->steps);
  json_object_set_new(j, "ranks", phase_json(all, c->batch));
  if (one) json_object_set_new(j, "one_rank", phase_json(one, c->batch));
  if (efficiency > 0) json_object_set_new(j, "scaling_efficiency", json_real(efficiency));
  int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0 ? 0 : 1;
  if (rc) fprintf(stderr, "clgan bench: cannot write %s\n", path);
  json_decref(j);
  return rc;
}

/* Every rank's figures and device name on rank 0, into p. */
static clgan_status gather_phase(clgan_dist *dist, const char *name, const float mine[F_COUNT],
                                 double step_ms, int ranks, phase *p) {
  p->ranks = ranks;
  p->step_ms = step_ms;
  float names[32]; /* the 128 bytes of the name, moved as they are (one host kind) */
  memcpy(names, name, sizeof names);
  clgan_status st = CLGAN_OK;
  if (ranks > 1) {
    st = clgan_dist_gather(dist, mine, F_COUNT, &p->per_rank[0][0]);
    if (st == CLGAN_OK) st = clgan_dist_gather(dist, names, 32, (float *)p->device);
  } else {
    memcpy(p->per_rank[0], mine, sizeof(float) * F_COUNT);
    memcpy(p->device[0], name, 128);
  }
  return st;
}

int bench_dist(const bench_options *o, const char *device, const char *json_path, int scaling) {
  clgan_dist *dist = cli_dist();
  int ranks = clgan_dist_size(dist), root = clgan_dist_rank(dist) == 0;
  clgan_status st = clgan_dist_check_batch(dist, o->cfg.batch);
  if (st != CLGAN_OK) {
    cli_report("bench", st, "cannot split the batch");
    return 2;
  }
  char spec[64];
  clgan_ctx_options co = {.device = cli_dist_device(device, spec, sizeof spec),
                          .tuning = &o->tuning};
  clgan_ctx *ctx = NULL;
  if ((st = clgan_ctx_create(&co, &ctx)) != CLGAN_OK) {
    cli_report("bench", st, "cannot open the OpenCL device");
    return 1;
  }
  char name[128] = "";
  snprintf(name, sizeof name, "%s", clgan_ctx_device(ctx)->name);
  phase one = {0}, all = {0};
  float (*rows)[F_COUNT] = calloc((size_t)ranks * 2, sizeof *rows);
  char (*names)[128] = calloc((size_t)ranks * 2, sizeof *names);
  if (!rows || !names) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  one.per_rank = rows, one.device = names;
  all.per_rank = rows + ranks, all.device = names + ranks;
  float mine[F_COUNT] = {0};
  double ms = 0;
  if (st == CLGAN_OK && scaling) { /* the reference: rank 0 alone, the others wait */
    if (root) {
      fprintf(stderr, "clgan bench: one rank, global batch %d\n", o->cfg.batch);
      st = run_phase(ctx, NULL, o, mine, &ms);
      if (st == CLGAN_OK) st = gather_phase(NULL, name, mine, ms, 1, &one);
    }
    /* the others wait here, asleep: a spinning rank would take the cores
     * rank 0 measures on when they share a host (a failure of rank 0 ends
     * the job from the CLI) */
    if (st == CLGAN_OK) st = clgan_dist_idle_barrier(dist);
  }
  if (st == CLGAN_OK && (ranks > 1 || !scaling)) {
    if (root) fprintf(stderr, "clgan bench: %d ranks, global batch %d\n", ranks, o->cfg.batch);
    st = run_phase(ctx, dist, o, mine, &ms);
    if (st == CLGAN_OK) st = gather_phase(dist, name, mine, ms, ranks, &all);
  }
  int rc = st == CLGAN_OK ? 0 : 1;
  if (st != CLGAN_OK) cli_report("bench", st, "the benchmark failed");
  if (rc == 0 && root) {
    one.img_per_s = one.step_ms > 0 ? o->cfg.batch / one.step_ms * 1e3 : 0;
    all.img_per_s = all.step_ms > 0 ? o->cfg.batch / all.step_ms * 1e3 : 0;
    double eff = scaling && one.img_per_s > 0 && all.ranks > 1
                     ? all.img_per_s / (all.ranks * one.img_per_s)
                     : 0;
    printf("config %s: %dx%d, %d channel(s), nz %d, ngf %d, ndf %d; %d timed steps\n",
           o->config_name, o->cfg.image_size, o->cfg.image_size, o->cfg.channels, o->cfg.nz,
           o->cfg.ngf, o->cfg.ndf, o->steps);
    if (scaling) print_phase(&one, &o->cfg, 0);
    if (all.ranks > 0) print_phase(&all, &o->cfg, eff);
    if (json_path)
      rc = write_json(json_path, o, scaling ? &one : NULL, all.ranks ? &all : &one, eff);
  }
  free(rows);
  free(names);
  clgan_ctx_destroy(ctx);
  return rc;
}
