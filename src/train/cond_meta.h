/* The class names of a conditional model in a safetensors file's metadata:
 * "classes" = a JSON array of the names in label order, e.g.
 * ["axial","coronal","sagittal"] (checkpoints and exported generators). */
#ifndef CLGAN_TRAIN_COND_META_H
#define CLGAN_TRAIN_COND_META_H

#include "clgan/cond.h"
#include "clgan/safetensors.h"

/* *json = the names as that array (malloc'd), or NULL when the model is not
 * conditional or has no names. */
clgan_status cond_meta_classes(const clgan_dcgan *net, char **json);

/* Sets net's class names from the file's "classes" (nothing when net is not
 * conditional or the file has none); CLGAN_ERR_FORMAT, naming the file, when
 * it is not an array of num_classes distinct non-empty strings. */
clgan_status cond_meta_read_classes(const clgan_safetensors *st, clgan_dcgan *net);

/* Sets "classes": [names...] in the JSON object obj (config.json of a
 * conditional run), the dataset's classes in label order. */
struct json_t;
struct clgan_dataset;
clgan_status cond_meta_json_classes(struct json_t *obj, const struct clgan_dataset *ds);

#endif
