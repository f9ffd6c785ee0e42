/* The adjoint product of a model's layers (G's transposed convolutions'
 * forward, D's convolutions' backward data) several ways: GEMM + col2im
 * (in chunks of images on CPUs), the direct kernel (cl/convt_direct.cl)
 * with each parameter set the tuner tries on this device, and the
 * sub-pixel tiles (conv_subpixel.c, k 4 s 2 p 1 layers; the CPU default)
 * with each tile the tuner tries, and the whole-image kernel (conv_whole.c,
 * the 4 x 4 layers to and from 1 x 1; the CPU default). Device time from OpenCL events (markers
 * around each run on a profiling queue; where markers carry no times, the
 * sum of the kernels' events), runs alternating between the variants,
 * median of reps. Also prints the largest difference from GEMM + col2im's
 * result; with BENCH_CONVT_KERNELS set, each run's time per kernel; with
 * BENCH_CONVT_ONLY set, only the layers whose name contains it (e.g. D2).
 * Usage: bench_convt [batch (128)] [reps (5)] [device (-: the default)]
 *                    [gpu|cpu|none: whose direct sets (the device's); none: no direct kernel]
 *                    [tutorial|gray32: the layers (tutorial's G)]
 *                    [none|relu|lrelu: the activation derivative each variant applies as
 *                     it stores (clgan_conv2d_backward_data_act, as D's backward runs it;
 *                     none)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/clgan.h"
#include "ops/conv_tune.h"
#include "ops/conv_whole.h"
#include "ops/convt_direct.h"
#include "runtime/internal.h"

typedef struct layer {
  const char *name;
  int transposed;   /* 1: ConvTranspose2d, 0: Conv2d (its backward data) */
  int cin, h, cout; /* (cin -> cout) over h x h */
  int k, stride, pad;
} layer;

static const layer tutorial[] = {
    {"G1 convT 100->512 1->4", 1, 100, 1, 512, 4, 1, 0},
    {"G2 convT 512->256 4->8", 1, 512, 4, 256, 4, 2, 1},
    {"G3 convT 256->128 8->16", 1, 256, 8, 128, 4, 2, 1},
    {"G4 convT 128->64 16->32", 1, 128, 16, 64, 4, 2, 1},
    {"G5 convT 64->3 32->64", 1, 64, 32, 3, 4, 2, 1},
    {"D1 conv 3->64 64->32", 0, 3, 64, 64, 4, 2, 1},
    {"D2 conv 64->128 32->16", 0, 64, 32, 128, 4, 2, 1},
    {"D3 conv 128->256 16->8", 0, 128, 16, 256, 4, 2, 1},
    {"D4 conv 256->512 8->4", 0, 256, 8, 512, 4, 2, 1},
    {"D5 conv 512->1 4->1", 0, 512, 4, 1, 4, 1, 0},
};
static const layer gray32[] = {
    {"G1 convT 100->128 1->4", 1, 100, 1, 128, 4, 1, 0},
    {"G2 convT 128->64 4->8", 1, 128, 4, 64, 4, 2, 1},
    {"G3 convT 64->32 8->16", 1, 64, 8, 32, 4, 2, 1},
    {"G4 convT 32->1 16->32", 1, 32, 16, 1, 4, 2, 1},
    {"D1 conv 1->32 32->16", 0, 1, 32, 32, 4, 2, 1},
    {"D2 conv 32->64 16->8", 0, 32, 16, 64, 4, 2, 1},
    {"D3 conv 64->128 8->4", 0, 64, 8, 128, 4, 2, 1},
    {"D4 conv 128->1 4->1", 0, 128, 4, 1, 4, 1, 0},
};
#define MAX_VARIANTS (2 + CONVT_DIRECT_MAX_CANDIDATES + CONV_TUNE_SUBPIX_TILES)

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* The activation derivative the adjoint applies as it stores, and the
 * activation's output it reads (act_y; CLGAN_ACT_NONE: none). */
typedef struct fused_act {
  clgan_act act;
  clgan_buf act_y;
} fused_act;

static clgan_status adjoint(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x, clgan_buf w,
                            clgan_buf y, clgan_buf col, const fused_act *a) {
  if (a->act == CLGAN_ACT_NONE) return clgan_conv2d_backward_data(ctx, p, x, w, y, col);
  return clgan_conv2d_backward_data_act(ctx, p, x, w, y, col, a->act_y, a->act, 0.2f);
}

/* Device ms of one adjoint of plan p (a convT's forward). */
static clgan_status timed(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x, clgan_buf w,
                          clgan_buf y, clgan_buf col, const fused_act *a, double *ms) {
  clgan_profile_report *rep = malloc(sizeof *rep);
  if (!rep) return CLGAN_ERR_NOMEM;
  cl_event e[2] = {NULL, NULL};
  clgan_status st = clgan_ctx_profile_collect(ctx, rep); /* a fresh record */
  if (st == CLGAN_OK) st = CLGAN_CL(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &e[0]));
  if (st == CLGAN_OK) st = adjoint(ctx, p, x, w, y, col, a);
  if (st == CLGAN_OK) st = CLGAN_CL(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &e[1]));
  if (st == CLGAN_OK) st = clgan_ctx_profile_collect(ctx, rep);
  cl_ulong t0 = 0, t1 = 0;
  *ms = 0;
  if (st == CLGAN_OK &&
      clGetEventProfilingInfo(e[0], CL_PROFILING_COMMAND_END, sizeof t0, &t0, NULL) == CL_SUCCESS &&
      clGetEventProfilingInfo(e[1], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) == CL_SUCCESS &&
      t1 > t0)
    *ms = (double)(t1 - t0) * 1e-6;
  else
    for (int i = 0; i < rep->nkernels; i++) *ms += rep->kernels[i].seconds * 1e3;
  if (st == CLGAN_OK && getenv("BENCH_CONVT_KERNELS")) /* each kernel's share */
    for (int i = 0; i < rep->nkernels; i++)
      if (rep->kernels[i].launches)
        printf("      %-28s %8.3f ms  %ld launches\n", rep->kernels[i].name,
               rep->kernels[i].seconds * 1e3, rep->kernels[i].launches);
  for (int i = 0; i < 2; i++)
    if (e[i]) clReleaseEvent(e[i]);
  free(rep);
  return st;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

/* The plans to time on shape s: GEMM + col2im, the direct sets (gpu < 0:
 * none) and the sub-pixel tiles (where the shape takes them); returns how
 * many. */
static int make_plans(clgan_ctx *ctx, const clgan_conv_shape *s, int gpu, clgan_conv_plan *plans,
                      clgan_status *st) {
  const convt_direct_params *sets = NULL;
  int nsets = gpu >= 0 ? convt_direct_candidates(gpu, &sets) : 0, nv = 1;
  conv_variants col2im = conv_variants_default();
  /* the baseline: GEMM + col2im (the own GEMM's default tile), whatever the
   * engine's choice */
  col2im.adj_subpix = 0;
  col2im.prod[CONV_ADJ].backend = CLGAN_GEMM_OWN;
  if ((*st = conv_plan_with(ctx, s, &col2im, &plans[0])) != CLGAN_OK) return 0;
  if (conv_whole_applies(s)) { /* the whole-image kernel, the engine's choice there on CPUs */
    conv_variants whole = conv_variants_default();
    if ((*st = conv_plan_with(ctx, s, &whole, &plans[nv])) != CLGAN_OK) return 0;
    if (plans[nv].whole.adjoint) nv++;
  }
  for (int i = 0; i < nsets && *st == CLGAN_OK; i++) {
    conv_variants cv = conv_variants_default();
    cv.adj_direct = sets[i];
    *st = conv_plan_with(ctx, s, &cv, &plans[nv++]);
  }
  clgan_gemm_variant tiles[CONV_TUNE_SUBPIX_TILES];
  int ntiles = conv_tune_subpix_tiles(clgan_ctx_gpu_paths(ctx), tiles);
  for (int i = 0; i < ntiles && *st == CLGAN_OK; i++) {
    conv_variants cv = conv_variants_default();
    cv.prod[CONV_ADJ] = tiles[i];
    cv.adj_subpix = 1;
    *st = conv_plan_with(ctx, s, &cv, &plans[nv]);
    if (*st == CLGAN_OK && plans[nv].adj_subpix.tile) nv++; /* else GEMM + col2im again */
  }
  return nv;
}

/* Times every variant on one layer. */
static clgan_status bench_layer(clgan_ctx *ctx, const layer *L, int batch, int reps, int gpu,
                                clgan_act act) {
  clgan_conv_shape s;
  clgan_status st =
      L->transposed
          ? clgan_conv_shape_convt(batch, L->cin, L->h, L->h, L->cout, L->k, L->stride, L->pad, &s)
          : clgan_conv_shape_conv(batch, L->cin, L->h, L->h, L->cout, L->k, L->stride, L->pad, &s);
  if (st != CLGAN_OK) return st;
  clgan_conv_plan plans[MAX_VARIANTS];
  int nv = make_plans(ctx, &s, gpu, plans, &st);
  for (int i = 0; i < nv && st == CLGAN_OK; i++) st = clgan_conv_plan_prepare(ctx, &plans[i]);
  size_t fx = (size_t)s.cout * s.n * s.ho * s.wo, fy = (size_t)s.cin * s.n * s.h * s.w;
  size_t fw = (size_t)s.cout * s.cin * s.k * s.k;
  float *got = malloc(fy * sizeof(float));
  double *ms = malloc((size_t)nv * reps * sizeof(double));
  clgan_buf x = {0}, w = {0}, y = {0}, col = {0};
  fused_act a = {act, {0}};
  if (L->transposed || !clgan_conv2d_backward_data_fuses_act(&plans[0], act))
    a.act = CLGAN_ACT_NONE; /* G's forward, or a layer whose adjoint does not fuse */
  size_t fh = fx > fw ? fx : fw;
  if (fy > fh) fh = fy;
  float *host = malloc(fh * sizeof(float)), *ref = malloc(fy * sizeof(float));
  if (!host || !ref || !got || !ms) st = CLGAN_ERR_NOMEM;
  for (size_t i = 0; st == CLGAN_OK && i < fh; i++)
    host[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  if (st == CLGAN_OK && a.act != CLGAN_ACT_NONE) st = clgan_buf_alloc(ctx, fy, &a.act_y);
  if (st == CLGAN_OK && a.act != CLGAN_ACT_NONE) st = clgan_buf_write(ctx, a.act_y, host, fy);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, fx, &x);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, x, host, fx);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, fw, &w);
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, w, host, fw);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, fy, &y);
  size_t ncol = 1;
  for (int v = 0; v < nv; v++)
    if (plans[v].col_floats > ncol) ncol = plans[v].col_floats;
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, ncol, &col);
  printf("%s, batch %d (col %.1f MiB in the default)%s\n", L->name, batch,
         (double)plans[0].col_floats * 4 / 1048576,
         a.act == CLGAN_ACT_NONE ? "" : ", the activation's derivative fused");
  double diff[MAX_VARIANTS] = {0};
  for (int v = 0; v < nv && st == CLGAN_OK; v++) { /* one untimed run each: warm, checked */
    double t;
    st = timed(ctx, &plans[v], x, w, y, col, &a, &t);
    if (st == CLGAN_OK) st = clgan_buf_read(ctx, y, v ? got : ref, fy);
    if (st == CLGAN_OK && v) diff[v] = max_diff(got, ref, fy);
  }
  for (int r = 0; r < reps && st == CLGAN_OK; r++)
    for (int v = 0; v < nv && st == CLGAN_OK; v++)
      st = timed(ctx, &plans[v], x, w, y, col, &a, &ms[v * reps + r]);
  for (int v = 0; v < nv && st == CLGAN_OK; v++) {
    qsort(&ms[v * reps], (size_t)reps, sizeof(double), cmp_double);
    char name[48];
    conv_tune_plan_name(&plans[v], CONV_ADJ, name, sizeof name);
    printf("  %-36s %9.3f ms  (min %.3f)", v ? name : "gemm + col2im",
           ms[v * reps + reps / 2], ms[v * reps]);
    if (v) printf("  x%.2f  max |diff| %.2g", ms[reps / 2] / ms[v * reps + reps / 2], diff[v]);
    printf("\n");
  }
  clgan_buf *all[] = {&x, &w, &y, &col, &a.act_y};
  for (int i = 0; i < 5; i++) clgan_buf_release(all[i]);
  free(host), free(ref), free(got), free(ms);
  return st;
}

int main(int argc, char **argv) {
  int batch = argc > 1 ? atoi(argv[1]) : 128, reps = argc > 2 ? atoi(argv[2]) : 5;
  if (batch < 1 || reps < 1) {
    fprintf(stderr, "usage: bench_convt [batch] [reps] [device|-] [gpu|cpu|none] "
                    "[tutorial|gray32] [none|relu|lrelu]\n");
    return 2;
  }
  clgan_tuning t;
  if (clgan_tuning_from_env(&t) != CLGAN_OK) return 1;
  t.tune = CLGAN_TUNE_OFF;
  const char *device = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
  clgan_ctx_options o = {.device = device, .profiling = 1, .tuning = &t};
  clgan_ctx *ctx = NULL;
  if (clgan_ctx_create(&o, &ctx) != CLGAN_OK) {
    fprintf(stderr, "bench_convt: %s\n", clgan_last_error());
    return 1;
  }
  printf("device: %s\n", clgan_ctx_device(ctx)->name);
  int gpu = argc > 4 ? (strcmp(argv[4], "none") == 0 ? -1 : strcmp(argv[4], "gpu") == 0)
                     : clgan_ctx_gpu_paths(ctx);
  int g32 = argc > 5 && strcmp(argv[5], "gray32") == 0;
  const layer *layers = g32 ? gray32 : tutorial;
  size_t nlayers = g32 ? sizeof gray32 / sizeof gray32[0] : sizeof tutorial / sizeof tutorial[0];
  const char *an = argc > 6 ? argv[6] : "none";
  clgan_act act = strcmp(an, "lrelu") == 0  ? CLGAN_ACT_LEAKY_RELU
                  : strcmp(an, "relu") == 0 ? CLGAN_ACT_RELU
                                            : CLGAN_ACT_NONE;
  if (act == CLGAN_ACT_NONE && strcmp(an, "none") != 0) {
    fprintf(stderr, "bench_convt: activation %s: expected none, relu or lrelu\n", an);
    clgan_ctx_destroy(ctx);
    return 2;
  }
  clgan_status st = CLGAN_OK;
  const char *only = getenv("BENCH_CONVT_ONLY");
  for (size_t i = 0; i < nlayers && st == CLGAN_OK; i++)
    if (!only || strstr(layers[i].name, only)) st = bench_layer(ctx, &layers[i], batch, reps, gpu, act);
  if (st != CLGAN_OK) fprintf(stderr, "bench_convt: %s\n", clgan_last_error());
  clgan_ctx_destroy(ctx);
  return st == CLGAN_OK ? 0 : 1;
}
