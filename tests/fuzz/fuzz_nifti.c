/* libFuzzer harness: clgan_volume_load, then the slicer on what loaded.
 * Byte 0 picks the file form: bits 0-1 = 0 .nii, 1 .nii.gz (the rest is the
 * gzip stream as given), 2/3 .hdr + .img (split after 348 or 540 bytes);
 * bit 2 asks write_slices for 16-bit PNGs, bit 3 for a 16-pixel size. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/volume.h"
#include "fuzz_util.h"

/* Removes the PNGs write_slices left in dir, then dir (no shell: a
 * process per input would cost more than the input itself). */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return; /* nothing was written */
  char p[1024];
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (unlink(p) != 0) abort();
  }
  closedir(d);
  if (rmdir(dir) != 0) abort();
}

static void exercise(const clgan_volume *v, uint8_t mode) {
  for (int a = 0; a < CLGAN_AXIS_COUNT; a++) {
    int64_t count;
    int w, h;
    clgan_volume_slice_shape(v, (clgan_axis)a, &count, &w, &h);
    float *out = malloc((size_t)w * h * sizeof(float));
    if (!out) abort();
    int64_t idx[3] = {0, count / 2, count - 1};
    for (int i = 0; i < 3; i++)
      if (clgan_volume_slice(v, (clgan_axis)a, idx[i], out) != CLGAN_OK) abort();
    free(out);
  }
  float lo, hi;
  (void)clgan_volume_percentiles(v, 0.5, 99.5, &lo, &hi);
  /* writing every slice as a PNG is slow: only for small volumes */
  if (v->dim[0] * v->dim[1] * v->dim[2] > 65536) return;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/clgan-fuzz-slices-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (long)getpid());
  clgan_slice_options o = clgan_slice_defaults();
  o.axes = 7;
  o.bits = mode & 4 ? 16 : 8;
  o.size = mode & 8 ? 16 : 0;
  o.min_fraction = 0;
  (void)clgan_volume_write_slices(v, dir, "v", &o, NULL);
  remove_dir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  char path[512], img[512] = "";
  int form = mode & 3;
  if (form < 2) {
    if (fz_write_temp(data, size, form ? ".nii.gz" : ".nii", path, sizeof path) != 0) abort();
  } else {
    size_t split = form == 2 ? 348 : 540;
    if (split > size) split = size;
    if (fz_write_temp(data, split, ".hdr", path, sizeof path) != 0) abort();
    /* the image file has the header's name with .img */
    snprintf(img, sizeof img, "%.*s.img", (int)(strlen(path) - 4), path);
    FILE *f = fopen(img, "wb");
    if (!f || fwrite(data + split, 1, size - split, f) != size - split) abort();
    fclose(f);
  }
  clgan_volume v;
  if (clgan_volume_load(path, &v) == CLGAN_OK) exercise(&v, mode);
  clgan_volume_free(&v);
  unlink(path);
  if (img[0]) unlink(img);
  return 0;
}
