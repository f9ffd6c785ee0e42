/* GPU-shaped GEMM: row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * with both operands staged in local memory. beta == 0 overwrites C, NaN
 * included, as cl/gemm.cl does.
 *
 * A work-group computes a WGM x WGN tile of C, walking its k range in steps
 * of WGK: each step loads op(A)'s WGM x WGK and op(B)'s WGK x WGN block
 * into local memory (bounds-checked: zeros past the matrix), then every
 * work-item accumulates its TPM x TPN register tile from there. Work-item
 * (tx, ty) owns columns tx + c*LX of the tile (neighbours read neighbouring
 * local words, no bank conflicts, and store neighbouring C elements,
 * coalesced) and rows ty*TPM + r, which it reads from local memory VR at a
 * time (the rows are contiguous and op(A)'s local rows padded to stay
 * aligned; the work-items of a row of the group read the same words).
 * Operands are read in place through (offset, row stride, column stride),
 * so no packing, padding or transposition kernel runs; the loads walk the
 * operand's contiguous dimension, VW floats at a time where the argument
 * vec is 1 (the host passes 0 when an offset or a row stride of a
 * vector-loaded operand is not a multiple of VW; a runtime flag rather than
 * twin entries: PoCL's build time grows with the entries).
 *
 * Entries (the orientation is fixed per entry, so the compiler folds it):
 *   gemm_lds_{nn,nt,tn,tt}     op(A), op(B) strided;
 *   gemm_lds_conv_{fwd,filt}   op(B) read from a conv's zero-padded
 *     image with the clgan_gemm_conv_x mapping (src/ops/gemm_internal.h):
 *     B(p, j) = img[img_off + K(p) + J(j)], each of K and J splitting its
 *     index into three digits and weighing them (see digits below): taps
 *     along k and pixels along j for the forward (B = col), pixels along k
 *     and taps along j for the weight gradient (B = col^T); no im2col runs.
 * Global size (ceil(n / WGN) * LX, ceil(m / WGM) * LY, splits): group z of
 * dimension 2 sums k in [z*kz, min(k, (z+1)*kz)) and writes to
 * c + z*c_zstride (the host's split k; kz a multiple of WGK). */
#ifndef WGM
#define WGM 64 /* rows of C per work-group */
#endif
#ifndef WGN
#define WGN 64 /* columns of C per work-group */
#endif
#ifndef WGK
#define WGK 16 /* k per local-memory step */
#endif
#ifndef TPM
#define TPM 4 /* rows per work-item */
#endif
#ifndef TPN
#define TPN 4 /* columns per work-item */
#endif
#ifndef VW
#define VW 4 /* floats per vector load: 1, 2 or 4 */
#endif
#ifndef LPAD
#define LPAD 1 /* floats of padding per local row of op(B) (spreads stores over banks) */
#endif

/* Floats per local read of a work-item's rows, and the padding of op(A)'s
 * local rows that keeps them aligned to it. */
#if TPM % 4 == 0
#define VR 4
typedef float4 floatr;
#elif TPM % 2 == 0
#define VR 2
typedef float2 floatr;
#else
#define VR 1
typedef float floatr;
#endif

#define LX (WGN / TPN) /* work-group width (columns of work-items) */
#define LY (WGM / TPM) /* work-group height */
#define NT (LX * LY)   /* work-items per group */
#define LDA_L (WGM + VR)
#define LDB_L (WGN + LPAD)

#if WGM % TPM || WGN % TPN || WGM % VW || WGN % VW || WGK % VW
#error "gemm_lds: WGM, WGN must be multiples of TPM, TPN, and WGM, WGN, WGK of VW"
#endif

#if VW == 1
typedef float floatv;
#define VLOAD_TO(src, dst) (dst)[0] = *(src)
#elif VW == 2
typedef float2 floatv;
#define VLOAD_TO(src, dst) vstore2(*(__global const floatv *)(src), 0, dst)
#elif VW == 4
typedef float4 floatv;
#define VLOAD_TO(src, dst) vstore4(*(__global const floatv *)(src), 0, dst)
#else
#error "gemm_lds: VW must be 1, 2 or 4"
#endif

/* Elements of op(B)'s block each work-item loads in the conv entries. */
#define B_PER_ITEM ((WGN * WGK + NT - 1) / NT)

/* One operand's D x WGK block into local l[p*LD + d] (d < D, p < WGK), from
 * X(d, p) = x[d*ds + p*ps] for d0 <= d < dmax, p0 <= p < pmax (zeros
 * elsewhere). along_d: the loads walk d (ds is 1 where vec), else p (ps is
 * 1 where vec); vec: VW floats per load where all VW are inside (aligned:
 * the host's check), else one by one. */
inline void load_block(__local float *l, const int D, const int LD, const int along_d,
                       const int vec, __global const float *x, int d0, int dmax, int p0,
                       int pmax, int ds, int ps, int t) {
  const int per = (along_d ? D : WGK) / VW; /* vectors per line */
  for (int v = t; v < per * (along_d ? WGK : D); v += NT) {
    const int line = v / per, at = (v - line * per) * VW;
    const int d = along_d ? at : line, p = along_d ? line : at;
    const int gd = d0 + d, gp = p0 + p;
    __global const float *src = x + (size_t)gd * ds + (size_t)gp * ps;
    float tmp[VW];
    const int whole = along_d ? gp < pmax && gd + VW <= dmax : gd < dmax && gp + VW <= pmax;
    if (vec && whole) {
      VLOAD_TO(src, tmp);
    } else {
#pragma unroll
      for (int q = 0; q < VW; q++) {
        const int in = along_d ? gp < pmax && gd + q < dmax : gd < dmax && gp + q < pmax;
        tmp[q] = in ? src[(size_t)q * (along_d ? ds : ps)] : 0.0f;
      }
    }
#pragma unroll
    for (int q = 0; q < VW; q++) l[(p + (along_d ? 0 : q)) * LD + d + (along_d ? q : 0)] = tmp[q];
  }
}

/* An index split into three digits, i = (d3*n2 + d2)*n1 + d1, weighed:
 * d1*t1 + d2*t2 + d3*t3 (g = n1, n2, t1, t2, t3). A tap (c, ki, kj) is
 * (kw, kw, 1, wp, n*hp*wp), an output pixel (b, oy, ox)
 * (wo, ho, stride, stride*wp, hp*wp). */
inline int digits(int i, const int *g) {
  const int q = i / g[0], d1 = i - q * g[0], d3 = q / g[1], d2 = q - d3 * g[1];
  return d1 * g[2] + d2 * g[3] + d3 * g[4];
}

/* op(B)'s WGK x WGN block from the image: B(p, j) = img[ko(p) + jo(j)];
 * jo holds the j part of this work-item's elements (fixed over k),
 * along_j: neighbouring work-items take neighbouring j (the forward's
 * pixels), else neighbouring p (the weight gradient's pixels). */
inline void load_conv_block(__local float *l, const int along_j, __global const float *img,
                            const int *jo, int p0, int pmax, const int *kg, int t) {
  for (int s = 0; s < B_PER_ITEM; s++) {
    const int e = t + s * NT;
    if (e >= WGN * WGK) break;
    const int p = along_j ? e / WGN : e % WGK, j = along_j ? e % WGN : e / WGK;
    const int gp = p0 + p;
    l[p * LDB_L + j] = jo[s] >= 0 && gp < pmax ? img[jo[s] + digits(gp, kg)] : 0.0f;
  }
}

/* The body of every entry. b_conv: op(B) from the image (img, jg, kg), else
 * strided (b, b_rs, b_cs). */
inline void lds_gemm(const int a_along_i, const int b_along_j, const int vec_a, const int vec_b,
                     const int b_conv, int m, int n, int k, int kz, float alpha, float beta,
                     __global const float *a, int a_rs, int a_cs, __global const float *b,
                     int b_rs, int b_cs, const int *jg, const int *kg, __global float *c,
                     int ldc, __local float *al, __local float *bl) {
  const int tx = get_local_id(0), ty = get_local_id(1), t = ty * LX + tx;
  const int j0 = get_group_id(0) * WGN, i0 = get_group_id(1) * WGM;
  const int kb = get_group_id(2) * kz, ke = min(k, kb + kz);
  int jo[B_PER_ITEM];
  if (b_conv)
    for (int s = 0; s < B_PER_ITEM; s++) {
      const int e = t + s * NT, j = j0 + (b_along_j ? e % WGN : e / WGK);
      jo[s] = e < WGN * WGK && j < n ? digits(j, jg) : -1;
    }
  float acc[TPM][TPN];
#pragma unroll
  for (int r = 0; r < TPM; r++)
#pragma unroll
    for (int q = 0; q < TPN; q++) acc[r][q] = 0.0f;
  for (int p0 = kb; p0 < ke; p0 += WGK) {
    barrier(CLK_LOCAL_MEM_FENCE); /* the previous step's reads are done */
    load_block(al, WGM, LDA_L, a_along_i, vec_a, a, i0, m, p0, ke, a_rs, a_cs, t);
    if (b_conv)
      load_conv_block(bl, b_along_j, b, jo, p0, ke, kg, t);
    else
      load_block(bl, WGN, LDB_L, b_along_j, vec_b, b, j0, n, p0, ke, b_cs, b_rs, t);
    barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll 4
    for (int kk = 0; kk < WGK; kk++) {
      float ar[TPM], br[TPN];
#pragma unroll
      for (int r = 0; r < TPM; r += VR) {
        /* aligned: al is, and LDA_L and TPM are multiples of VR */
        union {
          floatr v;
          float s[VR];
        } u = {*(__local const floatr *)(al + kk * LDA_L + ty * TPM + r)};
#pragma unroll
        for (int q = 0; q < VR; q++) ar[r + q] = u.s[q];
      }
#pragma unroll
      for (int q = 0; q < TPN; q++) br[q] = bl[kk * LDB_L + tx + q * LX];
#pragma unroll
      for (int r = 0; r < TPM; r++)
#pragma unroll
        for (int q = 0; q < TPN; q++) acc[r][q] = fma(ar[r], br[q], acc[r][q]);
    }
  }
#pragma unroll
  for (int r = 0; r < TPM; r++) {
    const int i = i0 + ty * TPM + r;
    if (i >= m) continue;
#pragma unroll
    for (int q = 0; q < TPN; q++) {
      const int j = j0 + tx + q * LX;
      if (j >= n) continue;
      __global float *cp = c + (size_t)i * ldc + j;
      const float v = alpha * acc[r][q];
      *cp = beta == 0.0f ? v : v + beta * *cp;
    }
  }
}

#define LDS_ATTR __attribute__((reqd_work_group_size(LX, LY, 1)))

/* Strided entries: op(A)(i, p) = a[a_off + i*a_rs + p*a_cs],
 * op(B)(p, j) = b[b_off + p*b_rs + j*b_cs], C(i, j) at c[c_off + i*ldc + j].
 * TA / TB say which stride the loads walk (ta: a_rs, else a_cs; tb: b_rs,
 * else b_cs); with vec, that stride must be 1 and the offsets and the other
 * strides multiples of VW; without, any strides do. */
#define LDS_PLAIN(NAME, TA, TB)                                                              \
  __kernel LDS_ATTR void NAME(int m, int n, int k, int kz, float alpha, float beta,           \
                              __global const float *a, uint a_off, int a_rs, int a_cs,       \
                              __global const float *b, uint b_off, int b_rs, int b_cs,       \
                              __global float *c, uint c_off, int ldc, uint c_zstride,        \
                              int vec) {                                                     \
    __local float al[WGK * LDA_L] __attribute__((aligned(16)));                            \
    __local float bl[WGK * LDB_L];                                                           \
    lds_gemm(TA, !(TB), vec, vec, 0, m, n, k, kz, alpha, beta, a + a_off, a_rs, a_cs,         \
             b + b_off, b_rs, b_cs, 0, 0, c + c_off + (size_t)get_group_id(2) * c_zstride,   \
             ldc, al, bl);                                                                   \
  }

LDS_PLAIN(gemm_lds_nn, 0, 0)
LDS_PLAIN(gemm_lds_nt, 0, 1)
LDS_PLAIN(gemm_lds_tn, 1, 0)
LDS_PLAIN(gemm_lds_tt, 1, 1)

/* Conv entries: op(A) = a[a_off + i*lda + p] (W for the forward, dY for the
 * weight gradient), op(B) from the image: B(p, j) = img[img_off + K(p) +
 * J(j)] with digits (jn1, jn2, jt1, jt2, jt3) for J and (kn1, ...) for K.
 * FWD: J = pixels (neighbouring work-items load neighbouring pixels); else
 * K = pixels. vec: op(A) loaded VW floats at a time (a_off and lda
 * multiples of VW). */
#define LDS_CONV(NAME, FWD)                                                                  \
  __kernel LDS_ATTR void NAME(int m, int n, int k, int kz, float alpha, float beta,           \
                              __global const float *a, uint a_off, int lda,                  \
                              __global const float *img, uint img_off, int jn1, int jn2,     \
                              int jt1, int jt2, int jt3, int kn1, int kn2, int kt1, int kt2, \
                              int kt3, __global float *c, uint c_off, int ldc,               \
                              uint c_zstride, int vec) {                                     \
    __local float al[WGK * LDA_L] __attribute__((aligned(16)));                            \
    __local float bl[WGK * LDB_L];                                                           \
    const int jg[5] = {jn1, jn2, jt1, jt2, jt3}, kg[5] = {kn1, kn2, kt1, kt2, kt3};          \
    lds_gemm(0, FWD, vec, 0, 1, m, n, k, kz, alpha, beta, a + a_off, lda, 1, img + img_off,  \
             0, 0, jg, kg, c + c_off + (size_t)get_group_id(2) * c_zstride, ldc, al, bl);    \
  }

LDS_CONV(gemm_lds_conv_fwd, 1)
LDS_CONV(gemm_lds_conv_filt, 0)

/* C = alpha * sum over z of part[z] + beta * C for split k, part[z] m x n
 * (row stride n) at part + z*m*n, summed in order (deterministic); C(i, j)
 * at c[c_off + i*ldc + j]. Global size (n, m) rounded up. */
__kernel void gemm_lds_reduce(int m, int n, int splits, float alpha, float beta,
                              __global const float *part, __global float *c, uint c_off,
                              int ldc) {
  const int j = get_global_id(0), i = get_global_id(1);
  if (i >= m || j >= n) return;
  const size_t plane = (size_t)m * n;
  __global const float *pp = part + (size_t)i * n + j;
  float s = 0.0f;
  for (int z = 0; z < splits; z++) s += pp[z * plane];
  __global float *cp = c + c_off + (size_t)i * ldc + j;
  *cp = beta == 0.0f ? alpha * s : alpha * s + beta * *cp;
}
