/* libFuzzer harness: the checkpoint and exported-generator loaders, loading
 * into a real tiny model on the OpenCL device (PoCL in CI). The model is
 * built once; a failed load leaves it unchanged, a successful one only
 * overwrites its weights. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clgan/checkpoint.h"
#include "clgan/clgan.h"
#include "fuzz_util.h"
#include "fuzz_model.h"

static clgan_ctx *ctx;
static clgan_dcgan *net;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (fz_model_create(&ctx, &net) != 0) exit(1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  if (fz_write_temp(data, size, ".safetensors", path, sizeof path) != 0) abort();
  clgan_dcgan_config cfg;
  (void)clgan_checkpoint_read_config(path, &cfg);
  clgan_train_state ts;
  if (clgan_checkpoint_load(path, net, &ts) == CLGAN_OK) free(ts.fixed_noise);
  cfg = clgan_dcgan_default_config();
  (void)clgan_generator_read_config(path, &cfg);
  (void)clgan_import_generator(path, net);
  unlink(path);
  return 0;
}
