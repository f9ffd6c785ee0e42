/* libFuzzer harness: the option parser (src/cli/args.c) over every
 * command's own option table, with the commands' value parsers (--axis,
 * --window, --augment, ...). The input is split at NUL bytes into argv;
 * its first byte picks the command. The commands' files are linked in and
 * cli_parse is wrapped (-Wl,--wrap=cli_parse, tests/fuzz/meson.build): the
 * real parser runs on the command's table, its help is printed to
 * /dev/null, and the command then stops as after --help, so nothing beyond
 * option parsing runs (no device, no file). `devices` parses by hand and
 * lists the devices: left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

int __real_cli_parse(const cli_spec *spec, int argc, char **argv);

static FILE *devnull; /* the harness' own, opened once */

int __wrap_cli_parse(const cli_spec *spec, int argc, char **argv);
int __wrap_cli_parse(const cli_spec *spec, int argc, char **argv) {
  int rc = __real_cli_parse(spec, argc, argv);
  if (rc != -1) return rc;
  cli_help(spec, devnull);
  return 0; /* the command returns here, its options parsed */
}

/* The commands whose options cli_parse reads: cli_commands but `devices`
 * (commands.c), in the table's order; the input's first byte picks one. */
static const cli_command *parsing[64];
static int parsing_count;
#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  devnull = fopen("/dev/null", "w");
  if (!devnull || !freopen("/dev/null", "w", stdout)) exit(1); /* --help goes to stdout */
  for (int i = 0; i < cli_command_count && parsing_count < 64; i++)
    if (strcmp(cli_commands[i].name, "devices") != 0) parsing[parsing_count++] = &cli_commands[i];
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const cli_command *c = parsing[data[0] % parsing_count];
  /* one copy, NUL-terminated, cut into the arguments at its NUL bytes */
  char *text = malloc(size);
  if (!text) abort();
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  char *args[MAX_ARGS + 2];
  int argc = 0;
  args[argc++] = (char *)c->name;
  for (size_t at = 0; at < size - 1 && argc <= MAX_ARGS; at += strlen(text + at) + 1)
    args[argc++] = text + at;
  args[argc] = NULL;
  /* the parser must not keep anything past the call: the copy is freed */
  (void)c->run(argc, args);
  free(text);
  return 0;
}
