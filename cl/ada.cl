/* ADA on the device (include/clgan/ada.h): the overfitting statistic r_t
 * and the update of p, so that no training step waits for the host. The
 * state layout (CLGAN_ADA_*) and the rule (CLGAN_ADA_NEXT_P) come from
 * include/clgan/kernel_abi.h, prepended to this program: the host twin
 * clgan_ada_observe uses the same definitions. */
#pragma OPENCL FP_CONTRACT OFF

/* out[0] = mean(sign(x)); one work-group, local size a power of two <=
 * CLGAN_ADA_SIGN_LOCAL; integer partial sums, so exact. */
__kernel void sign_mean(__global const float *x, uint xoff, uint count, __global float *out,
                        uint ooff) {
  __local int part[CLGAN_ADA_SIGN_LOCAL];
  uint lid = get_local_id(0), lsz = get_local_size(0);
  int s = 0;
  for (uint i = lid; i < count; i += lsz) {
    float v = x[xoff + i];
    s += (v > 0.0f) - (v < 0.0f);
  }
  part[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = lsz >> 1; k > 0; k >>= 1) {
    if (lid < k) part[lid] += part[lid + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[ooff] = (float)part[0] / (float)count;
}

/* One work-item: r_t = rt[roff] joins the interval; at its end p moves by
 * the rule and the interval restarts. P_STEP keeps the p the step used
 * (the log's column). delta comes from the host (CLGAN_ADA_DELTA). */
__kernel void ada_update(__global float *state, uint soff, __global const float *rt, uint roff,
                         float target, float delta) {
  __global float *s = state + soff;
  float p = s[CLGAN_ADA_P], sum = s[CLGAN_ADA_SUM] + rt[roff];
  float count = s[CLGAN_ADA_COUNT] + 1.0f; /* an integer, exact */
  s[CLGAN_ADA_P_STEP] = p;
  if (count >= (float)CLGAN_ADA_INTERVAL) {
    p = CLGAN_ADA_NEXT_P(p, sum, target, delta);
    sum = 0.0f;
    count = 0.0f;
  }
  s[CLGAN_ADA_P] = p;
  s[CLGAN_ADA_SUM] = sum;
  s[CLGAN_ADA_COUNT] = count;
}
