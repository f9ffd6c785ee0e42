/* clgan command-line entry: dispatches to one command per file. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "dist_cli.h"

static void usage(FILE *f) {
  fprintf(f, "usage: clgan COMMAND [options]\n\ncommands:\n");
  for (int i = 0; i < cli_command_count; i++)
    fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
  fprintf(f, "\nRun 'clgan COMMAND --help' for the options of a command.\n");
}

/* PoCL (the CPU device) compiles each kernel again for every local size,
 * global offset and grid size it is launched with (its work-group
 * specialization). The engine launches its GEMMs in many shapes, so on a
 * 2-core EPYC that is 10 s of `tutorial`'s cold start (26.9 -> 16.7 s) and
 * 8 s of a start with PoCL's own kernel cache off (9.2 -> 1.1 s), and the
 * steps and the GEMM kernels run as fast without it (README: Environment). The
 * program turns it off before any OpenCL call unless the environment sets
 * it; other drivers ignore the name. (The library itself changes no
 * process state: programs embedding it choose for themselves.) */
static void pocl_defaults(void) { setenv("POCL_WORK_GROUP_SPECIALIZATION", "0", 0); }

int main(int argc, char **argv) {
  pocl_defaults();
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
    if (strcmp(argv[1], cli_commands[i].name) == 0) {
      /* under mpirun: the ranks live as long as the command */
      int rc = cli_dist_start(argv[1], &argc, &argv);
      if (rc != 0) return rc;
      return cli_dist_end(cli_commands[i].run(argc - 1, argv + 1));
    }
  fprintf(stderr, "clgan: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
