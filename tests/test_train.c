/* The training loop end to end on a tiny ImageFolder: the run directory,
 * losses that move, and exact resume through the trainer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgan/augment.h"
#include "clgan/image.h"
#include "clgan/train.h"
#include "test_util.h"
#include "clgan/rng.h"

static char root[64];

/* dir/name in one of 16 rotating buffers (enough for any one call's needs). */
static const char *path_in(const char *dir, const char *name) {
  static char buf[16][256];
  static int next;
  char *p = buf[next++ % 16];
  size_t n = strlen(dir);
  ck_assert_uint_lt(n + strlen(name) + 2, sizeof buf[0]);
  memcpy(p, dir, n);
  p[n] = '/';
  strcpy(p + n + 1, name);
  return p;
}

static int exists(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && s.st_size > 0;
}

static clgan_train_options tiny(const char *out) {
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(),
                           .out_dir = out,
                           .iters = 12,
                           .seed = 5,
                           .sample_every = 6,
                           .checkpoint_every = 6};
  o.cfg.image_size = 16;
  o.cfg.channels = 1;
  o.cfg.nz = 8;
  o.cfg.ngf = 4;
  o.cfg.ndf = 4;
  o.cfg.batch = 4;
  return o;
}

static clgan_dataset *load(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data", root);
  clgan_dataset_options d = {.root = dir, .class_name = "scans", .image_size = 16, .channels = 1};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&d, &ds));
  return ds;
}

typedef struct seen {
  int setups;
  long calls;
  float first_d, first_g, last_d, last_g;
  float moved_d, moved_g; /* largest distance from the first value */
  int evals;
} seen;

static int record(void *user, const clgan_train_progress *p) {
  seen *s = user;
  if (p->setup) {
    s->setups++;
    ck_assert_ptr_nonnull(p->model);
    return 0;
  }
  if (p->eval) {
    s->evals++;
    ck_assert(p->eval->swd_mean > 0 && isfinite(p->eval->swd_mean));
    ck_assert(p->eval->msssim_real > 0 && p->eval->msssim_real <= 1);
  }
  if (s->calls++ == 0) {
    s->first_d = p->stats.loss_d;
    s->first_g = p->stats.loss_g;
  }
  s->last_d = p->stats.loss_d;
  s->last_g = p->stats.loss_g;
  s->moved_d = fmaxf(s->moved_d, fabsf(s->last_d - s->first_d));
  s->moved_g = fmaxf(s->moved_g, fabsf(s->last_g - s->first_g));
  ck_assert(isfinite(p->stats.loss_d) && isfinite(p->stats.loss_g));
  ck_assert(p->stats.d_x > 0 && p->stats.d_x < 1);
  return 0;
}

static long count_lines(const char *p) {
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(f);
  long n = 0;
  int c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

/* the metadata two equal checkpoints share besides their tensors */
static const char *const same_keys[] = {"iteration"};

START_TEST(test_run_directory_and_losses_move) {
  clgan_dataset *ds = load();
  ck_assert_int_eq(ds->count, 24);
  const char *out = path_in(root, "run");
  clgan_train_options o = tiny(out);
  o.iters = 30;
  o.eval_every = 10;
  o.cfg.lr_g = o.cfg.lr_d = 2e-3f; /* a tiny model moves slowly at the recipe's 2e-4 */
  seen s = {0};
  TU_OK(clgan_train(tu_ctx(), &o, ds, record, &s));
  ck_assert_int_eq(s.setups, 1);
  ck_assert_int_eq(s.calls, 30);
  /* both start near chance (Loss_D ~ 2 ln 2, Loss_G ~ ln 2) and the game
   * moves them: D's loss falls as it learns, G's swings in answer */
  ck_assert_msg(fabsf(s.first_d - 1.386f) < 0.3f, "initial Loss_D %g", s.first_d);
  ck_assert_msg(s.last_d < s.first_d - 0.1f, "Loss_D %g -> %g", s.first_d, s.last_d);
  ck_assert_msg(s.moved_g > 0.08f, "Loss_G stayed within %g of %g", s.moved_g, s.first_g);
  const char *files[] = {"config.json", "log.csv", "real.png", "samples/latest.png",
                         "samples/iter_000006.png", "samples/iter_000030.png", "losses.svg",
                         "index.html", "checkpoint.safetensors", "metrics.csv", "metrics.svg",
                         "closest_pairs.png"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    ck_assert_msg(exists(path_in(out, files[i])), "%s missing", files[i]);
  ck_assert_int_eq(count_lines(path_in(out, "log.csv")), 31);
  ck_assert_int_eq(count_lines(path_in(out, "metrics.csv")), 5); /* header, 1, 10, 20, 30 */
  ck_assert_int_eq(s.evals, 4);
  clgan_image grid = {0};
  TU_OK(clgan_png_read(path_in(out, "samples/latest.png"), &grid));
  ck_assert_int_eq(grid.channels, 1);
  ck_assert_int_eq(grid.width, 4 * 18 + 2); /* 4 images of 16 px, 2 px borders */
  clgan_image_free(&grid);
  clgan_dataset_free(ds);
}
END_TEST

START_TEST(test_resume_through_trainer_is_exact) {
  clgan_dataset *ds = load(); /* 24 images, batch 4: 6 iterations per epoch */
  const char *straight = path_in(root, "straight"), *split = path_in(root, "split");
  clgan_train_options o = tiny(straight);
  o.iters = 14; /* crosses two epoch boundaries */
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  clgan_train_options a = tiny(split);
  a.iters = 8;
  TU_OK(clgan_train(tu_ctx(), &a, ds, NULL, NULL));
  char ck[512];
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", split);
  clgan_train_options b = tiny(split);
  b.iters = 14;
  b.resume = ck;
  b.seed = 12345; /* ignored: the checkpoint's seed is used */
  TU_OK(clgan_train(tu_ctx(), &b, ds, NULL, NULL));
  char ck2[512];
  snprintf(ck2, sizeof ck2, "%s/checkpoint.safetensors", straight);
  tu_assert_same_checkpoints(ck2, ck, same_keys, 1);
  ck_assert_int_eq(count_lines(path_in(split, "log.csv")), 15);
  /* batches streamed by the loader thread: the same order, the same weights */
  const char *streamed = path_in(root, "streamed");
  clgan_train_options t = tiny(streamed);
  t.iters = 14;
  t.stream = 1;
  TU_OK(clgan_train(tu_ctx(), &t, ds, NULL, NULL));
  char ck3[512];
  snprintf(ck3, sizeof ck3, "%s/checkpoint.safetensors", streamed);
  tu_assert_same_checkpoints(ck2, ck3, same_keys, 1);
  /* asking a finished run for no more iterations is a clear error */
  ck_assert_int_eq(clgan_train(tu_ctx(), &b, ds, NULL, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "iteration 14"));
  clgan_dataset_free(ds);
}
END_TEST

START_TEST(test_resume_with_augmentation_is_exact) {
  /* DiffAugment's counter, ADA's p and its half-filled 4-step window all
   * travel in the checkpoint: split at 6, which is not a multiple of 4 */
  clgan_dataset *ds = load();
  const char *straight = path_in(root, "aug-straight"), *split = path_in(root, "aug-split");
  clgan_train_options o = tiny(straight);
  o.iters = 14;
  o.cfg.augment = CLGAN_AUG_ALL;
  o.cfg.ada = 1;
  o.cfg.ada_target = 0.0f; /* any positive r_t pushes p up, so p moves */
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  clgan_train_options a = o;
  a.out_dir = split;
  a.iters = 6;
  TU_OK(clgan_train(tu_ctx(), &a, ds, NULL, NULL));
  char ck[512], ck2[512];
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", split);
  snprintf(ck2, sizeof ck2, "%s/checkpoint.safetensors", straight);
  clgan_train_options b = o;
  b.out_dir = split;
  b.resume = ck;
  TU_OK(clgan_train(tu_ctx(), &b, ds, NULL, NULL));
  tu_assert_same_checkpoints(ck2, ck, same_keys, 1);
  clgan_safetensors *x, *y;
  TU_OK(clgan_safetensors_open(ck, &x));
  TU_OK(clgan_safetensors_open(ck2, &y));
  const char *keys[] = {"augment.counter", "augment.p", "augment.ada_sum", "augment.ada_count"};
  for (int i = 0; i < 4; i++)
    ck_assert_str_eq(clgan_safetensors_meta(x, keys[i]), clgan_safetensors_meta(y, keys[i]));
  ck_assert_msg(strtof(clgan_safetensors_meta(x, "augment.p"), NULL) > 0, "p did not move");
  clgan_safetensors_close(x);
  clgan_safetensors_close(y);
  clgan_dataset_free(ds);
}
END_TEST

/* D's regularisers: LeCam's anchors, spectral norm's u and v and bCR's
 * draws (on the augmentation's counter) travel in the checkpoint: each
 * alone, then all three with DiffAugment, split at 6 of 14; last the
 * --small-data preset (DiffAugment + EMA 0.999: the averaged generator and
 * its own BatchNorm statistics travel too). */
START_TEST(test_resume_with_regularizers_is_exact) {
  clgan_dataset *ds = load();
  char straight[64], split[64];
  snprintf(straight, sizeof straight, "reg-straight-%d", _i);
  snprintf(split, sizeof split, "reg-split-%d", _i);
  clgan_train_options o = tiny(path_in(root, straight));
  o.iters = 14;
  o.cfg.lecam = _i == 0 || _i == 3 ? 0.3f : 0.0f;
  o.cfg.spectral_norm = _i == 1 || _i == 3;
  o.cfg.consistency = _i == 2 || _i == 3 ? 10.0f : 0.0f;
  o.cfg.augment = _i >= 3 ? CLGAN_AUG_ALL : 0u;
  o.cfg.ema_decay = _i == 4 ? 0.999f : 0.0f;
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  clgan_train_options a = o;
  a.out_dir = path_in(root, split);
  a.iters = 6;
  TU_OK(clgan_train(tu_ctx(), &a, ds, NULL, NULL));
  char ck[512], ck2[512];
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", a.out_dir);
  snprintf(ck2, sizeof ck2, "%s/checkpoint.safetensors", o.out_dir);
  clgan_train_options b = a;
  b.iters = 14;
  b.resume = ck;
  TU_OK(clgan_train(tu_ctx(), &b, ds, NULL, NULL));
  tu_assert_same_checkpoints(ck2, ck, same_keys, 1);
  clgan_safetensors *x;
  TU_OK(clgan_safetensors_open(ck, &x));
  ck_assert((clgan_safetensors_find(x, "train.lecam_anchors") != NULL) == (o.cfg.lecam > 0));
  ck_assert((clgan_safetensors_find(x, "netD.main.0.weight_u") != NULL) == o.cfg.spectral_norm);
  ck_assert((clgan_safetensors_find(x, "netD.main.5.weight_v") != NULL) == o.cfg.spectral_norm);
  const clgan_st_tensor *ema_mean = clgan_safetensors_find(x, "netG_ema.main.1.running_mean");
  const clgan_st_tensor *raw_mean = clgan_safetensors_find(x, "netG.main.1.running_mean");
  ck_assert((ema_mean != NULL) == (o.cfg.ema_decay > 0));
  ck_assert_ptr_nonnull(raw_mean);
  if (ema_mean) /* recomputed for the averaged weights, not the raw G's copied */
    ck_assert(memcmp(ema_mean->data, raw_mean->data, 4 * (size_t)raw_mean->shape[0]) != 0);
  /* augmentations per iteration: 3 of the D inputs with --augment, 2 of T */
  ck_assert_str_eq(clgan_safetensors_meta(x, "augment.counter"),
                   o.cfg.consistency > 0 ? (_i == 3 ? "70" : "28") : (_i >= 3 ? "42" : "0"));
  clgan_safetensors_close(x);
  clgan_dataset_free(ds);
}
END_TEST

START_TEST(test_bad_setups) {
  clgan_dataset *ds = load();
  clgan_train_options o = tiny(path_in(root, "bad"));
  o.cfg.batch = 32; /* more than the 24 images */
  ck_assert_int_eq(clgan_train(tu_ctx(), &o, ds, NULL, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "fewer than one batch"));
  o = tiny(path_in(root, "bad"));
  o.cfg.image_size = 32; /* dataset loaded at 16 */
  ck_assert_int_eq(clgan_train(tu_ctx(), &o, ds, NULL, NULL), CLGAN_ERR_INVALID);
  o = tiny(path_in(root, "bad"));
  o.resume = path_in(root, "no-such-checkpoint.safetensors");
  ck_assert_int_eq(clgan_train(tu_ctx(), &o, ds, NULL, NULL), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "no-such-checkpoint"));
  clgan_dataset_free(ds);
}
END_TEST

/* G by hand on images first.. first + n of rows [i][nz] ([nz, batch] noise,
 * zero padding), read back as [c][batch][s][s]. */
static float *generate_by_hand(clgan_dcgan *net, const float *rows, int first, int n) {
  const clgan_dcgan_config *c = clgan_dcgan_get_config(net);
  float *cols = calloc((size_t)c->nz * c->batch, sizeof(float));
  ck_assert_ptr_nonnull(cols);
  for (int b = 0; b < n; b++)
    for (int k = 0; k < c->nz; k++) cols[(size_t)k * c->batch + b] = rows[(size_t)(first + b) * c->nz + k];
  clgan_buf noise = tu_upload(cols, (size_t)c->nz * c->batch);
  TU_OK(clgan_dcgan_generate(net, noise, CLGAN_BN_RUNNING));
  float *fake = tu_download(clgan_dcgan_fake(net),
                            (size_t)c->channels * c->batch * c->image_size * c->image_size);
  clgan_buf_release(&noise);
  free(cols);
  return fake;
}

START_TEST(test_sample_order_layout_and_continuation) {
  clgan_dcgan_config cfg = tiny("unused").cfg;
  cfg.channels = 3;
  cfg.nz = 7; /* odd: each image's normals are drawn on their own */
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 1));
  enum { COUNT = 7 }; /* two batches of 4, the last padded */
  size_t hw = (size_t)cfg.image_size * cfg.image_size, img = hw * cfg.channels;
  float *a = tu_malloc(sizeof(float) * img * COUNT), *b = tu_malloc(sizeof(float) * img * COUNT);
  float *c = tu_malloc(sizeof(float) * img * COUNT);
  float *rows = tu_malloc(sizeof(float) * (size_t)cfg.nz * COUNT);
  clgan_sampler *s = NULL;
  TU_OK(clgan_sampler_create(tu_ctx(), net, 9, &s));
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, COUNT, NULL, a));
  clgan_sampler_destroy(s);
  /* the noise: seed 9, nz normals per image in image order */
  clgan_rng rng;
  clgan_rng_seed(&rng, 9);
  for (int i = 0; i < COUNT; i++) clgan_rng_normal(&rng, rows + (size_t)i * cfg.nz, (size_t)cfg.nz, 0.0f, 1.0f);
  for (int first = 0; first < COUNT; first += cfg.batch) {
    int n = COUNT - first < cfg.batch ? COUNT - first : cfg.batch;
    float *fake = generate_by_hand(net, rows, first, n);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < cfg.channels; k++)
        ck_assert_msg(memcmp(a + ((size_t)(first + i) * cfg.channels + k) * hw,
                             fake + ((size_t)k * cfg.batch + i) * hw, sizeof(float) * hw) == 0,
                      "image %d channel %d differs", first + i, k);
    free(fake);
  }
  /* calls continue the noise: 3 then 4 images are the same 7 */
  TU_OK(clgan_sampler_create(tu_ctx(), net, 9, &s));
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, 3, NULL, b));
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, COUNT - 3, NULL, b + 3 * img));
  /* given noise: the same images */
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, COUNT, rows, c));
  clgan_sampler_destroy(s);
  ck_assert(memcmp(a, b, sizeof(float) * img * COUNT) == 0);
  ck_assert(memcmp(a, c, sizeof(float) * img * COUNT) == 0);
  /* another seed, other images */
  TU_OK(clgan_sampler_create(tu_ctx(), net, 10, &s));
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, COUNT, NULL, b));
  clgan_sampler_destroy(s);
  ck_assert(memcmp(a, b, sizeof(float) * img * COUNT) != 0);
  free(a);
  free(b);
  free(c);
  free(rows);
  clgan_dcgan_destroy(net);
}
END_TEST

int main(void) {
  snprintf(root, sizeof root, "/tmp/clgan-train-XXXXXX");
  if (!mkdtemp(root)) return 1;
  if (!tu_disc_dataset(root)) {
    fprintf(stderr, "cannot create the test dataset in %s: %s\n", root, clgan_last_error());
    return 1;
  }
  Suite *s = suite_create("train");
  TCase *tc = tcase_create("train");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_run_directory_and_losses_move);
  tcase_add_test(tc, test_resume_through_trainer_is_exact);
  tcase_add_test(tc, test_resume_with_augmentation_is_exact);
  tcase_add_loop_test(tc, test_resume_with_regularizers_is_exact, 0, 5);
  tcase_add_test(tc, test_bad_setups);
  tcase_add_test(tc, test_sample_order_layout_and_continuation);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(root);
  return rc;
}
