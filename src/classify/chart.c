/* The utility experiment as a grouped bar chart (SVG): one group per metric,
 * one bar per arm that ran (mean over the seeds, whiskers +-1 standard
 * deviation), and the class fidelity as a bar of its own. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clgan/classify.h"
#include "runtime/internal.h"

#define CHART_W 760
#define CHART_H 380
#define LEFT 60
#define TOP 40
#define PLOT_H 260

static const char *const arm_colors[CLGAN_ARM_COUNT] = {"#4c72b0", "#dd8452", "#55a868"};
static const char fidelity_color[] = "#8172b3";

/* One bar from 0 to mean (in [0, 1]) with its whisker and value. */
static void bar(FILE *f, double x, double w, double mean, double std, const char *color) {
  if (!isfinite(mean)) return;
  double y0 = TOP + PLOT_H, h = mean * PLOT_H;
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x,
          y0 - h, w, h, color);
  if (std > 0) {
    double lo = fmax(0.0, mean - std), hi = fmin(1.0, mean + std), cx = x + w / 2;
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>"
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>"
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>\n",
            cx, cx, y0 - lo * PLOT_H, y0 - hi * PLOT_H, cx - 4, cx + 4, y0 - lo * PLOT_H,
            y0 - lo * PLOT_H, cx - 4, cx + 4, y0 - hi * PLOT_H, y0 - hi * PLOT_H);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%.3f</text>\n",
          x + w / 2, y0 - h - 4 - (std > 0 ? fmin(1.0 - mean, std) * PLOT_H : 0), mean);
}

static void axes(FILE *f, double width) {
  for (int t = 0; t <= 10; t += 2) {
    double y = TOP + PLOT_H - t / 10.0 * PLOT_H;
    fprintf(f,
            "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
            LEFT, LEFT + width, y, y, LEFT - 6, y + 4, t / 10.0);
  }
  fprintf(f, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", LEFT,
          LEFT + width, TOP + PLOT_H, TOP + PLOT_H);
}

/* The metric groups and the fidelity bar; the legend. */
static void body(FILE *f, const clgan_utility_report *r) {
  static const char *const names[] = {"accuracy", "balanced accuracy", "macro F1", "ROC AUC"};
  int groups = r->classes == 2 ? 4 : 3;
  double width = CHART_W - LEFT - 20, gw = width / (groups + 1), bw = gw * 0.8 / CLGAN_ARM_COUNT;
  axes(f, width);
  for (int g = 0; g < groups; g++) {
    double x0 = LEFT + g * gw + gw * 0.1;
    for (int a = 0; a < CLGAN_ARM_COUNT; a++) {
      if (!r->arm[a].ran) continue;
      double mean, std;
      clgan_metric_summary(r->arm[a].runs, r->seeds, (clgan_metric_kind)g, 0, &mean, &std);
      bar(f, x0 + a * bw, bw * 0.9, mean, std, arm_colors[a]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x0 + gw * 0.4,
            TOP + PLOT_H + 18, names[g]);
  }
  if (r->has_fidelity) {
    double x0 = LEFT + groups * gw + gw * 0.1, mean, std;
    clgan_metric_summary(r->fidelity, r->seeds, CLGAN_METRIC_ACCURACY, 0, &mean, &std);
    bar(f, x0 + bw, bw * 0.9, mean, std, fidelity_color);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">class fidelity</text>\n",
            x0 + gw * 0.4, TOP + PLOT_H + 18);
  }
  int row = 0;
  for (int a = 0; a <= CLGAN_ARM_COUNT; a++) {
    if (a < CLGAN_ARM_COUNT && !r->arm[a].ran) continue;
    if (a == CLGAN_ARM_COUNT && !r->has_fidelity) continue;
    double x = LEFT + 10 + row++ * 185;
    fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
               "<text x=\"%.1f\" y=\"%d\">%s</text>\n",
            x, CHART_H - 30, a < CLGAN_ARM_COUNT ? arm_colors[a] : fidelity_color, x + 16,
            CHART_H - 20,
            a < CLGAN_ARM_COUNT ? clgan_utility_arm_name((clgan_utility_arm_kind)a)
                                : "fidelity (real-trained, on synthetic)");
  }
}

clgan_status clgan_utility_chart_svg(const char *path, const clgan_utility_report *r) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%d\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">Classifier on the real "
          "test images: mean of %d seed%s, whiskers +-1 sd</text>\n",
          CHART_W, CHART_H, CHART_W, CHART_H, CHART_W / 2, r->seeds, r->seeds == 1 ? "" : "s");
  body(f, r);
  fprintf(f, "</svg>\n");
  int ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return CLGAN_OK;
}
