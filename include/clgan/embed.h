/* Class embeddings of the conditional model (cl/embed.cl): an nn.Embedding
 * lookup appended to G's noise and its backward, and the projection
 * discriminator's inner product (Miyato & Koyama 2018) and its backward.
 *
 * Labels live on the device as floats holding class indices (exact up to
 * 2^24): labels [batch]. A label outside [0, rows) is the caller's bug: the
 * kernels clamp it into range rather than read out of bounds.
 * Every reduction runs in a fixed order (no atomics), so the results are
 * the same from run to run: bit-identical resume needs that. */
#ifndef CLGAN_EMBED_H
#define CLGAN_EMBED_H

#include "clgan/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_embed_plan {
  cl_kernel gather;       /* embed_gather */
  cl_kernel scatter;      /* embed_scatter_add */
  cl_kernel proj_fwd;     /* proj_forward */
  cl_kernel proj_dw;      /* proj_backward_weight */
  cl_kernel proj_dx;      /* proj_backward_data */
  cl_kernel planes;       /* label_planes */
  int rows, dim, batch;   /* classes, embedding width, labels per call */
} clgan_embed_plan;

/* A plan for tables [rows, dim] looked up by batch labels. INVALID unless
 * all three are positive and the sizes fit 32-bit indexing. */
clgan_status clgan_embed_plan_make(clgan_ctx *ctx, int rows, int dim, int batch,
                                   clgan_embed_plan *out);

/* Forward of nn.Embedding in the [dim, batch] layout of clgan's activations:
 * out[e * batch + b] = table[labels[b] * dim + e]. */
clgan_status clgan_embed_gather(clgan_ctx *ctx, const clgan_embed_plan *plan, clgan_buf table,
                                clgan_buf labels, clgan_buf out);

/* Its backward, the scatter-add by label, computed per table row:
 * dtable[r * dim + e] (= or +=, with accumulate) sum over b with labels[b] == r
 * of dout[e * batch + b]. Rows no label names get 0 (or keep their value). */
clgan_status clgan_embed_scatter_add(clgan_ctx *ctx, const clgan_embed_plan *plan,
                                     clgan_buf labels, clgan_buf dout, clgan_buf dtable,
                                     int accumulate);

/* The projection term of a projection discriminator, added to its logits:
 * logits[b] += sum_c table[labels[b] * dim + c] * sum_i h[(c * batch + b) * hw + i]
 * with h D's last feature map [dim, batch, hw] (dim = its channels). */
clgan_status clgan_proj_forward(clgan_ctx *ctx, const clgan_embed_plan *plan, clgan_buf table,
                                clgan_buf labels, clgan_buf h, int hw, clgan_buf logits);

/* Its gradients from the logits' dlogits [batch]:
 * weight: dtable[r * dim + c] (= or +=) sum over b with labels[b] == r of
 *         dlogits[b] * sum_i h[(c * batch + b) * hw + i];
 * data:   dh[(c * batch + b) * hw + i] += dlogits[b] * table[labels[b] * dim + c]
 *         (added to the gradient the layer after h already wrote). */
clgan_status clgan_proj_backward_weight(clgan_ctx *ctx, const clgan_embed_plan *plan,
                                        clgan_buf labels, clgan_buf h, int hw, clgan_buf dlogits,
                                        clgan_buf dtable, int accumulate);
clgan_status clgan_proj_backward_data(clgan_ctx *ctx, const clgan_embed_plan *plan,
                                      clgan_buf table, clgan_buf labels, clgan_buf dlogits,
                                      int hw, clgan_buf dh);

/* One-hot label planes (the label-channel discriminator's input), rows of
 * them from channel `first` of out [channels, batch, hw]: channel first + k
 * of image b is 1 where labels[b] == k, else 0. */
clgan_status clgan_label_planes(clgan_ctx *ctx, const clgan_embed_plan *plan, clgan_buf labels,
                                int hw, int first, clgan_buf out);

#ifdef __cplusplus
}
#endif
#endif
