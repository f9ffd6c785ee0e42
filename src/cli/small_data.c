/* The --small-data preset (small_data.h). */
#include "small_data.h"

#include <string.h>

#include "clgan/augment.h"

static int unset(const void *field, size_t size) {
  const unsigned char *b = field;
  for (size_t i = 0; i < size; i++)
    if (b[i] != 0xff) return 0;
  return 1;
}

void small_data_preset(clgan_dcgan_config *given) {
  if (unset(&given->augment, sizeof given->augment))
    given->augment = CLGAN_AUG_COLOR | CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT;
  if (unset(&given->ema_decay, sizeof given->ema_decay)) given->ema_decay = 0.999f;
}
