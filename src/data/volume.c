/* NIfTI/ANALYZE volumes through nifticlib, checked before they are trusted,
 * and their anatomical slices as PNGs. Conventions: include/clgan/volume.h. */
#include "clgan/volume.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "clgan/image.h"
#include "runtime/internal.h"

#define MAX_DIM 65535
#define MAX_VOXELS (1LL << 31)
#define MAX_PNG_SIDE 16384

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
  static const char *const exts[] = {".nii.gz", ".hdr.gz", ".img.gz", ".nia", ".nii",
                                     ".hdr",    ".img"};
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

/* Is the datatype a real scalar we convert to float? */
static int supported_datatype(int dt) {
  switch (dt) {
  case NIFTI_TYPE_UINT8:
  case NIFTI_TYPE_INT8:
  case NIFTI_TYPE_INT16:
  case NIFTI_TYPE_UINT16:
  case NIFTI_TYPE_INT32:
  case NIFTI_TYPE_UINT32:
  case NIFTI_TYPE_INT64:
  case NIFTI_TYPE_UINT64:
  case NIFTI_TYPE_FLOAT32:
  case NIFTI_TYPE_FLOAT64:
    return 1;
  default:
    return 0;
  }
}

/* Checks that the file holding the voxels really has them: nifticlib may
 * accept a short read (zero-filling the rest) and never reads a gzip stream
 * to its end, where zlib verifies the CRC. need = header offset + bytes. */
static clgan_status check_data_length(const char *path, const char *iname, int64_t offset,
                                      int64_t bytes) {
  int64_t need = offset + bytes;
  if (nifti_is_gzfile(iname)) {
    gzFile gz = gzopen(iname, "rb");
    if (!gz) return clgan_fail(CLGAN_ERR_IO, "%s: cannot open %s: %s", path, iname, strerror(errno));
    gzbuffer(gz, 1 << 17);
    enum { CHUNK = 1 << 18 };
    unsigned char *chunk = malloc(CHUNK);
    if (!chunk) {
      gzclose(gz);
      return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", path);
    }
    int64_t total = 0;
    int r;
    while ((r = gzread(gz, chunk, CHUNK)) > 0) total += r;
    free(chunk);
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    char msg[256];
    if (!zmsg) zmsg = "";
    size_t ilen = strlen(iname); /* zlib prefixes the file name: drop it */
    if (strncmp(zmsg, iname, ilen) == 0 && strncmp(zmsg + ilen, ": ", 2) == 0) zmsg += ilen + 2;
    snprintf(msg, sizeof msg, "%s", zmsg);
    gzclose(gz);
    if (r < 0 || zerr != Z_OK) {
      if (total < need)
        return clgan_fail(CLGAN_ERR_FORMAT,
                          "%s: truncated or corrupt gzip data: %lld of the %lld bytes the header "
                          "announces could be decompressed (zlib: %s)",
                          iname, (long long)total, (long long)need, msg);
      return clgan_fail(CLGAN_ERR_FORMAT,
                        "%s: corrupt gzip data (zlib: %s): the file is truncated or damaged", iname,
                        msg);
    }
    if (total < need)
      return clgan_fail(CLGAN_ERR_FORMAT,
                        "%s: truncated: the header announces %lld bytes of voxel data after "
                        "offset %lld, the decompressed file holds only %lld",
                        iname, (long long)bytes, (long long)offset,
                        (long long)(total > offset ? total - offset : 0));
    return CLGAN_OK;
  }
  struct stat st;
  if (stat(iname, &st) != 0)
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot read the image file %s: %s", path, iname,
                      strerror(errno));
  if ((int64_t)st.st_size < need)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: truncated: the header announces %lld bytes of voxel data after "
                      "offset %lld, the file holds only %lld",
                      iname, (long long)bytes, (long long)offset,
                      (long long)(st.st_size > offset ? st.st_size - offset : 0));
  return CLGAN_OK;
}

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

static clgan_status load_checked(const char *path, nifti_image *nim, clgan_volume *out) {
  /* what kind of file */
  switch (nim->nifti_type) {
  case NIFTI_FTYPE_ANALYZE:
    out->nifti_version = 0;
    break;
  case NIFTI_FTYPE_NIFTI1_1:
  case NIFTI_FTYPE_NIFTI1_2:
  case NIFTI_FTYPE_NIFTI2_1:
  case NIFTI_FTYPE_NIFTI2_2: {
    /* nifticlib reports a single-file NIfTI-2 as NIFTI_FTYPE_NIFTI1_1: ask the header */
    int nver = 0;
    void *hdr = nifti_read_header(nim->fname ? nim->fname : path, &nver, 0);
    free(hdr);
    out->nifti_version = nver == 2 ? 2 : 1;
    break;
  }
  default:
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "%s: NIfTI file type %d (ASCII NIfTI?) is not supported; convert it to "
                      ".nii or .nii.gz",
                      path, nim->nifti_type);
  }
  /* datatype */
  out->datatype = nim->datatype;
  if (!supported_datatype(nim->datatype)) {
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "%s: voxel datatype %s (%d) is not supported: clgan slices real scalar "
                      "volumes (uint8, int16, uint16, int32, float32, float64, ...), not "
                      "complex, RGB or binary data",
                      path, clgan_volume_datatype_name(nim->datatype), nim->datatype);
  }
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(nim->datatype, &nbyper, &swapsize);
  if (nbyper <= 0 || nim->nbyper != nbyper)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: %d bytes per voxel for datatype %d, expected %d",
                      path, nim->nbyper, nim->datatype, nbyper);
  /* dimensions */
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
  /* orientation: sform, else qform, else assumed RAS */
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
  /* the voxel data must be in the file before nifticlib is asked to read it */
  if (!nim->iname || !nim->iname[0])
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the NIfTI library found no image file", path);
  if (nim->iname_offset < 0)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: negative voxel data offset %lld", path,
                      (long long)nim->iname_offset);
  clgan_status st = check_data_length(path, nim->iname, nim->iname_offset, nim->nvox * nbyper);
  if (st != CLGAN_OK) return st;

  const void *src = NULL;
  nifti_brick_list nbl;
  memset(&nbl, 0, sizeof nbl);
  if (frames == 1) {
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
  if (frames > 1) nifti_free_NBL(&nbl);
  return CLGAN_OK;
}

/* nifticlib refused the header: say why as precisely as a glance allows. */
static clgan_status header_failure(const char *path) {
  const char *what = "its header is invalid (dimensions, datatype or offset)";
  char detail[160] = "";
  gzFile gz = gzopen(path, "rb"); /* reads plain files too */
  if (gz) {
    unsigned char h[540];
    int n = gzread(gz, h, sizeof h);
    gzclose(gz);
    if (n < 4) {
      what = "the file is empty or truncated";
    } else {
      uint32_t le = h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
      uint32_t be = h[3] | (uint32_t)h[2] << 8 | (uint32_t)h[1] << 16 | (uint32_t)h[0] << 24;
      uint32_t size = (le == 348 || le == 540) ? le : (be == 348 || be == 540) ? be : 0;
      if (size == 0) {
        what = "no NIfTI/ANALYZE header";
        snprintf(detail, sizeof detail, " (sizeof_hdr reads %u, not 348 or 540)", le);
      } else if ((uint32_t)n < size) {
        what = "the file ends inside the header";
        snprintf(detail, sizeof detail, " (%d of %u bytes)", n, size);
      }
    }
  }
  return clgan_fail(CLGAN_ERR_FORMAT,
                    "%s: not a readable NIfTI-1, NIfTI-2 or ANALYZE 7.5 volume: %s%s", path, what,
                    detail);
}

clgan_status clgan_volume_load(const char *path, clgan_volume *out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_load: NULL output");
  memset(out, 0, sizeof *out);
  if (!path || !path[0]) return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_load: empty path");
  struct stat st;
  if (stat(path, &st) != 0)
    return clgan_fail(CLGAN_ERR_IO, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return clgan_fail(CLGAN_ERR_IO, "%s: not a regular file", path);
  nifti_set_debug_level(0); /* our messages replace the library's stderr output */
  nifti_image *nim = nifti_image_read(path, 0);
  if (!nim) return header_failure(path);
  clgan_status s = load_checked(path, nim, out);
  nifti_image_free(nim);
  if (s != CLGAN_OK) clgan_volume_free(out);
  return s;
}

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

/* Geometry of one axis' output: native w x h, square-pixel sw x sh, then
 * (size > 0) padded to a square and resized to out_w x out_h. */
typedef struct plane_geom {
  int w, h, sw, sh, side, out_w, out_h;
} plane_geom;

static clgan_status plane_geometry(const clgan_volume *v, clgan_axis axis, int size,
                                   plane_geom *g) {
  int ca, ra;
  plane_axes(axis, &ca, &ra);
  clgan_volume_slice_shape(v, axis, NULL, &g->w, &g->h);
  double pw = v->pixdim[storage_axis(v, ca)], ph = v->pixdim[storage_axis(v, ra)];
  g->sw = g->w;
  g->sh = g->h;
  if (fabs(pw - ph) > 1e-3 * fmax(pw, ph)) {
    double s = fmin(pw, ph);
    double sw = round(g->w * pw / s), sh = round(g->h * ph / s);
    if (sw > MAX_PNG_SIDE || sh > MAX_PNG_SIDE)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s slices of %d x %d voxels of %g x %g would need %.0f x %.0f square "
                        "pixels (more than %d): pass a size",
                        clgan_axis_name(axis), g->w, g->h, pw, ph, sw, sh, MAX_PNG_SIDE);
    g->sw = sw < 1 ? 1 : (int)sw;
    g->sh = sh < 1 ? 1 : (int)sh;
  }
  g->side = g->sw > g->sh ? g->sw : g->sh;
  g->out_w = size > 0 ? size : g->sw;
  g->out_h = size > 0 ? size : g->sh;
  return CLGAN_OK;
}

clgan_status clgan_volume_write_slices(const clgan_volume *v, const char *dir, const char *name,
                                       const clgan_slice_options *opt,
                                       clgan_slice_report *report) {
  clgan_slice_report rep;
  memset(&rep, 0, sizeof rep);
  if (report) *report = rep;
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
  unsigned axes = opt->axes & 7u;
  if (axes == 0) return clgan_fail(CLGAN_ERR_INVALID, "no axis selected");
  /* the window */
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
      rep.window_widened = 1;
    }
  }
  rep.window_lo = lo;
  rep.window_hi = hi;
  if (clgan_make_dirs(dir) != CLGAN_OK)
    return clgan_fail(CLGAN_ERR_IO, "cannot create the output folder %s: %s", dir,
                      clgan_last_error());

  clgan_status st = CLGAN_OK;
  for (int a = 0; a < CLGAN_AXIS_COUNT && st == CLGAN_OK; a++) {
    if (!(axes & (1u << a))) continue;
    clgan_axis axis = (clgan_axis)a;
    plane_geom g;
    st = plane_geometry(v, axis, opt->size, &g);
    if (st != CLGAN_OK) break;
    int64_t count;
    clgan_volume_slice_shape(v, axis, &count, NULL, NULL);
    rep.width[a] = g.out_w;
    rep.height[a] = g.out_h;
    size_t native = (size_t)g.w * g.h, sq = (size_t)g.sw * g.sh, pad = (size_t)g.side * g.side;
    size_t outn = (size_t)g.out_w * g.out_h;
    size_t tmpn = (size_t)g.h * g.sw;
    if ((size_t)g.side * g.out_w > tmpn) tmpn = (size_t)g.side * g.out_w;
    float *slice = malloc(native * sizeof(float));
    float *sqbuf = malloc(sq * sizeof(float));
    float *padbuf = malloc(pad * sizeof(float));
    float *outbuf = malloc(outn * sizeof(float));
    float *tmp = malloc(tmpn * sizeof(float));
    if (!slice || !sqbuf || !padbuf || !outbuf || !tmp) {
      st = clgan_fail(CLGAN_ERR_NOMEM, "cannot allocate slice buffers");
    } else {
      float scale = 1.0f / (hi - lo);
      for (int64_t idx = 0; idx < count && st == CLGAN_OK; idx++) {
        clgan_volume_slice(v, axis, idx, slice);
        size_t above = 0;
        for (size_t i = 0; i < native; i++) above += slice[i] > lo;
        if ((double)above < opt->min_fraction * (double)native) {
          rep.skipped[a]++;
          continue;
        }
        for (size_t i = 0; i < native; i++) {
          float t = (slice[i] - lo) * scale;
          slice[i] = t < 0 ? 0.0f : t > 1 ? 1.0f : t;
        }
        const float *img = slice;
        if (g.sw != g.w || g.sh != g.h) {
          resample_2d(slice, g.w, g.h, sqbuf, g.sw, g.sh, tmp);
          img = sqbuf;
        }
        if (opt->size > 0) {
          memset(padbuf, 0, pad * sizeof(float));
          int ox = (g.side - g.sw) / 2, oy = (g.side - g.sh) / 2;
          for (int r = 0; r < g.sh; r++)
            memcpy(padbuf + (size_t)(oy + r) * g.side + ox, img + (size_t)r * g.sw,
                   (size_t)g.sw * sizeof(float));
          resample_2d(padbuf, g.side, g.side, outbuf, g.out_w, g.out_h, tmp);
          img = outbuf;
        }
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s_%s_%03lld.png", dir, name,
                           clgan_axis_name(axis), (long long)idx);
        if (len < 0 || len >= (int)sizeof path) {
          st = clgan_fail(CLGAN_ERR_INVALID, "output path too long in %s", dir);
          break;
        }
        st = clgan_png_write(path, g.out_w, g.out_h, 1, opt->bits, img);
        if (st == CLGAN_OK) rep.written[a]++;
      }
    }
    free(slice);
    free(sqbuf);
    free(padbuf);
    free(outbuf);
    free(tmp);
  }
  if (report) *report = rep;
  return st;
}
