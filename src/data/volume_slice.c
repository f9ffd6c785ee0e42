/* Anatomical slices of a loaded volume: orientation from the volume's
 * axes, intensity windows, square pixels, and the PNGs `clgan slice` writes.
 * Conventions: include/clgan/volume.h. */
#include "clgan/volume.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/image.h"
#include "runtime/internal.h"

#define MAX_PNG_SIDE 16384
/* In-plane voxel sizes further apart than this are a broken header, not a
 * scan (real anisotropy stays below about 20). */
#define MAX_ANISOTROPY 1000.0
/* With a size, the square-pixel image and its padded square are at most
 * this on a side (64 MiB of floats), whatever the volume. */
#define MAX_WORK_SIDE 4096.0

/* ---- slices ------------------------------------------------------------ */

/* In-plane anatomical axes of a slice: columns, rows. All display axes run
 * against RAS: image left = R (or A for sagittal), image top = A or S. */
static void plane_axes(clgan_axis axis, int *col_anat, int *row_anat) {
  switch (axis) {
  case CLGAN_AXIS_AXIAL:
    *col_anat = 0;
    *row_anat = 1;
    break;
  case CLGAN_AXIS_CORONAL:
    *col_anat = 0;
    *row_anat = 2;
    break;
  default: /* sagittal */
    *col_anat = 1;
    *row_anat = 2;
    break;
  }
}

static int storage_axis(const clgan_volume *v, int anat) {
  for (int s = 0; s < 3; s++)
    if (v->axis_of[s] == anat) return s;
  return anat;
}

void clgan_volume_slice_shape(const clgan_volume *v, clgan_axis axis, int64_t *count,
                              int *width, int *height) {
  int ca, ra;
  plane_axes(axis, &ca, &ra);
  if (count) *count = v->dim[storage_axis(v, (int)axis)];
  if (width) *width = (int)v->dim[storage_axis(v, ca)];
  if (height) *height = (int)v->dim[storage_axis(v, ra)];
}

clgan_status clgan_volume_slice(const clgan_volume *v, clgan_axis axis, int64_t index,
                                float *out) {
  if (!v || !v->voxels || !out || (int)axis < 0 || (int)axis >= CLGAN_AXIS_COUNT)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_slice: invalid arguments");
  int ca, ra;
  plane_axes(axis, &ca, &ra);
  int sa = storage_axis(v, (int)axis), sc = storage_axis(v, ca), sr = storage_axis(v, ra);
  int64_t stride[3] = {1, v->dim[0], v->dim[0] * v->dim[1]};
  int64_t n = v->dim[sa];
  if (index < 0 || index >= n)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_slice: %s index %lld out of 0..%lld",
                      clgan_axis_name(axis), (long long)index, (long long)(n - 1));
  /* anatomical index u runs toward +axis; storage index = sign > 0 ? u : n-1-u.
   * Display position p runs toward -axis: u = n-1-p. */
  int64_t base = (v->sign[sa] > 0 ? index : n - 1 - index) * stride[sa];
  int64_t w = v->dim[sc], h = v->dim[sr];
  int64_t c0 = v->sign[sc] > 0 ? (w - 1) * stride[sc] : 0;
  int64_t cstep = v->sign[sc] > 0 ? -stride[sc] : stride[sc];
  int64_t r0 = v->sign[sr] > 0 ? (h - 1) * stride[sr] : 0;
  int64_t rstep = v->sign[sr] > 0 ? -stride[sr] : stride[sr];
  for (int64_t r = 0; r < h; r++) {
    const float *row = v->voxels + base + r0 + r * rstep + c0;
    float *o = out + r * w;
    for (int64_t c = 0; c < w; c++) o[c] = row[c * cstep];
  }
  return CLGAN_OK;
}

/* k-th smallest of a[0..n) (Wirth's selection; reorders a). */
static float select_kth(float *a, int64_t n, int64_t k) {
  int64_t l = 0, m = n - 1;
  while (l < m) {
    float x = a[k];
    int64_t i = l, j = m;
    do {
      while (a[i] < x) i++;
      while (x < a[j]) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) m = j;
  }
  return a[k];
}

static double percentile_of(float *a, int64_t n, double p) {
  double pos = p / 100.0 * (double)(n - 1);
  int64_t k = (int64_t)floor(pos);
  if (k < 0) k = 0;
  if (k > n - 1) k = n - 1;
  double frac = pos - (double)k;
  double lo = select_kth(a, n, k);
  if (frac <= 0 || k + 1 >= n) return lo;
  /* after selection everything right of k is >= a[k]: the next order statistic is their min */
  float next = a[k + 1];
  for (int64_t i = k + 2; i < n; i++)
    if (a[i] < next) next = a[i];
  return lo + frac * ((double)next - lo);
}

clgan_status clgan_volume_percentiles(const clgan_volume *v, double p_lo, double p_hi,
                                      float *lo, float *hi) {
  if (!v || !v->voxels || !lo || !hi || !(p_lo >= 0) || !(p_hi <= 100) || !(p_lo <= p_hi))
    return clgan_fail(CLGAN_ERR_INVALID,
                      "percentiles must satisfy 0 <= low <= high <= 100 (got %g, %g)", p_lo, p_hi);
  int64_t total = v->dim[0] * v->dim[1] * v->dim[2], n = 0;
  for (int64_t i = 0; i < total; i++) n += v->voxels[i] != 0.0f;
  if (n == 0) return clgan_fail(CLGAN_ERR_FORMAT, "every voxel of the volume is 0");
  float *a = malloc((size_t)n * sizeof(float));
  if (!a) return clgan_fail(CLGAN_ERR_NOMEM, "cannot allocate %lld floats", (long long)n);
  n = 0;
  for (int64_t i = 0; i < total; i++)
    if (v->voxels[i] != 0.0f) a[n++] = v->voxels[i];
  *lo = (float)percentile_of(a, n, p_lo);
  *hi = (float)percentile_of(a, n, p_hi);
  free(a);
  return CLGAN_OK;
}

clgan_slice_options clgan_slice_defaults(void) {
  clgan_slice_options o;
  memset(&o, 0, sizeof o);
  o.axes = 1u << CLGAN_AXIS_AXIAL;
  o.bits = 8;
  o.pct_lo = 0.5;
  o.pct_hi = 99.5;
  o.min_fraction = 0.15;
  return o;
}

/* Resamples n_in values at in[i * is] to n_out values at out[j * os]: area
 * averaging when shrinking, linear interpolation (pixel centres aligned)
 * when enlarging. */
static void resample_1d(const float *in, int64_t is, int n_in, float *out, int64_t os, int n_out) {
  if (n_in == n_out) {
    for (int j = 0; j < n_out; j++) out[j * os] = in[j * is];
    return;
  }
  double scale = (double)n_in / n_out;
  if (scale > 1.0) {
    for (int j = 0; j < n_out; j++) {
      double a = j * scale, b = (j + 1) * scale, sum = 0;
      int i0 = (int)floor(a), i1 = (int)ceil(b);
      if (i1 > n_in) i1 = n_in;
      for (int i = i0; i < i1; i++) {
        double lo = i > a ? i : a, hi = i + 1 < b ? i + 1 : b;
        if (hi > lo) sum += (hi - lo) * in[i * is];
      }
      out[j * os] = (float)(sum / scale);
    }
  } else {
    for (int j = 0; j < n_out; j++) {
      double x = (j + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      if (x > n_in - 1) x = n_in - 1;
      int i0 = (int)floor(x);
      int i1 = i0 + 1 < n_in ? i0 + 1 : i0;
      double t = x - i0;
      out[j * os] = (float)((1 - t) * in[i0 * is] + t * in[i1 * is]);
    }
  }
}

/* in[h][w] -> out[nh][nw]; tmp holds h * nw floats. */
static void resample_2d(const float *in, int w, int h, float *out, int nw, int nh, float *tmp) {
  for (int r = 0; r < h; r++) resample_1d(in + (int64_t)r * w, 1, w, tmp + (int64_t)r * nw, 1, nw);
  for (int c = 0; c < nw; c++) resample_1d(tmp + c, nw, h, out + c, nw, nh);
}

/* Geometry of one axis' output: native w x h, square-pixel sw x sh (with a
 * size: at most MAX_WORK_SIDE on a side), then (size > 0) padded to a
 * square and resized to out_w x out_h. */
typedef struct plane_geom {
  int w, h, sw, sh, side, out_w, out_h;
} plane_geom;

static clgan_status plane_geometry(const clgan_volume *v, clgan_axis axis, int size,
                                   plane_geom *g) {
  int ca, ra;
  plane_axes(axis, &ca, &ra);
  clgan_volume_slice_shape(v, axis, NULL, &g->w, &g->h);
  double pw = v->pixdim[storage_axis(v, ca)], ph = v->pixdim[storage_axis(v, ra)];
  double s = fmin(pw, ph), ratio = fmax(pw, ph) / s;
  if (!(ratio <= MAX_ANISOTROPY))
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s slices: voxels of %g x %g differ %.3g-fold in size (more than %g): "
                      "the header's voxel sizes (pixdim) are not plausible",
                      clgan_axis_name(axis), pw, ph, ratio, MAX_ANISOTROPY);
  /* square pixels: the finer voxel size along both axes */
  double sw = g->w, sh = g->h;
  if (fabs(pw - ph) > 1e-3 * fmax(pw, ph)) sw = round(g->w * pw / s), sh = round(g->h * ph / s);
  if (size > 0 && fmax(sw, sh) > MAX_WORK_SIDE) {
    /* it is only resized to size x size: a larger square-pixel image (and its
     * padded square) would cost memory, not detail */
    double k = MAX_WORK_SIDE / fmax(sw, sh);
    sw = round(sw * k), sh = round(sh * k);
  } else if (size == 0 && (sw > MAX_PNG_SIDE || sh > MAX_PNG_SIDE)) {
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s slices of %d x %d voxels of %g x %g would be %.0f x %.0f pixels "
                      "(more than %d on a side): pass a size",
                      clgan_axis_name(axis), g->w, g->h, pw, ph, sw, sh, MAX_PNG_SIDE);
  }
  g->sw = sw < 1 ? 1 : (int)sw;
  g->sh = sh < 1 ? 1 : (int)sh;
  g->side = g->sw > g->sh ? g->sw : g->sh;
  g->out_w = size > 0 ? size : g->sw;
  g->out_h = size > 0 ? size : g->sh;
  return CLGAN_OK;
}

static clgan_status check_slice_args(const clgan_volume *v, const char *dir, const char *name,
                                     const clgan_slice_options *opt) {
  if (!v || !v->voxels || !dir || !dir[0] || !name || !name[0] || !opt)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_write_slices: invalid arguments");
  if (opt->bits != 8 && opt->bits != 16)
    return clgan_fail(CLGAN_ERR_INVALID, "PNG bit depth must be 8 or 16 (got %d)", opt->bits);
  if (!(opt->min_fraction >= 0 && opt->min_fraction <= 1))
    return clgan_fail(CLGAN_ERR_INVALID, "min fraction must be in [0, 1] (got %g)",
                      opt->min_fraction);
  if (opt->size < 0 || opt->size > MAX_PNG_SIDE)
    return clgan_fail(CLGAN_ERR_INVALID, "size must be 0 (native) or 1..%d (got %d)",
                      MAX_PNG_SIDE, opt->size);
  if ((opt->axes & 7u) == 0) return clgan_fail(CLGAN_ERR_INVALID, "no axis selected");
  return CLGAN_OK;
}

/* The intensity window [lo, hi] into rep: explicit, else percentiles, else
 * (a constant-looking window, e.g. a mask) the full range. */
static clgan_status choose_window(const clgan_volume *v, const clgan_slice_options *opt,
                                  clgan_slice_report *rep) {
  float lo, hi;
  if (opt->explicit_window) {
    lo = opt->window_lo;
    hi = opt->window_hi;
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo))
      return clgan_fail(CLGAN_ERR_INVALID, "window %g,%g: need finite LOW < HIGH", lo, hi);
  } else {
    clgan_status st = clgan_volume_percentiles(v, opt->pct_lo, opt->pct_hi, &lo, &hi);
    if (st != CLGAN_OK) return st;
    if (!(hi > lo)) {
      /* e.g. a mask: every non-zero voxel equal; use the full range instead */
      int64_t total = v->dim[0] * v->dim[1] * v->dim[2];
      float mn = v->voxels[0], mx = v->voxels[0];
      for (int64_t i = 1; i < total; i++) {
        mn = fminf(mn, v->voxels[i]);
        mx = fmaxf(mx, v->voxels[i]);
      }
      if (!(mx > mn))
        return clgan_fail(CLGAN_ERR_FORMAT, "the volume is constant (%g): nothing to window", mn);
      lo = mn;
      hi = mx;
      rep->window_widened = 1;
    }
  }
  rep->window_lo = lo;
  rep->window_hi = hi;
  return CLGAN_OK;
}

/* One axis' working buffers: native slice [h][w], square pixels [sh][sw],
 * padded square [side][side], output [out_h][out_w], resampling scratch. */
typedef struct slice_bufs {
  float *slice, *sq, *pad, *out, *tmp;
} slice_bufs;

static void slice_bufs_free(slice_bufs *b) {
  free(b->slice);
  free(b->sq);
  free(b->pad);
  free(b->out);
  free(b->tmp);
}

/* Allocates b for g; returns the bytes asked for, or -1. The square-pixel
 * and padded images exist only when they differ from the native slice and
 * a size is asked for, respectively. */
static int64_t slice_bufs_alloc(slice_bufs *b, const plane_geom *g, int size) {
  size_t tmpn = (size_t)g->h * g->sw;
  if (size > 0 && (size_t)g->side * g->out_w > tmpn) tmpn = (size_t)g->side * g->out_w;
  int square = g->sw != g->w || g->sh != g->h;
  size_t n[5] = {(size_t)g->w * g->h, square ? (size_t)g->sw * g->sh : 1,
                 size > 0 ? (size_t)g->side * g->side : 1,
                 size > 0 ? (size_t)g->out_w * g->out_h : 1, tmpn};
  float **p[5] = {&b->slice, &b->sq, &b->pad, &b->out, &b->tmp};
  int64_t bytes = 0;
  for (int i = 0; i < 5; i++) {
    *p[i] = malloc(n[i] * sizeof(float));
    if (!*p[i]) return -1;
    bytes += (int64_t)(n[i] * sizeof(float));
  }
  return bytes;
}

/* The windowed image of b->slice at the output geometry (square pixels,
 * then padded and resized when a size is asked for). */
static const float *shape_slice(const plane_geom *g, int size, slice_bufs *b) {
  const float *img = b->slice;
  if (g->sw != g->w || g->sh != g->h) {
    resample_2d(b->slice, g->w, g->h, b->sq, g->sw, g->sh, b->tmp);
    img = b->sq;
  }
  if (size > 0) {
    size_t pad = (size_t)g->side * g->side;
    memset(b->pad, 0, pad * sizeof(float));
    int ox = (g->side - g->sw) / 2, oy = (g->side - g->sh) / 2;
    for (int r = 0; r < g->sh; r++)
      memcpy(b->pad + (size_t)(oy + r) * g->side + ox, img + (size_t)r * g->sw,
             (size_t)g->sw * sizeof(float));
    resample_2d(b->pad, g->side, g->side, b->out, g->out_w, g->out_h, b->tmp);
    img = b->out;
  }
  return img;
}

/* Digits of the slice index in the file names: 3 (the names of every axis
 * up to 999 slices), more for more slices, so that name order is slice
 * order (a DICOM series of 1200 slices: _0000 to _1199). */
static int index_digits(int64_t count) {
  int d = 3;
  for (int64_t n = 1000; n < count; n *= 10) d++;
  return d;
}

/* Every slice of one axis with enough voxels above the window's low end. */
static clgan_status write_axis(const clgan_volume *v, clgan_axis axis, const char *dir,
                               const char *name, const clgan_slice_options *opt,
                               clgan_slice_report *rep) {
  int a = (int)axis;
  plane_geom g;
  clgan_status st = plane_geometry(v, axis, opt->size, &g);
  if (st != CLGAN_OK) return st;
  int64_t count;
  clgan_volume_slice_shape(v, axis, &count, NULL, NULL);
  rep->width[a] = g.out_w;
  rep->height[a] = g.out_h;
  slice_bufs b = {0};
  rep->work_bytes[a] = slice_bufs_alloc(&b, &g, opt->size);
  if (rep->work_bytes[a] < 0) {
    slice_bufs_free(&b);
    return clgan_fail(CLGAN_ERR_NOMEM, "cannot allocate the buffers of %d x %d %s slices",
                      g.w, g.h, clgan_axis_name(axis));
  }
  int digits = index_digits(count);
  size_t native = (size_t)g.w * g.h;
  float lo = rep->window_lo, scale = 1.0f / (rep->window_hi - lo);
  for (int64_t idx = 0; idx < count && st == CLGAN_OK; idx++) {
    clgan_volume_slice(v, axis, idx, b.slice);
    size_t above = 0;
    for (size_t i = 0; i < native; i++) above += b.slice[i] > lo;
    if ((double)above < opt->min_fraction * (double)native) {
      rep->skipped[a]++;
      continue;
    }
    for (size_t i = 0; i < native; i++) {
      float t = (b.slice[i] - lo) * scale;
      b.slice[i] = t < 0 ? 0.0f : t > 1 ? 1.0f : t;
    }
    const float *img = shape_slice(&g, opt->size, &b);
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/%s_%s_%0*lld.png", dir, name, clgan_axis_name(axis),
                       digits, (long long)idx);
    if (len < 0 || len >= (int)sizeof path) {
      st = clgan_fail(CLGAN_ERR_INVALID, "output path too long in %s", dir);
      break;
    }
    st = clgan_png_write(path, g.out_w, g.out_h, 1, opt->bits, img);
    if (st == CLGAN_OK) rep->written[a]++;
  }
  slice_bufs_free(&b);
  return st;
}

clgan_status clgan_volume_write_slices(const clgan_volume *v, const char *dir, const char *name,
                                       const clgan_slice_options *opt,
                                       clgan_slice_report *report) {
  clgan_slice_report rep;
  memset(&rep, 0, sizeof rep);
  if (report) *report = rep;
  clgan_status st = check_slice_args(v, dir, name, opt);
  if (st == CLGAN_OK) st = choose_window(v, opt, &rep);
  if (st != CLGAN_OK) return st;
  /* every axis' geometry is checked before the folder or the first PNG is
   * made: a refused axis leaves no file behind */
  for (int a = 0; a < CLGAN_AXIS_COUNT && st == CLGAN_OK; a++) {
    plane_geom g;
    if (opt->axes & (1u << a)) st = plane_geometry(v, (clgan_axis)a, opt->size, &g);
  }
  if (st != CLGAN_OK) {
    if (report) *report = rep;
    return st;
  }
  if (clgan_make_dirs(dir) != CLGAN_OK) /* its message names the folder and the reason */
    return CLGAN_ERR_IO;
  for (int a = 0; a < CLGAN_AXIS_COUNT && st == CLGAN_OK; a++)
    if (opt->axes & (1u << a)) st = write_axis(v, (clgan_axis)a, dir, name, opt, &rep);
  if (report) *report = rep;
  return st;
}
