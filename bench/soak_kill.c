/* LD_PRELOAD shim for bench/soak_resume.sh: SIGKILL inside checkpoint writes.
 *
 * Every call that writes a file whose path contains SOAK_MATCH (default
 * "checkpoint.safetensors"; opened for writing) is an event: each fwrite or
 * write, fflush, fsync, fdatasync, fclose or close of it, the rename of it
 * (counted just before and just after). With SOAK_KILL_AT=K the process
 * sends itself SIGKILL at the K-th event, exactly what `kill -9` from outside
 * does, but at a chosen point; at a write event it first writes a random
 * prefix of the data and flushes it, so a torn file is on disk. The kind of
 * event it died at (write, flush, fsync, close, rename, renamed) goes to
 * SOAK_NOTE_FILE when set. With
 * SOAK_COUNT_FILE=PATH the number of events is written there at exit
 * (calibration: events per checkpoint). Build:
 *   cc -shared -fPIC -O2 -o soak_kill.so bench/soak_kill.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 4096
#define MAX_FILES 16

static atomic_long events;
static long kill_at = -1;
static const char *match = "checkpoint.safetensors";
static atomic_char tracked_fd[MAX_FD];
static FILE *_Atomic tracked_file[MAX_FILES];

__attribute__((constructor)) static void soak_init(void) {
  const char *k = getenv("SOAK_KILL_AT"), *m = getenv("SOAK_MATCH");
  if (k && *k) kill_at = atol(k);
  if (m && *m) match = m;
  srand((unsigned)getpid() ^ (unsigned)kill_at); /* the torn prefix's length */
}

__attribute__((destructor)) static void soak_fini(void) {
  const char *path = getenv("SOAK_COUNT_FILE");
  if (!path || !*path) return;
  FILE *(*real_fopen)(const char *, const char *) = dlsym(RTLD_NEXT, "fopen");
  FILE *f = real_fopen(path, "w");
  if (f) {
    fprintf(f, "%ld\n", atomic_load(&events));
    fclose(f);
  }
}

/* One event; returns 1 when this is the one to die at (the caller tears the
 * write first, then calls die()). */
static int event(void) { return atomic_fetch_add(&events, 1) + 1 == kill_at; }

/* Notes the kind of event in SOAK_NOTE_FILE, then dies. */
static void die(const char *kind) {
  const char *path = getenv("SOAK_NOTE_FILE");
  int (*real_open)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");
  int fd = path && *path ? real_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
  if (fd >= 0) {
    ssize_t (*real_write)(int, const void *, size_t) = dlsym(RTLD_NEXT, "write");
    if (real_write(fd, kind, strlen(kind)) < 0) { /* the note is best effort */ }
    ((int (*)(int))dlsym(RTLD_NEXT, "close"))(fd);
  }
  kill(getpid(), SIGKILL);
  for (;;) pause(); /* SIGKILL is not deferred, but never return */
}

static int path_matches(const char *path) { return path && strstr(path, match) != NULL; }

static int file_tracked(FILE *f) {
  for (int i = 0; i < MAX_FILES; i++)
    if (f && atomic_load(&tracked_file[i]) == f) return i;
  return -1;
}

static void track_file(FILE *f) {
  for (int i = 0; i < MAX_FILES; i++) {
    FILE *none = NULL;
    if (atomic_compare_exchange_strong(&tracked_file[i], &none, f)) return;
  }
}

static int fd_tracked(int fd) { return fd >= 0 && fd < MAX_FD && atomic_load(&tracked_fd[fd]); }

static void track_fd(int fd, int on) {
  if (fd >= 0 && fd < MAX_FD) atomic_store(&tracked_fd[fd], (char)on);
}

/* A prefix of n bytes, 0..n-1, so the torn write never completes. */
static size_t torn(size_t n) { return n ? (size_t)rand() % n : 0; }

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static FILE *open_file(const char *sym, const char *path, const char *mode) {
  FILE *(*real)(const char *, const char *) = dlsym(RTLD_NEXT, sym);
  FILE *f = real(path, mode);
  if (f && path_matches(path) && strpbrk(mode, "wa+")) track_file(f);
  return f;
}

FILE *fopen(const char *path, const char *mode) { return open_file("fopen", path, mode); }
FILE *fopen64(const char *path, const char *mode) { return open_file("fopen64", path, mode); }

static int opened(int fd, const char *path, int flags) {
  if (fd >= 0) track_fd(fd, path_matches(path) && (flags & (O_WRONLY | O_RDWR)));
  return fd;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return opened(REAL(open)(path, flags, mode), path, flags);
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open64");
  return opened(real(path, flags, mode), path, flags);
}

int openat(int dir, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return opened(REAL(openat)(dir, path, flags, mode), path, flags);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
  size_t (*real)(const void *, size_t, size_t, FILE *) = REAL(fwrite);
  if (file_tracked(f) >= 0 && event()) {
    real(p, 1, torn(size * n), f);
    REAL(fflush)(f);
    die("write");
  }
  return real(p, size, n, f);
}

ssize_t write(int fd, const void *p, size_t n) {
  ssize_t (*real)(int, const void *, size_t) = REAL(write);
  if (fd_tracked(fd) && event()) {
    real(fd, p, torn(n));
    die("write");
  }
  return real(fd, p, n);
}

int fflush(FILE *f) {
  if (file_tracked(f) >= 0 && event()) die("flush");
  return REAL(fflush)(f);
}

int fsync(int fd) {
  if (fd_tracked(fd) && event()) die("fsync");
  return REAL(fsync)(fd);
}

int fdatasync(int fd) {
  if (fd_tracked(fd) && event()) die("fsync");
  return REAL(fdatasync)(fd);
}

int fclose(FILE *f) {
  int i = file_tracked(f);
  if (i >= 0) {
    if (event()) die("close");
    atomic_store(&tracked_file[i], NULL);
  }
  return REAL(fclose)(f);
}

int close(int fd) {
  if (fd_tracked(fd)) {
    if (event()) die("close");
    track_fd(fd, 0);
  }
  return REAL(close)(fd);
}

static int renamed(int rc, const char *from) {
  if (rc == 0 && path_matches(from) && event()) die("renamed");
  return rc;
}

int rename(const char *from, const char *to) {
  if (path_matches(from) && event()) die("rename");
  return renamed(REAL(rename)(from, to), from);
}

int renameat(int fd1, const char *from, int fd2, const char *to) {
  if (path_matches(from) && event()) die("rename");
  return renamed(REAL(renameat)(fd1, from, fd2, to), from);
}
