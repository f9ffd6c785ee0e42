/* Enumerating OpenCL platforms and devices, probing what kernels need, and
 * choosing a device from a user's spec. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Reads a string property, truncating it to cap bytes if longer. */
static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t cap) {
  buf[0] = '\0';
  size_t len = 0;
  if (clGetDeviceInfo(d, what, 0, NULL, &len) != CL_SUCCESS || len == 0) return;
  char *tmp = malloc(len + 1);
  if (!tmp) return;
  if (clGetDeviceInfo(d, what, len, tmp, NULL) == CL_SUCCESS) {
    tmp[len] = '\0';
    snprintf(buf, cap, "%s", tmp);
  }
  free(tmp);
}

static int has_ext(const char *exts, const char *name) {
  size_t n = strlen(name);
  for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
    if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
  return 0;
}

static void probe(cl_platform_id p, cl_device_id d, clgan_device_info *o) {
  memset(o, 0, sizeof *o);
  o->platform = p;
  o->device = d;
  clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform_name, o->platform_name, NULL);
  clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof o->platform_version, o->platform_version, NULL);
  o->platform_name[sizeof o->platform_name - 1] = '\0';
  o->platform_version[sizeof o->platform_version - 1] = '\0';
  get_str(d, CL_DEVICE_NAME, o->name, sizeof o->name);
  get_str(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
  get_str(d, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version);
  get_str(d, CL_DEVICE_VERSION, o->device_version, sizeof o->device_version);
  get_str(d, CL_DEVICE_OPENCL_C_VERSION, o->c_version, sizeof o->c_version);
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof o->type, &o->type, NULL);
  o->is_gpu = (o->type & CL_DEVICE_TYPE_GPU) != 0;
  o->is_cpu = (o->type & CL_DEVICE_TYPE_CPU) != 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof o->compute_units, &o->compute_units, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof o->clock_mhz, &o->clock_mhz, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof o->max_work_group_size,
                  &o->max_work_group_size, NULL);
  clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof o->local_mem_bytes, &o->local_mem_bytes, NULL);
  cl_device_local_mem_type lt = CL_LOCAL;
  clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
  o->local_mem_is_global = lt == CL_GLOBAL;
  clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof o->global_mem_bytes, &o->global_mem_bytes, NULL);
  clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof o->global_cache_bytes,
                  &o->global_cache_bytes, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof o->max_alloc_bytes, &o->max_alloc_bytes, NULL);
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  o->unified_memory = unified == CL_TRUE;
  clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof o->preferred_vector_float,
                  &o->preferred_vector_float, NULL);
  cl_device_fp_config fp = 0;
  clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
  o->fp32_rounded_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
  size_t len = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) == CL_SUCCESS && len > 0) {
    char *exts = malloc(len + 1);
    if (exts && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, exts, NULL) == CL_SUCCESS) {
      exts[len] = '\0';
      o->fp16 = has_ext(exts, "cl_khr_fp16");
      o->fp64 = has_ext(exts, "cl_khr_fp64");
      o->subgroups = has_ext(exts, "cl_khr_subgroups") || has_ext(exts, "cl_intel_subgroups");
    }
    free(exts);
  }
}

clgan_status clgan_devices_list(clgan_device_info **out, int *count) {
  *out = NULL;
  *count = 0;
  cl_uint np = 0;
  cl_int err = clGetPlatformIDs(0, NULL, &np);
  if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
    return clgan_fail(CLGAN_ERR_NO_PLATFORM,
                      "no OpenCL platform is installed (no ICD found in "
                      "/etc/OpenCL/vendors); on Debian/Ubuntu install "
                      "'pocl-opencl-icd' for the CPU, or your GPU vendor's "
                      "OpenCL driver");
  if (err != CL_SUCCESS) return clgan_cl_check(err, "clGetPlatformIDs");
  cl_platform_id *plats = calloc(np, sizeof *plats);
  if (!plats) return clgan_fail(CLGAN_ERR_NOMEM, "out of memory listing platforms");
  clgan_status st = CLGAN_OK;
  clgan_device_info *list = NULL;
  int n = 0;
  if ((st = CLGAN_CL(clGetPlatformIDs(np, plats, NULL))) != CLGAN_OK) goto done;
  for (cl_uint p = 0; p < np; p++) {
    cl_uint nd = 0;
    err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
    if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue;
    if ((st = clgan_cl_check(err, "clGetDeviceIDs")) != CLGAN_OK) goto done;
    cl_device_id *devs = calloc(nd, sizeof *devs);
    clgan_device_info *grown = realloc(list, (size_t)(n + (int)nd) * sizeof *list);
    if (!devs || !grown) {
      free(devs);
      if (grown) list = grown;
      st = clgan_fail(CLGAN_ERR_NOMEM, "out of memory listing devices");
      goto done;
    }
    list = grown;
    if ((st = CLGAN_CL(clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL))) != CLGAN_OK) {
      free(devs);
      goto done;
    }
    for (cl_uint d = 0; d < nd; d++) {
      probe(plats[p], devs[d], &list[n]);
      list[n].platform_index = (int)p;
      list[n].device_index = (int)d;
      list[n].global_index = n;
      n++;
    }
    free(devs);
  }
done:
  free(plats);
  if (st != CLGAN_OK) {
    free(list);
    return st;
  }
  *out = list;
  *count = n;
  return CLGAN_OK;
}

static int contains_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return 1;
  }
  return n == 0;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

int clgan_device_pick(const clgan_device_info *list, int count, const char *spec) {
  if (count <= 0) {
    clgan_fail(CLGAN_ERR_NO_DEVICE, "OpenCL platforms are installed but expose no device");
    return -1;
  }
  if (!spec || !*spec || strcmp(spec, "default") == 0) {
    for (int i = 0; i < count; i++)
      if (list[i].is_gpu) return i;
    for (int i = 0; i < count; i++)
      if (list[i].is_cpu) return i;
    return 0;
  }
  if (strcmp(spec, "gpu") == 0 || strcmp(spec, "cpu") == 0) {
    int want_gpu = spec[0] == 'g';
    for (int i = 0; i < count; i++)
      if (want_gpu ? list[i].is_gpu : list[i].is_cpu) return i;
    clgan_fail(CLGAN_ERR_NO_DEVICE, "no OpenCL %s device (run 'clgan devices' to list them)", spec);
    return -1;
  }
  if (all_digits(spec)) {
    int i = atoi(spec);
    if (i < count) return i;
    clgan_fail(CLGAN_ERR_NO_DEVICE, "device index %s out of range (%d device%s; run 'clgan devices')",
               spec, count, count == 1 ? "" : "s");
    return -1;
  }
  const char *colon = strchr(spec, ':');
  if (colon) {
    char a[32] = {0};
    size_t la = (size_t)(colon - spec);
    if (la > 0 && la < sizeof a) {
      memcpy(a, spec, la);
      if (all_digits(a) && all_digits(colon + 1)) {
        int p = atoi(a), d = atoi(colon + 1);
        for (int i = 0; i < count; i++)
          if (list[i].platform_index == p && list[i].device_index == d) return i;
        clgan_fail(CLGAN_ERR_NO_DEVICE, "no device %d on platform %d (run 'clgan devices')", d, p);
        return -1;
      }
    }
  }
  for (int i = 0; i < count; i++)
    if (contains_ci(list[i].name, spec)) return i;
  for (int i = 0; i < count; i++)
    if (contains_ci(list[i].platform_name, spec) || contains_ci(list[i].vendor, spec)) return i;
  clgan_fail(CLGAN_ERR_NO_DEVICE, "no OpenCL device matches '%s' (run 'clgan devices' to list them)", spec);
  return -1;
}

void clgan_device_key(const clgan_device_info *d, char *buf, size_t cap) {
  snprintf(buf, cap, "%s|%s|%s|%s|%s", d->platform_name, d->platform_version, d->name,
           d->device_version, d->driver_version);
}
