/* The regularisers' state in checkpoints: LeCam's anchors, spectral norm's
 * u and v, as F32 tensors named as clgan/regularize.h lists them. */
#include "train/checkpoint_reg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/regularize.h"
#include "runtime/internal.h"

clgan_status checkpoint_reg_append(clgan_dcgan *net, clgan_st_tensor *tensors, int *nt, int cap,
                                   float **host) {
  *host = NULL;
  const clgan_tensor_desc *list;
  int count = clgan_dcgan_reg_tensors(net, &list);
  if (count == 0) return CLGAN_OK;
  if (*nt + count > cap) return clgan_fail(CLGAN_ERR_INVALID, "checkpoint: too many tensors");
  if (!(*host = malloc(clgan_dcgan_reg_floats(net) * sizeof(float))))
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_status st = clgan_dcgan_reg_read(net, *host);
  for (int i = 0; i < count && st == CLGAN_OK; i++) {
    clgan_st_tensor *t = &tensors[(*nt)++];
    *t = (clgan_st_tensor){.name = list[i].name,
                           .dtype = CLGAN_F32,
                           .ndim = list[i].ndim,
                           .data = *host + list[i].offset};
    for (int k = 0; k < list[i].ndim; k++) t->shape[k] = list[i].shape[k];
  }
  return st;
}

/* LeCam's flags say whether an anchor was ever set: 0 or 1. */
static int valid(const clgan_tensor_desc *d, const float *v) {
  for (size_t i = 0; i < d->count; i++)
    if (!isfinite(v[i])) return 0;
  if (strcmp(d->name, "train.lecam_anchors") == 0)
    for (size_t i = 2; i < d->count; i++)
      if (v[i] != 0.0f && v[i] != 1.0f) return 0;
  return 1;
}

clgan_status checkpoint_reg_gather(clgan_safetensors *st, clgan_dcgan *net, float **host) {
  *host = NULL;
  const clgan_tensor_desc *list;
  int count = clgan_dcgan_reg_tensors(net, &list);
  if (count == 0) return CLGAN_OK;
  if (!(*host = malloc(clgan_dcgan_reg_floats(net) * sizeof(float))))
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_status s = CLGAN_OK;
  for (int i = 0; i < count && s == CLGAN_OK; i++) {
    const clgan_tensor_desc *d = &list[i];
    int64_t shape[4] = {d->shape[0], d->shape[1], d->shape[2], d->shape[3]};
    const float *src;
    s = clgan_safetensors_expect_f32(st, d->name, d->ndim, shape, &src);
    if (s == CLGAN_OK && !valid(d, src))
      s = clgan_fail(CLGAN_ERR_FORMAT,
                     "%s: tensor %s holds an invalid value (non-finite, or a "
                     "LeCam flag other than 0 or 1)",
                     clgan_safetensors_path(st), d->name);
    if (s == CLGAN_OK) memcpy(*host + d->offset, src, d->count * sizeof(float));
  }
  if (s != CLGAN_OK) {
    free(*host);
    *host = NULL;
  }
  return s;
}
