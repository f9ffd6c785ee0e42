/* The configuration list as data: defaults, validation, text and JSON. */
#include "clgan/config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/internal.h"

clgan_dcgan_config clgan_dcgan_default_config(void) {
  /* the defaults as C literals (2e-4f, not a double rounded to float) */
#define CLGAN_X_DEFAULT(field, kind, def, lo, hi, since, group, flag, meta, help) .field = def,
  clgan_dcgan_config c = {CLGAN_CONFIG_FIELDS(CLGAN_X_DEFAULT)};
#undef CLGAN_X_DEFAULT
  return c;
}

static const clgan_config_field fields[] = {
#define CLGAN_X_FIELD(field, kind, def, lo, hi, since, group, flag, meta, help)                \
  {#field, CLGAN_CFG_##kind, offsetof(clgan_dcgan_config, field), (double)(def), lo, hi, since, \
   CLGAN_CFG_##group, flag, meta, help},
    CLGAN_CONFIG_FIELDS(CLGAN_X_FIELD)
#undef CLGAN_X_FIELD
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

const clgan_config_field *clgan_config_fields(int *count) {
  *count = NFIELDS;
  return fields;
}

static int is_float(const clgan_config_field *f) {
  return f->kind == CLGAN_CFG_FLOAT || f->kind == CLGAN_CFG_FLOAT_POS;
}

/* Value of an integer-like field (int, flag, policy bits). */
static long int_value(const clgan_config_field *f, const clgan_dcgan_config *c) {
  const char *p = (const char *)c + f->offset;
  if (f->kind == CLGAN_CFG_POLICY) return (long)*(const unsigned *)p;
  return *(const int *)p;
}

static float float_value(const clgan_config_field *f, const clgan_dcgan_config *c) {
  return *(const float *)((const char *)c + f->offset);
}

static clgan_status check_field(const clgan_config_field *f, const clgan_dcgan_config *c) {
  if (is_float(f)) {
    double v = float_value(f, c);
    int open = f->kind == CLGAN_CFG_FLOAT_POS;
    if (isfinite(v) && (open ? v > f->lo : v >= f->lo) && v <= f->hi) return CLGAN_OK;
    return clgan_fail(CLGAN_ERR_INVALID, "%s is %g; the valid range is %c%g, %g]", f->name, v,
                      open ? '(' : '[', f->lo, f->hi);
  }
  long v = int_value(f, c);
  if (v < (long)f->lo || v > (long)f->hi)
    return clgan_fail(CLGAN_ERR_INVALID, "%s is %ld; the valid range is %ld to %ld", f->name, v,
                      (long)f->lo, (long)f->hi);
  if (f->offset == offsetof(clgan_dcgan_config, channels) && v == 2)
    return clgan_fail(CLGAN_ERR_INVALID, "channels is 2; valid values are 1 and 3");
  if (f->offset == offsetof(clgan_dcgan_config, image_size) && (v & (v - 1)) != 0)
    return clgan_fail(CLGAN_ERR_INVALID,
                      "image_size is %ld; valid values are powers of two from %ld to %ld", v,
                      (long)f->lo, (long)f->hi);
  return CLGAN_OK;
}

clgan_status clgan_config_check(const clgan_dcgan_config *cfg, const clgan_config_field **bad) {
  for (int i = 0; i < NFIELDS; i++) {
    clgan_status st = check_field(&fields[i], cfg);
    if (st != CLGAN_OK) {
      if (bad) *bad = &fields[i];
      return st;
    }
  }
  if (bad) *bad = NULL;
  return CLGAN_OK;
}

void clgan_config_format(const clgan_config_field *f, const clgan_dcgan_config *cfg, char *buf,
                         size_t cap) {
  if (is_float(f))
    snprintf(buf, cap, "%.9g", (double)float_value(f, cfg));
  else
    snprintf(buf, cap, "%ld", int_value(f, cfg));
}

clgan_status clgan_config_parse(const clgan_config_field *f, const char *text,
                                clgan_dcgan_config *cfg) {
  char *end = NULL, *p = (char *)cfg + f->offset;
  errno = 0;
  if (is_float(f)) {
    float v = strtof(text, &end);
    if (end == text || *end || errno || !isfinite(v)) return CLGAN_ERR_FORMAT;
    *(float *)p = v;
    return CLGAN_OK;
  }
  long v = strtol(text, &end, 10);
  if (end == text || *end || errno || v < 0 || v > (1 << 24)) return CLGAN_ERR_FORMAT;
  if (f->kind == CLGAN_CFG_POLICY)
    *(unsigned *)p = (unsigned)v;
  else
    *(int *)p = (int)v;
  return CLGAN_OK;
}

clgan_status clgan_config_to_json(const clgan_dcgan_config *cfg, struct json_t *obj) {
  for (int i = 0; i < NFIELDS; i++) {
    const clgan_config_field *f = &fields[i];
    json_t *v = is_float(f) ? json_real((double)float_value(f, cfg))
                            : f->kind == CLGAN_CFG_FLAG ? json_boolean(int_value(f, cfg))
                                                        : json_integer(int_value(f, cfg));
    if (!v || json_object_set_new(obj, f->name, v) != 0)
      return clgan_fail(CLGAN_ERR_NOMEM, "cannot encode the configuration as JSON");
  }
  return CLGAN_OK;
}
