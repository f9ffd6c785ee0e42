/* The adjoint of a conv whose 4 x 4 kernel covers its whole image (h = w = 4,
 * pad 0, a 1 x 1 feature map: the DCGAN's first G layer and last D layer;
 * src/ops/conv_whole.c):
 *   img[c, b, t] = sum over co of w[co, c, t] * feat[co, b]   (t: the 16 taps)
 * times act'(y[c, b, t]) where act is ReLU or LeakyReLU (cl/act.cl's
 * formulas), y indexed as img. Each (c, b) is one 16-float vector of img,
 * so there is no column matrix and no col2im: one launch.
 * Global (ceil(n / WHOLE_IMAGES), cin): one work-item per channel c and
 * WHOLE_IMAGES consecutive images, which share each w vector it loads. */
#define WHOLE_IMAGES 8

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
  const int b0 = get_global_id(0) * WHOLE_IMAGES, c = get_global_id(1);
  if (b0 >= n || c >= cin) return;
  const int nb = min(WHOLE_IMAGES, n - b0);
  float16 acc[WHOLE_IMAGES];
#pragma unroll
  for (int j = 0; j < WHOLE_IMAGES; j++) acc[j] = (float16)(0.0f);
  __global const float *wc = w + w_off + (size_t)c * 16;
  __global const float *f = feat + feat_off;
  /* a last, shorter block reads its last image again in the missing
   * places and stores only its own: the accumulators stay registers
   * (indexed by constants only) */
  int bj[WHOLE_IMAGES];
#pragma unroll
  for (int j = 0; j < WHOLE_IMAGES; j++) bj[j] = min(b0 + j, n - 1);
  for (int co = 0; co < cout; co++) {
    const float16 wv = vload16(0, wc + (size_t)co * cin * 16);
    __global const float *fc = f + (size_t)co * n;
#pragma unroll
    for (int j = 0; j < WHOLE_IMAGES; j++) acc[j] = fma((float16)(fc[bj[j]]), wv, acc[j]);
  }
  const size_t at = ((size_t)c * n + b0) * 16;
#pragma unroll
  for (int j = 0; j < WHOLE_IMAGES; j++) {
    if (j >= nb) continue;
    float16 g = acc[j];
    if (act != CLGAN_ACT_NONE)
      g = whole_dact(g, vload16(0, act_y + act_y_off + at + 16 * j), act, slope);
    vstore16(g, 0, img + img_off + at + 16 * j);
  }
}
