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

/* Option loops: inside `for (int i = 1; i < argc; i++) { const char *a = argv[i], *val; ... }`
 * with `cmd`, `argc`, `argv` and a `long v` in scope.
 * CLI_VALUE() takes the flag's value into val (or returns 2 from the command);
 * CLI_LONG_OPT(name, lo, hi, dst) parses `name N` into dst and continues the loop. */
#define CLI_VALUE()                                  \
  if (!(val = cli_value(cmd, argc, argv, &i))) return 2
#define CLI_LONG_OPT(name, lo, hi, dst)                        \
  if (strcmp(a, name) == 0) {                                  \
    CLI_VALUE();                                               \
    if (!cli_long(cmd, name, val, lo, hi, &v)) return 2;       \
    dst = v;                                                   \
    continue;                                                  \
  }

/* Creates the context on --device (NULL: default), printing the device. */
clgan_ctx *cli_context(const char *cmd, const char *device, int quiet);

#endif
