/* Sliced Wasserstein distance (src/metrics/swd.c), after ProGAN's
 * metrics/sliced_wasserstein.py. Pyramid planes are contiguous [planes][s][s]
 * blocks (plane = image * channels + channel). */

/* The 5-tap binomial filter [1, 4, 6, 4, 1] / 16. */
__constant float binom5[5] = {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f};

/* scipy.ndimage mode 'mirror' (d c b | a b c d | c b a), one reflection. */
static inline int mirror101(int i, int n) {
  if (i < 0) i = -i;
  if (i >= n) i = 2 * n - 2 - i;
  return i;
}

/* out (sd x sd, sd = ceil(s / 2)) = binomial filter of in (s x s) at the even
 * pixels. Global: (sd*sd rounded up, planes). */
__kernel void swd_pyr_down(__global const float *in, uint inoff, __global float *out,
                           uint outoff, int s, int sd) {
  int g = get_global_id(0);
  if (g >= sd * sd) return;
  int y = g / sd, x = g % sd;
  size_t plane = get_global_id(1);
  __global const float *p = in + inoff + plane * (size_t)s * s;
  int xs[5];
  for (int j = 0; j < 5; j++) xs[j] = mirror101(2 * x + j - 2, s);
  float acc = 0.0f;
  for (int i = 0; i < 5; i++) {
    __global const float *r = p + mirror101(2 * y + i - 2, s) * s;
    float row = 0.0f;
    for (int j = 0; j < 5; j++) row += binom5[j] * r[xs[j]];
    acc += binom5[i] * row;
  }
  out[outoff + plane * (size_t)sd * sd + g] = acc;
}

/* lap (s x s, in place over G_l) -= pyr_up(G_{l+1}) (sd x sd): the up image
 * is G_{l+1} zero-inserted to u = 2*sd, filtered with 4x the binomial
 * filter under 'mirror' at u, cropped to s. */
__kernel void swd_pyr_up_sub(__global float *lap, uint lapoff, __global const float *small,
                             uint smalloff, int s, int sd) {
  int g = get_global_id(0);
  if (g >= s * s) return;
  int y = g / s, x = g % s, u = 2 * sd;
  size_t plane = get_global_id(1);
  __global const float *p = small + smalloff + plane * (size_t)sd * sd;
  float acc = 0.0f;
  for (int i = 0; i < 5; i++) {
    int yy = mirror101(y + i - 2, u);
    if (yy & 1) continue;
    float row = 0.0f;
    for (int j = 0; j < 5; j++) {
      int xx = mirror101(x + j - 2, u);
      if (!(xx & 1)) row += binom5[j] * p[(yy >> 1) * sd + (xx >> 1)];
    }
    acc += binom5[i] * row;
  }
  lap[lapoff + plane * (size_t)s * s + g] -= 4.0f * acc;
}

static inline ulong mix64(ulong z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
  return z ^ (z >> 31);
}

/* Descriptors of images [first, first + n) (planes of this chunk start at
 * image `first`): desc[(first*nh + r)*dim + j], r = i*nh + h, j = k*49 + dy*7
 * + dx. Centres as clgan_swd_pick. Global: (dim rounded up, n*nh). */
__kernel void swd_descriptors(__global const float *lap, uint lapoff, int s, int c,
                              int nh, int first, int level, ulong seed,
                              __global float *desc, uint descoff) {
  int j = get_global_id(0), dim = c * 49;
  if (j >= dim) return;
  int r = get_global_id(1), i = r / nh, h = r % nh;
  ulong key = ((ulong)level << 56) ^ ((ulong)(uint)(first + i) << 20) ^ (ulong)h;
  ulong z = mix64(seed ^ mix64(key + 0x9E3779B97F4A7C15UL));
  uint span = (uint)(s - 6);
  int cx = 3 + (int)((uint)z % span), cy = 3 + (int)((uint)(z >> 32) % span);
  int k = j / 49, q = j % 49, dy = q / 7 - 3, dx = q % 7 - 3;
  float v = lap[lapoff + ((size_t)(i * c + k) * s + (cy + dy)) * s + (cx + dx)];
  desc[descoff + ((size_t)first * nh + r) * dim + j] = v;
}

/* Partial sums for the per-channel normalisation over m descriptors of dim =
 * c*49: work-item (q, k) of (nq, c) sums d = desc - center[k] and d*d over
 * rows [q*m/nq, (q+1)*m/nq): partial[(k*nq + q)*2 + {0, 1}]. */
__kernel void swd_stats(__global const float *desc, uint descoff, uint m, int c,
                        uint nq, __global const float *center, uint coff,
                        __global float *partial, uint poff) {
  uint q = get_global_id(0);
  int k = get_global_id(1);
  if (q >= nq) return;
  uint dim = (uint)c * 49u;
  uint r0 = (uint)((ulong)q * m / nq), r1 = (uint)((ulong)(q + 1) * m / nq);
  float ctr = center[coff + k], s = 0.0f, ss = 0.0f;
  for (uint r = r0; r < r1; r++) {
    __global const float *d = desc + descoff + (size_t)r * dim + k * 49;
    float rs = 0.0f, rss = 0.0f;
    for (int p = 0; p < 49; p++) {
      float v = d[p] - ctr;
      rs += v;
      rss += v * v;
    }
    s += rs;
    ss += rss;
  }
  partial[poff + (k * nq + q) * 2] = s;
  partial[poff + (k * nq + q) * 2 + 1] = ss;
}

/* desc = (desc - norm[2k]) * norm[2k + 1] over count values of dim = c*49. */
__kernel void swd_normalise(__global float *desc, uint descoff, uint count, int c,
                            __global const float *norm, uint noff) {
  uint g = get_global_id(0);
  if (g >= count) return;
  int k = (int)(g % (uint)(c * 49)) / 49;
  desc[descoff + g] = (desc[descoff + g] - norm[noff + 2 * k]) * norm[noff + 2 * k + 1];
}

/* Row tails [m, ld) = +inf. Global: (ld - m rounded up, rows). */
__kernel void swd_pad(__global float *data, uint off, uint ld, uint m) {
  uint t = get_global_id(0);
  if (t >= ld - m) return;
  data[off + (size_t)get_global_id(1) * ld + m + t] = INFINITY;
}

/* out[row] = sum_{i < m} |a[row*ld + i] - b[row*ld + i]|: one work-group per
 * row, work-items striding the row, then a fixed-order tree. */
__kernel void swd_absdiff(__global const float *a, uint aoff, __global const float *b,
                          uint boff, uint ld, uint m, __global float *out, uint ooff,
                          __local float *scratch) {
  uint row = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
  __global const float *x = a + aoff + (size_t)row * ld;
  __global const float *y = b + boff + (size_t)row * ld;
  /* blocks of 4 x 64 values summed plainly, the block sums with Kahan's
   * compensation: a row holds up to millions of values */
  float s = 0.0f, comp = 0.0f;
  uint i = lid;
  while (i < m) {
    float b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
    for (uint t = 0; t < 64 && i + 3 * L < m; t++, i += 4 * L) {
      b0 += fabs(x[i] - y[i]);
      b1 += fabs(x[i + L] - y[i + L]);
      b2 += fabs(x[i + 2 * L] - y[i + 2 * L]);
      b3 += fabs(x[i + 3 * L] - y[i + 3 * L]);
    }
    if (i + 3 * L >= m)
      for (; i < m; i += L) b0 += fabs(x[i] - y[i]);
    float v = ((b0 + b1) + (b2 + b3)) - comp;
    float t = s + v;
    comp = (t - s) - v;
    s = t;
  }
  scratch[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint k = L >> 1; k > 0; k >>= 1) {
    if (lid < k) scratch[lid] += scratch[lid + k];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[ooff + row] = scratch[0];
}
