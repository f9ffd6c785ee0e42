/* libFuzzer harness: clgan_safetensors_open and every accessor on the result. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/safetensors.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  if (fz_write_temp(data, size, ".safetensors", path, sizeof path) != 0) abort();
  clgan_safetensors *st = NULL;
  if (clgan_safetensors_open(path, &st) == CLGAN_OK) {
    volatile unsigned char sink = 0;
    for (int i = 0; i < clgan_safetensors_count(st); i++) {
      const clgan_st_tensor *t = clgan_safetensors_at(st, i);
      size_t bytes = t->dtype == CLGAN_F32 ? 4 : 8;
      for (int d = 0; d < t->ndim; d++) bytes *= (size_t)t->shape[d];
      /* touch the first and last byte: ASan checks the copy's extent */
      if (bytes) sink ^= ((const unsigned char *)t->data)[0] ^ ((const unsigned char *)t->data)[bytes - 1];
      if (clgan_safetensors_find(st, t->name) == NULL) abort();
      const float *f;
      (void)clgan_safetensors_expect_f32(st, t->name, t->ndim, t->shape, &f);
    }
    for (int i = 0; i < clgan_safetensors_meta_count(st); i++)
      if (!clgan_safetensors_meta(st, clgan_safetensors_meta_key(st, i))) abort();
    (void)sink;
  }
  clgan_safetensors_close(st);
  unlink(path);
  return 0;
}
