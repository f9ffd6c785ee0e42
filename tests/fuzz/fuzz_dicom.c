/* libFuzzer harness: the DICOM reader (DCMTK through the shim) as
 * `clgan slice` uses it: the scan of the file (DICOM or not, preamble or
 * raw dataset, header only), then each series' volume (the pixels decoded),
 * sliced once along each axis. DCMTK parses a few ms per file, so each
 * input is parsed as few times as that path takes (three). */
#include <stdlib.h>
#include <unistd.h>

#include "clgan/dicom.h"
#include "fuzz_util.h"

static void exercise_volume(const clgan_volume *v) {
  for (int a = 0; a < CLGAN_AXIS_COUNT; a++) {
    int64_t count;
    int w, h;
    clgan_volume_slice_shape(v, (clgan_axis)a, &count, &w, &h);
    float *out = malloc((size_t)w * h * sizeof(float));
    if (!out) abort();
    if (clgan_volume_slice(v, (clgan_axis)a, count - 1, out) != CLGAN_OK) abort();
    free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  if (fz_write_temp(data, size, ".dcm", path, sizeof path) != 0) abort();
  const char *in[1] = {path};
  clgan_dicom_scan scan;
  if (clgan_dicom_scan_paths(in, 1, &scan) == CLGAN_OK) {
    for (int s = 0; s < scan.count; s++) {
      clgan_volume v;
      clgan_dicom_window w;
      if (clgan_dicom_series_volume(&scan.series[s], &v, &w) == CLGAN_OK) exercise_volume(&v);
      clgan_volume_free(&v);
    }
    clgan_dicom_scan_free(&scan);
  }
  unlink(path);
  return 0;
}
