/* `clgan bench`'s lines about the plan-time tuner (the variant each layer's
 * convolution runs, and whether it came from the cache) and about the
 * commands of a step (kernel launches, host synchronisations). */
#include <stdio.h>

#include "bench_report.h"

static const char *const source_name[] = {"default", "cache", "tuned now"};

/* The layer of record i: the conv shapes are planned in the model's layer
 * order (G1..G5, D1..D5), one convolution per layer. */
static const char *layer_name(const bench_result *r, int i) {
  return r->nlayers == r->tune->nrecords && i < r->nlayers ? r->layers[i].name : "";
}

void print_tune(const bench_result *r) {
  const clgan_ctx_activity *a = &r->per_step;
  printf("commands:   %ld kernel launches per step; host syncs per step: %ld blocking read%s, "
         "%ld blocking write%s, %ld finish%s, %ld event wait%s (the statistics; `clgan train` "
         "with stats_lag reads them one step behind)\n",
         a->launches, a->blocking_reads, a->blocking_reads == 1 ? "" : "s", a->blocking_writes,
         a->blocking_writes == 1 ? "" : "s", a->finishes, a->finishes == 1 ? "" : "es",
         a->event_waits, a->event_waits == 1 ? "" : "s");
  const clgan_tune_report *t = r->tune;
  if (!t) return;
  printf("tuning:     CLGAN_TUNE=%s; %d conv shapes: %d from the cache, %d tuned now (%.1f s, "
         "%ld candidates timed, %ld rejected, %ld skipped), %d on the defaults\n",
         clgan_tune_mode_name(r->tune_mode), t->nshapes, t->from_cache, t->tuned, t->seconds,
         t->timed, t->rejected, t->skipped, t->nshapes - t->from_cache - t->tuned);
  printf("  (per conv core shape; a ConvTranspose2d is its adjoint conv: its forward runs the "
         "core's backward data and the reverse)\n");
  printf("  %-5s %-38s %-32s %-32s %-32s %s\n", "layer", "conv core shape", "forward",
         "backward data", "weight gradient", "from");
  for (int i = 0; i < t->nrecords; i++) {
    const clgan_tune_record *rec = &t->records[i];
    printf("  %-5s %-38s %-32s %-32s %-32s %s\n", layer_name(r, i), rec->shape, rec->winner[0],
           rec->winner[1], rec->winner[2], source_name[rec->source]);
  }
}

void tune_json(const bench_result *r, json_t *j) {
  const clgan_ctx_activity *a = &r->per_step;
  json_object_set_new(j, "launches_per_step", json_integer(a->launches));
  json_object_set_new(j, "blocking_reads_per_step", json_integer(a->blocking_reads));
  json_object_set_new(j, "blocking_writes_per_step", json_integer(a->blocking_writes));
  json_object_set_new(j, "finishes_per_step", json_integer(a->finishes));
  json_object_set_new(j, "event_waits_per_step", json_integer(a->event_waits));
  const clgan_tune_report *t = r->tune;
  if (!t) return;
  json_object_set_new(j, "tune_mode", json_string(clgan_tune_mode_name(r->tune_mode)));
  json_object_set_new(j, "tune_seconds", json_real(t->seconds));
  json_object_set_new(j, "tune_from_cache", json_integer(t->from_cache));
  json_object_set_new(j, "tune_tuned", json_integer(t->tuned));
  json_t *shapes = json_array();
  static const char *const product[] = {"forward", "backward_data", "weight_gradient"};
  for (int i = 0; i < t->nrecords; i++) {
    const clgan_tune_record *rec = &t->records[i];
    json_t *sj = json_object();
    json_object_set_new(sj, "layer", json_string(layer_name(r, i)));
    json_object_set_new(sj, "shape", json_string(rec->shape));
    json_object_set_new(sj, "from", json_string(source_name[rec->source]));
    for (int p = 0; p < 3; p++) json_object_set_new(sj, product[p], json_string(rec->winner[p]));
    json_array_append_new(shapes, sj);
  }
  json_object_set_new(j, "tune", shapes);
}
