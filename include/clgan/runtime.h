/* clgan runtime: OpenCL platforms and devices, the context every op runs in,
 * kernel programs built from embedded sources with a persistent binary cache. */
#ifndef CLGAN_RUNTIME_H
#define CLGAN_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "clgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the kernels need to know about a device, probed once. */
typedef struct clgan_device_info {
  cl_platform_id platform;
  cl_device_id device;
  int platform_index;      /* position in clGetPlatformIDs order */
  int device_index;        /* position within its platform */
  int global_index;        /* position in the flat list of every device */
  char platform_name[128];
  char platform_version[256];
  char name[128];
  char vendor[128];
  char driver_version[128];
  char device_version[128];   /* "OpenCL 3.0 ..." */
  char c_version[128];        /* "OpenCL C 1.2 ..." */
  cl_device_type type;
  int is_gpu;
  int is_cpu;
  cl_uint compute_units;
  cl_uint clock_mhz;
  size_t max_work_group_size;
  cl_ulong local_mem_bytes;
  int local_mem_is_global;   /* CL_GLOBAL: "local" memory is emulated */
  cl_ulong global_mem_bytes;
  cl_ulong global_cache_bytes; /* CL_DEVICE_GLOBAL_MEM_CACHE_SIZE (a CPU: its last-level cache; 0: unknown) */
  cl_ulong max_alloc_bytes;
  int unified_memory;        /* host-unified memory (integrated GPU, CPU) */
  int fp16;                  /* cl_khr_fp16 */
  int subgroups;             /* cl_khr_subgroups or cl_intel_subgroups */
  int fp64;                  /* cl_khr_fp64 */
  cl_uint preferred_vector_float;
  int fp32_rounded_div_sqrt; /* can build with -cl-fp32-correctly-rounded-divide-sqrt */
} clgan_device_info;

/* Lists every device of every platform. *out is malloc'd (free with free());
 * *count may be 0 when platforms exist but hold no device. Returns
 * CLGAN_ERR_NO_PLATFORM when no OpenCL platform (ICD) is installed. */
clgan_status clgan_devices_list(clgan_device_info **out, int *count);

/* Chooses a device from a list. spec is NULL/""/"default" (first GPU, else
 * first CPU, else the first device), "gpu", "cpu", a flat index ("1"),
 * "platform:device" ("0:1"), or a case-insensitive substring of the device or
 * platform name. Returns the index into list, or -1 with the error set. */
int clgan_device_pick(const clgan_device_info *list, int count, const char *spec);

typedef enum clgan_gemm_backend {
  CLGAN_GEMM_AUTO = 0,  /* measured once per device, remembered on disk */
  CLGAN_GEMM_OWN,       /* the engine's register-tiled kernel (cl/gemm.cl) */
  CLGAN_GEMM_CLBLAST,   /* CLBlast's SGEMM */
  CLGAN_GEMM_LDS,       /* the engine's local-memory kernel for GPUs (cl/gemm_lds.cl): only
                           where the tuner (or a caller) picks it, never measured by AUTO */
  CLGAN_GEMM_BACKEND_COUNT
} clgan_gemm_backend;

/* A kernel variant forced by tuning, or AUTO (the engine chooses per
 * device and shape). */
typedef enum clgan_variant {
  CLGAN_VARIANT_AUTO = 0,
  CLGAN_VARIANT_ELEMENTS, /* im2col: one work-item per element; col2im: per pixel */
  CLGAN_VARIANT_ROWS,     /* one work-item per row (CPU devices) */
  CLGAN_VARIANT_COUNT
} clgan_variant;

/* The plan-time tuner (src/ops/conv_tune.c): for each convolution shape a
 * model plans, a bounded search over the variants of its three products
 * (forward, backward data, weight gradient): the own GEMM's tile and
 * work-group shape, CLBlast, reading the image directly or through im2col.
 * Every candidate is checked against the default variant's result before it
 * may win; winners are cached per device, driver, kernel sources and shape. */
typedef enum clgan_tune_mode {
  CLGAN_TUNE_CACHED = 0, /* default: winners found in the cache are used, nothing is timed */
  CLGAN_TUNE_ON,         /* shapes without a cached winner are tuned (within the budget) */
  CLGAN_TUNE_RETUNE,     /* every shape is tuned again, the cache overwritten */
  CLGAN_TUNE_OFF         /* the engine's defaults; the cache is not read */
} clgan_tune_mode;

/* The class of device a context's kernel choices (register tiles, work-group
 * shapes, kernel variants, build options) are made for. */
typedef enum clgan_kernel_class {
  CLGAN_KERNEL_CLASS_DEVICE = 0, /* default: the device's own */
  CLGAN_KERNEL_CLASS_CPU,        /* a CPU's, whatever the device */
  CLGAN_KERNEL_CLASS_GPU         /* a GPU's: the tests run them on PoCL this way */
} clgan_kernel_class;

/* Tuning knobs and overrides of one context, fixed when it is created (the
 * library keeps no process-wide settings). Zero everywhere means "the engine
 * chooses": benchmarks, tests and kernel development set fields to force a
 * kernel variant or a work-group size. clgan_tuning_from_env reads the
 * environment once; nothing in the library reads it afterwards. */
typedef struct clgan_tuning {
  clgan_gemm_backend gemm;     /* CLGAN_GEMM=own|clblast: force the GEMM backend */
  int gemm_tile[4];            /* CLGAN_GEMM_TILE="tm nv lx ly": the own GEMM's register
                                  tile and work-group shape (all 0: the device's default) */
  clgan_variant im2col;        /* CLGAN_IM2COL=elements|rows */
  clgan_variant col2im;        /* CLGAN_COL2IM=pixels|rows */
  int conv_from_image;         /* CLGAN_CONV_FROM_IMAGE=0 sets -1: the conv GEMMs never
                                  read the image directly (0: where they can) */
  int padded_copies;           /* CLGAN_PADDED_COPIES=0 sets -1: BatchNorms write no padded
                                  copies for the convs next to them, which then run padding
                                  kernels (benchmarks; 0: where the convs read them) */
  int winograd;                /* CLGAN_WINOGRAD=1 sets 1: the Winograd forward wherever it
                                  applies, on any device; =0 sets -1: nowhere (0: the
                                  engine's choice, CPUs) */
  size_t adjoint_chunk_floats; /* col floats per chunk of the conv adjoint (0: CPUs 4M,
                                  GPUs all images at once) */
  size_t bn_local;             /* BatchNorm work-group size (0: the device's) */
  size_t augment_local;        /* augmentation reductions' work-group size (0: the device's) */
  size_t metrics_local;        /* metrics kernels' work-group cap (0: the device's) */
  int metrics_sort;            /* 1 radix, 2 bitonic (0: per device) */
  int metrics_nn_segments;     /* nearest-neighbour search segments (0: per device) */
  int metrics_swd_chunk;       /* SWD pyramid images per pass (0: as memory allows) */
  char kernel_dir[512];        /* CLGAN_KERNEL_DIR: build kernels from DIR/<name>.cl
                                  instead of the embedded copies ("" : embedded) */
  int cache_off;               /* CLGAN_CACHE=0|off: no disk cache */
  char cache_dir[1024];        /* CLGAN_CACHE_DIR, else $XDG_CACHE_HOME/clgan or
                                  ~/.cache/clgan ("" with no home: no disk cache) */
  clgan_tune_mode tune;        /* CLGAN_TUNE=cached|on|retune|off (see clgan_tune_mode) */
  double tune_budget_s;        /* CLGAN_TUNE_BUDGET=S: seconds of searching per context
                                  (0: 10 on CPUs, 60 on GPUs) */
  char tune_dir[1024];         /* CLGAN_TUNE_DIR: where tuned winners live ("": the
                                  cache directory beside the kernel binaries) */
  clgan_kernel_class kernel_class; /* CLGAN_KERNEL_CLASS=cpu|gpu: make the kernel choices
                                      for that class of device (device: its own) */
} clgan_tuning;

/* Fills t from the environment (the variables named above; unset ones give
 * 0). INVALID, naming the variable, for a value it cannot parse. */
clgan_status clgan_tuning_from_env(clgan_tuning *t);

/* What the tuner reports while it searches (the library prints nothing). */
typedef struct clgan_tune_progress {
  const char *shape;      /* the conv shape being tuned ("conv 3->64 k4 s2 p1 64x64 n128") */
  const char *product;    /* "forward", "backward data", "weight gradient", or "forward +
                             weight gradient" (winners confirmed together) */
  const char *candidate;  /* "own 8x32 4x16 image", "clblast col", ... */
  double ms;              /* its median time (ms), < 0 when it failed or was rejected */
  int valid;              /* passed the reference check */
  double elapsed_s, budget_s; /* of this context's search */
} clgan_tune_progress;
typedef void (*clgan_tune_progress_fn)(void *user, const clgan_tune_progress *p);

typedef struct clgan_ctx_options {
  const char *device;          /* device spec as for clgan_device_pick */
  int profiling;               /* create the queue with profiling enabled */
  const clgan_tuning *tuning;  /* NULL: clgan_tuning_from_env */
  clgan_tune_progress_fn tune_progress; /* NULL: silent */
  void *tune_user;             /* passed to tune_progress */
} clgan_ctx_options;

typedef struct clgan_ctx clgan_ctx;

/* Creates a context and an in-order queue on the chosen device. opts may be
 * NULL (defaults). On failure *out is NULL and the error detail is set. */
clgan_status clgan_ctx_create(const clgan_ctx_options *opts, clgan_ctx **out);
/* Releases everything the context owns. Accepts NULL. */
void clgan_ctx_destroy(clgan_ctx *ctx);

const clgan_device_info *clgan_ctx_device(const clgan_ctx *ctx);
/* Whether the context's kernel choices are a CPU's, a GPU's: the device's
 * class unless its tuning's kernel_class names another (then a GPU's paths
 * run on a CPU device, or the reverse; the device itself is unchanged). */
int clgan_ctx_cpu_paths(const clgan_ctx *ctx);
int clgan_ctx_gpu_paths(const clgan_ctx *ctx);
cl_context clgan_ctx_cl_context(const clgan_ctx *ctx);
cl_command_queue clgan_ctx_queue(const clgan_ctx *ctx);

/* After freezing, a request for a kernel not yet created fails with
 * CLGAN_ERR_FROZEN: the guard that keeps kernel creation out of training steps. */
void clgan_ctx_freeze(clgan_ctx *ctx, int frozen);

/* Returns the kernel `kernel_name` of program `source` (a file name in cl/,
 * without ".cl") built with `options` (may be NULL). Programs and kernels are
 * created once per context and reused; builds go through the disk cache. */
clgan_status clgan_kernel_get(clgan_ctx *ctx, const char *source,
                              const char *options, const char *kernel_name,
                              cl_kernel *out);

/* OpenCL objects a context has created so far through the runtime
 * (clgan_buf_alloc, program builds, kernels). A planned training step
 * creates none: tests compare the counts before and after steps. (CLBlast's
 * own objects are not counted; it gets its workspace from the context.) */
typedef struct clgan_ctx_counts {
  long buffers, programs, kernels;
} clgan_ctx_counts;
void clgan_ctx_created(const clgan_ctx *ctx, clgan_ctx_counts *out);

/* Commands a context has issued so far: kernel launches (a CLBlast SGEMM
 * counts as one), and the host's synchronisations with the queue: blocking
 * reads, blocking writes and finishes. Benchmarks take differences. */
typedef struct clgan_ctx_activity {
  long launches;
  long blocking_reads, blocking_writes, finishes;
  long event_waits;          /* waits for one command (clgan_event_wait) */
} clgan_ctx_activity;
void clgan_ctx_activity_get(const clgan_ctx *ctx, clgan_ctx_activity *out);

/* What the plan-time tuner did on a context: one record per conv shape
 * planned (in plan order; a shape planned twice has two records). */
#define CLGAN_TUNE_MAX_RECORDS 64
typedef struct clgan_tune_record {
  char shape[64];          /* as in clgan_tune_progress */
  char winner[3][40];      /* forward, backward data, weight gradient: the variant used */
  double winner_ms[3];     /* its median time when measured (0: not measured here) */
  double default_ms[3];    /* the default variant's (0: not measured) */
  int source;              /* 0 defaults (tuning off, forced, or budget spent),
                              1 from the cache, 2 tuned now */
  int timed, rejected;     /* candidates timed / refused by the reference check */
  int skipped;             /* candidates not tried: their family was far behind */
  double seconds;          /* spent tuning this shape */
} clgan_tune_record;
typedef struct clgan_tune_report {
  int nshapes;             /* conv shapes planned */
  int nrecords;            /* records kept (the first CLGAN_TUNE_MAX_RECORDS shapes) */
  clgan_tune_record records[CLGAN_TUNE_MAX_RECORDS];
  long timed, rejected;    /* candidates timed / rejected, all shapes */
  long skipped;            /* candidates skipped with their family, all shapes */
  int from_cache, tuned;   /* shapes whose winners came from the cache / were tuned */
  double seconds;          /* spent tuning, all shapes */
} clgan_tune_report;
/* Copies the context's tuner report (all zero before any conv plan). */
void clgan_ctx_tune_report(const clgan_ctx *ctx, clgan_tune_report *out);
/* The tuner's name for a mode: "cached", "on", "retune", "off". */
const char *clgan_tune_mode_name(clgan_tune_mode mode);

/* Seconds spent building programs in this context (compile or cache load),
 * and how many builds came from the disk cache vs the compiler. */
double clgan_ctx_build_seconds(const clgan_ctx *ctx);
void clgan_ctx_build_counts(const clgan_ctx *ctx, int *from_cache, int *compiled);

/* The device's single-precision FMA peak in GFLOP/s, measured with a small
 * kernel on first use and remembered in the cache directory. */
clgan_status clgan_ctx_peak_gflops(clgan_ctx *ctx, double *gflops);
/* Measures the peak again (*now, when not NULL: this measurement) and keeps
 * the higher of it and the one remembered: other work on the device while
 * the peak was measured can only have lowered it, so a remembered peak that
 * a run exceeds was measured on a busy device. *gflops: the peak kept. */
clgan_status clgan_ctx_peak_remeasure(clgan_ctx *ctx, double *now, double *gflops);

/* The context's tuning (fixed at creation, see clgan_tuning). */
const clgan_tuning *clgan_ctx_tuning(const clgan_ctx *ctx);
/* Replaces the tuning of a context that is not frozen (tests that run every
 * variant on one context); the choices take effect from the next plan. */
clgan_status clgan_ctx_set_tuning(clgan_ctx *ctx, const clgan_tuning *t);

/* Blocks until the queue is empty. */
clgan_status clgan_ctx_finish(clgan_ctx *ctx);

/* The disk cache directory a tuning names: "" when the cache is off
 * (CLGAN_CACHE=0) or no directory is known, else t->cache_dir. A context's
 * is clgan_cache_dir(clgan_ctx_tuning(ctx)). */
const char *clgan_cache_dir(const clgan_tuning *t);

/* ---- Device float buffers -------------------------------------------------
 * A float array on the device: a buffer, an offset counted in floats (so
 * parameters can live side by side in one arena, one Adam launch), and the
 * floats from that offset to the end of the buffer (0: unknown, for a struct
 * filled by hand; the helpers then check nothing). */
typedef struct clgan_buf {
  cl_mem mem;
  size_t off;
  size_t floats;
} clgan_buf;

/* The rest of b from `floats` on (a view of the remainder; its size is 0,
 * unknown, when b's is unknown or `floats` reaches past it). */
static inline clgan_buf clgan_buf_at(clgan_buf b, size_t floats) {
  clgan_buf r = {b.mem, b.off + floats, b.floats > floats ? b.floats - floats : 0};
  return r;
}

/* Allocates `floats` floats (out->floats = floats, at least 1). */
clgan_status clgan_buf_alloc(clgan_ctx *ctx, size_t floats, clgan_buf *out);
void clgan_buf_release(clgan_buf *b);
/* Blocking transfers, and enqueued fill and copy, of the first `floats`
 * floats of the views; INVALID when a view of known size is shorter. */
clgan_status clgan_buf_write(clgan_ctx *ctx, clgan_buf dst, const float *src, size_t floats);
clgan_status clgan_buf_read(clgan_ctx *ctx, clgan_buf src, float *dst, size_t floats);
clgan_status clgan_fill(clgan_ctx *ctx, clgan_buf dst, size_t floats, float value);
clgan_status clgan_copy(clgan_ctx *ctx, clgan_buf src, clgan_buf dst, size_t floats);
/* Non-blocking transfers: enqueued behind the work before them, they return
 * at once. A write's src must stay unchanged, and a read's dst unread,
 * until the queue has passed them: for a read, until clgan_event_wait on
 * *done (a new event the caller owns); for a write, until any later
 * blocking call or waited event. */
clgan_status clgan_buf_write_enqueue(clgan_ctx *ctx, clgan_buf dst, const float *src,
                                     size_t floats);
clgan_status clgan_buf_read_enqueue(clgan_ctx *ctx, clgan_buf src, float *dst, size_t floats,
                                    cl_event *done);
/* Waits for an event's command and releases the event (*ev = NULL);
 * accepts a NULL event. */
clgan_status clgan_event_wait(clgan_ctx *ctx, cl_event *ev);

/* Device memory for data that is not floats (index lists) or is only read by
 * kernels (an uploaded dataset): `bytes` bytes, read-only for kernels, filled
 * from init when it is not NULL. Writes block; release accepts NULL and a
 * NULL handle and sets *m to NULL. */
clgan_status clgan_mem_alloc(clgan_ctx *ctx, size_t bytes, const void *init, cl_mem *out);
/* The same for memory that kernels write and the host reads back (results). */
clgan_status clgan_mem_alloc_output(clgan_ctx *ctx, size_t bytes, cl_mem *out);
clgan_status clgan_mem_write(clgan_ctx *ctx, cl_mem dst, size_t offset, const void *src,
                             size_t bytes);
clgan_status clgan_mem_read(clgan_ctx *ctx, cl_mem src, size_t offset, void *dst, size_t bytes);
/* Bytes of a device memory object (0 when it is not one). */
size_t clgan_mem_bytes(cl_mem m);
void clgan_mem_release(cl_mem *m);

/* Creates a directory and its missing parents (like mkdir -p). Fails with
 * CLGAN_ERR_IO naming the path when it cannot, or when it exists and is not
 * a directory. */
clgan_status clgan_make_dirs(const char *path);

/* ---- Per-kernel profiling (contexts created with options.profiling = 1) ---
 * Every kernel launch records an OpenCL event under the current region (the
 * layer and pass: "G3 fwd", "D2 bwd", "loss", "D update", "G update";
 * "other" before any) until collected; CLBlast's SGEMM records the event
 * of its last kernel. Capacity is fixed (CLGAN_PROFILE_CAPACITY launches
 * between collects); launches beyond it are counted as dropped. */
#define CLGAN_PROFILE_CAPACITY 16384
#define CLGAN_PROFILE_MAX_NAMES 64

typedef struct clgan_profile_item {
  char name[40];
  double seconds;  /* summed CL_PROFILING_COMMAND_END - START */
  long launches;
} clgan_profile_item;

typedef struct clgan_profile_report {
  int nregions, nkernels;   /* names seen so far (some may have 0 launches now) */
  clgan_profile_item regions[CLGAN_PROFILE_MAX_NAMES];
  clgan_profile_item kernels[CLGAN_PROFILE_MAX_NAMES];
  double cell_seconds[CLGAN_PROFILE_MAX_NAMES][CLGAN_PROFILE_MAX_NAMES]; /* [region][kernel] */
  long events;              /* launches timed */
  long dropped;             /* launches not recorded (capacity reached) */
  double busy_seconds;      /* sum over every event */
  double span_seconds;      /* first start to last end */
} clgan_profile_report;

/* Waits for the queue, reads every recorded event's start and end, sums them
 * per region, per kernel and per (region, kernel), releases the events and
 * starts recording afresh. INVALID on a context created without profiling. */
clgan_status clgan_ctx_profile_collect(clgan_ctx *ctx, clgan_profile_report *out);

/* Device bytes held by the context itself (the GEMM packing workspace),
 * besides the buffers its users allocate. */
size_t clgan_ctx_workspace_bytes(const clgan_ctx *ctx);

/* Embedded kernel source by name (without ".cl"), or NULL. (When the
 * context's tuning names a kernel_dir, CLGAN_KERNEL_DIR, programs are built
 * from "<kernel_dir>/<name>.cl" instead, for kernel development.) */
const char *clgan_embedded_source(const char *name);

#ifdef __cplusplus
}
#endif
#endif
