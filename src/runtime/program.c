/* Kernel programs: source lookup (embedded or CLGAN_KERNEL_DIR), build with a
 * persistent binary cache, and the per-context program and kernel tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct clgan_embedded {
  const char *name;
  const char *text;
};
extern const struct clgan_embedded clgan_embedded_sources[];

/* Bump when the cache entry meaning changes (e.g. common.cl handling). */
#define PROGRAM_CACHE_VERSION "1"

const char *clgan_embedded_source(const char *name) {
  for (const struct clgan_embedded *e = clgan_embedded_sources; e->name; e++)
    if (strcmp(e->name, name) == 0) return e->text;
  return NULL;
}

/* Returns the text of cl/<name>.cl, malloc'd. */
static clgan_status source_text(const char *name, char **out) {
  *out = NULL;
  const char *dir = getenv("CLGAN_KERNEL_DIR");
  if (dir && *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.cl", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return clgan_fail(CLGAN_ERR_IO, "CLGAN_KERNEL_DIR: cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!t || fread(t, 1, (size_t)n, f) != (size_t)n) {
      free(t);
      fclose(f);
      return clgan_fail(CLGAN_ERR_IO, "CLGAN_KERNEL_DIR: cannot read %s", path);
    }
    fclose(f);
    t[n] = '\0';
    *out = t;
    return CLGAN_OK;
  }
  const char *t = clgan_embedded_source(name);
  if (!t) return clgan_fail(CLGAN_ERR_INVALID, "no kernel source named '%s.cl'", name);
  if (!(*out = strdup(t))) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  return CLGAN_OK;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clgan_status build_log_error(clgan_ctx *ctx, cl_program prog, cl_int err,
                                    const char *name, const char *options) {
  size_t len = 0;
  clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
  char *log = malloc(len + 1);
  if (log) {
    log[0] = '\0';
    clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, len, log, NULL);
    log[len] = '\0';
  }
  clgan_status st = clgan_fail(CLGAN_ERR_BUILD,
                               "clBuildProgram(%s.cl, \"%s\") failed on %s: %s (%d)\n"
                               "build log:\n%s",
                               name, options, ctx->dev.name, clgan_cl_error_name(err),
                               (int)err, log ? log : "(unavailable)");
  free(log);
  return st;
}

/* Builds one program, trying the disk cache first. */
static clgan_status build_program(clgan_ctx *ctx, const char *name, const char *options,
                                  cl_program *out) {
  *out = NULL;
  char *common = NULL, *body = NULL, *full = NULL, *key = NULL;
  void *bin = NULL;
  size_t bin_size = 0;
  cl_program prog = NULL;
  cl_int err;
  double t0 = now_seconds();
  /* the host's own copy of the shared constants, whatever the kernel dir */
  const char *abi = clgan_embedded_source("kernel_abi");
  clgan_status st = source_text("common", &common);
  if (st == CLGAN_OK) st = source_text(name, &body);
  if (st != CLGAN_OK) goto out;
  size_t n = strlen(abi) + strlen(common) + strlen(body) + 64;
  if (!(full = malloc(n))) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(full, n, "%s\n%s\n#line 1\n%s", abi, common, body);

  char devkey[600];
  clgan_device_key(&ctx->dev, devkey, sizeof devkey);
  size_t keycap = strlen(devkey) + strlen(options) + strlen(name) + 96;
  if (!(key = malloc(keycap))) {
    st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(key, keycap, "program v" PROGRAM_CACHE_VERSION "|%s|%s|%s|%016llx|%zu", devkey, name,
           options, (unsigned long long)clgan_hash_str(CLGAN_FNV_SEED, full), strlen(full));

  /* A cached binary that does not load or build is ignored and rebuilt. */
  if (clgan_cache_load("program", key, &bin, &bin_size) == CLGAN_OK) {
    const unsigned char *bp = bin;
    cl_int bstatus = CL_SUCCESS;
    prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device, &bin_size, &bp, &bstatus,
                                     &err);
    if (prog && err == CL_SUCCESS && bstatus == CL_SUCCESS &&
        clBuildProgram(prog, 1, &ctx->dev.device, options, NULL, NULL) == CL_SUCCESS) {
      ctx->builds_cached++;
      goto done;
    }
    if (prog) clReleaseProgram(prog);
    prog = NULL;
  }

  const char *srcp = full;
  prog = clCreateProgramWithSource(ctx->context, 1, &srcp, NULL, &err);
  if ((st = clgan_cl_check(err, "clCreateProgramWithSource")) != CLGAN_OK) goto out;
  err = clBuildProgram(prog, 1, &ctx->dev.device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    st = build_log_error(ctx, prog, err, name, options);
    goto out;
  }
  ctx->builds_compiled++;
  {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) == CL_SUCCESS &&
        size > 0) {
      unsigned char *b = malloc(size);
      if (b && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) == CL_SUCCESS)
        clgan_cache_store("program", key, b, size); /* best effort: a failed store only costs time */
      free(b);
    }
  }
done:
  ctx->created.programs++;
  ctx->build_seconds += now_seconds() - t0;
  *out = prog;
  prog = NULL;
  st = CLGAN_OK;
out:
  if (prog) clReleaseProgram(prog);
  free(common);
  free(body);
  free(full);
  free(key);
  free(bin);
  return st;
}

clgan_status clgan_kernel_get(clgan_ctx *ctx, const char *source, const char *options,
                              const char *kernel_name, cl_kernel *out) {
  *out = NULL;
  char opts[1024];
  /* -cl-std=CL1.2 keeps every device on the common dialect; kernels must not
   * rely on fast-math so that results match the reference. Where the device
   * offers it, division and sqrt are correctly rounded (OpenCL otherwise
   * allows 2.5 and 3 ulp, e.g. on NVIDIA), so Adam, BatchNorm and the metrics
   * round as the CPU reference and PyTorch do. */
  snprintf(opts, sizeof opts, "-cl-std=CL1.2%s %s",
           ctx->dev.fp32_rounded_div_sqrt ? " -cl-fp32-correctly-rounded-divide-sqrt" : "",
           options ? options : "");
  int pi = -1;
  for (int i = 0; i < ctx->nprograms; i++)
    if (strcmp(ctx->programs[i].source, source) == 0 && strcmp(ctx->programs[i].options, opts) == 0) {
      pi = i;
      break;
    }
  if (pi >= 0)
    for (int i = 0; i < ctx->nkernels; i++)
      if (ctx->kernels[i].program == pi && strcmp(ctx->kernels[i].name, kernel_name) == 0) {
        *out = ctx->kernels[i].kernel;
        return CLGAN_OK;
      }
  if (ctx->frozen)
    return clgan_fail(CLGAN_ERR_FROZEN,
                      "kernel %s of %s.cl (\"%s\") requested inside a planned step; "
                      "create it while planning",
                      kernel_name, source, opts);
  if (pi < 0) {
    if (ctx->nprograms == CLGAN_MAX_PROGRAMS)
      return clgan_fail(CLGAN_ERR_NOMEM, "too many programs in one context");
    cl_program prog;
    clgan_status st = build_program(ctx, source, opts, &prog);
    if (st != CLGAN_OK) return st;
    clgan_program_entry *e = &ctx->programs[ctx->nprograms];
    e->source = strdup(source);
    e->options = strdup(opts);
    e->program = prog;
    if (!e->source || !e->options) {
      free(e->source);
      free(e->options);
      clReleaseProgram(prog);
      return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
    }
    pi = ctx->nprograms++;
  }
  if (ctx->nkernels == CLGAN_MAX_KERNELS)
    return clgan_fail(CLGAN_ERR_NOMEM, "too many kernels in one context");
  cl_int err;
  cl_kernel k = clCreateKernel(ctx->programs[pi].program, kernel_name, &err);
  if (err != CL_SUCCESS)
    return clgan_fail(CLGAN_ERR_OPENCL, "clCreateKernel(%s) in %s.cl failed: %s (%d)", kernel_name,
                      source, clgan_cl_error_name(err), (int)err);
  clgan_kernel_entry *ke = &ctx->kernels[ctx->nkernels];
  if (!(ke->name = strdup(kernel_name))) {
    clReleaseKernel(k);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  ke->program = pi;
  ke->kernel = k;
  ctx->nkernels++;
  ctx->created.kernels++;
  *out = k;
  return CLGAN_OK;
}

double clgan_ctx_build_seconds(const clgan_ctx *ctx) { return ctx->build_seconds; }

void clgan_ctx_created(const clgan_ctx *ctx, clgan_ctx_counts *out) { *out = ctx->created; }

void clgan_ctx_build_counts(const clgan_ctx *ctx, int *from_cache, int *compiled) {
  if (from_cache) *from_cache = ctx->builds_cached;
  if (compiled) *compiled = ctx->builds_compiled;
}
