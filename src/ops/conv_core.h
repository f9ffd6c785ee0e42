/* Between the files of the conv core (conv.c): the launches of
 * conv_cols.c, the reading rules of conv_views.c and the core's three modes,
 * which convt.c drives with the roles swapped. Each is described where it is
 * defined. Not part of the public API. */
#ifndef CLGAN_OPS_CONV_CORE_H
#define CLGAN_OPS_CONV_CORE_H

#include <stdint.h>

#include "clgan/ops.h"
#include "ops/conv_internal.h"
#include "ops/gemm_internal.h"

/* The derivative col2im applies as it stores: act'(y) (y indexed as the
 * image; act CLGAN_ACT_NONE: none, y unused). */
typedef struct conv_col2im_act {
  clgan_act act;
  float slope;
  clgan_buf y;
} conv_col2im_act;

/* conv_cols.c */
clgan_status conv_run_im2col(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                             clgan_buf col);
clgan_status conv_run_col2im(clgan_ctx *ctx, const clgan_conv_plan *p, int images, clgan_buf col,
                             clgan_buf img, cl_uint cstride, const conv_col2im_act *a);
clgan_status conv_plan_check(const clgan_conv_plan *p, const char *op);

/* conv_views.c */
clgan_gemm_conv_x conv_image_view(const clgan_conv_plan *p, clgan_buf buf);
clgan_gemm_conv_x conv_unpadded_view(const clgan_conv_plan *p, clgan_buf buf);
clgan_status conv_padded_image(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                               clgan_buf dst, clgan_gemm_conv_x *x);
uint64_t conv_padded_feat_floats(const clgan_conv_shape *s);
clgan_status conv_padded_check(clgan_buf b, uint64_t floats, const char *op, const char *name);
int conv_fwd_reads_padded(const clgan_conv_plan *p);
int conv_filt_reads_padded(const clgan_conv_plan *p);
int conv_image_implicit(const clgan_conv_plan *p);
int conv_takes_padded_img(const clgan_conv_plan *p);
int conv_takes_padded_feat(const clgan_conv_plan *p);
int conv_wino_shares(const clgan_conv_plan *p);
clgan_buf conv_kept_v(const clgan_conv_plan *p, clgan_buf kept);

/* conv.c */
clgan_status conv_core_forward(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                               int img_padded, clgan_buf w, clgan_buf feat, clgan_buf col,
                               clgan_buf kept, const clgan_gemm_epilogue *epi, const char *op,
                               const char *img_name, const char *feat_name);
clgan_status conv_core_adjoint(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                               int feat_padded, clgan_buf w, clgan_buf img, clgan_buf col,
                               const conv_col2im_act *a, const char *op, const char *feat_name,
                               const char *img_name);
clgan_status conv_core_filter(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img, int img_kept,
                              clgan_buf feat, clgan_buf dw, clgan_buf col, int accumulate,
                              const char *op, const char *img_name, const char *feat_name);
clgan_status conv_filter_product(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf feat,
                                 const clgan_gemm_conv_x *x, clgan_buf dw, float beta);

#endif
