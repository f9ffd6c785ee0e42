/* Training images on the host: an ImageFolder tree decoded once.
 *
 * Layout on disk (as torchvision's ImageFolder): root/<class>/[sub/]NAME.png.
 * Classes are the sub-folders of root, sorted by name (byte order); files
 * are found recursively inside each class folder and sorted by (folder, name),
 * so the loading order is deterministic. Names starting with '.' are skipped
 * (".ipynb_checkpoints", macOS "._x.png"). Only files whose name ends in
 * ".png" (any case) are decoded; other files are listed in `ignored`. A .png
 * that fails to decode is skipped and reported in `skipped` as "path: reason".
 *
 * Every image goes through the same transform (clgan_image_resize_crop):
 * conversion to the configured channel count, resize of the shorter side to
 * image_size, centre crop to image_size x image_size, then scaling to
 * [-1, 1] (x * 2 - 1).
 *
 * Memory layout of `data`: one contiguous float array
 *     data[count][channels][image_size][image_size]
 * i.e. image i starts at data + i * image_floats (NCHW, like a batch tensor),
 * so uploading the whole set to a device buffer is one copy and a batch is a
 * gather of image_floats-sized rows by index. */
#ifndef CLGAN_DATASET_H
#define CLGAN_DATASET_H

#include <stddef.h>

#include "clgan/image.h"
#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgan_dataset_options {
  const char *root;        /* ImageFolder root */
  const char *class_name;  /* load this class only; NULL = every class */
  int image_size;          /* output side length, >= 1 */
  int channels;            /* 1 (gray) or 3 (RGB) */
} clgan_dataset_options;

typedef struct clgan_dataset {
  /* the images */
  int count;               /* images loaded (== files_used) */
  int channels;            /* 1 or 3 */
  int image_size;
  size_t image_floats;     /* channels * image_size * image_size */
  float *data;             /* [count][channels][image_size][image_size], in [-1, 1] */
  int *labels;             /* [count]: index into class_names */
  char **files;            /* [count]: source path of each image */

  /* the classes: every sub-folder of root, sorted, whether selected or not,
   * so label indices match ImageFolder's class_to_idx */
  int nclasses;
  char **class_names;      /* [nclasses] */
  int *class_counts;       /* [nclasses]: images loaded per class (0 if not selected) */
  int selected_class;      /* index of options.class_name, or -1 for all */

  /* what was not used */
  int files_used;          /* .png files decoded and kept */
  int files_skipped;       /* .png files that failed to decode */
  char **skipped;          /* [files_skipped]: "path: reason" */
  int files_ignored;       /* files not named *.png (not decoded) */
  char **ignored;          /* [files_ignored]: their paths */

  /* images stretched a lot: shorter side under half of image_size */
  int files_upscaled;
  int first_upscaled;      /* index into files of the first of them (when files_upscaled > 0) */
} clgan_dataset;

/* Lists and decodes the dataset. Errors: options invalid (CLGAN_ERR_INVALID);
 * root missing or unreadable (CLGAN_ERR_IO); root without class folders, a
 * class_name that is not one of them, or no usable image at all
 * (CLGAN_ERR_INVALID); out of memory (CLGAN_ERR_NOMEM). Each names the path in
 * clgan_last_error(). Undecodable .png files are not errors (see skipped).
 * On success *out is a new dataset for clgan_dataset_free. */
clgan_status clgan_dataset_load(const clgan_dataset_options *opts, clgan_dataset **out);

/* Frees everything; accepts NULL. */
void clgan_dataset_free(clgan_dataset *ds);

/* Image i's [channels][image_size][image_size] floats. */
static inline const float *clgan_dataset_image(const clgan_dataset *ds, int i) {
  return ds->data + (size_t)i * ds->image_floats;
}

/* The per-image transform, exposed for tests and tools: converts img to
 * `channels` (1 or 3), resizes it so the shorter side is `size`, and centre
 * crops to size x size, writing out_chw[channels][size][size] in the same
 * range as the input ([0, 1]; no [-1, 1] scaling here).
 *  - channels: gray -> RGB replicates; RGB -> gray is ITU-R 601-2 luma
 *    L = R*299/1000 + G*587/1000 + B*114/1000 (PIL's convert("L")); an alpha
 *    channel is dropped (not composited), as PIL's convert does.
 *  - resize (torchvision Resize(int)): the shorter side becomes size, the
 *    longer floor(size * long / short). Per axis: shrinking is exact area
 *    averaging (box filter with fractional pixel coverage), enlarging is
 *    bilinear with half-pixel centres (align_corners=False, edges clamped),
 *    equal size is a copy.
 *  - crop (torchvision CenterCrop): top = round((h - size) / 2.0) with
 *    Python's round-half-to-even; likewise left.
 * Errors: CLGAN_ERR_INVALID for bad arguments, CLGAN_ERR_NOMEM. */
clgan_status clgan_image_resize_crop(const clgan_image *img, int size, int channels,
                                     float *out_chw);

#ifdef __cplusplus
}
#endif
#endif
