/* GEMM: row-major C[M,N] = alpha * op(A) * op(B) + beta * C on two backends,
 * the engine's own kernels (cl/gemm.cl) and CLBlast's SGEMM.
 *
 * Backend choice for a context created with CLGAN_GEMM_AUTO, first match wins:
 *   1. the environment variable CLGAN_GEMM=own|clblast forces a backend;
 *   2. a choice remembered in the disk cache for this device (kind "gemm");
 *   3. otherwise both backends are timed once and the faster one is
 *      remembered.
 * The choice is made per shape class: regular GEMMs (timed on 512^3) and
 * long reductions (k much larger than m and n: the weight gradients, timed
 * on 128 x 256 x 32768, where the own kernel's split-K may win even on a
 * device where CLBlast wins the rest).
 * A backend given explicitly in clgan_ctx_options always wins. */
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ops/gemm_internal.h"
#include "runtime/internal.h"

#define GEMM_CACHE_VERSION "3"

const char *clgan_gemm_backend_name(clgan_gemm_backend backend) {
  switch (backend) {
    case CLGAN_GEMM_AUTO: return "auto";
    case CLGAN_GEMM_OWN: return "own";
    case CLGAN_GEMM_CLBLAST: return "clblast";
    default: return "unknown";
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- own backend --------------------------------------------------------- */

/* Tile configuration of the own kernels for a device; the same numbers go
 * into the build options (-D) and the launch geometry. */
typedef struct own_config {
  int tm, nv;      /* TM, NV of cl/gemm.cl: a TM x 16*NV register tile */
  size_t lx, ly;   /* preferred work-group shape in tiles (columns, rows) */
} own_config;

/* Below this many multiply-adds one work-item per element beats packing. */
#define OWN_SIMPLE_MAX_MACS 32768
/* Y's panels take at most this many floats of workspace (beyond one
 * work-group's column of panels): a larger Y is packed and multiplied in
 * column chunks, which keeps the workspace (memory every process touches
 * once, slowly on some hosts, and the cache footprint) small; without split
 * k only. */
#define OWN_Y_CHUNK_FLOATS ((size_t)4 << 20)
/* Split k over work-groups only in ranges of at least this many. */
#define OWN_SPLIT_MIN_K 1024

/* A long reduction: k much larger than m and n (the weight gradients,
 * k = n*h*w). Such GEMMs are a shape class of their own in the backend
 * choice and read their large operand in place on the own path. */
static int long_reduction(size_t m, size_t n, size_t k) {
  size_t mn = m > n ? m : n;
  return k >= 4096 && k >= 16 * mn;
}

/* GEMMs for the one-work-item-per-element kernel (no overflow in m*n*k). */
static int own_is_tiny(size_t m, size_t n, size_t k) {
  return k == 0 || (m * n <= OWN_SIMPLE_MAX_MACS && m * n * k <= OWN_SIMPLE_MAX_MACS);
}

static own_config own_config_for(const clgan_ctx *ctx) {
  own_config c;
  const char *e;
  if (ctx->dev.is_cpu) {
    /* 8 x 32 tiles: 16 float16 accumulators, two B vectors and eight A
     * broadcasts per k. 4 x 16 tiles per group: 16 row panels share the B
     * panels while they are in cache (CPU implementations run a group's
     * work-items in sequence, dimension 0 innermost). */
    c.tm = 8, c.nv = 2, c.lx = 4, c.ly = 16;
  } else { /* a smaller tile keeps the accumulators in GPU registers */
    c.tm = 4, c.nv = 1, c.lx = 16, c.ly = 8;
  }
  /* Development override (tuning): CLGAN_GEMM_TILE="tm nv lx ly". */
  if ((e = getenv("CLGAN_GEMM_TILE")) && *e) {
    int tm, nv, lx, ly;
    if (sscanf(e, "%d %d %d %d", &tm, &nv, &lx, &ly) == 4 && tm >= 1 && tm <= 16 && nv >= 1 &&
        nv <= 4 && lx >= 1 && ly >= 1 && lx * ly <= 4096)
      c.tm = tm, c.nv = nv, c.lx = (size_t)lx, c.ly = (size_t)ly;
  }
  size_t maxwg = ctx->dev.max_work_group_size ? ctx->dev.max_work_group_size : 1;
  while (c.lx * c.ly > maxwg) {
    if (c.ly > 1) c.ly /= 2;
    else c.lx /= 2;
  }
  return c;
}

static clgan_status own_kernel(clgan_ctx *ctx, const own_config *cfg, const char *name,
                               cl_kernel *out) {
  char opts[64];
  snprintf(opts, sizeof opts, "-DTM=%d -DNV=%d", cfg->tm, cfg->nv);
  return clgan_kernel_get(ctx, "gemm", opts, name, out);
}

/* How one GEMM runs on the tiled path. The tile kernel computes
 * X (m_f x k) times Y^T (Y: n_f x k), where X(i, p) = x[i*x_rs + p*x_cs] and
 * Y(j, p) = y[j*y_rs + p*y_cs]: either X = op(A), Y = op(B)^T and C stored as
 * is, or (swapped) X = op(B)^T, Y = op(A) and C^T stored.
 * Y is always packed into panels. X is packed too, except in long
 * reductions (the weight gradients, k = n*h*w) when its rows are contiguous:
 * there gemm_tile streams its TM rows in place, and the formulation whose X
 * that is (the im2col matrix) leaves only the small operand to pack.
 * (Measured on PoCL: in-place reads of B rows, of A^T columns, or of A rows
 * with short k all lose to packing, their power-of-two strides fighting over
 * the same cache sets; A rows with long k win, 192 vs 138 GFLOP/s on the
 * 128 x 1024 x 32768 weight gradient.) */
typedef struct own_plan {
  size_t tm, tn;        /* tile */
  size_t m, n;          /* m_f, n_f: the tiled product's shape */
  size_t mp, np;        /* m_f, n_f padded to the tile */
  size_t lx, ly;        /* work-group shape in tiles */
  size_t splits, kz;    /* k cut into `splits` ranges of kz (the last shorter) */
  int swapped;          /* C^T = op(B)^T op(A)^T */
  int x_rs, x_cs, y_rs, y_cs; /* the operands' strides in their buffers */
  int x_packed;         /* else rows of X read in place */
  int a_ps, a_ks, a_rs; /* gemm_tile's view of X */
  size_t chunk;         /* Y packed and multiplied in chunks of this many rows */
  size_t bp_off, part_off, ws_floats; /* workspace: X panels, Y panels, partial C */
} own_plan;

static size_t pow2_at_least(size_t x) {
  size_t p = 1;
  while (p < x) p *= 2;
  return p;
}

/* X's view for one formulation; returns the number of floats it packs. */
static size_t own_views(own_plan *p, size_t k, int rows_in_place) {
  p->x_packed = !(rows_in_place && p->x_cs == 1);
  if (p->x_packed) p->a_ps = (int)(k * p->tm), p->a_ks = (int)p->tm, p->a_rs = 1;
  else p->a_ps = (int)p->tm * p->x_rs, p->a_ks = 1, p->a_rs = p->x_rs;
  return (p->x_packed ? p->m * k : 0) + p->n * k;
}

/* How a plan is chosen: the formulation that packs least; the fully packed
 * one (the largest workspace, what clgan_gemm_reserve sets aside for a
 * shape whatever its transposes); or the swapped one with X read from an
 * image by gemm_tile_conv (clgan_gemm_conv_filter and _forward), nothing of X
 * packed. */
enum { PLAN_CHOOSE, PLAN_PACKED, PLAN_CONV_X };

static own_plan own_plan_for(const clgan_ctx *ctx, const own_config *cfg, int ta, int tb,
                             size_t m, size_t n, size_t k, size_t lda, size_t ldb, int mode) {
  int force_pack = mode == PLAN_PACKED;
  own_plan p = {0};
  p.tm = (size_t)cfg->tm, p.tn = 16 * (size_t)cfg->nv;
  /* op(A)(i, p) and op(B)^T(j, p) as (row stride, column stride) */
  int a_rs = ta ? 1 : (int)lda, a_cs = ta ? (int)lda : 1;
  int bt_rs = tb ? (int)ldb : 1, bt_cs = tb ? 1 : (int)ldb;
  own_plan q = p;
  int in_place = !force_pack && long_reduction(m, n, k);
  p.swapped = 0, p.m = m, p.n = n;
  p.x_rs = a_rs, p.x_cs = a_cs, p.y_rs = bt_rs, p.y_cs = bt_cs;
  size_t cost = own_views(&p, k, in_place);
  q.swapped = 1, q.m = n, q.n = m;
  q.x_rs = bt_rs, q.x_cs = bt_cs, q.y_rs = a_rs, q.y_cs = a_cs;
  if (own_views(&q, k, in_place) < cost || mode == PLAN_CONV_X) p = q;
  if (mode == PLAN_CONV_X) p.x_packed = 0;

  p.mp = clgan_round_up(p.m, p.tm), p.np = clgan_round_up(p.n, p.tn);
  size_t tiles_x = p.np / p.tn, tiles_y = p.mp / p.tm;
  /* Fewer row tiles than the group is tall: give the group's width to columns. */
  p.ly = cfg->ly, p.lx = cfg->lx;
  while (p.ly > 1 && p.ly / 2 >= tiles_y) p.ly /= 2, p.lx *= 2;
  while (p.lx > 1 && p.lx / 2 >= pow2_at_least(tiles_x)) p.lx /= 2;
  /* Too few groups to fill the device: split k, then sum the partial products. */
  size_t groups = ((tiles_x + p.lx - 1) / p.lx) * ((tiles_y + p.ly - 1) / p.ly);
  size_t want = (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1) *
                (ctx->dev.is_cpu ? 2 : 4);
  p.splits = 1;
  if (groups < want && k >= 2 * OWN_SPLIT_MIN_K) {
    p.splits = (want + groups - 1) / groups;
    if (p.splits > k / OWN_SPLIT_MIN_K) p.splits = k / OWN_SPLIT_MIN_K;
    if (p.splits > 64) p.splits = 64;
  }
  p.kz = clgan_round_up((k + p.splits - 1) / p.splits, 16);
  p.splits = (k + p.kz - 1) / p.kz;
  p.chunk = p.np;
  if (p.splits == 1) {
    size_t step = p.lx * p.tn; /* whole work-groups of column tiles */
    size_t fit = OWN_Y_CHUNK_FLOATS / (k ? k : 1) / step * step;
    if (fit < step) fit = step;
    if (fit < p.chunk) p.chunk = fit;
  }
  p.bp_off = p.x_packed ? p.mp * k : 0;
  p.part_off = p.bp_off + p.chunk * k;
  p.ws_floats = p.part_off + (p.splits > 1 ? p.splits * m * n : 0);
  return p;
}

static clgan_status ws_reserve(clgan_ctx *ctx, size_t floats) {
  if (floats <= ctx->gemm_ws_floats) return CLGAN_OK;
  if (ctx->frozen)
    return clgan_fail(CLGAN_ERR_FROZEN,
                      "gemm: workspace of %zu floats needed inside a planned step (have %zu); "
                      "call clgan_gemm_reserve while planning",
                      floats, ctx->gemm_ws_floats);
  clgan_buf_release(&ctx->gemm_ws);
  ctx->gemm_ws_floats = 0;
  clgan_status st = clgan_buf_alloc(ctx, floats, &ctx->gemm_ws);
  if (st == CLGAN_OK) ctx->gemm_ws_floats = floats;
  return st;
}

/* Fits a work-group shape under the kernel's own limit (registers on GPUs). */
static void fit_local(const clgan_ctx *ctx, cl_kernel kr, size_t *lx, size_t *ly) {
  size_t kmax = clgan_kernel_max_local(ctx, kr);
  while (*lx * *ly > kmax) {
    if (*ly > 1) *ly /= 2;
    else *lx /= 2;
  }
}

static clgan_status own_simple(clgan_ctx *ctx, const own_config *cfg, int ta, int tb, int m,
                               int n, int k, float alpha, clgan_buf a, int lda, clgan_buf b,
                               int ldb, float beta, clgan_buf c, int ldc) {
  cl_kernel kr;
  clgan_status st = own_kernel(ctx, cfg, "gemm_simple", &kr);
  if (st != CLGAN_OK) return st;
  int a_rs = ta ? 1 : lda, a_cs = ta ? lda : 1;
  int b_rs = tb ? 1 : ldb, b_cs = tb ? ldb : 1;
  cl_uint a_off = (cl_uint)a.off, b_off = (cl_uint)b.off, c_off = (cl_uint)c.off;
  st = clgan_set_args(kr, 16, sizeof m, &m, sizeof n, &n, sizeof k, &k, sizeof alpha, &alpha,
                      sizeof beta, &beta, sizeof(cl_mem), &a.mem, sizeof a_off, &a_off,
                      sizeof a_rs, &a_rs, sizeof a_cs, &a_cs, sizeof(cl_mem), &b.mem,
                      sizeof b_off, &b_off, sizeof b_rs, &b_rs, sizeof b_cs, &b_cs,
                      sizeof(cl_mem), &c.mem, sizeof c_off, &c_off, sizeof ldc, &ldc);
  if (st != CLGAN_OK) return st;
  size_t l[2] = {16, 4};
  fit_local(ctx, kr, &l[0], &l[1]);
  size_t g[2] = {clgan_round_up((size_t)n, l[0]), clgan_round_up((size_t)m, l[1])};
  return clgan_launch(ctx, kr, 2, g, l, "gemm_simple");
}

/* Packs X(i, p) = x[i*rs + p*cs] (rows x k) into panels of width TM (which
 * 'a') or TN ('b') at ws[out_off] (see gemm_pack_* in cl/gemm.cl). */
static clgan_status pack(clgan_ctx *ctx, const own_config *cfg, char which, size_t rows,
                         size_t k, clgan_buf x, int rs, int cs, size_t out_off) {
  size_t width = which == 'a' ? (size_t)cfg->tm : 16 * (size_t)cfg->nv;
  int along_i = rs == 1; /* else cs == 1 */
  char name[32];
  snprintf(name, sizeof name, "gemm_pack_%c_%c", which, along_i ? 'i' : 'p');
  cl_kernel kr;
  clgan_status st = own_kernel(ctx, cfg, name, &kr);
  if (st != CLGAN_OK) return st;
  int irows = (int)rows, ik = (int)k, stride = along_i ? cs : rs;
  cl_uint x_off = (cl_uint)x.off, o_off = (cl_uint)out_off;
  if ((st = clgan_set_args(kr, 7, sizeof irows, &irows, sizeof ik, &ik, sizeof(cl_mem), &x.mem,
                           sizeof x_off, &x_off, sizeof stride, &stride, sizeof(cl_mem),
                           &ctx->gemm_ws.mem, sizeof o_off, &o_off)) != CLGAN_OK)
    return st;
  size_t panels = (rows + width - 1) / width, chunks = (k + 15) / 16;
  size_t g[2] = {along_i ? panels : chunks, along_i ? k : panels};
  /* 64 work-items, wide in dimension 0 unless it is short */
  size_t l[2] = {16, 4};
  while (l[0] > 1 && l[0] / 2 >= g[0]) l[0] /= 2, l[1] *= 2;
  fit_local(ctx, kr, &l[0], &l[1]);
  g[0] = clgan_round_up(g[0], l[0]), g[1] = clgan_round_up(g[1], l[1]);
  return clgan_launch(ctx, kr, 2, g, l, name);
}

/* conv_x: op(B)^T (the swapped X) read from an image by gemm_tile_conv, b
 * unused: col itself for a weight gradient (conv_forward 0: X's rows are
 * taps, k runs over pixels), col^T for a forward (1: rows are pixels, k
 * runs over taps); or NULL. */
static clgan_status own_gemm(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                             float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                             float beta, clgan_buf c, size_t ldc, const clgan_gemm_conv_x *conv_x,
                             int conv_forward) {
  own_config cfg = own_config_for(ctx);
  if (!conv_x && own_is_tiny(m, n, k))
    return own_simple(ctx, &cfg, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb,
                      beta, c, (int)ldc);
  own_plan p = own_plan_for(ctx, &cfg, ta, tb, m, n, k, lda, ldb,
                            conv_x ? PLAN_CONV_X : PLAN_CHOOSE);
  if (p.ws_floats >= ((size_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: packing workspace beyond 32-bit indexing");
  clgan_status st = ws_reserve(ctx, p.ws_floats);
  if (st != CLGAN_OK) return st;
  cl_kernel kt, kr = NULL;
  const char *tile = conv_x ? "gemm_tile_conv" : "gemm_tile";
  if ((st = own_kernel(ctx, &cfg, tile, &kt)) != CLGAN_OK ||
      (p.splits > 1 && (st = own_kernel(ctx, &cfg, "gemm_reduce", &kr)) != CLGAN_OK))
    return st;
  clgan_buf x = p.swapped ? b : a, y = p.swapped ? a : b;
  if (p.x_packed && (st = pack(ctx, &cfg, 'a', p.m, k, x, p.x_rs, p.x_cs, 0)) != CLGAN_OK)
    return st;
  cl_mem ws = ctx->gemm_ws.mem;
  cl_mem x_mem = p.x_packed ? ws : x.mem;
  cl_uint x_off = p.x_packed ? 0 : (cl_uint)x.off, y_off = (cl_uint)p.bp_off;
  /* C(i, j) of the tiled product: C itself, or C^T when swapped */
  int c_rs = p.swapped ? 1 : (int)ldc, c_cs = p.swapped ? (int)ldc : 1;

  /* One pass per chunk of Y's rows writes C; split k (one chunk) writes
   * partial products (m_f x n_f, row stride n_f) for gemm_reduce. */
  int split = p.splits > 1;
  int im = (int)p.m, ik = (int)k, ikz = (int)p.kz;
  float t_alpha = split ? 1.0f : alpha, t_beta = split ? 0.0f : beta;
  cl_uint zstride = (cl_uint)(m * n);
  cl_mem t_c = split ? ws : c.mem;
  for (size_t j0 = 0; j0 < p.n; j0 += p.chunk) {
    size_t cols = p.n - j0 < p.chunk ? p.n - j0 : p.chunk;
    if ((st = pack(ctx, &cfg, 'b', cols, k, clgan_buf_at(y, j0 * (size_t)p.y_rs), p.y_rs, p.y_cs,
                   p.bp_off)) != CLGAN_OK)
      return st;
    int in = (int)cols;
    int t_rs = split ? in : c_rs, t_cs = split ? 1 : c_cs;
    cl_uint t_off = split ? (cl_uint)p.part_off : (cl_uint)(c.off + j0 * (size_t)c_cs);
    if (conv_x) {
      const clgan_gemm_conv_x *q = conv_x;
      cl_uint img_off = (cl_uint)q->img.off;
      /* digits and weights of a tap (c, ki, kj) and of a pixel (b, oy, ox) */
      int tap[5] = {q->kw, q->kw, 1, q->wp, q->n * q->hp * q->wp};
      int pix[5] = {q->wo, q->ho, q->stride, q->stride * q->wp, q->hp * q->wp};
      const int *r = conv_forward ? pix : tap, *kd = conv_forward ? tap : pix;
      st = clgan_set_args(kt, 25, sizeof im, &im, sizeof in, &in, sizeof ik, &ik, sizeof ikz, &ikz,
                          sizeof t_alpha, &t_alpha, sizeof t_beta, &t_beta, sizeof(cl_mem),
                          &q->img.mem, sizeof img_off, &img_off, sizeof(int), &r[0], sizeof(int),
                          &r[1], sizeof(int), &r[2], sizeof(int), &r[3], sizeof(int), &r[4],
                          sizeof(int), &kd[0], sizeof(int), &kd[1], sizeof(int), &kd[2],
                          sizeof(int), &kd[3], sizeof(int), &kd[4], sizeof(cl_mem), &ws,
                          sizeof y_off, &y_off, sizeof(cl_mem), &t_c, sizeof t_off, &t_off,
                          sizeof t_rs, &t_rs, sizeof t_cs, &t_cs, sizeof zstride, &zstride);
    } else {
      st = clgan_set_args(kt, 18, sizeof im, &im, sizeof in, &in, sizeof ik, &ik, sizeof ikz, &ikz,
                          sizeof t_alpha, &t_alpha, sizeof t_beta, &t_beta, sizeof(cl_mem),
                          &x_mem, sizeof x_off, &x_off, sizeof p.a_ps, &p.a_ps, sizeof p.a_ks,
                          &p.a_ks, sizeof p.a_rs, &p.a_rs, sizeof(cl_mem), &ws, sizeof y_off,
                          &y_off, sizeof(cl_mem), &t_c, sizeof t_off, &t_off, sizeof t_rs, &t_rs,
                          sizeof t_cs, &t_cs, sizeof zstride, &zstride);
    }
    if (st != CLGAN_OK) return st;
    size_t lx = p.lx, ly = p.ly;
    fit_local(ctx, kt, &lx, &ly);
    size_t np = clgan_round_up(cols, p.tn);
    size_t g[3] = {clgan_round_up(np / p.tn, lx), clgan_round_up(p.mp / p.tm, ly), p.splits};
    size_t l[3] = {lx, ly, 1};
    if ((st = clgan_launch(ctx, kt, 3, g, l, tile)) != CLGAN_OK) return st;
  }
  if (!split) return CLGAN_OK;

  int isplits = (int)p.splits, in = (int)p.n;
  cl_uint part_off = (cl_uint)p.part_off, c_off = (cl_uint)c.off;
  if ((st = clgan_set_args(kr, 11, sizeof im, &im, sizeof in, &in, sizeof isplits, &isplits,
                           sizeof alpha, &alpha, sizeof beta, &beta, sizeof(cl_mem), &ws,
                           sizeof part_off, &part_off, sizeof(cl_mem), &c.mem, sizeof c_off,
                           &c_off, sizeof c_rs, &c_rs, sizeof c_cs, &c_cs)) != CLGAN_OK)
    return st;
  size_t lr[2] = {16, 4};
  fit_local(ctx, kr, &lr[0], &lr[1]);
  size_t gr[2] = {clgan_round_up(p.n, lr[0]), clgan_round_up(p.m, lr[1])};
  return clgan_launch(ctx, kr, 2, gr, lr, "gemm_reduce");
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
    clgan_status st = ws_reserve(ctx, (temp_bytes + sizeof(float) - 1) / sizeof(float) + 1);
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

static clgan_status backend_for(clgan_ctx *ctx, size_t m, size_t n, size_t k,
                                clgan_gemm_backend *out);

clgan_status clgan_gemm_with(clgan_ctx *ctx, clgan_gemm_backend backend, int trans_a,
                             int trans_b, size_t m, size_t n, size_t k, float alpha, clgan_buf a,
                             size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                             size_t ldc) {
  int ta = trans_a != 0, tb = trans_b != 0;
  clgan_status st = check_args(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  if (st != CLGAN_OK) return st;
  if (m == 0 || n == 0) return CLGAN_OK;
  if (backend == CLGAN_GEMM_AUTO && (st = backend_for(ctx, m, n, k, &backend)) != CLGAN_OK)
    return st;
  /* CLBlast rejects k == 0; C = beta * C is the own kernel's k == 0 case. */
  if (backend == CLGAN_GEMM_CLBLAST && k > 0)
    return clblast_gemm(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (backend != CLGAN_GEMM_OWN && backend != CLGAN_GEMM_CLBLAST)
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: unknown backend %d", (int)backend);
  return own_gemm(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0);
}

/* ---- products with a conv's im2col matrix read from its image ------------- */

clgan_status clgan_gemm_conv_ok(clgan_ctx *ctx, size_t m, size_t n, size_t k, int *ok) {
  *ok = 0;
  if (own_is_tiny(m, n, k) || m >= ((size_t)1 << 31) || n >= ((size_t)1 << 31) ||
      k >= ((size_t)1 << 31))
    return CLGAN_OK;
  clgan_gemm_backend be;
  clgan_status st = backend_for(ctx, m, n, k, &be);
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
  return own_gemm(ctx, 0, 1, cout, kdim, p, 1.0f, dy, p, x->img, p, beta, dw, kdim, x, 0);
}

clgan_status clgan_gemm_conv_forward(clgan_ctx *ctx, size_t cout, clgan_buf w,
                                     const clgan_gemm_conv_x *x, clgan_buf y) {
  size_t kdim = (size_t)x->cin * x->kw * x->kw, p = (size_t)x->n * x->ho * x->wo;
  clgan_status st = conv_entry(ctx, cout, p, kdim, "forward");
  if (st == CLGAN_OK) st = conv_x_check(x, "W", w, cout, kdim, "Y", y, cout, p);
  if (st != CLGAN_OK) return st;
  return own_gemm(ctx, 0, 0, cout, p, kdim, 1.0f, w, kdim, x->img, p, 0.0f, y, p, x, 1);
}

clgan_status clgan_gemm(clgan_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                        float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                        float beta, clgan_buf c, size_t ldc) {
  return clgan_gemm_with(ctx, CLGAN_GEMM_AUTO, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                         beta, c, ldc);
}

/* ---- backend choice ------------------------------------------------------ */

/* The two shape classes and the GEMM each is timed on. */
enum { CLASS_REGULAR = 0, CLASS_LONG_K = 1 };
static const size_t class_shape[2][3] = {{512, 512, 512}, {128, 256, 32768}};
static const int class_trans_b[2] = {0, 1}; /* a weight gradient is dY x col^T */

static int shape_class(size_t m, size_t n, size_t k) {
  return long_reduction(m, n, k) ? CLASS_LONG_K : CLASS_REGULAR;
}

/* Best of a few timed runs of one backend on the class's GEMM. */
static clgan_status time_backend(clgan_ctx *ctx, clgan_gemm_backend be, int cls, clgan_buf a,
                                 clgan_buf b, clgan_buf c, double *best) {
  size_t m = class_shape[cls][0], n = class_shape[cls][1], k = class_shape[cls][2];
  int tb = class_trans_b[cls];
  *best = 1e30;
  for (int r = 0; r < 4; r++) { /* the first run builds kernels */
    double t0 = now_seconds();
    clgan_status st =
        clgan_gemm_with(ctx, be, 0, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.0f, c, n);
    if (st == CLGAN_OK) st = clgan_ctx_finish(ctx);
    if (st != CLGAN_OK) return st;
    double t = now_seconds() - t0;
    if (r > 0 && t < *best) *best = t;
  }
  return CLGAN_OK;
}

static clgan_status measure_backends(clgan_ctx *ctx, int cls, clgan_gemm_backend *out) {
  size_t m = class_shape[cls][0], n = class_shape[cls][1], k = class_shape[cls][2];
  size_t ws_before = ctx->gemm_ws_floats;
  clgan_buf a = {0}, b = {0}, c = {0};
  clgan_status st = clgan_buf_alloc(ctx, m * k, &a);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, k * n, &b);
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, m * n, &c);
  if (st == CLGAN_OK) st = clgan_fill(ctx, a, m * k, 0.5f);
  if (st == CLGAN_OK) st = clgan_fill(ctx, b, k * n, 0.25f);
  double t_own = 1e30, t_blast = 1e30;
  if (st == CLGAN_OK) st = time_backend(ctx, CLGAN_GEMM_OWN, cls, a, b, c, &t_own);
  /* A CLBlast failure (unsupported device, no database entry) only loses. */
  if (st == CLGAN_OK && time_backend(ctx, CLGAN_GEMM_CLBLAST, cls, a, b, c, &t_blast) != CLGAN_OK)
    t_blast = 1e30;
  clgan_buf_release(&a);
  clgan_buf_release(&b);
  clgan_buf_release(&c);
  if (st != CLGAN_OK) return st;
  /* the measurement's workspace is not the model's: give it back (the next
   * GEMM or clgan_gemm_reserve sizes it for the real shapes) */
  if (ctx->gemm_ws_floats > ws_before) {
    clgan_buf_release(&ctx->gemm_ws);
    ctx->gemm_ws_floats = 0;
    if (ws_before > 0 && (st = ws_reserve(ctx, ws_before)) != CLGAN_OK) return st;
  }
  *out = t_blast < t_own ? CLGAN_GEMM_CLBLAST : CLGAN_GEMM_OWN;
  return CLGAN_OK;
}

/* The remembered choice is tied to the device and to the own kernels' source,
 * so a changed kernel is measured again. */
static void cache_key(const clgan_ctx *ctx, int cls, char *key, size_t cap) {
  char dev[600];
  clgan_device_key(&ctx->dev, dev, sizeof dev);
  const char *src = clgan_embedded_source("gemm");
  snprintf(key, cap, "gemm backend v" GEMM_CACHE_VERSION "|class %d|%s|%016llx", cls, dev,
           (unsigned long long)clgan_hash_str(CLGAN_FNV_SEED, src ? src : ""));
}

static clgan_status class_backend(clgan_ctx *ctx, int cls, clgan_gemm_backend *out) {
  if (ctx->gemm_forced != CLGAN_GEMM_AUTO) {
    *out = ctx->gemm_forced;
    return CLGAN_OK;
  }
  if (ctx->gemm_chosen[cls] != CLGAN_GEMM_AUTO) {
    *out = ctx->gemm_chosen[cls];
    return CLGAN_OK;
  }
  const char *env = getenv("CLGAN_GEMM");
  if (env && *env && strcasecmp(env, "auto") != 0) {
    if (strcasecmp(env, "own") == 0) *out = CLGAN_GEMM_OWN;
    else if (strcasecmp(env, "clblast") == 0) *out = CLGAN_GEMM_CLBLAST;
    else
      return clgan_fail(CLGAN_ERR_INVALID, "CLGAN_GEMM=%s: expected own, clblast or auto", env);
    ctx->gemm_chosen[cls] = *out;
    return CLGAN_OK;
  }
  char key[700];
  cache_key(ctx, cls, key, sizeof key);
  void *payload = NULL;
  size_t size = 0;
  if (clgan_cache_load("gemm", key, &payload, &size) == CLGAN_OK && size == sizeof(int32_t)) {
    int32_t v;
    memcpy(&v, payload, sizeof v);
    if (v == CLGAN_GEMM_OWN || v == CLGAN_GEMM_CLBLAST) {
      free(payload);
      ctx->gemm_chosen[cls] = (clgan_gemm_backend)v;
      *out = ctx->gemm_chosen[cls];
      return CLGAN_OK;
    }
  }
  free(payload);
  clgan_gemm_backend be;
  clgan_status st = measure_backends(ctx, cls, &be);
  if (st != CLGAN_OK) return st;
  int32_t v = (int32_t)be;
  clgan_cache_store("gemm", key, &v, sizeof v); /* best effort */
  ctx->gemm_chosen[cls] = be;
  *out = be;
  return CLGAN_OK;
}

static clgan_status backend_for(clgan_ctx *ctx, size_t m, size_t n, size_t k,
                                clgan_gemm_backend *out) {
  return class_backend(ctx, shape_class(m, n, k), out);
}

clgan_status clgan_gemm_backend_get(clgan_ctx *ctx, clgan_gemm_backend *out) {
  return class_backend(ctx, CLASS_REGULAR, out);
}

clgan_status clgan_gemm_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k) {
  clgan_gemm_backend be;
  clgan_status st = backend_for(ctx, m, n, k, &be);
  if (st != CLGAN_OK) return st;
  if (be == CLGAN_GEMM_CLBLAST) return clblast_warm(ctx);
  own_config cfg = own_config_for(ctx);
  static const char *const names[] = {"gemm_simple",   "gemm_pack_a_i", "gemm_pack_a_p",
                                      "gemm_pack_b_i", "gemm_pack_b_p", "gemm_tile",
                                      "gemm_reduce"};
  cl_kernel kr;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((st = own_kernel(ctx, &cfg, names[i], &kr)) != CLGAN_OK) return st;
  if (own_is_tiny(m, n, k)) return CLGAN_OK;
  /* the largest workspace any transposes may need: fully packed, or one
   * of the in-place / swapped forms (their split of k may differ) */
  own_plan p = own_plan_for(ctx, &cfg, 0, 0, m, n, k, k, n, PLAN_PACKED);
  size_t need = p.ws_floats;
  for (int t = 0; t < 4; t++) {
    int ta = t & 1, tb = t >> 1;
    own_plan q = own_plan_for(ctx, &cfg, ta, tb, m, n, k, ta ? m : k, tb ? k : n, PLAN_CHOOSE);
    if (q.ws_floats > need) need = q.ws_floats;
  }
  if ((st = ws_reserve(ctx, need)) != CLGAN_OK) return st;
  /* An empty GEMM (m = n = 0) launched with the plan's geometry: some
   * implementations (PoCL) compile a kernel per work-group size at the first
   * launch, which belongs here rather than in a training step. */
  if ((st = own_kernel(ctx, &cfg, "gemm_tile", &kr)) != CLGAN_OK) return st;
  int zero = 0, one = 1;
  float f1 = 1.0f, f0 = 0.0f;
  cl_uint u0 = 0;
  cl_mem ws = ctx->gemm_ws.mem;
  if ((st = clgan_set_args(kr, 18, sizeof zero, &zero, sizeof zero, &zero, sizeof one, &one,
                           sizeof one, &one, sizeof f1, &f1, sizeof f0, &f0, sizeof(cl_mem), &ws,
                           sizeof u0, &u0, sizeof one, &one, sizeof one, &one, sizeof one, &one,
                           sizeof(cl_mem), &ws, sizeof u0, &u0, sizeof(cl_mem), &ws, sizeof u0, &u0, sizeof one, &one,
                           sizeof one, &one, sizeof u0, &u0)) != CLGAN_OK)
    return st;
  size_t l[3] = {p.lx, p.ly, 1};
  fit_local(ctx, kr, &l[0], &l[1]);
  if ((st = clgan_launch(ctx, kr, 3, l, l, "gemm_tile")) != CLGAN_OK) return st;
  return clgan_ctx_finish(ctx);
}
