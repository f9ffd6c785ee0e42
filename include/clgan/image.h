/* Images on the host: PNG decoding and encoding through libpng. */
#ifndef CLGAN_IMAGE_H
#define CLGAN_IMAGE_H

#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_image {
  int width, height;
  int channels;   /* as stored after palette expansion: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
  int bit_depth;  /* of the source file: 8 or 16 (1/2/4-bit gray is expanded to 8) */
  float *pixels;  /* [height][width][channels], values in [0, 1] */
} clgan_image;

/* Decodes any PNG (every colour type and bit depth, palette and tRNS
 * expanded). A missing, truncated or non-PNG file gives CLGAN_ERR_IO or
 * CLGAN_ERR_FORMAT with the path and the reason in clgan_last_error(). */
clgan_status clgan_png_read(const char *path, clgan_image *out);

/* Writes pixels [height][width][channels] in [0, 1] (clamped) as an 8- or
 * 16-bit PNG with 1 to 4 channels. Atomic: a temporary file renamed into
 * place, so a failure never leaves a half-written image at path. */
clgan_status clgan_png_write(const char *path, int width, int height, int channels,
                             int bit_depth, const float *pixels);

/* Frees the pixels; accepts NULL and zeroed images. */
void clgan_image_free(clgan_image *img);

#ifdef __cplusplus
}
#endif
#endif
