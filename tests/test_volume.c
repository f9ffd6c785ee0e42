/* Volumes: every datatype and file flavour written here with nifticlib and
 * read back, scaling, orientation of the three axes, slicing, windows, and
 * truncated or malformed files. No OpenCL needed. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "clgan/image.h"
#include "clgan/volume.h"
#include "test_util.h"

#define CH2BET "/usr/share/mricron/templates/ch2bet.nii.gz"


/* A 3-D (or 4-D) image of datatype dt with zero-filled data, RAS-less
 * (no qform/sform). */
static nifti_image *make_nim(int64_t nx, int64_t ny, int64_t nz, int64_t nt, int dt) {
  int64_t dims[8] = {nt > 1 ? 4 : 3, nx, ny, nz, nt > 1 ? nt : 1, 1, 1, 1};
  nifti_image *nim = nifti_make_new_nim(dims, dt, 1);
  ck_assert_ptr_nonnull(nim);
  nim->qform_code = 0;
  nim->sform_code = 0;
  return nim;
}

/* nifti_image_write in Debian's nifticlib 3.0.1 cannot write a single-file
 * NIfTI-2 (it reopens the file for the data and loses the header), so the
 * header made by nifticlib's own nifti_convert_nim2n2hdr is written here. */
static void write_nifti2(nifti_image *nim, const char *path) {
  nim->nifti_type = NIFTI_FTYPE_NIFTI2_1;
  nifti_2_header h;
  ck_assert_int_eq(nifti_convert_nim2n2hdr(nim, &h), 0);
  ck_assert_int_eq(h.sizeof_hdr, 540);
  h.vox_offset = 544;
  size_t len = strlen(path);
  int gz = len > 3 && strcmp(path + len - 3, ".gz") == 0;
  gzFile f = gzopen(path, gz ? "wb" : "wbT");
  ck_assert_ptr_nonnull(f);
  const char extender[4] = {0, 0, 0, 0};
  size_t bytes = (size_t)nim->nvox * (size_t)nim->nbyper;
  ck_assert_int_eq(gzwrite(f, &h, sizeof h), (int)sizeof h);
  ck_assert_int_eq(gzwrite(f, extender, 4), 4);
  ck_assert_int_eq(gzwrite(f, nim->data, (unsigned)bytes), (int)bytes);
  ck_assert_int_eq(gzclose(f), Z_OK);
}

/* Writes nim at path with the given file type; returns after checking the
 * file exists. */
static void write_nim(nifti_image *nim, const char *path, int ftype) {
  if (ftype == NIFTI_FTYPE_NIFTI2_1) {
    write_nifti2(nim, path);
    return;
  }
  nim->nifti_type = ftype;
  ck_assert_int_eq(nifti_set_filenames(nim, path, 0, 1), 0);
  nim->nifti_type = ftype; /* nifti_set_filenames guesses NIfTI-1 from the extension */
  nifti_image_write(nim);
  struct stat st;
  ck_assert_msg(stat(nim->fname, &st) == 0, "nifticlib did not write %s", nim->fname);
  ck_assert_msg(stat(nim->iname, &st) == 0, "nifticlib did not write %s", nim->iname);
}

/* The value the tests store at voxel n (before any scaling), per datatype. */
static double test_value(int dt, int64_t n) {
  switch (dt) {
  case NIFTI_TYPE_UINT8:
    return (double)(n % 251);
  case NIFTI_TYPE_INT16:
    return (double)(n % 2000) - 1000;
  case NIFTI_TYPE_UINT16:
    return (double)(n % 60000);
  case NIFTI_TYPE_INT32:
    return (double)(n * 1000) - 100000;
  case NIFTI_TYPE_FLOAT32:
    return (double)n * 0.25 - 3.5;
  case NIFTI_TYPE_FLOAT64:
    return (double)n * 0.125 - 2.0;
  default:
    return 0;
  }
}

static void fill_nim(nifti_image *nim) {
  for (int64_t n = 0; n < (int64_t)nim->nvox; n++) {
    double x = test_value(nim->datatype, n);
    switch (nim->datatype) {
    case NIFTI_TYPE_UINT8:
      ((uint8_t *)nim->data)[n] = (uint8_t)x;
      break;
    case NIFTI_TYPE_INT16:
      ((int16_t *)nim->data)[n] = (int16_t)x;
      break;
    case NIFTI_TYPE_UINT16:
      ((uint16_t *)nim->data)[n] = (uint16_t)x;
      break;
    case NIFTI_TYPE_INT32:
      ((int32_t *)nim->data)[n] = (int32_t)x;
      break;
    case NIFTI_TYPE_FLOAT32:
      ((float *)nim->data)[n] = (float)x;
      break;
    case NIFTI_TYPE_FLOAT64:
      ((double *)nim->data)[n] = x;
      break;
    }
  }
}

static const int six_types[] = {NIFTI_TYPE_UINT8, NIFTI_TYPE_INT16,   NIFTI_TYPE_UINT16,
                                NIFTI_TYPE_INT32, NIFTI_TYPE_FLOAT32, NIFTI_TYPE_FLOAT64};

static void check_values(const clgan_volume *v, int dt, double slope, double inter) {
  int64_t n = v->dim[0] * v->dim[1] * v->dim[2];
  for (int64_t i = 0; i < n; i++) {
    double want = slope * test_value(dt, i) + inter;
    ck_assert_msg(fabs(v->voxels[i] - want) <= 1e-6 * fabs(want),
                  "%s voxel %lld: got %g, want %g", clgan_volume_datatype_name(dt), (long long)i,
                  v->voxels[i], want);
  }
}

START_TEST(test_every_datatype_plain_and_gzip) {
  const char *exts[] = {".nii", ".nii.gz"};
  for (size_t t = 0; t < 6; t++) {
    for (int e = 0; e < 2; e++) {
      int dt = six_types[t];
      char name[64];
      snprintf(name, sizeof name, "dt_%s%s", clgan_volume_datatype_name(dt), exts[e]);
      const char *path = tu_scratch_path(name);
      nifti_image *nim = make_nim(7, 6, 5, 1, dt);
      fill_nim(nim);
      write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
      nifti_image_free(nim);
      clgan_volume v;
      TU_OK(clgan_volume_load(path, &v));
      ck_assert_int_eq(v.datatype, dt);
      ck_assert_int_eq(v.nifti_version, 1);
      ck_assert_int_eq(v.dim[0], 7);
      ck_assert_int_eq(v.dim[1], 6);
      ck_assert_int_eq(v.dim[2], 5);
      ck_assert_int_eq(v.frames, 1);
      ck_assert_int_eq(v.xform, 0);
      ck_assert_str_eq(v.orient, "RAS");
      ck_assert(v.scl_slope == 1.0 && v.scl_inter == 0.0);
      check_values(&v, dt, 1, 0);
      clgan_volume_free(&v);
      unlink(path);
    }
  }
}
END_TEST

START_TEST(test_scaling) {
  /* slope 2, intercept -1 on int16 and on float32 */
  int dts[] = {NIFTI_TYPE_INT16, NIFTI_TYPE_FLOAT32};
  for (int t = 0; t < 2; t++) {
    nifti_image *nim = make_nim(5, 4, 3, 1, dts[t]);
    fill_nim(nim);
    nim->scl_slope = 2;
    nim->scl_inter = -1;
    const char *path = tu_scratch_path("scaled.nii.gz");
    write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
    nifti_image_free(nim);
    clgan_volume v;
    TU_OK(clgan_volume_load(path, &v));
    ck_assert(v.scl_slope == 2.0 && v.scl_inter == -1.0);
    check_values(&v, dts[t], 2, -1);
    clgan_volume_free(&v);
  }
  /* slope 0 means no scaling, whatever the intercept */
  nifti_image *nim = make_nim(5, 4, 3, 1, NIFTI_TYPE_INT16);
  fill_nim(nim);
  nim->scl_slope = 0;
  nim->scl_inter = 7;
  const char *path = tu_scratch_path("noscale.nii");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  ck_assert(v.scl_slope == 1.0 && v.scl_inter == 0.0);
  check_values(&v, NIFTI_TYPE_INT16, 1, 0);
  clgan_volume_free(&v);
}
END_TEST

START_TEST(test_hdr_img_and_nifti2) {
  struct {
    const char *name;
    int ftype, version;
  } cases[] = {
      {"pair.hdr", NIFTI_FTYPE_NIFTI1_2, 1},
      {"pairgz.hdr.gz", NIFTI_FTYPE_NIFTI1_2, 1},
      {"two.nii", NIFTI_FTYPE_NIFTI2_1, 2},
      {"two.nii.gz", NIFTI_FTYPE_NIFTI2_1, 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const char *path = tu_scratch_path(cases[c].name);
    nifti_image *nim = make_nim(6, 5, 4, 1, NIFTI_TYPE_FLOAT32);
    fill_nim(nim);
    nim->scl_slope = 0.5;
    nim->scl_inter = 3;
    write_nim(nim, path, cases[c].ftype);
    nifti_image_free(nim);
    clgan_volume v;
    TU_OK(clgan_volume_load(path, &v));
    ck_assert_msg(v.nifti_version == cases[c].version, "%s: version %d", cases[c].name,
                  v.nifti_version);
    ck_assert_int_eq(v.dim[0], 6);
    check_values(&v, NIFTI_TYPE_FLOAT32, 0.5, 3);
    clgan_volume_free(&v);
  }
  char base[64];
  clgan_volume_basename("/a/b/ch2bet.nii.gz", base, sizeof base);
  ck_assert_str_eq(base, "ch2bet");
  clgan_volume_basename("scan.hdr", base, sizeof base);
  ck_assert_str_eq(base, "scan");
  clgan_volume_basename("x.img.gz", base, sizeof base);
  ck_assert_str_eq(base, "x");
  clgan_volume_basename("plain", base, 4);
  ck_assert_str_eq(base, "pla");
}
END_TEST

START_TEST(test_4d_takes_first_volume) {
  nifti_image *nim = make_nim(4, 3, 2, 3, NIFTI_TYPE_INT16);
  for (int64_t n = 0; n < (int64_t)nim->nvox; n++) ((int16_t *)nim->data)[n] = (int16_t)(n + 1);
  const char *path = tu_scratch_path("fmri.nii.gz");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  ck_assert_int_eq(v.frames, 3);
  for (int n = 0; n < 24; n++) ck_assert_float_eq(v.voxels[n], (float)(n + 1));
  clgan_volume_free(&v);
}
END_TEST

START_TEST(test_unsupported_datatypes) {
  struct {
    int dt;
    const char *name;
  } cases[] = {{NIFTI_TYPE_COMPLEX64, "complex64"}, {NIFTI_TYPE_RGB24, "rgb24"}};
  for (int c = 0; c < 2; c++) {
    nifti_image *nim = make_nim(4, 4, 4, 1, cases[c].dt);
    const char *path = tu_scratch_path("odd.nii");
    write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
    nifti_image_free(nim);
    clgan_volume v;
    ck_assert_int_eq(clgan_volume_load(path, &v), CLGAN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), cases[c].name));
    ck_assert_ptr_nonnull(strstr(clgan_last_error(), path));
    ck_assert_ptr_null(v.voxels);
  }
}
END_TEST

START_TEST(test_nonfinite_values) {
  nifti_image *nim = make_nim(4, 4, 4, 1, NIFTI_TYPE_FLOAT64);
  double *d = nim->data;
  for (int n = 0; n < 64; n++) d[n] = n + 1;
  d[3] = NAN;
  d[5] = INFINITY;
  d[9] = 1e300; /* finite in the file, infinite as float */
  d[10] = -1e300;
  const char *path = tu_scratch_path("nan.nii");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  ck_assert_float_eq(v.voxels[3], 0);
  ck_assert_float_eq(v.voxels[5], 0);
  ck_assert_float_eq(v.voxels[9], 0);
  ck_assert_float_eq(v.voxels[10], 0);
  ck_assert_float_eq(v.voxels[11], 12);
  ck_assert_int_ge(v.nonfinite, 2); /* nifticlib zeroes NaN/Inf itself; we catch the rest */
  float lo, hi;
  TU_OK(clgan_volume_percentiles(&v, 0, 100, &lo, &hi));
  ck_assert_float_eq(lo, 1);
  ck_assert_float_eq(hi, 64);
  clgan_volume_free(&v);
}
END_TEST

/* Orientation: voxel values encode their storage position; the affine maps
 * storage axes to anatomical ones with permutations and flips. The expected
 * slices are built independently from the world coordinates of every voxel. */
typedef struct orient_case {
  const char *name;
  double m[3][3]; /* rows x, y, z; columns i, j, k */
  int use_qform;
  const char *orient;
} orient_case;

static void check_orientation(const orient_case *oc) {
  const int64_t nd[3] = {4, 5, 6};
  nifti_image *nim = make_nim(nd[0], nd[1], nd[2], 1, NIFTI_TYPE_INT16);
  int16_t *d = nim->data;
  for (int k = 0; k < nd[2]; k++)
    for (int j = 0; j < nd[1]; j++)
      for (int i = 0; i < nd[0]; i++) d[(k * nd[1] + j) * nd[0] + i] = (int16_t)(1 + i + 10 * j + 100 * k);
  nifti_dmat44 M;
  memset(&M, 0, sizeof M);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) M.m[r][c] = oc->m[r][c];
  M.m[0][3] = -10;
  M.m[1][3] = 20;
  M.m[2][3] = 5;
  M.m[3][3] = 1;
  if (oc->use_qform) {
    double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
    nifti_dmat44_to_quatern(M, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
    nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->quatern_b = qb;
    nim->quatern_c = qc;
    nim->quatern_d = qd;
    nim->qoffset_x = qx;
    nim->qoffset_y = qy;
    nim->qoffset_z = qz;
    nim->qfac = qfac;
    nim->dx = nim->pixdim[1] = dx;
    nim->dy = nim->pixdim[2] = dy;
    nim->dz = nim->pixdim[3] = dz;
  } else {
    nim->sform_code = NIFTI_XFORM_MNI_152;
    nim->sto_xyz = M;
    /* a contradicting qform must lose against the sform */
    nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->quatern_b = nim->quatern_c = nim->quatern_d = 0;
    nim->qfac = -1;
  }
  char name[64];
  snprintf(name, sizeof name, "orient_%s.nii.gz", oc->name);
  const char *path = tu_scratch_path(name);
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);

  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  ck_assert_msg(strcmp(v.orient, oc->orient) == 0, "%s: orientation %s, want %s", oc->name,
                v.orient, oc->orient);
  ck_assert_int_eq(v.xform, oc->use_qform ? 1 : 2);

  /* anatomical extent and per-voxel anatomical indices from world coords */
  int64_t na[3] = {0, 0, 0};
  for (int a = 0; a < 3; a++)
    for (int s = 0; s < 3; s++)
      if (oc->m[a][s] != 0) na[a] = nd[s];
  double wmin[3];
  for (int a = 0; a < 3; a++) {
    wmin[a] = 1e30;
    for (int corner = 0; corner < 8; corner++) {
      int64_t ijk[3] = {corner & 1 ? nd[0] - 1 : 0, corner & 2 ? nd[1] - 1 : 0,
                        corner & 4 ? nd[2] - 1 : 0};
      double w = oc->m[a][0] * ijk[0] + oc->m[a][1] * ijk[1] + oc->m[a][2] * ijk[2];
      if (w < wmin[a]) wmin[a] = w;
    }
  }
  static const int plane[3][2] = {{1, 2}, {0, 2}, {0, 1}}; /* sagittal, coronal, axial */
  for (int axis = 0; axis < 3; axis++) {
    int ca = plane[axis][0], ra = plane[axis][1];
    int64_t count;
    int w, h;
    clgan_volume_slice_shape(&v, (clgan_axis)axis, &count, &w, &h);
    ck_assert_int_eq(count, na[axis]);
    ck_assert_int_eq(w, na[ca]);
    ck_assert_int_eq(h, na[ra]);
    float *want = calloc((size_t)(count * w * h), sizeof(float));
    float *got = calloc((size_t)(w * h), sizeof(float));
    for (int k = 0; k < nd[2]; k++)
      for (int j = 0; j < nd[1]; j++)
        for (int i = 0; i < nd[0]; i++) {
          int64_t u[3];
          for (int a = 0; a < 3; a++)
            u[a] = (int64_t)llround(oc->m[a][0] * i + oc->m[a][1] * j + oc->m[a][2] * k - wmin[a]);
          /* image left = patient right / anterior, image top = anterior / superior */
          int64_t col = na[ca] - 1 - u[ca], row = na[ra] - 1 - u[ra];
          want[(u[axis] * h + row) * w + col] = (float)(1 + i + 10 * j + 100 * k);
        }
    for (int64_t s = 0; s < count; s++) {
      TU_OK(clgan_volume_slice(&v, (clgan_axis)axis, s, got));
      char what[96];
      snprintf(what, sizeof what, "%s %s slice %lld", oc->name, clgan_axis_name(axis),
               (long long)s);
      TU_ASSERT_CLOSE(what, got, want + s * w * h, (size_t)(w * h), 0, 0);
    }
    ck_assert_int_eq(clgan_volume_slice(&v, (clgan_axis)axis, count, got), CLGAN_ERR_INVALID);
    free(want);
    free(got);
  }
  clgan_volume_free(&v);
}

START_TEST(test_orientation) {
  static const orient_case cases[] = {
      {"ras", {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, 0, "RAS"},
      {"lpi", {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}}, 0, "LPI"},
      /* i toward anterior, j toward inferior, k toward left */
      {"ail", {{0, 0, -1}, {1, 0, 0}, {0, -1, 0}}, 0, "AIL"},
      /* qform (qfac -1): i toward superior, j toward right, k toward posterior */
      {"srp_qform", {{0, 1, 0}, {0, 0, -1}, {1, 0, 0}}, 1, "SRP"},
      {"las_qform", {{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, 1, "LAS"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check_orientation(&cases[c]);
}
END_TEST

/* Hand-checked corners, independent of the brute force above. */
START_TEST(test_orientation_corners) {
  float got[64];
  for (int flip = 0; flip < 2; flip++) {
    nifti_image *nim = make_nim(3, 4, 5, 1, NIFTI_TYPE_INT16);
    int16_t *d = nim->data;
    for (int n = 0; n < 60; n++) {
      int i = n % 3, j = (n / 3) % 4, k = n / 12;
      d[n] = (int16_t)(1 + i + 10 * j + 100 * k);
    }
    nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    memset(&nim->sto_xyz, 0, sizeof nim->sto_xyz);
    for (int a = 0; a < 3; a++) nim->sto_xyz.m[a][a] = flip ? -1 : 1;
    nim->sto_xyz.m[3][3] = 1;
    const char *path = tu_scratch_path("corner.nii");
    write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
    nifti_image_free(nim);
    clgan_volume v;
    TU_OK(clgan_volume_load(path, &v));
    /* axial slice 0 = most inferior; pixel (0, 0) = patient's right and anterior */
    TU_OK(clgan_volume_slice(&v, CLGAN_AXIS_AXIAL, 0, got));
    if (!flip) /* RAS: right = i max, anterior = j max, inferior = k 0 */
      ck_assert_float_eq(got[0], 1 + 2 + 30 + 0);
    else /* LPI: right = i 0, anterior = j 0, inferior = k max */
      ck_assert_float_eq(got[0], 1 + 0 + 0 + 400);
    /* coronal slice 0 = most posterior; pixel (0, 0) = right and superior */
    TU_OK(clgan_volume_slice(&v, CLGAN_AXIS_CORONAL, 0, got));
    ck_assert_float_eq(got[0], flip ? 1 + 0 + 30 + 0 : 1 + 2 + 0 + 400);
    /* sagittal slice 0 = patient's left; pixel (0, 0) = anterior and superior */
    TU_OK(clgan_volume_slice(&v, CLGAN_AXIS_SAGITTAL, 0, got));
    ck_assert_float_eq(got[0], flip ? 1 + 2 + 0 + 0 : 1 + 0 + 30 + 400);
    clgan_volume_free(&v);
  }
}
END_TEST

START_TEST(test_percentiles) {
  /* non-zero values 1..100 shuffled among zeros */
  clgan_volume v;
  memset(&v, 0, sizeof v);
  v.dim[0] = 10;
  v.dim[1] = 10;
  v.dim[2] = 3;
  v.voxels = calloc(300, sizeof(float));
  for (int n = 0; n < 100; n++) v.voxels[(n * 37) % 300] = (float)(n + 1);
  float lo, hi;
  TU_OK(clgan_volume_percentiles(&v, 0.5, 99.5, &lo, &hi));
  /* numpy.percentile(range(1, 101), [0.5, 99.5]) = 1.495, 99.505 */
  ck_assert_float_eq_tol(lo, 1.495f, 1e-4f);
  ck_assert_float_eq_tol(hi, 99.505f, 1e-4f);
  TU_OK(clgan_volume_percentiles(&v, 50, 50, &lo, &hi));
  ck_assert_float_eq_tol(lo, 50.5f, 1e-4f);
  TU_OK(clgan_volume_percentiles(&v, 0, 100, &lo, &hi));
  ck_assert_float_eq(lo, 1);
  ck_assert_float_eq(hi, 100);
  ck_assert_int_eq(clgan_volume_percentiles(&v, 60, 40, &lo, &hi), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_volume_percentiles(&v, -1, 40, &lo, &hi), CLGAN_ERR_INVALID);
  memset(v.voxels, 0, 300 * sizeof(float));
  ck_assert_int_eq(clgan_volume_percentiles(&v, 1, 99, &lo, &hi), CLGAN_ERR_FORMAT);
  clgan_volume_free(&v);
}
END_TEST

static int count_pngs(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".png") && (!needle || strstr(e->d_name, needle))) n++;
  closedir(d);
  return n;
}

START_TEST(test_write_slices) {
  /* 8 x 8 x 10 RAS, voxel 1 x 1 x 2: axial slices k < 3 empty, k >= 3 hold a
   * block over the left half (i < 4: 50 % of the slice) valued 10 * k. */
  nifti_image *nim = make_nim(8, 8, 10, 1, NIFTI_TYPE_UINT8);
  uint8_t *d = nim->data;
  for (int k = 3; k < 10; k++)
    for (int j = 0; j < 8; j++)
      for (int i = 0; i < 4; i++) d[(k * 8 + j) * 8 + i] = (uint8_t)(10 * k);
  nim->dz = nim->pixdim[3] = 2;
  const char *path = tu_scratch_path("block.nii.gz");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));

  const char *out = tu_scratch_path("out");
  clgan_slice_options o = clgan_slice_defaults();
  ck_assert_uint_eq(o.axes, 1u << CLGAN_AXIS_AXIAL);
  o.axes = 7u;
  o.explicit_window = 1;
  o.window_lo = 0;
  o.window_hi = 100;
  o.min_fraction = 0.3;
  clgan_slice_report rep;
  TU_OK(clgan_volume_write_slices(&v, out, "block", &o, &rep));
  /* axial: 7 slices at 50 %, 3 empty */
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], 7);
  ck_assert_int_eq(rep.skipped[CLGAN_AXIS_AXIAL], 3);
  ck_assert_int_eq(rep.width[CLGAN_AXIS_AXIAL], 8);
  ck_assert_int_eq(rep.height[CLGAN_AXIS_AXIAL], 8);
  /* sagittal (x = i): i < 4 hold 7 of 10 rows (70 %), i >= 4 are empty */
  ck_assert_int_eq(rep.written[CLGAN_AXIS_SAGITTAL], 4);
  ck_assert_int_eq(rep.skipped[CLGAN_AXIS_SAGITTAL], 4);
  /* coronal: every slice is 7/10 x 4/8 = 35 % */
  ck_assert_int_eq(rep.written[CLGAN_AXIS_CORONAL], 8);
  /* 2 mm slices, 1 mm pixels: coronal/sagittal images are resampled to 20 rows */
  ck_assert_int_eq(rep.width[CLGAN_AXIS_CORONAL], 8);
  ck_assert_int_eq(rep.height[CLGAN_AXIS_CORONAL], 20);
  ck_assert_int_eq(rep.height[CLGAN_AXIS_SAGITTAL], 20);
  ck_assert_int_eq(count_pngs(out, NULL), 19);
  ck_assert_int_eq(count_pngs(out, "block_axial_00"), 7);
  ck_assert_int_eq(count_pngs(out, "block_axial_002"), 0);

  /* content: axial slice 5 = value 50 -> 0.5 on the patient's left = image right */
  clgan_image img = {0};
  char png[600];
  snprintf(png, sizeof png, "%s/block_axial_005.png", out);
  TU_OK(clgan_png_read(png, &img));
  ck_assert_int_eq(img.width, 8);
  ck_assert_int_eq(img.bit_depth, 8);
  ck_assert_float_eq_tol(img.pixels[0 * 8 + 7], 0.5f, 1.0f / 255);
  ck_assert_float_eq_tol(img.pixels[0 * 8 + 0], 0.0f, 1e-6f);
  clgan_image_free(&img);

  /* 16 bits, size 32, default window (percentiles of the non-zero voxels) */
  const char *out16 = tu_scratch_path("out16");
  o = clgan_slice_defaults();
  o.bits = 16;
  o.size = 32;
  TU_OK(clgan_volume_write_slices(&v, out16, "b", &o, &rep));
  ck_assert_float_eq_tol(rep.window_lo, 30.0f, 0.5f);
  ck_assert_float_eq_tol(rep.window_hi, 90.0f, 0.5f);
  /* foreground is above the window's low end (30): slices 4..9 */
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], 6);
  snprintf(png, sizeof png, "%s/b_axial_009.png", out16);
  TU_OK(clgan_png_read(png, &img));
  ck_assert_int_eq(img.width, 32);
  ck_assert_int_eq(img.height, 32);
  ck_assert_int_eq(img.bit_depth, 16);
  ck_assert_float_eq_tol(img.pixels[16 * 32 + 31], 1.0f, 1e-4f);
  ck_assert_float_eq_tol(img.pixels[16 * 32 + 0], 0.0f, 1e-4f);
  clgan_image_free(&img);

  /* min fraction 0 keeps every slice, even empty ones */
  o = clgan_slice_defaults();
  o.min_fraction = 0;
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("all"), "b", &o, &rep));
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], 10);

  /* invalid options */
  o = clgan_slice_defaults();
  o.bits = 12;
  ck_assert_int_eq(clgan_volume_write_slices(&v, out, "b", &o, &rep), CLGAN_ERR_INVALID);
  o = clgan_slice_defaults();
  o.explicit_window = 1;
  o.window_lo = 5;
  o.window_hi = 5;
  ck_assert_int_eq(clgan_volume_write_slices(&v, out, "b", &o, &rep), CLGAN_ERR_INVALID);
  clgan_volume_free(&v);
}
END_TEST

START_TEST(test_mask_window_widens) {
  nifti_image *nim = make_nim(6, 6, 6, 1, NIFTI_TYPE_UINT8);
  uint8_t *d = nim->data;
  for (int n = 0; n < 216; n++) d[n] = (n % 6) < 3;
  const char *path = tu_scratch_path("mask.nii");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  clgan_volume v;
  TU_OK(clgan_volume_load(path, &v));
  clgan_slice_options o = clgan_slice_defaults();
  clgan_slice_report rep;
  TU_OK(clgan_volume_write_slices(&v, tu_scratch_path("maskout"), "m", &o, &rep));
  ck_assert_int_eq(rep.window_widened, 1);
  ck_assert_float_eq(rep.window_lo, 0);
  ck_assert_float_eq(rep.window_hi, 1);
  ck_assert_int_eq(rep.written[CLGAN_AXIS_AXIAL], 6);
  clgan_volume_free(&v);
  /* an all-zero volume is an error, not a folder of black images */
  nim = make_nim(4, 4, 4, 1, NIFTI_TYPE_UINT8);
  path = tu_scratch_path("zero.nii");
  write_nim(nim, path, NIFTI_FTYPE_NIFTI1_1);
  nifti_image_free(nim);
  TU_OK(clgan_volume_load(path, &v));
  ck_assert_int_eq(clgan_volume_write_slices(&v, tu_scratch_path("zeroout"), "z", &o, &rep),
                   CLGAN_ERR_FORMAT);
  clgan_volume_free(&v);
}
END_TEST

static void truncate_file(const char *path, long keep_or_minus) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  off_t len = keep_or_minus >= 0 ? keep_or_minus : st.st_size + keep_or_minus;
  ck_assert_int_eq(truncate(path, len), 0);
}

static void expect_error(const char *path, clgan_status want, const char *needle,
                         const char *name_in_msg) {
  clgan_volume v;
  clgan_status st = clgan_volume_load(path, &v);
  ck_assert_msg(st == want, "%s: got %s (%s), want %s", path, clgan_status_name(st),
                clgan_last_error(), clgan_status_name(want));
  ck_assert_msg(strstr(clgan_last_error(), needle), "%s: message '%s' lacks '%s'", path,
                clgan_last_error(), needle);
  ck_assert_msg(strstr(clgan_last_error(), name_in_msg), "message '%s' does not name %s",
                clgan_last_error(), name_in_msg);
  ck_assert_ptr_null(v.voxels);
}

/* A 32^3 int16 volume of pseudo-random values (gzip cannot shrink it much,
 * so a cut lands inside the voxel data). */
static void write_noise(const char *path, int ftype) {
  nifti_image *nim = make_nim(32, 32, 32, 1, NIFTI_TYPE_INT16);
  uint64_t s = 12345;
  for (int64_t n = 0; n < (int64_t)nim->nvox; n++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    ((int16_t *)nim->data)[n] = (int16_t)(s >> 48);
  }
  write_nim(nim, path, ftype);
  nifti_image_free(nim);
}

START_TEST(test_truncated_and_garbage) {
  /* .nii.gz cut in the middle of the voxel data */
  const char *gz = tu_scratch_path("cut.nii.gz");
  write_noise(gz, NIFTI_FTYPE_NIFTI1_1);
  clgan_volume v;
  TU_OK(clgan_volume_load(gz, &v));
  clgan_volume_free(&v);
  struct stat st;
  stat(gz, &st);
  truncate_file(gz, (long)st.st_size / 2);
  expect_error(gz, CLGAN_ERR_FORMAT, "truncated", gz);
  /* .nii.gz whose data is complete but whose gzip trailer (CRC, size) is cut */
  const char *gz2 = tu_scratch_path("trailer.nii.gz");
  write_noise(gz2, NIFTI_FTYPE_NIFTI1_1);
  truncate_file(gz2, -4);
  expect_error(gz2, CLGAN_ERR_FORMAT, "gzip", gz2);
  /* .nii.gz with a flipped byte inside the deflate stream */
  const char *gz3 = tu_scratch_path("flipped.nii.gz");
  write_noise(gz3, NIFTI_FTYPE_NIFTI1_1);
  stat(gz3, &st);
  FILE *f = fopen(gz3, "r+b");
  fseek(f, (long)st.st_size * 3 / 4, SEEK_SET);
  int c = fgetc(f);
  fseek(f, (long)st.st_size * 3 / 4, SEEK_SET);
  fputc(c ^ 0x55, f);
  fclose(f);
  expect_error(gz3, CLGAN_ERR_FORMAT, "gzip", gz3);
  /* plain .nii cut inside the data, NIfTI-2 too */
  const char *nii = tu_scratch_path("cut.nii");
  write_noise(nii, NIFTI_FTYPE_NIFTI1_1);
  truncate_file(nii, -1000);
  expect_error(nii, CLGAN_ERR_FORMAT, "truncated", nii);
  const char *nii2 = tu_scratch_path("cut2.nii");
  write_noise(nii2, NIFTI_FTYPE_NIFTI2_1);
  truncate_file(nii2, -1);
  expect_error(nii2, CLGAN_ERR_FORMAT, "truncated", nii2);
  /* .hdr/.img with a short .img: the message names the .img */
  const char *hdr = tu_scratch_path("cut.hdr");
  write_noise(hdr, NIFTI_FTYPE_NIFTI1_2);
  const char *img = tu_scratch_path("cut.img");
  truncate_file(img, 5000);
  expect_error(hdr, CLGAN_ERR_FORMAT, "truncated", img);
  /* .hdr whose .img is missing */
  unlink(img);
  expect_error(hdr, CLGAN_ERR_IO, "No such file", img);
  /* header itself cut */
  const char *hcut = tu_scratch_path("hcut.nii");
  write_noise(hcut, NIFTI_FTYPE_NIFTI1_1);
  truncate_file(hcut, 100);
  expect_error(hcut, CLGAN_ERR_FORMAT, "not a readable", hcut);
  const char *gzh = tu_scratch_path("hcut.nii.gz");
  write_noise(gzh, NIFTI_FTYPE_NIFTI1_1);
  truncate_file(gzh, 60);
  expect_error(gzh, CLGAN_ERR_FORMAT, "not a readable", gzh);
  /* garbage, an empty file, a missing file, a directory */
  const char *junk = tu_scratch_path("junk.nii");
  f = fopen(junk, "wb");
  for (int i = 0; i < 2000; i++) fputc("this is not a volume\n"[i % 21], f);
  fclose(f);
  expect_error(junk, CLGAN_ERR_FORMAT, "not a readable", junk);
  const char *empty = tu_scratch_path("empty.nii.gz");
  fclose(fopen(empty, "wb"));
  expect_error(empty, CLGAN_ERR_FORMAT, "not a readable", empty);
  expect_error(tu_scratch_path("missing.nii"), CLGAN_ERR_IO, "No such file", "missing.nii");
  expect_error(tu_scratch_dir(), CLGAN_ERR_IO, "not a regular file", tu_scratch_dir());
}
END_TEST

START_TEST(test_debian_ch2bet) {
  struct stat st;
  if (stat(CH2BET, &st) != 0) {
    fprintf(stderr, "SKIP test_debian_ch2bet: %s absent (Debian package mricron-data)\n", CH2BET);
    return;
  }
  clgan_volume v;
  TU_OK(clgan_volume_load(CH2BET, &v));
  ck_assert_int_eq(v.dim[0], 181);
  ck_assert_int_eq(v.dim[1], 217);
  ck_assert_int_eq(v.dim[2], 181);
  ck_assert_int_eq(v.nifti_version, 1);
  ck_assert_str_eq(v.orient, "RAS");
  clgan_slice_options o = clgan_slice_defaults();
  o.axes = 7u;
  clgan_slice_report rep;
  const char *out = tu_scratch_path("ch2bet");
  TU_OK(clgan_volume_write_slices(&v, out, "ch2bet", &o, &rep));
  int64_t total = 0;
  for (int a = 0; a < 3; a++) {
    ck_assert_int_gt(rep.written[a], 60);
    ck_assert_int_gt(rep.skipped[a], 10);
    total += rep.written[a];
  }
  ck_assert_int_ge(total, 250);
  ck_assert_int_le(total, 500);
  ck_assert_int_eq(count_pngs(out, NULL), (int)total);
  ck_assert_int_eq(rep.width[CLGAN_AXIS_AXIAL], 181);
  ck_assert_int_eq(rep.height[CLGAN_AXIS_AXIAL], 217);
  ck_assert(rep.window_lo > 0 && rep.window_hi > rep.window_lo);
  /* the middle axial slice: brain in the centre, background in the corner */
  float *s = malloc(181 * 217 * sizeof(float));
  TU_OK(clgan_volume_slice(&v, CLGAN_AXIS_AXIAL, 90, s));
  ck_assert_float_eq(s[0], 0);
  ck_assert(s[108 * 181 + 90] > rep.window_lo);
  free(s);
  clgan_volume_free(&v);
}
END_TEST

/* a scratch folder, and nifticlib's own messages off */
static void setup(void) {
  tu_scratch_setup();
  nifti_set_debug_level(0);
}

int main(void) {
  Suite *s = suite_create("volume");
  TCase *tc = tcase_create("volume");
  tcase_add_checked_fixture(tc, setup, tu_scratch_teardown);
  tcase_add_test(tc, test_every_datatype_plain_and_gzip);
  tcase_add_test(tc, test_scaling);
  tcase_add_test(tc, test_hdr_img_and_nifti2);
  tcase_add_test(tc, test_4d_takes_first_volume);
  tcase_add_test(tc, test_unsupported_datatypes);
  tcase_add_test(tc, test_nonfinite_values);
  tcase_add_test(tc, test_orientation);
  tcase_add_test(tc, test_orientation_corners);
  tcase_add_test(tc, test_percentiles);
  tcase_add_test(tc, test_write_slices);
  tcase_add_test(tc, test_mask_window_widens);
  tcase_add_test(tc, test_truncated_and_garbage);
  tcase_add_test(tc, test_debian_ch2bet);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
