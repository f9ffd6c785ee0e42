/* `clgan bench`'s report: a device's figures on stdout, the table side by
 * side, and the JSON object per device (src/cli/bench.c runs the devices). */
#ifndef CLGAN_CLI_BENCH_REPORT_H
#define CLGAN_CLI_BENCH_REPORT_H

#include <jansson.h>

#include "bench/bench.h"

/* One device's run. */
typedef struct device_run {
  int index;                 /* flat device index */
  double busy;               /* cores busy with other work just before it (-1: unknown) */
  double max_rss;            /* this process's maximum resident set after the run (bytes) */
  char name[128];
  clgan_status status;
  char error[512];
  bench_result r;
  int measured;              /* bench_run succeeded */
  int startup_done[2];       /* cold, warm */
  bench_startup startup[2];
  char startup_error[2][256];
} device_run;

/* How many cores other processes kept busy during the second before a run
 * (from /proc/stat, while this process sleeps), or -1 when unknown. */
double busy_cores_before(void);

void print_device(const device_run *d, const bench_options *o);
void print_table(const device_run *runs, int n);

/* The run's figures; the configuration has every field of the list. */
json_t *run_json(const device_run *d, const bench_options *o);

/* The tuner's choices per layer and the commands per step (bench_tune.c). */
void print_tune(const bench_result *r);
void tune_json(const bench_result *r, json_t *j);

#endif
