/* The GEMM's local-memory backend (cl/gemm_lds.cl): plans (one program per
 * parameter set, built while planning through the runtime's program cache;
 * the split of k; the workspace for partial products) and runs (argument
 * setting and launches only). See gemm_lds.h. */
#include <stdio.h>
#include <string.h>

#include "ops/gemm_lds.h"
#include "ops/gemm_own.h"
#include "runtime/internal.h"

/* cl/gemm_lds.cl's LPAD: floats of padding per local row of op(B); op(A)'s
 * rows are padded by VR, at most 4. */
#define LDS_LPAD 1
#define LDS_APAD_MAX 4
/* Split k over work-groups only in ranges of at least this many. */
#define LDS_SPLIT_MIN_K 1024
#define LDS_MAX_SPLITS 64

/* The default set (the kernel's own defaults): 64 x 64 tiles of C per group
 * of 16 x 16 work-items, 4 x 4 each, k in steps of 16, float4 loads. */
static const clgan_gemm_variant lds_default = {CLGAN_GEMM_LDS, 4, 4, 16, 16, 16, 4};

/* The tuner's sets on GPUs (tm, nv, lx, ly, wgk, vw), the default first:
 * larger tiles for the large convolution GEMMs (more reuse per local load),
 * taller and wider ones for products with few rows or columns, and a small
 * group for small products. CPUs get the default only (their local memory
 * is ordinary memory, where the own backend's packed panels win; the one
 * candidate keeps the path exercised). */
static const int gpu_sets[][6] = {
    {4, 4, 16, 16, 16, 4}, /* 64x64k16/4x4v4 */
    {8, 8, 16, 16, 8, 4},  /* 128x128k8/8x8v4 */
    {8, 4, 16, 16, 16, 4}, /* 128x64k16/8x4v4 */
    {4, 8, 16, 16, 16, 4}, /* 64x128k16/4x8v4 */
    {2, 4, 16, 16, 32, 4}, /* 32x64k32/2x4v4 */
    {4, 4, 8, 8, 32, 2},   /* 32x32k32/4x4v2 */
};

static int is_zero(const clgan_gemm_variant *v) {
  return v->tm == 0 && v->nv == 0 && v->lx == 0 && v->ly == 0 && v->wgk == 0 && v->vw == 0;
}

int gemm_lds_variant_valid(const clgan_gemm_variant *v) {
  if (v->backend != CLGAN_GEMM_LDS) return 0;
  if (is_zero(v)) return 1;
  if (v->tm < 1 || v->tm > 16 || v->nv < 1 || v->nv > 16 || v->tm * v->nv > 128 || v->lx < 1 ||
      v->ly < 1 || v->lx > 1024 || v->ly > 1024 || v->lx * v->ly > 1024 || v->wgk < 1 ||
      v->wgk > 64 || (v->vw != 1 && v->vw != 2 && v->vw != 4))
    return 0;
  int wgm = v->tm * v->ly, wgn = v->nv * v->lx;
  return wgm <= 512 && wgn <= 512 && wgm % v->vw == 0 && wgn % v->vw == 0 && v->wgk % v->vw == 0;
}

int gemm_lds_param_sets(int gpu, clgan_gemm_variant *out, int cap) {
  int n = gpu ? (int)(sizeof gpu_sets / sizeof gpu_sets[0]) : 1;
  if (n > cap) n = cap;
  for (int i = 0; i < n; i++) {
    const int *s = gpu_sets[i];
    out[i] = (clgan_gemm_variant){CLGAN_GEMM_LDS, s[0], s[1], s[2], s[3], s[4], s[5]};
  }
  return n;
}

static clgan_gemm_variant resolved(const clgan_gemm_variant *v) {
  return v && !is_zero(v) ? *v : lds_default;
}

static void tile_name(int wgm, int wgn, int wgk, int tpm, int tpn, int vw, char *buf, size_t cap) {
  snprintf(buf, cap, "lds%dx%dk%d/%dx%dv%d", wgm, wgn, wgk, tpm, tpn, vw);
}

void gemm_lds_variant_name(const clgan_gemm_variant *v, char *buf, size_t cap) {
  clgan_gemm_variant r = resolved(v);
  tile_name(r.tm * r.ly, r.nv * r.lx, r.wgk, r.tm, r.nv, r.vw, buf, cap);
}

void gemm_lds_plan_name(const clgan_gemm_plan *p, char *buf, size_t cap) {
  const clgan_gemm_lds *l = &p->lds;
  tile_name(l->wgm, l->wgn, l->wgk, l->tpm, l->tpn, l->vw, buf, cap);
}

/* The entries of cl/gemm_lds.cl (conv entries: trans_b 0 the forward, 1
 * the weight gradient). */
static const char *entry_name(int conv_x, int ta, int tb) {
  static const char *const plain[2][2] = {{"gemm_lds_nn", "gemm_lds_nt"},
                                          {"gemm_lds_tn", "gemm_lds_tt"}};
  static const char *const conv[2] = {"gemm_lds_conv_fwd", "gemm_lds_conv_filt"};
  return conv_x ? conv[tb] : plain[ta][tb];
}

/* A kernel of the set's program, refused where the device cannot run its
 * work-group (registers: the kernel's own limit). */
static clgan_status lds_kernel(clgan_ctx *ctx, const clgan_gemm_lds *l, const char *name,
                               size_t threads, cl_kernel *out) {
  char opts[128];
  snprintf(opts, sizeof opts, "-DWGM=%d -DWGN=%d -DWGK=%d -DTPM=%d -DTPN=%d -DVW=%d -DLPAD=%d",
           l->wgm, l->wgn, l->wgk, l->tpm, l->tpn, l->vw, LDS_LPAD);
  clgan_status st = clgan_kernel_get(ctx, "gemm_lds", opts, name, out);
  if (st != CLGAN_OK) return st;
  size_t kmax = clgan_kernel_max_local(ctx, *out);
  if (threads > kmax)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "gemm: %s (%s) needs %zu work-items per group, the device takes %zu", name,
                      opts, threads, kmax);
  return CLGAN_OK;
}

/* Too few work-groups to fill the device: k split over them (as the own
 * backend does), each range a whole number of local-memory steps. */
static void lds_split(const clgan_ctx *ctx, clgan_gemm_lds *l, size_t m, size_t n, size_t k) {
  size_t groups = ((m + l->wgm - 1) / l->wgm) * ((n + l->wgn - 1) / l->wgn);
  size_t want =
      (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1) * (clgan_ctx_cpu_paths(ctx) ? 2 : 4);
  l->splits = 1;
  if (groups < want && k >= 2 * LDS_SPLIT_MIN_K) {
    l->splits = (want + groups - 1) / groups;
    if (l->splits > k / LDS_SPLIT_MIN_K) l->splits = k / LDS_SPLIT_MIN_K;
    if (l->splits > LDS_MAX_SPLITS) l->splits = LDS_MAX_SPLITS;
  }
  l->kz = clgan_round_up((k + l->splits - 1) / l->splits, (size_t)l->wgk);
  l->splits = (k + l->kz - 1) / l->kz;
}

clgan_status gemm_lds_plan(clgan_ctx *ctx, int conv_x, const clgan_gemm_variant *v,
                           clgan_gemm_plan *p) {
  if (v && !gemm_lds_variant_valid(v))
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: invalid LDS variant (%d %d %d %d %d %d)", v->tm,
                      v->nv, v->lx, v->ly, v->wgk, v->vw);
  clgan_gemm_variant r = resolved(v);
  clgan_gemm_lds *l = &p->lds;
  memset(l, 0, sizeof *l);
  l->wgm = r.tm * r.ly, l->wgn = r.nv * r.lx, l->wgk = r.wgk;
  l->tpm = r.tm, l->tpn = r.nv, l->vw = r.vw, l->conv_x = conv_x != 0;
  size_t threads = (size_t)r.lx * r.ly;
  size_t local_bytes =
      (size_t)l->wgk * (l->wgm + LDS_APAD_MAX + l->wgn + LDS_LPAD) * sizeof(float);
  char name[48];
  gemm_lds_plan_name(p, name, sizeof name);
  if (local_bytes > ctx->dev.local_mem_bytes)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "gemm: %s needs %zu bytes of local memory, the device has %llu", name,
                      local_bytes, (unsigned long long)ctx->dev.local_mem_bytes);
  p->backend = CLGAN_GEMM_LDS;
  p->path = CLGAN_GEMM_PATH_LDS;
  p->main_name = entry_name(l->conv_x, p->trans_a, p->trans_b);
  p->main_local[0] = (size_t)r.lx, p->main_local[1] = (size_t)r.ly;
  clgan_status st;
  if ((st = lds_kernel(ctx, l, p->main_name, threads, &p->main)) != CLGAN_OK) return st;
  lds_split(ctx, l, p->m, p->n, p->k);
  p->ws_floats = l->splits > 1 ? l->splits * p->m * p->n : 0;
  if (p->ws_floats >= ((size_t)1 << 32))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED, "gemm: split-k workspace beyond 32-bit indexing");
  if (l->splits > 1) {
    if ((st = lds_kernel(ctx, l, "gemm_lds_reduce", 1, &p->reduce)) != CLGAN_OK) return st;
    p->reduce_local[0] = 16, p->reduce_local[1] = 4;
    size_t kmax = clgan_kernel_max_local(ctx, p->reduce);
    while (p->reduce_local[0] * p->reduce_local[1] > kmax)
      if (p->reduce_local[1] > 1)
        p->reduce_local[1] /= 2;
      else
        p->reduce_local[0] /= 2;
  }
  return CLGAN_OK;
}

/* Where C goes: C itself, or the workspace's partial products for split k
 * (then alpha 1 and beta 0 there, the caller's in the reduction). */
typedef struct lds_out {
  cl_mem mem;
  cl_uint off, zstride;
  int ldc;
  float alpha, beta;
} lds_out;

static clgan_status set_plain(cl_kernel kr, int m, int n, int k, int kz, const lds_out *o,
                              clgan_buf a, int a_rs, int a_cs, clgan_buf b, int b_rs, int b_cs,
                              int vec) {
  cl_uint a_off = (cl_uint)a.off, b_off = (cl_uint)b.off;
  return clgan_set_args(kr, 19, sizeof m, &m, sizeof n, &n, sizeof k, &k, sizeof kz, &kz,
                        sizeof o->alpha, &o->alpha, sizeof o->beta, &o->beta, sizeof(cl_mem),
                        &a.mem, sizeof a_off, &a_off, sizeof a_rs, &a_rs, sizeof a_cs, &a_cs,
                        sizeof(cl_mem), &b.mem, sizeof b_off, &b_off, sizeof b_rs, &b_rs,
                        sizeof b_cs, &b_cs, sizeof(cl_mem), &o->mem, sizeof o->off, &o->off,
                        sizeof o->ldc, &o->ldc, sizeof o->zstride, &o->zstride, sizeof vec, &vec);
}

/* The conv entries: the digits and weights of a tap (c, ki, kj) and of an
 * output pixel (b, oy, ox); j runs over pixels and k over taps for a
 * forward (B = col), the reverse for a weight gradient (B = col^T). */
static clgan_status set_conv(cl_kernel kr, int m, int n, int k, int kz, const lds_out *o,
                             clgan_buf a, int lda, const clgan_gemm_conv_x *q, int forward,
                             int vec) {
  cl_uint a_off = (cl_uint)a.off, img_off = (cl_uint)q->img.off;
  int tap[5] = {q->kw, q->kw, 1, q->wp, q->n * q->hp * q->wp};
  int pix[5] = {q->wo, q->ho, q->stride, q->stride * q->wp, q->hp * q->wp};
  const int *jg = forward ? pix : tap, *kg = forward ? tap : pix;
  return clgan_set_args(kr, 26, sizeof m, &m, sizeof n, &n, sizeof k, &k, sizeof kz, &kz,
                        sizeof o->alpha, &o->alpha, sizeof o->beta, &o->beta, sizeof(cl_mem),
                        &a.mem, sizeof a_off, &a_off, sizeof lda, &lda, sizeof(cl_mem), &q->img.mem,
                        sizeof img_off, &img_off, sizeof(int), &jg[0], sizeof(int), &jg[1],
                        sizeof(int), &jg[2], sizeof(int), &jg[3], sizeof(int), &jg[4], sizeof(int),
                        &kg[0], sizeof(int), &kg[1], sizeof(int), &kg[2], sizeof(int), &kg[3],
                        sizeof(int), &kg[4], sizeof(cl_mem), &o->mem, sizeof o->off, &o->off,
                        sizeof o->ldc, &o->ldc, sizeof o->zstride, &o->zstride, sizeof vec, &vec);
}

/* The split partial products summed into C. */
static clgan_status lds_reduce(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, float beta,
                               clgan_buf c, int ldc) {
  int m = (int)p->m, n = (int)p->n, splits = (int)p->lds.splits;
  cl_uint c_off = (cl_uint)c.off;
  clgan_status st =
      clgan_set_args(p->reduce, 9, sizeof m, &m, sizeof n, &n, sizeof splits, &splits, sizeof alpha,
                     &alpha, sizeof beta, &beta, sizeof(cl_mem), &ctx->gemm_ws.mem, sizeof(cl_mem),
                     &c.mem, sizeof c_off, &c_off, sizeof ldc, &ldc);
  if (st != CLGAN_OK) return st;
  const size_t *l = p->reduce_local;
  size_t g[2] = {clgan_round_up(p->n, l[0]), clgan_round_up(p->m, l[1])};
  return clgan_launch(ctx, p->reduce, 2, g, l, "gemm_lds_reduce");
}

static int multiple(size_t x, int vw) {
  return x % (size_t)vw == 0;
}

clgan_status gemm_lds_run(clgan_ctx *ctx, const clgan_gemm_plan *p, float alpha, clgan_buf a,
                          size_t lda, clgan_buf b, size_t ldb, float beta, clgan_buf c, size_t ldc,
                          const clgan_gemm_conv_x *conv_x) {
  const clgan_gemm_lds *l = &p->lds;
  if ((conv_x != NULL) != l->conv_x)
    return clgan_fail(CLGAN_ERR_INVALID, "gemm: an LDS plan %s a conv's image",
                      l->conv_x ? "made for reading" : "not made for");
  int split = l->splits > 1;
  /* grown by clgan_gemm_plan_prepare, else here (refused when frozen) */
  clgan_status st = gemm_ws_reserve(ctx, p->ws_floats);
  if (st != CLGAN_OK) return st;
  lds_out o = {split ? ctx->gemm_ws.mem : c.mem,
               split ? 0 : (cl_uint)c.off,
               split ? (cl_uint)(p->m * p->n) : 0,
               split ? (int)p->n : (int)ldc,
               split ? 1.0f : alpha,
               split ? 0.0f : beta};
  /* vector loads need the operand's start and row stride on vw floats */
  int vec = multiple(a.off, l->vw) && multiple(lda, l->vw) &&
            (conv_x || (multiple(b.off, l->vw) && multiple(ldb, l->vw)));
  cl_kernel kr = p->main;
  int m = (int)p->m, n = (int)p->n, k = (int)p->k, kz = (int)l->kz;
  if (conv_x) {
    st = set_conv(kr, m, n, k, kz, &o, a, (int)lda, conv_x, !p->trans_b, vec);
  } else {
    int a_rs = p->trans_a ? 1 : (int)lda, a_cs = p->trans_a ? (int)lda : 1;
    int b_rs = p->trans_b ? 1 : (int)ldb, b_cs = p->trans_b ? (int)ldb : 1;
    st = set_plain(kr, m, n, k, kz, &o, a, a_rs, a_cs, b, b_rs, b_cs, vec);
  }
  if (st != CLGAN_OK) return st;
  size_t lx = p->main_local[0], ly = p->main_local[1];
  size_t g[3] = {(p->n + l->wgn - 1) / l->wgn * lx, (p->m + l->wgm - 1) / l->wgm * ly, l->splits};
  size_t loc[3] = {lx, ly, 1};
  if ((st = clgan_launch(ctx, kr, 3, g, loc, p->main_name)) != CLGAN_OK) return st;
  return split ? lds_reduce(ctx, p, alpha, beta, c, (int)ldc) : CLGAN_OK;
}
