/* Sliced Wasserstein distance, ProGAN's protocol (see clgan/metrics.h), on the
 * device: Laplacian pyramid and descriptor extraction (cl/metrics_swd.cl),
 * per-channel normalisation, projections through clgan_gemm, row sorts
 * (cl/metrics_sort.cl) and the mean absolute difference. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/rng.h"
#include "metrics/internal.h"

#define STATS_PARTS 256                 /* partial sums per channel for the normalisation */
#define PYRAMID_BUDGET (8u << 20)       /* floats of the per-chunk pyramid workspace */

struct clgan_swd {
  clgan_ctx *ctx;
  clgan_swd_config cfg;
  int levels, sizes[CLGAN_SWD_MAX_LEVELS];
  int dim;                     /* channels * 49 */
  size_t max_rows;             /* max_images * nhoods */
  clgan_metrics_sort_plan sort; /* the row sort and its kernels */
  /* kernels, created at setup (cl/metrics.cl, metrics_swd.cl) */
  cl_kernel k_gather, k_down, k_up_sub, k_desc, k_stats, k_norm, k_absdiff;
  size_t absdiff_local;        /* work-group size of swd_absdiff */
  int chunk;                   /* images per pyramid pass */
  size_t level_off[CLGAN_SWD_MAX_LEVELS]; /* in pyr, floats */
  clgan_buf pyr;               /* chunk pyramid [levels][chunk][c][s_l][s_l] */
  clgan_buf dirs;              /* [levels][repeats][dirs][dim] */
  clgan_buf proj_a, proj_b;    /* [dirs][ld_max] */
  clgan_buf tmp;               /* radix scratch [dirs][ld_max] (radix only) */
  clgan_buf small;             /* rowsums [dirs], center [c], norm [2c], partial [c][parts][2] */
  size_t small_center, small_norm, small_partial;
  cl_mem idx;                  /* int [chunk] image indices */
  float *host_partial;         /* [c][parts][2] */
  float *host_rows;            /* [dirs] */
};

struct clgan_swd_desc {
  clgan_swd *swd;
  clgan_buf buf;               /* [levels][max_rows][dim] */
  int count;
};

clgan_swd_config clgan_swd_default_config(int channels, int size, int max_images) {
  clgan_swd_config c = {channels, size, max_images, 128, 4, 128, 16, 0};
  return c;
}

int clgan_swd_levels(const clgan_swd_config *cfg, int *sizes) {
  if (!cfg || cfg->channels < 1 || cfg->min_resolution < CLGAN_SWD_NHOOD_SIZE ||
      cfg->size < cfg->min_resolution)
    return 0;
  int n = 0, s = cfg->size;
  for (int res = cfg->size; res >= cfg->min_resolution && n < CLGAN_SWD_MAX_LEVELS; res /= 2) {
    if (sizes) sizes[n] = s;
    n++;
    s = (s + 1) / 2;
  }
  return n;
}

void clgan_swd_pick(uint64_t seed, int level, int image, int nhood, int level_size, int *cx,
                    int *cy) {
  uint64_t key = ((uint64_t)level << 56) ^ ((uint64_t)(uint32_t)image << 20) ^ (uint64_t)nhood;
  uint64_t z = clgan_rng_stream_seed(seed, CLGAN_STREAM_SWD_PICK, key);
  uint32_t span = (uint32_t)(level_size - 6);
  *cx = 3 + (int)((uint32_t)z % span);
  *cy = 3 + (int)((uint32_t)(z >> 32) % span);
}

void clgan_swd_directions(uint64_t seed, int level, int repeat, int dim, int count, float *out) {
  clgan_rng r;
  /* level < 2^16, so the index stays within the constant's zero low half */
  uint64_t index = ((uint64_t)(uint32_t)level << 16) ^ (uint64_t)(uint32_t)repeat;
  clgan_rng_seed_stream(&r, seed, CLGAN_STREAM_SWD_DIRS, index);
  for (int d = 0; d < count; d++) {
    float *row = out + (size_t)d * dim;
    double norm = 0;
    do {
      clgan_rng_normal(&r, row, (size_t)dim, 0.0f, 1.0f);
      norm = 0;
      for (int j = 0; j < dim; j++) norm += (double)row[j] * row[j];
    } while (norm == 0);
    norm = sqrt(norm);
    for (int j = 0; j < dim; j++) row[j] = (float)(row[j] / norm);
  }
}

const clgan_swd_config *clgan_swd_get_config(const clgan_swd *swd) { return &swd->cfg; }

void clgan_swd_destroy(clgan_swd *swd) {
  if (!swd) return;
  clgan_buf_release(&swd->pyr);
  clgan_buf_release(&swd->dirs);
  clgan_buf_release(&swd->proj_a);
  clgan_buf_release(&swd->proj_b);
  clgan_buf_release(&swd->tmp);
  clgan_buf_release(&swd->small);
  clgan_mem_release(&swd->idx);
  free(swd->host_partial);
  free(swd->host_rows);
  free(swd);
}

/* Leading dimension of the projection rows for m descriptors. */
static size_t proj_ld(const clgan_swd *swd, size_t m) {
  return swd->sort.method == 2 ? clgan_metrics_pow2(m < 2 ? 2 : m) : m;
}

/* The kernels every call launches, looked up once. */
static clgan_status create_kernels(clgan_swd *swd) {
  clgan_ctx *ctx = swd->ctx;
  clgan_status st;
  if ((st = clgan_metrics_gather_kernel(ctx, &swd->k_gather)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_pyr_down", &swd->k_down)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_pyr_up_sub", &swd->k_up_sub)) !=
          CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_descriptors", &swd->k_desc)) !=
          CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_stats", &swd->k_stats)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_normalise", &swd->k_norm)) !=
          CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_swd", NULL, "swd_absdiff", &swd->k_absdiff)) != CLGAN_OK)
    return st;
  swd->absdiff_local = clgan_metrics_local_size(ctx, swd->k_absdiff);
  return CLGAN_OK;
}

clgan_status clgan_swd_create(clgan_ctx *ctx, const clgan_swd_config *cfg, clgan_swd **out) {
  *out = NULL;
  if (!ctx || !cfg) return clgan_fail(CLGAN_ERR_INVALID, "swd: null argument");
  int levels = clgan_swd_levels(cfg, NULL);
  if (levels == 0 || cfg->max_images < 1 || cfg->nhoods < 1 || cfg->nhoods >= (1 << 20) ||
      cfg->dir_repeats < 1 || cfg->dirs_per_repeat < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "swd: invalid configuration (channels %d, size %d, min resolution %d, "
                      "images %d, nhoods %d, %d x %d directions)",
                      cfg->channels, cfg->size, cfg->min_resolution, cfg->max_images,
                      cfg->nhoods, cfg->dir_repeats, cfg->dirs_per_repeat);
  clgan_swd *swd = calloc(1, sizeof *swd);
  if (!swd) return clgan_fail(CLGAN_ERR_NOMEM, "swd: out of memory");
  swd->ctx = ctx;
  swd->cfg = *cfg;
  swd->levels = clgan_swd_levels(cfg, swd->sizes);
  swd->dim = cfg->channels * 49;
  swd->max_rows = (size_t)cfg->max_images * (size_t)cfg->nhoods;
  int c = cfg->channels, D = cfg->dirs_per_repeat;
  clgan_status st = clgan_metrics_sort_plan_make(ctx, 0, &swd->sort);
  if (st != CLGAN_OK) goto fail;
  size_t ld = proj_ld(swd, swd->max_rows);
  if ((double)swd->levels * swd->max_rows * swd->dim >= (double)UINT_MAX ||
      (double)D * ld >= (double)UINT_MAX) {
    st = clgan_fail(CLGAN_ERR_UNSUPPORTED,
                    "swd: %d images x %d neighbourhoods exceed 32-bit indexing", cfg->max_images,
                    cfg->nhoods);
    goto fail;
  }
  /* the pyramid chunk */
  size_t per_image = 0;
  for (int l = 0; l < swd->levels; l++) per_image += (size_t)c * swd->sizes[l] * swd->sizes[l];
  size_t chunk = PYRAMID_BUDGET / per_image;
  if (ctx->tuning.metrics_swd_chunk > 0) chunk = (size_t)ctx->tuning.metrics_swd_chunk;
  if (chunk < 1) chunk = 1;
  if (chunk > (size_t)cfg->max_images) chunk = (size_t)cfg->max_images;
  swd->chunk = (int)chunk;
  size_t off = 0;
  for (int l = 0; l < swd->levels; l++) {
    swd->level_off[l] = off;
    off += chunk * c * (size_t)swd->sizes[l] * swd->sizes[l];
  }
  swd->small_center = D;
  swd->small_norm = swd->small_center + (size_t)c;
  swd->small_partial = swd->small_norm + 2 * (size_t)c;
  size_t small = swd->small_partial + (size_t)c * STATS_PARTS * 2;
  size_t ndirs = (size_t)swd->levels * cfg->dir_repeats * D * swd->dim;
  swd->host_partial = malloc(sizeof(float) * (size_t)c * STATS_PARTS * 2);
  swd->host_rows = malloc(sizeof(float) * (size_t)D);
  float *dirs = malloc(sizeof(float) * ndirs);
  if (!swd->host_partial || !swd->host_rows || !dirs) {
    free(dirs);
    st = clgan_fail(CLGAN_ERR_NOMEM, "swd: out of memory");
    goto fail;
  }
  for (int l = 0; l < swd->levels; l++)
    for (int r = 0; r < cfg->dir_repeats; r++)
      clgan_swd_directions(cfg->seed, l, r, swd->dim, D,
                           dirs + ((size_t)l * cfg->dir_repeats + r) * D * swd->dim);
  if ((st = clgan_mem_alloc(ctx, sizeof(cl_int) * chunk, NULL, &swd->idx)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, off, &swd->pyr)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, ndirs, &swd->dirs)) != CLGAN_OK ||
      (st = clgan_buf_write(ctx, swd->dirs, dirs, ndirs)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, (size_t)D * ld, &swd->proj_a)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, (size_t)D * ld, &swd->proj_b)) != CLGAN_OK ||
      (swd->sort.method == 1 &&
       (st = clgan_buf_alloc(ctx, (size_t)D * ld, &swd->tmp)) != CLGAN_OK) ||
      (st = clgan_buf_alloc(ctx, small, &swd->small)) != CLGAN_OK) {
    free(dirs);
    goto fail;
  }
  free(dirs);
  /* every kernel and the GEMM workspace now, not in the calls */
  if ((st = create_kernels(swd)) != CLGAN_OK ||
      (st = clgan_gemm_reserve(ctx, (size_t)D, swd->max_rows, (size_t)swd->dim)) != CLGAN_OK)
    goto fail;
  *out = swd;
  return CLGAN_OK;
fail:
  clgan_swd_destroy(swd);
  return st;
}

clgan_status clgan_swd_desc_create(clgan_swd *swd, clgan_swd_desc **out) {
  *out = NULL;
  clgan_swd_desc *d = calloc(1, sizeof *d);
  if (!d) return clgan_fail(CLGAN_ERR_NOMEM, "swd: out of memory");
  d->swd = swd;
  clgan_status st =
      clgan_buf_alloc(swd->ctx, (size_t)swd->levels * swd->max_rows * swd->dim, &d->buf);
  if (st != CLGAN_OK) {
    free(d);
    return st;
  }
  *out = d;
  return CLGAN_OK;
}

void clgan_swd_desc_destroy(clgan_swd_desc *d) {
  if (!d) return;
  clgan_buf_release(&d->buf);
  free(d);
}

int clgan_swd_desc_count(const clgan_swd_desc *d) { return d ? d->count : 0; }

/* Fills the pyramid workspace with the Laplacian pyramid of nc images
 * starting at `first` (of `indices` when not NULL). */
static clgan_status build_chunk(clgan_swd *swd, const clgan_image_set *images, const int *indices,
                                int first, int nc) {
  clgan_ctx *ctx = swd->ctx;
  clgan_status st;
  if (indices) {
    if ((st = clgan_mem_write(ctx, swd->idx, 0, indices + first, sizeof(cl_int) * nc)) != CLGAN_OK)
      return st;
  }
  if ((st = clgan_metrics_gather(ctx, swd->k_gather, images, indices ? swd->idx : NULL, first,
                                 nc, clgan_buf_at(swd->pyr, swd->level_off[0]), 1.0f, 0.0f)) !=
      CLGAN_OK)
    return st;
  cl_kernel kd = swd->k_down, ku = swd->k_up_sub;
  size_t planes = (size_t)nc * swd->cfg.channels;
  cl_mem m = swd->pyr.mem;
  /* every Gaussian level first: G_{l+1} = pyr_down(G_l) */
  for (int l = 0; l + 1 < swd->levels; l++) {
    cl_uint in = (cl_uint)(swd->pyr.off + swd->level_off[l]),
            o = (cl_uint)(swd->pyr.off + swd->level_off[l + 1]);
    cl_int s = swd->sizes[l], sd = swd->sizes[l + 1];
    size_t g[2] = {clgan_round_up((size_t)sd * sd, 64), planes};
    if ((st = clgan_set_args(kd, 6, sizeof m, &m, sizeof in, &in, sizeof m, &m, sizeof o, &o,
                             sizeof s, &s, sizeof sd, &sd)) != CLGAN_OK ||
        (st = clgan_launch(ctx, kd, 2, g, NULL, "swd_pyr_down")) != CLGAN_OK)
      return st;
  }
  /* then L_l = G_l - pyr_up(G_{l+1}) in place, finest first */
  for (int l = 0; l + 1 < swd->levels; l++) {
    cl_uint lo = (cl_uint)(swd->pyr.off + swd->level_off[l]),
            so = (cl_uint)(swd->pyr.off + swd->level_off[l + 1]);
    cl_int s = swd->sizes[l], sd = swd->sizes[l + 1];
    size_t g[2] = {clgan_round_up((size_t)s * s, 64), planes};
    if ((st = clgan_set_args(ku, 6, sizeof m, &m, sizeof lo, &lo, sizeof m, &m, sizeof so, &so,
                             sizeof s, &s, sizeof sd, &sd)) != CLGAN_OK ||
        (st = clgan_launch(ctx, ku, 2, g, NULL, "swd_pyr_up_sub")) != CLGAN_OK)
      return st;
  }
  return CLGAN_OK;
}

static clgan_status check_images(clgan_swd *swd, const clgan_image_set *images, int n) {
  clgan_status st = clgan_metrics_check_set("swd", images, swd->cfg.channels, swd->cfg.size);
  if (st != CLGAN_OK) return st;
  if (n < 1 || n > swd->cfg.max_images)
    return clgan_fail(CLGAN_ERR_INVALID, "swd: %d images to describe, the plan holds 1 to %d", n,
                      swd->cfg.max_images);
  return CLGAN_OK;
}

clgan_status clgan_swd_pyramid(clgan_swd *swd, const clgan_image_set *images, float **out) {
  clgan_status st = check_images(swd, images, images ? images->count : 0);
  if (st != CLGAN_OK) return st;
  int c = swd->cfg.channels;
  for (int first = 0; first < images->count; first += swd->chunk) {
    int nc = images->count - first < swd->chunk ? images->count - first : swd->chunk;
    if ((st = build_chunk(swd, images, NULL, first, nc)) != CLGAN_OK) return st;
    for (int l = 0; l < swd->levels; l++) {
      size_t plane = (size_t)swd->sizes[l] * swd->sizes[l];
      if ((st = clgan_buf_read(swd->ctx, clgan_buf_at(swd->pyr, swd->level_off[l]),
                               out[l] + (size_t)first * c * plane, (size_t)nc * c * plane)) !=
          CLGAN_OK)
        return st;
    }
  }
  return CLGAN_OK;
}

/* Per-channel mean and 1/std of m descriptors at desc, then normalisation. */
static clgan_status normalise(clgan_swd *swd, clgan_buf desc, size_t m) {
  clgan_ctx *ctx = swd->ctx;
  int c = swd->cfg.channels;
  cl_kernel ks = swd->k_stats, kn = swd->k_norm;
  clgan_status st = CLGAN_OK;
  cl_uint parts = m < STATS_PARTS ? (cl_uint)m : STATS_PARTS;
  double mean[64], *meanp = c <= 64 ? mean : malloc(sizeof(double) * (size_t)c);
  float center[3 * 64], *centerp = c <= 64 ? center : malloc(sizeof(float) * 3 * (size_t)c);
  if (!meanp || !centerp) {
    if (meanp != mean) free(meanp);
    if (centerp != center) free(centerp);
    return clgan_fail(CLGAN_ERR_NOMEM, "swd: out of memory");
  }
  for (int k = 0; k < c; k++) centerp[k] = 0.0f;
  cl_uint doff = (cl_uint)desc.off, um = (cl_uint)m, coff = (cl_uint)(swd->small.off + swd->small_center),
          poff = (cl_uint)(swd->small.off + swd->small_partial);
  cl_int cc = c;
  double count = (double)m * 49.0;
  for (int pass = 0; pass < 2 && st == CLGAN_OK; pass++) {
    size_t g[2] = {parts, (size_t)c};
    if ((st = clgan_buf_write(ctx, clgan_buf_at(swd->small, swd->small_center), centerp,
                              (size_t)c)) != CLGAN_OK ||
        (st = clgan_set_args(ks, 9, sizeof(cl_mem), &desc.mem, sizeof doff, &doff, sizeof um, &um,
                             sizeof cc, &cc, sizeof parts, &parts, sizeof(cl_mem), &swd->small.mem,
                             sizeof coff, &coff, sizeof(cl_mem), &swd->small.mem, sizeof poff,
                             &poff)) != CLGAN_OK ||
        (st = clgan_launch(ctx, ks, 2, g, NULL, "swd_stats")) != CLGAN_OK ||
        (st = clgan_buf_read(ctx, clgan_buf_at(swd->small, swd->small_partial), swd->host_partial,
                             (size_t)c * parts * 2)) != CLGAN_OK)
      break;
    for (int k = 0; k < c; k++) {
      double s = 0, ss = 0;
      for (cl_uint q = 0; q < parts; q++) {
        s += swd->host_partial[((size_t)k * parts + q) * 2];
        ss += swd->host_partial[((size_t)k * parts + q) * 2 + 1];
      }
      if (pass == 0) {
        meanp[k] = s / count;
        centerp[k] = (float)meanp[k];
      } else {
        /* corrected two-pass: sum((x - ctr)^2) - (sum(x - ctr))^2 / n */
        double var = (ss - s * s / count) / count, sd = var > 0 ? sqrt(var) : 0;
        double mu = (double)centerp[k] + s / count;
        centerp[c + 2 * k] = (float)mu;
        centerp[c + 2 * k + 1] = sd > 0 ? (float)(1.0 / sd) : 1.0f;
      }
    }
  }
  if (st == CLGAN_OK) {
    cl_uint noff = (cl_uint)(swd->small.off + swd->small_norm), total = (cl_uint)(m * swd->dim);
    size_t g = clgan_round_up(total, 64);
    if ((st = clgan_buf_write(ctx, clgan_buf_at(swd->small, swd->small_norm), centerp + c,
                              2 * (size_t)c)) == CLGAN_OK &&
        (st = clgan_set_args(kn, 6, sizeof(cl_mem), &desc.mem, sizeof doff, &doff, sizeof total,
                             &total, sizeof cc, &cc, sizeof(cl_mem), &swd->small.mem, sizeof noff,
                             &noff)) == CLGAN_OK)
      st = clgan_launch(ctx, kn, 1, &g, NULL, "swd_normalise");
  }
  if (meanp != mean) free(meanp);
  if (centerp != center) free(centerp);
  return st;
}

clgan_status clgan_swd_describe(clgan_swd *swd, const clgan_image_set *images, const int *indices,
                                int n, clgan_swd_desc *d) {
  if (!swd || !d || d->swd != swd) return clgan_fail(CLGAN_ERR_INVALID, "swd: invalid descriptor set");
  clgan_status st = check_images(swd, images, n);
  if (st != CLGAN_OK) return st;
  if (!indices && n > images->count)
    return clgan_fail(CLGAN_ERR_INVALID, "swd: %d images asked of a set of %d", n, images->count);
  for (int i = 0; indices && i < n; i++)
    if (indices[i] < 0 || indices[i] >= images->count)
      return clgan_fail(CLGAN_ERR_INVALID, "swd: index %d outside the set of %d", indices[i],
                        images->count);
  clgan_ctx *ctx = swd->ctx;
  d->count = 0;
  cl_kernel kd = swd->k_desc;
  int c = swd->cfg.channels, nh = swd->cfg.nhoods;
  cl_ulong seed = swd->cfg.seed;
  for (int first = 0; first < n; first += swd->chunk) {
    int nc = n - first < swd->chunk ? n - first : swd->chunk;
    if ((st = build_chunk(swd, images, indices, first, nc)) != CLGAN_OK) return st;
    for (int l = 0; l < swd->levels; l++) {
      cl_uint lo = (cl_uint)(swd->pyr.off + swd->level_off[l]),
              doff = (cl_uint)(d->buf.off + (size_t)l * swd->max_rows * swd->dim);
      cl_int s = swd->sizes[l], cc = c, cnh = nh, cf = first, cl = l;
      size_t g[2] = {clgan_round_up((size_t)swd->dim, 16), (size_t)nc * nh};
      if ((st = clgan_set_args(kd, 10, sizeof(cl_mem), &swd->pyr.mem, sizeof lo, &lo, sizeof s, &s,
                               sizeof cc, &cc, sizeof cnh, &cnh, sizeof cf, &cf, sizeof cl, &cl,
                               sizeof seed, &seed, sizeof(cl_mem), &d->buf.mem, sizeof doff,
                               &doff)) != CLGAN_OK ||
          (st = clgan_launch(ctx, kd, 2, g, NULL, "swd_descriptors")) != CLGAN_OK)
        return st;
    }
  }
  size_t m = (size_t)n * nh;
  for (int l = 0; l < swd->levels; l++)
    if ((st = normalise(swd, clgan_buf_at(d->buf, (size_t)l * swd->max_rows * swd->dim), m)) !=
        CLGAN_OK)
      return st;
  d->count = n;
  return CLGAN_OK;
}

clgan_status clgan_swd_desc_read(clgan_swd *swd, const clgan_swd_desc *d, int level, float *out) {
  if (!swd || !d || d->swd != swd || level < 0 || level >= swd->levels)
    return clgan_fail(CLGAN_ERR_INVALID, "swd: invalid descriptor read");
  return clgan_buf_read(swd->ctx, clgan_buf_at(d->buf, (size_t)level * swd->max_rows * swd->dim),
                        out, (size_t)d->count * swd->cfg.nhoods * swd->dim);
}

clgan_status clgan_swd_distance(clgan_swd *swd, const clgan_swd_desc *a, const clgan_swd_desc *b,
                                double *per_level, double *mean) {
  if (!swd || !a || !b || a->swd != swd || b->swd != swd)
    return clgan_fail(CLGAN_ERR_INVALID, "swd: invalid descriptor sets");
  if (a->count < 1 || a->count != b->count)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "swd: the sets must hold the same number of images (%d and %d)", a->count,
                      b->count);
  clgan_ctx *ctx = swd->ctx;
  cl_kernel kabs = swd->k_absdiff;
  clgan_status st;
  const clgan_swd_config *cfg = &swd->cfg;
  size_t m = (size_t)a->count * cfg->nhoods, ld = proj_ld(swd, m), D = (size_t)cfg->dirs_per_repeat;
  size_t L = swd->absdiff_local;
  double total = 0;
  for (int l = 0; l < swd->levels; l++) {
    clgan_buf da = clgan_buf_at(a->buf, (size_t)l * swd->max_rows * swd->dim);
    clgan_buf db = clgan_buf_at(b->buf, (size_t)l * swd->max_rows * swd->dim);
    double level_sum = 0;
    for (int r = 0; r < cfg->dir_repeats; r++) {
      clgan_buf dirs =
          clgan_buf_at(swd->dirs, ((size_t)l * cfg->dir_repeats + r) * D * swd->dim);
      /* proj[D][m] = dirs[D][dim] x desc[m][dim]^T */
      if ((st = clgan_gemm(ctx, 0, 1, D, m, (size_t)swd->dim, 1.0f, dirs, (size_t)swd->dim, da,
                           (size_t)swd->dim, 0.0f, swd->proj_a, ld)) != CLGAN_OK ||
          (st = clgan_gemm(ctx, 0, 1, D, m, (size_t)swd->dim, 1.0f, dirs, (size_t)swd->dim, db,
                           (size_t)swd->dim, 0.0f, swd->proj_b, ld)) != CLGAN_OK ||
          (st = clgan_metrics_sort_rows(ctx, &swd->sort, swd->proj_a, D, m, ld, swd->tmp)) !=
              CLGAN_OK ||
          (st = clgan_metrics_sort_rows(ctx, &swd->sort, swd->proj_b, D, m, ld, swd->tmp)) !=
              CLGAN_OK)
        return st;
      cl_uint ao = (cl_uint)swd->proj_a.off, bo = (cl_uint)swd->proj_b.off, uld = (cl_uint)ld,
              um = (cl_uint)m, oo = (cl_uint)swd->small.off;
      size_t g = D * L;
      if ((st = clgan_set_args(kabs, 9, sizeof(cl_mem), &swd->proj_a.mem, sizeof ao, &ao,
                               sizeof(cl_mem), &swd->proj_b.mem, sizeof bo, &bo, sizeof uld, &uld,
                               sizeof um, &um, sizeof(cl_mem), &swd->small.mem, sizeof oo, &oo,
                               L * sizeof(float), (const void *)NULL)) != CLGAN_OK ||
          (st = clgan_launch(ctx, kabs, 1, &g, &L, "swd_absdiff")) != CLGAN_OK ||
          (st = clgan_buf_read(ctx, swd->small, swd->host_rows, D)) != CLGAN_OK)
        return st;
      double s = 0;
      for (size_t i = 0; i < D; i++) s += swd->host_rows[i];
      level_sum += s / ((double)D * (double)m);
    }
    double v = level_sum / cfg->dir_repeats * 1e3;
    if (per_level) per_level[l] = v;
    total += v;
  }
  if (mean) *mean = total / swd->levels;
  return CLGAN_OK;
}
