/* Helpers shared by the tuner's tests (test_tune, test_convt_direct,
 * test_subpixel): a fresh tune directory for the shared context, the tune
 * report's last record and the shape a record names, and a small model's
 * training steps compared within the parity test's tolerances. */
#ifndef CLGAN_TEST_TUNE_UTIL_H
#define CLGAN_TEST_TUNE_UTIL_H

#include <stddef.h>

#include "clgan/clgan.h"

/* Points the shared context's tuning at a fresh temporary directory (its
 * path written to dir) with this mode and a 600 s budget; returns the old
 * tuning for tt_restore(). */
clgan_tuning tt_use_tuner(clgan_tune_mode mode, char *dir, size_t cap);
/* Changes only the shared context's tune mode. */
void tt_set_mode(clgan_tune_mode mode);
/* Puts the old tuning back and removes dir with what it holds. */
void tt_restore(const clgan_tuning *old, const char *dir);

/* The record of the last conv shape planned (asserts there is one). */
clgan_tune_record tt_last_record(void);
/* The shape a tune record names ("conv 8->16 k4 s2 p1 16x16->8x8 n4"). */
clgan_conv_shape tt_record_shape(const clgan_tune_record *r);

/* A small model's training steps: the figures of the last step and the
 * parameters after it (G's, D's; with their sizes; malloc'd). */
typedef struct tt_step_result {
  clgan_dcgan_stats stats;
  float *params[2];
  size_t floats[2];
} tt_step_result;

/* The recipe's config, small: 32 x 32 images, nz 16, 8 G and D features. */
clgan_dcgan_config tt_small_config(int channels, int batch);
/* Creates the model of cfg (weights seeded 7), runs `steps` steps on fixed
 * real images and noise, and asserts the steps created no OpenCL object. */
tt_step_result tt_steps(const clgan_dcgan_config *cfg, int steps);
/* got equals want within the parity test's tolerances (losses and D
 * outputs rtol 1e-4 atol 1e-5, parameters rtol 1e-6 atol 1e-5, same
 * sizes); frees got's parameters. */
void tt_assert_same_step(const char *what, tt_step_result *got, const tt_step_result *want);
void tt_step_free(tt_step_result *r);

struct conv_variants;
/* The steps of cfg twice, the tuner pointed at a fresh directory by
 * tt_use_tuner: first with the tuner off (into *plain), then with cv stored
 * in the cache for every conv shape the first run planned and read back
 * (returned). Asserts every planned shape has its record and the second run
 * took each from the cache; its records are report->records[*first ..
 * report->nrecords). Leaves the mode at CACHED. */
tt_step_result tt_steps_forced(const clgan_dcgan_config *cfg, int steps,
                               const struct conv_variants *cv, tt_step_result *plain,
                               clgan_tune_report *report, int *first);

/* The conv core's adjoint by its definition, in double, as a transposed
 * convolution (each dy value scattered through every tap): dx [cin, n, h, w]
 * from dy [cout, n, ho, wo] and w [cout, cin, k, k]. */
void tt_ref_adjoint(const clgan_conv_shape *s, const float *dy, const float *w, float *dx);

/* Candidates of the backward data whose names start with a prefix, checked
 * while planning shapes with the tuner on: how many passed the reference
 * check (timed) and how many it rejected. */
typedef struct tt_candidate_count {
  const char *prefix;
  int timed, rejected;
} tt_candidate_count;
/* Plans s on the shared context with *count receiving its candidates'
 * reports (the context's progress callback is restored afterwards). */
void tt_plan_counting(const clgan_conv_shape *s, tt_candidate_count *count);
/* Plans s on the shared context with fn(user, ...) receiving its
 * candidates' reports (the context's callback is restored afterwards). */
void tt_plan_reporting(const clgan_conv_shape *s, clgan_tune_progress_fn fn, void *user);

#endif
