/* GEMM benchmark: the backends at 1024^3 and at the DCGAN's big GEMM shapes,
 * median time and GFLOP/s of planned runs (the backend forced through the
 * context's tuning, each shape planned once as a training step's are).
 * Usage: bench_gemm [device] [reps] [own|clblast|lds|both|all] (both: own and
 * clblast; all: the three, lds on its default parameter set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static int fail(const char *what, clgan_status st) {
  fprintf(stderr, "bench_gemm: %s: %s: %s\n", what, clgan_status_str(st), clgan_last_error());
  return 1;
}

int main(int argc, char **argv) {
  clgan_ctx_options o = {0};
  o.device = argc > 1 ? argv[1] : NULL;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (reps < 1 || reps > 100) reps = 5;
  const char *which = argc > 3 ? argv[3] : "both";
  int first = CLGAN_GEMM_OWN, last = CLGAN_GEMM_CLBLAST;
  if (strcmp(which, "own") == 0) last = CLGAN_GEMM_OWN;
  else if (strcmp(which, "clblast") == 0) first = CLGAN_GEMM_CLBLAST;
  else if (strcmp(which, "lds") == 0) first = last = CLGAN_GEMM_LDS;
  else if (strcmp(which, "all") == 0) last = CLGAN_GEMM_LDS;
  clgan_ctx *ctx;
  clgan_status st = clgan_ctx_create(&o, &ctx);
  if (st != CLGAN_OK) return fail("context", st);
  printf("device: %s\n", clgan_ctx_device(ctx)->name);
  size_t nshapes = sizeof shapes / sizeof shapes[0], na = 0, nb = 0, nc = 0;
  for (size_t i = 0; i < nshapes; i++) {
    const bench_shape *s = &shapes[i];
    if (s->m * s->k > na) na = s->m * s->k;
    if (s->k * s->n > nb) nb = s->k * s->n;
    if (s->m * s->n > nc) nc = s->m * s->n;
  }
  clgan_buf a, b, c;
  if ((st = clgan_buf_alloc(ctx, na, &a)) != CLGAN_OK || (st = clgan_buf_alloc(ctx, nb, &b)) ||
      (st = clgan_buf_alloc(ctx, nc, &c)) || (st = clgan_fill(ctx, a, na, 0.01f)) ||
      (st = clgan_fill(ctx, b, nb, 0.02f)) || (st = clgan_fill(ctx, c, nc, 0.0f)))
    return fail("buffers", st);
  double times[100];
  printf("%-20s %5s %5s %5s %2s | %-8s %10s %9s %9s\n", "shape", "M", "N", "K", "op",
         "backend", "median ms", "GFLOP/s", "best");
  for (size_t i = 0; i < nshapes; i++) {
    const bench_shape *s = &shapes[i];
    size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    for (int be = first; be <= last; be++) {
      clgan_tuning t = *clgan_ctx_tuning(ctx);
      t.gemm = (clgan_gemm_backend)be;
      clgan_gemm_plan plan;
      if ((st = clgan_ctx_set_tuning(ctx, &t)) != CLGAN_OK ||
          (st = clgan_gemm_plan_make(ctx, s->ta, s->tb, s->m, s->n, s->k, &plan)) != CLGAN_OK ||
          (st = clgan_gemm_plan_prepare(ctx, &plan)) != CLGAN_OK)
        return fail("plan", st);
      for (int r = -1; r < reps; r++) { /* r = -1: warm-up (first launches) */
        double t0 = now_seconds();
        st = clgan_gemm_run(ctx, &plan, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
        if (st != CLGAN_OK) return fail(clgan_gemm_backend_name(be), st);
        if (r >= 0) times[r] = now_seconds() - t0;
      }
      qsort(times, (size_t)reps, sizeof times[0], cmp_double);
      double med = times[reps / 2];
      double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
      printf("%-20s %5zu %5zu %5zu %c%c | %-8s %10.2f %9.1f %9.1f\n", s->what, s->m, s->n, s->k,
             s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', clgan_gemm_backend_name(be), med * 1e3,
             flop / med * 1e-9, flop / times[0] * 1e-9);
      fflush(stdout);
    }
  }
  clgan_buf_release(&a);
  clgan_buf_release(&b);
  clgan_buf_release(&c);
  clgan_ctx_destroy(ctx);
  return 0;
}
