/* `clgan balance`: a balanced ImageFolder from an imbalanced one, the real
 * images linked and synthetic ones generated from one checkpoint per class
 * or from one conditional checkpoint, with a manifest that traces every file
 * (clgan_balance, clgan/classify.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "clgan/classify.h"
#include "commands.h"

#define MAX_SOURCES CLGAN_CLASSIFY_MAX_CLASSES

static const char head[] =
    "usage: clgan balance --data DIR --checkpoint CLASS=FILE [--checkpoint CLASS=FILE ...]\n"
    "                     --out DIR [--target N] [--seed S] [--device SPEC]\n"
    "       clgan balance --data DIR --checkpoint FILE --out DIR [--target N] ...\n\n"
    "Writes OUT/<class>/ with the real images of DIR/<class>/ (hard links, copies across\n"
    "file systems) and synthetic_NNNNNN.png images generated from that class's checkpoint,\n"
    "or from one conditional checkpoint (clgan train --conditional) for every class,\n"
    "until every class has N images (default: the largest class's count), and\n"
    "OUT/manifest.csv: file, class, real|synthetic, source, the checkpoint's SHA-256,\n"
    "seed and index. Synthetic image i of class C is image i of 'clgan generate\n"
    "--checkpoint FILE --seed S' (with '--class C' for a conditional checkpoint).\n"
    "An existing, non-empty OUT is refused.\n\n";

typedef struct source_list {
  int count;
  clgan_balance_source items[MAX_SOURCES];
  char names[MAX_SOURCES][256]; /* the class names items point into */
} source_list;

/* --checkpoint CLASS=FILE, repeated, or --checkpoint FILE (conditional: no
 * class name). A '/' before the first '=' makes the whole value a file (a
 * class name is one folder name). */
static int parse_source(const char *cmd, const char *flag, const char *value, void *dst) {
  source_list *l = dst;
  const char *eq = strchr(value, '='), *slash = strchr(value, '/');
  if (slash && eq && slash < eq) eq = NULL;
  if (!*value || (eq && (eq == value || !eq[1]))) {
    fprintf(stderr, "clgan %s: %s expects CLASS=FILE (an unconditional checkpoint of that "
                    "class) or FILE (a conditional checkpoint), not '%s'\n", cmd, flag, value);
    return 0;
  }
  if (l->count == MAX_SOURCES) {
    fprintf(stderr, "clgan %s: at most %d %s options\n", cmd, MAX_SOURCES, flag);
    return 0;
  }
  if (!eq) {
    l->items[l->count].class_name = NULL;
    l->items[l->count].checkpoint = value;
    l->count++;
    return 1;
  }
  size_t n = (size_t)(eq - value);
  if (n >= sizeof l->names[0]) {
    fprintf(stderr, "clgan %s: %s: the class name is longer than %zu bytes\n", cmd, flag,
            sizeof l->names[0] - 1);
    return 0;
  }
  memcpy(l->names[l->count], value, n);
  l->names[l->count][n] = '\0';
  l->items[l->count].class_name = l->names[l->count];
  l->items[l->count].checkpoint = eq + 1;
  l->count++;
  return 1;
}

static void print_report(const clgan_balance_report *r, const char *out) {
  printf("%-24s %8s %10s %8s\n", "class", "real", "synthetic", "total");
  long real = 0, synth = 0;
  for (int c = 0; c < r->nclasses; c++) {
    printf("%-24s %8ld %10ld %8ld\n", r->class_names[c], r->real[c], r->synthetic[c],
           r->real[c] + r->synthetic[c]);
    real += r->real[c];
    synth += r->synthetic[c];
  }
  printf("%-24s %8ld %10ld %8ld\n", "all", real, synth, real + synth);
  printf("target %ld per class; real images: %ld hard-linked, %ld copied", r->target, r->linked,
         r->copied);
  if (r->files_skipped || r->files_ignored)
    printf("; not carried: %d undecodable .png, %d other files", r->files_skipped, r->files_ignored);
  printf("\nwrote %s/manifest.csv\n", out);
}

int cmd_balance(int argc, char **argv) {
  const char *cmd = "balance", *data = NULL, *out = NULL, *device = NULL;
  long target = 0, seed = 0;
  source_list sources = {0};
  const cli_opt opts[] = {
      CLI_STR_OPT("--data", "DIR", &data, "the imbalanced ImageFolder: DIR/<class>/*.png"),
      CLI_CALL_OPT("--checkpoint", "[CLASS=]FILE", &sources, parse_source,
                   "the checkpoint that generates CLASS (repeat per class); or FILE:\n"
                   "one conditional checkpoint for every class"),
      CLI_STR_OPT("--out", "DIR", &out, "the balanced ImageFolder (new or empty)"),
      CLI_LONG_OPT("--target", "N", &target, 1, 100000000,
                   "images per class (default: the largest class's count)"),
      CLI_OPT_SEED(&seed, "noise seed of the generators (default 0)"),
      CLI_OPT_DEVICE(&device),
      CLI_OPT_END};
  const cli_spec spec = {.cmd = cmd, .head = head, .opts = opts};
  int parsed = cli_parse(&spec, argc, argv);
  if (parsed != -1) return parsed;
  if (!data || !out) {
    fprintf(stderr, "clgan balance: --data and --out are required (see --help)\n");
    return 2;
  }
  clgan_ctx *ctx = cli_context(cmd, device, 0);
  if (!ctx) return 1;
  clgan_balance_options o = {.data = data, .out = out, .sources = sources.items,
                             .nsources = sources.count, .target = target, .seed = (uint64_t)seed};
  clgan_balance_report r;
  clgan_status st = clgan_balance(ctx, &o, &r);
  if (st != CLGAN_OK)
    cli_report(cmd, st, "cannot balance");
  else
    print_report(&r, out);
  clgan_ctx_destroy(ctx);
  return st == CLGAN_OK ? 0 : 1;
}
