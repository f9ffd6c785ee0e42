/* clgan_balance on a tiny dataset with a tiny checkpoint trained here:
 * counts per class, hard links (by inode), the manifest, synthetic images
 * identical to the generator's with the same seed, and every refusal (a
 * non-empty OUT, a class without checkpoint, a size mismatch, an unknown
 * class) before anything is written; the same from one conditional
 * checkpoint for every class, with its refusals (a class it lacks, the two
 * forms mixed). SHA-256 against FIPS test vectors. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgan/classify.h"
#include "clgan/cond.h"
#include "clgan/train.h"
#include "test_util.h"

static char root[64], ckpt[256], cckpt[256];

static const char *in_root(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", root, name);
  return p;
}

/* n gray size x size discs into dir (created). */
static int make_class(const char *dir, int n, int size, const char *prefix) {
  if (clgan_make_dirs(dir) != CLGAN_OK) return 0;
  float *px = malloc(sizeof(float) * size * size);
  for (int i = 0; i < n; i++) {
    for (int p = 0; p < size * size; p++) {
      int x = p % size - size / 2 - i % 3, y = p / size - size / 2;
      px[p] = x * x + y * y < size * size / 9 ? 0.9f : 0.1f;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s%02d.png", dir, prefix, i);
    if (clgan_png_write(path, size, size, 1, 8, px) != CLGAN_OK) return free(px), 0;
  }
  free(px);
  return 1;
}

/* data/big: 6 images; data/small: 1 image and 1 in a sub-folder; all 16 px.
 * data20/small: 20 px images. A checkpoint trained 2 steps on data/small. */
static int make_fixtures(void) {
  if (!make_class(in_root("data/big"), 6, 16, "b") || !make_class(in_root("data/small"), 1, 16, "s") ||
      !make_class(in_root("data/small/sub"), 1, 16, "t") ||
      !make_class(in_root("data20/big"), 2, 20, "b") || !make_class(in_root("data20/small"), 1, 20, "s"))
    return 0;
  clgan_dataset_options d = {.root = in_root("data"), .class_name = "small", .image_size = 16, .channels = 1};
  clgan_dataset *ds = NULL;
  if (clgan_dataset_load(&d, &ds) != CLGAN_OK) return 0;
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(), .out_dir = in_root("run"),
                           .iters = 2, .seed = 3, .sample_every = 2, .checkpoint_every = 2};
  o.cfg.image_size = 16, o.cfg.channels = 1, o.cfg.nz = 8, o.cfg.ngf = 4, o.cfg.ndf = 4;
  o.cfg.batch = 2;
  clgan_status st = clgan_train(tu_ctx(), &o, ds, NULL, NULL);
  clgan_dataset_free(ds);
  snprintf(ckpt, sizeof ckpt, "%s/run/checkpoint.safetensors", root);
  return st == CLGAN_OK;
}

/* cdata: classes a (5 images), b (2), c (1); cdata_d: a, b, d (one each). A
 * conditional checkpoint trained 2 steps on cdata (as test_cond trains). */
static int make_conditional_fixtures(void) {
  if (!make_class(in_root("cdata/a"), 5, 16, "a") || !make_class(in_root("cdata/b"), 2, 16, "b") ||
      !make_class(in_root("cdata/c"), 1, 16, "c") || !make_class(in_root("cdata_d/a"), 1, 16, "a") ||
      !make_class(in_root("cdata_d/b"), 1, 16, "b") || !make_class(in_root("cdata_d/d"), 1, 16, "d"))
    return 0;
  clgan_dataset_options d = {.root = in_root("cdata"), .image_size = 16, .channels = 1};
  clgan_dataset *ds = NULL;
  if (clgan_dataset_load(&d, &ds) != CLGAN_OK) return 0;
  clgan_train_options o = {.cfg = clgan_dcgan_default_config(), .out_dir = in_root("crun"),
                           .iters = 2, .seed = 4, .sample_every = 2, .checkpoint_every = 2};
  o.cfg.image_size = 16, o.cfg.channels = 1, o.cfg.nz = 8, o.cfg.ngf = 4, o.cfg.ndf = 4;
  o.cfg.batch = 2, o.cfg.conditional = 1, o.cfg.embed_dim = 3;
  clgan_status st = clgan_train(tu_ctx(), &o, ds, NULL, NULL);
  clgan_dataset_free(ds);
  snprintf(cckpt, sizeof cckpt, "%s/crun/checkpoint.safetensors", root);
  return st == CLGAN_OK;
}

static int count_files(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".png") != NULL;
  closedir(d);
  return n;
}

static ino_t inode(const char *path) {
  struct stat s;
  ck_assert_msg(stat(path, &s) == 0, "%s missing", path);
  return s.st_ino;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s missing", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  char *buf = tu_malloc(*len + 1);
  ck_assert_uint_eq(fread(buf, 1, *len, f), *len);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

/* Synthetic image i of class cls must be the generator's image i for the
 * seed, as `clgan generate --checkpoint model --seed` writes it (with
 * `--class cls` when model is conditional: every image of that class). */
static void assert_same_as_generator(const char *model, const char *out, const char *cls,
                                     int count, uint64_t seed) {
  clgan_dcgan_config cfg;
  TU_OK(clgan_checkpoint_read_config(model, &cfg));
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  clgan_sampler *s = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_checkpoint_load(model, net, &ts));
  TU_OK(clgan_sampler_create(tu_ctx(), net, seed, &s));
  float *img = tu_malloc(sizeof(float) * 16 * 16 * count);
  int *labels = tu_malloc(sizeof(int) * count), label = -1;
  if (cfg.conditional) TU_OK(clgan_dcgan_find_class(net, cls, model, &label));
  for (int i = 0; i < count; i++) labels[i] = label;
  TU_OK(clgan_sample_labels(s, CLGAN_BN_RUNNING, count, NULL, cfg.conditional ? labels : NULL, img));
  free(labels);
  for (int i = 0; i < count; i++) {
    for (int p = 0; p < 256; p++) img[i * 256 + p] = 0.5f * (img[i * 256 + p] + 1.0f);
    TU_OK(clgan_png_write(in_root("want.png"), 16, 16, 1, 8, img + i * 256));
    char got[600];
    snprintf(got, sizeof got, "%s/%s/synthetic_%06d.png", out, cls, i);
    size_t a, b;
    char *x = slurp(got, &a), *y = slurp(in_root("want.png"), &b);
    ck_assert_msg(a == b && memcmp(x, y, a) == 0, "%s differs from the generator's image %d", got, i);
    free(x), free(y);
  }
  free(img), free(ts.fixed_noise);
  clgan_sampler_destroy(s);
  clgan_dcgan_destroy(net);
}

START_TEST(test_balance_counts_links_manifest) {
  char out[512];
  snprintf(out, sizeof out, "%s", in_root("out"));
  clgan_balance_source src = {"small", ckpt};
  clgan_balance_options o = {.data = in_root("data"), .out = out, .sources = &src, .nsources = 1, .seed = 77};
  clgan_balance_report r;
  TU_OK(clgan_balance(tu_ctx(), &o, &r));
  ck_assert_int_eq(r.nclasses, 2);
  ck_assert_int_eq(r.target, 6);
  ck_assert_int_eq(r.real[0], 6);
  ck_assert_int_eq(r.synthetic[0], 0);
  ck_assert_int_eq(r.real[1], 2);
  ck_assert_int_eq(r.synthetic[1], 4);
  ck_assert_int_eq(r.linked + r.copied, 8);
  ck_assert_int_eq(count_files(in_root("out/big"), "b"), 6);
  ck_assert_int_eq(count_files(in_root("out/big"), "synthetic_"), 0);
  ck_assert_int_eq(count_files(in_root("out/small"), "synthetic_"), 4);
  ck_assert_int_eq(count_files(in_root("out/small/sub"), "t"), 1);
  if (r.copied == 0) { /* one file system: hard links, the same inodes */
    ck_assert(inode(in_root("out/big/b03.png")) == inode(in_root("data/big/b03.png")));
    ck_assert(inode(in_root("out/small/sub/t00.png")) == inode(in_root("data/small/sub/t00.png")));
  }
  char sha[65], line[1200];
  TU_OK(clgan_sha256_file(ckpt, sha));
  snprintf(line, sizeof line, "small/synthetic_000003.png,small,synthetic,%s,%s,77,3\n", ckpt, sha);
  size_t len;
  char *m = slurp(in_root("out/manifest.csv"), &len);
  ck_assert_msg(strncmp(m, "file,class,kind,source,sha256,seed,index\n", 41) == 0, "header: %.60s", m);
  ck_assert_msg(strstr(m, line) != NULL, "no row %s in\n%s", line, m);
  snprintf(line, sizeof line, "small/sub/t00.png,small,real,%s/data/small/sub/t00.png,,,\n", root);
  ck_assert_msg(strstr(m, line) != NULL, "no row %s in\n%s", line, m);
  int rows = 0;
  for (char *p = m; *p; p++) rows += *p == '\n';
  ck_assert_int_eq(rows, 1 + 8 + 4);
  free(m);
  assert_same_as_generator(ckpt, out, "small", 4, 77);
  /* again into the same OUT: refused, nothing replaced */
  ck_assert_int_eq(clgan_balance(tu_ctx(), &o, &r), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "not empty"));
  size_t len2;
  free(slurp(in_root("out/manifest.csv"), &len2));
  ck_assert_uint_eq(len, len2);
}
END_TEST

/* --target below the largest class: every real image kept, the others topped up. */
START_TEST(test_balance_explicit_target) {
  clgan_balance_source src = {"small", ckpt};
  clgan_balance_options o = {.data = in_root("data"), .out = in_root("out3"), .sources = &src,
                             .nsources = 1, .target = 3};
  clgan_balance_report r;
  TU_OK(clgan_balance(tu_ctx(), &o, &r));
  ck_assert_int_eq(r.synthetic[0], 0);
  ck_assert_int_eq(r.synthetic[1], 1);
  ck_assert_int_eq(count_files(in_root("out3/big"), "b"), 6);
}
END_TEST

static void assert_refused(const clgan_balance_options *o, const char *words) {
  clgan_balance_report r;
  ck_assert_int_eq(clgan_balance(tu_ctx(), o, &r), CLGAN_ERR_INVALID);
  ck_assert_msg(strstr(clgan_last_error(), words) != NULL, "message '%s' lacks '%s'",
                clgan_last_error(), words);
  struct stat s;
  ck_assert_msg(stat(o->out, &s) != 0, "%s was created", o->out);
}

START_TEST(test_balance_refusals) {
  clgan_balance_options o = {.data = in_root("data"), .out = in_root("refused")};
  assert_refused(&o, "no checkpoint (--checkpoint small=FILE)");
  clgan_balance_source wrong = {"tiny", ckpt};
  o.sources = &wrong, o.nsources = 1;
  assert_refused(&o, "class 'tiny'");
  clgan_balance_source twice[2] = {{"small", ckpt}, {"small", ckpt}};
  o.sources = twice, o.nsources = 2;
  assert_refused(&o, "two checkpoints");
  clgan_balance_source src = {"small", ckpt};
  o.data = in_root("data20"), o.sources = &src, o.nsources = 1;
  assert_refused(&o, "16x16 images with 1 channel(s), but class 'small' has 20x20");
}
END_TEST

/* One conditional checkpoint for every class: a keeps its 5, b gets 3 and
 * c 4 synthetic images of their own class (two batches of 2; b's last
 * batch padded), traced in the manifest. */
START_TEST(test_balance_conditional) {
  char out[512];
  snprintf(out, sizeof out, "%s", in_root("cout"));
  clgan_balance_source src = {NULL, cckpt};
  clgan_balance_options o = {.data = in_root("cdata"), .out = out, .sources = &src, .nsources = 1,
                             .seed = 11};
  clgan_balance_report r;
  TU_OK(clgan_balance(tu_ctx(), &o, &r));
  ck_assert_int_eq(r.nclasses, 3);
  ck_assert_int_eq(r.target, 5);
  const long real[3] = {5, 2, 1}, synthetic[3] = {0, 3, 4};
  const char *names[3] = {"a", "b", "c"};
  for (int c = 0; c < 3; c++) {
    ck_assert_str_eq(r.class_names[c], names[c]);
    ck_assert_int_eq(r.real[c], real[c]);
    ck_assert_int_eq(r.synthetic[c], synthetic[c]);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", out, names[c]);
    ck_assert_int_eq(count_files(dir, "synthetic_"), synthetic[c]);
    ck_assert_int_eq(count_files(dir, names[c]), real[c]);
  }
  char sha[65], line[1200];
  TU_OK(clgan_sha256_file(cckpt, sha));
  size_t len;
  char *m = slurp(in_root("cout/manifest.csv"), &len);
  for (int c = 1; c < 3; c++)
    for (int i = 0; i < synthetic[c]; i++) {
      snprintf(line, sizeof line, "%s/synthetic_%06d.png,%s,synthetic,%s,%s,11,%d\n", names[c], i,
               names[c], cckpt, sha, i);
      ck_assert_msg(strstr(m, line) != NULL, "no row %s in\n%s", line, m);
    }
  snprintf(line, sizeof line, "c/c00.png,c,real,%s/cdata/c/c00.png,,,\n", root);
  ck_assert_msg(strstr(m, line) != NULL, "no row %s in\n%s", line, m);
  int rows = 0, synthetic_rows = 0;
  for (char *p = m; *p; p++) rows += *p == '\n';
  for (char *p = m; (p = strstr(p, ",synthetic,")); p++) synthetic_rows++;
  ck_assert_int_eq(rows, 1 + 8 + 7);
  ck_assert_int_eq(synthetic_rows, 7);
  free(m);
  assert_same_as_generator(cckpt, out, "b", 3, 11);
  assert_same_as_generator(cckpt, out, "c", 4, 11);
  /* the classes differ: b's images are not c's (same noise, another class) */
  size_t lb, lc;
  char *xb = slurp(in_root("cout/b/synthetic_000000.png"), &lb);
  char *xc = slurp(in_root("cout/c/synthetic_000000.png"), &lc);
  ck_assert_msg(lb != lc || memcmp(xb, xc, lb) != 0, "classes b and c gave the same image");
  free(xb), free(xc);
}
END_TEST

START_TEST(test_balance_conditional_refusals) {
  clgan_balance_source cond = {NULL, cckpt};
  clgan_balance_options o = {.data = in_root("cdata_d"), .out = in_root("crefused"),
                             .sources = &cond, .nsources = 1};
  /* a class of the data the checkpoint lacks: the file named, its classes listed */
  char words[600];
  snprintf(words, sizeof words, "%s has no class 'd'; its classes: a, b, c", cckpt);
  assert_refused(&o, words);
  o.data = in_root("cdata");
  clgan_balance_source mixed[2] = {{NULL, cckpt}, {"b", ckpt}};
  o.sources = mixed, o.nsources = 2;
  assert_refused(&o, "serves every class: give it alone, without CLASS=FILE checkpoints");
  clgan_balance_source two[2] = {{NULL, cckpt}, {NULL, cckpt}};
  o.sources = two;
  assert_refused(&o, "two conditional checkpoints");
  clgan_balance_source per_class[2] = {{"b", cckpt}, {"c", cckpt}};
  o.sources = per_class;
  assert_refused(&o, "is conditional (one model for every class)");
  clgan_balance_source unconditional = {NULL, ckpt};
  o.sources = &unconditional, o.nsources = 1;
  assert_refused(&o, "is not conditional: give it for its class");
}
END_TEST

/* Across file systems (the data on /dev/shm, OUT under /tmp, where both
 * exist and differ) the real images are copied, byte for byte. */
START_TEST(test_balance_copies_across_file_systems) {
  struct stat a, b;
  char shm[64] = "/dev/shm/clgan-balance-XXXXXX";
  if (stat("/dev/shm", &a) != 0 || stat(root, &b) != 0 || a.st_dev == b.st_dev || !mkdtemp(shm)) {
    fprintf(stderr, "no second file system here: the copy path is not exercised\n");
    return;
  }
  char data[128], out[128], src[256], dst[256];
  snprintf(data, sizeof data, "%s/data", shm);
  snprintf(src, sizeof src, "%s/big", data);
  ck_assert(make_class(src, 3, 16, "b"));
  snprintf(src, sizeof src, "%s/small", data);
  ck_assert(make_class(src, 3, 16, "s"));
  snprintf(out, sizeof out, "%s", in_root("out_copied"));
  clgan_balance_options o = {.data = data, .out = out};
  clgan_balance_report r;
  TU_OK(clgan_balance(tu_ctx(), &o, &r));
  ck_assert_int_eq(r.copied, 6);
  ck_assert_int_eq(r.linked, 0);
  snprintf(src, sizeof src, "%s/small/s01.png", data);
  snprintf(dst, sizeof dst, "%s/small/s01.png", out);
  size_t la, lb;
  char *x = slurp(src, &la), *y = slurp(dst, &lb);
  ck_assert(la == lb && memcmp(x, y, la) == 0);
  free(x), free(y);
  tu_remove_tree(shm);
}
END_TEST

START_TEST(test_sha256_vectors) {
  static const struct {
    const char *text, *hex;
  } v[] = {{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
           {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
           {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    clgan_sha256_ctx s;
    uint8_t d[32];
    char hex[65];
    clgan_sha256_init(&s);
    clgan_sha256_update(&s, v[i].text, strlen(v[i].text));
    clgan_sha256_final(&s, d);
    clgan_sha256_hex(d, hex);
    ck_assert_str_eq(hex, v[i].hex);
  }
  /* a million 'a' in uneven pieces: the block boundary inside updates */
  char *a = tu_malloc(1000000);
  memset(a, 'a', 1000000);
  FILE *f = fopen(in_root("million"), "wb");
  ck_assert_uint_eq(fwrite(a, 1, 1000000, f), 1000000);
  fclose(f);
  char hex[65];
  TU_OK(clgan_sha256_file(in_root("million"), hex));
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  clgan_sha256_ctx s;
  uint8_t d[32];
  clgan_sha256_init(&s);
  for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 1000 + 1)
    clgan_sha256_update(&s, a + off, off + step > 1000000 ? 1000000 - off : step);
  clgan_sha256_final(&s, d);
  clgan_sha256_hex(d, hex);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(a);
  ck_assert_int_eq(clgan_sha256_file(in_root("no-such-file"), hex), CLGAN_ERR_IO);
}
END_TEST

int main(void) {
  snprintf(root, sizeof root, "/tmp/clgan-balance-XXXXXX");
  if (!mkdtemp(root)) return 1;
  if (!make_fixtures() || !make_conditional_fixtures()) {
    fprintf(stderr, "cannot create the fixtures in %s: %s\n", root, clgan_last_error());
    return 1;
  }
  Suite *s = suite_create("balance");
  TCase *tc = tcase_create("balance");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_balance_counts_links_manifest);
  tcase_add_test(tc, test_balance_explicit_target);
  tcase_add_test(tc, test_balance_refusals);
  tcase_add_test(tc, test_balance_conditional);
  tcase_add_test(tc, test_balance_conditional_refusals);
  tcase_add_test(tc, test_balance_copies_across_file_systems);
  tcase_add_test(tc, test_sha256_vectors);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(root);
  return rc;
}
