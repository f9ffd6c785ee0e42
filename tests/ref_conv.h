/* Plain C reference convolutions (direct loops, double accumulation) for the
 * conv tests. Layouts are the engine's: activations (C, N, H, W), Conv2d
 * weight [cout, cin, k, k], ConvTranspose2d weight [cin, cout, k, k]. Every
 * function writes its whole output (gradients are overwritten). */
#ifndef CLGAN_TEST_REF_CONV_H
#define CLGAN_TEST_REF_CONV_H

#include <stddef.h>

/* Conv2d geometry in its own terms. */
typedef struct ref_conv {
  int n, cin, h, w, cout, ho, wo, k, s, p;
} ref_conv;

/* Conv2d over x [cin, n, h, w]: ho = (h + 2p - k)/s + 1. */
ref_conv ref_conv_make(int n, int cin, int h, int w, int cout, int k, int s, int p);
/* y [cout, n, ho, wo] = conv(x, wt). */
void ref_conv2d_forward(const ref_conv *g, const float *x, const float *wt, float *y);
/* dx [cin, n, h, w] from dy. */
void ref_conv2d_backward_data(const ref_conv *g, const float *dy, const float *wt, float *dx);
/* dw [cout, cin, k, k] from x and dy. */
void ref_conv2d_backward_filter(const ref_conv *g, const float *x, const float *dy, float *dw);

/* ConvTranspose2d geometry in its own terms: input [cin, n, h, w], output
 * [cout, n, ho, wo] with ho = (h - 1)*s - 2p + k. */
ref_conv ref_convt_make(int n, int cin, int h, int w, int cout, int k, int s, int p);
/* y [cout, n, ho, wo] = convT(x [cin, n, h, w], wt [cin, cout, k, k]), by the
 * scatter definition y[co, b, iy*s - p + i, ix*s - p + j] += x[ci, b, iy, ix] * wt[ci, co, i, j].
 */
void ref_convt2d_forward(const ref_conv *g, const float *x, const float *wt, float *y);
/* dx [cin, n, h, w] from dy [cout, n, ho, wo]. */
void ref_convt2d_backward_data(const ref_conv *g, const float *dy, const float *wt, float *dx);
/* dw [cin, cout, k, k] from x and dy. */
void ref_convt2d_backward_filter(const ref_conv *g, const float *x, const float *dy, float *dw);

/* Dot product in double. */
double ref_dot(const float *a, const float *b, size_t n);

#endif
