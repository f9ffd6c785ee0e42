/* Host random numbers with an explicit seed: weights, noise, shuffling,
 * evaluation samples. xoshiro256** seeded through splitmix64; normals by
 * Box-Muller. The whole state is four words so it can be saved in a
 * checkpoint.
 *
 * Every sequence drawn from a run's seed comes from a named stream: its seed
 * is clgan_rng_stream_seed(seed, stream, index), so two uses never share a
 * sequence by accident and the derivations are listed in one place. */
#ifndef CLGAN_RNG_H
#define CLGAN_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_rng {
  uint64_t s[4];
} clgan_rng;

void clgan_rng_seed(clgan_rng *r, uint64_t seed);
uint64_t clgan_rng_next(clgan_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double clgan_rng_uniform(clgan_rng *r);
/* Fills x with N(mean, std). */
void clgan_rng_normal(clgan_rng *r, float *x, size_t n, float mean, float std);

/* splitmix64's finaliser: a 64-bit mixing function. */
static inline uint64_t clgan_rng_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* X(name, constant, derivation, use). Two derivations of a stream's seed
 * from the run's seed and an index within the stream:
 *   XOR:    seed ^ (constant * (index + 1))   (index 0: seed ^ constant)
 *   HASHED: mix64(seed ^ mix64(constant + index))
 * The constants are the ones the engine has always used, so every output
 * stays as it was: change one and old runs no longer resume bit-identically. */
#define CLGAN_RNG_STREAMS(X)                                                        \
  X(CLGAN_STREAM_NOISE, 0x5eed0000000000ffULL, XOR, "training and fixed noise")     \
  X(CLGAN_STREAM_AUGMENT, 0xa0a0a0a0a0a0a0a0ULL, XOR, "augmentation seed")          \
  X(CLGAN_STREAM_EPOCH, 0x9e3779b97f4a7c15ULL, XOR, "epoch shuffle (index: epoch)") \
  X(CLGAN_STREAM_EVAL_ORDER, 0xe7a1e7a1ULL, XOR, "real images of the evaluation")   \
  X(CLGAN_STREAM_EVAL_NOISE, 0xe7a1000000000000ULL, XOR, "noise of the evaluation") \
  X(CLGAN_STREAM_PAIRS, 0x5041495253ULL /* "PAIRS" */, XOR, "MS-SSIM image pairs")  \
  X(CLGAN_STREAM_SUBSET, 0x535542534554ULL /* "SUBSET" */, XOR, "metric subsets")   \
  X(CLGAN_STREAM_SWD_DIRS, 0x4449525300000000ULL /* "DIRS" */, HASHED,              \
    "SWD directions (index: level << 16 ^ repeat)")                                 \
  X(CLGAN_STREAM_SWD_PICK, 0x9E3779B97F4A7C15ULL, HASHED,                           \
    "SWD neighbourhood centres (index: level << 56 ^ image << 20 ^ nhood)")         \
  X(CLGAN_STREAM_BENCH_DATA, 0x5eed0fda7aULL, XOR, "bench's synthetic images and noise") \
  X(CLGAN_STREAM_SPECTRAL, 0x53504543ULL /* "SPEC" */, HASHED,                       \
    "spectral norm's initial u, v (index: D's conv layer)")                         \
  X(CLGAN_STREAM_FAKE_LABELS, 0x46414b454c4142ULL /* "FAKELAB" */, HASHED,            \
    "classes of the fake batch, conditional (index: iteration)")                    \
  X(CLGAN_STREAM_BALANCED, 0x42414c414e4345ULL /* "BALANCE" */, HASHED,               \
    "class-balanced real batches (index: iteration)")

typedef enum clgan_rng_stream {
#define CLGAN_X_STREAM(name, constant, derivation, use) name,
  CLGAN_RNG_STREAMS(CLGAN_X_STREAM)
#undef CLGAN_X_STREAM
      CLGAN_STREAM_COUNT
} clgan_rng_stream;

/* The seed of element `index` of a stream (see CLGAN_RNG_STREAMS); 0 for a
 * stream out of range. */
uint64_t clgan_rng_stream_seed(uint64_t seed, clgan_rng_stream stream, uint64_t index);
/* Seeds r with clgan_rng_stream_seed(seed, stream, index). */
void clgan_rng_seed_stream(clgan_rng *r, uint64_t seed, clgan_rng_stream stream, uint64_t index);
/* The stream's enum name ("CLGAN_STREAM_NOISE"), or "?" out of range. */
const char *clgan_rng_stream_name(clgan_rng_stream stream);

#ifdef __cplusplus
}
#endif
#endif
