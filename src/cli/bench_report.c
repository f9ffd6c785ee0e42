/* `clgan bench`'s report: text per device, the side-by-side table, JSON. */
#include "bench_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "clgan/config.h"

/* ---- formatting ----------------------------------------------------------- */


/* All CPUs' busy and total jiffies from /proc/stat; 0 when unreadable. */
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

double busy_cores_before(void) {
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

/* Each profiling region ("G3 fwd", "D update", ...) with its kernel time
 * and the time of each kernel that ran in it: where a layer's time goes. */
static json_t *regions_json(const clgan_profile_report *p) {
  json_t *regions = json_array();
  for (int r = 0; r < p->nregions; r++) {
    if (p->regions[r].launches == 0) continue;
    json_t *rj = json_object(), *kernels = json_object();
    json_object_set_new(rj, "name", json_string(p->regions[r].name));
    json_object_set_new(rj, "ms", json_real(p->regions[r].seconds * 1e3));
    json_object_set_new(rj, "launches", json_integer(p->regions[r].launches));
    for (int k = 0; k < p->nkernels; k++)
      if (p->cell_seconds[r][k] > 0)
        json_object_set_new(kernels, p->kernels[k].name, json_real(p->cell_seconds[r][k] * 1e3));
    json_object_set_new(rj, "kernel_ms", kernels);
    json_array_append_new(regions, rj);
  }
  return regions;
}

/* Kernel time outside the layers, the loss and the updates. */
static double other_ms(const bench_result *r) {
  const clgan_profile_report *p = r->profile;
  double known = region_ms(p, "loss") + region_ms(p, "D update") + region_ms(p, "G update");
  for (int i = 0; i < r->nlayers; i++) known += r->layers[i].fwd_ms + r->layers[i].bwd_ms;
  double o = p->busy_seconds * 1e3 - known;
  return o > 0 ? o : 0;
}

/* Each region's kernels, slowest first ("D2 fwd: gemm_tile 55.3, ..."). */
static void print_region_kernels(const clgan_profile_report *p) {
  printf("kernels per region (ms in the profiled step):\n");
  for (int r = 0; r < p->nregions; r++) {
    if (p->regions[r].launches == 0) continue;
    clgan_profile_item k[CLGAN_PROFILE_MAX_NAMES];
    int nk = 0;
    for (int i = 0; i < p->nkernels; i++)
      if (p->cell_seconds[r][i] > 0) {
        k[nk] = p->kernels[i];
        k[nk++].seconds = p->cell_seconds[r][i];
      }
    qsort(k, (size_t)nk, sizeof *k, cmp_item_desc);
    printf("  %-9s %8.2f:", p->regions[r].name, p->regions[r].seconds * 1e3);
    for (int i = 0; i < nk; i++) printf("%s %s %.2f", i ? "," : "", k[i].name, k[i].seconds * 1e3);
    printf("\n");
  }
}

static void print_profile(const bench_result *r, int region_kernels) {
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
  if (region_kernels) print_region_kernels(p);
}

void print_device(const device_run *d, const bench_options *o) {
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
  if (r->peak_stale > 0)
    printf("note: the FMA peak remembered for this device (%.0f GFLOP/s) was below this run's "
           "rate, so it was measured on a busy device: measured again, %.0f GFLOP/s kept\n",
           r->peak_stale, r->peak_gflops);
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
  cli_format_bytes(total, sizeof total, (double)r->peak_bytes);
  cli_format_bytes(model, sizeof model, (double)r->model_bytes);
  cli_format_bytes(ws, sizeof ws, (double)r->workspace_bytes);
  cli_format_bytes(data, sizeof data, (double)r->data_bytes);
  char rss[32];
  cli_format_bytes(rss, sizeof rss, d->max_rss);
  printf("memory:     %s on the device (model %s, GEMM workspace %s, bench data %s); this "
         "process's max resident set %s\n",
         total, model, ws, data, rss);
  print_tune(r);
  if (r->profile) print_profile(r, o->region_kernels);
  if (d->status != CLGAN_OK) printf("FAILED after the timed steps: %s\n", d->error);
}

void print_table(const device_run *runs, int n) {
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
    cli_format_bytes(mem, sizeof mem, (double)r->peak_bytes);
    printf("%-3d %-36s %9.1f %9.1f %9.1f %6.1f%% %8s %8s %10s\n", d->index, name, r->ms_median,
           r->img_per_s, r->gflops, 100 * r->peak_fraction, cold, warm, mem);
  }
}

/* ---- JSON ----------------------------------------------------------------- */

json_t *run_json(const device_run *d, const bench_options *o) {
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
  json_object_set_new(j, "peak_stale_gflops",
                      r->peak_stale > 0 ? json_real(r->peak_stale) : json_null());
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
  tune_json(r, j);
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
    json_object_set_new(j, "regions", regions_json(p));
    json_object_set_new(j, "profile_kernel_ms", json_real(p->busy_seconds * 1e3));
    json_object_set_new(j, "profile_wall_ms", json_real(r->profile_wall_ms));
    json_object_set_new(j, "profile_launches", json_integer(p->events));
  }
  if (d->status != CLGAN_OK) json_object_set_new(j, "error", json_string(d->error));
  return j;
}

