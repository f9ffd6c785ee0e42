/* Resize + centre crop of one decoded image, the transform every dataset and
 * metrics image goes through (clgan_image_resize_crop, clgan/dataset.h):
 * shorter side to `size` (area averaging when shrinking, bilinear when
 * growing, torchvision's Resize), centre crop, channel conversion. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/dataset.h"
#include "runtime/internal.h"

#define MAX_IMAGE_SIZE 65536

/* ---- resize and crop -------------------------------------------------- */

/* Taps of a 1-D resampling from n source samples to m (the resized length),
 * for the `size` outputs starting at offset `off` of the resized axis:
 * output j reads src[start[j] + t] * w[j * stride + t] for t < count[j]. */
typedef struct taps {
  int stride;
  int *start, *count;
  double *w;
} taps;

static void taps_free(taps *t) {
  free(t->start);
  free(t->count);
  free(t->w);
}

static int taps_make(taps *t, int n, int m, int off, int size) {
  memset(t, 0, sizeof *t);
  t->stride = m < n ? n / m + 2 : 2;
  t->start = malloc((size_t)size * sizeof *t->start);
  t->count = malloc((size_t)size * sizeof *t->count);
  t->w = calloc((size_t)size * (size_t)t->stride, sizeof *t->w);
  if (!t->start || !t->count || !t->w) {
    taps_free(t);
    return -1;
  }
  for (int j = 0; j < size; j++) {
    int64_t J = (int64_t)j + off; /* index on the resized axis */
    double *w = t->w + (size_t)j * t->stride;
    if (m == n) {
      t->start[j] = (int)J;
      t->count[j] = 1;
      w[0] = 1.0;
    } else if (m < n) {
      /* area averaging: output J covers source [J*n/m, (J+1)*n/m); in units
       * of 1/m that is [J*n, (J+1)*n) and source pixel i is [i*m, (i+1)*m),
       * so every overlap is an exact integer */
      int64_t a = J * n, b = (J + 1) * n;
      int64_t i0 = a / m, i1 = (b - 1) / m;
      t->start[j] = (int)i0;
      t->count[j] = (int)(i1 - i0 + 1);
      for (int64_t i = i0; i <= i1; i++) {
        int64_t lo = i * m > a ? i * m : a, hi = (i + 1) * m < b ? (i + 1) * m : b;
        w[i - i0] = (double)(hi - lo) / (double)n;
      }
    } else {
      /* bilinear, half-pixel centres, clamped at the edges */
      double src = ((double)J + 0.5) * n / m - 0.5;
      if (src < 0.0) src = 0.0;
      int i0 = (int)src;
      double f = src - i0;
      if (i0 >= n - 1) {
        i0 = n - 1;
        f = 0.0;
      }
      t->start[j] = i0;
      if (f > 0.0) {
        t->count[j] = 2;
        w[0] = 1.0 - f;
        w[1] = f;
      } else {
        t->count[j] = 1;
        w[0] = 1.0;
      }
    }
  }
  return 0;
}

/* Python's round(d / 2.0) for d >= 0: half to even. */
static int center_offset(int d) {
  int q = d / 2;
  if ((d & 1) && (q & 1)) q++;
  return q;
}

/* planes[k][npix]: the image's pixels as np planes (1: grey, taken as is or
 * by ITU-R 601 luma; 3: RGB), alpha dropped. */
static void to_planes(const clgan_image *img, int np, float *planes) {
  const int c = img->channels;
  const size_t npix = (size_t)img->width * (size_t)img->height;
  const float *px = img->pixels;
  if (c <= 2) {
    for (size_t i = 0; i < npix; i++) planes[i] = px[i * c];
  } else if (np == 1) {
    for (size_t i = 0; i < npix; i++) {
      const float *p = px + i * c;
      planes[i] = (float)((p[0] * 299.0 + p[1] * 587.0 + p[2] * 114.0) / 1000.0);
    }
  } else {
    for (size_t i = 0; i < npix; i++)
      for (int k = 0; k < 3; k++) planes[k * npix + i] = px[i * c + k];
  }
}

/* One plane src[h][w] through the separable taps into o[size][size]: the
 * horizontal pass over rows [y0, y0 + rows) into tmp[rows][size], then the
 * vertical pass. */
static void resample_plane(const float *src, int w, const taps *tx, const taps *ty, int y0,
                           int rows, int size, double *tmp, float *o) {
  for (int y = y0; y < y0 + rows; y++) {
    const float *row = src + (size_t)y * w;
    double *trow = tmp + (size_t)(y - y0) * size;
    for (int j = 0; j < size; j++) {
      const double *wt = tx->w + (size_t)j * tx->stride;
      const float *s = row + tx->start[j];
      double acc = 0.0;
      for (int t = 0; t < tx->count[j]; t++) acc += wt[t] * s[t];
      trow[j] = acc;
    }
  }
  for (int i = 0; i < size; i++) {
    const double *wt = ty->w + (size_t)i * ty->stride;
    const double *base = tmp + (size_t)(ty->start[i] - y0) * size;
    for (int j = 0; j < size; j++) {
      double acc = 0.0;
      for (int t = 0; t < ty->count[i]; t++) acc += wt[t] * base[(size_t)t * size + j];
      o[(size_t)i * size + j] = (float)acc;
    }
  }
}

static clgan_status check_resize(const clgan_image *img, int size, int channels,
                                 const float *out) {
  if (!img || !img->pixels || !out)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: NULL image or output");
  if (img->width <= 0 || img->height <= 0 || img->channels < 1 || img->channels > 4)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: bad image %dx%d, %d channels",
                      img->width, img->height, img->channels);
  if (size < 1 || size > MAX_IMAGE_SIZE)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: size %d out of range (1..%d)",
                      size, MAX_IMAGE_SIZE);
  if (channels != 1 && channels != 3)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: %d channels (1 or 3)",
                      channels);
  return CLGAN_OK;
}

clgan_status clgan_image_resize_crop(const clgan_image *img, int size, int channels,
                                     float *out) {
  clgan_status st = check_resize(img, size, channels, out);
  if (st != CLGAN_OK) return st;
  const int w = img->width, h = img->height;
  /* resized size: shorter side = size, longer = floor(size * long / short) */
  int64_t rw64 = size, rh64 = size;
  if (w <= h)
    rh64 = (int64_t)size * h / w;
  else
    rw64 = (int64_t)size * w / h;
  if (rw64 > INT32_MAX || rh64 > INT32_MAX)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "clgan_image_resize_crop: %dx%d image too elongated to resize to %d", w, h,
                      size);
  const int rw = (int)rw64, rh = (int)rh64;
  int top = center_offset(rh - size), left = center_offset(rw - size);

  /* source planes after channel conversion (alpha dropped) */
  int np = (channels == 1 || img->channels <= 2) ? 1 : 3;
  size_t npix = (size_t)w * (size_t)h;
  float *planes = malloc(npix * (size_t)np * sizeof *planes);
  double *tmp = NULL;
  taps tx, ty;
  memset(&tx, 0, sizeof tx);
  memset(&ty, 0, sizeof ty);
  int y0 = 0, y1 = 0; /* rows [y0, y1) of the source the vertical taps read */
  if (planes && taps_make(&tx, w, rw, left, size) == 0 && taps_make(&ty, h, rh, top, size) == 0) {
    y0 = ty.start[0], y1 = ty.start[size - 1] + ty.count[size - 1];
    tmp = malloc((size_t)(y1 - y0) * (size_t)size * sizeof *tmp);
  }
  if (!tmp) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "clgan_image_resize_crop: out of memory (%dx%d image)", w, h);
  } else {
    to_planes(img, np, planes);
    size_t out_plane = (size_t)size * size;
    for (int k = 0; k < np; k++)
      resample_plane(planes + (size_t)k * npix, w, &tx, &ty, y0, y1 - y0, size, tmp,
                     out + (size_t)k * out_plane);
    if (channels == 3 && np == 1) {
      memcpy(out + out_plane, out, out_plane * sizeof *out);
      memcpy(out + 2 * out_plane, out, out_plane * sizeof *out);
    }
  }
  taps_free(&tx);
  taps_free(&ty);
  free(tmp);
  free(planes);
  return st;
}
