/* Writes the seed corpus of the harnesses with clgan itself (and nifticlib
 * for the volumes): make_seeds OUTDIR creates OUTDIR/{png,nifti,safetensors,
 * checkpoint,args,dicom}. Every seed is a few KB at most (the checkpoint
 * 20 KB). Run by make_corpus.sh. */
#include <nifti2_io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clgan/checkpoint.h"
#include "clgan/clgan.h"
#include "clgan/image.h"
#include "clgan/volume.h"
#include "fuzz_model.h"

static void die(const char *what) {
  fprintf(stderr, "make_seeds: %s: %s\n", what, clgan_last_error());
  exit(1);
}

static void sub(char *buf, size_t cap, const char *out, const char *name) {
  snprintf(buf, cap, "%s/%s", out, name);
}

/* A small NIfTI-1 volume of datatype dt written by nifticlib to path. */
static void write_nifti(const char *path, int dt, int nx, int ny, int nz, int oblique) {
  int64_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  nifti_image *nim = nifti_make_new_nim(dims, dt, 1);
  if (!nim) die("nifti_make_new_nim");
  unsigned char *p = nim->data;
  for (int64_t i = 0; i < (int64_t)(nim->nvox * nim->nbyper); i++) p[i] = (unsigned char)(i * 7 % 251);
  nim->pixdim[1] = nim->dx = 1.0;
  nim->pixdim[2] = nim->dy = 2.0;
  if (oblique) {
    nim->sform_code = 1;
    nim->sto_xyz.m[0][1] = -1;
    nim->sto_xyz.m[1][0] = 0.3;
    nim->sto_xyz.m[1][2] = 1;
    nim->sto_xyz.m[2][0] = 1;
  }
  if (nifti_set_filenames(nim, path, 0, 1) != 0) die("nifti_set_filenames");
  nifti_image_write(nim);
  nifti_image_free(nim);
}

/* Prefixes the file with the harness' mode byte. */
static void prefix(const char *src, const char *dst, unsigned char mode) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  if (!in || !out) die(src);
  fputc(mode, out);
  int c;
  while ((c = fgetc(in)) != EOF) fputc(c, out);
  fclose(in);
  fclose(out);
}

static void nifti_seeds(const char *out, const char *tmp) {
  char dir[512], src[600], dst[600];
  sub(dir, sizeof dir, out, "nifti");
  mkdir(dir, 0755);
  static const int dts[] = {NIFTI_TYPE_UINT8, NIFTI_TYPE_INT16, NIFTI_TYPE_FLOAT32,
                            NIFTI_TYPE_FLOAT64};
  for (int i = 0; i < 4; i++) {
    snprintf(src, sizeof src, "%s/v%d.nii", tmp, i);
    write_nifti(src, dts[i], 6, 5, 4, i & 1);
    snprintf(dst, sizeof dst, "%s/nii_%d", dir, i);
    prefix(src, dst, (unsigned char)(i << 2 & 12));
  }
  snprintf(src, sizeof src, "%s/g.nii.gz", tmp);
  write_nifti(src, NIFTI_TYPE_INT16, 7, 6, 5, 0);
  snprintf(dst, sizeof dst, "%s/niigz_0", dir);
  prefix(src, dst, 1);
  /* .hdr/.img pair: the harness splits after the 348-byte header */
  snprintf(src, sizeof src, "%s/p.hdr", tmp);
  write_nifti(src, NIFTI_TYPE_UINT16, 5, 5, 3, 1);
  char img[600];
  snprintf(img, sizeof img, "%s/p.img", tmp);
  snprintf(dst, sizeof dst, "%s/pair_0", dir);
  FILE *o = fopen(dst, "wb"), *h = fopen(src, "rb"), *m = fopen(img, "rb");
  if (!o || !h || !m) die("hdr/img pair");
  fputc(2, o);
  int c;
  while ((c = fgetc(h)) != EOF) fputc(c, o);
  while ((c = fgetc(m)) != EOF) fputc(c, o);
  fclose(o);
  fclose(h);
  fclose(m);
}

/* PNGs: clgan's writer in every channel count and both depths, and what
 * `clgan slice` writes for a small volume. */
static void png_seeds(const char *out, const char *tmp) {
  char dir[512], path[600];
  sub(dir, sizeof dir, out, "png");
  mkdir(dir, 0755);
  float px[8 * 6 * 4];
  for (int i = 0; i < 8 * 6 * 4; i++) px[i] = (float)(i % 17) / 16.0f;
  for (int c = 1; c <= 4; c++)
    for (int b = 8; b <= 16; b += 8) {
      snprintf(path, sizeof path, "%s/c%d_b%d.png", dir, c, b);
      if (clgan_png_write(path, 8, 6, c, b, px) != CLGAN_OK) die(path);
    }
  snprintf(path, sizeof path, "%s/v0.nii", tmp);
  clgan_volume v;
  if (clgan_volume_load(path, &v) != CLGAN_OK) die(path);
  clgan_slice_options o = clgan_slice_defaults();
  o.min_fraction = 0;
  if (clgan_volume_write_slices(&v, dir, "slice", &o, NULL) != CLGAN_OK) die("slices");
  clgan_volume_free(&v);
}

static void model_seeds(const char *out) {
  char dir[512], path[600];
  clgan_ctx *ctx;
  clgan_dcgan *net;
  if (fz_model_create(&ctx, &net) != 0) exit(1);
  sub(dir, sizeof dir, out, "checkpoint");
  mkdir(dir, 0755);
  float noise[2 * 5] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f, 0.9f, 1.0f};
  clgan_train_state ts = {.iteration = 3, .seed = 7, .rng = {1, 2, 3, 4}, .fixed_count = 2,
                          .fixed_noise = noise};
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
  if (clgan_checkpoint_save(path, net, &ts) != CLGAN_OK) die(path);
  snprintf(path, sizeof path, "%s/generator.safetensors", dir);
  if (clgan_export_generator(path, net) != CLGAN_OK) die(path);
  clgan_dcgan_destroy(net);
  clgan_ctx_destroy(ctx);
  /* the plain safetensors harness starts from a small generic file */
  sub(dir, sizeof dir, out, "safetensors");
  mkdir(dir, 0755);
  int64_t ints[3] = {1, -2, 3};
  float f[6] = {1, 2, 3, 4, 5, 6};
  clgan_st_tensor t[2] = {{.name = "a", .dtype = CLGAN_F32, .ndim = 2, .shape = {2, 3}, .data = f},
                          {.name = "b.c", .dtype = CLGAN_I64, .ndim = 1, .shape = {3}, .data = ints}};
  const char *k[2] = {"format", "note"}, *val[2] = {"test", "x"};
  snprintf(path, sizeof path, "%s/small.safetensors", dir);
  if (clgan_safetensors_write(path, t, 2, k, val, 2) != CLGAN_OK) die(path);
}

/* Option lines for fuzz_args: the command's index byte, then NUL-separated
 * arguments. The index counts the commands of src/cli/commands.c but
 * `devices`: train 0, generate 1, export 2, bench 3, evaluate 4, balance 5,
 * utility 6, slice 7, tune 8. */
static void args_seeds(const char *out) {
  static const struct {
    unsigned char cmd;
    const char *args; /* '|' separates arguments */
  } seeds[] = {
      {0, "--data|d|--class|c|--iters|5|--batch=8|--lr|0.0002|--size|32|--augment|flip|--ema|0.999"},
      {0, "--resume|--out|runs/x|--seed|7|--beta1|0.5|--nan-guard|--ada|--help"},
      {1, "--checkpoint|c.safetensors|--count|4|--out|o|--seed|3|--grid"},
      {2, "c.safetensors|--out|g.safetensors|--device|cpu"},
      {4, "--real|r|--fake|f|--json|e.json|--png|-|--count|2"},
      {3, "--steps|3|--warmup|1|--batch|16|--json|b.json|--no-startup"},
      {7, "v.nii|--out|o|--axis|all|--bits|16|--window|-100,400|--size|64"},
      {7, "a.nii|b.nii|--percentiles=1,99|--min-fraction|0.2|--axis|coronal|--|--x"},
      {5, "--data|d|--checkpoint|axial=a.safetensors|--out|o|--target|20|--seed|1"},
      {6, "--train|t|--test|e|--synthetic|s|--seeds|2|--epochs|1|--json|u.json|--overwrite"},
      {8, "--config|gray32|--budget|2|--retune|--device|0"},
  };
  char dir[512], path[600];
  sub(dir, sizeof dir, out, "args");
  mkdir(dir, 0755);
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    snprintf(path, sizeof path, "%s/args_%zu", dir, i);
    FILE *f = fopen(path, "wb");
    if (!f) die(path);
    fputc(seeds[i].cmd, f);
    for (const char *c = seeds[i].args; *c; c++) fputc(*c == '|' ? '\0' : *c, f);
    fclose(f);
  }
}

static void copy_to(const char *src, const char *dst, long skip) {
  FILE *in = fopen(src, "rb"), *o = fopen(dst, "wb");
  if (!in || !o) die(src);
  if (skip > 0 && fseek(in, skip, SEEK_SET) != 0) die(src);
  int c;
  while ((c = fgetc(in)) != EOF) fputc(c, o);
  fclose(in);
  fclose(o);
}

/* DICOM seeds: small public test files of python3-pydicom (grayscale in
 * several syntaxes, a multi-frame dose, a colour image, JPEG 2000,
 * deflate) and a CT slice without preamble and meta group. */
static void dicom_seeds(const char *out) {
  static const char *const files[] = {
      "dicomdirtests/77654033/CT2/17106", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm",
      "rtdose_1frame.dcm", "rtdose_rle_1frame.dcm", "SC_rgb_small_odd.dcm", "JPEG2000.dcm",
      "image_dfl.dcm", "JPGExtended.dcm"};
  const char *pyd = getenv("CLGAN_PYDICOM_DIR");
  if (!pyd) pyd = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  char dir[512], src[1024], dst[600];
  sub(dir, sizeof dir, out, "dicom");
  mkdir(dir, 0755);
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(src, sizeof src, "%s/%s", pyd, files[i]);
    snprintf(dst, sizeof dst, "%s/dcm_%zu", dir, i);
    copy_to(src, dst, 0);
  }
  /* the bare dataset: past the preamble, DICM and the meta group, whose
   * length is the UL value of (0002,0000) at byte 140 */
  snprintf(src, sizeof src, "%s/%s", pyd, files[0]);
  FILE *f = fopen(src, "rb");
  unsigned char head[144];
  if (!f || fread(head, 1, sizeof head, f) != sizeof head) die(src);
  fclose(f);
  long meta = head[140] | (long)head[141] << 8 | (long)head[142] << 16 | (long)head[143] << 24;
  snprintf(dst, sizeof dst, "%s/raw_0", dir);
  copy_to(src, dst, 144 + meta);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: make_seeds OUTDIR TMPDIR\n");
    return 2;
  }
  mkdir(argv[1], 0755);
  nifti_seeds(argv[1], argv[2]);
  png_seeds(argv[1], argv[2]);
  args_seeds(argv[1]);
  dicom_seeds(argv[1]);
  model_seeds(argv[1]);
  return 0;
}
