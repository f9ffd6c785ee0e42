/* mkstemps is a BSD/glibc extension */
#define _DEFAULT_SOURCE
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fz_write_temp(const uint8_t *data, size_t size, const char *suffix, char *buf, size_t cap) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  int n = snprintf(buf, cap, "%s/clgan-fuzz-XXXXXX%s", dir, suffix);
  if (n < 0 || (size_t)n >= cap) return -1;
  int fd = mkstemps(buf, (int)strlen(suffix));
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) {
      close(fd);
      unlink(buf);
      return -1;
    }
    done += (size_t)w;
  }
  close(fd);
  return 0;
}
