/* One model for every class (`clgan train --conditional`): a conditional
 * DCGAN. G's input is z' = [z; E_g[y]], a learned embedding of the class
 * (nn.Embedding(num_classes, embed_dim)) appended to the noise, so G's first
 * ConvTranspose2d takes nz + embed_dim channels. D takes the class as
 * num_classes one-hot planes appended to its input channels (its first conv
 * takes channels + num_classes), or with cfg.projection D is a projection
 * discriminator (Miyato & Koyama 2018): logit = f(h) + <E_d[y], sum over
 * space of h>, h being D's last feature map before its final conv and E_d an
 * nn.Embedding(num_classes, channels of h). Label channels were the more
 * faithful of the two in the measurements (README). The tables are
 * parameters of their network ("label_emb.weight" in the state_dict, last in
 * the arena), so Adam, the average (EMA), nan_guard, checkpoints and export
 * cover them.
 *
 * Labels on the device are float buffers [batch] of class indices (0-based,
 * the dataset's sorted class order, as ImageFolder's class_to_idx). */
#ifndef CLGAN_COND_H
#define CLGAN_COND_H

#include "clgan/dcgan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One training iteration of a conditional model: clgan_dcgan_step with the
 * classes of the real batch (to D) and of the fake batch (to G, and to D
 * with the fake images). Both are device buffers [batch]. For an
 * unconditional model both must be null buffers (then it is clgan_dcgan_step). */
clgan_status clgan_dcgan_step_labels(clgan_dcgan *net, clgan_buf real, clgan_buf real_labels,
                                     clgan_buf noise, clgan_buf fake_labels,
                                     clgan_dcgan_stats *stats);

/* clgan_dcgan_step_deferred (statistics one step behind) with the labels
 * as clgan_dcgan_step_labels takes them; the label buffers must keep their
 * values until the step has run (an in-order queue: until the next write). */
clgan_status clgan_dcgan_step_deferred_labels(clgan_dcgan *net, clgan_buf real,
                                              clgan_buf real_labels, clgan_buf noise,
                                              clgan_buf fake_labels);

/* clgan_dcgan_generate with a class per image (labels [batch] on the
 * device). A null labels buffer gives image b of the batch class
 * b % num_classes (what clgan_dcgan_generate does on a conditional model). */
clgan_status clgan_dcgan_generate_labels(clgan_dcgan *net, clgan_buf noise, clgan_buf labels,
                                         clgan_bn_mode mode);

/* The class names of a conditional model (copied; count must be
 * num_classes). Checkpoints and exported generators store them
 * ("classes" in the metadata, a JSON array) and restore them on load. */
clgan_status clgan_dcgan_set_classes(clgan_dcgan *net, char *const *names, int count);
/* num_classes (0 for an unconditional model). */
int clgan_dcgan_class_count(const clgan_dcgan *net);
/* Class i's name, or NULL when the model has none (or i is out of range). */
const char *clgan_dcgan_class_name(const clgan_dcgan *net, int i);
/* The index of class `name`; CLGAN_ERR_INVALID when the model is not
 * conditional or has no such class, the message naming `source` (the file)
 * and listing the classes it knows. */
clgan_status clgan_dcgan_find_class(const clgan_dcgan *net, const char *name, const char *source,
                                    int *index);

/* clgan_sample (clgan/train.h) with a class per image: labels[i] for image
 * i (0 <= labels[i] < num_classes; INVALID otherwise, or for an
 * unconditional model). clgan_sample on a conditional model gives image i
 * class i % num_classes. The noise is drawn as clgan_sample draws it, so the
 * same seed gives the same z whatever the classes. */
typedef struct clgan_sampler clgan_sampler;
clgan_status clgan_sample_labels(clgan_sampler *s, clgan_bn_mode mode, long count,
                                 const float *noise, const int *labels, float *out);

#ifdef __cplusplus
}
#endif
#endif
