/* NIfTI/ANALYZE volumes through nifticlib, checked before they are trusted.
 * Their anatomical slices are in volume_slice.c. Conventions:
 * include/clgan/volume.h. */
#include "clgan/volume.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <nifti2_io.h>

#include "clgan/image.h"
#include "runtime/internal.h"

#define MAX_DIM 65535
#define MAX_VOXELS (1LL << 31)

const char *clgan_axis_name(clgan_axis axis) {
  switch (axis) {
  case CLGAN_AXIS_SAGITTAL:
    return "sagittal";
  case CLGAN_AXIS_CORONAL:
    return "coronal";
  case CLGAN_AXIS_AXIAL:
    return "axial";
  }
  return "?";
}

const char *clgan_volume_datatype_name(int dt) {
  switch (dt) {
  case NIFTI_TYPE_UINT8:
    return "uint8";
  case NIFTI_TYPE_INT8:
    return "int8";
  case NIFTI_TYPE_INT16:
    return "int16";
  case NIFTI_TYPE_UINT16:
    return "uint16";
  case NIFTI_TYPE_INT32:
    return "int32";
  case NIFTI_TYPE_UINT32:
    return "uint32";
  case NIFTI_TYPE_INT64:
    return "int64";
  case NIFTI_TYPE_UINT64:
    return "uint64";
  case NIFTI_TYPE_FLOAT32:
    return "float32";
  case NIFTI_TYPE_FLOAT64:
    return "float64";
  case NIFTI_TYPE_FLOAT128:
    return "float128";
  case NIFTI_TYPE_COMPLEX64:
    return "complex64";
  case NIFTI_TYPE_COMPLEX128:
    return "complex128";
  case NIFTI_TYPE_COMPLEX256:
    return "complex256";
  case NIFTI_TYPE_RGB24:
    return "rgb24";
  case NIFTI_TYPE_RGBA32:
    return "rgba32";
  case DT_BINARY:
    return "binary";
  default:
    return "unknown";
  }
}

int clgan_axis_parse(const char *name) {
  if (!name) return -1;
  for (int a = 0; a < CLGAN_AXIS_COUNT; a++)
    if (strcmp(name, clgan_axis_name((clgan_axis)a)) == 0) return a;
  return -1;
}

void clgan_volume_free(clgan_volume *v) {
  if (!v) return;
  free(v->voxels);
  v->voxels = NULL;
}

void clgan_volume_basename(const char *path, char *buf, size_t cap) {
  if (!buf || cap == 0) return;
  buf[0] = '\0';
  if (!path) return;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t n = strlen(base);
  /* arrays, not pointers: read-only data with no relocations */
  static const char exts[][8] = {".nii.gz", ".hdr.gz", ".img.gz", ".nia", ".nii", ".hdr", ".img"};
  for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
    size_t m = strlen(exts[e]);
    if (n > m && strcasecmp(base + n - m, exts[e]) == 0) {
      n -= m;
      break;
    }
  }
  if (n >= cap) n = cap - 1;
  memcpy(buf, base, n);
  buf[n] = '\0';
}

/* ---- loading ---------------------------------------------------------- */

/* Orientation codes of one matrix into axis_of/sign; 0 when unusable. */
static int orientation_from(nifti_dmat44 m, int axis_of[3], int sign[3]) {
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (!isfinite(m.m[r][c])) return 0;
  int cod[3] = {0, 0, 0};
  nifti_dmat44_to_orientation(m, &cod[0], &cod[1], &cod[2]);
  int seen = 0;
  for (int s = 0; s < 3; s++) {
    if (cod[s] < NIFTI_L2R || cod[s] > NIFTI_S2I) return 0;
    axis_of[s] = (cod[s] - 1) / 2;
    sign[s] = (cod[s] % 2 == 1) ? 1 : -1; /* L2R, P2A, I2S are odd */
    seen |= 1 << axis_of[s];
  }
  return seen == 7;
}

static double sane_pixdim(double d) {
  d = fabs(d);
  return (isfinite(d) && d > 0) ? d : 1.0;
}

/* Converts n stored values of type dt to scaled floats. */
static int64_t convert(const void *src, int dt, int64_t n, double slope, double inter,
                       int scaled, float *dst) {
  int64_t bad = 0;
#define CONVERT_LOOP(T)                                                  \
  do {                                                                   \
    const T *p = (const T *)src;                                         \
    for (int64_t i = 0; i < n; i++) {                                    \
      double x = (double)p[i];                                           \
      if (scaled) x = slope * x + inter;                                 \
      float f = (float)x;                                                \
      if (!isfinite(f)) {                                                \
        f = 0.0f;                                                        \
        bad++;                                                           \
      }                                                                  \
      dst[i] = f;                                                        \
    }                                                                    \
  } while (0)
  switch (dt) {
  case NIFTI_TYPE_UINT8:
    CONVERT_LOOP(uint8_t);
    break;
  case NIFTI_TYPE_INT8:
    CONVERT_LOOP(int8_t);
    break;
  case NIFTI_TYPE_INT16:
    CONVERT_LOOP(int16_t);
    break;
  case NIFTI_TYPE_UINT16:
    CONVERT_LOOP(uint16_t);
    break;
  case NIFTI_TYPE_INT32:
    CONVERT_LOOP(int32_t);
    break;
  case NIFTI_TYPE_UINT32:
    CONVERT_LOOP(uint32_t);
    break;
  case NIFTI_TYPE_INT64:
    CONVERT_LOOP(int64_t);
    break;
  case NIFTI_TYPE_UINT64:
    CONVERT_LOOP(uint64_t);
    break;
  case NIFTI_TYPE_FLOAT32:
    CONVERT_LOOP(float);
    break;
  case NIFTI_TYPE_FLOAT64:
    CONVERT_LOOP(double);
    break;
  }
#undef CONVERT_LOOP
  return bad;
}

/* nifticlib's reading agrees with the header clgan checked: datatype,
 * bytes per voxel, voxel offset (nifticlib must not have moved it). */
static clgan_status check_agrees(const char *path, const nifti_image *nim,
                                 const clgan_volume_header *h, clgan_volume *out) {
  out->nifti_version = h->version;
  out->datatype = nim->datatype;
  if (nim->datatype != h->datatype || nim->nbyper != h->bytes_per_voxel ||
      nim->iname_offset != h->vox_offset || (int64_t)nim->nvox * nim->nbyper != h->data_bytes)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: the NIfTI library read the header differently (datatype %d, %d bytes "
                      "per voxel, offset %lld, %lld voxels; the header says %d, %d, %lld, %lld)",
                      path, nim->datatype, nim->nbyper, (long long)nim->iname_offset,
                      (long long)nim->nvox, h->datatype, h->bytes_per_voxel,
                      (long long)h->vox_offset, (long long)(h->data_bytes / h->bytes_per_voxel));
  return CLGAN_OK;
}

/* Dimensions within limits and consistent: out->dim, frames, pixdim. */
static clgan_status check_dims(const char *path, const nifti_image *nim, int nbyper,
                               clgan_volume *out) {
  int64_t ndim = nim->dim[0];
  if (ndim < 1 || ndim > 7)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: invalid number of dimensions %lld", path,
                      (long long)ndim);
  int64_t d[8];
  for (int i = 1; i <= 7; i++) {
    d[i] = i <= ndim ? nim->dim[i] : 1;
    if (d[i] < 1)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: dimension %d is %lld (must be >= 1)", path, i,
                        (long long)d[i]);
  }
  for (int i = 1; i <= 3; i++)
    if (d[i] > MAX_DIM)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: dimension %d is %lld voxels (at most %d)", path,
                        i, (long long)d[i], MAX_DIM);
  int64_t vol = d[1] * d[2] * d[3];
  if (vol > MAX_VOXELS)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: %lld x %lld x %lld is more than %lld voxels", path,
                      (long long)d[1], (long long)d[2], (long long)d[3], (long long)MAX_VOXELS);
  if (nim->nx != d[1] || nim->ny != d[2] || nim->nz != d[3])
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: inconsistent dimensions from the NIfTI library",
                      path);
  int64_t frames = 1;
  for (int i = 4; i <= 7; i++) {
    if (frames > INT64_MAX / d[i] / vol / nbyper)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: dimensions overflow", path);
    frames *= d[i];
  }
  if (nim->nvox != vol * frames)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: voxel count %lld does not match dimensions (%lld)",
                      path, (long long)nim->nvox, (long long)(vol * frames));
  out->frames = frames;
  out->dim[0] = d[1];
  out->dim[1] = d[2];
  out->dim[2] = d[3];
  out->pixdim[0] = sane_pixdim(nim->dx);
  out->pixdim[1] = sane_pixdim(nim->dy);
  out->pixdim[2] = sane_pixdim(nim->dz);
  return CLGAN_OK;
}

/* Orientation (sform, else qform, else assumed RAS) and scaling; returns
 * whether the values are scaled. */
static int orientation_and_scaling(const nifti_image *nim, clgan_volume *out) {
  out->xform = 0;
  if (nim->sform_code > 0 && orientation_from(nim->sto_xyz, out->axis_of, out->sign))
    out->xform = 2;
  else if (nim->qform_code > 0 && orientation_from(nim->qto_xyz, out->axis_of, out->sign))
    out->xform = 1;
  if (out->xform == 0)
    for (int s = 0; s < 3; s++) {
      out->axis_of[s] = s;
      out->sign[s] = 1;
    }
  static const char letters[3][2] = {{'L', 'R'}, {'P', 'A'}, {'I', 'S'}};
  for (int s = 0; s < 3; s++) out->orient[s] = letters[out->axis_of[s]][out->sign[s] > 0];
  out->orient[3] = '\0';
  /* scaling: a zero (or non-finite) slope means none, as the standard says */
  int scaled = nim->scl_slope != 0 && isfinite(nim->scl_slope);
  out->scl_slope = scaled ? nim->scl_slope : 1.0;
  out->scl_inter = scaled && isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
  return scaled;
}

/* The first volume's voxels, checked to be in the file, as scaled floats. */
static clgan_status read_voxels(const char *path, nifti_image *nim, int nbyper, int scaled,
                                clgan_volume *out) {
  /* clgan_volume_read_header checked that the image file holds the voxels */
  if (!nim->iname || !nim->iname[0])
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the NIfTI library found no image file", path);
  int64_t vol = out->dim[0] * out->dim[1] * out->dim[2];
  const void *src = NULL;
  nifti_brick_list nbl;
  memset(&nbl, 0, sizeof nbl);
  if (out->frames == 1) {
    if (nifti_image_load(nim) != 0 || !nim->data)
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: the NIfTI library could not read the voxel data",
                        path);
    src = nim->data;
  } else {
    int64_t first = 0;
    if (nifti_image_load_bricks(nim, 1, &first, &nbl) != 1 || !nbl.bricks || !nbl.bricks[0] ||
        nbl.bsize != vol * nbyper) {
      nifti_free_NBL(&nbl);
      return clgan_fail(CLGAN_ERR_FORMAT,
                        "%s: the NIfTI library could not read the first volume's voxel data", path);
    }
    src = nbl.bricks[0];
  }
  out->voxels = malloc((size_t)vol * sizeof(float));
  if (!out->voxels) {
    nifti_free_NBL(&nbl);
    return clgan_fail(CLGAN_ERR_NOMEM, "%s: cannot allocate %lld voxels", path, (long long)vol);
  }
  out->nonfinite =
      convert(src, nim->datatype, vol, out->scl_slope, out->scl_inter, scaled, out->voxels);
  if (out->frames > 1) nifti_free_NBL(&nbl);
  return CLGAN_OK;
}

static clgan_status load_checked(const char *path, nifti_image *nim,
                                 const clgan_volume_header *h, clgan_volume *out) {
  clgan_status st = check_agrees(path, nim, h, out);
  if (st == CLGAN_OK) st = check_dims(path, nim, h->bytes_per_voxel, out);
  if (st != CLGAN_OK) return st;
  int scaled = orientation_and_scaling(nim, out);
  return read_voxels(path, nim, h->bytes_per_voxel, scaled, out);
}

clgan_status clgan_volume_load(const char *path, clgan_volume *out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_load: NULL output");
  memset(out, 0, sizeof *out);
  if (!path || !path[0]) return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_load: empty path");
  struct stat st;
  if (stat(path, &st) != 0)
    return clgan_fail(CLGAN_ERR_IO, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return clgan_fail(CLGAN_ERR_IO, "%s: not a regular file", path);
  /* nifticlib's debug level is a global of the library (g_opts.debug), shared
   * by the whole process and not thread-safe: every load writes the same 0.
   * Level 0 does not silence all of it (e.g. "bad dim[0]" is printed at any
   * level), which is why the header is checked first: nifticlib only sees
   * headers it has no reason to complain about. */
  nifti_set_debug_level(0);
  clgan_volume_header h;
  clgan_status s = clgan_volume_read_header(path, &h);
  if (s != CLGAN_OK) return s;
  nifti_image *nim = nifti_image_read(path, 0);
  if (!nim)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the NIfTI library could not read the header", path);
  s = load_checked(path, nim, &h, out);
  nifti_image_free(nim);
  if (s != CLGAN_OK) clgan_volume_free(out);
  return s;
}
