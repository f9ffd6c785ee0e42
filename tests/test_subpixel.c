/* The sub-pixel adjoint (src/ops/conv_subpixel.c, gemm_tile_subpix and
 * subpix_pack_w in cl/subpix.cl): the adjoint of k 4, stride 2, pad 1
 * convolutions as parity-class tiles stored straight into dx. Against a C
 * reference of the transposed convolution on the DCGAN's shapes and odd
 * channel counts (1, 3, 17, 32 channels, images 4 to 64, rows of 2 to 32
 * outputs, one- and two-row pixel groups, batch 1, 3 and 64) with every
 * tile the tuner tries on CPUs and GPUs, also with the derivative of a
 * ReLU or LeakyReLU applied as it stores; shapes a tile does not take stay
 * on GEMM + col2im. Then the tuner's side: the cache entry carries the
 * mapping (an older entry is ignored), the search checks and times the
 * candidates; and a training step with the mapping equals one with GEMM +
 * col2im within the parity test's tolerances, creating no OpenCL object
 * per step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_subpixel.h"
#include "ops/conv_tune.h"
#include "runtime/internal.h"
#include "test_tune_util.h"
#include "test_util.h"

typedef struct adj_case {
  const char *name;
  int transposed; /* 1: ConvTranspose2d(cin -> cout) over h x w; 0: Conv2d */
  int n, cin, h, w, cout;
} adj_case;

/* All k 4, stride 2, pad 1. */
static const adj_case cases[] = {
    {"conv 1 -> 1, 4 -> 2 (rows of 2)", 0, 1, 1, 4, 4, 1},
    {"conv 3 -> 17, 16 -> 8", 0, 3, 3, 16, 16, 17},
    {"conv 17 -> 3, 16 -> 8", 0, 3, 17, 16, 16, 3},
    {"conv 1 -> 32, 16x8 -> 8x4, batch 64", 0, 64, 1, 16, 8, 32},
    {"conv 32 -> 32, 32 -> 16", 0, 3, 32, 32, 32, 32},
    {"D first: conv 3 -> 32, 64 -> 32", 0, 1, 3, 64, 64, 32},
    {"conv 17 -> 32, 8 -> 4, batch 64", 0, 64, 17, 8, 8, 32},
    {"conv 17 -> 32, 6x8 -> 3x4 (odd rows: no two-row groups)", 0, 2, 17, 6, 8, 32},
    {"convT 32 -> 17, 4 -> 8, batch 64", 1, 64, 32, 4, 4, 17},
    {"convT 40 -> 33, 2x16 -> 4x32 (wide rows, 2 channel tiles)", 1, 3, 40, 2, 16, 33},
    {"G last: convT 32 -> 3, 32 -> 64", 1, 1, 32, 32, 32, 3},
    {"convT 3 -> 1, 16 -> 32, batch 64", 1, 64, 3, 16, 16, 1},
    {"conv 17 -> 3, 9 -> 4 (odd: GEMM + col2im)", 0, 3, 17, 9, 9, 3},
};

/* Whether a tile of tm pixels takes shape s: a k 4 s 2 p 1 shape with even
 * sides, its tm / 2 output pixels within one row or two whole rows of one
 * image (what gemm_tile_subpix handles). */
static int tile_takes(const clgan_conv_shape *s, int tm) {
  int j = tm / 2;
  return conv_subpix_applies(s) &&
         (s->wo % j == 0 || (j % 2 == 0 && s->wo == j / 2 && s->ho % 2 == 0));
}

/* The tile a variant plans on this device (0 in v: the device's default). */
static int tile_pixels(const clgan_gemm_variant *v) {
  return v->tm ? v->tm : conv_subpix_default_pixels(tu_ctx());
}
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static clgan_conv_shape case_shape(const adj_case *c) {
  clgan_conv_shape s;
  if (c->transposed) TU_OK(clgan_conv_shape_convt(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1, &s));
  else TU_OK(clgan_conv_shape_conv(c->n, c->cin, c->h, c->w, c->cout, 4, 2, 1, &s));
  return s;
}

/* Every tile either device's candidates hold (each device's default tile
 * first), then the tile the tuning cannot name: NULL (the plan's default). */
static int all_tiles(clgan_gemm_variant *out) {
  int n = conv_tune_subpix_tiles(1, out);
  return n + conv_tune_subpix_tiles(0, out + n);
}

/* The adjoint of case c with tile v through the conv core's plan (dx
 * prefilled with NaN: every pixel must be written; col with NaN: the
 * mapping must write what it reads), times act'(y) where act is given
 * (the backward data of a conv after that activation), against want. */
static void check_case(const adj_case *c, const clgan_gemm_variant *v, const float *dy,
                       const float *w, const float *y, const float *want, clgan_act act) {
  clgan_ctx *ctx = tu_ctx();
  clgan_conv_shape s = case_shape(c);
  size_t ff = (size_t)s.cout * s.n * s.ho * s.wo, fw = (size_t)s.cout * s.cin * 16;
  size_t fi = (size_t)s.cin * s.n * s.h * s.w;
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_ADJ] = *v;
  cv.adj_subpix = 1;
  clgan_conv_plan p;
  TU_OK(conv_plan_with(ctx, &s, &cv, &p));
  int taken = tile_takes(&s, tile_pixels(v));
  ck_assert_msg((p.adj_subpix.tile != NULL) == taken, "%s, tile %d: sub-pixel mapping %s",
                c->name, tile_pixels(v), p.adj_subpix.tile ? "taken" : "not taken");
  if (taken) ck_assert_uint_ge(p.col_floats, p.adj_subpix.col_floats);
  ck_assert_uint_le(p.adj_subpix.col_floats, conv_subpix_col_floats(&s));
  clgan_buf bdy = tu_upload(dy, ff), bw = tu_upload(w, fw), bdx = tu_upload(NULL, fi);
  clgan_buf by = tu_upload(y, fi), col = tu_upload(NULL, p.col_floats ? p.col_floats : 1);
  TU_OK(clgan_fill(ctx, bdx, fi, NAN));
  if (p.col_floats) TU_OK(clgan_fill(ctx, col, p.col_floats, NAN));
  TU_OK(clgan_conv_plan_prepare(ctx, &p));
  if (act != CLGAN_ACT_NONE) {
    ck_assert(clgan_conv2d_backward_data_fuses_act(&p, act));
    TU_OK(clgan_conv2d_backward_data_act(ctx, &p, bdy, bw, bdx, col, by, act, 0.2f));
  } else if (c->transposed) TU_OK(clgan_convt2d_forward(ctx, &p, bdy, bw, bdx, col));
  else TU_OK(clgan_conv2d_backward_data(ctx, &p, bdy, bw, bdx, col));
  float *got = tu_download(bdx, fi);
  char what[200], name[48];
  conv_tune_plan_name(&p, CONV_ADJ, name, sizeof name);
  snprintf(what, sizeof what, "%s, %s, act %d", c->name, name, (int)act);
  TU_ASSERT_CLOSE(what, got, want, fi, 1e-4, 1e-4);
  clgan_buf *all[] = {&bdy, &bw, &bdx, &by, &col};
  for (int i = 0; i < 5; i++) clgan_buf_release(all[i]);
  free(got);
}

/* want * act'(y) with cl/act.cl's formulas (slope 0.2). */
static void apply_dact(float *want, const float *y, size_t n, clgan_act act) {
  for (size_t i = 0; i < n; i++)
    if (!(y[i] > 0.0f)) want[i] = act == CLGAN_ACT_RELU ? 0.0f : want[i] * 0.2f;
}

START_TEST(test_every_tile_against_the_reference) {
  clgan_gemm_variant tiles[2 * CONV_TUNE_SUBPIX_TILES];
  int ntiles = all_tiles(tiles);
  for (int ci = 0; ci < NCASES; ci++) {
    clgan_conv_shape s = case_shape(&cases[ci]);
    ck_assert_int_eq(conv_subpix_applies(&s), cases[ci].h % 2 == 0 && cases[ci].w % 2 == 0);
    size_t ff = (size_t)s.cout * s.n * s.ho * s.wo, fw = (size_t)s.cout * s.cin * 16;
    size_t fi = (size_t)s.cin * s.n * s.h * s.w;
    float *dy = tu_malloc(ff * sizeof(float)), *w = tu_malloc(fw * sizeof(float));
    float *want = tu_malloc(fi * sizeof(float)), *y = tu_malloc(fi * sizeof(float));
    float *wact = tu_malloc(fi * sizeof(float));
    tu_fill_uniform(dy, ff, 5, -1, 1);
    tu_fill_uniform(w, fw, 6, -1, 1);
    tu_fill_uniform(y, fi, 7, -1, 1);
    tt_ref_adjoint(&s, dy, w, want);
    for (int i = 0; i < ntiles; i++) check_case(&cases[ci], &tiles[i], dy, w, y, want, CLGAN_ACT_NONE);
    /* the derivative as it stores, on a conv's backward data */
    const clgan_act acts[2] = {CLGAN_ACT_RELU, CLGAN_ACT_LEAKY_RELU};
    for (int a = 0; a < 2 && !cases[ci].transposed; a++) {
      memcpy(wact, want, fi * sizeof(float));
      apply_dact(wact, y, fi, acts[a]);
      for (int i = 0; i < ntiles; i++) check_case(&cases[ci], &tiles[i], dy, w, y, wact, acts[a]);
    }
    free(dy), free(w), free(want), free(y), free(wact);
  }
}
END_TEST

/* The plan: no column matrix for the adjoint (col holds the padded dy and
 * the sub-kernels, less than the chunked column matrix here), the engine's
 * choice (the mapping on CPUs), names, and the variants it refuses. */
START_TEST(test_plan_and_workspace) {
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(64, 32, 32, 32, 64, 4, 2, 1, &s));
  clgan_conv_plan def, sub, eng;
  conv_variants cv = conv_variants_default();
  cv.adj_subpix = 0; /* GEMM + col2im */
  TU_OK(conv_plan_with(tu_ctx(), &s, &cv, &def));
  ck_assert_ptr_null(def.adj_subpix.tile);
  ck_assert_ptr_nonnull(def.adj.main);
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){.backend = CLGAN_GEMM_OWN};
  cv.adj_subpix = 1;
  TU_OK(conv_plan_with(tu_ctx(), &s, &cv, &sub));
  ck_assert_ptr_nonnull(sub.adj_subpix.tile);
  ck_assert_ptr_null(sub.adj.main);
  size_t padded = (size_t)s.cin * s.n * (s.h + 2) * (s.w + 2);
  size_t others = def.fwd_from_image && def.filt_from_image ? padded : clgan_conv_col_floats(&s);
  size_t own = sub.adj_subpix.col_floats;
  ck_assert_uint_eq(sub.col_floats, own > others ? own : others);
  ck_assert_uint_le(sub.col_floats, def.col_floats);
  /* the engine's choice without the tuner: on CPUs the Winograd adjoint
   * (a 2^29 product), and the mapping where Winograd is left out; neither
   * elsewhere */
  TU_OK(conv_plan_with(tu_ctx(), &s, NULL, &eng));
  ck_assert_int_eq(eng.adj_wino.tile != NULL, clgan_ctx_cpu_paths(tu_ctx()));
  ck_assert_ptr_null(eng.adj_subpix.tile);
  int winograd = tu_ctx()->tuning.winograd;
  tu_ctx()->tuning.winograd = -1;
  TU_OK(conv_plan_with(tu_ctx(), &s, NULL, &eng));
  tu_ctx()->tuning.winograd = winograd;
  ck_assert_int_eq(eng.adj_subpix.tile != NULL, clgan_ctx_cpu_paths(tu_ctx()));
  ck_assert_int_eq(conv_subpix_default(tu_ctx(), &s), clgan_ctx_cpu_paths(tu_ctx()));
  char name[48];
  conv_tune_plan_name(&sub, CONV_ADJ, name, sizeof name);
  ck_assert_msg(strncmp(name, "subpixel ", 9) == 0, "named %s", name);
  /* only own tiles the kernel can run: not CLBlast, not an odd tile */
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){.backend = CLGAN_GEMM_CLBLAST};
  ck_assert_int_eq(conv_plan_with(tu_ctx(), &s, &cv, &sub), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "own variant"));
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){CLGAN_GEMM_OWN, 7, 1, 1, 64, 0, 0};
  ck_assert_int_eq(conv_plan_with(tu_ctx(), &s, &cv, &sub), CLGAN_ERR_INVALID);
}
END_TEST

/* Version 3's payload: the same size as version 4's, its last word
 * reserved (0). */
typedef struct payload_v3 {
  char magic[8];
  int32_t variant[CONV_PRODUCTS][8];
  double winner_ms[CONV_PRODUCTS], default_ms[CONV_PRODUCTS];
  int32_t adj_direct[5];
  int32_t reserved;
} payload_v3;

START_TEST(test_cache_entry_carries_the_mapping) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_CACHED, dir, sizeof dir);
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(3, 17, 16, 16, 32, 4, 2, 1, &s));
  char key[1024];
  conv_tune_key(tu_ctx(), &s, key, sizeof key);
  conv_variants cv = conv_variants_default(), got;
  double ms[CONV_PRODUCTS] = {1, 2, 3}, a[CONV_PRODUCTS], b[CONV_PRODUCTS];
  /* a version 3 entry under this key: ignored, not misread */
  payload_v3 v3;
  memset(&v3, 0, sizeof v3);
  memcpy(v3.magic, "CLGTUNE3", 8);
  for (int i = 0; i < CONV_PRODUCTS; i++) v3.variant[i][7] = 1, v3.winner_ms[i] = 1;
  ck_assert_int_eq(clgan_cache_store(dir, "tune", key, &v3, sizeof v3), CLGAN_OK);
  ck_assert(!conv_tune_load(tu_ctx(), key, &got, a, b));
  /* out of range: a mapping flag of 2, and the mapping with CLBlast */
  cv.adj_subpix = 2;
  conv_tune_store(tu_ctx(), key, &cv, ms, ms);
  ck_assert(!conv_tune_load(tu_ctx(), key, &got, a, b));
  cv.adj_subpix = 1;
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){.backend = CLGAN_GEMM_CLBLAST};
  conv_tune_store(tu_ctx(), key, &cv, ms, ms);
  ck_assert(!conv_tune_load(tu_ctx(), key, &got, a, b));
  /* a valid one: read back, and what the plan runs */
  clgan_gemm_variant tiles[CONV_TUNE_SUBPIX_TILES];
  conv_tune_subpix_tiles(0, tiles);
  cv.prod[CONV_ADJ] = tiles[1];
  conv_tune_store(tu_ctx(), key, &cv, ms, ms);
  ck_assert(conv_tune_load(tu_ctx(), key, &got, a, b));
  ck_assert_int_eq(got.adj_subpix, 1);
  ck_assert(memcmp(&got.prod[CONV_ADJ], &tiles[1], sizeof tiles[1]) == 0);
  clgan_conv_plan p;
  TU_OK(clgan_conv_plan_make(tu_ctx(), &s, &p));
  ck_assert_ptr_nonnull(p.adj_subpix.tile);
  clgan_tune_record r = tt_last_record();
  ck_assert_int_eq(r.source, 1);
  char want[48];
  snprintf(want, sizeof want, "subpixel %dx%d wg %dx%d", tiles[1].tm, 16 * tiles[1].nv,
           tiles[1].lx, tiles[1].ly);
  ck_assert_msg(strncmp(r.winner[CONV_ADJ], want, strlen(want)) == 0, "runs %s",
                r.winner[CONV_ADJ]);
  tt_restore(&old, dir);
}
END_TEST

/* The search tries the sub-pixel tiles on the backward data, each checked
 * against the reference (the default's result) and timed. */
START_TEST(test_search_times_the_subpixel_tiles) {
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_ON, dir, sizeof dir);
  tt_candidate_count count = {.prefix = "subpixel "};
  clgan_conv_shape s;
  TU_OK(clgan_conv_shape_conv(4, 16, 16, 16, 32, 4, 2, 1, &s));
  tu_ctx()->tune_test_no_prune = 1; /* every tile, however far the first is behind */
  tt_plan_counting(&s, &count);
  clgan_tune_record last = tt_last_record();
  ck_assert_int_eq(last.source, 2);
  fprintf(stderr, "backward data of %s: %s\n", last.shape, last.winner[CONV_ADJ]);
  /* a shape with fewer image-side channels than a tile is wide: none tried */
  int before = count.timed;
  clgan_conv_shape narrow;
  TU_OK(clgan_conv_shape_conv(4, 3, 16, 16, 32, 4, 2, 1, &narrow));
  tt_plan_counting(&narrow, &count);
  ck_assert_int_eq(count.timed, before);
  /* each tile is its own candidate, but the default plan's (the CPU's
   * first: the mapping is the default there) */
  tu_ctx()->tune_test_no_prune = 0;
  ck_assert_int_eq(count.timed, CONV_TUNE_SUBPIX_TILES - conv_subpix_default(tu_ctx(), &s));
  ck_assert_int_eq(count.rejected, 0);
  tt_restore(&old, dir);
}
END_TEST

/* Two steps with the sub-pixel mapping equal two with GEMM + col2im
 * within the parity test's tolerances (tt_assert_same_step): the one that
 * is not the device's default is forced from the cache (GEMM + col2im on
 * CPUs, the mapping with the default tile elsewhere). */
START_TEST(test_subpixel_step_equals_col2im) {
  clgan_dcgan_config cfg = tt_small_config(3, 6);
  cfg.ngf = cfg.ndf = 16; /* 16 and 32 channels: where the CPU default takes the mapping */
  char dir[64];
  clgan_tuning old = tt_use_tuner(CLGAN_TUNE_OFF, dir, sizeof dir);
  int cpu = clgan_ctx_cpu_paths(tu_ctx());
  conv_variants cv = conv_variants_default();
  cv.prod[CONV_ADJ] = (clgan_gemm_variant){.backend = CLGAN_GEMM_OWN};
  cv.adj_subpix = cpu ? 0 : 1;
  tt_step_result plain;
  clgan_tune_report after;
  int first;
  tt_step_result forced = tt_steps_forced(&cfg, 2, &cv, &plain, &after, &first);
  int taken = 0;
  for (int i = first; i < after.nrecords; i++) {
    clgan_conv_shape s = tt_record_shape(&after.records[i]);
    int is_subpix = strncmp(after.records[i].winner[CONV_ADJ], "subpixel ", 9) == 0;
    int want = !cpu && tile_takes(&s, tile_pixels(&cv.prod[CONV_ADJ]));
    ck_assert_msg(is_subpix == want, "%s: backward data runs %s", after.records[i].shape,
                  after.records[i].winner[CONV_ADJ]);
    /* the other step: the mapping where the engine chooses it */
    taken += cpu ? conv_subpix_default(tu_ctx(), &s) : is_subpix;
  }
  ck_assert_int_ge(taken, 4); /* G's first two up-sampling layers, D's last two down */
  tt_assert_same_step("sub-pixel step", &forced, &plain); /* frees forced's parameters */
  tt_step_free(&plain);
  tt_restore(&old, dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("subpixel");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_every_tile_against_the_reference);
  tcase_add_test(tc, test_plan_and_workspace);
  tcase_add_test(tc, test_cache_entry_carries_the_mapping);
  tcase_add_test(tc, test_search_times_the_subpixel_tiles);
  tcase_add_test(tc, test_subpixel_step_equals_col2im);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
