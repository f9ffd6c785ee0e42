/* Prepended to every clgan program. OpenCL C 1.2. Buffers are float arrays
 * addressed with an element offset (`off`) so parameters can share an arena. */
#define CLGAN_IDX(off, i) ((off) + (i))
