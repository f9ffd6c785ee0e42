/* Constants shared by the host and the kernels, defined once: this header is
 * valid C and OpenCL C; the host includes it and every program is built with
 * it prepended (the copy embedded in the library, even with CLGAN_KERNEL_DIR,
 * so a kernel always agrees with the host it was built by). Only enums and
 * macros belong here. */
#ifndef CLGAN_KERNEL_ABI_H
#define CLGAN_KERNEL_ABI_H

/* Activation codes: an op argument on the host, a switch in the kernels. */
typedef enum clgan_act {
  CLGAN_ACT_NONE = 0,
  CLGAN_ACT_RELU,
  CLGAN_ACT_LEAKY_RELU, /* slope 0.2 in the recipe; the slope is a parameter */
  CLGAN_ACT_TANH,
  CLGAN_ACT_SIGMOID,
  CLGAN_ACT_COUNT
} clgan_act;

/* The whole-image conv kernels (cl/conv_whole.cl, src/ops/conv_whole.c):
 * images (feature channels in the weight gradient) per work-item, which
 * share each vector of the other operand it loads. */
#define CLGAN_CONV_WHOLE_BLOCK 8
/* The narrow-image conv forward (cl/conv_narrow.cl, src/ops/conv_narrow.c):
 * image channels it takes at most (cin * 16 tap vectors per work-item; with
 * 3, the RGB first D layer, they spilled and the kernel ran 1.4x slower
 * than the GEMM on PoCL, so gray images only). */
#define CLGAN_CONV_NARROW_MAX_CIN 1
/* Its weight gradient: output channels per work-item, each a vector of
 * accumulators. With 16, D1's dy rows (planes 64 KiB apart) outnumbered
 * the ways of a Zen 4's L1 set: 1.8x slower. */
#define CLGAN_CONV_NARROW_FILT_CO 8
/* Its adjoint: dx rows per work-item (their even and odd columns' vectors
 * in registers beside a dy row's three; 8 spilled, 5x slower). */
#define CLGAN_CONV_NARROW_ADJ_ROWS 4
/* The Winograd adjoint's output transform (cl/winograd_adjoint.cl,
 * src/ops/conv_winograd.c) over images of one tile (tw x th tiles an
 * image), or of 2x2 on register tiles of tm = 4 or 8 rows: a work-item
 * takes a row panel of tm tiles, whole images (all in the lanes of one
 * vector, a tile's neighbours in the others), instead of a row of tiles
 * (2 lanes where an image row is 2 tiles). */
#define CLGAN_WINO_ADJT_BY_PANELS(tw, th, tm) \
  (((tw) == 1 && (th) == 1) || ((tw) == 2 && (th) == 2 && ((tm) == 4 || (tm) == 8)))

/* The packing kernels' transposing form (gemm_pack_<a|b>_p, cl/gemm.cl):
 * rows of a panel of w rows that one work-item transposes. 16 where w is
 * a multiple of it: a panel of 32 (the CPU's B panels) read by one
 * work-item kept 32 rows streaming at once, and where they lie a multiple
 * of 4 KiB apart (dY's channel planes in `tutorial`'s D1 weight gradient)
 * they shared one set of the L1 and of the L2 and the pack ran at a
 * quarter of a copy's rate. */
#define CLGAN_PACK_P_ROWS(w) ((w) % 16 == 0 ? 16 : (w))

/* ---- Augmentation (include/clgan/augment.h, cl/augment.cl) ---------------- */

/* Policies: groups of ops (a policy is any subset). */
typedef enum clgan_aug_policy {
  CLGAN_AUG_COLOR = 1,       /* brightness, saturation, contrast */
  CLGAN_AUG_TRANSLATION = 2,
  CLGAN_AUG_CUTOUT = 4,
  CLGAN_AUG_ALL = 7
} clgan_aug_policy;

/* The five ops, as bits of a workspace record's FLAGS (which were applied).
 * Op i (0..CLGAN_AUG_OPS-1) is bit 1 << i, drawn from the Philox counter
 * (image, i, call counter low, high): the order is part of the random
 * stream. */
typedef enum clgan_aug_op {
  CLGAN_AUG_OP_BRIGHTNESS = 1,
  CLGAN_AUG_OP_SATURATION = 2,
  CLGAN_AUG_OP_CONTRAST = 4,
  CLGAN_AUG_OP_TRANSLATION = 8,
  CLGAN_AUG_OP_CUTOUT = 16
} clgan_aug_op;
#define CLGAN_AUG_OPS 5
/* The policy group an op bit belongs to. */
#define CLGAN_AUG_GROUP_OF(bit)                                                           \
  ((bit) == CLGAN_AUG_OP_TRANSLATION ? CLGAN_AUG_TRANSLATION                             \
   : (bit) == CLGAN_AUG_OP_CUTOUT    ? CLGAN_AUG_CUTOUT                                  \
                                     : CLGAN_AUG_COLOR)

/* Per-image reductions: a fixed partition into this many lanes (so the
 * sums are the same bits whatever the work-group size, which is at most
 * this: the kernels' local arrays). */
#define CLGAN_AUG_LANES 64

/* Workspace layout: one record of CLGAN_AUG_STRIDE floats per image, image b
 * at work + b * CLGAN_AUG_STRIDE. The slots before CLGAN_AUG_P_MEAN are the
 * draw; parameters of ops not applied hold their neutral values (0, 1, 1, 0,
 * 0) and their FLAGS bit is clear. */
#define CLGAN_AUG_STRIDE 12
enum {
  CLGAN_AUG_P_FLAGS = 0,    /* bitmask of clgan_aug_op applied, as a float */
  CLGAN_AUG_P_BRIGHTNESS,   /* b */
  CLGAN_AUG_P_SATURATION,   /* s */
  CLGAN_AUG_P_CONTRAST,     /* k */
  CLGAN_AUG_P_SHIFT_H,      /* dh (integer) */
  CLGAN_AUG_P_SHIFT_W,      /* dw (integer) */
  CLGAN_AUG_P_CUT_H,        /* oh, cutout centre row (integer) */
  CLGAN_AUG_P_CUT_W,        /* ow, cutout centre column (integer) */
  CLGAN_AUG_P_MEAN,         /* forward: mean of the input image x (COLOR only) */
  CLGAN_AUG_P_GRAD_MEAN     /* backward: mean of the gradient at contrast's output */
};

/* ---- ADA (include/clgan/ada.h, cl/ada.cl) ---------------------------------- */

/* ADA's state on the device, CLGAN_ADA_STATE_FLOATS floats. */
enum {
  CLGAN_ADA_P = 0,        /* the probability the next augmentations use */
  CLGAN_ADA_SUM,          /* sum of r_t over the steps of the current interval */
  CLGAN_ADA_COUNT,        /* steps in the current interval so far (an integer) */
  CLGAN_ADA_P_STEP,       /* the probability the last observed step used */
  CLGAN_ADA_STATE_FLOATS
};

/* The rule (Karras et al. 2020 as clgan applies it): every
 * CLGAN_ADA_INTERVAL steps, p += sign(mean r_t - target) * delta, clamped
 * to [0, 1], with delta = batch * CLGAN_ADA_INTERVAL / CLGAN_ADA_IMAGES.
 * Float only (devices may lack fp64); the mean multiplies by a power of two
 * (exact). Defined here once for the kernel and the host twin; arguments
 * are evaluated more than once, so pass plain variables. */
#define CLGAN_ADA_SIGN_LOCAL 256 /* sign_mean's largest work-group (its local array) */
#define CLGAN_ADA_INTERVAL 4
#define CLGAN_ADA_IMAGES 500000 /* images for p to go from 0 to 1 at full speed */
#define CLGAN_ADA_MOVED(p, mean, target, delta) \
  ((mean) > (target) ? (p) + (delta) : (mean) < (target) ? (p) - (delta) : (p))
#define CLGAN_ADA_CLAMP01(v) ((v) < 0.0f ? 0.0f : (v) > 1.0f ? 1.0f : (v))
#define CLGAN_ADA_NEXT_P(p, sum, target, delta) \
  CLGAN_ADA_CLAMP01(CLGAN_ADA_MOVED(p, (sum) * (1.0f / CLGAN_ADA_INTERVAL), target, delta))
/* delta, on the host only (a correctly rounded division; the kernel takes
 * it as an argument, since device division need not be). */
#define CLGAN_ADA_DELTA(batch) \
  ((float)((batch) * CLGAN_ADA_INTERVAL) / (float)CLGAN_ADA_IMAGES)

#endif
