/* clgan status codes.
 *
 * Every fallible library function returns a clgan_status. The library never
 * exits or prints; the detail of the most recent failure on the calling thread
 * (OpenCL error name, the call, a build log, a file name) is kept in a
 * thread-local buffer read with clgan_last_error(). */
#ifndef CLGAN_STATUS_H
#define CLGAN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, short message): one list generates the enum and clgan_status_str. */
#define CLGAN_STATUS_LIST(X)                                                   \
  X(CLGAN_OK, "success")                                                       \
  X(CLGAN_ERR_INVALID, "invalid argument")                                     \
  X(CLGAN_ERR_NOMEM, "out of host memory")                                     \
  X(CLGAN_ERR_NO_PLATFORM, "no OpenCL platform is installed")                  \
  X(CLGAN_ERR_NO_DEVICE, "no matching OpenCL device")                          \
  X(CLGAN_ERR_OPENCL, "OpenCL call failed")                                    \
  X(CLGAN_ERR_BUILD, "OpenCL kernel build failed")                             \
  X(CLGAN_ERR_CLBLAST, "CLBlast call failed")                                  \
  X(CLGAN_ERR_IO, "file input/output failed")                                  \
  X(CLGAN_ERR_FORMAT, "malformed or unexpected file content")                  \
  X(CLGAN_ERR_FROZEN, "kernel creation requested after planning")             \
  X(CLGAN_ERR_UNSUPPORTED, "not supported on this device")                    \
  X(CLGAN_ERR_DIVERGED, "training diverged (non-finite losses or gradients)") \
  X(CLGAN_ERR_DEVICE_MEMORY, "the model does not fit the device's memory")

typedef enum clgan_status {
#define CLGAN_X_ENUM(name, msg) name,
  CLGAN_STATUS_LIST(CLGAN_X_ENUM)
#undef CLGAN_X_ENUM
      CLGAN_STATUS_COUNT
} clgan_status;

/* Short, static message for a status ("invalid argument"). Never NULL. */
const char *clgan_status_str(clgan_status status);

/* Symbolic name of a status ("CLGAN_ERR_INVALID"). Never NULL. */
const char *clgan_status_name(clgan_status status);

/* Detail of the last failure on this thread ("" when none). Valid until the
 * next failing clgan call on the same thread. */
const char *clgan_last_error(void);

/* Sets this thread's error detail (printf-style) and returns status, for
 * code built on the library (the CLI, bench) to report its own failures the
 * library's way: return clgan_fail(CLGAN_ERR_IO, "cannot open %s", path). */
clgan_status clgan_fail(clgan_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL_UNKNOWN_ERROR". */
const char *clgan_cl_error_name(int cl_error);

#ifdef __cplusplus
}
#endif
#endif
