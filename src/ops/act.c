/* Elementwise activations (cl/act.cl): forward and backward from the output. */
#include <limits.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

/* One kernel pair per activation, in clgan_act order. */
static const char *const act_kernels[][2] = {
    {"act_none_forward", "act_none_backward"},
    {"act_relu_forward", "act_relu_backward"},
    {"act_leaky_relu_forward", "act_leaky_relu_backward"},
    {"act_tanh_forward", "act_tanh_backward"},
    {"act_sigmoid_forward", "act_sigmoid_backward"},
};
_Static_assert(sizeof act_kernels / sizeof act_kernels[0] == CLGAN_ACT_COUNT,
               "one act.cl kernel pair per clgan_act");

/* Elements per work-item: the piecewise-linear activations run ACT_VEC at
 * once as a vector (act.cl builds with -DACT_VEC=4; on PoCL LeakyReLU over
 * the tutorial's D1 output, 8.4M floats, ran 2-3x faster than with one
 * element per work-item, alternating runs), Tanh and Sigmoid one. */
#define ACT_VEC 4
#define ACT_OPTIONS "-DACT_VEC=4"
static const int act_per_item[] = {ACT_VEC, ACT_VEC, ACT_VEC, 1, 1};
_Static_assert(sizeof act_per_item / sizeof act_per_item[0] == CLGAN_ACT_COUNT,
               "elements per work-item for each clgan_act");

clgan_status clgan_act_plan_make(clgan_ctx *ctx, clgan_act act, clgan_act_plan *out) {
  if ((int)act < 0 || act >= CLGAN_ACT_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "activation: unknown kind %d", (int)act);
  clgan_act_plan p = {.act = act};
  clgan_status st = clgan_kernel_get(ctx, "act", ACT_OPTIONS, act_kernels[act][0], &p.forward);
  if (st == CLGAN_OK)
    st = clgan_kernel_get(ctx, "act", ACT_OPTIONS, act_kernels[act][1], &p.backward);
  if (st == CLGAN_OK) *out = p;
  return st;
}

/* The last element of b plus count must be addressable with a uint. */
static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

/* bufs: x, y (forward) or y, dy, dx (backward). */
static clgan_status act_launch(clgan_ctx *ctx, const clgan_act_plan *plan, int backward,
                               float slope, size_t count, const clgan_buf *bufs, int nbufs) {
  if (!plan || (int)plan->act < 0 || plan->act >= CLGAN_ACT_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "activation: no valid plan");
  if (count == 0) return CLGAN_OK;
  for (int i = 0; i < nbufs; i++) {
    if (!bufs[i].mem) return clgan_fail(CLGAN_ERR_INVALID, "activation: null buffer");
    if (!fits_uint(bufs[i], count))
      return clgan_fail(CLGAN_ERR_INVALID, "activation: %zu floats at offset %zu exceed 2^32",
                        count, bufs[i].off);
  }
  cl_kernel k = backward ? plan->backward : plan->forward;
  cl_uint off[3], n = (cl_uint)count;
  for (int i = 0; i < nbufs; i++) off[i] = (cl_uint)bufs[i].off;
  clgan_status st;
  if (backward)
    st = clgan_set_args(k, 8, sizeof(cl_mem), &bufs[0].mem, sizeof(cl_uint), &off[0],
                        sizeof(cl_mem), &bufs[1].mem, sizeof(cl_uint), &off[1], sizeof(cl_mem),
                        &bufs[2].mem, sizeof(cl_uint), &off[2], sizeof n, &n, sizeof slope, &slope);
  else
    st =
        clgan_set_args(k, 6, sizeof(cl_mem), &bufs[0].mem, sizeof(cl_uint), &off[0], sizeof(cl_mem),
                       &bufs[1].mem, sizeof(cl_uint), &off[1], sizeof n, &n, sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  size_t per = (size_t)act_per_item[plan->act];
  size_t g = clgan_round_up((count + per - 1) / per, 64);
  return clgan_launch(ctx, k, 1, &g, NULL, act_kernels[plan->act][backward]);
}

clgan_status clgan_act_forward(clgan_ctx *ctx, const clgan_act_plan *plan, float slope,
                               size_t count, clgan_buf x, clgan_buf y) {
  clgan_buf bufs[2] = {x, y};
  return act_launch(ctx, plan, 0, slope, count, bufs, 2);
}

clgan_status clgan_act_backward(clgan_ctx *ctx, const clgan_act_plan *plan, float slope,
                                size_t count, clgan_buf y, clgan_buf dy, clgan_buf dx) {
  clgan_buf bufs[3] = {y, dy, dx};
  return act_launch(ctx, plan, 1, slope, count, bufs, 3);
}
