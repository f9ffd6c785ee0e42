/* Single-precision FMA peak: 8 independent chains of PEAK_WIDTH-wide FMAs
 * per work-item. The host builds it at several widths and keeps the best,
 * since the width that fills a CPU's vector pipelines without spilling
 * depends on its registers (PoCL maps float16 to one AVX-512 register but
 * to two AVX2 ones, and 8 float16 chains then need 17 of AVX2's 16). */
#ifndef PEAK_WIDTH
#define PEAK_WIDTH 16
#endif
#define PEAK_CAT_(a, b) a##b
#define PEAK_CAT(a, b) PEAK_CAT_(a, b)
#define peakv PEAK_CAT(float, PEAK_WIDTH)
#define peak_store PEAK_CAT(vstore, PEAK_WIDTH)

__kernel void peak_fma(__global float *out, int iters, float a, float b) {
  float s = (float)get_global_id(0) * 1e-9f;
  peakv va = (peakv)(a), vb = (peakv)(b);
  peakv x0 = (peakv)(s), x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f;
  peakv x4 = x0 + 4.0f, x5 = x0 + 5.0f, x6 = x0 + 6.0f, x7 = x0 + 7.0f;
  for (int i = 0; i < iters; i++) {
    x0 = fma(x0, va, vb); x1 = fma(x1, va, vb); x2 = fma(x2, va, vb); x3 = fma(x3, va, vb);
    x4 = fma(x4, va, vb); x5 = fma(x5, va, vb); x6 = fma(x6, va, vb); x7 = fma(x7, va, vb);
  }
  float t[PEAK_WIDTH];
  peak_store(((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), 0, t);
  float sum = 0.0f;
  for (int i = 0; i < PEAK_WIDTH; i++) sum += t[i];
  out[get_global_id(0)] = sum; /* keeps the chains alive */
}
