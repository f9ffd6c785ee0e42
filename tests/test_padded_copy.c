/* The padded copies a BatchNorm writes for the convs next to it
 * (clgan_padded_copy): every BatchNorm kernel that writes y or dx writes,
 * with a copy asked for, the same bits as without one and a copy equal to
 * its output padded with zeros (border included, over a buffer full of
 * NaN); bad copies are refused; and training steps of a model whose convs
 * read the copies give the bits of steps whose convs pad for themselves
 * (CLGAN_PADDED_COPIES=0), with fewer launches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

typedef struct copy_case {
  int c, n, h, w, pad;
} copy_case;
/* rows of whole float4s (on CPUs the walk in order, COPY_PLANES_WALK, with
 * pad 1 and 2), odd widths (rows by work-item, the scalar tail), one-pixel
 * planes */
static const copy_case copy_cases[] = {
    {3, 2, 5, 3, 1}, {2, 3, 8, 8, 1}, {2, 2, 4, 6, 2}, {4, 5, 1, 1, 1},
    {1, 2, 7, 9, 1}, {3, 2, 3, 12, 1}, {2, 3, 4, 4, 2}};
#define NCOPY ((int)(sizeof copy_cases / sizeof *copy_cases))
static const clgan_act acts[] = {CLGAN_ACT_NONE, CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU,
                                 CLGAN_ACT_TANH};
#define NACTS ((int)(sizeof acts / sizeof *acts))
/* each case on the device's work-group size (1 on CPUs), the GPUs' 256
 * and 8 (the tuning's bn_local) */
static const size_t locals[] = {0, 256, 8};

static size_t m_of(const copy_case *k) { return (size_t)k->n * k->h * k->w; }

static size_t copy_floats(const copy_case *k) {
  return (size_t)k->c * k->n * (size_t)(k->h + 2 * k->pad) * (size_t)(k->w + 2 * k->pad);
}

/* out with a border of pad zeros around each h x w plane. */
static float *padded(const float *out, const copy_case *k) {
  int hp = k->h + 2 * k->pad, wp = k->w + 2 * k->pad;
  float *p = tu_malloc(copy_floats(k) * sizeof(float));
  memset(p, 0, copy_floats(k) * sizeof(float));
  for (int pl = 0; pl < k->c * k->n; pl++)
    for (int y = 0; y < k->h; y++)
      memcpy(p + ((size_t)pl * hp + y + k->pad) * wp + k->pad,
             out + ((size_t)pl * k->h + y) * k->w, (size_t)k->w * sizeof(float));
  return p;
}

static clgan_buf nan_buf(size_t n) {
  float *h = tu_malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) h[i] = NAN;
  clgan_buf b = tu_upload(h, n);
  free(h);
  return b;
}

static float *fetch(clgan_buf b, size_t n) {
  TU_OK(clgan_ctx_finish(tu_ctx()));
  return tu_download(b, n);
}

static void assert_same_bits(const char *what, const float *got, const float *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
      ck_abort_msg("%s: element %zu is %.9g, %.9g wanted", what, i, got[i], want[i]);
}

/* Host data and device buffers of one BatchNorm layer; stats at offsets
 * in one arena as the engine keeps them. */
typedef struct layer {
  clgan_buf x, y, dy, dx, arena, gamma, beta, mean, invstd, rmean, rvar, dgamma, dbeta, sums;
  size_t cm;
} layer;

static layer layer_make(const copy_case *k, uint64_t seed) {
  layer l;
  int c = k->c;
  l.cm = (size_t)c * m_of(k);
  float *h = tu_malloc(l.cm * sizeof(float));
  tu_fill_normal(h, l.cm, seed, 0.5f, 2.0f);
  l.x = tu_upload(h, l.cm);
  tu_fill_uniform(h, l.cm, seed + 1, -1.0f, 1.0f);
  l.dy = tu_upload(h, l.cm);
  free(h);
  l.y = tu_upload(NULL, l.cm);
  l.dx = tu_upload(NULL, l.cm);
  float *a = tu_malloc(10 * (size_t)c * sizeof(float));
  tu_fill_normal(a, 2 * (size_t)c, seed + 2, 1.0f, 0.3f);     /* gamma, beta */
  for (int i = 0; i < 8 * c; i++) a[2 * c + i] = i % 2 ? 1.0f : 0.0f; /* stats, grads */
  l.arena = tu_upload(a, 10 * (size_t)c);
  free(a);
  clgan_buf *slots[] = {&l.gamma,  &l.beta,  &l.mean,   &l.invstd, &l.rmean,
                        &l.rvar,   &l.dgamma, &l.dbeta, &l.sums};
  for (int i = 0; i < 9; i++) *slots[i] = clgan_buf_at(l.arena, (size_t)i * c);
  return l;
}

static void layer_free(layer *l) {
  clgan_buf *bufs[] = {&l->x, &l->y, &l->dy, &l->dx, &l->arena};
  for (int i = 0; i < 5; i++) clgan_buf_release(bufs[i]);
}

static void set_local(size_t local) {
  clgan_tuning t = *clgan_ctx_tuning(tu_ctx());
  t.bn_local = local;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
}

/* The five kernels that write y or dx, run with or without a copy. */
enum { FWD_TRAIN, FWD_EVAL, BACKWARD, SYNC_APPLY, SYNC_DX, NKINDS };
static const char *const kind_names[NKINDS] = {"forward_train", "forward_eval", "backward",
                                               "sync_apply", "sync_dx"};

static void run_kind(int kind, const clgan_bn_plan *p, const copy_case *k, layer *l,
                     const clgan_padded_copy *copy) {
  clgan_ctx *ctx = tu_ctx();
  int c = k->c;
  size_t m = m_of(k);
  switch (kind) {
    case FWD_TRAIN:
      TU_OK(clgan_batchnorm_forward_train(ctx, p, c, m, l->x, l->gamma, l->beta, l->y, l->mean,
                                          l->invstd, l->rmean, l->rvar, 0.1f, 1e-5f, 0.2f,
                                          copy));
      break;
    case FWD_EVAL:
      TU_OK(clgan_batchnorm_forward_eval(ctx, p, c, m, l->x, l->gamma, l->beta, l->rmean,
                                         l->rvar, 1e-5f, l->y, 0.2f, copy));
      break;
    case BACKWARD:
      TU_OK(clgan_batchnorm_backward(ctx, p, c, m, l->x, l->y, l->dy, l->gamma, l->mean,
                                     l->invstd, l->dx, l->dgamma, l->dbeta, 0, 0.2f, copy));
      break;
    case SYNC_APPLY:
      TU_OK(clgan_batchnorm_sync_stats(ctx, p, c, m, l->x, l->sums));
      TU_OK(clgan_batchnorm_sync_apply(ctx, p, c, m, m, l->x, l->gamma, l->beta, l->y, l->sums,
                                       l->mean, l->invstd, l->rmean, l->rvar, 0.1f, 1e-5f, 0.2f,
                                       copy));
      break;
    default:
      TU_OK(clgan_batchnorm_sync_sums(ctx, p, c, m, l->x, l->y, l->dy, l->mean, l->invstd,
                                      l->sums, l->dgamma, l->dbeta, 0, 0.2f));
      TU_OK(clgan_batchnorm_sync_dx(ctx, p, c, m, m, l->x, l->y, l->dy, l->gamma, l->mean,
                                    l->invstd, l->sums, l->dx, 0.2f, copy));
      break;
  }
}

/* y (dx for the backward kernels) of one kernel on a fresh layer, after
 * the training forward it reads the statistics of, with or without a copy. */
static float *output_of(int kind, const clgan_bn_plan *p, const copy_case *k, uint64_t seed,
                        const clgan_padded_copy *copy) {
  layer l = layer_make(k, seed);
  run_kind(FWD_TRAIN, p, k, &l, NULL);
  run_kind(kind, p, k, &l, copy);
  float *out = fetch(kind == BACKWARD || kind == SYNC_DX ? l.dx : l.y, l.cm);
  layer_free(&l);
  return out;
}

/* Loop over (work-group size, case, activation, kernel): the output with a
 * copy is the output without one, bit for bit, and the copy is it padded. */
START_TEST(test_batchnorm_copies) {
  int li = _i / (NCOPY * NACTS * NKINDS), rest = _i % (NCOPY * NACTS * NKINDS);
  int ci = rest / (NACTS * NKINDS);
  const copy_case *k = &copy_cases[ci];
  clgan_act act = acts[rest / NKINDS % NACTS];
  int kind = rest % NKINDS;
  set_local(locals[li]);
  clgan_bn_plan p;
  TU_OK(clgan_bn_plan_make(tu_ctx(), act, &p));
  size_t cm = (size_t)k->c * m_of(k), nc = copy_floats(k);
  clgan_padded_copy copy = {nan_buf(nc + 3), k->h, k->w, k->pad};
  clgan_buf whole = copy.buf;
  copy.buf = clgan_buf_at(whole, 3);
  float *plain = output_of(kind, &p, k, 40 + (uint64_t)rest, NULL);
  float *with = output_of(kind, &p, k, 40 + (uint64_t)rest, &copy);
  float *got = fetch(copy.buf, nc), *want = padded(plain, k);
  char what[96];
  snprintf(what, sizeof what, "%s act %d case %d local %zu: output", kind_names[kind], (int)act,
           ci, locals[li]);
  assert_same_bits(what, with, plain, cm);
  snprintf(what, sizeof what, "%s act %d case %d local %zu: copy", kind_names[kind], (int)act,
           ci, locals[li]);
  assert_same_bits(what, got, want, nc);
  free(plain), free(with), free(got), free(want);
  clgan_buf_release(&whole);
  set_local(0);
}
END_TEST

/* Copies that do not fit are refused, and nothing is launched. */
START_TEST(test_bad_copies_refused) {
  const copy_case k = {2, 2, 4, 4, 1};
  clgan_bn_plan p;
  TU_OK(clgan_bn_plan_make(tu_ctx(), CLGAN_ACT_RELU, &p));
  layer l = layer_make(&k, 9);
  clgan_buf big = tu_upload(NULL, copy_floats(&k));
  clgan_ctx_activity before, after;
  clgan_ctx_activity_get(tu_ctx(), &before);
  const clgan_padded_copy bad[] = {
      {big, 3, 4, 1},                                   /* 3 x 4 planes do not tile m = 32 */
      {big, 4, 4, -1},                                  /* a negative border */
      {clgan_buf_at(big, 1), 4, 4, 1},                  /* one float short */
      {{0}, 4, 4, 1},                                   /* no buffer */
  };
  for (int i = 0; i < (int)(sizeof bad / sizeof *bad); i++) {
    clgan_padded_copy b = bad[i];
    if (i == 2) b.buf.floats = copy_floats(&k) - 1;
    clgan_status st = clgan_batchnorm_forward_train(tu_ctx(), &p, k.c, m_of(&k), l.x, l.gamma,
                                                    l.beta, l.y, l.mean, l.invstd, l.rmean,
                                                    l.rvar, 0.1f, 1e-5f, 0.2f, &b);
    ck_assert_msg(st == CLGAN_ERR_INVALID, "bad copy %d: %s", i, clgan_status_name(st));
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "batchnorm_forward_train"));
  }
  /* a copy of dx without dx */
  clgan_padded_copy ok = {big, 4, 4, 1};
  clgan_status st =
      clgan_batchnorm_backward(tu_ctx(), &p, k.c, m_of(&k), l.x, l.y, l.dy, l.gamma, l.mean,
                               l.invstd, (clgan_buf){0}, l.dgamma, l.dbeta, 0, 0.2f, &ok);
  ck_assert_int_eq(st, CLGAN_ERR_INVALID);
  clgan_ctx_activity_get(tu_ctx(), &after);
  ck_assert_int_eq(after.launches, before.launches);
  clgan_buf_release(&big);
  layer_free(&l);
}
END_TEST

/* A 1-channel 32 px model wide enough (16 channels) for the sub-pixel
 * adjoint, whose BatchNorms hand copies to both sides. */
static clgan_dcgan_config model_config(void) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 32;
  cfg.channels = 1;
  cfg.nz = 8;
  cfg.ngf = cfg.ndf = 16;
  cfg.batch = 4;
  return cfg;
}

typedef struct run_result {
  float *arena[4]; /* as arenas[] */
  float *fake;     /* G's images in evaluation mode (the eval kernel's copy) */
  long launches;   /* in the two steps */
} run_result;

/* The arenas compared: G's and D's parameters, D's gradients, G's running
 * statistics. */
static const clgan_net nets[4] = {CLGAN_NET_G, CLGAN_NET_D, CLGAN_NET_D, CLGAN_NET_G};
static const clgan_arena arenas[4] = {CLGAN_ARENA_PARAM, CLGAN_ARENA_PARAM, CLGAN_ARENA_GRAD,
                                      CLGAN_ARENA_STATS};

static run_result train_two_steps(int copies) {
  clgan_tuning saved = *clgan_ctx_tuning(tu_ctx()), t = saved;
  t.padded_copies = copies ? 0 : -1;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
  clgan_dcgan_config cfg = model_config();
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
  TU_OK(clgan_dcgan_init_weights(net, 11));
  size_t real_n = (size_t)cfg.batch * cfg.image_size * cfg.image_size, noise_n = 8 * 4;
  float *host = tu_malloc(real_n * sizeof(float));
  tu_fill_uniform(host, real_n, 5, -1.0f, 1.0f);
  clgan_buf real = tu_upload(host, real_n);
  tu_fill_normal(host, noise_n, 6, 0.0f, 1.0f);
  clgan_buf noise = tu_upload(host, noise_n);
  free(host);
  run_result r;
  clgan_ctx_activity a0, a1;
  clgan_ctx_activity_get(tu_ctx(), &a0);
  for (int step = 0; step < 2; step++) TU_OK(clgan_dcgan_step(net, real, noise, NULL));
  TU_OK(clgan_ctx_finish(tu_ctx()));
  clgan_ctx_activity_get(tu_ctx(), &a1);
  r.launches = a1.launches - a0.launches;
  for (int i = 0; i < 4; i++) {
    r.arena[i] = tu_malloc(clgan_dcgan_arena_floats(net, nets[i], arenas[i]) * sizeof(float));
    TU_OK(clgan_dcgan_arena_read(net, nets[i], arenas[i], r.arena[i]));
  }
  TU_OK(clgan_dcgan_generate(net, noise, CLGAN_BN_RUNNING));
  r.fake = fetch(clgan_dcgan_fake(net), real_n);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(net);
  return r;
}

START_TEST(test_steps_same_with_copies) {
  run_result with = train_two_steps(1), without = train_two_steps(0);
  clgan_dcgan_config cfg = model_config();
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  const char *names[4] = {"G's parameters", "D's parameters", "D's gradients",
                          "G's running statistics"};
  for (int i = 0; i < 4; i++) {
    assert_same_bits(names[i], with.arena[i], without.arena[i],
                     clgan_dcgan_arena_floats(net, nets[i], arenas[i]));
    free(with.arena[i]), free(without.arena[i]);
  }
  assert_same_bits("G's images, running statistics", with.fake, without.fake,
                   (size_t)cfg.batch * cfg.image_size * cfg.image_size);
  free(with.fake), free(without.fake);
  clgan_dcgan_destroy(net);
  /* on CPU paths every BatchNorm between two convs hands over both sides
   * (the sub-pixel adjoint and the kept image are the CPU defaults): two
   * steps of three D passes and one G pass lose pad launches */
  if (clgan_ctx_cpu_paths(tu_ctx()))
    ck_assert_msg(with.launches < without.launches, "launches %ld with copies, %ld without",
                  with.launches, without.launches);
  else
    ck_assert_int_le(with.launches, without.launches);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("padded_copy");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, test_batchnorm_copies, 0, 3 * NCOPY * NACTS * NKINDS);
  tcase_add_test(tc, test_bad_copies_refused);
  tcase_add_test(tc, test_steps_same_with_copies);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
