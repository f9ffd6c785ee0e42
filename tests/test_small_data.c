/* The --small-data preset of clgan train (src/cli/small_data.c): it fills
 * only the options not given (all bytes 0xff, train.c's convention). */
#include <string.h>

#include "cli/small_data.h"
#include "clgan/augment.h"
#include "test_util.h"

static clgan_dcgan_config none_given(void) {
  clgan_dcgan_config g;
  memset(&g, 0xff, sizeof g);
  return g;
}

START_TEST(test_preset_fills_what_was_not_given) {
  clgan_dcgan_config g = none_given(), untouched = none_given();
  small_data_preset(&g);
  ck_assert_uint_eq(g.augment, CLGAN_AUG_COLOR | CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT);
  ck_assert(g.ema_decay == 0.999f);
  /* nothing else */
  g.augment = untouched.augment;
  g.ema_decay = untouched.ema_decay;
  ck_assert_mem_eq(&g, &untouched, sizeof g);
  /* given (as the parser stores --augment none --ema 0): kept */
  g = none_given();
  g.augment = 0;
  g.ema_decay = 0.0f;
  small_data_preset(&g);
  ck_assert_uint_eq(g.augment, 0);
  ck_assert(g.ema_decay == 0.0f);
  g = none_given();
  g.ema_decay = 0.99f;
  small_data_preset(&g);
  ck_assert(g.ema_decay == 0.99f);
  ck_assert_uint_eq(g.augment, CLGAN_AUG_ALL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("small_data");
  TCase *tc = tcase_create("small_data");
  tcase_add_test(tc, test_preset_fills_what_was_not_given);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
