/* Shared helpers for clgan's Check tests: one OpenCL context per test binary,
 * seeded random data, tolerant comparison that prints the worst element. */
#ifndef CLGAN_TEST_UTIL_H
#define CLGAN_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "clgan/clgan.h"

/* The binary's shared context (created on first use, on $CLGAN_TEST_DEVICE or
 * the default device). Exits 77 (skip) only when no OpenCL platform or
 * device exists at all; any other failure fails the test. */
clgan_ctx *tu_ctx(void);

/* Runs the suite without forking (OpenCL state does not survive fork) and
 * returns the process exit code. Destroys the shared context. */
int tu_run(Suite *s);

/* Checks a status, printing clgan_last_error() on failure. */
#define TU_OK(expr)                                                            \
  do {                                                                         \
    clgan_status tu_st_ = (expr);                                              \
    ck_assert_msg(tu_st_ == CLGAN_OK, "%s -> %s: %s", #expr,                   \
                  clgan_status_name(tu_st_), clgan_last_error());              \
  } while (0)

/* Deterministic uniform [lo, hi) values from a seed (splitmix64). */
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Deterministic normal(mean, std) values. */
void tu_fill_normal(float *x, size_t n, uint64_t seed, float mean, float std);

/* |got - want| <= atol + rtol * |want| for every element. Prints the worst
 * element (index, values, error) to stderr when it fails; returns 1 if close. */
int tu_close(const char *what, const float *got, const float *want, size_t n, double rtol,
             double atol);
#define TU_ASSERT_CLOSE(what, got, want, n, rtol, atol) \
  ck_assert_msg(tu_close(what, got, want, n, rtol, atol), "%s: values differ (see stderr)", what)

/* Allocates a device buffer and uploads n floats (or fills with 0 when src
 * is NULL). */
clgan_buf tu_upload(const float *src, size_t n);
/* Finishes the shared context's queue and asserts it created no buffer,
 * program or kernel since *before (clgan_ctx_created); what: in the message. */
void tu_assert_created_nothing(const clgan_ctx_counts *before, const char *what);
/* Blocking download of n floats into a new malloc'd array. */
float *tu_download(clgan_buf b, size_t n);
/* Removes a directory tree (best effort; for the tests' temporary folders).
 * Keeps it when CLGAN_TEST_KEEP is set, for looking at what a test wrote. */
void tu_remove_tree(const char *dir);

/* malloc that fails the test on NULL. */
void *tu_malloc(size_t bytes);

/* A scratch folder for each test, as a Check fixture: tu_scratch_setup
 * makes /tmp/clgan-test-XXXXXX, tu_scratch_teardown removes it (kept when
 * CLGAN_TEST_KEEP is set, to inspect the files); tu_scratch_path(name) is
 * dir/name in one of 4 rotating buffers. */
void tu_scratch_setup(void);
void tu_scratch_teardown(void);
const char *tu_scratch_dir(void);
const char *tu_scratch_path(const char *name);

/* An ImageFolder for training tests: root/data/scans/img00..img23.png, 24
 * gray 20 x 20 images of a bright disc at varying places. 1 on success. */
int tu_disc_dataset(const char *root);

/* Two checkpoints hold the same tensors bit for bit and the same values of
 * the metadata keys given (nkeys of them). */
void tu_assert_same_checkpoints(const char *a, const char *b, const char *const *keys, int nkeys);

#endif
