/* D's regularisers for small data, all off in the recipe:
 *
 * LeCam (Tseng et al. 2021, "Regularizing GANs under Limited Data"):
 *   R_LC = E[(D(x) - a_F)^2] + E[(D(G(z)) - a_R)^2] added to D's loss with
 *   weight `lecam`, D(.) the logits, a_R / a_F moving averages (decay
 *   CLGAN_LECAM_DECAY, the paper's code) of D's mean logit on real / fake,
 *   held constant in the gradient. The paper's formula, not its code's
 *   ReLU-clipped variant.
 * Spectral normalisation (Miyato et al. 2018; torch.nn.utils.spectral_norm):
 *   every Conv2d weight of D, W [out, in*k*k], is used as W_sn = W / sigma,
 *   sigma = u^T W v from one power iteration per training forward (v =
 *   normalize(W^T u), u = normalize(W v)); the gradient reaches W as
 *   (G - <G, W_sn> u v^T) / sigma with u and v held constant.
 * Balanced consistency regularisation (bCR, Zhao et al. 2020):
 *   weight * (E[(D(x) - D(T(x)))^2] + E[(D(G(z)) - D(T(G(z))))^2]) in D's
 *   loss, gradients through both branches, T the --augment policy (or
 *   translation,cutout) at full strength.
 *
 * The ops here work on device buffers; the model (src/train/regularize.c)
 * runs them inside the step. */
#ifndef CLGAN_REGULARIZE_H
#define CLGAN_REGULARIZE_H

#include "clgan/dcgan.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLGAN_LECAM_DECAY 0.99f
#define CLGAN_SN_EPS 1e-12f /* PyTorch's spectral_norm eps */
/* LeCam's state: [a_R, a_F, seen_R, seen_F] (seen: the anchor was set once) */
#define CLGAN_LECAM_STATE_FLOATS 4

/* One-work-group ops over a batch of n logits (like clgan_bce_plan). */
typedef struct clgan_logit_reg_plan {
  cl_kernel lecam, consistency; /* lecam_step, consistency_step (cl/regularize.cl) */
  size_t count, local;
} clgan_logit_reg_plan;

clgan_status clgan_logit_reg_plan_make(clgan_ctx *ctx, size_t count, clgan_logit_reg_plan *out);

/* LeCam on the logits of one side (which 0: real, 1: fake): dlogits +=
 * weight * 2 (x - a_other) / n, out[0] = mean((x - a_other)^2) (both 0
 * while a_other is unset), then a_which moves towards mean(x) with decay
 * (set to it the first time). state: CLGAN_LECAM_STATE_FLOATS floats. */
clgan_status clgan_lecam_step(clgan_ctx *ctx, const clgan_logit_reg_plan *plan, clgan_buf logits,
                              int which, float decay, float weight, clgan_buf state,
                              clgan_buf dlogits, clgan_buf out);

/* bCR: out[0] = mean((x1 - x2)^2); dl1 += weight * 2 (x1 - x2) / n, dl2 =
 * -weight * 2 (x1 - x2) / n (overwritten). */
clgan_status clgan_consistency_step(clgan_ctx *ctx, const clgan_logit_reg_plan *plan, clgan_buf x1,
                                    clgan_buf x2, float weight, clgan_buf dl1, clgan_buf dl2,
                                    clgan_buf out);

/* Spectral normalisation of one weight W [rows, cols]: its kernels and
 * work-group sizes. */
typedef struct clgan_sn_plan {
  int rows, cols;
  cl_kernel wt_u, row_dot, reduce, scale, grad_map; /* cl/regularize.cl */
  size_t row_local, vec_local;
} clgan_sn_plan;

clgan_status clgan_sn_plan_make(clgan_ctx *ctx, int rows, int cols, clgan_sn_plan *out);
/* Floats of the work buffer of one weight: rows of scratch, then sigma and
 * <G, W_sn> (which the backward reads: keep it from the forward). */
size_t clgan_sn_work_floats(const clgan_sn_plan *plan);

/* w_sn = w / sigma. With update (a training forward): one power iteration
 * first, v = normalize(W^T u), u = normalize(W v) (u [rows], v [cols] in
 * place), sigma = u . W v; without (evaluation): sigma = u . W v with the
 * stored u, v. sigma is left in work. */
clgan_status clgan_sn_forward(clgan_ctx *ctx, const clgan_sn_plan *plan, clgan_buf w, clgan_buf u,
                              clgan_buf v, clgan_buf work, clgan_buf w_sn, int update);
/* dw (+)= (g - <g, w_sn> u v^T) / sigma, g the gradient of w_sn, with the
 * u, v and sigma of the forward that made w_sn. */
clgan_status clgan_sn_backward(clgan_ctx *ctx, const clgan_sn_plan *plan, clgan_buf g,
                               clgan_buf w_sn, clgan_buf u, clgan_buf v, clgan_buf work,
                               clgan_buf dw, int accumulate);

/* The regularisers' state a checkpoint keeps, as named tensors over one
 * host array (in the list's order): "train.lecam_anchors" [4] with lecam,
 * "netD.main.<i>.weight_u" [out] and "netD.main.<i>.weight_v" [in*k*k]
 * (PyTorch's spectral_norm buffers) with spectral_norm. Empty otherwise. */
int clgan_dcgan_reg_tensors(const clgan_dcgan *net, const clgan_tensor_desc **list);
size_t clgan_dcgan_reg_floats(const clgan_dcgan *net);
/* Blocking copies of that state; a write also remakes D's effective weights
 * from the stored u and v (no power iteration), so that an evaluation
 * forward of D sees the loaded model. */
clgan_status clgan_dcgan_reg_read(clgan_dcgan *net, float *host);
clgan_status clgan_dcgan_reg_write(clgan_dcgan *net, const float *host);

#ifdef __cplusplus
}
#endif
#endif
