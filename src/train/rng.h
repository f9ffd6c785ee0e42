/* Host random numbers with an explicit seed: weights, noise, shuffling.
 * xoshiro256** seeded through splitmix64; normals by Box-Muller. The whole
 * state is four words so it can be saved in a checkpoint. */
#ifndef CLGAN_RNG_H
#define CLGAN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct clgan_rng {
  uint64_t s[4];
} clgan_rng;

void clgan_rng_seed(clgan_rng *r, uint64_t seed);
uint64_t clgan_rng_next(clgan_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double clgan_rng_uniform(clgan_rng *r);
/* Fills x with N(mean, std). */
void clgan_rng_normal(clgan_rng *r, float *x, size_t n, float mean, float std);

#endif
