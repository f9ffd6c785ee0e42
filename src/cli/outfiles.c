/* The rule for users' files (see outfiles.h). */
#include "outfiles.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long cli_count_numbered(const char *dir, const char *prefix, const char *suffix, long below,
                        char *first, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  size_t np = strlen(prefix), ns = strlen(suffix);
  long n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    const char *name = e->d_name;
    size_t len = strlen(name);
    if (len <= np + ns || strncmp(name, prefix, np) != 0 || strcmp(name + len - ns, suffix) != 0)
      continue;
    const char *p = name + np;
    char *end;
    if (*p < '0' || *p > '9') continue;
    errno = 0;
    long index = strtol(p, &end, 10);
    if (errno || end != name + len - ns || (below >= 0 && index >= below)) continue;
    /* the first by name, so the message is the same on every file system */
    if (first && (n == 0 || strcmp(name, first + strlen(dir) + 1) < 0))
      snprintf(first, cap, "%s/%s", dir, name);
    n++;
  }
  closedir(d);
  return n;
}

int cli_keep_file(const char *cmd, const char *what, const char *path, int overwrite) {
  if (!path || overwrite || access(path, F_OK) != 0) return 1;
  fprintf(stderr, "clgan %s: %s %s already exists: nothing is replaced; give --overwrite to "
                  "replace it, or another file\n", cmd, what, path);
  return 0;
}

int cli_keep_numbered(const char *cmd, long n, const char *first, int overwrite,
                      const char *other) {
  if (n == 0 || overwrite) return 1;
  if (n == 1)
    fprintf(stderr, "clgan %s: %s already exists", cmd, first);
  else
    fprintf(stderr, "clgan %s: %s and %ld more of the files this would write already exist", cmd,
            first, n - 1);
  fprintf(stderr, ": nothing is replaced; give --overwrite to replace them, or another %s\n",
          other);
  return 0;
}

int cli_check_out_dir(const char *cmd, const char *what, const char *dir) {
  struct stat sb;
  if (!*dir) {
    fprintf(stderr, "clgan %s: empty %s: give a folder's name\n", cmd, what);
    return 0;
  }
  if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "clgan %s: %s %s is a file, not a folder\n", cmd, what, dir);
    return 0;
  }
  return 1;
}
