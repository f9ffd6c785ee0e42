/* The context's tuning from the environment: read once, when a context is
 * created (clgan_ctx_create), never during a step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static clgan_status parse_backend(clgan_tuning *t) {
  const char *v = env("CLGAN_GEMM");
  if (!v || strcasecmp(v, "auto") == 0) return CLGAN_OK;
  if (strcasecmp(v, "own") == 0) t->gemm = CLGAN_GEMM_OWN;
  else if (strcasecmp(v, "clblast") == 0) t->gemm = CLGAN_GEMM_CLBLAST;
  else return clgan_fail(CLGAN_ERR_INVALID, "CLGAN_GEMM=%s: expected own, clblast or auto", v);
  return CLGAN_OK;
}

static clgan_status parse_tile(clgan_tuning *t) {
  const char *v = env("CLGAN_GEMM_TILE");
  if (!v) return CLGAN_OK;
  int tm, nv, lx, ly;
  char extra;
  if (sscanf(v, "%d %d %d %d %c", &tm, &nv, &lx, &ly, &extra) != 4 || tm < 1 || tm > 16 ||
      nv < 1 || nv > 4 || lx < 1 || ly < 1 || lx * ly > 4096)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "CLGAN_GEMM_TILE=\"%s\": expected \"TM NV LX LY\" with TM 1-16, NV 1-4 "
                      "and LX * LY at most 4096",
                      v);
  t->gemm_tile[0] = tm, t->gemm_tile[1] = nv, t->gemm_tile[2] = lx, t->gemm_tile[3] = ly;
  return CLGAN_OK;
}

/* name=ELEMENTS_WORD|rows */
static clgan_status parse_variant(const char *name, const char *elements_word,
                                  clgan_variant *out) {
  const char *v = env(name);
  if (!v || strcmp(v, "auto") == 0) return CLGAN_OK;
  if (strcmp(v, elements_word) == 0) *out = CLGAN_VARIANT_ELEMENTS;
  else if (strcmp(v, "rows") == 0) *out = CLGAN_VARIANT_ROWS;
  else
    return clgan_fail(CLGAN_ERR_INVALID, "%s=%s: expected %s, rows or auto", name, v,
                      elements_word);
  return CLGAN_OK;
}

static clgan_status parse_kernel_class(clgan_tuning *t) {
  const char *v = env("CLGAN_KERNEL_CLASS");
  if (!v || strcasecmp(v, "device") == 0) return CLGAN_OK;
  if (strcasecmp(v, "cpu") == 0) t->kernel_class = CLGAN_KERNEL_CLASS_CPU;
  else if (strcasecmp(v, "gpu") == 0) t->kernel_class = CLGAN_KERNEL_CLASS_GPU;
  else return clgan_fail(CLGAN_ERR_INVALID, "CLGAN_KERNEL_CLASS=%s: expected cpu, gpu or device", v);
  return CLGAN_OK;
}

static void cache_location(clgan_tuning *t) {
  const char *off = env("CLGAN_CACHE");
  if (off && (strcmp(off, "0") == 0 || strcmp(off, "off") == 0)) t->cache_off = 1;
  const char *dir = env("CLGAN_CACHE_DIR"), *xdg = env("XDG_CACHE_HOME"), *home = env("HOME");
  if (dir)
    snprintf(t->cache_dir, sizeof t->cache_dir, "%s", dir);
  else if (xdg)
    snprintf(t->cache_dir, sizeof t->cache_dir, "%s/clgan", xdg);
  else if (home)
    snprintf(t->cache_dir, sizeof t->cache_dir, "%s/.cache/clgan", home);
}

const char *clgan_tune_mode_name(clgan_tune_mode mode) {
  switch (mode) {
    case CLGAN_TUNE_CACHED: return "cached";
    case CLGAN_TUNE_ON: return "on";
    case CLGAN_TUNE_RETUNE: return "retune";
    case CLGAN_TUNE_OFF: return "off";
    default: return "unknown";
  }
}

/* CLGAN_TUNE, CLGAN_TUNE_BUDGET and CLGAN_TUNE_DIR. */
static clgan_status parse_tune(clgan_tuning *t) {
  const char *v = env("CLGAN_TUNE");
  if (v) {
    int i = 0;
    while (i <= CLGAN_TUNE_OFF && strcasecmp(v, clgan_tune_mode_name((clgan_tune_mode)i)) != 0) i++;
    if (strcmp(v, "0") == 0) i = CLGAN_TUNE_OFF;
    if (strcmp(v, "1") == 0) i = CLGAN_TUNE_ON;
    if (i > CLGAN_TUNE_OFF)
      return clgan_fail(CLGAN_ERR_INVALID, "CLGAN_TUNE=%s: expected cached, on, retune or off", v);
    t->tune = (clgan_tune_mode)i;
  }
  const char *b = env("CLGAN_TUNE_BUDGET");
  if (b) {
    char *end;
    double s = strtod(b, &end);
    if (end == b || *end || !(s > 0) || s > 86400)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "CLGAN_TUNE_BUDGET=%s: expected seconds, more than 0 and at most 86400", b);
    t->tune_budget_s = s;
  }
  const char *d = env("CLGAN_TUNE_DIR");
  if (d) snprintf(t->tune_dir, sizeof t->tune_dir, "%s", d);
  return CLGAN_OK;
}

clgan_status clgan_tuning_from_env(clgan_tuning *t) {
  memset(t, 0, sizeof *t);
  clgan_status st = parse_backend(t);
  if (st == CLGAN_OK) st = parse_tile(t);
  if (st == CLGAN_OK) st = parse_variant("CLGAN_IM2COL", "elements", &t->im2col);
  if (st == CLGAN_OK) st = parse_variant("CLGAN_COL2IM", "pixels", &t->col2im);
  const char *fi = env("CLGAN_CONV_FROM_IMAGE");
  if (st == CLGAN_OK && fi && strcmp(fi, "0") == 0) t->conv_from_image = -1;
  const char *pc = env("CLGAN_PADDED_COPIES");
  if (st == CLGAN_OK && pc && strcmp(pc, "0") == 0) t->padded_copies = -1;
  const char *wg = env("CLGAN_WINOGRAD");
  if (st == CLGAN_OK && wg && strcmp(wg, "1") == 0) t->winograd = 1;
  if (st == CLGAN_OK && wg && strcmp(wg, "0") == 0) t->winograd = -1;
  const char *kd = env("CLGAN_KERNEL_DIR");
  if (st == CLGAN_OK && kd) snprintf(t->kernel_dir, sizeof t->kernel_dir, "%s", kd);
  if (st == CLGAN_OK) st = parse_tune(t);
  if (st == CLGAN_OK) st = parse_kernel_class(t);
  if (st == CLGAN_OK) cache_location(t);
  return st;
}

const clgan_tuning *clgan_ctx_tuning(const clgan_ctx *ctx) { return &ctx->tuning; }

int clgan_ctx_cpu_paths(const clgan_ctx *ctx) {
  switch (ctx->tuning.kernel_class) {
    case CLGAN_KERNEL_CLASS_CPU: return 1;
    case CLGAN_KERNEL_CLASS_GPU: return 0;
    default: return ctx->dev.is_cpu;
  }
}

int clgan_ctx_gpu_paths(const clgan_ctx *ctx) {
  switch (ctx->tuning.kernel_class) {
    case CLGAN_KERNEL_CLASS_CPU: return 0;
    case CLGAN_KERNEL_CLASS_GPU: return 1;
    default: return ctx->dev.is_gpu;
  }
}

void clgan_ctx_cache_key(const clgan_ctx *ctx, char *buf, size_t cap) {
  char dev[600];
  clgan_device_key(&ctx->dev, dev, sizeof dev);
  static const char *const suffix[] = {"", "|cpu kernels", "|gpu kernels"};
  int c = (int)ctx->tuning.kernel_class;
  snprintf(buf, cap, "%s%s", dev, c >= 0 && c <= 2 ? suffix[c] : "");
}

clgan_status clgan_ctx_set_tuning(clgan_ctx *ctx, const clgan_tuning *t) {
  if (ctx->frozen)
    return clgan_fail(CLGAN_ERR_FROZEN, "the tuning of a planned context cannot change");
  ctx->tuning = *t;
  ctx->gemm_chosen[0] = ctx->gemm_chosen[1] = t->gemm;
  ctx->gemm_clblast_slowdown[0] = ctx->gemm_clblast_slowdown[1] = 0;
  return CLGAN_OK;
}
