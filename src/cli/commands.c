/* The table of clgan commands (commands.h). */
#include "commands.h"

const cli_command cli_commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices, their capabilities and peak"},
    {"train", cmd_train, "train the DCGAN on an ImageFolder of PNG scans"},
    {"generate", cmd_generate, "write synthetic images from a checkpoint or exported generator"},
    {"export", cmd_export, "write the generator alone, with PyTorch's tensor names"},
    {"bench", cmd_bench, "time the training step per device (and side by side), with a profile"},
    {"evaluate", cmd_evaluate, "compare generated images with real ones: SWD, MS-SSIM, memorisation"},
    {"balance", cmd_balance, "fill every class up to a count with synthetic images, and a manifest"},
    {"utility", cmd_utility, "does synthetic data help a classifier? real vs real+synthetic vs synthetic"},
    {"slice", cmd_slice, "write 2-D PNG slices of NIfTI volumes and DICOM series"},
    {"tune", cmd_tune, "tune the convolutions of a model on a device and cache the winners"},
};
const int cli_command_count = (int)(sizeof cli_commands / sizeof cli_commands[0]);
