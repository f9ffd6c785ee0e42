/* Shared by the commands: a table-driven option parser whose help text comes
 * from the same table, the options every command shares, the device context,
 * and turning a status into a message. */
#ifndef CLGAN_CLI_ARGS_H
#define CLGAN_CLI_ARGS_H

#include <stdio.h>

#include "clgan/clgan.h"

typedef enum cli_kind {
  CLI_END = 0,   /* ends a table */
  CLI_TEXT,      /* a line of the help text only (help) */
  CLI_INCLUDE,   /* dst: another table, parsed and listed in place */
  CLI_STR,       /* const char **dst */
  CLI_LONG,      /* long *dst in [lo, hi] */
  CLI_INT,       /* int *dst in [lo, hi] */
  CLI_FLOAT,     /* float *dst in [flo, fhi] */
  CLI_FLOAT_POS, /* float *dst in (flo, fhi] */
  CLI_FLAG,      /* int *dst = 1; takes no value */
  CLI_CHOICE,    /* int *dst = values[i] for the value choices[i] */
  CLI_CALL       /* parse(cmd, flag, value, dst) returns 1 when the value was taken */
} cli_kind;

typedef struct cli_opt {
  const char *flag, *meta; /* "--size", "N" (NULL for a flag without value) */
  cli_kind kind;
  void *dst;
  long lo, hi;
  double flo, fhi;
  const char *help;        /* NULL: not listed; '\n' starts a continuation line */
  const char *const *choices; /* CLI_CHOICE: NULL-terminated */
  const int *values;
  int (*parse)(const char *cmd, const char *flag, const char *value, void *dst);
  int show_range;          /* CLI_INT: the help adds "accepted: lo to hi" */
} cli_opt;

typedef struct cli_spec {
  const char *cmd;         /* "train" */
  const char *head;        /* usage and description, before the options */
  const char *tail;        /* after them, or NULL */
  const cli_opt *opts;
  /* positional arguments (NULL: none accepted); "--" ends the options */
  const char **positional;
  int max_positional, *npositional;
} cli_spec;

/* Parses argv[1..argc-1] ("--flag VALUE" or "--flag=VALUE"). Returns -1 when
 * the command should go on; otherwise the exit code: 0 after --help (the help
 * on stdout), 2 after a message on stderr (unknown option, missing or bad
 * value). */
int cli_parse(const cli_spec *spec, int argc, char **argv);
void cli_help(const cli_spec *spec, FILE *f);

/* Stores one value for option o as cli_parse does (0 after a message). */
int cli_take(const char *cmd, const cli_opt *o, const char *text);

/* Table rows by kind. */
#define CLI_STR_OPT(f, m, d, h) {.flag = f, .meta = m, .kind = CLI_STR, .dst = d, .help = h}
#define CLI_LONG_OPT(f, m, d, l, u, h) \
  {.flag = f, .meta = m, .kind = CLI_LONG, .dst = d, .lo = l, .hi = u, .help = h}
#define CLI_INT_OPT(f, m, d, l, u, h) \
  {.flag = f, .meta = m, .kind = CLI_INT, .dst = d, .lo = l, .hi = u, .help = h}
#define CLI_FLOAT_OPT(f, m, d, l, u, h) \
  {.flag = f, .meta = m, .kind = CLI_FLOAT, .dst = d, .flo = l, .fhi = u, .help = h}
#define CLI_FLAG_OPT(f, d, h) {.flag = f, .kind = CLI_FLAG, .dst = d, .help = h}
#define CLI_CHOICE_OPT(f, m, d, c, v, h) \
  {.flag = f, .meta = m, .kind = CLI_CHOICE, .dst = d, .choices = c, .values = v, .help = h}
#define CLI_CALL_OPT(f, m, d, p, h) \
  {.flag = f, .meta = m, .kind = CLI_CALL, .dst = d, .parse = p, .help = h}
#define CLI_OPT_TEXT(text) {.kind = CLI_TEXT, .help = (text)}
#define CLI_OPT_INCLUDE(table) {.kind = CLI_INCLUDE, .dst = (void *)(table)}
#define CLI_OPT_END {.kind = CLI_END}

/* Options shared by several commands. */
#define CLI_OPT_DEVICE(dst) \
  CLI_STR_OPT("--device", "SPEC", dst, "OpenCL device: index, P:D, gpu, cpu or a name part")
#define CLI_OPT_SEED(dst, text) CLI_LONG_OPT("--seed", "N", dst, 0, 0x7fffffffffffffffL, text)

/* The model options of the configuration list (clgan/config.h) in the
 * groups asked for (clgan_config_group bits), writing into cfg: out needs
 * room for every field plus the end. */
#define CLI_MODEL_MAX 24
void cli_model_options(clgan_dcgan_config *cfg, unsigned groups, cli_opt *out);

/* After parsing: clgan_config_check, printing "clgan CMD: <problem> (FLAG)".
 * Returns 1 when the configuration is valid. */
int cli_check_config(const char *cmd, const clgan_dcgan_config *cfg);

/* Prints "clgan CMD: <what failed>: <detail><hint>" to stderr (hint may be
 * NULL: the library's message says what is wrong, the CLI which flag helps). */
void cli_report(const char *cmd, clgan_status st, const char *what);
void cli_report_hint(const char *cmd, clgan_status st, const char *what, const char *hint);

/* The hint after a checkpoint failed to open: when path is an exported
 * generator, the flag that reads it; else NULL. */
const char *cli_checkpoint_hint(clgan_status st, const char *path);

/* Creates the context on --device (NULL: default), printing the device. */
clgan_ctx *cli_context(const char *cmd, const char *device, int quiet);

/* "12.3 MiB": bytes for people (KiB, MiB or GiB). */
void cli_format_bytes(char *buf, size_t cap, double bytes);

#endif
