/* clgan_balance on a tiny dataset with a tiny checkpoint trained here:
 * counts per class, hard links (by inode), the manifest, synthetic images
 * identical to the generator's with the same seed, and every refusal (a
 * non-empty OUT, a class without checkpoint, a size mismatch, an unknown
 * class) before anything is written. SHA-256 against FIPS test vectors. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgan/classify.h"
#include "clgan/train.h"
#include "test_util.h"

static char root[64], ckpt[256];

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

/* Synthetic image i must be the generator's image i for the seed, as
 * `clgan generate --seed` writes it. */
static void assert_same_as_generator(const char *out, int count, uint64_t seed) {
  clgan_dcgan_config cfg;
  TU_OK(clgan_checkpoint_read_config(ckpt, &cfg));
  clgan_dcgan *net = NULL;
  clgan_train_state ts = {0};
  clgan_sampler *s = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_checkpoint_load(ckpt, net, &ts));
  TU_OK(clgan_sampler_create(tu_ctx(), net, seed, &s));
  float *img = tu_malloc(sizeof(float) * 16 * 16 * count);
  TU_OK(clgan_sample(s, CLGAN_BN_RUNNING, count, NULL, img));
  for (int i = 0; i < count; i++) {
    for (int p = 0; p < 256; p++) img[i * 256 + p] = 0.5f * (img[i * 256 + p] + 1.0f);
    TU_OK(clgan_png_write(in_root("want.png"), 16, 16, 1, 8, img + i * 256));
    char got[600];
    snprintf(got, sizeof got, "%s/small/synthetic_%06d.png", out, i);
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
  assert_same_as_generator(out, 4, 77);
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
  if (!make_fixtures()) {
    fprintf(stderr, "cannot create the fixtures in %s: %s\n", root, clgan_last_error());
    return 1;
  }
  Suite *s = suite_create("balance");
  TCase *tc = tcase_create("balance");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_balance_counts_links_manifest);
  tcase_add_test(tc, test_balance_explicit_target);
  tcase_add_test(tc, test_balance_refusals);
  tcase_add_test(tc, test_balance_copies_across_file_systems);
  tcase_add_test(tc, test_sha256_vectors);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(root);
  return rc;
}
