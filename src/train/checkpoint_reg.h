/* The regularisers' state in checkpoints (clgan/regularize.h names the
 * tensors); used by checkpoint.c. */
#ifndef CLGAN_TRAIN_CHECKPOINT_REG_H
#define CLGAN_TRAIN_CHECKPOINT_REG_H

#include "clgan/safetensors.h"
#include "clgan/dcgan.h"

/* Appends the state's tensors to tensors[*nt..cap), their data read into
 * *host (malloc'd, NULL when there is none: free it after the write). */
clgan_status checkpoint_reg_append(clgan_dcgan *net, clgan_st_tensor *tensors, int *nt, int cap,
                                   float **host);
/* The state from st into *host (malloc'd), every tensor checked (present,
 * shape, finite; LeCam's flags 0 or 1); nothing on the device changes. */
clgan_status checkpoint_reg_gather(clgan_safetensors *st, clgan_dcgan *net, float **host);

#endif
