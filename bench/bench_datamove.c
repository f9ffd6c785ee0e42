/* A/B benchmark of the conv core's data-movement kernels (col2im, im2col,
 * padding), the activations, and the conv products whose loads and stores
 * are their data movement (forward, adjoint), between two kernel source
 * folders, on the shapes of the `tutorial` and `gray32` training steps: one context builds its
 * kernels from folder A, another from folder B (CLGAN_KERNEL_DIR's tuning
 * field), and their runs alternate, so a clock that drifts hits both alike.
 * Prints the median ms of each and the ratio B / A per case.
 * Usage: bench_datamove DIR_A DIR_B [reps] [device] [only]   (e.g. old/cl cl)
 * only: run just the cases whose description contains it (e.g. col2im).
 * Both folders must take this binary's launches: col2im_rows became 3-D
 * (y, b, c) in commit cd11bc3, so compare kernels older than that by
 * alternating runs of their own build's bench_datamove with this one's.
 * The copy cases are the reference: a plain float4 copy, its size the bytes
 * read plus written, for GB/s against the kernels beside them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clgan/clgan.h"
#include "ops/conv_internal.h"
#include "runtime/internal.h"

/* One case: a conv shape (Conv2d terms; ConvTranspose2d layers appear as
 * the conv they are the adjoint of) whose n is the adjoint's chunk of
 * images on CPUs, or an activation over count floats. */
typedef struct bench_case {
  const char *what;
  int op; /* 0 col2im, 1 im2col, 2 LeakyReLU forward, 3 LeakyReLU backward, 4 padding (conv_pad_planes),
             5 a plain float4 copy of count floats (the bandwidth reference),
             6 the conv's forward, 7 its adjoint (backward data), 8 its weight
             gradient (the packing of dY and the GEMM), as planned; 9 BatchNorm +
             LeakyReLU forward then the padding kernel, 10 the same forward
             writing the padded copy instead, 11 and 12 the same for its
             backward (BatchNorm of cin channels of n h x h planes, pad 1) */
  int n, cin, h, cout, k, stride, pad;
  size_t count;
} bench_case;

static const bench_case cases[] = {
    {"col2im tutorial D2 / G4 (64 ch 32x32, 16 images)", 0, 16, 64, 32, 128, 4, 2, 1, 0},
    {"col2im tutorial D3 / G3 (128 ch 16x16, 32 images)", 0, 32, 128, 16, 256, 4, 2, 1, 0},
    {"col2im tutorial D4 / G2 (256 ch 8x8, 64 images)", 0, 64, 256, 8, 512, 4, 2, 1, 0},
    {"col2im tutorial G5 (3 ch 64x64, 85 images)", 0, 85, 3, 64, 64, 4, 2, 1, 0},
    {"col2im tutorial D5 / G1 (512 ch 4x4 k4 s1 p0)", 0, 128, 512, 4, 1, 4, 1, 0, 0},
    {"col2im gray32 D2 / G3 (32 ch 16x16, 64 images)", 0, 64, 32, 16, 64, 4, 2, 1, 0},
    {"col2im gray32 G4 (1 ch 32x32, 64 images)", 0, 64, 1, 32, 32, 4, 2, 1, 0},
    {"im2col tutorial D2 (64 ch 32x32, 16 images)", 1, 16, 64, 32, 128, 4, 2, 1, 0},
    {"pad tutorial D1 input (3 ch 64x64, 128 images)", 4, 128, 3, 64, 0, 0, 0, 1, 0},
    {"pad tutorial D2 input (64 ch 32x32, 128 images)", 4, 128, 64, 32, 0, 0, 0, 1, 0},
    {"pad gray32 D2 input (32 ch 16x16, 64 images)", 4, 64, 32, 16, 0, 0, 0, 1, 0},
    {"pad gray32 D3 input (64 ch 8x8, 64 images)", 4, 64, 64, 8, 0, 0, 0, 1, 0},
    {"pad gray32 D3 dY, G2 input (128 ch 4x4, 64 images)", 4, 64, 128, 4, 0, 0, 0, 1, 0},
    {"pad tutorial D4 dY, G2 input (512 ch 4x4, 128 images)", 4, 128, 512, 4, 0, 0, 0, 1,
     0},
    {"conv forward tutorial D2 (64 -> 128 ch 32x32, 128 images)", 6, 128, 64, 32, 128, 4, 2, 1, 0},
    {"conv forward tutorial D4 (256 -> 512 ch 8x8, 128 images)", 6, 128, 256, 8, 512, 4, 2, 1, 0},
    {"conv forward gray32 D2 (32 -> 64 ch 16x16, 64 images)", 6, 64, 32, 16, 64, 4, 2, 1, 0},
    {"weight gradient tutorial D1 (3 -> 64 ch 64x64, 128 images)", 8, 128, 3, 64, 64, 4, 2, 1, 0},
    {"weight gradient tutorial D2 (64 -> 128 ch 32x32, 128 images)", 8, 128, 64, 32, 128, 4, 2, 1,
     0},
    {"weight gradient gray32 D1 (1 -> 32 ch 32x32, 64 images)", 8, 64, 1, 32, 32, 4, 2, 1, 0},
    {"adjoint tutorial D2 (128 -> 64 ch 16x16, 128 images)", 7, 128, 64, 32, 128, 4, 2, 1, 0},
    {"adjoint gray32 D2 (64 -> 32 ch 8x8, 64 images)", 7, 64, 32, 16, 64, 4, 2, 1, 0},
    {"copy 1.2 MB (gray32 D3 input)", 5, 0, 0, 0, 0, 0, 0, 0, (size_t)64 * 64 * 8 * 8 / 4 * 5},
    {"copy 4.7 MB (gray32 D2 padded)", 5, 0, 0, 0, 0, 0, 0, 0, (size_t)32 * 64 * 18 * 18},
    {"copy 8.4 MB (gray32 D2 col chunk)", 5, 0, 0, 0, 0, 0, 0, 0, (size_t)512 * 4096},
    {"copy 71 MB (tutorial D2 padded)", 5, 0, 0, 0, 0, 0, 0, 0, (size_t)64 * 128 * 34 * 34},
    {"BN fwd + pad, gray32 D2 output (64 ch 8x8)", 9, 64, 64, 8, 0, 0, 0, 1, 0},
    {"BN fwd + padded copy, gray32 D2 output (64 ch 8x8)", 10, 64, 64, 8, 0, 0, 0, 1, 0},
    {"BN bwd + pad, gray32 D2 dY (64 ch 8x8)", 11, 64, 64, 8, 0, 0, 0, 1, 0},
    {"BN bwd + padded copy, gray32 D2 dY (64 ch 8x8)", 12, 64, 64, 8, 0, 0, 0, 1, 0},
    {"BN bwd + pad, gray32 D3 dY (128 ch 4x4)", 11, 64, 128, 4, 0, 0, 0, 1, 0},
    {"BN bwd + padded copy, gray32 D3 dY (128 ch 4x4)", 12, 64, 128, 4, 0, 0, 0, 1, 0},
    {"BN fwd + pad, tutorial D2 output (128 ch 16x16)", 9, 128, 128, 16, 0, 0, 0, 1, 0},
    {"BN fwd + padded copy, tutorial D2 output (128 ch 16x16)", 10, 128, 128, 16, 0, 0, 0, 1, 0},
    {"BN bwd + pad, tutorial D2 dY (128 ch 16x16)", 11, 128, 128, 16, 0, 0, 0, 1, 0},
    {"BN bwd + padded copy, tutorial D2 dY (128 ch 16x16)", 12, 128, 128, 16, 0, 0, 0, 1, 0},
    {"LeakyReLU forward, tutorial D1 output", 2, 0, 0, 0, 0, 0, 0, 0, (size_t)64 * 128 * 32 * 32},
    {"LeakyReLU backward, tutorial D1 output", 3, 0, 0, 0, 0, 0, 0, 0, (size_t)64 * 128 * 32 * 32},
    {"LeakyReLU backward, gray32 D1 output", 3, 0, 0, 0, 0, 0, 0, 0, (size_t)32 * 64 * 16 * 16},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static double clock_seconds(clockid_t which) {
  struct timespec ts;
  clock_gettime(which, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* One side of the A/B: a context on one kernel folder and the case's
 * planned op and buffers. */
typedef struct side {
  clgan_ctx *ctx;
  clgan_conv_plan conv;
  clgan_act_plan act;
  cl_kernel pad;  /* the padding kernel (conv_pad_kernel_get) */
  cl_kernel copy; /* the reference copy (copy_source below) */
  cl_program copy_program;
  clgan_buf img, col, out, w; /* ops 6 and 7: x, col, y, w */
  clgan_bn_plan bn;           /* ops 9 to 12: x, y in img, out; the padded copy in col */
  clgan_buf dy, dx, arena;    /* and dy, dx, gamma .. dbeta [8, c] */
} side;

/* The bandwidth reference: one float4 per work-item, which PoCL vectorises
 * across work-items into full-width loads and stores. */
static const char *copy_source =
    "__kernel void copy4(__global const float4 *restrict src, __global float4 *restrict dst) {"
    "  dst[get_global_id(0)] = src[get_global_id(0)]; }";

static clgan_status copy_build(side *S) {
  if (S->copy) return CLGAN_OK;
  cl_int err;
  S->copy_program = clCreateProgramWithSource(S->ctx->context, 1, &copy_source, NULL, &err);
  if (err == CL_SUCCESS) err = clBuildProgram(S->copy_program, 0, NULL, "", NULL, NULL);
  if (err == CL_SUCCESS) S->copy = clCreateKernel(S->copy_program, "copy4", &err);
  if (err != CL_SUCCESS) return clgan_fail(CLGAN_ERR_OPENCL, "bench_datamove: copy4: error %d", err);
  return CLGAN_OK;
}

static clgan_status side_open(side *S, const char *dir, const char *device) {
  memset(S, 0, sizeof *S);
  clgan_tuning t;
  clgan_status st = clgan_tuning_from_env(&t);
  if (st != CLGAN_OK) return st;
  snprintf(t.kernel_dir, sizeof t.kernel_dir, "%s", dir);
  clgan_ctx_options o = {.device = device, .tuning = &t};
  return clgan_ctx_create(&o, &S->ctx);
}

static clgan_status side_plan(side *S, const bench_case *c) {
  clgan_status st;
  clgan_buf_release(&S->img);
  clgan_buf_release(&S->col);
  clgan_buf_release(&S->out);
  clgan_buf_release(&S->w);
  if (c->op == 2 || c->op == 3) {
    if ((st = clgan_act_plan_make(S->ctx, CLGAN_ACT_LEAKY_RELU, &S->act)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, c->count, &S->img)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, c->count, &S->col)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, c->count, &S->out)) != CLGAN_OK)
      return st;
    if ((st = clgan_fill(S->ctx, S->img, c->count, -0.5f)) != CLGAN_OK) return st;
    return clgan_fill(S->ctx, S->col, c->count, 0.25f);
  }
  if (c->op == 5) {
    if ((st = copy_build(S)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, c->count / 2, &S->img)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, c->count / 2, &S->out)) != CLGAN_OK)
      return st;
    return clgan_fill(S->ctx, S->img, c->count / 2, 1.0f);
  }
  clgan_buf_release(&S->dy);
  clgan_buf_release(&S->dx);
  clgan_buf_release(&S->arena);
  if (c->op >= 9) {
    size_t cm = (size_t)c->cin * c->n * c->h * c->h, hp = (size_t)c->h + 2;
    size_t npad = (size_t)c->cin * c->n * hp * hp;
    clgan_buf *bufs[5] = {&S->img, &S->out, &S->dy, &S->dx, &S->col};
    for (int i = 0; i < 5; i++)
      if ((st = clgan_buf_alloc(S->ctx, i < 4 ? cm : npad, bufs[i])) != CLGAN_OK ||
          (st = clgan_fill(S->ctx, *bufs[i], i < 4 ? cm : npad, 0.25f * (float)i - 0.3f)) !=
              CLGAN_OK)
        return st;
    if ((st = conv_pad_kernel_get(S->ctx, &S->pad)) != CLGAN_OK ||
        (st = clgan_bn_plan_make(S->ctx, CLGAN_ACT_LEAKY_RELU, &S->bn)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, 8 * (size_t)c->cin, &S->arena)) != CLGAN_OK)
      return st;
    return clgan_fill(S->ctx, S->arena, 8 * (size_t)c->cin, 1.0f);
  }
  if (c->op == 4) {
    size_t planes = (size_t)c->cin * c->n, hp = (size_t)c->h + 2 * c->pad;
    if ((st = conv_pad_kernel_get(S->ctx, &S->pad)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, planes * c->h * c->h, &S->img)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, planes * hp * hp, &S->out)) != CLGAN_OK)
      return st;
    return clgan_fill(S->ctx, S->img, planes * c->h * c->h, 1.0f);
  }
  clgan_conv_shape s;
  if ((st = clgan_conv_shape_conv(c->n, c->cin, c->h, c->h, c->cout, c->k, c->stride, c->pad,
                                  &s)) != CLGAN_OK ||
      (st = clgan_conv_plan_make(S->ctx, &s, &S->conv)) != CLGAN_OK)
    return st;
  size_t nimg = (size_t)s.cin * s.n * s.h * s.w, ncol = clgan_conv_col_floats(&s);
  if (c->op >= 6) ncol = S->conv.col_floats > 0 ? S->conv.col_floats : 1;
  if ((st = clgan_buf_alloc(S->ctx, nimg, &S->img)) != CLGAN_OK ||
      (st = clgan_buf_alloc(S->ctx, ncol, &S->col)) != CLGAN_OK)
    return st;
  if (c->op >= 6) {
    size_t nw = (size_t)s.cout * s.cin * s.k * s.k, nfeat = (size_t)s.cout * s.n * s.ho * s.wo;
    if ((st = clgan_conv_plan_prepare(S->ctx, &S->conv)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, nw, &S->w)) != CLGAN_OK ||
        (st = clgan_buf_alloc(S->ctx, nfeat, &S->out)) != CLGAN_OK ||
        (st = clgan_fill(S->ctx, S->w, nw, 0.01f)) != CLGAN_OK ||
        (st = clgan_fill(S->ctx, S->out, nfeat, 0.5f)) != CLGAN_OK)
      return st;
  }
  if ((st = clgan_fill(S->ctx, S->img, nimg, 1.0f)) != CLGAN_OK) return st;
  return clgan_fill(S->ctx, S->col, ncol, 0.5f);
}

static clgan_status run_pad(side *S, const bench_case *c) {
  clgan_buf img = S->img, out = S->out;
  return conv_pad_planes(S->ctx, S->pad, img, out, (size_t)c->cin * c->n, c->h, c->h, c->pad);
}

/* ops 9 to 12: the BatchNorm (arena: gamma, beta, mean, invstd, running
 * mean and variance, dgamma, dbeta), then the padding kernel or, with a
 * copy, nothing. */
static clgan_status run_bn(side *S, const bench_case *c) {
  int ch = c->cin;
  size_t m = (size_t)c->n * c->h * c->h;
  clgan_buf a[8];
  for (int i = 0; i < 8; i++) a[i] = clgan_buf_at(S->arena, (size_t)i * ch);
  clgan_padded_copy copy = {S->col, c->h, c->h, 1};
  const clgan_padded_copy *cp = c->op == 10 || c->op == 12 ? &copy : NULL;
  clgan_status st;
  if (c->op <= 10)
    st = clgan_batchnorm_forward_train(S->ctx, &S->bn, ch, m, S->img, a[0], a[1], S->out, a[2],
                                       a[3], a[4], a[5], 0.1f, 1e-5f, 0.2f, cp);
  else
    st = clgan_batchnorm_backward(S->ctx, &S->bn, ch, m, S->img, S->out, S->dy, a[0], a[2], a[3],
                                  S->dx, a[6], a[7], 0, 0.2f, cp);
  if (st != CLGAN_OK || cp) return st;
  return conv_pad_planes(S->ctx, S->pad, c->op <= 10 ? S->out : S->dx, S->col,
                         (size_t)ch * c->n, c->h, c->h, 1);
}

/* count floats moved: count / 2 read, count / 2 written */
static clgan_status run_copy(side *S, const bench_case *c) {
  clgan_status st = clgan_set_args(S->copy, 2, sizeof(cl_mem), &S->img.mem, sizeof(cl_mem),
                                   &S->out.mem);
  if (st != CLGAN_OK) return st;
  size_t global[1] = {c->count / 8};
  return clgan_launch(S->ctx, S->copy, 1, global, NULL, "copy4");
}

/* ms: wall time; cpu_ms: this process's CPU time over the run (PoCL's
 * worker threads sleep when idle, so about twice the wall time when both
 * cores worked, about the wall time when other work held one of them). */
static clgan_status side_run(side *S, const bench_case *c, double *ms, double *cpu_ms) {
  double t0 = clock_seconds(CLOCK_MONOTONIC), u0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  clgan_status st;
  switch (c->op) {
  case 0: st = clgan_col2im(S->ctx, &S->conv, S->col, S->img); break;
  case 1: st = clgan_im2col(S->ctx, &S->conv, S->img, S->col); break;
  case 4: st = run_pad(S, c); break;
  case 5: st = run_copy(S, c); break;
  case 6: st = clgan_conv2d_forward(S->ctx, &S->conv, S->img, S->w, S->out, S->col); break;
  case 7: st = clgan_conv2d_backward_data(S->ctx, &S->conv, S->out, S->w, S->img, S->col); break;
  case 8:
    st = clgan_conv2d_backward_filter(S->ctx, &S->conv, S->img, S->out, S->w, S->col, 0);
    break;
  case 9:
  case 10:
  case 11:
  case 12: st = run_bn(S, c); break;
  case 2: st = clgan_act_forward(S->ctx, &S->act, 0.2f, c->count, S->img, S->out); break;
  default: st = clgan_act_backward(S->ctx, &S->act, 0.2f, c->count, S->img, S->col, S->out);
  }
  if (st == CLGAN_OK) st = clgan_ctx_finish(S->ctx);
  *ms = (clock_seconds(CLOCK_MONOTONIC) - t0) * 1e3;
  *cpu_ms = (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - u0) * 1e3;
  return st;
}

static void side_close(side *S) {
  clgan_buf_release(&S->w);
  clgan_buf_release(&S->img);
  clgan_buf_release(&S->col);
  clgan_buf_release(&S->out);
  clgan_buf_release(&S->dy);
  clgan_buf_release(&S->dx);
  clgan_buf_release(&S->arena);
  if (S->copy) clReleaseKernel(S->copy);
  if (S->copy_program) clReleaseProgram(S->copy_program);
  clgan_ctx_destroy(S->ctx);
}

int main(int argc, char **argv) {
  /* PoCL: worker i pinned to core i, unless the caller says otherwise. A
   * short kernel running alone otherwise often has its two workers woken on
   * one core, half the speed in some runs and not others (README, Speed). */
  setenv("POCL_AFFINITY", "1", 0);
  if (argc < 3) {
    fprintf(stderr, "usage: bench_datamove DIR_A DIR_B [reps] [device] [only]\n");
    return 2;
  }
  int reps = argc > 3 ? atoi(argv[3]) : 15;
  if (reps < 1) reps = 1;
  side S[2];
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < 2 && st == CLGAN_OK; i++)
    st = side_open(&S[i], argv[1 + i], argc > 4 && *argv[4] ? argv[4] : NULL);
  double *t[4]; /* wall A, wall B, CPU A, CPU B */
  for (int i = 0; i < 4; i++)
    if (!(t[i] = malloc(sizeof(double) * (size_t)reps))) return 1;
  printf("%-52s %8s %8s %6s %8s %8s %6s\n", "case (median of alternating runs)", "A ms", "B ms",
         "B / A", "A cpu", "B cpu", "B / A");
  for (int ci = 0; ci < NCASES && st == CLGAN_OK; ci++) {
    const bench_case *c = &cases[ci];
    if (argc > 5 && !strstr(c->what, argv[5])) continue;
    for (int i = 0; i < 2 && st == CLGAN_OK; i++) st = side_plan(&S[i], c);
    double warm, warm_cpu;
    for (int i = 0; i < 2 && st == CLGAN_OK; i++) st = side_run(&S[i], c, &warm, &warm_cpu);
    for (int r = 0; r < reps && st == CLGAN_OK; r++)
      for (int i = 0; i < 2 && st == CLGAN_OK; i++) st = side_run(&S[i], c, &t[i][r], &t[2 + i][r]);
    if (st != CLGAN_OK) break;
    double med[4];
    for (int i = 0; i < 4; i++) {
      qsort(t[i], (size_t)reps, sizeof(double), cmp_double);
      med[i] = t[i][reps / 2];
    }
    printf("%-52s %8.3f %8.3f %6.3f %8.3f %8.3f %6.3f\n", c->what, med[0], med[1], med[1] / med[0],
           med[2], med[3], med[3] / med[2]);
    fflush(stdout);
  }
  if (st != CLGAN_OK)
    fprintf(stderr, "bench_datamove: %s: %s\n", clgan_status_str(st), clgan_last_error());
  for (int i = 0; i < 4; i++) free(t[i]);
  for (int i = 0; i < 2; i++)
    if (S[i].ctx) side_close(&S[i]);
  return st == CLGAN_OK ? 0 : 1;
}
