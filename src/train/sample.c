/* The generation loop, written once: noise in image order, G batch by batch,
 * [c][batch][s][s] device images to [n][c][s][s] host images. */
#include <stdlib.h>
#include <string.h>

#include "clgan/train.h"
#include "clgan/cond.h"
#include "runtime/internal.h"
#include "clgan/rng.h"

struct clgan_sampler {
  clgan_ctx *ctx;
  clgan_dcgan *net;     /* borrowed */
  clgan_dcgan_config cfg;
  clgan_rng rng;        /* drawn noise, in image order across calls */
  clgan_buf noise;      /* [nz, batch] */
  float *noise_host;    /* [nz * batch] */
  float *z;             /* [nz] one image's vector */
  float *fake_host;     /* [c, batch, s, s] */
  clgan_buf labels;     /* [batch] classes of a batch (conditional models) */
  float *labels_host;   /* [batch] */
};

void clgan_sampler_destroy(clgan_sampler *s) {
  if (!s) return;
  clgan_buf_release(&s->noise);
  clgan_buf_release(&s->labels);
  free(s->labels_host);
  free(s->noise_host);
  free(s->z);
  free(s->fake_host);
  free(s);
}

clgan_status clgan_sampler_create(clgan_ctx *ctx, clgan_dcgan *net, uint64_t seed,
                                  clgan_sampler **out) {
  *out = NULL;
  if (!ctx || !net) return clgan_fail(CLGAN_ERR_INVALID, "sample: null argument");
  clgan_sampler *s = calloc(1, sizeof *s);
  if (!s) return clgan_fail(CLGAN_ERR_NOMEM, "sample: out of host memory");
  s->ctx = ctx;
  s->net = net;
  s->cfg = *clgan_dcgan_get_config(net);
  const clgan_dcgan_config *c = &s->cfg;
  clgan_rng_seed(&s->rng, seed);
  size_t nzb = (size_t)c->nz * c->batch;
  s->noise_host = calloc(nzb, sizeof(float));
  s->z = malloc(sizeof(float) * (size_t)c->nz);
  s->fake_host = malloc(sizeof(float) * (size_t)c->channels * c->batch * c->image_size * c->image_size);
  clgan_status st = CLGAN_OK;
  if (!s->noise_host || !s->z || !s->fake_host)
    st = clgan_fail(CLGAN_ERR_NOMEM, "sample: out of host memory");
  if (st == CLGAN_OK) st = clgan_buf_alloc(ctx, nzb, &s->noise);
  if (st == CLGAN_OK && c->conditional) {
    st = clgan_buf_alloc(ctx, (size_t)c->batch, &s->labels);
    if (st == CLGAN_OK && !(s->labels_host = calloc((size_t)c->batch, sizeof(float))))
      st = clgan_fail(CLGAN_ERR_NOMEM, "sample: out of host memory");
  }
  if (st != CLGAN_OK) {
    clgan_sampler_destroy(s);
    return st;
  }
  *out = s;
  return CLGAN_OK;
}

/* One batch: images first .. first + n of the call (n <= batch). */
/* The classes of images first .. first + n (padding: class 0): labels[i],
 * or i % num_classes without labels; written to the device. */
static clgan_status batch_labels(clgan_sampler *s, long first, int n, const int *labels) {
  const clgan_dcgan_config *c = &s->cfg;
  for (int b = 0; b < c->batch; b++) {
    long i = first + b;
    int y = b >= n ? 0 : labels ? labels[i] : (int)(i % c->num_classes);
    if (y < 0 || y >= c->num_classes)
      return clgan_fail(CLGAN_ERR_INVALID, "sample: image %ld has class %d; the model has %d", i,
                        y, c->num_classes);
    s->labels_host[b] = (float)y;
  }
  return clgan_buf_write(s->ctx, s->labels, s->labels_host, (size_t)c->batch);
}

static clgan_status sample_batch(clgan_sampler *s, clgan_bn_mode mode, long first, int n,
                                 const float *noise, const int *labels, float *out) {
  const clgan_dcgan_config *c = &s->cfg;
  size_t nz = (size_t)c->nz, hw = (size_t)c->image_size * c->image_size;
  /* one noise vector per image, in image order: [nz, batch] layout */
  for (int b = 0; b < c->batch; b++) {
    if (b < n && noise)
      memcpy(s->z, noise + (size_t)(first + b) * nz, sizeof(float) * nz);
    else if (b < n)
      clgan_rng_normal(&s->rng, s->z, nz, 0.0f, 1.0f);
    else
      memset(s->z, 0, sizeof(float) * nz); /* padding of the last batch */
    for (size_t k = 0; k < nz; k++) s->noise_host[k * c->batch + b] = s->z[k];
  }
  clgan_status st = clgan_buf_write(s->ctx, s->noise, s->noise_host, nz * c->batch);
  if (st == CLGAN_OK && c->conditional) st = batch_labels(s, first, n, labels);
  if (st == CLGAN_OK) st = clgan_dcgan_generate_labels(s->net, s->noise, s->labels, mode);
  if (st == CLGAN_OK)
    st = clgan_buf_read(s->ctx, clgan_dcgan_fake(s->net), s->fake_host,
                        (size_t)c->channels * c->batch * hw);
  /* [c][batch][hw] -> images first.. of [count][c][hw] */
  for (int b = 0; b < n && st == CLGAN_OK; b++)
    for (int k = 0; k < c->channels; k++)
      memcpy(out + ((size_t)(first + b) * c->channels + k) * hw,
             s->fake_host + ((size_t)k * c->batch + b) * hw, sizeof(float) * hw);
  return st;
}

clgan_status clgan_sample(clgan_sampler *s, clgan_bn_mode mode, long count, const float *noise,
                          float *out) {
  return clgan_sample_labels(s, mode, count, noise, NULL, out);
}

clgan_status clgan_sample_labels(clgan_sampler *s, clgan_bn_mode mode, long count,
                                 const float *noise, const int *labels, float *out) {
  if (!s || (count > 0 && !out)) return clgan_fail(CLGAN_ERR_INVALID, "sample: null argument");
  if (labels && !s->cfg.conditional)
    return clgan_fail(CLGAN_ERR_INVALID, "sample: classes given to an unconditional model");
  clgan_status st = CLGAN_OK;
  for (long first = 0; first < count && st == CLGAN_OK; first += s->cfg.batch) {
    int n = count - first < s->cfg.batch ? (int)(count - first) : s->cfg.batch;
    st = sample_batch(s, mode, first, n, noise, labels, out);
  }
  return st;
}
