/* clgan ops: every operation of the DCGAN recipe, forward and backward.
 *
 * Layout: activations are channel-major with the batch folded in, (C, N, H, W),
 * so a convolution is one GEMM writing its output in place and BatchNorm
 * reduces contiguous rows. Weights keep PyTorch's layouts: Conv2d
 * [Cout, Cin, k, k], ConvTranspose2d [Cin, Cout, k, k].
 *
 * Every op only enqueues work on the context's in-order queue; nothing blocks
 * unless stated. `accumulate` on a gradient output means "add to what is
 * there" (PyTorch's .grad accumulation), otherwise it is overwritten. */
#ifndef CLGAN_OPS_H
#define CLGAN_OPS_H

#include "clgan/kernel_abi.h"
#include "clgan/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* clgan_buf and its helpers (clgan_buf_alloc, _write, _read, clgan_fill,
 * clgan_copy, clgan_mem_*) are the runtime's: clgan/runtime.h. */

/* ---- GEMM ------------------------------------------------------------- */
/* Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, where op
 * transposes when trans_* is nonzero. lda/ldb/ldc are row strides of the
 * stored matrices. The backend is the context's (measured or forced). */

/* What runs a planned GEMM. */
typedef enum clgan_gemm_path {
  CLGAN_GEMM_PATH_NONE = 0, /* m or n is 0: nothing to do */
  CLGAN_GEMM_PATH_SIMPLE,   /* own backend, one work-item per C element */
  CLGAN_GEMM_PATH_TILED,    /* own backend, packed panels and register tiles */
  CLGAN_GEMM_PATH_CONV_X,   /* own tiled, op(B) read from a conv's image (conv core only) */
  CLGAN_GEMM_PATH_CLBLAST,  /* CLBlast's SGEMM */
  CLGAN_GEMM_PATH_LDS       /* local-memory tiles, operands in place (src/ops/gemm_lds.c) */
} clgan_gemm_path;

/* The own backend's tiled geometry for one shape (src/ops/gemm_own.c): the
 * kernel computes X (m_f x k) times Y^T (n_f x k), either X = op(A) and
 * Y = op(B)^T, or (swapped) X = op(B)^T, Y = op(A) with C^T stored. */
typedef struct clgan_gemm_own_geom {
  size_t tm, tn;      /* register tile (rows, columns) */
  size_t m, n;        /* m_f, n_f */
  size_t mp, np;      /* m_f, n_f padded to the tile */
  size_t splits, kz;  /* k cut into `splits` ranges of kz (the last shorter) */
  size_t chunk;       /* Y packed and multiplied in chunks of this many rows */
  size_t bp_off, part_off, ws_floats; /* workspace: X panels, Y panels, partial C */
  int swapped;        /* C^T = op(B)^T op(A)^T */
  int x_packed;       /* else X's rows are read in place (or from an image) */
} clgan_gemm_own_geom;

/* The local-memory backend's part of a plan (src/ops/gemm_lds.c): the
 * -D parameters of cl/gemm_lds.cl and the split of k. */
typedef struct clgan_gemm_lds {
  int wgm, wgn, wgk;  /* work-group tile of C and k per local-memory step */
  int tpm, tpn, vw;   /* work-item tile and floats per vector load */
  int conv_x;         /* op(B) read from a conv's image (the conv core's entries) */
  size_t splits, kz;  /* k cut into `splits` ranges of kz (partial C in the workspace) */
} clgan_gemm_lds;

/* A GEMM shape prepared on one context: backend resolved, kernels created,
 * workspace grown. Plain data (kernels borrowed from the context), made by
 * clgan_gemm_plan_make and read only by clgan_gemm_run. */
typedef struct clgan_gemm_plan {
  int trans_a, trans_b;
  size_t m, n, k;
  clgan_gemm_backend backend; /* AUTO only for an empty product (path NONE) */
  clgan_gemm_path path;
  size_t ws_floats;           /* the context's GEMM workspace it needs */
  /* own paths (NULL where unused): main is gemm_simple, gemm_tile or
   * gemm_tile_conv; with their names and work-group shapes or limits */
  cl_kernel main, pack_a, pack_b, reduce;
  const char *main_name, *pack_a_name, *pack_b_name;
  size_t main_local[2], reduce_local[2], pack_a_max, pack_b_max;
  clgan_gemm_own_geom own;
  clgan_gemm_lds lds;         /* path LDS: main is its vector entry, reduce its split sum */
} clgan_gemm_plan;

/* Plans m x n x k GEMMs with these transposes on ctx: resolves the backend
 * for the shape (measuring the context's choice for its shape class if
 * nothing is remembered), creates the kernels and sizes the workspace
 * (ws_floats), allocating nothing, so that an owner can plan, add up its
 * memory, and only then allocate. */
clgan_status clgan_gemm_plan_make(clgan_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n,
                                  size_t k, clgan_gemm_plan *out);
/* Grows the context's GEMM workspace to the plan's ws_floats and builds
 * CLBlast's program where the plan uses it: after it, runs of the plan
 * neither build nor allocate (call it before freezing the context; an
 * unfrozen context also grows the workspace at the first run). */
clgan_status clgan_gemm_plan_prepare(clgan_ctx *ctx, const clgan_gemm_plan *plan);
/* Runs a planned GEMM (any strides and offsets that fit the buffers). */
clgan_status clgan_gemm_run(clgan_ctx *ctx, const clgan_gemm_plan *plan, float alpha,
                            clgan_buf a, size_t lda, clgan_buf b, size_t ldb, float beta,
                            clgan_buf c, size_t ldc);

/* Plan and run in one call (tests, benchmarks, metrics: outside training
 * steps, or after clgan_gemm_reserve on a frozen context). */
clgan_status clgan_gemm(clgan_ctx *ctx, int trans_a, int trans_b, size_t m,
                        size_t n, size_t k, float alpha, clgan_buf a, size_t lda,
                        clgan_buf b, size_t ldb, float beta, clgan_buf c,
                        size_t ldc);
/* Same, with an explicit backend (tests, benchmarks). */
clgan_status clgan_gemm_with(clgan_ctx *ctx, clgan_gemm_backend backend,
                             int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, float alpha, clgan_buf a, size_t lda,
                             clgan_buf b, size_t ldb, float beta, clgan_buf c,
                             size_t ldc);
/* The backend clgan_gemm uses on this context for regular shapes (measures on
 * first call when the context was created with CLGAN_GEMM_AUTO and nothing is
 * remembered). Long reductions (k >= 4096 and >= 16 max(m, n), the weight
 * gradients) have a choice of their own, measured the same way. */
clgan_status clgan_gemm_backend_get(clgan_ctx *ctx, clgan_gemm_backend *out);
const char *clgan_gemm_backend_name(clgan_gemm_backend backend);
/* Prepares GEMMs of up to m x n x k (any transposes) for clgan_gemm on a
 * frozen context: resolves the backend (measuring if needed), creates the
 * kernels and grows the context's packing workspace, so that such GEMMs
 * later neither allocate nor build. */
clgan_status clgan_gemm_reserve(clgan_ctx *ctx, size_t m, size_t n, size_t k);

/* ---- Convolutions ------------------------------------------------------ */
/* Geometry of a square-kernel convolution. For Conv2d, (cin, h, w) is the
 * input and (cout, ho, wo) the output. For ConvTranspose2d the same struct
 * describes the *adjoint* convolution: (cin, h, w) is the transposed conv's
 * output and (cout, ho, wo) its input, so both share one conv core. Use the
 * constructors below rather than filling it by hand. */
typedef struct clgan_conv_shape {
  int n;          /* batch */
  int cin, h, w;  /* "image" side (conv input, convT output) */
  int cout, ho, wo; /* "feature" side (conv output, convT input) */
  int k, stride, pad;
} clgan_conv_shape;

/* Conv2d(cin -> cout) over an n x cin x h x w input. INVALID if the output
 * would be empty. */
clgan_status clgan_conv_shape_conv(int n, int cin, int h, int w, int cout, int k,
                                   int stride, int pad, clgan_conv_shape *out);
/* ConvTranspose2d(cin -> cout) over an n x cin x h x w input; the output is
 * (h-1)*stride - 2*pad + k. Stored as the adjoint conv: out->cin = cout,
 * out->cout = cin, out->ho = h, out->h = output height. */
clgan_status clgan_conv_shape_convt(int n, int cin, int h, int w, int cout,
                                    int k, int stride, int pad,
                                    clgan_conv_shape *out);
/* Floats of the whole column matrix, cin*k*k * n*ho*wo (0 for an invalid
 * shape): the most col workspace a plan of s can ask for. */
size_t clgan_conv_col_floats(const clgan_conv_shape *s);

/* The adjoint product's direct kernel (cl/convt_direct.cl: no column
 * matrix, no col2im) as a conv plan holds it: kernel NULL where the adjoint
 * runs as GEMM + col2im. Its parameters (work-group wgx x wgy, rm x rn
 * outputs per work-item, kc feature channels per chunk) and launch shape. */
typedef struct clgan_convt_direct_plan {
  cl_kernel kernel;
  int wgx, wgy, rm, rn, kc;
  size_t global[3], local[3];
} clgan_convt_direct_plan;

/* The adjoint by sub-pixel decomposition (k 4, stride 2, pad 1: dx's
 * parity classes as 2x2 convs of dy padded by 1, stored straight into dx;
 * cl/subpix.cl's gemm_tile_subpix) where the plan or the tuner chose it.
 * Its tile (tm pixels of a row, both column parities, x 16*nv channels),
 * launch shape, and col's use: the padded dy from offset 0, the packed
 * sub-kernels from wpk_off. tile NULL: not used. */
typedef struct clgan_conv_subpix_plan {
  cl_kernel tile, pack, pad;
  int tm, nv;
  size_t global[3], local[3];
  size_t wpk_off, col_floats;
} clgan_conv_subpix_plan;

/* The products of a conv whose 4 x 4 kernel covers its whole image (a 1 x 1
 * feature map; src/ops/conv_whole.h): a kernel per product where the plan
 * chose it (NULL: that product runs as a GEMM) and the launch shapes. */
typedef struct clgan_conv_whole_plan {
  cl_kernel adjoint, forward, filter;
  size_t adjoint_global[2], forward_global[2], filter_global[2];
} clgan_conv_whole_plan;

/* The products of a k 4 s 2 p 1 conv from an image of few channels, each
 * by a kernel of its own (src/ops/conv_narrow.h): the forward and the
 * weight gradient over the padded image, the adjoint from dy. forward
 * (filter, adjoint) NULL: that product runs as a GEMM. The weight
 * gradient's partial sums, one per slice of the row segments, are
 * ws_floats of the GEMM workspace. */
typedef struct clgan_conv_narrow_plan {
  cl_kernel forward, filter, filter_sum, adjoint;
  size_t global[2], filter_global[2], sum_global, adjoint_global[2];
  int slices;
  size_t ws_floats;
} clgan_conv_narrow_plan;

/* The forward of a k 4 s 2 p 1 conv by Winograd F(4x4, 2x2) over the tap
 * parities, its adjoint or its weight gradient (src/ops/conv_winograd.h):
 * its kernels (the three transforms and the GEMM's tile kernel), the
 * products, the tiles (4x4 outputs), the layout of the GEMM workspace it
 * uses (two transformed operands, the products) and launch shapes. tile
 * NULL: not used. */
typedef struct clgan_conv_wino_plan {
  cl_kernel weight, input, output, tile;
  int tm, nv;
  size_t products, kz, out_channels; /* the GEMM's split of k, K per product, its n */
  size_t tiles, vp_off, up_off, m_off, ws_floats;
  size_t m_row; /* the products: floats per row (tiles, or cout in the weight
                   gradient, and a pad) */
  size_t v_floats; /* the weight gradient's transformed image [4 cin][25][tiles]
                      at vp_off, which the forward may read (0 otherwise) */
  size_t u_floats; /* the forward's and the adjoint's transformed weights (the
                      GEMM's packed B panels at up_off) */
  int weight_stream; /* the weight transform stores them non-temporally: they are more
                        than half the device's cache (src/ops/conv_winograd.c) */
  clgan_buf weights_kept; /* where set (clgan_conv_keep_weights), the forward's or the
                             adjoint's weights and their transform, kept from call to
                             call: a call with the same weights transforms nothing */
  int weights_current;    /* with weights_kept: set (in a copy of the plan) by a caller
                             that knows the kept transform is of the weights it passes
                             (the graph, from its parameters' versions), so that no
                             weight kernel runs, not even the comparison */
  size_t weight_global[2], input_global[2], output_global[2];
  size_t tile_global[3], tile_local[3];
} clgan_conv_wino_plan;

/* One conv shape prepared on one context, for every mode of Conv2d and
 * ConvTranspose2d (forward, backward data, backward filter) and for
 * clgan_im2col / clgan_col2im: the shape, the GEMM plans of its products,
 * its kernels and every variant choice (read from the context's tuning
 * while planning). Plain data, kernels borrowed from the context; made by
 * clgan_conv_plan_make, read only by the ops below. */
typedef struct clgan_conv_plan {
  clgan_conv_shape shape;
  size_t col_floats;   /* the col workspace the ops need: at most
                          clgan_conv_col_floats, less where the GEMMs read
                          the image or the adjoint builds col a few images at
                          a time, 0 when col is the image (k 1, stride 1, pad 0) */
  int direct;          /* col is the image: no im2col, no col2im */
  int fwd_from_image;  /* forward GEMM reads the (padded) image, no col */
  int filt_from_image; /* weight gradient likewise */
  int adjoint_images;  /* images per column matrix in the adjoint */
  int im2col_rows;     /* im2col one work-item per col row segment, else per element */
  int col2im_rows;     /* col2im one work-item per image row, else per pixel */
  int im2col_oyb;      /* im2col_rows: output rows per work-item */
  cl_uint im2col_nblk; /* im2col_rows: blocks of oyb rows per output image */
  cl_uint4 im2col_div[3]; /* im2col: magic divisors by wo, ho, k */
  cl_uint4 col2im_div[3]; /* col2im: magic divisors by w, h, stride */
  cl_kernel pad, im2col, col2im; /* pad NULL unless a GEMM reads a padded image */
  /* the products: forward W x col, adjoint W^T x dY (per chunk of
   * adjoint_images images, and the last shorter chunk), filter dY x col^T */
  clgan_gemm_plan fwd, adj, adj_last, filt;
  clgan_convt_direct_plan adj_direct; /* the adjoint direct where the tuner chose it
                                         (adj and adj_last then unused) */
  clgan_conv_subpix_plan adj_subpix; /* the adjoint by sub-pixel tiles where the plan
                                        or the tuner chose it (adj, adj_last unused) */
  clgan_conv_whole_plan whole;       /* products by one kernel each where the plan chose
                                        it (their GEMM plans then unused) */
  clgan_conv_narrow_plan narrow;     /* the forward, the weight gradient, the adjoint by a
                                        kernel each where the plan chose it (the padding
                                        still runs; fwd, filt, adj unused) */
  clgan_conv_wino_plan wino;         /* the forward by Winograd where the plan chose it
                                        (the padding still runs; fwd unused) */
  clgan_conv_wino_plan filt_wino;    /* the weight gradient by Winograd where the plan
                                        chose it (the padded image as filt reads it;
                                        filt unused) */
  clgan_conv_wino_plan adj_wino;     /* the adjoint by Winograd where the plan chose it
                                        (dy read as given; adj, adj_last, adj_subpix
                                        unused) */
} clgan_conv_plan;

/* Plans s on ctx (the GEMM backends chosen, kernels created, the GEMM
 * workspace sized, nothing allocated). INVALID for an inconsistent shape. */
clgan_status clgan_conv_plan_make(clgan_ctx *ctx, const clgan_conv_shape *s,
                                  clgan_conv_plan *out);
/* clgan_gemm_plan_prepare for each of the plan's GEMMs: the workspace
 * grown, CLBlast built (before freezing the context). */
clgan_status clgan_conv_plan_prepare(clgan_ctx *ctx, const clgan_conv_plan *p);

/* Conv2d with p from clgan_conv_shape_conv. x [cin, n, h, w],
 * w [cout, cin, k, k], y [cout, n, ho, wo], col workspace of at least
 * p->col_floats floats. */
clgan_status clgan_conv2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p,
                                  clgan_buf x, clgan_buf w, clgan_buf y,
                                  clgan_buf col);
/* Whether p's forward can apply act as its GEMM stores y (the own GEMM
 * reading the image, without split k; act none, ReLU or LeakyReLU). */
int clgan_conv2d_forward_fuses_act(const clgan_conv_plan *p, clgan_act act);
/* y = act(conv2d(x)) in one pass, the bits of clgan_conv2d_forward followed
 * by clgan_act_forward; INVALID where clgan_conv2d_forward_fuses_act is 0. */
clgan_status clgan_conv2d_forward_act(clgan_ctx *ctx, const clgan_conv_plan *p,
                                      clgan_buf x, clgan_buf w, clgan_buf y,
                                      clgan_buf col, clgan_act act, float slope);
/* dx [cin, n, h, w] = conv2d^T(dy); overwrites dx. */
clgan_status clgan_conv2d_backward_data(clgan_ctx *ctx, const clgan_conv_plan *p,
                                        clgan_buf dy, clgan_buf w, clgan_buf dx,
                                        clgan_buf col);
/* Whether p's backward data can apply act's derivative as it stores dx
 * (its col2im path, not the tuner's direct or sub-pixel kernels; act ReLU
 * or LeakyReLU). */
int clgan_conv2d_backward_data_fuses_act(const clgan_conv_plan *p, clgan_act act);
/* dx = conv2d^T(dy) * act'(y) in one pass, y [cin, n, h, w] the output of
 * the activation before the conv (the conv's x): the bits of
 * clgan_conv2d_backward_data followed by clgan_act_backward; INVALID where
 * clgan_conv2d_backward_data_fuses_act is 0. */
clgan_status clgan_conv2d_backward_data_act(clgan_ctx *ctx, const clgan_conv_plan *p,
                                            clgan_buf dy, clgan_buf w, clgan_buf dx,
                                            clgan_buf col, clgan_buf y, clgan_act act,
                                            float slope);
/* dw [cout, cin, k, k] (+)= dy x im2col(x)^T. */
clgan_status clgan_conv2d_backward_filter(clgan_ctx *ctx,
                                          const clgan_conv_plan *p, clgan_buf x,
                                          clgan_buf dy, clgan_buf dw,
                                          clgan_buf col, int accumulate);
/* A second copy of an op's output [c, n, h, w] (m = n*h*w per channel) with
 * a border of pad zeros, [c, n, h + 2*pad, w + 2*pad] in buf, border
 * included, written by the same kernel as the output: the conv next to the
 * op reads it instead of running a padding kernel (clgan_conv_reads_padded).
 * The BatchNorm calls take one as their last argument. */
typedef struct clgan_padded_copy {
  clgan_buf buf;
  int h, w, pad;
} clgan_padded_copy;

/* The zero-padded copy of x that p's forward makes can be kept for the
 * weight gradient, which then pads nothing (a training step's Conv2d: one
 * padding pass instead of two). clgan_conv_kept_floats: the floats of that
 * copy, [cin, n, h + 2*pad, w + 2*pad], and where p's Winograd forward and
 * weight gradient share the transformed image (src/ops/conv_winograd.h)
 * that too, after it (so the weight gradient transforms nothing); 0 where
 * p's forward and weight gradient do not both read a padded image (then
 * there is nothing to keep: use the calls above). */
size_t clgan_conv_kept_floats(const clgan_conv_plan *p);
/* clgan_conv2d_forward_act (act CLGAN_ACT_NONE: clgan_conv2d_forward), the
 * padded x written to kept (clgan_conv_kept_floats(p) floats) rather than
 * col; the same bits. */
clgan_status clgan_conv2d_forward_keep(clgan_ctx *ctx, const clgan_conv_plan *p,
                                       clgan_buf x, clgan_buf w, clgan_buf y,
                                       clgan_buf col, clgan_buf kept, clgan_act act,
                                       float slope);
/* clgan_conv2d_backward_filter from the copy clgan_conv2d_forward_keep or
 * clgan_conv2d_forward_padded_keep kept (of the x of that forward); the
 * same bits. */
clgan_status clgan_conv2d_backward_filter_kept(clgan_ctx *ctx,
                                               const clgan_conv_plan *p, clgan_buf kept,
                                               clgan_buf dy, clgan_buf dw,
                                               clgan_buf col, int accumulate);

/* Where p runs its forward or its adjoint (a ConvTranspose2d's forward, a
 * Conv2d's backward data) by Winograd, the transformed weights can stay in
 * a buffer of the caller's from call to call: each transform compares the
 * weights with the ones it last transformed, bit for bit, and where they
 * are the same transforms and stores nothing (a discriminator's weights
 * serve three passes between updates). Nothing else changes: any weights
 * give the bits of the calls without it. clgan_conv_weights_kept_floats:
 * the floats such a buffer takes (0 where p runs neither product by
 * Winograd). clgan_conv_keep_weights: zeroes buf (at least that many
 * floats; the transform of zero weights is zero) and sets it in p, whose
 * calls use it from then on (buf outlives them). A caller that knows the
 * weights it passes are the ones last transformed may call with a copy of
 * p whose wino and adj_wino have weights_current set: no weight kernel runs
 * (the graph does so from its parameters' versions, graph.h). */
size_t clgan_conv_weights_kept_floats(const clgan_conv_plan *p);
clgan_status clgan_conv_keep_weights(clgan_ctx *ctx, clgan_conv_plan *p, clgan_buf buf);

/* The sides of the conv core that p reads zero-padded, so that the op that
 * writes one can hand it over padded (clgan_padded_copy: a BatchNorm's
 * output, or its dx) and the conv runs no padding kernel of its own:
 *   CLGAN_CONV_IMAGE_SIDE [cin, n, h, w], padded by the shape's pad, where
 *     the forward and the weight gradient both read it so (a Conv2d's x, a
 *     ConvTranspose2d's dy; clgan_conv_kept_floats(p) > 0);
 *   CLGAN_CONV_FEATURE_SIDE [cout, n, ho, wo], padded by 1, where the
 *     adjoint runs the sub-pixel tiles (a Conv2d's dy, a ConvTranspose2d's x).
 * 1 with the copy's geometry (h, w, pad; buf left empty) where p does, else
 * 0. The calls below take such a copy (the Winograd adjoint's one too:
 * it reads dy padded or not at the same cost, so a padded copy for it
 * would only be written for nothing); the results are the bits of the
 * calls without it. */
typedef enum clgan_conv_side { CLGAN_CONV_IMAGE_SIDE, CLGAN_CONV_FEATURE_SIDE } clgan_conv_side;
int clgan_conv_reads_padded(const clgan_conv_plan *p, clgan_conv_side side,
                            clgan_padded_copy *geometry);
/* clgan_conv2d_forward_act (act CLGAN_ACT_NONE: no activation) from xp, x
 * padded (image side). */
clgan_status clgan_conv2d_forward_padded(clgan_ctx *ctx, const clgan_conv_plan *p,
                                         clgan_buf xp, clgan_buf w, clgan_buf y,
                                         clgan_buf col, clgan_act act, float slope);
/* The same from a kept copy (clgan_conv_kept_floats floats) whose start
 * holds x padded (a padded copy written there), keeping in it the rest of
 * what clgan_conv2d_backward_filter_kept reads; the same bits. */
clgan_status clgan_conv2d_forward_padded_keep(clgan_ctx *ctx, const clgan_conv_plan *p,
                                              clgan_buf kept, clgan_buf w, clgan_buf y,
                                              clgan_buf col, clgan_act act, float slope);
/* clgan_conv2d_backward_data (act CLGAN_ACT_NONE, y unused) or _act from
 * dyp, dy padded (feature side). */
clgan_status clgan_conv2d_backward_data_padded(clgan_ctx *ctx, const clgan_conv_plan *p,
                                               clgan_buf dyp, clgan_buf w, clgan_buf dx,
                                               clgan_buf col, clgan_buf y, clgan_act act,
                                               float slope);

/* ConvTranspose2d with p from clgan_conv_shape_convt (s = p->shape).
 * x [s->cout, n, ho, wo] (the convT input), w [s->cout, s->cin, k, k]
 * (PyTorch's [Cin, Cout, k, k]), y [s->cin, n, h, w]. */
clgan_status clgan_convt2d_forward(clgan_ctx *ctx, const clgan_conv_plan *p,
                                   clgan_buf x, clgan_buf w, clgan_buf y,
                                   clgan_buf col);
/* clgan_convt2d_forward from xp, x padded (feature side,
 * clgan_conv_reads_padded). */
clgan_status clgan_convt2d_forward_padded(clgan_ctx *ctx, const clgan_conv_plan *p,
                                          clgan_buf xp, clgan_buf w, clgan_buf y,
                                          clgan_buf col);
/* dx [s->cout, n, ho, wo] = conv2d(dy) with w; overwrites dx. */
clgan_status clgan_convt2d_backward_data(clgan_ctx *ctx,
                                         const clgan_conv_plan *p, clgan_buf dy,
                                         clgan_buf w, clgan_buf dx,
                                         clgan_buf col);
/* dw [s->cout, s->cin, k, k] (+)= x x im2col(dy)^T. */
clgan_status clgan_convt2d_backward_filter(clgan_ctx *ctx,
                                           const clgan_conv_plan *p,
                                           clgan_buf x, clgan_buf dy,
                                           clgan_buf dw, clgan_buf col,
                                           int accumulate);
/* Both: the backward filter, then the backward data, with the same results;
 * where both read dy from the padded image, dy is padded once. */
clgan_status clgan_convt2d_backward(clgan_ctx *ctx, const clgan_conv_plan *p,
                                    clgan_buf x, clgan_buf dy, clgan_buf w,
                                    clgan_buf dw, clgan_buf dx, clgan_buf col,
                                    int accumulate);
/* clgan_convt2d_backward from dyp, dy padded (image side,
 * clgan_conv_reads_padded). */
clgan_status clgan_convt2d_backward_padded(clgan_ctx *ctx, const clgan_conv_plan *p,
                                           clgan_buf x, clgan_buf dyp, clgan_buf w,
                                           clgan_buf dw, clgan_buf dx, clgan_buf col,
                                           int accumulate);

/* The two data-movement halves of the conv core (also used on their own),
 * with the plan's variants; col is the whole column matrix here.
 * im2col: col[(c*k + i)*k + j, (b*ho + oy)*wo + ox] = img[c, b, oy*s-p+i, ox*s-p+j]
 * (zero outside). col2im is its adjoint in gather form: each image pixel sums
 * its taps, deterministic, no atomics; it overwrites img. */
clgan_status clgan_im2col(clgan_ctx *ctx, const clgan_conv_plan *p,
                          clgan_buf img, clgan_buf col);
clgan_status clgan_col2im(clgan_ctx *ctx, const clgan_conv_plan *p,
                          clgan_buf col, clgan_buf img);

/* ---- Data ---------------------------------------------------------------- */
/* Plans (here and in the sections below): each op family has one, made by
 * clgan_<op>_plan_make before the first step. It holds the kernels its
 * launches use (borrowed from the context, which owns and releases them: a
 * plain struct with nothing to destroy) and every variant choice (work-group
 * sizes). All kernel lookups and tuning reads happen there; launches take
 * the plan and look nothing up. A plan is only valid on its own context. */
typedef struct clgan_gather_plan {
  cl_kernel kernel; /* gather_batch (cl/gather.cl) */
} clgan_gather_plan;

clgan_status clgan_gather_plan_make(clgan_ctx *ctx, clgan_gather_plan *out);

/* out [c, n, hw] = images[order[first + b]] for b < n, where images is
 * [count][c][hw] floats and order holds int image indices (an epoch's
 * permutation), both resident on the device. */
clgan_status clgan_gather_batch(clgan_ctx *ctx, const clgan_gather_plan *plan, cl_mem images,
                                cl_mem order, size_t first, int n, int c, int hw,
                                clgan_buf out);

/* ---- Activations -------------------------------------------------------- */
/* clgan_act (CLGAN_ACT_NONE, RELU, LEAKY_RELU, TANH, SIGMOID) is defined in
 * clgan/kernel_abi.h, shared with the kernels. */
typedef struct clgan_act_plan {
  clgan_act act;
  cl_kernel forward, backward; /* act_<name>_forward / _backward (cl/act.cl) */
} clgan_act_plan;

/* The plan of one activation; INVALID for an unknown one. */
clgan_status clgan_act_plan_make(clgan_ctx *ctx, clgan_act act, clgan_act_plan *out);

/* y = act(x) over count floats; y may equal x. */
clgan_status clgan_act_forward(clgan_ctx *ctx, const clgan_act_plan *plan, float slope,
                               size_t count, clgan_buf x, clgan_buf y);
/* dx = dy * act'(.) computed from the *output* y (every act here allows it);
 * dx may equal dy. */
clgan_status clgan_act_backward(clgan_ctx *ctx, const clgan_act_plan *plan, float slope,
                                size_t count, clgan_buf y, clgan_buf dy, clgan_buf dx);

/* ---- BatchNorm2d -------------------------------------------------------- */
/* The kernels of BatchNorm with one fused activation, and their work-group
 * sizes: one work-group per channel, a power of two. The context's
 * tuning.bn_local when set (a power of two each kernel allows, else
 * INVALID); otherwise 1 on CPUs (a work-item streams its row contiguously;
 * with PoCL 256 interleaved work-items are ~5x slower, the channels give the
 * parallelism) and on GPUs the largest power of two <= 256 the device and
 * the kernel allow (work-items stride the row together, coalesced). */
typedef struct clgan_bn_plan {
  clgan_act act;
  cl_kernel forward_train, forward_eval, backward; /* cl/batchnorm.cl */
  size_t train_local, eval_local, backward_local;
  /* SyncBatchNorm's split kernels (several ranks), made with the others */
  cl_kernel sync_stats, sync_apply, sync_sums, sync_dx;
  size_t sync_local;
} clgan_bn_plan;

clgan_status clgan_bn_plan_make(clgan_ctx *ctx, clgan_act act, clgan_bn_plan *out);

/* The BatchNorm calls below take a clgan_padded_copy (above) as their last
 * argument: a second copy of the output (dx for the backward); NULL: none. */

/* Training mode over x [c, m] (m = n*h*w): batch mean and biased variance
 * normalise; save_mean/save_invstd [c] keep them for backward; running_mean
 * and running_var [c] are updated as PyTorch does (momentum, unbiased var;
 * both null mems: no running statistics).
 * y = gamma * (x - mean) * invstd + beta, then the plan's activation. */
clgan_status clgan_batchnorm_forward_train(
    clgan_ctx *ctx, const clgan_bn_plan *plan, int c, size_t m, clgan_buf x, clgan_buf gamma,
    clgan_buf beta, clgan_buf y, clgan_buf save_mean, clgan_buf save_invstd,
    clgan_buf running_mean, clgan_buf running_var, float momentum, float eps, float slope,
    const clgan_padded_copy *copy);
/* Evaluation mode: normalise with the running statistics. */
clgan_status clgan_batchnorm_forward_eval(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                          size_t m, clgan_buf x, clgan_buf gamma,
                                          clgan_buf beta, clgan_buf running_mean,
                                          clgan_buf running_var, float eps, clgan_buf y,
                                          float slope, const clgan_padded_copy *copy);
/* Backward of the training-mode forward with the plan's activation: x is the
 * BN input, y the forward's output (after the activation; may be a null mem
 * with CLGAN_ACT_NONE), dy the gradient at y. Applies dy * act'(y) as
 * clgan_act_backward does, on the fly, so no separate pass is needed; dy is
 * only read. dx [c, m] overwritten (may equal dy); dgamma/dbeta (+)=; a null
 * mem skips that output. */
clgan_status clgan_batchnorm_backward(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                      size_t m, clgan_buf x, clgan_buf y, clgan_buf dy,
                                      clgan_buf gamma, clgan_buf save_mean,
                                      clgan_buf save_invstd, clgan_buf dx, clgan_buf dgamma,
                                      clgan_buf dbeta, int accumulate, float slope,
                                      const clgan_padded_copy *copy);

/* SyncBatchNorm: the training forward and the backward split at their
 * reductions, for batch statistics over several ranks (include/clgan/dist.h
 * sums the middle). sums [2c] is a device buffer of the caller; m is this
 * rank's values per channel, m_total every rank's. One rank never takes
 * this path (the fused kernels above are the recipe's). */
/* sums = (this rank's mean, sum of squared deviations) per channel. */
clgan_status clgan_batchnorm_sync_stats(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                        size_t m, clgan_buf x, clgan_buf sums);
/* With sums = the global (mean, sum of squared deviations): save_mean,
 * save_invstd, the running statistics (unbiased over m_total) and y, as
 * clgan_batchnorm_forward_train. */
clgan_status clgan_batchnorm_sync_apply(clgan_ctx *ctx, const clgan_bn_plan *plan, int c,
                                        size_t m, size_t m_total, clgan_buf x, clgan_buf gamma,
                                        clgan_buf beta, clgan_buf y, clgan_buf sums,
                                        clgan_buf save_mean, clgan_buf save_invstd,
                                        clgan_buf running_mean, clgan_buf running_var,
                                        float momentum, float eps, float slope,
                                        const clgan_padded_copy *copy);
/* sums = (sum(g), sum((x-mean)*g)) of this rank's values; dgamma/dbeta from
 * them ((+)= with accumulate; null mem: skipped). */
clgan_status clgan_batchnorm_sync_sums(clgan_ctx *ctx, const clgan_bn_plan *plan, int c, size_t m,
                                       clgan_buf x, clgan_buf y, clgan_buf dy,
                                       clgan_buf save_mean, clgan_buf save_invstd,
                                       clgan_buf sums, clgan_buf dgamma, clgan_buf dbeta,
                                       int accumulate, float slope);
/* dx from the sums of every rank. */
clgan_status clgan_batchnorm_sync_dx(clgan_ctx *ctx, const clgan_bn_plan *plan, int c, size_t m,
                                     size_t m_total, clgan_buf x, clgan_buf y, clgan_buf dy,
                                     clgan_buf gamma, clgan_buf save_mean, clgan_buf save_invstd,
                                     clgan_buf sums, clgan_buf dx, float slope,
                                     const clgan_padded_copy *copy);

/* ---- Loss ---------------------------------------------------------------- */
/* BCE over a fixed number of logits in one work-group: a power of two, <=
 * 256, <= what device and kernel allow, no larger than needed to give every
 * work-item a logit (the reduction's order, hence its rounding, follows). */
typedef struct clgan_bce_plan {
  cl_kernel kernel; /* bce_logits (cl/loss.cl) */
  size_t count;     /* logits per call */
  size_t local;
} clgan_bce_plan;

/* INVALID for count 0. */
clgan_status clgan_bce_plan_make(clgan_ctx *ctx, size_t count, clgan_bce_plan *out);

/* Binary cross-entropy with mean reduction over the plan's `count` logits,
 * computed stably from the logit (max(x,0) - x*t + log1p(exp(-|x|))),
 * against the constant target t. out[0] = loss, out[1] = mean sigmoid(x)
 * (D(x)). dlogits = scale * (sigmoid(x) - t) / count; pass a null mem to
 * skip it. */
clgan_status clgan_bce_logits(clgan_ctx *ctx, const clgan_bce_plan *plan, clgan_buf logits,
                              float target, clgan_buf out, clgan_buf dlogits, float scale);

/* Softmax cross-entropy over `classes` logits per sample for a fixed batch
 * of `count` samples, in one work-group (a power of two, <= 256, no larger
 * than needed to give every work-item a sample). */
typedef struct clgan_softmax_ce_plan {
  cl_kernel kernel; /* softmax_ce (cl/softmax_ce.cl) */
  size_t classes, count;
  size_t local;
} clgan_softmax_ce_plan;

/* INVALID for fewer than 2 classes or no samples. */
clgan_status clgan_softmax_ce_plan_make(clgan_ctx *ctx, size_t classes, size_t count,
                                        clgan_softmax_ce_plan *out);

/* Mean softmax cross-entropy of logits [classes, count] (class-major, as a
 * graph's [classes, batch, 1, 1] output), computed with the log-sum-exp
 * trick. Sample i's label is labels[order[first + i]] (int device arrays, the
 * indexing of clgan_gather_batch), or labels[first + i] when order is NULL.
 * out[0] = loss, out[1] = the fraction of samples whose first largest logit
 * is their label, out[2] = samples with a label outside [0, classes) (which
 * add nothing). dlogits [classes, count] = scale * (softmax - onehot) /
 * count; pass a null mem to skip it. */
clgan_status clgan_softmax_ce(clgan_ctx *ctx, const clgan_softmax_ce_plan *plan, clgan_buf logits,
                              cl_mem labels, cl_mem order, size_t first, clgan_buf out,
                              clgan_buf dlogits, float scale);

/* ---- Adam ------------------------------------------------------------------ */
typedef struct clgan_adam_params {
  float lr, beta1, beta2, eps;
} clgan_adam_params;

typedef struct clgan_adam_plan {
  cl_kernel kernel; /* adam_step (cl/adam.cl), built with -DCLGAN_ADAM_GUARD if guarded */
  int guarded;
} clgan_adam_plan;

/* guarded: the update reads a skip flag (the NaN/Inf guard). */
clgan_status clgan_adam_plan_make(clgan_ctx *ctx, int guarded, clgan_adam_plan *out);

/* One Adam update (PyTorch semantics, bias correction, no weight decay) of
 * `count` parameters; `step` is the 1-based step number after this update.
 * With a guarded plan it does nothing when skip[0] != 0 (set by
 * clgan_nonfinite_flag): the guard skips a bad step without a round trip to
 * the host. skip is required with a guarded plan and must be a null mem
 * otherwise. */
clgan_status clgan_adam_step(clgan_ctx *ctx, const clgan_adam_plan *plan,
                             const clgan_adam_params *p, long step, size_t count,
                             clgan_buf param, clgan_buf grad, clgan_buf m, clgan_buf v,
                             clgan_buf skip);

/* ---- Stability ------------------------------------------------------------ */
typedef struct clgan_guard_plan {
  cl_kernel kernel; /* nonfinite_any (cl/guard.cl) */
  size_t local;     /* its one work-group: a power of two <= 256 */
} clgan_guard_plan;

clgan_status clgan_guard_plan_make(clgan_ctx *ctx, clgan_guard_plan *out);

/* flag[0] = 1.0 if any of the count floats of x is NaN or infinite, else 0. */
clgan_status clgan_nonfinite_flag(clgan_ctx *ctx, const clgan_guard_plan *plan, size_t count,
                                  clgan_buf x, clgan_buf flag);

typedef struct clgan_ema_plan {
  cl_kernel kernel; /* ema_update (cl/ema.cl) */
} clgan_ema_plan;

clgan_status clgan_ema_plan_make(clgan_ctx *ctx, clgan_ema_plan *out);

/* ema = decay * ema + (1 - decay) * param over count floats. */
clgan_status clgan_ema_update(clgan_ctx *ctx, const clgan_ema_plan *plan, size_t count,
                              clgan_buf ema, clgan_buf param, float decay);

#ifdef __cplusplus
}
#endif
#endif
