/* Loader of the parity fixtures: see parity_fixture.h for the format. */
#include "parity_fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_MAX_RECORDS 100000u

static char pf_msg[512];

static void pf_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pf_msg, sizeof pf_msg, fmt, ap);
  va_end(ap);
}

const char *pf_error(void) { return pf_msg; }

static uint32_t rd_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pf_free(pf_fixture *f) {
  if (!f) return;
  for (int i = 0; i < f->count; i++) free(f->records[i].data);
  free(f->records);
  free(f);
}

/* Reader over [p, end) that never reads past end. */
typedef struct cursor {
  const unsigned char *base, *p, *end;
} cursor;

static size_t cur_off(const cursor *c) { return (size_t)(c->p - c->base); }
static size_t cur_left(const cursor *c) { return (size_t)(c->end - c->p); }

static int cur_u32(cursor *c, uint32_t *v, const char *what, const char *rec) {
  if (cur_left(c) < 4) {
    pf_fail("truncated at byte %zu: expected %s%s%s (4 bytes), %zu left", cur_off(c), what,
            rec ? " of record " : "", rec ? rec : "", cur_left(c));
    return -1;
  }
  *v = rd_u32(c->p);
  c->p += 4;
  return 0;
}

pf_fixture *pf_parse(const void *bytes, size_t size) {
  cursor c = {bytes, bytes, (const unsigned char *)bytes + size};
  pf_msg[0] = 0;
  if (!bytes && size) {
    pf_fail("no data");
    return NULL;
  }
  if (size < 8 || memcmp(c.p, "CLGANPAR", 8) != 0) {
    pf_fail(size < 8 ? "too short for a parity fixture (%zu bytes)"
                     : "not a parity fixture (bad magic; %zu bytes)",
            size);
    return NULL;
  }
  c.p += 8;
  uint32_t version, count;
  if (cur_u32(&c, &version, "the version", NULL)) return NULL;
  if (version != PF_VERSION) {
    pf_fail("unsupported fixture version %u (this loader reads version %u)", version,
            PF_VERSION);
    return NULL;
  }
  if (cur_u32(&c, &count, "the record count", NULL)) return NULL;
  /* every record takes at least 13 bytes */
  if (count > PF_MAX_RECORDS || (size_t)count > cur_left(&c) / 13) {
    pf_fail("record count %u does not fit a %zu-byte file", count, size);
    return NULL;
  }
  pf_fixture *f = calloc(1, sizeof *f);
  if (!f || !(f->records = calloc(count ? count : 1, sizeof *f->records))) {
    free(f);
    pf_fail("out of memory");
    return NULL;
  }
  f->version = version;
  for (uint32_t i = 0; i < count; i++) {
    pf_record *r = &f->records[i];
    uint32_t len, dtype, ndim;
    char idx[32];
    snprintf(idx, sizeof idx, "#%u", i);
    if (cur_u32(&c, &len, "the name length", idx)) goto fail;
    if (len == 0 || len > PF_MAX_NAME) {
      pf_fail("record %s at byte %zu: bad name length %u", idx, cur_off(&c) - 4, len);
      goto fail;
    }
    if (cur_left(&c) < len) {
      pf_fail("truncated at byte %zu: name of record %s needs %u bytes, %zu left", cur_off(&c),
              idx, len, cur_left(&c));
      goto fail;
    }
    for (uint32_t k = 0; k < len; k++)
      if (c.p[k] < 0x21 || c.p[k] > 0x7e) {
        pf_fail("record %s at byte %zu: name has a non-printable byte 0x%02x", idx,
                cur_off(&c), c.p[k]);
        goto fail;
      }
    memcpy(r->name, c.p, len);
    r->name[len] = 0;
    c.p += len;
    f->count = (int)i + 1; /* r->data is freed from here on */
    for (uint32_t k = 0; k < i; k++)
      if (strcmp(f->records[k].name, r->name) == 0) {
        pf_fail("duplicate record name '%s'", r->name);
        goto fail;
      }
    if (cur_u32(&c, &dtype, "the dtype", r->name)) goto fail;
    if (dtype != PF_F32 && dtype != PF_I32) {
      pf_fail("record '%s': unknown dtype %u", r->name, dtype);
      goto fail;
    }
    r->dtype = (pf_dtype)dtype;
    if (cur_u32(&c, &ndim, "ndim", r->name)) goto fail;
    if (ndim > PF_MAX_NDIM) {
      pf_fail("record '%s': ndim %u > %d", r->name, ndim, PF_MAX_NDIM);
      goto fail;
    }
    r->ndim = (int)ndim;
    size_t n = 1;
    for (uint32_t d = 0; d < ndim; d++) {
      if (cur_u32(&c, &r->dims[d], "a dimension", r->name)) goto fail;
      if (r->dims[d] && n > (size / 4) / r->dims[d]) {
        pf_fail("record '%s': shape larger than the file", r->name);
        goto fail;
      }
      n *= r->dims[d];
    }
    r->count = n;
    if (cur_left(&c) / 4 < n) {
      pf_fail("truncated at byte %zu: record '%s' needs %zu bytes of data, %zu left",
              cur_off(&c), r->name, n * 4, cur_left(&c));
      goto fail;
    }
    r->data = malloc(n ? n * 4 : 4);
    if (!r->data) {
      pf_fail("out of memory");
      goto fail;
    }
    uint32_t *dst = r->data; /* floats and int32s travel as their bits */
    for (size_t k = 0; k < n; k++) dst[k] = rd_u32(c.p + 4 * k);
    c.p += 4 * n;
  }
  if (cur_left(&c) < 4 || memcmp(c.p, "END.", 4) != 0) {
    pf_fail(cur_left(&c) < 4 ? "truncated at byte %zu: end marker missing"
                             : "bad end marker at byte %zu",
            cur_off(&c));
    goto fail;
  }
  c.p += 4;
  if (cur_left(&c) != 0) {
    pf_fail("%zu unexpected bytes after the end marker", cur_left(&c));
    goto fail;
  }
  f->count = (int)count;
  return f;
fail:
  pf_free(f);
  return NULL;
}

pf_fixture *pf_load(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    pf_fail("%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 20, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, fp);
    if (n < cap) break;
    unsigned char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int err = ferror(fp);
  fclose(fp);
  if (!buf || err) {
    free(buf);
    pf_fail("%s: %s", path, buf ? "read error" : "out of memory or file too large");
    return NULL;
  }
  pf_fixture *f = pf_parse(buf, n);
  free(buf);
  if (!f) {
    char inner[sizeof pf_msg];
    memcpy(inner, pf_msg, sizeof inner);
    pf_fail("%s: %.400s", path, inner);
  }
  return f;
}

const pf_record *pf_find(const pf_fixture *f, const char *name) {
  for (int i = 0; f && i < f->count; i++)
    if (strcmp(f->records[i].name, name) == 0) return &f->records[i];
  return NULL;
}

const float *pf_f32(const pf_fixture *f, const char *name, size_t *count) {
  const pf_record *r = pf_find(f, name);
  if (!r) {
    pf_fail("fixture has no record '%s'", name);
    return NULL;
  }
  if (r->dtype != PF_F32) {
    pf_fail("record '%s' is not float32", name);
    return NULL;
  }
  if (count) *count = r->count;
  return r->data;
}

static const pf_record *pf_scalar(const pf_fixture *f, const char *name, pf_dtype t) {
  const pf_record *r = pf_find(f, name);
  if (!r) {
    pf_fail("fixture has no record '%s'", name);
    return NULL;
  }
  if (r->dtype != t || r->count != 1) {
    pf_fail("record '%s' is not a %s scalar", name, t == PF_F32 ? "float32" : "int32");
    return NULL;
  }
  return r;
}

int pf_scalar_i32(const pf_fixture *f, const char *name, int *out) {
  const pf_record *r = pf_scalar(f, name, PF_I32);
  if (!r) return -1;
  int32_t v;
  memcpy(&v, r->data, 4);
  *out = v;
  return 0;
}

int pf_scalar_f32(const pf_fixture *f, const char *name, float *out) {
  const pf_record *r = pf_scalar(f, name, PF_F32);
  if (!r) return -1;
  memcpy(out, r->data, 4);
  return 0;
}

int pf_shape_is(const pf_record *r, int ndim, const int *shape) {
  if (!r || r->ndim != ndim) return 0;
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0 || r->dims[d] != (uint32_t)shape[d]) return 0;
  return 1;
}

const char *pf_shape_str(const pf_record *r, char *buf, size_t len) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, len - o, "(");
  for (int d = 0; d < r->ndim && o < len; d++)
    o += (size_t)snprintf(buf + o, len - o, d ? ", %u" : "%u", r->dims[d]);
  if (o < len) snprintf(buf + o, len - o, ")");
  return buf;
}
