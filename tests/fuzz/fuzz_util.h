/* Shared helper of the libFuzzer harnesses: the readers take paths, so each
 * input goes to a temporary file that the harness removes afterwards. */
#ifndef CLGAN_FUZZ_UTIL_H
#define CLGAN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to a fresh file named like TMPDIR/clgan-fuzz-XXXXXX<suffix>
 * and returns its path in buf (cap bytes); returns 0, or -1 on failure. */
int fz_write_temp(const uint8_t *data, size_t size, const char *suffix, char *buf, size_t cap);

#endif
