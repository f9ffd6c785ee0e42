/* Loss curves as SVG: small, readable in every browser, redrawn as training
 * goes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clgan/report.h"
#include "runtime/internal.h"

#define PLOT_W 760
#define PLOT_H 360
#define MARGIN_L 60
#define MARGIN_R 20
#define MARGIN_T 34
#define MARGIN_B 44
#define MAX_POINTS 1500

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about n ticks over span. */
static double nice_step(double span, int n) {
  double raw = span / n, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void xml_text(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else
      fputc(*s, f);
  }
}

clgan_status clgan_plot_svg(const char *path, const char *title, const char *y_label,
                            const clgan_series *series, int nseries, size_t count) {
  size_t bucket = count > MAX_POINTS ? (count + MAX_POINTS - 1) / MAX_POINTS : 1;
  double ymin = INFINITY, ymax = -INFINITY;
  for (int s = 0; s < nseries; s++)
    for (size_t i = 0; i < count; i++)
      if (isfinite(series[s].y[i])) {
        ymin = fmin(ymin, series[s].y[i]);
        ymax = fmax(ymax, series[s].y[i]);
      }
  if (!isfinite(ymin)) ymin = 0, ymax = 1;
  if (ymin > 0 && ymin < 0.5 * ymax) ymin = 0;
  if (ymax - ymin < 1e-6) ymax = ymin + 1;
  double ystep = nice_step(ymax - ymin, 5);
  ymin = floor(ymin / ystep) * ystep;
  ymax = ceil(ymax / ystep) * ystep;
  double xmax = count > 1 ? (double)count : 2.0;
  double pw = PLOT_W - MARGIN_L - MARGIN_R, ph = PLOT_H - MARGIN_T - MARGIN_B;
#define SX(x) (MARGIN_L + ((x)-1.0) / (xmax - 1.0) * pw)
#define SY(y) (MARGIN_T + (1.0 - ((y)-ymin) / (ymax - ymin)) * ph)

  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          PLOT_W, PLOT_H, PLOT_W, PLOT_H);
  fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">", PLOT_W / 2);
  xml_text(f, title);
  fprintf(f, "</text>\n");
  for (double y = ymin; y <= ymax + 1e-9 * ystep; y += ystep)
    fprintf(f,
            "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
            MARGIN_L, MARGIN_L + pw, SY(y), SY(y), MARGIN_L - 6, SY(y) + 4, y);
  double xstep = nice_step(xmax - 1.0 > 1 ? xmax - 1.0 : 1.0, 6);
  if (xstep < 1) xstep = 1;
  for (double x = xstep; x <= xmax; x += xstep)
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", SX(x),
            MARGIN_T + ph + 16, x);
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n"
          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">iteration</text>\n"
          "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
          MARGIN_L, MARGIN_T, pw, ph, MARGIN_L + pw / 2, PLOT_H - 8, MARGIN_T + ph / 2,
          MARGIN_T + ph / 2);
  xml_text(f, y_label);
  fprintf(f, "</text>\n");
  for (int s = 0; s < nseries; s++) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\" points=\"",
            series[s].color);
    for (size_t i = 0; i < count; i += bucket) {
      double sum = 0;
      int n = 0;
      for (size_t j = i; j < i + bucket && j < count; j++)
        if (isfinite(series[s].y[j])) sum += series[s].y[j], n++;
      if (n) fprintf(f, "%.1f,%.1f ", SX((double)i + 1 + (bucket - 1) / 2.0), SY(sum / n));
    }
    fprintf(f, "\"/>\n<rect x=\"%.1f\" y=\"%d\" width=\"14\" height=\"3\" fill=\"%s\"/>"
               "<text x=\"%.1f\" y=\"%d\">",
            MARGIN_L + pw - 110, MARGIN_T + 12 + 16 * s, series[s].color, MARGIN_L + pw - 90,
            MARGIN_T + 17 + 16 * s);
    xml_text(f, series[s].label);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "</svg>\n");
#undef SX
#undef SY
  int ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return CLGAN_OK;
}
