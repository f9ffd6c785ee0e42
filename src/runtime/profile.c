/* Per-kernel profiling for benchmarks: on a context created with profiling,
 * every launch keeps its cl_event with the kernel's name and the current
 * region ("G3 fwd", "D update", ...) in arrays allocated once with the
 * context; clgan_ctx_profile_collect sums them and starts afresh.
 * Contexts without profiling pay one NULL test per launch. The context calls
 * in here (create, destroy, the event slot of each launch); this file calls
 * nothing of the context's. Every context also counts its launches and host
 * synchronisations (clgan_ctx_activity: the launch and transfer helpers
 * add to ctx->activity; read here). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NAME_CAP 40

typedef struct clgan_profile {
  int nevents;
  long dropped;
  int region;                                /* current region index */
  int nregions, nkernels;
  char regions[CLGAN_PROFILE_MAX_NAMES][NAME_CAP];
  char kernels[CLGAN_PROFILE_MAX_NAMES][NAME_CAP];
  cl_event events[CLGAN_PROFILE_CAPACITY];
  unsigned char ev_region[CLGAN_PROFILE_CAPACITY];
  unsigned char ev_kernel[CLGAN_PROFILE_CAPACITY];
} clgan_profile;

/* Index of name in a table, adding it when absent; the last slot collects
 * every name beyond capacity ("(more)"). */
static int intern(char (*table)[NAME_CAP], int *count, const char *name) {
  for (int i = 0; i < *count; i++)
    if (strncmp(table[i], name, NAME_CAP - 1) == 0) return i;
  if (*count == CLGAN_PROFILE_MAX_NAMES - 1) {
    snprintf(table[*count], NAME_CAP, "(more)");
    (*count)++;
  }
  if (*count >= CLGAN_PROFILE_MAX_NAMES) return CLGAN_PROFILE_MAX_NAMES - 1;
  snprintf(table[*count], NAME_CAP, "%s", name);
  return (*count)++;
}

clgan_status clgan_profile_create(clgan_ctx *ctx) {
  clgan_profile *p = calloc(1, sizeof *p);
  if (!p) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory (profiling buffers)");
  p->region = intern(p->regions, &p->nregions, "other");
  ctx->prof = p;
  return CLGAN_OK;
}

static void release_events(clgan_profile *p) {
  for (int i = 0; i < p->nevents; i++)
    if (p->events[i]) clReleaseEvent(p->events[i]);
  p->nevents = 0;
  p->dropped = 0;
}

void clgan_profile_destroy(clgan_ctx *ctx) {
  if (!ctx->prof) return;
  release_events(ctx->prof);
  free(ctx->prof);
  ctx->prof = NULL;
}

void clgan_profile_region(clgan_ctx *ctx, const char *fmt, ...) {
  clgan_profile *p = ctx->prof;
  if (!p) return;
  char name[NAME_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  p->region = intern(p->regions, &p->nregions, name);
}

cl_event *clgan_profile_next_event(clgan_ctx *ctx, const char *what) {
  clgan_profile *p = ctx->prof;
  if (!p) return NULL;
  if (p->nevents >= CLGAN_PROFILE_CAPACITY) {
    p->dropped++;
    return NULL;
  }
  int i = p->nevents++;
  p->events[i] = NULL; /* stays NULL if the enqueue fails */
  p->ev_region[i] = (unsigned char)p->region;
  p->ev_kernel[i] = (unsigned char)intern(p->kernels, &p->nkernels, what ? what : "?");
  return &p->events[i];
}

clgan_status clgan_ctx_profile_collect(clgan_ctx *ctx, clgan_profile_report *out) {
  memset(out, 0, sizeof *out);
  clgan_profile *p = ctx->prof;
  if (!p)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "profiling report requested from a context created without profiling");
  ctx->activity.finishes++;
  clgan_status st = CLGAN_CL(clFinish(ctx->queue));
  out->nregions = p->nregions;
  out->nkernels = p->nkernels;
  for (int i = 0; i < p->nregions; i++) memcpy(out->regions[i].name, p->regions[i], NAME_CAP);
  for (int i = 0; i < p->nkernels; i++) memcpy(out->kernels[i].name, p->kernels[i], NAME_CAP);
  out->dropped = p->dropped;
  cl_ulong first = 0, last = 0;
  for (int i = 0; i < p->nevents && st == CLGAN_OK; i++) {
    if (!p->events[i]) continue;
    cl_ulong t0 = 0, t1 = 0;
    st = CLGAN_CL(clGetEventProfilingInfo(p->events[i], CL_PROFILING_COMMAND_START, sizeof t0,
                                          &t0, NULL));
    if (st == CLGAN_OK)
      st = CLGAN_CL(clGetEventProfilingInfo(p->events[i], CL_PROFILING_COMMAND_END, sizeof t1,
                                            &t1, NULL));
    if (st != CLGAN_OK) break;
    double s = t1 > t0 ? (double)(t1 - t0) * 1e-9 : 0.0;
    int r = p->ev_region[i], k = p->ev_kernel[i];
    out->regions[r].seconds += s;
    out->regions[r].launches++;
    out->kernels[k].seconds += s;
    out->kernels[k].launches++;
    out->cell_seconds[r][k] += s;
    out->busy_seconds += s;
    out->events++;
    if (out->events == 1 || t0 < first) first = t0;
    if (out->events == 1 || t1 > last) last = t1;
  }
  if (out->events > 0 && last > first) out->span_seconds = (double)(last - first) * 1e-9;
  release_events(p);
  return st;
}

void clgan_ctx_activity_get(const clgan_ctx *ctx, clgan_ctx_activity *out) {
  *out = ctx->activity;
}
