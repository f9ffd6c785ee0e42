/* `clgan bench` over several ranks (mpirun) and its one-rank reference
 * (--scaling): the step time per rank and for the job, the time in the
 * collectives, img/s and the scaling efficiency. */
#ifndef CLGAN_CLI_BENCH_DIST_H
#define CLGAN_CLI_BENCH_DIST_H

#include "bench/bench.h"

/* Runs on every rank of cli_dist(); rank 0 prints (and writes json_path).
 * scaling: first one rank alone with the whole global batch (the others
 * wait), then every rank with its share. Returns the exit code. */
int bench_dist(const bench_options *o, const char *device, const char *json_path, int scaling);

#endif
