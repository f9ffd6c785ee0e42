/* safetensors reader and atomic writer; the JSON header goes through jansson. */
#include "clgan/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

/* Header sizes beyond this are treated as corrupt rather than allocated. */
#define MAX_HEADER_BYTES (100u << 20)

static const char *const dtype_names[CLGAN_DTYPE_COUNT] = {"F32", "I64", "U64"};
static const size_t dtype_sizes[CLGAN_DTYPE_COUNT] = {4, 8, 8};

struct clgan_safetensors {
  char *path;
  int count;
  clgan_st_tensor *tensors; /* names and data owned here */
  int meta_count;
  char **meta_keys, **meta_values;
};

static size_t tensor_bytes(const clgan_st_tensor *t) {
  size_t n = dtype_sizes[t->dtype];
  for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
  return n;
}

/* The folder of path ("." for a bare name) into dir, and where the file
 * name starts in path. */
static const char *split_dir(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, cap, ".");
  else if (slash == path) snprintf(dir, cap, "/");
  else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
  return slash ? slash + 1 : path;
}

/* Temporary files of earlier writes of path (path.tmp.<pid>) whose writer
 * is dead (killed mid-write): removed. Only that pattern, never another file. */
static void remove_stale_temporaries(const char *path) {
  char dir[4096];
  const char *base = split_dir(path, dir, sizeof dir);
  size_t blen = strlen(base);
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    const char *n = e->d_name;
    if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0) continue;
    char *end;
    long pid = strtol(n + blen + 5, &end, 10);
    if (*end || end == n + blen + 5 || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", dir, n);
    unlink(full);
  }
  closedir(d);
}

/* Makes a rename in path's folder durable; filesystems that cannot sync a
 * folder (EINVAL) are accepted. */
static int sync_dir(const char *path) {
  char dir[4096];
  split_dir(path, dir, sizeof dir);
  int fd = open(dir, O_RDONLY);
  if (fd < 0) return 0;
  int ok = fsync(fd) == 0 || errno == EINVAL;
  close(fd);
  return ok;
}

clgan_status clgan_safetensors_write(const char *path, const clgan_st_tensor *tensors, int count,
                                     const char *const *meta_keys, const char *const *meta_values,
                                     int meta_count) {
  json_t *root = json_object();
  if (!root) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  if (meta_count > 0) {
    json_t *meta = json_object();
    for (int i = 0; i < meta_count; i++)
      json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
    json_object_set_new(root, "__metadata__", meta);
  }
  size_t offset = 0;
  for (int i = 0; i < count; i++) {
    const clgan_st_tensor *t = &tensors[i];
    json_t *shape = json_array();
    for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
    size_t bytes = tensor_bytes(t);
    json_t *entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_names[t->dtype], "shape", shape,
                              "data_offsets", (json_int_t)offset, (json_int_t)(offset + bytes));
    if (!entry) {
      json_decref(root);
      return clgan_fail(CLGAN_ERR_NOMEM, "%s: cannot encode tensor %s", path, t->name);
    }
    json_object_set_new(root, t->name, entry);
    offset += bytes;
  }
  char *header = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (!header) return clgan_fail(CLGAN_ERR_NOMEM, "%s: cannot encode the header", path);
  /* pad the header with spaces so the data section starts 8-byte aligned */
  size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  if (!tmp) {
    free(header);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
  remove_stale_temporaries(path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    clgan_status st = clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    free(header);
    free(tmp);
    return st;
  }
  uint64_t n = padded;
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
  int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(header, 1, hlen, f) == hlen;
  for (size_t i = hlen; i < padded && ok; i++) ok = fputc(' ', f) != EOF;
  for (int i = 0; i < count && ok; i++) {
    size_t bytes = tensor_bytes(&tensors[i]);
    ok = fwrite(tensors[i].data, 1, bytes, f) == bytes;
  }
  ok = fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  free(header);
  clgan_status st = CLGAN_OK;
  if (!ok || rename(tmp, path) != 0) {
    st = clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
  } else if (!sync_dir(path)) {
    st = clgan_fail(CLGAN_ERR_IO, "%s was written but its folder could not be synced: %s", path,
                    strerror(errno));
  }
  free(tmp);
  return st;
}

void clgan_safetensors_close(clgan_safetensors *st) {
  if (!st) return;
  for (int i = 0; i < st->count; i++) {
    free((void *)st->tensors[i].name);
    free((void *)st->tensors[i].data);
  }
  for (int i = 0; i < st->meta_count; i++) {
    free(st->meta_keys[i]);
    free(st->meta_values[i]);
  }
  free(st->meta_keys);
  free(st->meta_values);
  free(st->tensors);
  free(st->path);
  free(st);
}

typedef struct range {
  uint64_t begin, end;
} range;

static int cmp_range(const void *a, const void *b) {
  const range *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Parses one tensor entry; returns 0 with msg set when it is malformed. */
static int parse_entry(const char *name, json_t *e, uint64_t data_len, clgan_st_tensor *t,
                       range *r, char *msg, size_t cap) {
  json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape"),
         *offs = json_object_get(e, "data_offsets");
  if (!json_is_object(e) || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
      json_array_size(offs) != 2) {
    snprintf(msg, cap, "tensor '%s' lacks dtype, shape or data_offsets", name);
    return 0;
  }
  int found = -1;
  for (int d = 0; d < CLGAN_DTYPE_COUNT; d++)
    if (strcmp(json_string_value(dt), dtype_names[d]) == 0) found = d;
  if (found < 0) {
    snprintf(msg, cap, "tensor '%s' has dtype %s (clgan reads F32, I64, U64)", name,
             json_string_value(dt));
    return 0;
  }
  t->dtype = (clgan_dtype)found;
  if (json_array_size(shape) > CLGAN_ST_MAX_DIMS) {
    snprintf(msg, cap, "tensor '%s' has too many dimensions", name);
    return 0;
  }
  t->ndim = (int)json_array_size(shape);
  uint64_t elems = 1;
  for (int d = 0; d < t->ndim; d++) {
    json_t *v = json_array_get(shape, (size_t)d);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1LL << 40)) {
      snprintf(msg, cap, "tensor '%s' has an invalid shape", name);
      return 0;
    }
    t->shape[d] = json_integer_value(v);
    elems *= (uint64_t)t->shape[d];
    if (elems > (1ULL << 40)) {
      snprintf(msg, cap, "tensor '%s' is implausibly large", name);
      return 0;
    }
  }
  json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
  if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 ||
      json_integer_value(en) < json_integer_value(b) ||
      (uint64_t)json_integer_value(en) > data_len) {
    snprintf(msg, cap, "tensor '%s' has data_offsets outside the file", name);
    return 0;
  }
  r->begin = (uint64_t)json_integer_value(b);
  r->end = (uint64_t)json_integer_value(en);
  if (r->end - r->begin != elems * dtype_sizes[t->dtype]) {
    snprintf(msg, cap, "tensor '%s': %llu bytes for a shape of %llu elements", name,
             (unsigned long long)(r->end - r->begin), (unsigned long long)elems);
    return 0;
  }
  return 1;
}

enum { READ_OK = 0, READ_BAD, READ_NOMEM };

/* The __metadata__ object: string values only, every one kept. */
static int read_meta(clgan_safetensors *s, json_t *val, char *msg, size_t cap) {
  const char *mk;
  json_t *mv;
  if (!json_is_object(val)) {
    snprintf(msg, cap, "__metadata__ is not an object");
    return READ_BAD;
  }
  json_object_foreach(val, mk, mv) {
    if (!json_is_string(mv)) {
      snprintf(msg, cap, "metadata '%s' is not a string", mk);
      return READ_BAD;
    }
    s->meta_keys[s->meta_count] = strdup(mk);
    s->meta_values[s->meta_count] = strdup(json_string_value(mv));
    s->meta_count++;
    if (!s->meta_keys[s->meta_count - 1] || !s->meta_values[s->meta_count - 1]) return READ_NOMEM;
  }
  return READ_OK;
}

/* One tensor entry, checked against the data section, and a copy of its bytes. */
static int read_tensor(clgan_safetensors *s, const char *key, json_t *val,
                       const unsigned char *data, uint64_t data_len, range *r, char *msg,
                       size_t cap) {
  clgan_st_tensor *t = &s->tensors[s->count];
  if (!parse_entry(key, val, data_len, t, r, msg, cap)) return READ_BAD;
  size_t bytes = (size_t)(r->end - r->begin);
  void *copy = malloc(bytes ? bytes : 1);
  t->name = strdup(key);
  t->data = copy;
  s->count++;
  if (!copy || !t->name) return READ_NOMEM;
  memcpy(copy, data + r->begin, bytes);
  return READ_OK;
}

clgan_status clgan_safetensors_open(const char *path, clgan_safetensors **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  char msg[512] = "";
  clgan_status st = CLGAN_ERR_FORMAT;
  unsigned char *buf = NULL;
  json_t *root = NULL;
  range *ranges = NULL;
  clgan_safetensors *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    fclose(f);
    free(s);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  if (fseek(f, 0, SEEK_END) != 0) goto io_error;
  long fsize = ftell(f);
  if (fsize < 0 || fseek(f, 0, SEEK_SET) != 0) goto io_error;
  if (fsize < 8) {
    snprintf(msg, sizeof msg, "file too short for a safetensors header (%ld bytes)", fsize);
    goto fail;
  }
  unsigned char len8[8];
  if (fread(len8, 1, 8, f) != 8) goto io_error;
  uint64_t hlen = 0;
  for (int i = 0; i < 8; i++) hlen |= (uint64_t)len8[i] << (8 * i);
  if (hlen > MAX_HEADER_BYTES || hlen > (uint64_t)fsize - 8) {
    snprintf(msg, sizeof msg, "header length %llu does not fit the file (%ld bytes)",
             (unsigned long long)hlen, fsize);
    goto fail;
  }
  uint64_t data_len = (uint64_t)fsize - 8 - hlen;
  if (!(buf = malloc((size_t)fsize - 8 + 1))) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory reading %s", path);
    goto done;
  }
  if (fread(buf, 1, (size_t)fsize - 8, f) != (size_t)fsize - 8) goto io_error;
  json_error_t jerr;
  root = json_loadb((const char *)buf, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
  if (!root || !json_is_object(root)) {
    snprintf(msg, sizeof msg, "header is not a JSON object (%s)", root ? "wrong type" : jerr.text);
    goto fail;
  }
  size_t n = json_object_size(root);
  /* the metadata table holds every metadata entry, however few tensors */
  json_t *meta = json_object_get(root, "__metadata__");
  size_t nmeta = json_is_object(meta) ? json_object_size(meta) : 0;
  s->tensors = calloc(n ? n : 1, sizeof *s->tensors);
  ranges = calloc(n ? n : 1, sizeof *ranges);
  s->meta_keys = calloc(nmeta ? nmeta : 1, sizeof(char *));
  s->meta_values = calloc(nmeta ? nmeta : 1, sizeof(char *));
  if (!s->tensors || !ranges || !s->meta_keys || !s->meta_values) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory reading %s", path);
    goto done;
  }
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    int r = strcmp(key, "__metadata__") == 0
                ? read_meta(s, val, msg, sizeof msg)
                : read_tensor(s, key, val, buf + hlen, data_len, &ranges[s->count], msg, sizeof msg);
    if (r == READ_BAD) goto fail;
    if (r == READ_NOMEM) {
      st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory reading %s", path);
      goto done;
    }
  }
  qsort(ranges, (size_t)s->count, sizeof *ranges, cmp_range);
  for (int i = 1; i < s->count; i++)
    if (ranges[i].begin < ranges[i - 1].end) {
      snprintf(msg, sizeof msg, "tensor byte ranges overlap");
      goto fail;
    }
  st = CLGAN_OK;
  goto done;
io_error:
  st = clgan_fail(CLGAN_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  goto done;
fail:
  st = clgan_fail(CLGAN_ERR_FORMAT, "%s: not a valid safetensors file: %s", path, msg);
done:
  fclose(f);
  free(buf);
  free(ranges);
  if (root) json_decref(root);
  if (st != CLGAN_OK) {
    clgan_safetensors_close(s);
    return st;
  }
  *out = s;
  return CLGAN_OK;
}

const clgan_st_tensor *clgan_safetensors_find(const clgan_safetensors *st, const char *name) {
  for (int i = 0; i < st->count; i++)
    if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
  return NULL;
}

int clgan_safetensors_count(const clgan_safetensors *st) { return st->count; }

const clgan_st_tensor *clgan_safetensors_at(const clgan_safetensors *st, int i) {
  return i >= 0 && i < st->count ? &st->tensors[i] : NULL;
}

int clgan_safetensors_meta_count(const clgan_safetensors *st) { return st->meta_count; }

const char *clgan_safetensors_meta_key(const clgan_safetensors *st, int i) {
  return i >= 0 && i < st->meta_count ? st->meta_keys[i] : NULL;
}

const char *clgan_safetensors_meta(const clgan_safetensors *st, const char *key) {
  for (int i = 0; i < st->meta_count; i++)
    if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
  return NULL;
}

const char *clgan_safetensors_path(const clgan_safetensors *st) { return st->path; }

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (used < cap) snprintf(buf + used, cap - used, "]");
}

clgan_status clgan_safetensors_expect_f32(const clgan_safetensors *st, const char *name, int ndim,
                                          const int64_t *shape, const float **data) {
  *data = NULL;
  const clgan_st_tensor *t = clgan_safetensors_find(st, name);
  char want[128], got[128];
  shape_str(want, sizeof want, ndim, shape);
  if (!t) return clgan_fail(CLGAN_ERR_FORMAT, "%s: tensor '%s' %s is missing", st->path, name, want);
  shape_str(got, sizeof got, t->ndim, t->shape);
  int same = t->dtype == CLGAN_F32 && t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
  if (!same)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: tensor '%s' is %s %s, expected F32 %s", st->path, name,
                      dtype_names[t->dtype], got, want);
  *data = t->data;
  return CLGAN_OK;
}
