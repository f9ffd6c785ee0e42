/* D's regularisers inside the training step: spectral norm against
 * PyTorch's torch.nn.utils.spectral_norm over one tutorial iteration
 * (tests/parity/sn_gray16.bin, made by make_sn_fixture.py), and the D
 * step's gradients of bCR's and LeCam's terms, through the whole of D and
 * both of bCR's branches, against finite differences of the terms the step
 * reports. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/checkpoint.h"
#include "clgan/regularize.h"
#include "clgan/safetensors.h"
#include "parity_fixture.h"
#include "test_util.h"

static clgan_dcgan_config tiny(void) {
  clgan_dcgan_config c = clgan_dcgan_default_config();
  c.image_size = 16;
  c.channels = 1;
  c.nz = 8;
  c.ngf = c.ndf = 4;
  c.batch = 4;
  return c;
}

static const float *need(const pf_fixture *f, const char *name, size_t count) {
  size_t n = 0;
  const float *p = pf_f32(f, name, &n);
  ck_assert_msg(p && n == count, "fixture record %s: %s (%zu floats, want %zu)", name,
                p ? "wrong size" : pf_error(), n, count);
  return p;
}

/* got vs want within rtol, atol a fraction of want's largest magnitude. */
static void close_to(const char *what, const float *got, const float *want, size_t n, double rtol) {
  double peak = 0.0;
  for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs(want[i]));
  TU_ASSERT_CLOSE(what, got, want, n, rtol, 1e-3 * peak + 1e-7);
}

/* One network's arena of the fixture's tensors (prefix "init.G." or a
 * gradient prefix); conv weights of D carry spectral norm's "_orig". */
static float *arena_from(const pf_fixture *f, clgan_dcgan *net, clgan_net which, int params,
                         const char *prefix) {
  const clgan_tensor_desc *t;
  int count;
  clgan_dcgan_tensors(net, which, &t, &count);
  size_t n = clgan_dcgan_arena_floats(net, which, params ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS);
  float *host = tu_malloc(sizeof(float) * (n ? n : 1));
  for (int i = 0; i < count; i++) {
    if (t[i].is_param != params) continue;
    char name[128];
    snprintf(name, sizeof name, "%s%s%s", prefix, t[i].name,
             which == CLGAN_NET_D && t[i].ndim == 4 ? "_orig" : "");
    memcpy(host + t[i].offset, need(f, name, t[i].count), sizeof(float) * t[i].count);
  }
  return host;
}

/* u and v of the fixture (prefix "init.D." or "final.D.") in the model's
 * state order. */
static float *sn_state_from(const pf_fixture *f, clgan_dcgan *net, const char *prefix) {
  const clgan_tensor_desc *t;
  int count = clgan_dcgan_reg_tensors(net, &t);
  ck_assert_int_gt(count, 0);
  float *host = tu_malloc(sizeof(float) * clgan_dcgan_reg_floats(net));
  for (int i = 0; i < count; i++) {
    char name[128];
    ck_assert(strncmp(t[i].name, "netD.", 5) == 0);
    snprintf(name, sizeof name, "%s%s", prefix, t[i].name + 5);
    memcpy(host + t[i].offset, need(f, name, t[i].count), sizeof(float) * t[i].count);
  }
  return host;
}

START_TEST(test_spectral_norm_matches_pytorch) {
  char path[1024];
  const char *dir = getenv("CLGAN_PARITY_DIR");
  ck_assert_msg(dir && *dir, "CLGAN_PARITY_DIR is not set (meson test sets it)");
  snprintf(path, sizeof path, "%s/sn_gray16.bin", dir);
  pf_fixture *f = pf_load(path);
  ck_assert_msg(f != NULL, "%s", pf_error());
  clgan_dcgan_config cfg = tiny();
  cfg.spectral_norm = 1;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  for (int w = 0; w < 2; w++) {
    const char *prefix = w == CLGAN_NET_G ? "init.G." : "init.D.";
    for (int params = 0; params < 2; params++) {
      float *host = arena_from(f, net, (clgan_net)w, params, prefix);
      TU_OK(clgan_dcgan_arena_write(net, (clgan_net)w,
                                    params ? CLGAN_ARENA_PARAM : CLGAN_ARENA_STATS, host));
      free(host);
    }
  }
  float *uv = sn_state_from(f, net, "init.D.");
  TU_OK(clgan_dcgan_reg_write(net, uv));
  free(uv);
  /* the batch in the engine's layouts: images [c, n, h, w], noise [nz, n] */
  const int N = cfg.batch, S = cfg.image_size, nz = cfg.nz;
  const float *real = need(f, "real", (size_t)N * S * S), *noise = need(f, "noise", (size_t)N * nz);
  float *cols = tu_malloc(sizeof(float) * (size_t)N * nz);
  for (int b = 0; b < N; b++)
    for (int k = 0; k < nz; k++) cols[(size_t)k * N + b] = noise[(size_t)b * nz + k];
  clgan_buf breal = tu_upload(real, (size_t)N * S * S), bnoise = tu_upload(cols, (size_t)N * nz);
  clgan_dcgan_stats stats;
  TU_OK(clgan_dcgan_step(net, breal, bnoise, &stats));
  float want[3];
  ck_assert(pf_scalar_f32(f, "errD", &want[0]) == 0 && pf_scalar_f32(f, "errG", &want[1]) == 0 &&
            pf_scalar_f32(f, "D_x", &want[2]) == 0);
  float got[3] = {stats.loss_d, stats.loss_g, stats.d_x};
  TU_ASSERT_CLOSE("errD, errG, D(x)", got, want, 3, 1e-4, 1e-6);
  /* D's gradients of the D step: through W_sn, mapped per forward */
  size_t nd = clgan_dcgan_arena_floats(net, CLGAN_NET_D, CLGAN_ARENA_PARAM);
  float *grad = tu_malloc(sizeof(float) * nd),
        *want_grad = arena_from(f, net, CLGAN_NET_D, 1, "grad.D.");
  TU_OK(clgan_dcgan_arena_read(net, CLGAN_NET_D, CLGAN_ARENA_GRAD, grad));
  close_to("D's gradients", grad, want_grad, nd, 2e-3);
  /* u and v after three power iterations (real, fake.detach(), fake) */
  size_t ns = clgan_dcgan_reg_floats(net);
  float *state = tu_malloc(sizeof(float) * ns), *want_state = sn_state_from(f, net, "final.D.");
  TU_OK(clgan_dcgan_reg_read(net, state));
  close_to("u and v", state, want_state, ns, 1e-4);
  free(grad), free(want_grad), free(state), free(want_state), free(cols);
  clgan_buf_release(&breal);
  clgan_buf_release(&bnoise);
  clgan_dcgan_destroy(net);
  pf_free(f);
}
END_TEST

typedef float (*term_of)(const clgan_dcgan_stats *s);
static float consistency_term(const clgan_dcgan_stats *s) {
  return s->consistency;
}
static float lecam_term(const clgan_dcgan_stats *s) {
  return s->lecam;
}

static clgan_buf real_buf, noise_buf;

/* LeCam's anchors set before the step (a_R, a_F, both seen), so the real
 * side's term has a constant anchor from the first step on. */
static const float anchors[CLGAN_LECAM_STATE_FLOATS] = {0.05f, -0.08f, 1.0f, 1.0f};

/* A fresh model (weights of seed 3), D's parameter k moved by h, one step:
 * the term; the D step's gradients into grad when asked. */
static float term_after_step(const clgan_dcgan_config *cfg, size_t k, float h, term_of term,
                             float *grad) {
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 3));
  if (cfg->lecam > 0.0f) TU_OK(clgan_dcgan_reg_write(net, anchors));
  size_t nd = clgan_dcgan_arena_floats(net, CLGAN_NET_D, CLGAN_ARENA_PARAM);
  if (h != 0.0f) {
    float *p = tu_malloc(sizeof(float) * nd);
    TU_OK(clgan_dcgan_arena_read(net, CLGAN_NET_D, CLGAN_ARENA_PARAM, p));
    p[k] += h;
    TU_OK(clgan_dcgan_arena_write(net, CLGAN_NET_D, CLGAN_ARENA_PARAM, p));
    free(p);
  }
  clgan_dcgan_stats stats;
  TU_OK(clgan_dcgan_step(net, real_buf, noise_buf, &stats));
  if (grad) TU_OK(clgan_dcgan_arena_read(net, CLGAN_NET_D, CLGAN_ARENA_GRAD, grad));
  clgan_dcgan_destroy(net);
  return term(&stats);
}

/* (grad with the term's weight - grad without) / weight is the gradient of
 * the term; checked at the largest coordinate of every tensor of D (each
 * conv, BatchNorm's weight and bias). */
static void check_term_gradient(const clgan_dcgan_config *cfg_in, size_t weight_off, term_of term,
                                double rtol) {
  clgan_dcgan_config cfg = *cfg_in;
  float *weight = (float *)((char *)&cfg + weight_off);
  const float w = *weight;
  size_t nr = (size_t)cfg.channels * cfg.batch * cfg.image_size * cfg.image_size;
  size_t nn = (size_t)cfg.nz * cfg.batch;
  float *host = tu_malloc(sizeof(float) * nr);
  tu_fill_uniform(host, nr, 41, -1.0f, 1.0f);
  real_buf = tu_upload(host, nr);
  tu_fill_normal(host, nn, 42, 0.0f, 1.0f);
  noise_buf = tu_upload(host, nn);
  free(host);
  clgan_dcgan *probe = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &probe));
  size_t nd = clgan_dcgan_arena_floats(probe, CLGAN_NET_D, CLGAN_ARENA_PARAM);
  const clgan_tensor_desc *t;
  int count;
  clgan_dcgan_tensors(probe, CLGAN_NET_D, &t, &count);
  float *with = tu_malloc(sizeof(float) * nd), *without = tu_malloc(sizeof(float) * nd);
  float t0 = term_after_step(&cfg, 0, 0.0f, term, with);
  ck_assert_msg(t0 > 0.0f, "the term is %g", (double)t0);
  *weight = 0.0f;
  term_after_step(&cfg, 0, 0.0f, term, without);
  *weight = w;
  for (size_t i = 0; i < nd; i++) with[i] = (with[i] - without[i]) / w;
  for (int ti = 0; ti < count; ti++) {
    if (!t[ti].is_param) continue;
    size_t k = t[ti].offset;
    for (size_t i = k; i < t[ti].offset + t[ti].count; i++)
      if (fabsf(with[i]) > fabsf(with[k])) k = i;
    const float h = 1e-4f; /* small enough for LeakyReLU's kinks, large for fp32 */
    float fd =
        (term_after_step(&cfg, k, h, term, NULL) - term_after_step(&cfg, k, -h, term, NULL)) /
        (2.0f * h);
    ck_assert_msg(fabsf(with[k]) > 1e-4f, "%s: no gradient", t[ti].name);
    TU_ASSERT_CLOSE(t[ti].name, &with[k], &fd, 1, rtol, 1e-3 * fabs(with[k]));
  }
  clgan_dcgan_destroy(probe);
  free(with);
  free(without);
  clgan_buf_release(&real_buf);
  clgan_buf_release(&noise_buf);
}

/* bCR: T = translation,cutout (no --augment); the gradient flows through
 * D(x) and D(T(x)) on both sides, every layer of D. */
START_TEST(test_consistency_gradient_through_d) {
  clgan_dcgan_config cfg = tiny();
  cfg.consistency = 10.0f;
  check_term_gradient(&cfg, offsetof(clgan_dcgan_config, consistency), consistency_term, 1e-2);
}
END_TEST

/* LeCam: the real side's anchor is a constant here; the fake side's moves
 * 1% of the way to this step's real mean before its term, a dependence the
 * gradient leaves out (the anchor is held constant, as in the paper), so
 * the finite differences agree to a per cent or two only. */
START_TEST(test_lecam_gradient_through_d) {
  clgan_dcgan_config cfg = tiny();
  cfg.lecam = 1.0f;
  check_term_gradient(&cfg, offsetof(clgan_dcgan_config, lecam), lecam_term, 2e-2);
}
END_TEST

/* bCR's passes of D leave BatchNorm's running statistics alone: after a
 * step they are those of the recipe's passes, bit for bit (and the test
 * can fail: with bCR's momentum at BatchNorm's 0.1 they would move). */
START_TEST(test_consistency_keeps_running_stats) {
  clgan_dcgan_config cfg = tiny();
  cfg.lr_d = 1e-30f; /* D's update is nil: its third pass (in G's step) sees the same D */
  size_t nr = (size_t)cfg.channels * cfg.batch * cfg.image_size * cfg.image_size;
  float *host = tu_malloc(sizeof(float) * nr);
  tu_fill_uniform(host, nr, 43, -1.0f, 1.0f);
  clgan_buf real = tu_upload(host, nr);
  tu_fill_normal(host, (size_t)cfg.nz * cfg.batch, 44, 0.0f, 1.0f);
  clgan_buf noise = tu_upload(host, (size_t)cfg.nz * cfg.batch);
  free(host);
  float *stats[2];
  size_t n = 0;
  for (int k = 0; k < 2; k++) {
    cfg.consistency = k ? 10.0f : 0.0f;
    clgan_dcgan *net = NULL;
    TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
    TU_OK(clgan_dcgan_init_weights(net, 8));
    TU_OK(clgan_dcgan_step(net, real, noise, NULL));
    n = clgan_dcgan_arena_floats(net, CLGAN_NET_D, CLGAN_ARENA_STATS);
    stats[k] = tu_malloc(sizeof(float) * n);
    TU_OK(clgan_dcgan_arena_read(net, CLGAN_NET_D, CLGAN_ARENA_STATS, stats[k]));
    clgan_dcgan_destroy(net);
  }
  ck_assert_uint_gt(n, 0);
  ck_assert_mem_eq(stats[0], stats[1], sizeof(float) * n);
  free(stats[0]), free(stats[1]);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
}
END_TEST

/* src rewritten as dst with tensor `name` left out, or (poison) its first value NaN. */
static void rewrite(const char *src, const char *dst, const char *name, int poison) {
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(src, &st));
  int nt = clgan_safetensors_count(st), n = 0, nm = clgan_safetensors_meta_count(st);
  clgan_st_tensor *t = tu_malloc(sizeof *t * (size_t)nt);
  float *bad = NULL;
  for (int i = 0; i < nt; i++) {
    t[n] = *clgan_safetensors_at(st, i);
    if (strcmp(t[n].name, name) != 0) {
      n++;
      continue;
    }
    if (!poison) continue;
    bad = tu_malloc(sizeof(float) * (size_t)t[n].shape[0]);
    memcpy(bad, t[n].data, sizeof(float) * (size_t)t[n].shape[0]);
    bad[0] = NAN;
    t[n++].data = bad;
  }
  const char **keys = tu_malloc(sizeof *keys * (size_t)nm),
             **vals = tu_malloc(sizeof *vals * (size_t)nm);
  for (int i = 0; i < nm; i++) {
    keys[i] = clgan_safetensors_meta_key(st, i);
    vals[i] = clgan_safetensors_meta(st, keys[i]);
  }
  TU_OK(clgan_safetensors_write(dst, t, n, keys, vals, nm));
  clgan_safetensors_close(st);
  free(t), free(bad), free(keys), free(vals);
}

/* The checkpoint keeps LeCam's anchors and spectral norm's u, v; a file
 * that lacks one, or holds a non-finite value, is refused by name and the
 * model keeps its state. */
START_TEST(test_checkpoint_state) {
  clgan_dcgan_config cfg = tiny();
  cfg.lecam = 0.3f;
  cfg.spectral_norm = 1;
  clgan_dcgan *a = NULL, *b = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &a));
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &b));
  TU_OK(clgan_dcgan_init_weights(a, 5));
  TU_OK(clgan_dcgan_init_weights(b, 6));
  size_t n = clgan_dcgan_reg_floats(a);
  float *sa = tu_malloc(sizeof(float) * n), *sb = tu_malloc(sizeof(float) * n);
  float *before = tu_malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) sa[i] = 0.001f * (float)i; /* anchors set, flags 0 */
  sa[2] = sa[3] = 1.0f;
  TU_OK(clgan_dcgan_reg_write(a, sa));
  char dir[] = "/tmp/clgan-reg-XXXXXX", path[64], bad[64];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/ck.safetensors", dir);
  snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
  clgan_train_state ts = {.iteration = 1, .seed = 2, .rng = {1, 2, 3, 4}};
  TU_OK(clgan_checkpoint_save(path, a, &ts));
  TU_OK(clgan_dcgan_reg_read(b, before));
  const char *names[] = {"train.lecam_anchors", "netD.main.0.weight_u", "netD.main.5.weight_v"};
  for (int k = 0; k < 6; k++) {
    rewrite(path, bad, names[k / 2], k % 2);
    clgan_train_state back;
    ck_assert_int_eq(clgan_checkpoint_load(bad, b, &back), CLGAN_ERR_FORMAT);
    ck_assert_msg(strstr(clgan_last_error(), names[k / 2]), "%s", clgan_last_error());
    TU_OK(clgan_dcgan_reg_read(b, sb));
    ck_assert_mem_eq(sb, before, sizeof(float) * n);
  }
  clgan_train_state back;
  TU_OK(clgan_checkpoint_load(path, b, &back));
  free(back.fixed_noise);
  TU_OK(clgan_dcgan_reg_read(b, sb));
  ck_assert_mem_eq(sb, sa, sizeof(float) * n);
  remove(path);
  remove(bad);
  rmdir(dir);
  free(sa), free(sb), free(before);
  clgan_dcgan_destroy(a);
  clgan_dcgan_destroy(b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("regularize_step");
  TCase *tc = tcase_create("regularize_step");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_spectral_norm_matches_pytorch);
  tcase_add_test(tc, test_consistency_gradient_through_d);
  tcase_add_test(tc, test_lecam_gradient_through_d);
  tcase_add_test(tc, test_consistency_keeps_running_stats);
  tcase_add_test(tc, test_checkpoint_state);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
