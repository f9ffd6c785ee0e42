#include "fuzz_model.h"

#include <stdio.h>
#include <stdlib.h>

int fz_model_create(clgan_ctx **ctx, clgan_dcgan **net) {
  clgan_ctx_options o = {0};
  o.device = getenv("CLGAN_TEST_DEVICE");
  clgan_status st = clgan_ctx_create(&o, ctx);
  if (st == CLGAN_OK) {
    clgan_dcgan_config c = clgan_dcgan_default_config();
    c.image_size = 16;
    c.channels = 1;
    c.nz = 5;
    c.ngf = 3;
    c.ndf = 3;
    c.batch = 3;
    st = clgan_dcgan_create(*ctx, &c, net);
    if (st == CLGAN_OK) st = clgan_dcgan_init_weights(*net, 1);
  }
  if (st != CLGAN_OK) {
    fprintf(stderr, "fuzz model: %s: %s\n", clgan_status_str(st), clgan_last_error());
    return -1;
  }
  return 0;
}
