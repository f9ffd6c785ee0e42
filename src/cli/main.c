/* clgan command-line entry: dispatches to one command per file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "dist_cli.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices, their capabilities and peak"},
    {"train", cmd_train, "train the DCGAN on an ImageFolder of PNG scans"},
    {"generate", cmd_generate, "write synthetic images from a checkpoint or exported generator"},
    {"export", cmd_export, "write the generator alone, with PyTorch's tensor names"},
    {"bench", cmd_bench, "time the training step per device (and side by side), with a profile"},
    {"evaluate", cmd_evaluate, "compare generated images with real ones: SWD, MS-SSIM, memorisation"},
    {"slice", cmd_slice, "write 2-D PNG slices of NIfTI volumes (.nii, .nii.gz, .hdr/.img)"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: clgan COMMAND [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
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
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) {
      /* under mpirun: the ranks live as long as the command */
      int rc = cli_dist_start(argv[1], &argc, &argv);
      if (rc != 0) return rc;
      return cli_dist_end(commands[i].run(argc - 1, argv + 1));
    }
  fprintf(stderr, "clgan: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
