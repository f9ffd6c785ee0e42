/* The sub-pixel adjoint (see conv_subpixel.h and gemm_tile_subpix in
 * cl/subpix.cl): the plan (kernels and launch shape made at plan time, col's
 * use fixed) and the launches. */
#include <stdio.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/conv_subpixel.h"
#include "runtime/internal.h"

/* The widest tile's channels (nv 2): col's bound for any tile. */
#define SUBPIX_MAX_NV 2
/* Work-items per work-group on CPUs. */
#define SUBPIX_GROUP_ITEMS 64

int conv_subpix_applies(const clgan_conv_shape *s) {
  return s->k == 4 && s->stride == 2 && s->pad == 1 && s->h == 2 * s->ho && s->w == 2 * s->wo;
}

int conv_subpix_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return clgan_ctx_cpu_paths(ctx) && conv_subpix_applies(s) && s->cin >= CONV_SUBPIX_MIN_CIN;
}

/* Floats of dy padded by 1, [cout, n, ho+2, wo+2]. */
static size_t padded_dy_floats(const clgan_conv_shape *s) {
  return (size_t)s->cout * s->n * (size_t)(s->ho + 2) * (size_t)(s->wo + 2);
}

static size_t channel_tiles(const clgan_conv_shape *s, int tn) {
  return ((size_t)s->cin + (size_t)tn - 1) / (size_t)tn;
}

/* The packed sub-kernels follow the padded dy in col, 16-float aligned:
 * [2 row parities][tiles][cout][4 taps][2 column parities][tn]. */
static size_t wpk_offset(const clgan_conv_shape *s) {
  return clgan_round_up(padded_dy_floats(s), 16);
}

static size_t col_floats_for(const clgan_conv_shape *s, int tn) {
  return wpk_offset(s) + 2 * channel_tiles(s, tn) * (size_t)s->cout * 8 * (size_t)tn;
}

size_t conv_subpix_col_floats(const clgan_conv_shape *s) {
  return col_floats_for(s, 16 * SUBPIX_MAX_NV);
}

/* The work-group shape on CPUs: one channel tile, SUBPIX_GROUP_ITEMS
 * pixel groups, which stream that tile's sub-kernels (cout*8*tn floats)
 * in turn while they stay in the L2 (groups of two or four tiles ran
 * 0.8-1.0x as fast on PoCL). */
static void cpu_groups(size_t groups, size_t *lx, size_t *ly) {
  *lx = 1;
  *ly = SUBPIX_GROUP_ITEMS;
  while (*ly > 1 && *ly / 2 >= groups) *ly /= 2;
}

/* Whether a work-item's j pixels (consecutive in (b, i, j) order) lie
 * within one row, or are two whole rows of one image (cl/subpix.cl's
 * gemm_tile_subpix). */
static int groups_fit(const clgan_conv_shape *s, int j) {
  return s->wo % j == 0 || (j % 2 == 0 && s->wo == j / 2 && s->ho % 2 == 0);
}

int conv_subpix_default_pixels(const clgan_ctx *ctx) {
  /* CPUs with 16-float vectors (AVX-512): 16 pixels x 16 channels (half
   * the sub-kernel loads per FMA of 8 x 32: 1.1-1.3x on PoCL); narrower
   * vectors (AVX2, where 16 float16 accumulators spill): 4 x 16, the
   * kernel's time 0.45-0.65x that of 16 x 16 there; GPUs: a small tile for
   * the registers */
  return clgan_ctx_cpu_paths(ctx) && ctx->dev.preferred_vector_float >= 16 ? 16 : 4;
}

/* The tile of variant v (NULL: the device's default): INVALID for one the
 * kernel cannot run. */
static clgan_status subpix_tile(const clgan_ctx *ctx, const clgan_gemm_variant *v, int *tm,
                                int *nv, size_t *lx, size_t *ly) {
  *tm = conv_subpix_default_pixels(ctx), *nv = 1, *lx = 0, *ly = 0;
  if (v && v->backend == CLGAN_GEMM_AUTO && clgan_gemm_variant_valid(v)) return CLGAN_OK;
  if (!v) return CLGAN_OK;
  if (v->backend != CLGAN_GEMM_OWN || !clgan_gemm_variant_valid(v) ||
      (v->tm != 0 && (v->tm % 2 != 0 || v->nv > SUBPIX_MAX_NV)))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "conv_subpixel: a sub-pixel adjoint needs an own variant with an even tile "
                      "of at most 8 pixels and 1 or 2 vectors (backend %d, %d x %d)",
                      (int)v->backend, v->tm, v->nv);
  if (v->tm != 0) *tm = v->tm, *nv = v->nv, *lx = (size_t)v->lx, *ly = (size_t)v->ly;
  return CLGAN_OK;
}

clgan_status conv_subpix_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   const clgan_gemm_variant *v, clgan_conv_subpix_plan *out,
                                   int *ok) {
  memset(out, 0, sizeof *out);
  *ok = 0;
  clgan_conv_subpix_plan p;
  memset(&p, 0, sizeof p);
  size_t lx, ly;
  clgan_status st = subpix_tile(ctx, v, &p.tm, &p.nv, &lx, &ly);
  if (st != CLGAN_OK || !conv_subpix_applies(s) || !groups_fit(s, p.tm / 2)) return st;
  int tn = 16 * p.nv;
  char opts[64];
  snprintf(opts, sizeof opts, "-DTM=%d -DNV=%d", p.tm, p.nv);
  if ((st = clgan_kernel_get(ctx, "subpix", opts, "gemm_tile_subpix", &p.tile)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "subpix", opts, "subpix_pack_w", &p.pack)) != CLGAN_OK ||
      (st = conv_pad_kernel_get(ctx, &p.pad)) != CLGAN_OK)
    return st;
  size_t tiles = channel_tiles(s, tn);
  size_t groups = (size_t)s->n * s->ho * s->wo / (size_t)(p.tm / 2);
  if (lx == 0) {
    if (clgan_ctx_cpu_paths(ctx)) cpu_groups(groups, &lx, &ly);
    else lx = 1, ly = 64; /* pixel groups side by side (a tuner's tile may say otherwise) */
  }
  size_t kmax = clgan_kernel_max_local(ctx, p.tile);
  while (lx * ly > kmax) {
    if (ly > 1) ly /= 2;
    else lx /= 2;
  }
  p.local[0] = lx, p.local[1] = ly, p.local[2] = 1;
  p.global[0] = clgan_round_up(tiles, lx), p.global[1] = clgan_round_up(groups, ly);
  p.global[2] = 2;
  p.wpk_off = wpk_offset(s);
  p.col_floats = col_floats_for(s, tn);
  if (p.col_floats >= ((size_t)1 << 32) || groups >= ((size_t)1 << 31))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_subpixel: workspace beyond 32-bit indexing");
  *out = p;
  *ok = 1;
  return CLGAN_OK;
}

/* The sub-kernels of w, packed as gemm_tile_subpix streams them. */
static clgan_status run_pack(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                             const clgan_conv_shape *s, clgan_buf w, clgan_buf wpk) {
  cl_uint w_off = (cl_uint)w.off, wpk_off = (cl_uint)wpk.off;
  cl_int cin = s->cin, cout = s->cout;
  clgan_status st;
  if ((st = clgan_set_args(p->pack, 6, sizeof(cl_mem), &w.mem, sizeof w_off, &w_off,
                           sizeof(cl_mem), &wpk.mem, sizeof wpk_off, &wpk_off, sizeof cin, &cin,
                           sizeof cout, &cout)) != CLGAN_OK)
    return st;
  size_t global[3] = {channel_tiles(s, 16 * p->nv), (size_t)s->cout, 2};
  return clgan_launch(ctx, p->pack, 3, global, NULL, "subpix_pack_w");
}

clgan_status conv_subpix_run(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                             const clgan_conv_shape *s, clgan_buf dy, int dy_padded, clgan_buf w,
                             clgan_buf dx, clgan_buf col, clgan_act act, float slope,
                             clgan_buf y) {
  if (col.floats < p->col_floats)
    return clgan_fail(CLGAN_ERR_INVALID, "conv_subpixel: col holds %zu floats, the plan needs %zu",
                      col.floats, p->col_floats);
  clgan_buf wpk = clgan_buf_at(col, p->wpk_off);
  clgan_status st;
  /* dyp = dy with a border of one zero: as given, or padded at col's start */
  clgan_buf dyp = dy_padded ? dy : col;
  if ((!dy_padded && (st = conv_pad_planes(ctx, p->pad, dy, col, (size_t)s->cout * s->n, s->ho,
                                           s->wo, 1)) != CLGAN_OK) ||
      (st = run_pack(ctx, p, s, w, wpk)) != CLGAN_OK)
    return st;
  cl_int cin = s->cin, cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, a = (cl_int)act;
  cl_uint dyp_off = (cl_uint)dyp.off, wpk_off = (cl_uint)wpk.off, dx_off = (cl_uint)dx.off;
  cl_mem ym = act != CLGAN_ACT_NONE ? y.mem : dx.mem;
  cl_uint y_off = act != CLGAN_ACT_NONE ? (cl_uint)y.off : 0;
  if ((st = clgan_set_args(p->tile, 15, sizeof cin, &cin, sizeof cout, &cout, sizeof n, &n,
                           sizeof ho, &ho, sizeof wo, &wo, sizeof(cl_mem), &dyp.mem,
                           sizeof dyp_off, &dyp_off, sizeof(cl_mem), &wpk.mem, sizeof wpk_off,
                           &wpk_off, sizeof(cl_mem), &dx.mem, sizeof dx_off, &dx_off,
                           sizeof(cl_mem), &ym, sizeof y_off, &y_off, sizeof a, &a, sizeof slope,
                           &slope)) != CLGAN_OK)
    return st;
  return clgan_launch(ctx, p->tile, 3, p->global, p->local, "gemm_tile_subpix");
}
