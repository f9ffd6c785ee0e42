/* Nearest neighbours by brute force (src/metrics/nearest.c). Images are read
 * in place from their sets (clgan_image_set layouts). A work-item takes TQ
 * queries and one segment of the references, walks the segment TR
 * references at a time accumulating sum((q - r)^2) directly, and keeps the
 * smallest per query (strict <, so ties keep the lowest index). Global:
 * (query tiles rounded up, segments). best_d/best_i: [nq][nseg]. */

#define TQ 4
#define TR 4

__kernel void nn_search(__global const float *qb, ulong qoff, ulong qis, ulong qcs, int nq,
                        __global const float *rb, ulong roff, ulong ris, ulong rcs, int nr,
                        int c, int hw, int exclude_same, int seg_len,
                        __global float *best_d, __global int *best_i) {
  int tile = get_global_id(0), seg = get_global_id(1), nseg = get_global_size(1);
  int q0 = tile * TQ;
  if (q0 >= nq) return;
  int r_begin = seg * seg_len, r_end = min(nr, r_begin + seg_len);
  ulong qbase[TQ];
  for (int t = 0; t < TQ; t++) qbase[t] = qoff + (ulong)min(q0 + t, nq - 1) * qis;
  float best[TQ];
  int besti[TQ];
  for (int t = 0; t < TQ; t++) {
    best[t] = INFINITY;
    besti[t] = -1;
  }
  for (int r0 = r_begin; r0 < r_end; r0 += TR) {
    ulong rbase[TR];
    for (int u = 0; u < TR; u++) rbase[u] = roff + (ulong)min(r0 + u, r_end - 1) * ris;
    float acc[TQ][TR];
    for (int t = 0; t < TQ; t++)
      for (int u = 0; u < TR; u++) acc[t][u] = 0.0f;
    for (int k = 0; k < c; k++) {
      ulong qc = (ulong)k * qcs, rc = (ulong)k * rcs;
      for (int p = 0; p < hw; p++) {
        float a[TQ], b[TR];
        for (int t = 0; t < TQ; t++) a[t] = qb[qbase[t] + qc + p];
        for (int u = 0; u < TR; u++) b[u] = rb[rbase[u] + rc + p];
        for (int t = 0; t < TQ; t++)
          for (int u = 0; u < TR; u++) {
            float d = a[t] - b[u];
            acc[t][u] += d * d;
          }
      }
    }
    for (int u = 0; u < TR && r0 + u < r_end; u++)
      for (int t = 0; t < TQ; t++) {
        if (exclude_same && r0 + u == q0 + t) continue;
        if (acc[t][u] < best[t]) {
          best[t] = acc[t][u];
          besti[t] = r0 + u;
        }
      }
  }
  for (int t = 0; t < TQ && q0 + t < nq; t++) {
    best_d[(size_t)(q0 + t) * nseg + seg] = best[t];
    best_i[(size_t)(q0 + t) * nseg + seg] = besti[t];
  }
}
