/* dst[off + i] = value for i < n. */
__kernel void fill(__global float *dst, uint off, uint n, float value) {
  uint i = get_global_id(0);
  if (i < n) dst[off + i] = value;
}
