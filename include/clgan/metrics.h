/* Evaluation metrics computed on the device, with nothing downloaded: how
 * close generated images are to the real ones (sliced Wasserstein distance),
 * how diverse they are (MS-SSIM of random pairs), and whether they copy the
 * training images (nearest neighbours).
 *
 * Images. Every metric reads square images of values in [-1, 1] (the
 * generator's and the data loader's range) from a device buffer through a
 * clgan_image_set, which names their layout, so both the data set's
 * [count][c][s][s] (NCHW) and the engine's batch layout [c][count][s][s]
 * (CNHW, clgan_dcgan_fake) are read in place.
 *
 * Plans. Each metric has a plan, created once for an image geometry and a
 * capacity: it builds the kernels and allocates every device workspace then.
 * The computing calls afterwards allocate nothing on the device (they upload
 * small index arrays into buffers the plan owns) and build nothing, so a
 * trainer can evaluate a fixed subset every N steps. The calls block: they
 * read their few results back. A plan belongs to one context and must not be
 * used from two threads at once.
 *
 * Determinism. All random choices (SWD neighbourhoods and directions, image
 * pairs, subsets) come from an explicit seed through the functions below, so
 * a host reference can reproduce them; reductions use a fixed order, so the
 * same inputs give the same numbers on a given device. */
#ifndef CLGAN_METRICS_H
#define CLGAN_METRICS_H

#include <stdint.h>

#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Image sets ---------------------------------------------------------- */

/* `count` images of channels x size x size floats in [-1, 1]: pixel (y, x)
 * of channel k of image i is buf[buf.off + i*image_stride + k*channel_stride
 * + y*size + x]. */
typedef struct clgan_image_set {
  clgan_buf buf;
  int count, channels, size;
  size_t image_stride, channel_stride;
} clgan_image_set;

/* [count][channels][size][size], e.g. a clgan_dataset uploaded as is. */
clgan_image_set clgan_image_set_nchw(clgan_buf buf, int count, int channels, int size);
/* [channels][count][size][size], the engine's batch layout (clgan_dcgan_fake,
 * with count = the batch). */
clgan_image_set clgan_image_set_cnhw(clgan_buf buf, int count, int channels, int size);

/* A folder of images on the host, for evaluation: every *.png (any case)
 * under dir, recursively, names starting with '.' skipped, sorted by path
 * (byte order), so an ImageFolder root (root/<class>/...), one class folder
 * and a flat folder of generated images (`clgan generate --out DIR`) all
 * load. Each goes through clgan_image_resize_crop (clgan/dataset.h) to
 * channels (1 or 3) x size x size, then to [-1, 1]. A .png that does not
 * decode is skipped and counted. */
typedef struct clgan_image_folder {
  int count, channels, size;
  float *data;        /* [count][channels][size][size] in [-1, 1] */
  char **files;       /* [count] paths */
  int skipped;        /* undecodable .png files */
  char first_error[256]; /* the first of them, "path: reason" */
} clgan_image_folder;

/* Errors: dir missing (CLGAN_ERR_IO), no decodable PNG (CLGAN_ERR_INVALID),
 * bad size/channels (CLGAN_ERR_INVALID), out of memory. */
clgan_status clgan_image_folder_load(const char *dir, int size, int channels,
                                     clgan_image_folder **out);
void clgan_image_folder_free(clgan_image_folder *f); /* accepts NULL */
/* The first PNG under dir (same order): its channel count as evaluate uses
 * it (gray and gray+alpha 1, else 3) and its shorter side. */
clgan_status clgan_image_folder_probe(const char *dir, int *channels, int *size);

/* npairs random pairs (ia[p], ib[p]) of distinct indices in [0, n), n >= 2,
 * drawn from seed (xoshiro256**, as src/train/rng.c). */
void clgan_metrics_random_pairs(uint64_t seed, int n, int npairs, int *ia, int *ib);

/* The first k of a seeded random permutation of [0, n) (k <= n), in the
 * permutation's order: the subset used when two sets differ in size. */
void clgan_metrics_random_subset(uint64_t seed, int n, int k, int *out);

/* ---- Sliced Wasserstein distance (ProGAN, Karras et al. 2018) ---------------
 * As progressive_growing_of_gans/metrics/sliced_wasserstein.py:
 *  - a Laplacian pyramid per image: the 5x5 binomial filter ([1,4,6,4,1]/16
 *    separable) with scipy's 'mirror' border (d c b | a b c d | c b a);
 *    pyr_down = filter, then every second pixel (size ceil(s/2));
 *    pyr_up = zero insertion to twice the size, filter with gain 4;
 *    level l = G_l - pyr_up(G_{l+1}) (pyr_up cropped to G_l's size when s is
 *    odd, where ProGAN itself fails), the last level the smallest Gaussian
 *    level G_{L-1}. One level per resolution res = size, size/2, ... (integer
 *    halving) while res >= min_resolution: 64 px gives 64, 32, 16.
 *  - per image and level, `nhoods` 7x7 neighbourhoods at centres drawn by
 *    clgan_swd_pick; a descriptor is the channels*49 values [c][7][7];
 *  - per set and level, every descriptor value minus the mean and divided by
 *    the standard deviation of its channel (over every descriptor and the 49
 *    positions; population std; a channel with std 0 is only centred);
 *  - per level, dir_repeats times: dirs_per_repeat random unit directions
 *    (clgan_swd_directions), both sets projected, each direction's
 *    projections sorted, the mean absolute difference of the sorted
 *    sequences; averaged over the repeats, then x 1e3 (ProGAN's report).
 * Both sets must hold the same number of images (sorted sequences of the
 * same length, as in ProGAN). Any channel count. */

#define CLGAN_SWD_MAX_LEVELS 16
#define CLGAN_SWD_NHOOD_SIZE 7

typedef struct clgan_swd_config {
  int channels;         /* >= 1 */
  int size;             /* image side, >= min_resolution */
  int max_images;       /* capacity of a descriptor set (>= 1) */
  int nhoods;           /* neighbourhoods per image per level: 128 */
  int dir_repeats;      /* 4 */
  int dirs_per_repeat;  /* 128 */
  int min_resolution;   /* 16 (>= 7) */
  uint64_t seed;        /* picks and directions: 0 */
} clgan_swd_config;

/* ProGAN's settings for images of this geometry. */
clgan_swd_config clgan_swd_default_config(int channels, int size, int max_images);

/* Number of pyramid levels and the side of each (levels <= CLGAN_SWD_MAX_LEVELS;
 * sizes may be NULL). 0 if the configuration is invalid. */
int clgan_swd_levels(const clgan_swd_config *cfg, int *sizes);

/* Neighbourhood `nhood` of image `image` at pyramid level `level` (side
 * level_size >= 7): its centre (cx, cy), each uniform in [3, level_size - 4]
 * (numpy's randint(3, s - 3)), from a counter-based hash (splitmix64) of
 * (seed, level, image, nhood): the device kernel computes the same. */
void clgan_swd_pick(uint64_t seed, int level, int image, int nhood, int level_size, int *cx,
                    int *cy);

/* The `count` unit directions of repeat `repeat` at level `level` for
 * descriptors of `dim` values: out[count][dim], each row N(0, 1) values
 * (xoshiro256** + Box-Muller, seeded from (seed, level, repeat)) divided by
 * its norm. */
void clgan_swd_directions(uint64_t seed, int level, int repeat, int dim, int count, float *out);

typedef struct clgan_swd clgan_swd;           /* plan */
typedef struct clgan_swd_desc clgan_swd_desc; /* one set's descriptors on the device */

/* Builds the kernels, uploads every direction, allocates the pyramid,
 * projection and sort workspaces (about 2 x dirs_per_repeat x
 * pow2(max_images x nhoods) floats for the projections). */
clgan_status clgan_swd_create(clgan_ctx *ctx, const clgan_swd_config *cfg, clgan_swd **out);
void clgan_swd_destroy(clgan_swd *swd); /* accepts NULL */
const clgan_swd_config *clgan_swd_get_config(const clgan_swd *swd);

/* A descriptor store for up to max_images images: levels x max_images x
 * nhoods x channels*49 floats of device memory. */
clgan_status clgan_swd_desc_create(clgan_swd *swd, clgan_swd_desc **out);
void clgan_swd_desc_destroy(clgan_swd_desc *d); /* accepts NULL */
/* Images described so far (0 after creation). */
int clgan_swd_desc_count(const clgan_swd_desc *d);

/* Computes the normalised descriptors of images (all of them, or the n
 * listed in `indices` when it is not NULL; n <= max_images) into d. The
 * neighbourhoods of the j-th described image are clgan_swd_pick(.., j, ..),
 * so two calls on equal images give equal descriptors. */
clgan_status clgan_swd_describe(clgan_swd *swd, const clgan_image_set *images,
                                const int *indices, int n, clgan_swd_desc *d);

/* Reads level `level`'s normalised descriptors back: out[count*nhoods][channels*49]
 * (row j*nhoods + h is image j's neighbourhood h). For tests and tools. */
clgan_status clgan_swd_desc_read(clgan_swd *swd, const clgan_swd_desc *d, int level, float *out);

/* SWD x 1e3 between two described sets of equal count: per_level[levels]
 * (may be NULL) and their mean (may be NULL). */
clgan_status clgan_swd_distance(clgan_swd *swd, const clgan_swd_desc *a, const clgan_swd_desc *b,
                                double *per_level, double *mean);

/* The Laplacian pyramid of the images (all of them), read back for tests:
 * level l of image i, channel k, at out[l] + ((i*channels + k)*s_l + y)*s_l + x
 * where s_l = clgan_swd_levels' sizes[l]. out[l] must hold count*channels*s_l^2. */
clgan_status clgan_swd_pyramid(clgan_swd *swd, const clgan_image_set *images, float **out);

/* ---- MS-SSIM (Wang, Simoncelli, Bovik 2003) ----------------------------------
 * Exactly the implementation ProGAN evaluates diversity with
 * (progressive_growing_of_gans/metrics/ms_ssim.py, from Google's
 * tensorflow/models msssim.py; checked against it with numpy/scipy to 1e-6),
 * on images mapped to [0, 1] (max_val 1, as 255 for ProGAN's uint8):
 *  - 5 scales, weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
 *  - per scale an 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, only
 *    "valid" windows (no padding). Where the image is smaller than 11 px at a
 *    scale (64 px images are 8 and 4 px at the last two), the window shrinks
 *    to the image side w and sigma to w * 1.5 / 11 (as that implementation
 *    does), so every scale is used and the weights stay the paper's;
 *  - ssim_j, cs_j = means over every valid position and channel of the SSIM
 *    map and of the contrast-structure map;
 *  - between scales, 2x2 averaging (odd sides, where ProGAN's version
 *    fails, repeat the last row/column as Google's msssim.py does);
 *  - MS-SSIM = prod_{j<4} cs_j^w_j * ssim_4^w_4 with negative cs and ssim
 *    values clipped to 0 (as ProGAN's version: "otherwise we get NaNs").
 * SSIM (single scale) = ssim_0, the usual 11x11 Gaussian SSIM. Identical
 * images give exactly 1. */

#define CLGAN_MSSSIM_SCALES 5

typedef struct clgan_msssim clgan_msssim;

/* A plan for images of this geometry (any channel count, size >= 1). Pairs
 * are processed in chunks that fit a fixed workspace (about 64 MiB at most). */
clgan_status clgan_msssim_create(clgan_ctx *ctx, int channels, int size, clgan_msssim **out);
void clgan_msssim_destroy(clgan_msssim *m); /* accepts NULL */

/* For p < npairs: image ia[p] of a against image ib[p] of b (a and b may be
 * the same set). msssim[p] and ssim[p] receive MS-SSIM and single-scale SSIM;
 * either may be NULL (with msssim NULL only the first scale is computed). */
clgan_status clgan_msssim_pairs(clgan_msssim *m, const clgan_image_set *a,
                                const clgan_image_set *b, const int *ia, const int *ib,
                                int npairs, float *msssim, float *ssim);

/* Mean MS-SSIM over npairs random pairs of distinct images of set
 * (clgan_metrics_random_pairs(seed, ...)); set->count >= 2. */
clgan_status clgan_msssim_diversity(clgan_msssim *m, const clgan_image_set *set, int npairs,
                                    uint64_t seed, double *mean);

/* ---- Nearest neighbours (memorisation) ------------------------------------
 * Brute force on the device: for each query image, the reference image at
 * the smallest L2 distance over all channels*size^2 values (ties: the lowest
 * index), the distance summed directly as (a - b)^2 (no |a|^2 + |b|^2 - 2ab
 * cancellation, so near-copies stay exact). */

typedef struct clgan_nn clgan_nn;

/* A plan for up to max_queries queries (references are unlimited). */
clgan_status clgan_nn_create(clgan_ctx *ctx, int channels, int size, int max_queries,
                             clgan_nn **out);
void clgan_nn_destroy(clgan_nn *nn); /* accepts NULL */

/* nearest[i] = index into refs of query i's nearest reference, rms[i] = the
 * root-mean-square difference of the pair on the [0, 1] intensity scale,
 * sqrt(sum((q - r)^2) / (channels*size^2)) / 2 (an L2 distance; 0 = a copy).
 * exclude_same: queries and refs are the same set; image i never matches
 * itself (refs->count >= 2). Either output may be NULL. */
clgan_status clgan_nn_search(clgan_nn *nn, const clgan_image_set *queries,
                             const clgan_image_set *refs, int exclude_same, int *nearest,
                             float *rms);

/* ---- Everything at once: a real set against generated sets ---------------- */

#define CLGAN_EVAL_MAX_CLOSEST 64

typedef struct clgan_eval_config {
  int channels, size;
  int max_fake;        /* the most generated images one run is given */
  int pairs;           /* random pairs per set for MS-SSIM diversity: 1000 */
  int closest;         /* closest (generated, real) pairs kept: 8 */
  uint64_t seed;       /* pairs, subsets, SWD picks and directions: 0 */
  int swd_nhoods, swd_dir_repeats, swd_dirs_per_repeat, swd_min_resolution; /* 128, 4, 128, 16 */
} clgan_eval_config;

clgan_eval_config clgan_eval_default_config(int channels, int size, int max_fake);

typedef struct clgan_eval_report {
  int nreal, nfake;
  /* SWD x 1e3 on swd_images images of each set (the smaller count; the
   * larger set contributes a seeded random subset) */
  int swd_images, swd_levels;
  int swd_resolution[CLGAN_SWD_MAX_LEVELS];
  double swd[CLGAN_SWD_MAX_LEVELS], swd_mean;
  /* diversity: mean MS-SSIM over random pairs within each set (pairs_fake,
   * pairs_real of them); generated far above real = collapse */
  int pairs_fake, pairs_real;
  double msssim_fake, msssim_real;
  /* memorisation: RMS distance ([0, 1] scale) from each generated image to
   * its nearest real image, against each real image's nearest other real
   * image; percentiles interpolate linearly (numpy's default) */
  double nn_fake_min, nn_fake_p5, nn_fake_median;
  double nn_real_min, nn_real_p5, nn_real_median;
  double nn_ssim_mean, nn_ssim_max;   /* SSIM of each generated image with its nearest real */
  double nn_fake_below_real_p5;       /* fraction of generated images nearer to a real one
                                         than the real set's own 5th percentile */
  int nclosest;                       /* the closest pairs, nearest first */
  int closest_fake[CLGAN_EVAL_MAX_CLOSEST], closest_real[CLGAN_EVAL_MAX_CLOSEST];
  float closest_rms[CLGAN_EVAL_MAX_CLOSEST], closest_ssim[CLGAN_EVAL_MAX_CLOSEST];
  /* wall-clock seconds of each part of the run (the real set's one-time
   * work is in the first run's numbers) */
  double seconds_swd, seconds_msssim, seconds_nn;
} clgan_eval_report;

typedef struct clgan_eval clgan_eval;

/* Creates every plan for the real set, which must stay valid (and
 * unchanged) while the evaluator lives; real->count >= 2. Work that depends
 * on the real set only (its diversity, its nearest-neighbour distances, its
 * SWD descriptors) is done once, on the first run. */
clgan_status clgan_eval_create(clgan_ctx *ctx, const clgan_eval_config *cfg,
                               const clgan_image_set *real, clgan_eval **out);
void clgan_eval_destroy(clgan_eval *ev); /* accepts NULL */

/* Every metric for a generated set (2 <= fake->count <= max_fake). */
clgan_status clgan_eval_run(clgan_eval *ev, const clgan_image_set *fake, clgan_eval_report *rep);

/* Per generated image of the last run: nearest real index, RMS distance and
 * SSIM of the pair (arrays of fake->count, owned by ev, valid until the next
 * run). */
void clgan_eval_nearest(const clgan_eval *ev, const int **nearest, const float **rms,
                        const float **ssim);

/* Writes the last run's closest pairs as one PNG: a row per pair, nearest
 * first, generated image left, its nearest real image right (2 px borders).
 * 1 or 3 channels as they are; other counts show channel 0. fake must be
 * the set of the last run. */
clgan_status clgan_eval_write_closest(clgan_eval *ev, const clgan_image_set *fake,
                                      const char *path);

#ifdef __cplusplus
}
#endif
#endif
