/* Differentiable augmentation (DiffAugment + ADA probability): forward and
 * backward against plain double-precision C references that use the
 * parameters the device drew (read back), finite differences, exact index
 * checks of translation and cutout, the exact adjoint, the RNG (Philox
 * known answers, host twin, determinism, distributions, probability p), the
 * plans (work-group size from the tuning, frozen contexts), and ADA: its
 * sign statistic and its device update against the host twin and a float
 * reference of the rule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/ada.h"
#include "clgan/augment.h"
#include "test_util.h"

#define BR CLGAN_AUG_OP_BRIGHTNESS
#define SAT CLGAN_AUG_OP_SATURATION
#define CON CLGAN_AUG_OP_CONTRAST
#define TRA CLGAN_AUG_OP_TRANSLATION
#define CUT CLGAN_AUG_OP_CUTOUT
#define STRIDE CLGAN_AUG_STRIDE
#define DRAWN CLGAN_AUG_P_MEAN /* the record's drawn slots come first */

typedef struct shape {
  int c, n, h, w;
} shape;

/* 1 and 3 channels (and 5: the kernels' runtime channel loop), batch 1 and
 * odd, odd and even sizes, square and not. */
static const shape shapes[] = {{1, 1, 9, 9},  {3, 3, 9, 9}, {1, 5, 16, 16}, {3, 2, 64, 64},
                               {3, 7, 16, 9}, {1, 3, 2, 3}, {3, 1, 1, 1},   {1, 2, 64, 64},
                               {5, 2, 7, 6}};
#define NSHAPES (sizeof shapes / sizeof *shapes)

static const unsigned policies[] = {CLGAN_AUG_COLOR,
                                    CLGAN_AUG_TRANSLATION,
                                    CLGAN_AUG_CUTOUT,
                                    CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT,
                                    CLGAN_AUG_COLOR | CLGAN_AUG_CUTOUT,
                                    CLGAN_AUG_ALL};
#define NPOLICIES (sizeof policies / sizeof *policies)

static unsigned rec_flags(const float *rec) { return (unsigned)rec[CLGAN_AUG_P_FLAGS]; }

/* ---- device buffers: x, y, dy, dx, work in one arena with zero guards --- */

#define GUARD 3
typedef struct aug_dev {
  shape s;
  size_t count, wf, total;
  clgan_buf arena, x, y, dy, dx, work;
  clgan_buf p;              /* [1] the probability, on the device */
  clgan_augment_plan plan;  /* of the last forward */
} aug_dev;

static aug_dev dev_make(shape s) {
  aug_dev d;
  d.s = s;
  d.count = (size_t)s.c * (size_t)s.n * (size_t)s.h * (size_t)s.w;
  d.wf = clgan_augment_work_floats(s.c, s.n, s.h, s.w);
  ck_assert_uint_eq(d.wf, (size_t)s.n * STRIDE);
  d.total = 4 * (d.count + GUARD) + d.wf + 2 * GUARD;
  d.arena = tu_upload(NULL, d.total);
  size_t off = GUARD;
  clgan_buf *slots[] = {&d.x, &d.y, &d.dy, &d.dx};
  for (int i = 0; i < 4; i++) {
    *slots[i] = clgan_buf_at(d.arena, off);
    off += d.count + GUARD;
  }
  d.work = clgan_buf_at(d.arena, off);
  d.p = tu_upload(NULL, 1);
  memset(&d.plan, 0, sizeof d.plan);
  return d;
}

/* Every float outside the five regions is still zero. */
static void dev_check_guards(const aug_dev *d) {
  float *all = tu_download(d->arena, d->total);
  size_t off = 0;
  for (int r = 0; r < 5; r++) {
    for (size_t i = 0; i < GUARD; i++)
      ck_assert_msg(all[off + i] == 0.0f, "guard %zu before region %d overwritten", i, r);
    off += GUARD + (r < 4 ? d->count : d->wf);
  }
  for (size_t i = 0; i < GUARD; i++) ck_assert_msg(all[off + i] == 0.0f, "tail guard overwritten");
  free(all);
}

static void dev_free(aug_dev *d) {
  clgan_buf_release(&d->arena);
  clgan_buf_release(&d->p);
}

/* Plans (from the context's current tuning) and runs the forward on the
 * device copy of x, with p written to the device first. */
static void dev_forward_device_x(aug_dev *d, unsigned policy, float p, uint64_t seed,
                                 uint64_t counter) {
  clgan_ctx *ctx = tu_ctx();
  TU_OK(clgan_augment_plan_make(ctx, policy, d->s.c, d->s.n, d->s.h, d->s.w, &d->plan));
  TU_OK(clgan_buf_write(ctx, d->p, &p, 1));
  TU_OK(clgan_augment_forward(ctx, &d->plan, seed, counter, d->p, d->x, d->y, d->work));
}

static void dev_forward(aug_dev *d, unsigned policy, float p, uint64_t seed, uint64_t counter,
                        const float *x) {
  TU_OK(clgan_buf_write(tu_ctx(), d->x, x, d->count));
  dev_forward_device_x(d, policy, p, seed, counter);
}

/* The backward of the last forward (its plan). */
static void dev_backward(aug_dev *d, unsigned policy, const float *dy) {
  clgan_ctx *ctx = tu_ctx();
  ck_assert_uint_eq(d->plan.policy, policy);
  TU_OK(clgan_buf_write(ctx, d->dy, dy, d->count));
  TU_OK(clgan_augment_backward(ctx, &d->plan, d->work, d->dy, d->dx));
}

static float *dev_records(aug_dev *d) {
  float *r = tu_malloc(d->wf * sizeof *r);
  TU_OK(clgan_augment_read_params(tu_ctx(), d->s.n, d->work, r));
  return r;
}

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

static void check_bitwise(const char *what, const float *a, const float *b, size_t n) {
  ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s: not bitwise equal", what);
}

/* ---- Philox and the parameter draw -------------------------------------- */

/* Random123's kat_vectors for philox4x32-10. */
START_TEST(test_philox_known_answers) {
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    clgan_philox4x32_10(kat[t], kat[t] + 4, out);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(out[i] == kat[t][6 + i], "kat %d word %d: got %08x want %08x", t, i, out[i],
                    kat[t][6 + i]);
  }
}
END_TEST

/* The device draws exactly what the host twin draws (so the device Philox
 * is Random123's), and stores the image mean for contrast. */
START_TEST(test_params_match_host) {
  static const float ps[] = {1.0f, 0.5f, 0.2f};
  for (size_t si = 0; si < NSHAPES; si++) {
    shape s = shapes[si];
    aug_dev d = dev_make(s);
    float *x = tu_malloc(d.count * sizeof *x);
    tu_fill_uniform(x, d.count, 10 + si, -1.0f, 1.0f);
    for (size_t pi = 0; pi < NPOLICIES; pi++)
      for (size_t k = 0; k < 3; k++) {
        uint64_t seed = 0x123456789abcdefULL + si, counter = (uint64_t)pi * 1000 + k + (1ULL << 33);
        dev_forward(&d, policies[pi], ps[k], seed, counter, x);
        float *recs = dev_records(&d);
        for (int b = 0; b < s.n; b++) {
          float want[STRIDE];
          const float *rec = recs + (size_t)b * STRIDE;
          clgan_augment_params_host(policies[pi], ps[k], seed, counter, b, s.h, s.w, want);
          ck_assert_msg(memcmp(rec, want, DRAWN * sizeof(float)) == 0,
                        "shape %zu policy %u p %g image %d: device record differs from host", si,
                        policies[pi], (double)ps[k], b);
          double m = 0;
          size_t hw = (size_t)s.h * s.w;
          for (int ch = 0; ch < s.c; ch++)
            for (size_t q = 0; q < hw; q++) m += x[((size_t)ch * s.n + b) * hw + q];
          m /= (double)(s.c * hw);
          if (rec_flags(rec) & CON)
            ck_assert_msg(fabs(rec[CLGAN_AUG_P_MEAN] - m) <= 1e-6 + 1e-5 * fabs(m),
                          "image mean %g, want %g", (double)rec[CLGAN_AUG_P_MEAN], m);
          else
            ck_assert_float_eq(rec[CLGAN_AUG_P_MEAN], 0.0f);
          ck_assert_float_eq(rec[CLGAN_AUG_P_GRAD_MEAN], 0.0f);
        }
        free(recs);
      }
    dev_check_guards(&d);
    free(x);
    dev_free(&d);
  }
}
END_TEST

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

/* p = 0 (or an empty policy) is the identity, bitwise, forward and back. */
START_TEST(test_p0_identity) {
  for (size_t si = 0; si < NSHAPES; si++) {
    shape s = shapes[si];
    aug_dev d = dev_make(s);
    size_t n = d.count;
    float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
    tu_fill_uniform(x, n, 70 + si, -1.0f, 1.0f);
    tu_fill_uniform(dy, n, 80 + si, -1.0f, 1.0f);
    x[0] = -0.0f, dy[0] = -0.0f; /* bit for bit: not even -0 + 0 */
    for (int variant = 0; variant < 2; variant++) {
      unsigned pol = variant ? 0u : (unsigned)CLGAN_AUG_ALL;
      float p = variant ? 1.0f : 0.0f;
      dev_forward(&d, pol, p, 3, 4, x);
      dev_backward(&d, pol, dy);
      float *recs = dev_records(&d), *y = tu_download(d.y, n), *dx = tu_download(d.dx, n);
      check_bitwise("identity forward", y, x, n);
      check_bitwise("identity backward", dx, dy, n);
      for (int b = 0; b < s.n; b++) {
        const float *rec = recs + (size_t)b * STRIDE;
        ck_assert_uint_eq(rec_flags(rec), 0);
        ck_assert(rec[CLGAN_AUG_P_BRIGHTNESS] == 0.0f && rec[CLGAN_AUG_P_SATURATION] == 1.0f &&
                  rec[CLGAN_AUG_P_CONTRAST] == 1.0f && rec[CLGAN_AUG_P_SHIFT_H] == 0.0f &&
                  rec[CLGAN_AUG_P_SHIFT_W] == 0.0f);
      }
      free(recs), free(y), free(dx);
    }
    free(x), free(dy);
    dev_free(&d);
  }
}
END_TEST

/* p = 1 applies every op of the policy to every image, and only those. */
START_TEST(test_p1_applies_all) {
  shape s = {1, 64, 8, 8};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  static const unsigned want[8] = {0, BR | SAT | CON, TRA, BR | SAT | CON | TRA, CUT,
                                   BR | SAT | CON | CUT, TRA | CUT, 31};
  for (unsigned pol = 0; pol < 8; pol++) {
    dev_forward(&d, pol, 1.0f, 11, pol, x);
    float *recs = dev_records(&d);
    for (int b = 0; b < s.n; b++) ck_assert_uint_eq(rec_flags(recs + b * STRIDE), want[pol]);
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

/* Intermediate p: each op applied to about p of the images, independently. */
START_TEST(test_probability) {
  static const float ps[] = {0.05f, 0.3f, 0.7f};
  shape s = {1, 4000, 4, 4};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  for (size_t k = 0; k < 3; k++) {
    float p = ps[k];
    dev_forward(&d, CLGAN_AUG_ALL, p, 2024, 500 + k, x);
    float *recs = dev_records(&d);
    int count[5] = {0}, both = 0;
    for (int b = 0; b < s.n; b++) {
      unsigned f = rec_flags(recs + (size_t)b * STRIDE);
      for (int op = 0; op < 5; op++) count[op] += (f >> op) & 1;
      both += (f & BR) && (f & CUT);
    }
    double sd = sqrt(p * (1.0 - p) / s.n);
    for (int op = 0; op < 5; op++) {
      double frac = (double)count[op] / s.n;
      ck_assert_msg(fabs(frac - p) < 5 * sd, "p %g: op %d applied to %.4f of the images", (double)p,
                    op, frac);
    }
    double p2 = (double)p * p, sd2 = sqrt(p2 * (1 - p2) / s.n);
    ck_assert_msg(fabs((double)both / s.n - p2) < 5 * sd2 + 1e-3,
                  "p %g: brightness and cutout together on %.4f, want %.4f", (double)p,
                  (double)both / s.n, p2);
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

/* Parameter ranges and distributions (p = 1, 4096 images), odd and even. */
START_TEST(test_param_distributions) {
  static const int sizes[] = {16, 9, 64};
  for (size_t si = 0; si < 3; si++) {
    int hsz = sizes[si];
    shape s = {1, 4096, hsz, hsz};
    aug_dev d = dev_make(s);
    float *x = tu_malloc(d.count * sizeof *x);
    dev_forward(&d, CLGAN_AUG_ALL, 1.0f, 31337, si, x);
    float *recs = dev_records(&d);
    int sh = (hsz + 4) / 8, cs = (hsz + 1) / 2, nco = hsz + 1 - cs % 2;
    int *shift_hits = tu_malloc((size_t)(2 * sh + 1) * 2 * sizeof(int));
    int *cut_hits = tu_malloc((size_t)nco * 2 * sizeof(int));
    double mb = 0, ms = 0, mk = 0;
    for (int b = 0; b < s.n; b++) {
      const float *r = recs + (size_t)b * STRIDE;
      float bb = r[CLGAN_AUG_P_BRIGHTNESS], sv = r[CLGAN_AUG_P_SATURATION],
            kv = r[CLGAN_AUG_P_CONTRAST];
      ck_assert_msg(bb >= -0.5f && bb < 0.5f, "brightness %g", (double)bb);
      ck_assert_msg(sv >= 0.0f && sv < 2.0f, "saturation %g", (double)sv);
      ck_assert_msg(kv >= 0.5f && kv < 1.5f, "contrast %g", (double)kv);
      mb += bb, ms += sv, mk += kv;
      for (int a = 0; a < 2; a++) {
        int v = (int)r[CLGAN_AUG_P_SHIFT_H + a];
        ck_assert_msg(v >= -sh && v <= sh, "shift %d outside +-%d", v, sh);
        ck_assert(r[CLGAN_AUG_P_SHIFT_H + a] == (float)v);
        shift_hits[a * (2 * sh + 1) + v + sh]++;
        int o = (int)r[CLGAN_AUG_P_CUT_H + a];
        ck_assert_msg(o >= 0 && o < nco, "cutout offset %d outside [0, %d)", o, nco);
        cut_hits[a * nco + o]++;
      }
    }
    /* uniform means: sd of a mean of 4096 U(0,1) is 0.0045 (x2 for width 2) */
    ck_assert_msg(fabs(mb / s.n) < 0.025, "brightness mean %g", mb / s.n);
    ck_assert_msg(fabs(ms / s.n - 1.0) < 0.05, "saturation mean %g", ms / s.n);
    ck_assert_msg(fabs(mk / s.n - 1.0) < 0.025, "contrast mean %g", mk / s.n);
    for (int i = 0; i < 2 * (2 * sh + 1); i++)
      ck_assert_msg(shift_hits[i] > 0, "shift value %d never drawn", i % (2 * sh + 1) - sh);
    for (int i = 0; i < 2 * nco; i++)
      ck_assert_msg(cut_hits[i] > 0, "cutout offset %d never drawn", i % nco);
    free(shift_hits), free(cut_hits), free(recs), free(x);
    dev_free(&d);
  }
}
END_TEST

/* Same seed and counter: bitwise the same, whatever the reduction's
 * work-group size (the context's tuning, then a new plan); another counter
 * or seed: another draw. */
START_TEST(test_determinism) {
  static const size_t locals[] = {0, 1, 4, 64};
  const clgan_tuning saved = *clgan_ctx_tuning(tu_ctx());
  shape s = {3, 5, 16, 16};
  aug_dev d = dev_make(s);
  size_t n = d.count;
  float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
  tu_fill_uniform(x, n, 90, -1.0f, 1.0f);
  tu_fill_uniform(dy, n, 91, -1.0f, 1.0f);
  float *y0 = NULL, *dx0 = NULL, *r0 = NULL;
  for (size_t li = 0; li < 4; li++)
    for (int rep = 0; rep < 2; rep++) {
      clgan_tuning t = saved;
      t.augment_local = locals[li];
      TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
      dev_forward(&d, CLGAN_AUG_ALL, 0.8f, 42, 7, x);
      ck_assert(locals[li] == 0 || d.plan.local == locals[li]);
      dev_backward(&d, CLGAN_AUG_ALL, dy);
      float *y = tu_download(d.y, n), *dx = tu_download(d.dx, n), *r = dev_records(&d);
      if (!y0) {
        y0 = y, dx0 = dx, r0 = r;
        continue;
      }
      char what[64];
      snprintf(what, sizeof what, "forward, local %zu", locals[li]);
      check_bitwise(what, y, y0, n);
      snprintf(what, sizeof what, "backward, local %zu", locals[li]);
      check_bitwise(what, dx, dx0, n);
      snprintf(what, sizeof what, "records, local %zu", locals[li]);
      check_bitwise(what, r, r0, d.wf);
      free(y), free(dx), free(r);
    }
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
  /* another counter, another seed */
  for (int v = 0; v < 2; v++) {
    dev_forward(&d, CLGAN_AUG_ALL, 0.8f, v ? 43 : 42, v ? 7 : 8, x);
    float *y = tu_download(d.y, n), *r = dev_records(&d);
    int same = 0;
    for (int b = 0; b < s.n; b++)
      same += memcmp(r + b * STRIDE, r0 + b * STRIDE, DRAWN * sizeof(float)) == 0;
    ck_assert_msg(same == 0, "%d of %d images drew the same parameters for another %s", same, s.n,
                  v ? "seed" : "counter");
    ck_assert(memcmp(y, y0, n * sizeof *y) != 0);
    free(y), free(r);
  }
  /* the draw of an image does not depend on the batch it is in */
  shape s1 = {3, 2, 16, 16};
  aug_dev d1 = dev_make(s1);
  dev_forward(&d1, CLGAN_AUG_ALL, 0.8f, 42, 7, x);
  float *r1 = dev_records(&d1);
  for (int b = 0; b < 2; b++)
    ck_assert(memcmp(r1 + b * STRIDE, r0 + b * STRIDE, DRAWN * sizeof(float)) == 0);
  free(r1);
  dev_free(&d1);
  free(y0), free(dx0), free(r0), free(x), free(dy);
  dev_free(&d);
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

/* p comes from the device: above 1 it applies everything, below 0 or NaN
 * nothing, exactly as the host twin with p clamped. */
START_TEST(test_p_from_device) {
  static const float ps[] = {1.5f, -0.1f, NAN, 0.25f};
  static const float as[] = {1.0f, 0.0f, 0.0f, 0.25f};
  shape s = {3, 16, 8, 8};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  for (int k = 0; k < 4; k++) {
    dev_forward(&d, CLGAN_AUG_ALL, ps[k], 8, 9, x);
    float *recs = dev_records(&d);
    for (int b = 0; b < s.n; b++) {
      float want[STRIDE];
      clgan_augment_params_host(CLGAN_AUG_ALL, as[k], 8, 9, b, s.h, s.w, want);
      ck_assert_msg(memcmp(recs + b * STRIDE, want, DRAWN * sizeof(float)) == 0,
                    "p %g image %d: not the record of p %g", (double)ps[k], b, (double)as[k]);
    }
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

START_TEST(test_invalid_and_parse) {
  clgan_ctx *ctx = tu_ctx();
  shape s = {1, 2, 4, 4};
  aug_dev d = dev_make(s);
  clgan_buf null = {NULL, 0};
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
}
END_TEST

int main(void) {
  Suite *s = suite_create("augment");
  TCase *tc = tcase_create("augment");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_philox_known_answers);
  tcase_add_test(tc, test_params_match_host);
  tcase_add_test(tc, test_forward_backward_reference);
  tcase_add_test(tc, test_each_op_alone);
  tcase_add_test(tc, test_finite_differences);
  tcase_add_test(tc, test_translation_cutout_exact);
  tcase_add_test(tc, test_p0_identity);
  tcase_add_test(tc, test_p1_applies_all);
  tcase_add_test(tc, test_probability);
  tcase_add_test(tc, test_param_distributions);
  tcase_add_test(tc, test_determinism);
  tcase_add_test(tc, test_plan_then_frozen);
  tcase_add_test(tc, test_plan_tuning);
  tcase_add_test(tc, test_p_from_device);
  tcase_add_test(tc, test_invalid_and_parse);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
