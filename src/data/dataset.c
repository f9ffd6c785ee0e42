/* Host side of the dataset: ImageFolder listing, PNG decoding and scaling to
 * [-1, 1] (include/clgan/dataset.h); the resize + crop is src/data/resize.c. */
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

/* The state of one load; load_free releases what is not handed over. */
typedef struct load {
  const clgan_dataset_options *opts;
  const char *shown; /* the root as given, for messages */
  char *root;        /* without trailing slashes ("" for "/": join() adds it) */
  clgan_dataset *ds;
  strlist classes, skipped, ignored;
  walk wk;
} load;

static void load_free(load *L) {
  for (int i = 0; i < L->wk.n; i++) free(L->wk.e[i].name);
  free(L->wk.e);
  sl_free(&L->wk.dirs);
  sl_free(&L->classes);
  sl_free(&L->skipped);
  sl_free(&L->ignored);
  free(L->root);
}

static clgan_status check_options(const clgan_dataset_options *opts) {
  if (!opts || !opts->root || !*opts->root)
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_dataset_load: no dataset folder given");
  if (opts->image_size < 1 || opts->image_size > MAX_IMAGE_SIZE)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: image size %d out of range (1..%d)", opts->root,
                      opts->image_size, MAX_IMAGE_SIZE);
  if (opts->channels != 1 && opts->channels != 3)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %d channels requested (1 or 3)", opts->root,
                      opts->channels);
  return CLGAN_OK;
}

/* The entries of the root: folders are classes, other files are ignored
 * (*loose_png counts the .png files among them). */
static clgan_status scan_root(load *L, DIR *dh, int *loose_png) {
  struct dirent *de;
  struct stat sb;
  while ((de = readdir(dh)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char *path = join(L->root, de->d_name);
    if (!path) return nomem(L->shown);
    int is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_dir) {
      free(path);
      if (sl_push(&L->classes, dup_str(de->d_name)) != 0) return nomem(L->shown);
    } else {
      if (is_png_name(de->d_name)) (*loose_png)++;
      if (sl_push(&L->ignored, path) != 0) return nomem(L->shown);
    }
  }
  return CLGAN_OK;
}

/* The classes (sub-folders of the root, sorted) into ds. */
static clgan_status read_classes(load *L) {
  const char *shown = L->shown, *given = L->opts->root;
  struct stat sb;
  if (stat(given, &sb) != 0)
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot open dataset folder: %s", shown, strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return clgan_fail(CLGAN_ERR_IO, "%s: not a folder (expected an ImageFolder root/<class>/*.png)",
                      shown);
  DIR *dh = opendir(given);
  if (!dh)
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot open dataset folder: %s", shown, strerror(errno));
  int loose_png = 0;
  clgan_status st = scan_root(L, dh, &loose_png);
  closedir(dh);
  if (st != CLGAN_OK) return st;
  if (L->classes.n == 0) {
    if (loose_png)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s: no class folders: found %d .png files directly in the folder, but the "
                        "ImageFolder layout needs them in root/<class>/ (e.g. %s/images/)",
                        shown, loose_png, L->root);
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s: empty dataset folder: no class folders (expected root/<class>/*.png)",
                      shown);
  }
  clgan_dataset *ds = L->ds;
  qsort(L->classes.v, (size_t)L->classes.n, sizeof *L->classes.v, cmp_str);
  ds->nclasses = L->classes.n;
  ds->class_names = L->classes.v;
  memset(&L->classes, 0, sizeof L->classes);
  ds->class_counts = calloc((size_t)ds->nclasses, sizeof *ds->class_counts);
  return ds->class_counts ? CLGAN_OK : nomem(shown);
}

static clgan_status select_class(load *L) {
  clgan_dataset *ds = L->ds;
  const char *want = L->opts->class_name;
  if (!want) return CLGAN_OK;
  for (int i = 0; i < ds->nclasses; i++)
    if (strcmp(ds->class_names[i], want) == 0) ds->selected_class = i;
  if (ds->selected_class >= 0) return CLGAN_OK;
  char names[512];
  list_classes(ds, names, sizeof names);
  return clgan_fail(CLGAN_ERR_INVALID, "%s: class '%s' not found (classes: %s)", L->shown, want,
                    names);
}

/* The files of each selected class, sorted by (folder, name) like os.walk. */
static clgan_status collect_files(load *L) {
  clgan_dataset *ds = L->ds;
  walk *wk = &L->wk;
  for (int c = 0; c < ds->nclasses; c++) {
    if (ds->selected_class >= 0 && c != ds->selected_class) continue;
    char *cdir = join(L->root, ds->class_names[c]);
    if (!cdir) return nomem(L->shown);
    int first = wk->n;
    clgan_status st = walk_dir(wk, cdir, c, 0);
    free(cdir);
    if (st != CLGAN_OK) return st;
    if (wk->n - first > 1) qsort(wk->e + first, (size_t)(wk->n - first), sizeof *wk->e, cmp_entry);
  }
  return CLGAN_OK;
}

/* Decodes entry i into the next image of ds, scaled to [-1, 1]; a file that
 * does not decode is listed as skipped (png errors read "path: reason"). */
static clgan_status decode_one(load *L, int i) {
  clgan_dataset *ds = L->ds;
  const entry *e = &L->wk.e[i];
  char *path = join(e->dir, e->name);
  if (!path) return nomem(L->shown);
  clgan_image img;
  clgan_status rs = clgan_png_read(path, &img);
  if (rs != CLGAN_OK) {
    free(path);
    if (rs == CLGAN_ERR_NOMEM) return rs;
    return sl_push(&L->skipped, dup_str(clgan_last_error())) != 0 ? nomem(L->shown) : CLGAN_OK;
  }
  float *dst = ds->data + (size_t)ds->count * ds->image_floats;
  int shorter = img.width < img.height ? img.width : img.height;
  if (2 * shorter < ds->image_size && ds->files_upscaled++ == 0) ds->first_upscaled = ds->count;
  rs = clgan_image_resize_crop(&img, ds->image_size, ds->channels, dst);
  clgan_image_free(&img);
  if (rs != CLGAN_OK) {
    free(path);
    return rs;
  }
  for (size_t k = 0; k < ds->image_floats; k++) dst[k] = dst[k] * 2.0f - 1.0f;
  ds->labels[ds->count] = e->label;
  ds->files[ds->count] = path;
  ds->class_counts[e->label]++;
  ds->count++;
  return CLGAN_OK;
}

static clgan_status decode_all(load *L) {
  clgan_dataset *ds = L->ds;
  int n = L->wk.n;
  if (n > 0) {
    if (ds->image_floats > SIZE_MAX / sizeof(float) / (size_t)n)
      return clgan_fail(CLGAN_ERR_NOMEM, "%s: %d images of %zu floats do not fit in memory",
                        L->shown, n, ds->image_floats);
    ds->data = malloc((size_t)n * ds->image_floats * sizeof *ds->data);
    ds->labels = malloc((size_t)n * sizeof *ds->labels);
    ds->files = calloc((size_t)n, sizeof *ds->files);
    if (!ds->data || !ds->labels || !ds->files)
      return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory for %d images of %dx%dx%d", L->shown,
                        n, ds->channels, ds->image_size, ds->image_size);
  }
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < n && st == CLGAN_OK; i++) st = decode_one(L, i);
  ds->files_used = ds->count;
  return st;
}

/* Hands the skipped and ignored lists to ds; INVALID when no image loaded. */
static clgan_status finish(load *L) {
  clgan_dataset *ds = L->ds;
  if (L->ignored.n > 1) qsort(L->ignored.v, (size_t)L->ignored.n, sizeof *L->ignored.v, cmp_str);
  ds->files_skipped = L->skipped.n;
  ds->skipped = L->skipped.v;
  memset(&L->skipped, 0, sizeof L->skipped);
  ds->files_ignored = L->ignored.n;
  ds->ignored = L->ignored.v;
  memset(&L->ignored, 0, sizeof L->ignored);
  if (ds->count == 0) {
    int sel = ds->selected_class >= 0;
    const char *where = sel ? "class '" : "", *end = sel ? "' of " : "";
    const char *cls = sel ? ds->class_names[ds->selected_class] : "";
    if (ds->files_skipped > 0)
      return clgan_fail(CLGAN_ERR_INVALID,
                        "%s%s%s%s: no usable PNG image (%d .png file%s could not be decoded, "
                        "first: %s)",
                        where, cls, end, L->shown, ds->files_skipped,
                        ds->files_skipped == 1 ? "" : "s", ds->skipped[0]);
    return clgan_fail(CLGAN_ERR_INVALID,
                      "%s%s%s%s: no .png images in the class folder%s (%d other file%s ignored)",
                      where, cls, end, L->shown, sel ? "" : "s", ds->files_ignored,
                      ds->files_ignored == 1 ? "" : "s");
  }
  if (ds->count < L->wk.n) {
    float *shrunk = realloc(ds->data, (size_t)ds->count * ds->image_floats * sizeof *ds->data);
    if (shrunk) ds->data = shrunk;
  }
  return CLGAN_OK;
}

clgan_status clgan_dataset_load(const clgan_dataset_options *opts, clgan_dataset **out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_dataset_load: out is NULL");
  *out = NULL;
  clgan_status st = check_options(opts);
  if (st != CLGAN_OK) return st;
  load L;
  memset(&L, 0, sizeof L);
  L.opts = opts;
  L.shown = opts->root;
  L.wk.ignored = &L.ignored;
  L.wk.skipped = &L.skipped;
  L.root = dup_str(opts->root);
  L.ds = L.root ? calloc(1, sizeof *L.ds) : NULL;
  if (!L.ds) {
    free(L.root);
    return nomem(opts->root);
  }
  char *root = L.root;
  for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--) root[n - 1] = '\0';
  if (strcmp(root, "/") == 0) root[0] = '\0';
  clgan_dataset *ds = L.ds;
  ds->channels = opts->channels;
  ds->image_size = opts->image_size;
  ds->image_floats = (size_t)opts->channels * (size_t)opts->image_size * (size_t)opts->image_size;
  ds->selected_class = -1;
  st = read_classes(&L);
  if (st == CLGAN_OK) st = select_class(&L);
  if (st == CLGAN_OK) st = collect_files(&L);
  if (st == CLGAN_OK) st = decode_all(&L);
  if (st == CLGAN_OK) st = finish(&L);
  load_free(&L);
  if (st != CLGAN_OK) {
    clgan_dataset_free(ds);
    return st;
  }
  *out = ds;
  return CLGAN_OK;
}
