/* Class embeddings (clgan/embed.h): lookups by label and their backward,
 * the projection discriminator's term and its gradients. Labels are floats
 * holding class indices; every sum runs in a fixed order (no atomics). */

static uint label_at(__global const float *labels, uint loff, uint b, uint rows) {
  int y = (int)labels[loff + b];
  return (uint)clamp(y, 0, (int)rows - 1);
}

/* out[e * n + b] = table[label(b) * dim + e]; global (dim, n) */
__kernel void embed_gather(__global const float *table, uint toff, __global const float *labels,
                           uint loff, uint rows, uint dim, uint n, __global float *out,
                           uint ooff) {
  uint e = get_global_id(0), b = get_global_id(1);
  if (e >= dim || b >= n) return;
  out[ooff + e * n + b] = table[toff + label_at(labels, loff, b, rows) * dim + e];
}

/* dtable[r * dim + e] (+)= sum_{b: label(b) == r} dout[e * n + b]; global (dim, rows) */
__kernel void embed_scatter_add(__global const float *labels, uint loff, uint rows, uint dim,
                                uint n, __global const float *dout, uint doff,
                                __global float *dtable, uint toff, int accumulate) {
  uint e = get_global_id(0), r = get_global_id(1);
  if (e >= dim || r >= rows) return;
  float s = 0.0f;
  for (uint b = 0; b < n; b++)
    if (label_at(labels, loff, b, rows) == r) s += dout[doff + e * n + b];
  uint at = toff + r * dim + e;
  dtable[at] = accumulate ? dtable[at] + s : s;
}

/* logits[b] += <table[label(b)], sum over space of h[:, b]>; global (n) */
__kernel void proj_forward(__global const float *table, uint toff, __global const float *labels,
                           uint loff, uint rows, uint dim, uint n, __global const float *h,
                           uint hoff, uint hw, __global float *logits, uint goff) {
  uint b = get_global_id(0);
  if (b >= n) return;
  __global const float *w = table + toff + label_at(labels, loff, b, rows) * dim;
  float s = 0.0f;
  for (uint c = 0; c < dim; c++) {
    __global const float *x = h + hoff + ((size_t)c * n + b) * hw;
    float sum = 0.0f;
    for (uint i = 0; i < hw; i++) sum += x[i];
    s += w[c] * sum;
  }
  logits[goff + b] += s;
}

/* dtable[r * dim + c] (+)= sum_{b: label(b) == r} g[b] * sum_i h[c, b, i]; global (dim, rows) */
__kernel void proj_backward_weight(__global const float *labels, uint loff, uint rows, uint dim,
                                   uint n, __global const float *h, uint hoff, uint hw,
                                   __global const float *g, uint goff, __global float *dtable,
                                   uint toff, int accumulate) {
  uint c = get_global_id(0), r = get_global_id(1);
  if (c >= dim || r >= rows) return;
  float s = 0.0f;
  for (uint b = 0; b < n; b++) {
    if (label_at(labels, loff, b, rows) != r) continue;
    __global const float *x = h + hoff + ((size_t)c * n + b) * hw;
    float sum = 0.0f;
    for (uint i = 0; i < hw; i++) sum += x[i];
    s += g[goff + b] * sum;
  }
  uint at = toff + r * dim + c;
  dtable[at] = accumulate ? dtable[at] + s : s;
}

/* dh[c, b, i] += g[b] * table[label(b) * dim + c]; global (hw, dim * n) */
__kernel void proj_backward_data(__global const float *table, uint toff,
                                 __global const float *labels, uint loff, uint rows, uint dim,
                                 uint n, __global const float *g, uint goff, uint hw,
                                 __global float *dh, uint dhoff) {
  uint i = get_global_id(0), cb = get_global_id(1);
  if (i >= hw || cb >= dim * n) return;
  uint c = cb / n, b = cb % n;
  float w = table[toff + label_at(labels, loff, b, rows) * dim + c];
  dh[dhoff + (size_t)cb * hw + i] += g[goff + b] * w;
}

/* One-hot label planes of a D input [channels, n, hw]: channel first + k of
 * image b is 1 where label(b) == k, else 0; global (hw, rows * n) */
__kernel void label_planes(__global const float *labels, uint loff, uint rows, uint n, uint hw,
                           uint first, __global float *out, uint ooff) {
  uint i = get_global_id(0), kb = get_global_id(1);
  if (i >= hw || kb >= rows * n) return;
  uint k = kb / n, b = kb % n;
  out[ooff + ((size_t)(first + k) * n + b) * hw + i] = label_at(labels, loff, b, rows) == k ? 1.0f : 0.0f;
}
