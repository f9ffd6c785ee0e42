/* Convolution geometry: the shape constructors of Conv2d and ConvTranspose2d
 * (the latter as its adjoint conv) and the checks every conv entry makes. */
#include <stdint.h>

#include "ops/conv_internal.h"
#include "runtime/internal.h"

uint64_t conv_img_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cin * (uint64_t)s->n * (uint64_t)s->h * (uint64_t)s->w;
}
uint64_t conv_padded_img_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cin * (uint64_t)s->n * (uint64_t)(s->h + 2 * s->pad) *
         (uint64_t)(s->w + 2 * s->pad);
}
uint64_t conv_feat_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * (uint64_t)s->n * (uint64_t)s->ho * (uint64_t)s->wo;
}
uint64_t conv_col_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cin * (uint64_t)s->k * (uint64_t)s->k * (uint64_t)s->n * (uint64_t)s->ho *
         (uint64_t)s->wo;
}
uint64_t conv_weight_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * (uint64_t)s->cin * (uint64_t)s->k * (uint64_t)s->k;
}

/* Output extent of a conv along one axis, or 0 when it would be empty. */
static long long conv_out(long long in, long long k, long long stride, long long pad) {
  long long span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

clgan_status conv_shape_check(const clgan_conv_shape *s, const char *op) {
  if (!s) return clgan_fail(CLGAN_ERR_INVALID, "%s: shape is NULL", op);
  if (s->n < 1 || s->cin < 1 || s->h < 1 || s->w < 1 || s->cout < 1 || s->ho < 1 || s->wo < 1 ||
      s->k < 1 || s->stride < 1 || s->pad < 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: bad shape n=%d cin=%d h=%d w=%d cout=%d ho=%d wo=%d k=%d "
                      "stride=%d pad=%d (sizes, k and stride must be >= 1, pad >= 0)",
                      op, s->n, s->cin, s->h, s->w, s->cout, s->ho, s->wo, s->k, s->stride, s->pad);
  if (conv_out(s->h, s->k, s->stride, s->pad) != s->ho ||
      conv_out(s->w, s->k, s->stride, s->pad) != s->wo)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: inconsistent shape: a k=%d stride=%d pad=%d conv of %dx%d gives "
                      "%lldx%lld, not %dx%d (use clgan_conv_shape_conv/_convt)",
                      op, s->k, s->stride, s->pad, s->h, s->w,
                      conv_out(s->h, s->k, s->stride, s->pad),
                      conv_out(s->w, s->k, s->stride, s->pad), s->ho, s->wo);
  uint64_t sizes[4] = {conv_img_floats(s), conv_feat_floats(s), conv_col_floats(s),
                         conv_weight_floats(s)};
  static const char *const names[4] = {"image", "feature map", "col workspace", "weight"};
  for (int i = 0; i < 4; i++)
    if (sizes[i] > CONV_MAX_FLOATS)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s: %s of %llu floats exceeds the 2^32-float limit of the conv "
                        "kernels (reduce the batch)",
                        op, names[i], (unsigned long long)sizes[i]);
  return CLGAN_OK;
}

clgan_status conv_buf_check(clgan_buf b, uint64_t floats, const char *op, const char *what) {
  if (!b.mem) return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer %s is NULL", op, what);
  if ((uint64_t)b.off + floats > CONV_MAX_FLOATS)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: buffer %s (offset %zu + %llu floats) exceeds the 2^32-float "
                      "limit of the conv kernels",
                      op, what, b.off, (unsigned long long)floats);
  return CLGAN_OK;
}

int conv_col_is_image(const clgan_conv_shape *s) {
  return s->k == 1 && s->stride == 1 && s->pad == 0;
}

/* The arguments both shape constructors take. */
static clgan_status check_args(const char *op, int n, int cin, int h, int w, int cout, int k,
                               int stride, int pad, const clgan_conv_shape *out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "%s: out is NULL", op);
  if (n < 1 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: bad arguments n=%d cin=%d h=%d w=%d cout=%d k=%d stride=%d pad=%d "
                      "(sizes, k and stride must be >= 1, pad >= 0)",
                      op, n, cin, h, w, cout, k, stride, pad);
  return CLGAN_OK;
}

clgan_status clgan_conv_shape_conv(int n, int cin, int h, int w, int cout, int k, int stride,
                                   int pad, clgan_conv_shape *out) {
  const char *op = "clgan_conv_shape_conv";
  clgan_status st = check_args(op, n, cin, h, w, cout, k, stride, pad, out);
  if (st != CLGAN_OK) return st;
  long long ho = conv_out(h, k, stride, pad), wo = conv_out(w, k, stride, pad);
  if (ho < 1 || wo < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty output: a %dx%d input padded by %d is smaller than the "
                      "%dx%d kernel",
                      op, h, w, pad, k, k);
  clgan_conv_shape s = {n, cin, h, w, cout, (int)ho, (int)wo, k, stride, pad};
  st = conv_shape_check(&s, op);
  if (st == CLGAN_OK) *out = s;
  return st;
}

clgan_status clgan_conv_shape_convt(int n, int cin, int h, int w, int cout, int k, int stride,
                                    int pad, clgan_conv_shape *out) {
  const char *op = "clgan_conv_shape_convt";
  clgan_status st = check_args(op, n, cin, h, w, cout, k, stride, pad, out);
  if (st != CLGAN_OK) return st;
  long long oh = ((long long)h - 1) * stride - 2LL * pad + k;
  long long ow = ((long long)w - 1) * stride - 2LL * pad + k;
  if (oh < 1 || ow < 1)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty output: (in-1)*stride - 2*pad + k = %lldx%lld for a %dx%d "
                      "input, k=%d stride=%d pad=%d",
                      op, oh, ow, h, w, k, stride, pad);
  if (oh > INT32_MAX || ow > INT32_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: output %lldx%lld too large", op, oh, ow);
  /* The adjoint conv: image side = convT output, feature side = convT input. */
  clgan_conv_shape s = {n, cout, (int)oh, (int)ow, cin, h, w, k, stride, pad};
  st = conv_shape_check(&s, op);
  if (st == CLGAN_OK) *out = s;
  return st;
}

/* 0 for an invalid shape (with the error detail set). */
size_t clgan_conv_col_floats(const clgan_conv_shape *s) {
  return conv_shape_check(s, "clgan_conv_col_floats") == CLGAN_OK ? (size_t)conv_col_floats(s) : 0;
}

