/* Class embeddings and the projection discriminator's term (cl/embed.cl). */
#include "clgan/embed.h"

#include <limits.h>

#include "runtime/internal.h"

clgan_status clgan_embed_plan_make(clgan_ctx *ctx, int rows, int dim, int batch,
                                   clgan_embed_plan *out) {
  if (rows < 1 || dim < 1 || batch < 1)
    return clgan_fail(CLGAN_ERR_INVALID, "embedding: %d rows, width %d, batch %d must be positive",
                      rows, dim, batch);
  if ((size_t)rows * dim > UINT_MAX / 2 || (size_t)dim * batch > UINT_MAX / 2)
    return clgan_fail(CLGAN_ERR_INVALID, "embedding: %d x %d (batch %d) exceeds 2^31 addressing",
                      rows, dim, batch);
  clgan_embed_plan p = {.rows = rows, .dim = dim, .batch = batch};
  static const char *const names[6] = {"embed_gather",         "embed_scatter_add",
                                       "proj_forward",         "proj_backward_weight",
                                       "proj_backward_data",   "label_planes"};
  cl_kernel *k[6] = {&p.gather, &p.scatter, &p.proj_fwd, &p.proj_dw, &p.proj_dx, &p.planes};
  clgan_status st = CLGAN_OK;
  for (int i = 0; i < 6 && st == CLGAN_OK; i++) st = clgan_kernel_get(ctx, "embed", NULL, names[i], k[i]);
  if (st == CLGAN_OK) *out = p;
  return st;
}

/* Every buffer of a call is present and addressable from its offset with
 * 32-bit indices over `floats` floats. */
static clgan_status check_bufs(const char *what, int n, const clgan_buf *b, const size_t *floats) {
  for (int i = 0; i < n; i++) {
    if (!b[i].mem) return clgan_fail(CLGAN_ERR_INVALID, "%s: null buffer", what);
    if (b[i].off > UINT_MAX || floats[i] > UINT_MAX - b[i].off)
      return clgan_fail(CLGAN_ERR_INVALID, "%s: %zu floats at offset %zu exceed 2^32 addressing",
                        what, floats[i], b[i].off);
  }
  return CLGAN_OK;
}

static clgan_status check_plan(const clgan_embed_plan *p, const char *what, int hw) {
  if (!p || !p->gather) return clgan_fail(CLGAN_ERR_INVALID, "%s: no plan", what);
  if (hw < 1 || (size_t)hw * p->dim * p->batch > UINT_MAX / 2)
    return clgan_fail(CLGAN_ERR_INVALID, "%s: feature map of %d positions not supported", what, hw);
  return CLGAN_OK;
}

clgan_status clgan_embed_gather(clgan_ctx *ctx, const clgan_embed_plan *p, clgan_buf table,
                                clgan_buf labels, clgan_buf out) {
  clgan_status st = check_plan(p, "embed_gather", 1);
  if (st != CLGAN_OK) return st;
  size_t rd = (size_t)p->rows * p->dim, db = (size_t)p->dim * p->batch;
  clgan_buf b[3] = {table, labels, out};
  if ((st = check_bufs("embed_gather", 3, b, (size_t[]){rd, (size_t)p->batch, db})) != CLGAN_OK)
    return st;
  cl_uint to = (cl_uint)table.off, lo = (cl_uint)labels.off, oo = (cl_uint)out.off;
  cl_uint rows = (cl_uint)p->rows, dim = (cl_uint)p->dim, n = (cl_uint)p->batch;
  st = clgan_set_args(p->gather, 9, sizeof(cl_mem), &table.mem, sizeof to, &to, sizeof(cl_mem),
                      &labels.mem, sizeof lo, &lo, sizeof rows, &rows, sizeof dim, &dim, sizeof n,
                      &n, sizeof(cl_mem), &out.mem, sizeof oo, &oo);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)p->dim, 16), (size_t)p->batch};
  return clgan_launch(ctx, p->gather, 2, global, NULL, "embed_gather");
}

clgan_status clgan_embed_scatter_add(clgan_ctx *ctx, const clgan_embed_plan *p, clgan_buf labels,
                                     clgan_buf dout, clgan_buf dtable, int accumulate) {
  clgan_status st = check_plan(p, "embed_scatter_add", 1);
  if (st != CLGAN_OK) return st;
  size_t rd = (size_t)p->rows * p->dim, db = (size_t)p->dim * p->batch;
  clgan_buf b[3] = {labels, dout, dtable};
  if ((st = check_bufs("embed_scatter_add", 3, b, (size_t[]){(size_t)p->batch, db, rd})) !=
      CLGAN_OK)
    return st;
  cl_uint lo = (cl_uint)labels.off, doff = (cl_uint)dout.off, to = (cl_uint)dtable.off;
  cl_uint rows = (cl_uint)p->rows, dim = (cl_uint)p->dim, n = (cl_uint)p->batch;
  cl_int acc = accumulate != 0;
  st = clgan_set_args(p->scatter, 10, sizeof(cl_mem), &labels.mem, sizeof lo, &lo, sizeof rows,
                      &rows, sizeof dim, &dim, sizeof n, &n, sizeof(cl_mem), &dout.mem,
                      sizeof doff, &doff, sizeof(cl_mem), &dtable.mem, sizeof to, &to,
                      sizeof acc, &acc);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)p->dim, 16), (size_t)p->rows};
  return clgan_launch(ctx, p->scatter, 2, global, NULL, "embed_scatter_add");
}

clgan_status clgan_proj_forward(clgan_ctx *ctx, const clgan_embed_plan *p, clgan_buf table,
                                clgan_buf labels, clgan_buf h, int hw, clgan_buf logits) {
  clgan_status st = check_plan(p, "proj_forward", hw);
  if (st != CLGAN_OK) return st;
  size_t rd = (size_t)p->rows * p->dim, hf = (size_t)p->dim * p->batch * hw;
  clgan_buf b[4] = {table, labels, h, logits};
  size_t floats[4] = {rd, (size_t)p->batch, hf, (size_t)p->batch};
  if ((st = check_bufs("proj_forward", 4, b, floats)) != CLGAN_OK) return st;
  cl_uint to = (cl_uint)table.off, lo = (cl_uint)labels.off, ho = (cl_uint)h.off,
          go = (cl_uint)logits.off, uhw = (cl_uint)hw;
  cl_uint rows = (cl_uint)p->rows, dim = (cl_uint)p->dim, n = (cl_uint)p->batch;
  st = clgan_set_args(p->proj_fwd, 12, sizeof(cl_mem), &table.mem, sizeof to, &to, sizeof(cl_mem),
                      &labels.mem, sizeof lo, &lo, sizeof rows, &rows, sizeof dim, &dim, sizeof n,
                      &n, sizeof(cl_mem), &h.mem, sizeof ho, &ho, sizeof uhw, &uhw,
                      sizeof(cl_mem), &logits.mem, sizeof go, &go);
  if (st != CLGAN_OK) return st;
  size_t global = clgan_round_up((size_t)p->batch, 16);
  return clgan_launch(ctx, p->proj_fwd, 1, &global, NULL, "proj_forward");
}

clgan_status clgan_proj_backward_weight(clgan_ctx *ctx, const clgan_embed_plan *p,
                                        clgan_buf labels, clgan_buf h, int hw, clgan_buf dlogits,
                                        clgan_buf dtable, int accumulate) {
  clgan_status st = check_plan(p, "proj_backward_weight", hw);
  if (st != CLGAN_OK) return st;
  size_t rd = (size_t)p->rows * p->dim, hf = (size_t)p->dim * p->batch * hw;
  clgan_buf b[4] = {labels, h, dlogits, dtable};
  size_t floats[4] = {(size_t)p->batch, hf, (size_t)p->batch, rd};
  if ((st = check_bufs("proj_backward_weight", 4, b, floats)) != CLGAN_OK) return st;
  cl_uint lo = (cl_uint)labels.off, ho = (cl_uint)h.off, go = (cl_uint)dlogits.off,
          to = (cl_uint)dtable.off, uhw = (cl_uint)hw;
  cl_uint rows = (cl_uint)p->rows, dim = (cl_uint)p->dim, n = (cl_uint)p->batch;
  cl_int acc = accumulate != 0;
  st = clgan_set_args(p->proj_dw, 13, sizeof(cl_mem), &labels.mem, sizeof lo, &lo, sizeof rows,
                      &rows, sizeof dim, &dim, sizeof n, &n, sizeof(cl_mem), &h.mem, sizeof ho,
                      &ho, sizeof uhw, &uhw, sizeof(cl_mem), &dlogits.mem, sizeof go, &go,
                      sizeof(cl_mem), &dtable.mem, sizeof to, &to, sizeof acc, &acc);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)p->dim, 16), (size_t)p->rows};
  return clgan_launch(ctx, p->proj_dw, 2, global, NULL, "proj_backward_weight");
}

clgan_status clgan_proj_backward_data(clgan_ctx *ctx, const clgan_embed_plan *p, clgan_buf table,
                                      clgan_buf labels, clgan_buf dlogits, int hw, clgan_buf dh) {
  clgan_status st = check_plan(p, "proj_backward_data", hw);
  if (st != CLGAN_OK) return st;
  size_t rd = (size_t)p->rows * p->dim, hf = (size_t)p->dim * p->batch * hw;
  clgan_buf b[4] = {table, labels, dlogits, dh};
  size_t floats[4] = {rd, (size_t)p->batch, (size_t)p->batch, hf};
  if ((st = check_bufs("proj_backward_data", 4, b, floats)) != CLGAN_OK) return st;
  cl_uint to = (cl_uint)table.off, lo = (cl_uint)labels.off, go = (cl_uint)dlogits.off,
          dho = (cl_uint)dh.off, uhw = (cl_uint)hw;
  cl_uint rows = (cl_uint)p->rows, dim = (cl_uint)p->dim, n = (cl_uint)p->batch;
  st = clgan_set_args(p->proj_dx, 12, sizeof(cl_mem), &table.mem, sizeof to, &to, sizeof(cl_mem),
                      &labels.mem, sizeof lo, &lo, sizeof rows, &rows, sizeof dim, &dim, sizeof n,
                      &n, sizeof(cl_mem), &dlogits.mem, sizeof go, &go, sizeof uhw, &uhw,
                      sizeof(cl_mem), &dh.mem, sizeof dho, &dho);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)hw, 16), (size_t)p->dim * p->batch};
  return clgan_launch(ctx, p->proj_dx, 2, global, NULL, "proj_backward_data");
}

clgan_status clgan_label_planes(clgan_ctx *ctx, const clgan_embed_plan *p, clgan_buf labels,
                                int hw, int first, clgan_buf out) {
  clgan_status st = check_plan(p, "label_planes", hw);
  if (st != CLGAN_OK) return st;
  if (first < 0) return clgan_fail(CLGAN_ERR_INVALID, "label_planes: channel %d", first);
  size_t of = ((size_t)first + p->rows) * p->batch * hw;
  clgan_buf b[2] = {labels, out};
  if ((st = check_bufs("label_planes", 2, b, (size_t[]){(size_t)p->batch, of})) != CLGAN_OK)
    return st;
  cl_uint lo = (cl_uint)labels.off, oo = (cl_uint)out.off, uhw = (cl_uint)hw, f = (cl_uint)first;
  cl_uint rows = (cl_uint)p->rows, n = (cl_uint)p->batch;
  st = clgan_set_args(p->planes, 8, sizeof(cl_mem), &labels.mem, sizeof lo, &lo, sizeof rows, &rows,
                      sizeof n, &n, sizeof uhw, &uhw, sizeof f, &f, sizeof(cl_mem), &out.mem,
                      sizeof oo, &oo);
  if (st != CLGAN_OK) return st;
  size_t global[2] = {clgan_round_up((size_t)hw, 16), (size_t)p->rows * p->batch};
  return clgan_launch(ctx, p->planes, 2, global, NULL, "label_planes");
}
