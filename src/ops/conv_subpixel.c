/* The sub-pixel adjoint (see conv_subpixel.h and cl/conv_subpixel.cl): the
 * plan (kernels and the GEMM plan made at plan time, col's use fixed) and
 * the launches. */
#include <string.h>

#include "ops/conv_subpixel.h"
#include "runtime/internal.h"

int conv_subpix_applies(const clgan_conv_shape *s) {
  return s->k == 4 && s->stride == 2 && s->pad == 1 && s->h == 2 * s->ho && s->w == 2 * s->wo;
}

/* Floats of dy padded by 1, [cout, n, ho+2, wo+2], plus the wo+3 floats a
 * parity's view of it (starting up to wo+3 floats in) reaches beyond. */
static size_t padded_dy_floats(const clgan_conv_shape *s) {
  size_t hp = (size_t)s->ho + 2, wp = (size_t)s->wo + 2;
  return (size_t)s->cout * s->n * hp * wp + wp + 1;
}

/* The sub-kernels follow the padded dy in col, 16-float aligned. */
static size_t wsub_offset(const clgan_conv_shape *s) {
  return clgan_round_up(padded_dy_floats(s), 16);
}

size_t conv_subpix_col_floats(const clgan_conv_shape *s) {
  return wsub_offset(s) + 16 * (size_t)s->cin * s->cout;
}

clgan_status conv_subpix_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                   const clgan_gemm_variant *v, clgan_conv_subpix_plan *out,
                                   int *ok) {
  memset(out, 0, sizeof *out);
  *ok = 0;
  if (!conv_subpix_applies(s)) return CLGAN_OK;
  clgan_conv_subpix_plan p;
  memset(&p, 0, sizeof p);
  /* one parity: dx_par [cin, n*ho*wo] = wsub_par [cin, cout*4] x col(dyp) */
  size_t np = (size_t)s->n * s->ho * s->wo, kdim = (size_t)s->cout * 4;
  int gemm_ok = 0;
  clgan_status st = clgan_gemm_conv_scatter_plan(ctx, v, (size_t)s->cin, np, kdim, &p.gemm,
                                                 &gemm_ok);
  if (st != CLGAN_OK || !gemm_ok) return st;
  if ((st = clgan_kernel_get(ctx, "conv_subpixel", NULL, "subpix_gather_w", &p.gather)) !=
          CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "im2col", NULL, "pad_image", &p.pad)) != CLGAN_OK)
    return st;
  p.wsub_off = wsub_offset(s);
  p.col_floats = conv_subpix_col_floats(s);
  if (p.col_floats >= ((size_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_subpixel: workspace beyond 32-bit indexing");
  *out = p;
  *ok = 1;
  return CLGAN_OK;
}

/* dyp = dy with a border of one zero (pad_image in im2col.cl). */
static clgan_status run_pad(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                            const clgan_conv_shape *s, clgan_buf dy, clgan_buf dyp) {
  cl_uint dy_off = (cl_uint)dy.off, out_off = (cl_uint)dyp.off;
  cl_uint planes = (cl_uint)((uint64_t)s->cout * s->n);
  cl_int h = s->ho, w = s->wo, pad = 1;
  clgan_status st;
  if ((st = clgan_set_args(p->pad, 8, sizeof(cl_mem), &dy.mem, sizeof dy_off, &dy_off,
                           sizeof(cl_mem), &dyp.mem, sizeof out_off, &out_off, sizeof planes,
                           &planes, sizeof h, &h, sizeof w, &w, sizeof pad, &pad)) != CLGAN_OK)
    return st;
  /* CPUs: exactly the rows, as in conv.c's run_pad */
  size_t global[2] = {clgan_ctx_cpu_paths(ctx) ? (size_t)h + 2 : clgan_round_up((size_t)h + 2, 16), planes};
  return clgan_launch(ctx, p->pad, 2, global, NULL, "pad_image");
}

/* The four parities' sub-kernels of w into wsub [4][cin, cout*4]. */
static clgan_status run_gather(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                               const clgan_conv_shape *s, clgan_buf w, clgan_buf wsub) {
  cl_uint w_off = (cl_uint)w.off, wsub_off = (cl_uint)wsub.off;
  cl_int cin = s->cin, cout = s->cout;
  clgan_status st;
  if ((st = clgan_set_args(p->gather, 6, sizeof(cl_mem), &w.mem, sizeof w_off, &w_off,
                           sizeof(cl_mem), &wsub.mem, sizeof wsub_off, &wsub_off, sizeof cin,
                           &cin, sizeof cout, &cout)) != CLGAN_OK)
    return st;
  size_t global[3] = {clgan_round_up((size_t)4 * s->cout, 16), (size_t)s->cin, 4};
  return clgan_launch(ctx, p->gather, 3, global, NULL, "subpix_gather_w");
}

clgan_status conv_subpix_run(clgan_ctx *ctx, const clgan_conv_subpix_plan *p,
                             const clgan_conv_shape *s, clgan_buf dy, clgan_buf w, clgan_buf dx,
                             clgan_buf col) {
  if (col.floats < p->col_floats)
    return clgan_fail(CLGAN_ERR_INVALID, "conv_subpixel: col holds %zu floats, the plan needs %zu",
                      col.floats, p->col_floats);
  clgan_buf wsub = clgan_buf_at(col, p->wsub_off);
  clgan_status st;
  if ((st = run_pad(ctx, p, s, dy, col)) != CLGAN_OK ||
      (st = run_gather(ctx, p, s, w, wsub)) != CLGAN_OK)
    return st;
  int hp = s->ho + 2, wp = s->wo + 2;
  size_t kdim = (size_t)s->cout * 4, ldc = (size_t)s->n * s->h * s->w;
  /* pixel (b, i, j) of a parity class -> b*h*w + 2i*w + 2j in dx */
  clgan_gemm_scatter sc = {s->wo, s->ho, 2, 2 * s->w, s->h * s->w};
  for (int par = 0; par < 4 && st == CLGAN_OK; par++) {
    int py = par >> 1, px = par & 1;
    /* the parity's 2x2 window starts py rows and px columns into dyp */
    clgan_gemm_conv_x x = {clgan_buf_at(col, (size_t)py * wp + px), s->cout, s->n, hp, wp, 2, 1,
                           s->ho, s->wo};
    st = clgan_gemm_conv_scatter(ctx, &p->gemm, clgan_buf_at(wsub, (size_t)par * s->cin * kdim),
                                 &x, clgan_buf_at(dx, (size_t)py * s->w + px), ldc, &sc);
  }
  return st;
}
