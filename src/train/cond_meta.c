/* Class names in safetensors metadata (train/cond_meta.h). */
#include "train/cond_meta.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/dataset.h"
#include "runtime/internal.h"

clgan_status cond_meta_classes(const clgan_dcgan *net, char **out) {
  *out = NULL;
  int n = clgan_dcgan_class_count(net);
  if (n == 0 || !clgan_dcgan_class_name(net, 0)) return CLGAN_OK;
  json_t *arr = json_array();
  int ok = arr != NULL;
  for (int i = 0; i < n && ok; i++)
    ok = json_array_append_new(arr, json_string(clgan_dcgan_class_name(net, i))) == 0;
  if (ok) *out = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return *out ? CLGAN_OK : clgan_fail(CLGAN_ERR_NOMEM, "cannot encode the class names");
}

/* The names of the array, checked: num_classes distinct non-empty strings. */
static const char *check_names(const json_t *arr, int want, char **names) {
  if (!json_is_array(arr)) return "is not a JSON array of names";
  if ((int)json_array_size(arr) != want) return "does not hold one name per class";
  for (int i = 0; i < want; i++) {
    const char *s = json_string_value(json_array_get(arr, (size_t)i));
    if (!s || !*s) return "holds a name that is not a non-empty string";
    for (int j = 0; j < i; j++)
      if (strcmp(names[j], s) == 0) return "names a class twice";
    names[i] = (char *)s;
  }
  return NULL;
}

clgan_status cond_meta_read_classes(const clgan_safetensors *st, clgan_dcgan *net) {
  int n = clgan_dcgan_class_count(net);
  const char *text = clgan_safetensors_meta(st, "classes");
  if (n == 0 || !text) return CLGAN_OK;
  json_error_t err;
  json_t *arr = json_loads(text, 0, &err);
  char **names = calloc((size_t)n, sizeof *names);
  if (!names) {
    json_decref(arr);
    return clgan_fail(CLGAN_ERR_NOMEM, "out of memory");
  }
  const char *why = arr ? check_names(arr, n, names) : "is not valid JSON";
  clgan_status s = why ? clgan_fail(CLGAN_ERR_FORMAT, "%s: metadata 'classes' %s (%d classes)",
                                    clgan_safetensors_path(st), why, n)
                       : clgan_dcgan_set_classes(net, names, n);
  free(names);
  json_decref(arr);
  return s;
}

clgan_status cond_meta_json_classes(json_t *obj, const clgan_dataset *ds) {
  json_t *arr = json_array();
  int ok = arr != NULL;
  for (int i = 0; i < ds->nclasses && ok; i++)
    ok = json_array_append_new(arr, json_string(ds->class_names[i])) == 0;
  if (ok && json_object_set_new(obj, "classes", arr) == 0) return CLGAN_OK;
  if (!ok) json_decref(arr);
  return clgan_fail(CLGAN_ERR_NOMEM, "cannot encode the class names");
}
