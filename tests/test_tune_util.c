/* Helpers shared by the tuner's tests: see test_tune_util.h. */
#include "test_tune_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/conv_tune.h"
#include "runtime/internal.h"
#include "test_util.h"

clgan_tuning tt_use_tuner(clgan_tune_mode mode, char *dir, size_t cap) {
  clgan_ctx *ctx = tu_ctx();
  clgan_tuning old = *clgan_ctx_tuning(ctx), t = old;
  snprintf(dir, cap, "/tmp/clgan-test-tune-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  t.tune = mode;
  t.tune_budget_s = 600;
  snprintf(t.tune_dir, sizeof t.tune_dir, "%s", dir);
  TU_OK(clgan_ctx_set_tuning(ctx, &t));
  return old;
}

void tt_set_mode(clgan_tune_mode mode) {
  clgan_tuning t = *clgan_ctx_tuning(tu_ctx());
  t.tune = mode;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
}

void tt_restore(const clgan_tuning *old, const char *dir) {
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), old));
  tu_remove_tree(dir);
}

clgan_tune_record tt_last_record(void) {
  clgan_tune_report r;
  clgan_ctx_tune_report(tu_ctx(), &r);
  ck_assert_int_gt(r.nrecords, 0);
  return r.records[r.nrecords - 1];
}

clgan_conv_shape tt_record_shape(const clgan_tune_record *r) {
  clgan_conv_shape s;
  ck_assert_int_eq(sscanf(r->shape, "conv %d->%d k%d s%d p%d %dx%d->%dx%d n%d", &s.cin, &s.cout,
                          &s.k, &s.stride, &s.pad, &s.h, &s.w, &s.ho, &s.wo, &s.n),
                   10);
  return s;
}

clgan_dcgan_config tt_small_config(int channels, int batch) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 32;
  cfg.channels = channels;
  cfg.nz = 16;
  cfg.ngf = cfg.ndf = 8;
  cfg.batch = batch;
  return cfg;
}

/* Runs the steps between two counts of the context's OpenCL objects. */
static void run_steps_creating_nothing(clgan_dcgan *net, clgan_buf real, clgan_buf noise,
                                       int steps, clgan_dcgan_stats *stats) {
  clgan_ctx_counts before;
  clgan_ctx_created(tu_ctx(), &before);
  for (int step = 0; step < steps; step++) TU_OK(clgan_dcgan_step(net, real, noise, stats));
  tu_assert_created_nothing(&before, "steps");
}

tt_step_result tt_steps(const clgan_dcgan_config *cfg, int steps) {
  ck_assert_int_gt(steps, 0);
  tt_step_result r;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 7));
  /* real [channels, batch, size, size], noise [nz, batch] */
  size_t nreal = (size_t)cfg->channels * cfg->batch * cfg->image_size * cfg->image_size;
  size_t nnoise = (size_t)cfg->nz * cfg->batch;
  float *host = tu_malloc(nreal * sizeof(float));
  tu_fill_uniform(host, nreal, 11, -1, 1);
  clgan_buf real = tu_upload(host, nreal);
  tu_fill_normal(host, nnoise, 12, 0, 1);
  clgan_buf noise = tu_upload(host, nnoise);
  free(host);
  run_steps_creating_nothing(net, real, noise, steps, &r.stats);
  clgan_net nets[2] = {CLGAN_NET_G, CLGAN_NET_D};
  for (int i = 0; i < 2; i++) {
    r.floats[i] = clgan_dcgan_arena_floats(net, nets[i], CLGAN_ARENA_PARAM);
    r.params[i] = tu_malloc(r.floats[i] * sizeof(float));
    TU_OK(clgan_dcgan_arena_read(net, nets[i], CLGAN_ARENA_PARAM, r.params[i]));
  }
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(net);
  return r;
}

void tt_assert_same_step(const char *what, tt_step_result *got, const tt_step_result *want) {
  const clgan_dcgan_stats *x = &got->stats, *y = &want->stats;
  float sx[5] = {x->loss_d, x->loss_g, x->d_x, x->d_g_z1, x->d_g_z2};
  float sy[5] = {y->loss_d, y->loss_g, y->d_x, y->d_g_z1, y->d_g_z2};
  fprintf(stderr, "%s:\n", what);
  TU_ASSERT_CLOSE("losses", sx, sy, 5, 1e-4, 1e-5);
  for (int i = 0; i < 2; i++) {
    ck_assert_uint_eq(got->floats[i], want->floats[i]);
    TU_ASSERT_CLOSE(i ? "D parameters" : "G parameters", got->params[i], want->params[i],
                    want->floats[i], 1e-6, 1e-5);
  }
  tt_step_free(got);
}

void tt_step_free(tt_step_result *r) {
  for (int i = 0; i < 2; i++) free(r->params[i]), r->params[i] = NULL;
}

void tt_ref_adjoint(const clgan_conv_shape *s, const float *dy, const float *w, float *dx) {
  size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo, kk = (size_t)s->k * s->k;
  size_t nimg = (size_t)s->cin * s->n * hw;
  double *acc = tu_malloc(nimg * sizeof(double));
  memset(acc, 0, nimg * sizeof(double));
  for (int co = 0; co < s->cout; co++)
    for (int b = 0; b < s->n; b++)
      for (int oy = 0; oy < s->ho; oy++)
        for (int ox = 0; ox < s->wo; ox++) {
          double g = dy[((size_t)co * s->n + b) * ohw + (size_t)oy * s->wo + ox];
          for (int c = 0; c < s->cin; c++)
            for (int ki = 0; ki < s->k; ki++)
              for (int kj = 0; kj < s->k; kj++) {
                int y = oy * s->stride - s->pad + ki, x = ox * s->stride - s->pad + kj;
                if (y < 0 || y >= s->h || x < 0 || x >= s->w) continue;
                acc[((size_t)c * s->n + b) * hw + (size_t)y * s->w + x] +=
                    g * w[((size_t)co * s->cin + c) * kk + (size_t)ki * s->k + kj];
              }
        }
  for (size_t i = 0; i < nimg; i++) dx[i] = (float)acc[i];
  free(acc);
}

static void count_candidate(void *user, const clgan_tune_progress *p) {
  tt_candidate_count *c = user;
  if (strncmp(p->candidate, c->prefix, strlen(c->prefix)) != 0) return;
  ck_assert_str_eq(p->product, "backward data");
  if (p->valid) c->timed++;
  else c->rejected++;
}

void tt_plan_reporting(const clgan_conv_shape *s, clgan_tune_progress_fn fn, void *user) {
  clgan_ctx *ctx = tu_ctx();
  clgan_tune_progress_fn saved = ctx->tune_progress;
  void *saved_user = ctx->tune_user;
  ctx->tune_progress = fn;
  ctx->tune_user = user;
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(ctx, s, &p));
  ctx->tune_progress = saved;
  ctx->tune_user = saved_user;
}

void tt_plan_counting(const clgan_conv_shape *s, tt_candidate_count *count) {
  tt_plan_reporting(s, count_candidate, count);
}

tt_step_result tt_steps_forced(const clgan_dcgan_config *cfg, int steps, const conv_variants *cv,
                               tt_step_result *plain, clgan_tune_report *report, int *first) {
  clgan_tune_report before;
  tt_set_mode(CLGAN_TUNE_OFF);
  clgan_ctx_tune_report(tu_ctx(), &before);
  *plain = tt_steps(cfg, steps);
  clgan_ctx_tune_report(tu_ctx(), report);
  ck_assert_int_eq(report->nrecords - before.nrecords, report->nshapes - before.nshapes);
  double ms[CONV_PRODUCTS] = {1, 1, 1};
  for (int i = before.nrecords; i < report->nrecords; i++) {
    clgan_conv_shape s = tt_record_shape(&report->records[i]);
    char key[1024];
    conv_tune_key(tu_ctx(), &s, key, sizeof key);
    conv_tune_store(tu_ctx(), key, cv, ms, ms);
  }
  tt_set_mode(CLGAN_TUNE_CACHED);
  clgan_ctx_tune_report(tu_ctx(), &before);
  tt_step_result forced = tt_steps(cfg, steps);
  clgan_ctx_tune_report(tu_ctx(), report);
  ck_assert_int_gt(report->nshapes - before.nshapes, 0);
  ck_assert_int_eq(report->from_cache - before.from_cache, report->nshapes - before.nshapes);
  *first = before.nrecords;
  return forced;
}
