/* Sample grids: a batch in clgan's [c, n, h, w] layout tiled into one PNG. */
#include <stdlib.h>

#include "clgan/image.h"
#include "clgan/report.h"
#include "runtime/internal.h"

#define GRID_PAD 2

clgan_status clgan_grid_write(const char *path, const float *cnhw, int c, int n, int h, int w,
                              int cols, int bit_depth) {
  if (c < 1 || c > 4 || n < 1 || h < 1 || w < 1 || cols < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: invalid grid of %d images %dx%dx%d", path, n, c, h, w);
  if (cols > n) cols = n;
  int rows = (n + cols - 1) / cols;
  int gw = cols * (w + GRID_PAD) + GRID_PAD, gh = rows * (h + GRID_PAD) + GRID_PAD;
  float *px = calloc((size_t)gw * gh * c, sizeof(float));
  if (!px) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory for a %dx%d grid", gw, gh);
  for (int b = 0; b < n; b++) {
    int x0 = GRID_PAD + (b % cols) * (w + GRID_PAD), y0 = GRID_PAD + (b / cols) * (h + GRID_PAD);
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          float v = cnhw[(((size_t)ch * n + b) * h + y) * w + x];
          px[((size_t)(y0 + y) * gw + (x0 + x)) * c + ch] = 0.5f * (v + 1.0f);
        }
  }
  clgan_status st = clgan_png_write(path, gw, gh, c, bit_depth, px);
  free(px);
  return st;
}
