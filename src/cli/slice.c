/* `clgan slice`: NIfTI/ANALYZE volumes to 2-D PNG slices along anatomical
 * axes, ready for `clgan train` (point --out at DATA/<class>). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "clgan/dicom.h"
#include "clgan/volume.h"
#include "commands.h"
#include "outfiles.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char head[] =
    "usage: clgan slice VOLUME|DICOM... --out DIR [options]\n\n"
    "Reads NIfTI-1/NIfTI-2/ANALYZE volumes (.nii, .nii.gz, .hdr/.img) with nifticlib, and\n"
    "DICOM files and folders with DCMTK, and writes their 2-D slices as gray PNGs\n"
    "DIR/<volume>_<axis>_<index>.png, ready for `clgan train` (ImageFolder: use\n"
    "--out DATA/<class>).\n\n"
    "DICOM: folders are searched recursively; images are grouped into series by\n"
    "SeriesInstanceUID (each series is a volume, named <input>_<Modality><SeriesNumber>)\n"
    "and ordered along the slice normal (ImagePositionPatient, ImageOrientationPatient;\n"
    "InstanceNumber without positions), never by file name. Values are the modality's\n"
    "(RescaleSlope/Intercept: Hounsfield units for CT); the window is the file's VOI\n"
    "window (WindowCenter/Width, the standard's linear function) unless --window or\n"
    "--percentiles is given; MONOCHROME1 is inverted; JPEG, JPEG-LS and RLE are decoded.\n\n"
    "The axes come from the volume's orientation (sform, else qform, else RAS is\n"
    "assumed), whatever the storage order. Index 0 is the patient's far left\n"
    "(sagittal), the most posterior (coronal), the most inferior (axial) slice.\n"
    "Images are in radiological convention: axial top = anterior, coronal and\n"
    "sagittal top = superior; image left = patient's right (axial, coronal) or\n"
    "anterior (sagittal). Pixels are made square when voxels are anisotropic.\n"
    "Only the first volume of a 4-D file is used.\n\n"
    "Existing slices of the same names in DIR are not replaced unless --overwrite\n"
    "is given (nothing is written then).\n\n"
    "options:\n";
static const char *const bits_names[] = {"8", "16", NULL};
static const int bits_values[] = {8, 16};

static int parse_pair(const char *s, double *a, double *b) {
  char *end = NULL;
  errno = 0;
  *a = strtod(s, &end);
  if (errno || end == s || *end != ',') return 0;
  const char *t = end + 1;
  *b = strtod(t, &end);
  if (errno || end == t || *end != '\0') return 0;
  return 1;
}

static int parse_axis(const char *cmd, const char *flag, const char *value, void *dst) {
  int a = strcmp(value, "all") == 0 ? CLGAN_AXIS_COUNT : clgan_axis_parse(value);
  if (a < 0) {
    fprintf(stderr, "clgan %s: %s must be axial, coronal, sagittal or all (got '%s')\n", cmd, flag,
            value);
    return 0;
  }
  *(unsigned *)dst = a == CLGAN_AXIS_COUNT ? 7u : 1u << a;
  return 1;
}

static int parse_window(const char *cmd, const char *flag, const char *value, void *dst) {
  clgan_slice_options *o = dst;
  double lo, hi;
  if (!parse_pair(value, &lo, &hi) || !(hi > lo)) {
    fprintf(stderr, "clgan %s: %s needs LOW,HIGH with LOW < HIGH (got '%s')\n", cmd, flag, value);
    return 0;
  }
  o->explicit_window = 1;
  o->window_lo = (float)lo;
  o->window_hi = (float)hi;
  return 1;
}

/* --percentiles writes the options and notes that it was given. */
typedef struct slice_args {
  clgan_slice_options *o;
  int *have_pct;
} slice_args;

static int parse_percentiles(const char *cmd, const char *flag, const char *value, void *dst) {
  slice_args *args = dst;
  clgan_slice_options *o = args->o;
  double p, q;
  if (!parse_pair(value, &p, &q) || !(p >= 0 && q <= 100 && p < q)) {
    fprintf(stderr, "clgan %s: %s needs P,Q with 0 <= P < Q <= 100 (got '%s')\n", cmd, flag,
            value);
    return 0;
  }
  o->pct_lo = p;
  o->pct_hi = q;
  *args->have_pct = 1;
  return 1;
}

static int parse_fraction(const char *cmd, const char *flag, const char *value, void *dst) {
  char *end;
  double f = strtod(value, &end);
  if (end == value || *end || !(f >= 0 && f <= 1)) {
    fprintf(stderr, "clgan %s: %s must be in [0, 1] (got '%s')\n", cmd, flag, value);
    return 0;
  }
  *(double *)dst = f;
  return 1;
}

/* What `clgan slice` was asked for. */
typedef struct slice_cmd {
  clgan_slice_options o;
  const char *out;
  const char **volumes; /* [argc] */
  int nvol;
  int have_pct;         /* --percentiles given */
  int overwrite;        /* --overwrite: replace slices of the same names */
} slice_cmd;

/* Options into *c (c->volumes allocated); -1 to go on, else the exit code. */
static int parse_slice(int argc, char **argv, slice_cmd *c) {
  slice_args args = {&c->o, &c->have_pct};
  const cli_opt opts[] = {
      CLI_STR_OPT("--out", "DIR", &c->out, "output folder (created when missing)"),
      CLI_CALL_OPT("--axis", "A", &c->o.axes, parse_axis,
                   "axial (default), coronal, sagittal or all"),
      CLI_CHOICE_OPT("--bits", "8|16", &c->o.bits, bits_names, bits_values,
                     "PNG bit depth (default 8)"),
      CLI_CALL_OPT("--percentiles", "P,Q", &args, parse_percentiles,
                   "intensity window from these percentiles of the non-zero\n"
                   "voxels of each volume (default 0.5,99.5)"),
      CLI_CALL_OPT("--window", "LOW,HIGH", &c->o, parse_window,
                   "explicit intensity window in the volume's units"),
      CLI_CALL_OPT("--min-fraction", "F", &c->o.min_fraction, parse_fraction,
                   "write a slice only when at least this fraction of its\n"
                   "pixels is above the window's low end (default 0.15;\n"
                   "0 writes every slice)"),
      CLI_INT_OPT("--size", "N", &c->o.size, 1, 16384,
                  "pad each slice to a square (black) and resize to N x N\n"
                  "(default: native resolution)"),
      CLI_FLAG_OPT("--overwrite", &c->overwrite,
                   "replace existing slices of the same names in DIR"),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = "slice", .head = head, .opts = opts, .positional = c->volumes,
                         .max_positional = argc, .npositional = &c->nvol};
  int rc = cli_parse(&spec, argc, argv);
  if (rc != -1) return rc;
  if (c->o.explicit_window && c->have_pct) {
    fprintf(stderr, "clgan slice: --window and --percentiles exclude each other\n");
    return 2;
  }
  if (c->nvol == 0 || !c->out) {
    fprintf(stderr, "clgan slice: %s (see --help)\n",
            c->nvol == 0 ? "no volume given" : "--out DIR is required");
    return 2;
  }
  if (!cli_check_out_dir("slice", "--out", c->out)) return 2;
  return -1;
}

/* Writes one volume's slices and reports them; window_source says where an
 * explicit window came from. Returns the PNGs written, or -1 after a message. */
static int64_t slice_volume(const clgan_volume *v, const char *label, const char *name,
                            const char *out, const clgan_slice_options *o,
                            const char *window_source) {
  clgan_slice_report rep;
  double t1 = now_seconds();
  clgan_status st = clgan_volume_write_slices(v, out, name, o, &rep);
  double t_write = now_seconds() - t1;
  if (o->explicit_window)
    printf("  window %g .. %g (%s)\n", rep.window_lo, rep.window_hi, window_source);
  else if (rep.window_widened)
    printf("  window %g .. %g (min .. max: the %g and %g percentiles of the non-zero voxels "
           "are equal)\n",
           rep.window_lo, rep.window_hi, o->pct_lo, o->pct_hi);
  else if (st == CLGAN_OK || rep.window_hi > rep.window_lo)
    printf("  window %g .. %g (percentiles %g, %g of the non-zero voxels)\n", rep.window_lo,
           rep.window_hi, o->pct_lo, o->pct_hi);
  int64_t written = 0;
  for (int a = CLGAN_AXIS_COUNT - 1; a >= 0; a--) {
    if (!(o->axes & (1u << a)) || rep.width[a] == 0) continue;
    printf("  %-9s %4lld written, %4lld skipped (< %g of the pixels above %g), %d x %d px\n",
           clgan_axis_name((clgan_axis)a), (long long)rep.written[a], (long long)rep.skipped[a],
           o->min_fraction, rep.window_lo, rep.width[a], rep.height[a]);
    written += rep.written[a];
  }
  if (st != CLGAN_OK) {
    fprintf(stderr, "clgan slice: %s: %s\n", label, clgan_last_error());
    return -1;
  }
  printf("  wrote %lld %d-bit PNGs to %s/%s_*.png in %.2f s\n", (long long)written, o->bits, out,
         name, t_write);
  return written;
}

/* A NIfTI / ANALYZE volume; -1 after a message. */
static int64_t slice_nifti(const char *path, const char *out, const clgan_slice_options *o) {
  double t0 = now_seconds();
  clgan_volume v;
  clgan_status st = clgan_volume_load(path, &v);
  if (st != CLGAN_OK) {
    fprintf(stderr, "clgan slice: %s\n", clgan_last_error());
    return -1;
  }
  static const char *const version[] = {"ANALYZE 7.5", "NIfTI-1", "NIfTI-2"};
  static const char *const xform[] = {"assumed: no sform or qform", "qform", "sform"};
  printf("%s: %s, %lld x %lld x %lld %s, voxel %g x %g x %g, orientation %s (%s), "
         "read in %.2f s\n",
         path, version[v.nifti_version], (long long)v.dim[0], (long long)v.dim[1],
         (long long)v.dim[2], clgan_volume_datatype_name(v.datatype), v.pixdim[0], v.pixdim[1],
         v.pixdim[2], v.orient, xform[v.xform], now_seconds() - t0);
  if (v.frames > 1)
    printf("  4-D file with %lld volumes: slicing the first only\n", (long long)v.frames);
  if (v.scl_slope != 1.0 || v.scl_inter != 0.0)
    printf("  scaled: value = %g * stored + %g\n", v.scl_slope, v.scl_inter);
  if (v.nonfinite > 0) printf("  %lld non-finite values set to 0\n", (long long)v.nonfinite);
  char name[256];
  clgan_volume_basename(path, name, sizeof name);
  int64_t written = slice_volume(&v, path, name, out, o, "given");
  clgan_volume_free(&v);
  return written;
}

/* The PNG name of series i of a scan: <input>_<Modality><SeriesNumber>, the
 * input being the file or folder its first image was found in,
 * with _<i> added when an earlier series of the scan has that name too (two
 * series never write over each other's files). */
static void series_name(const clgan_dicom_scan *scan, int i, const char *const *inputs, int ninputs,
                        char *name, size_t cap) {
  const char *input = inputs[0];
  for (int k = 0; k < ninputs; k++)
    if (strncmp(scan->series[i].paths[0], inputs[k], strlen(inputs[k])) == 0) input = inputs[k];
  char base[200];
  clgan_volume_basename(input, base, sizeof base);
  size_t n = strlen(base);
  if (n > 4 && strcasecmp(base + n - 4, ".dcm") == 0) base[n - 4] = '\0';
  const clgan_dicom_series *s = &scan->series[i];
  int clash = 0;
  for (int j = 0; j < i; j++)
    clash |= scan->series[j].series_number == s->series_number &&
             strcmp(scan->series[j].modality, s->modality) == 0;
  snprintf(name, cap, "%s_%s%d", base, s->modality[0] ? s->modality : "DICOM", s->series_number);
  if (clash) snprintf(name + strlen(name), cap - strlen(name), "_%d", i);
}

/* One DICOM series as a volume; the file's VOI window unless --window or
 * --percentiles says otherwise. */
static int64_t slice_series(const clgan_dicom_series *s, const char *name, const char *out,
                            const slice_cmd *c) {
  double t0 = now_seconds();
  clgan_volume v;
  clgan_dicom_window w;
  clgan_status st = clgan_dicom_series_volume(s, &v, &w);
  if (st != CLGAN_OK) {
    fprintf(stderr, "clgan slice: %s\n", clgan_last_error());
    return -1;
  }
  printf("%s: DICOM %s series %d (%d file%s), %lld x %lld x %lld, voxel %g x %g x %g, "
         "orientation %s%s, read in %.2f s\n",
         s->paths[0], s->modality, s->series_number, s->count, s->count == 1 ? "" : "s",
         (long long)v.dim[0], (long long)v.dim[1], (long long)v.dim[2], v.pixdim[0], v.pixdim[1],
         v.pixdim[2], v.orient, v.xform ? "" : " (assumed: no ImageOrientationPatient)",
         now_seconds() - t0);
  if (v.scl_slope != 1.0 || v.scl_inter != 0.0)
    printf("  modality LUT: value = %g * stored + %g\n", v.scl_slope, v.scl_inter);
  clgan_slice_options o = c->o;
  const char *source = "given";
  if (!o.explicit_window && !c->have_pct && w.present) {
    o.explicit_window = 1, o.window_lo = w.lo, o.window_hi = w.hi;
    source = "the file's VOI window";
  }
  int64_t written = slice_volume(&v, s->paths[0], name, out, &o, source);
  clgan_volume_free(&v);
  return written;
}

/* Every series of a DICOM scan; counts the failed ones into *failed. */
static int64_t slice_dicom(const clgan_dicom_scan *scan, const char *const *inputs, int n,
                           const char *out, const slice_cmd *c, int *done, int *failed) {
  if (scan->skipped) printf("DICOM: %d files that are not DICOM images skipped\n", scan->skipped);
  int64_t total = 0;
  for (int i = 0; i < scan->count; i++, (*done)++) {
    char name[256];
    series_name(scan, i, inputs, n, name, sizeof name);
    int64_t w = slice_series(&scan->series[i], name, out, c);
    if (w < 0) (*failed)++;
    else total += w;
  }
  return total;
}

/* Slices of volume `name` already in --out (any index, the axes asked for):
 * added to *n, the first into first. */
static void count_existing(const slice_cmd *c, const char *name, long *n, char *first,
                           size_t cap) {
  for (int a = 0; a < CLGAN_AXIS_COUNT; a++) {
    if (!(c->o.axes & (1u << a))) continue;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s_%s_", name, clgan_axis_name((clgan_axis)a));
    *n += cli_count_numbered(c->out, prefix, ".png", -1, *n ? NULL : first, cap);
  }
}

/* Before anything is written: no slice of these volumes' names may exist
 * in --out unless --overwrite (0 after a message). */
static int check_outputs(const slice_cmd *c, const char *const *nifti, int nnifti,
                         const clgan_dicom_scan *scan, const char *const *dicom, int ndicom) {
  long n = 0;
  char first[1200] = "", name[256];
  for (int f = 0; f < nnifti; f++) {
    clgan_volume_basename(nifti[f], name, sizeof name);
    count_existing(c, name, &n, first, sizeof first);
  }
  for (int i = 0; scan && i < scan->count; i++) {
    series_name(scan, i, dicom, ndicom, name, sizeof name);
    count_existing(c, name, &n, first, sizeof first);
  }
  return cli_keep_numbered("slice", n, first, c->overwrite, "--out");
}

static int is_dicom_input(const char *path) {
  struct stat sb;
  return (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) || clgan_dicom_is_file(path);
}

int cmd_slice(int argc, char **argv) {
  slice_cmd c = {.o = clgan_slice_defaults(), .volumes = calloc((size_t)argc + 1, sizeof(char *))};
  const char **dicom = calloc((size_t)argc + 1, sizeof(char *));
  if (!c.volumes || !dicom) {
    fprintf(stderr, "clgan slice: out of memory\n");
    free(c.volumes);
    free(dicom);
    return 1;
  }
  int rc = parse_slice(argc, argv, &c);
  if (rc != -1) goto done;
  int failed = 0, done = 0, ndicom = 0, nnifti = 0;
  int64_t total = 0;
  double t_all = now_seconds();
  /* NIfTI inputs are sliced in place of their names in c.volumes (compacted);
   * DICOM series may span several inputs: scanned together first */
  for (int f = 0; f < c.nvol; f++) {
    if (is_dicom_input(c.volumes[f])) dicom[ndicom++] = c.volumes[f];
    else c.volumes[nnifti++] = c.volumes[f];
  }
  clgan_dicom_scan scan = {0};
  int scanned = 0;
  if (ndicom) {
    if (clgan_dicom_scan_paths(dicom, ndicom, &scan) == CLGAN_OK) {
      scanned = 1;
    } else {
      fprintf(stderr, "clgan slice: %s\n", clgan_last_error());
      failed++;
    }
  }
  if (!check_outputs(&c, c.volumes, nnifti, scanned ? &scan : NULL, dicom, ndicom)) {
    if (scanned) clgan_dicom_scan_free(&scan);
    rc = 2;
    goto done;
  }
  for (int f = 0; f < nnifti; f++) {
    int64_t w = slice_nifti(c.volumes[f], c.out, &c.o);
    done++;
    if (w < 0) failed++;
    else total += w;
  }
  if (scanned) {
    total += slice_dicom(&scan, dicom, ndicom, c.out, &c, &done, &failed);
    clgan_dicom_scan_free(&scan);
  }
  if (done > 1)
    printf("%lld PNGs from %d of %d volumes in %.2f s%s\n", (long long)total, done - failed, done,
           now_seconds() - t_all, failed ? " (see the errors above)" : "");
  rc = failed ? 1 : 0;
done:
  free(c.volumes);
  free(dicom);
  return rc;
}
