/* Between the DICOM C files and the DCMTK shim (src/data/dicom_dcmtk.cc). */
#ifndef CLGAN_DATA_DICOM_INTERNAL_H
#define CLGAN_DATA_DICOM_INTERNAL_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether DCMTK reads path (without preamble and "DICM": a raw dataset,
 * implicit or explicit VR, either byte order) as a dataset holding the
 * elements of a DICOM object: SOPClassUID, Modality, Rows and Columns, or
 * PixelData. A truncated dataset counts when the elements read say so. */
int clgan_dicom_dataset_probe(const char *path);

#ifdef __cplusplus
}
#endif
#endif
