/* Differentiable augmentation (DiffAugment + ADA probability), the ops:
 * forward and backward against plain double-precision C references that
 * use the parameters the device drew (read back), finite differences,
 * exact index checks of translation and cutout, the exact adjoint; the
 * plans (work-group size from the tuning, frozen contexts) and arguments.
 * The draw itself: test_augment_draw.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment_dev.h"

/* ---- references (double, step by step as DiffAugment-pytorch) ---------- */

/* keep[i*w + j] = 0 inside the cutout square, built exactly as rand_cutout:
 * clamp(grid + offset - size // 2, 0, size - 1) indices set to zero. */
static void ref_cut_mask(const float *rec, int h, int w, unsigned char *keep) {
  memset(keep, 1, (size_t)h * (size_t)w);
  if (!(rec_flags(rec) & CUT)) return;
  int ch = (int)(h * 0.5 + 0.5), cw = (int)(w * 0.5 + 0.5);
  int oh = (int)rec[CLGAN_AUG_P_CUT_H], ow = (int)rec[CLGAN_AUG_P_CUT_W];
  for (int gi = 0; gi < ch; gi++)
    for (int gj = 0; gj < cw; gj++) {
      int i = gi + oh - ch / 2, j = gj + ow - cw / 2;
      i = i < 0 ? 0 : i > h - 1 ? h - 1 : i;
      j = j < 0 ? 0 : j > w - 1 ? w - 1 : j;
      keep[i * w + j] = 0;
    }
}

/* The input pixel output (i, j) reads after translation, or -1 (zero fill):
 * rand_translation's padded gather clamp(i + dh + 1, 0, h + 1) - 1. */
static int ref_source(const float *rec, int h, int w, int i, int j) {
  if (!(rec_flags(rec) & TRA)) return i * w + j;
  int pi = i + (int)rec[CLGAN_AUG_P_SHIFT_H] + 1, pj = j + (int)rec[CLGAN_AUG_P_SHIFT_W] + 1;
  pi = pi < 0 ? 0 : pi > h + 1 ? h + 1 : pi;
  pj = pj < 0 ? 0 : pj > w + 1 ? w + 1 : pj;
  if (pi == 0 || pi == h + 1 || pj == 0 || pj == w + 1) return -1;
  return (pi - 1) * w + (pj - 1);
}

static void ref_forward(shape s, const float *recs, const float *x, double *y) {
  int c = s.c, h = s.h, w = s.w;
  size_t hw = (size_t)h * w, plane = (size_t)s.n * hw;
  double *t = tu_malloc((size_t)c * hw * sizeof *t), *u = tu_malloc((size_t)c * hw * sizeof *u);
  unsigned char *keep = tu_malloc(hw);
  for (int b = 0; b < s.n; b++) {
    const float *rec = recs + (size_t)b * STRIDE;
    unsigned f = rec_flags(rec);
    for (int ch = 0; ch < c; ch++)
      for (size_t q = 0; q < hw; q++) t[ch * hw + q] = x[ch * plane + b * hw + q];
    if (f & BR)
      for (size_t i = 0; i < c * hw; i++) t[i] += rec[CLGAN_AUG_P_BRIGHTNESS];
    if (f & SAT)
      for (size_t q = 0; q < hw; q++) {
        double m = 0;
        for (int ch = 0; ch < c; ch++) m += t[ch * hw + q];
        m /= c;
        for (int ch = 0; ch < c; ch++)
          t[ch * hw + q] = (t[ch * hw + q] - m) * rec[CLGAN_AUG_P_SATURATION] + m;
      }
    if (f & CON) {
      double m = 0;
      for (size_t i = 0; i < c * hw; i++) m += t[i];
      m /= (double)(c * hw);
      for (size_t i = 0; i < c * hw; i++) t[i] = (t[i] - m) * rec[CLGAN_AUG_P_CONTRAST] + m;
    }
    ref_cut_mask(rec, h, w, keep);
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) {
        int src = ref_source(rec, h, w, i, j);
        for (int ch = 0; ch < c; ch++)
          u[ch * hw + i * w + j] = src < 0 || !keep[i * w + j] ? 0.0 : t[ch * hw + src];
      }
    for (int ch = 0; ch < c; ch++)
      for (size_t q = 0; q < hw; q++) y[ch * plane + b * hw + q] = u[ch * hw + q];
  }
  free(t), free(u), free(keep);
}

/* The adjoint, step by step in reverse: mask, translation as a scatter of
 * the forward's gather, contrast, saturation; brightness passes. */
static void ref_backward(shape s, const float *recs, const float *dy, double *dx) {
  int c = s.c, h = s.h, w = s.w;
  size_t hw = (size_t)h * w, plane = (size_t)s.n * hw;
  double *t = tu_malloc((size_t)c * hw * sizeof *t);
  unsigned char *keep = tu_malloc(hw);
  for (int b = 0; b < s.n; b++) {
    const float *rec = recs + (size_t)b * STRIDE;
    unsigned f = rec_flags(rec);
    memset(t, 0, (size_t)c * hw * sizeof *t);
    ref_cut_mask(rec, h, w, keep);
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) {
        int src = ref_source(rec, h, w, i, j);
        if (src < 0 || !keep[i * w + j]) continue;
        for (int ch = 0; ch < c; ch++) t[ch * hw + src] += dy[ch * plane + b * hw + i * w + j];
      }
    if (f & CON) {
      double m = 0, k = rec[CLGAN_AUG_P_CONTRAST];
      for (size_t i = 0; i < c * hw; i++) m += t[i];
      m /= (double)(c * hw);
      for (size_t i = 0; i < c * hw; i++) t[i] = k * t[i] + (1 - k) * m;
    }
    if (f & SAT) {
      double sv = rec[CLGAN_AUG_P_SATURATION];
      for (size_t q = 0; q < hw; q++) {
        double m = 0;
        for (int ch = 0; ch < c; ch++) m += t[ch * hw + q];
        m /= c;
        for (int ch = 0; ch < c; ch++) t[ch * hw + q] = sv * t[ch * hw + q] + (1 - sv) * m;
      }
    }
    for (int ch = 0; ch < c; ch++)
      for (size_t q = 0; q < hw; q++) dx[ch * plane + b * hw + q] = t[ch * hw + q];
  }
  free(t), free(keep);
}

static float *to_float(const double *x, size_t n) {
  float *f = tu_malloc(n * sizeof *f);
  for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}

/* ---- forward and backward against the references ------------------------ */

/* Every shape x policy x p: y and dx against the double references using
 * the drawn records; the adjoint identity <L x, r> = <x, L^T r> with
 * L x = aug(x) - aug(0) (aug is affine). */
START_TEST(test_forward_backward_reference) {
  static const float ps[] = {1.0f, 0.5f};
  for (size_t si = 0; si < NSHAPES; si++) {
    shape s = shapes[si];
    aug_dev d = dev_make(s);
    size_t n = d.count;
    float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
    float *zero = tu_malloc(n * sizeof *zero);
    double *yr = tu_malloc(n * sizeof *yr), *dxr = tu_malloc(n * sizeof *dxr);
    tu_fill_uniform(x, n, 20 + si, -1.0f, 1.0f);
    tu_fill_uniform(dy, n, 30 + si, -1.0f, 1.0f);
    for (size_t pi = 0; pi < NPOLICIES; pi++)
      for (size_t k = 0; k < 2; k++) {
        unsigned pol = policies[pi];
        char what[128];
        snprintf(what, sizeof what, "c%d n%d %dx%d policy %u p %g", s.c, s.n, s.h, s.w, pol,
                 (double)ps[k]);
        uint64_t seed = 77, counter = si * 100 + pi * 10 + k;
        dev_forward(&d, pol, ps[k], seed, counter, x);
        dev_backward(&d, pol, dy);
        float *recs = dev_records(&d), *y = tu_download(d.y, n), *dx = tu_download(d.dx, n);
        ref_forward(s, recs, x, yr);
        ref_backward(s, recs, dy, dxr);
        float *yw = to_float(yr, n), *dxw = to_float(dxr, n);
        char w2[160];
        snprintf(w2, sizeof w2, "forward %s", what);
        TU_ASSERT_CLOSE(w2, y, yw, n, 1e-5, 1e-5);
        snprintf(w2, sizeof w2, "backward %s", what);
        TU_ASSERT_CLOSE(w2, dx, dxw, n, 1e-5, 1e-5);
        /* GRAD_MEAN is the mean of the gradient at contrast's output */
        for (int b = 0; b < s.n; b++)
          if (!(rec_flags(recs + b * STRIDE) & CON))
            ck_assert_float_eq(recs[b * STRIDE + CLGAN_AUG_P_GRAD_MEAN], 0.0f);
        /* adjoint identity, with the device's own outputs */
        dev_forward(&d, pol, ps[k], seed, counter, zero);
        float *y0 = tu_download(d.y, n);
        double lhs = 0, rhs = 0, mag = 0;
        for (size_t i = 0; i < n; i++) {
          lhs += ((double)y[i] - y0[i]) * dy[i];
          rhs += (double)x[i] * dx[i];
          mag += fabs(((double)y[i] - y0[i]) * dy[i]) + fabs((double)x[i] * dx[i]);
        }
        ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * mag + 1e-6, "%s: <Lx, r> = %.9g, <x, L^T r> = %.9g",
                      what, lhs, rhs);
        free(recs), free(y), free(dx), free(yw), free(dxw), free(y0);
      }
    dev_check_guards(&d);
    free(x), free(dy), free(zero), free(yr), free(dxr);
    dev_free(&d);
  }
}
END_TEST

/* Each op alone: with p = 0.5 over 512 images every single-op combination
 * occurs (and every other); each image matches the references. */
START_TEST(test_each_op_alone) {
  shape s = {3, 512, 9, 9};
  aug_dev d = dev_make(s);
  size_t n = d.count;
  float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
  double *yr = tu_malloc(n * sizeof *yr), *dxr = tu_malloc(n * sizeof *dxr);
  tu_fill_uniform(x, n, 41, -1.0f, 1.0f);
  tu_fill_uniform(dy, n, 42, -1.0f, 1.0f);
  dev_forward(&d, CLGAN_AUG_ALL, 0.5f, 5, 6, x);
  dev_backward(&d, CLGAN_AUG_ALL, dy);
  float *recs = dev_records(&d), *y = tu_download(d.y, n), *dx = tu_download(d.dx, n);
  int seen[32] = {0};
  for (int b = 0; b < s.n; b++) seen[rec_flags(recs + b * STRIDE)]++;
  for (int op = 0; op < 5; op++)
    ck_assert_msg(seen[1 << op] > 0, "no image with op %d alone", op);
  ck_assert_int_gt(seen[0], 0);
  ck_assert_int_gt(seen[31], 0);
  ref_forward(s, recs, x, yr);
  ref_backward(s, recs, dy, dxr);
  float *yw = to_float(yr, n), *dxw = to_float(dxr, n);
  TU_ASSERT_CLOSE("forward, mixed ops", y, yw, n, 1e-5, 1e-5);
  TU_ASSERT_CLOSE("backward, mixed ops", dx, dxw, n, 1e-5, 1e-5);
  free(recs), free(y), free(dx), free(yw), free(dxw), free(x), free(dy), free(yr), free(dxr);
  dev_free(&d);
}
END_TEST

/* Device backward vs central differences of L(x) = sum(aug(x) * r) taken
 * through the device forward (same seed and counter, so the same draw). */
START_TEST(test_finite_differences) {
  static const struct {
    shape s;
    unsigned policy;
    float p;
  } cases[] = {
      {{3, 2, 9, 9}, CLGAN_AUG_COLOR, 1.0f},  /* brightness + saturation + contrast */
      {{3, 5, 5, 5}, CLGAN_AUG_COLOR, 0.5f},  /* their subsets, each op alone */
      {{1, 3, 9, 9}, CLGAN_AUG_COLOR, 1.0f},  /* one channel */
      {{3, 2, 9, 9}, CLGAN_AUG_ALL, 1.0f},    /* the whole chain */
      {{3, 3, 8, 7}, CLGAN_AUG_ALL, 0.6f},
  };
  clgan_ctx *ctx = tu_ctx();
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    shape s = cases[ci].s;
    aug_dev d = dev_make(s);
    size_t n = d.count;
    float *x = tu_malloc(n * sizeof *x), *r = tu_malloc(n * sizeof *r);
    float *fd = tu_malloc(n * sizeof *fd), *y = tu_malloc(n * sizeof *y);
    tu_fill_uniform(x, n, 50 + ci, -1.0f, 1.0f);
    tu_fill_uniform(r, n, 60 + ci, -1.0f, 1.0f);
    dev_forward(&d, cases[ci].policy, cases[ci].p, 9, ci, x);
    dev_backward(&d, cases[ci].policy, r);
    float *dx = tu_download(d.dx, n), *recs = dev_records(&d);
    const float hstep = 1e-2f;
    for (size_t i = 0; i < n; i++) {
      double l[2];
      for (int sgn = 0; sgn < 2; sgn++) {
        float xi = x[i];
        x[i] = xi + (sgn ? -hstep : hstep);
        TU_OK(clgan_buf_write(ctx, clgan_buf_at(d.x, i), x + i, 1));
        x[i] = xi;
        dev_forward_device_x(&d, cases[ci].policy, cases[ci].p, 9, ci);
        TU_OK(clgan_buf_read(ctx, d.y, y, n));
        l[sgn] = 0;
        for (size_t j = 0; j < n; j++) l[sgn] += (double)y[j] * r[j];
      }
      TU_OK(clgan_buf_write(ctx, clgan_buf_at(d.x, i), x + i, 1));
      fd[i] = (float)((l[0] - l[1]) / (2.0 * hstep));
    }
    float *recs2 = dev_records(&d);
    for (int b = 0; b < s.n; b++)
      ck_assert_msg(memcmp(recs + b * STRIDE, recs2 + b * STRIDE, DRAWN * sizeof(float)) == 0,
                    "the draw changed between calls with the same seed and counter");
    char what[96];
    snprintf(what, sizeof what, "backward vs finite differences, case %zu", ci);
    TU_ASSERT_CLOSE(what, dx, fd, n, 1e-3, 5e-4);
    free(x), free(r), free(fd), free(y), free(dx), free(recs), free(recs2);
    dev_free(&d);
  }
}
END_TEST

/* Translation and cutout move values, never compute them: with distinct
 * pixel values each output is exactly its source pixel or 0, and the
 * backward puts each gradient exactly where its output read from. */
START_TEST(test_translation_cutout_exact) {
  static const float ps[] = {1.0f, 0.5f};
  for (size_t si = 0; si < NSHAPES; si++)
    for (size_t k = 0; k < 2; k++) {
      shape s = shapes[si];
      aug_dev d = dev_make(s);
      size_t n = d.count, hw = (size_t)s.h * s.w, plane = (size_t)s.n * hw;
      float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
      float *ye = tu_malloc(n * sizeof *ye), *dxe = tu_malloc(n * sizeof *dxe); /* zeroed */
      for (size_t i = 0; i < n; i++) x[i] = (float)(i + 1), dy[i] = -(float)(2 * i + 3);
      unsigned pol = CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT;
      dev_forward(&d, pol, ps[k], 1234, 99 + si, x);
      dev_backward(&d, pol, dy);
      float *recs = dev_records(&d), *y = tu_download(d.y, n), *dx = tu_download(d.dx, n);
      unsigned char *keep = tu_malloc(hw);
      int sh = (int)(s.h * 0.125 + 0.5), sw = (int)(s.w * 0.125 + 0.5);
      int ch = (int)(s.h * 0.5 + 0.5), cw = (int)(s.w * 0.5 + 0.5);
      for (int b = 0; b < s.n; b++) {
        const float *rec = recs + (size_t)b * STRIDE;
        int dh = (int)rec[CLGAN_AUG_P_SHIFT_H], dw = (int)rec[CLGAN_AUG_P_SHIFT_W];
        int oh = (int)rec[CLGAN_AUG_P_CUT_H], ow = (int)rec[CLGAN_AUG_P_CUT_W];
        ck_assert(dh >= -sh && dh <= sh && dw >= -sw && dw <= sw);
        ck_assert(oh >= 0 && oh < s.h + 1 - ch % 2 && ow >= 0 && ow < s.w + 1 - cw % 2);
        ck_assert((rec_flags(rec) & ~(unsigned)(TRA | CUT)) == 0);
        if (ps[k] == 1.0f) ck_assert_uint_eq(rec_flags(rec), TRA | CUT);
        ref_cut_mask(rec, s.h, s.w, keep);
        size_t cut = 0;
        for (size_t q = 0; q < hw; q++) cut += !keep[q];
        if (rec_flags(rec) & CUT) {
          /* the square clipped to the image */
          int r0 = oh - ch / 2, c0 = ow - cw / 2;
          int rows = (r0 + ch < s.h ? r0 + ch : s.h) - (r0 > 0 ? r0 : 0);
          int cols = (c0 + cw < s.w ? c0 + cw : s.w) - (c0 > 0 ? c0 : 0);
          ck_assert_uint_eq(cut, (size_t)rows * (size_t)cols);
        } else {
          ck_assert_uint_eq(cut, 0);
        }
        for (int i = 0; i < s.h; i++)
          for (int j = 0; j < s.w; j++) {
            int src = ref_source(rec, s.h, s.w, i, j);
            int kept = src >= 0 && keep[i * s.w + j];
            for (int c = 0; c < s.c; c++) {
              size_t base = (size_t)c * plane + (size_t)b * hw;
              ye[base + (size_t)(i * s.w + j)] = kept ? x[base + (size_t)src] : 0.0f;
              if (kept) dxe[base + (size_t)src] = dy[base + (size_t)(i * s.w + j)];
            }
          }
      }
      char what[96];
      snprintf(what, sizeof what, "translation+cutout forward c%d n%d %dx%d p %g", s.c, s.n, s.h,
               s.w, (double)ps[k]);
      check_bitwise(what, y, ye, n);
      snprintf(what, sizeof what, "translation+cutout backward c%d n%d %dx%d p %g", s.c, s.n, s.h,
               s.w, (double)ps[k]);
      check_bitwise(what, dx, dxe, n);
      /* the exact adjoint: integer-valued sums, exact in double */
      double lhs = 0, rhs = 0;
      for (size_t i = 0; i < n; i++) lhs += (double)y[i] * dy[i], rhs += (double)x[i] * dx[i];
      ck_assert_msg(lhs == rhs, "<aug x, dy> = %.17g != <x, aug^T dy> = %.17g", lhs, rhs);
      dev_check_guards(&d);
      free(x), free(dy), free(ye), free(dxe), free(recs), free(y), free(dx), free(keep);
      dev_free(&d);
    }
}
END_TEST

/* ---- plans and arguments ------------------------------------------------------ */

/* After a plan, a frozen context (a planned training step) runs its forward
 * and backward without building; a plan for another channel count is
 * refused, not built. */
START_TEST(test_plan_then_frozen) {
  clgan_ctx *ctx = tu_ctx();
  shape s = {2, 3, 8, 8}; /* c = 2: built by no other test */
  aug_dev d = dev_make(s);
  float p = 0.5f;
  TU_OK(clgan_buf_write(ctx, d.p, &p, 1));
  clgan_augment_plan plan, other;
  TU_OK(clgan_augment_plan_make(ctx, CLGAN_AUG_ALL, 2, 3, 8, 8, &plan));
  ck_assert(plan.params && plan.forward && plan.gather && plan.reduce && plan.color);
  ck_assert(plan.local >= 1 && plan.local <= 64 && (plan.local & (plan.local - 1)) == 0);
  clgan_ctx_freeze(ctx, 1);
  TU_OK(clgan_augment_forward(ctx, &plan, 1, 2, d.p, d.x, d.y, d.work));
  TU_OK(clgan_augment_backward(ctx, &plan, d.work, d.dy, d.dx));
  /* a plan of the same kernels needs no build; c = 4 would */
  TU_OK(clgan_augment_plan_make(ctx, CLGAN_AUG_TRANSLATION, 2, 1, 5, 5, &other));
  ck_assert_ptr_null(other.reduce);
  ck_assert_int_eq(clgan_augment_plan_make(ctx, CLGAN_AUG_ALL, 4, 1, 8, 8, &other),
                   CLGAN_ERR_FROZEN);
  clgan_ctx_freeze(ctx, 0);
  dev_free(&d);
}
END_TEST

/* The tuning's work-group size must be a power of two within the lanes. */
START_TEST(test_plan_tuning) {
  clgan_ctx *ctx = tu_ctx();
  const clgan_tuning saved = *clgan_ctx_tuning(ctx);
  static const size_t bad[] = {3, 128};
  clgan_augment_plan plan;
  for (int i = 0; i < 2; i++) {
    clgan_tuning t = saved;
    t.augment_local = bad[i];
    TU_OK(clgan_ctx_set_tuning(ctx, &t));
    ck_assert_int_eq(clgan_augment_plan_make(ctx, CLGAN_AUG_ALL, 3, 2, 8, 8, &plan),
                     CLGAN_ERR_INVALID);
    ck_assert_msg(strstr(clgan_last_error(), "power of two") != NULL, "%s", clgan_last_error());
  }
  clgan_tuning t = saved;
  t.augment_local = 2;
  TU_OK(clgan_ctx_set_tuning(ctx, &t));
  TU_OK(clgan_augment_plan_make(ctx, CLGAN_AUG_ALL, 3, 2, 8, 8, &plan));
  ck_assert_uint_eq(plan.local, 2);
  TU_OK(clgan_ctx_set_tuning(ctx, &saved));
}
END_TEST

START_TEST(test_invalid_and_parse) {
  clgan_ctx *ctx = tu_ctx();
  shape s = {1, 2, 4, 4};
  aug_dev d = dev_make(s);
  clgan_buf null = {0};
  clgan_augment_plan pl, none = {0};
  ck_assert_int_eq(clgan_augment_plan_make(ctx, 8, 1, 2, 4, 4, &pl), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_plan_make(ctx, 7, 0, 2, 4, 4, &pl), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_plan_make(ctx, 7, 1, 2, -4, 4, &pl), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_plan_make(ctx, 7, 3, 1 << 20, 64, 64, &pl), CLGAN_ERR_INVALID);
  TU_OK(clgan_augment_plan_make(ctx, 7, 1, 2, 4, 4, &pl));
  ck_assert_int_eq(clgan_augment_forward(ctx, &none, 0, 0, d.p, d.x, d.y, d.work),
                   CLGAN_ERR_INVALID); /* no plan */
  ck_assert_int_eq(clgan_augment_forward(ctx, &pl, 0, 0, null, d.x, d.y, d.work),
                   CLGAN_ERR_INVALID); /* no probability */
  ck_assert_int_eq(clgan_augment_forward(ctx, &pl, 0, 0, d.p, d.x, d.x, d.work),
                   CLGAN_ERR_INVALID); /* in place */
  ck_assert_int_eq(clgan_augment_forward(ctx, &pl, 0, 0, d.p, d.x, clgan_buf_at(d.x, 5), d.work),
                   CLGAN_ERR_INVALID); /* overlapping */
  ck_assert_int_eq(clgan_augment_forward(ctx, &pl, 0, 0, d.p, d.x, d.y, d.y),
                   CLGAN_ERR_INVALID); /* workspace over the output */
  ck_assert_int_eq(clgan_augment_forward(ctx, &pl, 0, 0, d.p, d.x, d.y, null), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_backward(ctx, &pl, d.work, d.dy, d.dy), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_backward(ctx, &pl, d.work, null, d.dx), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_augment_backward(ctx, &none, d.work, d.dy, d.dx), CLGAN_ERR_INVALID);
  ck_assert_uint_eq(clgan_augment_work_floats(3, 0, 4, 4), 0);
  dev_free(&d);

  unsigned pol = 99;
  TU_OK(clgan_augment_parse_policy("color,translation,cutout", &pol));
  ck_assert_uint_eq(pol, CLGAN_AUG_ALL);
  TU_OK(clgan_augment_parse_policy("cutout, colour", &pol));
  ck_assert_uint_eq(pol, CLGAN_AUG_COLOR | CLGAN_AUG_CUTOUT);
  TU_OK(clgan_augment_parse_policy("translation", &pol));
  ck_assert_uint_eq(pol, CLGAN_AUG_TRANSLATION);
  TU_OK(clgan_augment_parse_policy("", &pol));
  ck_assert_uint_eq(pol, 0);
  TU_OK(clgan_augment_parse_policy("none", &pol));
  ck_assert_uint_eq(pol, 0);
  ck_assert_int_eq(clgan_augment_parse_policy("color,flip", &pol), CLGAN_ERR_INVALID);
  ck_assert_msg(strstr(clgan_last_error(), "flip") != NULL, "%s", clgan_last_error());
  ck_assert_int_eq(clgan_augment_parse_policy("colorx", &pol), CLGAN_ERR_INVALID);
  /* format is parse's inverse, in the groups' order */
  char text[64];
  clgan_augment_format_policy(0, text, sizeof text);
  ck_assert_str_eq(text, "none");
  clgan_augment_format_policy(CLGAN_AUG_CUTOUT | CLGAN_AUG_COLOR, text, sizeof text);
  ck_assert_str_eq(text, "color,cutout");
  for (unsigned p = 0; p <= CLGAN_AUG_ALL; p++) {
    clgan_augment_format_policy(p, text, sizeof text);
    TU_OK(clgan_augment_parse_policy(text, &pol));
    ck_assert_uint_eq(pol, p);
  }
  clgan_augment_format_policy(CLGAN_AUG_ALL, text, 8); /* truncated, terminated */
  ck_assert_str_eq(text, "color,t");
}
END_TEST

int main(void) {
  Suite *s = suite_create("augment");
  TCase *tc = tcase_create("augment");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_forward_backward_reference);
  tcase_add_test(tc, test_each_op_alone);
  tcase_add_test(tc, test_finite_differences);
  tcase_add_test(tc, test_translation_cutout_exact);
  tcase_add_test(tc, test_plan_then_frozen);
  tcase_add_test(tc, test_plan_tuning);
  tcase_add_test(tc, test_invalid_and_parse);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
