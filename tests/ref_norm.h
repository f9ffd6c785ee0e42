/* Double-precision host references of the activations and of training-mode
 * BatchNorm2d (PyTorch 1.13 semantics), shared by test_act and test_batchnorm. */
#ifndef CLGAN_TEST_REF_NORM_H
#define CLGAN_TEST_REF_NORM_H

#include <stddef.h>

#include "clgan/clgan.h"

/* The recipe's LeakyReLU slope, used by every test. */
#define SLOPE 0.2f

/* Short names of the activations, for messages. */
extern const char *const ref_act_names[];

double ref_act(int act, double v, double slope);
/* d act / d x expressed through the output, as PyTorch's backward does. */
double ref_act_grad_from_out(int act, double y, double slope);

/* Training-mode BN on [c, m] in double: y (after act), mean, invstd, biased
 * var; any output may be NULL (gamma and beta only read when y is wanted). */
void ref_bn_train(int c, size_t m, const double *x, const double *gamma, const double *beta,
                  double eps, int act, double slope, double *y, double *mean, double *invstd,
                  double *var);

/* Training-mode BN backward in double, eps 1e-5, as the unfused sequence:
 * g = dy * act'(y) from the output y, then PyTorch's formula on g. dx [c, m],
 * dgamma/dbeta [c]. Returns the largest |gamma * invstd| (the size of the
 * terms dx is a difference of). */
double ref_bn_grads(int c, size_t m, const float *x, const float *gamma, const float *dy,
                    const float *y, int act, double slope, float *dx, float *dgamma, float *dbeta);

/* New arrays (freed with free()) converting n values. */
double *ref_to_double(const float *x, size_t n);
float *ref_to_float(const double *x, size_t n);

#endif
