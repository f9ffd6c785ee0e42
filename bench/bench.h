/* Measurement code of `clgan bench`: the seed's training step on synthetic
 * data on one device (timed steps, one profiled step, memory), and the
 * start-up measurement in a child process with a cold or a warm cache. The
 * command (src/cli/bench.c) parses flags, prints and writes JSON. */
#ifndef CLGAN_BENCH_H
#define CLGAN_BENCH_H

#include "clgan/clgan.h"

#define BENCH_MAX_LAYERS 32

typedef struct bench_options {
  clgan_dcgan_config cfg;
  const char *config_name;   /* "tutorial", "gray32" or "custom" (reports only) */
  int steps;                 /* timed steps (>= 1) */
  int warmup;                /* untimed steps before them (>= 0; the first builds kernels) */
  int profile;               /* 1: one profiled step on a second, profiling context */
  int region_kernels;        /* 1: the report lists each region's kernels (--kernels) */
  clgan_tuning tuning;       /* the contexts' (from the environment; --gemm sets .gemm) */
  uint64_t seed;             /* weights and synthetic data */
  /* progress: phase ("setup", "warm-up", "step", "profile"), i of n */
  void (*progress)(void *user, const char *phase, int i, int n);
  void *user;
} bench_options;

/* One layer's kernel time in the profiled step, summed over its passes
 * (D runs three forwards and three backwards per step). */
typedef struct bench_layer {
  char name[16];             /* "G1" .. "D5", in the model summary's order */
  char desc[96];             /* "ConvTranspose2d(100, 512, 4, 1, 0) BN ReLU" */
  double gflop_fwd;          /* forward conv FLOPs of the layer, whole batch */
  double fwd_ms, bwd_ms;
} bench_layer;

typedef struct bench_result {
  clgan_device_info dev;
  const char *gemm_backend;  /* "own" / "clblast" */
  double flops_per_step;     /* clgan_dcgan_step_flops */
  double ms_median, ms_min, ms_max;
  double host_ms_median;     /* the host's time to enqueue a step (0: fewer than 2 steps) */
  double img_per_s, gflops;  /* from the median */
  double peak_gflops, peak_fraction; /* 0 when the peak could not be measured */
  double peak_stale;         /* the remembered peak this run exceeded (then re-measured), or 0 */
  size_t model_bytes, workspace_bytes, data_bytes, peak_bytes;
  double setup_s;            /* this process: context to first step done (caches as they are) */
  float loss_d, loss_g;      /* of the last timed step (finite: the step computes) */
  /* profiled step (profile == 1) */
  int profiled;
  double profile_wall_ms;    /* wall time of the profiled step (with profiling on) */
  int nlayers;
  bench_layer layers[BENCH_MAX_LAYERS];
  clgan_profile_report *profile; /* malloc'd; NULL unless profiled */
  /* one step with its statistics read: kernel launches and host syncs (the
   * bench's own finish after it not counted) */
  clgan_ctx_activity per_step;
  clgan_tune_report *tune;   /* malloc'd: the plan-time tuner on the timed context */
  clgan_tune_mode tune_mode;
} bench_result;

/* Runs the benchmark on the device `device` (a spec for clgan_device_pick).
 * On failure the error detail is set and *r holds what was measured. */
clgan_status bench_run(const char *device, const bench_options *o, bench_result *r);
void bench_result_free(bench_result *r); /* frees r->profile */

/* What `clgan bench --internal-startup` does in the child: context, model,
 * weights, synthetic data, one step, clFinish. Prints nothing; returns the
 * CLOCK_MONOTONIC time when the step was done and the context's build figures. */
typedef struct bench_startup {
  double seconds;            /* parent: spawn to first step done in the child */
  double build_s;            /* child: time in program builds (compile or cache load) */
  int cached, compiled;      /* child: builds from the disk cache / from the compiler */
} bench_startup;
clgan_status bench_first_step(const char *device, const bench_options *o, double *done_monotonic,
                              bench_startup *out);
/* The child's one line on stdout: "CLGAN_STARTUP <done> <build_s> <cached> <compiled>". */
#define BENCH_STARTUP_TAG "CLGAN_STARTUP"

/* Parent: runs this executable (/proc/self/exe, else argv[0]) with argv
 * and reads the child's line. cold: with CLGAN_CACHE_DIR, POCL_CACHE_DIR and
 * CUDA_CACHE_PATH pointed at a fresh empty temporary directory (removed
 * afterwards), so that no kernel binary cache helps; otherwise with the
 * environment as it is. */
clgan_status bench_spawn_startup(char *const argv[], int cold, bench_startup *out);

/* Monotonic seconds (CLOCK_MONOTONIC, comparable across processes). */
double bench_now(void);

#endif
