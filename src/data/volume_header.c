/* NIfTI-1, NIfTI-2 and ANALYZE 7.5 headers read and checked by clgan before
 * nifticlib sees the file: nifticlib repairs some fields without a word
 * (a vox_offset inside the header is moved to its end, dim[i] = 0 becomes
 * 1) and prints its own messages about others. Conventions:
 * include/clgan/volume.h. */
#include "clgan/volume.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "runtime/internal.h"

_Static_assert(sizeof(nifti_1_header) == 348 && sizeof(nifti_2_header) == 540,
               "nifticlib's header structs are the standard's layout");

#define HEADER_READ 548 /* the larger header and its 4-byte extender, plus slack */

/* ---- files, plain or gzip as nifticlib decides (by a .gz name) ---------- */

typedef struct vfile {
  FILE *plain;
  gzFile gz;
} vfile;

static clgan_status vfile_open(const char *name, vfile *f) {
  f->plain = NULL;
  f->gz = NULL;
  if (nifti_is_gzfile(name)) {
    f->gz = gzopen(name, "rb"); /* reads an uncompressed file too, as nifticlib does */
    if (f->gz) gzbuffer(f->gz, 1 << 17);
  } else {
    f->plain = fopen(name, "rb");
  }
  if (!f->gz && !f->plain)
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot read it: %s", name, strerror(errno));
  return CLGAN_OK;
}

static void vfile_close(vfile *f) {
  if (f->gz) gzclose(f->gz);
  if (f->plain) fclose(f->plain);
}

/* Up to cap bytes, fewer at the end of the data; -1 when a gzip stream is
 * corrupt before that. */
static int vfile_read(vfile *f, unsigned char *buf, int cap) {
  if (f->plain) return (int)fread(buf, 1, (size_t)cap, f->plain);
  return gzread(f->gz, buf, (unsigned)cap);
}

/* zlib's message without the file name it prefixes. */
static void zlib_message(gzFile gz, const char *name, char *msg, size_t cap, int *zerr) {
  const char *m = gzerror(gz, zerr);
  if (!m) m = "";
  size_t len = strlen(name);
  if (strncmp(m, name, len) == 0 && strncmp(m + len, ": ", 2) == 0) m += len + 2;
  snprintf(msg, cap, "%s", m);
}

/* The file's whole length (decompressed for gzip: read to its end, where
 * zlib checks the CRC), consumed bytes having been read already. need is
 * what the header announces, for the message about a damaged stream. */
static clgan_status vfile_length(vfile *f, const char *name, int64_t consumed, int64_t need,
                                 int64_t *len) {
  if (f->plain) {
    struct stat st;
    if (fstat(fileno(f->plain), &st) != 0)
      return clgan_fail(CLGAN_ERR_IO, "%s: %s", name, strerror(errno));
    *len = (int64_t)st.st_size;
    return CLGAN_OK;
  }
  enum { CHUNK = 1 << 18 };
  unsigned char *chunk = malloc(CHUNK);
  if (!chunk) return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", name);
  int64_t total = consumed;
  int r;
  while ((r = gzread(f->gz, chunk, CHUNK)) > 0) total += r;
  free(chunk);
  int zerr = Z_OK;
  char msg[256];
  zlib_message(f->gz, name, msg, sizeof msg, &zerr);
  *len = total;
  if (r >= 0 && zerr == Z_OK) return CLGAN_OK;
  if (total < need)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: truncated or corrupt gzip data: %lld of the %lld bytes the header "
                      "announces could be decompressed (zlib: %s)",
                      name, (long long)total, (long long)need, msg);
  return clgan_fail(CLGAN_ERR_FORMAT,
                    "%s: corrupt gzip data (zlib: %s): the file is truncated or damaged", name,
                    msg);
}

/* ---- fields, in the file's byte order --------------------------------- */

typedef struct field_reader {
  const unsigned char *b;
  int big; /* the file is big-endian */
} field_reader;

static uint64_t load_bytes(const unsigned char *p, int n, int big) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[big ? i : n - 1 - i];
  return v;
}

static int64_t rd_i16(const field_reader *r, size_t at) {
  return (int16_t)(uint16_t)load_bytes(r->b + at, 2, r->big);
}
static int64_t rd_i64(const field_reader *r, size_t at) {
  return (int64_t)load_bytes(r->b + at, 8, r->big);
}
static double rd_f32(const field_reader *r, size_t at) {
  uint32_t u = (uint32_t)load_bytes(r->b + at, 4, r->big);
  float f;
  memcpy(&f, &u, 4); /* u holds the IEEE bits in this machine's order */
  return f;
}

static int machine_is_big(void) {
  const uint16_t one = 1;
  unsigned char b[2];
  memcpy(b, &one, 2);
  return b[0] == 0;
}

/* ---- the checks ---------------------------------------------------------- */

static int supported_datatype(int dt) {
  switch (dt) {
  case NIFTI_TYPE_UINT8:
  case NIFTI_TYPE_INT8:
  case NIFTI_TYPE_INT16:
  case NIFTI_TYPE_UINT16:
  case NIFTI_TYPE_INT32:
  case NIFTI_TYPE_UINT32:
  case NIFTI_TYPE_INT64:
  case NIFTI_TYPE_UINT64:
  case NIFTI_TYPE_FLOAT32:
  case NIFTI_TYPE_FLOAT64:
    return 1;
  default:
    return 0;
  }
}

#define NOT_READABLE "not a readable NIfTI-1, NIfTI-2 or ANALYZE 7.5 volume"

/* Which header the first n bytes are: version, magic, byte order. */
static clgan_status identify(const char *name, const unsigned char *b, int n,
                             clgan_volume_header *h, field_reader *r) {
  if (n >= 12 && memcmp(b, "<nifti_image", 12) == 0)
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "%s: an ASCII NIfTI file (.nia) is not supported; convert it to .nii or "
                      ".nii.gz",
                      name);
  if (n < 4)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: " NOT_READABLE ": the file is empty or truncated",
                      name);
  /* the byte order is the one in which sizeof_hdr reads 348 or 540 */
  uint32_t le = (uint32_t)load_bytes(b, 4, 0), be = (uint32_t)load_bytes(b, 4, 1);
  uint32_t size = (le == 348 || le == 540) ? le : (be == 348 || be == 540) ? be : 0;
  if (size == 0)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: " NOT_READABLE ": no NIfTI/ANALYZE header (sizeof_hdr reads %u, not "
                      "348 or 540)",
                      name, le);
  if ((uint32_t)n < size)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: " NOT_READABLE ": the file ends inside the header (%d of %u bytes)",
                      name, n, size);
  r->b = b;
  r->big = size != le;
  h->swapped = r->big != machine_is_big();
  const unsigned char *magic =
      b + (size == 348 ? offsetof(nifti_1_header, magic) : offsetof(nifti_2_header, magic));
  int nifti = magic[0] == 'n' && (magic[1] == '+' || magic[1] == 'i') && magic[3] == '\0';
  int digit = nifti && magic[2] >= '1' && magic[2] <= '9' ? magic[2] - '0' : 0;
  if (size == 540 && digit != 2)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: a 540-byte (NIfTI-2) header without the NIfTI-2 magic \"n+2\" or "
                      "\"ni2\"",
                      name);
  if (size == 348 && digit > 1)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: a 348-byte (NIfTI-1) header whose magic says NIfTI-%d", name, digit);
  h->version = size == 540 ? 2 : digit; /* 0: no magic, ANALYZE 7.5 */
  h->single_file = digit > 0 && magic[1] == '+';
  return CLGAN_OK;
}

/* dim[0..7], the datatype and its size; data_bytes. */
static clgan_status check_dims_and_type(const char *name, const field_reader *r,
                                        clgan_volume_header *h) {
  int v2 = h->version == 2;
  for (int i = 0; i < 8; i++)
    h->dim[i] = v2 ? rd_i64(r, offsetof(nifti_2_header, dim) + 8 * (size_t)i)
                   : rd_i16(r, offsetof(nifti_1_header, dim) + 2 * (size_t)i);
  if (h->dim[0] < 1 || h->dim[0] > 7)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: the header's dim[0] (the number of dimensions) is %lld, not 1 to 7",
                      name, (long long)h->dim[0]);
  for (int i = 1; i <= 7; i++) {
    if (i > h->dim[0]) h->dim[i] = 1;
    else if (h->dim[i] < 1)
      return clgan_fail(CLGAN_ERR_FORMAT,
                        "%s: the header's dim[%d] is %lld: each of the %lld dimensions must be "
                        "at least 1",
                        name, i, (long long)h->dim[i], (long long)h->dim[0]);
  }
  h->datatype = (int)(v2 ? rd_i16(r, offsetof(nifti_2_header, datatype))
                         : rd_i16(r, offsetof(nifti_1_header, datatype)));
  if (!supported_datatype(h->datatype))
    return clgan_fail(CLGAN_ERR_UNSUPPORTED,
                      "%s: voxel datatype %s (%d) is not supported: clgan slices real scalar "
                      "volumes (uint8, int16, uint16, int32, float32, float64, ...), not "
                      "complex, RGB or binary data",
                      name, clgan_volume_datatype_name(h->datatype), h->datatype);
  int swapsize = 0;
  nifti_datatype_sizes(h->datatype, &h->bytes_per_voxel, &swapsize);
  int64_t bytes = h->bytes_per_voxel;
  for (int i = 1; i <= 7; i++) {
    if (bytes > INT64_MAX / h->dim[i])
      return clgan_fail(CLGAN_ERR_FORMAT, "%s: the header's dimensions overflow (dim[%d] = %lld)",
                        name, i, (long long)h->dim[i]);
    bytes *= h->dim[i];
  }
  h->data_bytes = bytes;
  return CLGAN_OK;
}

/* vox_offset: a whole, non-negative number, past the header when the
 * voxels share its file. */
static clgan_status check_offset(const char *name, const field_reader *r,
                                 clgan_volume_header *h) {
  double off = h->version == 2 ? (double)rd_i64(r, offsetof(nifti_2_header, vox_offset))
                               : rd_f32(r, offsetof(nifti_1_header, vox_offset));
  if (!isfinite(off) || off != floor(off))
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the header's vox_offset %g is not a whole number",
                      name, off);
  if (off > 9e18)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the header's vox_offset %g is beyond any file",
                      name, off);
  if (off < 0)
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: the header's vox_offset is negative (%.0f)", name,
                      off);
  /* the header and its 4-byte extender (nifticlib reads a single file as
   * NIfTI-1 even without the magic: the same 352 then) */
  int end = h->version == 2 ? 544 : 352;
  static const char *const kind[] = {"ANALYZE 7.5", "NIfTI-1", "NIfTI-2"};
  if (h->single_file && off < end)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: the header's vox_offset %.0f lies inside the %s header: in a single "
                      "file the voxel data must start at byte %d or later",
                      name, off, kind[h->version], end);
  h->vox_offset = (int64_t)off;
  return CLGAN_OK;
}

/* The image file's name as nifticlib makes it (nifti_image_read): the
 * header's .hdr / .hdr.gz turned into .img / .img.gz, else the header's own
 * file (also for a .nii whose magic says pair, or ANALYZE). */
static void image_name(const char *hname, char *buf, size_t cap) {
  size_t n = strlen(hname);
  int gz = n > 3 && strcmp(hname + n - 3, ".gz") == 0;
  size_t stem = n - (gz ? 3 : 0);
  if (stem > 4 && strncmp(hname + stem - 4, ".hdr", 4) == 0)
    snprintf(buf, cap, "%.*s.img%s", (int)(stem - 4), hname, gz ? ".gz" : "");
  else
    snprintf(buf, cap, "%s", hname);
}

/* The image file holds vox_offset + data_bytes. */
static clgan_status check_image_length(const char *iname, vfile *f, int64_t consumed,
                                       clgan_volume_header *h) {
  int64_t need = h->vox_offset + h->data_bytes;
  if (need < h->vox_offset) need = INT64_MAX;
  clgan_status st = vfile_length(f, iname, consumed, need, &h->image_bytes);
  if (st != CLGAN_OK) return st;
  if (h->vox_offset > h->image_bytes)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: the header's vox_offset %lld lies beyond the end of the file (%lld "
                      "bytes%s)",
                      iname, (long long)h->vox_offset, (long long)h->image_bytes,
                      f->gz ? " decompressed" : "");
  if (h->image_bytes < need)
    return clgan_fail(CLGAN_ERR_FORMAT,
                      "%s: truncated: the header announces %lld bytes of voxel data after "
                      "offset %lld, the %sfile holds only %lld",
                      iname, (long long)h->data_bytes, (long long)h->vox_offset,
                      f->gz ? "decompressed " : "", (long long)(h->image_bytes - h->vox_offset));
  return CLGAN_OK;
}

/* The image file apart from the header: open it and check its length. */
static clgan_status check_image_file(const char *hname, const char *iname,
                                     clgan_volume_header *h) {
  vfile imf;
  if (vfile_open(iname, &imf) != CLGAN_OK)
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot read the image file %s: %s", hname, iname,
                      strerror(errno));
  clgan_status st = check_image_length(iname, &imf, 0, h);
  vfile_close(&imf);
  return st;
}

/* Header fields of the open file hname, then the length of its image file. */
static clgan_status check_open(const char *hname, vfile *hf, clgan_volume_header *h) {
  unsigned char b[HEADER_READ];
  int n = vfile_read(hf, b, (int)sizeof b);
  if (n < 0) {
    int zerr;
    char msg[256];
    zlib_message(hf->gz, hname, msg, sizeof msg, &zerr);
    return clgan_fail(CLGAN_ERR_FORMAT, "%s: " NOT_READABLE ": corrupt gzip data (zlib: %s)",
                      hname, msg);
  }
  field_reader r = {b, 0};
  clgan_status st = identify(hname, b, n, h, &r);
  if (st == CLGAN_OK) st = check_dims_and_type(hname, &r, h);
  if (st != CLGAN_OK) return st;
  char iname[4096];
  image_name(hname, iname, sizeof iname);
  h->single_file = strcmp(iname, hname) == 0;
  st = check_offset(hname, &r, h);
  if (st != CLGAN_OK) return st;
  return h->single_file ? check_image_length(hname, hf, n, h) : check_image_file(hname, iname, h);
}

clgan_status clgan_volume_read_header(const char *path, clgan_volume_header *out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_read_header: NULL output");
  memset(out, 0, sizeof *out);
  if (!path || !path[0])
    return clgan_fail(CLGAN_ERR_INVALID, "clgan_volume_read_header: empty path");
  /* the header nifticlib will read: an .img names its .hdr */
  char *hname = nifti_findhdrname(path);
  const char *name = hname ? hname : path;
  vfile hf;
  clgan_status st = vfile_open(name, &hf);
  if (st == CLGAN_OK) {
    st = check_open(name, &hf, out);
    vfile_close(&hf);
  }
  if (st == CLGAN_OK && !hname)
    st = clgan_fail(CLGAN_ERR_FORMAT,
                    "%s: a NIfTI header, but nifticlib reads only files named .nii, .nii.gz, "
                    ".hdr or .img (and their .gz forms): rename it",
                    path);
  free(hname);
  return st;
}
