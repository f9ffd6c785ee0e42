/* clgan command-line entry: dispatches to one command per file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *f) {
  fprintf(f, "usage: clgan COMMAND [options]\n\ncommands:\n");
  for (int i = 0; i < cli_command_count; i++)
    fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
  fprintf(f, "\nRun 'clgan COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < cli_command_count; i++)
    if (strcmp(argv[1], cli_commands[i].name) == 0) return cli_commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "clgan: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
