/* The run directory rule (src/train/rundir.c): a claimed folder is locked
 * against a second claim, a folder holding a run is refused unless resuming,
 * the lock goes with its holder, and default folders are never shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "train/rundir.h"

/* A fresh folder under TMPDIR; its name in buf. */
static void temp_dir(char *buf, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, cap, "%s/clgan-rundir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void touch(const char *dir, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("x\n", f);
  fclose(f);
}

START_TEST(test_claim_locks_the_folder) {
  char root[512], dir[600];
  temp_dir(root, sizeof root);
  snprintf(dir, sizeof dir, "%s/run", root);
  clgan_train_options o = {.out_dir = dir};
  rundir a = {.o = &o}, b = {.o = &o};
  char ckpt[700];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
  TU_OK(rundir_claim(&a, NULL)); /* creates the folder */
  struct stat sb;
  ck_assert_int_eq(stat(dir, &sb), 0);
  /* a second claim, even in this process, finds the lock held */
  ck_assert_int_eq(rundir_claim(&b, ckpt), CLGAN_ERR_IO);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "is in use by another clgan train"));
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), dir));
  touch(dir, "log.csv");
  ck_assert_int_eq(rundir_close(&a, 1), CLGAN_OK);
  char lock[700];
  snprintf(lock, sizeof lock, "%s/.lock", dir);
  ck_assert_int_ne(access(lock, F_OK), 0); /* removed with the lock */
  /* released: its own run may go on there; a new run may not (it holds
   * log.csv), nor a run resumed from a checkpoint elsewhere */
  TU_OK(rundir_claim(&b, ckpt));
  rundir_release(&b);
  char other[700];
  snprintf(other, sizeof other, "%s/checkpoint.safetensors", root);
  ck_assert_int_eq(rundir_claim(&b, other), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "already holds another run (log.csv)"));
  ck_assert_int_eq(rundir_claim(&b, NULL), CLGAN_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "already holds a run (log.csv)"));
  ck_assert_ptr_nonnull(strstr(clgan_last_error(), "--resume"));
  ck_assert_int_ne(access(lock, F_OK), 0); /* a refused claim leaves no lock behind */
  tu_remove_tree(root);
}
END_TEST

START_TEST(test_stale_lock_and_empty_folder) {
  char root[512], dir[600];
  temp_dir(root, sizeof root);
  snprintf(dir, sizeof dir, "%s/run", root);
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  touch(dir, ".lock"); /* left by a killed run: nobody holds it */
  touch(dir, "notes.txt"); /* not a run's file */
  clgan_train_options o = {.out_dir = dir};
  rundir a = {.o = &o};
  TU_OK(rundir_claim(&a, NULL));
  rundir_release(&a);
  /* a folder the claim made and nothing was written to is removed again */
  char fresh[600];
  snprintf(fresh, sizeof fresh, "%s/fresh", root);
  o.out_dir = fresh;
  TU_OK(rundir_claim(&a, NULL));
  rundir_release(&a);
  ck_assert_int_ne(access(fresh, F_OK), 0);
  tu_remove_tree(root);
}
END_TEST

START_TEST(test_unique_names) {
  char root[512], base[600], first[700], second[700], third[700];
  temp_dir(root, sizeof root);
  snprintf(base, sizeof base, "%s/runs/20260101-000000", root);
  TU_OK(clgan_run_dir_create_unique(base, first, sizeof first));
  TU_OK(clgan_run_dir_create_unique(base, second, sizeof second));
  TU_OK(clgan_run_dir_create_unique(base, third, sizeof third));
  ck_assert_str_eq(first, base);
  ck_assert_str_eq(second + strlen(base), "-2");
  ck_assert_str_eq(third + strlen(base), "-3");
  ck_assert_int_eq(clgan_run_dir_create_unique("", first, sizeof first), CLGAN_ERR_INVALID);
  tu_remove_tree(root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("rundir");
  TCase *tc = tcase_create("rundir");
  tcase_add_test(tc, test_claim_locks_the_folder);
  tcase_add_test(tc, test_stale_lock_and_empty_folder);
  tcase_add_test(tc, test_unique_names);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
