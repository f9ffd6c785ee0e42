/* `clgan devices`: every OpenCL platform and device, the probed capabilities
 * the kernels use, the measured FMA peak, and which device is the default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/clgan.h"
#include "commands.h"

static void print_bytes(const char *label, unsigned long long b) {
  if (b >= (1ULL << 30))
    printf("    %-22s %.1f GiB\n", label, (double)b / (1ULL << 30));
  else if (b >= (1ULL << 20))
    printf("    %-22s %.1f MiB\n", label, (double)b / (1ULL << 20));
  else
    printf("    %-22s %.0f KiB\n", label, (double)b / 1024.0);
}

int cmd_devices(int argc, char **argv) {
  int measure = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--no-peak") == 0) {
      measure = 0;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("usage: clgan devices [--no-peak]\n\n"
             "Lists every OpenCL platform and device with the capabilities clgan uses and\n"
             "the measured single-precision FMA peak: measured on every call, the best of\n"
             "this and earlier measurements kept in the cache (other work on a device can\n"
             "only lower it) as the denominator of `clgan bench`'s fraction of the peak.\n"
             "Select a device elsewhere with --device INDEX, P:D, gpu, cpu or a name part.\n"
             "  --no-peak   do not measure the peaks\n");
      return 0;
    } else {
      fprintf(stderr, "clgan devices: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  clgan_device_info *list = NULL;
  int count = 0;
  clgan_status st = clgan_devices_list(&list, &count);
  if (st == CLGAN_ERR_NO_PLATFORM) {
    fprintf(stderr, "clgan devices: %s\n", clgan_last_error());
    return 1;
  }
  if (st != CLGAN_OK) {
    fprintf(stderr, "clgan devices: %s: %s\n", clgan_status_str(st), clgan_last_error());
    return 1;
  }
  if (count == 0) {
    fprintf(stderr, "clgan devices: OpenCL platforms are installed but none exposes a device\n");
    free(list);
    return 1;
  }
  int def = clgan_device_pick(list, count, NULL);
  /* the cache a context would use: the tuning's, read from the environment */
  clgan_tuning tuning;
  const char *cache = clgan_tuning_from_env(&tuning) == CLGAN_OK ? clgan_cache_dir(&tuning) : "";
  int last_platform = -1;
  for (int i = 0; i < count; i++) {
    const clgan_device_info *d = &list[i];
    if (d->platform_index != last_platform) {
      printf("platform %d: %s (%s)\n", d->platform_index, d->platform_name, d->platform_version);
      last_platform = d->platform_index;
    }
    printf("  [%d] %d:%d  %s%s\n", i, d->platform_index, d->device_index, d->name,
           i == def ? "   <- default" : "");
    printf("    %-22s %s, %s\n", "type / vendor",
           d->is_gpu ? "GPU" : d->is_cpu ? "CPU" : "accelerator", d->vendor);
    printf("    %-22s %s; %s; driver %s\n", "version", d->device_version, d->c_version,
           d->driver_version);
    printf("    %-22s %u @ %u MHz\n", "compute units", d->compute_units, d->clock_mhz);
    printf("    %-22s %zu\n", "max work-group size", d->max_work_group_size);
    print_bytes("local memory", d->local_mem_bytes);
    print_bytes("global memory", d->global_mem_bytes);
    print_bytes("max allocation", d->max_alloc_bytes);
    printf("    %-22s unified memory %s, fp16 %s, sub-groups %s, float vector %u, "
           "rounded div/sqrt %s\n", "features",
           d->unified_memory ? "yes" : "no", d->fp16 ? "yes" : "no", d->subgroups ? "yes" : "no",
           d->preferred_vector_float, d->fp32_rounded_div_sqrt ? "yes" : "no");
    if (measure) {
      char spec[32];
      snprintf(spec, sizeof spec, "%d", i);
      clgan_ctx_options o = {.device = spec};
      clgan_ctx *ctx = NULL;
      double peak = 0, now = 0;
      st = clgan_ctx_create(&o, &ctx);
      /* measured every time: the best of this and earlier runs is kept */
      if (st == CLGAN_OK) st = clgan_ctx_peak_remeasure(ctx, &now, &peak);
      if (st == CLGAN_OK && now >= 0.9 * peak)
        printf("    %-22s %.1f GFLOP/s (fp32 FMA, measured)\n", "peak", peak);
      else if (st == CLGAN_OK)
        printf("    %-22s %.1f GFLOP/s (fp32 FMA, the best measured; %.1f now: other work on "
               "the device?)\n", "peak", peak, now);
      else
        printf("    %-22s unavailable: %s\n", "peak", clgan_last_error());
      clgan_ctx_destroy(ctx);
    }
  }
  printf("\nkernel cache: %s\n", *cache ? cache : "disabled (CLGAN_CACHE=0)");
  free(list);
  return 0;
}
