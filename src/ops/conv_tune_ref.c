/* The tuner's host reference for small shapes: the three products of the
 * conv core computed directly, in double, from the same inputs the device
 * runs on, so that the default variant (the reference every candidate is
 * compared with) is itself checked before a search relies on it.
 * Layouts as everywhere: x [cin, n, h, w], dy [cout, n, ho, wo],
 * w [cout, cin, k, k]. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/conv_tune.h"

int conv_tune_ref_small(const clgan_conv_shape *s) {
  uint64_t macs = conv_feat_floats(s) * (uint64_t)s->cin * s->k * s->k;
  return macs <= CONV_TUNE_REF_MAX_MACS;
}

/* Every (output pixel, tap) pair once: the forward gathers into y, the
 * backward data scatters into dx, the weight gradient sums into dw. */
static void products(const clgan_conv_shape *s, int product, const float *x, const float *dy,
                     const float *w, double *out) {
  const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->ho * s->wo, kk = (size_t)s->k * s->k;
  for (int co = 0; co < s->cout; co++)
    for (int b = 0; b < s->n; b++)
      for (int oy = 0; oy < s->ho; oy++)
        for (int ox = 0; ox < s->wo; ox++) {
          size_t fo = ((size_t)co * s->n + b) * ohw + (size_t)oy * s->wo + ox;
          for (int ci = 0; ci < s->cin; ci++)
            for (int ki = 0; ki < s->k; ki++) {
              int iy = oy * s->stride - s->pad + ki;
              if (iy < 0 || iy >= s->h) continue;
              for (int kj = 0; kj < s->k; kj++) {
                int ix = ox * s->stride - s->pad + kj;
                if (ix < 0 || ix >= s->w) continue;
                size_t xi = ((size_t)ci * s->n + b) * hw + (size_t)iy * s->w + ix;
                size_t wi = ((size_t)co * s->cin + ci) * kk + (size_t)ki * s->k + kj;
                if (product == CONV_FWD) out[fo] += (double)w[wi] * x[xi];
                else if (product == CONV_ADJ) out[xi] += (double)w[wi] * dy[fo];
                else out[wi] += (double)dy[fo] * x[xi];
              }
            }
        }
}

clgan_status conv_tune_ref(const clgan_conv_shape *s, int product, const float *x,
                           const float *dy, const float *w, float *out) {
  size_t n = product == CONV_FWD   ? conv_feat_floats(s)
             : product == CONV_ADJ ? conv_img_floats(s)
                                   : conv_weight_floats(s);
  double *acc = calloc(n ? n : 1, sizeof *acc);
  if (!acc) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory (tuner reference)");
  products(s, product, x, dy, w, acc);
  for (size_t i = 0; i < n; i++) out[i] = (float)acc[i];
  free(acc);
  return CLGAN_OK;
}
