/* How each side of a conv is read: padded, padded implicitly by the
 * Winograd transforms or as it is, and what a kept copy holds (the padded
 * image, the transformed image, or both). The graph asks
 * clgan_conv_reads_padded so that the op before can write the padded copy
 * itself. */
#include <stdint.h>

#include "ops/conv_core.h"
#include "ops/conv_winograd.h"
#include "runtime/internal.h"

/* The image with a border of pad zeros. */
static clgan_status run_pad(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                            clgan_buf out) {
  const clgan_conv_shape *s = &p->shape;
  return conv_pad_planes(ctx, p->pad, img, out, (size_t)s->cin * s->n, s->h, s->w, s->pad);
}

/* The conv's image as the GEMM reads it, at buf: the padded geometry. */
clgan_gemm_conv_x conv_image_view(const clgan_conv_plan *p, clgan_buf buf) {
  const clgan_conv_shape *s = &p->shape;
  clgan_gemm_conv_x v = {buf,       s->cin, s->n, s->h + 2 * s->pad, s->w + 2 * s->pad, s->k,
                         s->stride, s->ho,  s->wo};
  return v;
}

/* The image padded into dst (col, or a kept copy), or as it is (pad 0). */
clgan_status conv_padded_image(clgan_ctx *ctx, const clgan_conv_plan *p, clgan_buf img,
                               clgan_buf dst, clgan_gemm_conv_x *x) {
  if (p->shape.pad == 0) {
    *x = conv_image_view(p, img);
    return CLGAN_OK;
  }
  *x = conv_image_view(p, dst);
  return run_pad(ctx, p, img, dst);
}

/* The floats of the feature side padded by 1 (the sub-pixel tiles' dy). */
uint64_t conv_padded_feat_floats(const clgan_conv_shape *s) {
  return (uint64_t)s->cout * s->n * (uint64_t)(s->ho + 2) * (uint64_t)(s->wo + 2);
}

/* A buffer given padded (or kept padded): present, indexable, and (where
 * its size is known) large enough. */
clgan_status conv_padded_check(clgan_buf b, uint64_t floats, const char *op, const char *name) {
  clgan_status st = conv_buf_check(b, floats, op, name);
  if (st == CLGAN_OK && b.floats != 0 && b.floats < floats)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: buffer %s holds %zu floats, padded it needs %llu", op,
                      name, b.floats, (unsigned long long)floats);
  return st;
}

/* Whether the forward and the weight gradient read the image padded: the
 * GEMMs from the image, the narrow and the Winograd kernels. */
int conv_fwd_reads_padded(const clgan_conv_plan *p) {
  return !p->whole.forward && (p->fwd_from_image || p->narrow.forward || p->wino.tile);
}
int conv_filt_reads_padded(const clgan_conv_plan *p) {
  return !p->whole.filter && (p->filt_from_image || p->filt_wino.tile || p->narrow.filter);
}

/* Whether the forward and the weight gradient both read the image as it
 * is, their Winograd input transforms padding it implicitly
 * (conv_wino_reads_unpadded): nothing pads it then, no op before writes a
 * padded copy, and a kept copy holds the transformed image alone. */
int conv_image_implicit(const clgan_conv_plan *p) {
  const clgan_conv_shape *s = &p->shape;
  return p->wino.tile && p->filt_wino.tile && !p->whole.forward && !p->whole.filter &&
         !p->narrow.forward && !p->narrow.filter && s->pad == 1 &&
         conv_wino_reads_unpadded(&p->wino, s) && conv_wino_reads_unpadded(&p->filt_wino, s);
}

/* The image as it is stored, for conv_image_implicit's transforms. */
clgan_gemm_conv_x conv_unpadded_view(const clgan_conv_plan *p, clgan_buf buf) {
  clgan_gemm_conv_x v = conv_image_view(p, buf);
  v.hp = p->shape.h, v.wp = p->shape.w;
  return v;
}

/* Whether the image side may be given padded: where p reads it so, and
 * where its transforms pad implicitly (they read a padded image too). */
int conv_takes_padded_img(const clgan_conv_plan *p) {
  return clgan_conv_reads_padded(p, CLGAN_CONV_IMAGE_SIDE, NULL) || conv_image_implicit(p);
}

/* Where the Winograd forward and weight gradient share the transformed
 * image (conv_winograd.h), the kept copy holds it after the padded image
 * (none where conv_image_implicit), from this float on. */
static size_t kept_v_off(const clgan_conv_plan *p) {
  if (conv_image_implicit(p)) return 0;
  return clgan_round_up((size_t)conv_padded_img_floats(&p->shape), 16);
}

/* Whether p's Winograd forward and weight gradient share the transformed
 * image, within the kernels' 32-bit offsets of a kept copy. */
int conv_wino_shares(const clgan_conv_plan *p) {
  return p->wino.tile && p->filt_wino.tile && !p->whole.forward && !p->whole.filter &&
         p->shape.pad > 0 && p->wino.up_off >= p->filt_wino.vp_off + p->filt_wino.v_floats &&
         (uint64_t)kept_v_off(p) + p->filt_wino.v_floats < ((uint64_t)1 << 31);
}

/* The transformed image in a kept copy. */
clgan_buf conv_kept_v(const clgan_conv_plan *p, clgan_buf kept) {
  return clgan_buf_at(kept, kept_v_off(p));
}

/* Whether conv_core_adjoint takes feat padded by 1: where the sub-pixel tiles
 * read it so (clgan_conv_reads_padded), and in the Winograd adjoint, which
 * reads dy padded or not at the same cost (so the graph hands it none). */
int conv_takes_padded_feat(const clgan_conv_plan *p) {
  return clgan_conv_reads_padded(p, CLGAN_CONV_FEATURE_SIDE, NULL) ||
         (p->adj_wino.tile && !p->adj_direct.kernel && !p->whole.adjoint);
}

size_t clgan_conv_kept_floats(const clgan_conv_plan *p) {
  if (p && conv_image_implicit(p)) return conv_wino_shares(p) ? p->filt_wino.v_floats : 0;
  if (!p || !conv_fwd_reads_padded(p) || !conv_filt_reads_padded(p) || p->shape.pad == 0) return 0;
  if (conv_wino_shares(p)) return kept_v_off(p) + p->filt_wino.v_floats;
  return (size_t)conv_padded_img_floats(&p->shape);
}

int clgan_conv_reads_padded(const clgan_conv_plan *p, clgan_conv_side side,
                            clgan_padded_copy *geometry) {
  if (!p) return 0;
  const clgan_conv_shape *s = &p->shape;
  clgan_padded_copy g = {{0}, 0, 0, 0};
  if (side == CLGAN_CONV_IMAGE_SIDE && clgan_conv_kept_floats(p) > 0 && !p->whole.forward &&
      !p->whole.filter && !conv_image_implicit(p))
    g.h = s->h, g.w = s->w, g.pad = s->pad;
  else if (side == CLGAN_CONV_FEATURE_SIDE && p->adj_subpix.tile && !p->adj_direct.kernel &&
           !p->whole.adjoint)
    g.h = s->ho, g.w = s->wo, g.pad = 1;
  else
    return 0;
  if (geometry) *geometry = g;
  return 1;
}
