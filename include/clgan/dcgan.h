/* The seed's DCGAN (DESIGN §1) as two static layer graphs on one context,
 * with its training step. Build once (clgan_dcgan_create: layers, parameter
 * arenas, every activation and workspace buffer, every kernel), then run
 * steps that allocate and build nothing. */
#ifndef CLGAN_DCGAN_H
#define CLGAN_DCGAN_H

#include "clgan/ada.h" /* clgan_augment_state */
#include "clgan/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_dcgan_config {
  int image_size;   /* 32, 64, 128 or 256: one stride-2 stage per doubling above 4 */
  int channels;     /* nc: 1 (gray) or 3 */
  int nz;           /* latent size */
  int ngf, ndf;     /* generator / discriminator widths */
  int batch;
  float lr_g, lr_d; /* Adam learning rates (2e-4 in the recipe) */
  float beta1, beta2, adam_eps; /* 0.5, 0.999, 1e-8 */
  float bn_momentum, bn_eps;    /* 0.1, 1e-5 */
  float lrelu_slope;            /* 0.2 */
  /* Stability switches, all off in the recipe: */
  float label_smooth; /* one-sided label smoothing: D's real label is 1 - label_smooth */
  float ema_decay;    /* exponential moving average of G's weights, used for
                         sampling and export (0: off; 0.999 is usual) */
  int nan_guard;      /* skip a step whose gradients are not finite */
  /* Small-data training (off in the recipe): */
  unsigned augment;   /* DiffAugment policy (clgan_aug_policy bits) on every D input */
  int ada;            /* adaptive augmentation strength (each step adjusts p, on the device) */
  float ada_target;   /* ADA's target for r_t = E[sign(D's logit on real)] (0.6 by default) */
  /* D's regularisers (off in the recipe; clgan/regularize.h): */
  float lecam;        /* LeCam weight (0: off) */
  int spectral_norm;  /* spectral normalisation of D's conv weights */
  float consistency;  /* bCR weight on real and fake (0: off) */
  /* One model for every class (off in the recipe; clgan/cond.h): */
  int conditional;    /* G on [z; E_g[y]], D a projection discriminator */
  int num_classes;    /* classes (>= 1 with conditional; 0 otherwise) */
  int embed_dim;      /* width of E_g (G's first ConvTranspose takes nz + embed_dim) */
  int projection;     /* D a projection discriminator instead of on [x; one-hot planes of y] */
  int balanced_sampling; /* real batches drawn class-balanced (the trainer's) */
} clgan_dcgan_config;

/* The recipe's defaults (from the list in clgan/config.h): 64 px, 3 channels,
 * nz 100, ngf = ndf = 64, batch 128, Adam(2e-4, 0.5, 0.999, 1e-8), BN momentum
 * 0.1 eps 1e-5, LeakyReLU 0.2, every switch off. */
clgan_dcgan_config clgan_dcgan_default_config(void);

typedef enum clgan_net { CLGAN_NET_G = 0, CLGAN_NET_D = 1 } clgan_net;

/* One named tensor of a network, in PyTorch's state_dict order and naming
 * (the tutorial's nn.Sequential: "main.0.weight", "main.1.weight",
 * "main.1.bias", "main.1.running_mean", "main.1.running_var"). Trainable
 * parameters live in the parameter arena; running statistics in the
 * statistics arena. `offset` counts floats within its arena. */
typedef struct clgan_tensor_desc {
  char name[48];
  int ndim;
  int shape[4];     /* PyTorch shape (conv weights keep PyTorch's layouts) */
  size_t count;
  size_t offset;
  int is_param;     /* 1: parameter arena, 0: running-statistics arena */
} clgan_tensor_desc;

/* Which arena of a network to read or write: host arrays are in the arena's
 * order, i.e. the concatenation of its tensors in clgan_dcgan_tensors order. */
typedef enum clgan_arena {
  CLGAN_ARENA_PARAM = 0, /* weights, gammas, betas */
  CLGAN_ARENA_GRAD,      /* their gradients */
  CLGAN_ARENA_ADAM_M,    /* Adam first moments */
  CLGAN_ARENA_ADAM_V,    /* Adam second moments */
  CLGAN_ARENA_STATS,     /* BatchNorm running means and variances */
  CLGAN_ARENA_EMA,       /* G only, with ema_decay > 0: averaged weights (else empty) */
  CLGAN_ARENA_EMA_STATS, /* G only, with ema_decay > 0: the BatchNorm running statistics of
                            the averaged weights, recomputed from CLGAN_EMA_STATS_BATCHES
                            fixed noise batches whenever they are read after a step */
  CLGAN_ARENA_COUNT
} clgan_arena;

/* Per-iteration figures, as the tutorial prints them. */
typedef struct clgan_dcgan_stats {
  float loss_d;   /* errD_real + errD_fake */
  float loss_g;
  float d_x;      /* mean D(x) on the real batch */
  float d_g_z1;   /* mean D(G(z)) before the D step */
  float d_g_z2;   /* mean D(G(z)) after the D step */
  int skipped;    /* nan_guard: bit 0 the D update, bit 1 the G update was skipped */
  float sign_real;/* mean sign of D's logits on the real batch (ADA's r_t) */
  float augment_p;/* the augmentation probability this step used (0: augmentation off) */
  float lecam;    /* LeCam's terms of the D step, real + fake, before its weight (0: off) */
  float consistency; /* bCR's terms of the D step likewise (0: off) */
} clgan_dcgan_stats;

typedef struct clgan_dcgan clgan_dcgan;

/* Builds both networks for cfg on ctx. Weights are zero until initialised
 * (clgan_dcgan_init_weights) or written (clgan_dcgan_arena_write); Adam
 * moments start at 0, BN running means at 0 and running variances at 1. */
clgan_status clgan_dcgan_create(clgan_ctx *ctx, const clgan_dcgan_config *cfg,
                                clgan_dcgan **out);

/* The recipe's initialisation from a host RNG seeded with seed: conv weights
 * N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0 (G first, then D). */
clgan_status clgan_dcgan_init_weights(clgan_dcgan *net, uint64_t seed);
void clgan_dcgan_destroy(clgan_dcgan *net); /* accepts NULL */

const clgan_dcgan_config *clgan_dcgan_get_config(const clgan_dcgan *net);

/* Tensor list of a network (valid while net lives). */
void clgan_dcgan_tensors(const clgan_dcgan *net, clgan_net which,
                         const clgan_tensor_desc **list, int *count);
/* Floats in an arena of a network. */
size_t clgan_dcgan_arena_floats(const clgan_dcgan *net, clgan_net which,
                                clgan_arena arena);
/* Blocking copies of a whole arena between host and device. */
clgan_status clgan_dcgan_arena_read(clgan_dcgan *net, clgan_net which,
                                    clgan_arena arena, float *host);
clgan_status clgan_dcgan_arena_write(clgan_dcgan *net, clgan_net which,
                                     clgan_arena arena, const float *host);

/* One training iteration in the recipe's order: D.zero_grad; D(real)
 * backward (label 1); fake = G(z); D(fake.detach()) backward (label 0);
 * D step; G.zero_grad; D(fake) backward into G (label 1); G step.
 * real: device buffer [channels, batch, size, size] in [-1, 1] (C,N,H,W);
 * noise: device buffer [nz, batch]. stats may be NULL (then nothing is read
 * back and the step does not wait for the device).
 * Afterwards D's GRAD arena holds the gradients of the D step (real + fake)
 * and G's those of the G step: D's parameter gradients are not computed in
 * the G step, which only needs D's input gradient.
 * With nan_guard, an update whose gradients hold NaN or Inf is not applied
 * (nor the running statistics of that pass) and stats->skipped says which;
 * the step then always waits for the device.
 * With augmentation, every D input is augmented with the device's p; with
 * ada, the step ends by feeding r_t to ADA's update on the device. */
clgan_status clgan_dcgan_step(clgan_dcgan *net, clgan_buf real, clgan_buf noise,
                              clgan_dcgan_stats *stats);
/* The same step with its statistics read one step behind: they are copied
 * to host memory by a non-blocking read queued behind the step, and
 * clgan_dcgan_stats_take returns them (the oldest pending step's first),
 * waiting only if they have not arrived. So the host can queue the next step
 * before it looks at this one's figures, and the device never waits for
 * the host in between. At most two steps may be pending. The figures are
 * those clgan_dcgan_step gives. */
clgan_status clgan_dcgan_step_deferred(clgan_dcgan *net, clgan_buf real, clgan_buf noise);
clgan_status clgan_dcgan_stats_take(clgan_dcgan *net, clgan_dcgan_stats *stats);
/* Steps whose statistics are pending (0, 1 or 2). */
int clgan_dcgan_stats_pending(const clgan_dcgan *net);

/* Adam steps taken by a network (PyTorch's per-parameter "step"); set when
 * restoring a checkpoint. */
long clgan_dcgan_adam_steps(const clgan_dcgan *net, clgan_net which);
void clgan_dcgan_set_adam_steps(clgan_dcgan *net, clgan_net which, long steps);

/* One layer of the model summary. */
typedef struct clgan_layer_info {
  clgan_net net;
  char desc[96];       /* "ConvTranspose2d(100, 512, 4, 1, 0) BN ReLU" */
  int out_c, out_h, out_w;  /* per image */
  size_t params;       /* weights + BN affine */
  double flops;        /* forward FLOPs of the conv for the whole batch (2 x MACs) */
  size_t device_bytes; /* activations and saved statistics kept for backward */
} clgan_layer_info;

/* Fills up to cap layers (G first, then D) and returns how many exist. */
int clgan_dcgan_layers(const clgan_dcgan *net, clgan_layer_info *out, int cap);

/* FLOPs of one training iteration (D on real, G, D on fake, D on fake again
 * for G's step; each backward as 2x its forward, minus the passes skipped),
 * for img/s <-> GFLOP/s conversions. */
double clgan_dcgan_step_flops(const clgan_dcgan *net);

/* The augmentation state (clgan/ada.h): seed and counter are the host's,
 * p and ADA's interval live on the device (the step updates them there), so
 * these read and write the device (blocking). set: INVALID unless p is in
 * [0, 1] and ada_count >= 0. */
clgan_status clgan_dcgan_get_augment(clgan_dcgan *net, clgan_augment_state *state);
clgan_status clgan_dcgan_set_augment(clgan_dcgan *net, const clgan_augment_state *state);

/* Device bytes allocated by the model (arenas, activations, workspaces). */
size_t clgan_dcgan_device_bytes(const clgan_dcgan *net);

/* The averaged generator (ema_decay > 0). Its horizon ramps up from the start
 * of training: after G's t-th update the decay is min(ema_decay,
 * (1 + t) / (10 + t)), so early averages are not dominated by the initial
 * weights. Its BatchNorm statistics are its own: a forward pass in training
 * mode over this many batches of fixed noise, averaged with equal weights
 * (PyTorch's swa_utils.update_bn), never G's running statistics. */
#define CLGAN_EMA_STATS_BATCHES 8
#define CLGAN_EMA_STATS_SEED 0x454d41u /* "EMA": the host RNG's seed for that noise, drawn
                                          as one clgan_rng_normal call over every batch */
float clgan_ema_decay_at(float ema_decay, long g_updates);

typedef enum clgan_bn_mode {
  CLGAN_BN_RUNNING = 0, /* evaluation mode: running statistics (generate, export) */
  CLGAN_BN_BATCH        /* the batch's own statistics, as the tutorial's samples */
} clgan_bn_mode;

/* G alone on noise [nz, batch]; the images land in clgan_dcgan_fake(net).
 * Uses the averaged weights when ema_decay > 0, with their own running
 * statistics in CLGAN_BN_RUNNING mode (refreshed first when a step changed
 * the weights). G's running statistics are never changed. */
clgan_status clgan_dcgan_generate(clgan_dcgan *net, clgan_buf noise, clgan_bn_mode mode);

/* Device buffer holding G's last output [channels, batch, size, size]. */
clgan_buf clgan_dcgan_fake(const clgan_dcgan *net);

#ifdef __cplusplus
}
#endif
#endif
