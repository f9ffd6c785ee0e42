/* The conditional model's device state and its passes around the graphs
 * (not public; clgan/cond.h is the API). With cfg.conditional off every
 * function here is the plain graph pass, so the recipe runs as before. */
#ifndef CLGAN_TRAIN_COND_H
#define CLGAN_TRAIN_COND_H

#include "clgan/cond.h"
#include "clgan/embed.h"
#include "clgan/rng.h"
#include "graph/graph.h"

enum { COND_REAL = 0, COND_FAKE = 1 };

typedef struct cond_state {
  clgan_embed_plan plan[2];  /* G: [classes, embed_dim]; D: [classes, channels of h] */
  clgan_buf z_in;            /* [nz + embed_dim, batch] G's input z' = [z; E_g[y]] */
  clgan_buf d_in;            /* D with label channels: [c + classes, batch, s, s] its input */
  clgan_buf cycle_labels;    /* [batch] b % classes: generation without labels, EMA stats */
  clgan_buf step_labels[2];  /* the current step's real and fake labels (borrowed) */
  char **class_names;        /* [num_classes], or NULL until set */
} cond_state;

struct clgan_dcgan;
/* The plans and the cycle labels, once the buffers exist. */
clgan_status cond_plan(struct clgan_dcgan *d);
void cond_release(struct clgan_dcgan *d);

/* G forward on p->input (noise [nz, batch]) and labels (null: cycle labels). */
clgan_status cond_g_forward(struct clgan_dcgan *d, const graph_pass *p, clgan_buf labels);
/* G backward of the last cond_g_forward (the embedding's gradient included). */
clgan_status cond_g_backward(struct clgan_dcgan *d, const graph_pass *p, graph_grad *gr,
                             clgan_buf labels);
/* D forward, its logits with the projection term. */
clgan_status cond_d_forward(struct clgan_dcgan *d, const graph_pass *p, clgan_buf labels);
/* D backward from the logits' gradient in grad_buf[gr->cur]. */
clgan_status cond_d_backward(struct clgan_dcgan *d, const graph_pass *p, graph_grad *gr,
                             clgan_buf labels);

/* The initial class tables: E_g ~ N(0, 1) (nn.Embedding's default); E_d ~
 * N(0, 0.02), the scale of DCGAN's conv weights, so the projection starts
 * no larger than f(h). */
void cond_init_table(const clgan_tensor_desc *t, clgan_net which, clgan_rng *rng, float *host);

#endif
