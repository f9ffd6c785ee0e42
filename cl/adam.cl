/* One Adam step (PyTorch 1.13 _single_tensor_adam, no weight decay, no
 * amsgrad) over n contiguous floats; p, g, m and v may be parts of one
 * buffer. The bias corrections come from the host:
 *   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
 *   denom = sqrt(v) / bc2_sqrt + eps;  p = p - step_size * m / denom
 * in PyTorch's operation order, without contracting a*b+c into an FMA, so
 * a device with correctly rounded sqrt and division (PoCL) reproduces the
 * unfused float arithmetic exactly. */
#pragma OPENCL FP_CONTRACT OFF
/* Built with -DCLGAN_ADAM_GUARD it takes a flag and does nothing when it is
 * set (a guarded clgan_adam_plan). */

__kernel void adam_step(__global float *p, uint poff, __global const float *g,
                        uint goff, __global float *m, uint moff,
                        __global float *v, uint voff, uint n, float beta1,
                        float one_minus_beta1, float beta2,
                        float one_minus_beta2, float step_size, float bc2_sqrt,
                        float eps
#ifdef CLGAN_ADAM_GUARD
                        , __global const float *skip, uint skip_off
#endif
                        ) {
  uint i = get_global_id(0);
  if (i >= n) return;
#ifdef CLGAN_ADAM_GUARD
  /* the NaN/Inf guard found a non-finite gradient: leave the step undone */
  if (skip[skip_off] != 0.0f) return;
#endif
  float gi = g[goff + i];
  float mi = m[moff + i] * beta1 + one_minus_beta1 * gi;
  float vi = v[voff + i] * beta2 + one_minus_beta2 * gi * gi;
  m[moff + i] = mi;
  v[voff + i] = vi;
  float denom = sqrt(vi) / bc2_sqrt + eps;
  p[poff + i] = p[poff + i] - step_size * mi / denom;
}
