/* ADA (cl/ada.cl): the sign statistic and the update of p on the device,
 * and the update's host twin. The rule is CLGAN_ADA_NEXT_P
 * (clgan/kernel_abi.h), shared with the kernel. */
#include "clgan/ada.h"

#include <limits.h>

#include "runtime/internal.h"

clgan_status clgan_ada_plan_make(clgan_ctx *ctx, int batch, float target, clgan_ada_plan *out) {
  *out = (clgan_ada_plan){0};
  if (batch < 1 || batch > INT_MAX / CLGAN_ADA_INTERVAL)
    return clgan_fail(CLGAN_ERR_INVALID, "ada: batch %d", batch);
  clgan_ada_plan pl = {.batch = batch, .target = target, .delta = CLGAN_ADA_DELTA(batch)};
  clgan_status st = clgan_kernel_get(ctx, "ada", NULL, "sign_mean", &pl.sign_mean);
  if (st == CLGAN_OK) st = clgan_kernel_get(ctx, "ada", NULL, "ada_update", &pl.update);
  if (st != CLGAN_OK) return st;
  size_t need = 1;
  while (need < (size_t)batch && need < CLGAN_ADA_SIGN_LOCAL) need *= 2;
  pl.sign_local = clgan_pow2_local(ctx, pl.sign_mean, need);
  *out = pl;
  return CLGAN_OK;
}

static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

clgan_status clgan_ada_sign_mean(clgan_ctx *ctx, const clgan_ada_plan *pl, clgan_buf logits,
                                 clgan_buf rt) {
  if (!pl || !pl->sign_mean) return clgan_fail(CLGAN_ERR_INVALID, "ada_sign_mean: no plan");
  if (!logits.mem || !rt.mem) return clgan_fail(CLGAN_ERR_INVALID, "ada_sign_mean: null buffer");
  if (!fits_uint(logits, (size_t)pl->batch) || !fits_uint(rt, 1))
    return clgan_fail(CLGAN_ERR_INVALID, "ada_sign_mean: buffers exceed 2^32 float addressing");
  cl_uint xo = (cl_uint)logits.off, n = (cl_uint)pl->batch, oo = (cl_uint)rt.off;
  clgan_status st = clgan_set_args(pl->sign_mean, 5, sizeof(cl_mem), &logits.mem, sizeof xo, &xo,
                                   sizeof n, &n, sizeof(cl_mem), &rt.mem, sizeof oo, &oo);
  if (st != CLGAN_OK) return st;
  size_t local = pl->sign_local;
  return clgan_launch(ctx, pl->sign_mean, 1, &local, &local, "sign_mean");
}

clgan_status clgan_ada_update(clgan_ctx *ctx, const clgan_ada_plan *pl, clgan_buf rt,
                              clgan_buf state) {
  if (!pl || !pl->update) return clgan_fail(CLGAN_ERR_INVALID, "ada_update: no plan");
  if (!rt.mem || !state.mem) return clgan_fail(CLGAN_ERR_INVALID, "ada_update: null buffer");
  if (!fits_uint(rt, 1) || !fits_uint(state, CLGAN_ADA_STATE_FLOATS))
    return clgan_fail(CLGAN_ERR_INVALID, "ada_update: buffers exceed 2^32 float addressing");
  cl_uint so = (cl_uint)state.off, ro = (cl_uint)rt.off;
  clgan_status st = clgan_set_args(pl->update, 6, sizeof(cl_mem), &state.mem, sizeof so, &so,
                                   sizeof(cl_mem), &rt.mem, sizeof ro, &ro, sizeof pl->target,
                                   &pl->target, sizeof pl->delta, &pl->delta);
  if (st != CLGAN_OK) return st;
  size_t one = 1;
  return clgan_launch(ctx, pl->update, 1, &one, &one, "ada_update");
}

int clgan_ada_observe(clgan_augment_state *a, float rt, float target, int batch) {
  a->ada_sum += rt;
  if (++a->ada_count < CLGAN_ADA_INTERVAL) return 0;
  float p = a->p, sum = a->ada_sum, delta = CLGAN_ADA_DELTA(batch);
  a->p = CLGAN_ADA_NEXT_P(p, sum, target, delta);
  a->ada_sum = 0.0f;
  a->ada_count = 0;
  return 1;
}

void clgan_ada_state_pack(const clgan_augment_state *a, float out[CLGAN_ADA_STATE_FLOATS]) {
  out[CLGAN_ADA_P] = a->p;
  out[CLGAN_ADA_SUM] = a->ada_sum;
  out[CLGAN_ADA_COUNT] = (float)a->ada_count;
  out[CLGAN_ADA_P_STEP] = a->p;
}

void clgan_ada_state_unpack(const float in[CLGAN_ADA_STATE_FLOATS], clgan_augment_state *a) {
  a->p = in[CLGAN_ADA_P];
  a->ada_sum = in[CLGAN_ADA_SUM];
  a->ada_count = (int)in[CLGAN_ADA_COUNT];
}
