/* DICOM images and series, read through DCMTK (a small C++ shim,
 * src/data/dicom_dcmtk.cc): files or folders, series grouped by
 * SeriesInstanceUID and ordered along the slice normal, assembled into a
 * clgan_volume so that `clgan slice` treats a series like a NIfTI volume.
 *
 * Values are the modality's (RescaleSlope / RescaleIntercept applied:
 * Hounsfield units for CT). MONOCHROME1 images are stored negated, so that
 * higher values are always brighter; their VOI window is negated with them.
 * Compressed transfer syntaxes are decoded by DCMTK's codecs (JPEG baseline,
 * extended and lossless, JPEG-LS, RLE); others (JPEG 2000) are refused with
 * CLGAN_ERR_UNSUPPORTED naming the file and the syntax. */
#ifndef CLGAN_DICOM_H
#define CLGAN_DICOM_H

#include <stddef.h>

#include "clgan/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLGAN_DICOM_UID_MAX 72

/* One file's image: the header fields clgan uses and, when read with
 * pixels, its frames as modality values. */
typedef struct clgan_dicom_image {
  char series_uid[CLGAN_DICOM_UID_MAX]; /* SeriesInstanceUID ("" when absent) */
  char modality[20];          /* "CT", "MR", "CR", ... */
  char transfer_syntax[80];   /* its name, for messages */
  int rows, cols, frames;
  int series_number, instance_number; /* 0 when absent */
  double spacing[2];          /* PixelSpacing: between rows, between columns (mm); 1 when absent */
  double slice_thickness;     /* 0 when absent */
  int has_orientation;        /* ImageOrientationPatient: row and column cosines (LPS) */
  double orientation[6];
  int has_position;           /* ImagePositionPatient of the first frame (LPS, mm) */
  double position[3];
  double *frame_positions;    /* [frames][3] per-frame positions of a multi-frame file, or NULL */
  int monochrome1;            /* PhotometricInterpretation MONOCHROME1 (values negated) */
  int has_window;             /* the first VOI window: center and width (WindowCenter/Width) */
  double window_center, window_width;
  double rescale_slope, rescale_intercept;
  int bits_stored, pixel_signed;
  float *pixels;              /* [frames][rows][cols] modality values (negated for
                                 MONOCHROME1); NULL when read without pixels */
} clgan_dicom_image;

/* Reads path. with_pixels = 0 reads the header only (fast, for grouping).
 * A file that is not DICOM, is truncated, or has no pixel data gives
 * CLGAN_ERR_FORMAT; a colour image or an undecodable transfer syntax
 * CLGAN_ERR_UNSUPPORTED; each message names the file. */
clgan_status clgan_dicom_read(const char *path, int with_pixels, clgan_dicom_image *out);
void clgan_dicom_image_free(clgan_dicom_image *im); /* accepts NULL and zeroed images */

/* Whether path is a DICOM file: the "DICM" prefix at byte 128, or, without
 * that preamble, a raw dataset (implicit or explicit VR, either byte order)
 * that DCMTK reads and that holds SOPClassUID, Modality, Rows and Columns
 * or PixelData. PNG, gzip and NIfTI/ANALYZE files are never taken for DICOM
 * (nor offered to DCMTK). */
int clgan_dicom_is_file(const char *path);

/* The series found in files and folders (folders searched recursively; files
 * that are not DICOM are skipped and counted), each a list of files in
 * slice order. */
typedef struct clgan_dicom_series {
  char uid[CLGAN_DICOM_UID_MAX];
  int series_number;
  char modality[20];
  int count;
  char **paths;               /* [count] in slice order */
} clgan_dicom_series;

typedef struct clgan_dicom_scan {
  int count;
  clgan_dicom_series *series;
  int skipped;                /* files that are not DICOM images */
} clgan_dicom_scan;

clgan_status clgan_dicom_scan_paths(const char *const *inputs, int ninputs, clgan_dicom_scan *out);
void clgan_dicom_scan_free(clgan_dicom_scan *scan);

/* The VOI window the series' first image carries, as the interval the
 * standard's linear function maps to black..white: [c - 0.5 - (w - 1) / 2,
 * c - 0.5 + (w - 1) / 2] (negated for MONOCHROME1). */
typedef struct clgan_dicom_window {
  int present;
  float lo, hi;
} clgan_dicom_window;

/* Reads a series' files into a volume: storage axis i along the rows
 * (column index), j down the columns, k along the slice normal in the
 * order of the series (ImagePositionPatient projected on the normal of
 * ImageOrientationPatient; InstanceNumber without positions). A
 * multi-frame file is a volume of its frames. Every file must match the
 * first one's size and orientation (else CLGAN_ERR_FORMAT naming it). */
clgan_status clgan_dicom_series_volume(const clgan_dicom_series *s, clgan_volume *out,
                                       clgan_dicom_window *window);

#ifdef __cplusplus
}
#endif
#endif
