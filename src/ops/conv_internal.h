/* Between the conv core's files: conv_shape.c (geometry and checks),
 * conv_plan.c (every choice, made once per shape and context), and conv.c
 * with the files it shares conv_core.h with (the launches). Not part of the
 * public API. */
#ifndef CLGAN_OPS_CONV_INTERNAL_H
#define CLGAN_OPS_CONV_INTERNAL_H

#include <stdint.h>

#include "clgan/ops.h"

/* Every buffer a conv kernel indexes (with its offset) must stay below 2^32
 * floats: the kernels use uint indices. */
#define CONV_MAX_FLOATS ((uint64_t)UINT32_MAX)

/* Floats of the image [cin, n, h, w], the image padded by the shape's pad
 * [cin, n, h + 2*pad, w + 2*pad], the feature map [cout, n, ho, wo], the
 * whole column matrix [cin*k*k, n*ho*wo] and the weight [cout, cin*k*k]. */
uint64_t conv_img_floats(const clgan_conv_shape *s);
uint64_t conv_padded_img_floats(const clgan_conv_shape *s);
uint64_t conv_feat_floats(const clgan_conv_shape *s);
uint64_t conv_col_floats(const clgan_conv_shape *s);
uint64_t conv_weight_floats(const clgan_conv_shape *s);

/* Full consistency check of a shape (it may have been filled by hand); op
 * names the caller in the message. */
clgan_status conv_shape_check(const clgan_conv_shape *s, const char *op);
/* A buffer the op reads or writes: present, and indexable with uint. */
clgan_status conv_buf_check(clgan_buf b, uint64_t floats, const char *op, const char *what);

/* k = 1, stride 1, pad 0: the column matrix is the image itself. */
int conv_col_is_image(const clgan_conv_shape *s);

/* The padding kernel for ctx's device (cl/im2col.cl: pad_planes on CPU
 * paths, pad_image elsewhere), the one conv_pad_planes launches. */
clgan_status conv_pad_kernel_get(clgan_ctx *ctx, cl_kernel *out);

/* out = each of img's planes (h x w, contiguous) with a border of pad
 * zeros, (h + 2*pad) x (w + 2*pad), with the kernel of conv_pad_kernel_get. */
clgan_status conv_pad_planes(clgan_ctx *ctx, cl_kernel pad_kernel, clgan_buf img, clgan_buf out,
                             size_t planes, int h, int w, int pad);

#endif
