/* The safetensors reader and writer (src/train/safetensors.c): a round
 * trip keeps every tensor and every metadata entry, however many of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/safetensors.h"
#include "test_util.h"

/* More metadata entries than tensors (a small model has few tensors and a
 * configuration of many fields): all of them must come back. */
START_TEST(test_metadata_beyond_tensor_count) {
  char dir[] = "/tmp/clgan-st-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/t.safetensors", dir);
  const float data[3] = {1.0f, -2.5f, 3.0f};
  clgan_st_tensor t = {.name = "w", .dtype = CLGAN_F32, .ndim = 1, .shape = {3}, .data = data};
  enum { NMETA = 40 };
  char keys[NMETA][24], values[NMETA][24];
  const char *kp[NMETA], *vp[NMETA];
  for (int i = 0; i < NMETA; i++) {
    snprintf(keys[i], sizeof keys[i], "config.field_%02d", i);
    snprintf(values[i], sizeof values[i], "%d.5", i * 7);
    kp[i] = keys[i];
    vp[i] = values[i];
  }
  TU_OK(clgan_safetensors_write(path, &t, 1, kp, vp, NMETA));
  clgan_safetensors *st = NULL;
  TU_OK(clgan_safetensors_open(path, &st));
  ck_assert_int_eq(clgan_safetensors_count(st), 1);
  ck_assert_int_eq(clgan_safetensors_meta_count(st), NMETA);
  for (int i = 0; i < NMETA; i++) {
    const char *v = clgan_safetensors_meta(st, keys[i]);
    ck_assert_msg(v != NULL, "metadata %s lost", keys[i]);
    ck_assert_str_eq(v, values[i]);
  }
  const clgan_st_tensor *w = clgan_safetensors_find(st, "w");
  ck_assert_ptr_nonnull(w);
  ck_assert_mem_eq(w->data, data, sizeof data);
  clgan_safetensors_close(st);
  tu_remove_tree(dir);
}
END_TEST

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* A write removes the temporary files that killed writers of the same file
 * left behind (their pid is gone), and nothing else. */
START_TEST(test_stale_temporaries_removed) {
  char dir[] = "/tmp/clgan-st-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256], dead[300], alive[300], other[300];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
  /* beyond Linux's largest pid: no such process */
  snprintf(dead, sizeof dead, "%s.tmp.%d", path, 4194305);
  snprintf(alive, sizeof alive, "%s.tmp.%ld", path, (long)getppid());
  snprintf(other, sizeof other, "%s/notes.tmp.%d", dir, 4194305);
  const char *files[3] = {dead, alive, other};
  for (int i = 0; i < 3; i++) {
    FILE *f = fopen(files[i], "w");
    ck_assert_ptr_nonnull(f);
    fputs("partial", f);
    fclose(f);
  }
  const float one = 1.0f;
  clgan_st_tensor t = {.name = "w", .dtype = CLGAN_F32, .ndim = 1, .shape = {1}, .data = &one};
  TU_OK(clgan_safetensors_write(path, &t, 1, NULL, NULL, 0));
  ck_assert_msg(!exists(dead), "the dead writer's temporary file is still there");
  ck_assert_msg(exists(alive), "a live writer's temporary file was removed");
  ck_assert_msg(exists(other), "another file was removed");
  ck_assert(exists(path));
  tu_remove_tree(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("safetensors");
  tcase_add_test(tc, test_metadata_beyond_tensor_count);
  tcase_add_test(tc, test_stale_temporaries_removed);
  suite_add_tcase(s, tc);
  return tu_run(s); /* no OpenCL context is created: none is used */
}
