#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgan/image.h"
#include "clgan/safetensors.h"
#include <sys/stat.h>
#include <unistd.h>

static clgan_ctx *shared_ctx;

clgan_ctx *tu_ctx(void) {
  if (shared_ctx) return shared_ctx;
  clgan_ctx_options o = {0};
  o.device = getenv("CLGAN_TEST_DEVICE");
  clgan_status st = clgan_ctx_create(&o, &shared_ctx);
  if (st == CLGAN_ERR_NO_PLATFORM || (st == CLGAN_ERR_NO_DEVICE && !o.device)) {
    fprintf(stderr, "SKIP: no OpenCL device: %s\n", clgan_last_error());
    exit(77);
  }
  if (st != CLGAN_OK) {
    fprintf(stderr, "cannot create OpenCL context: %s: %s\n", clgan_status_str(st),
            clgan_last_error());
    exit(1);
  }
  return shared_ctx;
}

int tu_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  clgan_ctx_destroy(shared_ctx);
  shared_ctx = NULL;
  return failed == 0 ? 0 : 1;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)unit(&s);
}

void tu_fill_normal(float *x, size_t n, uint64_t seed, float mean, float std) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) {
    double u1 = unit(&s), u2 = unit(&s);
    if (u1 < 1e-300) u1 = 1e-300;
    x[i] = mean + std * (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

int tu_close(const char *what, const float *got, const float *want, size_t n, double rtol,
             double atol) {
  size_t worst = 0, bad = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    double err = fabs(g - w), lim = atol + rtol * fabs(w);
    double excess = isfinite(g) && isfinite(w) ? err - lim : INFINITY;
    if (excess > 0) bad++;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (bad == 0) return 1;
  fprintf(stderr,
          "%s: %zu of %zu elements out of tolerance (rtol %g, atol %g); worst at [%zu]: "
          "got %.9g, want %.9g, |diff| %.3g\n",
          what, bad, n, rtol, atol, worst, got[worst], want[worst],
          fabs((double)got[worst] - want[worst]));
  return 0;
}

void *tu_malloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  ck_assert_msg(p != NULL, "out of memory (%zu bytes)", bytes);
  return p;
}

clgan_buf tu_upload(const float *src, size_t n) {
  clgan_buf b;
  TU_OK(clgan_buf_alloc(tu_ctx(), n, &b));
  if (src)
    TU_OK(clgan_buf_write(tu_ctx(), b, src, n));
  else
    TU_OK(clgan_fill(tu_ctx(), b, n, 0.0f));
  return b;
}

float *tu_download(clgan_buf b, size_t n) {
  float *x = tu_malloc(n * sizeof(float));
  TU_OK(clgan_buf_read(tu_ctx(), b, x, n));
  return x;
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
      remove_tree(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

void tu_remove_tree(const char *dir) {
  if (dir && *dir && !getenv("CLGAN_TEST_KEEP")) remove_tree(dir);
}

int tu_disc_dataset(const char *root) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data", root);
  if (mkdir(dir, 0755) != 0) return 0;
  snprintf(dir, sizeof dir, "%s/data/scans", root);
  if (mkdir(dir, 0755) != 0) return 0;
  float px[20 * 20];
  for (int i = 0; i < 24; i++) {
    float cx = 6.0f + (float)(i % 5) * 2.0f, cy = 6.0f + (float)(i / 5) * 2.0f;
    for (int y = 0; y < 20; y++)
      for (int x = 0; x < 20; x++)
        px[y * 20 + x] = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 16.0f ? 0.9f : 0.1f;
    char path[600];
    snprintf(path, sizeof path, "%s/img%02d.png", dir, i);
    if (clgan_png_write(path, 20, 20, 1, 8, px) != CLGAN_OK) return 0;
  }
  return 1;
}

void tu_assert_same_checkpoints(const char *a, const char *b, const char *const *keys, int nkeys) {
  clgan_safetensors *x, *y;
  TU_OK(clgan_safetensors_open(a, &x));
  TU_OK(clgan_safetensors_open(b, &y));
  ck_assert_int_eq(clgan_safetensors_count(x), clgan_safetensors_count(y));
  for (int i = 0; i < clgan_safetensors_count(x); i++) {
    const clgan_st_tensor *t = clgan_safetensors_at(x, i);
    const clgan_st_tensor *u = clgan_safetensors_find(y, t->name);
    ck_assert_ptr_nonnull(u);
    size_t bytes = t->dtype == CLGAN_F32 ? 4 : 8;
    for (int d = 0; d < t->ndim; d++) bytes *= (size_t)t->shape[d];
    ck_assert_msg(memcmp(t->data, u->data, bytes) == 0, "%s differs", t->name);
  }
  for (int i = 0; i < nkeys; i++)
    ck_assert_str_eq(clgan_safetensors_meta(x, keys[i]), clgan_safetensors_meta(y, keys[i]));
  clgan_safetensors_close(x);
  clgan_safetensors_close(y);
}

static char scratch_dir[64]; /* the test binary's current scratch folder */

void tu_scratch_setup(void) {
  snprintf(scratch_dir, sizeof scratch_dir, "/tmp/clgan-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(scratch_dir));
}

void tu_scratch_teardown(void) {
  if (!getenv("CLGAN_TEST_KEEP")) tu_remove_tree(scratch_dir);
}

const char *tu_scratch_dir(void) { return scratch_dir; }

const char *tu_scratch_path(const char *name) {
  static char buf[4][512];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, 512, "%s/%s", scratch_dir, name);
  return b;
}

void tu_assert_created_nothing(const clgan_ctx_counts *before, const char *what) {
  clgan_ctx_counts after;
  TU_OK(clgan_ctx_finish(tu_ctx()));
  clgan_ctx_created(tu_ctx(), &after);
  ck_assert_msg(after.buffers == before->buffers && after.programs == before->programs &&
                    after.kernels == before->kernels,
                "%s created OpenCL objects: buffers %ld -> %ld, programs %ld -> %ld, "
                "kernels %ld -> %ld",
                what, before->buffers, after.buffers, before->programs, after.programs,
                before->kernels, after.kernels);
}
