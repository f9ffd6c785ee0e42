/* `clgan generate --class NAME|all` for conditional models: which classes,
 * into which folders (src/cli/generate_class.c). */
#ifndef CLGAN_CLI_GENERATE_CLASS_H
#define CLGAN_CLI_GENERATE_CLASS_H

#include "clgan/cond.h"

typedef struct gen_class_job {
  int label;          /* the class index */
  char dir[1024];     /* where its images go */
  char grid[1024];    /* its grid (when a grid was asked for), else "" */
  int *labels;        /* [count] all `label` (malloc'd) */
} gen_class_job;

/* The jobs of --class `cls` on net (loaded from `source`): one for a class
 * name (into out), one per class for "all" (into out/<class>/, created once
 * every class folder was checked to hold no image gen_<seed>_N.png, N <
 * count, and no grid GRID_<class>.png is there, unless overwrite). 0 after a
 * message on stderr (an unknown class is refused listing the model's
 * classes); else 1 with *jobs (free with gen_class_jobs_free) and *n. */
int gen_class_jobs(const char *cmd, const clgan_dcgan *net, const char *cls, const char *source,
                   const char *out, const char *grid, long count, long seed, int overwrite,
                   gen_class_job **jobs, int *n);
void gen_class_jobs_free(gen_class_job *jobs, int n);

#endif
