/* One model for every class end to end on a tiny three-class ImageFolder:
 * the classes and class names through the trainer, checkpoints, resume
 * (bit-identical, resident and streamed, with balanced sampling), export and
 * import; generation by class (and the refusals); the balanced draw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/augment.h"
#include "clgan/cond.h"
#include "clgan/image.h"
#include "clgan/train.h"
#include "test_util.h"
#include "cli/generate_class.h"
#include "train/cond_data.h"

static char root[64];
static const char *const CLASSES[3] = {"disc", "square", "stripes"};
static const int COUNTS[3] = {12, 8, 4}; /* imbalanced on purpose */

static const char *path_in(const char *dir, const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

/* Class c's image i: a disc, a square or horizontal stripes, moving with i. */
static float pixel(int c, int i, int x, int y) {
  int cx = 6 + i % 5, cy = 6 + i / 5 % 5;
  if (c == 0) return (x - cx) * (x - cx) + (y - cy) * (y - cy) < 16 ? 0.9f : 0.1f;
  if (c == 1) return abs(x - cx) < 4 && abs(y - cy) < 4 ? 0.9f : 0.1f;
  return (y + i) / 3 % 2 ? 0.9f : 0.1f;
}

static int make_dataset(void) {
  if (mkdir(path_in(root, "data"), 0755) != 0) return 0;
  float px[20 * 20];
  for (int c = 0; c < 3; c++) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/%s", root, CLASSES[c]);
    if (mkdir(dir, 0755) != 0) return 0;
    for (int i = 0; i < COUNTS[c]; i++) {
      for (int y = 0; y < 20; y++)
        for (int x = 0; x < 20; x++) px[y * 20 + x] = pixel(c, i, x, y);
      char path[600];
      snprintf(path, sizeof path, "%s/img%02d.png", dir, i);
      if (clgan_png_write(path, 20, 20, 1, 8, px) != CLGAN_OK) return 0;
    }
  }
  return 1;
}

static clgan_dataset *load(const char *cls) {
  clgan_dataset_options d = {.root = path_in(root, "data"), .class_name = cls, .image_size = 16,
                             .channels = 1};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&d, &ds));
  return ds;
}

static clgan_train_options tiny(const char *out) {
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(), .out_dir = out, .iters = 14,
                           .seed = 5, .sample_every = 7, .checkpoint_every = 7};
  clgan_dcgan_config *c = &o.cfg;
  c->image_size = 16;
  c->channels = 1;
  c->nz = 8;
  c->ngf = c->ndf = 4;
  c->batch = 4;
  c->conditional = 1;
  c->embed_dim = 3;
  return o;
}

/* run/checkpoint.safetensors, in buffers of its own (run may be a path_in's) */
static const char *ckpt(const char *run) {
  static char buf[4][600];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/checkpoint.safetensors", run);
  return p;
}

/* straight to 14 == 8, then resumed to 14; and the streamed loader agrees. */
static const char *const cond_keys[] = {"iteration", "classes", "config.num_classes"};

static void check_resume(clgan_train_options o, const char *tag) {
  clgan_dataset *ds = load(NULL);
  char a[128], b[128], s[128];
  snprintf(a, sizeof a, "%s/%s-straight", root, tag);
  snprintf(b, sizeof b, "%s/%s-split", root, tag);
  snprintf(s, sizeof s, "%s/%s-streamed", root, tag);
  o.out_dir = a;
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  clgan_train_options p = o;
  p.out_dir = b;
  p.iters = 8;
  TU_OK(clgan_train(tu_ctx(), &p, ds, NULL, NULL));
  p.iters = 14;
  p.resume = ckpt(b);
  TU_OK(clgan_train(tu_ctx(), &p, ds, NULL, NULL));
  tu_assert_same_checkpoints(ckpt(a), ckpt(b), cond_keys, 3);
  clgan_train_options q = o;
  q.out_dir = s;
  q.stream = 1;
  TU_OK(clgan_train(tu_ctx(), &q, ds, NULL, NULL));
  tu_assert_same_checkpoints(ckpt(a), ckpt(s), cond_keys, 3);
  clgan_dataset_free(ds);
}

START_TEST(test_resume_conditional_is_exact) {
  clgan_train_options o = tiny(NULL);
  o.cfg.ema_decay = 0.9f;
  o.cfg.augment = CLGAN_AUG_ALL;
  o.cfg.nan_guard = 1;
  check_resume(o, "cond");
  o.cfg.balanced_sampling = 1;
  check_resume(o, "balanced");
  /* the checkpoint has the classes, in the data's (sorted) order */
  clgan_safetensors *st;
  char split[128];
  snprintf(split, sizeof split, "%s/cond-split", root);
  TU_OK(clgan_safetensors_open(ckpt(split), &st));
  ck_assert_str_eq(clgan_safetensors_meta(st, "classes"), "[\"disc\",\"square\",\"stripes\"]");
  ck_assert_str_eq(clgan_safetensors_meta(st, "config.num_classes"), "3");
  ck_assert_ptr_nonnull(clgan_safetensors_find(st, "netG_ema.label_emb.weight"));
  clgan_safetensors_close(st);
  /* and config.json, with the conditional fields */
  char text[8192] = "";
  FILE *f = fopen(path_in(split, "config.json"), "r");
  ck_assert_ptr_nonnull(f);
  text[fread(text, 1, sizeof text - 1, f)] = '\0';
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "\"conditional\": true"));
  ck_assert_ptr_nonnull(strstr(text, "\"num_classes\": 3"));
  const char *cls = strstr(text, "\"classes\"");
  ck_assert_msg(cls && strstr(cls, "\"disc\"") && strstr(cls, "\"stripes\""), "%s", text);
}
END_TEST

/* A model read back from a checkpoint: its class names, a refused class
 * naming the known ones, export and import with the names and the table. */
START_TEST(test_class_names_and_export) {
  const char *run = path_in(root, "cond-straight");
  clgan_dcgan_config cfg;
  TU_OK(clgan_checkpoint_read_config(ckpt(run), &cfg));
  ck_assert_int_eq(cfg.conditional, 1);
  ck_assert_int_eq(cfg.num_classes, 3);
  clgan_dcgan *net = NULL;
  clgan_train_state ts;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_checkpoint_load(ckpt(run), net, &ts));
  free(ts.fixed_noise);
  ck_assert_int_eq(clgan_dcgan_class_count(net), 3);
  for (int c = 0; c < 3; c++) ck_assert_str_eq(clgan_dcgan_class_name(net, c), CLASSES[c]);
  int idx = -1;
  TU_OK(clgan_dcgan_find_class(net, "stripes", "x", &idx));
  ck_assert_int_eq(idx, 2);
  ck_assert_int_eq(clgan_dcgan_find_class(net, "tumour", "model.st", &idx), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "model.st has no class 'tumour'"));
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "disc, square, stripes"));
  const char *gen = path_in(root, "G.safetensors");
  TU_OK(clgan_export_generator(gen, net));
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(gen, &st));
  const clgan_st_tensor *emb = clgan_safetensors_find(st, "label_emb.weight");
  ck_assert_ptr_nonnull(emb);
  ck_assert_int_eq(emb->shape[0], 3);
  ck_assert_int_eq(emb->shape[1], 3);
  ck_assert_ptr_nonnull(clgan_safetensors_meta(st, "classes"));
  clgan_safetensors_close(st);
  clgan_dcgan_config gcfg = clgan_dcgan_default_config();
  TU_OK(clgan_generator_read_config(gen, &gcfg));
  clgan_dcgan *g2 = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &gcfg, &g2));
  TU_OK(clgan_import_generator(gen, g2));
  ck_assert_str_eq(clgan_dcgan_class_name(g2, 1), "square");
  /* the same noise and class through both: the same images (EMA weights exported) */
  size_t img = (size_t)cfg.image_size * cfg.image_size, n = 4;
  float *a = tu_malloc(sizeof(float) * img * n), *b = tu_malloc(sizeof(float) * img * n);
  const int labels[4] = {2, 2, 0, 1};
  clgan_sampler *s1 = NULL, *s2 = NULL;
  TU_OK(clgan_sampler_create(tu_ctx(), net, 3, &s1));
  TU_OK(clgan_sampler_create(tu_ctx(), g2, 3, &s2));
  TU_OK(clgan_sample_labels(s1, CLGAN_BN_RUNNING, 4, NULL, labels, a));
  TU_OK(clgan_sample_labels(s2, CLGAN_BN_RUNNING, 4, NULL, labels, b));
  TU_ASSERT_CLOSE("exported generator", b, a, img * n, 1e-5, 1e-6);
  clgan_sampler_destroy(s1);
  clgan_sampler_destroy(s2);
  free(a);
  free(b);
  clgan_dcgan_destroy(g2);
  clgan_dcgan_destroy(net);
}
END_TEST

/* The class changes the image, the noise fixed; the same class, the same
 * image wherever it sits in the batch; bad classes are refused. */
START_TEST(test_generation_by_class) {
  clgan_dcgan_config cfg = tiny(NULL).cfg;
  cfg.num_classes = 3;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 2));
  size_t img = (size_t)cfg.image_size * cfg.image_size;
  enum { N = 6 };
  float *noise = tu_malloc(sizeof(float) * cfg.nz * N), *out = tu_malloc(sizeof(float) * img * N);
  tu_fill_normal(noise, (size_t)cfg.nz, 8, 0, 1);
  for (int i = 1; i < N; i++) memcpy(noise + i * cfg.nz, noise, sizeof(float) * cfg.nz);
  const int labels[N] = {0, 1, 2, 0, 1, 2};
  clgan_sampler *s = NULL;
  TU_OK(clgan_sampler_create(tu_ctx(), net, 1, &s));
  TU_OK(clgan_sample_labels(s, CLGAN_BN_RUNNING, N, noise, labels, out));
  for (int i = 0; i < 3; i++) {
    ck_assert_msg(memcmp(out + i * img, out + (i + 3) * img, sizeof(float) * img) == 0,
                  "class %d: the same noise gave two images", labels[i]);
    ck_assert_msg(memcmp(out + i * img, out + (i + 1) % 3 * img, sizeof(float) * img) != 0,
                  "classes %d and %d gave the same image", i, (i + 1) % 3);
  }
  /* without classes: image i is class i % 3 */
  float *cyc = tu_malloc(sizeof(float) * img * N);
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, N, noise, cyc));
  ck_assert(memcmp(out, cyc, sizeof(float) * img * N) == 0);
  const int bad[N] = {0, 3, 0, 0, 0, 0};
  ck_assert_int_eq(clgan_sample_labels(s, CLGAN_BN_RUNNING, N, noise, bad, out), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "class 3"));
  clgan_sampler_destroy(s);
  clgan_dcgan_destroy(net);
  /* bCR's extra D passes take no labels: refused with a conditional model */
  cfg.consistency = 10.0f;
  ck_assert_int_eq(clgan_dcgan_create(tu_ctx(), &cfg, &net), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "--consistency (bCR) is not supported"));
  cfg.consistency = 0.0f;
  /* an unconditional model takes no classes and has none */
  cfg.conditional = 0;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_sampler_create(tu_ctx(), net, 1, &s));
  ck_assert_int_eq(clgan_sample_labels(s, CLGAN_BN_RUNNING, N, noise, labels, out),
                   CLGAN_ERR_INVALID);
  int idx;
  ck_assert_int_eq(clgan_dcgan_find_class(net, "disc", "plain.st", &idx), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "not a conditional model"));
  clgan_sampler_destroy(s);
  clgan_dcgan_destroy(net);
  free(noise), free(out), free(cyc);
}
END_TEST

/* Balanced draws: every class about a third of the images although the data
 * is 12 : 8 : 4; the same iteration draws the same batch; refusals. */
START_TEST(test_balanced_draw_and_refusals) {
  clgan_dataset *ds = load(NULL);
  clgan_train_options o = tiny(path_in(root, "unused"));
  o.cfg.conditional = 0;
  o.cfg.balanced_sampling = 1;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &o.cfg, &net));
  cond_data *t = NULL;
  TU_OK(cond_data_create(tu_ctx(), net, ds, 77, 6, NULL, &t));
  int seen[3] = {0}, idx[4], again[4];
  enum { ITERS = 600 };
  for (long it = 0; it < ITERS; it++) {
    cond_data_balanced(t, it, idx);
    for (int b = 0; b < 4; b++) seen[ds->labels[idx[b]]]++;
    if (it == 17) memcpy(again, idx, sizeof idx);
  }
  cond_data_balanced(t, 17, idx);
  ck_assert(memcmp(idx, again, sizeof idx) == 0);
  for (int c = 0; c < 3; c++) /* 800 expected, sd ~ 16 */
    ck_assert_msg(abs(seen[c] - ITERS * 4 / 3) < 100, "class %d drawn %d times of %d", c, seen[c],
                  ITERS * 4);
  cond_data_destroy(t);
  clgan_dcgan_destroy(net);
  /* --conditional with --class, and a class folder without images */
  clgan_dataset *one = load("square");
  o = tiny(path_in(root, "refused"));
  ck_assert_int_eq(clgan_train(tu_ctx(), &o, one, NULL, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "drop --class square"));
  clgan_dataset_free(one);
  char empty[128];
  snprintf(empty, sizeof empty, "%s/data/empty", root);
  mkdir(empty, 0755);
  clgan_dataset *holes = load(NULL);
  ck_assert_int_eq(clgan_train(tu_ctx(), &o, holes, NULL, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "class 'empty' has no images"));
  clgan_dataset_free(holes);
  rmdir(empty);
  clgan_dataset_free(ds);
}
END_TEST

/* `clgan generate --class`: a name is one job into --out, "all" one job per
 * class into out/<class>/ (created), an unknown class is refused. */
START_TEST(test_generate_class_jobs) {
  const char *run = path_in(root, "cond-straight");
  clgan_dcgan_config cfg;
  TU_OK(clgan_checkpoint_read_config(ckpt(run), &cfg));
  clgan_dcgan *net = NULL;
  clgan_train_state ts;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_checkpoint_load(ckpt(run), net, &ts));
  free(ts.fixed_noise);
  gen_class_job *jobs = NULL;
  int n = 0;
  char out[128];
  snprintf(out, sizeof out, "%s/gen", root);
  ck_assert(gen_class_jobs("generate", net, "square", "ck", out, NULL, 5, 0, 0, &jobs, &n));
  ck_assert_int_eq(n, 1);
  ck_assert_str_eq(jobs[0].dir, out);
  for (int i = 0; i < 5; i++) ck_assert_int_eq(jobs[0].labels[i], 1);
  gen_class_jobs_free(jobs, n);
  ck_assert(gen_class_jobs("generate", net, "all", "ck", out, "g.png", 2, 0, 0, &jobs, &n));
  ck_assert_int_eq(n, 3);
  for (int c = 0; c < 3; c++) {
    struct stat sb;
    ck_assert_str_eq(jobs[c].dir, path_in(out, CLASSES[c]));
    ck_assert_int_eq(stat(jobs[c].dir, &sb), 0);
    ck_assert_int_eq(jobs[c].labels[1], c);
  }
  ck_assert_str_eq(jobs[2].grid, "g_stripes.png");
  gen_class_jobs_free(jobs, n);
  fprintf(stderr, "(a refusal is expected) ");
  ck_assert(!gen_class_jobs("generate", net, "tumour", "ck", out, NULL, 2, 0, 0, &jobs, &n));
  ck_assert_ptr_null(jobs);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "its classes: disc, square, stripes"));
  clgan_dcgan_destroy(net);
}
END_TEST

static int per_class(void *user, const clgan_train_progress *p) {
  int *seen = user;
  if (!p->eval) return 0;
  ck_assert_ptr_nonnull(p->class_swd);
  for (int c = 0; c < 3; c++) ck_assert(p->class_swd[c] > 0 && isfinite(p->class_swd[c]));
  (*seen)++;
  return 0;
}

/* Evaluation during a conditional run: each class against its own images,
 * in metrics_classes.csv and in the progress report. */
START_TEST(test_evaluation_per_class) {
  clgan_dataset *ds = load(NULL);
  clgan_train_options o = tiny(path_in(root, "eval"));
  o.iters = 4;
  o.eval_every = 2;
  int seen = 0;
  TU_OK(clgan_train(tu_ctx(), &o, ds, per_class, &seen));
  ck_assert_int_eq(seen, 3); /* the baseline at 1, then 2 and 4 */
  FILE *f = fopen(path_in(o.out_dir, "metrics_classes.csv"), "r");
  ck_assert_ptr_nonnull(f);
  char line[256];
  int rows = 0, stripes = 0;
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_ptr_nonnull(strstr(line, "iteration,class,name,swd_x1e3"));
  while (fgets(line, sizeof line, f)) rows++, stripes += strstr(line, ",2,stripes,") != NULL;
  fclose(f);
  ck_assert_int_eq(rows, 9);
  ck_assert_int_eq(stripes, 3);
  clgan_dataset_free(ds);
}
END_TEST

int main(void) {
  snprintf(root, sizeof root, "/tmp/clgan_cond_XXXXXX");
  if (!mkdtemp(root) || !make_dataset()) return 1;
  Suite *s = suite_create("cond");
  TCase *tc = tcase_create("cond");
  tcase_add_test(tc, test_resume_conditional_is_exact);
  tcase_add_test(tc, test_class_names_and_export);
  tcase_add_test(tc, test_generation_by_class);
  tcase_add_test(tc, test_balanced_draw_and_refusals);
  tcase_add_test(tc, test_evaluation_per_class);
  tcase_add_test(tc, test_generate_class_jobs);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(root);
  return rc;
}
