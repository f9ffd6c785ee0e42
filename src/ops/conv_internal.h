/* Internal knobs of the conv core (src/ops/conv.c) for tests and benchmarks;
 * not part of the public API. */
#ifndef CLGAN_OPS_CONV_INTERNAL_H
#define CLGAN_OPS_CONV_INTERNAL_H

/* Work-item mapping of col2im (cl/col2im.cl). AUTO: the environment variable
 * CLGAN_COL2IM=pixels|rows when set, else rows on CPU devices and pixels
 * elsewhere. Process-wide; set it only while no op is being enqueued. */
typedef enum clgan_col2im_map {
  CLGAN_COL2IM_AUTO = 0,
  CLGAN_COL2IM_PIXELS,
  CLGAN_COL2IM_ROWS
} clgan_col2im_map;

void clgan_conv_set_col2im_map(clgan_col2im_map map);

/* Work-item mapping of im2col (cl/im2col.cl). AUTO: the environment variable
 * CLGAN_IM2COL=elements|rows when set, else rows on CPU devices for outputs
 * of at least 4 pixels and elements otherwise. Process-wide; set
 * it only while no op is being enqueued. */
typedef enum clgan_im2col_map {
  CLGAN_IM2COL_AUTO = 0,
  CLGAN_IM2COL_ELEMENTS,
  CLGAN_IM2COL_ROWS
} clgan_im2col_map;

void clgan_conv_set_im2col_map(clgan_im2col_map map);

/* The adjoint (conv backward data, convT forward) builds its column matrix
 * a few images at a time, at most this many floats per chunk (at least one
 * image), on every device; 0 restores the default (CPUs: 4M floats; GPUs:
 * all images at once). Process-wide, like the maps above. */
void clgan_conv_set_adjoint_chunk(size_t floats);

#endif
