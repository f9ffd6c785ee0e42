#include "ref_norm.h"

#include <math.h>
#include <stdlib.h>

#include "test_util.h"

const char *const ref_act_names[] = {"none", "relu", "leaky_relu", "tanh", "sigmoid"};
_Static_assert(sizeof ref_act_names / sizeof ref_act_names[0] == CLGAN_ACT_COUNT,
               "one name per clgan_act");

double ref_act(int act, double v, double slope) {
  switch (act) {
    case CLGAN_ACT_RELU:
      return v > 0 ? v : 0;
    case CLGAN_ACT_LEAKY_RELU:
      return v > 0 ? v : v * slope;
    case CLGAN_ACT_TANH:
      return tanh(v);
    case CLGAN_ACT_SIGMOID:
      return 1.0 / (1.0 + exp(-v));
    default:
      return v;
  }
}

double ref_act_grad_from_out(int act, double y, double slope) {
  switch (act) {
    case CLGAN_ACT_RELU:
      return y > 0 ? 1 : 0;
    case CLGAN_ACT_LEAKY_RELU:
      return y > 0 ? 1 : slope;
    case CLGAN_ACT_TANH:
      return 1 - y * y;
    case CLGAN_ACT_SIGMOID:
      return (1 - y) * y;
    default:
      return 1;
  }
}

void ref_bn_train(int c, size_t m, const double *x, const double *gamma, const double *beta,
                  double eps, int act, double slope, double *y, double *mean, double *invstd,
                  double *var) {
  for (int ch = 0; ch < c; ch++) {
    const double *xr = x + (size_t)ch * m;
    double s = 0;
    for (size_t i = 0; i < m; i++) s += xr[i];
    double mu = s / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++) ss += (xr[i] - mu) * (xr[i] - mu);
    double v = ss / (double)m, is = 1.0 / sqrt(v + eps);
    if (mean) mean[ch] = mu;
    if (invstd) invstd[ch] = is;
    if (var) var[ch] = v;
    if (y)
      for (size_t i = 0; i < m; i++)
        y[(size_t)ch * m + i] = ref_act(act, (xr[i] - mu) * is * gamma[ch] + beta[ch], slope);
  }
}

double ref_bn_grads(int c, size_t m, const float *x, const float *gamma, const float *dy,
                    const float *y, int act, double slope, float *dx, float *dgamma, float *dbeta) {
  size_t cm = (size_t)c * m, cc = (size_t)c;
  double *xd = ref_to_double(x, cm), *g = tu_malloc(m * sizeof(double)), scale = 0;
  double *mean = tu_malloc(cc * sizeof(double)), *invstd = tu_malloc(cc * sizeof(double));
  ref_bn_train(c, m, xd, NULL, NULL, 1e-5, 0, 0, NULL, mean, invstd, NULL);
  for (int ch = 0; ch < c; ch++) {
    size_t row = (size_t)ch * m;
    const double *xr = xd + row;
    double sum = 0, dotp = 0, is = invstd[ch];
    for (size_t i = 0; i < m; i++) {
      g[i] = dy[row + i] * ref_act_grad_from_out(act, y[row + i], slope);
      sum += g[i], dotp += (xr[i] - mean[ch]) * g[i];
    }
    double dg = dotp * is;
    dgamma[ch] = (float)dg, dbeta[ch] = (float)sum;
    if (fabs(gamma[ch] * is) > scale) scale = fabs(gamma[ch] * is);
    for (size_t i = 0; i < m; i++) {
      double xhat = (xr[i] - mean[ch]) * is;
      dx[row + i] = (float)(gamma[ch] * is / (double)m * ((double)m * g[i] - sum - xhat * dg));
    }
  }
  free(xd), free(g), free(mean), free(invstd);
  return scale;
}

double *ref_to_double(const float *x, size_t n) {
  double *d = tu_malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

float *ref_to_float(const double *x, size_t n) {
  float *f = tu_malloc(n * sizeof *f);
  for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}
