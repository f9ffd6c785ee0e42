/* The engine's own GEMM backend (cl/gemm.cl): register-tiled kernels over
 * packed panels, split k for long reductions, the swapped formulation with a
 * transposed store, and the conv products that read the image itself
 * (gemm_tile_conv). gemm.c dispatches to it; see gemm_own.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

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
int gemm_long_reduction(size_t m, size_t n, size_t k) {
  size_t mn = m > n ? m : n;
  return k >= 4096 && k >= 16 * mn;
}

/* GEMMs for the one-work-item-per-element kernel (no overflow in m*n*k). */
int gemm_own_is_tiny(size_t m, size_t n, size_t k) {
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
  int in_place = !force_pack && gemm_long_reduction(m, n, k);
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

clgan_status gemm_ws_reserve(clgan_ctx *ctx, size_t floats) {
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
clgan_status gemm_own(clgan_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                             float alpha, clgan_buf a, size_t lda, clgan_buf b, size_t ldb,
                             float beta, clgan_buf c, size_t ldc, const clgan_gemm_conv_x *conv_x,
                             int conv_forward) {
  own_config cfg = own_config_for(ctx);
  if (!conv_x && gemm_own_is_tiny(m, n, k))
    return own_simple(ctx, &cfg, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb,
                      beta, c, (int)ldc);
  own_plan p = own_plan_for(ctx, &cfg, ta, tb, m, n, k, lda, ldb,
                            conv_x ? PLAN_CONV_X : PLAN_CHOOSE);
  if (p.ws_floats >= ((size_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: packing workspace beyond 32-bit indexing");
  clgan_status st = gemm_ws_reserve(ctx, p.ws_floats);
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

clgan_status gemm_own_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k) {
  clgan_status st;
  own_config cfg = own_config_for(ctx);
  static const char *const names[] = {"gemm_simple",   "gemm_pack_a_i", "gemm_pack_a_p",
                                      "gemm_pack_b_i", "gemm_pack_b_p", "gemm_tile",
                                      "gemm_reduce"};
  cl_kernel kr;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((st = own_kernel(ctx, &cfg, names[i], &kr)) != CLGAN_OK) return st;
  if (gemm_own_is_tiny(m, n, k)) return CLGAN_OK;
  /* the largest workspace any transposes may need: fully packed, or one
   * of the in-place / swapped forms (their split of k may differ) */
  own_plan p = own_plan_for(ctx, &cfg, 0, 0, m, n, k, k, n, PLAN_PACKED);
  size_t need = p.ws_floats;
  for (int t = 0; t < 4; t++) {
    int ta = t & 1, tb = t >> 1;
    own_plan q = own_plan_for(ctx, &cfg, ta, tb, m, n, k, ta ? m : k, tb ? k : n, PLAN_CHOOSE);
    if (q.ws_floats > need) need = q.ws_floats;
  }
  if ((st = gemm_ws_reserve(ctx, need)) != CLGAN_OK) return st;
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
                           sizeof(cl_mem), &ws, sizeof u0, &u0, sizeof(cl_mem), &ws, sizeof u0,
                           &u0, sizeof one, &one, sizeof one, &one, sizeof u0, &u0)) != CLGAN_OK)
    return st;
  size_t l[3] = {p.lx, p.ly, 1};
  fit_local(ctx, kr, &l[0], &l[1]);
  if ((st = clgan_launch(ctx, kr, 3, l, l, "gemm_tile")) != CLGAN_OK) return st;
  return clgan_ctx_finish(ctx);
}
