/* The conv tuner's winners on disk, its names for variants and its report.
 *
 * An entry is a runtime cache entry (src/runtime/cache.c: the full key
 * stored and compared, the payload hashed, written to a temporary file and
 * renamed) of kind "tune" in the tuning's tune_dir, else the cache
 * directory beside the kernel binaries. Its key names the device, platform
 * and driver versions, a hash of the conv kernels' sources (gemm, im2col,
 * col2im), the shape and the tuning values the engine's defaults depend on,
 * so a new driver, a changed kernel or another shape is tuned afresh; its
 * version (CONV_TUNE_KEY_VERSION) changes with the engine's default
 * choices, the variant every candidate must beat. The
 * payload is a versioned record of the three products' variants; anything
 * that does not parse, or holds a value out of range, is ignored (the shape
 * is tuned again). Version 2 added the adjoint's mapping (the direct
 * kernel's parameters): a version 1 entry fails the magic and the size;
 * version 4 the sub-pixel adjoint. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_tune.h"
#include "ops/gemm_lds.h"
#include "runtime/internal.h"

/* Version 3 added the LDS backend's wgk and vw and the direct adjoint's
 * parameters, version 4 the sub-pixel adjoint (in version 3's reserved
 * word): an entry of an earlier version (another magic) is ignored and its
 * shape tuned again. */
#define TUNE_PAYLOAD_MAGIC "CLGTUNE6"
/* v3: the own GEMM's CPU default keeps a group's B panels within 1 MiB
 * (gemm_own.c), so winners measured against the older default are tuned
 * again; v4: the sub-pixel adjoint is the CPU default on k 4 s 2 p 1; v5:
 * the whole-image kernels on 4 x 4 kernels over 4 x 4 images (conv_whole.h)
 * and the narrow-image forward (conv_narrow.h); v6: the Winograd forward
 * (conv_winograd.h), and the GEMM's default tile timed against a product's
 * kernel of its own (whole-image, narrow, Winograd), which the search had
 * taken for the default again; v7: the Winograd weight gradient and
 * backward data, with the forward the CPU default on the large k 4 s 2
 * p 1 products; v8: all three Winograd products the CPU default from
 * 2^24 multiply-adds (`gray32`'s layers); v9: the narrow-image weight
 * gradient and adjoint (conv_narrow.h) the CPU default; v10: the forward's
 * and the weight gradient's winners confirmed together (conv_tune.c,
 * confirm_pair). */
#define CONV_TUNE_KEY_VERSION "v10"

/* The payload: little-endian host integers (a foreign host's entry fails
 * the range checks or the key). */
typedef struct tune_payload {
  char magic[8];
  int32_t variant[CONV_PRODUCTS][8]; /* backend, tm, nv, lx, ly, wgk, vw, from_image */
  double winner_ms[CONV_PRODUCTS], default_ms[CONV_PRODUCTS];
  int32_t adj_direct[5]; /* wgx, wgy, rm, rn, kc; all 0: GEMM + col2im */
  int32_t adj_subpix;    /* 1: the sub-pixel adjoint with variant[CONV_ADJ]'s own tile,
                            0: GEMM + col2im, -1: the engine's choice */
  int32_t fwd_wino;      /* 1: the Winograd forward, -1: the engine's choice */
  int32_t filt_wino;     /* 1: the Winograd weight gradient, -1: the engine's choice */
  int32_t adj_wino;      /* 1: the Winograd backward data, -1: the engine's choice */
} tune_payload;

conv_variants conv_variants_default(void) {
  conv_variants cv;
  memset(&cv, 0, sizeof cv);
  for (int i = 0; i < CONV_PRODUCTS; i++) {
    cv.prod[i].backend = CLGAN_GEMM_AUTO;
    cv.from_image[i] = 1;
  }
  cv.adj_subpix = -1;
  cv.fwd_wino = -1;
  cv.filt_wino = -1;
  cv.adj_wino = -1;
  return cv;
}

void conv_tune_shape_name(const clgan_conv_shape *s, char *buf, size_t cap) {
  snprintf(buf, cap, "conv %d->%d k%d s%d p%d %dx%d->%dx%d n%d", s->cin, s->cout, s->k, s->stride,
           s->pad, s->h, s->w, s->ho, s->wo, s->n);
}

static const char *mapping_name(int from_image, int product) {
  if (product == CONV_ADJ) return "";
  return from_image ? " image" : " col";
}

void conv_tune_variant_name(const clgan_gemm_variant *v, int from_image, int product, char *buf,
                            size_t cap) {
  if (v->backend == CLGAN_GEMM_AUTO)
    snprintf(buf, cap, "default");
  else if (v->backend == CLGAN_GEMM_CLBLAST)
    snprintf(buf, cap, "clblast%s", mapping_name(0, product));
  else if (v->backend == CLGAN_GEMM_LDS) {
    char tile[48];
    gemm_lds_variant_name(v, tile, sizeof tile);
    snprintf(buf, cap, "%s%s", tile, mapping_name(from_image, product));
  } else if (v->tm == 0)
    snprintf(buf, cap, "own default-tile%s", mapping_name(from_image, product));
  else
    snprintf(buf, cap, "own %dx%d wg %dx%d%s", v->tm, 16 * v->nv, v->lx, v->ly,
             mapping_name(from_image, product));
}

static void gemm_plan_name(const clgan_gemm_plan *g, int from_image, int product, char *buf,
                           size_t cap) {
  switch (g->path) {
    case CLGAN_GEMM_PATH_NONE: snprintf(buf, cap, "none"); break;
    case CLGAN_GEMM_PATH_CLBLAST:
      snprintf(buf, cap, "clblast%s", mapping_name(0, product));
      break;
    case CLGAN_GEMM_PATH_SIMPLE: snprintf(buf, cap, "own simple%s", mapping_name(0, product)); break;
    case CLGAN_GEMM_PATH_LDS: {
      char tile[48];
      gemm_lds_plan_name(g, tile, sizeof tile);
      snprintf(buf, cap, "%s%s%s", tile, g->lds.splits > 1 ? " split-k" : "",
               mapping_name(from_image, product));
      break;
    }
    default:
      snprintf(buf, cap, "own %zux%zu wg %zux%zu%s%s", g->own.tm, g->own.tn, g->main_local[0],
               g->main_local[1], g->own.splits > 1 ? " split-k" : "",
               mapping_name(from_image, product));
  }
}

void conv_tune_plan_name(const clgan_conv_plan *p, int product, char *buf, size_t cap) {
  const cl_kernel whole[CONV_PRODUCTS] = {p->whole.forward, p->whole.adjoint, p->whole.filter};
  if (whole[product]) {
    snprintf(buf, cap, "whole-image kernel");
    return;
  }
  if ((product == CONV_FWD && p->narrow.forward) || (product == CONV_FILT && p->narrow.filter) ||
      (product == CONV_ADJ && p->narrow.adjoint)) {
    snprintf(buf, cap, "narrow-image kernel");
    return;
  }
  if (product == CONV_FWD && p->wino.tile) {
    snprintf(buf, cap, "winograd 4x4 %dx%d", p->wino.tm, 16 * p->wino.nv);
    return;
  }
  if (product == CONV_FILT && p->filt_wino.tile) {
    snprintf(buf, cap, "winograd 4x4 %dx%d", p->filt_wino.tm, 16 * p->filt_wino.nv);
    return;
  }
  if (product == CONV_FWD) gemm_plan_name(&p->fwd, p->fwd_from_image, product, buf, cap);
  else if (product == CONV_FILT) gemm_plan_name(&p->filt, p->filt_from_image, product, buf, cap);
  else if (p->adj_direct.kernel) {
    convt_direct_params d = convt_direct_plan_params(&p->adj_direct);
    convt_direct_name(&d, buf, cap);
  } else if (p->adj_wino.tile) {
    snprintf(buf, cap, "winograd 4x4 %dx%d", p->adj_wino.tm, 16 * p->adj_wino.nv);
  } else if (p->adj_subpix.tile) {
    const clgan_conv_subpix_plan *sp = &p->adj_subpix;
    snprintf(buf, cap, "subpixel %dx%d wg %zux%zu", sp->tm, 16 * sp->nv, sp->local[0],
             sp->local[1]);
  } else gemm_plan_name(&p->adj, 0, product, buf, cap);
  if (p->direct && product != CONV_ADJ) {
    size_t n = strlen(buf);
    if (n > 4 && strcmp(buf + n - 4, " col") == 0) snprintf(buf + n - 4, cap - (n - 4), " 1x1");
  }
}

void conv_tune_key(const clgan_ctx *ctx, const clgan_conv_shape *s, char *key, size_t cap) {
  char dev[600];
  clgan_ctx_cache_key(ctx, dev, sizeof dev);
  /* the programs a conv plan may build (their files, the shared ones too) */
  static const char *const programs[] = {"gemm",       "subpix",     "gemm_lds",
                                         "im2col",     "col2im",     "convt_direct",
                                         "conv_whole", "conv_narrow", "winograd"};
  uint64_t h = CLGAN_FNV_SEED;
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
    h = clgan_program_source_hash(programs[i], h);
  const clgan_tuning *t = &ctx->tuning;
  snprintf(key, cap,
           "conv tune " CONV_TUNE_KEY_VERSION
           "|%s|%016llx|n%d cin%d h%d w%d cout%d ho%d wo%d k%d s%d p%d|im2col %d col2im %d "
           "chunk %zu wino %d",
           dev, (unsigned long long)h, s->n, s->cin, s->h, s->w, s->cout, s->ho, s->wo, s->k,
           s->stride, s->pad, (int)t->im2col, (int)t->col2im, t->adjoint_chunk_floats,
           t->winograd);
}

const char *conv_tune_dir(const clgan_ctx *ctx) {
  if (ctx->tuning.tune_dir[0]) return ctx->tuning.tune_dir;
  return clgan_cache_dir(&ctx->tuning);
}

static int time_ok(double ms) { return ms >= 0 && ms < 1e9; }

int conv_tune_load(const clgan_ctx *ctx, const char *key, conv_variants *cv,
                   double winner_ms[CONV_PRODUCTS], double default_ms[CONV_PRODUCTS]) {
  void *data = NULL;
  size_t size = 0;
  if (clgan_cache_load(conv_tune_dir(ctx), "tune", key, &data, &size) != CLGAN_OK) {
    free(data);
    return 0;
  }
  tune_payload p;
  int ok = size == sizeof p;
  if (ok) memcpy(&p, data, sizeof p);
  free(data);
  ok = ok && memcmp(p.magic, TUNE_PAYLOAD_MAGIC, 8) == 0;
  conv_variants out = conv_variants_default();
  for (int i = 0; i < CONV_PRODUCTS && ok; i++) {
    const int32_t *v = p.variant[i];
    clgan_gemm_variant g = {(clgan_gemm_backend)v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    ok = (v[0] == CLGAN_GEMM_AUTO || v[0] == CLGAN_GEMM_OWN || v[0] == CLGAN_GEMM_CLBLAST ||
          v[0] == CLGAN_GEMM_LDS) &&
         clgan_gemm_variant_valid(&g) && (v[7] == 0 || v[7] == 1) &&
         !(v[7] == 1 && v[0] == CLGAN_GEMM_CLBLAST) && time_ok(p.winner_ms[i]) &&
         time_ok(p.default_ms[i]);
    out.prod[i] = g;
    out.from_image[i] = v[7];
  }
  if (ok) {
    const int32_t *d = p.adj_direct;
    out.adj_direct = (convt_direct_params){d[0], d[1], d[2], d[3], d[4]};
    out.adj_subpix = p.adj_subpix;
    out.fwd_wino = p.fwd_wino;
    out.filt_wino = p.filt_wino;
    out.adj_wino = p.adj_wino;
    int adj_be = p.variant[CONV_ADJ][0];
    ok = (p.fwd_wino == -1 || (p.fwd_wino == 1 && p.variant[CONV_FWD][0] == CLGAN_GEMM_AUTO)) &&
         (p.filt_wino == -1 ||
          (p.filt_wino == 1 && p.variant[CONV_FILT][0] == CLGAN_GEMM_AUTO)) &&
         (p.adj_wino == -1 || (p.adj_wino == 1 && adj_be == CLGAN_GEMM_AUTO &&
                               p.adj_subpix == -1 && !convt_direct_params_on(&out.adj_direct))) &&
         convt_direct_params_valid(&out.adj_direct) &&
         (p.adj_subpix == 0 || p.adj_subpix == -1 ||
          (p.adj_subpix == 1 && !convt_direct_params_on(&out.adj_direct) &&
           (adj_be == CLGAN_GEMM_OWN || adj_be == CLGAN_GEMM_AUTO)));
  }
  if (!ok) return 0;
  *cv = out;
  memcpy(winner_ms, p.winner_ms, sizeof p.winner_ms);
  memcpy(default_ms, p.default_ms, sizeof p.default_ms);
  return 1;
}

void conv_tune_store(const clgan_ctx *ctx, const char *key, const conv_variants *cv,
                     const double winner_ms[CONV_PRODUCTS],
                     const double default_ms[CONV_PRODUCTS]) {
  tune_payload p;
  memset(&p, 0, sizeof p);
  memcpy(p.magic, TUNE_PAYLOAD_MAGIC, 8);
  for (int i = 0; i < CONV_PRODUCTS; i++) {
    const clgan_gemm_variant *g = &cv->prod[i];
    int32_t v[8] = {(int32_t)g->backend, g->tm, g->nv, g->lx, g->ly,
                    g->wgk, g->vw, cv->from_image[i]};
    memcpy(p.variant[i], v, sizeof v);
    p.winner_ms[i] = winner_ms[i];
    p.default_ms[i] = default_ms[i];
  }
  const convt_direct_params *d = &cv->adj_direct;
  int32_t direct[5] = {d->wgx, d->wgy, d->rm, d->rn, d->kc};
  memcpy(p.adj_direct, direct, sizeof direct);
  p.adj_subpix = cv->adj_subpix;
  p.fwd_wino = cv->fwd_wino;
  p.filt_wino = cv->filt_wino;
  p.adj_wino = cv->adj_wino;
  const char *dir = conv_tune_dir(ctx);
  if (dir && *dir) clgan_cache_store(dir, "tune", key, &p, sizeof p);
}

void clgan_ctx_tune_report(const clgan_ctx *ctx, clgan_tune_report *out) {
  *out = ctx->tune_report;
}
