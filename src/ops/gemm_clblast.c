/* The CLBlast backend of the GEMM: its SGEMM on the context's queue, with
 * the context's GEMM workspace as its temporary buffer. */
#include <clblast_c.h>

#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* The floats of CLBlast's temporary buffer (padded copies of the operands)
 * for one call. CLBlast would allocate and release it on every call: it gets
 * the context's GEMM workspace instead, sized while planning like the own
 * backend's. */
static CLBlastStatusCode temp_floats(clgan_ctx *ctx, CLBlastTranspose ta, CLBlastTranspose tb,
                                     size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                     size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                                     size_t *floats) {
  size_t temp_bytes = 0;
  CLBlastStatusCode s =
      CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, m, n, k, a_off, lda, b_off, ldb,
                                 c_off, ldc, &ctx->queue, &temp_bytes);
  *floats = (temp_bytes + sizeof(float) - 1) / sizeof(float) + 1;
  return s;
}

static clgan_status clblast_fail(const clgan_ctx *ctx, int ta, int tb, size_t m, size_t n,
                                 size_t k, CLBlastStatusCode s) {
  return clgan_fail(CLGAN_ERR_CLBLAST,
                    "CLBlastSgemm(%c%c, m=%zu n=%zu k=%zu) failed on %s: CLBlast status %d%s%s",
                    ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, ctx->dev.name, (int)s,
                    (int)s > -1024 ? " = " : "",
                    (int)s > -1024 ? clgan_cl_error_name((int)s) : "");
}

clgan_status gemm_clblast_run(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                              float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                              float beta, clgan_buf c, size_t ldc) {
  CLBlastTranspose ta_ = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb_ = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
  size_t floats = 0;
  CLBlastStatusCode s = temp_floats(ctx, ta_, tb_, m, n, k, a.off, lda, b.off, ldb, c.off, ldc,
                                    &floats);
  if (s == CLBlastSuccess) {
    /* grown by clgan_gemm_plan_prepare, else here (refused when frozen) */
    clgan_status st = gemm_ws_reserve(ctx, floats);
    if (st != CLGAN_OK) return st;
    cl_event *ev = clgan_profile_next_event(ctx, "clblast_sgemm"); /* NULL unless profiling */
    clgan_count_launch(ctx);
    s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta_, tb_, m, n, k, alpha, a.mem, a.off,
                                   lda, b.mem, b.off, ldb, beta, c.mem, c.off, ldc, &ctx->queue,
                                   ev, ctx->gemm_ws.mem);
  }
  return s == CLBlastSuccess ? CLGAN_OK : clblast_fail(ctx, ta, tb, m, n, k, s);
}

/* Builds CLBlast's SGEMM program for this device (a 1x1x1 GEMM), so that
 * its compile happens while planning rather than in the first step. */
clgan_status gemm_clblast_warm(clgan_ctx *ctx) {
  clgan_buf t;
  clgan_status st = clgan_buf_alloc(ctx, 3, &t);
  if (st == CLGAN_OK) st = clgan_fill(ctx, t, 3, 0.0f);
  if (st == CLGAN_OK)
    st = gemm_clblast_run(ctx, 0, 0, 1, 1, 1, 1.0f, t, 1, clgan_buf_at(t, 1), 1, 0.0f,
                          clgan_buf_at(t, 2), 1);
  if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
  clgan_buf_release(&t);
  return st;
}

clgan_status gemm_clblast_plan(clgan_ctx *ctx, clgan_gemm_plan *p) {
  int ta = p->trans_a, tb = p->trans_b;
  size_t lda = ta ? p->m : p->k, ldb = tb ? p->k : p->n;
  CLBlastStatusCode s = temp_floats(ctx, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                    tb ? CLBlastTransposeYes : CLBlastTransposeNo, p->m, p->n,
                                    p->k, 0, lda, 0, ldb, 0, p->n, &p->ws_floats);
  return s == CLBlastSuccess ? CLGAN_OK : clblast_fail(ctx, ta, tb, p->m, p->n, p->k, s);
}
