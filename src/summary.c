#include "summary.h"

#include <math.h>
#include <string.h>

static inline void swap_d(double *a, int64_t i, int64_t j) {
  const double t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/* Puts the k-th smallest of a[left..right] (inclusive, 0-based k) at a[k],
 * with nothing larger before it and nothing smaller after it. Floyd and
 * Rivest's SELECT (CACM 18(3), 1975, algorithm 489): on long ranges it first
 * selects recursively within a small sample-sized window around k, so that
 * the partition around a[k] that follows leaves few elements on k's side.
 * About n + min(k, n - k) comparisons, against about 3n for quickselect with
 * a median-of-three pivot: the percentile interval's tail quantiles cost
 * little more than one pass. */
static void select_range(double *a, int64_t left, int64_t right, int64_t k) {
  while (right > left) {
    if (right - left > 600) {
      const double n = (double)(right - left + 1);
      const double i = (double)(k - left + 1);
      const double z = log(n);
      const double s = 0.5 * exp(2.0 * z / 3.0);
      const double sd = 0.5 * sqrt(z * s * (n - s) / n) * (i < n / 2 ? -1.0 : 1.0);
      int64_t nl = (int64_t)((double)k - i * s / n + sd);
      int64_t nr = (int64_t)((double)k + (n - i) * s / n + sd);
      if (nl < left) nl = left;
      if (nr > right) nr = right;
      select_range(a, nl, nr, k);
    }
    /* Partition around t = a[k], with a[left] <= t <= a[right] as sentinels
     * for the inner scans. */
    const double t = a[k];
    int64_t i = left, j = right;
    swap_d(a, left, k);
    if (a[right] > t) swap_d(a, right, left);
    while (i < j) {
      swap_d(a, i, j);
      i++;
      j--;
      while (a[i] < t) i++;
      while (a[j] > t) j--;
    }
    if (a[left] == t) {
      swap_d(a, left, j);
    } else {
      j++;
      swap_d(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/* Smallest of a[from..n-1]. */
static double min_from(const double *a, int64_t from, int64_t n) {
  double m = a[from];
  for (int64_t i = from + 1; i < n; i++)
    if (a[i] < m) m = a[i];
  return m;
}

/* R's type-7 quantile of a[0..n-1]: h = (n - 1) p, interpolated between
 * the order statistics floor(h) and floor(h) + 1 (0-based). Only a[from..]
 * is searched: the caller guarantees floor(h) >= from and that nothing in
 * a[from..] is smaller than anything before it. After the selection nothing
 * past floor(h) is smaller than a[floor(h)], so the next order statistic is
 * the minimum of that tail. */
static double quantile7(double *a, int64_t from, int64_t n, double p) {
  const double h = (double)(n - 1) * p;
  const int64_t j = (int64_t)h;
  select_range(a, from, n - 1, j);
  const double lo = a[j];
  if (j + 1 >= n) return lo;
  const double hi = min_from(a, j + 1, n);
  return lo + (h - (double)j) * (hi - lo);
}

/* Mean (long double sums in four independent chains: an x87 add has a
 * latency of several cycles; one chain would wait on it) and standard
 * deviation (two-pass, NaN when n < 2) of v[0..n). */
static void moments(const double *v, int64_t n, double *mean_out, double *sd_out) {
  long double s[4] = {0.0L, 0.0L, 0.0L, 0.0L};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s[0] += v[i];
    s[1] += v[i + 1];
    s[2] += v[i + 2];
    s[3] += v[i + 3];
  }
  for (; i < n; i++) s[0] += v[i];
  const long double mean = ((s[0] + s[1]) + (s[2] + s[3])) / (long double)n;
  long double q0 = 0.0L, q1 = 0.0L, q2 = 0.0L, q3 = 0.0L;
  for (i = 0; i + 4 <= n; i += 4) {
    const long double d0 = (long double)v[i] - mean, d1 = (long double)v[i + 1] - mean;
    const long double d2 = (long double)v[i + 2] - mean, d3 = (long double)v[i + 3] - mean;
    q0 += d0 * d0;
    q1 += d1 * d1;
    q2 += d2 * d2;
    q3 += d3 * d3;
  }
  for (; i < n; i++) {
    const long double d = (long double)v[i] - mean;
    q0 += d * d;
  }
  const long double sum_sq = (q0 + q1) + (q2 + q3);
  *mean_out = (double)mean;
  *sd_out = n > 1 ? (double)sqrtl(sum_sq / (long double)(n - 1)) : NAN;
}

void summary_means(const double *x, int64_t n, int64_t n_groups, double lo, double hi,
                   double *scratch, double *out) {
  const double p1 = lo < hi ? lo : hi, p2 = lo < hi ? hi : lo;
  for (int64_t g = 0; g < n_groups; g++) {
    const double *v = x + g * n;
    moments(v, n, &out[4 * g], &out[4 * g + 1]);
    /* scratch may be x itself (one group at a time): the caller then
     * lets the selection reorder its means. */
    if (scratch != v) memcpy(scratch, v, (size_t)n * sizeof(double));
    /* The smaller probability's order statistic is selected first; the
     * larger one's is then searched only above it. */
    const double v1 = quantile7(scratch, 0, n, p1);
    const int64_t j1 = (int64_t)((double)(n - 1) * p1);
    const int64_t j2 = (int64_t)((double)(n - 1) * p2);
    const double v2 = quantile7(scratch, j2 > j1 ? j1 + 1 : j1, n, p2);
    out[4 * g + 2] = lo <= hi ? v1 : v2;
    out[4 * g + 3] = lo <= hi ? v2 : v1;
  }
}

/* Doubles as unsigned keys in the same order (-0 before +0). */
static inline uint64_t order_key(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return (u >> 63) ? ~u : (u | UINT64_C(0x8000000000000000));
}

static inline double key_double(uint64_t k) {
  const uint64_t u = (k >> 63) ? (k & ~UINT64_C(0x8000000000000000)) : ~k;
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

/* The k-th smallest (0-based) of x[0..n) without moving anything: four
 * passes, each fixing 16 more bits of its key by counting (hist: 65536
 * counters). */
/* hist[d] = how many keys of x under prefix (the bits in mask) have the
 * 16-bit digit d at shift. */
static void digit_counts(const double *x, int64_t n, uint64_t prefix, uint64_t mask, int shift,
                         uint64_t *hist) {
  memset(hist, 0, 65536 * sizeof(uint64_t));
  for (int64_t i = 0; i < n; i++) {
    const uint64_t key = order_key(x[i]);
    if ((key & mask) == prefix) hist[(key >> shift) & 0xffff]++;
  }
}

static double order_stat(const double *x, int64_t n, int64_t k, uint64_t *hist) {
  uint64_t prefix = 0, mask = 0;
  int64_t rank = k;
  for (int shift = 48; shift >= 0; shift -= 16) {
    digit_counts(x, n, prefix, mask, shift, hist);
    uint64_t b = 0;
    while ((int64_t)hist[b] <= rank) rank -= (int64_t)hist[b++];
    prefix |= b << shift;
    mask |= UINT64_C(0xffff) << shift;
  }
  return key_double(prefix);
}

/* The k-th and (k + 1)-th smallest (0-based, k + 1 < n) of x[0..n) in the
 * passes of one: while the two share a bucket, each histogram serves both.
 * Where the k-th is the last of its bucket, the (k + 1)-th is the smallest
 * key of the next non-empty one: read off the histogram at the last digit,
 * else found by one pass for the minimum under its prefix. */
static void order_stat_pair(const double *x, int64_t n, int64_t k, uint64_t *hist, double *vk,
                            double *vk1) {
  uint64_t prefix = 0, mask = 0, prefix1 = 0, mask1 = 0;
  int64_t rank = k;
  int apart = 0; /* the (k + 1)-th left the k-th's bucket */
  for (int shift = 48; shift >= 0; shift -= 16) {
    digit_counts(x, n, prefix, mask, shift, hist);
    uint64_t b = 0;
    while ((int64_t)hist[b] <= rank) rank -= (int64_t)hist[b++];
    if (!apart && rank + 1 == (int64_t)hist[b]) {
      /* the (k + 1)-th shares the prefix so far, so a later bucket holds it */
      uint64_t b1 = b + 1;
      while (hist[b1] == 0) b1++;
      apart = 1;
      prefix1 = prefix | (b1 << shift);
      mask1 = mask | (UINT64_C(0xffff) << shift);
    }
    prefix |= b << shift;
    mask |= UINT64_C(0xffff) << shift;
  }
  *vk = key_double(prefix);
  if (!apart) { /* the same key */
    *vk1 = *vk;
    return;
  }
  if (mask1 == UINT64_MAX) { /* apart at the last digit: the whole key */
    *vk1 = key_double(prefix1);
    return;
  }
  uint64_t least = UINT64_MAX;
  for (int64_t i = 0; i < n; i++) {
    const uint64_t key = order_key(x[i]);
    if ((key & mask1) == prefix1 && key < least) least = key;
  }
  *vk1 = key_double(least);
}

static double quantile7_const(const double *x, int64_t n, double p, uint64_t *hist) {
  const double h = (double)(n - 1) * p;
  const int64_t j = (int64_t)h;
  if (j + 1 >= n) return order_stat(x, n, j, hist);
  double lo, hi;
  order_stat_pair(x, n, j, hist, &lo, &hi);
  return lo + (h - (double)j) * (hi - lo);
}

void summary_means_const(const double *x, int64_t n, double lo, double hi, uint64_t *hist,
                         double *out) {
  moments(x, n, &out[0], &out[1]);
  out[2] = quantile7_const(x, n, lo, hist);
  out[3] = quantile7_const(x, n, hi, hist);
}

/* R's NA is a NaN whose low word is 1954 (what R_IsNA tests). */
int summary_is_na(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof(u));
  return isnan(x) && (u & UINT64_C(0xffffffff)) == 1954;
}

int summary_group_sums(const double *x, const int *id, int64_t len, int64_t n_groups,
                       long double *acc, unsigned char *na, double na_value, double nan_value,
                       double *out) {
  for (int64_t j = 0; j < n_groups; j++) {
    acc[j] = 0;
    na[j] = 0;
  }
  for (int64_t i = 0; i < len; i++) {
    if (id[i] < 1 || id[i] > n_groups) return -1;
    const int64_t j = id[i] - 1;
    if (isnan(x[i])) {
      if (summary_is_na(x[i]))
        na[j] = 2;
      else if (!na[j])
        na[j] = 1;
    } else {
      acc[j] += x[i];
    }
  }
  for (int64_t j = 0; j < n_groups; j++)
    out[j] = na[j] == 2 ? na_value : na[j] == 1 ? nan_value : (double)acc[j];
  return 0;
}
