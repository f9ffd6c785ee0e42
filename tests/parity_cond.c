/* The conditional parity fixture's extras (tests/parity_cond.h). */
#include "parity_cond.h"

#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

int parity_cond_embed(const pf_fixture *f) {
  int e = 0;
  return pf_find(f, "config.embed_dim") && pf_scalar_i32(f, "config.embed_dim", &e) == 0 ? e : 0;
}

void parity_cond_config(const pf_fixture *f, clgan_dcgan_config *cfg) {
  if (!parity_cond_embed(f)) return;
  cfg->conditional = 1;
  cfg->embed_dim = parity_cond_embed(f);
  ck_assert_msg(pf_scalar_i32(f, "config.num_classes", &cfg->num_classes) == 0, "%s", pf_error());
  int planes = 0; /* the fixture says which D form it recorded */
  ck_assert_msg(pf_scalar_i32(f, "config.label_channels", &planes) == 0, "%s", pf_error());
  cfg->projection = !planes;
}

void parity_cond_labels(const pf_fixture *f, int it, int n, clgan_buf labels[2]) {
  static const char *const kind[2] = {"real_labels", "fake_labels"};
  float *host = tu_malloc(sizeof(float) * (size_t)n);
  for (int k = 0; k < 2; k++) {
    char name[64];
    snprintf(name, sizeof name, "iter%d.%s", it, kind[k]);
    const pf_record *r = pf_find(f, name);
    ck_assert_msg(r && r->dtype == PF_I32 && pf_shape_is(r, 1, (int[]){n}),
                  "%s: missing, not int32 or not (%d,)", name, n);
    for (int b = 0; b < n; b++) host[b] = (float)((const int32_t *)r->data)[b];
    TU_OK(clgan_buf_write(tu_ctx(), labels[k], host, (size_t)n));
  }
  free(host);
}
