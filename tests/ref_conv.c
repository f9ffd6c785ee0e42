/* Reference convolutions: the textbook loops, accumulated in double. */
#include "ref_conv.h"

#include <stddef.h>
#include <stdlib.h>

ref_conv ref_conv_make(int n, int cin, int h, int w, int cout, int k, int s, int p) {
  ref_conv g = {n, cin, h, w, cout, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, k, s, p};
  return g;
}

ref_conv ref_convt_make(int n, int cin, int h, int w, int cout, int k, int s, int p) {
  ref_conv g = {n, cin, h, w, cout, (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k, k, s, p};
  return g;
}

/* Element offsets. */
#define ACT(c, b, y, x, N, H, W) ((((size_t)(c) * (N) + (b)) * (H) + (y)) * (W) + (x))
#define WGT(o, i, y, x, I, K) ((((size_t)(o) * (I) + (i)) * (K) + (y)) * (K) + (x))

void ref_conv2d_forward(const ref_conv *g, const float *x, const float *wt, float *y) {
  for (int co = 0; co < g->cout; co++)
    for (int b = 0; b < g->n; b++)
      for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
          double acc = 0;
          for (int ci = 0; ci < g->cin; ci++)
            for (int i = 0; i < g->k; i++)
              for (int j = 0; j < g->k; j++) {
                int iy = oy * g->s - g->p + i, ix = ox * g->s - g->p + j;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                acc += (double)x[ACT(ci, b, iy, ix, g->n, g->h, g->w)] *
                       wt[WGT(co, ci, i, j, g->cin, g->k)];
              }
          y[ACT(co, b, oy, ox, g->n, g->ho, g->wo)] = (float)acc;
        }
}

void ref_conv2d_backward_data(const ref_conv *g, const float *dy, const float *wt, float *dx) {
  size_t nx = (size_t)g->cin * g->n * g->h * g->w;
  double *acc = calloc(nx, sizeof *acc);
  if (!acc) abort();
  for (int co = 0; co < g->cout; co++)
    for (int b = 0; b < g->n; b++)
      for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
          double d = dy[ACT(co, b, oy, ox, g->n, g->ho, g->wo)];
          for (int ci = 0; ci < g->cin; ci++)
            for (int i = 0; i < g->k; i++)
              for (int j = 0; j < g->k; j++) {
                int iy = oy * g->s - g->p + i, ix = ox * g->s - g->p + j;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                acc[ACT(ci, b, iy, ix, g->n, g->h, g->w)] +=
                    d * wt[WGT(co, ci, i, j, g->cin, g->k)];
              }
        }
  for (size_t e = 0; e < nx; e++) dx[e] = (float)acc[e];
  free(acc);
}

void ref_conv2d_backward_filter(const ref_conv *g, const float *x, const float *dy, float *dw) {
  for (int co = 0; co < g->cout; co++)
    for (int ci = 0; ci < g->cin; ci++)
      for (int i = 0; i < g->k; i++)
        for (int j = 0; j < g->k; j++) {
          double acc = 0;
          for (int b = 0; b < g->n; b++)
            for (int oy = 0; oy < g->ho; oy++)
              for (int ox = 0; ox < g->wo; ox++) {
                int iy = oy * g->s - g->p + i, ix = ox * g->s - g->p + j;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                acc += (double)dy[ACT(co, b, oy, ox, g->n, g->ho, g->wo)] *
                       x[ACT(ci, b, iy, ix, g->n, g->h, g->w)];
              }
          dw[WGT(co, ci, i, j, g->cin, g->k)] = (float)acc;
        }
}

void ref_convt2d_forward(const ref_conv *g, const float *x, const float *wt, float *y) {
  size_t ny = (size_t)g->cout * g->n * g->ho * g->wo;
  double *acc = calloc(ny, sizeof *acc);
  if (!acc) abort();
  for (int ci = 0; ci < g->cin; ci++)
    for (int b = 0; b < g->n; b++)
      for (int iy = 0; iy < g->h; iy++)
        for (int ix = 0; ix < g->w; ix++) {
          double v = x[ACT(ci, b, iy, ix, g->n, g->h, g->w)];
          for (int co = 0; co < g->cout; co++)
            for (int i = 0; i < g->k; i++)
              for (int j = 0; j < g->k; j++) {
                int oy = iy * g->s - g->p + i, ox = ix * g->s - g->p + j;
                if (oy < 0 || oy >= g->ho || ox < 0 || ox >= g->wo) continue;
                acc[ACT(co, b, oy, ox, g->n, g->ho, g->wo)] +=
                    v * wt[WGT(ci, co, i, j, g->cout, g->k)];
              }
        }
  for (size_t e = 0; e < ny; e++) y[e] = (float)acc[e];
  free(acc);
}

void ref_convt2d_backward_data(const ref_conv *g, const float *dy, const float *wt, float *dx) {
  for (int ci = 0; ci < g->cin; ci++)
    for (int b = 0; b < g->n; b++)
      for (int iy = 0; iy < g->h; iy++)
        for (int ix = 0; ix < g->w; ix++) {
          double acc = 0;
          for (int co = 0; co < g->cout; co++)
            for (int i = 0; i < g->k; i++)
              for (int j = 0; j < g->k; j++) {
                int oy = iy * g->s - g->p + i, ox = ix * g->s - g->p + j;
                if (oy < 0 || oy >= g->ho || ox < 0 || ox >= g->wo) continue;
                acc += (double)dy[ACT(co, b, oy, ox, g->n, g->ho, g->wo)] *
                       wt[WGT(ci, co, i, j, g->cout, g->k)];
              }
          dx[ACT(ci, b, iy, ix, g->n, g->h, g->w)] = (float)acc;
        }
}

void ref_convt2d_backward_filter(const ref_conv *g, const float *x, const float *dy, float *dw) {
  for (int ci = 0; ci < g->cin; ci++)
    for (int co = 0; co < g->cout; co++)
      for (int i = 0; i < g->k; i++)
        for (int j = 0; j < g->k; j++) {
          double acc = 0;
          for (int b = 0; b < g->n; b++)
            for (int iy = 0; iy < g->h; iy++)
              for (int ix = 0; ix < g->w; ix++) {
                int oy = iy * g->s - g->p + i, ox = ix * g->s - g->p + j;
                if (oy < 0 || oy >= g->ho || ox < 0 || ox >= g->wo) continue;
                acc += (double)x[ACT(ci, b, iy, ix, g->n, g->h, g->w)] *
                       dy[ACT(co, b, oy, ox, g->n, g->ho, g->wo)];
              }
          dw[WGT(ci, co, i, j, g->cout, g->k)] = (float)acc;
        }
}

double ref_dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}
