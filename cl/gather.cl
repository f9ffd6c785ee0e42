/* Batch gather from a dataset resident on the device.
 * images: [count][c][hw] (one image after another, as decoded)
 * order:  [total] image indices (an epoch's permutation), read from `first`
 * out:    [c][n][hw] (clgan's C,N,H,W layout) */
__kernel void gather_batch(__global const float *images, __global const int *order, uint first,
                           uint n, uint c, uint hw, __global float *out, uint out_off) {
  uint i = get_global_id(0);          /* pixel within the image plane */
  uint b = get_global_id(1);          /* image within the batch */
  if (i >= hw || b >= n) return;
  size_t src = (size_t)order[first + b] * c * hw + i;
  for (uint ch = 0; ch < c; ch++)
    out[out_off + ((size_t)ch * n + b) * hw + i] = images[src + (size_t)ch * hw];
}
