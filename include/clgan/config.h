/* The model configuration, defined once: every field of clgan_dcgan_config
 * with its type, default, valid range, command-line flag, help line and the
 * checkpoint format version that introduced it. This one list drives the
 * defaults (clgan_dcgan_default_config), validation, the checkpoint metadata,
 * config.json, the bench JSON and the options of the commands. */
#ifndef CLGAN_CONFIG_H
#define CLGAN_CONFIG_H

#include <stddef.h>

#include "clgan/dcgan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checkpoint format versions: 1 had the shape and the optimiser; 2 makes the
 * stability and small-data switches required (version-1 files may lack them:
 * they then take the defaults, i.e. off, which is what those files meant);
 * 3 adds D's regularisers (LeCam, spectral norm, bCR) and their state, and
 * the conditional model (its fields, and the class names). */
#define CLGAN_CHECKPOINT_VERSION 3

typedef enum clgan_config_kind {
  CLGAN_CFG_INT,       /* int in [lo, hi] */
  CLGAN_CFG_FLOAT,     /* float in [lo, hi] */
  CLGAN_CFG_FLOAT_POS, /* float in (lo, hi] */
  CLGAN_CFG_FLAG,      /* int, 0 or 1; the flag takes no value */
  CLGAN_CFG_POLICY     /* unsigned clgan_aug_policy bits; the flag takes a list */
} clgan_config_kind;

/* Which options a command offers (CLI groups). */
typedef enum clgan_config_group {
  CLGAN_CFG_FIXED = 0,      /* no flag: the recipe's value */
  CLGAN_CFG_SHAPE = 1,      /* size, channels, widths, batch */
  CLGAN_CFG_OPTIM = 2,      /* learning rates, beta1 */
  CLGAN_CFG_STABILITY = 4,  /* label smoothing, EMA, NaN guard */
  CLGAN_CFG_SMALL_DATA = 8, /* augmentation, ADA */
  CLGAN_CFG_CONDITIONAL = 16 /* one model for every class */
} clgan_config_group;

/* X(field, kind, default (C literal), lo, hi, since, group, flag, metavar, help) */
#define CLGAN_CONFIG_FIELDS(X)                                                                   \
  X(image_size, INT, 64, 8, 512, 1, SHAPE, "--size", "N",                                       \
    "image size, a power of two (default 64)")                                                   \
  X(channels, INT, 3, 1, 3, 1, SHAPE, "--channels", "C", "1 (gray) or 3 (default 3)")           \
  X(nz, INT, 100, 1, 100000, 1, SHAPE, "--nz", "N", "latent size (100)")                        \
  X(ngf, INT, 64, 1, 100000, 1, SHAPE, "--ngf", "N", "generator width (64)")                    \
  X(ndf, INT, 64, 1, 100000, 1, SHAPE, "--ndf", "N", "discriminator width (64)")                \
  X(batch, INT, 128, 2, 1000000, 1, SHAPE, "--batch", "N", "batch size (128)")                  \
  X(lr_g, FLOAT_POS, 2e-4f, 0, 10, 1, OPTIM, "--lr-g", "X", "Adam learning rate of G (2e-4)")   \
  X(lr_d, FLOAT_POS, 2e-4f, 0, 10, 1, OPTIM, "--lr-d", "X", "Adam learning rate of D (2e-4)")   \
  X(beta1, FLOAT, 0.5f, 0, 0.999999, 1, OPTIM, "--beta1", "X", "Adam beta1 (0.5)")              \
  X(beta2, FLOAT, 0.999f, 0, 0.999999, 1, FIXED, NULL, NULL, "Adam beta2")                      \
  X(adam_eps, FLOAT_POS, 1e-8f, 0, 1, 1, FIXED, NULL, NULL, "Adam epsilon")                     \
  X(bn_momentum, FLOAT, 0.1f, 0, 1, 1, FIXED, NULL, NULL, "BatchNorm momentum")                 \
  X(bn_eps, FLOAT_POS, 1e-5f, 0, 1, 1, FIXED, NULL, NULL, "BatchNorm epsilon")                  \
  X(lrelu_slope, FLOAT, 0.2f, 0, 1, 1, FIXED, NULL, NULL, "LeakyReLU slope in D")               \
  X(label_smooth, FLOAT, 0.0f, 0, 0.5, 2, STABILITY, "--label-smooth", "X",                     \
    "one-sided label smoothing: D's real label is 1 - X")                                        \
  X(ema_decay, FLOAT, 0.0f, 0, 0.999999, 2, STABILITY, "--ema", "DECAY",                        \
    "average G's weights (e.g. 0.999) for samples and export (0: off)")                          \
  X(nan_guard, FLAG, 0, 0, 1, 2, STABILITY, "--nan-guard", NULL,                                \
    "skip steps with NaN/Inf gradients; stop after 10 in a row")                                 \
  X(augment, POLICY, 0u, 0, 7, 2, SMALL_DATA, "--augment", "LIST",                              \
    "DiffAugment on every D input: any of color,translation,cutout")                             \
  X(ada, FLAG, 0, 0, 1, 2, SMALL_DATA, "--ada", NULL,                                           \
    "adaptive strength: each op with probability p, tuned so that\n"                             \
    "E[sign(D(real))] stays near --ada-target (0.6)")                                            \
  X(ada_target, FLOAT, 0.6f, 0, 1, 2, SMALL_DATA, "--ada-target", "X",                          \
    "ADA's target for E[sign(D(real))] (0.6)")                                                   \
  X(lecam, FLOAT, 0.0f, 0, 1000, 3, SMALL_DATA, "--lecam", "WEIGHT",                            \
    "LeCam regularisation of D's logits towards moving anchors\n"                                \
    "(Tseng et al. 2021; e.g. 0.3; 0: off)")                                                     \
  X(spectral_norm, FLAG, 0, 0, 1, 3, SMALL_DATA, "--spectral-norm", NULL,                       \
    "spectral normalisation of D's conv weights (Miyato et al. 2018)")                           \
  X(consistency, FLOAT, 0.0f, 0, 1000, 3, SMALL_DATA, "--consistency", "WEIGHT",                \
    "balanced consistency regularisation of D on real and fake\n"                                \
    "(bCR, Zhao et al. 2020; e.g. 10; 0: off), T = --augment's\n"                                \
    "policy or translation,cutout")                                                              \
  X(conditional, FLAG, 0, 0, 1, 3, CONDITIONAL, "--conditional", NULL,                          \
    "one model for every class of DIR/<class>/: G takes a learned class\n"                      \
    "embedding appended to z, D the class as one-hot input channels")                           \
  X(num_classes, INT, 0, 0, 65536, 3, FIXED, NULL, NULL,                                        \
    "classes of a conditional model (from the data)")                                           \
  X(embed_dim, INT, 32, 1, 4096, 3, CONDITIONAL, "--embed-dim", "N",                            \
    "width of G's class embedding appended to z (32)")                                          \
  X(projection, FLAG, 0, 0, 1, 3, CONDITIONAL, "--projection", NULL,                            \
    "D as a projection discriminator (Miyato & Koyama) instead of\n"                            \
    "label channels (measured less faithful here: see the README)")                             \
  X(balanced_sampling, FLAG, 0, 0, 1, 3, CONDITIONAL, "--balanced-sampling", NULL,              \
    "real images drawn class-balanced: each batch position's class\n"                           \
    "uniform, then an image of that class (instead of the epoch shuffle)")

/* One field of the list, as data. */
typedef struct clgan_config_field {
  const char *name;         /* "image_size": the struct field, the metadata key
                               "config.<name>" and the JSON key */
  clgan_config_kind kind;
  size_t offset;            /* in clgan_dcgan_config */
  double def, lo, hi;
  int since;                /* checkpoint format version that introduced it */
  clgan_config_group group;
  const char *flag, *meta;  /* "--size", "N"; NULL flag: no option */
  const char *help;         /* may hold '\n' for continuation lines */
} clgan_config_field;

/* The list (static, immutable) and its length. */
const clgan_config_field *clgan_config_fields(int *count);

/* Checks every field against its range (and image_size a power of two,
 * channels 1 or 3). On failure the message names the field and the valid
 * range, and *bad (when not NULL) is the field. */
clgan_status clgan_config_check(const clgan_dcgan_config *cfg, const clgan_config_field **bad);

/* A field's value as text ("%d", or "%.9g" for floats: exact round trip). */
void clgan_config_format(const clgan_config_field *f, const clgan_dcgan_config *cfg, char *buf,
                         size_t cap);

/* Parses text written by clgan_config_format into the field (type and
 * syntax only; ranges are clgan_config_check's). Returns CLGAN_ERR_FORMAT
 * with no message on bad text: the caller names the source. */
clgan_status clgan_config_parse(const clgan_config_field *f, const char *text,
                                clgan_dcgan_config *cfg);

/* Sets every field of the list as a member of the JSON object obj (a jansson
 * json_t *), in the list's order. */
struct json_t;
clgan_status clgan_config_to_json(const clgan_dcgan_config *cfg, struct json_t *obj);

#ifdef __cplusplus
}
#endif
#endif
