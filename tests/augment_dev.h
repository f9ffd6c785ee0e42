/* Shared by the augmentation tests: shapes and policies to sweep, and
 * device buffers (x, y, dy, dx, work in one arena with zero guards, p on
 * the device) with the plan of their last forward. */
#ifndef CLGAN_TEST_AUGMENT_DEV_H
#define CLGAN_TEST_AUGMENT_DEV_H

#include "clgan/augment.h"
#include "test_util.h"

#define BR CLGAN_AUG_OP_BRIGHTNESS
#define SAT CLGAN_AUG_OP_SATURATION
#define CON CLGAN_AUG_OP_CONTRAST
#define TRA CLGAN_AUG_OP_TRANSLATION
#define CUT CLGAN_AUG_OP_CUTOUT
#define STRIDE CLGAN_AUG_STRIDE
#define DRAWN CLGAN_AUG_P_MEAN /* the record's drawn slots come first */

typedef struct shape {
  int c, n, h, w;
} shape;

/* 1 and 3 channels (and 5: the kernels' runtime channel loop), batch 1 and
 * odd, odd and even sizes, square and not. */
extern const shape shapes[];
extern const size_t NSHAPES;
extern const unsigned policies[];
extern const size_t NPOLICIES;

unsigned rec_flags(const float *rec);
void check_bitwise(const char *what, const float *a, const float *b, size_t n);

typedef struct aug_dev {
  shape s;
  size_t count, wf, total;
  clgan_buf arena, x, y, dy, dx, work;
  clgan_buf p;             /* [1] the probability, on the device */
  clgan_augment_plan plan; /* of the last forward */
} aug_dev;

aug_dev dev_make(shape s);
void dev_free(aug_dev *d);
/* Every float outside the five regions is still zero. */
void dev_check_guards(const aug_dev *d);
/* Plans (from the context's current tuning) and runs the forward on the
 * device copy of x, with p written to the device first. */
void dev_forward_device_x(aug_dev *d, unsigned policy, float p, uint64_t seed, uint64_t counter);
/* Uploads x, then dev_forward_device_x. */
void dev_forward(aug_dev *d, unsigned policy, float p, uint64_t seed, uint64_t counter,
                 const float *x);
/* The backward of the last forward (its plan). */
void dev_backward(aug_dev *d, unsigned policy, const float *dy);
/* The n records of work (malloc'd). */
float *dev_records(aug_dev *d);

#endif
