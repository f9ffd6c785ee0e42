/* D's regularisers (src/ops/regularize.c): LeCam and consistency terms on
 * the logits, and spectral normalisation of a weight W [rows, cols] (a
 * Conv2d weight [out, in * k * k]). Every reduction is a fixed-order tree in
 * one work-group, so results repeat bit for bit on a device. */

/* Fixed-order tree over the work-group's values in s (a power of two). */
static float tree_sum(__local float *s, float v) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  s[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = lsz >> 1; k > 0; k >>= 1) {
    if (lid < k) s[lid] += s[lid + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float total = s[0];
  barrier(CLK_LOCAL_MEM_FENCE); /* s is reused by the caller */
  return total;
}

/* LeCam on one batch of n logits x, which = 0 (real) or 1 (fake); state =
 * [a_R, a_F, seen_R, seen_F]. The term uses the other side's anchor a
 * (R_LC = mean((x - a)^2), a held constant): dl[i] += weight * 2 (x_i - a) / n
 * and out[0] = mean((x - a)^2), both 0 while that anchor has not been set.
 * Then this side's anchor moves: decay * a + (1 - decay) * mean(x), or
 * mean(x) the first time. */
__kernel void lecam_step(__global const float *x, uint xoff, uint n, __global float *state,
                         uint soff, uint which, float decay, float weight, __global float *dl,
                         uint dloff, __global float *out, uint ooff, __local float *s) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  float other = state[soff + 1 - which];
  int have_other = state[soff + 3 - which] != 0.0f;
  float sum = 0.0f, sq = 0.0f;
  for (uint i = lid; i < n; i += lsz) {
    float v = x[xoff + i], d = v - other;
    sum += v;
    sq += d * d;
    if (have_other) dl[dloff + i] += weight * 2.0f * d / (float)n;
  }
  float mean = tree_sum(s, sum) / (float)n;
  float reg = tree_sum(s, sq) / (float)n;
  if (lid == 0) {
    float a = state[soff + which];
    int seen = state[soff + 2 + which] != 0.0f;
    state[soff + which] = seen ? decay * a + (1.0f - decay) * mean : mean;
    state[soff + 2 + which] = 1.0f;
    out[ooff] = have_other ? reg : 0.0f;
  }
}

/* bCR on one batch: x1 = D(input), x2 = D(T(input)), n logits each.
 * out[0] = mean((x1 - x2)^2); the gradient of weight * that: dl1[i] +=
 * weight * 2 (x1_i - x2_i) / n, dl2[i] = its negative (overwritten). */
__kernel void consistency_step(__global const float *x1, uint x1off, __global const float *x2,
                               uint x2off, uint n, float weight, __global float *dl1,
                               uint dl1off, __global float *dl2, uint dl2off,
                               __global float *out, uint ooff, __local float *s) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  float sq = 0.0f;
  for (uint i = lid; i < n; i += lsz) {
    float d = x1[x1off + i] - x2[x2off + i], g = weight * 2.0f * d / (float)n;
    sq += d * d;
    dl1[dl1off + i] += g;
    dl2[dl2off + i] = -g;
  }
  float reg = tree_sum(s, sq);
  if (lid == 0) out[ooff] = reg / (float)n;
}

/* v[j] = sum_i W[i, j] u[i]: one work-item per column (neighbours read
 * neighbouring floats of each row). */
__kernel void sn_wt_u(__global const float *w, uint woff, uint rows, uint cols,
                      __global const float *u, uint uoff, __global float *v, uint voff) {
  uint j = get_global_id(0);
  if (j >= cols) return;
  float acc = 0.0f;
  for (uint i = 0; i < rows; i++) acc += w[woff + i * cols + j] * u[uoff + i];
  v[voff + j] = acc;
}

/* y[i] = sum_j a[i, j] b[i * bstride + j]: one work-group per row i; with
 * bstride 0, b is a vector (W v), with bstride cols a matrix (<G_i, W_i>). */
__kernel void sn_row_dot(__global const float *a, uint aoff, __global const float *b, uint boff,
                         uint bstride, uint cols, __global float *y, uint yoff,
                         __local float *s) {
  uint i = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  float acc = 0.0f;
  for (uint j = lid; j < cols; j += lsz)
    acc += a[aoff + i * cols + j] * b[boff + i * bstride + j];
  float total = tree_sum(s, acc);
  if (lid == 0) y[yoff + i] = total;
}

/* Modes over the n floats of raw, in one work-group (eps as PyTorch's
 * normalize: x / max(||x||, eps)):
 *   0  raw = raw / max(||raw||, eps) in place
 *   1  u = raw / max(||raw||, eps), then out[0] = u . raw (sigma, training)
 *   2  out[0] = u . raw (sigma with u as stored: evaluation)
 *   3  out[0] = sum(raw) */
__kernel void sn_reduce(__global float *raw, uint roff, uint n, __global float *u, uint uoff,
                        uint mode, float eps, __global float *out, uint ooff,
                        __local float *s) {
  uint lid = get_local_id(0), lsz = get_local_size(0);
  if (mode == 3 || mode == 2) {
    float acc = 0.0f;
    for (uint i = lid; i < n; i += lsz)
      acc += mode == 3 ? raw[roff + i] : u[uoff + i] * raw[roff + i];
    float total = tree_sum(s, acc);
    if (lid == 0) out[ooff] = total;
    return;
  }
  float sq = 0.0f;
  for (uint i = lid; i < n; i += lsz) sq += raw[roff + i] * raw[roff + i];
  float norm = fmax(sqrt(tree_sum(s, sq)), eps);
  float dot = 0.0f;
  for (uint i = lid; i < n; i += lsz) {
    float r = raw[roff + i], q = r / norm;
    if (mode == 0) raw[roff + i] = q;
    else u[uoff + i] = q;
    dot += q * r;
  }
  float sigma = tree_sum(s, dot);
  if (mode == 1 && lid == 0) out[ooff] = sigma;
}

/* w_sn = w / sigma over count floats (sigma at sig[0]). */
__kernel void sn_scale(__global const float *w, uint woff, __global const float *sig, uint soff,
                       uint count, __global float *wsn, uint wsoff) {
  uint i = get_global_id(0);
  if (i < count) wsn[wsoff + i] = w[woff + i] / sig[soff];
}

/* The weight's gradient from W_sn's, u and v held constant (PyTorch's
 * spectral_norm): dW = (G - t u v^T) / sigma, t = <G, W_sn> (sig[0] sigma,
 * sig[1] t); written, or added with accumulate. */
__kernel void sn_grad_map(__global const float *g, uint goff, __global const float *u, uint uoff,
                          __global const float *v, uint voff, uint rows, uint cols,
                          __global const float *sig, uint soff, __global float *dw, uint dwoff,
                          int accumulate) {
  uint k = get_global_id(0);
  if (k >= rows * cols) return;
  uint i = k / cols, j = k - i * cols;
  float val = (g[goff + k] - sig[soff + 1] * u[uoff + i] * v[voff + j]) / sig[soff];
  dw[dwoff + k] = accumulate ? dw[dwoff + k] + val : val;
}
