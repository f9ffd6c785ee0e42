/* GEMM: row-major C[M,N] = alpha * op(A) * op(B) + beta * C on three backends,
 * the engine's own kernels (gemm_own.c, cl/gemm.cl) and CLBlast's SGEMM
 * (gemm_clblast.c), chosen per context and shape class (gemm_choice.c), and
 * the local-memory kernels for GPUs (gemm_lds.c, cl/gemm_lds.cl), which run
 * where the plan-time tuner chose them (or a caller or the tuning asks).
 * This file is the plan step above them: it plans (backend, kernels,
 * workspace), checks the arguments and runs plans, and holds the conv
 * core's entries (gemm_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ops/gemm_lds.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

const char *clgan_gemm_backend_name(clgan_gemm_backend backend) {
  switch (backend) {
    case CLGAN_GEMM_AUTO: return "auto";
    case CLGAN_GEMM_OWN: return "own";
    case CLGAN_GEMM_CLBLAST: return "clblast";
    case CLGAN_GEMM_LDS: return "lds";
    default: return "unknown";
  }
}

/* ---- argument checks ----------------------------------------------------- */

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

/* ---- plans ------------------------------------------------------------- */

/* A plan on a given backend (AUTO: the context's for the shape), with the
 * own tile of v (NULL: the device's). */
static clgan_status plan_on(clgan_ctx *ctx, clgan_gemm_backend backend,
                            const clgan_gemm_variant *v, int trans_a, int trans_b, size_t m,
                            size_t n, size_t k, clgan_gemm_plan *out) {
  clgan_gemm_plan p = {.trans_a = trans_a != 0, .trans_b = trans_b != 0, .m = m, .n = n, .k = k};
  clgan_status st = CLGAN_OK;
  if (backend == CLGAN_GEMM_AUTO && m > 0 && n > 0 &&
      (st = gemm_backend_for(ctx, m, n, k, &backend)) != CLGAN_OK)
    return st;
  if (backend != CLGAN_GEMM_OWN && backend != CLGAN_GEMM_CLBLAST && backend != CLGAN_GEMM_LDS &&
      backend != CLGAN_GEMM_AUTO)
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: unknown backend %d", (int)backend);
  if (m >= ((size_t)1 << 31) || n >= ((size_t)1 << 31) || k >= ((size_t)1 << 31))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: matrices beyond 32-bit indexing");
  p.backend = backend;
  if (m == 0 || n == 0) {
    p.path = CLGAN_GEMM_PATH_NONE;
  } else if (backend == CLGAN_GEMM_CLBLAST && k > 0) {
    p.path = CLGAN_GEMM_PATH_CLBLAST;
    st = gemm_clblast_plan(ctx, &p);
  } else if (backend == CLGAN_GEMM_LDS && k > 0) {
    st = gemm_lds_plan(ctx, 0, v, &p);
  } else { /* CLBlast rejects k == 0; C = beta * C is the own kernel's k == 0 case */
    st = gemm_own_plan_variant(ctx, 0, v && v->backend == CLGAN_GEMM_OWN ? v : NULL, &p);
  }
  if (st == CLGAN_OK) *out = p;
  return st;
}

clgan_status clgan_gemm_plan_make(clgan_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n,
                                  size_t k, clgan_gemm_plan *out) {
  return plan_on(ctx, CLGAN_GEMM_AUTO, NULL, trans_a, trans_b, m, n, k, out);
}

clgan_status clgan_gemm_plan_variant(clgan_ctx *ctx, const clgan_gemm_variant *v, int trans_a,
                                     int trans_b, size_t m, size_t n, size_t k,
                                     clgan_gemm_plan *out) {
  if (v && !clgan_gemm_variant_valid(v))
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: invalid variant (backend %d, tile %d %d %d %d)",
                      (int)v->backend, v->tm, v->nv, v->lx, v->ly);
  return plan_on(ctx, v ? v->backend : CLGAN_GEMM_AUTO, v, trans_a, trans_b, m, n, k, out);
}

clgan_status clgan_gemm_plan_prepare(clgan_ctx *ctx, const clgan_gemm_plan *plan) {
  if (!plan) return clgan_fail(CLGAN_ERR_INVALID, "clgan_gemm_plan_prepare: plan is NULL");
  clgan_status st = gemm_ws_reserve(ctx, plan->ws_floats);
  if (st == CLGAN_OK && plan->path == CLGAN_GEMM_PATH_CLBLAST) st = gemm_clblast_warm(ctx);
  return st;
}

clgan_status clgan_gemm_run(clgan_ctx *ctx, const clgan_gemm_plan *plan, float alpha,
                            clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                            clgan_buf c, size_t ldc) {
  const clgan_gemm_plan *p = plan;
  if (!p) return clgan_fail(CLGAN_ERR_INVALID, "clgan_gemm_run: plan is NULL");
  clgan_status st =
      check_args(p->trans_a, p->trans_b, p->m, p->n, p->k, a, lda, b, ldb, c, ldc);
  if (st != CLGAN_OK) return st;
  switch (p->path) {
    case CLGAN_GEMM_PATH_NONE: return CLGAN_OK;
    case CLGAN_GEMM_PATH_CLBLAST:
      return gemm_clblast_run(ctx, p->trans_a, p->trans_b, p->m, p->n, p->k, alpha, a, lda, b,
                              ldb, beta, c, ldc);
    case CLGAN_GEMM_PATH_SIMPLE:
    case CLGAN_GEMM_PATH_TILED:
      return gemm_own_run(ctx, p, alpha, a, lda, b, ldb, beta, c, ldc, NULL, NULL);
    case CLGAN_GEMM_PATH_LDS:
      if (!p->lds.conv_x) return gemm_lds_run(ctx, p, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
      break;
    default: break;
  }
  return clgan_fail(CLGAN_ERR_INVALID, "gemm: plan of path %d is not a plain GEMM's",
                    (int)p->path);
}

clgan_status clgan_gemm_run_same_a(clgan_ctx *ctx, const clgan_gemm_plan *plan, float alpha,
                                   clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                                   clgan_buf c, size_t ldc) {
  if (!plan || plan->path != CLGAN_GEMM_PATH_TILED)
    return clgan_gemm_run(ctx, plan, alpha, a, lda, b, ldb, beta, c, ldc);
  clgan_status st =
      check_args(plan->trans_a, plan->trans_b, plan->m, plan->n, plan->k, a, lda, b, ldb, c, ldc);
  if (st != CLGAN_OK) return st;
  return gemm_own_run_same_a(ctx, plan, alpha, a, lda, b, ldb, beta, c, ldc);
}

clgan_status clgan_gemm_with(clgan_ctx *ctx, clgan_gemm_backend backend, int trans_a,
                             int trans_b, size_t m, size_t n, size_t k, float alpha, clgan_buf a,
                             size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                             size_t ldc) {
  /* the arguments first, so that a bad call neither measures nor allocates */
  clgan_status st = check_args(trans_a != 0, trans_b != 0, m, n, k, a, lda, b, ldb, c, ldc);
  clgan_gemm_plan p;
  if (st == CLGAN_OK) st = plan_on(ctx, backend, NULL, trans_a, trans_b, m, n, k, &p);
  if (st == CLGAN_OK) st = clgan_gemm_run(ctx, &p, alpha, a, lda, b, ldb, beta, c, ldc);
  return st;
}

/* ---- products with a conv's im2col matrix read from its image ------------- */

clgan_status clgan_gemm_conv_plan_make(clgan_ctx *ctx, int filter, size_t m, size_t n, size_t k,
                                       clgan_gemm_plan *out, int *ok) {
  return clgan_gemm_conv_plan_variant(ctx, NULL, filter, m, n, k, out, ok);
}

clgan_status clgan_gemm_conv_plan_variant(clgan_ctx *ctx, const clgan_gemm_variant *v, int filter,
                                          size_t m, size_t n, size_t k, clgan_gemm_plan *out,
                                          int *ok) {
  *ok = 0;
  if (v && v->backend == CLGAN_GEMM_AUTO) v = NULL; /* the engine's choice */
  if (gemm_own_is_tiny(m, n, k) || m >= ((size_t)1 << 31) || n >= ((size_t)1 << 31) ||
      k >= ((size_t)1 << 31))
    return CLGAN_OK;
  if (v && ((v->backend != CLGAN_GEMM_OWN && v->backend != CLGAN_GEMM_LDS) ||
            !clgan_gemm_variant_valid(v)))
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: a conv product from the image needs an own "
                                         "or LDS variant (backend %d)", (int)v->backend);
  clgan_gemm_backend be = v ? v->backend : CLGAN_GEMM_OWN;
  clgan_status st = v ? CLGAN_OK : gemm_backend_for(ctx, m, n, k, &be);
  if (st != CLGAN_OK || (be != CLGAN_GEMM_OWN && be != CLGAN_GEMM_LDS)) return st;
  clgan_gemm_plan p = {.trans_a = 0, .trans_b = filter != 0, .m = m, .n = n, .k = k};
  st = be == CLGAN_GEMM_LDS ? gemm_lds_plan(ctx, 1, v, &p) : gemm_own_plan_variant(ctx, 1, v, &p);
  if (st != CLGAN_OK) return st;
  *out = p;
  *ok = 1;
  return CLGAN_OK;
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

/* A conv plan of this kind whose shape is the image's. */
static clgan_status conv_entry(const clgan_gemm_plan *p, int filter, size_t m, size_t n,
                               size_t k) {
  int conv_path = p->path == CLGAN_GEMM_PATH_CONV_X ||
                  (p->path == CLGAN_GEMM_PATH_LDS && p->lds.conv_x);
  if (!conv_path || p->trans_b != filter || p->m != m || p->n != n || p->k != k)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "gemm: the plan (path %d, %zu x %zu x %zu) is not the %s from the image "
                      "of %zu x %zu x %zu",
                      (int)p->path, p->m, p->n, p->k, filter ? "weight gradient" : "forward", m,
                      n, k);
  return CLGAN_OK;
}

clgan_status clgan_gemm_conv_filter(clgan_ctx *ctx, const clgan_gemm_plan *plan, clgan_buf dy,
                                    const clgan_gemm_conv_x *x, clgan_buf dw, float beta) {
  size_t cout = plan->m;
  size_t kdim = (size_t)x->cin * x->kw * x->kw, p = (size_t)x->n * x->ho * x->wo;
  clgan_status st = conv_entry(plan, 1, cout, kdim, p);
  if (st == CLGAN_OK) st = conv_x_check(x, "dY", dy, cout, p, "dW", dw, cout, kdim);
  if (st != CLGAN_OK) return st;
  if (plan->path == CLGAN_GEMM_PATH_LDS)
    return gemm_lds_run(ctx, plan, 1.0f, dy, p, x->img, p, beta, dw, kdim, x);
  return gemm_own_run(ctx, plan, 1.0f, dy, p, x->img, p, beta, dw, kdim, x, NULL);
}

int clgan_gemm_conv_forward_fuses(const clgan_gemm_plan *plan, clgan_act act) {
  if (act != CLGAN_ACT_NONE && act != CLGAN_ACT_RELU && act != CLGAN_ACT_LEAKY_RELU) return 0;
  return plan->path == CLGAN_GEMM_PATH_CONV_X && plan->own.splits == 1;
}

clgan_status clgan_gemm_conv_forward(clgan_ctx *ctx, const clgan_gemm_plan *plan, clgan_buf w,
                                     const clgan_gemm_conv_x *x, clgan_buf y,
                                     const clgan_gemm_epilogue *epi) {
  size_t cout = plan->m;
  size_t kdim = (size_t)x->cin * x->kw * x->kw, p = (size_t)x->n * x->ho * x->wo;
  clgan_status st = conv_entry(plan, 0, cout, p, kdim);
  if (st == CLGAN_OK) st = conv_x_check(x, "W", w, cout, kdim, "Y", y, cout, p);
  if (st != CLGAN_OK) return st;
  if (epi && epi->act != CLGAN_ACT_NONE && !clgan_gemm_conv_forward_fuses(plan, epi->act))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "gemm: this conv forward plan cannot apply activation %d as it stores",
                      (int)epi->act);
  if (plan->path == CLGAN_GEMM_PATH_LDS)
    return gemm_lds_run(ctx, plan, 1.0f, w, kdim, x->img, p, 0.0f, y, p, x);
  return gemm_own_run(ctx, plan, 1.0f, w, kdim, x->img, p, 0.0f, y, p, x, epi);
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
  if (be == CLGAN_GEMM_CLBLAST) {
    clgan_gemm_plan p = {.m = m, .n = n, .k = k, .backend = be, .path = CLGAN_GEMM_PATH_CLBLAST};
    if ((st = gemm_clblast_plan(ctx, &p)) != CLGAN_OK) return st;
    return clgan_gemm_plan_prepare(ctx, &p);
  }
  return gemm_own_reserve(ctx, m, n, k);
}
