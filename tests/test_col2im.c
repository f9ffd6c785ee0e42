/* col2im's per-row kernel (col2im_rows, cl/col2im.cl) sums each pixel's taps
 * in one documented order: output rows oy ascending, then kernel columns j
 * ascending, from +0.0f. Its fast path for k 4, stride 2, pad 1 (w = 2*wo;
 * vectors when wo is a multiple of 4) must give exactly the general loop's
 * bits, so these tests compare bitwise against that order summed in C, on
 * the DCGAN's shapes and on odd ones that take the scalar fast path or the
 * general loop. (test_conv checks both col2im kernels against the
 * definition within a tolerance.) */
#include <string.h>

#include "clgan/clgan.h"
#include "test_util.h"

typedef struct col2im_case {
  const char *name;
  int n, cin, h, w, k, stride, pad;
} col2im_case;

static const col2im_case cases[] = {
    {"k4 s2 p1, 32x32, wo 16 (float8 blocks)", 3, 5, 32, 32, 4, 2, 1},
    {"k4 s2 p1, 16x16, wo 8 (one float8 block)", 4, 3, 16, 16, 4, 2, 1},
    {"k4 s2 p1, 8x8, wo 4 (one float4 block)", 7, 3, 8, 8, 4, 2, 1},
    {"k4 s2 p1, 24x40, wo 20 (float4 blocks, not square)", 2, 2, 24, 40, 4, 2, 1},
    {"k4 s2 p1, 18x18, wo 9 (scalar fast path)", 3, 2, 18, 18, 4, 2, 1},
    {"k4 s2 p1, 6x2, wo 1 (scalar fast path, one pair)", 5, 3, 6, 2, 4, 2, 1},
    {"k4 s2 p1, 9x7 (odd width: general loop)", 3, 2, 9, 7, 4, 2, 1},
    {"k4 s1 p0, 4x4 (1x1 output path)", 4, 6, 4, 4, 4, 1, 0},
    {"k3 s2 p1, 2x1 (1x1 output path, padded, taps outside)", 3, 2, 2, 1, 3, 2, 1},
    {"k3 s2 p1, 9x9 (general loop)", 3, 3, 9, 9, 3, 2, 1},
    {"k5 s3 p2, 11x13 (general loop)", 2, 2, 11, 13, 5, 3, 2},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* img = col2im(col) summed in col2im_rows' order (see the file comment). */
static void col2im_in_order(const clgan_conv_shape *s, const float *col, float *img) {
  size_t ncols = (size_t)s->n * s->ho * s->wo;
  for (int c = 0; c < s->cin; c++)
    for (int b = 0; b < s->n; b++)
      for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
          float sum = 0.0f;
          int yp = y + s->pad, xp = x + s->pad;
          for (int oy = 0; oy < s->ho; oy++) {
            int i = yp - oy * s->stride;
            if (i < 0 || i >= s->k) continue;
            for (int j = 0; j < s->k; j++) {
              int d = xp - j;
              if (d < 0 || d % s->stride || d / s->stride >= s->wo) continue;
              size_t row = ((size_t)c * s->k + i) * s->k + j;
              sum += col[row * ncols + ((size_t)b * s->ho + oy) * s->wo + d / s->stride];
            }
          }
          img[(((size_t)c * s->n + b) * s->h + y) * s->w + x] = sum;
        }
}

START_TEST(test_rows_order_bitwise) {
  clgan_ctx *ctx = tu_ctx();
  const clgan_tuning saved = *clgan_ctx_tuning(ctx);
  clgan_tuning t = saved;
  t.col2im = CLGAN_VARIANT_ROWS;
  TU_OK(clgan_ctx_set_tuning(ctx, &t));
  for (int ci = 0; ci < NCASES; ci++) {
    const col2im_case *C = &cases[ci];
    clgan_conv_shape s;
    TU_OK(clgan_conv_shape_conv(C->n, C->cin, C->h, C->w, 2, C->k, C->stride, C->pad, &s));
    clgan_conv_plan p;
    TU_OK(clgan_conv_plan_make(ctx, &s, &p));
    ck_assert_int_eq(p.col2im_rows, 1);
    size_t ncol = clgan_conv_col_floats(&s), nimg = (size_t)s.cin * s.n * s.h * s.w;
    float *col = tu_malloc(ncol * sizeof(float)), *want = tu_malloc(nimg * sizeof(float));
    /* values of mixed magnitude, so that a different order of the sums
     * changes the rounding; some exact zeros of both signs */
    tu_fill_normal(col, ncol, 40 + (uint64_t)ci, 0.0f, 1.0f);
    for (size_t e = 0; e < ncol; e++) {
      if (e % 7 == 0) col[e] *= 1e4f;
      if (e % 11 == 0) col[e] = e % 22 ? -0.0f : 0.0f;
    }
    col2im_in_order(&s, col, want);
    clgan_buf dcol = tu_upload(col, ncol), dimg = tu_upload(NULL, nimg);
    TU_OK(clgan_fill(ctx, dimg, nimg, NAN));
    TU_OK(clgan_col2im(ctx, &p, dcol, dimg));
    float *got = tu_download(dimg, nimg);
    size_t bad = 0;
    while (bad < nimg && memcmp(&got[bad], &want[bad], sizeof(float)) == 0) bad++;
    ck_assert_msg(bad == nimg, "%s: col2im_rows differs from the ordered sum at pixel %zu: %.9g, "
                  "want %.9g", C->name, bad, bad < nimg ? got[bad] : 0.0f,
                  bad < nimg ? want[bad] : 0.0f);
    clgan_buf_release(&dcol);
    clgan_buf_release(&dimg);
    free(col);
    free(want);
    free(got);
  }
  TU_OK(clgan_ctx_set_tuning(ctx, &saved));
}
END_TEST

static Suite *col2im_suite(void) {
  Suite *s = suite_create("col2im");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_rows_order_bitwise);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(col2im_suite()); }
