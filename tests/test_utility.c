/* The utility metrics against hand-computed confusion matrices and a
 * brute-force C reference: accuracy, balanced accuracy, per-class recall,
 * precision and F1, macro F1 with absent classes, ROC AUC with ties, and
 * mean / standard deviation over seeds. Host only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clgan/classify.h"
#include "test_util.h"

#define CLOSE(got, want) ck_assert_msg(fabs((got) - (want)) < 1e-12, "%s = %.15g, want %.15g", #got, (double)(got), (double)(want))

/* Three classes, every kind of error once or twice. */
START_TEST(test_three_class_confusion) {
  const int truth[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
  const int pred[10] = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};
  long cm[9];
  TU_OK(clgan_confusion_matrix(truth, pred, 10, 3, cm));
  const long want_cm[9] = {2, 1, 1, 1, 2, 0, 0, 1, 2};
  for (int i = 0; i < 9; i++) ck_assert_int_eq(cm[i], want_cm[i]);
  clgan_class_metrics m;
  clgan_metrics_from_confusion(cm, 3, &m);
  ck_assert_int_eq(m.count, 10);
  CLOSE(m.accuracy, 0.6);
  CLOSE(m.recall[0], 0.5);
  CLOSE(m.recall[1], 2.0 / 3);
  CLOSE(m.recall[2], 2.0 / 3);
  CLOSE(m.balanced_accuracy, (0.5 + 2.0 / 3 + 2.0 / 3) / 3);
  CLOSE(m.precision[0], 2.0 / 3);
  CLOSE(m.precision[1], 0.5);
  CLOSE(m.precision[2], 2.0 / 3);
  CLOSE(m.f1[0], 4.0 / 7); /* 2 tp / (2 tp + fp + fn) = 4 / (4 + 1 + 2) */
  CLOSE(m.f1[1], 4.0 / 7);
  CLOSE(m.f1[2], 2.0 / 3);
  CLOSE(m.macro_f1, (4.0 / 7 + 4.0 / 7 + 2.0 / 3) / 3);
  ck_assert_int_eq(m.support[0], 4);
  ck_assert(isnan(m.auc));
}
END_TEST

/* A class absent from truth and predictions is left out of every mean; one
 * predicted but absent from the truth counts in macro F1 (with F1 0) but
 * not in balanced accuracy. */
START_TEST(test_absent_classes) {
  const int t1[4] = {0, 0, 1, 1}, p1[4] = {0, 1, 1, 1};
  long cm[9];
  clgan_class_metrics m;
  TU_OK(clgan_confusion_matrix(t1, p1, 4, 3, cm));
  clgan_metrics_from_confusion(cm, 3, &m);
  CLOSE(m.balanced_accuracy, 0.75);
  CLOSE(m.f1[0], 2.0 / 3);
  CLOSE(m.f1[1], 0.8);
  CLOSE(m.macro_f1, (2.0 / 3 + 0.8) / 2);
  ck_assert(isnan(m.recall[2]) && isnan(m.precision[2]) && isnan(m.f1[2]));
  const int t2[3] = {0, 0, 0}, p2[3] = {0, 0, 2};
  TU_OK(clgan_confusion_matrix(t2, p2, 3, 3, cm));
  clgan_metrics_from_confusion(cm, 3, &m);
  CLOSE(m.accuracy, 2.0 / 3);
  CLOSE(m.balanced_accuracy, 2.0 / 3);
  CLOSE(m.f1[2], 0.0);
  CLOSE(m.precision[2], 0.0);
  CLOSE(m.macro_f1, (0.8 + 0.0) / 2);
  const int bad[1] = {3};
  ck_assert_int_eq(clgan_confusion_matrix(bad, t2, 1, 3, cm), CLGAN_ERR_INVALID);
}
END_TEST

/* Positives {0.9, 0.5, 0.3} against negatives {0.9, 0.3, 0.1}: 2.5 + 2 +
 * 1.5 of 9 pairs won, ties counting one half. */
START_TEST(test_auc_with_ties) {
  const int truth[6] = {1, 0, 1, 0, 1, 0};
  const double score[6] = {0.9, 0.9, 0.5, 0.3, 0.3, 0.1};
  CLOSE(clgan_roc_auc(truth, score, 6), 6.0 / 9);
  const double flat[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
  CLOSE(clgan_roc_auc(truth, flat, 6), 0.5);
  const double perfect[6] = {1, 0, 1, 0, 1, 0}, inverted[6] = {0, 1, 0, 1, 0, 1};
  CLOSE(clgan_roc_auc(truth, perfect, 6), 1.0);
  CLOSE(clgan_roc_auc(truth, inverted, 6), 0.0);
  const int one_kind[3] = {1, 1, 1};
  ck_assert(isnan(clgan_roc_auc(one_kind, score, 3)));
}
END_TEST

/* Many ties (scores on a 0.1 grid) against counting every pair. */
START_TEST(test_auc_against_pairs) {
  enum { N = 301 };
  int truth[N];
  double score[N];
  float u[N];
  tu_fill_uniform(u, N, 42, 0.0f, 1.0f);
  for (int i = 0; i < N; i++) {
    truth[i] = (i * 7) % 3 == 0;
    score[i] = round((u[i] + 0.3 * truth[i]) * 10.0) / 10.0;
  }
  double won = 0;
  long pairs = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (truth[i] == 1 && truth[j] == 0) {
        won += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
        pairs++;
      }
  ck_assert_msg(fabs(clgan_roc_auc(truth, score, N) - won / pairs) < 1e-12, "auc %.15g, pairs %.15g",
                clgan_roc_auc(truth, score, N), won / pairs);
}
END_TEST

/* From probabilities: arg-max predictions (the first on ties) and the AUC of
 * the second column. */
START_TEST(test_metrics_from_probabilities) {
  const int truth[5] = {0, 1, 1, 0, 1};
  const double probs[10] = {0.8, 0.2, 0.3, 0.7, 0.5, 0.5, 0.4, 0.6, 0.1, 0.9};
  int pred[5];
  clgan_predicted_labels(probs, 5, 2, pred);
  const int want[5] = {0, 1, 0, 1, 1};
  for (int i = 0; i < 5; i++) ck_assert_int_eq(pred[i], want[i]);
  clgan_class_metrics m;
  TU_OK(clgan_class_metrics_compute(truth, probs, 5, 2, &m));
  CLOSE(m.accuracy, 3.0 / 5);
  /* positives 0.7, 0.5, 0.9 vs negatives 0.2, 0.6: 2 + 1 + 2 of 6 */
  CLOSE(m.auc, 5.0 / 6);
  ck_assert_int_eq(clgan_class_metrics_compute(truth, probs, 5, 1, &m), CLGAN_ERR_INVALID);
}
END_TEST

START_TEST(test_mean_std) {
  const double v[5] = {1, 2, NAN, 3, 4};
  double mean, std;
  clgan_mean_std(v, 5, &mean, &std);
  CLOSE(mean, 2.5);
  CLOSE(std, sqrt(5.0 / 3));
  clgan_mean_std(v, 1, &mean, &std);
  CLOSE(mean, 1.0);
  CLOSE(std, 0.0);
  clgan_mean_std(v + 2, 1, &mean, &std);
  ck_assert(isnan(mean) && isnan(std));
}
END_TEST

int main(void) {
  Suite *s = suite_create("utility");
  TCase *tc = tcase_create("metrics");
  tcase_add_test(tc, test_three_class_confusion);
  tcase_add_test(tc, test_absent_classes);
  tcase_add_test(tc, test_auc_with_ties);
  tcase_add_test(tc, test_auc_against_pairs);
  tcase_add_test(tc, test_metrics_from_probabilities);
  tcase_add_test(tc, test_mean_std);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
