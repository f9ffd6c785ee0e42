/* The CLI's side of data parallelism: the communicator is started before a
 * command runs and ended after it (MPI_Init / MPI_Finalize, or MPI_Abort of
 * every rank when this rank's command failed). */
#ifndef CLGAN_CLI_DIST_CLI_H
#define CLGAN_CLI_DIST_CLI_H

#include <stddef.h>

#include "clgan/dist.h"

/* Starts the ranks when a launcher started this process as one of several
 * (else one rank, no MPI); ranks other than 0 print nothing on stdout.
 * Returns 0, or the exit code after printing why not. */
int cli_dist_start(const char *cmd, int *argc, char ***argv);
/* The ranks (NULL: one rank). */
clgan_dist *cli_dist(void);
/* " (rank R of N)" for messages, "" for one rank. */
const char *cli_rank_tag(void);
/* Ends the ranks: rc != 0 with several ranks ends every rank (MPI_Abort),
 * so that none waits for this one. Returns rc. */
int cli_dist_end(int rc);

/* This rank's device: the local rank's entry of a --device list "A,B,...",
 * else the local rank's device of the kind spec names (NULL/"default": GPUs
 * if any, else CPUs; "gpu", "cpu"); ranks share devices when there are more
 * ranks than devices (said once). A spec naming one device is used by every
 * rank. buf [cap] holds the spec returned when it is a new one. */
const char *cli_dist_device(const char *spec, char *buf, size_t cap);

#endif
