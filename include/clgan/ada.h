/* ADA (Karras et al. 2020), the adaptive augmentation strength, as clgan
 * applies it: after every step r_t = mean sign of D's logits on the real
 * batch joins an interval of CLGAN_ADA_INTERVAL (4) steps; at its end p
 * moves by sign(mean r_t - target) * batch * 4 / 500,000, clamped to
 * [0, 1] (the rule, in float: CLGAN_ADA_NEXT_P in clgan/kernel_abi.h).
 *
 * On the device: the sign mean and the update are kernels, and the state
 * (p, the interval's sum and count) lives in a device buffer of
 * CLGAN_ADA_STATE_FLOATS floats that the augmentation reads p from, so no
 * step waits for the host because of ADA. clgan_ada_observe is the host
 * twin of the update (same arithmetic, same bits). */
#ifndef CLGAN_ADA_H
#define CLGAN_ADA_H

#include <stdint.h>

#include "clgan/kernel_abi.h"
#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Augmentation state: the RNG seed, the call counter (three augmentations
 * per step, each with fresh randomness) and the per-op probability p (1 for
 * plain DiffAugment; ADA starts at 0 and adjusts it). Saved in checkpoints. */
typedef struct clgan_augment_state {
  uint64_t seed, counter;
  float p;
  float ada_sum; /* ADA: sum of r_t over the steps of the current interval */
  int ada_count; /* ADA: steps in the current interval so far */
} clgan_augment_state;

/* The plan of ADA for one batch size: its kernels (borrowed from the
 * context; no destroy) and every choice. */
typedef struct clgan_ada_plan {
  cl_kernel sign_mean, update;
  int batch;         /* logits per real batch */
  size_t sign_local; /* sign_mean's one work-group: a power of two <= CLGAN_ADA_SIGN_LOCAL */
  float target;      /* ADA's target for r_t */
  float delta;       /* CLGAN_ADA_DELTA(batch): p's move per interval */
} clgan_ada_plan;

clgan_status clgan_ada_plan_make(clgan_ctx *ctx, int batch, float target, clgan_ada_plan *out);

/* rt[0] = mean(sign(logits)) over the plan's batch of floats (sign(0) = 0):
 * ADA's r_t. One work-group, exact (the sum of signs is an integer). */
clgan_status clgan_ada_sign_mean(clgan_ctx *ctx, const clgan_ada_plan *plan, clgan_buf logits,
                                 clgan_buf rt);

/* One step's observation on the device: state [CLGAN_ADA_STATE_FLOATS]
 * gets P_STEP = P (the p this step used), then rt[0] joins the interval and
 * at its end p moves by the rule. One work-item, nothing read back. */
clgan_status clgan_ada_update(clgan_ctx *ctx, const clgan_ada_plan *plan, clgan_buf rt,
                              clgan_buf state);

/* The host twin of clgan_ada_update on state's p, ada_sum and ada_count:
 * feed r_t after every step. Returns 1 when p was updated. */
int clgan_ada_observe(clgan_augment_state *state, float rt, float target, int batch);

/* state's p, ada_sum, ada_count to and from the device layout (P_STEP set
 * to p); unpack leaves seed and counter alone. */
void clgan_ada_state_pack(const clgan_augment_state *state, float out[CLGAN_ADA_STATE_FLOATS]);
void clgan_ada_state_unpack(const float in[CLGAN_ADA_STATE_FLOATS], clgan_augment_state *state);

#ifdef __cplusplus
}
#endif
#endif
