/* clgan: DCGAN training on OpenCL. Umbrella header: every public module. */
#ifndef CLGAN_H
#define CLGAN_H
#include "clgan/status.h"      /* status codes, error detail */
#include "clgan/runtime.h"     /* devices, context, kernels, disk cache */
#include "clgan/rng.h"         /* host random numbers, named seed streams */
#include "clgan/ops.h"         /* every op, forward and backward */
#include "clgan/augment.h"     /* differentiable augmentation (DiffAugment, ADA) */
#include "clgan/regularize.h"  /* D's regularisers (LeCam, spectral norm, bCR) */
#include "clgan/dcgan.h"       /* the model and its training step */
#include "clgan/safetensors.h" /* the checkpoint file format */
#include "clgan/config.h"      /* the configuration list: defaults, ranges, flags */
#include "clgan/checkpoint.h"  /* checkpoints, exported generators */
#include "clgan/image.h"       /* PNG */
#include "clgan/dataset.h"     /* ImageFolder datasets */
#include "clgan/volume.h"      /* NIfTI volumes to slices */
#include "clgan/dicom.h"       /* DICOM images and series */
#include "clgan/report.h"      /* sample grids, plots */
#include "clgan/metrics.h"     /* SWD, MS-SSIM, nearest neighbours */
#include "clgan/train.h"       /* the training loop and run directory */
#endif
