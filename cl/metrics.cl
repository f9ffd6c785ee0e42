/* Shared metrics kernels (src/metrics/): copying images out of an image set
 * (any layout, see clgan_image_set) into a contiguous [n][c][hw] block,
 * optionally through an index list and with an affine map of the values. */

__kernel void metrics_gather(__global const float *in, ulong inoff, ulong istride,
                             ulong cstride, __global const int *idx, int use_idx, int first,
                             __global float *out, uint outoff, uint n, uint c, uint hw,
                             float scale, float shift) {
  size_t g = get_global_id(0);
  if (g >= (size_t)n * c * hw) return;
  uint p = (uint)(g % hw);
  size_t t = g / hw;
  uint k = (uint)(t % c), i = (uint)(t / c);
  ulong img = use_idx ? (ulong)idx[i] : (ulong)(first + (int)i);
  out[outoff + g] = scale * in[inoff + img * istride + k * cstride + p] + shift;
}
