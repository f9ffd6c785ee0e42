/* Host RNG (clgan/rng.h): xoshiro256**, normals, and the named seed streams. */
#include "clgan/rng.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

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

/* Box-Muller of the uniforms u[0 .. 2*pairs) into x[0 .. n) (n <= 2*pairs). */
static void box_muller(const double *u, float *x, size_t n, float mean, float std) {
  for (size_t i = 0; i < n; i += 2) {
    double rad = sqrt(-2.0 * log(1.0 - u[i])), th = 6.283185307179586 * u[i + 1];
    x[i] = mean + std * (float)(rad * cos(th));
    if (i + 1 < n) x[i + 1] = mean + std * (float)(rad * sin(th));
  }
}

typedef struct normal_job {
  const double *u;
  float *x;
  size_t n;
  float mean, std;
} normal_job;

static void *normal_thread(void *arg) {
  normal_job *j = arg;
  box_muller(j->u, j->x, j->n, j->mean, j->std);
  return NULL;
}

/* Pair by pair: the definition, and the path for the small arrays drawn
 * inside training (noise: no allocation, no thread). */
static void normal_pairs(clgan_rng *r, float *x, size_t n, float mean, float std) {
  for (size_t i = 0; i < n; i += 2) {
    double two[2] = {clgan_rng_uniform(r), clgan_rng_uniform(r)};
    box_muller(two, x + i, n - i < 2 ? n - i : 2, mean, std);
  }
}

/* Large arrays (a model's weights: ~0.1 s of start-up on one core) draw
 * their uniforms in order a block at a time, and share the transcendental
 * part with a second thread. The result is the definition's, bit for bit. */
#define NORMAL_BLOCK 65536 /* values per block (even) */
void clgan_rng_normal(clgan_rng *r, float *x, size_t n, float mean, float std) {
  double *u = n >= NORMAL_BLOCK ? malloc(NORMAL_BLOCK * sizeof *u) : NULL;
  if (!u) {
    normal_pairs(r, x, n, mean, std);
    return;
  }
  for (size_t b = 0; b < n; b += NORMAL_BLOCK) {
    size_t len = n - b < NORMAL_BLOCK ? n - b : NORMAL_BLOCK;
    size_t draws = (len + 1) & ~(size_t)1;
    for (size_t i = 0; i < draws; i++) u[i] = clgan_rng_uniform(r);
    size_t half = len / 4 * 2; /* an even split point */
    normal_job j = {u + half, x + b + half, len - half, mean, std};
    pthread_t t;
    int threaded = half > 0 && pthread_create(&t, NULL, normal_thread, &j) == 0;
    box_muller(u, x + b, threaded ? half : len, mean, std);
    if (threaded) pthread_join(t, NULL);
  }
  free(u);
}

/* The streams' constants and derivations, from the one list in clgan/rng.h.
 * Names are arrays, not pointers, so the table is read-only data even in
 * position-independent code (no relocations). */
enum { XOR, HASHED };
typedef struct stream_def {
  char name[32];
  uint64_t constant;
  int derivation;
} stream_def;

static const stream_def streams[CLGAN_STREAM_COUNT] = {
#define CLGAN_X_STREAM(name, constant, derivation, use) {#name, constant, derivation},
    CLGAN_RNG_STREAMS(CLGAN_X_STREAM)
#undef CLGAN_X_STREAM
};

uint64_t clgan_rng_stream_seed(uint64_t seed, clgan_rng_stream stream, uint64_t index) {
  if ((unsigned)stream >= CLGAN_STREAM_COUNT) return 0;
  const stream_def *d = &streams[stream];
  if (d->derivation == HASHED) return clgan_rng_mix64(seed ^ clgan_rng_mix64(d->constant + index));
  return seed ^ (d->constant * (index + 1));
}

void clgan_rng_seed_stream(clgan_rng *r, uint64_t seed, clgan_rng_stream stream, uint64_t index) {
  clgan_rng_seed(r, clgan_rng_stream_seed(seed, stream, index));
}

const char *clgan_rng_stream_name(clgan_rng_stream stream) {
  return (unsigned)stream < CLGAN_STREAM_COUNT ? streams[stream].name : "?";
}
