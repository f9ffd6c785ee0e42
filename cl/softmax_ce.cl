/* Softmax cross-entropy from logits laid out [k, n] (class-major: a graph's
 * [classes, batch, 1, 1] output), mean over the n samples, in one work-group
 * (local size a power of two) with a fixed-order tree, so the loss is the
 * same bits on every run. Sample i's label is labels[order[first + i]] (or
 * labels[first + i] without an order, use_order 0): the same indexing as
 * gather_batch, so a training batch needs no label upload.
 *   loss_i = logsumexp(x_i) - x_i[y_i], with the maximum subtracted first
 *   (log1p of the other terms when the label's logit is the maximum)
 *   out[0] = mean loss, out[1] = fraction of samples whose first largest
 *   logit is the label, out[2] = samples whose label is outside [0, k)
 *   (they add nothing to the loss or the gradient)
 *   dl[c, i] = scale * (softmax(x_i)[c] - [c == y_i]) / n when want_grad. */
__kernel void softmax_ce(__global const float *x, uint xoff, uint k, uint n,
                         __global const int *labels, __global const int *order,
                         uint first, int use_order, __global float *out, uint ooff,
                         __global float *dl, uint dloff, int want_grad, float scale,
                         __local float *sl, __local float *sc, __local float *sb) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  float loss = 0.0f, correct = 0.0f, bad = 0.0f;
  for (uint i = lid; i < n; i += lsz) {
    int y = labels[use_order ? order[first + i] : (int)(first + i)];
    int valid = y >= 0 && (uint)y < k;
    float m = x[xoff + i];
    uint arg = 0;
    for (uint c = 1; c < k; c++) {
      float v = x[xoff + c * n + i];
      if (v > m) m = v, arg = c;
    }
    /* sum of exp(x - max), and of the terms other than the label's: the
     * label's gradient is -others / sum, with no cancellation in p - 1 */
    float sum = 0.0f, others = 0.0f;
    for (uint c = 0; c < k; c++) {
      float e = exp(x[xoff + c * n + i] - m);
      sum += e;
      others += (int)c == y ? 0.0f : e;
    }
    if (valid) {
      /* -log p_y; when y is the maximum, p_y = 1 / (1 + others) */
      loss += arg == (uint)y ? log1p(others) : m - x[xoff + (uint)y * n + i] + log(sum);
      correct += arg == (uint)y ? 1.0f : 0.0f;
    } else {
      bad += 1.0f;
    }
    if (want_grad)
      for (uint c = 0; c < k; c++) {
        float g = (int)c == y ? -others / sum : exp(x[xoff + c * n + i] - m) / sum;
        dl[dloff + c * n + i] = valid ? scale * g / (float)n : 0.0f;
      }
  }
  sl[lid] = loss;
  sc[lid] = correct;
  sb[lid] = bad;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = lsz >> 1; s > 0; s >>= 1) {
    if (lid < s) {
      sl[lid] += sl[lid + s];
      sc[lid] += sc[lid + s];
      sb[lid] += sb[lid + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    out[ooff] = sl[0] / (float)n;
    out[ooff + 1] = sc[0] / (float)n;
    out[ooff + 2] = sb[0];
  }
}
