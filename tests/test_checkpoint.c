/* safetensors files, checkpoints (round trip, exact resume, bad files) and
 * the exported generator. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/checkpoint.h"
#include "clgan/config.h"
#include "test_util.h"
#include "clgan/rng.h"

static char tmpdir[64];

static const char *tmp_path(const char *name) {
  static char path[4][256];
  static int next;
  char *p = path[next++ % 4];
  snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

START_TEST(test_safetensors_roundtrip) {
  float a[6] = {1, 2, 3, 4, 5, -6.5f};
  int64_t b = -42;
  uint64_t c[2] = {1ULL << 63, 7};
  clgan_st_tensor t[3] = {
      {.name = "a", .dtype = CLGAN_F32, .ndim = 2, .shape = {2, 3}, .data = a},
      {.name = "b.count", .dtype = CLGAN_I64, .ndim = 0, .data = &b},
      {.name = "c", .dtype = CLGAN_U64, .ndim = 1, .shape = {2}, .data = c},
  };
  const char *keys[] = {"format", "note"}, *vals[] = {"test", "hello \"world\""};
  const char *path = tmp_path("rt.safetensors");
  TU_OK(clgan_safetensors_write(path, t, 3, keys, vals, 2));
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(path, &st));
  ck_assert_int_eq(clgan_safetensors_count(st), 3);
  ck_assert_str_eq(clgan_safetensors_meta(st, "note"), "hello \"world\"");
  ck_assert_ptr_null(clgan_safetensors_meta(st, "absent"));
  const float *ap;
  int64_t shape[2] = {2, 3};
  TU_OK(clgan_safetensors_expect_f32(st, "a", 2, shape, &ap));
  ck_assert_mem_eq(ap, a, sizeof a);
  const clgan_st_tensor *tb = clgan_safetensors_find(st, "b.count");
  ck_assert_int_eq(tb->ndim, 0);
  ck_assert_int_eq(*(const int64_t *)tb->data, -42);
  ck_assert_mem_eq(clgan_safetensors_find(st, "c")->data, c, sizeof c);
  int64_t wrong[2] = {3, 2};
  ck_assert_int_eq(clgan_safetensors_expect_f32(st, "a", 2, wrong, &ap), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "'a' is F32 [2, 3], expected F32 [3, 2]"));
  clgan_safetensors_close(st);
  /* the data section starts 8-byte aligned, as the format recommends */
  FILE *f = fopen(path, "rb");
  unsigned char len8[8];
  ck_assert_uint_eq(fread(len8, 1, 8, f), 8);
  fclose(f);
  ck_assert_uint_eq(len8[0] % 8, 0);
}
END_TEST

START_TEST(test_safetensors_bad_files) {
  clgan_safetensors *st = NULL;
  const char *path = tmp_path("bad.safetensors");
  ck_assert_int_eq(clgan_safetensors_open(tmp_path("missing.safetensors"), &st), CLGAN_ERR_IO);
  write_bytes(path, "abc", 3);
  ck_assert_int_eq(clgan_safetensors_open(path, &st), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), path));
  /* header length larger than the file */
  unsigned char big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
  write_bytes(path, big, sizeof big);
  ck_assert_int_eq(clgan_safetensors_open(path, &st), CLGAN_ERR_FORMAT);
  /* not JSON */
  unsigned char notjson[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', 'x', ':', '}'};
  write_bytes(path, notjson, sizeof notjson);
  ck_assert_int_eq(clgan_safetensors_open(path, &st), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "JSON"));
  /* offsets beyond the data, and a size that disagrees with the shape */
  const char *cases[] = {
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
      "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char buf[512] = {0};
    size_t n = strlen(cases[i]);
    buf[0] = (unsigned char)n;
    memcpy(buf + 8, cases[i], n);
    write_bytes(path, buf, 8 + n + 8);
    ck_assert_msg(clgan_safetensors_open(path, &st) == CLGAN_ERR_FORMAT, "case %zu accepted", i);
  }
  /* a valid file cut short */
  float a[4] = {1, 2, 3, 4};
  clgan_st_tensor t = {.name = "a", .dtype = CLGAN_F32, .ndim = 1, .shape = {4}, .data = a};
  TU_OK(clgan_safetensors_write(path, &t, 1, NULL, NULL, 0));
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  ck_assert_int_eq(truncate(path, size - 3), 0);
  ck_assert_int_eq(clgan_safetensors_open(path, &st), CLGAN_ERR_FORMAT);
  ck_assert_ptr_null(st);
}
END_TEST

static clgan_dcgan_config tiny_config(void) {
  clgan_dcgan_config c = clgan_dcgan_default_config();
  c.image_size = 16;
  c.channels = 1;
  c.nz = 5;
  c.ngf = 3;
  c.ndf = 3;
  c.batch = 3;
  return c;
}

/* Real batch and noise of iteration it, made on the host from a seed. */
static void step_inputs(clgan_dcgan *net, long it, clgan_buf real, clgan_buf noise) {
  const clgan_dcgan_config *c = clgan_dcgan_get_config(net);
  size_t nr = (size_t)c->channels * c->batch * c->image_size * c->image_size;
  size_t nn = (size_t)c->nz * c->batch;
  float *r = tu_malloc(nr * sizeof(float)), *z = tu_malloc(nn * sizeof(float));
  tu_fill_uniform(r, nr, 1000 + (uint64_t)it, -1.0f, 1.0f);
  tu_fill_normal(z, nn, 2000 + (uint64_t)it, 0.0f, 1.0f);
  TU_OK(clgan_buf_write(tu_ctx(), real, r, nr));
  TU_OK(clgan_buf_write(tu_ctx(), noise, z, nn));
  free(r);
  free(z);
}

static void run_steps(clgan_dcgan *net, long from, long to) {
  const clgan_dcgan_config *c = clgan_dcgan_get_config(net);
  clgan_buf real = tu_upload(NULL, (size_t)c->channels * c->batch * c->image_size * c->image_size);
  clgan_buf noise = tu_upload(NULL, (size_t)c->nz * c->batch);
  for (long it = from; it < to; it++) {
    step_inputs(net, it, real, noise);
    TU_OK(clgan_dcgan_step(net, real, noise, NULL));
  }
  TU_OK(clgan_ctx_finish(tu_ctx()));
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
}

static float *read_arena(clgan_dcgan *net, clgan_net which, clgan_arena a, size_t *n) {
  *n = clgan_dcgan_arena_floats(net, which, a);
  float *x = tu_malloc(*n * sizeof(float));
  TU_OK(clgan_dcgan_arena_read(net, which, a, x));
  return x;
}

static void assert_same_state(clgan_dcgan *a, clgan_dcgan *b) {
  for (int n = 0; n < 2; n++)
    for (int ar = 0; ar < CLGAN_ARENA_COUNT; ar++) {
      if (ar == CLGAN_ARENA_GRAD) continue;
      size_t na, nb;
      float *xa = read_arena(a, n, ar, &na), *xb = read_arena(b, n, ar, &nb);
      ck_assert_uint_eq(na, nb);
      ck_assert_msg(memcmp(xa, xb, na * sizeof(float)) == 0, "net %d arena %d differs", n, ar);
      free(xa);
      free(xb);
    }
  ck_assert_int_eq(clgan_dcgan_adam_steps(a, CLGAN_NET_G), clgan_dcgan_adam_steps(b, CLGAN_NET_G));
  ck_assert_int_eq(clgan_dcgan_adam_steps(a, CLGAN_NET_D), clgan_dcgan_adam_steps(b, CLGAN_NET_D));
}

START_TEST(test_resume_is_exact) {
  clgan_dcgan_config cfg = tiny_config();
  clgan_dcgan *straight, *first, *resumed;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &straight));
  TU_OK(clgan_dcgan_init_weights(straight, 7));
  run_steps(straight, 0, 4);

  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &first));
  TU_OK(clgan_dcgan_init_weights(first, 7));
  run_steps(first, 0, 2);
  clgan_train_state ts = {.iteration = 2, .seed = 12345678901234ULL, .rng = {1, 2, 3, 4},
                          .fixed_count = 2};
  float fixed[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ts.fixed_noise = fixed;
  const char *path = tmp_path("ck.safetensors");
  TU_OK(clgan_checkpoint_save(path, first, &ts));

  clgan_dcgan_config read;
  TU_OK(clgan_checkpoint_read_config(path, &read));
  ck_assert_mem_eq(&read, &cfg, sizeof cfg);
  TU_OK(clgan_dcgan_create(tu_ctx(), &read, &resumed));
  clgan_train_state back;
  TU_OK(clgan_checkpoint_load(path, resumed, &back));
  ck_assert_int_eq(back.iteration, 2);
  ck_assert_uint_eq(back.seed, 12345678901234ULL);
  ck_assert_mem_eq(back.rng, ts.rng, sizeof ts.rng);
  ck_assert_int_eq(back.fixed_count, 2);
  ck_assert_mem_eq(back.fixed_noise, fixed, sizeof fixed);
  free(back.fixed_noise);
  assert_same_state(first, resumed);
  run_steps(resumed, 2, 4);
  assert_same_state(straight, resumed); /* N+M in one run == N, stop, resume, M */
  clgan_dcgan_destroy(straight);
  clgan_dcgan_destroy(first);
  clgan_dcgan_destroy(resumed);
}
END_TEST

START_TEST(test_checkpoint_mismatch_leaves_model_unchanged) {
  clgan_dcgan_config cfg = tiny_config(), other = tiny_config();
  other.ngf = 4;
  clgan_dcgan *a, *b;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &a));
  TU_OK(clgan_dcgan_init_weights(a, 1));
  clgan_train_state ts = {0};
  const char *path = tmp_path("ck2.safetensors");
  TU_OK(clgan_checkpoint_save(path, a, &ts));
  TU_OK(clgan_dcgan_create(tu_ctx(), &other, &b));
  TU_OK(clgan_dcgan_init_weights(b, 2));
  size_t n;
  float *before = read_arena(b, CLGAN_NET_G, CLGAN_ARENA_PARAM, &n);
  clgan_train_state back;
  ck_assert_int_eq(clgan_checkpoint_load(path, b, &back), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "ngf"));
  float *after = read_arena(b, CLGAN_NET_G, CLGAN_ARENA_PARAM, &n);
  ck_assert_mem_eq(before, after, n * sizeof(float));
  free(before);
  free(after);

  /* A checkpoint whose configuration matches but one tensor has the wrong
   * shape: rewrite it with the tensor list changed. */
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(path, &st));
  int count = clgan_safetensors_count(st);
  clgan_st_tensor *t = tu_malloc((size_t)count * sizeof *t);
  const char *keys[64], *vals[64];
  int nm = 0;
  for (int i = 0; i < clgan_safetensors_meta_count(st) && nm < 64; i++, nm++) {
    keys[nm] = clgan_safetensors_meta_key(st, i);
    vals[nm] = clgan_safetensors_meta(st, keys[nm]);
  }
  ck_assert_int_gt(nm, 10);
  for (int i = 0; i < count; i++) {
    t[i] = *clgan_safetensors_at(st, i);
    if (strcmp(t[i].name, "netD.main.0.weight") == 0) { /* [3,1,4,4] -> [1,3,4,4] */
      t[i].shape[0] = 1;
      t[i].shape[1] = 3;
    }
  }
  const char *bad = tmp_path("ck_bad_shape.safetensors");
  TU_OK(clgan_safetensors_write(bad, t, count, keys, vals, nm));
  clgan_safetensors_close(st);
  free(t);
  before = read_arena(a, CLGAN_NET_D, CLGAN_ARENA_PARAM, &n);
  ck_assert_int_eq(clgan_checkpoint_load(bad, a, &back), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "netD.main.0.weight"));
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), bad));
  after = read_arena(a, CLGAN_NET_D, CLGAN_ARENA_PARAM, &n);
  ck_assert_mem_eq(before, after, n * sizeof(float));
  free(before);
  free(after);
  /* a corrupt header */
  write_bytes(bad, "\x10\0\0\0\0\0\0\0{not json at all", 24);
  ck_assert_int_eq(clgan_checkpoint_load(bad, a, &back), CLGAN_ERR_FORMAT);
  clgan_dcgan_destroy(a);
  clgan_dcgan_destroy(b);
}
END_TEST

START_TEST(test_export_import_generator) {
  clgan_dcgan_config cfg = tiny_config();
  clgan_dcgan *a, *b;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &a));
  TU_OK(clgan_dcgan_init_weights(a, 3));
  run_steps(a, 0, 2);
  const char *path = tmp_path("g.safetensors");
  TU_OK(clgan_export_generator(path, a));
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(path, &st));
  /* the tutorial Generator's state_dict names, PyTorch shapes */
  int64_t w0[4] = {5, 6, 4, 4}, c6[1] = {6}, wl[4] = {3, 1, 4, 4};
  const float *p;
  TU_OK(clgan_safetensors_expect_f32(st, "main.0.weight", 4, w0, &p));
  TU_OK(clgan_safetensors_expect_f32(st, "main.1.weight", 1, c6, &p));
  TU_OK(clgan_safetensors_expect_f32(st, "main.1.bias", 1, c6, &p));
  TU_OK(clgan_safetensors_expect_f32(st, "main.1.running_mean", 1, c6, &p));
  TU_OK(clgan_safetensors_expect_f32(st, "main.1.running_var", 1, c6, &p));
  TU_OK(clgan_safetensors_expect_f32(st, "main.6.weight", 4, wl, &p));
  const clgan_st_tensor *nbt = clgan_safetensors_find(st, "main.1.num_batches_tracked");
  ck_assert_ptr_nonnull(nbt);
  ck_assert_int_eq(nbt->dtype, CLGAN_I64);
  ck_assert_int_eq(*(const int64_t *)nbt->data, 2);
  ck_assert_ptr_null(clgan_safetensors_find(st, "main.7.weight"));
  clgan_safetensors_close(st);
  clgan_dcgan_config read = clgan_dcgan_default_config();
  TU_OK(clgan_generator_read_config(path, &read));
  ck_assert_int_eq(read.nz, 5);
  ck_assert_int_eq(read.image_size, 16);
  TU_OK(clgan_dcgan_create(tu_ctx(), &read, &b));
  TU_OK(clgan_import_generator(path, b));
  for (int ar = CLGAN_ARENA_PARAM; ar <= CLGAN_ARENA_STATS; ar += CLGAN_ARENA_STATS) {
    size_t n;
    float *x = read_arena(a, CLGAN_NET_G, ar, &n), *y = read_arena(b, CLGAN_NET_G, ar, &n);
    ck_assert_mem_eq(x, y, n * sizeof(float));
    free(x);
    free(y);
  }
  clgan_dcgan_destroy(a);
  clgan_dcgan_destroy(b);
}
END_TEST

/* Rewrites the checkpoint src as dst with metadata "version" set to version
 * and the keys in drop (NULL-terminated; one ending in '.' drops a prefix) left out. */
static void rewrite_meta(const char *src, const char *dst, const char *version,
                         const char *const *drop) {
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(src, &st));
  int count = clgan_safetensors_count(st);
  clgan_st_tensor *t = tu_malloc((size_t)count * sizeof *t);
  for (int i = 0; i < count; i++) t[i] = *clgan_safetensors_at(st, i);
  const char *keys[64], *vals[64];
  int nm = 0;
  for (int i = 0; i < clgan_safetensors_meta_count(st) && nm < 64; i++) {
    const char *k = clgan_safetensors_meta_key(st, i);
    int skip = 0;
    for (int d = 0; drop[d]; d++) {
      size_t len = strlen(drop[d]);
      skip |= drop[d][len - 1] == '.' ? strncmp(k, drop[d], len) == 0 : strcmp(k, drop[d]) == 0;
    }
    if (skip) continue;
    keys[nm] = k;
    vals[nm++] = strcmp(k, "version") == 0 ? version : clgan_safetensors_meta(st, k);
  }
  TU_OK(clgan_safetensors_write(dst, t, count, keys, vals, nm));
  clgan_safetensors_close(st);
  free(t);
}

/* Copies the file src to dst with one value of tensor `name` replaced. */
static void poison(const char *src, const char *dst, const char *name, size_t index, float v) {
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(src, &st));
  int count = clgan_safetensors_count(st);
  clgan_st_tensor *t = tu_malloc((size_t)count * sizeof *t);
  float *copy = NULL;
  for (int i = 0; i < count; i++) {
    t[i] = *clgan_safetensors_at(st, i);
    if (strcmp(t[i].name, name) != 0) continue;
    size_t n = 1;
    for (int d = 0; d < t[i].ndim; d++) n *= (size_t)t[i].shape[d];
    copy = tu_malloc(n * sizeof(float));
    memcpy(copy, t[i].data, n * sizeof(float));
    copy[index] = v;
    t[i].data = copy;
  }
  ck_assert_msg(copy != NULL, "no tensor %s in %s", name, src);
  const char *keys[64], *vals[64];
  int nm = clgan_safetensors_meta_count(st);
  ck_assert_int_le(nm, 64);
  for (int i = 0; i < nm; i++) {
    keys[i] = clgan_safetensors_meta_key(st, i);
    vals[i] = clgan_safetensors_meta(st, keys[i]);
  }
  TU_OK(clgan_safetensors_write(dst, t, count, keys, vals, nm));
  clgan_safetensors_close(st);
  free(copy);
  free(t);
}

/* NaN or infinite weights and negative variances are refused on load, the
 * tensor named, the model unchanged. */
START_TEST(test_non_finite_models_refused) {
  clgan_dcgan_config cfg = tiny_config();
  clgan_dcgan *a, *b;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &a));
  TU_OK(clgan_dcgan_init_weights(a, 3));
  run_steps(a, 0, 1);
  const char *gen = tmp_path("g_ok.safetensors"), *bad = tmp_path("g_bad.safetensors");
  TU_OK(clgan_export_generator(gen, a));
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &b));
  struct {
    const char *tensor;
    float value;
    const char *words;
  } cases[] = {{"main.0.weight", NAN, "non-finite"},
               {"main.3.weight", INFINITY, "non-finite"},
               {"main.1.running_var", -1.0f, "negative variance"}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    poison(gen, bad, cases[c].tensor, 2, cases[c].value);
    ck_assert_int_eq(clgan_import_generator(bad, b), CLGAN_ERR_FORMAT);
    ck_assert_msg(strstr(clgan_last_error(), cases[c].tensor) &&
                      strstr(clgan_last_error(), cases[c].words),
                  "%s", clgan_last_error());
  }
  const char *ck = tmp_path("ok.safetensors"), *ckbad = tmp_path("bad.safetensors");
  clgan_train_state ts = {.iteration = 1, .seed = 3};
  TU_OK(clgan_checkpoint_save(ck, a, &ts));
  poison(ck, ckbad, "netD.main.2.weight", 0, NAN);
  size_t n;
  float *before = read_arena(b, CLGAN_NET_D, CLGAN_ARENA_PARAM, &n);
  clgan_train_state got;
  ck_assert_int_eq(clgan_checkpoint_load(ckbad, b, &got), CLGAN_ERR_FORMAT);
  ck_assert_msg(strstr(clgan_last_error(), "netD.main.2.weight"), "%s", clgan_last_error());
  float *after = read_arena(b, CLGAN_NET_D, CLGAN_ARENA_PARAM, &n);
  ck_assert_mem_eq(before, after, n * sizeof(float));
  free(before);
  free(after);
  clgan_dcgan_destroy(a);
  clgan_dcgan_destroy(b);
}
END_TEST

/* A version-1 checkpoint from before the stability and small-data switches
 * (no config.label_smooth ... config.ada_target, no augment.* state) loads,
 * with those switches off; a version-2 file must have them. */
START_TEST(test_old_format_loads) {
  clgan_dcgan_config cfg = tiny_config();
  clgan_dcgan *a, *b;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &a));
  TU_OK(clgan_dcgan_init_weights(a, 5));
  run_steps(a, 0, 1);
  float fixed[5] = {1, 2, 3, 4, 5};
  clgan_train_state ts = {.iteration = 1, .seed = 9, .rng = {5, 6, 7, 8}, .fixed_count = 1,
                          .fixed_noise = fixed};
  const char *path = tmp_path("ck_v2.safetensors"), *old = tmp_path("ck_v1.safetensors");
  TU_OK(clgan_checkpoint_save(path, a, &ts));
  clgan_safetensors *st;
  TU_OK(clgan_safetensors_open(path, &st));
  ck_assert_str_eq(clgan_safetensors_meta(st, "version"), "3");
  ck_assert_str_eq(clgan_safetensors_meta(st, "config.ada_target"), "0.600000024");
  clgan_safetensors_close(st);
  const char *const v1_drop[] = {"config.label_smooth", "config.ema_decay", "config.nan_guard",
                                 "config.augment", "config.ada", "augment.", NULL};
  rewrite_meta(path, old, "1", v1_drop);
  clgan_dcgan_config read;
  read.ema_decay = 0.5f; /* must be overwritten with the default */
  read.ada_target = 0.1f;
  TU_OK(clgan_checkpoint_read_config(old, &read));
  ck_assert_mem_eq(&read, &cfg, sizeof cfg);
  TU_OK(clgan_dcgan_create(tu_ctx(), &read, &b));
  clgan_train_state back;
  TU_OK(clgan_checkpoint_load(old, b, &back));
  ck_assert_int_eq(back.iteration, 1);
  ck_assert_uint_eq(back.seed, 9);
  ck_assert_mem_eq(back.fixed_noise, fixed, sizeof fixed);
  free(back.fixed_noise);
  assert_same_state(a, b);
  /* a version-2 file has no conditional model: it loads with it off */
  const char *const v2_drop[] = {"config.conditional", "config.num_classes", "config.embed_dim",
                                 "config.projection", "config.balanced_sampling", NULL};
  rewrite_meta(path, old, "2", v2_drop);
  read.embed_dim = 5; /* must be overwritten with the default */
  TU_OK(clgan_checkpoint_read_config(old, &read));
  ck_assert_mem_eq(&read, &cfg, sizeof cfg);
  TU_OK(clgan_checkpoint_load(old, b, &back));
  free(back.fixed_noise);
  /* the same keys missing from a version-3 file: refused, naming the key */
  rewrite_meta(path, old, "3", v2_drop);
  ck_assert_int_eq(clgan_checkpoint_read_config(old, &read), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "config.conditional"));
  /* the same keys missing from a version-2 file: refused, naming the key */
  const char *const ema_drop[] = {"config.ema_decay", NULL};
  rewrite_meta(path, old, "2", ema_drop);
  ck_assert_int_eq(clgan_checkpoint_read_config(old, &read), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "config.ema_decay"));
  /* a version-2 file predates D's regularisers: they are off; a version-3
   * file must name them */
  const char *const reg_drop[] = {"config.lecam", "config.spectral_norm", "config.consistency",
                                  NULL};
  rewrite_meta(path, old, "2", reg_drop);
  read.lecam = 1.0f;
  TU_OK(clgan_checkpoint_read_config(old, &read));
  ck_assert_mem_eq(&read, &cfg, sizeof cfg);
  rewrite_meta(path, old, "3", reg_drop);
  ck_assert_int_eq(clgan_checkpoint_read_config(old, &read), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "config.lecam"));
  /* a stored value out of its range */
  clgan_safetensors *src;
  TU_OK(clgan_safetensors_open(path, &src));
  int nt = clgan_safetensors_count(src), nm = 0;
  clgan_st_tensor *t = tu_malloc((size_t)nt * sizeof *t);
  for (int i = 0; i < nt; i++) t[i] = *clgan_safetensors_at(src, i);
  const char *keys[64], *vals[64];
  for (int i = 0; i < clgan_safetensors_meta_count(src) && nm < 64; i++, nm++) {
    keys[nm] = clgan_safetensors_meta_key(src, i);
    vals[nm] = strcmp(keys[nm], "config.channels") == 0 ? "2" : clgan_safetensors_meta(src, keys[nm]);
  }
  TU_OK(clgan_safetensors_write(old, t, nt, keys, vals, nm));
  clgan_safetensors_close(src);
  free(t);
  ck_assert_int_eq(clgan_checkpoint_read_config(old, &read), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "channels is 2"));
  /* a version this build does not know */
  const char *const none[] = {NULL};
  rewrite_meta(path, old, "4", none);
  ck_assert_int_eq(clgan_checkpoint_load(old, b, &back), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "version 1 to 3"));
  clgan_dcgan_destroy(a);
  clgan_dcgan_destroy(b);
}
END_TEST

/* The defaults the list generates are the recipe's, bit for bit, and
 * validation names the field and its range. */
START_TEST(test_config_list) {
  clgan_dcgan_config d = clgan_dcgan_default_config(), recipe;
  memset(&recipe, 0, sizeof recipe);
  recipe.image_size = 64;
  recipe.channels = 3;
  recipe.nz = 100;
  recipe.ngf = recipe.ndf = 64;
  recipe.batch = 128;
  recipe.lr_g = recipe.lr_d = 2e-4f;
  recipe.beta1 = 0.5f;
  recipe.beta2 = 0.999f;
  recipe.adam_eps = 1e-8f;
  recipe.bn_momentum = 0.1f;
  recipe.bn_eps = 1e-5f;
  recipe.lrelu_slope = 0.2f;
  recipe.ada_target = 0.6f;
  recipe.embed_dim = 32; /* used only with conditional, which is off */
  ck_assert_mem_eq(&d, &recipe, sizeof d);
  int n;
  const clgan_config_field *f = clgan_config_fields(&n);
  ck_assert_int_eq(n, 28); /* every field of clgan_dcgan_config */
  const clgan_config_field *bad = NULL;
  TU_OK(clgan_config_check(&d, &bad));
  ck_assert_ptr_null(bad);
  d.ngf = 0;
  ck_assert_int_eq(clgan_config_check(&d, &bad), CLGAN_ERR_INVALID);
  ck_assert_str_eq(bad->name, "ngf");
  ck_assert_str_eq(bad->flag, "--ngf");
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "ngf is 0; the valid range is 1 to 100000"));
  d = clgan_dcgan_default_config();
  d.image_size = 48;
  ck_assert_int_eq(clgan_config_check(&d, &bad), CLGAN_ERR_INVALID);
  ck_assert_str_eq(bad->name, "image_size");
  d = clgan_dcgan_default_config();
  d.lr_d = 0;
  ck_assert_int_eq(clgan_config_check(&d, &bad), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "lr_d is 0; the valid range is (0, 10]"));
  /* text round trip of every field */
  d = tiny_config();
  d.ema_decay = 0.999f;
  d.augment = 5;
  d.nan_guard = 1;
  clgan_dcgan_config back = clgan_dcgan_default_config();
  for (int i = 0; i < n; i++) {
    char text[48];
    clgan_config_format(&f[i], &d, text, sizeof text);
    TU_OK(clgan_config_parse(&f[i], text, &back));
  }
  ck_assert_mem_eq(&d, &back, sizeof d);
  ck_assert_int_eq(clgan_config_parse(&f[0], "12x", &back), CLGAN_ERR_FORMAT);
}
END_TEST

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clgan-ckpt-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  Suite *s = suite_create("checkpoint");
  TCase *tc = tcase_create("checkpoint");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_safetensors_roundtrip);
  tcase_add_test(tc, test_safetensors_bad_files);
  tcase_add_test(tc, test_resume_is_exact);
  tcase_add_test(tc, test_checkpoint_mismatch_leaves_model_unchanged);
  tcase_add_test(tc, test_export_import_generator);
  tcase_add_test(tc, test_non_finite_models_refused);
  tcase_add_test(tc, test_old_format_loads);
  tcase_add_test(tc, test_config_list);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(tmpdir);
  return rc;
}
