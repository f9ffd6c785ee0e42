/* NIfTI headers checked by clgan before nifticlib repairs them: headers
 * written byte by byte here (NIfTI-1 and -2, both byte orders, gzip, .hdr/.img
 * pairs) with one bad field each, the message naming the file and the field,
 * and nothing printed by nifticlib itself. No OpenCL needed. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "clgan/volume.h"
#include "test_util.h"


/* What one test file holds: a header field by field, and voxel data. */
typedef struct spec {
  int version;        /* 1 or 2 */
  int big;            /* big-endian */
  int pair;           /* magic "ni1"/"ni2": voxels in the .img */
  int64_t dim[8];
  int datatype, bitpix;
  int offset_given;   /* 0: the usual vox_offset (352 / 544 single, 0 pair) */
  double vox_offset;
  int64_t data_bytes; /* voxel bytes written; -1: what the dims need */
} spec;

static spec base_spec(int version) {
  spec s = {.version = version, .dim = {3, 4, 3, 2, 1, 1, 1, 1}, .datatype = 4 /* int16 */,
            .bitpix = 16, .data_bytes = -1};
  return s;
}

static void put(unsigned char *b, size_t at, uint64_t v, int n, int big) {
  for (int i = 0; i < n; i++) b[at + (size_t)(big ? n - 1 - i : i)] = (unsigned char)(v >> (8 * i));
}

static void put_f32(unsigned char *b, size_t at, float f, int big) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put(b, at, u, 4, big);
}

static void put_f64(unsigned char *b, size_t at, double d, int big) {
  uint64_t u;
  memcpy(&u, &d, 8);
  put(b, at, u, 8, big);
}

/* The header bytes (348 + 4 or 540 + 4 with the extender); returns the length. */
static size_t header_bytes(const spec *s, unsigned char *b) {
  memset(b, 0, 544);
  int big = s->big;
  if (s->version == 1) {
    put(b, 0, 348, 4, big);
    for (int i = 0; i < 8; i++) put(b, 40 + 2 * (size_t)i, (uint16_t)(int16_t)s->dim[i], 2, big);
    put(b, 70, (uint16_t)s->datatype, 2, big);
    put(b, 72, (uint16_t)s->bitpix, 2, big);
    for (int i = 0; i < 8; i++) put_f32(b, 76 + 4 * (size_t)i, 1.0f, big);
    double off = s->offset_given ? s->vox_offset : s->pair ? 0 : 352;
    put_f32(b, 108, (float)off, big);
    memcpy(b + 344, s->pair ? "ni1" : "n+1", 4);
    return 352;
  }
  put(b, 0, 540, 4, big);
  memcpy(b + 4, s->pair ? "ni2\0\r\n\032\n" : "n+2\0\r\n\032\n", 8);
  put(b, 12, (uint16_t)s->datatype, 2, big);
  put(b, 14, (uint16_t)s->bitpix, 2, big);
  for (int i = 0; i < 8; i++) put(b, 16 + 8 * (size_t)i, (uint64_t)s->dim[i], 8, big);
  for (int i = 0; i < 8; i++) put_f64(b, 104 + 8 * (size_t)i, 1.0, big);
  double off = s->offset_given ? s->vox_offset : s->pair ? 0 : 544;
  put(b, 168, (uint64_t)(int64_t)off, 8, big);
  return 544;
}

static void set_offset(spec *s, double off) {
  s->offset_given = 1;
  s->vox_offset = off;
}

static int64_t needed_bytes(const spec *s) {
  int64_t n = s->bitpix / 8;
  for (int i = 1; i <= s->dim[0] && i <= 7; i++) n *= s->dim[i] > 0 ? s->dim[i] : 1;
  return n;
}

/* Voxel n of an int16 volume: n * 3 - 20, in the file's byte order. */
static void voxel_bytes(const spec *s, unsigned char *d, int64_t len) {
  for (int64_t i = 0; i + 1 < len; i += 2)
    put(d, (size_t)i, (uint16_t)(int16_t)(i / 2 * 3 - 20), 2, s->big);
}

static void write_bytes(const char *path, const unsigned char *a, size_t na,
                        const unsigned char *b, size_t nb) {
  size_t n = strlen(path);
  int gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
  gzFile f = gzopen(path, gz ? "wb" : "wbT");
  ck_assert_ptr_nonnull(f);
  if (na) ck_assert_int_eq(gzwrite(f, a, (unsigned)na), (int)na);
  if (nb) ck_assert_int_eq(gzwrite(f, b, (unsigned)nb), (int)nb);
  ck_assert_int_eq(gzclose(f), Z_OK);
}

/* Writes the file(s) of s at path (.nii[.gz], or .hdr[.gz] with its .img[.gz]). */
static void write_spec(const spec *s, const char *path) {
  unsigned char h[544];
  size_t hn = header_bytes(s, h);
  int64_t len = s->data_bytes >= 0 ? s->data_bytes : needed_bytes(s);
  unsigned char *d = calloc((size_t)len + 1, 1);
  voxel_bytes(s, d, len);
  if (!s->pair) {
    /* room up to a larger vox_offset, zero-filled */
    double at = s->offset_given && s->vox_offset > (double)hn && s->vox_offset < 4096 ? s->vox_offset : (double)hn;
    int64_t off = (int64_t)at;
    unsigned char *all = calloc((size_t)(off + len) + 1, 1);
    memcpy(all, h, hn);
    memcpy(all + off, d, (size_t)len);
    write_bytes(path, all, (size_t)(off + len), NULL, 0);
    free(all);
  } else {
    write_bytes(path, h, hn - 4, NULL, 0); /* a .hdr has no extender */
    char img[600];
    size_t n = strlen(path);
    int gz = strcmp(path + n - 3, ".gz") == 0;
    snprintf(img, sizeof img, "%.*s.img%s", (int)(n - (gz ? 7 : 4)), path, gz ? ".gz" : "");
    write_bytes(img, d, (size_t)len, NULL, 0);
  }
  free(d);
}

/* stderr captured into a file while a test loads bad volumes. */
static int saved_stderr = -1;
static char captured[600];

static void capture_stderr(void) {
  fflush(stderr);
  snprintf(captured, sizeof captured, "%s/stderr.txt", tu_scratch_dir());
  int fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  saved_stderr = dup(2);
  dup2(fd, 2);
  close(fd);
}

/* Restores stderr and returns how many bytes were written to it. */
static long release_stderr(void) {
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  struct stat st;
  ck_assert_int_eq(stat(captured, &st), 0);
  return (long)st.st_size;
}

static void expect_refused(const spec *s, const char *name, clgan_status want,
                           const char *needle) {
  const char *path = tu_scratch_path(name);
  write_spec(s, path);
  clgan_volume v;
  clgan_status st = clgan_volume_load(path, &v);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", clgan_last_error());
  ck_assert_msg(st == want, "%s: got %s (%s), want %s", name, clgan_status_name(st), msg,
                clgan_status_name(want));
  ck_assert_msg(strstr(msg, needle), "%s: message '%s' lacks '%s'", name, msg, needle);
  ck_assert_msg(strstr(msg, tu_scratch_dir()), "%s: message '%s' names no file", name, msg);
  ck_assert_ptr_null(v.voxels);
  clgan_volume_header h;
  ck_assert_int_eq(clgan_volume_read_header(path, &h), want);
}

static void expect_loads(const spec *s, const char *name) {
  const char *path = tu_scratch_path(name);
  write_spec(s, path);
  clgan_volume_header h;
  TU_OK(clgan_volume_read_header(path, &h));
  ck_assert_int_eq(h.version, s->version);
  ck_assert_int_eq(h.single_file, !s->pair);
  ck_assert_int_eq(h.datatype, 4);
  ck_assert_int_eq(h.bytes_per_voxel, 2);
  ck_assert_int_eq(h.data_bytes, needed_bytes(s));
  for (int i = 0; i < 8; i++) ck_assert_int_eq(h.dim[i], i <= s->dim[0] ? s->dim[i] : 1);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  ck_assert_int_eq(v.nifti_version, s->version);
  ck_assert_int_eq(v.dim[0], s->dim[1]);
  ck_assert_int_eq(v.dim[1], s->dim[2]);
  int64_t n = v.dim[0] * v.dim[1] * v.dim[2];
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(v.voxels[i] == (float)(i * 3 - 20), "%s voxel %lld: %g", name, (long long)i,
                  v.voxels[i]);
  clgan_volume_free(&v);
}

START_TEST(test_valid_headers_in_every_form) {
  const char *single[] = {"le.nii", "le.nii.gz"}, *pair[] = {"le.hdr", "le.hdr.gz"};
  for (int version = 1; version <= 2; version++)
    for (int big = 0; big <= 1; big++)
      for (int gz = 0; gz <= 1; gz++) {
        spec s = base_spec(version);
        s.big = big;
        char name[64];
        snprintf(name, sizeof name, "v%d%s_%s", version, big ? "be" : "", single[gz]);
        expect_loads(&s, name);
        s.pair = 1;
        snprintf(name, sizeof name, "v%d%s_%s", version, big ? "be" : "", pair[gz]);
        expect_loads(&s, name);
      }
  /* a 4-D file and an unused dim[5] of 0 are fine; a larger vox_offset too */
  spec s = base_spec(1);
  s.dim[0] = 4;
  s.dim[4] = 2;
  s.dim[5] = 0;
  expect_loads(&s, "fourd.nii");
  s = base_spec(1);
  set_offset(&s, 1024);
  expect_loads(&s, "off1024.nii");
  /* an .img path reads its .hdr */
  s = base_spec(1);
  s.pair = 1;
  write_spec(&s, tu_scratch_path("byimg.hdr"));
  clgan_volume v;
  TU_OK(clgan_volume_load(tu_scratch_path("byimg.img"), &v));
  clgan_volume_free(&v);
}
END_TEST

START_TEST(test_vox_offset) {
  capture_stderr();
  /* issue 11: 0, 100, 349 and negative offsets were moved to 352 by nifticlib */
  const double bad1[] = {351.5, 0, 100, 349, 351};
  for (int big = 0; big <= 1; big++)
    for (size_t i = 0; i < sizeof bad1 / sizeof bad1[0]; i++) {
      spec s = base_spec(1);
      s.big = big;
      set_offset(&s, bad1[i]);
      char name[64];
      snprintf(name, sizeof name, "off%zu%s.nii", i, big ? "be" : "");
      expect_refused(&s, name, CLGAN_ERR_FORMAT,
                     i == 0 ? "vox_offset 351.5 is not a whole number" : "vox_offset");
      if (i > 0) ck_assert_ptr_nonnull(strstr(clgan_last_error(), "352"));
    }
  spec s = base_spec(1);
  set_offset(&s, -16);
  expect_refused(&s, "neg.nii", CLGAN_ERR_FORMAT, "vox_offset is negative (-16)");
  set_offset(&s, NAN);
  expect_refused(&s, "nan.nii.gz", CLGAN_ERR_FORMAT, "vox_offset nan is not a whole number");
  set_offset(&s, 1e7); /* beyond the end of the file */
  expect_refused(&s, "far.nii", CLGAN_ERR_FORMAT, "vox_offset 10000000 lies beyond the end");
  expect_refused(&s, "far.nii.gz", CLGAN_ERR_FORMAT, "decompressed");
  s = base_spec(2);
  set_offset(&s, 540);
  expect_refused(&s, "two540.nii", CLGAN_ERR_FORMAT, "NIfTI-2 header");
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "544"));
  s.big = 1;
  set_offset(&s, -1);
  expect_refused(&s, "twoneg.nii.gz", CLGAN_ERR_FORMAT, "negative");
  /* pairs: 0 is right, negative or past the .img is not */
  s = base_spec(1);
  s.pair = 1;
  set_offset(&s, -4);
  expect_refused(&s, "negpair.hdr", CLGAN_ERR_FORMAT, "negative");
  set_offset(&s, 5000);
  expect_refused(&s, "farpair.hdr", CLGAN_ERR_FORMAT, "farpair.img");
  ck_assert_int_eq(release_stderr(), 0);
}
END_TEST

START_TEST(test_dimensions) {
  capture_stderr();
  const int64_t dim0[] = {0, 8, -1};
  for (size_t i = 0; i < 3; i++) {
    spec s = base_spec(i == 2 ? 2 : 1);
    s.dim[0] = dim0[i];
    char name[64], want[80];
    snprintf(name, sizeof name, "dim0_%zu.nii", i);
    snprintf(want, sizeof want, "dim[0] (the number of dimensions) is %lld", (long long)dim0[i]);
    expect_refused(&s, name, CLGAN_ERR_FORMAT, want);
  }
  /* issue 11: dim[2] = 0 was read as 1 (a 181 x 1 x 181 volume) */
  spec s = base_spec(1);
  s.dim[2] = 0;
  expect_refused(&s, "dim2.nii", CLGAN_ERR_FORMAT, "dim[2] is 0");
  s.big = 1;
  expect_refused(&s, "dim2be.nii.gz", CLGAN_ERR_FORMAT, "dim[2] is 0");
  s = base_spec(1);
  s.dim[3] = -5;
  s.pair = 1;
  expect_refused(&s, "dim3.hdr", CLGAN_ERR_FORMAT, "dim[3] is -5");
  s = base_spec(2);
  s.dim[1] = 0;
  expect_refused(&s, "two_dim1.nii", CLGAN_ERR_FORMAT, "dim[1] is 0");
  s = base_spec(1);
  s.dim[0] = 4;
  s.dim[4] = 0;
  expect_refused(&s, "dim4.nii", CLGAN_ERR_FORMAT, "dim[4] is 0");
  /* NIfTI-2 dimensions whose product overflows */
  s = base_spec(2);
  s.dim[1] = s.dim[2] = s.dim[3] = (int64_t)1 << 30;
  s.data_bytes = 16;
  expect_refused(&s, "overflow.nii", CLGAN_ERR_FORMAT, "overflow");
  ck_assert_int_eq(release_stderr(), 0);
}
END_TEST

START_TEST(test_datatype_and_size) {
  capture_stderr();
  spec s = base_spec(1);
  s.datatype = 0;
  expect_refused(&s, "dt0.nii", CLGAN_ERR_UNSUPPORTED, "datatype unknown (0)");
  s.datatype = 32; /* complex64 */
  s.big = 1;
  expect_refused(&s, "complex.nii", CLGAN_ERR_UNSUPPORTED, "complex64");
  s = base_spec(2);
  s.datatype = 1234;
  expect_refused(&s, "dt1234.nii.gz", CLGAN_ERR_UNSUPPORTED, "(1234)");
  /* fewer voxel bytes than the dims need: plain, gzip, pair, NIfTI-2 */
  const char *names[] = {"short.nii", "short.nii.gz", "short.hdr", "short.hdr.gz"};
  for (int i = 0; i < 4; i++) {
    s = base_spec(1 + (i & 1));
    s.pair = i >= 2;
    s.data_bytes = needed_bytes(&s) - 2;
    expect_refused(&s, names[i], CLGAN_ERR_FORMAT, "truncated");
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), "48 bytes of voxel data"));
  }
  /* a header alone, of both sizes, and a NIfTI-2 size without its magic */
  s = base_spec(1);
  s.data_bytes = 0;
  expect_refused(&s, "nodata.nii", CLGAN_ERR_FORMAT, "truncated");
  unsigned char h[544];
  header_bytes(&s, h);
  write_bytes(tu_scratch_path("cut.nii"), h, 200, NULL, 0);
  clgan_volume v;
  ck_assert_int_eq(clgan_volume_load(tu_scratch_path("cut.nii"), &v), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "ends inside the header (200 of 348"));
  s = base_spec(2);
  header_bytes(&s, h);
  memcpy(h + 4, "abcdefgh", 8);
  write_bytes(tu_scratch_path("nomagic.nii"), h, 544, h, 48);
  ck_assert_int_eq(clgan_volume_load(tu_scratch_path("nomagic.nii"), &v), CLGAN_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "without the NIfTI-2 magic"));
  ck_assert_int_eq(release_stderr(), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("nifti_header");
  TCase *tc = tcase_create("nifti_header");
  tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
  tcase_add_test(tc, test_valid_headers_in_every_form);
  tcase_add_test(tc, test_vox_offset);
  tcase_add_test(tc, test_dimensions);
  tcase_add_test(tc, test_datatype_and_size);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
