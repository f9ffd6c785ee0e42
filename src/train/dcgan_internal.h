/* The DCGAN model's state, shared by its build (dcgan.c) and its step
 * (step.c); not part of the public API. */
#ifndef CLGAN_TRAIN_DCGAN_INTERNAL_H
#define CLGAN_TRAIN_DCGAN_INTERNAL_H

#include "clgan/augment.h"
#include "graph/graph.h"
#include "train/regularize.h"
#include "train/cond.h"

typedef struct net_state {
  graph g;
  clgan_buf arena[CLGAN_ARENA_COUNT]; /* PARAM, GRAD, ADAM_M, ADAM_V, EMA: param_floats;
                                         STATS: stats_floats */
  long adam_step;
  uint64_t param_version; /* names arena[PARAM]'s contents (graph_pass.params_version):
                             a new one from params_clock at every write and update */
  int has_ema;
  int ema_stats_stale;   /* the averaged weights changed since their statistics were made */
} net_state;

/* Slots of the loss buffer: what one step leaves there. */
enum {
  LOSS_D_REAL = 0, /* errD_real, then D(x) */
  LOSS_D_FAKE = 2, /* errD_fake, then D(G(z1)) */
  LOSS_G = 4,      /* errG, then D(G(z2)) */
  LOSS_SIGN_REAL = 6, /* mean sign of D's logits on the real batch (ADA's r_t) */
  LOSS_ADA = 7,       /* ADA's state (p, read by the augmentation): read with the losses */
  LOSS_FLOATS = LOSS_ADA + CLGAN_ADA_STATE_FLOATS
};

struct clgan_dcgan {
  clgan_ctx *ctx;
  clgan_dcgan_config cfg;
  net_state net[2];
  clgan_buf col;         /* [max col floats] shared conv workspace */
  clgan_buf grad_buf[2]; /* [max activation floats] ping-pong gradients */
  clgan_buf discard;     /* [2 * max channels] BN gradients not wanted */
  clgan_buf loss;        /* [LOSS_FLOATS] */
  clgan_buf guard;       /* [2] nan_guard flags: D, G gradients not finite */
  clgan_buf aug_x;       /* [c, batch, s, s] the augmented D input (augment != 0) */
  clgan_buf aug_work;    /* per-image augmentation parameters of the last call */
  clgan_augment_state aug;    /* seed, counter (p and ADA's interval: in loss) */
  clgan_augment_plan aug_plan;
  clgan_bce_plan bce;         /* over D's batch of logits */
  clgan_adam_plan adam;       /* guarded with nan_guard */
  clgan_guard_plan guard_plan;
  clgan_ema_plan ema;
  clgan_ada_plan ada_plan;
  clgan_buf stats_backup[2]; /* nan_guard: running statistics before the step */
  clgan_buf ema_noise;   /* [nz, batch] the fixed noise of the EMA statistics (ema_decay > 0) */
  float *ema_noise_host; /* [CLGAN_EMA_STATS_BATCHES][nz * batch] */
  dcgan_reg reg;         /* D's regularisers (train/regularize.h) */
  cond_state cond;       /* the conditional model (cfg.conditional; train/cond.h) */
  size_t device_bytes;
  uint64_t params_clock;  /* the last parameter version handed out (net_state) */
  /* statistics read one step behind (clgan_dcgan_step_deferred): a ring of
   * the last steps' loss buffers in host memory, each with the event of its
   * non-blocking read and its nan_guard outcome */
  float stats_host[2][LOSS_FLOATS];
  float stats_reg_host[2][REG_LOSS_FLOATS]; /* the regularisers' terms of those steps */
  cl_event stats_event[2];
  int stats_skipped[2];
  int stats_head, stats_count; /* oldest pending slot, pending steps */
  /* data parallel (src/dist/dcgan_dist.c): cfg.batch is this rank's share */
  struct clgan_dist *dist; /* borrowed; NULL: one rank */
  int ranks;               /* 1, or the ranks the global batch is split over */
  float grad_scale;        /* 1 / ranks, folded into the loss gradient */
  clgan_buf bn_sums;       /* [2 * max channels] SyncBatchNorm scratch (ranks > 1) */
};

/* Releases the events of pending statistics (clgan_dcgan_destroy). */
void dcgan_stats_release(clgan_dcgan *d);

/* A pass of network `which` over the model's buffers, its arenas and the
 * recipe's BatchNorm and LeakyReLU settings, from input (slot 0). */
graph_pass dcgan_pass(clgan_dcgan *d, clgan_net which, clgan_buf input);

/* clgan_dcgan_create for a model of cfg (cfg->batch: this rank's share)
 * trained over the ranks of dist (NULL: one rank). */
clgan_status dcgan_create_with(clgan_ctx *ctx, const clgan_dcgan_config *cfg,
                               struct clgan_dist *dist, clgan_dcgan **out);

/* Data-parallel hooks of the step (src/dist/dcgan_dist.c); each returns at
 * once for one rank. Gradients of `which` summed over the ranks: */
clgan_status dcgan_dist_reduce_grads(clgan_dcgan *d, clgan_net which);
/* loss[slot] on the device replaced by its mean over the ranks: */
clgan_status dcgan_dist_mean_slot(clgan_dcgan *d, int slot);
/* n (<= DCGAN_DIST_MEAN_MAX) device floats at b replaced likewise: */
#define DCGAN_DIST_MEAN_MAX 8
clgan_status dcgan_dist_mean_buf(clgan_dcgan *d, clgan_buf b, int n);
/* host values v[0..n) replaced by their means over the ranks: */
clgan_status dcgan_dist_mean(clgan_dcgan *d, float *v, int n);
/* The fixed noise of the EMA statistics: this rank's columns of each of the
 * global batches (out [CLGAN_EMA_STATS_BATCHES][nz * batch]). */
clgan_status dcgan_dist_ema_noise(clgan_dcgan *d, float *out);

/* Makes the averaged generator's BatchNorm statistics when stale. */
clgan_status dcgan_ema_stats(clgan_dcgan *d);

#endif
