/* The rule for users' files, shared by the commands that write them:
 * nothing that exists is replaced unless the user says so (--overwrite),
 * and the check comes before anything is written, so a refused command
 * leaves every file as it was. */
#ifndef CLGAN_CLI_OUTFILES_H
#define CLGAN_CLI_OUTFILES_H

#include <stddef.h>

/* Files in dir named <prefix><digits><suffix> whose number is below `below`
 * (below < 0: any number): how many, and the first by name as dir/name in
 * first (when not NULL). 0 when dir does not exist. */
long cli_count_numbered(const char *dir, const char *prefix, const char *suffix, long below,
                        char *first, size_t cap);

/* Refuses an output path that exists (returns 0 after "clgan CMD: PATH
 * already exists: nothing is replaced; give --overwrite ..."), unless
 * overwrite; NULL paths pass. `what` names the option ("--grid"). */
int cli_keep_file(const char *cmd, const char *what, const char *path, int overwrite);

/* After cli_count_numbered found n files (first named): the same refusal for
 * a set of outputs; 1 when n is 0 or overwrite. `other` says what else the
 * user may change ("--out or --seed"). */
int cli_keep_numbered(const char *cmd, long n, const char *first, int overwrite,
                      const char *other);

/* An output folder option: refuses "" and a path that exists but is not a
 * folder (0 after the message). */
int cli_check_out_dir(const char *cmd, const char *what, const char *dir);

#endif
