/* libFuzzer harness: clgan_png_read on arbitrary bytes. */
#include <stdlib.h>
#include <unistd.h>

#include "clgan/image.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  if (fz_write_temp(data, size, ".png", path, sizeof path) != 0) abort();
  clgan_image img;
  if (clgan_png_read(path, &img) == CLGAN_OK) {
    /* every decoded value must be a sample in [0, 1] */
    size_t n = (size_t)img.width * img.height * img.channels;
    for (size_t i = 0; i < n; i++)
      if (!(img.pixels[i] >= 0.0f && img.pixels[i] <= 1.0f)) abort();
  }
  clgan_image_free(&img);
  unlink(path);
  return 0;
}
