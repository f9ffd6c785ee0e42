#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void cli_report(const char *cmd, clgan_status st, const char *what) {
  const char *detail = clgan_last_error();
  fprintf(stderr, "clgan %s: %s: %s\n", cmd, what ? what : clgan_status_str(st),
          *detail ? detail : clgan_status_str(st));
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "clgan %s: %s needs a value (see --help)\n", cmd, argv[*i]);
    return NULL;
  }
  return argv[++*i];
}

int cli_long(const char *cmd, const char *flag, const char *text, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (end == text || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "clgan %s: %s expects an integer from %ld to %ld, not '%s'\n", cmd, flag, lo,
            hi, text);
    return 0;
  }
  *out = v;
  return 1;
}

int cli_float(const char *cmd, const char *flag, const char *text, double lo, double hi,
              float *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || *end || errno || !(v > lo) || v > hi) {
    fprintf(stderr, "clgan %s: %s expects a number in (%g, %g], not '%s'\n", cmd, flag, lo, hi,
            text);
    return 0;
  }
  *out = (float)v;
  return 1;
}

clgan_ctx *cli_context(const char *cmd, const char *device, int quiet) {
  clgan_ctx_options o = {.device = device};
  clgan_ctx *ctx = NULL;
  clgan_status st = clgan_ctx_create(&o, &ctx);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot open the OpenCL device");
    return NULL;
  }
  if (!quiet) {
    const clgan_device_info *d = clgan_ctx_device(ctx);
    printf("device: %s (%s, %s)\n", d->name, d->platform_name, d->is_gpu ? "GPU" : "CPU");
  }
  return ctx;
}
