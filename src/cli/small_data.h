/* `clgan train --small-data`: a preset of the small-data switches that only
 * fills the options the command line did not give. */
#ifndef CLGAN_CLI_SMALL_DATA_H
#define CLGAN_CLI_SMALL_DATA_H

#include "clgan/dcgan.h"

#define SMALL_DATA_HELP                                                  \
  "the small-data preset: --augment color,translation,cutout and\n"     \
  "--ema 0.999 (measured to help on one MRI volume), each only where\n" \
  "not given; bench/study_small_data.sh is to decide the regularisers"

/* given: the options of the command line, a field not given being all
 * bytes 0xff (train.c's convention); the preset's fields not given get the
 * preset's values, as if given. */
void small_data_preset(clgan_dcgan_config *given);

#endif
