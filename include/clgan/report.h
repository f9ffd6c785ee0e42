/* What a training run shows its user: image grids and loss curves. */
#ifndef CLGAN_REPORT_H
#define CLGAN_REPORT_H

#include <stddef.h>

#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes images held in clgan's layout [c, n, h, w] with values in [-1, 1]
 * as one PNG grid of `cols` columns with a 2-pixel black border between
 * tiles (like torchvision's make_grid), mapping [-1, 1] to [0, 1]. Atomic. */
clgan_status clgan_grid_write(const char *path, const float *cnhw, int c, int n, int h, int w,
                              int cols, int bit_depth);

/* One curve of a plot. */
typedef struct clgan_series {
  const char *label;
  const char *color;  /* SVG colour, e.g. "#1f77b4" */
  const float *y;     /* count values, x = 1..count; non-finite values are skipped */
} clgan_series;

/* Writes an SVG line plot of the series against the iteration number, with
 * axes, ticks and a legend; long series are averaged into at most ~1500
 * points so the file stays small. Atomic (the page that shows it reloads). */
clgan_status clgan_plot_svg(const char *path, const char *title, const char *y_label,
                            const clgan_series *series, int nseries, size_t count);

#ifdef __cplusplus
}
#endif
#endif
