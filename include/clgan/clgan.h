/* clgan: DCGAN training on OpenCL. Umbrella header. */
#ifndef CLGAN_H
#define CLGAN_H
#include "clgan/status.h"
#include "clgan/runtime.h"
#include "clgan/ops.h"
#include "clgan/dcgan.h"
#endif
