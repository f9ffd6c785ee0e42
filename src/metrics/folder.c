/* Folders of PNG images for evaluation (see clgan_image_folder in
 * clgan/metrics.h): a recursive listing, sorted, decoded with the data
 * loader's transform. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "clgan/dataset.h"
#include "clgan/image.h"
#include "metrics/internal.h"

#define MAX_DEPTH 16

typedef struct paths {
  char **v;
  int n, cap;
} paths;

static void paths_free(paths *p) {
  for (int i = 0; i < p->n; i++) free(p->v[i]);
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

static int paths_push(paths *p, char *s) {
  if (!s) return -1;
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 64;
    char **v = realloc(p->v, sizeof(char *) * (size_t)cap);
    if (!v) {
      free(s);
      return -1;
    }
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = s;
  return 0;
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a == 0 || dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

static int is_png(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

static clgan_status walk(const char *dir, int depth, paths *out) {
  DIR *dh = opendir(dir);
  if (!dh) return clgan_fail(CLGAN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
  clgan_status st = CLGAN_OK;
  struct dirent *de;
  paths sub = {0};
  while (st == CLGAN_OK && (de = readdir(dh)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char *path = join(dir, de->d_name);
    struct stat sb;
    if (!path) {
      st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", dir);
    } else if (stat(path, &sb) != 0) {
      free(path);
    } else if (S_ISDIR(sb.st_mode)) {
      if (depth >= MAX_DEPTH || paths_push(&sub, path) != 0) {
        if (depth >= MAX_DEPTH) free(path);
        else st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", dir);
      }
    } else if (S_ISREG(sb.st_mode) && is_png(de->d_name)) {
      if (paths_push(out, path) != 0) st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", dir);
    } else {
      free(path);
    }
  }
  closedir(dh);
  for (int i = 0; st == CLGAN_OK && i < sub.n; i++) st = walk(sub.v[i], depth + 1, out);
  paths_free(&sub);
  return st;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static clgan_status list_pngs(const char *dir, paths *out) {
  struct stat sb;
  if (!dir || stat(dir, &sb) != 0)
    return clgan_fail(CLGAN_ERR_IO, "%s: %s", dir ? dir : "(null)",
                      dir ? strerror(errno) : "no folder");
  if (!S_ISDIR(sb.st_mode)) return clgan_fail(CLGAN_ERR_IO, "%s: not a folder", dir);
  clgan_status st = walk(dir, 0, out);
  if (st != CLGAN_OK) {
    paths_free(out);
    return st;
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
  return CLGAN_OK;
}

void clgan_image_folder_free(clgan_image_folder *f) {
  if (!f) return;
  for (int i = 0; i < f->count; i++) free(f->files[i]);
  free(f->files);
  free(f->data);
  free(f);
}

clgan_status clgan_image_folder_probe(const char *dir, int *channels, int *size) {
  paths p = {0};
  clgan_status st = list_pngs(dir, &p);
  if (st != CLGAN_OK) return st;
  st = clgan_fail(CLGAN_ERR_INVALID, "%s: no decodable .png image in this folder", dir);
  for (int i = 0; i < p.n; i++) {
    clgan_image img = {0};
    if (clgan_png_read(p.v[i], &img) != CLGAN_OK) continue;
    if (channels) *channels = img.channels <= 2 ? 1 : 3;
    if (size) *size = img.width < img.height ? img.width : img.height;
    clgan_image_free(&img);
    st = CLGAN_OK;
    break;
  }
  paths_free(&p);
  return st;
}

clgan_status clgan_image_folder_load(const char *dir, int size, int channels,
                                     clgan_image_folder **out) {
  *out = NULL;
  if (size < 1 || (channels != 1 && channels != 3))
    return clgan_fail(CLGAN_ERR_INVALID, "%s: images of %d px and %d channels cannot be loaded",
                      dir ? dir : "(null)", size, channels);
  paths p = {0};
  clgan_status st = list_pngs(dir, &p);
  if (st != CLGAN_OK) return st;
  clgan_image_folder *f = calloc(1, sizeof *f);
  size_t floats = (size_t)channels * size * size;
  if (!f || !(f->files = calloc((size_t)(p.n ? p.n : 1), sizeof(char *))) ||
      !(f->data = malloc(sizeof(float) * floats * (size_t)(p.n ? p.n : 1)))) {
    paths_free(&p);
    clgan_image_folder_free(f);
    return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory for %d images", dir, p.n);
  }
  f->channels = channels;
  f->size = size;
  for (int i = 0; i < p.n; i++) {
    clgan_image img = {0};
    float *dst = f->data + (size_t)f->count * floats;
    clgan_status s = clgan_png_read(p.v[i], &img);
    if (s == CLGAN_OK) s = clgan_image_resize_crop(&img, size, channels, dst);
    clgan_image_free(&img);
    if (s == CLGAN_ERR_NOMEM) {
      st = s;
      break;
    }
    if (s != CLGAN_OK) {
      if (f->skipped++ == 0) snprintf(f->first_error, sizeof f->first_error, "%s", clgan_last_error());
      continue;
    }
    for (size_t j = 0; j < floats; j++) dst[j] = dst[j] * 2.0f - 1.0f;
    f->files[f->count++] = p.v[i];
    p.v[i] = NULL;
  }
  paths_free(&p);
  if (st == CLGAN_OK && f->count == 0)
    st = clgan_fail(CLGAN_ERR_INVALID, "%s: no decodable .png image under this folder%s%s", dir,
                    f->skipped ? "; first failure: " : "", f->first_error);
  if (st != CLGAN_OK) {
    clgan_image_folder_free(f);
    return st;
  }
  *out = f;
  return CLGAN_OK;
}
