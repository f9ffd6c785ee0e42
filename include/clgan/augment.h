/* Differentiable augmentation on the device: DiffAugment (Zhao et al. 2020,
 * the official DiffAugment-pytorch semantics) with ADA's per-op probability
 * (Karras et al. 2020), forward and backward, on x [c, n, h, w] (the engine's
 * layout).
 *
 * Ops, applied in this order (a policy is any subset of the three groups):
 *   COLOR       brightness  x + b,                    b ~ U[-0.5, 0.5) per image
 *               saturation  (x - mean_c) * s + mean_c, s ~ U[0, 2); mean_c is
 *                           the per-pixel mean over channels (a no-op when c = 1)
 *               contrast    (x - mean_i) * k + mean_i, k ~ U[0.5, 1.5); mean_i is
 *                           the mean over the whole image (all channels, pixels)
 *   TRANSLATION y(i, j) = x(i + dh, j + dw), zero where that is outside;
 *               dh, dw integers in [-s, s] with s = int(size / 8 + 0.5)
 *               (rows use h, columns use w)
 *   CUTOUT      zeroes rows [oh - ch/2, oh - ch/2 + ch) x columns
 *               [ow - cw/2, ow - cw/2 + cw), clipped to the image, where
 *               ch = int(h / 2 + 0.5), oh in [0, h + (1 - ch % 2)) (likewise
 *               for columns): DiffAugment's rand_cutout exactly.
 * With probability p (ADA) each of the five ops is applied to each image
 * independently: p = 1 is plain DiffAugment, p = 0 is the identity (bitwise:
 * an op not applied is skipped, not applied with neutral parameters).
 *
 * Random numbers: Philox4x32-10 keyed by the 64-bit seed, counter words
 * (image, op, call counter low, call counter high); the parameters therefore
 * depend only on (seed, counter, image, op, p, policy, h, w), not on the
 * device, the batch size or the other ops, and clgan_augment_params_host
 * reproduces them bit for bit. Use a fresh counter for every augmentation of
 * a training run (e.g. step * 4 + call index).
 *
 * All ops are linear in x, so the backward needs only the parameters the
 * forward saved in the workspace. No allocation, no atomics: per-image
 * reductions run one work-group per image over a fixed 64-lane partition,
 * so the sums are the same whatever the work-group size; the kernels use
 * only correctly rounded adds and multiplies (no FMA contraction, no device
 * division), so y and dx are the same bits on every conforming device.
 * Launches: forward 2 (draw + image mean, per-pixel apply); backward 1
 * without COLOR (mask + inverse shift), 3 with it (+ gradient mean, colour
 * adjoints in place on dx). */
#ifndef CLGAN_AUGMENT_H
#define CLGAN_AUGMENT_H

#include <stdint.h>

#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clgan_aug_policy {
  CLGAN_AUG_COLOR = 1,       /* brightness, saturation, contrast */
  CLGAN_AUG_TRANSLATION = 2,
  CLGAN_AUG_CUTOUT = 4,
  CLGAN_AUG_ALL = 7
} clgan_aug_policy;

/* The five ops, as bits of a workspace record's FLAGS (which were applied). */
typedef enum clgan_aug_op {
  CLGAN_AUG_OP_BRIGHTNESS = 1,
  CLGAN_AUG_OP_SATURATION = 2,
  CLGAN_AUG_OP_CONTRAST = 4,
  CLGAN_AUG_OP_TRANSLATION = 8,
  CLGAN_AUG_OP_CUTOUT = 16
} clgan_aug_op;

/* Workspace layout: one record of CLGAN_AUG_STRIDE floats per image, image b
 * at work + b * CLGAN_AUG_STRIDE. Parameters of ops not applied hold their
 * neutral values (0, 1, 1, 0, 0) and their FLAGS bit is clear. */
#define CLGAN_AUG_STRIDE 12
enum {
  CLGAN_AUG_P_FLAGS = 0,    /* bitmask of clgan_aug_op applied, as a float */
  CLGAN_AUG_P_BRIGHTNESS,   /* b */
  CLGAN_AUG_P_SATURATION,   /* s */
  CLGAN_AUG_P_CONTRAST,     /* k */
  CLGAN_AUG_P_SHIFT_H,      /* dh (integer) */
  CLGAN_AUG_P_SHIFT_W,      /* dw (integer) */
  CLGAN_AUG_P_CUT_H,        /* oh, cutout centre row (integer) */
  CLGAN_AUG_P_CUT_W,        /* ow, cutout centre column (integer) */
  CLGAN_AUG_P_MEAN,         /* forward: mean of the input image x (COLOR only) */
  CLGAN_AUG_P_GRAD_MEAN     /* backward: mean of the gradient at contrast's output */
};

/* Floats of workspace the ops need for this shape: n * CLGAN_AUG_STRIDE. */
size_t clgan_augment_work_floats(int c, int n, int h, int w);

/* Draws per-image parameters into work (seed, counter; each op applied with
 * probability p in [0, 1] when its group is in policy), then y = aug(x).
 * x, y [c, n, h, w] must not overlap. */
clgan_status clgan_augment_forward(clgan_ctx *ctx, unsigned policy, float p, uint64_t seed,
                                   uint64_t counter, int c, int n, int h, int w, clgan_buf x,
                                   clgan_buf y, clgan_buf work);

/* dx = aug^T(dy), the exact adjoint of the matching forward, from the
 * parameters it left in work (which this call also writes: GRAD_MEAN).
 * policy must be the forward's (without COLOR the per-image reduction is
 * skipped). dx is overwritten; dy, dx must not overlap. */
clgan_status clgan_augment_backward(clgan_ctx *ctx, unsigned policy, int c, int n, int h, int w,
                                    clgan_buf work, clgan_buf dy, clgan_buf dx);

/* Creates the kernels for c channels ahead of a planned (frozen) step:
 * after it, forward, backward and clgan_sign_mean neither build nor create
 * kernels for that channel count. */
clgan_status clgan_augment_reserve(clgan_ctx *ctx, int c);

/* Blocking read of the n records of work into out[n * CLGAN_AUG_STRIDE]. */
clgan_status clgan_augment_read_params(clgan_ctx *ctx, int n, clgan_buf work, float *out);

/* The record the device draws for image `image` (MEAN and GRAD_MEAN left 0),
 * computed on the host, bit-identical to the device's. */
void clgan_augment_params_host(unsigned policy, float p, uint64_t seed, uint64_t counter,
                               int image, int h, int w, float out[CLGAN_AUG_STRIDE]);

/* "color,translation,cutout" (any subset, any order, "" or "none" for 0)
 * to a policy; INVALID naming the bad word otherwise. */
clgan_status clgan_augment_parse_policy(const char *text, unsigned *policy);

/* out[0] = mean(sign(x)) over count floats (sign(0) = 0): ADA's overfitting
 * statistic r_t from D's logits on real images. One work-group, exact (the
 * sum of signs is an integer), so deterministic on every device. */
clgan_status clgan_sign_mean(clgan_ctx *ctx, size_t count, clgan_buf x, clgan_buf out);

/* Philox4x32-10 (Salmon et al. 2011, Random123) on the host: the same
 * function the kernels use. */
void clgan_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#ifdef __cplusplus
}
#endif
#endif
