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
#include "bench/bench.h"
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
static const char *const gemm_names[] = {"auto", "own", "clblast", NULL};
static const int gemm_values[] = {CLGAN_GEMM_AUTO, CLGAN_GEMM_OWN, CLGAN_GEMM_CLBLAST};

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

/* ---- formatting ----------------------------------------------------------- */

static void fmt_bytes(char *buf, size_t cap, double b) {
  if (b >= 1 << 30)
    snprintf(buf, cap, "%.2f GiB", b / (1 << 30));
  else if (b >= 1 << 20)
    snprintf(buf, cap, "%.1f MiB", b / (1 << 20));
  else
    snprintf(buf, cap, "%.1f KiB", b / 1024);
}

typedef struct device_run {
  int index;                 /* flat device index */
  double busy;               /* cores busy with other work just before it (-1: unknown) */
  double max_rss;            /* this process's maximum resident set after the run (bytes) */
  char name[128];
  clgan_status status;
  char error[512];
  bench_result r;
  int measured;              /* bench_run succeeded */
  int startup_done[2];       /* cold, warm */
  bench_startup startup[2];
  char startup_error[2][256];
} device_run;

/* How many cores other processes kept busy during the second before a run
 * (from /proc/stat, while this process sleeps), or -1 when unknown. */
static int cpu_jiffies(unsigned long long *busy, unsigned long long *total) {
  FILE *f = fopen("/proc/stat", "r");
  unsigned long long v[8] = {0};
  int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                     &v[3], &v[4], &v[5], &v[6], &v[7])
            : 0;
  if (f) fclose(f);
  if (n < 5) return 0;
  *total = 0;
  for (int i = 0; i < 8; i++) *total += v[i];
  *busy = *total - v[3] - v[4]; /* minus idle and iowait */
  return 1;
}

static double busy_cores_before(void) {
  unsigned long long b0, t0, b1, t1;
  if (!cpu_jiffies(&b0, &t0)) return -1;
  struct timespec ts = {1, 0};
  nanosleep(&ts, NULL);
  if (!cpu_jiffies(&b1, &t1) || t1 <= t0) return -1;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return (double)(b1 - b0) / (double)(t1 - t0) * (double)(cores > 0 ? cores : 1);
}

static int cmp_item_desc(const void *x, const void *y) {
  const clgan_profile_item *a = x, *b = y;
  return a->seconds < b->seconds ? 1 : a->seconds > b->seconds ? -1 : 0;
}

/* Kernels of the profiled step, slowest first (static array: 64 items). */
static int sorted_kernels(const clgan_profile_report *p, clgan_profile_item *out) {
  int n = 0;
  for (int i = 0; i < p->nkernels; i++)
    if (p->kernels[i].launches > 0) out[n++] = p->kernels[i];
  qsort(out, (size_t)n, sizeof *out, cmp_item_desc);
  return n;
}

static double region_ms(const clgan_profile_report *p, const char *name) {
  for (int i = 0; i < p->nregions; i++)
    if (strcmp(p->regions[i].name, name) == 0) return p->regions[i].seconds * 1e3;
  return 0;
}

/* Kernel time outside the layers, the loss and the updates. */
static double other_ms(const bench_result *r) {
  const clgan_profile_report *p = r->profile;
  double known = region_ms(p, "loss") + region_ms(p, "D update") + region_ms(p, "G update");
  for (int i = 0; i < r->nlayers; i++) known += r->layers[i].fwd_ms + r->layers[i].bwd_ms;
  double o = p->busy_seconds * 1e3 - known;
  return o > 0 ? o : 0;
}

static void print_profile(const bench_result *r) {
  const clgan_profile_report *p = r->profile;
  double busy = p->busy_seconds * 1e3;
  printf("per layer: kernel time of one profiled step from OpenCL events (D's rows sum its three\n"
         "forward and three backward passes: real, fake, and fake again for G's step)\n");
  printf("  %-9s %-44s %9s %9s %9s %6s\n", "layer", "module", "fwd ms", "bwd ms", "total ms",
         "share");
  for (int i = 0; i < r->nlayers; i++) {
    const bench_layer *l = &r->layers[i];
    double t = l->fwd_ms + l->bwd_ms;
    printf("  %-9s %-44s %9.2f %9.2f %9.2f %5.1f%%\n", l->name, l->desc, l->fwd_ms, l->bwd_ms, t,
           busy > 0 ? 100 * t / busy : 0);
  }
  static const char *const rows[3][2] = {
      {"loss", "BCE from the logits (3x)"}, {"D update", "Adam over D's parameter arena"},
      {"G update", "Adam over G's parameter arena"}};
  for (int i = 0; i < 3; i++) {
    double t = region_ms(p, rows[i][0]);
    printf("  %-9s %-44s %9s %9s %9.2f %5.1f%%\n", rows[i][0], rows[i][1], "", "", t,
           busy > 0 ? 100 * t / busy : 0);
  }
  double o = other_ms(r);
  if (o > 0.005)
    printf("  %-9s %-44s %9s %9s %9.2f %5.1f%%\n", "other", "", "", "", o,
           busy > 0 ? 100 * o / busy : 0);
  printf("  kernel time %.1f ms in %ld launches; the profiled step took %.1f ms wall (%.0f%% of "
         "it in kernels)%s\n",
         busy, p->events, r->profile_wall_ms,
         r->profile_wall_ms > 0 ? 100 * busy / r->profile_wall_ms : 0,
         p->dropped ? " (some launches were not recorded: capacity)" : "");
  clgan_profile_item k[CLGAN_PROFILE_MAX_NAMES];
  int nk = sorted_kernels(p, k), clblast = 0;
  printf("  top kernels:");
  for (int i = 0; i < nk && i < 6; i++)
    printf("%s %s %.1f%% (%.1f ms, %ld)", i ? "," : "", k[i].name,
           busy > 0 ? 100 * k[i].seconds * 1e3 / busy : 0, k[i].seconds * 1e3, k[i].launches);
  printf("\n");
  for (int i = 0; i < nk; i++) clblast |= strcmp(k[i].name, "clblast_sgemm") == 0;
  if (clblast)
    printf("  (clblast_sgemm is the last kernel of each CLBlast SGEMM only: it may run several, "
           "which the wall time includes)\n");
}

static void print_device(const device_run *d, const bench_options *o) {
  const bench_result *r = &d->r;
  const clgan_dcgan_config *c = &o->cfg;
  const clgan_device_info *dev = &r->dev;
  printf("\n== device %d: %s (%s, %s, %u compute units)\n", d->index, d->name,
         dev->platform_name, dev->is_gpu ? "GPU" : dev->is_cpu ? "CPU" : "accelerator",
         dev->compute_units);
  printf("config %s: %dx%d, %d channel%s, nz %d, ngf %d, ndf %d, batch %d; %.3g GFLOP per image "
         "per step; GEMM backend %s\n",
         o->config_name, c->image_size, c->image_size, c->channels, c->channels == 1 ? "" : "s",
         c->nz, c->ngf, c->ndf, c->batch, r->flops_per_step / c->batch * 1e-9,
         r->gemm_backend ? r->gemm_backend : "?");
  if (d->busy >= 0.2)
    printf("note: other processes kept %.1f cores busy just before this run: they compete for "
           "the host's cores, so the timings below may be low\n",
           d->busy);
  if (!d->measured) {
    printf("FAILED: %s\n", d->error);
    return;
  }
  printf("step time:  median %.1f ms over %d steps (min %.1f, max %.1f) after %d warm-up step%s\n",
         r->ms_median, o->steps, r->ms_min, r->ms_max, o->warmup, o->warmup == 1 ? "" : "s");
  if (r->host_ms_median > 0)
    printf("host:       %.1f ms to enqueue a step (median; the device works meanwhile: near the "
           "step time, the host is the limit)\n",
           r->host_ms_median);
  if (r->peak_gflops > 0)
    printf("throughput: %.1f img/s; %.1f GFLOP/s effective = %.1f%% of the measured FMA peak "
           "(%.0f GFLOP/s)\n",
           r->img_per_s, r->gflops, 100 * r->peak_fraction, r->peak_gflops);
  else
    printf("throughput: %.1f img/s; %.1f GFLOP/s effective (FMA peak not measured)\n",
           r->img_per_s, r->gflops);
  printf("start-up:   process start to first step done:");
  for (int w = 0; w < 2; w++) {
    const bench_startup *s = &d->startup[w];
    if (d->startup_done[w])
      printf("%s %s cache %.2f s (%d program%s compiled, %d from cache, %.2f s in builds)",
             w ? ";" : "", w ? "warm" : "cold", s->seconds, s->compiled,
             s->compiled == 1 ? "" : "s", s->cached, s->build_s);
    else
      printf("%s %s cache: %s", w ? ";" : "", w ? "warm" : "cold",
             d->startup_error[w][0] ? d->startup_error[w] : "not measured");
  }
  printf("\n");
  printf("            (in this process, caches as they were: %.2f s from context to first step "
         "done)\n",
         r->setup_s);
  char total[32], model[32], ws[32], data[32];
  fmt_bytes(total, sizeof total, (double)r->peak_bytes);
  fmt_bytes(model, sizeof model, (double)r->model_bytes);
  fmt_bytes(ws, sizeof ws, (double)r->workspace_bytes);
  fmt_bytes(data, sizeof data, (double)r->data_bytes);
  char rss[32];
  fmt_bytes(rss, sizeof rss, d->max_rss);
  printf("memory:     %s on the device (model %s, GEMM workspace %s, bench data %s); this "
         "process's max resident set %s\n",
         total, model, ws, data, rss);
  if (r->profile) print_profile(r);
  if (d->status != CLGAN_OK) printf("FAILED after the timed steps: %s\n", d->error);
}

static void print_table(const device_run *runs, int n) {
  printf("\n== side by side\n");
  printf("%-3s %-36s %9s %9s %9s %7s %8s %8s %10s\n", "#", "device", "ms/step", "img/s",
         "GFLOP/s", "% peak", "cold s", "warm s", "memory");
  for (int i = 0; i < n; i++) {
    const device_run *d = &runs[i];
    char name[37];
    snprintf(name, sizeof name, "%s", d->name);
    if (!d->measured) {
      printf("%-3d %-36s failed: %s\n", d->index, name, d->error);
      continue;
    }
    const bench_result *r = &d->r;
    char cold[16] = "-", warm[16] = "-", mem[32];
    if (d->startup_done[0]) snprintf(cold, sizeof cold, "%.2f", d->startup[0].seconds);
    if (d->startup_done[1]) snprintf(warm, sizeof warm, "%.2f", d->startup[1].seconds);
    fmt_bytes(mem, sizeof mem, (double)r->peak_bytes);
    printf("%-3d %-36s %9.1f %9.1f %9.1f %6.1f%% %8s %8s %10s\n", d->index, name, r->ms_median,
           r->img_per_s, r->gflops, 100 * r->peak_fraction, cold, warm, mem);
  }
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *run_json(const device_run *d, const bench_options *o) {
  const bench_result *r = &d->r;
  const clgan_dcgan_config *c = &o->cfg;
  json_t *j = json_object();
  json_object_set_new(j, "device", json_string(d->name));
  json_object_set_new(j, "device_index", json_integer(d->index));
  json_object_set_new(j, "platform", json_string(r->dev.platform_name));
  json_object_set_new(j, "device_type",
                      json_string(r->dev.is_gpu ? "gpu" : r->dev.is_cpu ? "cpu" : "other"));
  json_object_set_new(j, "config", json_string(o->config_name));
  clgan_config_to_json(c, j); /* every field of the configuration list */
  json_object_set_new(j, "steps", json_integer(o->steps));
  json_object_set_new(j, "warmup", json_integer(o->warmup));
  json_object_set_new(j, "busy_cores_before", d->busy >= 0 ? json_real(d->busy) : json_null());
  if (!d->measured) {
    json_object_set_new(j, "error", json_string(d->error));
    return j;
  }
  json_object_set_new(j, "gemm_backend", json_string(r->gemm_backend ? r->gemm_backend : "?"));
  json_object_set_new(j, "ms_per_step", json_real(r->ms_median));
  json_object_set_new(j, "host_ms_per_step",
                      r->host_ms_median > 0 ? json_real(r->host_ms_median) : json_null());
  json_object_set_new(j, "ms_min", json_real(r->ms_min));
  json_object_set_new(j, "ms_max", json_real(r->ms_max));
  json_object_set_new(j, "img_per_s", json_real(r->img_per_s));
  json_object_set_new(j, "gflop_per_step", json_real(r->flops_per_step * 1e-9));
  json_object_set_new(j, "gflops", json_real(r->gflops));
  json_object_set_new(j, "peak_gflops", r->peak_gflops > 0 ? json_real(r->peak_gflops) : json_null());
  json_object_set_new(j, "peak_fraction",
                      r->peak_gflops > 0 ? json_real(r->peak_fraction) : json_null());
  json_object_set_new(j, "peak_bytes", json_integer((json_int_t)r->peak_bytes));
  json_object_set_new(j, "model_bytes", json_integer((json_int_t)r->model_bytes));
  json_object_set_new(j, "workspace_bytes", json_integer((json_int_t)r->workspace_bytes));
  json_object_set_new(j, "data_bytes", json_integer((json_int_t)r->data_bytes));
  json_object_set_new(j, "max_rss_bytes", json_integer((json_int_t)d->max_rss));
  json_object_set_new(j, "setup_s", json_real(r->setup_s));
  static const char *const which[2] = {"cold", "warm"};
  for (int w = 0; w < 2; w++) {
    char key[64];
    const bench_startup *s = &d->startup[w];
    snprintf(key, sizeof key, "startup_%s_s", which[w]);
    json_object_set_new(j, key, d->startup_done[w] ? json_real(s->seconds) : json_null());
    if (!d->startup_done[w]) continue;
    snprintf(key, sizeof key, "startup_%s_build_s", which[w]);
    json_object_set_new(j, key, json_real(s->build_s));
    snprintf(key, sizeof key, "startup_%s_compiled", which[w]);
    json_object_set_new(j, key, json_integer(s->compiled));
    snprintf(key, sizeof key, "startup_%s_cached", which[w]);
    json_object_set_new(j, key, json_integer(s->cached));
  }
  json_object_set_new(j, "loss_d", json_real(r->loss_d));
  json_object_set_new(j, "loss_g", json_real(r->loss_g));
  if (r->profile) {
    const clgan_profile_report *p = r->profile;
    json_t *layers = json_array();
    for (int i = 0; i < r->nlayers; i++) {
      const bench_layer *l = &r->layers[i];
      json_t *lj = json_object();
      json_object_set_new(lj, "name", json_string(l->name));
      json_object_set_new(lj, "module", json_string(l->desc));
      json_object_set_new(lj, "forward_gflop", json_real(l->gflop_fwd));
      json_object_set_new(lj, "forward_ms", json_real(l->fwd_ms));
      json_object_set_new(lj, "backward_ms", json_real(l->bwd_ms));
      json_array_append_new(layers, lj);
    }
    json_object_set_new(j, "layers", layers);
    json_object_set_new(j, "loss_ms", json_real(region_ms(p, "loss")));
    json_object_set_new(j, "d_update_ms", json_real(region_ms(p, "D update")));
    json_object_set_new(j, "g_update_ms", json_real(region_ms(p, "G update")));
    json_object_set_new(j, "other_ms", json_real(other_ms(r)));
    clgan_profile_item k[CLGAN_PROFILE_MAX_NAMES];
    int nk = sorted_kernels(p, k);
    json_t *kernels = json_array();
    for (int i = 0; i < nk; i++) {
      json_t *kj = json_object();
      json_object_set_new(kj, "name", json_string(k[i].name));
      json_object_set_new(kj, "ms", json_real(k[i].seconds * 1e3));
      json_object_set_new(kj, "launches", json_integer(k[i].launches));
      json_array_append_new(kernels, kj);
    }
    json_object_set_new(j, "kernels", kernels);
    json_object_set_new(j, "profile_kernel_ms", json_real(p->busy_seconds * 1e3));
    json_object_set_new(j, "profile_wall_ms", json_real(r->profile_wall_ms));
    json_object_set_new(j, "profile_launches", json_integer(p->events));
  }
  if (d->status != CLGAN_OK) json_object_set_new(j, "error", json_string(d->error));
  return j;
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
} bench_args;

/* Options into *b; -1 to go on, else the exit code. */
static int parse_bench(const char *cmd, int argc, char **argv, bench_args *b) {
  const char *config = "tutorial", *device = NULL, *json_path = NULL;
  long steps = 10, warmup = 2, seed = 999;
  int internal = 0, gemm = CLGAN_GEMM_AUTO, no_startup = 0, no_profile = 0;
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
                     "auto (default), own or clblast"),
      CLI_OPT_SEED(&seed, "seed of the weights and the synthetic data (999)"),
      CLI_FLAG_OPT("--no-startup", &no_startup,
                   "skip the cold / warm start-up runs (child processes)"),
      CLI_FLAG_OPT("--no-profile", &no_profile,
                   "skip the profiled step and the per-layer breakdown"),
      CLI_STR_OPT("--json", "FILE", &json_path,
                  "also write the figures as a JSON array, one object per device"),
      CLI_FLAG_OPT("--internal-startup", &internal, NULL), /* the child of a start-up run */
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  *b = (bench_args){.device = device, .json_path = json_path, .startup = !no_startup,
                     .internal = internal};
  bench_options *o = &b->o;
  *o = (bench_options){.steps = (int)steps,
                       .warmup = (int)warmup,
                       .profile = !no_profile,
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
