/* PNG decoding and encoding through libpng (include/clgan/image.h).
 *
 * libpng reports errors by calling an error handler that must not return; we
 * install handlers that copy libpng's message into a caller-owned buffer and
 * longjmp back, so the library never prints. The setjmp lives in a small
 * function (decode/encode) whose own locals are all assigned before the
 * setjmp and never changed after it; every resource that is acquired after
 * the setjmp is recorded in a struct owned by the caller (reached through an
 * unchanging pointer), so nothing indeterminate is read after a longjmp and
 * the caller frees whatever was allocated, whichever way the decode ended. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/image.h"
#include "runtime/internal.h"

/* ---- libpng error and warning capture --------------------------------- */

typedef struct png_msgs {
  char error[256];    /* libpng's reason for the failure */
  char warning[256];  /* the last warning (not reported, kept for debugging) */
} png_msgs;

static void capture_error(png_structp png, png_const_charp msg) {
  png_msgs *m = png_get_error_ptr(png);
  if (m) snprintf(m->error, sizeof m->error, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

static void capture_warning(png_structp png, png_const_charp msg) {
  png_msgs *m = png_get_error_ptr(png);
  if (m) snprintf(m->warning, sizeof m->warning, "%s", msg ? msg : "");
}

/* ---- reading ---------------------------------------------------------- */

typedef struct read_state {
  FILE *f;
  png_msgs msgs;
  png_structp png;
  png_infop info;
  unsigned char *raw;   /* decoded rows, height * rowbytes */
  png_bytep *rows;      /* row pointers into raw */
  png_uint_32 width, height;
  int channels, bit_depth;
  size_t rowbytes;
  int nomem;            /* an allocation of ours failed (not a format error) */
  int io_errno;         /* nonzero: the file could not be read (not a format error) */
} read_state;

/* A read callback that tells a truncated file apart from an I/O error
 * (libpng's default only says "Read Error"). */
static void read_data(png_structp png, png_bytep data, size_t len) {
  read_state *s = png_get_io_ptr(png);
  size_t got = fread(data, 1, len, s->f);
  if (got == len) return;
  if (ferror(s->f)) {
    s->io_errno = errno ? errno : EIO;
    png_error(png, "read error");
  }
  png_error(png, "unexpected end of file (truncated PNG)");
}

/* Runs libpng over the file; returns 0 on success, -1 after a libpng error
 * (reason in s->msgs.error) or an allocation failure (s->nomem). */
static int decode(read_state *s) {
  if (setjmp(png_jmpbuf(s->png))) return -1;
  png_set_read_fn(s->png, s, read_data);
  png_set_sig_bytes(s->png, 8);
  png_read_info(s->png, s->info);

  int color = png_get_color_type(s->png, s->info);
  int depth = png_get_bit_depth(s->png, s->info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
  /* tRNS: palette alpha, or the single transparent gray/RGB value, becomes
   * a real alpha channel */
  if (png_get_valid(s->png, s->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);

  s->width = png_get_image_width(s->png, s->info);
  s->height = png_get_image_height(s->png, s->info);
  s->channels = png_get_channels(s->png, s->info);
  s->bit_depth = png_get_bit_depth(s->png, s->info);
  s->rowbytes = png_get_rowbytes(s->png, s->info);
  if (s->bit_depth != 8 && s->bit_depth != 16) png_error(s->png, "unexpected bit depth after expansion");
  if (s->channels < 1 || s->channels > 4) png_error(s->png, "unexpected channel count");
  if (s->rowbytes != (size_t)s->width * (size_t)s->channels * (size_t)(s->bit_depth / 8))
    png_error(s->png, "unexpected row size");
  /* at most 2^30 samples (4 GiB of floats): far beyond any scan, and it
   * keeps a hostile header from asking for absurd allocations */
  if (s->height == 0 || s->width == 0 ||
      (uint64_t)s->width * s->height * (uint64_t)s->channels > ((uint64_t)1 << 30))
    png_error(s->png, "image too large");

  s->raw = malloc((size_t)s->height * s->rowbytes);
  s->rows = malloc((size_t)s->height * sizeof *s->rows);
  if (!s->raw || !s->rows) {
    s->nomem = 1;
    return -1;
  }
  for (png_uint_32 y = 0; y < s->height; y++) s->rows[y] = s->raw + (size_t)y * s->rowbytes;
  png_read_image(s->png, s->rows);
  png_read_end(s->png, NULL); /* checks the rest of the file, IEND included */
  return 0;
}

clgan_status clgan_png_read(const char *path, clgan_image *out) {
  if (!out) return clgan_fail(CLGAN_ERR_INVALID, "clgan_png_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return clgan_fail(CLGAN_ERR_INVALID, "clgan_png_read: path is NULL");

  read_state s;
  memset(&s, 0, sizeof s);
  s.f = fopen(path, "rb");
  if (!s.f) return clgan_fail(CLGAN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

  clgan_status st = CLGAN_OK;
  unsigned char sig[8];
  size_t nsig = fread(sig, 1, sizeof sig, s.f);
  if (nsig < sizeof sig) {
    if (ferror(s.f))
      st = clgan_fail(CLGAN_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else
      st = clgan_fail(CLGAN_ERR_FORMAT, "%s: not a PNG file (only %zu bytes long)", path, nsig);
    goto done;
  }
  if (png_sig_cmp(sig, 0, sizeof sig) != 0) {
    st = clgan_fail(CLGAN_ERR_FORMAT, "%s: not a PNG file (no PNG signature)", path);
    goto done;
  }

  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s.msgs, capture_error, capture_warning);
  if (s.png) s.info = png_create_info_struct(s.png);
  if (!s.png || !s.info) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "%s: cannot create libpng read structures", path);
    goto done;
  }
  if (decode(&s) != 0) {
    if (s.nomem)
      st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory for a %ux%u image", path,
                      (unsigned)s.width, (unsigned)s.height);
    else if (s.io_errno)
      st = clgan_fail(CLGAN_ERR_IO, "%s: read error: %s", path, strerror(s.io_errno));
    else
      st = clgan_fail(CLGAN_ERR_FORMAT, "%s: invalid PNG: %s", path, s.msgs.error);
    goto done;
  }

  size_t nvals = (size_t)s.width * s.height * (size_t)s.channels;
  float *px = malloc(nvals * sizeof *px);
  if (!px) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory for a %ux%u image", path,
                    (unsigned)s.width, (unsigned)s.height);
    goto done;
  }
  if (s.bit_depth == 8) {
    for (size_t i = 0; i < nvals; i++) px[i] = (float)(s.raw[i] / 255.0);
  } else {
    /* PNG stores 16-bit samples big-endian; keep all 16 bits */
    for (size_t i = 0; i < nvals; i++) {
      unsigned v = ((unsigned)s.raw[2 * i] << 8) | s.raw[2 * i + 1];
      px[i] = (float)(v / 65535.0);
    }
  }
  out->width = (int)s.width;
  out->height = (int)s.height;
  out->channels = s.channels;
  out->bit_depth = s.bit_depth;
  out->pixels = px;

done:
  if (s.png) png_destroy_read_struct(&s.png, s.info ? &s.info : NULL, NULL);
  free(s.rows);
  free(s.raw);
  fclose(s.f);
  return st;
}

void clgan_image_free(clgan_image *img) {
  if (!img) return;
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

/* ---- writing ---------------------------------------------------------- */

typedef struct write_state {
  FILE *f;
  png_msgs msgs;
  png_structp png;
  png_infop info;
  unsigned char *row;  /* one encoded row */
  int width, height, channels, bit_depth;
  const float *pixels;
  int nomem;
} write_state;

static unsigned quantize(float v, unsigned maxv) {
  if (!(v > 0.0f)) return 0; /* also NaN */
  if (v >= 1.0f) return maxv;
  return (unsigned)((double)v * maxv + 0.5);
}

static int encode(write_state *s) {
  if (setjmp(png_jmpbuf(s->png))) return -1;
  static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_init_io(s->png, s->f);
  png_set_IHDR(s->png, s->info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth,
               color_types[s->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(s->png, s->info);
  size_t n = (size_t)s->width * (size_t)s->channels;
  s->row = malloc(n * (size_t)(s->bit_depth / 8));
  if (!s->row) {
    s->nomem = 1;
    return -1;
  }
  for (int y = 0; y < s->height; y++) {
    const float *src = s->pixels + (size_t)y * n;
    if (s->bit_depth == 8) {
      for (size_t i = 0; i < n; i++) s->row[i] = (unsigned char)quantize(src[i], 255);
    } else {
      for (size_t i = 0; i < n; i++) {
        unsigned v = quantize(src[i], 65535);
        s->row[2 * i] = (unsigned char)(v >> 8);
        s->row[2 * i + 1] = (unsigned char)(v & 0xff);
      }
    }
    png_write_row(s->png, s->row);
  }
  png_write_end(s->png, NULL);
  return 0;
}

clgan_status clgan_png_write(const char *path, int width, int height, int channels,
                             int bit_depth, const float *pixels) {
  if (!path || !*path) return clgan_fail(CLGAN_ERR_INVALID, "clgan_png_write: no path");
  if (width <= 0 || height <= 0 || width > 0x7fffffff / 8 || height > 0x7fffffff / 8)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: invalid image size %dx%d", path, width, height);
  if (channels < 1 || channels > 4)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: %d channels (PNG takes 1 to 4)", path, channels);
  if (bit_depth != 8 && bit_depth != 16)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: bit depth %d (8 or 16 supported)", path,
                      bit_depth);
  if (!pixels) return clgan_fail(CLGAN_ERR_INVALID, "%s: pixels is NULL", path);

  /* temporary file in the same directory, so rename() is atomic */
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", path);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp-XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return clgan_fail(CLGAN_ERR_IO, "%s: cannot create file: %s", path, strerror(e));
  }
  (void)fchmod(fd, 0644); /* mkstemp creates 0600; images are meant to be shared */

  write_state s;
  memset(&s, 0, sizeof s);
  s.width = width;
  s.height = height;
  s.channels = channels;
  s.bit_depth = bit_depth;
  s.pixels = pixels;
  clgan_status st = CLGAN_OK;
  s.f = fdopen(fd, "wb");
  if (!s.f) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: cannot open %s: %s", path, tmp, strerror(errno));
    close(fd);
    goto fail;
  }
  s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s.msgs, capture_error,
                                  capture_warning);
  if (s.png) s.info = png_create_info_struct(s.png);
  if (!s.png || !s.info) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "%s: cannot create libpng write structures", path);
    goto fail;
  }
  if (encode(&s) != 0) {
    if (s.nomem)
      st = clgan_fail(CLGAN_ERR_NOMEM, "%s: out of memory", path);
    else
      st = clgan_fail(CLGAN_ERR_IO, "%s: cannot write PNG: %s", path, s.msgs.error);
    goto fail;
  }
  png_destroy_write_struct(&s.png, &s.info);
  free(s.row);
  s.row = NULL;
  int werr = ferror(s.f);
  int cerr = fclose(s.f);
  s.f = NULL;
  if (werr || cerr != 0) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: cannot write %s: %s", path, tmp,
                    werr ? "write error" : strerror(errno));
    goto fail;
  }
  if (rename(tmp, path) != 0) {
    st = clgan_fail(CLGAN_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                    strerror(errno));
    goto fail;
  }
  free(tmp);
  return CLGAN_OK;

fail:
  if (s.png) png_destroy_write_struct(&s.png, s.info ? &s.info : NULL);
  free(s.row);
  if (s.f) fclose(s.f);
  unlink(tmp);
  free(tmp);
  return st;
}
