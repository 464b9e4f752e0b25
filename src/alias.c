#include "alias.h"

#include <math.h>

/* 2^64 as a long double; thresholds are probabilities scaled by it. */
#define TWO64 18446744073709551616.0L

size_t alias_table_bytes(int64_t k) {
  size_t thr = (size_t)k * sizeof(uint64_t);
  size_t ali = (size_t)k * sizeof(int32_t);
  ali = (ali + 7u) & ~(size_t)7u;
  return thr + ali;
}

void alias_init(alias_table *t, int64_t k, void *mem) {
  t->k = k;
  t->threshold = (uint64_t *)mem;
  t->alias = (int32_t *)((char *)mem + (size_t)k * sizeof(uint64_t));
}

static uint64_t to_threshold(long double p) {
  if (!(p > 0.0L)) return 0;
  if (p >= 1.0L) return UINT64_MAX;
  long double s = p * TWO64;
  if (s >= TWO64) return UINT64_MAX;
  return (uint64_t)s;
}

/* w_i / wmax * k / sum, the column's share of k: from q (w_i / wmax * k /
 * sum stored once) when there is a scratch array, else recomputed. The
 * operations and their order are the same either way, so are the bits. */
#define SHARE(i) (q ? q[i] : (long double)w[i] / wmax * scale)

alias_status alias_build(alias_table *t, const double *w, int32_t *work) {
  return alias_build_q(t, w, work, NULL);
}

alias_status alias_build_q(alias_table *t, const double *w, int32_t *work, long double *q) {
  const int64_t k = t->k;
  if (k < 1 || k > ALIAS_MAX_K) return ALIAS_ERR_EMPTY;

  double wmax = 0.0;
  int32_t imax = 0;
  for (int64_t i = 0; i < k; i++) {
    if (!isfinite(w[i])) return ALIAS_ERR_NONFINITE;
    if (w[i] < 0.0) return ALIAS_ERR_NEGATIVE;
    if (w[i] > wmax) {
      wmax = w[i];
      imax = (int32_t)i;
    }
  }
  if (!(wmax > 0.0)) return ALIAS_ERR_ALL_ZERO;

  /* Rescale by the maximum so the sum cannot overflow (it is at most k). */
  long double sum = 0.0L;
  if (q) {
    for (int64_t i = 0; i < k; i++) {
      q[i] = (long double)w[i] / wmax;
      sum += q[i];
    }
  } else {
    for (int64_t i = 0; i < k; i++) sum += (long double)w[i] / wmax;
  }

  /* p_i = w_i / wmax * k / sum is recomputed when needed rather than
   * stored. Vose's two worklists share one array: small from the front,
   * large from the back; together they never hold more than k items. */
  const long double scale = (long double)k / sum;
  int64_t n_small = 0, n_large = 0;
  for (int64_t i = 0; i < k; i++) {
    long double p = q ? q[i] * scale : (long double)w[i] / wmax * scale;
    if (q) q[i] = p;
    if (p < 1.0L)
      work[n_small++] = (int32_t)i;
    else
      work[k - 1 - n_large++] = (int32_t)i;
    t->alias[i] = (int32_t)i;
  }

  /* The large item's residual changes as it donates; track it exactly in
   * long double while it is the current donor. */
  int64_t s_top = n_small, l_top = n_large;
  long double large_p = 0.0L;
  int32_t large = -1;
  while (s_top > 0 && (l_top > 0 || large >= 0)) {
    if (large < 0) {
      large = work[k - l_top];
      l_top--;
      large_p = SHARE(large);
    }
    int32_t small = work[--s_top];
    long double small_p = SHARE(small);
    /* A former donor that fell below one has its residual in threshold. */
    if (t->alias[small] == -2) {
      small_p = (long double)t->threshold[small] / TWO64;
    }
    t->threshold[small] = to_threshold(small_p);
    t->alias[small] = large;
    large_p = (large_p + small_p) - 1.0L;
    if (large_p < 1.0L) {
      /* The donor now needs a partner itself: push it on the small list with
       * its residual remembered. */
      t->threshold[large] = to_threshold(large_p);
      t->alias[large] = -2;
      work[s_top++] = large;
      large = -1;
    }
  }
  /* Leftovers are full columns up to rounding: keep themselves. */
  if (large >= 0) {
    t->threshold[large] = UINT64_MAX;
    t->alias[large] = large;
  }
  while (l_top > 0) {
    int32_t i = work[k - l_top];
    l_top--;
    t->threshold[i] = UINT64_MAX;
    t->alias[i] = i;
  }
  while (s_top > 0) {
    int32_t i = work[--s_top];
    /* Only rounding leaves a small item here; a zero weight must still
     * never be drawn, so its column hands everything to the largest. */
    if (w[i] > 0.0) {
      t->threshold[i] = UINT64_MAX;
      t->alias[i] = i;
    } else {
      t->threshold[i] = 0;
      t->alias[i] = imax;
    }
  }
  return ALIAS_OK;
}

void alias_implied_probs(const alias_table *t, double *out) {
  const int64_t k = t->k;
  for (int64_t i = 0; i < k; i++) out[i] = 0.0;
  for (int64_t i = 0; i < k; i++) {
    long double keep = (long double)t->threshold[i] / TWO64;
    out[i] += (double)(keep / k);
    out[t->alias[i]] += (double)((1.0L - keep) / k);
  }
}

const char *alias_status_message(alias_status s) {
  switch (s) {
  case ALIAS_OK: return "ok";
  case ALIAS_ERR_EMPTY: return "there must be at least one category";
  case ALIAS_ERR_NONFINITE: return "weights must be finite (no NA, NaN or Inf)";
  case ALIAS_ERR_NEGATIVE: return "weights must be non-negative";
  case ALIAS_ERR_ALL_ZERO: return "at least one weight must be positive";
  }
  return "unknown alias status";
}
