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

#include "clgan/kernel_abi.h" /* policies, op bits, the record layout */
#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The constants (policies clgan_aug_policy, op bits clgan_aug_op, the
 * record stride CLGAN_AUG_STRIDE and slots CLGAN_AUG_P_*) are in
 * clgan/kernel_abi.h, shared with the kernels. */

/* Floats of workspace the ops need for this shape: n * CLGAN_AUG_STRIDE. */
size_t clgan_augment_work_floats(int c, int n, int h, int w);

/* The plan of one augmentation (policy, shape): its kernels, built for c
 * channels, and the per-image reductions' work-group size (the context's
 * tuning.augment_local, else the device's; a power of two <= 64). Kernel
 * handles are borrowed from the context; no destroy. After it, a frozen
 * context runs the plan's forward and backward without building. */
typedef struct clgan_augment_plan {
  unsigned policy;          /* clgan_aug_policy bits */
  int c, n, h, w;           /* x, y [c, n, h, w] */
  cl_kernel params, forward, gather;
  cl_kernel reduce, color;  /* backward with COLOR only (else NULL) */
  size_t local;             /* work-group of augment_params, augment_backward_reduce */
  float inv_c, inv_chw;     /* 1/c, 1/(c*h*w): the kernels' means multiply by these */
  int first_image;          /* index of image 0 in the draws: 0, or where a rank's share
                               of a larger batch starts (each image's draw is its own) */
} clgan_augment_plan;

clgan_status clgan_augment_plan_make(clgan_ctx *ctx, unsigned policy, int c, int n, int h, int w,
                                     clgan_augment_plan *out);

/* Draws per-image parameters into work (seed, counter; each op applied with
 * probability p, the float at p (a device buffer: ADA keeps it on the
 * device), when its group is in the policy), then y = aug(x). x, y
 * [c, n, h, w] must not overlap. p outside [0, 1] acts as clamped to it
 * (NaN as 0). */
clgan_status clgan_augment_forward(clgan_ctx *ctx, const clgan_augment_plan *plan, uint64_t seed,
                                   uint64_t counter, clgan_buf p, clgan_buf x, clgan_buf y,
                                   clgan_buf work);

/* dx = aug^T(dy), the exact adjoint of the matching forward (same plan),
 * from the parameters it left in work (which this call also writes:
 * GRAD_MEAN). Without COLOR the per-image reduction is skipped. dx is
 * overwritten; dy, dx must not overlap. */
clgan_status clgan_augment_backward(clgan_ctx *ctx, const clgan_augment_plan *plan,
                                    clgan_buf work, clgan_buf dy, clgan_buf dx);

/* Blocking read of the n records of work into out[n * CLGAN_AUG_STRIDE]. */
clgan_status clgan_augment_read_params(clgan_ctx *ctx, int n, clgan_buf work, float *out);

/* The record the device draws for image `image` (MEAN and GRAD_MEAN left 0),
 * computed on the host, bit-identical to the device's. */
void clgan_augment_params_host(unsigned policy, float p, uint64_t seed, uint64_t counter,
                               int image, int h, int w, float out[CLGAN_AUG_STRIDE]);

/* "color,translation,cutout" (any subset, any order, "" or "none" for 0)
 * to a policy; INVALID naming the bad word otherwise. */
clgan_status clgan_augment_parse_policy(const char *text, unsigned *policy);

/* The policy as parse reads it: "color,translation,cutout" (its groups in
 * that order), "none" for 0; truncated to cap. */
void clgan_augment_format_policy(unsigned policy, char *buf, size_t cap);

/* Philox4x32-10 (Salmon et al. 2011, Random123) on the host: the same
 * function the kernels use. */
void clgan_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#ifdef __cplusplus
}
#endif
#endif
