/* MS-SSIM and SSIM of image pairs on the device (cl/metrics_ssim.cl), as
 * ProGAN's metrics/ms_ssim.py (see clgan/metrics.h for every convention). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "metrics/internal.h"

#define MSSSIM_BUDGET (16u << 20) /* floats of the pair workspace */
#define MAX_WINDOW 11

static const double msssim_weights[CLGAN_MSSSIM_SCALES] = {0.0448, 0.2856, 0.3001, 0.2363,
                                                           0.1333};

struct clgan_msssim {
  clgan_ctx *ctx;
  int channels, size;
  int sizes[CLGAN_MSSSIM_SCALES], wsize[CLGAN_MSSSIM_SCALES];
  int chunk;                                  /* pairs per pass */
  size_t level_off[CLGAN_MSSSIM_SCALES];      /* in ws: [2][chunk][c][s_l][s_l] */
  clgan_buf ws, win, out;                     /* win [scales][11]; out [scales][chunk][2] */
  cl_mem idx_a, idx_b;
  float *host_out;
  cl_kernel k_gather, k_down, k_level; /* created at setup */
  size_t level_local;                  /* work-group size of ssim_level */
};

/* _FSpecialGauss of ms_ssim.py, separably: w weights at offsets -r..r (odd
 * w) or -r+0.5..r-0.5 (even w), exp(-x^2 / (2 sigma^2)), normalised. */
static void gauss_window(int w, double sigma, float *out) {
  double g[MAX_WINDOW], sum = 0;
  for (int i = 0; i < w; i++) {
    double x = i - (w - 1) / 2.0;
    g[i] = exp(-(x * x) / (2.0 * sigma * sigma));
    sum += g[i];
  }
  for (int i = 0; i < w; i++) out[i] = (float)(g[i] / sum);
}

void clgan_msssim_destroy(clgan_msssim *m) {
  if (!m) return;
  clgan_buf_release(&m->ws);
  clgan_buf_release(&m->win);
  clgan_buf_release(&m->out);
  clgan_mem_release(&m->idx_a);
  clgan_mem_release(&m->idx_b);
  free(m->host_out);
  free(m);
}

clgan_status clgan_msssim_create(clgan_ctx *ctx, int channels, int size, clgan_msssim **out) {
  *out = NULL;
  if (!ctx || channels < 1 || size < 1 || size > 65535)
    return clgan_fail(CLGAN_ERR_INVALID, "msssim: invalid geometry (%d channels, %d px)", channels,
                      size);
  clgan_msssim *m = calloc(1, sizeof *m);
  if (!m) return clgan_fail(CLGAN_ERR_NOMEM, "msssim: out of memory");
  m->ctx = ctx;
  m->channels = channels;
  m->size = size;
  size_t per_pair = 0;
  float win[CLGAN_MSSSIM_SCALES * MAX_WINDOW] = {0};
  for (int l = 0, s = size; l < CLGAN_MSSSIM_SCALES; l++, s = (s + 1) / 2) {
    m->sizes[l] = s;
    m->wsize[l] = s < MAX_WINDOW ? s : MAX_WINDOW;
    gauss_window(m->wsize[l], m->wsize[l] * 1.5 / MAX_WINDOW, win + l * MAX_WINDOW);
    per_pair += 2 * (size_t)channels * s * s;
  }
  size_t chunk = MSSSIM_BUDGET / per_pair;
  if (chunk < 1) chunk = 1;
  if (chunk > 4096) chunk = 4096;
  m->chunk = (int)chunk;
  size_t off = 0;
  for (int l = 0; l < CLGAN_MSSSIM_SCALES; l++) {
    m->level_off[l] = off;
    off += chunk * 2 * channels * (size_t)m->sizes[l] * m->sizes[l];
  }
  clgan_status st = CLGAN_OK;
  if (off >= UINT_MAX) {
    st = clgan_fail(CLGAN_ERR_UNSUPPORTED, "msssim: %d px images beyond 32-bit indexing", size);
    goto fail;
  }
  m->host_out = malloc(sizeof(float) * CLGAN_MSSSIM_SCALES * 2 * chunk);
  if (!m->host_out) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "msssim: out of memory");
    goto fail;
  }
  if ((st = clgan_mem_alloc(ctx, sizeof(cl_int) * chunk, NULL, &m->idx_a)) != CLGAN_OK ||
      (st = clgan_mem_alloc(ctx, sizeof(cl_int) * chunk, NULL, &m->idx_b)) != CLGAN_OK)
    goto fail;
  if ((st = clgan_buf_alloc(ctx, off, &m->ws)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, CLGAN_MSSSIM_SCALES * MAX_WINDOW, &m->win)) != CLGAN_OK ||
      (st = clgan_buf_write(ctx, m->win, win, CLGAN_MSSSIM_SCALES * MAX_WINDOW)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, CLGAN_MSSSIM_SCALES * 2 * chunk, &m->out)) != CLGAN_OK ||
      (st = clgan_metrics_gather_kernel(ctx, &m->k_gather)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_ssim", NULL, "ssim_down", &m->k_down)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "metrics_ssim", NULL, "ssim_level", &m->k_level)) != CLGAN_OK)
    goto fail;
  m->level_local = clgan_metrics_local_size(ctx, m->k_level);
  *out = m;
  return CLGAN_OK;
fail:
  clgan_msssim_destroy(m);
  return st;
}

/* One chunk of np pairs; scales 0..nscales-1 into host_out [scale][np][2]. */
static clgan_status run_chunk(clgan_msssim *m, const clgan_image_set *a, const clgan_image_set *b,
                              const int *ia, const int *ib, int np, int nscales) {
  clgan_ctx *ctx = m->ctx;
  clgan_status st;
  int c = m->channels;
  size_t hw0 = (size_t)m->size * m->size;
  if ((st = clgan_mem_write(ctx, m->idx_a, 0, ia, sizeof(cl_int) * np)) != CLGAN_OK ||
      (st = clgan_mem_write(ctx, m->idx_b, 0, ib, sizeof(cl_int) * np)) != CLGAN_OK)
    return st;
  /* [-1, 1] -> [0, 1] */
  clgan_buf l0 = clgan_buf_at(m->ws, m->level_off[0]);
  if ((st = clgan_metrics_gather(ctx, m->k_gather, a, m->idx_a, 0, np, l0, 0.5f, 0.5f)) !=
          CLGAN_OK ||
      (st = clgan_metrics_gather(ctx, m->k_gather, b, m->idx_b, 0, np,
                                 clgan_buf_at(l0, (size_t)np * c * hw0), 0.5f, 0.5f)) != CLGAN_OK)
    return st;
  cl_kernel kd = m->k_down, ks = m->k_level;
  size_t L = m->level_local;
  cl_mem ws = m->ws.mem;
  for (int l = 0; l < nscales; l++) {
    cl_int s = m->sizes[l];
    if (l > 0) {
      cl_uint in = (cl_uint)(m->ws.off + m->level_off[l - 1]), o = (cl_uint)(m->ws.off + m->level_off[l]);
      cl_int sp = m->sizes[l - 1];
      size_t g[2] = {clgan_round_up((size_t)s * s, 64), (size_t)2 * np * c};
      if ((st = clgan_set_args(kd, 6, sizeof ws, &ws, sizeof in, &in, sizeof ws, &ws, sizeof o, &o,
                               sizeof sp, &sp, sizeof s, &s)) != CLGAN_OK ||
          (st = clgan_launch(ctx, kd, 2, g, NULL, "ssim_down")) != CLGAN_OK)
        return st;
    }
    cl_uint io = (cl_uint)(m->ws.off + m->level_off[l]), wo = (cl_uint)(m->win.off + l * MAX_WINDOW),
            oo = (cl_uint)(m->out.off + (size_t)l * 2 * np);
    cl_int cnp = np, cc = c, w = m->wsize[l];
    float c1 = 0.01f * 0.01f, c2 = 0.03f * 0.03f;
    size_t g = (size_t)np * L;
    if ((st = clgan_set_args(ks, 13, sizeof ws, &ws, sizeof io, &io, sizeof cnp, &cnp, sizeof cc, &cc,
                             sizeof s, &s, sizeof(cl_mem), &m->win.mem, sizeof wo, &wo, sizeof w, &w,
                             sizeof c1, &c1, sizeof c2, &c2, sizeof(cl_mem), &m->out.mem,
                             sizeof oo, &oo, 2 * L * sizeof(float), (const void *)NULL)) != CLGAN_OK ||
        (st = clgan_launch(ctx, ks, 1, &g, &L, "ssim_level")) != CLGAN_OK)
      return st;
  }
  return clgan_buf_read(ctx, m->out, m->host_out, (size_t)nscales * 2 * np);
}

clgan_status clgan_msssim_pairs(clgan_msssim *m, const clgan_image_set *a, const clgan_image_set *b,
                                const int *ia, const int *ib, int npairs, float *msssim,
                                float *ssim) {
  if (!m || !ia || !ib || npairs < 0) return clgan_fail(CLGAN_ERR_INVALID, "msssim: null argument");
  clgan_status st;
  if ((st = clgan_metrics_check_set("msssim (first images)", a, m->channels, m->size)) != CLGAN_OK ||
      (st = clgan_metrics_check_set("msssim (second images)", b, m->channels, m->size)) != CLGAN_OK)
    return st;
  for (int p = 0; p < npairs; p++)
    if (ia[p] < 0 || ia[p] >= a->count || ib[p] < 0 || ib[p] >= b->count)
      return clgan_fail(CLGAN_ERR_INVALID, "msssim: pair %d (%d, %d) outside the sets (%d, %d)", p,
                        ia[p], ib[p], a->count, b->count);
  int nscales = msssim ? CLGAN_MSSSIM_SCALES : 1;
  for (int first = 0; first < npairs; first += m->chunk) {
    int np = npairs - first < m->chunk ? npairs - first : m->chunk;
    if ((st = run_chunk(m, a, b, ia + first, ib + first, np, nscales)) != CLGAN_OK) return st;
    for (int p = 0; p < np; p++) {
      const float *o = m->host_out;
      if (ssim) ssim[first + p] = o[2 * p];
      if (msssim) {
        double v = 1;
        for (int l = 0; l < CLGAN_MSSSIM_SCALES; l++) {
          double x = o[((size_t)l * np + p) * 2 + (l == CLGAN_MSSSIM_SCALES - 1 ? 0 : 1)];
          v *= pow(x > 0 ? x : 0, msssim_weights[l]);
        }
        msssim[first + p] = (float)v;
      }
    }
  }
  return CLGAN_OK;
}

clgan_status clgan_msssim_diversity(clgan_msssim *m, const clgan_image_set *set, int npairs,
                                    uint64_t seed, double *mean) {
  if (!set || set->count < 2 || npairs < 1 || !mean)
    return clgan_fail(CLGAN_ERR_INVALID, "msssim: diversity needs 2 or more images and pairs");
  int *ia = malloc(sizeof(int) * (size_t)npairs), *ib = malloc(sizeof(int) * (size_t)npairs);
  float *v = malloc(sizeof(float) * (size_t)npairs);
  clgan_status st = CLGAN_OK;
  if (!ia || !ib || !v) st = clgan_fail(CLGAN_ERR_NOMEM, "msssim: out of memory");
  if (st == CLGAN_OK) {
    clgan_metrics_random_pairs(seed, set->count, npairs, ia, ib);
    st = clgan_msssim_pairs(m, set, set, ia, ib, npairs, v, NULL);
  }
  if (st == CLGAN_OK) {
    double s = 0;
    for (int p = 0; p < npairs; p++) s += v[p];
    *mean = s / npairs;
  }
  free(ia);
  free(ib);
  free(v);
  return st;
}
