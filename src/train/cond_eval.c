/* Evaluation per class of a conditional run (train/cond_eval.h). */
#include "train/cond_eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/rng.h"
#include "runtime/internal.h"
#include "train/loader.h"

typedef struct class_eval {
  clgan_eval *eval;
  clgan_buf real;           /* [nreal][c][s][s] the class's real subset */
  int nreal;
} class_eval;

struct cond_eval {
  clgan_ctx *ctx;
  const clgan_dcgan *net;   /* the class names (borrowed) */
  char csv_path[1100];      /* opened by the first run (the run directory exists then) */
  int append;
  int classes, nfake, channels, size;
  class_eval *cls;          /* [classes] */
  const float *noise;       /* [nfake][nz] (borrowed) */
  int *labels;              /* [nfake] */
  float *fake_host;         /* [nfake][c][s][s] */
  clgan_buf fake;           /* the same on the device */
  FILE *csv;
};

void cond_eval_destroy(cond_eval *e) {
  if (!e) return;
  for (int c = 0; e->cls && c < e->classes; c++) {
    clgan_eval_destroy(e->cls[c].eval);
    clgan_buf_release(&e->cls[c].real);
  }
  free(e->cls);
  free(e->labels);
  free(e->fake_host);
  clgan_buf_release(&e->fake);
  if (e->csv) fclose(e->csv);
  free(e);
}

/* Class c's real subset (seeded order, as the trainer's evaluation subset),
 * uploaded, and its evaluator. A class of one image is measured against
 * itself twice (the evaluator needs two). */
static clgan_status class_setup(cond_eval *e, const clgan_dataset *ds, const int *order, int c,
                                int max_real) {
  class_eval *k = &e->cls[c];
  size_t img = ds->image_floats;
  float *host = malloc(sizeof(float) * img * (size_t)(max_real > 2 ? max_real : 2));
  if (!host) return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  for (int i = 0; i < ds->count && k->nreal < max_real; i++)
    if (ds->labels[order[i]] == c)
      memcpy(host + img * (size_t)k->nreal++, clgan_dataset_image(ds, order[i]), sizeof(float) * img);
  if (k->nreal == 1) memcpy(host + img, host, sizeof(float) * img), k->nreal = 2;
  clgan_status st = clgan_buf_alloc(e->ctx, img * (size_t)k->nreal, &k->real);
  if (st == CLGAN_OK) st = clgan_buf_write(e->ctx, k->real, host, img * (size_t)k->nreal);
  free(host);
  if (st != CLGAN_OK) return st;
  clgan_eval_config ec = clgan_eval_default_config(e->channels, e->size, e->nfake);
  clgan_image_set real = clgan_image_set_nchw(k->real, k->nreal, e->channels, e->size);
  return clgan_eval_create(e->ctx, &ec, &real, &k->eval);
}

clgan_status cond_eval_create(clgan_ctx *ctx, const clgan_dcgan *net, const clgan_dataset *ds,
                              uint64_t seed, int max_real, int nfake, const float *noise,
                              const char *csv, int append, cond_eval **out) {
  *out = NULL;
  cond_eval *e = calloc(1, sizeof *e);
  if (!e) return clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  const clgan_dcgan_config *cfg = clgan_dcgan_get_config(net);
  *e = (cond_eval){.ctx = ctx, .net = net, .append = append, .classes = cfg->num_classes, .nfake = nfake,
                   .channels = cfg->channels, .size = cfg->image_size, .noise = noise};
  size_t img = ds->image_floats;
  int *order = malloc(sizeof(int) * (size_t)ds->count);
  e->cls = calloc((size_t)e->classes, sizeof *e->cls);
  e->labels = malloc(sizeof(int) * (size_t)nfake);
  e->fake_host = malloc(sizeof(float) * img * (size_t)nfake);
  clgan_status st = order && e->cls && e->labels && e->fake_host
                        ? clgan_buf_alloc(ctx, img * (size_t)nfake, &e->fake)
                        : clgan_fail(CLGAN_ERR_NOMEM, "out of host memory for the evaluator");
  if (st == CLGAN_OK)
    train_epoch_order(clgan_rng_stream_seed(seed, CLGAN_STREAM_EVAL_ORDER, 0), 0, ds->count, order);
  for (int c = 0; c < e->classes && st == CLGAN_OK; c++) st = class_setup(e, ds, order, c, max_real);
  free(order);
  if (st == CLGAN_OK && snprintf(e->csv_path, sizeof e->csv_path, "%s", csv) >= (int)sizeof e->csv_path)
    st = clgan_fail(CLGAN_ERR_INVALID, "%s: path too long", csv);
  if (st != CLGAN_OK) {
    cond_eval_destroy(e);
    return st;
  }
  *out = e;
  return CLGAN_OK;
}

int cond_eval_classes(const cond_eval *e) { return e->classes; }

static clgan_status open_csv(cond_eval *e) {
  if (e->csv) return CLGAN_OK;
  if (!(e->csv = fopen(e->csv_path, e->append ? "a" : "w")))
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", e->csv_path, strerror(errno));
  if (!e->append)
    fprintf(e->csv, "iteration,class,name,swd_x1e3,msssim_fake,msssim_real,nn_fake_median,"
                    "nn_real_median\n");
  return CLGAN_OK;
}

clgan_status cond_eval_run(cond_eval *e, clgan_sampler *s, long it, double *swd) {
  clgan_status st = open_csv(e);
  size_t img = (size_t)e->channels * e->size * e->size;
  for (int c = 0; c < e->classes && st == CLGAN_OK; c++) {
    for (int i = 0; i < e->nfake; i++) e->labels[i] = c;
    st = clgan_sample_labels(s, CLGAN_BN_RUNNING, e->nfake, e->noise, e->labels, e->fake_host);
    if (st == CLGAN_OK) st = clgan_buf_write(e->ctx, e->fake, e->fake_host, img * (size_t)e->nfake);
    clgan_image_set set = clgan_image_set_nchw(e->fake, e->nfake, e->channels, e->size);
    clgan_eval_report rep;
    if (st == CLGAN_OK) st = clgan_eval_run(e->cls[c].eval, &set, &rep);
    if (st != CLGAN_OK) break;
    swd[c] = rep.swd_mean;
    const char *name = clgan_dcgan_class_name(e->net, c);
    fprintf(e->csv, "%ld,%d,%s,%.4f,%.4f,%.4f,%.4f,%.4f\n", it, c, name ? name : "",
            rep.swd_mean, rep.msssim_fake,
            rep.msssim_real, rep.nn_fake_median, rep.nn_real_median);
  }
  if (st == CLGAN_OK) fflush(e->csv);
  return st;
}
