/* Shared by the augmentation tests (augment_dev.h). */
#include "augment_dev.h"

#include <stdlib.h>
#include <string.h>

/* 1 and 3 channels (and 5: the kernels' runtime channel loop), batch 1 and
 * odd, odd and even sizes, square and not. */
const shape shapes[] = {{1, 1, 9, 9}, {3, 3, 9, 9}, {1, 5, 16, 16}, {3, 2, 64, 64}, {3, 7, 16, 9},
                        {1, 3, 2, 3}, {3, 1, 1, 1}, {1, 2, 64, 64}, {5, 2, 7, 6}};
const size_t NSHAPES = sizeof shapes / sizeof *shapes;

const unsigned policies[] = {CLGAN_AUG_COLOR,
                             CLGAN_AUG_TRANSLATION,
                             CLGAN_AUG_CUTOUT,
                             CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT,
                             CLGAN_AUG_COLOR | CLGAN_AUG_CUTOUT,
                             CLGAN_AUG_ALL};
const size_t NPOLICIES = sizeof policies / sizeof *policies;

unsigned rec_flags(const float *rec) {
  return (unsigned)rec[CLGAN_AUG_P_FLAGS];
}

void check_bitwise(const char *what, const float *a, const float *b, size_t n) {
  ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s: not bitwise equal", what);
}

/* ---- device buffers: x, y, dy, dx, work in one arena with zero guards --- */

#define GUARD 3
aug_dev dev_make(shape s) {
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

void dev_check_guards(const aug_dev *d) {
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

void dev_free(aug_dev *d) {
  clgan_buf_release(&d->arena);
  clgan_buf_release(&d->p);
}

void dev_forward_device_x(aug_dev *d, unsigned policy, float p, uint64_t seed, uint64_t counter) {
  clgan_ctx *ctx = tu_ctx();
  TU_OK(clgan_augment_plan_make(ctx, policy, d->s.c, d->s.n, d->s.h, d->s.w, &d->plan));
  TU_OK(clgan_buf_write(ctx, d->p, &p, 1));
  TU_OK(clgan_augment_forward(ctx, &d->plan, seed, counter, d->p, d->x, d->y, d->work));
}

void dev_forward(aug_dev *d, unsigned policy, float p, uint64_t seed, uint64_t counter,
                 const float *x) {
  TU_OK(clgan_buf_write(tu_ctx(), d->x, x, d->count));
  dev_forward_device_x(d, policy, p, seed, counter);
}

void dev_backward(aug_dev *d, unsigned policy, const float *dy) {
  clgan_ctx *ctx = tu_ctx();
  ck_assert_uint_eq(d->plan.policy, policy);
  TU_OK(clgan_buf_write(ctx, d->dy, dy, d->count));
  TU_OK(clgan_augment_backward(ctx, &d->plan, d->work, d->dy, d->dx));
}

float *dev_records(aug_dev *d) {
  float *r = tu_malloc(d->wf * sizeof *r);
  TU_OK(clgan_augment_read_params(tu_ctx(), d->s.n, d->work, r));
  return r;
}
