/* Batch gathering from a dataset on the device (clgan_gather_batch) against
 * a C reference: odd batch sizes, first offsets, 1 and 3 channels, image
 * planes below and above a work-group, an epoch's permutation. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* out [c][n][hw] = images[order[first + b]] for b < n; images [count][c][hw]. */
static void ref_gather(const float *images, const int *order, size_t first, int n, int c, int hw,
                       float *out) {
  for (int ch = 0; ch < c; ch++)
    for (int b = 0; b < n; b++)
      for (int i = 0; i < hw; i++)
        out[((size_t)ch * n + b) * hw + i] = images[((size_t)order[first + b] * c + ch) * hw + i];
}

/* A seeded Fisher-Yates permutation of 0 .. count-1. */
static void permutation(int *order, int count, uint64_t seed) {
  float *u = tu_malloc((size_t)count * sizeof(float));
  tu_fill_uniform(u, (size_t)count, seed, 0.0f, 1.0f);
  for (int i = 0; i < count; i++) order[i] = i;
  for (int i = count - 1; i > 0; i--) {
    int j = (int)(u[i] * (float)(i + 1));
    if (j > i) j = i;
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  free(u);
}

static cl_mem upload_ints(const int *v, int count) {
  cl_int err;
  cl_mem m = clCreateBuffer(clgan_ctx_cl_context(tu_ctx()), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                            sizeof(int) * (size_t)count, (void *)v, &err);
  ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer: %d", (int)err);
  return m;
}

#define GUARD 5 /* floats before and after the batch that must stay untouched */

/* One gather of n images from first, checked float for float. */
static void gather_case(const clgan_gather_plan *plan, clgan_buf images, cl_mem order,
                        const float *host, const int *perm, size_t first, int n, int c, int hw) {
  size_t floats = (size_t)c * n * hw;
  clgan_buf out = tu_upload(NULL, floats + 2 * GUARD);
  TU_OK(clgan_fill(tu_ctx(), out, floats + 2 * GUARD, -7.0f));
  TU_OK(clgan_gather_batch(tu_ctx(), plan, images.mem, order, first, n, c, hw,
                           clgan_buf_at(out, GUARD)));
  float *got = tu_download(out, floats + 2 * GUARD);
  float *want = tu_malloc(floats * sizeof(float));
  ref_gather(host, perm, first, n, c, hw, want);
  ck_assert_msg(memcmp(got + GUARD, want, floats * sizeof(float)) == 0,
                "gather n=%d c=%d hw=%d first=%zu differs from the reference", n, c, hw, first);
  for (int i = 0; i < GUARD; i++) {
    ck_assert_float_eq(got[i], -7.0f);
    ck_assert_float_eq(got[GUARD + floats + (size_t)i], -7.0f);
  }
  free(got);
  free(want);
  clgan_buf_release(&out);
}

START_TEST(test_gather_matches_reference) {
  clgan_gather_plan plan;
  TU_OK(clgan_gather_plan_make(tu_ctx(), &plan));
  const int count = 23;
  const int channels[] = {1, 3};
  const int planes[] = {1, 5, 64, 67, 16 * 16};
  const int batches[] = {1, 3, 7, 23};
  int *perm = tu_malloc(sizeof(int) * count);
  permutation(perm, count, 17);
  int moved = 0;
  for (int i = 0; i < count; i++) moved += perm[i] != i;
  ck_assert_int_gt(moved, count / 2); /* a real permutation, not the identity */
  cl_mem order = upload_ints(perm, count);
  for (size_t ci = 0; ci < sizeof channels / sizeof *channels; ci++)
    for (size_t hi = 0; hi < sizeof planes / sizeof *planes; hi++) {
      int c = channels[ci], hw = planes[hi];
      size_t total = (size_t)count * c * hw;
      float *host = tu_malloc(total * sizeof(float));
      tu_fill_uniform(host, total, 100 + (uint64_t)(c * 1000 + hw), -1.0f, 1.0f);
      clgan_buf images = tu_upload(host, total);
      for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
        int n = batches[bi];
        /* from the start, one in, and the last full batch of the epoch */
        size_t firsts[3] = {0, 1, (size_t)(count - n)};
        for (int f = 0; f < 3; f++)
          if (firsts[f] + (size_t)n <= (size_t)count)
            gather_case(&plan, images, order, host, perm, firsts[f], n, c, hw);
      }
      clgan_buf_release(&images);
      free(host);
    }
  clReleaseMemObject(order);
  free(perm);
}
END_TEST

START_TEST(test_gather_invalid) {
  clgan_gather_plan plan;
  TU_OK(clgan_gather_plan_make(tu_ctx(), &plan));
  int perm[2] = {1, 0};
  cl_mem order = upload_ints(perm, 2);
  clgan_buf images = tu_upload(NULL, 8), out = tu_upload(NULL, 8);
  ck_assert_int_eq(clgan_gather_batch(tu_ctx(), NULL, images.mem, order, 0, 2, 1, 4, out),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_gather_batch(tu_ctx(), &plan, NULL, order, 0, 2, 1, 4, out),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_gather_batch(tu_ctx(), &plan, images.mem, order, 0, 0, 1, 4, out),
                   CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_gather_batch(tu_ctx(), &plan, images.mem, order, 0, 2, 0, 4, out),
                   CLGAN_ERR_INVALID);
  TU_OK(clgan_gather_batch(tu_ctx(), &plan, images.mem, order, 0, 2, 1, 4, out));
  clReleaseMemObject(order);
  clgan_buf_release(&images);
  clgan_buf_release(&out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gather");
  TCase *tc = tcase_create("gather");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_gather_matches_reference);
  tcase_add_test(tc, test_gather_invalid);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
