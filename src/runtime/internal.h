/* Internal runtime state shared by src/ files; not part of the public API. */
#ifndef CLGAN_RUNTIME_INTERNAL_H
#define CLGAN_RUNTIME_INTERNAL_H

#include <stdarg.h>

#include "clgan/runtime.h"

#define CLGAN_MAX_PROGRAMS 64
#define CLGAN_MAX_KERNELS 256

typedef struct clgan_program_entry {
  char *source;   /* cl/ file name without extension */
  char *options;  /* full build options */
  cl_program program;
} clgan_program_entry;

typedef struct clgan_kernel_entry {
  int program;    /* index into programs */
  char *name;
  cl_kernel kernel;
} clgan_kernel_entry;

struct clgan_ctx {
  clgan_device_info dev;
  cl_context context;
  cl_command_queue queue;
  int profiling;
  int frozen;
  clgan_tuning tuning;              /* fixed at creation (clgan_ctx_set_tuning in tests) */
  clgan_gemm_backend gemm_chosen[2]; /* per shape class (regular, long reduction):
                                        AUTO until measured or loaded */
  float gemm_clblast_slowdown[2];   /* per class: CLBlast's time over the own kernel's in
                                       that measurement (0: not known) */
  clgan_buf gemm_ws;                /* own GEMM packing workspace (src/ops/gemm.c) */
  size_t gemm_ws_floats;            /* its capacity in floats */
  double peak_gflops;               /* 0 until measured */
  double build_seconds;
  int builds_cached, builds_compiled;
  clgan_ctx_counts created;         /* OpenCL objects created through the runtime */
  int nprograms, nkernels;
  clgan_program_entry programs[CLGAN_MAX_PROGRAMS];
  clgan_kernel_entry kernels[CLGAN_MAX_KERNELS];
  struct clgan_profile *prof;       /* per-kernel events; NULL unless profiling (profile.c) */
  clgan_ctx_activity activity;      /* launches and host syncs so far (profile.c) */
  clgan_tune_progress_fn tune_progress; /* the plan-time tuner's (src/ops/conv_tune.c) */
  void *tune_user;
  clgan_tune_report tune_report;    /* what it did so far */
  int tune_test_wrong;              /* test hooks: N > 0, the tuner perturbs the result of
                                       the Nth candidate it checks after each product's
                                       reference; -1, the default's (the reference, checked
                                       against the host's on small shapes); 0 none */
  int tune_test_slow_family;        /* test hooks: > 0, the tuner sees the times of this
                                       conv_tune_family's candidates as 10x longer */
  int tune_test_no_prune;           /* 1: every candidate of a family is tried */
  int tune_test_slow_default;       /* 1: the tuner sees the default plan's times 10x longer */
  double tune_test_pair_ratio;      /* > 0: the tuner sees every pair's time (forward and weight
                                       gradient together) as this times the default pair's */
};

/* Activity counters (profile.c): called by the launch and transfer helpers. */
static inline void clgan_count_launch(clgan_ctx *ctx) { ctx->activity.launches++; }

/* For a failed OpenCL call: records "call: CL_NAME (code)" and returns
 * CLGAN_ERR_OPENCL, or CLGAN_OK when err == CL_SUCCESS. */
clgan_status clgan_cl_check(cl_int err, const char *call);
#define CLGAN_CL(call) clgan_cl_check((call), #call)

/* Shorthands for kernel launches. */
clgan_status clgan_set_args(cl_kernel k, int nargs, ...); /* pairs: size, ptr */
clgan_status clgan_launch(clgan_ctx *ctx, cl_kernel k, cl_uint dims,
                          const size_t *global, const size_t *local,
                          const char *what);

/* Per-kernel profiling (src/runtime/profile.c), active only on contexts
 * created with clgan_ctx_options.profiling: every launch records its event
 * under the current region into a fixed-capacity array allocated with the
 * context (nothing is allocated per launch; when full, launches are counted
 * as dropped). Collect with clgan_ctx_profile_collect (runtime.h). */
clgan_status clgan_profile_create(clgan_ctx *ctx);  /* from clgan_ctx_create */
void clgan_profile_destroy(clgan_ctx *ctx);         /* from clgan_ctx_destroy */
/* Names the work enqueued from now on ("G3 fwd", "D update"); printf-style,
 * truncated to 39 characters. No-op (no formatting) when not profiling. */
void clgan_profile_region(clgan_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The event slot for the next enqueued command named `what` (for enqueues
 * outside clgan_launch, e.g. CLBlast's), or NULL when not profiling or full.
 * An enqueue that fails leaves the slot empty, which collect skips. */
cl_event *clgan_profile_next_event(clgan_ctx *ctx, const char *what);

/* The largest work-group the device and this kernel accept. */
size_t clgan_kernel_max_local(const clgan_ctx *ctx, cl_kernel k);
/* The largest power of two <= cap that the device and this kernel accept
 * (for one-work-group reductions with a local-memory tree). */
size_t clgan_pow2_local(const clgan_ctx *ctx, cl_kernel k, size_t cap);

/* Rounds x up to a multiple of m. */
static inline size_t clgan_round_up(size_t x, size_t m) {
  return (x + m - 1) / m * m;
}

/* 64-bit FNV-1a over bytes, chainable via seed (start with CLGAN_FNV_SEED). */
#define CLGAN_FNV_SEED 0xcbf29ce484222325ULL
uint64_t clgan_hash(uint64_t seed, const void *data, size_t len);
uint64_t clgan_hash_str(uint64_t seed, const char *s);
/* h chained over the embedded sources program `name` is built from
 * (src/runtime/program.c's layouts): a key that changes with any of them. */
uint64_t clgan_program_source_hash(const char *name, uint64_t h);

/* Disk cache entries: a small file in `dir` named by a hash key holding a
 * full key string (to detect collisions and foreign files) and a payload.
 * dir is clgan_cache_dir(&ctx->tuning) ("" or NULL: no disk cache, both fail
 * with CLGAN_ERR_IO). Loading returns CLGAN_ERR_IO when absent and
 * CLGAN_ERR_FORMAT when corrupt; the payload is malloc'd. Storing writes a
 * temporary file and renames it. */
clgan_status clgan_cache_load(const char *dir, const char *kind, const char *key, void **payload,
                              size_t *size);
clgan_status clgan_cache_store(const char *dir, const char *kind, const char *key,
                               const void *payload, size_t size);
/* The identity of a device for cache keys: platform, device, driver versions. */
void clgan_device_key(const clgan_device_info *d, char *buf, size_t cap);
/* The disk-cache key of the device's measured peak: the device key and the
 * method, so a peak measured another way is measured again. */
void clgan_peak_cache_key(const clgan_device_info *dev, char *key, size_t cap);
/* The key of what a context measured or tuned (the GEMM backend's choice,
 * the tuner's winners): the device's, and the kernel class when the tuning
 * overrides it, since those choices belong to the class. */
void clgan_ctx_cache_key(const clgan_ctx *ctx, char *buf, size_t cap);

#endif
