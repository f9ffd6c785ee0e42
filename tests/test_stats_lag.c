/* Statistics one step behind (clgan_train_options.stats_lag,
 * clgan_dcgan_step_deferred): the same log.csv rows (but the measured
 * img/s), the same checkpoint bit for bit, fewer blocking reads; a stop
 * asked while the next step is queued finishes that step, saves after it,
 * and resuming from there ends where an uninterrupted run ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

static char root[256];

/* dir/name into buf (600 bytes). */
static const char *path_in(char *buf, const char *dir, const char *name) {
  snprintf(buf, 600, "%s/%s", dir, name);
  return buf;
}

static clgan_dataset *load(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data", root);
  clgan_dataset_options d = {.root = dir, .class_name = "scans", .image_size = 16, .channels = 1};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&d, &ds));
  return ds;
}

static clgan_train_options tiny(const char *out, int lag) {
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(),
                           .out_dir = out,
                           .iters = 14,
                           .seed = 5,
                           .sample_every = 6,
                           .checkpoint_every = 6,
                           .stats_lag = lag};
  o.cfg.image_size = 16;
  o.cfg.channels = 1;
  o.cfg.nz = 8;
  o.cfg.ngf = o.cfg.ndf = 4;
  o.cfg.batch = 4;
  return o;
}

static char *slurp(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = tu_malloc((size_t)*size + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)*size, f), (size_t)*size);
  buf[*size] = '\0';
  fclose(f);
  return buf;
}

/* log.csv with each row's img/s field (the 8th, a measured rate) blanked. */
static char *log_without_rate(const char *dir, int *rows) {
  long n;
  char path[600];
  char *text = slurp(path_in(path, dir, "log.csv"), &n);
  char *out = tu_malloc((size_t)n + 1), *o = out;
  int field = 0;
  *rows = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '\n') field = 0, (*rows)++;
    else if (*p == ',') field++;
    if (field == 7 && *p != ',') continue;
    *o++ = *p;
  }
  *o = '\0';
  free(text);
  return out;
}

static void assert_same_file(const char *a, const char *b) {
  long na, nb;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  ck_assert_msg(na == nb && memcmp(x, y, (size_t)na) == 0, "%s and %s differ", a, b);
  free(x), free(y);
}

/* Reads the blocking reads and event waits of the context around a run. */
static void activity(clgan_ctx_activity *a) { clgan_ctx_activity_get(tu_ctx(), a); }

START_TEST(test_lagged_run_writes_the_same_files) {
  clgan_dataset *ds = load();
  char plain[300], lagged[300], a[600], b[600];
  path_in(plain, root, "plain");
  path_in(lagged, root, "lagged");
  clgan_ctx_activity a0, a1, a2; /* the context's activity before, between, after */
  activity(&a0);
  clgan_train_options o = tiny(plain, 0);
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  activity(&a1);
  clgan_train_options l = tiny(lagged, 1);
  TU_OK(clgan_train(tu_ctx(), &l, ds, NULL, NULL));
  activity(&a2);
  int rows_a, rows_b;
  char *la = log_without_rate(plain, &rows_a), *lb = log_without_rate(lagged, &rows_b);
  ck_assert_int_eq(rows_a, 15);
  ck_assert_int_eq(rows_b, 15);
  ck_assert_str_eq(la, lb);
  free(la), free(lb);
  assert_same_file(path_in(a, plain, "checkpoint.safetensors"),
                   path_in(b, lagged, "checkpoint.safetensors"));
  /* the same statistics waits, but the lagged ones come after the next
   * step is queued; and no blocking writes of the noise */
  ck_assert_int_lt(a2.blocking_writes - a1.blocking_writes, a1.blocking_writes - a0.blocking_writes);
  clgan_dataset_free(ds);
}
END_TEST

static int stop_at_3(void *user, const clgan_train_progress *p) {
  long *calls = user;
  if (p->setup) return 0;
  (*calls)++;
  return p->iteration == 3;
}

START_TEST(test_stop_while_a_step_is_queued) {
  clgan_dataset *ds = load();
  char straight[300], split[300], ck[600], ck2[600];
  path_in(straight, root, "straight");
  path_in(split, root, "split");
  clgan_train_options o = tiny(straight, 1);
  TU_OK(clgan_train(tu_ctx(), &o, ds, NULL, NULL));
  clgan_train_options a = tiny(split, 1);
  long calls = 0;
  TU_OK(clgan_train(tu_ctx(), &a, ds, stop_at_3, &calls));
  /* iteration 4 was queued when the callback stopped at 3: it is logged,
   * reported and saved */
  ck_assert_int_eq(calls, 4);
  int rows;
  free(log_without_rate(split, &rows));
  ck_assert_int_eq(rows, 5);
  path_in(ck, split, "checkpoint.safetensors");
  clgan_train_options b = tiny(split, 1);
  b.resume = ck;
  TU_OK(clgan_train(tu_ctx(), &b, ds, NULL, NULL));
  assert_same_file(path_in(ck2, straight, "checkpoint.safetensors"), ck);
  clgan_dataset_free(ds);
}
END_TEST

/* The deferred step's figures are the blocking step's. */
START_TEST(test_deferred_step_figures) {
  clgan_dcgan_config cfg = tiny("unused", 0).cfg;
  clgan_dcgan *x = NULL, *y = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &x));
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &y));
  TU_OK(clgan_dcgan_init_weights(x, 3));
  TU_OK(clgan_dcgan_init_weights(y, 3));
  size_t nreal = (size_t)cfg.batch * 16 * 16, nz = (size_t)cfg.nz * cfg.batch;
  float *h = tu_malloc(nreal * sizeof(float));
  tu_fill_uniform(h, nreal, 1, -1, 1);
  clgan_buf real = tu_upload(h, nreal);
  tu_fill_normal(h, nz, 2, 0, 1);
  clgan_buf noise = tu_upload(h, nz);
  free(h);
  clgan_dcgan_stats s[2], t[2];
  for (int i = 0; i < 2; i++) TU_OK(clgan_dcgan_step(x, real, noise, &s[i]));
  TU_OK(clgan_dcgan_step_deferred(y, real, noise));
  TU_OK(clgan_dcgan_step_deferred(y, real, noise));
  ck_assert_int_eq(clgan_dcgan_stats_pending(y), 2);
  ck_assert_int_eq(clgan_dcgan_step_deferred(y, real, noise), CLGAN_ERR_INVALID); /* ring full */
  for (int i = 0; i < 2; i++) TU_OK(clgan_dcgan_stats_take(y, &t[i]));
  ck_assert_int_eq(clgan_dcgan_stats_take(y, &t[0]), CLGAN_ERR_INVALID); /* none pending */
  ck_assert(memcmp(s, t, sizeof s) == 0);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(x);
  clgan_dcgan_destroy(y);
}
END_TEST

int main(void) {
  snprintf(root, sizeof root, "/tmp/clgan-lag-XXXXXX");
  if (!mkdtemp(root)) return 1;
  if (!tu_disc_dataset(root)) {
    fprintf(stderr, "cannot create the test dataset in %s: %s\n", root, clgan_last_error());
    return 1;
  }
  Suite *s = suite_create("stats_lag");
  TCase *tc = tcase_create("stats_lag");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_lagged_run_writes_the_same_files);
  tcase_add_test(tc, test_stop_while_a_step_is_queued);
  tcase_add_test(tc, test_deferred_step_figures);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(root);
  return rc;
}
