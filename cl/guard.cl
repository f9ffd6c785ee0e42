/* flag[flag_off] = 1 if any of x[off .. off+n) is NaN or infinite, else 0.
 * One work-group scans the whole range (strided), then reduces its
 * per-item findings in local memory: deterministic, no atomics. */
__kernel void nonfinite_any(__global const float *x, uint off, uint n, __global float *flag,
                            uint flag_off, __local int *found) {
  uint lid = get_local_id(0), size = get_local_size(0);
  int bad = 0;
  for (uint i = lid; i < n; i += size) bad |= !isfinite(x[off + i]);
  found[lid] = bad;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = size / 2; s > 0; s >>= 1) {
    if (lid < s) found[lid] |= found[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) flag[flag_off] = found[0] ? 1.0f : 0.0f;
}
