// The C interface to DCMTK (the only C++ in clgan): one DICOM file's header
// fields and pixels. DCMTK's decoders live in DCMTK's own codec registry;
// registering them is idempotent (DCMTK keeps the flag), so every read asks.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/dcmimgle/dipixel.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
#include "clgan/dicom.h"
#include "data/dicom_internal.h"
#include "runtime/internal.h"
}

static void register_codecs() {
  // DCMTK logs warnings of its own on stderr: clgan reports errors itself.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  DJDecoderRegistration::registerCodecs();
  DJLSDecoderRegistration::registerCodecs();
  DcmRLEDecoderRegistration::registerCodecs();
}

static void copy_string(DcmItem *ds, const DcmTagKey &tag, char *out, size_t cap) {
  OFString s;
  out[0] = '\0';
  if (ds->findAndGetOFString(tag, s).good()) snprintf(out, cap, "%s", s.c_str());
}

static int get_doubles(DcmItem *ds, const DcmTagKey &tag, double *out, int n) {
  for (int i = 0; i < n; i++) {
    Float64 v;
    if (ds->findAndGetFloat64(tag, v, (unsigned long)i).bad() || !std::isfinite(v)) return 0;
    out[i] = v;
  }
  return 1;
}

static int get_int(DcmItem *ds, const DcmTagKey &tag, int fallback) {
  Sint32 v;
  if (ds->findAndGetSint32(tag, v).good()) return (int)v;
  OFString s;
  if (ds->findAndGetOFString(tag, s).good() && !s.empty()) return atoi(s.c_str());
  return fallback;
}

// Per-frame positions of an enhanced multi-frame file
// (PerFrameFunctionalGroupsSequence > PlanePositionSequence), or NULL.
static double *frame_positions(DcmDataset *ds, int frames) {
  DcmSequenceOfItems *groups = NULL;
  if (frames < 2 || ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, groups).bad() ||
      !groups || (int)groups->card() != frames)
    return NULL;
  double *pos = (double *)malloc(sizeof(double) * 3 * (size_t)frames);
  for (int f = 0; pos && f < frames; f++) {
    DcmItem *plane = NULL;
    if (groups->getItem((unsigned long)f)->findAndGetSequenceItem(DCM_PlanePositionSequence, plane)
            .bad() ||
        !get_doubles(plane, DCM_ImagePositionPatient, pos + 3 * f, 3)) {
      free(pos);
      return NULL;
    }
  }
  return pos;
}

// Orientation of a multi-frame file lives in its shared functional groups.
static void shared_orientation(DcmDataset *ds, clgan_dicom_image *im) {
  DcmItem *shared = NULL, *orient = NULL;
  if (im->has_orientation ||
      ds->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared).bad() ||
      shared->findAndGetSequenceItem(DCM_PlaneOrientationSequence, orient).bad())
    return;
  im->has_orientation = get_doubles(orient, DCM_ImageOrientationPatient, im->orientation, 6);
}

static void read_header(DcmDataset *ds, clgan_dicom_image *im) {
  copy_string(ds, DCM_SeriesInstanceUID, im->series_uid, sizeof im->series_uid);
  copy_string(ds, DCM_Modality, im->modality, sizeof im->modality);
  im->rows = get_int(ds, DCM_Rows, 0);
  im->cols = get_int(ds, DCM_Columns, 0);
  im->frames = get_int(ds, DCM_NumberOfFrames, 1);
  if (im->frames < 1) im->frames = 1;
  im->series_number = get_int(ds, DCM_SeriesNumber, 0);
  im->instance_number = get_int(ds, DCM_InstanceNumber, 0);
  if (!get_doubles(ds, DCM_PixelSpacing, im->spacing, 2) || im->spacing[0] <= 0 ||
      im->spacing[1] <= 0)
    im->spacing[0] = im->spacing[1] = 1.0;
  if (!get_doubles(ds, DCM_SliceThickness, &im->slice_thickness, 1)) im->slice_thickness = 0;
  im->has_orientation = get_doubles(ds, DCM_ImageOrientationPatient, im->orientation, 6);
  shared_orientation(ds, im);
  im->has_position = get_doubles(ds, DCM_ImagePositionPatient, im->position, 3);
  im->frame_positions = frame_positions(ds, im->frames);
  if (!im->has_position && im->frame_positions) {
    memcpy(im->position, im->frame_positions, sizeof im->position);
    im->has_position = 1;
  }
  OFString photometric;
  ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  im->monochrome1 = photometric == "MONOCHROME1";
  im->has_window = get_doubles(ds, DCM_WindowCenter, &im->window_center, 1) &&
                   get_doubles(ds, DCM_WindowWidth, &im->window_width, 1) &&
                   im->window_width >= 1.0;
  if (!get_doubles(ds, DCM_RescaleSlope, &im->rescale_slope, 1)) im->rescale_slope = 1.0;
  if (!get_doubles(ds, DCM_RescaleIntercept, &im->rescale_intercept, 1))
    im->rescale_intercept = 0.0;
  im->bits_stored = get_int(ds, DCM_BitsStored, 0);
  im->pixel_signed = get_int(ds, DCM_PixelRepresentation, 0) == 1;
}

template <typename T>
static void to_modality(const void *data, size_t n, const clgan_dicom_image *im, float *out) {
  const T *v = (const T *)data;
  double sign = im->monochrome1 ? -1.0 : 1.0;
  for (size_t i = 0; i < n; i++)
    out[i] = (float)(sign * (im->rescale_slope * (double)v[i] + im->rescale_intercept));
}

// Decodes the pixels (DCMTK's codecs for compressed syntaxes) as stored
// values, then applies the modality LUT in double precision.
static clgan_status read_pixels(const char *path, DcmFileFormat &ff, clgan_dicom_image *im) {
  DcmDataset *ds = ff.getDataset();
  OFString photometric;
  ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  if (photometric != "MONOCHROME1" && photometric != "MONOCHROME2")
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "%s: a colour image (%s); clgan reads grayscale (MONOCHROME1/2) DICOM only",
                      path, photometric.c_str());
  DicomImage img(&ff, ds->getOriginalXfer(), CIF_IgnoreModalityTransformation, 0, 0);
  if (img.getStatus() != EIS_Normal) {
    E_TransferSyntax xfer = ds->getOriginalXfer();
    if (DcmXfer(xfer).isEncapsulated() && !DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit))
      return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                        "%s: the transfer syntax %s cannot be decoded (DCMTK has no codec for it)",
                        path, im->transfer_syntax);
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the pixel data cannot be read: %s", path,
                      DicomImage::getString(img.getStatus()));
  }
  const DiPixel *inter = img.getInterData();
  size_t n = (size_t)im->rows * im->cols * im->frames;
  if (!inter || !inter->getData() || inter->getCount() < n)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the pixel data holds fewer than %d x %d x %d values",
                      path, im->rows, im->cols, im->frames);
  im->pixels = (float *)malloc(n * sizeof(float));
  if (!im->pixels) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory reading %s", path);
  const void *d = inter->getData();
  switch (inter->getRepresentation()) {
  case EPR_Uint8: to_modality<Uint8>(d, n, im, im->pixels); break;
  case EPR_Sint8: to_modality<Sint8>(d, n, im, im->pixels); break;
  case EPR_Uint16: to_modality<Uint16>(d, n, im, im->pixels); break;
  case EPR_Sint16: to_modality<Sint16>(d, n, im, im->pixels); break;
  case EPR_Uint32: to_modality<Uint32>(d, n, im, im->pixels); break;
  case EPR_Sint32: to_modality<Sint32>(d, n, im, im->pixels); break;
  }
  return CLGAN_OK;
}

static clgan_status check_image(const char *path, DcmDataset *ds, const clgan_dicom_image *im) {
  if (!ds->tagExists(DCM_PixelData))
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: a DICOM file without pixel data (not an image)",
                      path);
  if (im->rows < 1 || im->cols < 1 || im->rows > 65535 || im->cols > 65535)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: image size %d x %d is not valid", path, im->cols,
                      im->rows);
  if ((double)im->rows * im->cols * im->frames > 2147483647.0)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: %d frames of %d x %d are too many values", path,
                      im->frames, im->cols, im->rows);
  return CLGAN_OK;
}


extern "C" clgan_status clgan_dicom_read(const char *path, int with_pixels,
                                         clgan_dicom_image *out) {
  memset(out, 0, sizeof *out);
  register_codecs();
  DcmFileFormat ff;
  // Without pixels only the header is parsed (large values stay on disk).
  OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange,
                              with_pixels ? DCM_MaxReadLength : 4096);
  if (c.bad()) {
    FILE *f = fopen(path, "rb");
    if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot open %s", path);
    fclose(f);
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: not a readable DICOM file (%s)", path, c.text());
  }
  DcmDataset *ds = ff.getDataset();
  read_header(ds, out);
  snprintf(out->transfer_syntax, sizeof out->transfer_syntax, "%s",
           DcmXfer(ds->getOriginalXfer()).getXferName());
  clgan_status st = check_image(path, ds, out);
  if (st == CLGAN_OK && with_pixels) st = read_pixels(path, ff, out);
  if (st != CLGAN_OK) clgan_dicom_image_free(out);
  return st;
}

extern "C" int clgan_dicom_dataset_probe(const char *path) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  DcmFileFormat ff;
  // Values longer than 256 bytes stay on disk; the status is not the answer:
  // a truncated file is still DICOM when the elements read say so.
  (void)ff.loadFile(path, EXS_Unknown, EGL_noChange, 256);
  DcmDataset *ds = ff.getDataset();
  return ds && (ds->tagExists(DCM_SOPClassUID) || ds->tagExists(DCM_Modality) ||
                ds->tagExists(DCM_PixelData) ||
                (ds->tagExists(DCM_Rows) && ds->tagExists(DCM_Columns)));
}

extern "C" void clgan_dicom_image_free(clgan_dicom_image *im) {
  if (!im) return;
  free(im->pixels);
  free(im->frame_positions);
  im->pixels = NULL;
  im->frame_positions = NULL;
}
