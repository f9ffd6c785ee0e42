/* One evaluator for a real set against generated sets: SWD, MS-SSIM diversity
 * and memorisation, with the real set's share computed once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/report.h"
#include "metrics/internal.h"

struct clgan_eval {
  clgan_ctx *ctx;
  clgan_eval_config cfg;
  clgan_image_set real;
  clgan_swd *swd;
  clgan_swd_desc *dreal, *dfake;
  int dreal_n;                  /* images in dreal (0: not described yet) */
  clgan_msssim *ms;
  clgan_nn *nn;
  int real_done;                /* the real set's diversity and nearest distances */
  int pairs_real;
  double msssim_real, nn_real_min, nn_real_p5, nn_real_median;
  double seconds_real_ms, seconds_real_nn;
  int *subset;                  /* [max(nreal, max_fake)] */
  int *nearest, *seq;           /* [max_fake] */
  struct rank { float rms; int index; } *order; /* [max_fake] */
  float *rms, *ssim;            /* [max_fake] */
  double *sorted;               /* [max(nreal, max_fake)] */
  int nfake_last;
  clgan_eval_report last;
  clgan_buf pair_px;            /* [2][closest][c][s][s] for the closest-pairs PNG */
  cl_mem pair_idx;              /* int [closest] */
  cl_kernel k_gather;           /* metrics_gather, created at setup */
};

clgan_eval_config clgan_eval_default_config(int channels, int size, int max_fake) {
  clgan_eval_config c = {channels, size, max_fake, 1000, 8, 0, 128, 4, 128, 16};
  return c;
}

void clgan_eval_destroy(clgan_eval *ev) {
  if (!ev) return;
  clgan_swd_desc_destroy(ev->dreal);
  clgan_swd_desc_destroy(ev->dfake);
  clgan_swd_destroy(ev->swd);
  clgan_msssim_destroy(ev->ms);
  clgan_nn_destroy(ev->nn);
  clgan_buf_release(&ev->pair_px);
  clgan_mem_release(&ev->pair_idx);
  free(ev->subset);
  free(ev->nearest);
  free(ev->order);
  free(ev->seq);
  free(ev->rms);
  free(ev->ssim);
  free(ev->sorted);
  free(ev);
}

clgan_status clgan_eval_create(clgan_ctx *ctx, const clgan_eval_config *cfg,
                               const clgan_image_set *real, clgan_eval **out) {
  *out = NULL;
  if (!ctx || !cfg) return clgan_fail(CLGAN_ERR_INVALID, "evaluate: null argument");
  clgan_status st = clgan_metrics_check_set("evaluate (real images)", real, cfg->channels, cfg->size);
  if (st != CLGAN_OK) return st;
  if (real->count < 2 || cfg->max_fake < 2 || cfg->pairs < 1 || cfg->closest < 0 ||
      cfg->closest > CLGAN_EVAL_MAX_CLOSEST)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "evaluate: needs 2 or more real (%d) and generated (%d) images, pairs >= 1 "
                      "(%d), closest in [0, %d] (%d)",
                      real->count, cfg->max_fake, cfg->pairs, CLGAN_EVAL_MAX_CLOSEST, cfg->closest);
  clgan_eval *ev = calloc(1, sizeof *ev);
  if (!ev) return clgan_fail(CLGAN_ERR_NOMEM, "evaluate: out of memory");
  ev->ctx = ctx;
  ev->cfg = *cfg;
  ev->real = *real;
  int nmax = real->count > cfg->max_fake ? real->count : cfg->max_fake;
  int nswd = real->count < cfg->max_fake ? real->count : cfg->max_fake;
  ev->subset = malloc(sizeof(int) * (size_t)nmax);
  ev->nearest = malloc(sizeof(int) * (size_t)cfg->max_fake);
  ev->order = malloc(sizeof *ev->order * (size_t)cfg->max_fake);
  ev->seq = malloc(sizeof(int) * (size_t)cfg->max_fake);
  ev->rms = malloc(sizeof(float) * (size_t)cfg->max_fake);
  ev->ssim = malloc(sizeof(float) * (size_t)cfg->max_fake);
  ev->sorted = malloc(sizeof(double) * (size_t)nmax);
  if (!ev->subset || !ev->nearest || !ev->order || !ev->seq || !ev->rms || !ev->ssim ||
      !ev->sorted) {
    clgan_eval_destroy(ev);
    return clgan_fail(CLGAN_ERR_NOMEM, "evaluate: out of memory");
  }
  for (int i = 0; i < cfg->max_fake; i++) ev->seq[i] = i;
  clgan_swd_config sc = {cfg->channels, cfg->size, nswd, cfg->swd_nhoods, cfg->swd_dir_repeats,
                         cfg->swd_dirs_per_repeat, cfg->swd_min_resolution, cfg->seed};
  int k = cfg->closest > 0 ? cfg->closest : 1;
  if ((st = clgan_swd_create(ctx, &sc, &ev->swd)) != CLGAN_OK ||
      (st = clgan_swd_desc_create(ev->swd, &ev->dreal)) != CLGAN_OK ||
      (st = clgan_swd_desc_create(ev->swd, &ev->dfake)) != CLGAN_OK ||
      (st = clgan_msssim_create(ctx, cfg->channels, cfg->size, &ev->ms)) != CLGAN_OK ||
      (st = clgan_nn_create(ctx, cfg->channels, cfg->size, nmax, &ev->nn)) != CLGAN_OK ||
      (st = clgan_buf_alloc(ctx, 2 * (size_t)k * cfg->channels * cfg->size * cfg->size,
                            &ev->pair_px)) != CLGAN_OK ||
      (st = clgan_mem_alloc(ctx, sizeof(cl_int) * (size_t)k, NULL, &ev->pair_idx)) != CLGAN_OK ||
      (st = clgan_metrics_gather_kernel(ctx, &ev->k_gather)) != CLGAN_OK) {
    clgan_eval_destroy(ev);
    return st;
  }
  *out = ev;
  return CLGAN_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* By distance (NaN last), then index. */
static int cmp_rank(const void *a, const void *b) {
  const struct rank *p = a, *q = b;
  if (isnan(p->rms) != isnan(q->rms)) return isnan(p->rms) ? 1 : -1;
  if (p->rms < q->rms) return -1;
  if (p->rms > q->rms) return 1;
  return p->index < q->index ? -1 : p->index > q->index;
}

/* The real set's own diversity and nearest-neighbour distances, once. */
static clgan_status real_once(clgan_eval *ev) {
  if (ev->real_done) return CLGAN_OK;
  double t0 = clgan_metrics_now();
  clgan_status st = clgan_msssim_diversity(ev->ms, &ev->real, ev->cfg.pairs, ev->cfg.seed,
                                           &ev->msssim_real);
  if (st != CLGAN_OK) return st;
  ev->pairs_real = ev->cfg.pairs;
  double t1 = clgan_metrics_now();
  int n = ev->real.count;
  float *rms = malloc(sizeof(float) * (size_t)n);
  if (!rms) return clgan_fail(CLGAN_ERR_NOMEM, "evaluate: out of memory");
  st = clgan_nn_search(ev->nn, &ev->real, &ev->real, 1, NULL, rms);
  if (st == CLGAN_OK) {
    for (int i = 0; i < n; i++) ev->sorted[i] = rms[i];
    qsort(ev->sorted, (size_t)n, sizeof(double), cmp_double);
    ev->nn_real_min = ev->sorted[0];
    ev->nn_real_p5 = clgan_metrics_quantile(ev->sorted, n, 0.05);
    ev->nn_real_median = clgan_metrics_quantile(ev->sorted, n, 0.5);
    ev->real_done = 1;
  }
  free(rms);
  ev->seconds_real_ms = t1 - t0;
  ev->seconds_real_nn = clgan_metrics_now() - t1;
  return st;
}

clgan_status clgan_eval_run(clgan_eval *ev, const clgan_image_set *fake, clgan_eval_report *rep) {
  if (!ev || !rep) return clgan_fail(CLGAN_ERR_INVALID, "evaluate: null argument");
  clgan_status st =
      clgan_metrics_check_set("evaluate (generated images)", fake, ev->cfg.channels, ev->cfg.size);
  if (st != CLGAN_OK) return st;
  int nf = fake->count, nr = ev->real.count;
  if (nf < 2 || nf > ev->cfg.max_fake)
    return clgan_fail(CLGAN_ERR_INVALID, "evaluate: %d generated images, the plan takes 2 to %d",
                      nf, ev->cfg.max_fake);
  memset(rep, 0, sizeof *rep);
  rep->nreal = nr;
  rep->nfake = nf;
  int first_run = !ev->real_done;
  if ((st = real_once(ev)) != CLGAN_OK) return st;

  /* SWD on equal counts: a seeded subset of the larger set */
  double t0 = clgan_metrics_now();
  int n = nr < nf ? nr : nf;
  if (ev->dreal_n != n) {
    ev->dreal_n = 0;
    if (nr > n) clgan_metrics_random_subset(ev->cfg.seed, nr, n, ev->subset);
    if ((st = clgan_swd_describe(ev->swd, &ev->real, nr > n ? ev->subset : NULL, n, ev->dreal)) !=
        CLGAN_OK)
      return st;
    ev->dreal_n = n;
  }
  if (nf > n) clgan_metrics_random_subset(ev->cfg.seed + 1, nf, n, ev->subset);
  if ((st = clgan_swd_describe(ev->swd, fake, nf > n ? ev->subset : NULL, n, ev->dfake)) !=
          CLGAN_OK ||
      (st = clgan_swd_distance(ev->swd, ev->dreal, ev->dfake, rep->swd, &rep->swd_mean)) != CLGAN_OK)
    return st;
  rep->swd_images = n;
  rep->swd_levels = clgan_swd_levels(clgan_swd_get_config(ev->swd), rep->swd_resolution);
  double t1 = clgan_metrics_now();

  /* diversity */
  if ((st = clgan_msssim_diversity(ev->ms, fake, ev->cfg.pairs, ev->cfg.seed, &rep->msssim_fake)) !=
      CLGAN_OK)
    return st;
  rep->pairs_fake = ev->cfg.pairs;
  rep->pairs_real = ev->pairs_real;
  rep->msssim_real = ev->msssim_real;
  double t2 = clgan_metrics_now();

  /* memorisation */
  if ((st = clgan_nn_search(ev->nn, fake, &ev->real, 0, ev->nearest, ev->rms)) != CLGAN_OK ||
      (st = clgan_msssim_pairs(ev->ms, fake, &ev->real, ev->seq, ev->nearest, nf, NULL, ev->ssim)) !=
          CLGAN_OK)
    return st;
  for (int i = 0; i < nf; i++) ev->sorted[i] = ev->rms[i];
  qsort(ev->sorted, (size_t)nf, sizeof(double), cmp_double);
  rep->nn_fake_min = ev->sorted[0];
  rep->nn_fake_p5 = clgan_metrics_quantile(ev->sorted, nf, 0.05);
  rep->nn_fake_median = clgan_metrics_quantile(ev->sorted, nf, 0.5);
  rep->nn_real_min = ev->nn_real_min;
  rep->nn_real_p5 = ev->nn_real_p5;
  rep->nn_real_median = ev->nn_real_median;
  double ssum = 0, smax = -INFINITY;
  int below = 0;
  for (int i = 0; i < nf; i++) {
    ssum += ev->ssim[i];
    if (ev->ssim[i] > smax) smax = ev->ssim[i];
    if (ev->rms[i] < ev->nn_real_p5) below++;
  }
  rep->nn_ssim_mean = ssum / nf;
  rep->nn_ssim_max = smax;
  rep->nn_fake_below_real_p5 = (double)below / nf;
  for (int i = 0; i < nf; i++) {
    ev->order[i].rms = ev->rms[i];
    ev->order[i].index = i;
  }
  qsort(ev->order, (size_t)nf, sizeof *ev->order, cmp_rank);
  rep->nclosest = ev->cfg.closest < nf ? ev->cfg.closest : nf;
  for (int j = 0; j < rep->nclosest; j++) {
    int i = ev->order[j].index;
    rep->closest_fake[j] = i;
    rep->closest_real[j] = ev->nearest[i];
    rep->closest_rms[j] = ev->rms[i];
    rep->closest_ssim[j] = ev->ssim[i];
  }
  double t3 = clgan_metrics_now();
  rep->seconds_swd = t1 - t0;
  rep->seconds_msssim = t2 - t1 + (first_run ? ev->seconds_real_ms : 0);
  rep->seconds_nn = t3 - t2 + (first_run ? ev->seconds_real_nn : 0);
  ev->nfake_last = nf;
  ev->last = *rep;
  return CLGAN_OK;
}

void clgan_eval_nearest(const clgan_eval *ev, const int **nearest, const float **rms,
                        const float **ssim) {
  if (nearest) *nearest = ev->nearest;
  if (rms) *rms = ev->rms;
  if (ssim) *ssim = ev->ssim;
}

clgan_status clgan_eval_write_closest(clgan_eval *ev, const clgan_image_set *fake,
                                      const char *path) {
  if (!ev || !path) return clgan_fail(CLGAN_ERR_INVALID, "evaluate: null argument");
  int k = ev->last.nclosest;
  if (k < 1) return clgan_fail(CLGAN_ERR_INVALID, "evaluate: no closest pairs (run first)");
  clgan_status st =
      clgan_metrics_check_set("evaluate (generated images)", fake, ev->cfg.channels, ev->cfg.size);
  if (st != CLGAN_OK) return st;
  if (fake->count != ev->nfake_last)
    return clgan_fail(CLGAN_ERR_INVALID, "evaluate: not the generated set of the last run");
  int c = ev->cfg.channels, s = ev->cfg.size;
  size_t img = (size_t)c * s * s, hw = (size_t)s * s;
  clgan_ctx *ctx = ev->ctx;
  float *px = malloc(sizeof(float) * 2 * (size_t)k * img);
  int cout = (c == 1 || c == 3) ? c : 1;
  float *grid = malloc(sizeof(float) * 2 * (size_t)k * cout * hw);
  if (!px || !grid) {
    free(px);
    free(grid);
    return clgan_fail(CLGAN_ERR_NOMEM, "evaluate: out of memory");
  }
  const int *lists[2] = {ev->last.closest_fake, ev->last.closest_real};
  const clgan_image_set *sets[2] = {fake, &ev->real};
  for (int side = 0; side < 2 && st == CLGAN_OK; side++) {
    if ((st = clgan_mem_write(ctx, ev->pair_idx, 0, lists[side], sizeof(cl_int) * (size_t)k)) ==
            CLGAN_OK &&
        (st = clgan_metrics_gather(ctx, ev->k_gather, sets[side], ev->pair_idx, 0, k,
                                   clgan_buf_at(ev->pair_px, (size_t)side * k * img), 1.0f,
                                   0.0f)) == CLGAN_OK)
      st = clgan_buf_read(ctx, clgan_buf_at(ev->pair_px, (size_t)side * k * img),
                          px + (size_t)side * k * img, (size_t)k * img);
  }
  if (st == CLGAN_OK) {
    /* tiles in the grid's [c][n][h][w] layout: fake_0, real_0, fake_1, ... */
    for (int j = 0; j < k; j++)
      for (int side = 0; side < 2; side++)
        for (int ch = 0; ch < cout; ch++)
          memcpy(grid + ((size_t)ch * 2 * k + 2 * j + side) * hw,
                 px + ((size_t)side * k + j) * img + (size_t)ch * hw, sizeof(float) * hw);
    st = clgan_grid_write(path, grid, cout, 2 * k, s, s, 2, 8);
  }
  free(px);
  free(grid);
  return st;
}
