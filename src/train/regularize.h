/* D's regularisers inside the model (clgan/regularize.h): their buffers,
 * plans and state, and the hooks the build (dcgan.c) and the step (step.c)
 * call. Every hook is a no-op when its switch is off. Not public. */
#ifndef CLGAN_TRAIN_REGULARIZE_H
#define CLGAN_TRAIN_REGULARIZE_H

#include "clgan/augment.h"
#include "clgan/regularize.h"
#include "graph/graph.h"

#define DCGAN_REG_MAX_SN (GRAPH_MAX_STAGES + 1) /* D's convs */
#define DCGAN_REG_MAX_BUFFERS 7
#define DCGAN_REG_MAX_TENSORS (1 + 2 * DCGAN_REG_MAX_SN)

/* One spectrally normalised conv of D. */
typedef struct sn_layer {
  int node;            /* D's conv node: its weight at nodes[node].w_off */
  clgan_sn_plan plan;  /* W [out, in*k*k] */
  size_t u_off, v_off; /* u [out], v [in*k*k] in the state buffer */
  size_t work_off;     /* clgan_sn_work_floats in the work buffer */
} sn_layer;

/* Slots of the work buffer before the layers' scratch. */
enum {
  REG_ONE = 0,        /* 1.0: the probability of T's ops */
  REG_LOSS_LECAM = 1, /* LeCam's term on real, fake (last step) */
  REG_LOSS_CR = 3,    /* bCR's term on real, fake */
  REG_SN_WORK = 5,
  REG_LOSS_FLOATS = REG_SN_WORK - REG_LOSS_LECAM /* the terms a step's figures report */
};

typedef struct dcgan_reg {
  clgan_buf state;   /* [state_floats] LeCam's anchors, each conv's u and v: checkpointed */
  clgan_buf work;    /* [work_floats] the slots above, then each layer's SN scratch */
  clgan_buf sn_w;    /* [D param_floats] W_sn at the conv weights' offsets */
  clgan_buf sn_g;    /* [D param_floats] the gradient of W_sn from the last backward */
  clgan_buf cr_x;    /* [c, batch, s, s] T(x) */
  clgan_buf cr_work; /* T's per-image parameters */
  clgan_buf cr_dl;   /* [batch] the gradient of D(T(x)) */
  /* bCR's second pass of D keeps its activations in a second set of slots
   * (same arenas and workspaces), so both backwards run from saved
   * activations, nothing recomputed */
  graph cr_graph;
  int cr_planned;
  clgan_augment_plan cr_aug; /* T when --augment is off: translation,cutout */
  clgan_logit_reg_plan logit;
  int nsn;
  sn_layer sn[DCGAN_REG_MAX_SN];
  size_t lecam_off, state_floats, work_floats;
  int ntensors;
  clgan_tensor_desc tensors[DCGAN_REG_MAX_TENSORS]; /* over the state buffer */
} dcgan_reg;

struct graph_pass;

/* Build: plans (no allocation; after both graphs are planned), the buffers
 * to allocate, the second graph's bytes, then allocation and the initial
 * state, and release. */
clgan_status dcgan_reg_plan(clgan_dcgan *d);
int dcgan_reg_buffers(clgan_dcgan *d, clgan_buf **bufs, size_t *floats);
size_t dcgan_reg_graph_bytes(const clgan_dcgan *d);
clgan_status dcgan_reg_alloc(clgan_dcgan *d);
void dcgan_reg_release(clgan_dcgan *d);
/* u and v from CLGAN_STREAM_SPECTRAL of seed, LeCam's anchors unset. */
clgan_status dcgan_reg_init(clgan_dcgan *d, uint64_t seed);

/* Step: a pass of D reads its conv weights from W_sn; before every
 * training forward of D, W_sn from one power iteration; after D's BCE on x
 * (fake: 0 real, 1 fake), LeCam and bCR's forward on D's logit gradient;
 * after D's parameter backward, the weights' gradient from W_sn's, then
 * bCR's backward. */
void dcgan_reg_pass(const clgan_dcgan *d, clgan_net which, struct graph_pass *p);
clgan_status dcgan_sn_forward(clgan_dcgan *d);
clgan_status dcgan_reg_forward(clgan_dcgan *d, const struct graph_pass *pd, clgan_buf x, int fake);
clgan_status dcgan_reg_backward(clgan_dcgan *d, const struct graph_pass *pd, int accumulate);
/* The step's LeCam and bCR terms into stats (blocking; 0 when off). */
clgan_status dcgan_reg_stats(clgan_dcgan *d, clgan_dcgan_stats *stats);
/* The same for statistics one step behind: a non-blocking read of the terms
 * into host (complete once a later command of the queue is), then the
 * figures from it, after the means over the ranks (in place; every rank
 * takes them at the same point). */
clgan_status dcgan_reg_stats_enqueue(clgan_dcgan *d, float host[REG_LOSS_FLOATS]);
clgan_status dcgan_reg_stats_take(clgan_dcgan *d, float host[REG_LOSS_FLOATS],
                                  clgan_dcgan_stats *stats);

#endif
