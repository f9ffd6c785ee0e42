/* Classification metrics (clgan/classify.h): confusion matrix, accuracy,
 * balanced accuracy, per-class recall, precision and F1, macro F1, ROC AUC
 * with ties, and mean / standard deviation over seeds. Plain C on the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/classify.h"
#include "runtime/internal.h"

void clgan_predicted_labels(const double *probs, int count, int classes, int *pred) {
  for (int i = 0; i < count; i++) {
    const double *row = probs + (size_t)i * classes;
    int arg = 0;
    for (int j = 1; j < classes; j++)
      if (row[j] > row[arg]) arg = j;
    pred[i] = arg;
  }
}

clgan_status clgan_confusion_matrix(const int *truth, const int *pred, int count, int classes,
                                    long *confusion) {
  memset(confusion, 0, sizeof(long) * (size_t)classes * classes);
  for (int i = 0; i < count; i++) {
    if (truth[i] < 0 || truth[i] >= classes || pred[i] < 0 || pred[i] >= classes)
      return clgan_fail(CLGAN_ERR_INVALID, "metrics: image %d has truth %d, prediction %d "
                                           "(classes 0 to %d)", i, truth[i], pred[i], classes - 1);
    confusion[(size_t)truth[i] * classes + pred[i]]++;
  }
  return CLGAN_OK;
}

void clgan_metrics_from_confusion(const long *confusion, int classes, clgan_class_metrics *out) {
  memset(out, 0, sizeof *out);
  out->classes = classes;
  out->auc = NAN;
  long total = 0, correct = 0;
  double recall_sum = 0, f1_sum = 0;
  int present = 0, f1_classes = 0;
  for (int t = 0; t < classes; t++) {
    long support = 0, predicted = 0, tp = confusion[(size_t)t * classes + t];
    for (int p = 0; p < classes; p++) {
      support += confusion[(size_t)t * classes + p];
      predicted += confusion[(size_t)p * classes + t];
    }
    total += support;
    correct += tp;
    out->support[t] = (int)support;
    out->recall[t] = support ? (double)tp / support : NAN;
    out->precision[t] = predicted ? (double)tp / predicted : NAN;
    /* F1 = 2 tp / (2 tp + fp + fn): 0 when the class is in the truth or the
     * predictions but never right */
    out->f1[t] = support + predicted ? 2.0 * tp / (double)(support + predicted) : NAN;
    if (support) recall_sum += out->recall[t], present++;
    if (support + predicted) f1_sum += out->f1[t], f1_classes++;
  }
  out->count = (int)total;
  out->accuracy = total ? (double)correct / total : NAN;
  out->balanced_accuracy = present ? recall_sum / present : NAN;
  out->macro_f1 = f1_classes ? f1_sum / f1_classes : NAN;
}

typedef struct scored {
  double score;
  int positive;
} scored;

static int by_score(const void *a, const void *b) {
  double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
  return (x > y) - (x < y);
}

double clgan_roc_auc(const int *truth, const double *score, int count) {
  scored *s = malloc(sizeof *s * (size_t)(count > 0 ? count : 1));
  if (!s) return NAN;
  long pos = 0, neg = 0;
  for (int i = 0; i < count; i++) {
    s[i].score = score[i];
    s[i].positive = truth[i] == 1;
    pos += truth[i] == 1;
    neg += truth[i] == 0;
  }
  qsort(s, (size_t)count, sizeof *s, by_score);
  /* the sum of the positives' ranks, a run of equal scores sharing its
   * average rank (1-based) */
  double rank_sum = 0;
  for (int i = 0; i < count;) {
    int j = i;
    long run_pos = 0;
    while (j < count && s[j].score == s[i].score) run_pos += s[j++].positive;
    rank_sum += run_pos * (i + 1 + j) / 2.0;
    i = j;
  }
  free(s);
  if (!pos || !neg) return NAN;
  return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
}

clgan_status clgan_class_metrics_compute(const int *truth, const double *probs, int count,
                                         int classes, clgan_class_metrics *out) {
  if (classes < 2 || classes > CLGAN_CLASSIFY_MAX_CLASSES || count < 0)
    return clgan_fail(CLGAN_ERR_INVALID, "metrics: %d classes, %d images", classes, count);
  int *pred = malloc(sizeof(int) * (size_t)(count ? count : 1));
  long *confusion = malloc(sizeof(long) * (size_t)classes * classes);
  double *p1 = malloc(sizeof(double) * (size_t)(count ? count : 1));
  clgan_status st = pred && confusion && p1 ? CLGAN_OK : clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (st == CLGAN_OK) {
    clgan_predicted_labels(probs, count, classes, pred);
    st = clgan_confusion_matrix(truth, pred, count, classes, confusion);
  }
  if (st == CLGAN_OK) {
    clgan_metrics_from_confusion(confusion, classes, out);
    for (int i = 0; i < count && classes == 2; i++) p1[i] = probs[(size_t)i * 2 + 1];
    if (classes == 2) out->auc = clgan_roc_auc(truth, p1, count);
  }
  free(pred);
  free(confusion);
  free(p1);
  return st;
}

void clgan_mean_std(const double *v, int n, double *mean, double *std) {
  double sum = 0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) sum += v[i], m++;
  if (!m) {
    *mean = *std = NAN;
    return;
  }
  *mean = sum / m;
  double ss = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
  *std = m > 1 ? sqrt(ss / (m - 1)) : 0.0;
}
