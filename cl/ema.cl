/* Exponential moving average of weights: ema = decay * ema + (1 - decay) * p. */
__kernel void ema_update(__global float *ema, uint eoff, __global const float *p, uint poff,
                         uint n, float decay) {
  uint i = get_global_id(0);
  if (i < n) ema[eoff + i] = decay * ema[eoff + i] + (1.0f - decay) * p[poff + i];
}
