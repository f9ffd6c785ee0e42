/* MS-SSIM (src/metrics/msssim.c), after ProGAN's metrics/ms_ssim.py. Each
 * scale of a chunk of np pairs is [2][np][c][s][s]: the first images of the
 * pairs, then the second ones, values in [0, 1]. */

/* No contraction into fma: identical images must give exactly 1. */
#pragma OPENCL FP_CONTRACT OFF

/* 2x2 mean then every second pixel; odd sides repeat the last row/column
 * (scipy.ndimage.convolve with ones(2, 2)/4, mode 'reflect').
 * Global: (so*so rounded up, planes), so = ceil(s / 2). */
__kernel void ssim_down(__global const float *in, uint inoff, __global float *out,
                        uint outoff, int s, int so) {
  int g = get_global_id(0);
  if (g >= so * so) return;
  int y = g / so, x = g % so;
  int y1 = min(2 * y + 1, s - 1), x1 = min(2 * x + 1, s - 1);
  size_t plane = get_global_id(1);
  __global const float *p = in + inoff + plane * (size_t)s * s;
  float v = (p[2 * y * s + 2 * x] + p[2 * y * s + x1]) + (p[y1 * s + 2 * x] + p[y1 * s + x1]);
  out[outoff + plane * (size_t)so * so + g] = 0.25f * v;
}

/* One work-group per pair: the means over every channel and valid window
 * position (v = s - w + 1 per side) of the SSIM map and the contrast-
 * structure map, out[p*2] and out[p*2 + 1]. win: w separable Gaussian
 * weights (the 2-D window is win[i] * win[j]). */
__kernel void ssim_level(__global const float *img, uint imgoff, int np, int c, int s,
                         __global const float *win, uint winoff, int w, float c1, float c2,
                         __global float *out, uint ooff, __local float *scratch) {
  int p = get_group_id(0);
  uint lid = get_local_id(0), L = get_local_size(0);
  int v = s - w + 1;
  size_t plane = (size_t)s * s;
  uint total = (uint)(c * v * v);
  float sum_ssim = 0.0f, sum_cs = 0.0f;
  for (uint t = lid; t < total; t += L) {
    int k = t / (v * v), r = t % (v * v), y = r / v, x = r % v;
    __global const float *a = img + imgoff + ((size_t)p * c + k) * plane + y * s + x;
    __global const float *b = img + imgoff + ((size_t)(np + p) * c + k) * plane + y * s + x;
    float mu1 = 0.0f, mu2 = 0.0f, s11 = 0.0f, s22 = 0.0f, s12 = 0.0f;
    for (int i = 0; i < w; i++) {
      float r1 = 0.0f, r2 = 0.0f, r11 = 0.0f, r22 = 0.0f, r12 = 0.0f;
      for (int j = 0; j < w; j++) {
        float wj = win[winoff + j], xa = a[i * s + j], xb = b[i * s + j];
        r1 += wj * xa;
        r2 += wj * xb;
        r11 += wj * xa * xa;
        r22 += wj * xb * xb;
        r12 += wj * xa * xb;
      }
      float wi = win[winoff + i];
      mu1 += wi * r1;
      mu2 += wi * r2;
      s11 += wi * r11;
      s22 += wi * r22;
      s12 += wi * r12;
    }
    float mu11 = mu1 * mu1, mu22 = mu2 * mu2, mu12 = mu1 * mu2;
    float v1 = 2.0f * (s12 - mu12) + c2, v2 = (s11 - mu11) + (s22 - mu22) + c2;
    float cs = v1 / v2;
    sum_cs += cs;
    sum_ssim += (2.0f * mu12 + c1) * v1 / ((mu11 + mu22 + c1) * v2);
  }
  scratch[lid] = sum_ssim;
  scratch[L + lid] = sum_cs;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = L >> 1; k > 0; k >>= 1) {
    if (lid < k) {
      scratch[lid] += scratch[lid + k];
      scratch[L + lid] += scratch[L + lid + k];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    out[ooff + 2 * p] = scratch[0] / (float)total;
    out[ooff + 2 * p + 1] = scratch[L] / (float)total;
  }
}
