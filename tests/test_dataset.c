/* Dataset host side: resize/crop against straightforward references, channel
 * conversion, and ImageFolder loading with its errors. No OpenCL. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/dataset.h"
#include "clgan/image.h"
#include "test_util.h"

/* ---- references --------------------------------------------------------- */

/* Python's round(d / 2.0) for the centre crop, written out. */
static int py_round_half(int d) {
  static const int table[] = {0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6};
  ck_assert(d >= 0);
  int r = (int)nearbyint(d / 2.0); /* default rounding mode: half to even */
  if (d < (int)(sizeof table / sizeof table[0])) ck_assert_int_eq(r, table[d]);
  return r;
}

static void resized_dims(int w, int h, int size, int *rw, int *rh) {
  if (w <= h) {
    *rw = size;
    *rh = (int)((long long)size * h / w);
  } else {
    *rh = size;
    *rw = (int)((long long)size * w / h);
  }
}

/* Brute force area integration in double: output pixel (Y, X) of an ow x oh
 * resize covers [X*w/ow, (X+1)*w/ow) x [Y*h/oh, (Y+1)*h/oh); integrate the
 * piecewise-constant source over it, every source pixel tested. */
static double ref_area_pixel(const double *src, int w, int h, int ow, int oh, int X, int Y) {
  double x0 = (double)X * w / ow, x1 = (double)(X + 1) * w / ow;
  double y0 = (double)Y * h / oh, y1 = (double)(Y + 1) * h / oh;
  double sum = 0.0;
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++) {
      double ox = fmin(x1, j + 1.0) - fmax(x0, (double)j);
      double oy = fmin(y1, i + 1.0) - fmax(y0, (double)i);
      if (ox > 0 && oy > 0) sum += ox * oy * src[i * w + j];
    }
  return sum / ((x1 - x0) * (y1 - y0));
}

/* Bilinear with half-pixel centres, coordinates clamped to the image. */
static double ref_bilinear_pixel(const double *src, int w, int h, int ow, int oh, int X, int Y) {
  double sx = (X + 0.5) * w / ow - 0.5, sy = (Y + 0.5) * h / oh - 0.5;
  sx = fmin(fmax(sx, 0.0), w - 1.0);
  sy = fmin(fmax(sy, 0.0), h - 1.0);
  int x0 = (int)floor(sx), y0 = (int)floor(sy);
  int x1 = x0 + 1 < w ? x0 + 1 : w - 1, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
  double fx = sx - x0, fy = sy - y0;
  double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
  double bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
  return top * (1 - fy) + bot * fy;
}

static clgan_image gray_image(int w, int h, uint64_t seed) {
  clgan_image img = {.width = w, .height = h, .channels = 1, .bit_depth = 8};
  img.pixels = tu_malloc(sizeof(float) * (size_t)w * h);
  tu_fill_uniform(img.pixels, (size_t)w * h, seed, 0.0f, 1.0f);
  return img;
}

/* Runs resize/crop on a random gray image and compares with the reference
 * (area when shrinking, bilinear when enlarging) of the full resize, cropped. */
static void check_against_reference(int w, int h, int size) {
  clgan_image img = gray_image(w, h, (uint64_t)(w * 1000 + h * 10 + size));
  double *src = tu_malloc(sizeof(double) * (size_t)w * h);
  for (int i = 0; i < w * h; i++) src[i] = img.pixels[i];
  int rw, rh;
  resized_dims(w, h, size, &rw, &rh);
  int top = py_round_half(rh - size), left = py_round_half(rw - size);
  float *got = tu_malloc(sizeof(float) * (size_t)size * size);
  float *want = tu_malloc(sizeof(float) * (size_t)size * size);
  TU_OK(clgan_image_resize_crop(&img, size, 1, got));
  ck_assert_msg((rw < w) == (rh < h) || rw == w || rh == h, "mixed directions");
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      want[y * size + x] =
          (float)(rw <= w ? ref_area_pixel(src, w, h, rw, rh, x + left, y + top)
                          : ref_bilinear_pixel(src, w, h, rw, rh, x + left, y + top));
  char what[64];
  snprintf(what, sizeof what, "%dx%d -> %d", w, h, size);
  TU_ASSERT_CLOSE(what, got, want, (size_t)size * size, 0.0, 2e-6);
  free(got);
  free(want);
  free(src);
  clgan_image_free(&img);
}

/* ---- resize / crop ------------------------------------------------------ */

/* Integer factor: block averages. 12 wide x 8 high -> 6 x 4, crop left 1. */
START_TEST(test_shrink_integer_factor) {
  clgan_image img = gray_image(12, 8, 1);
  float out[16];
  TU_OK(clgan_image_resize_crop(&img, 4, 1, out));
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++) {
      int sx = 2 * (x + 1), sy = 2 * y;
      const float *p = img.pixels;
      double want = (p[sy * 12 + sx] + p[sy * 12 + sx + 1] + p[(sy + 1) * 12 + sx] +
                     p[(sy + 1) * 12 + sx + 1]) / 4.0;
      ck_assert_msg(fabs(out[y * 4 + x] - want) < 1e-6, "(%d,%d): %g vs %g", y, x,
                    out[y * 4 + x], want);
    }
  clgan_image_free(&img);
  /* factor 3, square, no crop */
  img = gray_image(9, 9, 2);
  float o3[9];
  TU_OK(clgan_image_resize_crop(&img, 3, 1, o3));
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++) {
      double s = 0;
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) s += img.pixels[(3 * y + i) * 9 + 3 * x + j];
      ck_assert(fabs(o3[y * 3 + x] - s / 9.0) < 1e-6);
    }
  clgan_image_free(&img);
}
END_TEST

/* Non-integer factors against brute-force double-precision area integration. */
START_TEST(test_shrink_fractional) {
  static const int cases[][3] = {{5, 7, 3},    {7, 5, 3},   {29, 13, 5},  {37, 50, 16},
                                 {100, 100, 30}, {64, 48, 17}, {33, 32, 32}, {31, 64, 7},
                                 {3, 1000, 2}, {256, 200, 64}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_against_reference(cases[i][0], cases[i][1], cases[i][2]);
}
END_TEST

/* Enlarging: bilinear reference, and values worked out by hand. */
START_TEST(test_enlarge) {
  static const int cases[][3] = {{2, 2, 4}, {3, 5, 8}, {5, 3, 7}, {1, 1, 5}, {10, 7, 32}, {4, 9, 9}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_against_reference(cases[i][0], cases[i][1], cases[i][2]);
  /* 2 x 1 [0, 1] -> 8 x 4, crop columns 2..5: sources 0.125, 0.375, 0.625, 0.875 */
  float px[2] = {0.0f, 1.0f}, out[16];
  clgan_image img = {.width = 2, .height = 1, .channels = 1, .bit_depth = 8, .pixels = px};
  TU_OK(clgan_image_resize_crop(&img, 4, 1, out));
  static const float want[4] = {0.125f, 0.375f, 0.625f, 0.875f};
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++) ck_assert(fabsf(out[y * 4 + x] - want[x]) < 1e-7f);
}
END_TEST

/* CenterCrop offsets with round-half-to-even, both axes, no resampling. */
START_TEST(test_crop_offsets) {
  const int size = 4;
  for (int d = 0; d <= 11; d++) {
    for (int axis = 0; axis < 2; axis++) {
      int w = axis == 0 ? size + d : size, h = axis == 0 ? size : size + d;
      float *px = tu_malloc(sizeof(float) * (size_t)w * h);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) px[y * w + x] = (float)(axis == 0 ? x : y) / 64.0f;
      clgan_image img = {.width = w, .height = h, .channels = 1, .bit_depth = 8, .pixels = px};
      float out[16];
      TU_OK(clgan_image_resize_crop(&img, size, 1, out));
      int off = py_round_half(d);
      for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
          float want = (float)((axis == 0 ? x : y) + off) / 64.0f;
          ck_assert_msg(out[y * size + x] == want, "d=%d axis=%d (%d,%d): %g want %g", d, axis, y,
                        x, out[y * size + x], want);
        }
      free(px);
    }
  }
}
END_TEST

/* Constant images stay constant (weights sum to one) whatever the scale. */
START_TEST(test_constant_preserved) {
  static const int cases[][3] = {{17, 9, 5}, {9, 17, 31}, {1, 7, 3}, {640, 480, 64}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int w = cases[i][0], h = cases[i][1], size = cases[i][2];
    clgan_image img = {.width = w, .height = h, .channels = 3, .bit_depth = 8};
    img.pixels = tu_malloc(sizeof(float) * (size_t)w * h * 3);
    for (int p = 0; p < w * h; p++) {
      img.pixels[3 * p] = 0.3f;
      img.pixels[3 * p + 1] = 0.6f;
      img.pixels[3 * p + 2] = 0.9f;
    }
    float *out = tu_malloc(sizeof(float) * 3 * (size_t)size * size);
    TU_OK(clgan_image_resize_crop(&img, size, 3, out));
    for (int c = 0; c < 3; c++)
      for (int k = 0; k < size * size; k++)
        ck_assert(fabsf(out[c * size * size + k] - 0.3f * (c + 1)) < 1e-6f);
    free(out);
    clgan_image_free(&img);
  }
}
END_TEST

/* Channel conversion without resampling: HWC in, CHW out. */
START_TEST(test_channels) {
  /* a square 2x2 RGBA image, so size 2 means no resampling and no crop */
  float px4[16];
  tu_fill_uniform(px4, 16, 11, 0.0f, 1.0f);
  px4[0] = 1, px4[1] = 0, px4[2] = 0;   /* pure red */
  px4[4] = 0, px4[5] = 1, px4[6] = 0;   /* pure green */
  px4[8] = 1, px4[9] = 1, px4[10] = 1;  /* white */
  clgan_image img = {.width = 2, .height = 2, .channels = 4, .bit_depth = 8, .pixels = px4};
  float out[12];
  /* RGBA -> RGB: alpha dropped, planes in CHW order */
  TU_OK(clgan_image_resize_crop(&img, 2, 3, out));
  for (int p = 0; p < 4; p++)
    for (int c = 0; c < 3; c++) ck_assert(out[c * 4 + p] == px4[p * 4 + c]);
  /* RGBA -> gray: ITU-R 601-2 luma */
  TU_OK(clgan_image_resize_crop(&img, 2, 1, out));
  ck_assert(fabsf(out[0] - 0.299f) < 1e-7f);
  ck_assert(fabsf(out[1] - 0.587f) < 1e-7f);
  ck_assert(out[2] == 1.0f);
  for (int p = 0; p < 4; p++) {
    double l = px4[p * 4] * 299.0 / 1000 + px4[p * 4 + 1] * 587.0 / 1000 +
               px4[p * 4 + 2] * 114.0 / 1000;
    ck_assert(fabs(out[p] - l) < 1e-7);
  }
  /* RGB (3 channels) -> gray matches RGBA -> gray */
  float px3[12], out3[4];
  for (int p = 0; p < 4; p++)
    for (int c = 0; c < 3; c++) px3[p * 3 + c] = px4[p * 4 + c];
  clgan_image rgb = {.width = 2, .height = 2, .channels = 3, .bit_depth = 8, .pixels = px3};
  TU_OK(clgan_image_resize_crop(&rgb, 2, 1, out3));
  ck_assert_mem_eq(out3, out, sizeof out3);
  /* gray -> RGB replicates; gray+alpha drops alpha */
  float ga[8] = {0.1f, 0.0f, 0.2f, 1.0f, 0.3f, 0.5f, 0.4f, 0.25f};
  clgan_image gimg = {.width = 2, .height = 2, .channels = 2, .bit_depth = 8, .pixels = ga};
  TU_OK(clgan_image_resize_crop(&gimg, 2, 3, out));
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 4; p++) ck_assert(out[c * 4 + p] == ga[2 * p]);
  TU_OK(clgan_image_resize_crop(&gimg, 2, 1, out));
  for (int p = 0; p < 4; p++) ck_assert(out[p] == ga[2 * p]);
  gimg.channels = 1;
  gimg.pixels = (float[]){0.1f, 0.2f, 0.3f, 0.4f};
  TU_OK(clgan_image_resize_crop(&gimg, 2, 3, out));
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 4; p++) ck_assert(out[c * 4 + p] == gimg.pixels[p]);
  /* bad arguments */
  ck_assert_int_eq(clgan_image_resize_crop(&gimg, 2, 2, out), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_image_resize_crop(&gimg, 0, 1, out), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_image_resize_crop(NULL, 2, 1, out), CLGAN_ERR_INVALID);
  gimg.channels = 5;
  ck_assert_int_eq(clgan_image_resize_crop(&gimg, 2, 1, out), CLGAN_ERR_INVALID);
}
END_TEST

/* ---- ImageFolder -------------------------------------------------------- */

/* everything lives under top (removed by main): top/tree is the ImageFolder */
static char top[] = "/tmp/clgan-dataset-test-XXXXXX";
static char root[sizeof top + 8];

static void make_dir(const char *base, const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void write_text(const char *base, const char *rel, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* A constant image: every pixel = value[0..ch-1]. */
static void write_const(const char *base, const char *rel, int w, int h, int ch, int bits,
                        const float *value) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  float *px = tu_malloc(sizeof(float) * (size_t)w * h * ch);
  for (int i = 0; i < w * h; i++)
    for (int c = 0; c < ch; c++) px[i * ch + c] = value[c];
  TU_OK(clgan_png_write(p, w, h, ch, bits, px));
  free(px);
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void assert_const_image(const clgan_dataset *ds, int i, const float *want01) {
  const float *x = clgan_dataset_image(ds, i);
  size_t plane = (size_t)ds->image_size * ds->image_size;
  for (int c = 0; c < ds->channels; c++)
    for (size_t k = 0; k < plane; k++)
      ck_assert_msg(fabsf(x[c * plane + k] - (want01[c] * 2.0f - 1.0f)) < 2e-6f,
                    "image %d (%s) channel %d: %g, want %g", i, ds->files[i], c, x[c * plane + k],
                    want01[c] * 2.0f - 1.0f);
}

static const float red8[4] = {51 / 255.0f, 102 / 255.0f, 153 / 255.0f, 0.0f}; /* alpha 0 */
static const float gray16[1] = {1000 / 65535.0f};
static const float g25[1] = {64 / 255.0f};
static const float rgb_b[3] = {0.2f, 0.4f, 0.6f};
static const float deep[1] = {1.0f};

/* root/a_tumor: x.PNG (RGBA), y.png (16-bit gray), bad.png (text), .hidden.png
 * root/b_normal: img10.png (RGB), img2.png (gray), readme.txt, sub/deep.png
 * root/c_empty: nothing;  root/loose.txt */
static void build_tree(void) {
  make_dir(root, "a_tumor");
  make_dir(root, "b_normal");
  make_dir(root, "b_normal/sub");
  make_dir(root, "c_empty");
  write_const(root, "a_tumor/x.PNG", 10, 12, 4, 8, red8);
  write_const(root, "a_tumor/y.png", 7, 5, 1, 16, gray16);
  write_text(root, "a_tumor/bad.png", "not a png at all\n");
  write_text(root, "a_tumor/.hidden.png", "hidden\n");
  write_const(root, "b_normal/img2.png", 8, 8, 1, 8, g25);
  write_const(root, "b_normal/img10.png", 16, 8, 3, 8, rgb_b);
  write_const(root, "b_normal/sub/deep.png", 3, 3, 1, 8, deep);
  write_text(root, "b_normal/readme.txt", "scans\n");
  write_text(root, "loose.txt", "notes\n");
}

START_TEST(test_folder_all_classes) {
  clgan_dataset_options o = {.root = root, .image_size = 4, .channels = 3};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&o, &ds));
  ck_assert_int_eq(ds->nclasses, 3);
  ck_assert_str_eq(ds->class_names[0], "a_tumor");
  ck_assert_str_eq(ds->class_names[1], "b_normal");
  ck_assert_str_eq(ds->class_names[2], "c_empty");
  ck_assert_int_eq(ds->selected_class, -1);
  ck_assert_int_eq(ds->count, 5);
  ck_assert_int_eq(ds->files_used, 5);
  ck_assert_int_eq(ds->files_skipped, 1);
  ck_assert_int_eq(ds->files_ignored, 2);
  ck_assert_uint_eq(ds->image_floats, 3 * 4 * 4);
  ck_assert_msg(strstr(ds->skipped[0], "a_tumor/bad.png: ") != NULL, "%s", ds->skipped[0]);
  ck_assert(ends_with(ds->ignored[0], "b_normal/readme.txt") ||
            ends_with(ds->ignored[1], "b_normal/readme.txt"));
  static const char *order[] = {"a_tumor/x.PNG", "a_tumor/y.png", "b_normal/img10.png",
                                "b_normal/img2.png", "b_normal/sub/deep.png"};
  static const int labels[] = {0, 0, 1, 1, 1};
  for (int i = 0; i < 5; i++) {
    ck_assert_msg(ends_with(ds->files[i], order[i]), "[%d] %s", i, ds->files[i]);
    ck_assert_int_eq(ds->labels[i], labels[i]);
  }
  ck_assert_int_eq(ds->class_counts[0], 2);
  ck_assert_int_eq(ds->class_counts[1], 3);
  ck_assert_int_eq(ds->class_counts[2], 0);
  float g3[3];
  assert_const_image(ds, 0, red8); /* alpha dropped, not composited */
  for (int c = 0; c < 3; c++) g3[c] = gray16[0];
  assert_const_image(ds, 1, g3);
  assert_const_image(ds, 2, rgb_b);
  for (int c = 0; c < 3; c++) g3[c] = g25[0];
  assert_const_image(ds, 3, g3);
  for (int c = 0; c < 3; c++) g3[c] = 1.0f;
  assert_const_image(ds, 4, g3);
  /* the range is exactly [-1, 1] at the ends */
  ck_assert(clgan_dataset_image(ds, 4)[0] == 1.0f);

  /* gray: luma of the RGBA image */
  clgan_dataset *g = NULL;
  o.channels = 1;
  TU_OK(clgan_dataset_load(&o, &g));
  ck_assert_int_eq(g->count, 5);
  ck_assert_uint_eq(g->image_floats, 16);
  float l = (float)((51 * 299 + 102 * 587 + 153 * 114) / 1000.0 / 255.0);
  assert_const_image(g, 0, &l);
  assert_const_image(g, 2, (float[]){(float)(0.2 * 0.299 + 0.4 * 0.587 + 0.6 * 0.114)});
  clgan_dataset_free(g);

  /* deterministic: a second load gives the same bytes; trailing slash is fine */
  char slashed[256];
  snprintf(slashed, sizeof slashed, "%s/", root);
  o.root = slashed;
  o.channels = 3;
  TU_OK(clgan_dataset_load(&o, &g));
  ck_assert_int_eq(g->count, ds->count);
  ck_assert_mem_eq(g->data, ds->data, sizeof(float) * ds->image_floats * ds->count);
  ck_assert_str_eq(g->files[0], ds->files[0]);
  clgan_dataset_free(g);
  clgan_dataset_free(ds);
  clgan_dataset_free(NULL);
}
END_TEST

/* A non-constant image goes through exactly clgan_image_resize_crop, x*2-1. */
START_TEST(test_folder_matches_transform) {
  char dir[sizeof top + 8];
  snprintf(dir, sizeof dir, "%s/tx", top);
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  make_dir(dir, "c");
  int w = 45, h = 30;
  float *px = tu_malloc(sizeof(float) * w * h * 3);
  tu_fill_uniform(px, (size_t)w * h * 3, 77, 0.0f, 1.0f);
  char p[512];
  snprintf(p, sizeof p, "%s/c/noise.png", dir);
  TU_OK(clgan_png_write(p, w, h, 3, 16, px));
  free(px);
  clgan_image img;
  TU_OK(clgan_png_read(p, &img));
  float want[3 * 16 * 16];
  TU_OK(clgan_image_resize_crop(&img, 16, 3, want));
  for (int i = 0; i < 3 * 16 * 16; i++) want[i] = want[i] * 2.0f - 1.0f;
  clgan_image_free(&img);
  clgan_dataset_options o = {.root = dir, .image_size = 16, .channels = 3};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&o, &ds));
  ck_assert_int_eq(ds->count, 1);
  ck_assert_mem_eq(ds->data, want, sizeof want);
  clgan_dataset_free(ds);
  tu_remove_tree(dir);
}
END_TEST

START_TEST(test_folder_one_class) {
  clgan_dataset_options o = {.root = root, .class_name = "b_normal", .image_size = 8,
                             .channels = 1};
  clgan_dataset *ds = NULL;
  TU_OK(clgan_dataset_load(&o, &ds));
  ck_assert_int_eq(ds->nclasses, 3);
  ck_assert_int_eq(ds->selected_class, 1);
  ck_assert_int_eq(ds->count, 3);
  ck_assert_int_eq(ds->files_skipped, 0); /* a_tumor/bad.png is not visited */
  for (int i = 0; i < 3; i++) ck_assert_int_eq(ds->labels[i], 1);
  ck_assert_int_eq(ds->class_counts[0], 0);
  ck_assert_int_eq(ds->class_counts[1], 3);
  assert_const_image(ds, 1, g25);
  clgan_dataset_free(ds);

  o.class_name = "a_tumor";
  TU_OK(clgan_dataset_load(&o, &ds));
  ck_assert_int_eq(ds->count, 2);
  ck_assert_int_eq(ds->files_skipped, 1);
  ck_assert_int_eq(ds->labels[0], 0);
  clgan_dataset_free(ds);
}
END_TEST

static void expect_error(const clgan_dataset_options *o, clgan_status want, const char *needle,
                         const char *needle2) {
  clgan_dataset *ds = (clgan_dataset *)1;
  clgan_status st = clgan_dataset_load(o, &ds);
  ck_assert_msg(st == want, "got %s (%s), want %s", clgan_status_name(st), clgan_last_error(),
                clgan_status_name(want));
  ck_assert_ptr_null(ds);
  if (needle)
    ck_assert_msg(strstr(clgan_last_error(), needle) != NULL, "'%s' not in: %s", needle,
                  clgan_last_error());
  if (needle2)
    ck_assert_msg(strstr(clgan_last_error(), needle2) != NULL, "'%s' not in: %s", needle2,
                  clgan_last_error());
}

START_TEST(test_folder_errors) {
  clgan_dataset_options o = {.root = root, .image_size = 8, .channels = 1};
  /* missing class, empty class */
  o.class_name = "nope";
  expect_error(&o, CLGAN_ERR_INVALID, "'nope'", "a_tumor, b_normal, c_empty");
  o.class_name = "c_empty";
  expect_error(&o, CLGAN_ERR_INVALID, "c_empty", root);
  o.class_name = NULL;

  char base[sizeof top + 8];
  snprintf(base, sizeof base, "%s/err", top);
  ck_assert_int_eq(mkdir(base, 0755), 0);
  char p[512];
  /* empty folder */
  snprintf(p, sizeof p, "%s/empty", base);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  o.root = p;
  expect_error(&o, CLGAN_ERR_INVALID, p, "empty");
  /* missing folder */
  snprintf(p, sizeof p, "%s/missing", base);
  expect_error(&o, CLGAN_ERR_IO, p, "No such file");
  /* a file, not a folder */
  write_text(base, "file", "x");
  snprintf(p, sizeof p, "%s/file", base);
  expect_error(&o, CLGAN_ERR_IO, p, "not a folder");
  /* images directly in root, no class folder */
  make_dir(base, "flat");
  write_const(base, "flat/a.png", 4, 4, 1, 8, g25);
  snprintf(p, sizeof p, "%s/flat", base);
  expect_error(&o, CLGAN_ERR_INVALID, p, "class folder");
  /* only corrupt files: named in the error */
  make_dir(base, "bad");
  make_dir(base, "bad/cls");
  write_text(base, "bad/cls/broken.png", "");
  write_text(base, "bad/cls/notes.txt", "hello");
  snprintf(p, sizeof p, "%s/bad", base);
  expect_error(&o, CLGAN_ERR_INVALID, "no usable", "cls/broken.png");
  /* only non-PNG files */
  make_dir(base, "txt");
  make_dir(base, "txt/cls");
  write_text(base, "txt/cls/a.jpg", "jpeg?");
  snprintf(p, sizeof p, "%s/txt", base);
  expect_error(&o, CLGAN_ERR_INVALID, p, "1 other file ignored");
  tu_remove_tree(base);

  /* bad options */
  o.root = root;
  o.channels = 2;
  expect_error(&o, CLGAN_ERR_INVALID, "channels", NULL);
  o.channels = 1;
  o.image_size = 0;
  expect_error(&o, CLGAN_ERR_INVALID, "size", NULL);
  o.image_size = 8;
  o.root = NULL;
  expect_error(&o, CLGAN_ERR_INVALID, NULL, NULL);
  expect_error(NULL, CLGAN_ERR_INVALID, NULL, NULL);
}
END_TEST

int main(void) {
  if (!mkdtemp(top)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(root, sizeof root, "%s/tree", top);
  if (mkdir(root, 0755) != 0) {
    perror("mkdir");
    return 1;
  }
  Suite *s = suite_create("dataset");
  TCase *tr = tcase_create("resize_crop");
  tcase_add_test(tr, test_shrink_integer_factor);
  tcase_add_test(tr, test_shrink_fractional);
  tcase_add_test(tr, test_enlarge);
  tcase_add_test(tr, test_crop_offsets);
  tcase_add_test(tr, test_constant_preserved);
  tcase_add_test(tr, test_channels);
  suite_add_tcase(s, tr);
  TCase *tf = tcase_create("folder");
  tcase_add_unchecked_fixture(tf, build_tree, NULL);
  tcase_add_test(tf, test_folder_all_classes);
  tcase_add_test(tf, test_folder_matches_transform);
  tcase_add_test(tf, test_folder_one_class);
  tcase_add_test(tf, test_folder_errors);
  suite_add_tcase(s, tf);
  int rc = tu_run(s);
  tu_remove_tree(top);
  return rc;
}
