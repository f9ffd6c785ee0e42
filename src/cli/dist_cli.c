/* See dist_cli.h. The communicator is the program's (one per process), so
 * the CLI keeps it here for the commands. */
#include "dist_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/runtime.h"

typedef struct cli_ranks {
  clgan_dist *dist;
  char tag[48];
} cli_ranks;

static cli_ranks ranks; /* the process's communicator, set once by cli_dist_start */

int cli_dist_start(const char *cmd, int *argc, char ***argv) {
  if (clgan_dist_env_size() < 2) return 0; /* not started by a launcher: one rank */
  clgan_status st = clgan_dist_init(argc, argv, &ranks.dist);
  if (st != CLGAN_OK) {
    fprintf(stderr, "clgan %s: %s\n", cmd, clgan_last_error());
    return 2;
  }
  if (!clgan_dist_active(ranks.dist)) return 0;
  snprintf(ranks.tag, sizeof ranks.tag, " (rank %d of %d)", clgan_dist_rank(ranks.dist),
           clgan_dist_size(ranks.dist));
  if (strcmp(cmd, "train") != 0 && strcmp(cmd, "bench") != 0) {
    if (clgan_dist_rank(ranks.dist) == 0)
      fprintf(stderr,
              "clgan %s: runs on one rank; only train and bench run over several (mpirun)\n", cmd);
    clgan_dist_finalize(ranks.dist);
    ranks.dist = NULL;
    return 2;
  }
  /* rank 0 speaks for the job; the others' errors still reach stderr */
  if (clgan_dist_rank(ranks.dist) != 0 && !freopen("/dev/null", "w", stdout)) return 1;
  return 0;
}

clgan_dist *cli_dist(void) { return ranks.dist; }

const char *cli_rank_tag(void) { return ranks.tag; }

int cli_dist_end(int rc) {
  if (rc != 0 && clgan_dist_active(ranks.dist)) {
    fprintf(stderr, "clgan%s: stopping every rank (the error above)\n", ranks.tag);
    fflush(stderr);
    clgan_dist_abort(ranks.dist, rc);
  }
  clgan_dist_finalize(ranks.dist);
  ranks.dist = NULL;
  return rc;
}

/* Entry i of "A,B,C" into buf. */
static const char *list_entry(const char *spec, int i, char *buf, size_t cap) {
  const char *p = spec;
  for (int k = 0; k < i; k++) p = strchr(p, ',') + 1;
  size_t len = strcspn(p, ",");
  snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), p);
  return buf;
}

static void say_shared(int ranks_here, int devices) {
  if (clgan_dist_local_rank(ranks.dist) == 0 && ranks_here > devices)
    fprintf(stderr, "clgan: %d ranks on this host share %d device%s\n", ranks_here, devices,
            devices == 1 ? "" : "s");
}

const char *cli_dist_device(const char *spec, char *buf, size_t cap) {
  if (!clgan_dist_active(ranks.dist)) return spec;
  int lr = clgan_dist_local_rank(ranks.dist), ls = clgan_dist_local_size(ranks.dist);
  if (spec && strchr(spec, ',')) {
    int n = 1;
    for (const char *p = spec; (p = strchr(p, ',')); p++) n++;
    say_shared(ls, n);
    return list_entry(spec, lr % n, buf, cap);
  }
  int want_gpu = spec && strcmp(spec, "gpu") == 0, want_cpu = spec && strcmp(spec, "cpu") == 0;
  if (spec && *spec && strcmp(spec, "default") != 0 && !want_gpu && !want_cpu) {
    say_shared(ls, 1); /* one named device for every rank */
    return spec;
  }
  clgan_device_info *list = NULL;
  int count = 0;
  if (clgan_devices_list(&list, &count) != CLGAN_OK || count == 0) {
    free(list);
    return spec; /* the context reports the error */
  }
  int gpus = 0;
  for (int i = 0; i < count; i++) gpus += list[i].is_gpu;
  if (!want_gpu && !want_cpu) want_gpu = gpus > 0;
  int kind = 0, pick = -1;
  for (int i = 0; i < count; i++)
    if (want_gpu ? list[i].is_gpu : list[i].is_cpu) kind++;
  for (int i = 0, k = 0; i < count && kind > 0; i++)
    if ((want_gpu ? list[i].is_gpu : list[i].is_cpu) && k++ == lr % kind)
      pick = list[i].global_index;
  free(list);
  if (pick < 0) return spec;
  say_shared(ls, kind);
  snprintf(buf, cap, "%d", pick);
  return buf;
}
