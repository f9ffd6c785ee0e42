/* GEMM benchmark: the backends at 1024^3 and at the DCGAN's big GEMM shapes,
 * median time and GFLOP/s of planned runs (the backend forced through the
 * context's tuning, each shape planned once as a training step's are), and
 * the main kernel's own time from OpenCL profiling events (packing and the
 * split-k reduction left out) as GFLOP/s and a fraction of the measured FMA
 * peak.
 * Usage:
 *   bench_gemm [device] [reps] [own|clblast|lds|both|all] [M N K [NN|NT|TN|TT]]
 *     (both: own and clblast; all: the three, lds on its default parameter
 *     set; M N K: that one shape instead of the built-in list)
 *   bench_gemm [device] [reps] conv CIN COUT H N
 *     a Conv2d(CIN, COUT, 4, 2, 1) over N x CIN x H x H as a training step
 *     runs it (the context's default backend): forward, backward data and
 *     weight gradient, each with its GEMM kernel's time.
 * Kernel variants: CLGAN_KERNEL_DIR (cl/ sources) and CLGAN_GEMM_TILE. PoCL's workers
 * are pinned (POCL_AFFINITY=1) unless the environment sets POCL_AFFINITY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clgan/clgan.h"

typedef struct bench_shape {
  const char *what;
  int ta, tb;
  size_t m, n, k;
} bench_shape;

static const bench_shape shapes[] = {
    {"square 1024^3", 0, 0, 1024, 1024, 1024},
    {"conv fwd (NN)", 0, 0, 128, 32768, 1024},
    {"conv bwd-data (TN)", 1, 0, 1024, 32768, 128},
    {"conv fwd (NN)", 0, 0, 256, 8192, 2048},
    {"weight grad (NT)", 0, 1, 128, 1024, 32768},
};

#define MAX_REPS 100

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the process (every thread, PoCL's workers included): less
 * sensitive than wall time to other processes on the cores. */
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return v[n / 2];
}

static int fail(const char *what, clgan_status st) {
  fprintf(stderr, "bench_gemm: %s: %s: %s\n", what, clgan_status_str(st), clgan_last_error());
  return 1;
}

/* Seconds of the kernels whose name starts with `prefix` (gemm_tile matches
 * gemm_tile_conv too) since the last collect. */
static clgan_status kernel_seconds(clgan_ctx *ctx, const char *prefix, double *out) {
  clgan_profile_report *rep = malloc(sizeof *rep); /* large for the stack */
  if (!rep) return CLGAN_ERR_NOMEM;
  clgan_status st = clgan_ctx_profile_collect(ctx, rep);
  *out = 0;
  for (int i = 0; st == CLGAN_OK && i < rep->nkernels; i++)
    if (strncmp(rep->kernels[i].name, prefix, strlen(prefix)) == 0)
      *out += rep->kernels[i].seconds;
  free(rep);
  return st;
}

/* One rep's times: wall, the main kernel's (events), the process's CPU. */
typedef struct rep_times {
  double wall[MAX_REPS], kern[MAX_REPS], cpu[MAX_REPS];
} rep_times;

static void print_row(const char *what, size_t m, size_t n, size_t k, const char *op,
                      const char *backend, rep_times *t, int reps, double peak) {
  double flop = 2.0 * (double)m * (double)n * (double)k;
  double wall = median(t->wall, reps), kern = median(t->kern, reps), cpu = median(t->cpu, reps);
  printf("%-20s %5zu %5zu %5zu %2s | %-8s %9.2f %8.1f | %9.2f %8.1f %5.1f%% | %8.2f %8.1f\n",
         what, m, n, k, op, backend, wall * 1e3, flop / wall * 1e-9, kern * 1e3,
         flop / kern * 1e-9, 100.0 * flop / kern * 1e-9 / peak, cpu * 1e3, flop / cpu * 1e-9);
  fflush(stdout);
}

static int bench_shape_run(clgan_ctx *ctx, const bench_shape *s, int be, int reps,
                           clgan_buf a, clgan_buf b, clgan_buf c, double peak) {
  size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
  clgan_tuning tun = *clgan_ctx_tuning(ctx);
  tun.gemm = (clgan_gemm_backend)be;
  clgan_gemm_plan plan;
  clgan_status st;
  if ((st = clgan_ctx_set_tuning(ctx, &tun)) != CLGAN_OK ||
      (st = clgan_gemm_plan_make(ctx, s->ta, s->tb, s->m, s->n, s->k, &plan)) != CLGAN_OK ||
      (st = clgan_gemm_plan_prepare(ctx, &plan)) != CLGAN_OK)
    return fail("plan", st);
  rep_times t;
  double ks;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up (first launches) */
    double t0 = now_seconds(), c0 = cpu_seconds();
    st = clgan_gemm_run(ctx, &plan, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
    double t1 = now_seconds(), c1 = cpu_seconds();
    if (st == CLGAN_OK) st = kernel_seconds(ctx, be == CLGAN_GEMM_OWN ? "gemm_tile" : "", &ks);
    if (st != CLGAN_OK) return fail(clgan_gemm_backend_name(be), st);
    if (r >= 0) t.wall[r] = t1 - t0, t.kern[r] = ks, t.cpu[r] = c1 - c0;
  }
  char op[3] = {s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', 0};
  print_row(s->what, s->m, s->n, s->k, op, clgan_gemm_backend_name(be), &t, reps, peak);
  return 0;
}

static int run_shapes(clgan_ctx *ctx, const bench_shape *list, size_t nshapes, int first,
                      int last, int reps, double peak) {
  size_t na = 0, nb = 0, nc = 0;
  for (size_t i = 0; i < nshapes; i++) {
    const bench_shape *s = &list[i];
    if (s->m * s->k > na) na = s->m * s->k;
    if (s->k * s->n > nb) nb = s->k * s->n;
    if (s->m * s->n > nc) nc = s->m * s->n;
  }
  clgan_buf a, b, c;
  clgan_status st;
  if ((st = clgan_buf_alloc(ctx, na, &a)) != CLGAN_OK || (st = clgan_buf_alloc(ctx, nb, &b)) ||
      (st = clgan_buf_alloc(ctx, nc, &c)) || (st = clgan_fill(ctx, a, na, 0.01f)) ||
      (st = clgan_fill(ctx, b, nb, 0.02f)) || (st = clgan_fill(ctx, c, nc, 0.0f)))
    return fail("buffers", st);
  int rc = 0;
  for (size_t i = 0; i < nshapes && rc == 0; i++)
    for (int be = first; be <= last && rc == 0; be++)
      rc = bench_shape_run(ctx, &list[i], be, reps, a, b, c, peak);
  clgan_buf_release(&a);
  clgan_buf_release(&b);
  clgan_buf_release(&c);
  return rc;
}

/* One conv mode: 0 forward, 1 backward data, 2 weight gradient. */
static clgan_status conv_mode(clgan_ctx *ctx, const clgan_conv_plan *p, int mode, clgan_buf x,
                              clgan_buf w, clgan_buf y, clgan_buf col) {
  if (mode == 0) return clgan_conv2d_forward(ctx, p, x, w, y, col);
  if (mode == 1) return clgan_conv2d_backward_data(ctx, p, y, w, x, col);
  return clgan_conv2d_backward_filter(ctx, p, x, y, w, col, 0);
}

static int run_conv(clgan_ctx *ctx, int cin, int cout, int h, int n, int reps, double peak) {
  clgan_conv_shape s;
  clgan_conv_plan p;
  clgan_status st;
  if ((st = clgan_conv_shape_conv(n, cin, h, h, cout, 4, 2, 1, &s)) != CLGAN_OK ||
      (st = clgan_conv_plan_make(ctx, &s, &p)) != CLGAN_OK ||
      (st = clgan_conv_plan_prepare(ctx, &p)) != CLGAN_OK)
    return fail("conv plan", st);
  size_t nx = (size_t)cin * n * h * h, nw = (size_t)cout * cin * 16;
  size_t ny = (size_t)cout * n * s.ho * s.wo, ncol = p.col_floats ? p.col_floats : 1;
  clgan_buf x, w, y, col;
  if ((st = clgan_buf_alloc(ctx, nx, &x)) != CLGAN_OK || (st = clgan_buf_alloc(ctx, nw, &w)) ||
      (st = clgan_buf_alloc(ctx, ny, &y)) || (st = clgan_buf_alloc(ctx, ncol, &col)) ||
      (st = clgan_fill(ctx, x, nx, 0.01f)) || (st = clgan_fill(ctx, w, nw, 0.02f)) ||
      (st = clgan_fill(ctx, y, ny, 0.03f)))
    return fail("conv buffers", st);
  static const char *const what[] = {"conv forward", "conv backward data", "conv weight grad"};
  size_t kdim = (size_t)cin * 16, pix = (size_t)n * s.ho * s.wo;
  /* each mode's product as m x n x k (C rows, columns, reduction) */
  size_t dims[3][3] = {{cout, pix, kdim}, {kdim, pix, cout}, {cout, kdim, pix}};
  int rc = 0;
  for (int mode = 0; mode < 3 && rc == 0; mode++) {
    rep_times t;
    double ks;
    for (int r = -1; r < reps; r++) {
      double t0 = now_seconds(), c0 = cpu_seconds();
      st = conv_mode(ctx, &p, mode, x, w, y, col);
      if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
      double t1 = now_seconds(), c1 = cpu_seconds();
      if (st == CLGAN_OK) st = kernel_seconds(ctx, "gemm_tile", &ks);
      if (st != CLGAN_OK) {
        rc = fail(what[mode], st);
        break;
      }
      if (r >= 0) t.wall[r] = t1 - t0, t.kern[r] = ks, t.cpu[r] = c1 - c0;
    }
    if (rc == 0)
      print_row(what[mode], dims[mode][0], dims[mode][1], dims[mode][2], "", "default", &t,
                reps, peak);
  }
  clgan_buf_release(&x);
  clgan_buf_release(&w);
  clgan_buf_release(&y);
  clgan_buf_release(&col);
  return rc;
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > (1L << 20)) return 0;
  *out = (size_t)v;
  return 1;
}

int main(int argc, char **argv) {
  clgan_ctx_options o = {0};
  /* PoCL: worker i pinned to core i, unless the caller says otherwise. A
   * short kernel running alone otherwise often has its two workers woken on
   * one core, half the speed in some runs and not others (README, Speed). */
  setenv("POCL_AFFINITY", "1", 0);
  o.device = argc > 1 && argv[1][0] ? argv[1] : NULL;
  o.profiling = 1;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (reps < 1 || reps > MAX_REPS) reps = 5;
  const char *which = argc > 3 ? argv[3] : "both";
  int first = CLGAN_GEMM_OWN, last = CLGAN_GEMM_CLBLAST, conv = strcmp(which, "conv") == 0;
  if (strcmp(which, "own") == 0) last = CLGAN_GEMM_OWN;
  else if (strcmp(which, "clblast") == 0) first = CLGAN_GEMM_CLBLAST;
  else if (strcmp(which, "lds") == 0) first = last = CLGAN_GEMM_LDS;
  else if (strcmp(which, "all") == 0) last = CLGAN_GEMM_LDS;
  bench_shape one = {"given shape", 0, 0, 0, 0, 0};
  size_t dims[4] = {0};
  if (argc > 4) {
    int want = conv ? 4 : 3;
    for (int i = 0; i < want; i++)
      if (argc <= 4 + i || !parse_size(argv[4 + i], &dims[i])) {
        fprintf(stderr, "bench_gemm: expected %s after '%s'\n",
                conv ? "CIN COUT H N" : "M N K [NN|NT|TN|TT]", which);
        return 2;
      }
    one.m = dims[0], one.n = dims[1], one.k = dims[2];
    if (!conv && argc > 7) one.ta = argv[7][0] == 'T', one.tb = argv[7][1] == 'T';
  } else if (conv) {
    fprintf(stderr, "bench_gemm: conv needs CIN COUT H N\n");
    return 2;
  }
  clgan_ctx *ctx;
  clgan_status st = clgan_ctx_create(&o, &ctx);
  if (st != CLGAN_OK) return fail("context", st);
  double peak = 0;
  if ((st = clgan_ctx_peak_gflops(ctx, &peak)) != CLGAN_OK) return fail("peak", st);
  printf("device: %s; measured FMA peak %.0f GFLOP/s\n", clgan_ctx_device(ctx)->name, peak);
  printf("%-20s %5s %5s %5s %2s | %-8s %9s %8s | %9s %8s %6s | %8s %8s\n", "shape", "M", "N",
         "K", "op", "backend", "median ms", "GFLOP/s", "kernel ms", "GFLOP/s", "peak", "CPU ms",
         "GFLOP/cs");
  int rc = conv ? run_conv(ctx, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3], reps,
                           peak)
           : argc > 4 ? run_shapes(ctx, &one, 1, first, last, reps, peak)
                      : run_shapes(ctx, shapes, sizeof shapes / sizeof shapes[0], first, last,
                                   reps, peak);
  clgan_ctx_destroy(ctx);
  return rc;
}
