#include "train/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void clgan_rng_seed(clgan_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t clgan_rng_next(clgan_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double clgan_rng_uniform(clgan_rng *r) { return (double)(clgan_rng_next(r) >> 11) * 0x1.0p-53; }

void clgan_rng_normal(clgan_rng *r, float *x, size_t n, float mean, float std) {
  for (size_t i = 0; i < n; i += 2) {
    double u1 = clgan_rng_uniform(r), u2 = clgan_rng_uniform(r);
    double rad = sqrt(-2.0 * log(1.0 - u1)), th = 6.283185307179586 * u2;
    x[i] = mean + std * (float)(rad * cos(th));
    if (i + 1 < n) x[i + 1] = mean + std * (float)(rad * sin(th));
  }
}
