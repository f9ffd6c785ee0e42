/* The Winograd forward, adjoint and weight gradient (see conv_winograd.h
 * and cl/winograd.cl): their plans (kernels, the GEMM workspace's layout, launch shapes) and
 * launches. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clgan/kernel_abi.h"
#include "ops/conv_winograd.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* F(4x4, 2x2): 4x4 output tiles, 5x5 products per tile and channel. */
#define WINO_TILE 4
#define WINO_POSITIONS 25
/* The adjoint's and the weight gradient's products are stored in rows
 * padded by this many floats: at a multiple of 1 KiB, an output
 * transform's 25 reads of a channel fall into a few sets of a CPU's L1
 * (`tutorial`'s D4 weight gradient: its output transform 11 -> 5.5 ms). */
#define WINO_ROW_PAD 16
/* A transformed operand whose positions would lie a multiple of 4 KiB
 * apart has them (and, in the weight gradient's image, its channels)
 * WINO_PAGE_PAD floats further apart: a work-item's stores of its 25
 * positions per channel then no longer fall into one set of a CPU's L1.
 * On a 2-core Zen 4, the weight gradient's image [K][25][tiles] (the shared
 * one: 100 stores per tile panel), wino_filt_input alone, `tutorial`'s D2
 * shape (64 channels 32x32, 1024 tiles a position per 64 images): 64
 * images 5.1 -> 2.9 ms, 128 images 9.1 -> 5.7, 256 images 17.9 -> 11.7;
 * D3's (128 channels 16x16) at 512 images 17.6 -> 16.3. Where the
 * positions are not 4 KiB apart the pad cost time instead (D2 at 32 images
 * 1.41 -> 1.50, D3 at 128 images 3.4 -> 3.9), so it is not taken there. */
#define WINO_PAGE_PAD 16
#define WINO_PAGE_FLOATS 1024 /* 4 KiB */

/* Whether a transform writing floats values stores them non-temporally
 * (cl/winograd.cl's WINO_VSTORE16_NT, CPUs only): where they are more
 * than half the last-level cache they will not stay there for the GEMM,
 * and a plain store first reads each line in. `tutorial` on a 2-core Zen 4
 * (32 MiB L3): D4's wino_weight (52 MB) 5.7 -> 2.9 ms, G2's 6.1-7.4 ->
 * 2.2; the GEMM reading them no slower. */
static int stores_stream(const clgan_ctx *ctx, size_t floats) {
  const cl_ulong cache = ctx->dev.global_cache_bytes;
  return cache > 0 && floats * sizeof(float) > cache / 2;
}

/* The pad of a position stride of x floats. */
static size_t page_pad(size_t x) { return x % WINO_PAGE_FLOATS == 0 ? WINO_PAGE_PAD : 0; }
/* The weight gradient's image: a position's stride (its tiles and the
 * pad), a channel's (25 positions and the pad). */
static size_t v_pos_stride(size_t tiles) { return tiles + page_pad(tiles); }
static size_t v_chan_stride(size_t tiles) {
  return WINO_POSITIONS * v_pos_stride(tiles) + page_pad(tiles);
}
/* Its floats on shape s. */
static size_t v_image_floats(const clgan_conv_shape *s, size_t tiles) {
  return 4 * (size_t)s->cin * v_chan_stride(tiles);
}

/* The forward's and the adjoint's transformed input, packed in row panels
 * of tm tiles [panels][25][kz][tm]: a position's stride within a panel
 * (kz channels of tm tiles, and the pad); a panel is 25 of them. */
static size_t a_pos_stride(size_t kz, int tm) {
  return kz * (size_t)tm + page_pad(kz * (size_t)tm);
}

/* The forward's products [25][cout][m_row]: a position's stride (cout
 * rows of m_row, and the pad). Its rows are padded as the adjoint's are:
 * gemm_tile stores a tile's 32 output channels one row each, and at 2048
 * tiles (`tutorial`'s D2, rows 8 KiB apart) all 32 fell into one L1 set;
 * D2's forward products 55.0 -> 52.6 ms a step on a 2-core Zen 4. */
static size_t m_pos_stride(const clgan_conv_wino_plan *p) {
  return p->out_channels * p->m_row + page_pad(p->out_channels * p->m_row);
}

int conv_wino_applies(const clgan_conv_shape *s) {
  return s->k == 4 && s->stride == 2 && s->pad == 1 && s->h == 2 * s->ho && s->w == 2 * s->wo &&
         s->ho % WINO_TILE == 0 && s->wo % WINO_TILE == 0 && s->cin % 4 == 0 &&
         s->cin >= CONV_WINO_MIN_CIN;
}

/* The engine's choice on CPUs: products of at least CONV_WINO_MIN_MACS
 * multiply-adds (direct). On a 2-core Zen 4, each forward alone,
 * alternating runs: `tutorial`'s D2 41.3-42.8 -> 31.5-33.2 ms (8192 tiles,
 * 128 channels), D3 41.0-41.7 -> 31.4-32.4 (512 tiles, 256 channels). Once
 * the transforms took whole panels of tiles (a row of one or two tiles no
 * longer leaving lanes idle), the small layers won too: `gray32`'s
 * training step (D2, D3, G2, G3 at 2^27, one tile per image at D3 / G2),
 * unprofiled, 6-8 alternating rounds, medians, direct -> Winograd: batch 64
 * 35.2 -> 26.7 ms, 32 (2^26) 18.25 -> 14.75, 16 (2^25) 11.05 -> 10.0, 8
 * (2^24) 6.7 -> 6.4. Smaller products were not measured. */
#define CONV_WINO_MIN_MACS ((uint64_t)1 << 24)

static uint64_t wino_tiles(const clgan_conv_shape *s) {
  return (uint64_t)s->n * (uint64_t)(s->ho / WINO_TILE) * (uint64_t)(s->wo / WINO_TILE);
}

/* The tuning's choice (CLGAN_WINOGRAD), else 1 on CPU paths for products
 * of CONV_WINO_MIN_MACS multiply-adds or more (direct), -1 otherwise. */
static int wino_engine(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  if (!conv_wino_applies(s) || ctx->tuning.winograd < 0) return 0;
  if (ctx->tuning.winograd > 0) return 1;
  uint64_t macs = wino_tiles(s) * WINO_TILE * WINO_TILE * (uint64_t)s->cout * (uint64_t)s->cin * 16;
  return clgan_ctx_cpu_paths(ctx) && macs >= CONV_WINO_MIN_MACS ? 1 : -1;
}

int conv_wino_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return wino_engine(ctx, s) == 1;
}

static size_t pow2_at_least(size_t x) {
  size_t p = 1;
  while (p < x) p *= 2;
  return p;
}

/* gemm_tile's work-groups: the device's default shape (lx column tiles x
 * ly row tiles) given to the rows where the columns are few, as the own
 * GEMM plans fit theirs. */
static void tile_groups(size_t tiles_x, size_t tiles_y, size_t *lx, size_t *ly) {
  while (*ly > 1 && *ly / 2 >= tiles_y) *ly /= 2, *lx *= 2;
  while (*lx > 1 && *lx / 2 >= pow2_at_least(tiles_x)) *lx /= 2;
}

/* p's gemm_tile launch over tiles_x column tiles x tiles_y row tiles and
 * its products, from the device's default work-group shape (lx, ly). */
static void tile_launch_shape(clgan_ctx *ctx, clgan_conv_wino_plan *p, size_t tiles_x,
                              size_t tiles_y, size_t lx, size_t ly) {
  tile_groups(tiles_x, tiles_y, &lx, &ly);
  size_t kmax = clgan_kernel_max_local(ctx, p->tile);
  while (lx * ly > kmax) {
    if (ly > 1) ly /= 2;
    else lx /= 2;
  }
  p->tile_local[0] = lx, p->tile_local[1] = ly, p->tile_local[2] = 1;
  p->tile_global[0] = clgan_round_up(tiles_x, lx);
  p->tile_global[1] = clgan_round_up(tiles_y, ly);
  p->tile_global[2] = p->products;
}

/* A plan's start on shape s (out zeroed, *ok 0 until plan_finish): the
 * device's default register tile and work-group shape; 0 where the shape
 * or the tile does not allow it. */
static int plan_start(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_conv_wino_plan *p,
                      size_t *lx, size_t *ly, clgan_conv_wino_plan *out, int *ok) {
  *ok = 0;
  memset(out, 0, sizeof *out);
  memset(p, 0, sizeof *p);
  if (!conv_wino_applies(s)) return 0;
  gemm_own_default_tile(ctx, &p->tm, &p->nv, lx, ly);
  p->tiles = (size_t)s->n * (size_t)(s->ho / WINO_TILE) * (size_t)(s->wo / WINO_TILE);
  p->products = WINO_POSITIONS;
  /* cl/winograd.cl stores a panel's row as one vector */
  return p->tm == 2 || p->tm == 4 || p->tm == 8 || p->tm == 16;
}

/* The three transforms' kernels (weights, input, output) and gemm_tile,
 * with the plan's register tile. */
static clgan_status wino_kernels(clgan_ctx *ctx, const char *const names[3],
                                 clgan_conv_wino_plan *p) {
  char opts[64];
  snprintf(opts, sizeof opts, "-DTM=%d -DNV=%d", p->tm, p->nv);
  clgan_status st;
  if ((st = clgan_kernel_get(ctx, "winograd", opts, names[0], &p->weight)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "winograd", opts, names[1], &p->input)) != CLGAN_OK ||
      (st = clgan_kernel_get(ctx, "winograd", opts, names[2], &p->output)) != CLGAN_OK)
    return st;
  return clgan_kernel_get(ctx, "gemm", opts, "gemm_tile", &p->tile);
}

/* Whether the plan's workspace and the images stay within the kernels'
 * 32-bit offsets (and the GEMM's panels within int). */
static clgan_status offsets_check(const clgan_conv_shape *s, const clgan_conv_wino_plan *p) {
  const uint64_t lim = (uint64_t)1 << 32, k = p->products * p->kz;
  if (p->ws_floats >= lim || k * 16 * (uint64_t)p->nv >= lim / 2 ||
      k * (uint64_t)p->tm >= lim / 2 ||
      (uint64_t)s->cin * s->n * (uint64_t)(s->h + 2) * (uint64_t)(s->w + 2) >= lim ||
      (uint64_t)s->cout * s->n * (uint64_t)(s->ho + 2) * (uint64_t)(s->wo + 2) >= lim)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "conv_winograd: buffers beyond 32-bit offsets");
  return CLGAN_OK;
}

/* A plan's end: the offsets checked, its kernels (names: the weights',
 * the input's and the output's transforms) and gemm_tile's launch over
 * tiles_x x tiles_y register tiles; *out = *p. */
static clgan_status plan_finish(clgan_ctx *ctx, const clgan_conv_shape *s, clgan_conv_wino_plan *p,
                                const char *const names[3], size_t tiles_x, size_t tiles_y,
                                size_t lx, size_t ly, clgan_conv_wino_plan *out, int *ok) {
  clgan_status st = offsets_check(s, p);
  if (st == CLGAN_OK) st = wino_kernels(ctx, names, p);
  if (st != CLGAN_OK) return st;
  tile_launch_shape(ctx, p, tiles_x, tiles_y, lx, ly);
  *out = *p;
  *ok = 1;
  return CLGAN_OK;
}

int conv_wino_reads_unpadded(const clgan_conv_wino_plan *p, const clgan_conv_shape *s) {
  /* cl/winograd.cl gathers panels of 4 or 8 tiles where a row holds no 4,
   * and reads rows of four tiles as vectors where it does (WINO_ROW4Z) */
  const int tw = s->wo / WINO_TILE;
  if (!p->tile) return 0;
  if (tw % 4 == 0) return p->tm % 4 == 0;
  return (p->tm == 4 || p->tm == 8) && p->tiles % (size_t)p->tm == 0;
}

/* The forward's workspace [row panels of tiles][25][K][tm] (the
 * transformed image) | [column panels of cout][25 * K][tn] (the
 * transformed weights) | [25][cout][m_row] (the products), K = 4 * cin. */
clgan_status conv_wino_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                 clgan_conv_wino_plan *out, int *ok) {
  clgan_conv_wino_plan p;
  size_t lx, ly;
  if (!plan_start(ctx, s, &p, &lx, &ly, out, ok)) return CLGAN_OK;
  size_t tn = 16 * (size_t)p.nv, tm = (size_t)p.tm;
  p.kz = 4 * (size_t)s->cin, p.out_channels = (size_t)s->cout;
  size_t k = p.products * p.kz;
  size_t rows = clgan_round_up(p.tiles, tm), cols = clgan_round_up(p.out_channels, tn);
  /* past the weight gradient's transformed image too, which a
   * ConvTranspose2d's backward leaves there for this GEMM (conv_wino_filt_ws_v) */
  size_t a_floats = rows / tm * WINO_POSITIONS * a_pos_stride(p.kz, p.tm);
  if (a_floats < v_image_floats(s, p.tiles)) a_floats = v_image_floats(s, p.tiles);
  p.up_off = clgan_round_up(a_floats, 16);
  p.u_floats = cols * k;
  p.weight_stream = stores_stream(ctx, p.u_floats);
  p.m_off = clgan_round_up(p.up_off + p.u_floats, 16);
  p.m_row = p.tiles + WINO_ROW_PAD;
  p.ws_floats = p.m_off + p.products * m_pos_stride(&p);
  static const char *const names[3] = {"wino_weight", "wino_input", "wino_output"};
  p.weight_global[0] = (size_t)s->cin, p.weight_global[1] = cols / tn;
  p.input_global[0] = (size_t)s->cin, p.input_global[1] = rows / tm;
  p.output_global[0] = rows / tm, p.output_global[1] = p.out_channels;
  return plan_finish(ctx, s, &p, names, cols / tn, rows / tm, lx, ly, out, ok);
}

/* The workspace from off on. */
static clgan_buf ws_view(const clgan_ctx *ctx, size_t off) {
  clgan_buf b = {ctx->gemm_ws.mem, off, 0};
  return b;
}

/* The kept weights (conv_winograd.h): the weights last transformed
 * [cout][cin][16], then their transform (u_floats). */
static size_t seen_floats(const clgan_conv_shape *s) {
  return clgan_round_up((size_t)s->cout * (size_t)s->cin * 16, 16);
}

size_t conv_wino_weights_kept_floats(const clgan_conv_wino_plan *p, const clgan_conv_shape *s) {
  return p->tile ? seen_floats(s) + p->u_floats : 0;
}

/* The transformed weights as gemm_tile's packed B panels (kernel `name`:
 * the forward's or the adjoint's), into the workspace at up_off, or, where
 * p keeps them, into weights_kept unless they are the ones it holds; *u:
 * where they are. */
static clgan_status run_weight(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                               const clgan_conv_shape *s, clgan_buf w, const char *name,
                               clgan_buf *u) {
  const int kept = p->weights_kept.mem != NULL;
  clgan_buf seen = kept ? p->weights_kept : ws_view(ctx, 0);
  *u = kept ? clgan_buf_at(p->weights_kept, seen_floats(s)) : ws_view(ctx, p->up_off);
  if (kept && p->weights_current) return CLGAN_OK; /* the caller vouches for them */
  cl_int cin = s->cin, cout = s->cout, skip_seen = kept, stream = p->weight_stream;
  cl_uint w_off = (cl_uint)w.off, u_off = (cl_uint)u->off, seen_off = (cl_uint)seen.off;
  clgan_status st = clgan_set_args(p->weight, 10, sizeof cin, &cin, sizeof cout, &cout,
                                   sizeof(cl_mem), &w.mem, sizeof w_off, &w_off, sizeof(cl_mem),
                                   &u->mem, sizeof u_off, &u_off, sizeof(cl_mem), &seen.mem,
                                   sizeof seen_off, &seen_off, sizeof skip_seen, &skip_seen,
                                   sizeof stream, &stream);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->weight, 2, p->weight_global, NULL, name);
}

/* The padded image's tiles as gemm_tile's packed A panels. */
static clgan_status run_input(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                              const clgan_conv_shape *s, const clgan_gemm_conv_x *x) {
  cl_int cin = s->cin, n = s->n, ho = s->ho, wo = s->wo, hp = x->hp, wp = x->wp;
  cl_uint x_off = (cl_uint)x->img.off, vp_off = (cl_uint)p->vp_off;
  cl_uint zs = (cl_uint)a_pos_stride(p->kz, p->tm);
  clgan_status st = clgan_set_args(p->input, 11, sizeof cin, &cin, sizeof n, &n, sizeof ho, &ho,
                                   sizeof wo, &wo, sizeof hp, &hp, sizeof wp, &wp,
                                   sizeof(cl_mem), &x->img.mem, sizeof x_off, &x_off,
                                   sizeof(cl_mem), &ctx->gemm_ws.mem, sizeof vp_off, &vp_off,
                                   sizeof zs, &zs);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->input, 2, p->input_global, NULL, "wino_input");
}

/* How gemm_tile reads A (its m rows: a_ps a row panel, a_ks a step of k,
 * a_rs a row, a_zs a product) and stores C (c_rs a row, c_cs a column,
 * zstride a product). */
typedef struct tile_strides {
  cl_int m, a_ps, a_ks, a_rs, c_rs, c_cs;
  cl_uint zstride, a_zs;
} tile_strides;

/* A packed in row panels of the tiles (the forward's and the adjoint's
 * transformed input). */
static tile_strides packed_a(const clgan_conv_wino_plan *p, cl_int c_rs, cl_int c_cs,
                             cl_uint zstride) {
  cl_int zs = (cl_int)a_pos_stride(p->kz, p->tm);
  tile_strides t = {(cl_int)p->tiles, WINO_POSITIONS * zs, p->tm, 1, c_rs, c_cs, zstride,
                    (cl_uint)zs};
  return t;
}

/* The products in one launch of gemm_tile: its split of k, one range of K
 * per product, each range's product stored at its own offset; A from a
 * (the workspace at vp_off, or the transformed image the forward and the
 * weight gradient share), B's packed panels from b (the workspace at
 * up_off, or kept weights). */
static clgan_status run_products(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                 const tile_strides *t, clgan_buf a, clgan_buf b) {
  cl_int n = (cl_int)p->out_channels, kz = (cl_int)p->kz, k = (cl_int)p->products * kz;
  float alpha = 1.0f, beta = 0.0f;
  cl_mem ws = ctx->gemm_ws.mem;
  cl_uint a_off = (cl_uint)a.off, b_off = (cl_uint)b.off, m_off = (cl_uint)p->m_off;
  clgan_status st = clgan_set_args(
      p->tile, 19, sizeof t->m, &t->m, sizeof n, &n, sizeof k, &k, sizeof kz, &kz, sizeof alpha,
      &alpha, sizeof beta, &beta, sizeof(cl_mem), &a.mem, sizeof a_off, &a_off, sizeof t->a_ps,
      &t->a_ps, sizeof t->a_ks, &t->a_ks, sizeof t->a_rs, &t->a_rs, sizeof(cl_mem), &b.mem,
      sizeof b_off, &b_off, sizeof(cl_mem), &ws, sizeof m_off, &m_off, sizeof t->c_rs, &t->c_rs,
      sizeof t->c_cs, &t->c_cs, sizeof t->zstride, &t->zstride, sizeof t->a_zs, &t->a_zs);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->tile, 3, p->tile_global, p->tile_local, "gemm_tile");
}

static clgan_status run_output(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                               const clgan_conv_shape *s, clgan_buf y, clgan_act act,
                               float slope) {
  cl_int cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, a = (cl_int)act;
  cl_uint m_off = (cl_uint)p->m_off, y_off = (cl_uint)y.off, zs = (cl_uint)m_pos_stride(p);
  cl_int m_row = (cl_int)p->m_row;
  clgan_status st = clgan_set_args(p->output, 12, sizeof cout, &cout, sizeof n, &n, sizeof ho,
                                   &ho, sizeof wo, &wo, sizeof(cl_mem), &ctx->gemm_ws.mem,
                                   sizeof m_off, &m_off, sizeof(cl_mem), &y.mem, sizeof y_off,
                                   &y_off, sizeof a, &a, sizeof slope, &slope, sizeof zs, &zs,
                                   sizeof m_row, &m_row);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->output, 2, p->output_global, NULL, "wino_output");
}

clgan_status conv_wino_forward_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                   const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                   clgan_buf w, clgan_buf y, clgan_act act, float slope) {
  clgan_buf u;
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st == CLGAN_OK) st = run_weight(ctx, p, s, w, "wino_weight", &u);
  if (st == CLGAN_OK) st = run_input(ctx, p, s, x);
  if (st == CLGAN_OK) { /* C^T = U_z V_z^T, [25][cout][m_row] */
    tile_strides t = packed_a(p, 1, (cl_int)p->m_row, (cl_uint)m_pos_stride(p));
    st = run_products(ctx, p, &t, ws_view(ctx, p->vp_off), u);
  }
  if (st == CLGAN_OK) st = run_output(ctx, p, s, y, act, slope);
  return st;
}

clgan_status conv_wino_forward_shared_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                          const clgan_conv_shape *s, clgan_buf v, clgan_buf w,
                                          clgan_buf y, clgan_act act, float slope) {
  clgan_buf u;
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st == CLGAN_OK) st = run_weight(ctx, p, s, w, "wino_weight", &u);
  if (st == CLGAN_OK) { /* A_z read in place: a product's tiles contiguous, its K
                           channels v_chan_stride apart */
    cl_int tiles = (cl_int)p->tiles, ks = (cl_int)v_chan_stride(p->tiles);
    tile_strides t = {tiles, p->tm, ks, 1, 1, (cl_int)p->m_row, (cl_uint)m_pos_stride(p),
                      (cl_uint)v_pos_stride(p->tiles)};
    st = run_products(ctx, p, &t, v, u);
  }
  if (st == CLGAN_OK) st = run_output(ctx, p, s, y, act, slope);
  return st;
}

/* ---- The adjoint ---------------------------------------------------------- */

int conv_wino_adj_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return wino_engine(ctx, s) == 1;
}

/* The workspace [row panels of tiles][25][cout][tm] (the transformed dy)
 * | [column panels of K][25 * cout][tn] (the transformed weights) |
 * [K][25][m_row] (the products, stored transposed), K = 4 * cin. */
clgan_status conv_wino_adj_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                     clgan_conv_wino_plan *out, int *ok) {
  clgan_conv_wino_plan p;
  size_t lx, ly;
  if (!plan_start(ctx, s, &p, &lx, &ly, out, ok)) return CLGAN_OK;
  size_t tn = 16 * (size_t)p.nv, tm = (size_t)p.tm, kdim = 4 * (size_t)s->cin;
  p.kz = (size_t)s->cout, p.out_channels = kdim;
  size_t k = p.products * p.kz;
  size_t rows = clgan_round_up(p.tiles, tm), cols = clgan_round_up(kdim, tn);
  p.m_row = p.tiles + WINO_ROW_PAD;
  p.up_off = clgan_round_up(rows / tm * WINO_POSITIONS * a_pos_stride(p.kz, p.tm), 16);
  p.u_floats = cols * k;
  p.weight_stream = stores_stream(ctx, p.u_floats);
  p.m_off = clgan_round_up(p.up_off + p.u_floats, 16);
  p.ws_floats = p.m_off + kdim * p.products * p.m_row;
  static const char *const names[3] = {"wino_adjt_weight", "wino_adjt_dy", "wino_adjt_output"};
  p.weight_global[0] = (size_t)s->cout, p.weight_global[1] = clgan_round_up(s->cin, tn) / tn;
  p.input_global[0] = (size_t)s->cout, p.input_global[1] = rows / tm;
  /* a row of tiles, or a row panel of whole images (cl/winograd_adjoint.cl) */
  p.output_global[0] = CLGAN_WINO_ADJT_BY_PANELS(s->wo / WINO_TILE, s->ho / WINO_TILE, p.tm)
                           ? rows / tm
                           : (size_t)s->n * (size_t)(s->ho / WINO_TILE);
  p.output_global[1] = (size_t)s->cin;
  return plan_finish(ctx, s, &p, names, cols / tn, rows / tm, lx, ly, out, ok);
}

clgan_status conv_wino_adj_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                               const clgan_conv_shape *s, clgan_buf dy, int dy_padded,
                               clgan_buf w, clgan_buf dx, clgan_act act, float slope,
                               clgan_buf y) {
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st != CLGAN_OK) return st;
  cl_mem ws = ctx->gemm_ws.mem;
  cl_int cin = s->cin, cout = s->cout, n = s->n, ho = s->ho, wo = s->wo, a = (cl_int)act;
  /* dy's planes as stored: given padded by 1, its first value at (1, 1) */
  cl_int hs = dy_padded ? ho + 2 : ho, wsr = dy_padded ? wo + 2 : wo;
  cl_uint dy_off = (cl_uint)(dy.off + (dy_padded ? (size_t)wsr + 1 : 0));
  cl_uint vp_off = (cl_uint)p->vp_off, m_off = (cl_uint)p->m_off, dx_off = (cl_uint)dx.off;
  clgan_buf u;
  if ((st = run_weight(ctx, p, s, w, "wino_adjt_weight", &u)) != CLGAN_OK) return st;
  cl_uint zs = (cl_uint)a_pos_stride(p->kz, p->tm);
  if ((st = clgan_set_args(p->input, 11, sizeof cout, &cout, sizeof n, &n, sizeof ho, &ho,
                           sizeof wo, &wo, sizeof hs, &hs, sizeof wsr, &wsr, sizeof(cl_mem),
                           &dy.mem, sizeof dy_off, &dy_off, sizeof(cl_mem), &ws, sizeof vp_off,
                           &vp_off, sizeof zs, &zs)) != CLGAN_OK ||
      (st = clgan_launch(ctx, p->input, 2, p->input_global, NULL, "wino_adjt_dy")) != CLGAN_OK)
    return st;
  cl_int c_cs = (cl_int)(WINO_POSITIONS * p->m_row);
  tile_strides t = packed_a(p, 1, c_cs, (cl_uint)p->m_row); /* [K][25][m_row] */
  if ((st = run_products(ctx, p, &t, ws_view(ctx, p->vp_off), u)) != CLGAN_OK) return st;
  cl_mem ym = act != CLGAN_ACT_NONE ? y.mem : dx.mem;
  cl_uint y_off = act != CLGAN_ACT_NONE ? (cl_uint)y.off : 0;
  cl_int m_row = (cl_int)p->m_row;
  if ((st = clgan_set_args(p->output, 13, sizeof cin, &cin, sizeof n, &n, sizeof ho, &ho,
                           sizeof wo, &wo, sizeof(cl_mem), &ws, sizeof m_off, &m_off,
                           sizeof m_row, &m_row, sizeof(cl_mem), &dx.mem, sizeof dx_off, &dx_off,
                           sizeof(cl_mem), &ym, sizeof y_off, &y_off, sizeof a, &a, sizeof slope,
                           &slope)) != CLGAN_OK)
    return st;
  return clgan_launch(ctx, p->output, 2, p->output_global, NULL, "wino_adjt_output");
}

/* ---- The weight gradient ---------------------------------------------------- */

int conv_wino_filt_default(const clgan_ctx *ctx, const clgan_conv_shape *s) {
  return wino_engine(ctx, s) == 1;
}

/* The workspace [K][25][tiles] (the transformed image, A's rows) |
 * [column panels][25 * tiles][tn] (the transformed dy) | [K][25][m_row]
 * (the products), K = 4 * cin. The products' rows are padded: at cout
 * floats (2 KiB on `tutorial`'s D4) the output transform's 25 reads of a
 * channel fall into two sets of a CPU's L1. */
clgan_status conv_wino_filt_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                      clgan_conv_wino_plan *out, int *ok) {
  clgan_conv_wino_plan p;
  size_t lx, ly;
  if (!plan_start(ctx, s, &p, &lx, &ly, out, ok)) return CLGAN_OK;
  size_t tn = 16 * (size_t)p.nv, tm = (size_t)p.tm, kdim = 4 * (size_t)s->cin;
  if (kdim % tm != 0) return CLGAN_OK;
  p.kz = p.tiles, p.out_channels = (size_t)s->cout;
  size_t k = p.products * p.kz, cols = clgan_round_up(p.out_channels, tn);
  p.m_row = p.out_channels + WINO_ROW_PAD;
  p.v_floats = v_image_floats(s, p.tiles);
  p.up_off = clgan_round_up(p.v_floats, 16);
  p.m_off = clgan_round_up(p.up_off + cols * k, 16);
  p.ws_floats = p.m_off + p.products * kdim * p.m_row;
  static const char *const names[3] = {"wino_filt_dy", "wino_filt_input", "wino_filt_output"};
  p.weight_global[0] = p.tiles, p.weight_global[1] = cols / tn;
  p.input_global[0] = clgan_round_up(p.tiles, tm) / tm, p.input_global[1] = s->cin;
  p.output_global[0] = clgan_round_up(p.out_channels, 16) / 16, p.output_global[1] = s->cin;
  return plan_finish(ctx, s, &p, names, cols / tn, kdim / tm, lx, ly, out, ok);
}

clgan_status conv_wino_filt_input_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                      const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                      clgan_buf v) {
  cl_int cin = s->cin, n = s->n, ho = s->ho, wo = s->wo, hp = x->hp, wp = x->wp;
  cl_uint x_off = (cl_uint)x->img.off, v_off = (cl_uint)v.off;
  cl_uint xs = (cl_uint)v_pos_stride(p->tiles), ks = (cl_uint)v_chan_stride(p->tiles);
  clgan_status st = clgan_set_args(p->input, 12, sizeof cin, &cin, sizeof n, &n, sizeof ho, &ho,
                                   sizeof wo, &wo, sizeof hp, &hp, sizeof wp, &wp,
                                   sizeof(cl_mem), &x->img.mem, sizeof x_off, &x_off,
                                   sizeof(cl_mem), &v.mem, sizeof v_off, &v_off, sizeof xs, &xs,
                                   sizeof ks, &ks);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, p->input, 2, p->input_global, NULL, "wino_filt_input");
}

clgan_status conv_wino_filt_shared_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                       const clgan_conv_shape *s, clgan_buf v, clgan_buf dy,
                                       clgan_buf dw, int accumulate) {
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st != CLGAN_OK) return st;
  cl_mem ws = ctx->gemm_ws.mem;
  cl_int cin = s->cin, cout = s->cout, n = s->n, ho = s->ho, wo = s->wo;
  cl_uint dy_off = (cl_uint)dy.off, dw_off = (cl_uint)dw.off;
  cl_uint up_off = (cl_uint)p->up_off, m_off = (cl_uint)p->m_off;
  float beta = accumulate ? 1.0f : 0.0f;
  if ((st = clgan_set_args(p->weight, 8, sizeof cout, &cout, sizeof n, &n, sizeof ho, &ho,
                           sizeof wo, &wo, sizeof(cl_mem), &dy.mem, sizeof dy_off, &dy_off,
                           sizeof(cl_mem), &ws, sizeof up_off, &up_off)) != CLGAN_OK ||
      (st = clgan_launch(ctx, p->weight, 2, p->weight_global, NULL, "wino_filt_dy")) != CLGAN_OK)
    return st;
  /* dG_xi = V_xi^T Z_xi (K x cout) over the tiles, A's rows read in place,
   * stored [K][25][m_row] (a channel's 25 rows together) */
  cl_int ks = (cl_int)v_chan_stride(p->tiles);
  tile_strides t = {4 * cin, p->tm * ks, 1, ks, (cl_int)(p->products * p->m_row), 1,
                    (cl_uint)p->m_row, (cl_uint)v_pos_stride(p->tiles)};
  if ((st = run_products(ctx, p, &t, v, ws_view(ctx, p->up_off))) != CLGAN_OK) return st;
  cl_int m_row = (cl_int)p->m_row;
  if ((st = clgan_set_args(p->output, 8, sizeof cin, &cin, sizeof cout, &cout, sizeof(cl_mem),
                           &ws, sizeof m_off, &m_off, sizeof m_row, &m_row, sizeof(cl_mem),
                           &dw.mem, sizeof dw_off, &dw_off, sizeof beta, &beta)) != CLGAN_OK)
    return st;
  return clgan_launch(ctx, p->output, 2, p->output_global, NULL, "wino_filt_output");
}

clgan_buf conv_wino_filt_ws_v(const clgan_ctx *ctx, const clgan_conv_wino_plan *p) {
  return ws_view(ctx, p->vp_off);
}

clgan_status conv_wino_filt_run(clgan_ctx *ctx, const clgan_conv_wino_plan *p,
                                const clgan_conv_shape *s, const clgan_gemm_conv_x *x,
                                clgan_buf dy, clgan_buf dw, int accumulate) {
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st == CLGAN_OK) st = conv_wino_filt_input_run(ctx, p, s, x, ws_view(ctx, p->vp_off));
  if (st == CLGAN_OK) st = conv_wino_filt_shared_run(ctx, p, s, ws_view(ctx, p->vp_off), dy, dw,
                                                     accumulate);
  return st;
}
