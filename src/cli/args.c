#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 24 /* where help lines start: "  --flag META" then padding */

void cli_report_hint(const char *cmd, clgan_status st, const char *what, const char *hint) {
  const char *detail = clgan_last_error();
  fprintf(stderr, "clgan %s: %s: %s%s\n", cmd, what ? what : clgan_status_str(st),
          *detail ? detail : clgan_status_str(st), hint ? hint : "");
}

void cli_report(const char *cmd, clgan_status st, const char *what) {
  cli_report_hint(cmd, st, what, NULL);
}

/* ---- help ------------------------------------------------------------------ */

static void help_lines(FILE *f, const char *text, int indent) {
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n');
    int len = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(f, "%*s%.*s\n", p == text ? 0 : indent, "", len, p);
    p += len + (nl ? 1 : 0);
  }
}

static void help_table(FILE *f, const cli_opt *o) {
  for (; o->kind != CLI_END; o++) {
    if (o->kind == CLI_INCLUDE) {
      help_table(f, o->dst);
      continue;
    }
    if (!o->help) continue;
    if (o->kind == CLI_TEXT) {
      help_lines(f, o->help, 0);
      continue;
    }
    char left[64];
    snprintf(left, sizeof left, "  %s%s%s", o->flag, o->meta ? " " : "", o->meta ? o->meta : "");
    if ((int)strlen(left) >= HELP_COLUMN - 1)
      fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
    else
      fprintf(f, "%-*s", HELP_COLUMN, left);
    help_lines(f, o->help, HELP_COLUMN);
    if (o->show_range) fprintf(f, "%*saccepted: %ld to %ld\n", HELP_COLUMN, "", o->lo, o->hi);
  }
}

void cli_help(const cli_spec *spec, FILE *f) {
  fputs(spec->head, f);
  help_table(f, spec->opts);
  if (spec->tail) fputs(spec->tail, f);
}

/* ---- values ---------------------------------------------------------------- */

static int take_long(const char *cmd, const cli_opt *o, const char *text, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (end == text || *end || errno || v < o->lo || v > o->hi) {
    fprintf(stderr, "clgan %s: %s expects an integer from %ld to %ld, not '%s'\n", cmd, o->flag,
            o->lo, o->hi, text);
    return 0;
  }
  *out = v;
  return 1;
}

static int take_float(const char *cmd, const cli_opt *o, const char *text) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  int open = o->kind == CLI_FLOAT_POS;
  if (end == text || *end || errno || !(open ? v > o->flo : v >= o->flo) || !(v <= o->fhi)) {
    fprintf(stderr, "clgan %s: %s expects a number in %c%g, %g], not '%s'\n", cmd, o->flag,
            open ? '(' : '[', o->flo, o->fhi, text);
    return 0;
  }
  *(float *)o->dst = (float)v;
  return 1;
}

static int take_choice(const char *cmd, const cli_opt *o, const char *text) {
  int n = 0;
  for (; o->choices[n]; n++)
    if (strcmp(text, o->choices[n]) == 0) {
      *(int *)o->dst = o->values[n];
      return 1;
    }
  fprintf(stderr, "clgan %s: %s expects ", cmd, o->flag);
  for (int i = 0; i < n; i++)
    fprintf(stderr, "%s%s", o->choices[i], i + 2 < n ? ", " : i + 2 == n ? " or " : "");
  fprintf(stderr, ", not '%s'\n", text);
  return 0;
}

/* Stores text into the option's destination; 0 after a message. */
int cli_take(const char *cmd, const cli_opt *o, const char *text) {
  long v;
  switch (o->kind) {
    case CLI_STR: *(const char **)o->dst = text; return 1;
    case CLI_LONG: return take_long(cmd, o, text, (long *)o->dst);
    case CLI_INT:
      if (!take_long(cmd, o, text, &v)) return 0;
      *(int *)o->dst = (int)v;
      return 1;
    case CLI_FLOAT:
    case CLI_FLOAT_POS: return take_float(cmd, o, text);
    case CLI_CHOICE: return take_choice(cmd, o, text);
    case CLI_CALL: return o->parse(cmd, o->flag, text, o->dst);
    default: return 0;
  }
}

/* ---- parsing --------------------------------------------------------------- */

static const cli_opt *find(const cli_opt *o, const char *name, size_t len) {
  for (; o->kind != CLI_END; o++) {
    if (o->kind == CLI_INCLUDE) {
      const cli_opt *in = find(o->dst, name, len);
      if (in) return in;
    } else if (o->flag && strlen(o->flag) == len && strncmp(o->flag, name, len) == 0) {
      return o;
    }
  }
  return NULL;
}

static int add_positional(const cli_spec *s, const char *arg) {
  if (!s->positional || *s->npositional >= s->max_positional) {
    fprintf(stderr, "clgan %s: unexpected argument '%s' (see --help)\n", s->cmd, arg);
    return 0;
  }
  s->positional[(*s->npositional)++] = arg;
  return 1;
}

int cli_parse(const cli_spec *s, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      cli_help(s, stdout);
      return 0;
    }
    if (strcmp(a, "--") == 0 && s->positional) {
      while (++i < argc)
        if (!add_positional(s, argv[i])) return 2;
      break;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (!add_positional(s, a)) return 2;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const cli_opt *o = find(s->opts, a, len);
    if (!o) {
      fprintf(stderr, "clgan %s: unknown option '%.*s' (see --help)\n", s->cmd, (int)len, a);
      return 2;
    }
    if (o->kind == CLI_FLAG) {
      if (eq) {
        fprintf(stderr, "clgan %s: %s takes no value (see --help)\n", s->cmd, o->flag);
        return 2;
      }
      *(int *)o->dst = 1;
      continue;
    }
    const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    if (!value) {
      fprintf(stderr, "clgan %s: %s needs a value (see --help)\n", s->cmd, o->flag);
      return 2;
    }
    if (!cli_take(s->cmd, o, value)) return 2;
  }
  return -1;
}

/* ---- the configuration list as options ------------------------------------- */

static int parse_policy(const char *cmd, const char *flag, const char *value, void *dst) {
  if (clgan_augment_parse_policy(value, dst) == CLGAN_OK) return 1;
  fprintf(stderr, "clgan %s: %s: %s\n", cmd, flag, clgan_last_error());
  return 0;
}

void cli_model_options(clgan_dcgan_config *cfg, unsigned groups, cli_opt *out) {
  int n, k = 0;
  const clgan_config_field *f = clgan_config_fields(&n);
  for (int i = 0; i < n && k < CLI_MODEL_MAX - 1; i++) {
    if (!f[i].flag || !(f[i].group & groups)) continue;
    cli_opt o = {.flag = f[i].flag, .meta = f[i].meta, .dst = (char *)cfg + f[i].offset,
                 .lo = (long)f[i].lo, .hi = (long)f[i].hi, .flo = f[i].lo, .fhi = f[i].hi,
                 .help = f[i].help};
    switch (f[i].kind) {
      /* the range the configuration list accepts; a short one (channels 1
       * or 3) is spelled out in the help text itself */
      case CLGAN_CFG_INT: o.kind = CLI_INT, o.show_range = f[i].hi - f[i].lo > 2; break;
      case CLGAN_CFG_FLOAT: o.kind = CLI_FLOAT; break;
      case CLGAN_CFG_FLOAT_POS: o.kind = CLI_FLOAT_POS; break;
      case CLGAN_CFG_FLAG: o.kind = CLI_FLAG; break;
      case CLGAN_CFG_POLICY: o.kind = CLI_CALL, o.parse = parse_policy; break;
    }
    out[k++] = o;
  }
  out[k] = (cli_opt)CLI_OPT_END;
}

int cli_check_config(const char *cmd, const clgan_dcgan_config *cfg) {
  const clgan_config_field *bad = NULL;
  if (clgan_config_check(cfg, &bad) == CLGAN_OK) return 1;
  if (bad && bad->flag)
    fprintf(stderr, "clgan %s: %s (%s)\n", cmd, clgan_last_error(), bad->flag);
  else
    fprintf(stderr, "clgan %s: %s\n", cmd, clgan_last_error());
  return 0;
}

const char *cli_checkpoint_hint(clgan_status st, const char *path) {
  clgan_safetensors *sf = NULL;
  if (st != CLGAN_ERR_FORMAT || !path || clgan_safetensors_open(path, &sf) != CLGAN_OK) return NULL;
  const char *fmt = clgan_safetensors_meta(sf, "format");
  int generator = fmt && strcmp(fmt, "clgan-generator") == 0;
  clgan_safetensors_close(sf);
  return generator ? "; for an exported generator use 'clgan generate --generator'" : NULL;
}

clgan_ctx *cli_context(const char *cmd, const char *device, int quiet) {
  clgan_ctx_options o = {.device = device};
  clgan_ctx *ctx = NULL;
  clgan_status st = clgan_ctx_create(&o, &ctx);
  if (st != CLGAN_OK) {
    cli_report(cmd, st, "cannot open the OpenCL device");
    return NULL;
  }
  if (!quiet) {
    const clgan_device_info *d = clgan_ctx_device(ctx);
    printf("device: %s (%s, %s)\n", d->name, d->platform_name, d->is_gpu ? "GPU" : "CPU");
  }
  return ctx;
}

void cli_format_bytes(char *buf, size_t cap, double b) {
  if (b >= 1 << 30)
    snprintf(buf, cap, "%.2f GiB", b / (1 << 30));
  else if (b >= 1 << 20)
    snprintf(buf, cap, "%.1f MiB", b / (1 << 20));
  else
    snprintf(buf, cap, "%.1f KiB", b / 1024);
}
