/* Host random numbers: normals by Box-Muller, drawn a block at a time with
 * the transform shared between two threads, must equal the plain
 * pair-by-pair sequence bit for bit (weights, noise and studies are
 * reproducible from a seed across versions). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "clgan/rng.h"

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

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Each named stream derives the seed the engine derived before streams had
 * names (the expressions once written at each use), so runs, checkpoints
 * and metric values stay bit-identical. */
START_TEST(test_streams_keep_their_seeds) {
  const uint64_t seeds[] = {0, 1, 999, 0xfedcba9876543210ULL};
  for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
    uint64_t s = seeds[i];
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_NOISE, 0), s ^ 0x5eed0000000000ffULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_AUGMENT, 0), s ^ 0xa0a0a0a0a0a0a0a0ULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_EVAL_ORDER, 0), s ^ 0xe7a1e7a1ULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_EVAL_NOISE, 0),
                      s ^ 0xe7a1000000000000ULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_PAIRS, 0), s ^ 0x5041495253ULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_SUBSET, 0), s ^ 0x535542534554ULL);
    ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_BENCH_DATA, 0), s ^ 0x5eed0fda7aULL);
    for (int epoch = 0; epoch < 5; epoch++)
      ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_EPOCH, (uint64_t)epoch),
                        s ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1)));
    for (int level = 0; level < 8; level++)
      for (int repeat = 0; repeat < 70000; repeat += 9999) {
        uint64_t idx = ((uint64_t)(uint32_t)level << 16) ^ (uint64_t)(uint32_t)repeat;
        ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_SWD_DIRS, idx),
                          mix64(s ^ mix64(0x4449525300000000ULL ^ idx)));
        uint64_t key = ((uint64_t)level << 56) ^ ((uint64_t)(uint32_t)repeat << 20) ^ 123u;
        ck_assert_uint_eq(clgan_rng_stream_seed(s, CLGAN_STREAM_SWD_PICK, key),
                          mix64(s ^ mix64(key + 0x9E3779B97F4A7C15ULL)));
      }
  }
  /* seeding through a stream is seeding with its seed */
  clgan_rng a, b;
  clgan_rng_seed_stream(&a, 7, CLGAN_STREAM_EPOCH, 3);
  clgan_rng_seed(&b, clgan_rng_stream_seed(7, CLGAN_STREAM_EPOCH, 3));
  ck_assert_mem_eq(a.s, b.s, sizeof a.s);
  ck_assert_uint_eq(clgan_rng_mix64(12345), mix64(12345));
}
END_TEST

START_TEST(test_stream_names) {
  ck_assert_str_eq(clgan_rng_stream_name(CLGAN_STREAM_NOISE), "CLGAN_STREAM_NOISE");
  ck_assert_str_eq(clgan_rng_stream_name(CLGAN_STREAM_COUNT), "?");
  ck_assert_uint_eq(clgan_rng_stream_seed(1, CLGAN_STREAM_COUNT, 0), 0);
  /* no two streams share a seed for the same run seed */
  for (int i = 0; i < CLGAN_STREAM_COUNT; i++)
    for (int j = i + 1; j < CLGAN_STREAM_COUNT; j++)
      ck_assert_uint_ne(clgan_rng_stream_seed(42, (clgan_rng_stream)i, 0),
                        clgan_rng_stream_seed(42, (clgan_rng_stream)j, 0));
}
END_TEST

int main(void) {
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("rng");
  tcase_add_test(tc, test_normal_matches_definition);
  tcase_add_test(tc, test_streams_keep_their_seeds);
  tcase_add_test(tc, test_stream_names);
  suite_add_tcase(s, tc);
  return tu_run(s); /* no OpenCL context is created: none is used */
}
