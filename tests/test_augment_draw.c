/* Differentiable augmentation, the draw: Philox (known answers, the host
 * twin), the records against clgan_augment_params_host, the probability p
 * (identity at 0, everything at 1, frequencies, p read from the device),
 * the parameters' distributions, determinism across work-group sizes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment_dev.h"

/* Random123's kat_vectors for philox4x32-10. */
START_TEST(test_philox_known_answers) {
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    clgan_philox4x32_10(kat[t], kat[t] + 4, out);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(out[i] == kat[t][6 + i], "kat %d word %d: got %08x want %08x", t, i, out[i],
                    kat[t][6 + i]);
  }
}
END_TEST

/* The device draws exactly what the host twin draws (so the device Philox
 * is Random123's), and stores the image mean for contrast. */
START_TEST(test_params_match_host) {
  static const float ps[] = {1.0f, 0.5f, 0.2f};
  for (size_t si = 0; si < NSHAPES; si++) {
    shape s = shapes[si];
    aug_dev d = dev_make(s);
    float *x = tu_malloc(d.count * sizeof *x);
    tu_fill_uniform(x, d.count, 10 + si, -1.0f, 1.0f);
    for (size_t pi = 0; pi < NPOLICIES; pi++)
      for (size_t k = 0; k < 3; k++) {
        uint64_t seed = 0x123456789abcdefULL + si, counter = (uint64_t)pi * 1000 + k + (1ULL << 33);
        dev_forward(&d, policies[pi], ps[k], seed, counter, x);
        float *recs = dev_records(&d);
        for (int b = 0; b < s.n; b++) {
          float want[STRIDE];
          const float *rec = recs + (size_t)b * STRIDE;
          clgan_augment_params_host(policies[pi], ps[k], seed, counter, b, s.h, s.w, want);
          ck_assert_msg(memcmp(rec, want, DRAWN * sizeof(float)) == 0,
                        "shape %zu policy %u p %g image %d: device record differs from host", si,
                        policies[pi], (double)ps[k], b);
          double m = 0;
          size_t hw = (size_t)s.h * s.w;
          for (int ch = 0; ch < s.c; ch++)
            for (size_t q = 0; q < hw; q++) m += x[((size_t)ch * s.n + b) * hw + q];
          m /= (double)(s.c * hw);
          if (rec_flags(rec) & CON)
            ck_assert_msg(fabs(rec[CLGAN_AUG_P_MEAN] - m) <= 1e-6 + 1e-5 * fabs(m),
                          "image mean %g, want %g", (double)rec[CLGAN_AUG_P_MEAN], m);
          else
            ck_assert_float_eq(rec[CLGAN_AUG_P_MEAN], 0.0f);
          ck_assert_float_eq(rec[CLGAN_AUG_P_GRAD_MEAN], 0.0f);
        }
        free(recs);
      }
    dev_check_guards(&d);
    free(x);
    dev_free(&d);
  }
}
END_TEST

/* p = 0 (or an empty policy) is the identity, bitwise, forward and back. */
START_TEST(test_p0_identity) {
  for (size_t si = 0; si < NSHAPES; si++) {
    shape s = shapes[si];
    aug_dev d = dev_make(s);
    size_t n = d.count;
    float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
    tu_fill_uniform(x, n, 70 + si, -1.0f, 1.0f);
    tu_fill_uniform(dy, n, 80 + si, -1.0f, 1.0f);
    x[0] = -0.0f, dy[0] = -0.0f; /* bit for bit: not even -0 + 0 */
    for (int variant = 0; variant < 2; variant++) {
      unsigned pol = variant ? 0u : (unsigned)CLGAN_AUG_ALL;
      float p = variant ? 1.0f : 0.0f;
      dev_forward(&d, pol, p, 3, 4, x);
      dev_backward(&d, pol, dy);
      float *recs = dev_records(&d), *y = tu_download(d.y, n), *dx = tu_download(d.dx, n);
      check_bitwise("identity forward", y, x, n);
      check_bitwise("identity backward", dx, dy, n);
      for (int b = 0; b < s.n; b++) {
        const float *rec = recs + (size_t)b * STRIDE;
        ck_assert_uint_eq(rec_flags(rec), 0);
        ck_assert(rec[CLGAN_AUG_P_BRIGHTNESS] == 0.0f && rec[CLGAN_AUG_P_SATURATION] == 1.0f &&
                  rec[CLGAN_AUG_P_CONTRAST] == 1.0f && rec[CLGAN_AUG_P_SHIFT_H] == 0.0f &&
                  rec[CLGAN_AUG_P_SHIFT_W] == 0.0f);
      }
      free(recs), free(y), free(dx);
    }
    free(x), free(dy);
    dev_free(&d);
  }
}
END_TEST

/* p = 1 applies every op of the policy to every image, and only those. */
START_TEST(test_p1_applies_all) {
  shape s = {1, 64, 8, 8};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  static const unsigned want[8] = {0,   BR | SAT | CON,       TRA,       BR | SAT | CON | TRA,
                                   CUT, BR | SAT | CON | CUT, TRA | CUT, 31};
  for (unsigned pol = 0; pol < 8; pol++) {
    dev_forward(&d, pol, 1.0f, 11, pol, x);
    float *recs = dev_records(&d);
    for (int b = 0; b < s.n; b++) ck_assert_uint_eq(rec_flags(recs + b * STRIDE), want[pol]);
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

/* Intermediate p: each op applied to about p of the images, independently. */
START_TEST(test_probability) {
  static const float ps[] = {0.05f, 0.3f, 0.7f};
  shape s = {1, 4000, 4, 4};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  for (size_t k = 0; k < 3; k++) {
    float p = ps[k];
    dev_forward(&d, CLGAN_AUG_ALL, p, 2024, 500 + k, x);
    float *recs = dev_records(&d);
    int count[5] = {0}, both = 0;
    for (int b = 0; b < s.n; b++) {
      unsigned f = rec_flags(recs + (size_t)b * STRIDE);
      for (int op = 0; op < 5; op++) count[op] += (f >> op) & 1;
      both += (f & BR) && (f & CUT);
    }
    double sd = sqrt(p * (1.0 - p) / s.n);
    for (int op = 0; op < 5; op++) {
      double frac = (double)count[op] / s.n;
      ck_assert_msg(fabs(frac - p) < 5 * sd, "p %g: op %d applied to %.4f of the images", (double)p,
                    op, frac);
    }
    double p2 = (double)p * p, sd2 = sqrt(p2 * (1 - p2) / s.n);
    ck_assert_msg(fabs((double)both / s.n - p2) < 5 * sd2 + 1e-3,
                  "p %g: brightness and cutout together on %.4f, want %.4f", (double)p,
                  (double)both / s.n, p2);
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

/* Parameter ranges and distributions (p = 1, 4096 images), odd and even. */
START_TEST(test_param_distributions) {
  static const int sizes[] = {16, 9, 64};
  for (size_t si = 0; si < 3; si++) {
    int hsz = sizes[si];
    shape s = {1, 4096, hsz, hsz};
    aug_dev d = dev_make(s);
    float *x = tu_malloc(d.count * sizeof *x);
    dev_forward(&d, CLGAN_AUG_ALL, 1.0f, 31337, si, x);
    float *recs = dev_records(&d);
    int sh = (hsz + 4) / 8, cs = (hsz + 1) / 2, nco = hsz + 1 - cs % 2;
    int *shift_hits = tu_malloc((size_t)(2 * sh + 1) * 2 * sizeof(int));
    int *cut_hits = tu_malloc((size_t)nco * 2 * sizeof(int));
    double mb = 0, ms = 0, mk = 0;
    for (int b = 0; b < s.n; b++) {
      const float *r = recs + (size_t)b * STRIDE;
      float bb = r[CLGAN_AUG_P_BRIGHTNESS], sv = r[CLGAN_AUG_P_SATURATION],
            kv = r[CLGAN_AUG_P_CONTRAST];
      ck_assert_msg(bb >= -0.5f && bb < 0.5f, "brightness %g", (double)bb);
      ck_assert_msg(sv >= 0.0f && sv < 2.0f, "saturation %g", (double)sv);
      ck_assert_msg(kv >= 0.5f && kv < 1.5f, "contrast %g", (double)kv);
      mb += bb, ms += sv, mk += kv;
      for (int a = 0; a < 2; a++) {
        int v = (int)r[CLGAN_AUG_P_SHIFT_H + a];
        ck_assert_msg(v >= -sh && v <= sh, "shift %d outside +-%d", v, sh);
        ck_assert(r[CLGAN_AUG_P_SHIFT_H + a] == (float)v);
        shift_hits[a * (2 * sh + 1) + v + sh]++;
        int o = (int)r[CLGAN_AUG_P_CUT_H + a];
        ck_assert_msg(o >= 0 && o < nco, "cutout offset %d outside [0, %d)", o, nco);
        cut_hits[a * nco + o]++;
      }
    }
    /* uniform means: sd of a mean of 4096 U(0,1) is 0.0045 (x2 for width 2) */
    ck_assert_msg(fabs(mb / s.n) < 0.025, "brightness mean %g", mb / s.n);
    ck_assert_msg(fabs(ms / s.n - 1.0) < 0.05, "saturation mean %g", ms / s.n);
    ck_assert_msg(fabs(mk / s.n - 1.0) < 0.025, "contrast mean %g", mk / s.n);
    for (int i = 0; i < 2 * (2 * sh + 1); i++)
      ck_assert_msg(shift_hits[i] > 0, "shift value %d never drawn", i % (2 * sh + 1) - sh);
    for (int i = 0; i < 2 * nco; i++)
      ck_assert_msg(cut_hits[i] > 0, "cutout offset %d never drawn", i % nco);
    free(shift_hits), free(cut_hits), free(recs), free(x);
    dev_free(&d);
  }
}
END_TEST

/* Same seed and counter: bitwise the same, whatever the reduction's
 * work-group size (the context's tuning, then a new plan); another counter
 * or seed: another draw. */
START_TEST(test_determinism) {
  static const size_t locals[] = {0, 1, 4, 64};
  const clgan_tuning saved = *clgan_ctx_tuning(tu_ctx());
  shape s = {3, 5, 16, 16};
  aug_dev d = dev_make(s);
  size_t n = d.count;
  float *x = tu_malloc(n * sizeof *x), *dy = tu_malloc(n * sizeof *dy);
  tu_fill_uniform(x, n, 90, -1.0f, 1.0f);
  tu_fill_uniform(dy, n, 91, -1.0f, 1.0f);
  float *y0 = NULL, *dx0 = NULL, *r0 = NULL;
  for (size_t li = 0; li < 4; li++)
    for (int rep = 0; rep < 2; rep++) {
      clgan_tuning t = saved;
      t.augment_local = locals[li];
      TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
      dev_forward(&d, CLGAN_AUG_ALL, 0.8f, 42, 7, x);
      ck_assert(locals[li] == 0 || d.plan.local == locals[li]);
      dev_backward(&d, CLGAN_AUG_ALL, dy);
      float *y = tu_download(d.y, n), *dx = tu_download(d.dx, n), *r = dev_records(&d);
      if (!y0) {
        y0 = y, dx0 = dx, r0 = r;
        continue;
      }
      char what[64];
      snprintf(what, sizeof what, "forward, local %zu", locals[li]);
      check_bitwise(what, y, y0, n);
      snprintf(what, sizeof what, "backward, local %zu", locals[li]);
      check_bitwise(what, dx, dx0, n);
      snprintf(what, sizeof what, "records, local %zu", locals[li]);
      check_bitwise(what, r, r0, d.wf);
      free(y), free(dx), free(r);
    }
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
  /* another counter, another seed */
  for (int v = 0; v < 2; v++) {
    dev_forward(&d, CLGAN_AUG_ALL, 0.8f, v ? 43 : 42, v ? 7 : 8, x);
    float *y = tu_download(d.y, n), *r = dev_records(&d);
    int same = 0;
    for (int b = 0; b < s.n; b++)
      same += memcmp(r + b * STRIDE, r0 + b * STRIDE, DRAWN * sizeof(float)) == 0;
    ck_assert_msg(same == 0, "%d of %d images drew the same parameters for another %s", same, s.n,
                  v ? "seed" : "counter");
    ck_assert(memcmp(y, y0, n * sizeof *y) != 0);
    free(y), free(r);
  }
  /* the draw of an image does not depend on the batch it is in */
  shape s1 = {3, 2, 16, 16};
  aug_dev d1 = dev_make(s1);
  dev_forward(&d1, CLGAN_AUG_ALL, 0.8f, 42, 7, x);
  float *r1 = dev_records(&d1);
  for (int b = 0; b < 2; b++)
    ck_assert(memcmp(r1 + b * STRIDE, r0 + b * STRIDE, DRAWN * sizeof(float)) == 0);
  free(r1);
  dev_free(&d1);
  free(y0), free(dx0), free(r0), free(x), free(dy);
  dev_free(&d);
}
END_TEST

/* p comes from the device: above 1 it applies everything, below 0 or NaN
 * nothing, exactly as the host twin with p clamped. */
START_TEST(test_p_from_device) {
  static const float ps[] = {1.5f, -0.1f, NAN, 0.25f};
  static const float as[] = {1.0f, 0.0f, 0.0f, 0.25f};
  shape s = {3, 16, 8, 8};
  aug_dev d = dev_make(s);
  float *x = tu_malloc(d.count * sizeof *x);
  for (int k = 0; k < 4; k++) {
    dev_forward(&d, CLGAN_AUG_ALL, ps[k], 8, 9, x);
    float *recs = dev_records(&d);
    for (int b = 0; b < s.n; b++) {
      float want[STRIDE];
      clgan_augment_params_host(CLGAN_AUG_ALL, as[k], 8, 9, b, s.h, s.w, want);
      ck_assert_msg(memcmp(recs + b * STRIDE, want, DRAWN * sizeof(float)) == 0,
                    "p %g image %d: not the record of p %g", (double)ps[k], b, (double)as[k]);
    }
    free(recs);
  }
  free(x);
  dev_free(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("augment_draw");
  TCase *tc = tcase_create("augment_draw");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_philox_known_answers);
  tcase_add_test(tc, test_params_match_host);
  tcase_add_test(tc, test_p0_identity);
  tcase_add_test(tc, test_p1_applies_all);
  tcase_add_test(tc, test_probability);
  tcase_add_test(tc, test_param_distributions);
  tcase_add_test(tc, test_determinism);
  tcase_add_test(tc, test_p_from_device);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
