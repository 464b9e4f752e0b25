#include "kernel.h"

#include <math.h>
#include <string.h>

#include "rng.h"

/* Raw draws use group ids past any means group, so the two kinds of work
 * never share a stream for the same seed. */
#define KERNEL_DRAWS_GROUP UINT64_C(0xffffffff00000000)
/* Long-layout streams use group ids from here on, apart from both. Block key
 * (replicate * parts + part) * 2 + lane: unique while n_means * parts <
 * 2^63, i.e. for any job that could ever finish. */
#define KERNEL_LONG_GROUP UINT64_C(0x8000000000000000)

void kernel_cells_fill(const alias_table *t, const double *x, kernel_cell *cells) {
  for (int64_t i = 0; i < t->k; i++) {
    cells[i].threshold = t->threshold[i];
    cells[i].value[0] = x[i];
    cells[i].value[1] = x[t->alias[i]];
  }
}

int kernel_pair_eligible(int64_t k, const double *w) {
  if (k < 2 || k > KERNEL_PAIR_MAX_K) return 0;
  double wmax = 0.0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > wmax) wmax = w[i];
  if (!(wmax > 0.0)) return 0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > 0.0 && w[i] / wmax < 1e-150) return 0;
  return 1;
}

void kernel_pair_fill(int64_t k, const double *w, const double *x,
                      double *w2, double *x2) {
  double wmax = 0.0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > wmax) wmax = w[i];
  for (int64_t i = 0; i < k; i++) {
    const double wi = w[i] / wmax;
    for (int64_t j = 0; j < k; j++) {
      w2[i * k + j] = wi * (w[j] / wmax);
      /* Half the pair sum: near DBL_MAX the sum overflows, its half does
       * not. kernel_means_block doubles it back in long double. Halving is
       * exact, so results keep their bits, except for sums under 2^-1021,
       * which may lose 2^-1075. */
      const double s = x[i] + x[j];
      x2[i * k + j] = isfinite(s) ? 0.5 * s : 0.5 * x[i] + 0.5 * x[j];
    }
  }
}

static inline double cell_draw(uint64_t k, const kernel_cell *cells, uint64_t r) {
#if defined(__SIZEOF_INT128__)
  const unsigned __int128 m = (unsigned __int128)r * k;
  const kernel_cell *c = &cells[(uint64_t)(m >> 64)];
  const uint64_t frac = (uint64_t)m;
#else
  const kernel_cell *c = &cells[alias_column(r, k)];
  const uint64_t frac = alias_fraction(r, k);
#endif
  return c->value[frac >= c->threshold];
}

static int64_t blocks_per_group(const kernel_means_job *job) {
  return (job->n_means + KERNEL_BLOCK_MEANS - 1) / KERNEL_BLOCK_MEANS;
}

int64_t kernel_means_parts(int64_t sample_size) {
  if (sample_size <= KERNEL_LONG_MIN) return 0;
  return (sample_size + KERNEL_PART_DRAWS - 1) / KERNEL_PART_DRAWS;
}

int64_t kernel_means_n_blocks(const kernel_means_job *job) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  if (parts) return job->n_groups * job->n_means * parts;
  return job->n_groups * blocks_per_group(job);
}

int64_t kernel_means_n_units(const kernel_means_job *job) {
  if (kernel_means_parts(job->sample_size)) return job->n_groups * job->n_means;
  return kernel_means_n_blocks(job);
}

int64_t kernel_means_blocks_per_unit(const kernel_means_job *job) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  return parts ? parts : 1;
}

void kernel_means_unit_span(const kernel_means_job *job, int64_t unit, int64_t *first,
                            int64_t *n) {
  if (kernel_means_parts(job->sample_size)) {
    *first = unit;
    *n = 1;
    return;
  }
  const int64_t bpg = blocks_per_group(job);
  const int64_t g = unit / bpg, j = unit % bpg;
  const int64_t from = j * KERNEL_BLOCK_MEANS;
  int64_t to = from + KERNEL_BLOCK_MEANS;
  if (to > job->n_means) to = job->n_means;
  *first = g * job->n_means + from;
  *n = to - from;
}

/* One part of one long replicate: its draws [p * D, min(ss, (p + 1) * D))
 * in two interleaved lanes (two streams, as in the classic layout, so that
 * the generators' dependency chains overlap). The sum of the part's values
 * (pair cells hold half sums: doubled here). */
static long double long_part_sum(const kernel_means_job *job, int64_t block) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  const int64_t r = block / parts, p = block % parts;
  const int64_t g = r / job->n_means;
  const kernel_group *grp = &job->groups[g];
  const int64_t ss = job->sample_size;
  const int64_t d0 = p * KERNEL_PART_DRAWS;
  const int64_t nd = (d0 + KERNEL_PART_DRAWS < ss ? KERNEL_PART_DRAWS : ss - d0);
  const uint64_t key = ((uint64_t)r * (uint64_t)parts + (uint64_t)p) * 2;
  rng_state a = rng_stream(job->seed, KERNEL_LONG_GROUP + (uint64_t)g, key);
  rng_state b = rng_stream(job->seed, KERNEL_LONG_GROUP + (uint64_t)g, key + 1);
  const uint64_t k1 = (uint64_t)grp->k;
  const kernel_cell *c1 = grp->cells;
  /* KERNEL_PART_DRAWS is even: only the last part can have an odd count. */
  const int paired = grp->k2 > 0;
  const uint64_t kk = paired ? (uint64_t)grp->k2 : k1;
  const kernel_cell *cc = paired ? grp->cells2 : c1;
  const int64_t steps = paired ? nd / 2 : nd;
  const int tail = paired && (nd % 2);
  long double sa = 0.0L, sb = 0.0L;
  int64_t d = 0;
  for (; d + 1 < steps; d += 2) {
    sa += cell_draw(kk, cc, rng_next(&a));
    sb += cell_draw(kk, cc, rng_next(&b));
  }
  if (d < steps) sa += cell_draw(kk, cc, rng_next(&a));
  long double s = sa + sb;
  if (paired) s *= 2.0L;
  if (tail) s += cell_draw(k1, c1, rng_next(&b));
  return s;
}

void kernel_means_reduce(const kernel_means_job *job, int64_t from, int64_t to, double *out) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  const long double inv_ss = 1.0L / (long double)job->sample_size;
  for (int64_t u = from; u < to; u++) {
    const long double *ps = job->partials + u * parts;
    long double s = 0.0L;
    for (int64_t p = 0; p < parts; p++) s += ps[p];
    out[u - from] = (double)(s * inv_ss);
  }
}

/* Replicates go in twos, each of the two with its own stream (lane), so that
 * the two generators' dependency chains overlap in the CPU. A block with an
 * odd count ends with one replicate on lane a. */
void kernel_means_block(const kernel_means_job *job, int64_t block) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  if (parts == 1) { /* one part: the replicate's mean at once */
    job->out[block] = (double)(long_part_sum(job, block) * (1.0L / (long double)job->sample_size));
    return;
  }
  if (parts > 1) {
    job->partials[block] = long_part_sum(job, block);
    return;
  }
  const int64_t bpg = blocks_per_group(job);
  const int64_t g = block / bpg, j = block % bpg;
  const int64_t from = j * KERNEL_BLOCK_MEANS;
  int64_t to = from + KERNEL_BLOCK_MEANS;
  if (to > job->n_means) to = job->n_means;

  const kernel_group *grp = &job->groups[g];
  const int64_t ss = job->sample_size;
  const long double inv_ss = 1.0L / (long double)ss;
  double *out = job->out + g * job->n_means;
  rng_state a = rng_stream(job->seed, (uint64_t)g, 2 * (uint64_t)j);
  rng_state b = rng_stream(job->seed, (uint64_t)g, 2 * (uint64_t)j + 1);

  const uint64_t k1 = (uint64_t)grp->k;
  const kernel_cell *c1 = grp->cells;
  /* With pairs, each step draws two values from the pair table; an odd
   * sample size ends with one single draw. */
  const int paired = grp->k2 > 0;
  const uint64_t kk = paired ? (uint64_t)grp->k2 : k1;
  const kernel_cell *cc = paired ? grp->cells2 : c1;
  const int64_t steps = paired ? ss / 2 : ss;
  const int tail = paired && (ss % 2);

  int64_t i = from;
  for (; i + 1 < to; i += 2) {
    long double sa = 0.0L, sb = 0.0L;
    for (int64_t d = 0; d < steps; d++) {
      sa += cell_draw(kk, cc, rng_next(&a));
      sb += cell_draw(kk, cc, rng_next(&b));
    }
    if (paired) { /* pair cells hold half sums */
      sa *= 2.0L;
      sb *= 2.0L;
    }
    if (tail) {
      sa += cell_draw(k1, c1, rng_next(&a));
      sb += cell_draw(k1, c1, rng_next(&b));
    }
    out[i] = (double)(sa * inv_ss);
    out[i + 1] = (double)(sb * inv_ss);
  }
  if (i < to) {
    long double sa = 0.0L;
    for (int64_t d = 0; d < steps; d++) sa += cell_draw(kk, cc, rng_next(&a));
    if (paired) sa *= 2.0L;
    if (tail) sa += cell_draw(k1, c1, rng_next(&a));
    out[i] = (double)(sa * inv_ss);
  }
}

int64_t kernel_draws_n_blocks(const kernel_draws_job *job) {
  return (job->size + KERNEL_BLOCK_DRAWS - 1) / KERNEL_BLOCK_DRAWS;
}

void kernel_draws_block(const kernel_draws_job *job, int64_t block) {
  const int64_t from = block * KERNEL_BLOCK_DRAWS;
  int64_t to = from + KERNEL_BLOCK_DRAWS;
  if (to > job->size) to = job->size;
  const alias_table *t = job->table;
  const uint64_t k = (uint64_t)t->k;
  const uint64_t *thr = t->threshold;
  const int32_t *ali = t->alias;
  int32_t *out = job->out;
  rng_state st = rng_stream(job->seed, KERNEL_DRAWS_GROUP, (uint64_t)block);
  for (int64_t i = from; i < to; i++)
    out[i] = (int32_t)(alias_draw_raw(k, thr, ali, rng_next(&st)) + 1);
}

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

void kernel_summary(const double *x, int64_t n, int64_t n_groups, double lo, double hi,
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
static double order_stat(const double *x, int64_t n, int64_t k, uint64_t *hist) {
  uint64_t prefix = 0, mask = 0;
  int64_t rank = k;
  for (int shift = 48; shift >= 0; shift -= 16) {
    memset(hist, 0, 65536 * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++) {
      const uint64_t key = order_key(x[i]);
      if ((key & mask) == prefix) hist[(key >> shift) & 0xffff]++;
    }
    uint64_t b = 0;
    while ((int64_t)hist[b] <= rank) rank -= (int64_t)hist[b++];
    prefix |= b << shift;
    mask |= UINT64_C(0xffff) << shift;
  }
  return key_double(prefix);
}

static double quantile7_const(const double *x, int64_t n, double p, uint64_t *hist) {
  const double h = (double)(n - 1) * p;
  const int64_t j = (int64_t)h;
  const double lo = order_stat(x, n, j, hist);
  if (j + 1 >= n) return lo;
  const double hi = order_stat(x, n, j + 1, hist);
  return lo + (h - (double)j) * (hi - lo);
}

void kernel_summary_const(const double *x, int64_t n, double lo, double hi, uint64_t *hist,
                          double *out) {
  moments(x, n, &out[0], &out[1]);
  out[2] = quantile7_const(x, n, lo, hist);
  out[3] = quantile7_const(x, n, hi, hist);
}
