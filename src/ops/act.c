/* Elementwise activations (cl/act.cl): forward and backward from the output. */
#include <limits.h>
#include <stdio.h>

#include "clgan/ops.h"
#include "runtime/internal.h"

static const char *const act_names[CLGAN_ACT_COUNT] = {
    "act_none", "act_relu", "act_leaky_relu", "act_tanh", "act_sigmoid",
};

/* The last element of b plus count must be addressable with a uint. */
static int fits_uint(clgan_buf b, size_t count) {
  return b.off <= UINT_MAX && count <= UINT_MAX - b.off;
}

static clgan_status act_launch(clgan_ctx *ctx, clgan_act act, int backward, float slope,
                               size_t count, const clgan_buf *bufs, int nbufs) {
  if ((int)act < 0 || act >= CLGAN_ACT_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "activation: unknown kind %d", (int)act);
  if (count == 0) return CLGAN_OK;
  for (int i = 0; i < nbufs; i++) {
    if (!bufs[i].mem) return clgan_fail(CLGAN_ERR_INVALID, "activation: null buffer");
    if (!fits_uint(bufs[i], count))
      return clgan_fail(CLGAN_ERR_INVALID, "activation: %zu floats at offset %zu exceed 2^32",
                        count, bufs[i].off);
  }
  char name[64];
  snprintf(name, sizeof name, "%s_%s", act_names[act], backward ? "backward" : "forward");
  cl_kernel k;
  clgan_status st = clgan_kernel_get(ctx, "act", NULL, name, &k);
  if (st != CLGAN_OK) return st;
  cl_uint off[3], n = (cl_uint)count;
  for (int i = 0; i < nbufs; i++) off[i] = (cl_uint)bufs[i].off;
  if (backward)
    st = clgan_set_args(k, 8, sizeof(cl_mem), &bufs[0].mem, sizeof(cl_uint), &off[0],
                        sizeof(cl_mem), &bufs[1].mem, sizeof(cl_uint), &off[1], sizeof(cl_mem),
                        &bufs[2].mem, sizeof(cl_uint), &off[2], sizeof n, &n, sizeof slope,
                        &slope);
  else
    st = clgan_set_args(k, 6, sizeof(cl_mem), &bufs[0].mem, sizeof(cl_uint), &off[0],
                        sizeof(cl_mem), &bufs[1].mem, sizeof(cl_uint), &off[1], sizeof n, &n,
                        sizeof slope, &slope);
  if (st != CLGAN_OK) return st;
  size_t g = clgan_round_up(count, 64);
  return clgan_launch(ctx, k, 1, &g, NULL, name);
}

clgan_status clgan_act_forward(clgan_ctx *ctx, clgan_act act, float slope, size_t count,
                               clgan_buf x, clgan_buf y) {
  clgan_buf bufs[2] = {x, y};
  return act_launch(ctx, act, 0, slope, count, bufs, 2);
}

clgan_status clgan_act_backward(clgan_ctx *ctx, clgan_act act, float slope, size_t count,
                                clgan_buf y, clgan_buf dy, clgan_buf dx) {
  clgan_buf bufs[3] = {y, dy, dx};
  return act_launch(ctx, act, 1, slope, count, bufs, 3);
}
