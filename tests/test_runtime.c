/* Runtime: device listing and choice, kernel build and disk cache, peak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "test_util.h"

START_TEST(test_device_pick) {
  clgan_device_info list[3];
  memset(list, 0, sizeof list);
  strcpy(list[0].name, "Fancy CPU");
  list[0].is_cpu = 1;
  strcpy(list[1].name, "Big GPU");
  list[1].is_gpu = 1;
  list[1].device_index = 0;
  list[1].platform_index = 1;
  strcpy(list[2].name, "Other CPU");
  list[2].is_cpu = 1;
  list[2].platform_index = 1;
  list[2].device_index = 1;
  strcpy(list[2].platform_name, "Portable Computing Language");
  ck_assert_int_eq(clgan_device_pick(list, 3, NULL), 1);
  ck_assert_int_eq(clgan_device_pick(list, 3, "cpu"), 0);
  ck_assert_int_eq(clgan_device_pick(list, 3, "gpu"), 1);
  ck_assert_int_eq(clgan_device_pick(list, 3, "2"), 2);
  ck_assert_int_eq(clgan_device_pick(list, 3, "1:1"), 2);
  ck_assert_int_eq(clgan_device_pick(list, 3, "big"), 1);
  ck_assert_int_eq(clgan_device_pick(list, 3, "portable"), 2);
  ck_assert_int_eq(clgan_device_pick(list, 3, "7"), -1);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "out of range"));
  ck_assert_int_eq(clgan_device_pick(list, 3, "nvidia"), -1);
  ck_assert_int_eq(clgan_device_pick(list, 2, "cpu"), 0);
  list[0].is_cpu = 0;
  ck_assert_int_eq(clgan_device_pick(list, 1, "cpu"), -1);
}
END_TEST

START_TEST(test_status_names) {
  ck_assert_str_eq(clgan_status_name(CLGAN_ERR_BUILD), "CLGAN_ERR_BUILD");
  ck_assert_str_eq(clgan_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
  ck_assert_str_eq(clgan_cl_error_name(-12345), "CL_UNKNOWN_ERROR");
  for (int s = 0; s < CLGAN_STATUS_COUNT; s++) ck_assert(strlen(clgan_status_str(s)) > 0);
}
END_TEST

/* A message may add context to the previous one (clgan_last_error() as an
 * argument): the result reads as both, not as a garbled copy. */
START_TEST(test_fail_wraps_previous_message) {
  clgan_fail(CLGAN_ERR_IO, "cannot create directory %s: %s", "/tmp/afile", "Not a directory");
  clgan_fail(CLGAN_ERR_IO, "%s: %s", "volume.nii", clgan_last_error());
  ck_assert_str_eq(clgan_last_error(),
                   "volume.nii: cannot create directory /tmp/afile: Not a directory");
}
END_TEST

START_TEST(test_cache_roundtrip_and_corruption) {
  char dir[] = "/tmp/clgan-cache-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char payload[] = "binary bytes";
  TU_OK(clgan_cache_store(dir, "unit", "key one", payload, sizeof payload));
  void *p = NULL;
  size_t n = 0;
  TU_OK(clgan_cache_load(dir, "unit", "key one", &p, &n));
  ck_assert_uint_eq(n, sizeof payload);
  ck_assert_mem_eq(p, payload, n);
  free(p);
  ck_assert_int_eq(clgan_cache_load(dir, "unit", "key two", &p, &n), CLGAN_ERR_IO);
  /* no directory: no cache */
  ck_assert_int_eq(clgan_cache_store("", "unit", "key one", payload, sizeof payload), CLGAN_ERR_IO);
  ck_assert_int_eq(clgan_cache_load("", "unit", "key one", &p, &n), CLGAN_ERR_IO);
  /* flip one payload byte: the entry must be rejected, not trusted */
  char path[1200];
  snprintf(path, sizeof path, "%s/unit-%016llx.bin", dir,
           (unsigned long long)clgan_hash_str(CLGAN_FNV_SEED, "key one"));
  FILE *f = fopen(path, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, -2, SEEK_END);
  fputc('X', f);
  fclose(f);
  ck_assert_int_eq(clgan_cache_load(dir, "unit", "key one", &p, &n), CLGAN_ERR_FORMAT);
  /* truncated entry */
  ck_assert_int_eq(truncate(path, 10), 0);
  ck_assert_int_eq(clgan_cache_load(dir, "unit", "key one", &p, &n), CLGAN_ERR_FORMAT);
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(test_fill_and_kernel_reuse) {
  clgan_ctx *ctx = tu_ctx();
  clgan_buf b = tu_upload(NULL, 1000);
  TU_OK(clgan_fill(ctx, clgan_buf_at(b, 10), 77, 3.5f));
  float *x = tu_download(b, 1000);
  for (int i = 0; i < 1000; i++) ck_assert_float_eq(x[i], (i >= 10 && i < 87) ? 3.5f : 0.0f);
  free(x);
  clgan_buf_release(&b);
  cl_kernel k1, k2;
  TU_OK(clgan_kernel_get(ctx, "fill", NULL, "fill", &k1));
  clgan_ctx_freeze(ctx, 1);
  TU_OK(clgan_kernel_get(ctx, "fill", NULL, "fill", &k2));
  ck_assert_ptr_eq(k1, k2);
  ck_assert_int_eq(clgan_kernel_get(ctx, "peak", "-DUNUSED=1", "peak_fma", &k2), CLGAN_ERR_FROZEN);
  clgan_ctx_freeze(ctx, 0);
}
END_TEST

START_TEST(test_build_error_has_log) {
  /* A kernel name that does not exist and a bad build option. */
  cl_kernel k;
  clgan_status st = clgan_kernel_get(tu_ctx(), "fill", NULL, "no_such_kernel", &k);
  ck_assert_int_eq(st, CLGAN_ERR_OPENCL);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "CL_INVALID_KERNEL_NAME"));
  st = clgan_kernel_get(tu_ctx(), "fill", "-DX=(", "fill", &k);
  if (st != CLGAN_OK) {
    ck_assert_int_eq(st, CLGAN_ERR_BUILD);
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "build log"));
  }
  st = clgan_kernel_get(tu_ctx(), "no_such_source", NULL, "k", &k);
  ck_assert_int_eq(st, CLGAN_ERR_INVALID);
}
END_TEST

START_TEST(test_second_context_uses_disk_cache) {
  /* The program built by the shared context must load from disk in a new one. */
  cl_kernel k;
  TU_OK(clgan_kernel_get(tu_ctx(), "fill", "-DCLGAN_CACHE_PROBE=1", "fill", &k));
  if (!*clgan_cache_dir(clgan_ctx_tuning(tu_ctx()))) return;
  clgan_ctx *second = NULL;
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE")};
  TU_OK(clgan_ctx_create(&o, &second));
  TU_OK(clgan_kernel_get(second, "fill", "-DCLGAN_CACHE_PROBE=1", "fill", &k));
  int cached = 0, compiled = 0;
  clgan_ctx_build_counts(second, &cached, &compiled);
  clgan_ctx_destroy(second);
  ck_assert_int_eq(cached, 1);
  ck_assert_int_eq(compiled, 0);
}
END_TEST

START_TEST(test_cache_dir_from_tuning) {
  clgan_tuning t = {0};
  snprintf(t.cache_dir, sizeof t.cache_dir, "/some/dir");
  ck_assert_str_eq(clgan_cache_dir(&t), "/some/dir");
  t.cache_off = 1;
  ck_assert_str_eq(clgan_cache_dir(&t), "");
}
END_TEST

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* Fills 16 floats with v on context c and reads them back as expect. */
static void check_fill(clgan_ctx *c, float v, float expect) {
  clgan_buf b;
  TU_OK(clgan_buf_alloc(c, 16, &b));
  TU_OK(clgan_fill(c, b, 16, v));
  float x[16];
  TU_OK(clgan_buf_read(c, b, x, 16));
  for (int i = 0; i < 16; i++) ck_assert_float_eq(x[i], expect);
  clgan_buf_release(&b);
}

/* A context of its own building every program from dir, the cache off. */
static clgan_ctx *ctx_building_from(const char *dir) {
  clgan_tuning t = *clgan_ctx_tuning(tu_ctx());
  snprintf(t.kernel_dir, sizeof t.kernel_dir, "%s", dir);
  t.cache_off = 1;
  clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
  clgan_ctx *c = NULL;
  TU_OK(clgan_ctx_create(&o, &c));
  return c;
}

/* A program continued in files of its own (src/runtime/program.c's
 * layouts: winograd after its cl/winograd.cl) is built from all of them:
 * a build error in the last one names that file and its own line, a
 * missing one is named, and with every file as embedded the kernels of
 * each file are there. */
START_TEST(test_program_from_several_files) {
  char dir[] = "/tmp/clgan-program-files-XXXXXX", path[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  const char *files[] = {"common", "gemm_tile", "winograd", "winograd_forward", "winograd_filter",
                         "winograd_adjoint"};
  const int nfiles = (int)(sizeof files / sizeof files[0]);
  for (int i = 0; i < nfiles; i++) {
    snprintf(path, sizeof path, "%s/%s.cl", dir, files[i]);
    write_text(path, clgan_embedded_source(files[i]));
  }
  clgan_ctx *c = ctx_building_from(dir);
  cl_kernel k = NULL;
  const char *opts = "-DTM=8 -DNV=2";
  snprintf(path, sizeof path, "%s/winograd_adjoint.cl", dir);
  write_text(path, "/* line 1 */\n\nint broken = not_declared_here;\n");
  ck_assert_int_eq(clgan_kernel_get(c, "winograd", opts, "wino_weight", &k), CLGAN_ERR_BUILD);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "winograd_adjoint.cl:3:"));
  unlink(path);
  snprintf(path, sizeof path, "%s/winograd_filter.cl", dir);
  unlink(path);
  ck_assert_int_eq(clgan_kernel_get(c, "winograd", opts, "wino_weight", &k), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "winograd_filter.cl"));
  clgan_ctx_destroy(c);
  for (int i = 0; i < nfiles; i++) {
    snprintf(path, sizeof path, "%s/%s.cl", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
  const char *kernels[] = {"wino_weight", "wino_filt_output", "wino_adjt_output"};
  for (int i = 0; i < 3; i++) {
    TU_OK(clgan_kernel_get(tu_ctx(), "winograd", opts, kernels[i], &k));
    ck_assert_ptr_nonnull(k);
  }
}
END_TEST

START_TEST(test_kernel_dir_and_cache_off_from_tuning) {
  /* A context whose tuning names a kernel dir builds from it (here a fill
   * that writes value + 1) and, with the cache off, compiles everything. */
  char dir[] = "/tmp/clgan-kernel-dir-XXXXXX", path[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/common.cl", dir);
  write_text(path, clgan_embedded_source("common"));
  char fill_path[256];
  snprintf(fill_path, sizeof fill_path, "%s/fill.cl", dir);
  write_text(fill_path,
             "__kernel void fill(__global float *x, uint off, uint n, float v) {\n"
             "  uint i = get_global_id(0);\n"
             "  if (i < n) x[off + i] = v + 1.0f;\n"
             "}\n");
  clgan_ctx *c = ctx_building_from(dir);
  check_fill(c, 2.0f, 3.0f);
  int cached = -1, compiled = -1;
  clgan_ctx_build_counts(c, &cached, &compiled);
  ck_assert_int_eq(cached, 0);
  ck_assert_int_eq(compiled, 1);
  clgan_ctx_destroy(c);
  unlink(fill_path);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* CLGAN_KERNEL_CLASS: parsed into the tuning, a bad value refused by name;
 * a context with a GPU's kernel class takes a GPU's paths on any device
 * (the *_gpu_paths tests run that way), its device itself unchanged. */
START_TEST(test_kernel_class) {
  const char *saved = getenv("CLGAN_KERNEL_CLASS");
  char keep[64] = "";
  if (saved) snprintf(keep, sizeof keep, "%s", saved);
  clgan_tuning t;
  setenv("CLGAN_KERNEL_CLASS", "gpu", 1);
  TU_OK(clgan_tuning_from_env(&t));
  ck_assert_int_eq(t.kernel_class, CLGAN_KERNEL_CLASS_GPU);
  setenv("CLGAN_KERNEL_CLASS", "CPU", 1);
  TU_OK(clgan_tuning_from_env(&t));
  ck_assert_int_eq(t.kernel_class, CLGAN_KERNEL_CLASS_CPU);
  setenv("CLGAN_KERNEL_CLASS", "fpga", 1);
  ck_assert_int_eq(clgan_tuning_from_env(&t), CLGAN_ERR_INVALID);
  ck_assert_msg(strstr(clgan_last_error(), "CLGAN_KERNEL_CLASS=fpga") != NULL, "%s",
                clgan_last_error());
  unsetenv("CLGAN_KERNEL_CLASS");
  TU_OK(clgan_tuning_from_env(&t));
  ck_assert_int_eq(t.kernel_class, CLGAN_KERNEL_CLASS_DEVICE);
  if (saved) setenv("CLGAN_KERNEL_CLASS", keep, 1);

  const clgan_device_info *dev = clgan_ctx_device(tu_ctx());
  static const clgan_kernel_class classes[] = {CLGAN_KERNEL_CLASS_GPU, CLGAN_KERNEL_CLASS_CPU,
                                               CLGAN_KERNEL_CLASS_DEVICE};
  for (int i = 0; i < 3; i++) {
    t = *clgan_ctx_tuning(tu_ctx());
    t.kernel_class = classes[i];
    clgan_ctx_options o = {.device = getenv("CLGAN_TEST_DEVICE"), .tuning = &t};
    clgan_ctx *c = NULL;
    TU_OK(clgan_ctx_create(&o, &c));
    int cpu = classes[i] == CLGAN_KERNEL_CLASS_DEVICE ? dev->is_cpu
                                                      : classes[i] == CLGAN_KERNEL_CLASS_CPU;
    int gpu = classes[i] == CLGAN_KERNEL_CLASS_DEVICE ? dev->is_gpu
                                                      : classes[i] == CLGAN_KERNEL_CLASS_GPU;
    ck_assert_int_eq(clgan_ctx_cpu_paths(c), cpu);
    ck_assert_int_eq(clgan_ctx_gpu_paths(c), gpu);
    ck_assert_int_eq(clgan_ctx_device(c)->is_cpu, dev->is_cpu);
    check_fill(c, 2.5f, 2.5f); /* its kernels build with that class's options */
    clgan_ctx_destroy(c);
  }
}
END_TEST

START_TEST(test_buffer_sizes) {
  clgan_ctx *ctx = tu_ctx();
  clgan_buf b, small;
  TU_OK(clgan_buf_alloc(ctx, 100, &b));
  TU_OK(clgan_buf_alloc(ctx, 10, &small));
  ck_assert_uint_eq(b.floats, 100);
  clgan_buf rest = clgan_buf_at(b, 30);
  ck_assert_uint_eq(rest.off, 30);
  ck_assert_uint_eq(rest.floats, 70);
  ck_assert_uint_eq(clgan_buf_at(b, 100).floats, 0);
  float host[100] = {0};
  TU_OK(clgan_buf_write(ctx, rest, host, 70));
  ck_assert_int_eq(clgan_buf_write(ctx, rest, host, 71), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_buf_read(ctx, rest, host, 71), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_fill(ctx, small, 11, 0.0f), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_copy(ctx, b, small, 11), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_copy(ctx, small, b, 11), CLGAN_ERR_INVALID);
  TU_OK(clgan_copy(ctx, small, rest, 10));
  /* a view filled by hand has no known size: nothing is checked */
  clgan_buf hand = {b.mem, 0, 0};
  TU_OK(clgan_buf_write(ctx, hand, host, 100));
  clgan_buf_release(&b);
  clgan_buf_release(&small);
  TU_OK(clgan_ctx_finish(ctx));
}
END_TEST

START_TEST(test_peak_measured) {
  double g = 0;
  TU_OK(clgan_ctx_peak_gflops(tu_ctx(), &g));
  ck_assert_msg(g > 0.1, "peak %g GFLOP/s", g);
}
END_TEST

/* The remembered peak is only replaced by a higher one: a peak planted
 * low (as if measured on a busy device) is read back as it is, then
 * re-measuring replaces it; one planted higher than the device can reach
 * stays. In a cache folder of the test's own. */
static void plant_peak(clgan_ctx *ctx, double g) {
  char key[740];
  clgan_peak_cache_key(&ctx->dev, key, sizeof key);
  TU_OK(clgan_cache_store(clgan_cache_dir(&ctx->tuning), "peak", key, &g, sizeof g));
  ctx->peak_gflops = 0; /* as a new context would start */
}

static double stored_peak(clgan_ctx *ctx) {
  char key[740];
  clgan_peak_cache_key(&ctx->dev, key, sizeof key);
  void *payload = NULL;
  size_t size = 0;
  double g = 0;
  TU_OK(clgan_cache_load(clgan_cache_dir(&ctx->tuning), "peak", key, &payload, &size));
  ck_assert_uint_eq(size, sizeof g);
  memcpy(&g, payload, sizeof g);
  free(payload);
  return g;
}

START_TEST(test_peak_remeasure_keeps_the_best) {
  clgan_ctx *ctx = tu_ctx();
  clgan_tuning saved = *clgan_ctx_tuning(ctx), t = saved;
  char dir[] = "/tmp/clgan-peak-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(t.cache_dir, sizeof t.cache_dir, "%s", dir);
  TU_OK(clgan_ctx_set_tuning(ctx, &t));

  double g = 0, now = 0;
  plant_peak(ctx, 1e-3);
  TU_OK(clgan_ctx_peak_gflops(ctx, &g));
  ck_assert_double_eq(g, 1e-3); /* the remembered one, not measured again */
  TU_OK(clgan_ctx_peak_remeasure(ctx, &now, &g));
  ck_assert_msg(now > 0.1 && g == now, "re-measured %g, kept %g", now, g);
  ck_assert_double_eq(stored_peak(ctx), now);
  TU_OK(clgan_ctx_peak_gflops(ctx, &g));
  ck_assert_double_eq(g, now);

  plant_peak(ctx, 1e9);
  TU_OK(clgan_ctx_peak_remeasure(ctx, &now, &g));
  ck_assert_msg(now < 1e9 && g == 1e9, "re-measured %g, kept %g", now, g);
  ck_assert_double_eq(stored_peak(ctx), 1e9);

  TU_OK(clgan_ctx_set_tuning(ctx, &saved));
  ctx->peak_gflops = 0;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("runtime");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_device_pick);
  tcase_add_test(tc, test_status_names);
  tcase_add_test(tc, test_fail_wraps_previous_message);
  tcase_add_test(tc, test_cache_roundtrip_and_corruption);
  tcase_add_test(tc, test_fill_and_kernel_reuse);
  tcase_add_test(tc, test_build_error_has_log);
  tcase_add_test(tc, test_second_context_uses_disk_cache);
  tcase_add_test(tc, test_cache_dir_from_tuning);
  tcase_add_test(tc, test_kernel_dir_and_cache_off_from_tuning);
  tcase_add_test(tc, test_program_from_several_files);
  tcase_add_test(tc, test_kernel_class);
  tcase_add_test(tc, test_buffer_sizes);
  tcase_add_test(tc, test_peak_measured);
  tcase_add_test(tc, test_peak_remeasure_keeps_the_best);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
