/* The plan-time tuner (src/ops/conv_tune.c): it times candidates and writes
 * the winners to its cache; a second plan reads them without timing; a
 * corrupt, truncated, foreign or out-of-range entry is ignored and tuned
 * again; the reference check refuses a wrong candidate, and the host's
 * check a wrong default; cached variants are
 * what the plan runs; and a tuned training step equals an untuned one
 * within the parity test's tolerances. Every case tunes into a temporary
 * directory of its own (the tuning's tune_dir), never the shared cache. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/conv_tune.h"
#include "runtime/internal.h"
#include "test_tune_util.h"
#include "test_util.h"

/* A conv big enough for the tiled GEMMs (not the one-item-per-element
 * path), small enough to time quickly on PoCL. */
static clgan_conv_shape shape(void) {
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(4, 8, 16, 16, 16, 4, 2, 1, &s));
  return s;
}

/* The path of the only tune entry in dir. */
static void entry_path(const char *dir, char *out, size_t cap) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "tune-", 5) == 0 && strstr(e->d_name, ".bin")) {
      snprintf(out, cap, "%s/%s", dir, e->d_name);
      found++;
    }
  closedir(d);
  ck_assert_int_eq(found, 1);
}

/* Forward and weight gradient of plan p on fixed inputs (malloc'd). */
static float *run_conv(const clgan_conv_plan *p, size_t *n) {
  const clgan_conv_shape *s = &p->shape;
  size_t fi = (size_t)s->cin * s->n * s->h * s->w, ff = (size_t)s->cout * s->n * s->ho * s->wo;
  size_t fw = (size_t)s->cout * s->cin * s->k * s->k;
  float *x = tu_malloc(fi * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
  float *dy = tu_malloc(ff * sizeof(float));
  tu_fill_uniform(x, fi, 1, -1, 1);
  tu_fill_uniform(w, fw, 2, -1, 1);
  tu_fill_uniform(dy, ff, 3, -1, 1);
  clgan_buf bx = tu_upload(x, fi), bw = tu_upload(w, fw), bdy = tu_upload(dy, ff);
  clgan_buf by = tu_upload(NULL, ff), bdw = tu_upload(NULL, fw), bdx = tu_upload(NULL, fi);
  clgan_buf col = tu_upload(NULL, p->col_floats ? p->col_floats : 1);
  TU_OK(clgan_conv_plan_prepare(tu_ctx(), p));
  TU_OK(clgan_conv2d_forward(tu_ctx(), p, bx, bw, by, col));
  TU_OK(clgan_conv2d_backward_filter(tu_ctx(), p, bx, bdy, bdw, col, 0));
  TU_OK(clgan_conv2d_backward_data(tu_ctx(), p, bdy, bw, bdx, col));
  *n = ff + fw + fi;
  float *out = tu_malloc(*n * sizeof(float));
  TU_OK(clgan_buf_read(tu_ctx(), by, out, ff));
  TU_OK(clgan_buf_read(tu_ctx(), bdw, out + ff, fw));
  TU_OK(clgan_buf_read(tu_ctx(), bdx, out + ff + fw, fi));
  clgan_buf *all[] = {&bx, &bw, &bdy, &by, &bdw, &bdx, &col};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgan_buf_release(all[i]);
  free(x), free(w), free(dy);
  return out;
}

/* The default plan's results (the tuner off). */
static float *default_results(size_t *n) {
  clgan_conv_shape s = shape();
  clgan_conv_plan p;
  TU_OK(conv_plan_with(tu_ctx(), &s, NULL, &p));
  return run_conv(&p, n);
}

/* Plan p computes what the default plan computes (within 1e-4). */
static void assert_as_default(const char *what, const clgan_conv_plan *p) {
  size_t n, m;
  float *want = default_results(&n), *got = run_conv(p, &m);
  ck_assert_uint_eq(n, m);
  TU_ASSERT_CLOSE(what, got, want, n, 1e-4, 1e-4);
  free(got), free(want);
}

/* shape() planned from a hand-made cache entry holding cv; its record
 * (asserted to come from the cache). */
static clgan_tune_record plan_from_cache(const conv_variants *cv, clgan_conv_plan *p) {
  clgan_conv_shape s = shape();
  char key[1024];
  conv_tune_key(tu_ctx(), &s, key, sizeof key);
  double ms[CONV_PRODUCTS] = {1, 2, 3};
  conv_tune_store(tu_ctx(), key, cv, ms, ms);
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, p));
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 1);
  return r;
}

START_TEST(test_tunes_caches_and_reuses) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  clgan_conv_shape s = shape();
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 2);
  ck_assert_int_ge(r.timed, 6); /* the default and at least one other per product */
  ck_assert_int_eq(r.rejected, 0);
  for (int i = 0; i < CONV_PRODUCTS; i++) {
    ck_assert_msg(r.winner[i][0] != '\0', "product %d has no winner name", i);
    ck_assert_msg(r.winner_ms[i] > 0 && r.default_ms[i] > 0,
                  "product %d: winner %g ms, default %g ms", i, r.winner_ms[i], r.default_ms[i]);
  }
  char path[1200];
  entry_path(dir, path, sizeof path);
  /* the tuned plan computes what the default computes */
  size_t n, m;
  float *want = default_results(&n), *got = run_conv(&p, &m);
  ck_assert_uint_eq(n, m);
  TU_ASSERT_CLOSE("tuned conv", got, want, n, 1e-4, 1e-4);
  free(got);
  /* a second plan, even in the default mode, reads the winners: nothing timed */
  tt_set_mode(CLGAN_TUNE_CACHED);
  clgan_conv_plan q;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &q));
  clgan_tune_record c = tt_last_record();
  ck_assert_int_eq(c.source, 1);
  ck_assert_int_eq(c.timed, 0);
  for (int i = 0; i < CONV_PRODUCTS; i++) ck_assert_str_eq(c.winner[i], r.winner[i]);
  got = run_conv(&q, &m);
  TU_ASSERT_CLOSE("cached conv", got, want, n, 1e-4, 1e-4);
  free(got);
  free(want);
  /* off: the cache is not read */
  tt_set_mode(CLGAN_TUNE_OFF);
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &q));
  ck_assert_int_eq(tt_last_record().source, 0);
  tt_restore(&old, dir);
}
END_TEST

/* Overwrites the entry at path: mode 0 truncates it, 1 flips a payload
 * byte, 2 puts a valid entry of another key there (a foreign file), 3 a
 * valid entry of this key holding an out-of-range tile, 4 an entry of this
 * key in the payload's version 1 (before the LDS backend's fields). */
static void damage(const char *dir, const char *path, int mode) {
  FILE *f;
  long size;
  char buf[4096];
  switch (mode) {
    case 0:
    case 1:
      f = fopen(path, "r+b");
      ck_assert_ptr_nonnull(f);
      fseek(f, 0, SEEK_END);
      size = ftell(f);
      ck_assert_int_gt(size, 40);
      if (mode == 0) {
        fclose(f);
        ck_assert_int_eq(truncate(path, size - 7), 0);
        return;
      }
      fseek(f, size - 5, SEEK_SET);
      buf[0] = (char)(fgetc(f) ^ 0x5a);
      fseek(f, size - 5, SEEK_SET);
      fputc(buf[0], f);
      fclose(f);
      return;
    case 4: {
      struct {
        char magic[8];
        int32_t variant[CONV_PRODUCTS][6]; /* backend, tm, nv, lx, ly, from_image */
        double winner_ms[CONV_PRODUCTS], default_ms[CONV_PRODUCTS];
      } v1;
      memset(&v1, 0, sizeof v1);
      memcpy(v1.magic, "CLGTUNE1", 8);
      for (int i = 0; i < CONV_PRODUCTS; i++) {
        int32_t own[6] = {CLGAN_GEMM_OWN, 4, 2, 4, 16, 0};
        memcpy(v1.variant[i], own, sizeof own);
        v1.winner_ms[i] = v1.default_ms[i] = 1.0;
      }
      char key[1024];
      clgan_conv_shape s = shape();
      conv_tune_key(tu_ctx(), &s, key, sizeof key);
      TU_OK(clgan_cache_store(dir, "tune", key, &v1, sizeof v1));
      return;
    }
    default: {
      char key[1024], other[1200];
      clgan_conv_shape s = shape();
      conv_tune_key(tu_ctx(), &s, key, sizeof key);
      conv_variants cv = conv_variants_default();
      double ms[CONV_PRODUCTS] = {1, 1, 1};
      if (mode == 3) cv.prod[CONV_FWD] = (clgan_gemm_variant){CLGAN_GEMM_OWN, 99, 1, 1, 1, 0, 0};
      snprintf(other, sizeof other, "%s|another shape", key);
      char sub[512];
      snprintf(sub, sizeof sub, "%s/other", dir);
      clgan_tuning t = *clgan_ctx_tuning(tu_ctx()), saved = t;
      snprintf(t.tune_dir, sizeof t.tune_dir, "%s", mode == 2 ? sub : dir);
      TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
      conv_tune_store(tu_ctx(), mode == 2 ? other : key, &cv, ms, ms);
      TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
      if (mode == 3) return;
      char from[1200];
      entry_path(sub, from, sizeof from);
      ck_assert_int_eq(rename(from, path), 0);
      return;
    }
  }
}

START_TEST(test_bad_entries_are_tuned_again) {
  static const char *const what[] = {"truncated", "corrupt", "foreign", "out of range",
                                     "version 1"};
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  clgan_conv_shape s = shape();
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  ck_assert_int_eq(tt_last_record().source, 2);
  char path[1200], key[1024];
  entry_path(dir, path, sizeof path);
  conv_tune_key(tu_ctx(), &s, key, sizeof key);
  for (int mode = 0; mode < 5; mode++) {
    damage(dir, path, mode);
    conv_variants cv;
    double a[CONV_PRODUCTS], b[CONV_PRODUCTS];
    ck_assert_msg(!conv_tune_load(tu_ctx(), key, &cv, a, b), "%s entry accepted", what[mode]);
    TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
    clgan_tune_record r = tt_last_record();
    ck_assert_msg(r.source == 2 && r.timed > 0, "%s entry: source %d, %d timed", what[mode],
                  r.source, r.timed);
    ck_assert_msg(conv_tune_load(tu_ctx(), key, &cv, a, b), "%s entry not rewritten", what[mode]);
  }
  tt_restore(&old, dir);
}
END_TEST

START_TEST(test_reference_check_rejects_a_wrong_candidate) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  tu_ctx()->tune_test_wrong = 1; /* the first candidate after each reference */
  clgan_conv_shape s = shape();
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  tu_ctx()->tune_test_wrong = 0;
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 2);
  ck_assert_int_eq(r.rejected, CONV_PRODUCTS);
  assert_as_default("conv after a rejection", &p);
  tt_restore(&old, dir);
}
END_TEST

/* On small shapes the default's result is checked against the host's
 * before any candidate is compared with it: a wrong default stops the
 * search (the shape keeps the defaults, nothing is cached). */
START_TEST(test_host_check_of_the_default) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  tu_ctx()->tune_test_wrong = -1;
  clgan_conv_shape s = shape();
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  tu_ctx()->tune_test_wrong = 0;
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 0);
  ck_assert_int_eq(r.rejected, 1);
  char key[1024];
  conv_tune_key(tu_ctx(), &s, key, sizeof key);
  conv_variants cv;
  double a[CONV_PRODUCTS], b[CONV_PRODUCTS];
  ck_assert(!conv_tune_load(tu_ctx(), key, &cv, a, b));
  /* and the host's reference agrees with the default where nothing is wrong */
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  ck_assert_int_eq(tt_last_record().source, 2);
  tt_restore(&old, dir);
}
END_TEST

/* Winners in the cache are what the plan runs: a hand-made entry choosing
 * the own GEMM with a 4 x 32 tile on im2col's matrix for every product. */
START_TEST(test_cached_variants_are_used) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_CACHED, dir, sizeof dir);
  conv_variants cv = conv_variants_default();
  for (int i = 0; i < CONV_PRODUCTS; i++) {
    cv.prod[i] = (clgan_gemm_variant){CLGAN_GEMM_OWN, 4, 2, 4, 16, 0, 0};
    cv.from_image[i] = 0;
  }
  clgan_conv_plan p;
  clgan_tune_record r = plan_from_cache(&cv, &p);
  ck_assert_int_eq(r.timed, 0);
  ck_assert_int_eq(p.fwd_from_image, 0);
  ck_assert_uint_eq(p.fwd.own.tm, 4);
  ck_assert_uint_eq(p.filt.own.tn, 32);
  /* (the plan fits the work-group to the shape: 4 x 16 asked) */
  ck_assert_msg(strncmp(r.winner[CONV_FWD], "own 4x32 wg ", 12) == 0 &&
                    strcmp(r.winner[CONV_FWD] + strlen(r.winner[CONV_FWD]) - 4, " col") == 0,
                "forward runs %s", r.winner[CONV_FWD]);
  assert_as_default("cached variant", &p);
  tt_restore(&old, dir);
}
END_TEST

/* LDS winners in the cache are what the plan runs: the default set reading
 * the image for the forward, a 32 x 64 set for the backward data, a
 * 32 x 32 one on im2col's matrix for the weight gradient. */
START_TEST(test_cached_lds_variants_are_used) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_CACHED, dir, sizeof dir);
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_FWD] = (clgan_gemm_variant){.backend = CLGAN_GEMM_LDS};
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){CLGAN_GEMM_LDS, 2, 4, 16, 16, 32, 4};
  cv.prod[CONV_FILT] = (clgan_gemm_variant){CLGAN_GEMM_LDS, 4, 4, 8, 8, 32, 2};
  cv.from_image[CONV_FILT] = 0;
  clgan_conv_plan p;
  clgan_tune_record r = plan_from_cache(&cv, &p);
  ck_assert_int_eq(p.fwd.path, CLGAN_GEMM_PATH_LDS);
  ck_assert_int_eq(p.adj.path, CLGAN_GEMM_PATH_LDS);
  ck_assert_int_eq(p.filt.path, CLGAN_GEMM_PATH_LDS);
  ck_assert(p.fwd_from_image && p.fwd.lds.conv_x && !p.filt_from_image && !p.filt.lds.conv_x);
  ck_assert_str_eq(r.winner[CONV_FWD], "lds64x64k16/4x4v4 image");
  ck_assert_str_eq(r.winner[CONV_ADJ], "lds32x64k32/2x4v4");
  ck_assert_msg(strncmp(r.winner[CONV_FILT], "lds32x32k32/4x4v2", 17) == 0 &&
                    strcmp(r.winner[CONV_FILT] + strlen(r.winner[CONV_FILT]) - 4, " col") == 0,
                "weight gradient runs %s", r.winner[CONV_FILT]);
  assert_as_default("cached LDS variants", &p);
  tt_restore(&old, dir);
}
END_TEST

/* Rewrites every tune entry in dir to run variant v (on the image where
 * from_image, else on im2col's matrix) for all three products: entries
 * keep their keys (read from the files). */
static int force_entries(const char *dir, clgan_gemm_variant v, int from_image) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  struct dirent *e;
  int n = 0;
  conv_variants cv = conv_variants_default();
  for (int i = 0; i < CONV_PRODUCTS; i++) cv.prod[i] = v, cv.from_image[i] = from_image;
  double ms[CONV_PRODUCTS] = {1, 1, 1};
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "tune-", 5) != 0) continue;
    char path[1200], key[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char magic[8];
    uint32_t klen = 0;
    ck_assert(fread(magic, 1, 8, f) == 8 && fread(&klen, sizeof klen, 1, f) == 1);
    ck_assert(klen < sizeof key && fread(key, 1, klen, f) == klen);
    fclose(f);
    key[klen] = '\0';
    conv_tune_store(tu_ctx(), key, &cv, ms, ms);
    n++;
  }
  closedir(d);
  return n;
}

START_TEST(test_tuned_step_equals_untuned) {
  clgan_dcgan_config cfg = tt_small_config(1, 8);
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_OFF, dir, sizeof dir);
  tt_step_result plain = tt_steps(&cfg, 1);
  /* the tuner's own winners */
  tt_set_mode(CLGAN_TUNE_ON);
  clgan_tune_report before, after;
  clgan_ctx_tune_report(tu_ctx(), &before);
  tt_step_result tuned = tt_steps(&cfg, 1);
  clgan_ctx_tune_report(tu_ctx(), &after);
  ck_assert_int_gt(after.tuned, before.tuned); /* the model's shapes were tuned */
  tt_assert_same_step("tuned step", &tuned, &plain);
  /* winners that surely differ from the defaults: a 4 x 32 tile on
   * im2col's matrix everywhere, from the cache */
  ck_assert_int_gt(force_entries(dir, (clgan_gemm_variant){CLGAN_GEMM_OWN, 4, 2, 4, 16, 0, 0}, 0),
                   0);
  tt_set_mode(CLGAN_TUNE_CACHED);
  clgan_ctx_tune_report(tu_ctx(), &before);
  tt_step_result forced = tt_steps(&cfg, 1);
  clgan_ctx_tune_report(tu_ctx(), &after);
  ck_assert_int_eq(after.from_cache - before.from_cache, after.nshapes - before.nshapes);
  ck_assert_int_eq(after.timed, before.timed);
  tt_assert_same_step("4 x 32 tiles on col", &forced, &plain); /* frees forced's parameters */
  /* the LDS backend everywhere: its default set on the image, then a 32 x 32
   * set on im2col's matrix */
  static const clgan_gemm_variant lds[2] = {{.backend = CLGAN_GEMM_LDS},
                                            {CLGAN_GEMM_LDS, 4, 4, 8, 8, 32, 2}};
  for (int i = 0; i < 2; i++) {
    ck_assert_int_gt(force_entries(dir, lds[i], i == 0), 0);
    forced = tt_steps(&cfg, 1);
    tt_assert_same_step(i == 0 ? "LDS on the image" : "LDS on col", &forced, &plain);
  }
  tt_step_free(&plain);
  tt_restore(&old, dir);
}
END_TEST

/* Candidates of the search whose names start with prefix and end with
 * suffix, per product (forward, backward data, weight gradient). */
typedef struct named_count {
  const char *prefix, *suffix;
  int seen[CONV_PRODUCTS];
} named_count;

static void count_named(void *user, const clgan_tune_progress *p) {
  static const char *const product[] = {"forward", "backward data", "weight gradient"};
  named_count *c = user;
  size_t n = strlen(p->candidate), ns = strlen(c->suffix);
  if (strncmp(p->candidate, c->prefix, strlen(c->prefix)) != 0 || n < ns ||
      strcmp(p->candidate + n - ns, c->suffix) != 0)
    return;
  for (int i = 0; i < CONV_PRODUCTS; i++)
    if (strcmp(p->product, product[i]) == 0) c->seen[i]++;
}

/* Plans s with the tuner on, in a tune directory of its own (a shape this
 * context tuned already would be read back), counting candidates as c
 * says; with CLBlast's measured slowdown set to *slowdown on both GEMM
 * classes unless NULL. Returns the shape's record. */
static clgan_tune_record search_counting(const clgan_conv_shape *s, const float *slowdown,
                                         named_count *c) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  clgan_ctx *ctx = tu_ctx();
  for (int cls = 0; slowdown && cls < 2; cls++) { /* as if measured: not looked up again */
    ctx->gemm_chosen[cls] = CLGAN_GEMM_OWN;
    ctx->gemm_clblast_slowdown[cls] = *slowdown;
  }
  tt_plan_reporting(s, count_named, c);
  clgan_tune_record r = tt_last_record();
  tt_restore(&old, dir); /* the GEMM choice is looked up again */
  return r;
}

/* A family whose first timed candidate is far behind the best so far is
 * not tried further: with im2col's mapping made to look 10x slower, one
 * of its tiles is timed per product that has the mapping, the others are
 * skipped; with pruning off, every one is timed. */
START_TEST(test_a_family_far_behind_is_skipped) {
  clgan_conv_shape s = shape();
  named_count all = {"own ", " col", {0}}, pruned = {"own ", " col", {0}};
  tu_ctx()->tune_test_no_prune = 1;
  search_counting(&s, NULL, &all);
  tu_ctx()->tune_test_no_prune = 0;
  tu_ctx()->tune_test_slow_family = TUNE_FAMILY_OWN_COL;
  clgan_tune_record r = search_counting(&s, NULL, &pruned);
  tu_ctx()->tune_test_slow_family = 0;
  ck_assert_int_eq(r.source, 2);
  const int with_col[] = {CONV_FWD, CONV_FILT};
  for (int i = 0; i < 2; i++) {
    int prod = with_col[i];
    ck_assert_msg(all.seen[prod] > 1, "product %d: %d col tiles", prod, all.seen[prod]);
    ck_assert_int_eq(pruned.seen[prod], 1);
  }
  ck_assert_int_eq(pruned.seen[CONV_ADJ], 0);
  ck_assert_int_ge(r.skipped, all.seen[CONV_FWD] + all.seen[CONV_FILT] - 2);
}
END_TEST

/* Where a kernel of its own runs a product by default (the narrow-image
 * forward on CPU paths), the GEMM's default tile is timed against it: the
 * search had taken the two for one candidate (the GEMM plan beside the
 * kernel is the same) and skipped the tile. */
START_TEST(test_default_tile_timed_against_an_own_kernel) {
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(2, 1, 32, 32, 8, 4, 2, 1, &s));
  named_count c = {"own default-tile", " image", {0}};
  clgan_tune_record r = search_counting(&s, NULL, &c);
  ck_assert_int_eq(r.source, 2);
  if (clgan_ctx_cpu_paths(tu_ctx())) ck_assert_int_eq(c.seen[CONV_FWD], 1);
}
END_TEST

/* The Winograd forward, backward data and weight gradient are candidates
 * where they apply and the engine does not take them already (a small
 * shape), not with CLGAN_WINOGRAD=0 (the tuning's winograd -1); a winner
 * naming them goes to the cache and back into the plan, and an entry
 * naming one beside a GEMM variant for its product is ignored. */
START_TEST(test_winograd_candidate_and_cache) {
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(2, 16, 8, 8, 8, 4, 2, 1, &s));
  named_count c = {"winograd", "", {0}};
  clgan_tune_record r = search_counting(&s, NULL, &c);
  ck_assert_int_eq(r.source, 2);
  for (int prod = 0; prod < CONV_PRODUCTS; prod++) ck_assert_int_eq(c.seen[prod], 1);
  tu_ctx()->tuning.winograd = -1;
  named_count off = {"winograd", "", {0}};
  search_counting(&s, NULL, &off);
  tu_ctx()->tuning.winograd = 0;
  ck_assert_int_eq(off.seen[CONV_FWD] + off.seen[CONV_ADJ] + off.seen[CONV_FILT], 0);
  char dir[64], key[1024];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_CACHED, dir, sizeof dir);
  clgan_ctx *ctx = tu_ctx();
  conv_tune_key(ctx, &s, key, sizeof key);
  conv_variants cv = conv_variants_default(), got;
  double ms[CONV_PRODUCTS] = {1, 2, 3}, a[CONV_PRODUCTS], b[CONV_PRODUCTS];
  cv.fwd_wino = 1;
  cv.filt_wino = 1;
  cv.adj_wino = 1;
  conv_tune_store(ctx, key, &cv, ms, ms);
  ck_assert(conv_tune_load(ctx, key, &got, a, b));
  ck_assert_int_eq(got.fwd_wino, 1);
  ck_assert_int_eq(got.filt_wino, 1);
  ck_assert_int_eq(got.adj_wino, 1);
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, &got, &p));
  ck_assert_ptr_nonnull(p.wino.tile);
  ck_assert_ptr_nonnull(p.filt_wino.tile);
  ck_assert_ptr_nonnull(p.adj_wino.tile);
  char name[48], want[48];
  conv_tune_plan_name(&p, CONV_FILT, name, sizeof name);
  snprintf(want, sizeof want, "winograd 4x4 %dx%d", p.filt_wino.tm, 16 * p.filt_wino.nv);
  ck_assert_str_eq(name, want);
  const int prods[3] = {CONV_FWD, CONV_ADJ, CONV_FILT};
  for (int i = 0; i < 3; i++) {
    conv_variants bad = cv;
    bad.prod[prods[i]].backend = CLGAN_GEMM_OWN;
    conv_tune_store(ctx, key, &bad, ms, ms);
    ck_assert(!conv_tune_load(ctx, key, &got, a, b));
  }
  tt_restore(&old, dir);
}
END_TEST

/* The forward's and the weight gradient's winners are confirmed together,
 * as a step runs them (their default plan may share the image's copy or
 * transform, which each pays for timed alone): with the default made to
 * look slow, every product gets a winner of its own; where the pairs with
 * those winners are seen slower than the default pair, the forward and the
 * weight gradient go back to the default and the backward data keeps its
 * winner; where they are seen faster, both winners stay. */
static void plan_names(const clgan_conv_shape *s, const conv_variants *cv,
                       char names[CONV_PRODUCTS][48]) {
  clgan_conv_plan p;
  TU_OK(conv_plan_with(tu_ctx(), s, cv, &p));
  for (int i = 0; i < CONV_PRODUCTS; i++) conv_tune_plan_name(&p, i, names[i], 48);
}

START_TEST(test_forward_and_weight_gradient_confirmed_together) {
  clgan_conv_shape s = shape();
  char def[CONV_PRODUCTS][48];
  plan_names(&s, NULL, def);
  clgan_ctx *ctx = tu_ctx();
  ctx->tune_test_slow_default = 1;
  ctx->tune_test_pair_ratio = 2.0;
  named_count pairs = {"", "", {0}};
  clgan_tune_record lost = search_counting(&s, NULL, &pairs);
  ctx->tune_test_pair_ratio = 0.5;
  clgan_tune_record kept = search_counting(&s, NULL, &pairs);
  ctx->tune_test_slow_default = 0;
  ctx->tune_test_pair_ratio = 0;
  ck_assert_int_eq(lost.source, 2);
  ck_assert_int_eq(kept.source, 2);
  ck_assert_str_eq(lost.winner[CONV_FWD], def[CONV_FWD]);
  ck_assert_str_eq(lost.winner[CONV_FILT], def[CONV_FILT]);
  ck_assert_str_ne(lost.winner[CONV_ADJ], def[CONV_ADJ]);
  ck_assert_double_eq(lost.winner_ms[CONV_FWD], lost.default_ms[CONV_FWD]);
  ck_assert_str_ne(kept.winner[CONV_FWD], def[CONV_FWD]);
  ck_assert_str_ne(kept.winner[CONV_FILT], def[CONV_FILT]);
}
END_TEST

/* CLBlast is a candidate unless the device's backend measurement found it
 * more than a few times slower than the own kernel on the product's class
 * of GEMM (gemm_choice.c); the measurement is set here by hand. */
START_TEST(test_clblast_left_out_where_far_slower) {
  clgan_conv_shape s = shape();
  const float slowdown[2] = {1.0f, 100.0f};
  for (int i = 0; i < 2; i++) {
    named_count c = {"clblast", "", {0}};
    clgan_tune_record r = search_counting(&s, &slowdown[i], &c);
    ck_assert_int_eq(r.source, 2);
    for (int prod = 0; prod < CONV_PRODUCTS; prod++)
      ck_assert_msg(c.seen[prod] == (i == 0), "slowdown %g, product %d: %d CLBlast candidates",
                    (double)slowdown[i], prod, c.seen[prod]);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("tune");
  TCase *tc = tcase_create("tuner");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_tunes_caches_and_reuses);
  tcase_add_test(tc, test_bad_entries_are_tuned_again);
  tcase_add_test(tc, test_reference_check_rejects_a_wrong_candidate);
  tcase_add_test(tc, test_host_check_of_the_default);
  tcase_add_test(tc, test_cached_variants_are_used);
  tcase_add_test(tc, test_cached_lds_variants_are_used);
  tcase_add_test(tc, test_tuned_step_equals_untuned);
  tcase_add_test(tc, test_a_family_far_behind_is_skipped);
  tcase_add_test(tc, test_default_tile_timed_against_an_own_kernel);
  tcase_add_test(tc, test_winograd_candidate_and_cache);
  tcase_add_test(tc, test_clblast_left_out_where_far_slower);
  tcase_add_test(tc, test_forward_and_weight_gradient_confirmed_together);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
