/* The tiny model the checkpoint harness loads into and the seed maker saves. */
#ifndef CLGAN_FUZZ_MODEL_H
#define CLGAN_FUZZ_MODEL_H

#include "clgan/clgan.h"

/* Context on $CLGAN_TEST_DEVICE (or the default device) and a 16-pixel gray
 * DCGAN with nz 5 and widths 3; 0 on success, else prints why. */
int fz_model_create(clgan_ctx **ctx, clgan_dcgan **net);

#endif
