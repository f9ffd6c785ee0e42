/* ConvTranspose2d: the conv core (conv.c) with the roles swapped. Its
 * forward is the conv's backward data, its backward data the conv's
 * forward, and its weight gradient the conv's with the input and the output
 * gradient swapped. */
#include <stdint.h>

#include "ops/conv_core.h"
#include "ops/conv_narrow.h"
#include "ops/conv_winograd.h"
#include "runtime/internal.h"

clgan_status clgan_convt2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                   clgan_buf w, clgan_buf y, clgan_buf col) {
  return conv_core_adjoint(ctx, p, x, 0, w, y, col, NULL, "clgan_convt2d_forward", "x", "y");
}

clgan_status clgan_convt2d_forward_padded(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf xp,
                                          clgan_buf w, clgan_buf y, clgan_buf col) {
  return conv_core_adjoint(ctx, p, xp, 1, w, y, col, NULL, "clgan_convt2d_forward_padded", "xp",
                           "y");
}

clgan_status clgan_convt2d_backward_data(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf dy,
                                         clgan_buf w, clgan_buf dx, clgan_buf col) {
  clgan_buf none = {0};
  return conv_core_forward(ctx, p, dy, 0, w, dx, col, none, NULL, "clgan_convt2d_backward_data",
                           "dy", "dx");
}

clgan_status clgan_convt2d_backward_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                           clgan_buf dy, clgan_buf dw, clgan_buf col,
                                           int accumulate) {
  return conv_core_filter(ctx, p, dy, 0, x, dw, col, accumulate, "clgan_convt2d_backward_filter",
                          "dy", "x");
}

/* Both of a ConvTranspose2d's gradients read dy through the conv's image
 * side: where both GEMMs read it from the image, the padded copy that the
 * weight gradient leaves in col serves the backward data too, so dy is
 * padded once (the same products, in the same order, as the two calls). */
static clgan_status convt_backward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                   clgan_buf dy, int dy_padded, clgan_buf w, clgan_buf dw,
                                   clgan_buf dx, clgan_buf col, int accumulate, const char *op) {
  clgan_status st = conv_plan_check(p, op);
  if (st != CLGAN_OK) return st;
  const clgan_conv_shape *s = &p->shape;
  if (dy_padded && !conv_takes_padded_img(p))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: this plan does not read dyp padded", op);
  if ((st = conv_buf_check(x, conv_feat_floats(s), op, "x")) != CLGAN_OK ||
      (st = dy_padded ? conv_padded_check(dy, conv_padded_img_floats(s), op, "dyp")
                      : conv_buf_check(dy, conv_img_floats(s), op, "dy")) != CLGAN_OK ||
      (st = conv_buf_check(w, conv_weight_floats(s), op, "w")) != CLGAN_OK ||
      (st = conv_buf_check(dw, conv_weight_floats(s), op, "dw")) != CLGAN_OK ||
      (st = conv_buf_check(dx, conv_feat_floats(s), op, "dx")) != CLGAN_OK)
    return st;
  if (!conv_fwd_reads_padded(p) || !conv_filt_reads_padded(p)) {
    st = clgan_convt2d_backward_filter(ctx, p, x, dy, dw, col, accumulate);
    return st == CLGAN_OK ? clgan_convt2d_backward_data(ctx, p, dy, w, dx, col) : st;
  }
  if ((st = conv_buf_check(col, p->col_floats, op, "col")) != CLGAN_OK) return st;
  clgan_gemm_conv_x img = conv_image_view(p, dy); /* dy as the image side, padded */
  if (!dy_padded && conv_image_implicit(p))
    img = conv_unpadded_view(p, dy);
  else if (!dy_padded && (st = conv_padded_image(ctx, p, dy, col, &img)) != CLGAN_OK)
    return st;
  if ((st = conv_filter_product(ctx, p, x, &img, dw, accumulate ? 1.0f : 0.0f)) != CLGAN_OK)
    return st;
  if (p->narrow.forward)
    return conv_narrow_forward_run(ctx, &p->narrow, s, &img, w, dx, CLGAN_ACT_NONE, 0.0f);
  if (conv_wino_shares(p)) /* the weight gradient's transformed dy, left in the workspace below
                         the forward's own operands */
    return conv_wino_forward_shared_run(ctx, &p->wino, s, conv_wino_filt_ws_v(ctx, &p->filt_wino),
                                        w, dx, CLGAN_ACT_NONE, 0.0f);
  if (p->wino.tile)
    return conv_wino_forward_run(ctx, &p->wino, s, &img, w, dx, CLGAN_ACT_NONE, 0.0f);
  return clgan_gemm_conv_forward(ctx, &p->fwd, w, &img, dx, NULL);
}

clgan_status clgan_convt2d_backward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                    clgan_buf dy, clgan_buf w, clgan_buf dw, clgan_buf dx,
                                    clgan_buf col, int accumulate) {
  return convt_backward(ctx, p, x, dy, 0, w, dw, dx, col, accumulate, "clgan_convt2d_backward");
}

clgan_status clgan_convt2d_backward_padded(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf x,
                                           clgan_buf dyp, clgan_buf w, clgan_buf dw, clgan_buf dx,
                                           clgan_buf col, int accumulate) {
  return convt_backward(ctx, p, x, dyp, 1, w, dw, dx, col, accumulate,
                        "clgan_convt2d_backward_padded");
}
