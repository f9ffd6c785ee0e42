/* Medical volumes: NIfTI-1, NIfTI-2 and ANALYZE 7.5 read through nifticlib
 * (.nii, .nii.gz, .hdr/.img, .hdr/.img.gz), and 2-D slices along the
 * anatomical axes written as PNGs for training.
 *
 * Orientation. NIfTI world coordinates are RAS+ (+x toward the patient's
 * Right, +y Anterior, +z Superior). The volume's orientation comes from the
 * sform when sform_code > 0, else from the qform when qform_code > 0, else
 * (ANALYZE, or NIfTI without either) storage axes i, j, k are assumed to run
 * toward R, A, S, as nifticlib itself assumes. Oblique matrices are reduced
 * to the closest anatomical axes (nifti_dmat44_to_orientation).
 *
 * Slices. An anatomical axis is sliced in increasing RAS order (whatever the
 * storage order): sagittal index 0 is the patient's far left, coronal index 0
 * the most posterior slice, axial index 0 the most inferior. Every image is
 * shown in radiological convention:
 *   axial     top = anterior, image left = patient's right
 *   coronal   top = superior, image left = patient's right
 *   sagittal  top = superior, image left = anterior
 */
#ifndef CLGAN_VOLUME_H
#define CLGAN_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Anatomical axes, also the slicing directions. */
typedef enum clgan_axis {
  CLGAN_AXIS_SAGITTAL = 0, /* across left-right  (x): slices are sagittal */
  CLGAN_AXIS_CORONAL = 1,  /* across posterior-anterior (y) */
  CLGAN_AXIS_AXIAL = 2,    /* across inferior-superior (z) */
} clgan_axis;
#define CLGAN_AXIS_COUNT 3

typedef struct clgan_volume {
  int64_t dim[3];     /* voxels along storage axes i, j, k (each >= 1) */
  double pixdim[3];   /* voxel size along i, j, k in the file's units (usually mm);
                         a missing, zero or non-finite pixdim reads as 1 */
  float *voxels;      /* [k][j][i], i fastest: scl_slope/scl_inter applied, every
                         value finite (non-finite ones are replaced by 0) */
  /* Storage axis s runs along anatomical axis axis_of[s] (0 x, 1 y, 2 z) and
   * its index increases toward +that axis (R, A, S) when sign[s] = +1. */
  int axis_of[3];
  int sign[3];
  char orient[4];     /* direction of increasing i, j, k: "RAS", "LPI", "AIL", ... */
  int xform;          /* where the orientation came from: 2 sform, 1 qform,
                         0 none (RAS assumed) */
  int nifti_version;  /* 0 ANALYZE 7.5, 1 NIfTI-1, 2 NIfTI-2 */
  int datatype;       /* NIfTI DT_* code of the stored voxels */
  int64_t frames;     /* volumes in the file (product of dims 4 to 7); only the
                         first is loaded */
  double scl_slope, scl_inter; /* as applied (1 and 0 when the file has no scaling) */
  int64_t nonfinite;  /* values replaced by 0 because they were not finite after
                         scaling (nifticlib itself zeroes NaN/Inf floats on read) */
} clgan_volume;

/* What a NIfTI-1/-2 or ANALYZE 7.5 header says, read by clgan itself (both
 * byte orders, gzip through zlib) before nifticlib sees the file, because
 * nifticlib silently repairs some fields (a vox_offset inside the header,
 * dim[i] = 0) and prints messages of its own about others. */
typedef struct clgan_volume_header {
  int version;          /* 0 ANALYZE 7.5, 1 NIfTI-1, 2 NIfTI-2 */
  int single_file;      /* 1: header and voxels in one file (.nii) */
  int swapped;          /* stored in the other byte order than this machine's */
  int64_t dim[8];       /* dim[0] dimensions (1..7), dim[1..dim[0]] their sizes (>= 1),
                           the unused ones 1 */
  int datatype;         /* NIfTI DT_* code: a real scalar type */
  int bytes_per_voxel;
  int64_t vox_offset;   /* where the voxels start in the image file */
  int64_t data_bytes;   /* product of the dims * bytes per voxel */
  int64_t image_bytes;  /* length of the image file (after decompression) */
} clgan_volume_header;

/* Reads and checks the header of path (.nii, .nii.gz, .hdr/.img and their
 * .gz forms; an .img path reads its .hdr). Refused, naming the file and the
 * field: no header (sizeof_hdr not 348 or 540 in either byte order), dim[0]
 * outside 1..7, a used dim[i] < 1, an unsupported datatype
 * (CLGAN_ERR_UNSUPPORTED), a vox_offset that is not a whole number, is
 * negative, lies inside the header of a single file (below 352 for NIfTI-1,
 * 544 for NIfTI-2) or beyond the end of the image file, and voxel data
 * (product of the dims * bytes per voxel) longer than the image file holds
 * after vox_offset (a .gz is decompressed to its end, so a corrupt stream or
 * CRC is refused too). CLGAN_ERR_FORMAT for those, CLGAN_ERR_IO when a file
 * cannot be read. */
clgan_status clgan_volume_read_header(const char *path, clgan_volume_header *out);

/* Reads the first 3-D volume of a NIfTI-1/-2 or ANALYZE file as floats.
 * Accepted datatypes: every real scalar type (uint8, int8, int16, uint16,
 * int32, uint32, int64, uint64, float32, float64); complex, RGB, RGBA, binary
 * and float128 give CLGAN_ERR_UNSUPPORTED. The header is checked first by
 * clgan_volume_read_header; then everything nifticlib returns is checked
 * against it: dimensions (each 1..65535, at most 2^31 voxels per volume, voxel
 * count consistent), the data pointer, and the length of the voxel data
 * against the file itself — a truncated .nii/.img or a truncated or corrupt
 * gzip stream gives CLGAN_ERR_FORMAT naming the file (nifticlib is not
 * trusted here: some versions zero-fill missing voxels with only a warning).
 * A missing file gives CLGAN_ERR_IO, a non-NIfTI file CLGAN_ERR_FORMAT.
 * nifticlib prints nothing: its debug level is set to 0 and the headers it
 * would still complain about are refused before it reads them. */
clgan_status clgan_volume_load(const char *path, clgan_volume *out);

/* Frees the voxels; accepts NULL and zeroed volumes. */
void clgan_volume_free(clgan_volume *v);

/* "uint8", "int16", "float32", ... for a NIfTI DT_* code ("unknown" otherwise). */
const char *clgan_volume_datatype_name(int datatype);

/* "sagittal", "coronal", "axial"; and the reverse (-1 when unknown). */
const char *clgan_axis_name(clgan_axis axis);
int clgan_axis_parse(const char *name);

/* Number of slices along an anatomical axis and their native size in pixels
 * (one pixel per voxel, in the orientation described above). */
void clgan_volume_slice_shape(const clgan_volume *v, clgan_axis axis, int64_t *count,
                              int *width, int *height);

/* Copies slice `index` (0 <= index < count) into out[height][width], in the
 * display orientation above, values in volume units. */
clgan_status clgan_volume_slice(const clgan_volume *v, clgan_axis axis, int64_t index,
                                float *out);

/* Percentiles p_lo <= p_hi (in [0, 100], linear interpolation between order
 * statistics as numpy's default) of the non-zero voxels. CLGAN_ERR_FORMAT
 * when the volume has no non-zero voxel. */
clgan_status clgan_volume_percentiles(const clgan_volume *v, double p_lo, double p_hi,
                                      float *lo, float *hi);

/* Options of clgan_volume_write_slices; start from clgan_slice_defaults(). */
typedef struct clgan_slice_options {
  unsigned axes;       /* bit mask of 1u << clgan_axis (default: axial only) */
  int bits;            /* PNG bit depth, 8 or 16 (default 8) */
  int explicit_window; /* 1: use window_lo/window_hi as given */
  float window_lo, window_hi;
  double pct_lo, pct_hi; /* otherwise the window is these percentiles of the
                            non-zero voxels (default 0.5 and 99.5) */
  double min_fraction; /* a slice is written only when at least this fraction
                          of its pixels lies above window_lo (default 0.15; 0
                          writes every slice) */
  int size;            /* 0 (default): native resolution, resampled to square
                          pixels when the in-plane voxel sizes differ; N: that
                          (at most 4096 on a side), then padded to a square
                          with black and resized to N x N (area averaging
                          when shrinking, linear when enlarging). In-plane
                          voxel sizes more than 1000-fold apart are refused
                          (CLGAN_ERR_FORMAT) */
} clgan_slice_options;

clgan_slice_options clgan_slice_defaults(void);

/* What clgan_volume_write_slices did. */
typedef struct clgan_slice_report {
  float window_lo, window_hi;               /* the intensity window used */
  int window_widened;                       /* 1: the percentiles were equal (e.g. a
                                               mask), the window is min..max instead */
  int64_t written[CLGAN_AXIS_COUNT];        /* PNGs written per axis */
  int64_t skipped[CLGAN_AXIS_COUNT];        /* slices below min_fraction per axis */
  int width[CLGAN_AXIS_COUNT], height[CLGAN_AXIS_COUNT]; /* PNG size per axis */
  int64_t work_bytes[CLGAN_AXIS_COUNT];     /* working buffers allocated per axis: about
                                               the native slice, the PNG and, with a size,
                                               at most a 4096 x 4096 float square */
} clgan_slice_report;

/* Writes the selected axes' slices of v as gray PNGs named
 * DIR/<name>_<axis>_<index>.png (index as above, zero-padded to 3 digits, or
 * to as many as the axis' slice count needs beyond 999: name order is slice
 * order),
 * mapping the window linearly to black..white (clamped). DIR is created when
 * missing. Each PNG is written atomically. name is typically
 * clgan_volume_basename(path). report may be NULL. */
clgan_status clgan_volume_write_slices(const clgan_volume *v, const char *dir, const char *name,
                                       const clgan_slice_options *opt,
                                       clgan_slice_report *report);

/* The file name of path without directory and NIfTI/ANALYZE extension
 * (.nii, .nii.gz, .hdr, .img, their .gz forms): "ch2bet" for
 * "/usr/share/x/ch2bet.nii.gz". Writes at most cap bytes (NUL included). */
void clgan_volume_basename(const char *path, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
