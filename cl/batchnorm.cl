/* BatchNorm2d over x [c, m]: each channel is a contiguous row of m floats.
 * Every kernel runs one work-group per channel (local size a power of two:
 * 256 on GPUs, 1 on CPUs where a work-item then streams its whole row).
 * Statistics and the backward sums: each work-item sums a strided part of
 * the row in float4 steps, then a fixed-order tree in local memory, so the
 * result is deterministic on a given device, no atomics. x and y (dy and
 * dx) may be the same array. Activation codes follow clgan_act; the forward
 * applies the activation after the affine, the backward its derivative to
 * dy as it reads it. */


/* The same formulas as cl/act.cl, on four values. */
static inline float4 act4(float4 v, int act, float slope) {
  switch (act) {
    case CLGAN_ACT_RELU: return select(v, (float4)(0.0f), isless(v, (float4)(0.0f)));
    case CLGAN_ACT_LEAKY_RELU: return select(v * slope, v, isgreater(v, (float4)(0.0f)));
    case CLGAN_ACT_TANH: return clgan_tanh4(v);
    case CLGAN_ACT_SIGMOID: return 1.0f / (1.0f + exp(-v));
    default: return v;
  }
}

/* g * act'(.) from the output o, the same formulas (and rounding) as
 * cl/act.cl's backward kernels, on four values. */
static inline float4 dact4(float4 g, float4 o, int act, float slope) {
  switch (act) {
    case CLGAN_ACT_RELU: return select((float4)(0.0f), g, isgreater(o, (float4)(0.0f)));
    case CLGAN_ACT_LEAKY_RELU: return select(g * slope, g, isgreater(o, (float4)(0.0f)));
    case CLGAN_ACT_TANH: return g * (1.0f - o * o);
    case CLGAN_ACT_SIGMOID: return g * (1.0f - o) * o;
    default: return g;
  }
}

/* dy * act'(y) at float4 index i of a row, y read only when there is an
 * activation. Callers keep the value in a variable of its own: within one
 * expression with their arithmetic, the compiler could contract it into an
 * fma and round differently from the unfused act backward + BN backward. */
static inline float4 grad4(__global const float *gr, __global const float *yr, uint i, int act,
                           float slope) {
  float4 g = vload4(i, gr);
  return act == CLGAN_ACT_NONE ? g : dact4(g, vload4(i, yr), act, slope);
}

/* The same at float index j (the row's tail). */
static inline float grad1(__global const float *gr, __global const float *yr, uint j, int act,
                          float slope) {
  float g = gr[j];
  return act == CLGAN_ACT_NONE ? g : dact4((float4)(g), (float4)(yr[j]), act, slope).x;
}

/* Sum of v over the work-group, same value returned to every work-item. */
static float wg_sum(float v, __local float *s) {
  uint lid = get_local_id(0);
  s[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = get_local_size(0) >> 1; k > 0; k >>= 1) {
    if (lid < k) s[lid] += s[lid + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float r = s[0];
  barrier(CLK_LOCAL_MEM_FENCE); /* s is reused by the next call */
  return r;
}

static inline float hsum4(float4 a) { return (a.x + a.y) + (a.z + a.w); }

/* ---- The padded copy (clgan_padded_copy, include/clgan/ops.h) ------------
 * Where pw > 0 the loops that write y (forward) or dx (backward) also write
 * each value into a copy of the channel's planes of ph x pw (m = planes *
 * ph * pw) with a border of ppad zeros: planes of (ph + 2*ppad) x
 * (pw + 2*ppad), the channel's at ch * planes * hp * wp from pc + pcoff.
 * That is what the conv next to this op would otherwise get from a padding
 * kernel (a launch and a pass over the tensor less). The border zeros are
 * written too, so the copy may live in a scratch buffer that other shapes
 * share. Work-items take whole rows (copy_row), or on CPUs the one
 * work-item of a channel walks its planes in order (COPY_PLANES_WALK). */
static inline void zero_floats(__global float *p, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) vstore4((float4)(0.0f), 0, p + i);
  if (i + 2 <= n) vstore2((float2)(0.0f), 0, p + i), i += 2;
  if (i < n) p[i] = 0.0f;
}

/* The channel's planes in the copy. */
static inline __global float *copy_channel(__global float *pc, uint pcoff, uint ch, uint m,
                                           int ph, int pw, int ppad) {
  if (pw == 0) return pc;
  size_t planes = m / ((uint)ph * (uint)pw);
  return pc + pcoff + (size_t)ch * planes * (size_t)(ph + 2 * ppad) * (size_t)(pw + 2 * ppad);
}

/* Row r of a channel's rows in its copy cp: writes the row's border zeros,
 * with the plane's first (last) row also the border rows above (below),
 * and returns where the row's values go. */
static inline __global float *copy_row(__global float *cp, uint r, int h, int w, int pad) {
  const int wp = w + 2 * pad;
  const uint b = r / (uint)h;
  const int y = (int)(r - b * (uint)h);
  __global float *plane = cp + (size_t)b * (size_t)(h + 2 * pad) * wp;
  if (y == 0) zero_floats(plane, pad * wp);
  if (y == h - 1) zero_floats(plane + (size_t)(h + pad) * wp, pad * wp);
  __global float *row = plane + (size_t)(y + pad) * wp + pad;
  zero_floats(row - pad, pad);
  zero_floats(row + w, pad);
  return row;
}

/* On CPUs (one work-item per channel) where rows are whole float4s the
 * channel's planes are walked in order, a loop over planes and rows around
 * the row's float4s, the border zeros written as the walk passes them: a
 * plane's top rows and first left border where it starts, after each row
 * its right border and the next row's left one (the bottom rows after the
 * last). Row by row with copy_row, a division and four short loops per
 * row of 4 to 16 floats, gray32's BatchNorms had taken 3x their time. */
#define COPY_PLANES_WALK(cp, m, h, w, pad, STORE4)                           \
  do {                                                                       \
    const int wp_ = (w) + 2 * (pad);                                         \
    const uint planes_ = (m) / ((uint)(h) * (uint)(w));                      \
    __global float *c_ = (cp);                                               \
    uint i = 0;                                                              \
    for (uint b_ = 0; b_ < planes_; b_++) {                                  \
      zero_floats(c_, (pad) * wp_ + (pad));                                  \
      c_ += (pad) * wp_ + (pad);                                             \
      for (int y_ = 0; y_ < (h); y_++) {                                     \
        for (int x_ = 0; x_ < (w); x_ += 4, i++, c_ += 4) {                  \
          __global float *at = c_;                                           \
          STORE4                                                             \
        }                                                                    \
        int z_ = y_ + 1 < (h) ? 2 * (pad) : (pad) + (pad) * wp_;             \
        zero_floats(c_, z_);                                                 \
        c_ += z_;                                                            \
      }                                                                      \
    }                                                                        \
  } while (0)

/* y = act(x * alpha + shift), PyTorch CPU's form of the affine, over one
 * channel's row, and into its padded copy cp where pw > 0. */
static inline void bn_apply(__global const float *xr, __global float *yr, uint m, float alpha,
                            float shift, int act, float slope, __global float *cp, int ph,
                            int pw, int ppad) {
  uint lid = get_local_id(0), lsz = get_local_size(0), n4 = m >> 2;
  if (pw == 0) {
    for (uint i = lid; i < n4; i += lsz)
      vstore4(act4(vload4(i, xr) * alpha + shift, act, slope), i, yr);
    for (uint i = (n4 << 2) + lid; i < m; i += lsz)
      yr[i] = act4((float4)(xr[i] * alpha + shift), act, slope).x;
    return;
  }
  if (lsz == 1 && pw % 4 == 0) {
    COPY_PLANES_WALK(cp, m, ph, pw, ppad, {
      float4 v = act4(vload4(i, xr) * alpha + shift, act, slope);
      vstore4(v, i, yr);
      vstore4(v, 0, at);
    });
    return;
  }
  for (uint r = lid; r < m / (uint)pw; r += lsz) {
    __global float *cr = copy_row(cp, r, ph, pw, ppad);
    __global const float *xs = xr + (size_t)r * pw;
    __global float *ys = yr + (size_t)r * pw;
    int x = 0;
    for (; x + 4 <= pw; x += 4) {
      float4 v = act4(vload4(0, xs + x) * alpha + shift, act, slope);
      vstore4(v, 0, ys + x);
      vstore4(v, 0, cr + x);
    }
    for (; x < pw; x++) {
      float v = act4((float4)(xs[x] * alpha + shift), act, slope).x;
      ys[x] = v;
      cr[x] = v;
    }
  }
}

/* One work-group per channel (dimension 0 of the group id). */
__kernel void bn_forward_train(__global const float *x, uint xoff,
                               __global const float *gamma, uint goff,
                               __global const float *beta, uint boff,
                               __global float *y, uint yoff,
                               __global float *save_mean, uint smoff,
                               __global float *save_invstd, uint sioff,
                               __global float *run_mean, uint rmoff,
                               __global float *run_var, uint rvoff,
                               int update_running, uint m, float momentum,
                               float eps, int act, float slope,
                               __local float *scratch, __global float *pc, uint pcoff, int ph,
                               int pw, int ppad) {
  uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global float *yr = y + yoff + (size_t)ch * m;
  uint n4 = m >> 2;

  /* pass 1: mean. Four independent accumulators per work-item: with one
   * work-item per channel (CPU devices) a single chain would be bound by
   * the add latency, not by memory. */
  uint step4 = lsz << 2, i = lid;
  float4 a0 = (float4)(0.0f), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 3 * lsz < n4; i += step4) {
    a0 += vload4(i, xr);
    a1 += vload4(i + lsz, xr);
    a2 += vload4(i + 2 * lsz, xr);
    a3 += vload4(i + 3 * lsz, xr);
  }
  for (; i < n4; i += lsz) a0 += vload4(i, xr);
  float a = hsum4((a0 + a1) + (a2 + a3));
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) a += xr[j];
  float mean = wg_sum(a, scratch) / (float)m;

  /* pass 2: sum of squared deviations (two-pass: no cancellation) */
  a0 = a1 = a2 = a3 = (float4)(0.0f);
  for (i = lid; i + 3 * lsz < n4; i += step4) {
    float4 d0 = vload4(i, xr) - mean, d1 = vload4(i + lsz, xr) - mean;
    float4 d2 = vload4(i + 2 * lsz, xr) - mean, d3 = vload4(i + 3 * lsz, xr) - mean;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; i < n4; i += lsz) {
    float4 d = vload4(i, xr) - mean;
    a0 += d * d;
  }
  a = hsum4((a0 + a1) + (a2 + a3));
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) {
    float d = xr[j] - mean;
    a += d * d;
  }
  float var_sum = wg_sum(a, scratch);
  float var = var_sum / (float)m;
  float invstd = 1.0f / sqrt(var + eps);

  if (lid == 0) {
    save_mean[smoff + ch] = mean;
    save_invstd[sioff + ch] = invstd;
    if (update_running) {
      run_mean[rmoff + ch] = momentum * mean + (1.0f - momentum) * run_mean[rmoff + ch];
      run_var[rvoff + ch] =
          momentum * (var_sum / (float)(m - 1)) + (1.0f - momentum) * run_var[rvoff + ch];
    }
  }

  /* pass 3: y = act(x * alpha + shift) */
  float alpha = invstd * gamma[goff + ch];
  float shift = beta[boff + ch] - mean * alpha;
  bn_apply(xr, yr, m, alpha, shift, act, slope, copy_channel(pc, pcoff, ch, m, ph, pw, ppad), ph,
           pw, ppad);
}

/* One work-group per channel, like pass 3 of bn_forward_train. */
__kernel void bn_forward_eval(__global const float *x, uint xoff,
                              __global const float *gamma, uint goff,
                              __global const float *beta, uint boff,
                              __global const float *run_mean, uint rmoff,
                              __global const float *run_var, uint rvoff,
                              __global float *y, uint yoff, uint m, float eps,
                              int act, float slope, __global float *pc, uint pcoff, int ph,
                              int pw, int ppad) {
  uint ch = get_group_id(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global float *yr = y + yoff + (size_t)ch * m;
  float invstd = 1.0f / sqrt(run_var[rvoff + ch] + eps);
  float alpha = invstd * gamma[goff + ch];
  float shift = beta[boff + ch] - run_mean[rmoff + ch] * alpha;
  bn_apply(xr, yr, m, alpha, shift, act, slope, copy_channel(pc, pcoff, ch, m, ph, pw, ppad), ph,
           pw, ppad);
}

/* dx = (g - gmean - (x - mean) * k) * w over one channel's row, g = dy *
 * act'(y) (grad4), and into its padded copy cp where pw > 0. dx may be dy:
 * each work-item reads its elements before writing them. */
static inline void bn_dx(__global const float *xr, __global const float *yr,
                         __global const float *gr, __global float *dr, uint m, float mean,
                         float k, float gmean, float w, const int act, float slope,
                         __global float *cp, int ph, int pw, int ppad) {
  uint lid = get_local_id(0), lsz = get_local_size(0), n4 = m >> 2;
  if (pw == 0) {
    for (uint i = lid; i < n4; i += lsz) {
      float4 g = grad4(gr, yr, i, act, slope);
      float4 t = (vload4(i, xr) - mean) * k;
      vstore4((g - gmean - t) * w, i, dr);
    }
    for (uint i = (n4 << 2) + lid; i < m; i += lsz) {
      float g = grad1(gr, yr, i, act, slope);
      float t = (xr[i] - mean) * k;
      dr[i] = (g - gmean - t) * w;
    }
    return;
  }
  if (lsz == 1 && pw % 4 == 0) {
    COPY_PLANES_WALK(cp, m, ph, pw, ppad, {
      float4 g = grad4(gr, yr, i, act, slope);
      float4 t = (vload4(i, xr) - mean) * k;
      float4 v = (g - gmean - t) * w;
      vstore4(v, i, dr);
      vstore4(v, 0, at);
    });
    return;
  }
  for (uint r = lid; r < m / (uint)pw; r += lsz) {
    __global float *cr = copy_row(cp, r, ph, pw, ppad);
    size_t j = (size_t)r * pw;
    int x = 0;
    for (; x + 4 <= pw; x += 4) {
      float4 g = grad4(gr + j + x, yr + j + x, 0, act, slope);
      float4 t = (vload4(0, xr + j + x) - mean) * k;
      float4 v = (g - gmean - t) * w;
      vstore4(v, 0, dr + j + x);
      vstore4(v, 0, cr + x);
    }
    for (; x < pw; x++) {
      float g = grad1(gr, yr, j + x, act, slope);
      float t = (xr[j + x] - mean) * k;
      float v = (g - gmean - t) * w;
      dr[j + x] = v;
      cr[x] = v;
    }
  }
}

/* One work-group per channel. g = dy * act'(y) is the gradient at the BN
 * output (y is the activation's output; not read without activation), made
 * on the fly wherever dy is read. Pass 1 reduces sum(g) and
 * sum((x-mean)*g), writes dbeta = sum(g), dgamma = invstd * sum((x-mean)*g)
 * (added when accumulate), pass 2 writes dx with this pass's sums, PyTorch
 * CPU's form: dx = (g - sum(g)/m - (x-mean) * dotp*invstd^2/m) * invstd * gamma.
 * dx may be dy: each work-item reads its elements before writing them.
 * act is a constant in each kernel below (one per activation, as in
 * cl/act.cl): with a switch on a runtime value in these loops the kernel
 * ran about 2x slower on PoCL. */
static inline void bn_backward_body(
    __global const float *x, uint xoff, __global const float *y, uint yoff,
    __global const float *dy, uint dyoff, __global const float *gamma, uint goff,
    __global const float *save_mean, uint smoff, __global const float *save_invstd,
    uint sioff, __global float *dx, uint dxoff, __global float *dgamma, uint dgoff,
    __global float *dbeta, uint dboff, uint m, int accumulate, int want_dx,
    int want_dgamma, int want_dbeta, const int act, float slope,
    __local float *scratch, __global float *pc, uint pcoff, int ph, int pw, int ppad) {
  uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global const float *yr = y + yoff + (size_t)ch * m;
  __global const float *gr = dy + dyoff + (size_t)ch * m;
  uint n4 = m >> 2;
  float mean = save_mean[smoff + ch], invstd = save_invstd[sioff + ch];

  /* two independent accumulators per sum (see bn_forward_train) */
  uint step2 = lsz << 1, i = lid;
  float4 s0 = (float4)(0.0f), s1 = s0, d0 = s0, d1 = s0;
  for (; i + lsz < n4; i += step2) {
    float4 g0 = grad4(gr, yr, i, act, slope), g1 = grad4(gr, yr, i + lsz, act, slope);
    s0 += g0;
    s1 += g1;
    d0 += (vload4(i, xr) - mean) * g0;
    d1 += (vload4(i + lsz, xr) - mean) * g1;
  }
  for (; i < n4; i += lsz) {
    float4 g = grad4(gr, yr, i, act, slope);
    s0 += g;
    d0 += (vload4(i, xr) - mean) * g;
  }
  float s = hsum4(s0 + s1), d = hsum4(d0 + d1);
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) {
    float g = grad1(gr, yr, j, act, slope);
    s += g;
    d += (xr[j] - mean) * g;
  }
  float sum = wg_sum(s, scratch);
  float dotp = wg_sum(d, scratch);

  if (lid == 0) {
    float gw = dotp * invstd;
    if (want_dgamma) dgamma[dgoff + ch] = accumulate ? dgamma[dgoff + ch] + gw : gw;
    if (want_dbeta) dbeta[dboff + ch] = accumulate ? dbeta[dboff + ch] + sum : sum;
  }
  if (!want_dx) return;

  float k = dotp * invstd * invstd / (float)m;
  float gmean = sum / (float)m;
  float w = invstd * gamma[goff + ch];
  bn_dx(xr, yr, gr, dx + dxoff + (size_t)ch * m, m, mean, k, gmean, w, act, slope,
        copy_channel(pc, pcoff, ch, m, ph, pw, ppad), ph, pw, ppad);
}

#define BN_BACKWARD_KERNEL(NAME, ACT)                                          \
  __kernel void NAME(__global const float *x, uint xoff,                       \
                     __global const float *y, uint yoff,                       \
                     __global const float *dy, uint dyoff,                     \
                     __global const float *gamma, uint goff,                   \
                     __global const float *save_mean, uint smoff,              \
                     __global const float *save_invstd, uint sioff,            \
                     __global float *dx, uint dxoff,                           \
                     __global float *dgamma, uint dgoff,                       \
                     __global float *dbeta, uint dboff, uint m,                \
                     int accumulate, int want_dx, int want_dgamma,             \
                     int want_dbeta, float slope, __local float *scratch,      \
                     __global float *pc, uint pcoff, int ph, int pw, int ppad) { \
    bn_backward_body(x, xoff, y, yoff, dy, dyoff, gamma, goff, save_mean,      \
                     smoff, save_invstd, sioff, dx, dxoff, dgamma, dgoff,      \
                     dbeta, dboff, m, accumulate, want_dx, want_dgamma,        \
                     want_dbeta, ACT, slope, scratch, pc, pcoff, ph, pw, ppad); \
  }

BN_BACKWARD_KERNEL(bn_backward, CLGAN_ACT_NONE)
BN_BACKWARD_KERNEL(bn_backward_relu, CLGAN_ACT_RELU)
BN_BACKWARD_KERNEL(bn_backward_leaky_relu, CLGAN_ACT_LEAKY_RELU)
BN_BACKWARD_KERNEL(bn_backward_tanh, CLGAN_ACT_TANH)
BN_BACKWARD_KERNEL(bn_backward_sigmoid, CLGAN_ACT_SIGMOID)

/* ---- SyncBatchNorm (several ranks, src/graph/node_bn_act.c) --------------
 * The same arithmetic split at the two reductions so that the host can sum
 * them over every rank in between: statistics -> (allgather, combine) ->
 * apply, and backward sums -> (allreduce) -> dx. sums [2c] holds the pair
 * per channel: (mean, sum of squared deviations), then (sum(g),
 * sum((x-mean)*g)). m is this rank's values per channel, mtotal every
 * rank's. One work-group per channel, as above. */

/* Local mean and sum of squared deviations of one row (two-pass). */
static void row_mean_m2(__global const float *xr, uint m, __local float *scratch, float *mean_out,
                        float *m2_out) {
  uint lid = get_local_id(0), lsz = get_local_size(0), n4 = m >> 2;
  float4 a0 = (float4)(0.0f), a1 = a0;
  uint i = lid;
  for (; i + lsz < n4; i += lsz << 1) {
    a0 += vload4(i, xr);
    a1 += vload4(i + lsz, xr);
  }
  for (; i < n4; i += lsz) a0 += vload4(i, xr);
  float a = hsum4(a0 + a1);
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) a += xr[j];
  float mean = wg_sum(a, scratch) / (float)m;
  a0 = a1 = (float4)(0.0f);
  for (i = lid; i + lsz < n4; i += lsz << 1) {
    float4 d0 = vload4(i, xr) - mean, d1 = vload4(i + lsz, xr) - mean;
    a0 += d0 * d0;
    a1 += d1 * d1;
  }
  for (; i < n4; i += lsz) {
    float4 d = vload4(i, xr) - mean;
    a0 += d * d;
  }
  a = hsum4(a0 + a1);
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) {
    float d = xr[j] - mean;
    a += d * d;
  }
  *mean_out = mean;
  *m2_out = wg_sum(a, scratch);
}

__kernel void bn_sync_stats(__global const float *x, uint xoff, __global float *sums, uint soff,
                            uint m, uint c, __local float *scratch) {
  uint ch = get_group_id(0);
  float mean, m2;
  row_mean_m2(x + xoff + (size_t)ch * m, m, scratch, &mean, &m2);
  if (get_local_id(0) == 0) {
    sums[soff + ch] = mean;
    sums[soff + c + ch] = m2;
  }
}

/* bn_forward_train's pass 3 and running update with the global statistics. */
__kernel void bn_sync_apply(__global const float *x, uint xoff,
                            __global const float *gamma, uint goff,
                            __global const float *beta, uint boff,
                            __global float *y, uint yoff,
                            __global const float *sums, uint soff,
                            __global float *save_mean, uint smoff,
                            __global float *save_invstd, uint sioff,
                            __global float *run_mean, uint rmoff,
                            __global float *run_var, uint rvoff,
                            int update_running, uint m, uint c, float mtotal,
                            float momentum, float eps, int act, float slope,
                            __global float *pc, uint pcoff, int ph, int pw, int ppad) {
  uint ch = get_group_id(0), lid = get_local_id(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global float *yr = y + yoff + (size_t)ch * m;
  float mean = sums[soff + ch], var_sum = sums[soff + c + ch];
  float invstd = 1.0f / sqrt(var_sum / mtotal + eps);
  if (lid == 0) {
    save_mean[smoff + ch] = mean;
    save_invstd[sioff + ch] = invstd;
    if (update_running) {
      run_mean[rmoff + ch] = momentum * mean + (1.0f - momentum) * run_mean[rmoff + ch];
      run_var[rvoff + ch] =
          momentum * (var_sum / (mtotal - 1.0f)) + (1.0f - momentum) * run_var[rvoff + ch];
    }
  }
  float alpha = invstd * gamma[goff + ch];
  float shift = beta[boff + ch] - mean * alpha;
  bn_apply(xr, yr, m, alpha, shift, act, slope, copy_channel(pc, pcoff, ch, m, ph, pw, ppad), ph,
           pw, ppad);
}

/* Pass 1 of bn_backward_body on this rank's values: the sums into sums,
 * dgamma / dbeta from them (this rank's share of the parameter gradients,
 * which the gradient allreduce adds up). */
static inline void bn_sync_sums_body(
    __global const float *x, uint xoff, __global const float *y, uint yoff,
    __global const float *dy, uint dyoff, __global const float *save_mean, uint smoff,
    __global const float *save_invstd, uint sioff, __global float *sums, uint soff,
    __global float *dgamma, uint dgoff, __global float *dbeta, uint dboff, uint m, uint c,
    int accumulate, int want_dgamma, int want_dbeta, const int act, float slope,
    __local float *scratch) {
  uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global const float *yr = y + yoff + (size_t)ch * m;
  __global const float *gr = dy + dyoff + (size_t)ch * m;
  uint n4 = m >> 2;
  float mean = save_mean[smoff + ch], invstd = save_invstd[sioff + ch];
  float4 s0 = (float4)(0.0f), d0 = s0;
  for (uint i = lid; i < n4; i += lsz) {
    float4 g = grad4(gr, yr, i, act, slope);
    s0 += g;
    d0 += (vload4(i, xr) - mean) * g;
  }
  float s = hsum4(s0), d = hsum4(d0);
  for (uint j = (n4 << 2) + lid; j < m; j += lsz) {
    float g = grad1(gr, yr, j, act, slope);
    s += g;
    d += (xr[j] - mean) * g;
  }
  float sum = wg_sum(s, scratch);
  float dotp = wg_sum(d, scratch);
  if (lid == 0) {
    sums[soff + ch] = sum;
    sums[soff + c + ch] = dotp;
    float gw = dotp * invstd;
    if (want_dgamma) dgamma[dgoff + ch] = accumulate ? dgamma[dgoff + ch] + gw : gw;
    if (want_dbeta) dbeta[dboff + ch] = accumulate ? dbeta[dboff + ch] + sum : sum;
  }
}

/* Pass 2 of bn_backward_body with the sums of every rank. */
static inline void bn_sync_dx_body(
    __global const float *x, uint xoff, __global const float *y, uint yoff,
    __global const float *dy, uint dyoff, __global const float *gamma, uint goff,
    __global const float *save_mean, uint smoff, __global const float *save_invstd, uint sioff,
    __global const float *sums, uint soff, __global float *dx, uint dxoff, uint m, uint c,
    float mtotal, const int act, float slope, __global float *pc, uint pcoff, int ph, int pw,
    int ppad) {
  uint ch = get_group_id(0);
  __global const float *xr = x + xoff + (size_t)ch * m;
  __global const float *yr = y + yoff + (size_t)ch * m;
  __global const float *gr = dy + dyoff + (size_t)ch * m;
  float mean = save_mean[smoff + ch], invstd = save_invstd[sioff + ch];
  float sum = sums[soff + ch], dotp = sums[soff + c + ch];
  float k = dotp * invstd * invstd / mtotal;
  float gmean = sum / mtotal;
  float w = invstd * gamma[goff + ch];
  bn_dx(xr, yr, gr, dx + dxoff + (size_t)ch * m, m, mean, k, gmean, w, act, slope,
        copy_channel(pc, pcoff, ch, m, ph, pw, ppad), ph, pw, ppad);
}

#define BN_SYNC_KERNELS(SUFFIX, ACT)                                                    \
  __kernel void bn_sync_sums##SUFFIX(                                                   \
      __global const float *x, uint xoff, __global const float *y, uint yoff,          \
      __global const float *dy, uint dyoff, __global const float *save_mean, uint smoff, \
      __global const float *save_invstd, uint sioff, __global float *sums, uint soff,   \
      __global float *dgamma, uint dgoff, __global float *dbeta, uint dboff, uint m,    \
      uint c, int accumulate, int want_dgamma, int want_dbeta, float slope,             \
      __local float *scratch) {                                                         \
    bn_sync_sums_body(x, xoff, y, yoff, dy, dyoff, save_mean, smoff, save_invstd,       \
                      sioff, sums, soff, dgamma, dgoff, dbeta, dboff, m, c, accumulate, \
                      want_dgamma, want_dbeta, ACT, slope, scratch);                    \
  }                                                                                     \
  __kernel void bn_sync_dx##SUFFIX(                                                     \
      __global const float *x, uint xoff, __global const float *y, uint yoff,          \
      __global const float *dy, uint dyoff, __global const float *gamma, uint goff,     \
      __global const float *save_mean, uint smoff, __global const float *save_invstd,   \
      uint sioff, __global const float *sums, uint soff, __global float *dx,            \
      uint dxoff, uint m, uint c, float mtotal, float slope, __global float *pc,        \
      uint pcoff, int ph, int pw, int ppad) {                                           \
    bn_sync_dx_body(x, xoff, y, yoff, dy, dyoff, gamma, goff, save_mean, smoff,         \
                    save_invstd, sioff, sums, soff, dx, dxoff, m, c, mtotal, ACT, slope, \
                    pc, pcoff, ph, pw, ppad);                                           \
  }

BN_SYNC_KERNELS(, CLGAN_ACT_NONE)
BN_SYNC_KERNELS(_relu, CLGAN_ACT_RELU)
BN_SYNC_KERNELS(_leaky_relu, CLGAN_ACT_LEAKY_RELU)
BN_SYNC_KERNELS(_tanh, CLGAN_ACT_TANH)
BN_SYNC_KERNELS(_sigmoid, CLGAN_ACT_SIGMOID)
