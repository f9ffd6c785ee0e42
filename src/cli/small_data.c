/* The --small-data preset (small_data.h). A field is "given" when the
 * parser wrote it: the mark is a value no option can store (an augmentation
 * bit outside every policy, a negative decay). */
#include "small_data.h"

#include "clgan/augment.h"

#define UNSET_POLICY 0x80000000u
#define UNSET_DECAY (-1.0f)

void small_data_mark(clgan_dcgan_config *cfg) {
  cfg->augment = UNSET_POLICY;
  cfg->ema_decay = UNSET_DECAY;
}

void small_data_apply(clgan_dcgan_config *cfg, int preset) {
  const clgan_dcgan_config recipe = clgan_dcgan_default_config();
  if (cfg->augment == UNSET_POLICY)
    cfg->augment = preset ? (unsigned)(CLGAN_AUG_COLOR | CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT)
                          : recipe.augment;
  if (cfg->ema_decay == UNSET_DECAY) cfg->ema_decay = preset ? 0.999f : recipe.ema_decay;
}
