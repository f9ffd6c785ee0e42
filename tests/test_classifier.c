/* The classifier end to end on the device: D's graph with one logit per
 * class learns three synthetic shapes, a fit is bit-identical from its seed
 * (and differs with another), fitting and predicting create no OpenCL
 * object, and bad sets are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/classify.h"
#include "graph/graph.h"
#include "test_util.h"

enum { SIZE = 16, CLASSES = 3 };

/* count images [count][1][16][16] in [-1, 1]: class 0 a horizontal bar,
 * 1 a vertical bar, 2 a square, at varying places, with noise. */
static void make_shapes(int count, uint64_t seed, float *data, int *labels) {
  float *noise = tu_malloc(sizeof(float) * SIZE * SIZE * count);
  tu_fill_uniform(noise, (size_t)SIZE * SIZE * count, seed, -0.2f, 0.2f);
  for (int i = 0; i < count; i++) {
    int cls = (int)((i * 7 + seed) % CLASSES), at = 3 + (int)((i * 5 + seed) % 8);
    labels[i] = cls;
    for (int y = 0; y < SIZE; y++)
      for (int x = 0; x < SIZE; x++) {
        int on = cls == 0   ? y >= at && y < at + 3
                 : cls == 1 ? x >= at && x < at + 3
                            : x >= at && x < at + 5 && y >= at && y < at + 5;
        size_t p = ((size_t)i * SIZE + y) * SIZE + x;
        data[p] = (on ? 0.8f : -0.8f) + noise[p];
      }
  }
  free(noise);
}

static clgan_classifier_recipe tiny_recipe(void) {
  clgan_classifier_recipe r = clgan_classifier_default_recipe();
  r.image_size = SIZE;
  r.channels = 1;
  r.ndf = 8;
  r.batch = 8;
  r.lr = 2e-3f;
  return r;
}

START_TEST(test_graph_is_d_with_class_outputs) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  graph c, d;
  TU_OK(graph_describe_classifier(&cfg, 5, &c));
  TU_OK(graph_describe(&cfg, CLGAN_NET_D, &d));
  ck_assert_int_eq(c.nnodes, d.nnodes);
  for (int i = 0; i < d.nnodes; i++) ck_assert_int_eq(c.nodes[i].op, d.nodes[i].op);
  const graph_slot *out = &c.slots[c.nodes[c.nnodes - 1].out];
  ck_assert_int_eq(out->c, 5);
  ck_assert_int_eq(out->hw, 1);
  ck_assert_int_eq(c.tensors[c.ntensors - 1].shape[0], 5);
  ck_assert_uint_eq(c.param_floats, d.param_floats + 4 * (size_t)512 * 4 * 4);
  ck_assert_int_eq(graph_describe_classifier(&cfg, 1, &c), CLGAN_ERR_INVALID);
}
END_TEST

START_TEST(test_classifier_learns_shapes) {
  clgan_ctx *ctx = tu_ctx();
  const int ntrain = 48, ntest = 30;
  float *train = tu_malloc(sizeof(float) * SIZE * SIZE * ntrain);
  float *test = tu_malloc(sizeof(float) * SIZE * SIZE * ntest);
  int ltrain[48], ltest[30];
  make_shapes(ntrain, 1, train, ltrain);
  make_shapes(ntest, 2, test, ltest);
  clgan_classifier_recipe r = tiny_recipe();
  clgan_classifier *c = NULL;
  TU_OK(clgan_classifier_create(ctx, &r, CLASSES, 48, &c));
  clgan_labelled_set tr = {ntrain, train, ltrain}, te = {ntest, test, ltest};
  double *p1 = tu_malloc(sizeof(double) * ntest * CLASSES), *p2 = tu_malloc(sizeof(double) * ntest * CLASSES);
  clgan_ctx_counts before, after;
  clgan_ctx_created(ctx, &before);
  float loss = 0;
  TU_OK(clgan_classifier_fit(c, &tr, 60, 7, &loss));
  TU_OK(clgan_classifier_predict(c, &te, p1));
  clgan_ctx_created(ctx, &after);
  ck_assert_msg(before.buffers == after.buffers && before.programs == after.programs &&
                    before.kernels == after.kernels,
                "fit/predict created objects: buffers %ld -> %ld, kernels %ld -> %ld",
                before.buffers, after.buffers, before.kernels, after.kernels);
  clgan_class_metrics m;
  TU_OK(clgan_class_metrics_compute(ltest, p1, ntest, CLASSES, &m));
  fprintf(stderr, "classifier: last loss %.4f, test accuracy %.3f\n", loss, m.accuracy);
  ck_assert_msg(m.accuracy >= 0.9, "test accuracy %.3f", m.accuracy);
  ck_assert(isfinite(loss) && loss < 0.5f);
  for (int i = 0; i < ntest; i++) {
    double s = 0;
    for (int k = 0; k < CLASSES; k++) s += p1[i * CLASSES + k];
    ck_assert(fabs(s - 1.0) < 1e-9);
  }
  /* the same seed: the same bits; another seed: other weights */
  TU_OK(clgan_classifier_fit(c, &tr, 60, 7, NULL));
  TU_OK(clgan_classifier_predict(c, &te, p2));
  ck_assert(memcmp(p1, p2, sizeof(double) * ntest * CLASSES) == 0);
  TU_OK(clgan_classifier_fit(c, &tr, 60, 8, NULL));
  TU_OK(clgan_classifier_predict(c, &te, p2));
  ck_assert(memcmp(p1, p2, sizeof(double) * ntest * CLASSES) != 0);
  clgan_classifier_destroy(c);
  free(train), free(test), free(p1), free(p2);
}
END_TEST

START_TEST(test_classifier_refuses_bad_sets) {
  clgan_ctx *ctx = tu_ctx();
  float data[SIZE * SIZE * 10];
  int labels[10];
  make_shapes(10, 3, data, labels);
  clgan_classifier_recipe r = tiny_recipe();
  r.augment = 0;
  clgan_classifier *c = NULL;
  TU_OK(clgan_classifier_create(ctx, &r, CLASSES, 9, &c));
  clgan_labelled_set too_many = {10, data, labels}, too_few = {7, data, labels};
  ck_assert_int_eq(clgan_classifier_fit(c, &too_many, 1, 1, NULL), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_classifier_fit(c, &too_few, 1, 1, NULL), CLGAN_ERR_INVALID);
  labels[3] = CLASSES;
  clgan_labelled_set bad = {9, data, labels};
  ck_assert_int_eq(clgan_classifier_fit(c, &bad, 1, 1, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "label 3"));
  clgan_classifier_destroy(c);
  ck_assert_int_eq(clgan_classifier_create(ctx, &r, 1, 9, &c), CLGAN_ERR_INVALID);
}
END_TEST


/* count shape images of class cls (make_shapes' classes) as PNGs in dir. */
static void write_shapes(const char *dir, int cls, int count, uint64_t seed, const char *prefix) {
  TU_OK(clgan_make_dirs(dir));
  float *data = tu_malloc(sizeof(float) * SIZE * SIZE * count * CLASSES);
  int *labels = tu_malloc(sizeof(int) * count * CLASSES);
  make_shapes(count * CLASSES, seed, data, labels);
  for (int i = 0, n = 0; i < count * CLASSES && n < count; i++) {
    if (labels[i] != cls) continue;
    float px[SIZE * SIZE];
    for (int p = 0; p < SIZE * SIZE; p++) px[p] = 0.5f * (data[(size_t)i * SIZE * SIZE + p] + 1.0f);
    char path[700];
    snprintf(path, sizeof path, "%s/%s%03d.png", dir, prefix, n++);
    TU_OK(clgan_png_write(path, SIZE, SIZE, 1, 8, px));
  }
  free(data), free(labels);
}

/* The three arms on folders: their sizes, the steps, the fidelity, the
 * chart; mismatched class folders refused. */
START_TEST(test_utility_experiment) {
  char root[64] = "/tmp/clgan-utility-XXXXXX", d[256];
  ck_assert_ptr_nonnull(mkdtemp(root));
  const char *dirs[][3] = {{"train/bars", "12", "0"}, {"train/columns", "4", "1"},
                           {"test/bars", "6", "0"},   {"test/columns", "6", "1"},
                           {"synth/columns", "10", "1"}};
  for (int i = 0; i < 5; i++) {
    snprintf(d, sizeof d, "%s/%s", root, dirs[i][0]);
    write_shapes(d, atoi(dirs[i][2]), atoi(dirs[i][1]), 10 + (uint64_t)i, i == 4 ? "synthetic_" : "r");
  }
  char train[128], test[128], synth[128], chart[128];
  snprintf(train, sizeof train, "%s/train", root);
  snprintf(test, sizeof test, "%s/test", root);
  snprintf(synth, sizeof synth, "%s/synth", root);
  snprintf(chart, sizeof chart, "%s/chart.svg", root);
  clgan_utility_options o = {.train = train, .test = test, .synthetic = synth,
                             .recipe = tiny_recipe(), .epochs = 3, .seeds = 2, .seed = 5};
  o.recipe.batch = 4;
  clgan_utility_report *r = tu_malloc(sizeof *r);
  TU_OK(clgan_utility_run(tu_ctx(), &o, NULL, NULL, r));
  ck_assert_int_eq(r->classes, 2);
  ck_assert_int_eq(r->steps, 3 * (16 / 4));
  ck_assert_int_eq(r->arm[CLGAN_ARM_REAL].count, 16);
  ck_assert_int_eq(r->arm[CLGAN_ARM_MIXED].per_class[0], 12);
  ck_assert_int_eq(r->arm[CLGAN_ARM_MIXED].per_class[1], 12); /* 4 real + 8 of the 10 synthetic */
  ck_assert_int_eq(r->arm[CLGAN_ARM_SYNTHETIC].count, 10);
  ck_assert_int_eq(r->synthetic_per_class[1], 10);
  for (int a = 0; a < CLGAN_ARM_COUNT; a++) {
    ck_assert(r->arm[a].ran);
    for (int s = 0; s < 2; s++) {
      ck_assert_int_eq(r->arm[a].runs[s].count, 12);
      ck_assert(r->arm[a].runs[s].accuracy >= 0 && r->arm[a].runs[s].accuracy <= 1);
      ck_assert(r->arm[a].runs[s].auc >= 0 && r->arm[a].runs[s].auc <= 1);
    }
  }
  /* the synthetic set has one class: trained on it alone, every test image is called a column */
  ck_assert(r->arm[CLGAN_ARM_SYNTHETIC].runs[0].recall[1] == 1.0);
  ck_assert(r->has_fidelity);
  ck_assert_int_eq(r->fidelity[0].count, 10);
  TU_OK(clgan_utility_chart_svg(chart, r));
  FILE *f = fopen(chart, "r");
  char head[5] = {0};
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fread(head, 1, 4, f), 4);
  fclose(f);
  ck_assert_str_eq(head, "<svg");
  /* the test folder must have the training folder's classes */
  snprintf(d, sizeof d, "%s/test/squares", root);
  write_shapes(d, 2, 2, 3, "r");
  ck_assert_int_eq(clgan_utility_run(tu_ctx(), &o, NULL, NULL, r), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "same class folders"));
  free(r);
  tu_remove_tree(root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("classifier");
  TCase *tc = tcase_create("classifier");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_graph_is_d_with_class_outputs);
  tcase_add_test(tc, test_classifier_learns_shapes);
  tcase_add_test(tc, test_classifier_refuses_bad_sets);
  tcase_add_test(tc, test_utility_experiment);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
