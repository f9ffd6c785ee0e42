/* `clgan bench`: the seed's training step on synthetic data, per device:
 * step time, img/s, effective GFLOP/s and fraction of the measured peak,
 * cold / warm start-up, device memory and a per-layer profile; a table side
 * by side for several devices; --json for scripts. Measurement code lives in
 * bench/bench_step.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "outfiles.h"
#include "bench/bench.h"
#include "bench_report.h"
#include "bench_dist.h"
#include "dist_cli.h"
#include "commands.h"

#define MAX_DEVICES 32

static const char head[] =
    "usage: clgan bench [options]\n\n"
    "Times the DCGAN tutorial's training step (D on real, G, D on fake, D step, G step)\n"
    "on synthetic data (a uniform [-1, 1] batch and normal noise, uploaded once):\n"
    "warm-up steps, then timed steps each ended by clFinish. Per device it prints the\n"
    "median ms per step, the host's time to enqueue a step, img/s, effective GFLOP/s (the\n"
    "model's FLOP count / median time), the fraction of the device's measured FMA peak,\n"
    "process start-up to the first step done with a cold and with a warm kernel cache,\n"
    "device memory, and a per-layer breakdown from OpenCL profiling events (one extra\n"
    "step on a profiling context).\n\n";
static const char *const gemm_names[] = {"auto", "own", "clblast", "lds", NULL};
static const int gemm_values[] = {CLGAN_GEMM_AUTO, CLGAN_GEMM_OWN, CLGAN_GEMM_CLBLAST,
                                  CLGAN_GEMM_LDS};

/* ---- progress on stderr --------------------------------------------------- */

typedef struct progress_state {
  int tty;
  char label[64];
} progress_state;

static void on_progress(void *user, const char *phase, int i, int n) {
  progress_state *p = user;
  char what[64];
  if (strcmp(phase, "setup") == 0)
    snprintf(what, sizeof what, "setting up (model, kernels)");
  else if (strcmp(phase, "profile") == 0)
    snprintf(what, sizeof what, i < n ? "profiled step" : "profiled step done");
  else if (n <= 0)
    snprintf(what, sizeof what, "%s", phase);
  else
    snprintf(what, sizeof what, "%s %d/%d", phase, i, n);
  if (p->tty)
    fprintf(stderr, "\r\033[K%s: %s", p->label, what);
  else
    fprintf(stderr, "%s: %s\n", p->label, what);
  fflush(stderr);
}

static void progress_clear(const progress_state *p) {
  if (p->tty) fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

/* ---- the command ---------------------------------------------------------- */

static int set_config(const char *name, clgan_dcgan_config *cfg) {
  *cfg = clgan_dcgan_default_config(); /* the tutorial: 64 px, 3 ch, 64/64, batch 128, nz 100 */
  if (strcmp(name, "tutorial") == 0) return 1;
  if (strcmp(name, "gray32") == 0) {
    cfg->image_size = 32;
    cfg->channels = 1;
    cfg->batch = 64;
    cfg->ngf = cfg->ndf = 32;
    cfg->nz = 100;
    return 1;
  }
  return 0;
}

/* Resolves --device into flat device indices. */
static int resolve_devices(const char *spec, int *out, char names[][128]) {
  clgan_device_info *list = NULL;
  int count = 0;
  clgan_status st = clgan_devices_list(&list, &count);
  if (st != CLGAN_OK) {
    cli_report("bench", st, "cannot list OpenCL devices");
    return -1;
  }
  int n = 0;
  if (spec && strcasecmp(spec, "all") == 0) {
    for (int i = 0; i < count && n < MAX_DEVICES; i++) out[n++] = i;
  } else if (!spec || !strchr(spec, ',')) {
    int i = clgan_device_pick(list, count, spec);
    if (i >= 0) out[n++] = i;
    else st = CLGAN_ERR_NO_DEVICE;
  } else {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n < MAX_DEVICES && st == CLGAN_OK;
         tok = strtok_r(NULL, ",", &save)) {
      int i = clgan_device_pick(list, count, tok);
      if (i >= 0) out[n++] = i;
      else st = CLGAN_ERR_NO_DEVICE;
    }
  }
  if (st != CLGAN_OK) {
    cli_report("bench", st, "no such device");
    free(list);
    return -1;
  }
  for (int i = 0; i < n; i++) snprintf(names[i], 128, "%s", list[out[i]].name);
  free(list);
  if (n == 0) fprintf(stderr, "clgan bench: no OpenCL device found\n");
  return n;
}

/* Child arguments for a start-up run with the same model on device index. */
static void startup_argv(char *exe, const bench_options *o, int index, char store[][32],
                         char **argv) {
  const clgan_dcgan_config *c = &o->cfg;
  int n = 0, s = 0;
  argv[n++] = exe;
  argv[n++] = "bench";
  argv[n++] = "--internal-startup";
#define ARG(flag, fmt, val)                            \
  do {                                                 \
    argv[n++] = flag;                                  \
    snprintf(store[s], sizeof store[s], fmt, val);     \
    argv[n++] = store[s++];                            \
  } while (0)
  ARG("--device", "%d", index);
  int nf;
  const clgan_config_field *f = clgan_config_fields(&nf);
  for (int i = 0; i < nf; i++) /* the shape options, from the configuration list */
    if (f[i].group == CLGAN_CFG_SHAPE) {
      argv[n++] = (char *)f[i].flag;
      clgan_config_format(&f[i], c, store[s++], sizeof store[0]);
      argv[n++] = store[s - 1];
    }
  ARG("--seed", "%llu", (unsigned long long)o->seed);
  ARG("--gemm", "%s", clgan_gemm_backend_name(o->tuning.gemm));
#undef ARG
  argv[n] = NULL;
}

/* Model options given on the command line (-1: not given) over cfg. */
static int apply_overrides(const clgan_dcgan_config *given, clgan_dcgan_config *cfg) {
  int nf, custom = 0;
  const clgan_config_field *f = clgan_config_fields(&nf);
  for (int i = 0; i < nf; i++) {
    if (f[i].group != CLGAN_CFG_SHAPE) continue;
    int v = *(const int *)((const char *)given + f[i].offset);
    int *dst = (int *)((char *)cfg + f[i].offset);
    if (v >= 0 && v != *dst) *dst = v, custom = 1;
  }
  return custom;
}

/* What `clgan bench` was asked for. */
typedef struct bench_args {
  bench_options o;
  char config_name[64];
  const char *device, *json_path;
  int startup, internal;
  int scaling;                /* --scaling: one rank, then every rank (bench_dist.c) */
} bench_args;

/* Options into *b; -1 to go on, else the exit code. */
static int parse_bench(const char *cmd, int argc, char **argv, bench_args *b) {
  const char *config = "tutorial", *device = NULL, *json_path = NULL;
  long steps = 10, warmup = 2, seed = 999;
  int internal = 0, gemm = CLGAN_GEMM_AUTO, no_startup = 0, no_profile = 0, scaling = 0;
  int overwrite = 0, region_kernels = 0;
  clgan_dcgan_config given;
  memset(&given, 0xff, sizeof given); /* every shape field -1: not given */
  cli_opt shape[CLI_MODEL_MAX];
  cli_model_options(&given, CLGAN_CFG_SHAPE, shape);
  for (int i = 0; shape[i].kind != CLI_END; i++) shape[i].help = NULL; /* listed as one row */
  const cli_opt opts[] = {
      CLI_STR_OPT("--config", "NAME", &config,
                  "tutorial (64 px, 3 channels, batch 128, ngf = ndf = 64, nz 100;\n"
                  "the default) or gray32 (32 px, 1 channel, batch 64,\n"
                  "ngf = ndf = 32, nz 100)"),
      CLI_OPT_TEXT("  --size N --channels C --nz N --ngf N --ndf N --batch N\n"
                   "                        override the configuration (as in `clgan train`)"),
      CLI_OPT_INCLUDE(shape),
      CLI_STR_OPT("--device", "SPEC", &device,
                  "a device (index, P:D, gpu, cpu or a name part), a comma-\n"
                  "separated list (0,1), or all (default: the default device)"),
      CLI_LONG_OPT("--steps", "N", &steps, 1, 1000000, "timed steps (10)"),
      CLI_LONG_OPT("--warmup", "N", &warmup, 0, 1000000, "warm-up steps before them (2)"),
      CLI_CHOICE_OPT("--gemm", "BACKEND", &gemm, gemm_names, gemm_values,
                     "auto (default), own, clblast or lds (its default set)"),
      CLI_OPT_SEED(&seed, "seed of the weights and the synthetic data (999)"),
      CLI_FLAG_OPT("--no-startup", &no_startup,
                   "skip the cold / warm start-up runs (child processes)"),
      CLI_FLAG_OPT("--no-profile", &no_profile,
                   "skip the profiled step and the per-layer breakdown"),
      CLI_FLAG_OPT("--kernels", &region_kernels,
                   "after the per-layer breakdown, each layer pass's kernels\n"
                   "(fwd, bwd, the updates), slowest first"),
      CLI_FLAG_OPT("--scaling", &scaling,
                   "under mpirun: one rank with the global --batch first, then\n"
                   "every rank with its share; the scaling efficiency"),
      CLI_STR_OPT("--json", "FILE", &json_path,
                  "also write the figures as a JSON array, one object per device"),
      CLI_FLAG_OPT("--overwrite", &overwrite, "replace an existing --json file"),
      CLI_FLAG_OPT("--internal-startup", &internal, NULL), /* the child of a start-up run */
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  /* checked before minutes of measuring, not after */
  if (!internal && !cli_keep_file(cmd, "--json", json_path, overwrite)) return 2;
  *b = (bench_args){.device = device, .json_path = json_path, .startup = !no_startup,
                     .internal = internal, .scaling = scaling};
  bench_options *o = &b->o;
  *o = (bench_options){.steps = (int)steps,
                       .warmup = (int)warmup,
                       .profile = !no_profile,
                       .region_kernels = region_kernels,
                       .seed = (uint64_t)seed};
  clgan_status tst = clgan_tuning_from_env(&o->tuning);
  if (tst != CLGAN_OK) {
    cli_report(cmd, tst, "cannot read the tuning variables");
    return 2;
  }
  if (gemm != CLGAN_GEMM_AUTO) o->tuning.gemm = (clgan_gemm_backend)gemm;
  if (!set_config(config, &o->cfg)) {
    fprintf(stderr, "clgan bench: unknown --config '%s': use tutorial or gray32\n", config);
    return 2;
  }
  int custom = apply_overrides(&given, &o->cfg);
  if (!cli_check_config(cmd, &o->cfg)) return 2;
  snprintf(b->config_name, sizeof b->config_name, "%s%s", config, custom ? "+custom" : "");
  o->config_name = b->config_name;
  return -1;
}

int cmd_bench(int argc, char **argv) {
  const char *cmd = "bench";
  bench_args b;
  int parsed = parse_bench(cmd, argc, argv, &b);
  if (parsed != -1) return parsed;
  bench_options o = b.o;
  const char *device = b.device;
  /* several ranks (mpirun), or the one-rank reference: bench_dist.c */
  if (clgan_dist_active(cli_dist()) || b.scaling)
    return bench_dist(&o, device, b.json_path, b.scaling);
  int startup = b.startup;

  if (b.internal) { /* a start-up run: one line for the parent on stdout */
    double done = 0;
    bench_startup s;
    clgan_status st = bench_first_step(device, &o, &done, &s);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "start-up run failed");
      return 1;
    }
    printf("%s %.6f %.6f %d %d\n", BENCH_STARTUP_TAG, done, s.build_s, s.cached, s.compiled);
    return 0;
  }

  int indices[MAX_DEVICES];
  char names[MAX_DEVICES][128];
  int ndev = resolve_devices(device, indices, names);
  if (ndev <= 0) return 1;
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0 && startup) {
    fprintf(stderr, "clgan bench: cannot find this executable (/proc/self/exe); start-up runs "
                    "skipped\n");
    startup = 0;
  }
  if (len > 0) exe[len] = '\0';
  device_run *runs = calloc((size_t)ndev, sizeof *runs);
  if (!runs) return 1;
  progress_state ps = {.tty = isatty(STDERR_FILENO)};
  o.progress = on_progress;
  o.user = &ps;
  int failed = 0;
  for (int i = 0; i < ndev; i++) {
    device_run *d = &runs[i];
    d->index = indices[i];
    snprintf(d->name, sizeof d->name, "%.127s", names[i]);
    snprintf(ps.label, sizeof ps.label, "clgan bench [%d/%d] device %d", i + 1, ndev, d->index);
    char spec[16];
    snprintf(spec, sizeof spec, "%d", d->index);
    d->busy = busy_cores_before();
    d->status = bench_run(spec, &o, &d->r);
    d->measured = d->r.ms_median > 0;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) d->max_rss = (double)ru.ru_maxrss * 1024.0; /* KiB */
    if (d->status != CLGAN_OK) {
      snprintf(d->error, sizeof d->error, "%s: %s", clgan_status_str(d->status),
               clgan_last_error());
      failed = 1;
    }
    /* Start-up in child processes, after this process released the device:
     * cold (empty kernel caches), then warm (the caches the run above filled). */
    for (int w = 0; w < 2 && startup && d->measured; w++) {
      on_progress(&ps, w ? "start-up run, warm cache" : "start-up run, cold cache (compiles)", 0,
                  0);
      char store[12][32];
      char *cargv[32];
      startup_argv(exe, &o, d->index, store, cargv);
      clgan_status st = bench_spawn_startup(cargv, w == 0, &d->startup[w]);
      if (st == CLGAN_OK)
        d->startup_done[w] = 1;
      else
        snprintf(d->startup_error[w], sizeof d->startup_error[w], "%s", clgan_last_error());
    }
    progress_clear(&ps);
    print_device(d, &o);
    fflush(stdout);
  }
  if (ndev > 1) print_table(runs, ndev);
  int rc = failed ? 1 : 0;
  if (b.json_path) {
    json_t *arr = json_array();
    for (int i = 0; i < ndev; i++) json_array_append_new(arr, run_json(&runs[i], &o));
    if (json_dump_file(arr, b.json_path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
      fprintf(stderr, "clgan bench: cannot write %s\n", b.json_path);
      rc = 1;
    }
    json_decref(arr);
  }
  for (int i = 0; i < ndev; i++) bench_result_free(&runs[i].r);
  free(runs);
  return rc;
}
