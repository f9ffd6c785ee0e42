/* GEMM: row-major C[M,N] = alpha * op(A) * op(B) + beta * C on two backends,
 * the engine's own kernels (gemm_own.c, cl/gemm.cl) and CLBlast's SGEMM,
 * chosen per context and shape class (gemm_choice.c). This file checks the
 * arguments, dispatches, runs CLBlast, and holds the conv core's entries
 * (gemm_internal.h). */
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

const char *clgan_gemm_backend_name(clgan_gemm_backend backend) {
  switch (backend) {
    case CLGAN_GEMM_AUTO: return "auto";
    case CLGAN_GEMM_OWN: return "own";
    case CLGAN_GEMM_CLBLAST: return "clblast";
    default: return "unknown";
  }
}

/* ---- CLBlast backend ----------------------------------------------------- */

static clgan_status clblast_gemm(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                                 float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                                 float beta, clgan_buf c, size_t ldc) {
  CLBlastTranspose ta_ = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb_ = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
  /* CLBlast's own temporary buffer (padded copies of the operands) would be
   * allocated and released on every call: it gets the context's GEMM
   * workspace instead, sized while planning like the own backend's. */
  size_t temp_bytes = 0;
  CLBlastStatusCode s =
      CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta_, tb_, m, n, k, a.off, lda, b.off, ldb,
                                 c.off, ldc, &ctx->queue, &temp_bytes);
  if (s == CLBlastSuccess) {
    clgan_status st = gemm_ws_reserve(ctx, (temp_bytes + sizeof(float) - 1) / sizeof(float) + 1);
    if (st != CLGAN_OK) return st;
    cl_event *ev = clgan_profile_next_event(ctx, "clblast_sgemm"); /* NULL unless profiling */
    s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta_, tb_, m, n, k, alpha, a.mem, a.off,
                                   lda, b.mem, b.off, ldb, beta, c.mem, c.off, ldc, &ctx->queue,
                                   ev, ctx->gemm_ws.mem);
  }
  if (s == CLBlastSuccess) return CLGAN_OK;
  return clgan_fail(CLGAN_ERR_CLBLAST,
                    "CLBlastSgemm(%c%c, m=%zu n=%zu k=%zu) failed on %s: CLBlast status %d%s%s",
                    ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, ctx->dev.name, (int)s,
                    (int)s > -1024 ? " = " : "",
                    (int)s > -1024 ? clgan_cl_error_name((int)s) : "");
}

/* Builds CLBlast's SGEMM program for this device (a 1x1x1 GEMM), so that
 * its compile happens while planning rather than in the first step. */
static clgan_status clblast_warm(clgan_ctx *ctx) {
  clgan_buf t;
  clgan_status st = clgan_buf_alloc(ctx, 3, &t);
  if (st == CLGAN_OK) st = clgan_fill(ctx, t, 3, 0.0f);
  if (st == CLGAN_OK)
    st = clblast_gemm(ctx, 0, 0, 1, 1, 1, 1.0f, t, 1, clgan_buf_at(t, 1), 1, 0.0f,
                      clgan_buf_at(t, 2), 1);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  clgan_buf_release(&t);
  return st;
}

/* ---- dispatch ------------------------------------------------------------ */

/* Whether a rows x cols matrix with row stride ld at x.off overruns x.mem
 * (sets the error when it does). */
static int buf_short(const char *name, clgan_buf x, size_t rows, size_t cols, size_t ld) {
  size_t bytes = 0;
  if (clGetMemObjectInfo(x.mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS) {
    clgan_fail(CLGAN_ERR_INVALID, "gemm: %s is not a valid buffer", name);
    return 1;
  }
  size_t need = x.off + (rows - 1) * ld + cols;
  if (need <= bytes / sizeof(float)) return 0;
  clgan_fail(CLGAN_ERR_INVALID,
             "gemm: %s (%zu x %zu, row stride %zu, offset %zu) needs %zu floats, its buffer holds "
             "%zu",
             name, rows, cols, ld, x.off, need, bytes / sizeof(float));
  return 1;
}

static clgan_status check_args(int ta, int tb, size_t m, size_t n, size_t k, clgan_buf a,
                               size_t lda, clgan_buf b, size_t ldb, clgan_buf c, size_t ldc) {
  size_t a_cols = ta ? m : k, b_cols = tb ? k : n;
  if (lda < a_cols || ldb < b_cols || ldc < n || lda == 0 || ldb == 0 || ldc == 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "gemm: row stride too small (m=%zu n=%zu k=%zu, lda=%zu ldb=%zu ldc=%zu, "
                      "trans_a=%d trans_b=%d)",
                      m, n, k, lda, ldb, ldc, ta, tb);
  if (!c.mem || (k > 0 && (!a.mem || !b.mem)))
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: null buffer");
  if (m == 0 || n == 0) return CLGAN_OK;
  /* Out-of-range accesses would corrupt other buffers silently on GPUs. */
  if ((k > 0 && (buf_short("A", a, ta ? k : m, ta ? m : k, lda) ||
                 buf_short("B", b, tb ? n : k, tb ? k : n, ldb))) ||
      buf_short("C", c, m, n, ldc))
    return CLGAN_ERR_INVALID;
  /* Kernels index with 32-bit integers. */
  const size_t lim = (size_t)1 << 31;
  size_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  if (m >= lim || n >= lim || k >= lim || lda >= lim || ldb >= lim || ldc >= lim ||
      a.off + a_rows * lda >= lim * 2 || b.off + b_rows * ldb >= lim * 2 ||
      c.off + m * ldc >= lim * 2)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: matrices beyond 32-bit indexing");
  return CLGAN_OK;
}

clgan_status clgan_gemm_with(clgan_ctx *ctx, clgan_gemm_backend backend, int trans_a,
                             int trans_b, size_t m, size_t n, size_t k, float alpha, clgan_buf a,
                             size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                             size_t ldc) {
  int ta = trans_a != 0, tb = trans_b != 0;
  clgan_status st = check_args(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  if (st != CLGAN_OK) return st;
  if (m == 0 || n == 0) return CLGAN_OK;
  if (backend == CLGAN_GEMM_AUTO && (st = gemm_backend_for(ctx, m, n, k, &backend)) != CLGAN_OK)
    return st;
  /* CLBlast rejects k == 0; C = beta * C is the own kernel's k == 0 case. */
  if (backend == CLGAN_GEMM_CLBLAST && k > 0)
    return clblast_gemm(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (backend != CLGAN_GEMM_OWN && backend != CLGAN_GEMM_CLBLAST)
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: unknown backend %d", (int)backend);
  return gemm_own(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0);
}

/* ---- products with a conv's im2col matrix read from its image ------------- */

clgan_status clgan_gemm_conv_ok(clgan_ctx *ctx, size_t m, size_t n, size_t k, int *ok) {
  *ok = 0;
  if (gemm_own_is_tiny(m, n, k) || m >= ((size_t)1 << 31) || n >= ((size_t)1 << 31) ||
      k >= ((size_t)1 << 31))
    return CLGAN_OK;
  clgan_gemm_backend be;
  clgan_status st = gemm_backend_for(ctx, m, n, k, &be);
  if (st == CLGAN_OK) *ok = be == CLGAN_GEMM_OWN;
  return st;
}

/* The padded image and the other operands fit what gemm_tile_conv indexes. */
static clgan_status conv_x_check(const clgan_gemm_conv_x *x, const char *wname, clgan_buf w,
                                 size_t wr, size_t wc, const char *oname, clgan_buf o, size_t orows,
                                 size_t ocols) {
  size_t img_floats = (size_t)x->cin * x->n * x->hp * x->wp;
  if (buf_short("the padded image", x->img, 1, img_floats, img_floats) ||
      buf_short(wname, w, wr, wc, wc) || buf_short(oname, o, orows, ocols, ocols))
    return CLGAN_ERR_INVALID;
  if (x->img.off + img_floats >= ((size_t)1 << 32) || w.off + wr * wc >= ((size_t)1 << 32) ||
      o.off + orows * ocols >= ((size_t)1 << 32) || img_floats >= ((size_t)1 << 31))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: matrices beyond 32-bit indexing");
  return CLGAN_OK;
}

static clgan_status conv_entry(clgan_ctx *ctx, size_t m, size_t n, size_t k, const char *what) {
  int ok;
  clgan_status st = clgan_gemm_conv_ok(ctx, m, n, k, &ok);
  if (st == CLGAN_OK && !ok)
    st = clgan_fail(CLGAN_ERR_INVALID,
                    "gemm: no %s from the image for %zu x %zu x %zu on this context (ask "
                    "clgan_gemm_conv_ok first)",
                    what, m, n, k);
  return st;
}

clgan_status clgan_gemm_conv_filter(clgan_ctx *ctx, size_t cout, clgan_buf dy,
                                    const clgan_gemm_conv_x *x, clgan_buf dw, float beta) {
  size_t kdim = (size_t)x->cin * x->kw * x->kw, p = (size_t)x->n * x->ho * x->wo;
  clgan_status st = conv_entry(ctx, cout, kdim, p, "weight gradient");
  if (st == CLGAN_OK) st = conv_x_check(x, "dY", dy, cout, p, "dW", dw, cout, kdim);
  if (st != CLGAN_OK) return st;
  return gemm_own(ctx, 0, 1, cout, kdim, p, 1.0f, dy, p, x->img, p, beta, dw, kdim, x, 0);
}

clgan_status clgan_gemm_conv_forward(clgan_ctx *ctx, size_t cout, clgan_buf w,
                                     const clgan_gemm_conv_x *x, clgan_buf y) {
  size_t kdim = (size_t)x->cin * x->kw * x->kw, p = (size_t)x->n * x->ho * x->wo;
  clgan_status st = conv_entry(ctx, cout, p, kdim, "forward");
  if (st == CLGAN_OK) st = conv_x_check(x, "W", w, cout, kdim, "Y", y, cout, p);
  if (st != CLGAN_OK) return st;
  return gemm_own(ctx, 0, 0, cout, p, kdim, 1.0f, w, kdim, x->img, p, 0.0f, y, p, x, 1);
}

clgan_status clgan_gemm(clgan_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                        float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                        float beta, clgan_buf c, size_t ldc) {
  return clgan_gemm_with(ctx, CLGAN_GEMM_AUTO, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                         beta, c, ldc);
}

clgan_status clgan_gemm_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k) {
  clgan_gemm_backend be;
  clgan_status st = gemm_backend_for(ctx, m, n, k, &be);
  if (st != CLGAN_OK) return st;
  if (be == CLGAN_GEMM_CLBLAST) return clblast_warm(ctx);
  return gemm_own_reserve(ctx, m, n, k);
}
