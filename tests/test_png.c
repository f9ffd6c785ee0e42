/* PNG decode of every colour type and bit depth (fixtures written here with
 * libpng directly), clgan_png_write round trips, and bad files. No OpenCL. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/image.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/clgan-png-test-XXXXXX";

static void path_in(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* A fixture: samples[height][width][spp] as integers (gray levels, indices or
 * channel values); packed here to the file's bit depth. */
typedef struct fixture {
  int width, height;
  int color_type, bit_depth;
  int interlace;
  const unsigned *samples;
  const png_color *palette;
  int npalette;
  const unsigned char *trans; /* palette alpha */
  int ntrans;
  const png_color_16 *trans_color; /* gray/RGB transparent value */
} fixture;

static int samples_per_pixel(int color_type) {
  switch (color_type) {
  case PNG_COLOR_TYPE_GRAY:
  case PNG_COLOR_TYPE_PALETTE:
    return 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA:
    return 2;
  case PNG_COLOR_TYPE_RGB:
    return 3;
  default:
    return 4;
  }
}

/* Writes the fixture with libpng's low-level API (png_set_IHDR). */
static void write_fixture(const char *path, const fixture *fx) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  ck_assert(png && info);
  ck_assert_int_eq(setjmp(png_jmpbuf(png)), 0);
  png_init_io(png, f);
  png_set_IHDR(png, info, fx->width, fx->height, fx->bit_depth, fx->color_type,
               fx->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (fx->palette) png_set_PLTE(png, info, fx->palette, fx->npalette);
  if (fx->trans || fx->trans_color)
    png_set_tRNS(png, info, fx->trans, fx->ntrans, fx->trans_color);
  png_write_info(png, info);
  int spp = samples_per_pixel(fx->color_type);
  size_t rowbytes = ((size_t)fx->width * spp * fx->bit_depth + 7) / 8;
  unsigned char *raw = calloc((size_t)fx->height, rowbytes);
  png_bytep *rows = malloc(sizeof *rows * (size_t)fx->height);
  ck_assert(raw && rows);
  for (int y = 0; y < fx->height; y++) {
    unsigned char *r = raw + (size_t)y * rowbytes;
    rows[y] = r;
    for (int i = 0; i < fx->width * spp; i++) {
      unsigned v = fx->samples[(size_t)y * fx->width * spp + i];
      if (fx->bit_depth == 16) {
        r[2 * i] = (unsigned char)(v >> 8);
        r[2 * i + 1] = (unsigned char)v;
      } else if (fx->bit_depth == 8) {
        r[i] = (unsigned char)v;
      } else { /* 1, 2, 4: packed from the most significant bits */
        int per = 8 / fx->bit_depth;
        int shift = 8 - fx->bit_depth * (i % per + 1);
        r[i / per] |= (unsigned char)(v << shift);
      }
    }
  }
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
  free(rows);
  free(raw);
}

static unsigned next_rand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static void assert_pixels(const char *what, const clgan_image *img, const float *want) {
  size_t n = (size_t)img->width * img->height * img->channels;
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(img->pixels[i] == want[i], "%s: sample %zu: got %.9g, want %.9g", what, i,
                  img->pixels[i], want[i]);
}

/* Gray 1/2/4/8/16 bit, also interlaced: exact values v / (2^bits - 1). */
START_TEST(test_gray_depths) {
  static const int depths[] = {1, 2, 4, 8, 16};
  for (int interlace = 0; interlace < 2; interlace++) {
    for (int d = 0; d < 5; d++) {
      int bits = depths[d], w = 13, h = 7; /* odd width: partial bytes at row ends */
      unsigned maxv = (1u << bits) - 1, seed = 7u + (unsigned)d;
      unsigned *s = malloc(sizeof *s * w * h);
      float *want = malloc(sizeof *want * w * h);
      for (int i = 0; i < w * h; i++) {
        s[i] = next_rand(&seed) & maxv;
        if (i == 0) s[i] = 0;
        if (i == 1) s[i] = maxv;
        if (bits == 16 && i == 2) s[i] = 1; /* below 8-bit resolution */
        if (bits == 16 && i == 3) s[i] = 65534;
        want[i] = bits == 16 ? (float)(s[i] / 65535.0) : (float)(s[i] * (255 / maxv) / 255.0);
      }
      fixture fx = {.width = w, .height = h, .color_type = PNG_COLOR_TYPE_GRAY,
                    .bit_depth = bits, .interlace = interlace, .samples = s};
      char path[256], what[64];
      snprintf(what, sizeof what, "gray%d%s.png", bits, interlace ? "i" : "");
      path_in(path, sizeof path, what);
      write_fixture(path, &fx);
      clgan_image img;
      TU_OK(clgan_png_read(path, &img));
      ck_assert_int_eq(img.width, w);
      ck_assert_int_eq(img.height, h);
      ck_assert_int_eq(img.channels, 1);
      ck_assert_int_eq(img.bit_depth, bits == 16 ? 16 : 8);
      assert_pixels(what, &img, want);
      if (bits == 16) {
        /* 16-bit precision is kept: 1 and 65534 are not 0 and 1 */
        ck_assert(img.pixels[2] > 0.0f && img.pixels[2] < 1.0f / 255.0f);
        ck_assert(img.pixels[3] < 1.0f && img.pixels[3] > 1.0f - 1.0f / 255.0f);
      }
      clgan_image_free(&img);
      ck_assert_ptr_null(img.pixels);
      free(s);
      free(want);
    }
  }
}
END_TEST

/* Gray+alpha, RGB, RGBA at 8 and 16 bits. */
START_TEST(test_color_types) {
  static const int types[] = {PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                              PNG_COLOR_TYPE_RGB_ALPHA};
  for (int t = 0; t < 3; t++) {
    for (int bits = 8; bits <= 16; bits += 8) {
      int w = 9, h = 5, spp = samples_per_pixel(types[t]);
      int n = w * h * spp;
      unsigned maxv = bits == 16 ? 65535u : 255u, seed = 100u + (unsigned)(t * 2 + bits);
      unsigned *s = malloc(sizeof *s * n);
      float *want = malloc(sizeof *want * n);
      for (int i = 0; i < n; i++) {
        s[i] = next_rand(&seed) & maxv;
        want[i] = (float)(s[i] / (double)maxv);
      }
      fixture fx = {.width = w, .height = h, .color_type = types[t], .bit_depth = bits,
                    .samples = s};
      char path[256], what[64];
      snprintf(what, sizeof what, "type%d_%d.png", types[t], bits);
      path_in(path, sizeof path, what);
      write_fixture(path, &fx);
      clgan_image img;
      TU_OK(clgan_png_read(path, &img));
      ck_assert_int_eq(img.width, w);
      ck_assert_int_eq(img.height, h);
      ck_assert_int_eq(img.channels, spp);
      ck_assert_int_eq(img.bit_depth, bits);
      assert_pixels(what, &img, want);
      clgan_image_free(&img);
      free(s);
      free(want);
    }
  }
}
END_TEST

/* Palette at 1/2/4/8 bits, without tRNS -> RGB, with a short tRNS -> RGBA
 * (entries past the tRNS list are opaque). */
START_TEST(test_palette) {
  png_color pal[256];
  unsigned char trans[256];
  for (int i = 0; i < 256; i++) {
    pal[i].red = (png_byte)(i * 7 + 3);
    pal[i].green = (png_byte)(255 - i);
    pal[i].blue = (png_byte)(i * 31);
    trans[i] = (unsigned char)(i * 50 + 1);
  }
  static const int depths[] = {1, 2, 4, 8};
  for (int with_trns = 0; with_trns < 2; with_trns++) {
    for (int d = 0; d < 4; d++) {
      int bits = depths[d], w = 11, h = 4, nidx = 1 << bits;
      int ntrans = nidx > 2 ? nidx / 2 : 1; /* shorter than the palette */
      unsigned seed = 55u + (unsigned)d, *s = malloc(sizeof *s * w * h);
      int ch = with_trns ? 4 : 3;
      float *want = malloc(sizeof *want * w * h * ch);
      for (int i = 0; i < w * h; i++) {
        s[i] = next_rand(&seed) % (unsigned)nidx;
        if (i < nidx) s[i] = (unsigned)i; /* every index appears */
        const png_color *c = &pal[s[i]];
        want[i * ch + 0] = (float)(c->red / 255.0);
        want[i * ch + 1] = (float)(c->green / 255.0);
        want[i * ch + 2] = (float)(c->blue / 255.0);
        if (with_trns) want[i * ch + 3] = (float)(((int)s[i] < ntrans ? trans[s[i]] : 255) / 255.0);
      }
      fixture fx = {.width = w, .height = h, .color_type = PNG_COLOR_TYPE_PALETTE,
                    .bit_depth = bits, .samples = s, .palette = pal, .npalette = nidx,
                    .trans = with_trns ? trans : NULL, .ntrans = with_trns ? ntrans : 0};
      char path[256], what[64];
      snprintf(what, sizeof what, "pal%d%s.png", bits, with_trns ? "_trns" : "");
      path_in(path, sizeof path, what);
      write_fixture(path, &fx);
      clgan_image img;
      TU_OK(clgan_png_read(path, &img));
      ck_assert_int_eq(img.channels, ch);
      ck_assert_int_eq(img.bit_depth, 8);
      assert_pixels(what, &img, want);
      clgan_image_free(&img);
      free(s);
      free(want);
    }
  }
}
END_TEST

/* A gray or RGB tRNS colour key becomes an alpha channel (8 and 16 bit). */
START_TEST(test_color_key_trns) {
  unsigned s8[6] = {10, 20, 10, 30, 255, 10};
  png_color_16 key8 = {.gray = 10};
  fixture fx = {.width = 3, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 8,
                .samples = s8, .trans_color = &key8};
  char path[256];
  path_in(path, sizeof path, "gray_key.png");
  write_fixture(path, &fx);
  clgan_image img;
  TU_OK(clgan_png_read(path, &img));
  ck_assert_int_eq(img.channels, 2);
  for (int i = 0; i < 6; i++) {
    ck_assert(img.pixels[2 * i] == (float)(s8[i] / 255.0));
    ck_assert(img.pixels[2 * i + 1] == (s8[i] == 10 ? 0.0f : 1.0f));
  }
  clgan_image_free(&img);

  unsigned s16[6] = {1, 2, 3, 40000, 2, 3};
  png_color_16 key16 = {.red = 1, .green = 2, .blue = 3};
  fixture fx16 = {.width = 2, .height = 1, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 16,
                  .samples = s16, .trans_color = &key16};
  path_in(path, sizeof path, "rgb16_key.png");
  write_fixture(path, &fx16);
  TU_OK(clgan_png_read(path, &img));
  ck_assert_int_eq(img.channels, 4);
  ck_assert_int_eq(img.bit_depth, 16);
  ck_assert(img.pixels[0] == (float)(1 / 65535.0));
  ck_assert(img.pixels[3] == 0.0f);
  ck_assert(img.pixels[4] == (float)(40000 / 65535.0));
  ck_assert(img.pixels[7] == 1.0f);
  clgan_image_free(&img);
}
END_TEST

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static int has_tmp_files(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp")) n++;
  closedir(d);
  return n;
}

/* clgan_png_write 8/16 bit x 1-4 channels: exact on grid values, within
 * half a step otherwise, clamped outside [0, 1]. */
START_TEST(test_write_roundtrip) {
  for (int ch = 1; ch <= 4; ch++) {
    for (int bits = 8; bits <= 16; bits += 8) {
      int w = 17, h = 6, n = w * h * ch;
      double maxv = bits == 16 ? 65535.0 : 255.0;
      float *grid = malloc(sizeof *grid * n), *any = malloc(sizeof *any * n);
      unsigned seed = (unsigned)(ch * 31 + bits);
      for (int i = 0; i < n; i++) grid[i] = (float)((next_rand(&seed) % (unsigned)(maxv + 1)) / maxv);
      tu_fill_uniform(any, (size_t)n, (uint64_t)(ch * 100 + bits), -0.25f, 1.25f);
      any[0] = 0.0f;
      any[1] = 1.0f;
      char path[256], name[64];
      snprintf(name, sizeof name, "rt_%d_%d.png", ch, bits);
      path_in(path, sizeof path, name);

      clgan_image img;
      TU_OK(clgan_png_write(path, w, h, ch, bits, grid));
      TU_OK(clgan_png_read(path, &img));
      ck_assert_int_eq(img.width, w);
      ck_assert_int_eq(img.height, h);
      ck_assert_int_eq(img.channels, ch);
      ck_assert_int_eq(img.bit_depth, bits);
      assert_pixels(name, &img, grid);
      clgan_image_free(&img);

      /* overwrite the same path with unquantized values */
      TU_OK(clgan_png_write(path, w, h, ch, bits, any));
      TU_OK(clgan_png_read(path, &img));
      for (int i = 0; i < n; i++) {
        double v = any[i] < 0 ? 0.0 : any[i] > 1 ? 1.0 : any[i];
        double q = (double)(long)(v * maxv + 0.5) / maxv; /* rounded, not truncated */
        ck_assert_msg(fabs(img.pixels[i] - q) < 1e-7, "%s [%d]: %g -> %g, want %g", name, i,
                      any[i], img.pixels[i], q);
      }
      clgan_image_free(&img);
      struct stat sb;
      ck_assert_int_eq(stat(path, &sb), 0);
      ck_assert_int_eq(sb.st_mode & 0777, 0644);
      free(grid);
      free(any);
    }
  }
  ck_assert_int_eq(has_tmp_files(tmpdir), 0);
}
END_TEST

START_TEST(test_write_bad_args) {
  float px[4] = {0};
  char path[256];
  path_in(path, sizeof path, "bad_args.png");
  ck_assert_int_eq(clgan_png_write(path, 1, 1, 5, 8, px), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_png_write(path, 1, 1, 0, 8, px), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_png_write(path, 1, 1, 1, 12, px), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_png_write(path, 0, 1, 1, 8, px), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_png_write(path, 1, 1, 1, 8, NULL), CLGAN_ERR_INVALID);
  ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* Into a folder that does not exist: a clean IO error, nothing created. */
START_TEST(test_write_missing_dir) {
  float px[12] = {0.5f};
  char path[256];
  int before = count_entries(tmpdir);
  path_in(path, sizeof path, "no-such-dir/img.png");
  ck_assert_int_eq(clgan_png_write(path, 2, 2, 3, 8, px), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), path));
  ck_assert_int_eq(count_entries(tmpdir), before);
  char dir[256];
  path_in(dir, sizeof dir, "no-such-dir");
  ck_assert_int_ne(access(dir, F_OK), 0);

  /* the final rename fails (the target is a folder): the temp file is removed */
  path_in(dir, sizeof dir, "blocker.png");
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  before = count_entries(tmpdir);
  ck_assert_int_eq(clgan_png_write(dir, 2, 2, 3, 8, px), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), dir));
  ck_assert_int_eq(count_entries(tmpdir), before);
  ck_assert_int_eq(has_tmp_files(tmpdir), 0);
  rmdir(dir);
}
END_TEST

static void assert_format_error(const char *path) {
  clgan_image img = {.width = 123};
  clgan_status st = clgan_png_read(path, &img);
  ck_assert_msg(st == CLGAN_ERR_FORMAT, "%s: got %s (%s)", path, clgan_status_name(st),
                clgan_last_error());
  ck_assert_msg(strstr(clgan_last_error(), path) != NULL, "error lacks the path: %s",
                clgan_last_error());
  ck_assert_ptr_null(img.pixels);
  ck_assert_int_eq(img.width, 0);
}

/* Truncated at every kind of place, text named .png, empty file, missing file. */
START_TEST(test_bad_files) {
  char good[256], path[256];
  path_in(good, sizeof good, "whole.png");
  int w = 40, h = 30;
  float *px = malloc(sizeof *px * w * h * 3);
  tu_fill_uniform(px, (size_t)w * h * 3, 9, 0.0f, 1.0f); /* noise: a long IDAT */
  TU_OK(clgan_png_write(good, w, h, 3, 16, px));
  free(px);
  FILE *f = fopen(good, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *bytes = malloc((size_t)len);
  ck_assert_int_eq(fread(bytes, 1, (size_t)len, f), (size_t)len);
  fclose(f);

  long cuts[] = {0, 4, 8, 12, 20, 33, 40, 60, len / 2, len - 20, len - 12, len - 4, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    snprintf(path, sizeof path, "%s/truncated_%ld.png", tmpdir, cuts[i]);
    f = fopen(path, "wb");
    ck_assert_int_eq(fwrite(bytes, 1, (size_t)cuts[i], f), (size_t)cuts[i]);
    fclose(f);
    assert_format_error(path);
    if (cuts[i] == len / 2)
      ck_assert_msg(strstr(clgan_last_error(), "truncated") != NULL, "%s", clgan_last_error());
  }
  /* a corrupted byte inside IDAT: libpng's CRC check names the reason */
  bytes[len / 2] ^= 0x5a;
  path_in(path, sizeof path, "corrupt.png");
  f = fopen(path, "wb");
  fwrite(bytes, 1, (size_t)len, f);
  fclose(f);
  assert_format_error(path);
  ck_assert_msg(strstr(clgan_last_error(), "invalid PNG: ") != NULL, "%s", clgan_last_error());
  free(bytes);

  /* a header that asks for 100000 x 100000 RGBA16: refused before any
   * allocation */
  path_in(path, sizeof path, "huge.png");
  f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  ck_assert_int_eq(setjmp(png_jmpbuf(png)), 0);
  png_init_io(png, f);
  png_set_IHDR(png, info, 100000, 100000, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_destroy_write_struct(&png, &info);
  /* the start of an IDAT chunk, so the header is complete */
  static const unsigned char idat[] = {0, 0, 0, 16, 'I', 'D', 'A', 'T', 0, 0, 0, 0};
  fwrite(idat, 1, sizeof idat, f);
  fclose(f);
  assert_format_error(path);
  ck_assert_msg(strstr(clgan_last_error(), "too large") != NULL, "%s", clgan_last_error());

  path_in(path, sizeof path, "notes.png");
  f = fopen(path, "w");
  fputs("These are my notes, not an image.\n", f);
  fclose(f);
  assert_format_error(path);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "not a PNG"));

  path_in(path, sizeof path, "missing.png");
  clgan_image img;
  ck_assert_int_eq(clgan_png_read(path, &img), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), path));
  ck_assert_int_eq(clgan_png_read(NULL, &img), CLGAN_ERR_INVALID);
  clgan_image_free(NULL);
}
END_TEST

int main(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  Suite *s = suite_create("png");
  TCase *tc = tcase_create("png");
  tcase_add_test(tc, test_gray_depths);
  tcase_add_test(tc, test_color_types);
  tcase_add_test(tc, test_palette);
  tcase_add_test(tc, test_color_key_trns);
  tcase_add_test(tc, test_write_roundtrip);
  tcase_add_test(tc, test_write_bad_args);
  tcase_add_test(tc, test_write_missing_dir);
  tcase_add_test(tc, test_bad_files);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(tmpdir);
  return rc;
}
