/* Differentiable augmentation (cl/augment.cl): DiffAugment's colour,
 * translation and cutout with ADA's per-op probability, forward and
 * backward; ADA's sign statistic; the host twin of the device's Philox. */
#include "clgan/augment.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

/* Tests set this to force the local size of the per-image reductions (a
 * power of two <= 64); 0 picks it from the device. */
size_t clgan_augment_local_override = 0;

#define AUG_LANES 64

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
  for (uint32_t op = 0; op < 5; op++) {
    unsigned group = op < 3 ? CLGAN_AUG_COLOR : op == 3 ? CLGAN_AUG_TRANSLATION : CLGAN_AUG_CUTOUT;
    if (!(policy & group)) continue;
    const uint32_t ctr[4] = {(uint32_t)image, op, (uint32_t)counter, (uint32_t)(counter >> 32)};
    uint32_t r[4];
    clgan_philox4x32_10(ctr, key, r);
    if (!(u24(r[0]) < p)) continue;
    flags |= 1u << op;
    if (op == 0) {
      out[CLGAN_AUG_P_BRIGHTNESS] = u24(r[1]) - 0.5f;
    } else if (op == 1) {
      out[CLGAN_AUG_P_SATURATION] = (float)(r[1] >> 8) * 0x1p-23f;
    } else if (op == 2) {
      out[CLGAN_AUG_P_CONTRAST] = 0.5f + (float)(r[1] >> 9) * 0x1p-23f;
    } else if (op == 3) {
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

clgan_status clgan_augment_parse_policy(const char *text, unsigned *policy) {
  *policy = 0;
  if (!text) return CLGAN_OK;
  const char *s = text;
  while (*s) {
    while (*s == ',' || isspace((unsigned char)*s)) s++;
    if (!*s) break;
    size_t len = 0;
    while (s[len] && s[len] != ',' && !isspace((unsigned char)s[len])) len++;
    if (len == 5 && strncmp(s, "color", 5) == 0)
      *policy |= CLGAN_AUG_COLOR;
    else if (len == 6 && strncmp(s, "colour", 6) == 0)
      *policy |= CLGAN_AUG_COLOR;
    else if (len == 11 && strncmp(s, "translation", 11) == 0)
      *policy |= CLGAN_AUG_TRANSLATION;
    else if (len == 6 && strncmp(s, "cutout", 6) == 0)
      *policy |= CLGAN_AUG_CUTOUT;
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

/* ---- device ops ---------------------------------------------------------- */

size_t clgan_augment_work_floats(int c, int n, int h, int w) {
  (void)c, (void)h, (void)w;
  return n > 0 ? (size_t)n * CLGAN_AUG_STRIDE : 0;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

static int overlap(clgan_buf a, clgan_buf b, size_t count) {
  return a.mem == b.mem && a.off < b.off + count && b.off < a.off + count;
}

static clgan_status check_shape(const char *what, int c, int n, int h, int w, clgan_buf work,
                                clgan_buf a, clgan_buf b, size_t *count) {
  if (c < 1 || n < 1 || h < 1 || w < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: bad shape c=%d n=%d h=%d w=%d", what, c, n, h, w);
  if (!work.mem || !a.mem || !b.mem) return clgan_fail(CLGAN_ERR_INVALID, "%s: null buffer", what);
  size_t total = (size_t)c * (size_t)n;
  if (total > UINT_MAX / (size_t)h || total * (size_t)h > UINT_MAX / (size_t)w)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %dx%dx%dx%d exceeds 2^32 floats", what, c, n, h, w);
  total *= (size_t)h * (size_t)w;
  if (!fits_uint(a, total) || !fits_uint(b, total) ||
      !fits_uint(work, (size_t)n * CLGAN_AUG_STRIDE))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: buffers exceed 2^32 float addressing", what);
  if (overlap(a, b, total))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: input and output overlap (not in place)", what);
  if (work.mem == a.mem || work.mem == b.mem) {
    size_t wn = (size_t)n * CLGAN_AUG_STRIDE;
    if ((work.mem == a.mem && work.off < a.off + total && a.off < work.off + wn) ||
        (work.mem == b.mem && work.off < b.off + total && b.off < work.off + wn))
      return clgan_fail(CLGAN_ERR_INVALID, "%s: workspace overlaps the images", what);
  }
  *count = total;
  return CLGAN_OK;
}

/* A power of two <= AUG_LANES that the device and kernel accept. */
static size_t reduce_local(clgan_ctx *ctx, cl_kernel k) {
  if (clgan_augment_local_override) return clgan_augment_local_override;
  return clgan_pow2_local(ctx, k, AUG_LANES);
}

/* The kernels, built for this channel count: -DAUG_C=c unrolls the channel
 * loops for c <= 4 (PoCL then vectorises across work-items); larger c use
 * the runtime-loop build. */
enum { K_PARAMS, K_FORWARD, K_GATHER, K_REDUCE, K_COLOR, K_COUNT };
static const char *const kernel_names[K_COUNT] = {
    "augment_params", "augment_forward", "augment_backward_gather", "augment_backward_reduce",
    "augment_backward_color"};

static clgan_status get_kernel(clgan_ctx *ctx, int c, int which, cl_kernel *k) {
  char opts[32];
  snprintf(opts, sizeof opts, "-DAUG_C=%d", c <= 4 ? c : 0);
  return clgan_kernel_get(ctx, "augment", opts, kernel_names[which], k);
}

clgan_status clgan_augment_reserve(clgan_ctx *ctx, int c) {
  if (c < 1) return clgan_fail(CLGAN_ERR_INVALID, "augment_reserve: %d channels", c);
  cl_kernel k;
  for (int i = 0; i < K_COUNT; i++) {
    clgan_status st = get_kernel(ctx, c, i, &k);
    if (st != CLGAN_OK) return st;
  }
  return clgan_kernel_get(ctx, "augment", NULL, "sign_mean", &k);
}

/* The kernels' means multiply by these (computed here, once, so that every
 * device gets the same bits; no division on the device). */
static void reciprocals(int c, int h, int w, float *inv_c, float *inv_chw) {
  *inv_c = (float)(1.0 / c);
  *inv_chw = (float)(1.0 / ((double)c * h * w));
}

/* One work-item per pixel (w, h, n) for the per-pixel kernels. */
static clgan_status launch_pixels(clgan_ctx *ctx, cl_kernel k, int n, int h, int w,
                                  const char *what) {
  size_t g[3] = {(size_t)w, (size_t)h, (size_t)n};
  return clgan_launch(ctx, k, 3, g, NULL, what);
}

clgan_status clgan_augment_forward(clgan_ctx *ctx, unsigned policy, float p, uint64_t seed,
                                   uint64_t counter, int c, int n, int h, int w, clgan_buf x,
                                   clgan_buf y, clgan_buf work) {
  size_t count;
  clgan_status st = check_shape("augment_forward", c, n, h, w, work, x, y, &count);
  if (st != CLGAN_OK) return st;
  if (policy & ~(unsigned)CLGAN_AUG_ALL)
    return clgan_fail(CLGAN_ERR_INVALID, "augment_forward: unknown policy bits 0x%x", policy);
  if (!(p >= 0.0f && p <= 1.0f))
    return clgan_fail(CLGAN_ERR_INVALID, "augment_forward: probability %g not in [0, 1]",
                      (double)p);
  cl_kernel kp, kf;
  if ((st = get_kernel(ctx, c, K_PARAMS, &kp)) != CLGAN_OK ||
      (st = get_kernel(ctx, c, K_FORWARD, &kf)) != CLGAN_OK)
    return st;
  cl_uint xo = (cl_uint)x.off, yo = (cl_uint)y.off, wo = (cl_uint)work.off;
  cl_uint uc = (cl_uint)c, un = (cl_uint)n, uh = (cl_uint)h, uw = (cl_uint)w, pol = policy;
  cl_uint s0 = (cl_uint)seed, s1 = (cl_uint)(seed >> 32);
  cl_uint c0 = (cl_uint)counter, c1 = (cl_uint)(counter >> 32);
  float ic, ichw;
  reciprocals(c, h, w, &ic, &ichw);
  st = clgan_set_args(kp, 16, sizeof(cl_mem), &x.mem, sizeof xo, &xo, sizeof(cl_mem), &work.mem,
                      sizeof wo, &wo, sizeof uc, &uc, sizeof un, &un, sizeof uh, &uh, sizeof uw,
                      &uw, sizeof pol, &pol, sizeof p, &p, sizeof s0, &s0, sizeof s1, &s1,
                      sizeof c0, &c0, sizeof c1, &c1, sizeof ic, &ic, sizeof ichw, &ichw);
  if (st != CLGAN_OK) return st;
  size_t local = reduce_local(ctx, kp), global = local * (size_t)n;
  if ((st = clgan_launch(ctx, kp, 1, &global, &local, "augment_params")) != CLGAN_OK) return st;
  st = clgan_set_args(kf, 12, sizeof(cl_mem), &x.mem, sizeof xo, &xo, sizeof(cl_mem), &y.mem,
                      sizeof yo, &yo, sizeof(cl_mem), &work.mem, sizeof wo, &wo, sizeof uc, &uc,
                      sizeof un, &un, sizeof uh, &uh, sizeof uw, &uw, sizeof ic, &ic,
                      sizeof ichw, &ichw);
  if (st != CLGAN_OK) return st;
  return launch_pixels(ctx, kf, n, h, w, "augment_forward");
}

clgan_status clgan_augment_backward(clgan_ctx *ctx, unsigned policy, int c, int n, int h, int w,
                                    clgan_buf work, clgan_buf dy, clgan_buf dx) {
  size_t count;
  clgan_status st = check_shape("augment_backward", c, n, h, w, work, dy, dx, &count);
  if (st != CLGAN_OK) return st;
  if (policy & ~(unsigned)CLGAN_AUG_ALL)
    return clgan_fail(CLGAN_ERR_INVALID, "augment_backward: unknown policy bits 0x%x", policy);
  cl_uint dyo = (cl_uint)dy.off, dxo = (cl_uint)dx.off, wo = (cl_uint)work.off;
  cl_uint uc = (cl_uint)c, un = (cl_uint)n, uh = (cl_uint)h, uw = (cl_uint)w;
  float ic, ichw;
  reciprocals(c, h, w, &ic, &ichw);
  /* dx = mask and inverse shift of dy; then, with colour, contrast's mean of
   * that and the colour adjoints in place on dx */
  cl_kernel kg;
  if ((st = get_kernel(ctx, c, K_GATHER, &kg)) != CLGAN_OK) return st;
  st = clgan_set_args(kg, 12, sizeof(cl_mem), &dy.mem, sizeof dyo, &dyo, sizeof(cl_mem), &dx.mem,
                      sizeof dxo, &dxo, sizeof(cl_mem), &work.mem, sizeof wo, &wo, sizeof uc,
                      &uc, sizeof un, &un, sizeof uh, &uh, sizeof uw, &uw, sizeof ic, &ic,
                      sizeof ichw, &ichw);
  if (st != CLGAN_OK) return st;
  if ((st = launch_pixels(ctx, kg, n, h, w, "augment_backward_gather")) != CLGAN_OK) return st;
  if (!(policy & CLGAN_AUG_COLOR)) return CLGAN_OK;
  cl_kernel kr, kc;
  if ((st = get_kernel(ctx, c, K_REDUCE, &kr)) != CLGAN_OK ||
      (st = get_kernel(ctx, c, K_COLOR, &kc)) != CLGAN_OK)
    return st;
  st = clgan_set_args(kr, 10, sizeof(cl_mem), &dx.mem, sizeof dxo, &dxo, sizeof(cl_mem),
                      &work.mem, sizeof wo, &wo, sizeof uc, &uc, sizeof un, &un, sizeof uh, &uh,
                      sizeof uw, &uw, sizeof ic, &ic, sizeof ichw, &ichw);
  if (st != CLGAN_OK) return st;
  size_t local = reduce_local(ctx, kr), global = local * (size_t)n;
  if ((st = clgan_launch(ctx, kr, 1, &global, &local, "augment_backward_reduce")) != CLGAN_OK)
    return st;
  st = clgan_set_args(kc, 10, sizeof(cl_mem), &dx.mem, sizeof dxo, &dxo, sizeof(cl_mem),
                      &work.mem, sizeof wo, &wo, sizeof uc, &uc, sizeof un, &un, sizeof uh, &uh,
                      sizeof uw, &uw, sizeof ic, &ic, sizeof ichw, &ichw);
  if (st != CLGAN_OK) return st;
  return launch_pixels(ctx, kc, n, h, w, "augment_backward_color");
}

clgan_status clgan_augment_read_params(clgan_ctx *ctx, int n, clgan_buf work, float *out) {
  if (n < 1 || !work.mem || !out)
    return clgan_fail(CLGAN_ERR_INVALID, "augment_read_params: bad arguments");
  return clgan_buf_read(ctx, work, out, (size_t)n * CLGAN_AUG_STRIDE);
}

clgan_status clgan_sign_mean(clgan_ctx *ctx, size_t count, clgan_buf x, clgan_buf out) {
  if (count == 0) return clgan_fail(CLGAN_ERR_INVALID, "sign_mean: no values");
  if (!x.mem || !out.mem) return clgan_fail(CLGAN_ERR_INVALID, "sign_mean: null buffer");
  if (!fits_uint(x, count) || !fits_uint(out, 1) || count > INT_MAX)
    return clgan_fail(CLGAN_ERR_INVALID, "sign_mean: %zu floats exceed the addressing", count);
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "augment", NULL, "sign_mean", &k);
  if (st != CLGAN_OK) return st;
  size_t need = 1;
  while (need < count && need < 256) need *= 2;
  size_t local = clgan_pow2_local(ctx, k, need);
  cl_uint xo = (cl_uint)x.off, n = (cl_uint)count, oo = (cl_uint)out.off;
  st = clgan_set_args(k, 5, sizeof(cl_mem), &x.mem, sizeof xo, &xo, sizeof n, &n, sizeof(cl_mem),
                      &out.mem, sizeof oo, &oo);
  if (st != CLGAN_OK) return st;
  return clgan_launch(ctx, k, 1, &local, &local, "sign_mean");
}
