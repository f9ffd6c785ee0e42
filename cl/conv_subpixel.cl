/* The sub-pixel adjoint of a k 4, stride 2, pad 1 conv (src/ops/conv_subpixel.c):
 * dx's parity class (py, px) is a stride-1 2x2 conv of dy zero-padded by 1,
 *   dx[c, b, 2i+py, 2j+px] = sum over co, a, e in {0, 1} of
 *       w[co, c, 3-py-2a, 3-px-2e] * dyp[co, b, i+py+a, j+px+e],
 * dyp[co, b, y, x] = dy[co, b, y-1, x-1] (0 outside). From oy*2 - 1 + ki = y:
 * y = 2i+py is read by output row oy = i+py+a-1 through kernel row
 * ki = y + 1 - 2*oy = 3-py-2a (the other two rows have the other parity). */

/* The four parities' sub-kernels of w [cout, cin, 4, 4] as GEMM operands
 * wsub[par][c][(co*2 + a)*2 + e], par = py*2 + px ([4][cin, cout*4]).
 * Global (cout*4, cin, 4): one work-item per element. */
__kernel void subpix_gather_w(__global const float *restrict w, uint w_off,
                              __global float *restrict wsub, uint wsub_off, int cin, int cout) {
  int t = get_global_id(0), c = get_global_id(1), par = get_global_id(2);
  if (t >= 4 * cout || c >= cin) return;
  int co = t >> 2, a = (t >> 1) & 1, e = t & 1, py = par >> 1, px = par & 1;
  int ki = 3 - py - 2 * a, kj = 3 - px - 2 * e;
  wsub[wsub_off + ((uint)par * (uint)cin + (uint)c) * (uint)(4 * cout) + (uint)t] =
      w[w_off + (((uint)co * (uint)cin + (uint)c) * 4u + (uint)ki) * 4u + (uint)kj];
}
