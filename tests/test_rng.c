/* Host random numbers: normals by Box-Muller, drawn a block at a time with
 * the transform shared between two threads, must equal the plain
 * pair-by-pair sequence bit for bit (weights, noise and studies are
 * reproducible from a seed across versions). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "train/rng.h"

/* The definition: uniforms in order, two per pair, the last pair's second
 * value dropped when n is odd. */
static void ref_normal(clgan_rng *r, float *x, size_t n, float mean, float std) {
  for (size_t i = 0; i < n; i += 2) {
    double u1 = clgan_rng_uniform(r), u2 = clgan_rng_uniform(r);
    double rad = sqrt(-2.0 * log(1.0 - u1)), th = 6.283185307179586 * u2;
    x[i] = mean + std * (float)(rad * cos(th));
    if (i + 1 < n) x[i + 1] = mean + std * (float)(rad * sin(th));
  }
}

START_TEST(test_normal_matches_definition) {
  /* one value, odd and even, pair by pair and by blocks (from 65536 values on) */
  static const size_t sizes[] = {1, 2, 7, 8191, 8192, 8193, 65535, 65536, 65537, 200001};
  for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
    size_t n = sizes[t];
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(want);
    clgan_rng a, b;
    clgan_rng_seed(&a, 999 + t);
    clgan_rng_seed(&b, 999 + t);
    clgan_rng_normal(&a, got, n, 0.5f, 0.02f);
    ref_normal(&b, want, n, 0.5f, 0.02f);
    ck_assert_msg(memcmp(got, want, n * sizeof *got) == 0, "n = %zu: values differ", n);
    /* and the generator is left where the definition leaves it */
    ck_assert_mem_eq(a.s, b.s, sizeof a.s);
    free(got);
    free(want);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("rng");
  tcase_add_test(tc, test_normal_matches_definition);
  suite_add_tcase(s, tc);
  return tu_run(s); /* no OpenCL context is created: none is used */
}
