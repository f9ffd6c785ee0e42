/* Binary cross-entropy from logits, mean reduction, constant target, in one
 * work-group (local size a power of two) with a fixed-order tree: loss_i =
 * max(x,0) - x*t + log1p(exp(-|x|)), out[0] = mean loss, out[1] = mean
 * sigmoid(x), dlogits_i = scale * (sigmoid(x_i) - t) / n when want_grad. */
__kernel void bce_logits(__global const float *x, uint xoff, uint n, float t,
                         __global float *out, uint ooff, __global float *dl,
                         uint dloff, int want_grad, float scale,
                         __local float *sl, __local float *sp) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  float loss = 0.0f, prob = 0.0f;
  for (uint i = lid; i < n; i += lsz) {
    float v = x[xoff + i];
    float e = exp(-fabs(v)); /* in (0, 1]: no overflow for any logit */
    float sig = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    loss += fmax(v, 0.0f) - v * t + log1p(e);
    prob += sig;
    /* sigmoid(v) - t over the common denominator 1 + e: no cancellation
     * when the prediction is close to a 0/1 label */
    float diff = (v >= 0.0f ? (1.0f - t) - t * e : e * (1.0f - t) - t) / (1.0f + e);
    if (want_grad) dl[dloff + i] = scale * diff / (float)n;
  }
  sl[lid] = loss;
  sp[lid] = prob;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = lsz >> 1; k > 0; k >>= 1) {
    if (lid < k) {
      sl[lid] += sl[lid + k];
      sp[lid] += sp[lid + k];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    out[ooff] = sl[0] / (float)n;
    out[ooff + 1] = sp[0] / (float)n;
  }
}
