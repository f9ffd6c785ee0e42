/* Differentiable augmentation (DiffAugment with ADA's per-op probability) on
 * x [c, n, h, w], forward and backward.
 * See include/clgan/augment.h for the semantics and the workspace record.
 *
 *   augment_params           one work-group per image: draws the record
 *                            (Philox4x32-10) and the image mean for contrast
 *   augment_forward          one work-item per output pixel, all channels
 *   augment_backward_gather  one work-item per input pixel: cutout's mask and
 *                            translation's inverse shift (the whole backward
 *                            without colour)
 *   augment_backward_reduce  one work-group per image: mean of that gradient
 *                            (images with contrast only)
 *   augment_backward_color   in place, per pixel: contrast's and saturation's
 *                            adjoints (brightness passes the gradient)
 *
 * Built with -DAUG_C=c for c = 1..4 (the channel loops unroll, so PoCL can
 * vectorise across work-items) and -DAUG_C=0 for any c (runtime loops).
 *
 * Per-image sums use a fixed partition into AUG_LANES lanes (lane l sums the
 * 16-float chunks l, l + 64, ... of every channel plane, then the tail
 * elements l, l + 64, ... past the last whole chunk) and fixed trees over the
 * chunk vector and the lanes, whatever the work-group size. Means multiply
 * by reciprocals the host computes (inv_c = 1/c, inv_chw = 1/(c*h*w)), no
 * division, and contraction into FMA is off: only correctly rounded adds and
 * multiplies, so every conforming device gives the same bits. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef AUG_C
#define AUG_C 0
#endif
#if AUG_C > 0
#define NC ((uint)AUG_C)
/* Unrolled channel loops leave the work-item loop innermost, which PoCL's
 * vectoriser needs (measured: 4x on the per-pixel kernels). */
#define UNROLL _Pragma("unroll")
#else
#define NC c
#define UNROLL
#endif

/* The policies (CLGAN_AUG_COLOR...), op bits (CLGAN_AUG_OP_*), the record
 * stride and slots (CLGAN_AUG_STRIDE, CLGAN_AUG_P_*) come from
 * include/clgan/kernel_abi.h, prepended to this program: the host's own. */
#define AUG_LANES ((uint)CLGAN_AUG_LANES)

#define TWO_M24 5.9604644775390625e-8f  /* 2^-24 */
#define TWO_M23 1.1920928955078125e-7f  /* 2^-23 */

/* Philox4x32-10 (Salmon et al. 2011): counter c, key k. */
uint4 philox4x32_10(uint4 c, uint2 k) {
  for (int r = 0; r < 10; r++) {
    if (r) {
      k.x += 0x9E3779B9u;
      k.y += 0xBB67AE85u;
    }
    uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
    uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
    c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

/* Uniform [0, 1) with 24 bits: exact in float. */
float aug_u24(uint r) { return (float)(r >> 8) * TWO_M24; }

/* The record of one image (mirrors clgan_augment_params_host). Op o draws
 * r = philox((image, o, ctr_lo, ctr_hi), seed): r.x decides (u < p), r.y and
 * r.z give its values. */
void aug_draw(uint policy, float p, uint2 key, uint ctr_lo, uint ctr_hi, uint image, int h,
              int w, float *rec) {
  uint flags = 0;
  rec[CLGAN_AUG_P_BRIGHTNESS] = 0.0f;
  rec[CLGAN_AUG_P_SATURATION] = 1.0f;
  rec[CLGAN_AUG_P_CONTRAST] = 1.0f;
  rec[CLGAN_AUG_P_SHIFT_H] = rec[CLGAN_AUG_P_SHIFT_W] = 0.0f;
  rec[CLGAN_AUG_P_CUT_H] = rec[CLGAN_AUG_P_CUT_W] = 0.0f;
  for (uint op = 0; op < CLGAN_AUG_OPS; op++) {
    uint bit = 1u << op;
    if (!(policy & CLGAN_AUG_GROUP_OF(bit))) continue;
    uint4 r = philox4x32_10((uint4)(image, op, ctr_lo, ctr_hi), key);
    if (!(aug_u24(r.x) < p)) continue;
    flags |= bit;
    if (bit == CLGAN_AUG_OP_BRIGHTNESS) {
      rec[CLGAN_AUG_P_BRIGHTNESS] = aug_u24(r.y) - 0.5f;
    } else if (bit == CLGAN_AUG_OP_SATURATION) {
      rec[CLGAN_AUG_P_SATURATION] = (float)(r.y >> 8) * TWO_M23;
    } else if (bit == CLGAN_AUG_OP_CONTRAST) {
      rec[CLGAN_AUG_P_CONTRAST] = 0.5f + (float)(r.y >> 9) * TWO_M23;
    } else if (bit == CLGAN_AUG_OP_TRANSLATION) {
      int sh = (h + 4) / 8, sw = (w + 4) / 8; /* int(size * 0.125 + 0.5) */
      rec[CLGAN_AUG_P_SHIFT_H] = (float)((int)mul_hi(r.y, (uint)(2 * sh + 1)) - sh);
      rec[CLGAN_AUG_P_SHIFT_W] = (float)((int)mul_hi(r.z, (uint)(2 * sw + 1)) - sw);
    } else {
      int ch = (h + 1) / 2, cw = (w + 1) / 2; /* int(size * 0.5 + 0.5) */
      rec[CLGAN_AUG_P_CUT_H] = (float)mul_hi(r.y, (uint)(h + 1 - ch % 2));
      rec[CLGAN_AUG_P_CUT_W] = (float)mul_hi(r.z, (uint)(w + 1 - cw % 2));
    }
  }
  rec[CLGAN_AUG_P_FLAGS] = (float)flags;
}

/* Inside the cutout square of record rec (flags f)? (Loads and selects, no
 * branches: the per-pixel kernels below stay branch-free so that PoCL
 * vectorises them across work-items.) */
bool aug_cut(uint f, __global const float *rec, int i, int j, int h, int w) {
  int ch = (h + 1) / 2, cw = (w + 1) / 2;
  int r0 = (int)rec[CLGAN_AUG_P_CUT_H] - ch / 2, c0 = (int)rec[CLGAN_AUG_P_CUT_W] - cw / 2;
  return (f & CLGAN_AUG_OP_CUTOUT) != 0 && i >= r0 && i < r0 + ch && j >= c0 && j < c0 + cw;
}

/* Lane l's share of the sum over the NC planes (stride plane) of len floats
 * at p: its 16-float chunks as one vector accumulator, reduced in a fixed
 * tree, then its tail elements. */
float aug_lane_sum(__global const float *p, uint c, uint plane, uint len, uint l) {
  float16 acc = (float16)(0.0f);
  uint nchunk = len / 16u;
  for (uint ch = 0; ch < NC; ch++)
    for (uint t = l; t < nchunk; t += AUG_LANES) acc += vload16(t, p + ch * plane);
  float8 a8 = acc.lo + acc.hi;
  float4 a4 = a8.lo + a8.hi;
  float2 a2 = a4.lo + a4.hi;
  float s = a2.x + a2.y;
  for (uint ch = 0; ch < NC; ch++)
    for (uint q = nchunk * 16u + l; q < len; q += AUG_LANES) s += p[ch * plane + q];
  return s;
}

/* Fixed tree over the AUG_LANES lane sums in part[], any local size. */
float aug_lane_tree(__local float *part, uint lid, uint lsz) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = AUG_LANES / 2; k > 0; k >>= 1) {
    for (uint l = lid; l < k; l += lsz) part[l] += part[l + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return part[0];
}

/* Mean over image b (all channels and pixels) of a [c, n, h, w] array into
 * the record's slot, when `need` (the same for the whole work-group: every
 * work-item must reach the barriers, so no early return; PoCL 3.1 hangs on
 * a uniform return before a barrier). */
void aug_image_mean(__global const float *a, uint c, uint n, uint h, uint w, float inv_chw,
                    bool need, __global float *slot, __local float *part) {
  uint b = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  uint hw = h * w, len = need ? hw : 0u;
  for (uint l = lid; l < AUG_LANES; l += lsz) part[l] = aug_lane_sum(a + b * hw, c, n * hw, len, l);
  float total = aug_lane_tree(part, lid, lsz);
  if (lid == 0) *slot = need ? total * inv_chw : 0.0f;
}

/* p is read from the device (ADA updates it there, no host round trip). */
__kernel void augment_params(__global const float *x, uint xoff, __global float *work,
                             uint woff, __global const float *pbuf, uint poff, uint policy,
                             uint seed_lo, uint seed_hi, uint ctr_lo, uint ctr_hi, uint c,
                             uint n, uint h, uint w, float inv_c, float inv_chw,
                             uint image0) {
  __local float part[AUG_LANES];
  uint b = get_group_id(0), lid = get_local_id(0);
  __global float *out = work + woff + b * CLGAN_AUG_STRIDE;
  /* every work-item draws (five Philox calls): all of them need the flags;
   * image0 + b is the image's index in the whole batch (a rank's share
   * starts at image0) */
  float rec[CLGAN_AUG_P_MEAN];
  aug_draw(policy, pbuf[poff], (uint2)(seed_lo, seed_hi), ctr_lo, ctr_hi, image0 + b, (int)h,
           (int)w, rec);
  if (lid == 0) {
    for (int i = 0; i < CLGAN_AUG_P_MEAN; i++) out[i] = rec[i];
    out[CLGAN_AUG_P_GRAD_MEAN] = 0.0f;
  }
  /* only contrast needs the mean */
  bool need = ((uint)rec[CLGAN_AUG_P_FLAGS] & CLGAN_AUG_OP_CONTRAST) != 0;
  (void)inv_c;
  aug_image_mean(x + xoff, c, n, h, w, inv_chw, need, out + CLGAN_AUG_P_MEAN, part);
}

__kernel void augment_forward(__global const float *x, uint xoff, __global float *y, uint yoff,
                              __global const float *work, uint woff, uint c, uint n, uint h,
                              uint w, float inv_c, float inv_chw) {
  uint j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (j >= w || i >= h || b >= n) return;
  uint hw = h * w, plane = n * hw, q = i * w + j;
  __global const float *rec = work + woff + b * CLGAN_AUG_STRIDE;
  uint f = (uint)rec[CLGAN_AUG_P_FLAGS];
  bool br = (f & CLGAN_AUG_OP_BRIGHTNESS) != 0;
  bool sat = NC > 1 && (f & CLGAN_AUG_OP_SATURATION) != 0,
       con = (f & CLGAN_AUG_OP_CONTRAST) != 0, tra = (f & CLGAN_AUG_OP_TRANSLATION) != 0;
  int si = (int)i + (tra ? (int)rec[CLGAN_AUG_P_SHIFT_H] : 0),
      sj = (int)j + (tra ? (int)rec[CLGAN_AUG_P_SHIFT_W] : 0);
  bool keep = si >= 0 && si < (int)h && sj >= 0 && sj < (int)w &&
              !aug_cut(f, rec, (int)i, (int)j, (int)h, (int)w);
  (void)inv_chw;
  __global const float *xi = x + xoff + b * hw + (keep ? (uint)si * w + (uint)sj : q);
  __global float *yo = y + yoff + b * hw + q;
  float bb = rec[CLGAN_AUG_P_BRIGHTNESS], s = rec[CLGAN_AUG_P_SATURATION],
        k = rec[CLGAN_AUG_P_CONTRAST];
  /* an op not applied passes v through unchanged (selects, not neutral
   * parameters, so p = 0 is the identity bit for bit) */
  float mc = 0.0f;
  UNROLL for (uint ch = 0; ch < NC; ch++) mc += xi[ch * plane] + bb;
  mc *= inv_c;
  float mi = rec[CLGAN_AUG_P_MEAN] + bb; /* the image mean after brightness; saturation keeps it */
  UNROLL for (uint ch = 0; ch < NC; ch++) {
    float v = xi[ch * plane];
    v = br ? v + bb : v;
    v = sat ? (v - mc) * s + mc : v;
    v = con ? (v - mi) * k + mi : v;
    yo[ch * plane] = keep ? v : 0.0f;
  }
}

/* The adjoint of cutout then translation: each input pixel takes the
 * gradient of the one output pixel that read it (if any, and not cut). */
__kernel void augment_backward_gather(__global const float *dy, uint dyoff, __global float *dx,
                                      uint dxoff, __global const float *work, uint woff, uint c,
                                      uint n, uint h, uint w, float inv_c, float inv_chw) {
  uint j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (j >= w || i >= h || b >= n) return;
  uint hw = h * w, plane = n * hw, q = i * w + j;
  __global const float *rec = work + woff + b * CLGAN_AUG_STRIDE;
  uint f = (uint)rec[CLGAN_AUG_P_FLAGS];
  (void)inv_c, (void)inv_chw;
  bool tra = (f & CLGAN_AUG_OP_TRANSLATION) != 0;
  int oi = (int)i - (tra ? (int)rec[CLGAN_AUG_P_SHIFT_H] : 0),
      oj = (int)j - (tra ? (int)rec[CLGAN_AUG_P_SHIFT_W] : 0);
  bool valid = oi >= 0 && oi < (int)h && oj >= 0 && oj < (int)w &&
               !aug_cut(f, rec, oi, oj, (int)h, (int)w);
  __global const float *go = dy + dyoff + b * hw + (valid ? (uint)oi * w + (uint)oj : q);
  __global float *xo = dx + dxoff + b * hw + q;
  UNROLL for (uint ch = 0; ch < NC; ch++) {
    float v = go[ch * plane];
    xo[ch * plane] = valid ? v : 0.0f;
  }
}

__kernel void augment_backward_reduce(__global const float *g, uint goff, __global float *work,
                                      uint woff, uint c, uint n, uint h, uint w, float inv_c,
                                      float inv_chw) {
  __local float part[AUG_LANES];
  __global float *rec = work + woff + get_group_id(0) * CLGAN_AUG_STRIDE;
  (void)inv_c;
  bool need = ((uint)rec[CLGAN_AUG_P_FLAGS] & CLGAN_AUG_OP_CONTRAST) != 0;
  aug_image_mean(g + goff, c, n, h, w, inv_chw, need, rec + CLGAN_AUG_P_GRAD_MEAN, part);
}

/* In place on the gathered gradient g: contrast's adjoint k*g + (1-k)*mean_img(g),
 * then saturation's s*g + (1-s)*mean_c(g). */
__kernel void augment_backward_color(__global float *g, uint goff, __global const float *work,
                                     uint woff, uint c, uint n, uint h, uint w, float inv_c,
                                     float inv_chw) {
  uint j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (j >= w || i >= h || b >= n) return;
  uint hw = h * w, plane = n * hw;
  __global const float *rec = work + woff + b * CLGAN_AUG_STRIDE;
  uint f = (uint)rec[CLGAN_AUG_P_FLAGS];
  (void)inv_chw;
  bool sat = NC > 1 && (f & CLGAN_AUG_OP_SATURATION) != 0, con = (f & CLGAN_AUG_OP_CONTRAST) != 0;
  __global float *gp = g + goff + b * hw + i * w + j;
  float s = rec[CLGAN_AUG_P_SATURATION], k = rec[CLGAN_AUG_P_CONTRAST];
  float mk = (1.0f - k) * rec[CLGAN_AUG_P_GRAD_MEAN];
  float mc = 0.0f;
  UNROLL for (uint ch = 0; ch < NC; ch++) {
    float v = gp[ch * plane];
    mc += con ? k * v + mk : v;
  }
  mc *= inv_c;
  UNROLL for (uint ch = 0; ch < NC; ch++) {
    float v = gp[ch * plane];
    v = con ? k * v + mk : v;
    v = sat ? s * v + (1.0f - s) * mc : v;
    gp[ch * plane] = v;
  }
}
