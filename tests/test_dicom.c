/* DICOM through DCMTK (src/data/dicom_*.c): modality values against an
 * independent reader (pydicom's figures, tests/dicom/reference.py), every
 * lossless transfer syntax decoding to the same values, MONOCHROME1,
 * multi-frame files, series grouped and ordered by position whatever the
 * file names, and clear errors for what cannot be read. The files are
 * python3-pydicom's public test files (CI installs the package). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/dicom.h"
#include "test_util.h"

static char path_buf[8][1024];
static int path_next;

/* A pydicom test file (CLGAN_PYDICOM_DIR, set by tests/meson.build). */
static const char *pyd(const char *name) {
  const char *dir = getenv("CLGAN_PYDICOM_DIR");
  ck_assert_msg(dir && access(dir, R_OK) == 0,
                "pydicom's test files are missing (%s): install python3-pydicom", dir ? dir : "unset");
  char *p = path_buf[path_next++ % 8];
  snprintf(p, sizeof path_buf[0], "%s/%s", dir, name);
  return p;
}

static const char *fixture(const char *name) {
  char *p = path_buf[path_next++ % 8];
  snprintf(p, sizeof path_buf[0], "%s/%s", getenv("CLGAN_DICOM_FIXTURES"), name);
  return p;
}

typedef struct stats {
  double sum, min, max;
} stats;

static stats stats_of(const float *v, size_t n) {
  stats s = {0, INFINITY, -INFINITY};
  for (size_t i = 0; i < n; i++) {
    s.sum += v[i];
    if (v[i] < s.min) s.min = v[i];
    if (v[i] > s.max) s.max = v[i];
  }
  return s;
}

/* pydicom: CT_small count 16384 sum -1950906 first -849 min -896 max 1167
 * (RescaleIntercept -1024: Hounsfield units); MR_small count 4096 sum
 * 2125338 first 905 min 127 max 2145. */
START_TEST(test_modality_values) {
  clgan_dicom_image im;
  TU_OK(clgan_dicom_read(pyd("CT_small.dcm"), 1, &im));
  ck_assert_str_eq(im.modality, "CT");
  ck_assert_int_eq(im.rows * im.cols, 16384);
  ck_assert_int_eq(im.frames, 1);
  stats s = stats_of(im.pixels, 16384);
  ck_assert_double_eq(s.sum, -1950906.0);
  ck_assert_float_eq(im.pixels[0], -849.0f);
  ck_assert_double_eq(s.min, -896.0);
  ck_assert_double_eq(s.max, 1167.0);
  clgan_dicom_image_free(&im);
  TU_OK(clgan_dicom_read(pyd("MR_small.dcm"), 1, &im));
  s = stats_of(im.pixels, 4096);
  ck_assert_double_eq(s.sum, 2125338.0);
  ck_assert_float_eq(im.pixels[0], 905.0f);
  ck_assert(im.has_window);
  ck_assert_double_eq(im.window_center, 600.0);
  ck_assert_double_eq(im.window_width, 1600.0);
  clgan_dicom_image_free(&im);
}
END_TEST

/* The same MR image in every lossless syntax DCMTK decodes: equal values. */
static const char *const mr_syntaxes[] = {"MR_small_RLE.dcm", "MR_small_bigendian.dcm",
                                          "MR_small_implicit.dcm", "MR_small_expb.dcm",
                                          "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm"};

START_TEST(test_lossless_syntaxes_agree) {
  clgan_dicom_image ref, im;
  TU_OK(clgan_dicom_read(pyd("MR_small.dcm"), 1, &ref));
  TU_OK(clgan_dicom_read(pyd(mr_syntaxes[_i]), 1, &im));
  ck_assert_int_eq(im.rows, ref.rows);
  ck_assert_int_eq(im.cols, ref.cols);
  ck_assert_msg(memcmp(im.pixels, ref.pixels, sizeof(float) * 4096) == 0,
                "%s (%s) decodes to other values than MR_small.dcm", mr_syntaxes[_i],
                im.transfer_syntax);
  clgan_dicom_image_free(&im);
  clgan_dicom_image_free(&ref);
}
END_TEST

/* Lossy JPEG (extended, 12 bit) decodes to the image's size and range. */
START_TEST(test_jpeg_extended) {
  clgan_dicom_image im;
  TU_OK(clgan_dicom_read(pyd("JPEG-lossy.dcm"), 1, &im));
  ck_assert_int_eq(im.rows, 1024);
  ck_assert_int_eq(im.cols, 256);
  stats s = stats_of(im.pixels, (size_t)im.rows * im.cols);
  ck_assert(s.min >= 0 && s.max <= 4095 && s.max > s.min);
  clgan_dicom_image_free(&im);
}
END_TEST

/* MONOCHROME1: values negated (brighter is higher), the window with them. */
START_TEST(test_monochrome1) {
  clgan_dicom_image im, ref;
  TU_OK(clgan_dicom_read(fixture("mr_small_monochrome1.dcm"), 1, &im));
  TU_OK(clgan_dicom_read(pyd("MR_small.dcm"), 1, &ref));
  ck_assert(im.monochrome1);
  for (int i = 0; i < 4096; i++) ck_assert_float_eq(im.pixels[i], -ref.pixels[i]);
  clgan_dicom_image_free(&im);
  clgan_dicom_image_free(&ref);
  clgan_dicom_scan scan;
  const char *in[1] = {fixture("mr_small_monochrome1.dcm")};
  TU_OK(clgan_dicom_scan_paths(in, 1, &scan));
  clgan_volume v;
  clgan_dicom_window w;
  TU_OK(clgan_dicom_series_volume(&scan.series[0], &v, &w));
  ck_assert(w.present);
  /* center 600, width 1600: [600 - 0.5 - 799.5, 600 - 0.5 + 799.5] = [-200, 1399], negated */
  ck_assert_float_eq(w.lo, -1399.0f);
  ck_assert_float_eq(w.hi, 200.0f);
  clgan_volume_free(&v);
  clgan_dicom_scan_free(&scan);
}
END_TEST

/* A multi-frame file is a volume of its frames. */
START_TEST(test_multiframe_volume) {
  clgan_dicom_scan scan;
  const char *in[1] = {pyd("rtdose.dcm")};
  TU_OK(clgan_dicom_scan_paths(in, 1, &scan));
  ck_assert_int_eq(scan.count, 1);
  clgan_volume v;
  TU_OK(clgan_dicom_series_volume(&scan.series[0], &v, NULL));
  ck_assert_int_eq(v.dim[0], 10);
  ck_assert_int_eq(v.dim[1], 10);
  ck_assert_int_eq(v.dim[2], 15);
  clgan_volume_free(&v);
  clgan_dicom_scan_free(&scan);
}
END_TEST

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  ck_assert(in && out);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
  fclose(in);
  ck_assert_int_eq(fclose(out), 0);
}

/* A CT series of four 16 x 16 slices, copied under names in the reverse of
 * their positions, beside another series and a non-DICOM file: grouped by
 * SeriesInstanceUID, ordered along the normal (z increasing). */
START_TEST(test_series_order_not_names) {
  static const char *const files[4] = {"17106", "17136", "17166", "17196"}; /* z ascending */
  char dir[] = "/tmp/clgan-dicom-XXXXXX", name[1200], src[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  for (int i = 0; i < 4; i++) {
    snprintf(src, sizeof src, "dicomdirtests/77654033/CT2/%s", files[i]);
    snprintf(name, sizeof name, "%s/slice_%c.dcm", dir, 'z' - i);
    copy_file(pyd(src), name);
  }
  snprintf(name, sizeof name, "%s/a_mr.dcm", dir);
  copy_file(pyd("MR_small.dcm"), name);
  snprintf(name, sizeof name, "%s/notes.txt", dir);
  FILE *f = fopen(name, "w");
  fputs("not an image\n", f);
  fclose(f);
  const char *in[1] = {dir};
  clgan_dicom_scan scan;
  TU_OK(clgan_dicom_scan_paths(in, 1, &scan));
  ck_assert_int_eq(scan.count, 2);
  ck_assert_int_eq(scan.skipped, 1);
  const clgan_dicom_series *ct = strcmp(scan.series[0].modality, "CT") == 0 ? &scan.series[0] : &scan.series[1];
  ck_assert_int_eq(ct->count, 4);
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "slice_%c.dcm", 'z' - i);
    ck_assert_msg(strstr(ct->paths[i], name), "slice %d is %s, expected %s", i, ct->paths[i], name);
  }
  clgan_volume v;
  TU_OK(clgan_dicom_series_volume(ct, &v, NULL));
  ck_assert_int_eq(v.dim[2], 4);
  ck_assert_str_eq(v.orient, "LPS"); /* identity cosines: rows toward L, columns toward P */
  ck_assert(fabs(v.pixdim[0] - 0.488281) < 1e-6);
  ck_assert(fabs(v.pixdim[2] - 1.25) < 1e-3); /* the median gap, not 99.48 -> 103.02 */
  clgan_volume_free(&v);
  clgan_dicom_scan_free(&scan);
  tu_remove_tree(dir);
}
END_TEST

/* Writes `to` as `from` without its 128-byte preamble, "DICM" and file meta
 * group (0002): the bare dataset in the file's transfer syntax, as old
 * scanners and some exports write it. */
static void strip_meta(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  ck_assert_ptr_nonnull(in);
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, in);
  fclose(in);
  ck_assert(n > 144 && n < sizeof buf && memcmp(buf + 128, "DICM", 4) == 0);
  /* (0002,0000) UL 4: the meta group's length, always explicit VR little endian */
  ck_assert(memcmp(buf + 132, "\x02\x00\x00\x00UL\x04\x00", 8) == 0);
  size_t len = buf[140] | (size_t)buf[141] << 8 | (size_t)buf[142] << 16 | (size_t)buf[143] << 24;
  ck_assert_uint_lt(144 + len, n);
  FILE *out = fopen(to, "wb");
  ck_assert_ptr_nonnull(out);
  ck_assert_uint_eq(fwrite(buf + 144 + len, 1, n - 144 - len, out), n - 144 - len);
  ck_assert_int_eq(fclose(out), 0);
}

/* Datasets without preamble and meta group (implicit and explicit VR, both
 * byte orders) are DICOM to clgan because DCMTK reads them: same values as
 * the full files, found by a folder scan. Other formats are not. */
START_TEST(test_raw_datasets_without_preamble) {
  static const char *const full[3] = {"CT_small.dcm", "MR_small_implicit.dcm",
                                      "MR_small_bigendian.dcm"};
  char dir[] = "/tmp/clgan-dicom-raw-XXXXXX", raw[1200];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  for (int i = 0; i < 3; i++) {
    snprintf(raw, sizeof raw, "%s/raw%d", dir, i); /* no extension either */
    strip_meta(pyd(full[i]), raw);
    ck_assert_msg(clgan_dicom_is_file(raw), "%s without its meta group is not seen as DICOM",
                  full[i]);
    clgan_dicom_image im, ref;
    TU_OK(clgan_dicom_read(raw, 1, &im));
    TU_OK(clgan_dicom_read(pyd(full[i]), 1, &ref));
    ck_assert_int_eq(im.rows * im.cols, ref.rows * ref.cols);
    ck_assert_msg(memcmp(im.pixels, ref.pixels, sizeof(float) * (size_t)im.rows * im.cols) == 0,
                  "%s: the bare dataset decodes to other values", full[i]);
    clgan_dicom_image_free(&im);
    clgan_dicom_image_free(&ref);
  }
  /* PNG, gzip, NIfTI, text and short files are not DICOM */
  static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
  static const unsigned char gz[8] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
  static const unsigned char nii[8] = {0x5c, 0x01, 0, 0, 0, 0, 0, 0};
  static const unsigned char text[16] = "not an image\n..";
  const unsigned char *other[4] = {png, gz, nii, text};
  const size_t sizes[4] = {8, 8, 8, 16};
  for (int i = 0; i < 4; i++) {
    snprintf(raw, sizeof raw, "%s/other%d", dir, i);
    FILE *f = fopen(raw, "wb");
    ck_assert_uint_eq(fwrite(other[i], 1, sizes[i], f), sizes[i]);
    for (int k = 0; k < 400; k++) fputc(k * 7 & 0xff, f);
    fclose(f);
    ck_assert_msg(!clgan_dicom_is_file(raw), "other%d is taken for DICOM", i);
  }
  /* a folder scan finds the three bare datasets and skips the rest */
  const char *in[1] = {dir};
  clgan_dicom_scan scan;
  TU_OK(clgan_dicom_scan_paths(in, 1, &scan));
  int files = 0;
  for (int i = 0; i < scan.count; i++) files += scan.series[i].count;
  ck_assert_int_eq(files, 3);
  ck_assert_int_eq(scan.skipped, 4);
  clgan_dicom_scan_free(&scan);
  tu_remove_tree(dir);
}
END_TEST

/* What cannot be read says so, naming the file. */
START_TEST(test_errors_name_the_file) {
  clgan_dicom_image im;
  struct {
    const char *path;
    clgan_status want;
    const char *words;
  } cases[] = {
      {pyd("MR_small_jp2klossless.dcm"), CLGAN_ERR_UNSUPPORTED, "JPEG 2000"},
      {pyd("MR_truncated.dcm"), CLGAN_ERR_FORMAT, "MR_truncated.dcm"},
      {pyd("rtplan.dcm"), CLGAN_ERR_FORMAT, "without pixel data"},
      {pyd("SC_rgb_rle.dcm"), CLGAN_ERR_UNSUPPORTED, "colour"},
      {"/nonexistent/x.dcm", CLGAN_ERR_IO, "/nonexistent/x.dcm"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clgan_status st = clgan_dicom_read(cases[i].path, 1, &im);
    ck_assert_msg(st == cases[i].want, "%s: %s (%s)", cases[i].path, clgan_status_name(st),
                  clgan_last_error());
    ck_assert_msg(strstr(clgan_last_error(), cases[i].words), "%s: '%s' lacks '%s'",
                  cases[i].path, clgan_last_error(), cases[i].words);
    ck_assert_ptr_null(im.pixels);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("dicom");
  TCase *tc = tcase_create("dicom");
  tcase_add_test(tc, test_modality_values);
  tcase_add_loop_test(tc, test_lossless_syntaxes_agree, 0,
                      (int)(sizeof mr_syntaxes / sizeof mr_syntaxes[0]));
  tcase_add_test(tc, test_jpeg_extended);
  tcase_add_test(tc, test_monochrome1);
  tcase_add_test(tc, test_multiframe_volume);
  tcase_add_test(tc, test_series_order_not_names);
  tcase_add_test(tc, test_errors_name_the_file);
  tcase_add_test(tc, test_raw_datasets_without_preamble);
  suite_add_tcase(s, tc);
  return tu_run(s); /* no OpenCL context is created: none is used */
}
