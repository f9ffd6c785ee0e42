/* Differentiable augmentation (DiffAugment with ADA's per-op probability) on
 * x [c, n, h, w], forward and backward, and sign_mean for ADA's statistic.
 * See include/clgan/augment.h for the semantics and the workspace record.
 *
 *   augment_params           one work-group per image: draws the record
 *                            (Philox4x32-10), and the image mean for contrast
 *   augment_forward          one work-item per output pixel, all channels
 *   augment_backward_reduce  one work-group per image: mean of the gradient
 *                            reaching contrast's output (contrast only)
 *   augment_backward         one work-item per input pixel, all channels
 *
 * Per-image sums use a fixed partition into AUG_LANES lanes (lane l sums
 * pixels l, l + 64, ... over every channel, in order) and a fixed tree over
 * the lanes, whatever the work-group size: the same bits on every device.
 * Contraction into FMA is off for the same reason. */
#pragma OPENCL FP_CONTRACT OFF

#define AUG_STRIDE 12u
#define AUG_LANES 64u

#define AUG_COLOR 1u
#define AUG_TRANSLATION 2u
#define AUG_CUTOUT 4u

#define OP_BRIGHTNESS 1u
#define OP_SATURATION 2u
#define OP_CONTRAST 4u
#define OP_TRANSLATION 8u
#define OP_CUTOUT 16u

#define R_FLAGS 0
#define R_BRIGHTNESS 1
#define R_SATURATION 2
#define R_CONTRAST 3
#define R_SHIFT_H 4
#define R_SHIFT_W 5
#define R_CUT_H 6
#define R_CUT_W 7
#define R_MEAN 8
#define R_GRAD_MEAN 9

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
  rec[R_BRIGHTNESS] = 0.0f;
  rec[R_SATURATION] = 1.0f;
  rec[R_CONTRAST] = 1.0f;
  rec[R_SHIFT_H] = rec[R_SHIFT_W] = rec[R_CUT_H] = rec[R_CUT_W] = 0.0f;
  for (uint op = 0; op < 5; op++) {
    uint group = op < 3 ? AUG_COLOR : op == 3 ? AUG_TRANSLATION : AUG_CUTOUT;
    if (!(policy & group)) continue;
    uint4 r = philox4x32_10((uint4)(image, op, ctr_lo, ctr_hi), key);
    if (!(aug_u24(r.x) < p)) continue;
    flags |= 1u << op;
    if (op == 0) {
      rec[R_BRIGHTNESS] = aug_u24(r.y) - 0.5f;
    } else if (op == 1) {
      rec[R_SATURATION] = (float)(r.y >> 8) * TWO_M23;
    } else if (op == 2) {
      rec[R_CONTRAST] = 0.5f + (float)(r.y >> 9) * TWO_M23;
    } else if (op == 3) {
      int sh = (h + 4) / 8, sw = (w + 4) / 8; /* int(size * 0.125 + 0.5) */
      rec[R_SHIFT_H] = (float)((int)mul_hi(r.y, (uint)(2 * sh + 1)) - sh);
      rec[R_SHIFT_W] = (float)((int)mul_hi(r.z, (uint)(2 * sw + 1)) - sw);
    } else {
      int ch = (h + 1) / 2, cw = (w + 1) / 2; /* int(size * 0.5 + 0.5) */
      rec[R_CUT_H] = (float)mul_hi(r.y, (uint)(h + 1 - ch % 2));
      rec[R_CUT_W] = (float)mul_hi(r.z, (uint)(w + 1 - cw % 2));
    }
  }
  rec[R_FLAGS] = (float)flags;
}

/* Inside the cutout square of record rec (flags f)? */
bool aug_cut(uint f, __global const float *rec, int i, int j, int h, int w) {
  if (!(f & OP_CUTOUT)) return false;
  int ch = (h + 1) / 2, cw = (w + 1) / 2;
  int r0 = (int)rec[R_CUT_H] - ch / 2, c0 = (int)rec[R_CUT_W] - cw / 2;
  return i >= r0 && i < r0 + ch && j >= c0 && j < c0 + cw;
}

/* Fixed tree over AUG_LANES partial sums in part[], any local size. */
float aug_lane_tree(__local float *part, uint lid, uint lsz) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = AUG_LANES / 2; k > 0; k >>= 1) {
    for (uint l = lid; l < k; l += lsz) part[l] += part[l + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return part[0];
}

__kernel void augment_params(__global const float *x, uint xoff, __global float *work,
                             uint woff, uint c, uint n, uint h, uint w, uint policy, float p,
                             uint seed_lo, uint seed_hi, uint ctr_lo, uint ctr_hi) {
  __local float part[AUG_LANES];
  uint b = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  float rec[8];
  aug_draw(policy, p, (uint2)(seed_lo, seed_hi), ctr_lo, ctr_hi, b, (int)h, (int)w, rec);
  __global float *out = work + woff + b * AUG_STRIDE;
  if (lid == 0) {
    for (int i = 0; i < 8; i++) out[i] = rec[i];
    out[R_GRAD_MEAN] = 0.0f;
  }
  /* Only contrast needs the mean. No early return: every work-item must
   * reach the barriers (PoCL 3.1 hangs on a uniform return before them). */
  bool need = ((uint)rec[R_FLAGS] & OP_CONTRAST) != 0;
  uint hw = h * w, plane = n * hw, lim = need ? hw : 0u;
  __global const float *img = x + xoff + b * hw;
  for (uint l = lid; l < AUG_LANES; l += lsz) {
    float s = 0.0f;
    for (uint q = l; q < lim; q += AUG_LANES)
      for (uint ch = 0; ch < c; ch++) s += img[ch * plane + q];
    part[l] = s;
  }
  float total = aug_lane_tree(part, lid, lsz);
  if (lid == 0) out[R_MEAN] = need ? total / (float)(c * hw) : 0.0f;
}

__kernel void augment_forward(__global const float *x, uint xoff, __global float *y, uint yoff,
                              __global const float *work, uint woff, uint c, uint n, uint h,
                              uint w) {
  uint j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (j >= w || i >= h || b >= n) return;
  uint hw = h * w, plane = n * hw, q = i * w + j;
  __global const float *rec = work + woff + b * AUG_STRIDE;
  uint f = (uint)rec[R_FLAGS];
  if (c == 1) f &= ~OP_SATURATION; /* the identity on one channel */
  int si = (int)i, sj = (int)j;
  if (f & OP_TRANSLATION) {
    si += (int)rec[R_SHIFT_H];
    sj += (int)rec[R_SHIFT_W];
  }
  /* selects rather than branches: work-items of a row stay in step */
  bool keep = si >= 0 && si < (int)h && sj >= 0 && sj < (int)w &&
              !aug_cut(f, rec, (int)i, (int)j, (int)h, (int)w);
  uint src = keep ? (uint)si * w + (uint)sj : q;
  __global const float *xi = x + xoff + b * hw + src;
  __global float *yo = y + yoff + b * hw + q;
  if (!(f & (OP_BRIGHTNESS | OP_SATURATION | OP_CONTRAST))) {
    for (uint ch = 0; ch < c; ch++) yo[ch * plane] = keep ? xi[ch * plane] : 0.0f;
    return;
  }
  float bb = rec[R_BRIGHTNESS], s = rec[R_SATURATION], k = rec[R_CONTRAST];
  float mc = 0.0f;
  if (f & OP_SATURATION) {
    for (uint ch = 0; ch < c; ch++) mc += xi[ch * plane] + bb;
    mc /= (float)c;
  }
  /* the image mean after brightness; saturation keeps it */
  float mi = rec[R_MEAN] + bb;
  for (uint ch = 0; ch < c; ch++) {
    float v = xi[ch * plane];
    if (f & OP_BRIGHTNESS) v += bb;
    if (f & OP_SATURATION) v = (v - mc) * s + mc;
    if (f & OP_CONTRAST) v = (v - mi) * k + mi;
    yo[ch * plane] = keep ? v : 0.0f;
  }
}

/* Where output pixel (i, j) reads from, and whether it reads at all. */
bool aug_kept(uint f, __global const float *rec, int i, int j, int h, int w) {
  if (aug_cut(f, rec, i, j, h, w)) return false;
  if (f & OP_TRANSLATION) {
    int si = i + (int)rec[R_SHIFT_H], sj = j + (int)rec[R_SHIFT_W];
    return si >= 0 && si < h && sj >= 0 && sj < w;
  }
  return true;
}

__kernel void augment_backward_reduce(__global const float *dy, uint dyoff, __global float *work,
                                      uint woff, uint c, uint n, uint h, uint w) {
  __local float part[AUG_LANES];
  uint b = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  __global float *rec = work + woff + b * AUG_STRIDE;
  uint f = (uint)rec[R_FLAGS];
  bool need = (f & OP_CONTRAST) != 0; /* no early return, as above */
  uint hw = h * w, plane = n * hw, lim = need ? hw : 0u;
  __global const float *g = dy + dyoff + b * hw;
  for (uint l = lid; l < AUG_LANES; l += lsz) {
    float s = 0.0f;
    for (uint q = l; q < lim; q += AUG_LANES) {
      uint i = q / w;
      if (!aug_kept(f, rec, (int)i, (int)(q - i * w), (int)h, (int)w)) continue;
      for (uint ch = 0; ch < c; ch++) s += g[ch * plane + q];
    }
    part[l] = s;
  }
  float total = aug_lane_tree(part, lid, lsz);
  if (lid == 0 && need) rec[R_GRAD_MEAN] = total / (float)(c * hw);
}

/* dx = B^T S^T C^T T^T K^T dy: cutout's mask and translation's inverse shift
 * (a gather: each input pixel has at most one output reading it), then
 * contrast k*g + (1-k)*mean_img(g), saturation s*g + (1-s)*mean_c(g);
 * brightness passes the gradient. */
__kernel void augment_backward(__global const float *dy, uint dyoff, __global float *dx,
                               uint dxoff, __global const float *work, uint woff, uint c,
                               uint n, uint h, uint w) {
  uint j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (j >= w || i >= h || b >= n) return;
  uint hw = h * w, plane = n * hw, q = i * w + j;
  __global const float *rec = work + woff + b * AUG_STRIDE;
  uint f = (uint)rec[R_FLAGS];
  if (c == 1) f &= ~OP_SATURATION;
  int oi = (int)i, oj = (int)j; /* the output pixel that read this input */
  if (f & OP_TRANSLATION) {
    oi -= (int)rec[R_SHIFT_H];
    oj -= (int)rec[R_SHIFT_W];
  }
  bool valid = oi >= 0 && oi < (int)h && oj >= 0 && oj < (int)w &&
               !aug_cut(f, rec, oi, oj, (int)h, (int)w);
  __global const float *go = dy + dyoff + b * hw + (valid ? (uint)oi * w + (uint)oj : q);
  __global float *xo = dx + dxoff + b * hw + q;
  if (!(f & (OP_SATURATION | OP_CONTRAST))) {
    for (uint ch = 0; ch < c; ch++) xo[ch * plane] = valid ? go[ch * plane] : 0.0f;
    return;
  }
  float s = rec[R_SATURATION], k = rec[R_CONTRAST];
  float mk = (f & OP_CONTRAST) ? (1.0f - k) * rec[R_GRAD_MEAN] : 0.0f;
  float mc = 0.0f;
  if (f & OP_SATURATION) {
    for (uint ch = 0; ch < c; ch++) {
      float g = valid ? go[ch * plane] : 0.0f;
      if (f & OP_CONTRAST) g = k * g + mk;
      mc += g;
    }
    mc /= (float)c;
  }
  for (uint ch = 0; ch < c; ch++) {
    float g = valid ? go[ch * plane] : 0.0f;
    if (f & OP_CONTRAST) g = k * g + mk;
    if (f & OP_SATURATION) g = s * g + (1.0f - s) * mc;
    xo[ch * plane] = g;
  }
}

/* out[0] = mean(sign(x)); one work-group, local size a power of two <= 256;
 * integer partial sums, so exact. */
__kernel void sign_mean(__global const float *x, uint xoff, uint count, __global float *out,
                        uint ooff) {
  __local int part[256];
  uint lid = get_local_id(0), lsz = get_local_size(0);
  int s = 0;
  for (uint i = lid; i < count; i += lsz) {
    float v = x[xoff + i];
    s += (v > 0.0f) - (v < 0.0f);
  }
  part[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = lsz >> 1; k > 0; k >>= 1) {
    if (lid < k) part[lid] += part[lid + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[ooff] = (float)part[0] / (float)count;
}
