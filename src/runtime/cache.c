/* Persistent disk cache: compiled program binaries and measured device facts.
 *
 * File: "<dir>/<kind>-<hash of key>.bin" holding
 *   magic "CLGANC01" | u32 key length | key | u64 payload size |
 *   u64 payload hash | payload
 * The full key is stored so a hash collision or a foreign file is detected;
 * the payload hash catches truncation and corruption. Writes go to a unique
 * temporary file that is renamed into place, so readers never see half a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char magic[8] = {'C', 'L', 'G', 'A', 'N', 'C', '0', '1'};

uint64_t clgan_hash(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t clgan_hash_str(uint64_t seed, const char *s) {
  /* include the terminator so ("ab","c") and ("a","bc") differ */
  return clgan_hash(seed, s, strlen(s) + 1);
}

clgan_status clgan_make_dirs(const char *path) {
  char tmp[4096];
  struct stat st;
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp || !*tmp)
    return clgan_fail(CLGAN_ERR_IO, "cannot create directory %s: %s", path, strerror(ENAMETOOLONG));
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) goto fail;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) goto fail;
  if (stat(tmp, &st) != 0) goto fail;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    goto fail;
  }
  return CLGAN_OK;
fail:
  return clgan_fail(CLGAN_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
}

const char *clgan_cache_dir(const clgan_tuning *t) {
  return t->cache_off ? "" : t->cache_dir;
}

static int entry_path(const char *dir, const char *kind, const char *key, char *buf, size_t cap) {
  if (!dir || !*dir) return -1;
  int n = snprintf(buf, cap, "%s/%s-%016llx.bin", dir, kind,
                   (unsigned long long)clgan_hash_str(CLGAN_FNV_SEED, key));
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

clgan_status clgan_cache_load(const char *dir, const char *kind, const char *key,
                              void **payload, size_t *size) {
  *payload = NULL;
  *size = 0;
  char path[1200];
  if (entry_path(dir, kind, key, path, sizeof path) != 0)
    return clgan_fail(CLGAN_ERR_IO, "disk cache disabled");
  FILE *f = fopen(path, "rb");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "%s: not cached", path);
  clgan_status st = clgan_fail(CLGAN_ERR_FORMAT, "%s: corrupt cache entry", path);
  char m[8];
  uint32_t klen = 0;
  uint64_t psize = 0, phash = 0;
  char *k = NULL;
  void *p = NULL;
  size_t keylen = strlen(key);
  if (fread(m, 1, 8, f) != 8 || memcmp(m, magic, 8) != 0) goto out;
  if (fread(&klen, sizeof klen, 1, f) != 1 || klen != keylen) goto out;
  if (!(k = malloc(klen + 1))) goto out;
  if (fread(k, 1, klen, f) != klen || memcmp(k, key, klen) != 0) goto out;
  if (fread(&psize, sizeof psize, 1, f) != 1 || fread(&phash, sizeof phash, 1, f) != 1) goto out;
  if (psize > ((uint64_t)1 << 32)) goto out;
  if (!(p = malloc(psize ? psize : 1))) goto out;
  if (fread(p, 1, psize, f) != psize) goto out;
  if (fgetc(f) != EOF) goto out; /* trailing garbage */
  if (clgan_hash(CLGAN_FNV_SEED, p, psize) != phash) goto out;
  *payload = p;
  *size = psize;
  p = NULL;
  st = CLGAN_OK;
out:
  free(k);
  free(p);
  fclose(f);
  return st;
}

clgan_status clgan_cache_store(const char *dir, const char *kind, const char *key,
                               const void *payload, size_t size) {
  char path[1200], tmp[1300];
  if (entry_path(dir, kind, key, path, sizeof path) != 0)
    return clgan_fail(CLGAN_ERR_IO, "disk cache disabled");
  if (clgan_make_dirs(dir) != CLGAN_OK) return CLGAN_ERR_IO;
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return clgan_fail(CLGAN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  uint32_t klen = (uint32_t)strlen(key);
  uint64_t psize = size, phash = clgan_hash(CLGAN_FNV_SEED, payload, size);
  int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(&klen, sizeof klen, 1, f) == 1 &&
           fwrite(key, 1, klen, f) == klen && fwrite(&psize, sizeof psize, 1, f) == 1 &&
           fwrite(&phash, sizeof phash, 1, f) == 1 && fwrite(payload, 1, size, f) == size;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return clgan_fail(CLGAN_ERR_IO, "cannot write cache entry %s: %s", path, strerror(e));
  }
  return CLGAN_OK;
}
