/* convolve: the FFT power against a direct long-double convolution written
 * out here, on random lattice distributions; symmetry, sample size 1,
 * moments, limits and error statuses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/convolve.h"
#include "check.h"

/* The n-fold convolution of p / sum(p), one factor at a time, in long double:
 * slow (about n^2 k^2 / 2 operations) and obviously right. */
static long double *direct_power(const double *p, int64_t k, int64_t n) {
  const int64_t support = n * (k - 1) + 1;
  long double *cur = calloc((size_t)support, sizeof(long double));
  long double *next = calloc((size_t)support, sizeof(long double));
  long double *q = malloc((size_t)k * sizeof(long double));
  if (!cur || !next || !q) {
    free(cur);
    free(next);
    free(q);
    return NULL;
  }
  long double total = 0.0L;
  for (int64_t i = 0; i < k; i++) total += p[i];
  for (int64_t i = 0; i < k; i++) q[i] = p[i] / total;
  cur[0] = 1.0L;
  int64_t len = 1;
  for (int64_t step = 0; step < n; step++) {
    const int64_t nlen = len + k - 1;
    memset(next, 0, (size_t)nlen * sizeof(long double));
    for (int64_t i = 0; i < len; i++) {
      if (cur[i] == 0.0L) continue;
      for (int64_t j = 0; j < k; j++) next[i + j] += cur[i] * q[j];
    }
    long double *t = cur;
    cur = next;
    next = t;
    len = nlen;
  }
  free(next);
  free(q);
  return cur;
}

/* Runs convolve_power; NULL on failure (status in *status). */
static double *fft_power(const double *p, int64_t k, int64_t n, convolve_status *status) {
  const int64_t support = convolve_support(k, n);
  const size_t bytes = convolve_work_bytes(k, n);
  double *out = malloc((size_t)(support > 0 ? support : 1) * sizeof(double));
  void *work = malloc(bytes ? bytes : 8);
  if (!out || !work) {
    free(out);
    free(work);
    *status = CONVOLVE_ERR_EMPTY;
    return NULL;
  }
  *status = convolve_power(p, k, n, out, work);
  free(work);
  if (*status != CONVOLVE_OK) {
    free(out);
    return NULL;
  }
  return out;
}

enum { W_UNIFORM, W_ZEROS, W_DOMINANT, W_TAIL, W_KINDS };
static const char *kind_name[] = {"uniform", "zeros", "dominant", "tail"};

static void fill_weights(double *w, int64_t k, int kind, uint64_t *s) {
  for (int64_t i = 0; i < k; i++) {
    const double u = tgen_unif(s);
    switch (kind) {
    case W_UNIFORM: w[i] = u; break;
    case W_ZEROS: w[i] = u < 0.4 ? 0.0 : u; break;
    case W_DOMINANT: w[i] = 1e-6 * u; break;
    default: w[i] = exp(-30.0 * (double)i / (double)k) * (0.5 + u); break;
    }
  }
  if (kind == W_DOMINANT) w[(int64_t)(tgen_unif(s) * (double)k)] = 1.0;
  if (kind == W_ZEROS) w[k - 1] = 0.5; /* at least one positive */
}

CTEST(test_convolve_matches_direct_long_double) {
  static const int64_t ks[] = {1, 2, 3, 7, 40, 1000};
  static const int64_t ns[] = {1, 2, 3, 100, 1000};
  uint64_t s = 20261129;
  int cases = 0;
  double worst = 0.0;
  for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++) {
    for (size_t b = 0; b < sizeof(ns) / sizeof(ns[0]); b++) {
      const int64_t k = ks[a], n = ns[b];
      /* the reference costs about n^2 k^2 / 2: keep each under ~5e7 */
      if ((double)n * n * k * k / 2 > 5e7) continue;
      for (int kind = 0; kind < W_KINDS; kind++) {
        double *w = malloc((size_t)k * sizeof(double));
        fill_weights(w, k, kind, &s);
        convolve_status st;
        double *got = fft_power(w, k, n, &st);
        long double *want = direct_power(w, k, n);
        CHECK(got && want, "k = %lld, n = %lld (%s): status %d", (long long)k, (long long)n,
              kind_name[kind], (int)st);
        if (got && want) {
          const int64_t support = n * (k - 1) + 1;
          double err = 0.0;
          long double sum = 0.0L;
          int negative = 0;
          for (int64_t i = 0; i < support; i++) {
            const double e = fabs((double)(got[i] - want[i]));
            if (e > err || isnan(e)) err = isnan(e) ? INFINITY : e;
            if (got[i] < 0.0) negative = 1;
            sum += got[i];
          }
          CHECK(err <= 1e-12, "k = %lld, n = %lld (%s): largest error %.3g", (long long)k,
                (long long)n, kind_name[kind], err);
          CHECK(!negative, "k = %lld, n = %lld (%s): a negative probability", (long long)k,
                (long long)n, kind_name[kind]);
          CHECK(fabsl(sum - 1.0L) <= 1e-12L, "k = %lld, n = %lld (%s): sum - 1 = %.3Lg",
                (long long)k, (long long)n, kind_name[kind], sum - 1.0L);
          if (err > worst) worst = err;
          cases++;
        }
        free(got);
        free(want);
        free(w);
      }
    }
  }
  CHECK(cases >= 60, "only %d cases ran", cases);
  printf(" (%d cases, largest error %.2g)", cases, worst);
}

/* The chapter's shape (41 log2 size classes, 100 draws) and a long tail of
 * tiny probabilities: absolute accuracy holds across the whole support. */
CTEST(test_convolve_chapter_shape) {
  const int64_t k = 41, n = 100;
  double w[41];
  for (int64_t i = 0; i < k; i++) w[i] = exp(-0.5 * pow(((double)i - 12.0) / 4.0, 2)) + 1e-9;
  convolve_status st;
  double *got = fft_power(w, k, n, &st);
  long double *want = direct_power(w, k, n);
  CHECK(got && want, "status %d", (int)st);
  if (got && want) {
    double err = 0.0;
    for (int64_t i = 0; i < n * (k - 1) + 1; i++) {
      const double e = fabs((double)(got[i] - want[i]));
      if (e > err) err = e;
    }
    CHECK(err <= 1e-12, "largest error %.3g", err);
  }
  free(got);
  free(want);
}

CTEST(test_convolve_symmetric_input_gives_symmetric_output) {
  uint64_t s = 7;
  static const int64_t ks[] = {2, 5, 40, 301};
  static const int64_t ns[] = {2, 3, 100, 1000};
  for (size_t a = 0; a < 4; a++) {
    for (size_t b = 0; b < 4; b++) {
      const int64_t k = ks[a], n = ns[b];
      double *w = malloc((size_t)k * sizeof(double));
      for (int64_t i = 0; i < (k + 1) / 2; i++) w[i] = w[k - 1 - i] = tgen_unif(&s);
      convolve_status st;
      double *got = fft_power(w, k, n, &st);
      CHECK(got != NULL, "k = %lld, n = %lld: status %d", (long long)k, (long long)n, (int)st);
      if (got) {
        const int64_t support = n * (k - 1) + 1;
        double err = 0.0;
        for (int64_t i = 0; i < support; i++) {
          const double e = fabs(got[i] - got[support - 1 - i]);
          if (e > err) err = e;
        }
        CHECK(err <= 1e-14, "k = %lld, n = %lld: asymmetry %.3g", (long long)k, (long long)n,
              err);
      }
      free(got);
      free(w);
    }
  }
}

CTEST(test_convolve_sample_size_one_returns_input) {
  uint64_t s = 11;
  for (int64_t k = 1; k <= 1000; k = k * 3 + 1) {
    double *w = malloc((size_t)k * sizeof(double));
    long double total = 0.0L;
    for (int64_t i = 0; i < k; i++)
      total += (w[i] = tgen_unif(&s) < 0.3 ? 0.0 : tgen_unif(&s));
    if (total == 0.0L) total += (w[0] = 1.0);
    for (int64_t i = 0; i < k; i++) w[i] = (double)(w[i] / total);
    convolve_status st;
    double *got = fft_power(w, k, 1, &st);
    CHECK(got != NULL, "k = %lld: status %d", (long long)k, (int)st);
    if (got) {
      total = 0.0L;
      for (int64_t i = 0; i < k; i++) total += w[i];
      for (int64_t i = 0; i < k; i++) {
        const double want = k == 1 ? 1.0 : (double)(w[i] / total);
        CHECK(got[i] == want, "k = %lld: element %lld is %.17g, not %.17g", (long long)k,
              (long long)i, got[i], want);
      }
    }
    free(got);
    free(w);
  }
}

/* Mean and variance of the sum are n times those of one draw, at sizes the
 * direct reference cannot reach. The variance weighs the rounding noise of
 * far tail points (about 1e-17 each) by squared distances up to (n k)^2, so
 * it is checked to 1e-5 only; accuracy point by point is the binomial
 * test's. */
CTEST(test_convolve_moments_at_large_sizes) {
  uint64_t s = 3;
  static const int64_t ks[] = {41, 1000, 3};
  static const int64_t ns[] = {10000, 1000, 100000};
  for (size_t c = 0; c < 3; c++) {
    const int64_t k = ks[c], n = ns[c];
    double *w = malloc((size_t)k * sizeof(double));
    long double total = 0.0L, m1 = 0.0L, m2 = 0.0L;
    for (int64_t i = 0; i < k; i++) total += (w[i] = tgen_unif(&s));
    for (int64_t i = 0; i < k; i++) m1 += w[i] / total * i;
    for (int64_t i = 0; i < k; i++) m2 += w[i] / total * (i - m1) * (i - m1);
    convolve_status st;
    double *got = fft_power(w, k, n, &st);
    CHECK(got != NULL, "k = %lld, n = %lld: status %d", (long long)k, (long long)n, (int)st);
    if (got) {
      long double mean = 0.0L, var = 0.0L;
      const int64_t support = n * (k - 1) + 1;
      for (int64_t i = 0; i < support; i++) mean += got[i] * (long double)i;
      for (int64_t i = 0; i < support; i++) var += got[i] * (i - mean) * (i - mean);
      CHECK(fabsl(mean / (n * m1) - 1) < 1e-10L,
            "k = %lld, n = %lld: mean %.15Lg, want %.15Lg", (long long)k, (long long)n, mean,
            n * m1);
      CHECK(fabsl(var / (n * m2) - 1) < 1e-5L, "k = %lld, n = %lld: var %.15Lg, want %.15Lg",
            (long long)k, (long long)n, var, n * m2);
    }
    free(got);
    free(w);
  }
}

CTEST(test_convolve_limits_and_statuses) {
  CHECK(convolve_support(1, 1) == 1, "k = 1");
  CHECK(convolve_support(1, INT64_C(4500000000000000)) == 1, "k = 1, huge n");
  CHECK(convolve_support(41, 100) == 4001, "41 x 100");
  CHECK(convolve_support(2, CONVOLVE_MAX_SUPPORT - 1) == CONVOLVE_MAX_SUPPORT, "at the limit");
  CHECK(convolve_support(2, CONVOLVE_MAX_SUPPORT) == -1, "one past the limit");
  CHECK(convolve_support(INT64_MAX, INT64_MAX) == -1, "no overflow");
  CHECK(convolve_support(0, 5) == -1 && convolve_support(5, 0) == -1, "empty");
  CHECK(convolve_work_bytes(2, CONVOLVE_MAX_SUPPORT) == 0, "no work past the limit");
  CHECK(convolve_work_bytes(41, 100) == (4096 * 3 + 2) * sizeof(double), "work for 41 x 100");

  double out[8], work[64];
  const double nan_p[2] = {0.5, NAN}, neg[2] = {0.5, -0.1}, zero[2] = {0, 0};
  CHECK(convolve_power(nan_p, 2, 2, out, work) == CONVOLVE_ERR_NONFINITE, "NaN");
  CHECK(convolve_power(neg, 2, 2, out, work) == CONVOLVE_ERR_NEGATIVE, "negative");
  CHECK(convolve_power(zero, 2, 2, out, work) == CONVOLVE_ERR_ALL_ZERO, "all zero");
  CHECK(convolve_power(zero, 0, 2, out, work) == CONVOLVE_ERR_EMPTY, "k = 0");
  CHECK(convolve_power(neg, 2, CONVOLVE_MAX_SUPPORT, out, work) == CONVOLVE_ERR_TOO_LARGE,
        "too large is refused before reading the input");
  for (int s = CONVOLVE_OK; s <= CONVOLVE_ERR_TOO_LARGE; s++)
    CHECK(strlen(convolve_status_message((convolve_status)s)) > 1, "message %d", s);

  /* exact tiny case: two fair coins, three times */
  const double coin[2] = {1, 1};
  CHECK(convolve_power(coin, 2, 3, out, work) == CONVOLVE_OK, "coin");
  const double want[4] = {0.125, 0.375, 0.375, 0.125};
  for (int i = 0; i < 4; i++)
    CHECK(fabs(out[i] - want[i]) < 1e-16, "coin %d: %.17g", i, out[i]);
}

CTEST(test_convolve_lattice_pmf) {
  const double pos[5] = {0, 3, 3, 1, 0};
  const double w[5] = {1, 2, 0.5, 0.25, 4};
  double p[4];
  CHECK(convolve_lattice_pmf(pos, w, 5, 4, p) == 0, "accepted");
  CHECK(p[0] == 5 && p[1] == 0.25 && p[2] == 0 && p[3] == 2.5, "sums %g %g %g %g", p[0], p[1],
        p[2], p[3]);
  const double off[1] = {1.5}, out_of_range[1] = {4}, negative[1] = {-1}, nan_pos[1] = {NAN};
  CHECK(convolve_lattice_pmf(off, w, 1, 4, p) == -1, "1.5 refused");
  CHECK(convolve_lattice_pmf(out_of_range, w, 1, 4, p) == -1, "4 refused");
  CHECK(convolve_lattice_pmf(negative, w, 1, 4, p) == -1, "-1 refused");
  CHECK(convolve_lattice_pmf(nan_pos, w, 1, 4, p) == -1, "NaN refused");
}

/* Two points: the sum is binomial, whose probabilities lgamma gives
 * independently of any convolution, at sizes far past the direct one. */
CTEST(test_convolve_binomial_at_large_sizes) {
  static const int64_t ns[] = {1000, 10000, 100000};
  static const double qs[] = {0.5, 0.01, 0.999, 0.3};
  double worst = 0.0;
  for (size_t a = 0; a < 3; a++) {
    for (size_t b = 0; b < 4; b++) {
      const int64_t n = ns[a];
      const double q = qs[b];
      const double w[2] = {1 - q, q};
      convolve_status st;
      double *got = fft_power(w, 2, n, &st);
      CHECK(got != NULL, "n = %lld, q = %g: status %d", (long long)n, q, (int)st);
      if (!got) continue;
      double err = 0.0;
      const long double lq = logl((long double)q), l1q = logl((long double)(1 - q));
      for (int64_t i = 0; i <= n; i++) {
        const long double lp = lgammal((long double)n + 1) - lgammal((long double)i + 1) -
                               lgammal((long double)(n - i) + 1) + i * lq + (n - i) * l1q;
        const double e = fabs(got[i] - (double)expl(lp));
        if (e > err) err = e;
      }
      CHECK(err <= 1e-12, "n = %lld, q = %g: largest error %.3g", (long long)n, q, err);
      if (err > worst) worst = err;
      free(got);
    }
  }
  printf(" (largest error %.2g)", worst);
}
