/* Metrics (src/metrics/) against straightforward double-precision C
 * references on fixed data: the Laplacian pyramid, SWD descriptors and
 * distances (ProGAN's sliced_wasserstein.py, same picks and directions
 * through the exported generators), MS-SSIM and SSIM (ProGAN's ms_ssim.py),
 * the nearest-neighbour search against brute force, both row sorts, the
 * folder loader, and the evaluator end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/image.h"
#include "clgan/metrics.h"
#include "metrics/internal.h"
#include "test_util.h"

/* Sets the metrics' knobs in the shared context's tuning (0: the device's
 * choice): the row sort, the reductions' work-group size, the SWD pyramid
 * chunk and the nearest-neighbour segments. */
static void metrics_tuning(int sort, size_t local, int swd_chunk, int nn_segments) {
  clgan_tuning t = *clgan_ctx_tuning(tu_ctx());
  t.metrics_sort = sort;
  t.metrics_local = local;
  t.metrics_swd_chunk = swd_chunk;
  t.metrics_nn_segments = nn_segments;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
}

/* ---- data ----------------------------------------------------------------- */

/* n images [n][c][s][s] in [-1, 1] with structure (a smooth random blob
 * pattern, per image) plus noise, so pyramids, SSIM and neighbours are not
 * degenerate. */
static float *make_images(int n, int c, int s, uint64_t seed, float noise) {
  size_t hw = (size_t)s * s, total = (size_t)n * c * hw;
  float *x = tu_malloc(sizeof(float) * total), *r = tu_malloc(sizeof(float) * 8 * n * c);
  tu_fill_uniform(x, total, seed, -noise, noise);
  tu_fill_uniform(r, 8 * (size_t)n * c, seed + 1, 0.0f, 1.0f);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < c; k++) {
      const float *p = r + 8 * ((size_t)i * c + k);
      for (int y = 0; y < s; y++)
        for (int xx = 0; xx < s; xx++) {
          double v = 0.6 * sin(6.28 * (p[0] * 3 * xx / s + p[1])) * cos(6.28 * (p[2] * 3 * y / s + p[3])) +
                     0.3 * (p[4] - 0.5) + 0.2 * sin(6.28 * (p[5] * 7 * (xx + y) / s + p[6]));
          float *d = x + ((size_t)i * c + k) * hw + (size_t)y * s + xx;
          *d = (float)fmax(-1.0, fmin(1.0, *d + v));
        }
    }
  free(r);
  return x;
}

/* Uploads [n][c][s][s] images at a float offset, either as NCHW or
 * transposed to CNHW, and describes them as a set. */
static clgan_image_set upload_set(const float *nchw, int n, int c, int s, int cnhw, size_t off,
                                  clgan_buf *owner) {
  size_t hw = (size_t)s * s, total = (size_t)n * c * hw;
  float *h = tu_malloc(sizeof(float) * (total + off));
  for (size_t i = 0; i < off; i++) h[i] = 1e9f; /* poison before the set */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < c; k++)
      memcpy(h + off + (cnhw ? ((size_t)k * n + i) : ((size_t)i * c + k)) * hw,
             nchw + ((size_t)i * c + k) * hw, sizeof(float) * hw);
  *owner = tu_upload(h, total + off);
  free(h);
  clgan_buf b = clgan_buf_at(*owner, off);
  return cnhw ? clgan_image_set_cnhw(b, n, c, s) : clgan_image_set_nchw(b, n, c, s);
}

/* ---- SWD reference ---------------------------------------------------------- */

static const double binom[5] = {1 / 16.0, 4 / 16.0, 6 / 16.0, 4 / 16.0, 1 / 16.0};

static int mirror(int i, int n) {
  if (i < 0) i = -i;
  if (i >= n) i = 2 * n - 2 - i;
  return i;
}

/* scipy.ndimage.convolve(x, g5 x g5 * gain, mode='mirror') on an s x s plane. */
static void ref_filter(const double *in, int s, double gain, double *out) {
  for (int y = 0; y < s; y++)
    for (int x = 0; x < s; x++) {
      double acc = 0;
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
          acc += binom[i] * binom[j] * gain * in[mirror(y + i - 2, s) * s + mirror(x + j - 2, s)];
      out[y * s + x] = acc;
    }
}

/* ProGAN's generate_laplacian_pyramid on one plane; lev[l] gets s_l^2. */
static void ref_pyramid_plane(const double *img, int levels, const int *sizes, double **lev) {
  memcpy(lev[0], img, sizeof(double) * sizes[0] * sizes[0]);
  for (int l = 1; l < levels; l++) {
    int s = sizes[l - 1], sd = sizes[l], u = 2 * sd;
    double *f = tu_malloc(sizeof(double) * s * s);
    ref_filter(lev[l - 1], s, 1.0, f);
    for (int y = 0; y < sd; y++)
      for (int x = 0; x < sd; x++) lev[l][y * sd + x] = f[(2 * y) * s + 2 * x];
    free(f);
    /* pyr_up: zero insertion, 4x filter, cropped to s */
    double *z = calloc((size_t)u * u, sizeof(double)), *up = tu_malloc(sizeof(double) * u * u);
    for (int y = 0; y < sd; y++)
      for (int x = 0; x < sd; x++) z[(2 * y) * u + 2 * x] = lev[l][y * sd + x];
    ref_filter(z, u, 4.0, up);
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++) lev[l - 1][y * s + x] -= up[y * u + x];
    free(z);
    free(up);
  }
}

/* Every image's pyramid: out[l][(i*c + k)*s_l^2 + ...]. */
static double **ref_pyramid(const float *imgs, int n, int c, int s, int levels, const int *sizes) {
  double **out = tu_malloc(sizeof(double *) * levels);
  for (int l = 0; l < levels; l++)
    out[l] = tu_malloc(sizeof(double) * n * c * sizes[l] * sizes[l]);
  double *plane = tu_malloc(sizeof(double) * s * s);
  double *lev[CLGAN_SWD_MAX_LEVELS];
  for (int l = 0; l < levels; l++) lev[l] = tu_malloc(sizeof(double) * sizes[l] * sizes[l]);
  for (int p = 0; p < n * c; p++) {
    for (int q = 0; q < s * s; q++) plane[q] = imgs[(size_t)p * s * s + q];
    ref_pyramid_plane(plane, levels, sizes, lev);
    for (int l = 0; l < levels; l++)
      memcpy(out[l] + (size_t)p * sizes[l] * sizes[l], lev[l], sizeof(double) * sizes[l] * sizes[l]);
  }
  for (int l = 0; l < levels; l++) free(lev[l]);
  free(plane);
  return out;
}

static void free_levels(double **p, int levels) {
  for (int l = 0; l < levels; l++) free(p[l]);
  free(p);
}

/* get_descriptors_for_minibatch + finalize_descriptors for one level:
 * desc[n*nh][c*49], normalised per channel (population std). */
static double *ref_descriptors(const double *lap, int n, int c, int s, int nh, int level,
                               uint64_t seed) {
  int dim = c * 49;
  size_t m = (size_t)n * nh;
  double *d = tu_malloc(sizeof(double) * m * dim);
  for (int i = 0; i < n; i++)
    for (int h = 0; h < nh; h++) {
      int cx, cy;
      clgan_swd_pick(seed, level, i, h, s, &cx, &cy);
      ck_assert(cx >= 3 && cx <= s - 4 && cy >= 3 && cy <= s - 4);
      for (int k = 0; k < c; k++)
        for (int dy = 0; dy < 7; dy++)
          for (int dx = 0; dx < 7; dx++)
            d[((size_t)i * nh + h) * dim + k * 49 + dy * 7 + dx] =
                lap[((size_t)(i * c + k) * s + cy + dy - 3) * s + cx + dx - 3];
    }
  for (int k = 0; k < c; k++) {
    double sum = 0, ss = 0, cnt = (double)m * 49;
    for (size_t r = 0; r < m; r++)
      for (int p = 0; p < 49; p++) sum += d[r * dim + k * 49 + p];
    double mu = sum / cnt;
    for (size_t r = 0; r < m; r++)
      for (int p = 0; p < 49; p++) ss += pow(d[r * dim + k * 49 + p] - mu, 2);
    double sd = sqrt(ss / cnt), inv = sd > 0 ? 1 / sd : 1;
    for (size_t r = 0; r < m; r++)
      for (int p = 0; p < 49; p++) d[r * dim + k * 49 + p] = (d[r * dim + k * 49 + p] - mu) * inv;
  }
  return d;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* sliced_wasserstein(A, B, repeats, dirs) with clgan_swd_directions. */
static double ref_sliced(const double *a, const double *b, size_t m, int dim, const clgan_swd_config *cfg,
                         int level) {
  int D = cfg->dirs_per_repeat;
  float *dirs = tu_malloc(sizeof(float) * D * dim);
  double *pa = tu_malloc(sizeof(double) * m), *pb = tu_malloc(sizeof(double) * m), total = 0;
  for (int r = 0; r < cfg->dir_repeats; r++) {
    clgan_swd_directions(cfg->seed, level, r, dim, D, dirs);
    double sum = 0;
    for (int d = 0; d < D; d++) {
      for (size_t i = 0; i < m; i++) {
        double x = 0, y = 0;
        for (int j = 0; j < dim; j++) {
          x += a[i * dim + j] * dirs[d * dim + j];
          y += b[i * dim + j] * dirs[d * dim + j];
        }
        pa[i] = x;
        pb[i] = y;
      }
      qsort(pa, m, sizeof(double), cmp_d);
      qsort(pb, m, sizeof(double), cmp_d);
      for (size_t i = 0; i < m; i++) sum += fabs(pa[i] - pb[i]);
    }
    total += sum / ((double)D * m);
  }
  free(dirs), free(pa), free(pb);
  return total / cfg->dir_repeats;
}

/* SWD x 1e3 per level of two image sets, everything on the host. */
static void ref_swd(const float *A, const float *B, int n, const clgan_swd_config *cfg, double *per_level) {
  int sizes[CLGAN_SWD_MAX_LEVELS], levels = clgan_swd_levels(cfg, sizes), c = cfg->channels;
  double **pa = ref_pyramid(A, n, c, cfg->size, levels, sizes);
  double **pb = ref_pyramid(B, n, c, cfg->size, levels, sizes);
  for (int l = 0; l < levels; l++) {
    double *da = ref_descriptors(pa[l], n, c, sizes[l], cfg->nhoods, l, cfg->seed);
    double *db = ref_descriptors(pb[l], n, c, sizes[l], cfg->nhoods, l, cfg->seed);
    per_level[l] = 1e3 * ref_sliced(da, db, (size_t)n * cfg->nhoods, c * 49, cfg, l);
    free(da), free(db);
  }
  free_levels(pa, levels);
  free_levels(pb, levels);
}

/* ---- SWD tests --------------------------------------------------------------- */

START_TEST(test_swd_levels_picks_directions) {
  clgan_swd_config c = clgan_swd_default_config(1, 64, 10);
  int sizes[CLGAN_SWD_MAX_LEVELS];
  ck_assert_int_eq(clgan_swd_levels(&c, sizes), 3);
  ck_assert_int_eq(sizes[0], 64);
  ck_assert_int_eq(sizes[1], 32);
  ck_assert_int_eq(sizes[2], 16);
  c.size = 128;
  ck_assert_int_eq(clgan_swd_levels(&c, sizes), 4);
  c.size = 33; /* 33 -> 17 (the even pixels of 33), as 16 >= 16 */
  ck_assert_int_eq(clgan_swd_levels(&c, sizes), 2);
  ck_assert_int_eq(sizes[1], 17);
  c.size = 15;
  ck_assert_int_eq(clgan_swd_levels(&c, NULL), 0);
  /* picks: inside, deterministic, spread over the whole range */
  int seen[16] = {0};
  for (int i = 0; i < 2000; i++) {
    int x, y, x2, y2;
    clgan_swd_pick(7, 1, i / 16, i % 16, 16, &x, &y);
    clgan_swd_pick(7, 1, i / 16, i % 16, 16, &x2, &y2);
    ck_assert(x == x2 && y == y2);
    ck_assert(x >= 3 && x <= 12 && y >= 3 && y <= 12);
    seen[x]++, seen[y]++;
  }
  for (int v = 3; v <= 12; v++) ck_assert_int_gt(seen[v], 200);
  /* directions: unit rows, repeat- and level-dependent */
  float d0[3 * 49], d1[3 * 49], d2[3 * 49];
  clgan_swd_directions(5, 0, 0, 49, 3, d0);
  clgan_swd_directions(5, 0, 1, 49, 3, d1);
  clgan_swd_directions(5, 1, 0, 49, 3, d2);
  for (int r = 0; r < 3; r++) {
    double n = 0;
    for (int j = 0; j < 49; j++) n += (double)d0[r * 49 + j] * d0[r * 49 + j];
    ck_assert(fabs(n - 1) < 1e-5);
  }
  ck_assert(memcmp(d0, d1, sizeof d0) != 0 && memcmp(d0, d2, sizeof d0) != 0);
}
END_TEST

/* Pyramid levels against the reference: 64 px (3 levels) as NCHW, 33 px
 * (odd, 2 levels) as CNHW at an offset, 2 and 3 channels. */
START_TEST(test_swd_pyramid) {
  struct { int n, c, s, cnhw; size_t off; } cases[] = {{3, 2, 64, 0, 0}, {5, 3, 33, 1, 7}, {2, 1, 40, 0, 3}};
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    int n = cases[t].n, c = cases[t].c, s = cases[t].s;
    float *x = make_images(n, c, s, 10 + t, 0.3f);
    clgan_buf owner;
    clgan_image_set set = upload_set(x, n, c, s, cases[t].cnhw, cases[t].off, &owner);
    clgan_swd_config cfg = clgan_swd_default_config(c, s, n);
    clgan_swd *swd;
    TU_OK(clgan_swd_create(tu_ctx(), &cfg, &swd));
    int sizes[CLGAN_SWD_MAX_LEVELS], levels = clgan_swd_levels(&cfg, sizes);
    float *got[CLGAN_SWD_MAX_LEVELS];
    for (int l = 0; l < levels; l++) got[l] = tu_malloc(sizeof(float) * n * c * sizes[l] * sizes[l]);
    TU_OK(clgan_swd_pyramid(swd, &set, got));
    double **want = ref_pyramid(x, n, c, s, levels, sizes);
    for (int l = 0; l < levels; l++) {
      size_t cnt = (size_t)n * c * sizes[l] * sizes[l];
      float *wf = tu_malloc(sizeof(float) * cnt);
      for (size_t i = 0; i < cnt; i++) wf[i] = (float)want[l][i];
      char what[64];
      snprintf(what, sizeof what, "pyramid %dpx level %d", s, l);
      TU_ASSERT_CLOSE(what, got[l], wf, cnt, 1e-5, 2e-6);
      free(wf);
      free(got[l]);
    }
    free_levels(want, levels);
    clgan_swd_destroy(swd);
    clgan_buf_release(&owner);
    free(x);
  }
}
END_TEST

/* Normalised descriptors of one level against the reference, through an
 * index list. */
START_TEST(test_swd_descriptors) {
  metrics_tuning(0, 0, _i ? 3 : 0, 0); /* 4 images: one pass, or 3 + 1 */
  int n = 6, c = 2, s = 32;
  float *x = make_images(n, c, s, 21, 0.2f);
  clgan_buf owner;
  clgan_image_set set = upload_set(x, n, c, s, 1, 5, &owner);
  clgan_swd_config cfg = clgan_swd_default_config(c, s, n);
  cfg.nhoods = 20;
  cfg.seed = 99;
  clgan_swd *swd;
  clgan_swd_desc *d;
  TU_OK(clgan_swd_create(tu_ctx(), &cfg, &swd));
  TU_OK(clgan_swd_desc_create(swd, &d));
  int idx[4] = {4, 1, 1, 3};
  TU_OK(clgan_swd_describe(swd, &set, idx, 4, d));
  ck_assert_int_eq(clgan_swd_desc_count(d), 4);
  int sizes[CLGAN_SWD_MAX_LEVELS], levels = clgan_swd_levels(&cfg, sizes);
  float *sub = tu_malloc(sizeof(float) * 4 * c * s * s);
  for (int i = 0; i < 4; i++)
    memcpy(sub + (size_t)i * c * s * s, x + (size_t)idx[i] * c * s * s, sizeof(float) * c * s * s);
  double **pyr = ref_pyramid(sub, 4, c, s, levels, sizes);
  for (int l = 0; l < levels; l++) {
    size_t cnt = (size_t)4 * cfg.nhoods * c * 49;
    double *want = ref_descriptors(pyr[l], 4, c, sizes[l], cfg.nhoods, l, cfg.seed);
    float *got = tu_malloc(sizeof(float) * cnt), *wf = tu_malloc(sizeof(float) * cnt);
    TU_OK(clgan_swd_desc_read(swd, d, l, got));
    for (size_t i = 0; i < cnt; i++) wf[i] = (float)want[i];
    TU_ASSERT_CLOSE("descriptors", got, wf, cnt, 1e-4, 1e-4);
    free(want), free(got), free(wf);
  }
  free_levels(pyr, levels);
  free(sub);
  clgan_swd_desc_destroy(d);
  clgan_swd_destroy(swd);
  clgan_buf_release(&owner);
  free(x);
  metrics_tuning(0, 0, 0, 0);
}
END_TEST

static const int sort_methods[] = {1, 2};

/* The distance against the reference with both sorts (loop index). */
START_TEST(test_swd_against_reference) {
  /* bitonic with small blocks too, and the pyramid in passes of 2 */
  metrics_tuning(sort_methods[_i], _i == 1 ? 64 : 0, _i == 1 ? 2 : 0, 0);
  struct { int n, c, s, nh, reps, dirs; } cases[] = {{7, 1, 64, 24, 2, 16}, {5, 3, 32, 30, 3, 8}};
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    int n = cases[t].n, c = cases[t].c, s = cases[t].s;
    float *a = make_images(n, c, s, 31 + t, 0.2f), *b = make_images(n, c, s, 41 + t, 0.5f);
    clgan_buf oa, ob;
    clgan_image_set sa = upload_set(a, n, c, s, 0, 0, &oa), sb = upload_set(b, n, c, s, 1, 9, &ob);
    clgan_swd_config cfg = clgan_swd_default_config(c, s, n + 2);
    cfg.nhoods = cases[t].nh;
    cfg.dir_repeats = cases[t].reps;
    cfg.dirs_per_repeat = cases[t].dirs;
    cfg.seed = 1234 + t;
    clgan_swd *swd;
    clgan_swd_desc *da, *db;
    TU_OK(clgan_swd_create(tu_ctx(), &cfg, &swd));
    TU_OK(clgan_swd_desc_create(swd, &da));
    TU_OK(clgan_swd_desc_create(swd, &db));
    TU_OK(clgan_swd_describe(swd, &sa, NULL, n, da));
    TU_OK(clgan_swd_describe(swd, &sb, NULL, n, db));
    double got[CLGAN_SWD_MAX_LEVELS], want[CLGAN_SWD_MAX_LEVELS], mean, self;
    TU_OK(clgan_swd_distance(swd, da, db, got, &mean));
    ref_swd(a, b, n, &cfg, want);
    int levels = clgan_swd_levels(&cfg, NULL);
    double wmean = 0;
    for (int l = 0; l < levels; l++) {
      fprintf(stderr, "swd sort %d case %zu level %d: device %.6f reference %.6f\n", sort_methods[_i],
              t, l, got[l], want[l]);
      ck_assert_msg(fabs(got[l] - want[l]) <= 1e-3 * fabs(want[l]) + 1e-4, "level %d: %g vs %g", l,
                    got[l], want[l]);
      ck_assert(want[l] > 1);
      wmean += want[l] / levels;
    }
    ck_assert(fabs(mean - wmean) <= 1e-3 * wmean);
    /* SWD(A, A) = 0 exactly: equal descriptors, equal sorted projections */
    TU_OK(clgan_swd_distance(swd, da, da, got, &self));
    ck_assert_msg(self == 0.0, "SWD(A, A) = %g", self);
    /* symmetric */
    double ba;
    TU_OK(clgan_swd_distance(swd, db, da, NULL, &ba));
    ck_assert(fabs(ba - mean) <= 1e-6 * mean);
    /* a different count is refused */
    TU_OK(clgan_swd_describe(swd, &sb, NULL, n - 1, db));
    ck_assert_int_eq(clgan_swd_distance(swd, da, db, NULL, &ba), CLGAN_ERR_INVALID);
    clgan_swd_desc_destroy(da), clgan_swd_desc_destroy(db);
    clgan_swd_destroy(swd);
    clgan_buf_release(&oa), clgan_buf_release(&ob);
    free(a), free(b);
  }
  metrics_tuning(0, 0, 0, 0);
}
END_TEST

/* SWD grows as B moves away from A: B_t = (1 - t) A' + t noise where A' is
 * another draw of A's distribution. */
START_TEST(test_swd_grows_with_shift) {
  int n = 16, c = 1, s = 32;
  float *a = make_images(n, c, s, 51, 0.1f), *a2 = make_images(n, c, s, 52, 0.1f);
  float *noise = tu_malloc(sizeof(float) * n * c * s * s), *b = tu_malloc(sizeof(float) * n * c * s * s);
  tu_fill_uniform(noise, (size_t)n * c * s * s, 53, -1, 1);
  clgan_swd_config cfg = clgan_swd_default_config(c, s, n);
  clgan_swd *swd;
  clgan_swd_desc *da, *db;
  TU_OK(clgan_swd_create(tu_ctx(), &cfg, &swd));
  TU_OK(clgan_swd_desc_create(swd, &da));
  TU_OK(clgan_swd_desc_create(swd, &db));
  clgan_buf oa, ob;
  clgan_image_set sa = upload_set(a, n, c, s, 0, 0, &oa);
  TU_OK(clgan_swd_describe(swd, &sa, NULL, n, da));
  double prev = -1;
  const double ts[] = {0, 0.1, 0.3, 0.6, 1.0};
  for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) {
    for (size_t i = 0; i < (size_t)n * c * s * s; i++)
      b[i] = (float)((1 - ts[k]) * a2[i] + ts[k] * noise[i]);
    clgan_image_set sb = upload_set(b, n, c, s, 0, 0, &ob);
    double mean;
    TU_OK(clgan_swd_describe(swd, &sb, NULL, n, db));
    TU_OK(clgan_swd_distance(swd, da, db, NULL, &mean));
    fprintf(stderr, "swd shift t=%.1f: %.3f\n", ts[k], mean);
    ck_assert_msg(mean > prev, "SWD %g at t=%g not above %g", mean, ts[k], prev);
    prev = mean;
    clgan_buf_release(&ob);
  }
  clgan_swd_desc_destroy(da), clgan_swd_desc_destroy(db);
  clgan_swd_destroy(swd);
  clgan_buf_release(&oa);
  free(a), free(a2), free(noise), free(b);
}
END_TEST

/* Both row sorts against qsort, on awkward values and lengths. */
START_TEST(test_sort_rows) {
  clgan_ctx *ctx = tu_ctx();
  const size_t lens[] = {1, 2, 3, 17, 256, 1000, 4097};
  for (int method = 1; method <= 2; method++)
    for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
      metrics_tuning(0, (t & 1) ? 4 : 0, 0, 0);
      size_t n = lens[t], rows = 5, ld = clgan_metrics_pow2(n < 2 ? 2 : n);
      float *x = tu_malloc(sizeof(float) * rows * ld);
      tu_fill_normal(x, rows * ld, 60 + t, 0, 100);
      for (size_t i = 0; i < rows * ld; i += 7) x[i] = (float)(int)x[i]; /* duplicates */
      if (n > 4) x[0] = 0.0f, x[1] = -0.0f, x[2] = -1e30f, x[3] = 1e30f;
      clgan_buf b = tu_upload(NULL, rows * ld + 3), tmp = tu_upload(NULL, rows * ld + 3);
      TU_OK(clgan_buf_write(ctx, clgan_buf_at(b, 3), x, rows * ld));
      clgan_metrics_sort_plan plan;
      TU_OK(clgan_metrics_sort_plan_make(ctx, method, &plan));
      ck_assert_int_eq(plan.method, method);
      TU_OK(clgan_metrics_sort_rows(ctx, &plan, clgan_buf_at(b, 3), rows, n, ld,
                                    clgan_buf_at(tmp, 1)));
      TU_OK(clgan_ctx_finish(ctx));
      float *got = tu_download(b, rows * ld + 3);
      for (size_t r = 0; r < rows; r++) {
        double *want = tu_malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++) want[i] = x[r * ld + i];
        qsort(want, n, sizeof(double), cmp_d);
        for (size_t i = 0; i < n; i++)
          ck_assert_msg(got[3 + r * ld + i] == (float)want[i], "method %d n %zu row %zu [%zu]: %g vs %g",
                        method, n, r, i, got[3 + r * ld + i], want[i]);
        free(want);
      }
      free(got), free(x);
      clgan_buf_release(&b), clgan_buf_release(&tmp);
    }
  metrics_tuning(0, 0, 0, 0);
}
END_TEST

/* ---- MS-SSIM reference (ms_ssim.py in double) ---------------------------------- */

static const double ms_weights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

/* _SSIMForMultiScale on one pair of [c][s][s] images in [0, 1]. */
static void ref_ssim_scale(const double *a, const double *b, int c, int s, double *ssim, double *cs) {
  int size = s < 11 ? s : 11;
  double sigma = size * 1.5 / 11, win[11][11], sum = 0;
  for (int i = 0; i < size; i++)
    for (int j = 0; j < size; j++) {
      double y = i - (size - 1) / 2.0, x = j - (size - 1) / 2.0;
      win[i][j] = exp(-(x * x + y * y) / (2 * sigma * sigma));
      sum += win[i][j];
    }
  for (int i = 0; i < size; i++)
    for (int j = 0; j < size; j++) win[i][j] /= sum;
  int v = s - size + 1;
  double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03, ss = 0, cc = 0;
  for (int k = 0; k < c; k++)
    for (int y = 0; y < v; y++)
      for (int x = 0; x < v; x++) {
        double m1 = 0, m2 = 0, s11 = 0, s22 = 0, s12 = 0;
        for (int i = 0; i < size; i++)
          for (int j = 0; j < size; j++) {
            double p = a[((size_t)k * s + y + i) * s + x + j], q = b[((size_t)k * s + y + i) * s + x + j];
            m1 += win[i][j] * p, m2 += win[i][j] * q;
            s11 += win[i][j] * p * p, s22 += win[i][j] * q * q, s12 += win[i][j] * p * q;
          }
        s11 -= m1 * m1, s22 -= m2 * m2, s12 -= m1 * m2;
        double v1 = 2 * s12 + c2, v2 = s11 + s22 + c2;
        ss += ((2 * m1 * m2 + c1) * v1) / ((m1 * m1 + m2 * m2 + c1) * v2);
        cc += v1 / v2;
      }
  *ssim = ss / ((double)c * v * v);
  *cs = cc / ((double)c * v * v);
}

/* convolve(im, ones(2,2)/4, mode='reflect')[::2, ::2] */
static double *ref_down2(const double *in, int c, int s, int *so) {
  int o = (s + 1) / 2;
  double *out = tu_malloc(sizeof(double) * c * o * o);
  for (int k = 0; k < c; k++)
    for (int y = 0; y < o; y++)
      for (int x = 0; x < o; x++) {
        double acc = 0;
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 2; j++) {
            int yy = 2 * y + i, xx = 2 * x + j;
            if (yy >= s) yy = 2 * s - 1 - yy; /* 'reflect': s -> s - 1 */
            if (xx >= s) xx = 2 * s - 1 - xx;
            acc += in[((size_t)k * s + yy) * s + xx];
          }
        out[((size_t)k * o + y) * o + x] = acc / 4;
      }
  *so = o;
  return out;
}

/* MultiScaleSSIM on [-1, 1] images (mapped to [0, 1]); *ssim0 = scale 0's ssim. */
static double ref_msssim(const float *a, const float *b, int c, int s, double *ssim0) {
  double *x = tu_malloc(sizeof(double) * c * s * s), *y = tu_malloc(sizeof(double) * c * s * s);
  for (int i = 0; i < c * s * s; i++) x[i] = 0.5 * a[i] + 0.5, y[i] = 0.5 * b[i] + 0.5;
  double mssim[5], mcs[5];
  int cur = s;
  for (int l = 0; l < 5; l++) {
    ref_ssim_scale(x, y, c, cur, &mssim[l], &mcs[l]);
    int so;
    double *x2 = ref_down2(x, c, cur, &so), *y2 = ref_down2(y, c, cur, &so);
    free(x), free(y);
    x = x2, y = y2, cur = so;
  }
  free(x), free(y);
  double v = 1;
  for (int l = 0; l < 4; l++) v *= pow(fmax(mcs[l], 0), ms_weights[l]);
  *ssim0 = mssim[0];
  return v * pow(fmax(mssim[4], 0), ms_weights[4]);
}

START_TEST(test_msssim_against_reference) {
  metrics_tuning(0, _i == 0 ? 0 : 32, 0, 0);
  struct { int n, c, s; } cases[] = {{6, 1, 64}, {5, 3, 33}, {4, 2, 16}, {3, 1, 11}};
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    int n = cases[t].n, c = cases[t].c, s = cases[t].s;
    /* a: images; b: noisier versions of some of them, so SSIM spans a range */
    float *a = make_images(n, c, s, 70 + t, 0.05f), *b = make_images(n, c, s, 70 + t, 0.3f);
    clgan_buf oa, ob;
    clgan_image_set sa = upload_set(a, n, c, s, 1, 2, &oa), sb = upload_set(b, n, c, s, 0, 0, &ob);
    clgan_msssim *m;
    TU_OK(clgan_msssim_create(tu_ctx(), c, s, &m));
    int np = 2 * n, *ia = tu_malloc(sizeof(int) * np), *ib = tu_malloc(sizeof(int) * np);
    /* the first n pairs similar (an image and its noisier version), the rest unrelated */
    for (int p = 0; p < np; p++) ia[p] = p % n, ib[p] = p < n ? p : (p * 3 + 1) % n;
    float *ms = tu_malloc(sizeof(float) * np), *ss = tu_malloc(sizeof(float) * np);
    float *ss_only = tu_malloc(sizeof(float) * np);
    TU_OK(clgan_msssim_pairs(m, &sa, &sb, ia, ib, np, ms, ss));
    TU_OK(clgan_msssim_pairs(m, &sa, &sb, ia, ib, np, NULL, ss_only));
    for (int p = 0; p < np; p++) {
      size_t img = (size_t)c * s * s;
      double s0, want = ref_msssim(a + ia[p] * img, b + ib[p] * img, c, s, &s0);
      if (p < 2 || p == n)
        fprintf(stderr, "msssim %dx%d c%d pair %d: device %.6f/%.6f reference %.6f/%.6f\n", s, s, c,
                p, ms[p], ss[p], want, s0);
      ck_assert_msg(fabs(ms[p] - want) < 2e-5 + 1e-4 * fabs(want), "case %zu pair %d: ms-ssim %.7f vs %.7f",
                    t, p, ms[p], want);
      ck_assert_msg(fabs(ss[p] - s0) < 2e-5, "case %zu pair %d: ssim %.7f vs %.7f", t, p, ss[p], s0);
      ck_assert(ss_only[p] == ss[p]);
    }
    /* ssim(x, x) = ms-ssim(x, x) = 1 exactly */
    TU_OK(clgan_msssim_pairs(m, &sa, &sa, ia, ia, np, ms, ss));
    for (int p = 0; p < np; p++) {
      ck_assert_msg(ms[p] == 1.0f && ss[p] == 1.0f, "self pair %d: %.9f %.9f", p, ms[p], ss[p]);
    }
    clgan_msssim_destroy(m);
    clgan_buf_release(&oa), clgan_buf_release(&ob);
    free(a), free(b), free(ia), free(ib), free(ms), free(ss), free(ss_only);
  }
  metrics_tuning(0, 0, 0, 0);
}
END_TEST

/* Many pairs (several workspace chunks at 256 px) equal pair-by-pair runs. */
START_TEST(test_msssim_chunks_and_diversity) {
  int n = 3, c = 1, s = 256;
  float *a = make_images(n, c, s, 80, 0.2f);
  clgan_buf oa;
  clgan_image_set sa = upload_set(a, n, c, s, 0, 0, &oa);
  clgan_msssim *m;
  TU_OK(clgan_msssim_create(tu_ctx(), c, s, &m));
  int np = 300, *ia = tu_malloc(sizeof(int) * np), *ib = tu_malloc(sizeof(int) * np);
  clgan_metrics_random_pairs(3, n, np, ia, ib);
  for (int p = 0; p < np; p++) ck_assert(ia[p] != ib[p] && ia[p] >= 0 && ib[p] < n);
  float *all = tu_malloc(sizeof(float) * np);
  TU_OK(clgan_msssim_pairs(m, &sa, &sa, ia, ib, np, all, NULL));
  for (int p = 0; p < np; p += 37) {
    float one;
    TU_OK(clgan_msssim_pairs(m, &sa, &sa, ia + p, ib + p, 1, &one, NULL));
    ck_assert_msg(one == all[p], "pair %d: %g alone, %g in a batch", p, one, all[p]);
  }
  double div, div2, want = 0;
  TU_OK(clgan_msssim_diversity(m, &sa, np, 3, &div));
  for (int p = 0; p < np; p++) want += all[p] / np;
  ck_assert(fabs(div - want) < 1e-6);
  TU_OK(clgan_msssim_diversity(m, &sa, np, 3, &div2));
  ck_assert(div == div2);
  ck_assert(div < 0.9);
  clgan_msssim_destroy(m);
  clgan_buf_release(&oa);
  free(a), free(ia), free(ib), free(all);
}
END_TEST

/* ---- nearest neighbours ------------------------------------------------------- */

START_TEST(test_nn_against_brute_force) {
  const int segs[] = {0, 1, 3, 7};
  metrics_tuning(0, 0, 0, segs[_i]);
  int nq = 23, nr = 37, c = 2, s = 12;
  size_t img = (size_t)c * s * s;
  float *r = make_images(nr, c, s, 90, 0.3f), *q = make_images(nq, c, s, 91, 0.3f);
  /* some queries are near-copies of references, one an exact copy */
  for (int i = 0; i < nq; i += 4)
    for (size_t j = 0; j < img; j++) q[i * img + j] = r[((i * 5) % nr) * img + j] + (i ? 1e-3f * (j % 3) : 0);
  /* a tie: references 5 and 20 are the same image, query 1 is it too; the
   * lowest index must win (also across segments) */
  memcpy(r + 20 * img, r + 5 * img, sizeof(float) * img);
  memcpy(q + 1 * img, r + 5 * img, sizeof(float) * img);
  clgan_buf oq, orr;
  clgan_image_set sq = upload_set(q, nq, c, s, 1, 1, &oq), sr = upload_set(r, nr, c, s, 0, 4, &orr);
  clgan_nn *nn;
  TU_OK(clgan_nn_create(tu_ctx(), c, s, 64, &nn));
  for (int mode = 0; mode < 2; mode++) {
    const float *Q = mode ? r : q;
    int n = mode ? nr : nq;
    int *idx = tu_malloc(sizeof(int) * n);
    float *rms = tu_malloc(sizeof(float) * n);
    TU_OK(clgan_nn_search(nn, mode ? &sr : &sq, &sr, mode, idx, rms));
    for (int i = 0; i < n; i++) {
      double best = INFINITY;
      int bi = -1;
      for (int j = 0; j < nr; j++) {
        if (mode && j == i) continue;
        double d = 0;
        for (size_t p = 0; p < img; p++) d += pow((double)Q[i * img + p] - r[j * img + p], 2);
        if (d < best) best = d, bi = j;
      }
      double want = sqrt(best / img) / 2;
      ck_assert_msg(idx[i] == bi, "mode %d query %d: nearest %d, brute force %d", mode, i, idx[i], bi);
      ck_assert_msg(fabs(rms[i] - want) <= 1e-5 + 1e-4 * want, "query %d: rms %g vs %g", i, rms[i], want);
      if (!mode && i <= 1) ck_assert(rms[i] == 0.0f);
      if (!mode && i == 1) ck_assert_int_eq(idx[i], 5);
    }
    free(idx), free(rms);
  }
  clgan_nn_destroy(nn);
  clgan_buf_release(&oq), clgan_buf_release(&orr);
  free(q), free(r);
  metrics_tuning(0, 0, 0, 0);
}
END_TEST

/* ---- folder + evaluator ----------------------------------------------------- */

static char tmpdir[256];

static void write_png_image(const char *path, const float *chw, int c, int s) {
  float *hwc = tu_malloc(sizeof(float) * c * s * s);
  for (int k = 0; k < c; k++)
    for (int p = 0; p < s * s; p++) hwc[p * c + k] = 0.5f * (chw[(size_t)k * s * s + p] + 1);
  TU_OK(clgan_png_write(path, s, s, c, 8, hwc));
  free(hwc);
}

/* A folder of identical images: diversity exactly 1; a nested ImageFolder
 * tree loads recursively, sorted. */
START_TEST(test_folder_identical_diversity) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clgan_test_metrics_%d", (int)getpid());
  char path[512];
  int s = 32;
  float *one = make_images(1, 1, s, 100, 0.2f);
  snprintf(path, sizeof path, "%s/same/class_a", tmpdir);
  TU_OK(clgan_make_dirs(path));
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/same/%s/img_%d.png", tmpdir, i < 3 ? "class_a" : "class_b", i);
    if (i == 3) {
      snprintf(path, sizeof path, "%s/same/class_b", tmpdir);
      TU_OK(clgan_make_dirs(path));
      snprintf(path, sizeof path, "%s/same/class_b/img_%d.png", tmpdir, i);
    }
    write_png_image(path, one, 1, s);
  }
  snprintf(path, sizeof path, "%s/same/notes.txt", tmpdir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("not an image", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/same", tmpdir);
  int pc = 0, ps = 0;
  TU_OK(clgan_image_folder_probe(path, &pc, &ps));
  ck_assert_int_eq(pc, 1);
  ck_assert_int_eq(ps, s);
  clgan_image_folder *fo;
  TU_OK(clgan_image_folder_load(path, s, 1, &fo));
  ck_assert_int_eq(fo->count, 6);
  ck_assert(strstr(fo->files[0], "class_a/img_0.png") && strstr(fo->files[5], "class_b/img_5.png"));
  clgan_buf b = tu_upload(fo->data, (size_t)fo->count * s * s);
  clgan_image_set set = clgan_image_set_nchw(b, fo->count, 1, s);
  clgan_msssim *m;
  TU_OK(clgan_msssim_create(tu_ctx(), 1, s, &m));
  double div;
  TU_OK(clgan_msssim_diversity(m, &set, 50, 0, &div));
  ck_assert_msg(div == 1.0, "diversity of identical images %.9f", div);
  clgan_msssim_destroy(m);
  clgan_buf_release(&b);
  clgan_image_folder_free(fo);
  snprintf(path, sizeof path, "%s/missing", tmpdir);
  ck_assert_int_eq(clgan_image_folder_load(path, s, 1, &fo), CLGAN_ERR_IO);
  free(one);
}
END_TEST

/* The evaluator: generated = copies of real images (memorised: distance 0,
 * SSIM 1, SWD 0 on equal sets) vs generated = noise. */
START_TEST(test_eval_end_to_end) {
  int nr = 24, c = 1, s = 32;
  float *real = make_images(nr, c, s, 110, 0.2f);
  clgan_buf orr, of;
  clgan_image_set sr = upload_set(real, nr, c, s, 0, 0, &orr);
  clgan_eval_config cfg = clgan_eval_default_config(c, s, 40);
  cfg.pairs = 60;
  cfg.closest = 4;
  cfg.swd_nhoods = 32;
  clgan_eval *ev;
  TU_OK(clgan_eval_create(tu_ctx(), &cfg, &sr, &ev));
  clgan_eval_report rep;
  /* 1: the real set itself, as CNHW */
  clgan_image_set sf = upload_set(real, nr, c, s, 1, 3, &of);
  TU_OK(clgan_eval_run(ev, &sf, &rep));
  ck_assert_int_eq(rep.swd_images, nr);
  ck_assert_int_eq(rep.swd_levels, 2);
  ck_assert_msg(rep.swd_mean == 0.0, "swd %g", rep.swd_mean);
  ck_assert(rep.msssim_fake == rep.msssim_real);
  ck_assert(rep.nn_fake_min == 0 && rep.nn_fake_median == 0 && rep.nn_ssim_mean == 1.0);
  ck_assert(rep.nn_real_min > 0 && rep.nn_real_p5 <= rep.nn_real_median);
  ck_assert(rep.nn_fake_below_real_p5 == 1.0);
  ck_assert_int_eq(rep.nclosest, 4);
  const int *near;
  clgan_eval_nearest(ev, &near, NULL, NULL);
  for (int i = 0; i < nr; i++) ck_assert_int_eq(near[i], i);
  char path[512];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clgan_test_metrics_%d", (int)getpid());
  TU_OK(clgan_make_dirs(tmpdir));
  snprintf(path, sizeof path, "%s/closest.png", tmpdir);
  TU_OK(clgan_eval_write_closest(ev, &sf, path));
  clgan_image png;
  TU_OK(clgan_png_read(path, &png));
  ck_assert_int_eq(png.width, 2 * (s + 2) + 2);
  ck_assert_int_eq(png.height, 4 * (s + 2) + 2);
  /* each row's two tiles are the same image */
  for (int y = 0; y < s; y++)
    for (int x = 0; x < s; x++)
      ck_assert(png.pixels[(2 + y) * png.width + 2 + x] == png.pixels[(2 + y) * png.width + s + 4 + x]);
  clgan_image_free(&png);
  clgan_buf_release(&of);
  /* 2: 40 noise images (SWD on a 24-image subset of them) */
  float *noise = tu_malloc(sizeof(float) * 40 * c * s * s);
  tu_fill_uniform(noise, (size_t)40 * c * s * s, 111, -1, 1);
  sf = upload_set(noise, 40, c, s, 0, 0, &of);
  clgan_eval_report rep2;
  TU_OK(clgan_eval_run(ev, &sf, &rep2));
  ck_assert_int_eq(rep2.swd_images, nr);
  ck_assert(rep2.swd_mean > 20);
  ck_assert(rep2.msssim_real == rep.msssim_real);
  ck_assert(rep2.msssim_fake < 0.1);
  ck_assert(rep2.nn_ssim_mean < 0.3);
  for (int j = 1; j < rep2.nclosest; j++) ck_assert(rep2.closest_rms[j - 1] <= rep2.closest_rms[j]);
  fprintf(stderr, "eval: noise SWD %.2f, MS-SSIM fake %.4f real %.4f, nn %.4f vs real %.4f\n",
          rep2.swd_mean, rep2.msssim_fake, rep2.msssim_real, rep2.nn_fake_median, rep2.nn_real_median);
  /* too many generated images, and a wrong geometry, are refused */
  clgan_image_set bad = sf;
  bad.count = 41;
  ck_assert_int_eq(clgan_eval_run(ev, &bad, &rep2), CLGAN_ERR_INVALID);
  bad = sf;
  bad.channels = 2;
  bad.count = 10;
  ck_assert_int_eq(clgan_eval_run(ev, &bad, &rep2), CLGAN_ERR_INVALID);
  clgan_eval_destroy(ev);
  clgan_buf_release(&of), clgan_buf_release(&orr);
  free(real), free(noise);
}
END_TEST

START_TEST(test_invalid_sets) {
  clgan_buf b = tu_upload(NULL, 100);
  clgan_image_set s = clgan_image_set_nchw(b, 2, 1, 8); /* needs 128 floats */
  clgan_msssim *m;
  TU_OK(clgan_msssim_create(tu_ctx(), 1, 8, &m));
  int ia = 0, ib = 1;
  float v;
  ck_assert_int_eq(clgan_msssim_pairs(m, &s, &s, &ia, &ib, 1, &v, NULL), CLGAN_ERR_INVALID);
  s.count = 1;
  ck_assert_int_eq(clgan_msssim_pairs(m, &s, &s, &ia, &ib, 1, &v, NULL), CLGAN_ERR_INVALID);
  clgan_msssim_destroy(m);
  clgan_swd_config cfg = clgan_swd_default_config(1, 8, 4);
  clgan_swd *swd;
  ck_assert_int_eq(clgan_swd_create(tu_ctx(), &cfg, &swd), CLGAN_ERR_INVALID);
  clgan_buf_release(&b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, test_swd_levels_picks_directions);
  tcase_add_test(tc, test_swd_pyramid);
  tcase_add_loop_test(tc, test_swd_descriptors, 0, 2);
  tcase_add_loop_test(tc, test_swd_against_reference, 0, 2);
  tcase_add_test(tc, test_swd_grows_with_shift);
  tcase_add_test(tc, test_sort_rows);
  tcase_add_loop_test(tc, test_msssim_against_reference, 0, 2);
  tcase_add_test(tc, test_msssim_chunks_and_diversity);
  tcase_add_loop_test(tc, test_nn_against_brute_force, 0, 4);
  tcase_add_test(tc, test_folder_identical_diversity);
  tcase_add_test(tc, test_eval_end_to_end);
  tcase_add_test(tc, test_invalid_sets);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  tu_remove_tree(tmpdir);
  return rc;
}
