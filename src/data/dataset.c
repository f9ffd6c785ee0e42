/* Host side of the dataset: ImageFolder listing, PNG decoding, channel
 * conversion, resize + centre crop, scaling to [-1, 1] (include/clgan/dataset.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <dirent.h>

#include "clgan/dataset.h"
#include "runtime/internal.h"

#define MAX_IMAGE_SIZE 65536
#define MAX_DEPTH 32 /* folder nesting searched inside a class (symlink loops end here) */

/* ---- resize and crop -------------------------------------------------- */

/* Taps of a 1-D resampling from n source samples to m (the resized length),
 * for the `size` outputs starting at offset `off` of the resized axis:
 * output j reads src[start[j] + t] * w[j * stride + t] for t < count[j]. */
typedef struct taps {
  int stride;
  int *start, *count;
  double *w;
} taps;

static void taps_free(taps *t) {
  free(t->start);
  free(t->count);
  free(t->w);
}

static int taps_make(taps *t, int n, int m, int off, int size) {
  memset(t, 0, sizeof *t);
  t->stride = m < n ? n / m + 2 : 2;
  t->start = malloc((size_t)size * sizeof *t->start);
  t->count = malloc((size_t)size * sizeof *t->count);
  t->w = calloc((size_t)size * (size_t)t->stride, sizeof *t->w);
  if (!t->start || !t->count || !t->w) {
    taps_free(t);
    return -1;
  }
  for (int j = 0; j < size; j++) {
    int64_t J = (int64_t)j + off; /* index on the resized axis */
    double *w = t->w + (size_t)j * t->stride;
    if (m == n) {
      t->start[j] = (int)J;
      t->count[j] = 1;
      w[0] = 1.0;
    } else if (m < n) {
      /* area averaging: output J covers source [J*n/m, (J+1)*n/m); in units
       * of 1/m that is [J*n, (J+1)*n) and source pixel i is [i*m, (i+1)*m),
       * so every overlap is an exact integer */
      int64_t a = J * n, b = (J + 1) * n;
      int64_t i0 = a / m, i1 = (b - 1) / m;
      t->start[j] = (int)i0;
      t->count[j] = (int)(i1 - i0 + 1);
      for (int64_t i = i0; i <= i1; i++) {
        int64_t lo = i * m > a ? i * m : a, hi = (i + 1) * m < b ? (i + 1) * m : b;
        w[i - i0] = (double)(hi - lo) / (double)n;
      }
    } else {
      /* bilinear, half-pixel centres, clamped at the edges */
      double src = ((double)J + 0.5) * n / m - 0.5;
      if (src < 0.0) src = 0.0;
      int i0 = (int)src;
      double f = src - i0;
      if (i0 >= n - 1) {
        i0 = n - 1;
        f = 0.0;
      }
      t->start[j] = i0;
      if (f > 0.0) {
        t->count[j] = 2;
        w[0] = 1.0 - f;
        w[1] = f;
      } else {
        t->count[j] = 1;
        w[0] = 1.0;
      }
    }
  }
  return 0;
}

/* Python's round(d / 2.0) for d >= 0: half to even. */
static int center_offset(int d) {
  int q = d / 2;
  if ((d & 1) && (q & 1)) q++;
  return q;
}

clgan_status clgan_image_resize_crop(const clgan_image *img, int size, int channels,
                                     float *out) {
  if (!img || !img->pixels || !out)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: NULL image or output");
  if (img->width <= 0 || img->height <= 0 || img->channels < 1 || img->channels > 4)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: bad image %dx%d, %d channels",
                      img->width, img->height, img->channels);
  if (size < 1 || size > MAX_IMAGE_SIZE)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: size %d out of range (1..%d)",
                      size, MAX_IMAGE_SIZE);
  if (channels != 1 && channels != 3)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_image_resize_crop: %d channels (1 or 3)",
                      channels);
  const int w = img->width, h = img->height, c = img->channels;

  /* resized size: shorter side = size, longer = floor(size * long / short) */
  int64_t rw64 = size, rh64 = size;
  if (w <= h)
    rh64 = (int64_t)size * h / w;
  else
    rw64 = (int64_t)size * w / h;
  if (rw64 > INT32_MAX || rh64 > INT32_MAX)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "clgan_image_resize_crop: %dx%d image too elongated to resize to %d", w, h,
                      size);
  const int rw = (int)rw64, rh = (int)rh64;
  int top = center_offset(rh - size), left = center_offset(rw - size);

  /* source planes after channel conversion (alpha dropped) */
  int src_gray = c <= 2;
  int np = (channels == 1 || src_gray) ? 1 : 3;
  size_t npix = (size_t)w * (size_t)h;
  float *planes = malloc(npix * (size_t)np * sizeof *planes);
  double *tmp = NULL;
  taps tx, ty;
  memset(&tx, 0, sizeof tx);
  memset(&ty, 0, sizeof ty);
  clgan_status st = CLGAN_OK;
  if (!planes || taps_make(&tx, w, rw, left, size) != 0 ||
      taps_make(&ty, h, rh, top, size) != 0) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "clgan_image_resize_crop: out of memory (%dx%d image)", w, h);
    goto done;
  }
  const float *px = img->pixels;
  if (src_gray) {
    for (size_t i = 0; i < npix; i++) planes[i] = px[i * c];
  } else if (np == 1) {
    for (size_t i = 0; i < npix; i++) {
      const float *p = px + i * c;
      planes[i] = (float)((p[0] * 299.0 + p[1] * 587.0 + p[2] * 114.0) / 1000.0);
    }
  } else {
    for (size_t i = 0; i < npix; i++)
      for (int k = 0; k < 3; k++) planes[k * npix + i] = px[i * c + k];
  }

  /* rows of the source the vertical taps read */
  int y0 = ty.start[0], y1 = ty.start[size - 1] + ty.count[size - 1]; /* [y0, y1) */
  tmp = malloc((size_t)(y1 - y0) * (size_t)size * sizeof *tmp);
  if (!tmp) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "clgan_image_resize_crop: out of memory (%dx%d image)", w, h);
    goto done;
  }
  size_t out_plane = (size_t)size * size;
  for (int k = 0; k < np; k++) {
    const float *src = planes + (size_t)k * npix;
    for (int y = y0; y < y1; y++) {
      const float *row = src + (size_t)y * w;
      double *trow = tmp + (size_t)(y - y0) * size;
      for (int j = 0; j < size; j++) {
        const double *wt = tx.w + (size_t)j * tx.stride;
        const float *s = row + tx.start[j];
        double acc = 0.0;
        for (int t = 0; t < tx.count[j]; t++) acc += wt[t] * s[t];
        trow[j] = acc;
      }
    }
    float *o = out + (size_t)k * out_plane;
    for (int i = 0; i < size; i++) {
      const double *wt = ty.w + (size_t)i * ty.stride;
      const double *base = tmp + (size_t)(ty.start[i] - y0) * size;
      for (int j = 0; j < size; j++) {
        double acc = 0.0;
        for (int t = 0; t < ty.count[i]; t++) acc += wt[t] * base[(size_t)t * size + j];
        o[(size_t)i * size + j] = (float)acc;
      }
    }
  }
  if (channels == 3 && np == 1) {
    memcpy(out + out_plane, out, out_plane * sizeof *out);
    memcpy(out + 2 * out_plane, out, out_plane * sizeof *out);
  }

done:
  taps_free(&tx);
  taps_free(&ty);
  free(tmp);
  free(planes);
  return st;
}

/* ---- listing ---------------------------------------------------------- */

typedef struct strlist {
  char **v;
  int n, cap;
} strlist;

/* Appends s (taking ownership); -1 (s freed) when out of memory. */
static int sl_push(strlist *l, char *s) {
  if (!s) return -1;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) {
      free(s);
      return -1;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = s;
  return 0;
}

static void sl_free(strlist *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static int is_png_name(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* A candidate image: its folder (owned by the walk's dir list) and name. */
typedef struct entry {
  const char *dir;
  char *name;
  int label;
} entry;

typedef struct walk {
  strlist dirs;     /* every folder visited, owns the entries' dir strings */
  entry *e;
  int n, cap;
  strlist *ignored;
  strlist *skipped;
} walk;

static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->dir, y->dir);
  return c ? c : strcmp(x->name, y->name);
}

static clgan_status nomem(const char *what) {
  return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory while loading the dataset", what);
}

/* Collects the .png files under dir (recursively) into wk->e. */
static clgan_status walk_dir(walk *wk, const char *dir, int label, int depth) {
  char *d = dup_str(dir);
  if (!d || sl_push(&wk->dirs, d) != 0) return nomem(dir);
  DIR *dh = opendir(d);
  if (!dh) return clgan_fail(CLGAN_ERR_IO, "%s: cannot open folder: %s", d, strerror(errno));
  strlist subdirs = {0};
  clgan_status st = CLGAN_OK;
  struct dirent *de;
  while ((de = readdir(dh)) != NULL) {
    const char *name = de->d_name;
    if (name[0] == '.') continue; /* ".", "..", hidden files and folders */
    char *path = join(d, name);
    if (!path) {
      st = nomem(d);
      break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
      if (is_png_name(name)) {
        size_t len = strlen(path) + 64;
        char *msg = malloc(len);
        if (msg) snprintf(msg, len, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        if (sl_push(wk->skipped, msg) != 0) {
          st = nomem(d);
          break;
        }
      } else if (sl_push(wk->ignored, path) != 0) {
        st = nomem(d);
        break;
      }
      continue;
    }
    if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH) {
      if (sl_push(&subdirs, path) != 0) {
        st = nomem(d);
        break;
      }
    } else if (S_ISREG(sb.st_mode) && is_png_name(name)) {
      free(path);
      if (wk->n == wk->cap) {
        int cap = wk->cap ? wk->cap * 2 : 64;
        entry *e = realloc(wk->e, (size_t)cap * sizeof *e);
        if (!e) {
          st = nomem(d);
          break;
        }
        wk->e = e;
        wk->cap = cap;
      }
      char *nm = dup_str(name);
      if (!nm) {
        st = nomem(d);
        break;
      }
      wk->e[wk->n++] = (entry){d, nm, label};
    } else if (sl_push(wk->ignored, path) != 0) { /* not a PNG, or too deep */
      st = nomem(d);
      break;
    }
  }
  closedir(dh);
  for (int i = 0; st == CLGAN_OK && i < subdirs.n; i++)
    st = walk_dir(wk, subdirs.v[i], label, depth + 1);
  sl_free(&subdirs);
  return st;
}

/* ---- loading ---------------------------------------------------------- */

void clgan_dataset_free(clgan_dataset *ds) {
  if (!ds) return;
  free(ds->data);
  free(ds->labels);
  for (int i = 0; i < ds->count; i++) free(ds->files ? ds->files[i] : NULL);
  free(ds->files);
  for (int i = 0; i < ds->nclasses; i++) free(ds->class_names[i]);
  free(ds->class_names);
  free(ds->class_counts);
  for (int i = 0; i < ds->files_skipped; i++) free(ds->skipped[i]);
  free(ds->skipped);
  for (int i = 0; i < ds->files_ignored; i++) free(ds->ignored[i]);
  free(ds->ignored);
  free(ds);
}

/* "a, b, c" (shortened to fit cap). */
static void list_classes(const clgan_dataset *ds, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < ds->nclasses && len + 1 < cap; i++) {
    int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", ds->class_names[i]);
    if (n < 0) break;
    len += (size_t)n;
  }
  if (len >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
}

clgan_status clgan_dataset_load(const clgan_dataset_options *opts, clgan_dataset **out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_dataset_load: out is NULL");
  *out = NULL;
  if (!opts || !opts->root || !*opts->root)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_dataset_load: no dataset folder given");
  if (opts->image_size < 1 || opts->image_size > MAX_IMAGE_SIZE)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: image size %d out of range (1..%d)", opts->root,
                      opts->image_size, MAX_IMAGE_SIZE);
  if (opts->channels != 1 && opts->channels != 3)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %d channels requested (1 or 3)", opts->root,
                      opts->channels);

  /* root without trailing slashes (but "/" stays "/") */
  char *root = dup_str(opts->root);
  if (!root) return nomem(opts->root);
  for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--) root[n - 1] = '\0';
  if (strcmp(root, "/") == 0) root[0] = '\0'; /* join() adds the slash */
  const char *shown = opts->root;

  clgan_dataset *ds = calloc(1, sizeof *ds);
  strlist classes = {0}, skipped = {0}, ignored = {0};
  walk wk;
  memset(&wk, 0, sizeof wk);
  wk.ignored = &ignored;
  wk.skipped = &skipped;
  clgan_status st = CLGAN_OK;
  DIR *dh = NULL;
  if (!ds) {
    st = nomem(shown);
    goto fail;
  }
  ds->channels = opts->channels;
  ds->image_size = opts->image_size;
  ds->image_floats = (size_t)opts->channels * (size_t)opts->image_size * (size_t)opts->image_size;
  ds->selected_class = -1;

  /* classes: the sub-folders of root */
  struct stat sb;
  if (stat(opts->root, &sb) != 0) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: cannot open dataset folder: %s", shown, strerror(errno));
    goto fail;
  }
  if (!S_ISDIR(sb.st_mode)) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: not a folder (expected an ImageFolder root/<class>/*.png)",
                    shown);
    goto fail;
  }
  dh = opendir(opts->root);
  if (!dh) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: cannot open dataset folder: %s", shown, strerror(errno));
    goto fail;
  }
  int loose_png = 0;
  struct dirent *de;
  while ((de = readdir(dh)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char *path = join(root, de->d_name);
    if (!path) {
      st = nomem(shown);
      goto fail;
    }
    int is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!is_dir && is_png_name(de->d_name)) loose_png++;
    if (!is_dir && sl_push(&ignored, path) != 0) {
      st = nomem(shown);
      goto fail;
    }
    if (is_dir) {
      free(path);
      if (sl_push(&classes, dup_str(de->d_name)) != 0) {
        st = nomem(shown);
        goto fail;
      }
    }
  }
  closedir(dh);
  dh = NULL;
  if (classes.n == 0) {
    if (loose_png)
      st = clgan_fail(CLGAN_ERR_INVALID,
                      "%s: no class folders: found %d .png files directly in the folder, but the "
                      "ImageFolder layout needs them in root/<class>/ (e.g. %s/images/)",
                      shown, loose_png, root);
    else
      st = clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty dataset folder: no class folders (expected root/<class>/*.png)",
                      shown);
    goto fail;
  }
  qsort(classes.v, (size_t)classes.n, sizeof *classes.v, cmp_str);
  ds->nclasses = classes.n;
  ds->class_names = classes.v;
  memset(&classes, 0, sizeof classes);
  ds->class_counts = calloc((size_t)ds->nclasses, sizeof *ds->class_counts);
  if (!ds->class_counts) {
    st = nomem(shown);
    goto fail;
  }
  if (opts->class_name) {
    for (int i = 0; i < ds->nclasses; i++)
      if (strcmp(ds->class_names[i], opts->class_name) == 0) ds->selected_class = i;
    if (ds->selected_class < 0) {
      char names[512];
      list_classes(ds, names, sizeof names);
      st = clgan_fail(CLGAN_ERR_INVALID, "%s: class '%s' not found (classes: %s)", shown,
                      opts->class_name, names);
      goto fail;
    }
  }

  /* files of each selected class, sorted by (folder, name) like os.walk */
  for (int c = 0; c < ds->nclasses; c++) {
    if (ds->selected_class >= 0 && c != ds->selected_class) continue;
    char *cdir = join(root, ds->class_names[c]);
    if (!cdir) {
      st = nomem(shown);
      goto fail;
    }
    int first = wk.n;
    st = walk_dir(&wk, cdir, c, 0);
    free(cdir);
    if (st != CLGAN_OK) goto fail;
    if (wk.n - first > 1)
      qsort(wk.e + first, (size_t)(wk.n - first), sizeof *wk.e, cmp_entry);
  }

  /* decode */
  if (wk.n > 0) {
    if (ds->image_floats > SIZE_MAX / sizeof(float) / (size_t)wk.n) {
      st = clgan_fail(CLGAN_ERR_NOMEM, "%s: %d images of %zu floats do not fit in memory", shown,
                      wk.n, ds->image_floats);
      goto fail;
    }
    ds->data = malloc((size_t)wk.n * ds->image_floats * sizeof *ds->data);
    ds->labels = malloc((size_t)wk.n * sizeof *ds->labels);
    ds->files = calloc((size_t)wk.n, sizeof *ds->files);
    if (!ds->data || !ds->labels || !ds->files) {
      st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory for %d images of %dx%dx%d", shown, wk.n,
                      ds->channels, ds->image_size, ds->image_size);
      goto fail;
    }
  }
  for (int i = 0; i < wk.n; i++) {
    char *path = join(wk.e[i].dir, wk.e[i].name);
    if (!path) {
      st = nomem(shown);
      goto fail;
    }
    clgan_image img;
    clgan_status rs = clgan_png_read(path, &img);
    if (rs == CLGAN_ERR_NOMEM) {
      free(path);
      st = rs;
      goto fail;
    }
    if (rs != CLGAN_OK) {
      /* png errors read "path: reason" */
      free(path);
      if (sl_push(&skipped, dup_str(clgan_last_error())) != 0) {
        st = nomem(shown);
        goto fail;
      }
      continue;
    }
    float *dst = ds->data + (size_t)ds->count * ds->image_floats;
    rs = clgan_image_resize_crop(&img, ds->image_size, ds->channels, dst);
    clgan_image_free(&img);
    if (rs != CLGAN_OK) {
      free(path);
      st = rs;
      goto fail;
    }
    for (size_t k = 0; k < ds->image_floats; k++) dst[k] = dst[k] * 2.0f - 1.0f;
    ds->labels[ds->count] = wk.e[i].label;
    ds->files[ds->count] = path;
    ds->class_counts[wk.e[i].label]++;
    ds->count++;
  }
  ds->files_used = ds->count;

  if (ignored.n > 1) qsort(ignored.v, (size_t)ignored.n, sizeof *ignored.v, cmp_str);
  ds->files_skipped = skipped.n;
  ds->skipped = skipped.v;
  memset(&skipped, 0, sizeof skipped);
  ds->files_ignored = ignored.n;
  ds->ignored = ignored.v;
  memset(&ignored, 0, sizeof ignored);

  if (ds->count == 0) {
    const char *where = ds->selected_class >= 0 ? "class '" : "";
    const char *cls = ds->selected_class >= 0 ? ds->class_names[ds->selected_class] : "";
    const char *end = ds->selected_class >= 0 ? "' of " : "";
    if (ds->files_skipped > 0)
      st = clgan_fail(CLGAN_ERR_INVALID,
                      "%s%s%s%s: no usable PNG image (%d .png file%s could not be decoded, "
                      "first: %s)",
                      where, cls, end, shown, ds->files_skipped,
                      ds->files_skipped == 1 ? "" : "s", ds->skipped[0]);
    else
      st = clgan_fail(CLGAN_ERR_INVALID,
                      "%s%s%s%s: no .png images in the class folder%s (%d other file%s ignored)",
                      where, cls, end, shown, ds->selected_class >= 0 ? "" : "s",
                      ds->files_ignored, ds->files_ignored == 1 ? "" : "s");
    goto fail;
  }
  if (ds->count < wk.n) {
    float *shrunk = realloc(ds->data, (size_t)ds->count * ds->image_floats * sizeof *ds->data);
    if (shrunk) ds->data = shrunk;
  }

  for (int i = 0; i < wk.n; i++) free(wk.e[i].name);
  free(wk.e);
  sl_free(&wk.dirs);
  free(root);
  *out = ds;
  return CLGAN_OK;

fail:
  if (dh) closedir(dh);
  for (int i = 0; i < wk.n; i++) free(wk.e[i].name);
  free(wk.e);
  sl_free(&wk.dirs);
  sl_free(&classes);
  sl_free(&skipped);
  sl_free(&ignored);
  clgan_dataset_free(ds);
  free(root);
  return st;
}
