/* Loader of clgan's PyTorch parity fixtures (tests/parity/NAME.bin), written by
 * tests/parity/make_fixture.py (run it with Debian's /usr/bin/python3, which
 * has PyTorch: apt-get install python3-torch).
 *
 * File format, version 1 (integers u32 little-endian, floats IEEE-754 binary32
 * little-endian):
 *     magic    8 bytes "CLGANPAR"
 *     version  u32 = 1
 *     count    u32, number of records
 *     count x record:
 *         name_len u32 (1..255), name bytes (printable ASCII, no NUL)
 *         dtype    u32: 0 = float32, 1 = int32
 *         ndim     u32 (0..4; 0 = scalar, one element)
 *         dims     u32[ndim]
 *         data     prod(dims) elements of 4 bytes
 *     end      4 bytes "END." (nothing may follow)
 * Names are unique. Tensors keep PyTorch layouts: images NCHW, noise
 * (N, nz, 1, 1), weights as PyTorch stores them. The record names are listed
 * at the top of make_fixture.py (config.*, init.NET.*, iterK.*, grad1.NET.*,
 * final.NET.*, adam_m.NET.*, adam_v.NET.*).
 *
 * The loader checks everything above (magic, version, bounds of every field
 * against the file size, dtype, ndim, name characters, duplicates, the end
 * marker and the exact size), so a truncated or corrupt file is an error
 * with a message, never a crash. Data are converted to host order and held
 * 4-byte aligned. */
#ifndef CLGAN_PARITY_FIXTURE_H
#define CLGAN_PARITY_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define PF_VERSION 1u
#define PF_MAX_NDIM 4
#define PF_MAX_NAME 255

typedef enum pf_dtype { PF_F32 = 0, PF_I32 = 1 } pf_dtype;

typedef struct pf_record {
  char name[PF_MAX_NAME + 1];
  pf_dtype dtype;
  int ndim;
  uint32_t dims[PF_MAX_NDIM];
  size_t count;   /* elements: product of dims (1 for a scalar) */
  void *data;     /* count floats or int32s, host order, aligned */
} pf_record;

typedef struct pf_fixture {
  uint32_t version;
  int count;
  pf_record *records;
} pf_fixture;

/* Parses a fixture held in memory. Returns NULL on any error; pf_error()
 * then says what and where (byte offset, record name). */
pf_fixture *pf_parse(const void *bytes, size_t size);
/* Reads and parses a file. NULL on error (pf_error() names the file). */
pf_fixture *pf_load(const char *path);
void pf_free(pf_fixture *f); /* accepts NULL */
/* Message of the last failed pf_* call (not thread-safe). */
const char *pf_error(void);

/* Record by name, or NULL. */
const pf_record *pf_find(const pf_fixture *f, const char *name);
/* float32 data of a record; NULL (and pf_error()) if missing or not f32.
 * count may be NULL. */
const float *pf_f32(const pf_fixture *f, const char *name, size_t *count);
/* Scalar values (ndim 0 or one element); return 0 on success, -1 on error. */
int pf_scalar_i32(const pf_fixture *f, const char *name, int *out);
int pf_scalar_f32(const pf_fixture *f, const char *name, float *out);
/* 1 if r's shape is exactly (ndim, shape[0..ndim-1]). */
int pf_shape_is(const pf_record *r, int ndim, const int *shape);
/* Writes "(d0, d1, ...)" into buf. */
const char *pf_shape_str(const pf_record *r, char *buf, size_t len);

#endif
