/* DICOM series: files and folders scanned for images, grouped by
 * SeriesInstanceUID, ordered along the slice normal, and assembled into a
 * volume (clgan/dicom.h). The pixels come from the DCMTK shim. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgan/dicom.h"
#include "data/dicom_internal.h"
#include "runtime/internal.h"

/* Whether the first bytes are those of a PNG, gzip or NIfTI/ANALYZE file
 * (never DICOM: not even offered to DCMTK). */
static int other_format(const unsigned char *b, size_t n) {
  if (n >= 4 && memcmp(b, "\x89PNG", 4) == 0) return 1;
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return 1;
  if (n >= 12 && memcmp(b, "<nifti_image", 12) == 0) return 1;
  if (n < 4) return 0;
  uint32_t le = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  uint32_t be = b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
  return le == 348 || le == 540 || be == 348 || be == 540; /* sizeof_hdr */
}

int clgan_dicom_is_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char head[132];
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  if (n == sizeof head && memcmp(head + 128, "DICM", 4) == 0) return 1;
  /* no preamble: a raw dataset (old scanners, some exports) when DCMTK reads
   * one; files of the other formats clgan reads are never tried */
  if (n < 8 || other_format(head, n)) return 0;
  return clgan_dicom_dataset_probe(path);
}

/* One image file found by the scan, with what ordering needs. */
typedef struct found {
  char *path;
  clgan_dicom_image head; /* header only */
  double along;           /* position along the series' slice normal */
} found;

typedef struct found_list {
  int count, cap, skipped;
  found *items;
} found_list;

static clgan_status add_file(found_list *l, const char *path) {
  if (!clgan_dicom_is_file(path)) {
    l->skipped++;
    return CLGAN_OK;
  }
  clgan_dicom_image head;
  clgan_status st = clgan_dicom_read(path, 0, &head);
  if (st == CLGAN_ERR_FORMAT && strstr(clgan_last_error(), "without pixel data")) {
    l->skipped++; /* a DICOMDIR, a report, a structure set: not an image */
    return CLGAN_OK;
  }
  if (st != CLGAN_OK) return st;
  if (l->count == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    found *items = realloc(l->items, sizeof *items * (size_t)cap);
    if (!items) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory scanning %s", path);
    l->items = items;
    l->cap = cap;
  }
  found *f = &l->items[l->count];
  memset(f, 0, sizeof *f);
  f->head = head;
  if (!(f->path = strdup(path))) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  l->count++;
  return CLGAN_OK;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static clgan_status add_path(found_list *l, const char *path, int depth);

/* A folder's entries in name order (a stable scan; the series order comes
 * from the headers, never from the names). */
static clgan_status add_folder(found_list *l, const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return clgan_fail(CLGAN_ERR_IO, "cannot open the folder %s", dir);
  char **names = NULL;
  int n = 0, cap = 0;
  clgan_status st = CLGAN_OK;
  for (struct dirent *e; st == CLGAN_OK && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, sizeof *nn * (size_t)cap);
      if (!nn) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory scanning %s", dir);
      else names = nn;
    }
    if (st == CLGAN_OK && !(names[n++] = strdup(e->d_name))) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  closedir(d);
  if (st == CLGAN_OK) qsort(names, (size_t)n, sizeof *names, name_cmp);
  for (int i = 0; i < n && st == CLGAN_OK; i++) {
    size_t len = strlen(dir) + strlen(names[i]) + 2;
    char *p = malloc(len);
    if (!p) st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    else {
      snprintf(p, len, "%s/%s", dir, names[i]);
      st = add_path(l, p, depth + 1);
      free(p);
    }
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return st;
}

static clgan_status add_path(found_list *l, const char *path, int depth) {
  struct stat sb;
  if (stat(path, &sb) != 0) return clgan_fail(CLGAN_ERR_IO, "cannot find %s", path);
  if (S_ISDIR(sb.st_mode)) {
    if (depth > 32) return clgan_fail(CLGAN_ERR_INVALID, "%s: folders nested too deep", path);
    return add_folder(l, path, depth);
  }
  return add_file(l, path);
}

/* The slice normal of an image: row cosines x column cosines (LPS); the
 * patient's z axis without an orientation. */
static void normal_of(const clgan_dicom_image *im, double n[3]) {
  if (!im->has_orientation) {
    n[0] = n[1] = 0, n[2] = 1;
    return;
  }
  const double *r = im->orientation, *c = im->orientation + 3;
  n[0] = r[1] * c[2] - r[2] * c[1];
  n[1] = r[2] * c[0] - r[0] * c[2];
  n[2] = r[0] * c[1] - r[1] * c[0];
}

static int by_series(const void *a, const void *b) {
  const found *x = a, *y = b;
  int c = strcmp(x->head.series_uid, y->head.series_uid);
  return c ? c : strcmp(x->path, y->path);
}

/* Within a series: along the normal when every file has a position, else by
 * InstanceNumber; the path breaks ties so the order never depends on readdir. */
static int by_slice(const void *a, const void *b) {
  const found *x = a, *y = b;
  int positioned = x->head.has_position && y->head.has_position;
  if (positioned && x->along != y->along) return x->along < y->along ? -1 : 1;
  if (!positioned && x->head.instance_number != y->head.instance_number)
    return x->head.instance_number < y->head.instance_number ? -1 : 1;
  return strcmp(x->path, y->path);
}

static clgan_status make_series(found *items, int n, clgan_dicom_series *s) {
  double nrm[3];
  normal_of(&items[0].head, nrm);
  for (int i = 0; i < n; i++) {
    const double *p = items[i].head.position;
    items[i].along = p[0] * nrm[0] + p[1] * nrm[1] + p[2] * nrm[2];
  }
  qsort(items, (size_t)n, sizeof *items, by_slice);
  snprintf(s->uid, sizeof s->uid, "%s", items[0].head.series_uid);
  snprintf(s->modality, sizeof s->modality, "%s", items[0].head.modality);
  s->series_number = items[0].head.series_number;
  s->paths = calloc((size_t)n, sizeof *s->paths);
  if (!s->paths) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    s->paths[i] = items[i].path; /* ownership moves to the series */
    items[i].path = NULL;
  }
  s->count = n;
  return CLGAN_OK;
}

static clgan_status group(found_list *l, clgan_dicom_scan *out) {
  qsort(l->items, (size_t)l->count, sizeof *l->items, by_series);
  int groups = 0;
  for (int i = 0; i < l->count; i++)
    groups += i == 0 || strcmp(l->items[i].head.series_uid, l->items[i - 1].head.series_uid) != 0;
  out->series = calloc(groups ? (size_t)groups : 1, sizeof *out->series);
  if (!out->series) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < l->count && st == CLGAN_OK;) {
    int j = i + 1;
    while (j < l->count && strcmp(l->items[j].head.series_uid, l->items[i].head.series_uid) == 0) j++;
    st = make_series(l->items + i, j - i, &out->series[out->count++]);
    i = j;
  }
  return st;
}

clgan_status clgan_dicom_scan_paths(const char *const *inputs, int ninputs, clgan_dicom_scan *out) {
  memset(out, 0, sizeof *out);
  found_list l = {0};
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < ninputs && st == CLGAN_OK; i++) st = add_path(&l, inputs[i], 0);
  if (st == CLGAN_OK && l.count == 0)
    st = clgan_fail(CLGAN_ERR_FORMAT, "no DICOM image in %s%s (%d files that are not DICOM images)",
                    ninputs > 0 ? inputs[0] : "(nothing)", ninputs > 1 ? " and the others" : "",
                    l.skipped);
  if (st == CLGAN_OK) st = group(&l, out);
  out->skipped = l.skipped;
  for (int i = 0; i < l.count; i++) {
    free(l.items[i].path);
    clgan_dicom_image_free(&l.items[i].head);
  }
  free(l.items);
  if (st != CLGAN_OK) clgan_dicom_scan_free(out);
  return st;
}

void clgan_dicom_scan_free(clgan_dicom_scan *scan) {
  if (!scan) return;
  for (int i = 0; i < scan->count; i++) {
    for (int j = 0; j < scan->series[i].count; j++) free(scan->series[i].paths[j]);
    free(scan->series[i].paths);
  }
  free(scan->series);
  memset(scan, 0, sizeof *scan);
}
