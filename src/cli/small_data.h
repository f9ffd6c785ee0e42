/* `clgan train --small-data`: a preset of the small-data switches that only
 * fills the fields the command line left alone. */
#ifndef CLGAN_CLI_SMALL_DATA_H
#define CLGAN_CLI_SMALL_DATA_H

#include "clgan/dcgan.h"

#define SMALL_DATA_HELP                                                 \
  "the small-data preset: --augment color,translation,cutout and\n"     \
  "--ema 0.999 (measured to help on one MRI volume), each only where\n" \
  "not given; bench/study_small_data.sh is to decide the regularisers"

/* Before parsing: marks the preset's fields as not given. */
void small_data_mark(clgan_dcgan_config *cfg);
/* After parsing: fields still marked get the preset's value (preset on) or
 * the recipe's default (off). */
void small_data_apply(clgan_dcgan_config *cfg, int preset);

#endif
