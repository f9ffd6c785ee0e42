/* A DICOM series as a clgan_volume: the slices in series order, voxel sizes
 * from PixelSpacing and the positions, the orientation from the direction
 * cosines (DICOM's LPS patient axes turned into clgan's RAS). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/dicom.h"
#include "runtime/internal.h"

/* The three storage axes' directions in LPS: rows (i), columns (j), the
 * slice normal (k). Without an orientation: the patient's x, y, z. */
static void storage_axes(const clgan_dicom_image *im, double dir[3][3]) {
  static const double identity[6] = {1, 0, 0, 0, 1, 0};
  const double *o = im->has_orientation ? im->orientation : identity;
  for (int a = 0; a < 3; a++) dir[0][a] = o[a], dir[1][a] = o[3 + a];
  dir[2][0] = o[1] * o[5] - o[2] * o[4];
  dir[2][1] = o[2] * o[3] - o[0] * o[5];
  dir[2][2] = o[0] * o[4] - o[1] * o[3];
}

/* Each storage axis to the anatomical axis it runs closest to (greedily,
 * largest cosine first, so that oblique series still get three distinct
 * axes), with the sign in RAS (R = -x, A = -y, S = +z of LPS). */
static void orient(const double dir[3][3], clgan_volume *v) {
  static const double ras[3] = {-1, -1, 1};
  int used_s[3] = {0}, used_a[3] = {0};
  for (int round = 0; round < 3; round++) {
    int bs = -1, ba = -1;
    double best = -1;
    for (int s = 0; s < 3; s++)
      for (int a = 0; a < 3; a++)
        if (!used_s[s] && !used_a[a] && fabs(dir[s][a]) > best) best = fabs(dir[s][a]), bs = s, ba = a;
    used_s[bs] = used_a[ba] = 1;
    v->axis_of[bs] = ba;
    v->sign[bs] = ras[ba] * dir[bs][ba] >= 0 ? 1 : -1;
  }
  static const char plus[3] = {'R', 'A', 'S'}, minus[3] = {'L', 'P', 'I'};
  for (int s = 0; s < 3; s++) v->orient[s] = v->sign[s] > 0 ? plus[v->axis_of[s]] : minus[v->axis_of[s]];
  v->orient[3] = '\0';
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Slice spacing: the median distance between consecutive slice positions
 * along the normal; else SliceThickness; else 1. */
static double slice_spacing(const double *along, int n, double thickness) {
  if (along && n > 1) {
    double *d = malloc(sizeof *d * (size_t)(n - 1));
    if (d) {
      for (int i = 0; i + 1 < n; i++) d[i] = fabs(along[i + 1] - along[i]);
      qsort(d, (size_t)(n - 1), sizeof *d, cmp_double);
      double m = d[(n - 1) / 2];
      free(d);
      if (m > 1e-6 && isfinite(m)) return m;
    }
  }
  return thickness > 0 ? thickness : 1.0;
}

static int same_geometry(const clgan_dicom_image *a, const clgan_dicom_image *b) {
  if (a->rows != b->rows || a->cols != b->cols || a->has_orientation != b->has_orientation)
    return 0;
  for (int i = 0; i < 6 && a->has_orientation; i++)
    if (fabs(a->orientation[i] - b->orientation[i]) > 1e-3) return 0;
  return 1;
}

/* The series' slices: total frames, and each slice's position along the
 * normal (NULL unless every slice has one). */
typedef struct slices {
  int count;
  double *along;
} slices;

static void add_along(slices *sl, const clgan_dicom_image *im, const double n[3], int frame) {
  const double *p = im->frame_positions ? im->frame_positions + 3 * frame : im->position;
  if (sl->along) sl->along[sl->count] = p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
}

static clgan_status read_slices(const clgan_dicom_series *s, const clgan_dicom_image *first,
                                const double normal[3], clgan_volume *v, slices *sl) {
  size_t plane = (size_t)first->rows * first->cols;
  clgan_status st = CLGAN_OK;
  int cap = 0;
  for (int f = 0; f < s->count && st == CLGAN_OK; f++) {
    clgan_dicom_image im;
    st = clgan_dicom_read(s->paths[f], 1, &im);
    if (st != CLGAN_OK) break;
    if (!same_geometry(first, &im))
      st = clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: its size or orientation differs from the series' first image %s",
                      s->paths[f], s->paths[0]);
    if (st == CLGAN_OK && sl->count + im.frames > cap) {
      cap = 2 * (sl->count + im.frames);
      float *vox = realloc(v->voxels, sizeof(float) * plane * (size_t)cap);
      double *al = sl->along ? realloc(sl->along, sizeof(double) * (size_t)cap) : NULL;
      if (!vox || (sl->along && !al)) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory reading %s", s->paths[f]);
      if (vox) v->voxels = vox;
      if (al) sl->along = al;
    }
    for (int k = 0; st == CLGAN_OK && k < im.frames; k++) {
      if (!im.has_position && !im.frame_positions) free(sl->along), sl->along = NULL;
      add_along(sl, &im, normal, k);
      memcpy(v->voxels + plane * (size_t)sl->count++, im.pixels + plane * (size_t)k,
             sizeof(float) * plane);
    }
    clgan_dicom_image_free(&im);
  }
  return st;
}

/* A single multi-frame file's frames in the order of their positions along
 * the normal (they may be stored in any order). */
static clgan_status sort_frames(clgan_volume *v, slices *sl, size_t plane) {
  if (!sl->along || sl->count < 2) return CLGAN_OK;
  int sorted = 1;
  for (int k = 0; k + 1 < sl->count; k++) sorted &= sl->along[k] <= sl->along[k + 1];
  if (sorted) return CLGAN_OK;
  float *copy = malloc(sizeof(float) * plane * (size_t)sl->count);
  if (!copy) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  memcpy(copy, v->voxels, sizeof(float) * plane * (size_t)sl->count);
  for (int k = 0; k < sl->count; k++) { /* selection by rank: frames are few */
    int rank = 0;
    for (int j = 0; j < sl->count; j++)
      rank += sl->along[j] < sl->along[k] || (sl->along[j] == sl->along[k] && j < k);
    memcpy(v->voxels + plane * (size_t)rank, copy + plane * (size_t)k, sizeof(float) * plane);
  }
  free(copy);
  qsort(sl->along, (size_t)sl->count, sizeof *sl->along, cmp_double);
  return CLGAN_OK;
}

static void fill_volume(clgan_volume *v, const clgan_dicom_image *first, const slices *sl) {
  double dir[3][3];
  storage_axes(first, dir);
  v->dim[0] = first->cols;
  v->dim[1] = first->rows;
  v->dim[2] = sl->count;
  v->pixdim[0] = first->spacing[1]; /* between columns: along i */
  v->pixdim[1] = first->spacing[0]; /* between rows: along j */
  v->pixdim[2] = slice_spacing(sl->along, sl->count, first->slice_thickness);
  orient(dir, v);
  v->xform = first->has_orientation ? 2 : 0;
  v->nifti_version = -1; /* DICOM */
  v->frames = 1;
  v->scl_slope = first->rescale_slope;
  v->scl_inter = first->rescale_intercept;
  size_t n = (size_t)v->dim[0] * v->dim[1] * v->dim[2];
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v->voxels[i])) v->voxels[i] = 0, v->nonfinite++;
}

static void window_of(const clgan_dicom_image *im, clgan_dicom_window *w) {
  memset(w, 0, sizeof *w);
  if (!im->has_window) return;
  /* PS3.3 C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 is black, x > c - 0.5 + (w-1)/2 white */
  double lo = im->window_center - 0.5 - (im->window_width - 1) / 2;
  double hi = im->window_center - 0.5 + (im->window_width - 1) / 2;
  w->present = 1;
  w->lo = (float)(im->monochrome1 ? -hi : lo);
  w->hi = (float)(im->monochrome1 ? -lo : hi);
}

clgan_status clgan_dicom_series_volume(const clgan_dicom_series *s, clgan_volume *out,
                                       clgan_dicom_window *window) {
  memset(out, 0, sizeof *out);
  if (s->count < 1) return clgan_fail(CLGAN_ERR_INVALID, "an empty DICOM series");
  clgan_dicom_image first;
  clgan_status st = clgan_dicom_read(s->paths[0], 0, &first);
  if (st != CLGAN_OK) return st;
  double dir[3][3];
  storage_axes(&first, dir);
  slices sl = {0, malloc(sizeof(double))}; /* dropped when a slice has no position */
  if (!sl.along) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (st == CLGAN_OK) st = read_slices(s, &first, dir[2], out, &sl);
  if (st == CLGAN_OK && s->count == 1)
    st = sort_frames(out, &sl, (size_t)first.rows * first.cols);
  if (st == CLGAN_OK) fill_volume(out, &first, &sl);
  if (st == CLGAN_OK && window) window_of(&first, window);
  free(sl.along);
  clgan_dicom_image_free(&first);
  if (st != CLGAN_OK) clgan_volume_free(out);
  return st;
}
