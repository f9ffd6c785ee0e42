/* Sorting rows of floats ascending, for the sliced Wasserstein distance's
 * projections (rows x ld, row r at off + r*ld).
 *
 * Bitonic (GPUs): ld is a power of two and the tail of every row past its n
 * values holds +inf. sort_bitonic_local sorts blocks of 2*L values (L the
 * local size) in local memory, each block in the direction the global
 * network gives it; then for every k = 4L, 8L, ... ld the steps with
 * j >= 2L run as sort_bitonic_global (one work-item per compare-exchange)
 * and the rest as sort_bitonic_merge_local. NaNs never swap (sorted order is
 * then unspecified, the metric NaN anyway).
 *
 * Radix (CPUs): one work-item sorts one row, LSD radix sort on the
 * order-preserving integer image of the floats, 4 passes of 8 bits through
 * a scratch row (tmp), ending back in place. */

/* Index of the lower element of compare-exchange t for distance j (a power
 * of two): t with a zero bit inserted at log2(j). */
static inline uint lower_index(uint t, uint j) { return 2u * t - (t & (j - 1u)); }

static inline void cmp_swap_local(__local float *buf, uint i, uint j, int asc) {
  float a = buf[i], b = buf[i + j];
  if ((a > b) == asc) {
    buf[i] = b;
    buf[i + j] = a;
  }
}

/* Group (bx, row): values [bx*2L, bx*2L + 2L) of the row. */
__kernel void sort_bitonic_local(__global float *data, uint off, uint ld,
                                 __local float *buf) {
  uint L = get_local_size(0), lid = get_local_id(0), B = 2u * L;
  uint base = get_group_id(0) * B;
  __global float *d = data + off + (size_t)get_group_id(1) * ld + base;
  buf[lid] = d[lid];
  buf[lid + L] = d[lid + L];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = 2; k <= B; k <<= 1)
    for (uint j = k >> 1; j > 0; j >>= 1) {
      uint i = lower_index(lid, j);
      cmp_swap_local(buf, i, j, ((base + i) & k) == 0);
      barrier(CLK_LOCAL_MEM_FENCE);
    }
  d[lid] = buf[lid];
  d[lid + L] = buf[lid + L];
}

/* The steps j = L .. 1 of stage k (k > 2L) within each block of 2L. */
__kernel void sort_bitonic_merge_local(__global float *data, uint off, uint ld, uint k,
                                       __local float *buf) {
  uint L = get_local_size(0), lid = get_local_id(0), B = 2u * L;
  uint base = get_group_id(0) * B;
  __global float *d = data + off + (size_t)get_group_id(1) * ld + base;
  buf[lid] = d[lid];
  buf[lid + L] = d[lid + L];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint j = L; j > 0; j >>= 1) {
    uint i = lower_index(lid, j);
    cmp_swap_local(buf, i, j, ((base + i) & k) == 0);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  d[lid] = buf[lid];
  d[lid + L] = buf[lid + L];
}

/* One compare-exchange of stage k, step j (global id 0: its number within
 * the row, < ld/2; global id 1: the row). */
__kernel void sort_bitonic_global(__global float *data, uint off, uint ld, uint k, uint j) {
  uint t = get_global_id(0);
  if (t >= (ld >> 1)) return;
  __global float *d = data + off + (size_t)get_global_id(1) * ld;
  uint i = lower_index(t, j);
  float a = d[i], b = d[i + j];
  if ((a > b) == ((i & k) == 0)) {
    d[i] = b;
    d[i + j] = a;
  }
}

static inline uint float_key(uint u) { return (u & 0x80000000u) ? ~u : (u | 0x80000000u); }
static inline uint key_float(uint k) { return (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k; }

__kernel void sort_rows_radix(__global uint *data, uint off, uint ld, uint n, uint rows,
                              __global uint *tmp, uint tmpoff) {
  uint row = get_global_id(0);
  if (row >= rows) return;
  __global uint *a = data + off + (size_t)row * ld;
  __global uint *b = tmp + tmpoff + (size_t)row * ld;
  /* one read for the four digit histograms, then four scatters: the first
   * turns floats into keys, the last keys back into floats */
  uint hist[4][256];
  for (uint d = 0; d < 4; d++)
    for (uint h = 0; h < 256; h++) hist[d][h] = 0;
  for (uint i = 0; i < n; i++) {
    uint v = float_key(a[i]);
    hist[0][v & 255u]++;
    hist[1][(v >> 8) & 255u]++;
    hist[2][(v >> 16) & 255u]++;
    hist[3][v >> 24]++;
  }
  for (uint d = 0; d < 4; d++) {
    uint sum = 0;
    for (uint h = 0; h < 256; h++) {
      uint c = hist[d][h];
      hist[d][h] = sum;
      sum += c;
    }
  }
  for (uint i = 0; i < n; i++) {
    uint v = float_key(a[i]);
    b[hist[0][v & 255u]++] = v;
  }
  for (uint i = 0; i < n; i++) {
    uint v = b[i];
    a[hist[1][(v >> 8) & 255u]++] = v;
  }
  for (uint i = 0; i < n; i++) {
    uint v = a[i];
    b[hist[2][(v >> 16) & 255u]++] = v;
  }
  for (uint i = 0; i < n; i++) {
    uint v = b[i];
    a[hist[3][v >> 24]++] = key_float(v);
  }
}
