/* The slicer's bounds: --size never builds a padded square larger than
 * 4096 x 4096 whatever the voxel sizes or slice shape, implausible voxel
 * sizes are refused, and file names keep slice order beyond 999 slices.
 * Volumes are made in memory. No OpenCL needed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/image.h"
#include "clgan/volume.h"
#include "test_util.h"


/* An RAS volume of nx x ny x nz voxels of px x py x pz, values 1..7. */
static clgan_volume make_volume(int64_t nx, int64_t ny, int64_t nz, double px, double py,
                                double pz) {
  clgan_volume v;
  memset(&v, 0, sizeof v);
  v.dim[0] = nx, v.dim[1] = ny, v.dim[2] = nz;
  v.pixdim[0] = px, v.pixdim[1] = py, v.pixdim[2] = pz;
  for (int s = 0; s < 3; s++) v.axis_of[s] = s, v.sign[s] = 1;
  memcpy(v.orient, "RAS", 4);
  v.frames = 1;
  v.scl_slope = 1;
  int64_t n = nx * ny * nz;
  v.voxels = malloc((size_t)n * sizeof(float));
  ck_assert_ptr_nonnull(v.voxels);
  for (int64_t i = 0; i < n; i++) v.voxels[i] = (float)(1 + i % 7);
  return v;
}

static clgan_slice_options every_slice(unsigned axes, int size) {
  clgan_slice_options o = clgan_slice_defaults();
  o.axes = axes;
  o.size = size;
  o.min_fraction = 0;
  o.explicit_window = 1;
  o.window_lo = 0;
  o.window_hi = 8;
  return o;
}

#define MIB (1024 * 1024)

START_TEST(test_size_bounds_the_padded_square) {
  /* a 20000 x 2 axial slice: padded to its long side it was a 20000^2 float
   * square (1.5 GiB) for a 64 x 64 PNG */
  clgan_volume v = make_volume(20000, 2, 1, 1, 1, 1);
  clgan_slice_options o = every_slice(1u << CLGAN_AXIS_AXIAL, 64);
  clgan_slice_report rep;
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("wide"), "w", &o, &rep));
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], 1);
  ck_assert_int_eq(rep.width[CLGAN_AXIS_AXIAL], 64);
  ck_assert_msg(rep.work_bytes[CLGAN_AXIS_AXIAL] < 80 * MIB, "%lld bytes of buffers",
                (long long)rep.work_bytes[CLGAN_AXIS_AXIAL]);
  /* the content is a band 2/20000 of the width high in the middle rows (faint
   * after averaging), black above and below */
  clgan_image img = {0};
  TU_OK(clgan_png_read(tu_scratch_path("wide/w_axial_000.png"), &img));
  ck_assert_int_eq(img.height, 64);
  ck_assert_float_eq(img.pixels[0], 0.0f);
  ck_assert(img.pixels[31 * 64 + 32] > 0.0f || img.pixels[32 * 64 + 32] > 0.0f);
  clgan_image_free(&img);
  /* native resolution would be a 20000-pixel PNG: refused, asking for a size */
  o.size = 0;
  ck_assert_int_eq(clgan_volume_write_slices(&v, tu_scratch_path("wide0"), "w", &o, &rep),
                   CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "pass a size"));
  clgan_volume_free(&v);

  /* 8 slices of 900 mm under 1 mm pixels: coronal slices of 16 x 7200 square
   * pixels, padded to 7200^2 before; now at most 4096 on a side */
  v = make_volume(16, 16, 8, 1, 1, 900);
  o = every_slice(1u << CLGAN_AXIS_CORONAL, 32);
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("tall"), "t", &o, &rep));
  ck_assert_int_eq(rep.written[CLGAN_AXIS_CORONAL], 16);
  ck_assert_int_eq(rep.height[CLGAN_AXIS_CORONAL], 32);
  ck_assert_msg(rep.work_bytes[CLGAN_AXIS_CORONAL] < 80 * MIB, "%lld bytes of buffers",
                (long long)rep.work_bytes[CLGAN_AXIS_CORONAL]);
  /* a small anisotropic case keeps its usual geometry (no bound reached) */
  clgan_volume_free(&v);
  v = make_volume(8, 8, 10, 1, 1, 2);
  o = every_slice(1u << CLGAN_AXIS_CORONAL, 0);
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("small"), "s", &o, &rep));
  ck_assert_int_eq(rep.height[CLGAN_AXIS_CORONAL], 20);
  ck_assert_int_lt(rep.work_bytes[CLGAN_AXIS_CORONAL], 4096);
  clgan_volume_free(&v);
}
END_TEST

START_TEST(test_implausible_voxel_sizes) {
  const double sizes[][3] = {{1, 1, 1e6}, {1e-6, 1, 1}, {1, 1001, 1}};
  for (int c = 0; c < 3; c++) {
    clgan_volume v = make_volume(4, 4, 4, sizes[c][0], sizes[c][1], sizes[c][2]);
    for (int size = 0; size <= 64; size += 64) {
      clgan_slice_options o = every_slice(7u, size);
      clgan_slice_report rep;
      ck_assert_int_eq(clgan_volume_write_slices(&v, tu_scratch_path("odd"), "o", &o, &rep),
                       CLGAN_ERR_FORMAT);
      ck_assert_ptr_nonnull(strstr(clgan_last_error(), "not plausible"));
    }
    clgan_volume_free(&v);
  }
  /* 1000-fold is still accepted */
  clgan_volume v = make_volume(4, 4, 2, 1, 1, 1000);
  clgan_slice_options o = every_slice(1u << CLGAN_AXIS_SAGITTAL, 16);
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("edge"), "e", &o, NULL));
  clgan_volume_free(&v);
}
END_TEST

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The PNG names in dir, sorted; returns their count (at most cap). */
static int sorted_names(const char *dir, char **names, int cap) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, ".png") && n < cap) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, by_name);
  return n;
}

START_TEST(test_names_keep_slice_order_beyond_999) {
  enum { MANY = 1001 };
  char **names = calloc(MANY + 8, sizeof *names);
  /* 1001 slices: four digits, lexical order = slice order */
  clgan_volume v = make_volume(2, 2, MANY, 1, 1, 1);
  clgan_slice_options o = every_slice(1u << CLGAN_AXIS_AXIAL, 0);
  clgan_slice_report rep;
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("many"), "m", &o, &rep));
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], MANY);
  int n = sorted_names(tu_scratch_path("many"), names, MANY + 8);
  ck_assert_int_eq(n, MANY);
  for (int i = 0; i < n; i++) {
    char want[64];
    snprintf(want, sizeof want, "m_axial_%04d.png", i);
    ck_assert_str_eq(names[i], want);
    free(names[i]);
  }
  /* the other axes of the same volume have 2 slices: three digits as ever */
  o = every_slice(1u << CLGAN_AXIS_SAGITTAL, 0);
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("few"), "m", &o, &rep));
  n = sorted_names(tu_scratch_path("few"), names, 8);
  ck_assert_int_eq(n, 2);
  ck_assert_str_eq(names[0], "m_sagittal_000.png");
  ck_assert_str_eq(names[1], "m_sagittal_001.png");
  for (int i = 0; i < n; i++) free(names[i]);
  clgan_volume_free(&v);
  /* exactly 1000 slices still fit three digits */
  v = make_volume(1, 1, 1000, 1, 1, 1);
  o = every_slice(1u << CLGAN_AXIS_AXIAL, 0);
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("thousand"), "k", &o, &rep));
  struct stat st;
  ck_assert_int_eq(stat(tu_scratch_path("thousand/k_axial_999.png"), &st), 0);
  clgan_volume_free(&v);
  free(names);
}
END_TEST

int main(void) {
  Suite *s = suite_create("slicer");
  TCase *tc = tcase_create("slicer");
  tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
  tcase_add_test(tc, test_size_bounds_the_padded_square);
  tcase_add_test(tc, test_implausible_voxel_sizes);
  tcase_add_test(tc, test_names_keep_slice_order_beyond_999);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
