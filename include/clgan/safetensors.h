/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header naming every tensor with its
 * dtype, shape and byte range, then the raw little-endian data. clgan's
 * checkpoints and exported generators use this format so PyTorch and other
 * tools can read them. */
#ifndef CLGAN_SAFETENSORS_H
#define CLGAN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clgan_dtype { CLGAN_F32 = 0, CLGAN_I64, CLGAN_U64, CLGAN_DTYPE_COUNT } clgan_dtype;

#define CLGAN_ST_MAX_DIMS 8

typedef struct clgan_st_tensor {
  const char *name;
  clgan_dtype dtype;
  int ndim;                       /* 0 for a scalar */
  int64_t shape[CLGAN_ST_MAX_DIMS];
  const void *data;               /* little-endian, product(shape) elements */
} clgan_st_tensor;

/* Writes tensors (in the given order) and string metadata (meta_keys[i] ->
 * meta_values[i]) to path atomically: a temporary file in the same
 * directory, flushed, then renamed, so path is either the old file or the
 * complete new one. */
clgan_status clgan_safetensors_write(const char *path, const clgan_st_tensor *tensors, int count,
                                     const char *const *meta_keys, const char *const *meta_values,
                                     int meta_count);

typedef struct clgan_safetensors clgan_safetensors;

/* Reads and validates a whole file: header length within the file, JSON
 * well formed, every tensor's dtype known, shape non-negative, byte range
 * inside the data section and equal to its shape's size, ranges not
 * overlapping. Any violation is CLGAN_ERR_FORMAT naming the file and what is
 * wrong; nothing is trusted before it is checked. */
clgan_status clgan_safetensors_open(const char *path, clgan_safetensors **out);
void clgan_safetensors_close(clgan_safetensors *st); /* accepts NULL */

/* The tensor named name, or NULL. Its data pointer lives until close. */
const clgan_st_tensor *clgan_safetensors_find(const clgan_safetensors *st, const char *name);
int clgan_safetensors_count(const clgan_safetensors *st);
const clgan_st_tensor *clgan_safetensors_at(const clgan_safetensors *st, int i);
/* Metadata entries in file order: count, and the key of entry i. */
int clgan_safetensors_meta_count(const clgan_safetensors *st);
const char *clgan_safetensors_meta_key(const clgan_safetensors *st, int i);
/* Metadata value for key, or NULL. */
const char *clgan_safetensors_meta(const clgan_safetensors *st, const char *key);
/* The file's path, for messages. */
const char *clgan_safetensors_path(const clgan_safetensors *st);

/* Finds name and checks it is F32 with exactly the given shape; on mismatch
 * returns CLGAN_ERR_FORMAT with a message naming the file, the tensor, the
 * expected and the found shape. */
clgan_status clgan_safetensors_expect_f32(const clgan_safetensors *st, const char *name,
                                          int ndim, const int64_t *shape, const float **data);

#ifdef __cplusplus
}
#endif
#endif
