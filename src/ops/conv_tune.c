/* The plan-time tuner of the conv core: for one conv shape, a bounded
 * search over the variants of its three products (forward, backward data,
 * weight gradient), each timed as the whole op the training step runs
 * (im2col, padding and col2im included), on random inputs:
 *   - the engine's default plan first: its result is the reference and its
 *     time the one to beat;
 *   - the own GEMM with other register tiles and work-group shapes (each a
 *     -D build of cl/gemm.cl), reading the image directly where it can;
 *   - the local-memory GEMM (gemm_lds.c: a handful of parameter sets on
 *     GPUs, one on CPUs), reading the image directly or im2col's matrix;
 *   - the own GEMM and CLBlast on im2col's column matrix;
 *   - for the backward data, the direct kernel (convt_direct.c, no column
 *     matrix, no col2im) with a few parameter sets, and for k 4 s 2 p 1
 *     the sub-pixel tiles (conv_subpixel.c, the CPU default) with a few others.
 * A candidate whose result differs from the reference by more than
 * TUNE_TOLERANCE (relative to the reference's largest value) is rejected;
 * the others are timed with OpenCL events on a profiling queue of the
 * context (the median of a few runs; a family far behind is skipped,
 * TUNE_PRUNE; CLBlast is left out where it cannot win,
 * conv_tune_candidates.c), and the fastest wins if it beats the
 * default by TUNE_MARGIN, confirmed in runs alternating with the default's. Winners go to
 * the disk cache (conv_tune_cache.c). The search stops when the context's
 * budget is spent: a shape it did not finish keeps the defaults and is not
 * cached, so a later run picks it up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/conv_internal.h"
#include "ops/conv_subpixel.h"
#include "ops/conv_tune.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* Largest |candidate - reference| allowed, relative to max |reference|:
 * float rounding of a reordered sum is ~1e-6 of it here; a wrong index or a
 * missed tap is of the order of 1. */
#define TUNE_TOLERANCE 1e-4
/* Timed runs per candidate (after one untimed run, which builds and is
 * checked), fewer for slow ones. */
#define TUNE_RUNS 3
#define TUNE_SLOW_MS 250.0
/* A candidate whose first timed run takes this many times the best so far
 * is a loser: timed once (the median of more runs could only come under the
 * best through noise larger than repeated runs of one kernel show). */
#define TUNE_LOSER 1.25
/* A family's first timed candidate this many times behind the best so far:
 * the rest of its family is skipped (on a 2-core EPYC, im2col's mapping
 * was 1.9-2.2x behind the image-reading one on tutorial's large layers
 * with any tile; the tiles within a family differ by 5-20%). */
#define TUNE_PRUNE 1.5
/* A candidate wins only when it beats the default by this factor: on a
 * shared or throttling device, timings of equal kernels differ by a few
 * percent, and a change of variant should be worth it. */
#define TUNE_MARGIN 0.97

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double budget_s(const clgan_ctx *ctx) {
  if (ctx->tuning.tune_budget_s > 0) return ctx->tuning.tune_budget_s;
  return ctx->dev.is_gpu ? 60.0 : 10.0;
}

/* Buffers of one search: inputs filled with random values, outputs, col at
 * its largest, host copies of the reference and of a candidate's output,
 * and of the inputs for shapes the host checks too (else NULL). */
typedef struct tune_bufs {
  clgan_buf img, feat, weight;     /* inputs: x, dy, w */
  clgan_buf out_img, out_feat, out_weight, col;
  clgan_buf kept;                  /* the forward's kept copies (CONV_PAIR), when timed */
  float *ref, *got;
  float *host_in[3];               /* x, dy, w (conv_tune_ref_small shapes) */
} tune_bufs;

static void bufs_free(tune_bufs *b) {
  clgan_buf *all[] = {&b->img,        &b->feat, &b->weight, &b->out_img, &b->out_feat,
                      &b->out_weight, &b->col,  &b->kept};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgan_buf_release(all[i]);
  free(b->ref);
  free(b->got);
  for (int i = 0; i < 3; i++) free(b->host_in[i]);
}

static clgan_status random_buf(clgan_ctx *ctx, size_t floats, uint32_t seed, float *host,
                               clgan_buf *out) {
  clgan_status st = clgan_buf_alloc(ctx, floats, out);
  for (size_t i = 0; i < floats; i++) {
    seed = seed * 1664525u + 1013904223u;
    host[i] = (float)(seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  if (st == CLGAN_OK) st = clgan_buf_write(ctx, *out, host, floats);
  return st;
}

static clgan_status bufs_make(clgan_ctx *ctx, const clgan_conv_shape *s, tune_bufs *b) {
  size_t fi = conv_img_floats(s), ff = conv_feat_floats(s), fw = conv_weight_floats(s);
  size_t most = fi > ff ? fi : ff;
  if (fw > most) most = fw;
  memset(b, 0, sizeof *b);
  b->ref = malloc(most * sizeof(float));
  b->got = malloc(most * sizeof(float));
  if (!b->ref || !b->got) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory (tuner)");
  size_t sizes[3] = {fi, ff, fw};
  clgan_buf *dev[3] = {&b->img, &b->feat, &b->weight};
  int keep = conv_tune_ref_small(s);
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < 3 && st == CLGAN_OK; i++) {
    if (keep && !(b->host_in[i] = malloc(sizes[i] * sizeof(float))))
      return clgan_fail(CLGAN_ERR_NOMEM, "out of memory (tuner)");
    st = random_buf(ctx, sizes[i], 1u + (uint32_t)i, keep ? b->host_in[i] : b->got, dev[i]);
  }
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, fi, &b->out_img);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, ff, &b->out_feat);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, fw, &b->out_weight);
  size_t col = clgan_conv_col_floats(s); /* the sub-pixel mapping's col may be larger */
  if (conv_subpix_applies(s) && conv_subpix_col_floats(s) > col) col = conv_subpix_col_floats(s);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, col, &b->col);
  return st;
}

/* The forward and then the weight gradient as a training step runs them:
 * where the plan keeps the padded image (and, by Winograd on both, the
 * transformed one: conv_winograd.h) in b->kept, the weight gradient reads
 * the forward's copy. A Conv2d's forward and weight gradient share it so,
 * and a ConvTranspose2d's backward (the core's weight gradient and forward
 * from one dy) the same way round; timed alone, each product pays for the
 * copy or the transform itself. */
enum { CONV_PAIR = CONV_PRODUCTS };

/* One run of a product (or CONV_PAIR) with plan p; its output and size. */
static clgan_status run_product(clgan_ctx *ctx, const clgan_conv_plan *p, int product,
                                tune_bufs *b, clgan_buf *out, size_t *floats) {
  const clgan_conv_shape *s = &p->shape;
  if (product == CONV_PAIR) {
    clgan_status st;
    *out = b->out_weight, *floats = conv_weight_floats(s);
    if (clgan_conv_kept_floats(p) > 0) {
      st = clgan_conv2d_forward_keep(ctx, p, b->img, b->weight, b->out_feat, b->col, b->kept,
                                     CLGAN_ACT_NONE, 0.0f);
      return st != CLGAN_OK ? st
                            : clgan_conv2d_backward_filter_kept(ctx, p, b->kept, b->feat,
                                                                b->out_weight, b->col, 0);
    }
    st = clgan_conv2d_forward(ctx, p, b->img, b->weight, b->out_feat, b->col);
    return st != CLGAN_OK ? st
                          : clgan_conv2d_backward_filter(ctx, p, b->img, b->feat, b->out_weight,
                                                         b->col, 0);
  }
  if (product == CONV_FWD) {
    *out = b->out_feat, *floats = conv_feat_floats(s);
    return clgan_conv2d_forward(ctx, p, b->img, b->weight, b->out_feat, b->col);
  }
  if (product == CONV_ADJ) {
    *out = b->out_img, *floats = conv_img_floats(s);
    return clgan_conv2d_backward_data(ctx, p, b->feat, b->weight, b->out_img, b->col);
  }
  *out = b->out_weight, *floats = conv_weight_floats(s);
  return clgan_conv2d_backward_filter(ctx, p, b->img, b->feat, b->out_weight, b->col, 0);
}

/* Device time of one run in ms: between two markers' ends on the profiling
 * queue; where markers carry no times, from the first kernel's start to the
 * last one's end (the search's own profile: CLBlast shows its last kernel
 * only); else the wall time of the run. */
static clgan_status timed_run(clgan_ctx *ctx, const clgan_conv_plan *p, int product,
                              tune_bufs *b, double *ms) {
  cl_event e[2] = {NULL, NULL};
  clgan_buf out;
  size_t floats;
  clgan_profile_report *rep = ctx->prof ? malloc(sizeof *rep) : NULL;
  if (rep) clgan_ctx_profile_collect(ctx, rep); /* starts the profile afresh */
  double t0 = now_s();
  clgan_status st = CLGAN_CL(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &e[0]));
  if (st == CLGAN_OK) st = run_product(ctx, p, product, b, &out, &floats);
  if (st == CLGAN_OK) st = CLGAN_CL(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &e[1]));
  if (st == CLGAN_OK) st = CLGAN_CL(clWaitForEvents(1, &e[1]));
  *ms = (now_s() - t0) * 1e3;
  cl_ulong end0 = 0, end1 = 0;
  if (st == CLGAN_OK &&
      clGetEventProfilingInfo(e[0], CL_PROFILING_COMMAND_END, sizeof end0, &end0, NULL) ==
          CL_SUCCESS &&
      clGetEventProfilingInfo(e[1], CL_PROFILING_COMMAND_END, sizeof end1, &end1, NULL) ==
          CL_SUCCESS &&
      end1 > end0)
    *ms = (double)(end1 - end0) * 1e-6;
  else if (st == CLGAN_OK && rep && clgan_ctx_profile_collect(ctx, rep) == CLGAN_OK &&
           rep->span_seconds > 0)
    *ms = rep->span_seconds * 1e3;
  for (int i = 0; i < 2; i++)
    if (e[i]) clReleaseEvent(e[i]);
  free(rep);
  return st;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Whether two plans run a product the same way (a candidate that is the
 * default again is not timed twice). */
static int same_gemm(const clgan_gemm_plan *a, const clgan_gemm_plan *b) {
  const clgan_gemm_lds *la = &a->lds, *lb = &b->lds;
  int same_lds = a->path != CLGAN_GEMM_PATH_LDS ||
                 (la->wgm == lb->wgm && la->wgn == lb->wgn && la->wgk == lb->wgk &&
                  la->tpm == lb->tpm && la->tpn == lb->tpn && la->vw == lb->vw &&
                  la->splits == lb->splits);
  return a->path == b->path && a->backend == b->backend && a->own.tm == b->own.tm &&
         a->own.tn == b->own.tn && a->own.splits == b->own.splits &&
         a->main_local[0] == b->main_local[0] && a->main_local[1] == b->main_local[1] &&
         same_lds;
}

static int same_product(const clgan_conv_plan *a, const clgan_conv_plan *b, int product) {
  /* a kernel of its own runs the product in one plan and not in the other:
   * the GEMM plan beside it (planned in both) says nothing */
  const cl_kernel own_a[CONV_PRODUCTS][3] = {{a->whole.forward, a->narrow.forward, a->wino.tile},
                                             {a->whole.adjoint, a->adj_wino.tile, a->narrow.adjoint},
                                             {a->whole.filter, a->filt_wino.tile, a->narrow.filter}};
  const cl_kernel own_b[CONV_PRODUCTS][3] = {{b->whole.forward, b->narrow.forward, b->wino.tile},
                                             {b->whole.adjoint, b->adj_wino.tile, b->narrow.adjoint},
                                             {b->whole.filter, b->filt_wino.tile, b->narrow.filter}};
  for (int i = 0; i < 3; i++)
    if (!own_a[product][i] != !own_b[product][i]) return 0;
  if (product == CONV_FWD)
    return a->fwd_from_image == b->fwd_from_image && same_gemm(&a->fwd, &b->fwd);
  if (product == CONV_FILT)
    return a->filt_from_image == b->filt_from_image && same_gemm(&a->filt, &b->filt);
  if (a->adj_direct.kernel || b->adj_direct.kernel)
    return convt_direct_same(&a->adj_direct, &b->adj_direct);
  const clgan_conv_subpix_plan *sa = &a->adj_subpix, *sb = &b->adj_subpix;
  if (sa->tile || sb->tile)
    return sa->tile && sb->tile && sa->tm == sb->tm && sa->nv == sb->nv &&
           sa->local[0] == sb->local[0] && sa->local[1] == sb->local[1];
  return same_gemm(&a->adj, &b->adj) && same_gemm(&a->adj_last, &b->adj_last);
}

/* The state of one shape's search. */
typedef struct search {
  clgan_ctx *ctx;
  const clgan_conv_shape *s;
  char shape[64];
  tune_bufs b;
  clgan_conv_plan def;     /* the default plan */
  double t_start, budget;  /* this context's search: its start, its budget */
  clgan_tune_record *rec;
  int checked;             /* candidates of this product checked after the reference */
  double product_best_ms;  /* this product's best time so far (0 until measured) */
} search;

static void report(search *q, int product, const char *cand, double ms, int valid) {
  static const char *const names[] = {"forward", "backward data", "weight gradient",
                                      "forward + weight gradient"};
  if (!q->ctx->tune_progress) return;
  clgan_tune_progress p = {q->shape, names[product], cand, ms, valid,
                           q->ctx->tune_report.seconds + (now_s() - q->t_start), q->budget};
  q->ctx->tune_progress(q->ctx->tune_user, &p);
}

/* Whether got is within TUNE_TOLERANCE of ref (relative to max |ref|). */
static int close_to(const float *got, const float *ref, size_t floats) {
  double big = 0, err = 0;
  for (size_t i = 0; i < floats; i++) {
    double r = ref[i], d = fabs((double)got[i] - r);
    if (fabs(r) > big) big = fabs(r);
    if (!(d <= err)) err = isnan(d) ? INFINITY : d;
  }
  return isfinite(big) && err <= TUNE_TOLERANCE * (big > 0 ? big : 1.0);
}

/* Checks a candidate's output against the reference (index 0 sets it: the
 * default's result, itself checked against the host's on small shapes). */
static clgan_status check_output(search *q, int index, int product, clgan_buf out,
                                 size_t floats, int *valid) {
  float *dst = index == 0 ? q->b.ref : q->b.got;
  clgan_status st = clgan_buf_read(q->ctx, out, dst, floats);
  if (st != CLGAN_OK) return st;
  float *const *h = q->b.host_in;
  if (index == 0 && q->ctx->tune_test_wrong < 0) dst[floats / 2] += 1.0f; /* test hook */
  if (index == 0 && h[0]) {
    if ((st = conv_tune_ref(q->s, product, h[0], h[1], h[2], q->b.got)) != CLGAN_OK) return st;
    *valid = close_to(q->b.ref, q->b.got, floats);
    return CLGAN_OK;
  }
  /* test hook: the tune_test_wrong-th candidate checked is made wrong */
  if (index > 0 && ++q->checked == q->ctx->tune_test_wrong)
    for (size_t i = 0; i < floats; i++) dst[i] = dst[i] * 1.5f + 0.25f;
  *valid = index == 0 || close_to(dst, q->b.ref, floats);
  return CLGAN_OK;
}

/* Times candidate c of a product; *ms < 0 when it does not apply, fails or
 * is rejected. Failures of a candidate are not errors of the search. */
static clgan_status try_candidate(search *q, int product, int index,
                                  const conv_tune_candidate *c, double *ms) {
  clgan_ctx *ctx = q->ctx;
  *ms = -1;
  conv_variants cv = conv_variants_default();
  cv.prod[product] = c->v;
  cv.from_image[product] = c->from_image;
  if (product == CONV_ADJ) cv.adj_direct = c->direct, cv.adj_subpix = c->subpix;
  if (product == CONV_FWD && c->wino) cv.fwd_wino = 1;
  if (product == CONV_FILT && c->wino) cv.filt_wino = 1;
  if (product == CONV_ADJ && c->wino) cv.adj_wino = 1;
  clgan_conv_plan p;
  if (conv_plan_with(ctx, q->s, &cv, &p) != CLGAN_OK || clgan_conv_plan_prepare(ctx, &p) != CLGAN_OK)
    return CLGAN_OK; /* e.g. CLBlast has no kernel for this device */
  const cl_kernel wino = product == CONV_FWD   ? p.wino.tile
                        : product == CONV_ADJ ? p.adj_wino.tile
                                              : p.filt_wino.tile;
  if ((c->subpix == 1 && !p.adj_subpix.tile) || (c->wino && !wino))
    return CLGAN_OK; /* the shape does not allow it */
  int from_image = product == CONV_FWD ? p.fwd_from_image : p.filt_from_image;
  if (index > 0 && (same_product(&p, &q->def, product) ||
                    (product != CONV_ADJ && !c->wino && from_image != c->from_image)))
    return CLGAN_OK; /* the default again, or a mapping the shape does not allow */
  char name[48];
  if (convt_direct_params_on(&c->direct)) convt_direct_name(&c->direct, name, sizeof name);
  else if (c->subpix == 1 || c->wino) conv_tune_plan_name(&p, product, name, sizeof name);
  else conv_tune_variant_name(&c->v, c->from_image, product, name, sizeof name);
  clgan_buf out;
  size_t floats;
  if (run_product(ctx, &p, product, &q->b, &out, &floats) != CLGAN_OK) return CLGAN_OK;
  int valid = 0;
  clgan_status st = check_output(q, index, product, out, floats, &valid);
  if (st != CLGAN_OK) return st;
  if (!valid) {
    q->rec->rejected++;
    report(q, product, name, -1, 0);
    return CLGAN_OK;
  }
  q->rec->timed++;
  double t[TUNE_RUNS];
  int runs = TUNE_RUNS;
  for (int r = 0; r < runs && st == CLGAN_OK; r++) {
    st = timed_run(ctx, &p, product, &q->b, &t[r]);
    if (r == 0 && t[0] > TUNE_SLOW_MS) runs = 1; /* slow enough to trust one run */
    if (r == 0 && index > 0 && t[0] > TUNE_LOSER * q->product_best_ms) runs = 1;
  }
  if (st != CLGAN_OK) return CLGAN_OK;
  qsort(t, (size_t)runs, sizeof t[0], cmp_double);
  *ms = t[runs / 2];
  if ((ctx->tune_test_slow_family > 0 && c->family == ctx->tune_test_slow_family) ||
      (ctx->tune_test_slow_default && index == 0))
    *ms *= 10; /* test hooks */
  report(q, product, name, *ms, 1);
  return CLGAN_OK;
}

/* A product of v back on the engine's choice. */
static void revert(conv_variants *v, int product) {
  const conv_variants d = conv_variants_default();
  v->prod[product] = d.prod[product];
  v->from_image[product] = 1;
  if (product == CONV_ADJ) v->adj_direct = d.adj_direct, v->adj_subpix = d.adj_subpix;
  if (product == CONV_ADJ) v->adj_wino = d.adj_wino;
  if (product == CONV_FWD) v->fwd_wino = d.fwd_wino;
  if (product == CONV_FILT) v->filt_wino = d.filt_wino;
}

/* cv's plan against the default for product in TUNE_RUNS alternating runs
 * (a load that drifts meanwhile cannot make one look faster than it is):
 * the median of the ratios of their times (cv's over the default's) and
 * the medians of cv's times (*ms) and the default's (*def_ms); *ms < 0 and
 * a ratio of 1 where cv cannot be planned. */
static clgan_status alternate(search *q, const conv_variants *cv, int product, double *ratio,
                              double *ms, double *def_ms) {
  clgan_conv_plan p;
  *ratio = 1.0, *ms = -1, *def_ms = -1;
  if (conv_plan_with(q->ctx, q->s, cv, &p) != CLGAN_OK ||
      clgan_conv_plan_prepare(q->ctx, &p) != CLGAN_OK)
    return CLGAN_OK;
  double d[TUNE_RUNS], w[TUNE_RUNS], r[TUNE_RUNS];
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < TUNE_RUNS && st == CLGAN_OK; i++) {
    st = timed_run(q->ctx, &q->def, product, &q->b, &d[i]);
    if (st == CLGAN_OK) st = timed_run(q->ctx, &p, product, &q->b, &w[i]);
    if (q->ctx->tune_test_slow_default) d[i] *= 10; /* test hook */
    r[i] = d[i] > 0 ? w[i] / d[i] : 1.0;
  }
  if (st != CLGAN_OK) return st;
  qsort(d, TUNE_RUNS, sizeof d[0], cmp_double);
  qsort(w, TUNE_RUNS, sizeof w[0], cmp_double);
  qsort(r, TUNE_RUNS, sizeof r[0], cmp_double);
  *ratio = r[TUNE_RUNS / 2], *ms = w[TUNE_RUNS / 2], *def_ms = d[TUNE_RUNS / 2];
  return CLGAN_OK;
}

/* Confirms a product's winner against the default (alternate): it stays
 * only when the median of its time over the default's is below
 * TUNE_MARGIN; the times are those runs'. A winner that cannot be planned
 * again is left as it is. */
static clgan_status confirm(search *q, int product, conv_variants *win, double *win_ms,
                            double *def_ms) {
  double ratio, ms, d;
  clgan_status st = alternate(q, win, product, &ratio, &ms, &d);
  if (st != CLGAN_OK || ms < 0) return st;
  *def_ms = d, *win_ms = ms;
  if (ratio < TUNE_MARGIN) return CLGAN_OK;
  revert(win, product); /* not confirmed */
  *win_ms = *def_ms;
  return CLGAN_OK;
}

/* Searches one product; *done = 0 when the budget ran out first. */
static clgan_status search_product(search *q, int product, conv_variants *win,
                                   double *win_ms, double *def_ms, int *done) {
  conv_tune_candidate c[CONV_TUNE_MAX_CANDIDATES];
  int n = conv_tune_candidates(q->ctx, q->s, product, c);
  double best = -1;
  int led[TUNE_FAMILIES] = {0}, pruned[TUNE_FAMILIES] = {0};
  *done = 0;
  q->checked = 0;
  q->product_best_ms = 0;
  for (int i = 0; i < n; i++) {
    if (q->ctx->tune_report.seconds + (now_s() - q->t_start) > q->budget) return CLGAN_OK;
    int family = c[i].family;
    if (pruned[family]) {
      q->rec->skipped++;
      continue;
    }
    double ms;
    clgan_status st = try_candidate(q, product, i, &c[i], &ms);
    if (st != CLGAN_OK) return st;
    if (i == 0) {
      if (ms < 0) return CLGAN_OK; /* no reference: keep the defaults */
      *def_ms = q->product_best_ms = ms;
      best = ms * TUNE_MARGIN; /* the others must beat the default by the margin */
      *win_ms = ms;
      continue;
    }
    if (ms >= 0 && !led[family]) { /* the family's first timed candidate */
      led[family] = 1;
      pruned[family] = ms > TUNE_PRUNE * q->product_best_ms && !q->ctx->tune_test_no_prune;
    }
    if (ms >= 0 && ms < q->product_best_ms) q->product_best_ms = ms;
    if (ms >= 0 && ms < best) {
      best = ms;
      win->prod[product] = c[i].v;
      win->from_image[product] = c[i].from_image;
      if (product == CONV_ADJ) win->adj_direct = c[i].direct, win->adj_subpix = c[i].subpix;
      if (product == CONV_FWD) win->fwd_wino = c[i].wino ? 1 : -1;
      if (product == CONV_FILT) win->filt_wino = c[i].wino ? 1 : -1;
      if (product == CONV_ADJ) win->adj_wino = c[i].wino ? 1 : -1;
    }
  }
  if (win->prod[product].backend != CLGAN_GEMM_AUTO ||
      (product == CONV_ADJ && (convt_direct_params_on(&win->adj_direct) || win->adj_subpix >= 0 ||
                               win->adj_wino > 0)) ||
      (product == CONV_FWD && win->fwd_wino > 0) || (product == CONV_FILT && win->filt_wino > 0)) {
    clgan_status st = confirm(q, product, win, win_ms, def_ms);
    if (st != CLGAN_OK) return st;
  }
  *done = 1;
  return CLGAN_OK;
}

/* The forward's and the weight gradient's winners, each confirmed alone,
 * confirmed together (CONV_PAIR) against the default pair, which may share
 * the image's copy or transform that each product alone pays for. Of the
 * pairs with both winners and (where both are new) with either alone, the
 * one that beats the default pair by TUNE_MARGIN most stays, else both
 * products go back to the default (a product back on the default shows the
 * default's time). On a 2-core Zen 4, `gray32`'s 32->64 forward by
 * im2col's GEMM and its 64->128 weight gradient by the own GEMM, each
 * faster alone than its Winograd, made the step slower. */
static clgan_status confirm_pair(search *q, conv_variants *win, double win_ms[CONV_PRODUCTS],
                                 const double def_ms[CONV_PRODUCTS]) {
  clgan_conv_plan both;
  if (conv_plan_with(q->ctx, q->s, win, &both) != CLGAN_OK) return CLGAN_OK;
  const int fwd_new = !same_product(&both, &q->def, CONV_FWD);
  const int filt_new = !same_product(&both, &q->def, CONV_FILT);
  if (!fwd_new && !filt_new) return CLGAN_OK;
  conv_variants combo[3] = {*win, *win, *win};
  revert(&combo[1], CONV_FILT); /* the forward's winner alone */
  revert(&combo[2], CONV_FWD);  /* the weight gradient's */
  const int tried[3] = {1, fwd_new && filt_new, fwd_new && filt_new};
  size_t kept = clgan_conv_kept_floats(&q->def);
  for (int i = 0; i < 3; i++) {
    clgan_conv_plan p;
    if (tried[i] && conv_plan_with(q->ctx, q->s, &combo[i], &p) == CLGAN_OK &&
        clgan_conv_kept_floats(&p) > kept)
      kept = clgan_conv_kept_floats(&p);
  }
  clgan_status st = kept ? clgan_buf_alloc(q->ctx, kept, &q->b.kept) : CLGAN_OK;
  double best = TUNE_MARGIN;
  int pick = -1;
  for (int i = 0; i < 3 && st == CLGAN_OK; i++) {
    static const char *const names[] = {"both winners", "the forward's winner",
                                        "the weight gradient's winner"};
    double ratio = 1.0, ms = -1, def_pair_ms;
    if (!tried[i]) continue;
    st = alternate(q, &combo[i], CONV_PAIR, &ratio, &ms, &def_pair_ms);
    if (q->ctx->tune_test_pair_ratio > 0) ratio = q->ctx->tune_test_pair_ratio; /* test hook */
    if (st == CLGAN_OK) report(q, CONV_PAIR, names[i], ms, ms >= 0);
    if (st == CLGAN_OK && ratio < best) best = ratio, pick = i;
  }
  clgan_buf_release(&q->b.kept);
  if (st != CLGAN_OK) return st;
  *win = combo[pick >= 0 ? pick : 1];
  if (pick < 0) revert(win, CONV_FWD);
  if (pick < 0 || pick == 1) win_ms[CONV_FILT] = def_ms[CONV_FILT];
  if (pick < 0 || pick == 2) win_ms[CONV_FWD] = def_ms[CONV_FWD];
  return CLGAN_OK;
}

/* The search over every product of q's shape, on a profiling queue of the
 * context (the context's own is restored, and its workspace shrunk back,
 * afterwards). *done = 1 when every product finished. */
static clgan_status run_search(search *q, conv_variants *win, int *done) {
  clgan_ctx *ctx = q->ctx;
  *done = 0;
  size_t ws_before = ctx->gemm_ws_floats;
  cl_int err;
  cl_command_queue saved = ctx->queue;
  clgan_status st = clgan_ctx_finish(ctx);
  cl_command_queue tq = clCreateCommandQueue(ctx->context, ctx->dev.device,
                                             CL_QUEUE_PROFILING_ENABLE, &err);
  /* the search's launches go to a profile of its own (not the step's) */
  struct clgan_profile *prof = ctx->prof;
  ctx->prof = NULL;
  if (st == CLGAN_OK && tq) {
    ctx->queue = tq;
    if (clgan_profile_create(ctx) != CLGAN_OK) ctx->prof = NULL; /* markers or wall time */
  }
  if (st == CLGAN_OK) st = bufs_make(ctx, q->s, &q->b);
  if (st == CLGAN_OK) st = conv_plan_with(ctx, q->s, NULL, &q->def);
  int finished = st == CLGAN_OK;
  for (int i = 0; i < CONV_PRODUCTS && st == CLGAN_OK && finished; i++)
    st = search_product(q, i, win, &q->rec->winner_ms[i], &q->rec->default_ms[i], &finished);
  if (st == CLGAN_OK && finished)
    st = confirm_pair(q, win, q->rec->winner_ms, q->rec->default_ms);
  clFinish(ctx->queue);
  clgan_profile_destroy(ctx);
  ctx->queue = saved;
  ctx->prof = prof;
  if (tq) clReleaseCommandQueue(tq);
  bufs_free(&q->b);
  if (ctx->gemm_ws_floats > ws_before) {
    clgan_buf_release(&ctx->gemm_ws);
    ctx->gemm_ws_floats = 0;
    clgan_status ws = ws_before ? gemm_ws_reserve(ctx, ws_before) : CLGAN_OK;
    if (st == CLGAN_OK) st = ws;
  }
  *done = st == CLGAN_OK && finished;
  return st;
}

/* Whether the search's buffers (inputs, outputs and the whole column
 * matrix) fit comfortably: the search runs before the model's memory check,
 * and a shape too big to time keeps the defaults. */
static int search_fits(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  uint64_t col = conv_col_floats(s), most = col;
  uint64_t parts[3] = {conv_img_floats(s), conv_feat_floats(s), conv_weight_floats(s)};
  uint64_t total = col;
  for (int i = 0; i < 3; i++) {
    total += 2 * parts[i];
    if (parts[i] > most) most = parts[i];
  }
  return total * sizeof(float) <= ctx->dev.global_mem_bytes / 4 &&
         most * sizeof(float) <= ctx->dev.max_alloc_bytes;
}

/* The tuner stays out where the tuning forces a GEMM backend, a tile or the
 * mapping (benchmarks and tests of one variant), or builds kernels from a
 * source folder (kernel development: the cache keys hash the embedded
 * sources). */
static int forced(const clgan_ctx *ctx) {
  const clgan_tuning *t = &ctx->tuning;
  return t->gemm != CLGAN_GEMM_AUTO || t->gemm_tile[0] || t->conv_from_image != 0 ||
         t->kernel_dir[0];
}

/* Whether this context tuned the shape named `shape` already (a model with
 * the same shape twice, G's last layer and D's first, is retuned once). */
static int tuned_here(const clgan_tune_report *r, const char *shape) {
  for (int i = 0; i + 1 < r->nrecords; i++)
    if (r->records[i].source == 2 && strcmp(r->records[i].shape, shape) == 0) return 1;
  return 0;
}

clgan_status conv_tune(clgan_ctx *ctx, const clgan_conv_shape *s, conv_variants *out, int *have) {
  *have = 0;
  clgan_tune_report *r = &ctx->tune_report;
  clgan_tune_record scratch, *rec = r->nrecords < CLGAN_TUNE_MAX_RECORDS
                                        ? &r->records[r->nrecords++] : &scratch;
  r->nshapes++;
  memset(rec, 0, sizeof *rec);
  conv_tune_shape_name(s, rec->shape, sizeof rec->shape);
  clgan_tune_mode mode = ctx->tuning.tune;
  if (mode == CLGAN_TUNE_OFF || forced(ctx)) return CLGAN_OK;
  char key[1024];
  conv_tune_key(ctx, s, key, sizeof key);
  if ((mode != CLGAN_TUNE_RETUNE || tuned_here(r, rec->shape)) &&
      conv_tune_load(ctx, key, out, rec->winner_ms, rec->default_ms)) {
    rec->source = 1;
    r->from_cache++;
    *have = 1;
    return CLGAN_OK;
  }
  if (mode == CLGAN_TUNE_CACHED || r->seconds >= budget_s(ctx) || !search_fits(ctx, s))
    return CLGAN_OK;
  search q = {.ctx = ctx, .s = s, .t_start = now_s(), .budget = budget_s(ctx), .rec = rec};
  memcpy(q.shape, rec->shape, sizeof q.shape);
  conv_variants win = conv_variants_default();
  int done = 0;
  clgan_status st = run_search(&q, &win, &done);
  rec->seconds = now_s() - q.t_start;
  r->seconds += rec->seconds;
  r->timed += rec->timed;
  r->rejected += rec->rejected;
  r->skipped += rec->skipped;
  if (st != CLGAN_OK || !done) return CLGAN_OK; /* the defaults; tuned again next time */
  conv_tune_store(ctx, key, &win, rec->winner_ms, rec->default_ms);
  rec->source = 2;
  r->tuned++;
  *out = win;
  *have = 1;
  return CLGAN_OK;
}

void conv_tune_note(clgan_ctx *ctx, const clgan_conv_plan *p) {
  clgan_tune_report *r = &ctx->tune_report;
  if (r->nrecords == 0 || r->nshapes != r->nrecords) return; /* beyond the records kept */
  clgan_tune_record *rec = &r->records[r->nrecords - 1];
  for (int i = 0; i < CONV_PRODUCTS; i++)
    conv_tune_plan_name(p, i, rec->winner[i], sizeof rec->winner[i]);
}
