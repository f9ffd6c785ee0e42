/* Differentiable augmentation (cl/augment.cl): DiffAugment's colour,
 * translation and cutout with ADA's per-op probability, forward and
 * backward, as a planned op; the host twin of the device's Philox and draw. */
#include "clgan/augment.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

/* The draw's loops and the kernels take op i as bit 1 << i. */
_Static_assert(CLGAN_AUG_OP_BRIGHTNESS == 1 << 0 && CLGAN_AUG_OP_SATURATION == 1 << 1 &&
                   CLGAN_AUG_OP_CONTRAST == 1 << 2 && CLGAN_AUG_OP_TRANSLATION == 1 << 3 &&
                   CLGAN_AUG_OP_CUTOUT == 1 << (CLGAN_AUG_OPS - 1),
               "augmentation op bits out of order");
_Static_assert(CLGAN_AUG_ALL == (CLGAN_AUG_COLOR | CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT),
               "CLGAN_AUG_ALL is not every policy group");
_Static_assert(CLGAN_AUG_P_GRAD_MEAN < CLGAN_AUG_STRIDE, "the record overflows its stride");

/* ---- host Philox and parameter draw (mirror of cl/augment.cl) ---------- */

void clgan_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    if (r) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static float u24(uint32_t r) { return (float)(r >> 8) * 0x1p-24f; }
static uint32_t mulhi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }

void clgan_augment_params_host(unsigned policy, float p, uint64_t seed, uint64_t counter,
                               int image, int h, int w, float out[CLGAN_AUG_STRIDE]) {
  for (int i = 0; i < CLGAN_AUG_STRIDE; i++) out[i] = 0.0f;
  out[CLGAN_AUG_P_SATURATION] = 1.0f;
  out[CLGAN_AUG_P_CONTRAST] = 1.0f;
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  unsigned flags = 0;
  for (uint32_t op = 0; op < CLGAN_AUG_OPS; op++) {
    unsigned bit = 1u << op;
    if (!(policy & CLGAN_AUG_GROUP_OF(bit))) continue;
    const uint32_t ctr[4] = {(uint32_t)image, op, (uint32_t)counter, (uint32_t)(counter >> 32)};
    uint32_t r[4];
    clgan_philox4x32_10(ctr, key, r);
    if (!(u24(r[0]) < p)) continue;
    flags |= bit;
    if (bit == CLGAN_AUG_OP_BRIGHTNESS) {
      out[CLGAN_AUG_P_BRIGHTNESS] = u24(r[1]) - 0.5f;
    } else if (bit == CLGAN_AUG_OP_SATURATION) {
      out[CLGAN_AUG_P_SATURATION] = (float)(r[1] >> 8) * 0x1p-23f;
    } else if (bit == CLGAN_AUG_OP_CONTRAST) {
      out[CLGAN_AUG_P_CONTRAST] = 0.5f + (float)(r[1] >> 9) * 0x1p-23f;
    } else if (bit == CLGAN_AUG_OP_TRANSLATION) {
      int sh = (h + 4) / 8, sw = (w + 4) / 8;
      out[CLGAN_AUG_P_SHIFT_H] = (float)((int)mulhi(r[1], (uint32_t)(2 * sh + 1)) - sh);
      out[CLGAN_AUG_P_SHIFT_W] = (float)((int)mulhi(r[2], (uint32_t)(2 * sw + 1)) - sw);
    } else {
      int ch = (h + 1) / 2, cw = (w + 1) / 2;
      out[CLGAN_AUG_P_CUT_H] = (float)mulhi(r[1], (uint32_t)(h + 1 - ch % 2));
      out[CLGAN_AUG_P_CUT_W] = (float)mulhi(r[2], (uint32_t)(w + 1 - cw % 2));
    }
  }
  out[CLGAN_AUG_P_FLAGS] = (float)flags;
}

/* The policy's words, bit b of the policy = group_names[b] ("colour" is
 * also read as color). */
static const char *const group_names[] = {"color", "translation", "cutout"};

static unsigned policy_word(const char *s, size_t len) {
  for (unsigned b = 0; b < sizeof group_names / sizeof *group_names; b++)
    if (len == strlen(group_names[b]) && strncmp(s, group_names[b], len) == 0) return 1u << b;
  if (len == 6 && strncmp(s, "colour", 6) == 0) return CLGAN_AUG_COLOR;
  return 0;
}

clgan_status clgan_augment_parse_policy(const char *text, unsigned *policy) {
  *policy = 0;
  if (!text) return CLGAN_OK;
  const char *s = text;
  while (*s) {
    while (*s == ',' || isspace((unsigned char)*s)) s++;
    if (!*s) break;
    size_t len = 0;
    while (s[len] && s[len] != ',' && !isspace((unsigned char)s[len])) len++;
    unsigned bit = policy_word(s, len);
    if (bit)
      *policy |= bit;
    else if (!(len == 4 && strncmp(s, "none", 4) == 0)) {
      *policy = 0;
      return clgan_fail(CLGAN_ERR_INVALID,
                        "augment: unknown policy '%.*s' in \"%s\" (use color, translation, "
                        "cutout, comma-separated)",
                        (int)len, s, text);
    }
    s += len;
  }
  return CLGAN_OK;
}

void clgan_augment_format_policy(unsigned policy, char *buf, size_t cap) {
  size_t used = 0;
  if (cap) buf[0] = 0;
  for (unsigned b = 0; b < sizeof group_names / sizeof *group_names; b++)
    if (policy & (1u << b) && used < cap)
      used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? "," : "", group_names[b]);
  if (!used && cap) snprintf(buf, cap, "none");
}

/* ---- device ops ---------------------------------------------------------- */

size_t clgan_augment_work_floats(int c, int n, int h, int w) {
  (void)c, (void)h, (void)w;
  return n > 0 ? (size_t)n * CLGAN_AUG_STRIDE : 0;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

static int overlap(clgan_buf a, size_t na, clgan_buf b, size_t nb) {
  return a.mem == b.mem && a.off < b.off + nb && b.off < a.off + na;
}

/* The buffers of a launch of plan pl: a, b hold the images (in, out). */
static clgan_status check_bufs(const char *what, const clgan_augment_plan *pl, clgan_buf work,
                               clgan_buf a, clgan_buf b) {
  if (!pl || !pl->params) return clgan_fail(CLGAN_ERR_INVALID, "%s: no plan", what);
  if (!work.mem || !a.mem || !b.mem) return clgan_fail(CLGAN_ERR_INVALID, "%s: null buffer", what);
  size_t total = (size_t)pl->c * pl->n * pl->h * pl->w, wn = (size_t)pl->n * CLGAN_AUG_STRIDE;
  if (!fits_uint(a, total) || !fits_uint(b, total) || !fits_uint(work, wn))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: buffers exceed 2^32 float addressing", what);
  if (overlap(a, total, b, total))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: input and output overlap (not in place)", what);
  if (overlap(work, wn, a, total) || overlap(work, wn, b, total))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: workspace overlaps the images", what);
  return CLGAN_OK;
}

/* The kernels, built for this channel count: -DAUG_C=c unrolls the channel
 * loops for c <= 4 (PoCL then vectorises across work-items); larger c use
 * the runtime-loop build. */
static clgan_status get_kernel(clgan_ctx *ctx, int c, const char *name, cl_kernel *k) {
  char opts[32];
  snprintf(opts, sizeof opts, "-DAUG_C=%d", c <= 4 ? c : 0);
  return clgan_kernel_get(ctx, "augment", opts, name, k);
}

/* The reductions' work-group: tuning.augment_local (a power of two <= the
 * lanes, accepted by both kernels) or the largest the device allows. The
 * sums are the same bits whatever it is. */
static clgan_status reduce_local(clgan_ctx *ctx, const clgan_augment_plan *pl, size_t *out) {
  size_t want = ctx->tuning.augment_local;
  size_t cap = clgan_pow2_local(ctx, pl->params, CLGAN_AUG_LANES);
  if (pl->reduce) {
    size_t r = clgan_pow2_local(ctx, pl->reduce, CLGAN_AUG_LANES);
    cap = r < cap ? r : cap;
  }
  if (!want) {
    *out = cap;
    return CLGAN_OK;
  }
  if ((want & (want - 1)) || want > cap)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "augment: work-group size %zu (tuning) is not a power of two <= %zu", want,
                      cap);
  *out = want;
  return CLGAN_OK;
}

clgan_status clgan_augment_plan_make(clgan_ctx *ctx, unsigned policy, int c, int n, int h, int w,
                                     clgan_augment_plan *out) {
  memset(out, 0, sizeof *out);
  if (policy & ~(unsigned)CLGAN_AUG_ALL)
    return clgan_fail(CLGAN_ERR_INVALID, "augment: unknown policy bits 0x%x", policy);
  if (c < 1 || n < 1 || h < 1 || w < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "augment: bad shape c=%d n=%d h=%d w=%d", c, n, h, w);
  size_t cn = (size_t)c * (size_t)n;
  if (cn > UINT_MAX / (size_t)h || cn * (size_t)h > UINT_MAX / (size_t)w)
    return clgan_fail(CLGAN_ERR_INVALID, "augment: %dx%dx%dx%d exceeds 2^32 floats", c, n, h, w);
  clgan_augment_plan pl = {.policy = policy, .c = c, .n = n, .h = h, .w = w};
  clgan_status st;
  if ((st = get_kernel(ctx, c, "augment_params", &pl.params)) != CLGAN_OK ||
      (st = get_kernel(ctx, c, "augment_forward", &pl.forward)) != CLGAN_OK ||
      (st = get_kernel(ctx, c, "augment_backward_gather", &pl.gather)) != CLGAN_OK)
    return st;
  if ((policy & CLGAN_AUG_COLOR) &&
      ((st = get_kernel(ctx, c, "augment_backward_reduce", &pl.reduce)) != CLGAN_OK ||
       (st = get_kernel(ctx, c, "augment_backward_color", &pl.color)) != CLGAN_OK))
    return st;
  if ((st = reduce_local(ctx, &pl, &pl.local)) != CLGAN_OK) return st;
  /* computed here, once, so that every device gets the same bits (no
   * division on the device) */
  pl.inv_c = (float)(1.0 / c);
  pl.inv_chw = (float)(1.0 / ((double)c * h * w));
  *out = pl;
  return CLGAN_OK;
}

/* One work-item per pixel (w, h, n) for the per-pixel kernels. */
static clgan_status launch_pixels(clgan_ctx *ctx, const clgan_augment_plan *pl, cl_kernel k,
                                  const char *what) {
  size_t g[3] = {(size_t)pl->w, (size_t)pl->h, (size_t)pl->n};
  return clgan_launch(ctx, k, 3, g, NULL, what);
}

/* One work-group per image for the per-image reductions. */
static clgan_status launch_images(clgan_ctx *ctx, const clgan_augment_plan *pl, cl_kernel k,
                                  const char *what) {
  size_t local = pl->local, global = local * (size_t)pl->n;
  return clgan_launch(ctx, k, 1, &global, &local, what);
}

/* The shape arguments every kernel ends with: c, n, h, w, inv_c, inv_chw. */
static clgan_status set_shape_args(cl_kernel k, cl_uint first, const clgan_augment_plan *pl) {
  cl_uint v[4] = {(cl_uint)pl->c, (cl_uint)pl->n, (cl_uint)pl->h, (cl_uint)pl->w};
  for (cl_uint i = 0; i < 4; i++) {
    clgan_status st = CLGAN_CL(clSetKernelArg(k, first + i, sizeof v[i], &v[i]));
    if (st != CLGAN_OK) return st;
  }
  clgan_status st = CLGAN_CL(clSetKernelArg(k, first + 4, sizeof pl->inv_c, &pl->inv_c));
  if (st != CLGAN_OK) return st;
  return CLGAN_CL(clSetKernelArg(k, first + 5, sizeof pl->inv_chw, &pl->inv_chw));
}

clgan_status clgan_augment_forward(clgan_ctx *ctx, const clgan_augment_plan *pl, uint64_t seed,
                                   uint64_t counter, clgan_buf p, clgan_buf x, clgan_buf y,
                                   clgan_buf work) {
  clgan_status st = check_bufs("augment_forward", pl, work, x, y);
  if (st != CLGAN_OK) return st;
  if (!p.mem || !fits_uint(p, 1))
    return clgan_fail(CLGAN_ERR_INVALID, "augment_forward: no probability buffer");
  cl_uint xo = (cl_uint)x.off, yo = (cl_uint)y.off, wo = (cl_uint)work.off, po = (cl_uint)p.off;
  cl_uint pol = pl->policy, s0 = (cl_uint)seed, s1 = (cl_uint)(seed >> 32);
  cl_uint c0 = (cl_uint)counter, c1 = (cl_uint)(counter >> 32);
  st = clgan_set_args(pl->params, 11, sizeof(cl_mem), &x.mem, sizeof xo, &xo, sizeof(cl_mem),
                      &work.mem, sizeof wo, &wo, sizeof(cl_mem), &p.mem, sizeof po, &po,
                      sizeof pol, &pol, sizeof s0, &s0, sizeof s1, &s1, sizeof c0, &c0,
                      sizeof c1, &c1);
  if (st == CLGAN_OK) st = set_shape_args(pl->params, 11, pl);
  cl_uint image0 = (cl_uint)pl->first_image;
  if (st == CLGAN_OK) st = CLGAN_CL(clSetKernelArg(pl->params, 17, sizeof image0, &image0));
  if (st == CLGAN_OK) st = launch_images(ctx, pl, pl->params, "augment_params");
  if (st != CLGAN_OK) return st;
  st = clgan_set_args(pl->forward, 6, sizeof(cl_mem), &x.mem, sizeof xo, &xo, sizeof(cl_mem),
                      &y.mem, sizeof yo, &yo, sizeof(cl_mem), &work.mem, sizeof wo, &wo);
  if (st == CLGAN_OK) st = set_shape_args(pl->forward, 6, pl);
  if (st != CLGAN_OK) return st;
  return launch_pixels(ctx, pl, pl->forward, "augment_forward");
}

clgan_status clgan_augment_backward(clgan_ctx *ctx, const clgan_augment_plan *pl, clgan_buf work,
                                    clgan_buf dy, clgan_buf dx) {
  clgan_status st = check_bufs("augment_backward", pl, work, dy, dx);
  if (st != CLGAN_OK) return st;
  cl_uint dyo = (cl_uint)dy.off, dxo = (cl_uint)dx.off, wo = (cl_uint)work.off;
  /* dx = mask and inverse shift of dy; then, with colour, contrast's mean of
   * that and the colour adjoints in place on dx */
  st = clgan_set_args(pl->gather, 6, sizeof(cl_mem), &dy.mem, sizeof dyo, &dyo, sizeof(cl_mem),
                      &dx.mem, sizeof dxo, &dxo, sizeof(cl_mem), &work.mem, sizeof wo, &wo);
  if (st == CLGAN_OK) st = set_shape_args(pl->gather, 6, pl);
  if (st == CLGAN_OK) st = launch_pixels(ctx, pl, pl->gather, "augment_backward_gather");
  if (st != CLGAN_OK || !(pl->policy & CLGAN_AUG_COLOR)) return st;
  cl_kernel kr = pl->reduce, kc = pl->color;
  st = clgan_set_args(kr, 4, sizeof(cl_mem), &dx.mem, sizeof dxo, &dxo, sizeof(cl_mem), &work.mem,
                      sizeof wo, &wo);
  if (st == CLGAN_OK) st = set_shape_args(kr, 4, pl);
  if (st == CLGAN_OK) st = launch_images(ctx, pl, kr, "augment_backward_reduce");
  if (st != CLGAN_OK) return st;
  st = clgan_set_args(kc, 4, sizeof(cl_mem), &dx.mem, sizeof dxo, &dxo, sizeof(cl_mem), &work.mem,
                      sizeof wo, &wo);
  if (st == CLGAN_OK) st = set_shape_args(kc, 4, pl);
  if (st != CLGAN_OK) return st;
  return launch_pixels(ctx, pl, kc, "augment_backward_color");
}

clgan_status clgan_augment_read_params(clgan_ctx *ctx, int n, clgan_buf work, float *out) {
  if (n < 1 || !work.mem || !out)
    return clgan_fail(CLGAN_ERR_INVALID, "augment_read_params: bad arguments");
  return clgan_buf_read(ctx, work, out, (size_t)n * CLGAN_AUG_STRIDE);
}
