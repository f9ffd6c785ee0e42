/* Constants shared by the host and the kernels, defined once: this header is
 * valid C and OpenCL C; the host includes it and every program is built with
 * it prepended (the copy embedded in the library, even with CLGAN_KERNEL_DIR,
 * so a kernel always agrees with the host it was built by). Only enums and
 * macros belong here. */
#ifndef CLGAN_KERNEL_ABI_H
#define CLGAN_KERNEL_ABI_H

/* Activation codes: an op argument on the host, a switch in the kernels. */
typedef enum clgan_act {
  CLGAN_ACT_NONE = 0,
  CLGAN_ACT_RELU,
  CLGAN_ACT_LEAKY_RELU, /* slope 0.2 in the recipe; the slope is a parameter */
  CLGAN_ACT_TANH,
  CLGAN_ACT_SIGMOID,
  CLGAN_ACT_COUNT
} clgan_act;

#endif
