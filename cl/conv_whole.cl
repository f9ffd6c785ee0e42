/* The three products of a conv whose 4 x 4 kernel covers its whole image
 * (h = w = 4, pad 0, a 1 x 1 feature map: the DCGAN's first G layer and last
 * D layer; src/ops/conv_whole.c), each one launch. The adjoint:
 *   img[c, b, t] = sum over co of w[co, c, t] * feat[co, b]   (t: the 16 taps)
 * times act'(y[c, b, t]) where act is ReLU or LeakyReLU (cl/act.cl's
 * formulas), y indexed as img. Each (c, b) is one 16-float vector of img,
 * so there is no column matrix and no col2im: one launch.
 * Global (ceil(n / CLGAN_CONV_WHOLE_BLOCK), cin): one work-item per channel c and
 * CLGAN_CONV_WHOLE_BLOCK consecutive images, which share each w vector it loads. */

static inline float16 whole_dact(float16 g, float16 o, int act, float slope) {
  if (act == CLGAN_ACT_RELU) return o > 0.0f ? g : (float16)(0.0f);
  if (act == CLGAN_ACT_LEAKY_RELU) return o > 0.0f ? g : g * slope;
  return g;
}

__kernel void conv_whole_adjoint(int cin, int cout, int n, __global const float *restrict feat,
                                 uint feat_off, __global const float *restrict w, uint w_off,
                                 __global float *restrict img, uint img_off,
                                 __global const float *restrict act_y, uint act_y_off, int act,
                                 float slope) {
  const int b0 = get_global_id(0) * CLGAN_CONV_WHOLE_BLOCK, c = get_global_id(1);
  if (b0 >= n || c >= cin) return;
  const int nb = min(CLGAN_CONV_WHOLE_BLOCK, n - b0);
  float16 acc[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) acc[j] = (float16)(0.0f);
  __global const float *wc = w + w_off + (size_t)c * 16;
  __global const float *f = feat + feat_off;
  /* a last, shorter block reads its last image again in the missing
   * places and stores only its own: the accumulators stay registers
   * (indexed by constants only) */
  int bj[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) bj[j] = min(b0 + j, n - 1);
  for (int co = 0; co < cout; co++) {
    const float16 wv = vload16(0, wc + (size_t)co * cin * 16);
    __global const float *fc = f + (size_t)co * n;
#pragma unroll
    for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) acc[j] = fma((float16)(fc[bj[j]]), wv, acc[j]);
  }
  const size_t at = ((size_t)c * n + b0) * 16;
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) {
    if (j >= nb) continue;
    float16 g = acc[j];
    if (act != CLGAN_ACT_NONE)
      g = whole_dact(g, vload16(0, act_y + act_y_off + at + 16 * j), act, slope);
    vstore16(g, 0, img + img_off + at + 16 * j);
  }
}

/* The forward of such a conv, feat[co, b] = sum over c, t of
 * w[co, c, t] * img[c, b, t], then act (cl/act.cl's ReLU or LeakyReLU;
 * CLGAN_ACT_NONE: none). Global (ceil(n / CLGAN_CONV_WHOLE_BLOCK), cout): one
 * work-item per feature channel and CLGAN_CONV_WHOLE_BLOCK images, 16 lanes of
 * partial sums each, added up at the end. */
__kernel void conv_whole_forward(int cin, int cout, int n, __global const float *restrict img,
                                 uint img_off, __global const float *restrict w, uint w_off,
                                 __global float *restrict feat, uint feat_off, int act,
                                 float slope) {
  const int b0 = get_global_id(0) * CLGAN_CONV_WHOLE_BLOCK, co = get_global_id(1);
  if (b0 >= n || co >= cout) return;
  const int nb = min(CLGAN_CONV_WHOLE_BLOCK, n - b0);
  float16 acc[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) acc[j] = (float16)(0.0f);
  int bj[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) bj[j] = min(b0 + j, n - 1);
  __global const float *wr = w + w_off + (size_t)co * cin * 16;
  __global const float *x = img + img_off;
  for (int c = 0; c < cin; c++) {
    const float16 wv = vload16(c, wr);
    __global const float *xc = x + (size_t)c * n * 16;
#pragma unroll
    for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) acc[j] = fma(vload16(bj[j], xc), wv, acc[j]);
  }
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) {
    if (j >= nb) continue;
    float8 h8 = acc[j].lo + acc[j].hi;
    float4 h4 = h8.lo + h8.hi;
    float v = (h4.x + h4.y) + (h4.z + h4.w);
    if (act == CLGAN_ACT_RELU) v = v < 0.0f ? 0.0f : v;
    else if (act == CLGAN_ACT_LEAKY_RELU) v = v > 0.0f ? v : v * slope;
    feat[feat_off + (size_t)co * n + b0 + j] = v;
  }
}

/* The weight gradient of such a conv, dw[co, c, t] (+)= sum over b of
 * feat[co, b] * img[c, b, t] (beta 1: added to dw, 0: replacing it).
 * Global (ceil(cout / CLGAN_CONV_WHOLE_BLOCK), cin): one work-item per image-side
 * channel and CLGAN_CONV_WHOLE_BLOCK feature channels, which share each img vector. */
__kernel void conv_whole_filter(int cin, int cout, int n, __global const float *restrict img,
                                uint img_off, __global const float *restrict feat, uint feat_off,
                                __global float *restrict dw, uint dw_off, float beta) {
  const int co0 = get_global_id(0) * CLGAN_CONV_WHOLE_BLOCK, c = get_global_id(1);
  if (co0 >= cout || c >= cin) return;
  const int nco = min(CLGAN_CONV_WHOLE_BLOCK, cout - co0);
  float16 acc[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) acc[j] = (float16)(0.0f);
  int cj[CLGAN_CONV_WHOLE_BLOCK];
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) cj[j] = min(co0 + j, cout - 1);
  __global const float *xc = img + img_off + (size_t)c * n * 16;
  __global const float *f = feat + feat_off;
  for (int b = 0; b < n; b++) {
    const float16 xv = vload16(b, xc);
#pragma unroll
    for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++)
      acc[j] = fma((float16)(f[(size_t)cj[j] * n + b]), xv, acc[j]);
  }
#pragma unroll
  for (int j = 0; j < CLGAN_CONV_WHOLE_BLOCK; j++) {
    if (j >= nco) continue;
    __global float *o = dw + dw_off + ((size_t)(co0 + j) * cin + c) * 16;
    vstore16(beta != 0.0f ? acc[j] + beta * vload16(0, o) : acc[j], 0, o);
  }
}
