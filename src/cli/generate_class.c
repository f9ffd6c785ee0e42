/* The classes `clgan generate --class` writes (src/cli/generate_class.h). */
#include "generate_class.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "outfiles.h"

void gen_class_jobs_free(gen_class_job *jobs, int n) {
  for (int i = 0; jobs && i < n; i++) free(jobs[i].labels);
  free(jobs);
}

/* A class name used as a folder name must be one path component. */
static int safe_component(const char *name) {
  return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* "GRID.png" -> "GRID_<class>.png" (or GRID_<class> + the whole name without .png). */
static void class_grid(const char *grid, const char *cls, char *out, size_t cap) {
  size_t len = strlen(grid);
  int png = len >= 4 && strcmp(grid + len - 4, ".png") == 0;
  snprintf(out, cap, "%.*s_%s.png", (int)(png ? len - 4 : len), grid, cls);
}

static int fill_job(const char *cmd, const clgan_dcgan *net, int label, int all, const char *out,
                    const char *grid, long count, gen_class_job *j) {
  const char *name = clgan_dcgan_class_name(net, label);
  char num[16];
  snprintf(num, sizeof num, "%d", label);
  if (!name) name = num;
  j->label = label;
  if (!(j->labels = malloc(sizeof(int) * (size_t)count))) {
    fprintf(stderr, "clgan %s: out of memory\n", cmd);
    return 0;
  }
  for (long i = 0; i < count; i++) j->labels[i] = label;
  if (!all) {
    snprintf(j->dir, sizeof j->dir, "%s", out);
    snprintf(j->grid, sizeof j->grid, "%s", grid ? grid : "");
    return 1;
  }
  if (!safe_component(name)) {
    fprintf(stderr, "clgan %s: class name '%s' cannot be a folder name\n", cmd, name);
    return 0;
  }
  if (snprintf(j->dir, sizeof j->dir, "%s/%s", out, name) >= (int)sizeof j->dir) {
    fprintf(stderr, "clgan %s: the folder %s/%s is too long a path\n", cmd, out, name);
    return 0;
  }
  j->grid[0] = '\0';
  if (grid) class_grid(grid, name, j->grid, sizeof j->grid);
  return 1;
}

/* "all": nothing of this run's names in any class folder (unless
 * overwrite), then the folders. */
static int prepare_folders(const char *cmd, const gen_class_job *j, int n, long count, long seed,
                           int overwrite) {
  char prefix[48], first[1200];
  snprintf(prefix, sizeof prefix, "gen_%ld_", seed);
  for (int i = 0; i < n; i++) {
    long found = cli_count_numbered(j[i].dir, prefix, ".png", count, first, sizeof first);
    if (!cli_keep_numbered(cmd, found, first, overwrite, "--out or --seed") ||
        !cli_keep_file(cmd, "--grid", j[i].grid[0] ? j[i].grid : NULL, overwrite))
      return 0;
  }
  for (int i = 0; i < n; i++) {
    clgan_status st = clgan_make_dirs(j[i].dir);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "cannot create a class folder");
      return 0;
    }
  }
  return 1;
}

int gen_class_jobs(const char *cmd, const clgan_dcgan *net, const char *cls, const char *source,
                   const char *out, const char *grid, long count, long seed, int overwrite,
                   gen_class_job **jobs, int *n) {
  *jobs = NULL;
  *n = 0;
  int all = strcmp(cls, "all") == 0, label = 0;
  if (!all || clgan_dcgan_class_count(net) == 0) {
    clgan_status st = clgan_dcgan_find_class(net, cls, source, &label);
    if (st != CLGAN_OK) {
      cli_report(cmd, st, "--class");
      return 0;
    }
  }
  int want = all ? clgan_dcgan_class_count(net) : 1;
  gen_class_job *j = calloc((size_t)want, sizeof *j);
  if (!j) {
    fprintf(stderr, "clgan %s: out of memory\n", cmd);
    return 0;
  }
  int ok = 1;
  for (int i = 0; i < want && ok; i++)
    ok = fill_job(cmd, net, all ? i : label, all, out, grid, count, &j[i]);
  if (ok && all) ok = prepare_folders(cmd, j, want, count, seed, overwrite);
  if (!ok) {
    gen_class_jobs_free(j, want);
    return 0;
  }
  *jobs = j;
  *n = want;
  return 1;
}
