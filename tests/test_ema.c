/* The averaged generator (src/train/ema.c): the decay ramp, the average after
 * a step, and BatchNorm statistics of its own computed from the averaged
 * weights (checked for G's first BatchNorm against a C computation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "clgan/rng.h"

START_TEST(test_decay_ramp) {
  ck_assert_float_eq_tol(clgan_ema_decay_at(0.999f, 0), 0.1f, 1e-7f);
  ck_assert_float_eq_tol(clgan_ema_decay_at(0.999f, 1), 2.0f / 11.0f, 1e-7f);
  ck_assert_float_eq_tol(clgan_ema_decay_at(0.999f, 90), 91.0f / 100.0f, 1e-6f);
  ck_assert_float_eq(clgan_ema_decay_at(0.999f, 100000), 0.999f);
  ck_assert_float_eq(clgan_ema_decay_at(0.5f, 20), 0.5f);
}
END_TEST

static clgan_dcgan_config small(void) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 8;
  cfg.channels = 1;
  cfg.nz = 6;
  cfg.ngf = cfg.ndf = 4;
  cfg.batch = 4;
  cfg.ema_decay = 0.999f;
  return cfg;
}

typedef struct model {
  clgan_dcgan *net;
  clgan_buf real, noise;
  size_t params;
} model;

static model make(const clgan_dcgan_config *cfg) {
  model m;
  TU_OK(clgan_dcgan_create(tu_ctx(), cfg, &m.net));
  TU_OK(clgan_dcgan_init_weights(m.net, 11));
  size_t nr = (size_t)cfg->channels * cfg->batch * cfg->image_size * cfg->image_size;
  size_t nn = (size_t)cfg->nz * cfg->batch, n = nr > nn ? nr : nn;
  float *h = tu_malloc(n * sizeof(float));
  tu_fill_uniform(h, nr, 5, -1.0f, 1.0f);
  m.real = tu_upload(h, nr);
  tu_fill_normal(h, nn, 6, 0.0f, 1.0f);
  m.noise = tu_upload(h, nn);
  free(h);
  m.params = clgan_dcgan_arena_floats(m.net, CLGAN_NET_G, CLGAN_ARENA_PARAM);
  return m;
}

static void drop(model *m) {
  clgan_buf_release(&m->real);
  clgan_buf_release(&m->noise);
  clgan_dcgan_destroy(m->net);
}

static float *read_arena(model *m, clgan_arena a) {
  size_t n = clgan_dcgan_arena_floats(m->net, CLGAN_NET_G, a);
  float *h = tu_malloc((n ? n : 1) * sizeof(float));
  TU_OK(clgan_dcgan_arena_read(m->net, CLGAN_NET_G, a, h));
  return h;
}

/* After G's first update: ema = d * w0 + (1 - d) * w1 with d = decay_at(1). */
START_TEST(test_average_after_step) {
  clgan_dcgan_config cfg = small();
  model m = make(&cfg);
  float *w0 = read_arena(&m, CLGAN_ARENA_PARAM);
  TU_OK(clgan_dcgan_step(m.net, m.real, m.noise, NULL));
  float *w1 = read_arena(&m, CLGAN_ARENA_PARAM), *ema = read_arena(&m, CLGAN_ARENA_EMA);
  float d = clgan_ema_decay_at(cfg.ema_decay, 1);
  float *want = tu_malloc(m.params * sizeof(float));
  for (size_t i = 0; i < m.params; i++) want[i] = d * w0[i] + (1.0f - d) * w1[i];
  TU_ASSERT_CLOSE("ema after one step", ema, want, m.params, 1e-6, 1e-7);
  free(w0), free(w1), free(ema), free(want);
  drop(&m);
}
END_TEST

/* G's first layer is ConvT(nz, C, 4, 1, 0) on a 1 x 1 input: channel c's
 * mean over a batch is mean_b sum_z noise[z, b] * mean_yx W[z, c, y, x].
 * The first BatchNorm's running mean of the averaged generator is the mean
 * of that over the fixed noise batches; G's own running mean is not it. */
START_TEST(test_own_statistics) {
  clgan_dcgan_config cfg = small();
  model m = make(&cfg);
  for (int i = 0; i < 3; i++) TU_OK(clgan_dcgan_step(m.net, m.real, m.noise, NULL));
  float *ema = read_arena(&m, CLGAN_ARENA_EMA), *stats = read_arena(&m, CLGAN_ARENA_EMA_STATS);
  float *again = read_arena(&m, CLGAN_ARENA_EMA_STATS), *raw = read_arena(&m, CLGAN_ARENA_STATS);
  size_t ns = clgan_dcgan_arena_floats(m.net, CLGAN_NET_G, CLGAN_ARENA_STATS);
  ck_assert_mem_eq(stats, again, ns * sizeof(float));
  const clgan_tensor_desc *t;
  int count;
  clgan_dcgan_tensors(m.net, CLGAN_NET_G, &t, &count);
  ck_assert_str_eq(t[0].name, "main.0.weight");
  ck_assert_str_eq(t[3].name, "main.1.running_mean");
  int nz = cfg.nz, c = t[0].shape[1], b = cfg.batch, K = CLGAN_EMA_STATS_BATCHES;
  float *noise = tu_malloc(sizeof(float) * (size_t)K * nz * b);
  clgan_rng rng;
  clgan_rng_seed(&rng, CLGAN_EMA_STATS_SEED);
  clgan_rng_normal(&rng, noise, (size_t)K * nz * b, 0.0f, 1.0f);
  const float *w = ema + t[0].offset; /* [nz][c][4][4] */
  float *want = tu_malloc(sizeof(float) * (size_t)c);
  for (int ch = 0; ch < c; ch++) {
    double total = 0;
    for (int k = 0; k < K; k++)
      for (int i = 0; i < b; i++)
        for (int z = 0; z < nz; z++) {
          double wm = 0;
          for (int p = 0; p < 16; p++) wm += w[((size_t)z * c + ch) * 16 + p];
          total += noise[((size_t)k * nz + z) * b + i] * wm / 16;
        }
    want[ch] = (float)(total / ((double)K * b));
  }
  TU_ASSERT_CLOSE("EMA running mean", stats + t[3].offset, want, (size_t)c, 1e-4, 1e-5);
  ck_assert_msg(!tu_close("G's own running mean", raw + t[3].offset, want, (size_t)c, 1e-4, 1e-5),
                "G's running statistics equal the averaged generator's: they must be its own");
  /* a step makes them stale: they are made again from the new average */
  TU_OK(clgan_dcgan_step(m.net, m.real, m.noise, NULL));
  float *after = read_arena(&m, CLGAN_ARENA_EMA_STATS);
  ck_assert_msg(memcmp(after, stats, ns * sizeof(float)) != 0, "statistics not remade after a step");
  free(ema), free(stats), free(again), free(raw), free(noise), free(want), free(after);
  drop(&m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ema");
  TCase *tc = tcase_create("ema");
  tcase_add_test(tc, test_decay_ramp);
  tcase_add_test(tc, test_average_after_step);
  tcase_add_test(tc, test_own_statistics);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
