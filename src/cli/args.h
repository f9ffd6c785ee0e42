/* Small helpers shared by the commands: option values, the device context,
 * and turning a status into a message. */
#ifndef CLGAN_CLI_ARGS_H
#define CLGAN_CLI_ARGS_H

#include "clgan/clgan.h"

/* Prints "clgan CMD: <what failed>: <detail>" to stderr. */
void cli_report(const char *cmd, clgan_status st, const char *what);

/* Returns argv[*i + 1] and advances *i, or prints that flag needs a value
 * and returns NULL. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Parses an integer in [lo, hi] / a float in (lo, hi]; prints and returns 0
 * when the value is not one. */
int cli_long(const char *cmd, const char *flag, const char *text, long lo, long hi, long *out);
int cli_float(const char *cmd, const char *flag, const char *text, double lo, double hi,
              float *out);

/* Creates the context on --device (NULL: default), printing the device. */
clgan_ctx *cli_context(const char *cmd, const char *device, int quiet);

#endif
