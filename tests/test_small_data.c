/* The --small-data preset of clgan train (src/cli/small_data.c): it fills
 * only the fields the options left alone, and without it the recipe stays. */
#include <string.h>

#include "cli/small_data.h"
#include "clgan/augment.h"
#include "test_util.h"

START_TEST(test_preset_fills_what_was_not_given) {
  clgan_dcgan_config c = clgan_dcgan_default_config();
  small_data_mark(&c);
  small_data_apply(&c, 1);
  ck_assert_uint_eq(c.augment, CLGAN_AUG_COLOR | CLGAN_AUG_TRANSLATION | CLGAN_AUG_CUTOUT);
  ck_assert(c.ema_decay == 0.999f);
  TU_OK(clgan_config_check(&c, NULL));
  /* given explicitly (as the parser stores --augment none --ema 0.99): kept */
  c = clgan_dcgan_default_config();
  small_data_mark(&c);
  c.augment = 0;
  c.ema_decay = 0.99f;
  small_data_apply(&c, 1);
  ck_assert_uint_eq(c.augment, 0);
  ck_assert(c.ema_decay == 0.99f);
  c = clgan_dcgan_default_config();
  small_data_mark(&c);
  c.ema_decay = 0.0f;
  small_data_apply(&c, 1);
  ck_assert(c.ema_decay == 0.0f);
  ck_assert_uint_eq(c.augment, CLGAN_AUG_ALL);
}
END_TEST

START_TEST(test_without_preset_the_recipe_stays) {
  clgan_dcgan_config c = clgan_dcgan_default_config(), recipe = clgan_dcgan_default_config();
  small_data_mark(&c);
  small_data_apply(&c, 0);
  ck_assert_mem_eq(&c, &recipe, sizeof c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("small_data");
  TCase *tc = tcase_create("small_data");
  tcase_add_test(tc, test_preset_fills_what_was_not_given);
  tcase_add_test(tc, test_without_preset_the_recipe_stays);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
