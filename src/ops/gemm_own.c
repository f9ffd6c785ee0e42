/* The engine's own GEMM backend (cl/gemm.cl): register-tiled kernels over
 * packed panels, split k for long reductions, the swapped formulation with a
 * transposed store, and the conv products that read the image itself
 * (gemm_tile_conv). gemm.c dispatches to it; see gemm_own.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ops/gemm_lds.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* ---- own backend --------------------------------------------------------- */

/* Tile configuration of the own kernels for a device; the same numbers go
 * into the build options (-D) and the launch geometry. */
typedef struct own_config {
  int tm, nv;      /* TM, NV of cl/gemm.cl: a TM x 16*NV register tile */
  size_t lx, ly;   /* preferred work-group shape in tiles (columns, rows) */
  int narrow_long; /* groups narrowed to keep their B panels in cache (CPU default) */
} own_config;

/* Below this many multiply-adds one work-item per element beats packing. */
#define OWN_SIMPLE_MAX_MACS 32768
/* Y's panels take at most this many floats of workspace (beyond one
 * work-group's column of panels): a larger Y is packed and multiplied in
 * column chunks, which keeps the workspace (memory every process touches
 * once, slowly on some hosts, and the cache footprint) small; without split
 * k only. */
#define OWN_Y_CHUNK_FLOATS ((size_t)4 << 20)
/* The B panels one CPU work-group streams in turn stay within this many
 * bytes (half of a 2 MiB L2, all of a 1 MiB one; see own_groups). */
#define OWN_GROUP_PANEL_BYTES ((size_t)1 << 20)
/* The split a large panel asks for keeps its partial products (splits x m
 * x n floats of workspace) within this many floats (64 MiB). */
#define OWN_SPLIT_PART_MAX_FLOATS ((size_t)16 << 20)
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

int clgan_gemm_variant_valid(const clgan_gemm_variant *v) {
  if (v->backend == CLGAN_GEMM_LDS) return gemm_lds_variant_valid(v);
  int zero = v->tm == 0 && v->nv == 0 && v->lx == 0 && v->ly == 0;
  if (v->wgk != 0 || v->vw != 0) return 0; /* the LDS backend's fields */
  if (v->backend == CLGAN_GEMM_AUTO) return zero; /* the engine's choice */
  if (v->backend != CLGAN_GEMM_OWN && v->backend != CLGAN_GEMM_CLBLAST) return 0;
  if (zero) return 1;
  return v->tm >= 1 && v->tm <= 16 && v->nv >= 1 && v->nv <= 4 && v->lx >= 1 && v->ly >= 1 &&
         v->lx * v->ly <= 4096;
}

/* The device's tile, or the tuning's (CLGAN_GEMM_TILE), or variant v's
 * (the plan-time tuner's; NULL or all 0: not). */
static own_config own_config_for(const clgan_ctx *ctx, const clgan_gemm_variant *v) {
  own_config c;
  if (clgan_ctx_cpu_paths(ctx)) {
    /* Accumulators in half the vector registers. With 16-float vectors
     * (AVX-512: 32 registers) 8 x 32 tiles: 16 float16 accumulators, two B
     * vectors and eight A broadcasts per k. Narrower vectors (AVX2: 16
     * registers of 8 floats, each float16 two of them) take 4 x 16 tiles:
     * 8 x 32 there spills and ran a step at 0.6x the speed. 4 x 16 tiles
     * per group: 16 row panels share the B panels while they are in cache
     * (CPU implementations run a group's work-items in sequence, dimension
     * 0 innermost). */
    if (ctx->dev.preferred_vector_float >= 16) c.tm = 8, c.nv = 2;
    else c.tm = 4, c.nv = 1;
    c.lx = 4, c.ly = 16, c.narrow_long = 1;
  } else { /* a smaller tile keeps the accumulators in GPU registers */
    c.tm = 4, c.nv = 1, c.lx = 16, c.ly = 8, c.narrow_long = 0;
  }
  /* Development override: the tuning's gemm_tile (CLGAN_GEMM_TILE="tm nv lx ly"). */
  const int *t = ctx->tuning.gemm_tile;
  if (t[0] >= 1 && t[0] <= 16 && t[1] >= 1 && t[1] <= 4 && t[2] >= 1 && t[3] >= 1 &&
      t[2] * t[3] <= 4096)
    c.tm = t[0], c.nv = t[1], c.lx = (size_t)t[2], c.ly = (size_t)t[3], c.narrow_long = 0;
  if (v && v->backend == CLGAN_GEMM_OWN && v->tm > 0 && clgan_gemm_variant_valid(v))
    c.tm = v->tm, c.nv = v->nv, c.lx = (size_t)v->lx, c.ly = (size_t)v->ly, c.narrow_long = 0;
  size_t maxwg = ctx->dev.max_work_group_size ? ctx->dev.max_work_group_size : 1;
  while (c.lx * c.ly > maxwg) {
    if (c.ly > 1) c.ly /= 2;
    else c.lx /= 2;
  }
  return c;
}

void gemm_own_default_tile(const clgan_ctx *ctx, int *tm, int *nv, size_t *lx, size_t *ly) {
  own_config c = own_config_for(ctx, NULL);
  *tm = c.tm, *nv = c.nv, *lx = c.lx, *ly = c.ly;
}

static clgan_status own_kernel(clgan_ctx *ctx, const own_config *cfg, const char *name,
                               cl_kernel *out) {
  char opts[64];
  snprintf(opts, sizeof opts, "-DTM=%d -DNV=%d", cfg->tm, cfg->nv);
  return clgan_kernel_get(ctx, "gemm", opts, name, out);
}

/* How one GEMM runs on the tiled path (clgan_gemm_own_geom in ops.h): the
 * tile kernel computes X (m_f x k) times Y^T (Y: n_f x k), where
 * X(i, p) = x[i*x_rs + p*x_cs] and Y(j, p) = y[j*y_rs + p*y_cs]: either
 * X = op(A), Y = op(B)^T and C stored as is, or (swapped) X = op(B)^T,
 * Y = op(A) and C^T stored.
 * Y is always packed into panels. X is packed too, except in long
 * reductions (the weight gradients, k = n*h*w) when its rows are contiguous:
 * there gemm_tile streams its TM rows in place, and the formulation whose X
 * that is (the im2col matrix) leaves only the small operand to pack.
 * (Measured on PoCL: in-place reads of B rows, of A^T columns, or of A rows
 * with short k all lose to packing, their power-of-two strides fighting over
 * the same cache sets; A rows with long k win, 192 vs 138 GFLOP/s on the
 * 128 x 1024 x 32768 weight gradient.) The geometry depends on the
 * transposes and the shape only, never on the strides, so a plan serves any
 * row strides (X's rows are contiguous when op does not transpose them). */

static size_t pow2_at_least(size_t x) {
  size_t p = 1;
  while (p < x) p *= 2;
  return p;
}

/* How a geometry is chosen: the formulation that packs least; the fully
 * packed one (the largest workspace, what clgan_gemm_reserve sets aside for
 * a shape whatever its transposes); or the swapped one with X read from an
 * image by gemm_tile_conv (conv plans), nothing of X packed. */
enum { PLAN_CHOOSE, PLAN_PACKED, PLAN_CONV_X };

/* A work-group of lx x ly tiles fitted to tiles_x x tiles_y tiles. */
static void fit_groups(size_t tiles_x, size_t tiles_y, size_t *lx, size_t *ly) {
  /* Fewer row tiles than the group is tall: give the group's width to columns. */
  while (*ly > 1 && *ly / 2 >= tiles_y) *ly /= 2, *lx *= 2;
  while (*lx > 1 && *lx / 2 >= pow2_at_least(tiles_x)) *lx /= 2;
}

/* Work-group shape in tiles and the split of k for a tiled geometry. */
static void own_groups(const clgan_ctx *ctx, const own_config *cfg, size_t k,
                       clgan_gemm_own_geom *g, size_t *lx, size_t *ly) {
  size_t tiles_x = g->np / g->tn, tiles_y = g->mp / g->tm;
  /* the split of k is decided on the configured group shape, so that a
   * launch shape of its own (below) leaves every sum as it was */
  size_t split_lx = cfg->lx, split_ly = cfg->ly;
  fit_groups(tiles_x, tiles_y, &split_lx, &split_ly);
  *ly = cfg->ly, *lx = cfg->lx;
  /* Each work-item streams a B panel of k x TN floats, and a group's lx
   * panels are read in turn by its ly row tiles: a group only as wide as
   * keeps them within OWN_GROUP_PANEL_BYTES (in the L2), and one tile wide
   * in long reductions (4 MiB panels for a 32768 k). PoCL on a 2 MiB-L2
   * Xeon, `tutorial`'s D3 weight gradient (k 8192, 1 MiB panels): 4 x 16
   * 40%, 1 x 64 58% of the FMA peak; the 128 x 1024 x 32768 weight
   * gradient 1.2x on a Zen 5. */
  size_t panel_bytes = k * g->tn * sizeof(float);
  if (cfg->narrow_long) {
    int long_reduction = gemm_long_reduction(g->m, g->n, k);
    while (*lx > 1 && (long_reduction || *lx * panel_bytes > OWN_GROUP_PANEL_BYTES))
      *lx /= 2, *ly *= 2;
  }
  fit_groups(tiles_x, tiles_y, lx, ly);
  /* Too few groups to fill the device: split k, then sum the partial products. */
  size_t groups = ((tiles_x + split_lx - 1) / split_lx) * ((tiles_y + split_ly - 1) / split_ly);
  size_t want = (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1) *
                (clgan_ctx_cpu_paths(ctx) ? 2 : 4);
  g->splits = 1;
  if (groups < want) g->splits = (want + groups - 1) / groups;
  /* A panel larger than the group's budget is split too (CPU default), so
   * the group's row tiles stream their chunk of it from the L2 rather than
   * the whole panel from memory, each in turn: `tutorial`'s D2 weight
   * gradient (k 32768, 4 MiB panels) */
  if (cfg->narrow_long && panel_bytes > OWN_GROUP_PANEL_BYTES) {
    size_t fit = (panel_bytes + OWN_GROUP_PANEL_BYTES - 1) / OWN_GROUP_PANEL_BYTES;
    /* within the partial products' bound (large C: a few ranges only) */
    size_t c_floats = g->m * g->n;
    size_t most = OWN_SPLIT_PART_MAX_FLOATS / (c_floats > 0 ? c_floats : 1);
    if (fit > most) fit = most;
    if (fit > g->splits) g->splits = fit;
  }
  if (g->splits > k / OWN_SPLIT_MIN_K) g->splits = k / OWN_SPLIT_MIN_K;
  if (g->splits > 64) g->splits = 64;
  if (g->splits < 1) g->splits = 1;
  g->kz = clgan_round_up((k + g->splits - 1) / g->splits, 16);
  g->splits = (k + g->kz - 1) / g->kz;
}

static clgan_gemm_own_geom own_geom_for(const clgan_ctx *ctx, const own_config *cfg, int ta,
                                        int tb, size_t m, size_t n, size_t k, int mode,
                                        size_t *lx, size_t *ly) {
  clgan_gemm_own_geom g = {0};
  g.tm = (size_t)cfg->tm, g.tn = 16 * (size_t)cfg->nv;
  /* X's rows are contiguous for op(A) = A (non-swapped) or op(B)^T = B^T
   * (swapped, tb); in long reductions such an X is read in place */
  int in_place = mode == PLAN_CHOOSE && gemm_long_reduction(m, n, k);
  int packed_plain = !(in_place && !ta), packed_swap = !(in_place && tb);
  size_t cost_plain = (packed_plain ? m * k : 0) + n * k;
  size_t cost_swap = (packed_swap ? n * k : 0) + m * k;
  g.swapped = mode == PLAN_CONV_X || cost_swap < cost_plain;
  g.x_packed = mode == PLAN_CONV_X ? 0 : g.swapped ? packed_swap : packed_plain;
  g.m = g.swapped ? n : m, g.n = g.swapped ? m : n;
  g.mp = clgan_round_up(g.m, g.tm), g.np = clgan_round_up(g.n, g.tn);
  own_groups(ctx, cfg, k, &g, lx, ly);
  g.chunk = g.np;
  if (g.splits == 1) {
    size_t step = *lx * g.tn; /* whole work-groups of column tiles */
    size_t fit = OWN_Y_CHUNK_FLOATS / (k ? k : 1) / step * step;
    if (fit < step) fit = step;
    if (fit < g.chunk) g.chunk = fit;
  }
  g.bp_off = g.x_packed ? g.mp * k : 0;
  g.part_off = g.bp_off + g.chunk * k;
  g.ws_floats = g.part_off + (g.splits > 1 ? g.splits * m * n : 0);
  return g;
}

clgan_status gemm_ws_reserve(clgan_ctx *ctx, size_t floats) {
  if (floats <= ctx->gemm_ws_floats) return CLGAN_OK;
  if (ctx->frozen)
    return clgan_fail(CLGAN_ERR_FROZEN,
                      "gemm: workspace of %zu floats needed inside a planned step (have %zu); "
                      "prepare its plan first (clgan_gemm_plan_prepare, clgan_gemm_reserve)",
                      floats, ctx->gemm_ws_floats);
  clgan_buf_release(&ctx->gemm_ws);
  ctx->gemm_ws_floats = 0;
  clgan_status st = clgan_buf_alloc(ctx, floats, &ctx->gemm_ws);
  if (st == CLGAN_OK) ctx->gemm_ws_floats = floats;
  return st;
}

/* Fits a work-group shape under a kernel's limit (registers on GPUs). */
static void fit_local(size_t kmax, size_t *lx, size_t *ly) {
  while (*lx * *ly > kmax) {
    if (*ly > 1) *ly /= 2;
    else *lx /= 2;
  }
}

/* A kernel of the plan with its name and work-group limit. */
static clgan_status plan_kernel(clgan_ctx *ctx, const own_config *cfg, const char *name,
                                cl_kernel *k, size_t *kmax) {
  clgan_status st = own_kernel(ctx, cfg, name, k);
  if (st == CLGAN_OK) *kmax = clgan_kernel_max_local(ctx, *k);
  return st;
}

/* The pack kernel for X(i, p) = x[i*rs + p*cs]: along i where rs == 1 (op
 * transposes that operand), else along p (cs == 1). */
static const char *pack_name(char which, int along_i) {
  if (which == 'a') return along_i ? "gemm_pack_a_i" : "gemm_pack_a_p";
  return along_i ? "gemm_pack_b_i" : "gemm_pack_b_p";
}

clgan_status gemm_own_plan(clgan_ctx *ctx, int conv_x, clgan_gemm_plan *p) {
  return gemm_own_plan_variant(ctx, conv_x, NULL, p);
}

clgan_status gemm_own_plan_variant(clgan_ctx *ctx, int conv_x, const clgan_gemm_variant *v,
                                   clgan_gemm_plan *p) {
  own_config cfg = own_config_for(ctx, v);
  int ta = p->trans_a, tb = p->trans_b;
  size_t kmax = 1;
  clgan_status st;
  p->backend = CLGAN_GEMM_OWN;
  if (!conv_x && gemm_own_is_tiny(p->m, p->n, p->k)) {
    p->path = CLGAN_GEMM_PATH_SIMPLE;
    p->main_name = "gemm_simple";
    if ((st = plan_kernel(ctx, &cfg, p->main_name, &p->main, &kmax)) != CLGAN_OK) return st;
    p->main_local[0] = 16, p->main_local[1] = 4;
    fit_local(kmax, &p->main_local[0], &p->main_local[1]);
    return CLGAN_OK;
  }
  p->path = conv_x ? CLGAN_GEMM_PATH_CONV_X : CLGAN_GEMM_PATH_TILED;
  clgan_gemm_own_geom *g = &p->own;
  *g = own_geom_for(ctx, &cfg, ta, tb, p->m, p->n, p->k, conv_x ? PLAN_CONV_X : PLAN_CHOOSE,
                    &p->main_local[0], &p->main_local[1]);
  if (g->ws_floats >= ((size_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: packing workspace beyond 32-bit indexing");
  p->ws_floats = g->ws_floats;
  p->main_name = conv_x ? "gemm_tile_conv" : "gemm_tile";
  if ((st = plan_kernel(ctx, &cfg, p->main_name, &p->main, &kmax)) != CLGAN_OK) return st;
  fit_local(kmax, &p->main_local[0], &p->main_local[1]);
  /* X = op(A) or op(B)^T, Y the other: which one's rows are contiguous */
  int x_along_i = g->swapped ? !tb : ta, y_along_i = g->swapped ? ta : !tb;
  if (g->x_packed) {
    p->pack_a_name = pack_name('a', x_along_i);
    if ((st = plan_kernel(ctx, &cfg, p->pack_a_name, &p->pack_a, &p->pack_a_max)) != CLGAN_OK)
      return st;
  }
  p->pack_b_name = pack_name('b', y_along_i);
  if ((st = plan_kernel(ctx, &cfg, p->pack_b_name, &p->pack_b, &p->pack_b_max)) != CLGAN_OK)
    return st;
  if (g->splits > 1) {
    if ((st = plan_kernel(ctx, &cfg, "gemm_reduce", &p->reduce, &kmax)) != CLGAN_OK) return st;
    p->reduce_local[0] = 16, p->reduce_local[1] = 4;
    fit_local(kmax, &p->reduce_local[0], &p->reduce_local[1]);
  }
  return CLGAN_OK;
}

static clgan_status own_simple(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha,
                               clgan_buf a, int lda, clgan_buf b, int ldb, float beta,
                               clgan_buf c, int ldc) {
  int m = (int)p->m, n = (int)p->n, k = (int)p->k;
  int a_rs = p->trans_a ? 1 : lda, a_cs = p->trans_a ? lda : 1;
  int b_rs = p->trans_b ? 1 : ldb, b_cs = p->trans_b ? ldb : 1;
  cl_uint a_off = (cl_uint)a.off, b_off = (cl_uint)b.off, c_off = (cl_uint)c.off;
  clgan_status st =
      clgan_set_args(p->main, 16, sizeof m, &m, sizeof n, &n, sizeof k, &k, sizeof alpha, &alpha,
                     sizeof beta, &beta, sizeof(cl_mem), &a.mem, sizeof a_off, &a_off,
                     sizeof a_rs, &a_rs, sizeof a_cs, &a_cs, sizeof(cl_mem), &b.mem,
                     sizeof b_off, &b_off, sizeof b_rs, &b_rs, sizeof b_cs, &b_cs,
                     sizeof(cl_mem), &c.mem, sizeof c_off, &c_off, sizeof ldc, &ldc);
  if (st != CLGAN_OK) return st;
  const size_t *l = p->main_local;
  size_t g[2] = {clgan_round_up((size_t)n, l[0]), clgan_round_up((size_t)m, l[1])};
  return clgan_launch(ctx, p->main, 2, g, l, p->main_name);
}

/* Packs X(i, p) = x[i*rs + p*cs] (rows x k) into panels of `width` at
 * ws[out_off] with kernel kr (see gemm_pack_* in cl/gemm.cl: along i when
 * rs == 1). */
static clgan_status pack(clgan_ctx *ctx, cl_kernel kr, const char *name, size_t kmax,
                         size_t width, size_t rows, size_t k, clgan_buf x, int rs, int cs,
                         size_t out_off) {
  int along_i = name[strlen(name) - 1] == 'i';
  int irows = (int)rows, ik = (int)k, stride = along_i ? cs : rs;
  cl_uint x_off = (cl_uint)x.off, o_off = (cl_uint)out_off;
  clgan_status st;
  if ((st = clgan_set_args(kr, 7, sizeof irows, &irows, sizeof ik, &ik, sizeof(cl_mem), &x.mem,
                           sizeof x_off, &x_off, sizeof stride, &stride, sizeof(cl_mem),
                           &ctx->gemm_ws.mem, sizeof o_off, &o_off)) != CLGAN_OK)
    return st;
  size_t panels = (rows + width - 1) / width, chunks = (k + 15) / 16;
  size_t groups = panels * (width / CLGAN_PACK_P_ROWS(width)); /* of the _p form's rows */
  size_t g[2] = {along_i ? panels : chunks, along_i ? k : groups};
  /* 64 work-items, wide in dimension 0 unless it is short */
  size_t l[2] = {16, 4};
  while (l[0] > 1 && l[0] / 2 >= g[0]) l[0] /= 2, l[1] *= 2;
  fit_local(kmax, &l[0], &l[1]);
  g[0] = clgan_round_up(g[0], l[0]), g[1] = clgan_round_up(g[1], l[1]);
  return clgan_launch(ctx, kr, 2, g, l, name);
}

/* One launch of the tile kernel: its arguments but X's. */
typedef struct tile_args {
  int m, n, k, kz;
  float alpha, beta;
  cl_mem ws;
  cl_uint y_off;
  cl_mem c;
  cl_uint c_off;
  int c_rs, c_cs;
  cl_uint zstride;
} tile_args;

/* gemm_tile: X at x_mem + x_off through (a_ps, a_ks, a_rs). */
static clgan_status tile_set(cl_kernel kt, const tile_args *t, cl_mem x_mem, cl_uint x_off,
                             int a_ps, int a_ks, int a_rs) {
  cl_uint a_zs = (cl_uint)((size_t)t->kz * (size_t)a_ks); /* A's ranges of k in a row */
  return clgan_set_args(kt, 19, sizeof t->m, &t->m, sizeof t->n, &t->n, sizeof t->k, &t->k,
                        sizeof t->kz, &t->kz, sizeof t->alpha, &t->alpha, sizeof t->beta,
                        &t->beta, sizeof(cl_mem), &x_mem, sizeof x_off, &x_off, sizeof a_ps,
                        &a_ps, sizeof a_ks, &a_ks, sizeof a_rs, &a_rs, sizeof(cl_mem), &t->ws,
                        sizeof t->y_off, &t->y_off, sizeof(cl_mem), &t->c, sizeof t->c_off,
                        &t->c_off, sizeof t->c_rs, &t->c_rs, sizeof t->c_cs, &t->c_cs,
                        sizeof t->zstride, &t->zstride, sizeof a_zs, &a_zs);
}

/* gemm_tile_conv: X read from a conv's image. Digits and weights of a tap
 * (c, ki, kj) and of a pixel (b, oy, ox): rows are pixels and k taps for a
 * forward (NN: X = col^T), the reverse for a weight gradient (NT: X = col). */
static clgan_status tile_conv_set(cl_kernel kt, const tile_args *t, const clgan_gemm_conv_x *q,
                                  int forward) {
  cl_uint img_off = (cl_uint)q->img.off;
  int tap[5] = {q->kw, q->kw, 1, q->wp, q->n * q->hp * q->wp};
  int pix[5] = {q->wo, q->ho, q->stride, q->stride * q->wp, q->hp * q->wp};
  const int *r = forward ? pix : tap, *kd = forward ? tap : pix;
  return clgan_set_args(kt, 25, sizeof t->m, &t->m, sizeof t->n, &t->n, sizeof t->k, &t->k,
                        sizeof t->kz, &t->kz, sizeof t->alpha, &t->alpha, sizeof t->beta,
                        &t->beta, sizeof(cl_mem), &q->img.mem, sizeof img_off, &img_off,
                        sizeof(int), &r[0], sizeof(int), &r[1], sizeof(int), &r[2], sizeof(int),
                        &r[3], sizeof(int), &r[4], sizeof(int), &kd[0], sizeof(int), &kd[1],
                        sizeof(int), &kd[2], sizeof(int), &kd[3], sizeof(int), &kd[4],
                        sizeof(cl_mem), &t->ws, sizeof t->y_off, &t->y_off, sizeof(cl_mem), &t->c,
                        sizeof t->c_off, &t->c_off, sizeof t->c_rs, &t->c_rs, sizeof t->c_cs,
                        &t->c_cs, sizeof t->zstride, &t->zstride);
}

/* gemm_tile_conv's last two arguments: the activation of its store (none
 * without an epilogue; the plan's callers refuse one with split k). */
static clgan_status epilogue_set(cl_kernel kt, const clgan_gemm_epilogue *epi) {
  cl_int act = epi ? (cl_int)epi->act : (cl_int)CLGAN_ACT_NONE;
  float slope = epi ? epi->slope : 0.0f;
  clgan_status st = CLGAN_CL(clSetKernelArg(kt, 25, sizeof act, &act));
  return st == CLGAN_OK ? CLGAN_CL(clSetKernelArg(kt, 26, sizeof slope, &slope)) : st;
}

/* The partial products of split k summed into C. */
static clgan_status own_reduce(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha,
                               float beta, clgan_buf c, int c_rs, int c_cs) {
  const clgan_gemm_own_geom *g = &p->own;
  int im = (int)g->m, in = (int)g->n, isplits = (int)g->splits;
  cl_uint part_off = (cl_uint)g->part_off, c_off = (cl_uint)c.off;
  clgan_status st;
  if ((st = clgan_set_args(p->reduce, 11, sizeof im, &im, sizeof in, &in, sizeof isplits,
                           &isplits, sizeof alpha, &alpha, sizeof beta, &beta, sizeof(cl_mem),
                           &ctx->gemm_ws.mem, sizeof part_off, &part_off, sizeof(cl_mem), &c.mem,
                           sizeof c_off, &c_off, sizeof c_rs, &c_rs, sizeof c_cs,
                           &c_cs)) != CLGAN_OK)
    return st;
  const size_t *l = p->reduce_local;
  size_t gr[2] = {clgan_round_up(g->n, l[0]), clgan_round_up(g->m, l[1])};
  return clgan_launch(ctx, p->reduce, 2, gr, l, "gemm_reduce");
}

/* conv_x: the swapped X = op(B)^T read from an image by gemm_tile_conv, b
 * unused: col itself for a weight gradient (NT: X's rows are taps, k runs
 * over pixels), col^T for a forward (NN: rows are pixels, k runs over
 * taps); or NULL. */
/* a_packed: op(A) is packed in the workspace already (gemm_own_run_same_a). */
static clgan_status own_run(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, clgan_buf a,
                            size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                            size_t ldc, const clgan_gemm_conv_x *conv_x,
                            const clgan_gemm_epilogue *epi,
                            int a_packed) {
  if (p->path == CLGAN_GEMM_PATH_SIMPLE)
    return own_simple(ctx, p, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  const clgan_gemm_own_geom *g = &p->own;
  size_t k = p->k;
  /* grown by clgan_gemm_plan_prepare, else here (refused when frozen) */
  clgan_status st = gemm_ws_reserve(ctx, g->ws_floats);
  if (st != CLGAN_OK) return st;
  /* op(A)(i, p) and op(B)^T(j, p) as (row stride, column stride) */
  int a_rs = p->trans_a ? 1 : (int)lda, a_cs = p->trans_a ? (int)lda : 1;
  int bt_rs = p->trans_b ? (int)ldb : 1, bt_cs = p->trans_b ? 1 : (int)ldb;
  int x_rs = g->swapped ? bt_rs : a_rs, x_cs = g->swapped ? bt_cs : a_cs;
  int y_rs = g->swapped ? a_rs : bt_rs, y_cs = g->swapped ? a_cs : bt_cs;
  clgan_buf x = g->swapped ? b : a, y = g->swapped ? a : b;
  if (g->x_packed && !(a_packed && !g->swapped) &&
      (st = pack(ctx, p->pack_a, p->pack_a_name, p->pack_a_max, g->tm, g->m, k, x, x_rs, x_cs,
                 0)) != CLGAN_OK)
    return st;
  cl_mem ws = ctx->gemm_ws.mem;
  /* gemm_tile's view of X: a packed row panel, or rows in place */
  cl_mem x_mem = g->x_packed ? ws : x.mem;
  cl_uint x_off = g->x_packed ? 0 : (cl_uint)x.off;
  int a_ps = g->x_packed ? (int)(k * g->tm) : (int)g->tm * x_rs;
  int a_ks = g->x_packed ? (int)g->tm : 1, a_view_rs = g->x_packed ? 1 : x_rs;
  /* C(i, j) of the tiled product: C itself, or C^T when swapped */
  int c_rs = g->swapped ? 1 : (int)ldc, c_cs = g->swapped ? (int)ldc : 1;

  /* One pass per chunk of Y's rows writes C; split k (one chunk) writes
   * partial products (m_f x n_f, row stride n_f) for gemm_reduce. */
  int split = g->splits > 1;
  tile_args t = {(int)g->m, 0, (int)k, (int)g->kz, split ? 1.0f : alpha, split ? 0.0f : beta,
                 ws, (cl_uint)g->bp_off, split ? ws : c.mem, 0, 0, 0,
                 (cl_uint)(p->m * p->n)};
  size_t lx = p->main_local[0], ly = p->main_local[1];
  for (size_t j0 = 0; j0 < g->n; j0 += g->chunk) {
    size_t cols = g->n - j0 < g->chunk ? g->n - j0 : g->chunk;
    if ((st = pack(ctx, p->pack_b, p->pack_b_name, p->pack_b_max, g->tn, cols, k,
                   clgan_buf_at(y, j0 * (size_t)y_rs), y_rs, y_cs, g->bp_off)) != CLGAN_OK)
      return st;
    t.n = (int)cols;
    t.c_rs = split ? t.n : c_rs, t.c_cs = split ? 1 : c_cs;
    t.c_off = split ? (cl_uint)g->part_off : (cl_uint)(c.off + j0 * (size_t)c_cs);
    st = conv_x ? tile_conv_set(p->main, &t, conv_x, !p->trans_b)
                : tile_set(p->main, &t, x_mem, x_off, a_ps, a_ks, a_view_rs);
    if (st == CLGAN_OK && conv_x) st = epilogue_set(p->main, epi);
    if (st != CLGAN_OK) return st;
    size_t np = clgan_round_up(cols, g->tn);
    size_t gl[3] = {clgan_round_up(np / g->tn, lx), clgan_round_up(g->mp / g->tm, ly), g->splits};
    size_t l[3] = {lx, ly, 1};
    if ((st = clgan_launch(ctx, p->main, 3, gl, l, p->main_name)) != CLGAN_OK) return st;
  }
  return split ? own_reduce(ctx, p, alpha, beta, c, c_rs, c_cs) : CLGAN_OK;
}

clgan_status gemm_own_run(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, clgan_buf a,
                          size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c,
                          size_t ldc, const clgan_gemm_conv_x *conv_x,
                          const clgan_gemm_epilogue *epi) {
  return own_run(ctx, p, alpha, a, lda, b, ldb, beta, c, ldc, conv_x, epi, 0);
}

clgan_status gemm_own_run_same_a(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha,
                                 clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                                 clgan_buf c, size_t ldc) {
  return own_run(ctx, p, alpha, a, lda, b, ldb, beta, c, ldc, NULL, NULL, 1);
}

clgan_status gemm_own_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k) {
  clgan_status st;
  own_config cfg = own_config_for(ctx, NULL);
  static const char *const names[] = {"gemm_simple",   "gemm_pack_a_i", "gemm_pack_a_p",
                                      "gemm_pack_b_i", "gemm_pack_b_p", "gemm_tile",
                                      "gemm_reduce"};
  cl_kernel kr;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((st = own_kernel(ctx, &cfg, names[i], &kr)) != CLGAN_OK) return st;
  if (gemm_own_is_tiny(m, n, k)) return CLGAN_OK;
  /* the largest workspace any transposes may need: fully packed, or one
   * of the in-place / swapped forms (their split of k may differ) */
  size_t lx, ly, qx, qy;
  clgan_gemm_own_geom g = own_geom_for(ctx, &cfg, 0, 0, m, n, k, PLAN_PACKED, &lx, &ly);
  size_t need = g.ws_floats;
  for (int t = 0; t < 4; t++) {
    clgan_gemm_own_geom q = own_geom_for(ctx, &cfg, t & 1, t >> 1, m, n, k, PLAN_CHOOSE, &qx, &qy);
    if (q.ws_floats > need) need = q.ws_floats;
  }
  if ((st = gemm_ws_reserve(ctx, need)) != CLGAN_OK) return st;
  /* An empty GEMM (m = n = 0) launched with the plan's geometry: some
   * implementations (PoCL) compile a kernel per work-group size at the first
   * launch, which belongs here rather than in a training step. */
  if ((st = own_kernel(ctx, &cfg, "gemm_tile", &kr)) != CLGAN_OK) return st;
  tile_args t = {0, 0, 1, 1, 1.0f, 0.0f, ctx->gemm_ws.mem, 0, ctx->gemm_ws.mem, 0, 1, 1, 0};
  if ((st = tile_set(kr, &t, ctx->gemm_ws.mem, 0, 1, 1, 1)) != CLGAN_OK) return st;
  size_t l[3] = {lx, ly, 1};
  fit_local(clgan_kernel_max_local(ctx, kr), &l[0], &l[1]);
  if ((st = clgan_launch(ctx, kr, 3, l, l, "gemm_tile")) != CLGAN_OK) return st;
  return clgan_ctx_finish(ctx);
}
