/*
 * libFuzzer harness for alias + kernel (`make fuzz`).
 *
 * Bytes become a category count k, k weights (special doubles included:
 * zeros of both signs, subnormals, DBL_MAX, NaN, infinities, negatives, raw
 * bit patterns), k finite values, a sample size, a replicate count and a
 * seed. Then:
 *  - alias_build returns the status a plain scan of the weights predicts;
 *  - when it succeeds, the implied probabilities match w / sum(w) within
 *    1e-9 of the largest probability, zero weights get exactly zero, and
 *    draws (random words and column edges) stay in range, off zero weights;
 *  - the kernel, with the pair table when src/api.c would build one and
 *    without it, gives finite means within [min, max] of the drawable values
 *    (for sample_size 1, the bits of its general loop), and raw draws in
 *    1..k on positive weights.
 * A failed check prints the case and aborts, which libFuzzer records as a
 * crash. The same function is linked into tests/ctest, which replays every
 * file in tests/ctest/fuzz-regressions/.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alias.h"
#include "../../src/kernel.h"
#include "../../src/rng.h"
#include "../ctest/kgroup.h"

#define FUZZ_CHECK(cond, ...)                                             \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "fuzz_alias: check failed at line %d: ", __LINE__); \
      fprintf(stderr, __VA_ARGS__);                                       \
      fprintf(stderr, "\n");                                              \
      abort();                                                            \
    }                                                                     \
  } while (0)

typedef struct {
  const uint8_t *p;
  size_t left;
} reader;

/* Past the end every byte reads as 0, so short inputs still describe a
 * whole case (code 0 is an ordinary weight and value). */
static uint8_t take(reader *r) {
  if (r->left == 0) return 0;
  r->left--;
  return *r->p++;
}

static uint64_t take_u64(reader *r) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | take(r);
  return v;
}

static double take_raw_double(reader *r) {
  const uint64_t bits = take_u64(r);
  double d;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

static double weight_from(reader *r) {
  const uint8_t c = take(r);
  const int hi = c >> 4;
  switch (c & 15) {
  case 0: return 1.0;
  case 1: return 0.0;
  case 2: return -0.0;
  case 3: return (double)hi;
  case 4: return 4.9406564584124654e-324;
  case 5: return DBL_MIN;
  case 6: return DBL_MAX;
  case 7: return 1e308;
  case 8: return 1e300;
  case 9: return 1e-300;
  case 10: return NAN;
  case 11: return INFINITY;
  case 12: return -INFINITY;
  case 13: return -(double)hi - 1.0;
  case 14: return take_raw_double(r);
  default: return ldexp(1.0 + hi / 16.0, (int)take(r) * 8 - 1074 + 16);
  }
}

static double value_from(reader *r) {
  const uint8_t c = take(r);
  const int hi = c >> 4;
  switch (c & 7) {
  case 0: return (double)hi;
  case 1: return (double)hi - 8.0;
  case 2: return hi & 1 ? -DBL_MAX : DBL_MAX;
  case 3: return hi & 1 ? -1e308 : 1e308;
  case 4: return hi & 1 ? -4.9406564584124654e-324 : 1e-310;
  case 5: {
    const double d = take_raw_double(r);
    return isfinite(d) ? d : 0.0;
  }
  case 6: return (double)(int8_t)take(r) / 4.0;
  default: return ldexp((double)hi - 8.0, (int)take(r) * 8 - 1074);
  }
}

/* The status alias_build must give: k first, then the first bad weight in
 * order (non-finite before negative within one weight), then all zero. */
static alias_status expected_status(const double *w, int64_t k) {
  if (k < 1 || k > ALIAS_MAX_K) return ALIAS_ERR_EMPTY;
  int any = 0;
  for (int64_t i = 0; i < k; i++) {
    if (!isfinite(w[i])) return ALIAS_ERR_NONFINITE;
    if (w[i] < 0) return ALIAS_ERR_NEGATIVE;
    any |= w[i] > 0;
  }
  return any ? ALIAS_OK : ALIAS_ERR_ALL_ZERO;
}

static void describe(const double *w, const double *x, int64_t k, int64_t ss,
                     int64_t n_means) {
  fprintf(stderr, "case: k = %lld, sample_size = %lld, n_means = %lld\n", (long long)k,
          (long long)ss, (long long)n_means);
  for (int64_t i = 0; i < k && i < 70; i++)
    fprintf(stderr, "  w[%lld] = %a (%.17g), x = %.17g\n", (long long)i, w[i], w[i], x[i]);
}

static void check_table(const alias_table *t, const double *w, uint64_t seed) {
  const int64_t k = t->k;
  double *implied = malloc((size_t)k * sizeof(double));
  FUZZ_CHECK(implied != NULL, "malloc");
  alias_implied_probs(t, implied);
  long double total = 0;
  for (int64_t i = 0; i < k; i++) total += w[i];
  double pmax = 0;
  for (int64_t i = 0; i < k; i++) {
    const double p = (double)(w[i] / total);
    if (p > pmax) pmax = p;
  }
  for (int64_t i = 0; i < k; i++) {
    const double p = (double)(w[i] / total);
    FUZZ_CHECK(fabs(implied[i] - p) <= 1e-9 * pmax,
               "implied probability %lld is %.17g, want %.17g", (long long)i, implied[i], p);
    if (w[i] == 0)
      FUZZ_CHECK(implied[i] == 0, "zero weight %lld has probability %g", (long long)i,
                 implied[i]);
    FUZZ_CHECK(t->alias[i] >= 0 && t->alias[i] < k, "alias %lld is %d", (long long)i,
               (int)t->alias[i]);
  }
  free(implied);

  rng_state st = rng_stream(seed, 1, 2);
  for (int i = 0; i < 256 + 2 * (int)(k < 64 ? k : 64); i++) {
    uint64_t r;
    if (i < 256) {
      r = rng_next(&st);
    } else { /* first and last word of a column */
      const int64_t c = (i - 256) / 2;
      const unsigned __int128 two64 = (unsigned __int128)1 << 64;
      const unsigned __int128 lo =
          ((unsigned __int128)c * two64 + (uint64_t)k - 1) / (uint64_t)k;
      const unsigned __int128 hi =
          (((unsigned __int128)(c + 1) * two64 + (uint64_t)k - 1) / (uint64_t)k) - 1;
      r = (uint64_t)((i - 256) % 2 ? hi : lo);
    }
    const int64_t d = alias_draw(t, r);
    FUZZ_CHECK(d >= 0 && d < k, "draw %lld out of range", (long long)d);
    FUZZ_CHECK(w[d] > 0, "drew category %lld with weight %g", (long long)d, w[d]);
  }
}

static void check_kernel(const double *x, const double *w, int64_t k, int64_t ss,
                         int64_t n_means, uint64_t seed, int pairs) {
  kgroup g;
  const int rc = kgroup_build(&g, x, w, k, pairs);
  FUZZ_CHECK(rc == 0, "kgroup_build failed (%d, %s)", rc, alias_status_message(g.status));
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > 0) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
  double *out = malloc((size_t)n_means * sizeof(double));
  FUZZ_CHECK(out != NULL, "malloc");
  kernel_means_job job = {1, &g.grp, n_means, ss, seed, out, NULL}; /* ss <= 16: no parts */
  const int64_t nb = kernel_means_n_blocks(&job);
  /* Last block first: any order gives the same result. */
  for (int64_t b = nb - 1; b >= 0; b--) kernel_means_block(&job, b);
  for (int64_t i = 0; i < n_means; i++) {
    if (!(isfinite(out[i]) && out[i] >= lo && out[i] <= hi)) {
      describe(w, x, k, ss, n_means);
      FUZZ_CHECK(0, "%s path: mean %lld is %.17g, outside [%.17g, %.17g]",
                 g.grp.k2 ? "pair" : "single", (long long)i, out[i], lo, hi);
    }
  }
  if (ss == 1) { /* the loop of its own for one draw: the general loop's bits */
    double *gen = malloc((size_t)n_means * sizeof(double));
    FUZZ_CHECK(gen != NULL, "malloc");
    job.out = gen;
    for (int64_t b = 0; b < nb; b++) kernel_means_block_generic(&job, b);
    if (memcmp(out, gen, (size_t)n_means * sizeof(double)) != 0) {
      describe(w, x, k, ss, n_means);
      FUZZ_CHECK(0, "%s path: sample_size 1 differs from the general loop",
                 g.grp.k2 ? "pair" : "single");
    }
    job.out = out;
    free(gen);
  }
  free(out);

  int32_t *draws = malloc((size_t)n_means * sizeof(int32_t));
  FUZZ_CHECK(draws != NULL, "malloc");
  kernel_draws_job dj = {&g.t1, n_means, seed, draws};
  for (int64_t b = 0; b < kernel_draws_n_blocks(&dj); b++) kernel_draws_block(&dj, b);
  for (int64_t i = 0; i < n_means; i++)
    FUZZ_CHECK(draws[i] >= 1 && draws[i] <= k && w[draws[i] - 1] > 0, "raw draw %d",
               (int)draws[i]);
  free(draws);
  kgroup_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size};
  const uint8_t h = take(&r);
  int64_t k;
  switch (h >> 6) {
  case 0: k = 1 + (h & 7); break;   /* 1..8 */
  case 1: k = 1 + (h & 63); break;  /* 1..64: pairs */
  case 2: k = 60 + (h & 15); break; /* around the pair limit */
  default: k = (h == 0xff) ? -(int64_t)take(&r) : 65 + (take(&r) | (take(&r) << 8)) % 3000;
  }
  const int64_t n = k > 0 ? k : 1;
  double *w = malloc((size_t)n * sizeof(double));
  double *x = malloc((size_t)n * sizeof(double));
  FUZZ_CHECK(w && x, "malloc");
  for (int64_t i = 0; i < n; i++) w[i] = weight_from(&r);
  for (int64_t i = 0; i < n; i++) x[i] = value_from(&r);
  const uint8_t shape = take(&r);
  const int64_t ss = 1 + (shape & 15);
  int64_t n_means = 1 + (take(&r) & 63);
  if (shape & 0x80) n_means += KERNEL_BLOCK_MEANS; /* a second, partial block */
  const uint64_t seed = take_u64(&r);

  void *mem = malloc(alias_table_bytes(n));
  int32_t *work = malloc((size_t)n * sizeof(int32_t));
  FUZZ_CHECK(mem && work, "malloc");
  alias_table t;
  alias_init(&t, n, mem);
  t.k = k;
  const alias_status got = alias_build(&t, w, work);
  const alias_status want = expected_status(w, k);
  if (got != want) describe(w, x, n, ss, n_means);
  FUZZ_CHECK(got == want, "alias_build gave status %d (%s), want %d (%s)", (int)got,
             alias_status_message(got), (int)want, alias_status_message(want));
  if (got == ALIAS_OK) {
    check_table(&t, w, seed);
    check_kernel(x, w, k, ss, n_means, seed, KGROUP_AS_API);
    if (kernel_pair_eligible(k, w)) check_kernel(x, w, k, ss, n_means, seed, KGROUP_NO_PAIRS);
  }
  free(mem);
  free(work);
  free(w);
  free(x);
  return 0;
}
