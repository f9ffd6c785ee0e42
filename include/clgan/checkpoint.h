/* Checkpoints and exported generators, as safetensors files.
 *
 * A checkpoint holds everything needed to continue a run exactly: G and D
 * (parameters and BatchNorm running statistics), both Adam states (moments
 * and step), the iteration, the host RNG state, the fixed noise used for
 * sample grids, and the configuration (in the metadata). Tensor names:
 *   netG.<name>, netD.<name>                 (PyTorch state_dict names)
 *   netG_ema.<name>                          (averaged G weights, with ema_decay > 0)
 *   optG.exp_avg.<name>, optG.exp_avg_sq.<name>, optD....   (Adam moments)
 *   train.rng_state (U64 [4]), train.fixed_noise (F32 [count, nz, 1, 1])
 * metadata: "format" = "clgan-checkpoint", "version" (CLGAN_CHECKPOINT_VERSION
 * in clgan/config.h; files of versions 1 to it load), "iteration", "seed",
 * "optG.step", "optD.step", the augmentation state "augment.*", and every field
 * of the configuration list as "config.<name>"; a conditional model's class
 * tables are netG.label_emb.weight (and netD.label_emb.weight with
 * --projection), its class names "classes" (a JSON array, label order). */
#ifndef CLGAN_CHECKPOINT_H
#define CLGAN_CHECKPOINT_H

#include "clgan/dcgan.h"
#include "clgan/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_train_state {
  long iteration;          /* training iterations completed */
  uint64_t seed;           /* the run's seed (data order, initialisation) */
  uint64_t rng[4];         /* host RNG state (noise, shuffling) */
  int fixed_count;         /* number of fixed noise vectors */
  float *fixed_noise;      /* [fixed_count, nz] (owned by the caller on save;
                              malloc'd by load, free with free()) */
} clgan_train_state;

/* Writes the checkpoint atomically (temporary file + rename): a crash leaves
 * the previous file intact. Blocks on device reads. */
clgan_status clgan_checkpoint_save(const char *path, clgan_dcgan *net,
                                   const clgan_train_state *ts);

/* Reads the configuration stored in a checkpoint (to create the model):
 * fields a file's version lacks take their defaults; the result is checked
 * with clgan_config_check (CLGAN_ERR_FORMAT when out of range). */
clgan_status clgan_checkpoint_read_config(const char *path, clgan_dcgan_config *cfg);

/* Restores a checkpoint into net, which must have the checkpoint's
 * configuration. Every tensor is checked (name, dtype, shape) before anything
 * is written to the device, so a bad file leaves net unchanged. */
clgan_status clgan_checkpoint_load(const char *path, clgan_dcgan *net, clgan_train_state *ts);

/* Writes the generator alone with the tutorial Generator's state_dict names
 * (main.0.weight, main.1.weight, main.1.bias, main.1.running_mean,
 * main.1.running_var, main.1.num_batches_tracked, ...) so PyTorch's
 * load_state_dict accepts it; the configuration goes in the metadata. With
 * ema_decay > 0 the averaged weights are exported. A conditional generator
 * adds label_emb.weight [num_classes, embed_dim] and "classes": PyTorch's
 * CondGenerator (tests/parity/cond_dcgan.py: z' = cat([z, label_emb(y)]))
 * loads it strictly. */
clgan_status clgan_export_generator(const char *path, clgan_dcgan *net);

/* Loads a generator written by clgan_export_generator (or by PyTorch with the
 * same names, F32) into net's G; D is left as it is. */
clgan_status clgan_import_generator(const char *path, clgan_dcgan *net);

/* Reads the configuration from an exported generator's metadata when present
 * (fields it lacks keep the values already in cfg). */
clgan_status clgan_generator_read_config(const char *path, clgan_dcgan_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
