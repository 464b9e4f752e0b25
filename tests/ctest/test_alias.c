/* alias: implied probabilities against the normalized weights, draw
 * frequencies, edge weights and error statuses. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alias.h"
#include "../../src/rng.h"
#include "check.h"

/* A built table with its own storage. */
typedef struct {
  alias_table t;
  void *mem;
  int32_t *work;
  alias_status status;
} built;

static int build(built *b, const double *w, int64_t k) {
  memset(b, 0, sizeof(*b));
  b->mem = malloc(alias_table_bytes(k > 0 ? k : 1));
  b->work = malloc((size_t)(k > 0 ? k : 1) * sizeof(int32_t));
  if (!b->mem || !b->work) return 0;
  alias_init(&b->t, k, b->mem);
  b->status = alias_build(&b->t, w, b->work);
  return 1;
}

static void unbuild(built *b) {
  free(b->mem);
  free(b->work);
  memset(b, 0, sizeof(*b));
}

/* The largest |implied - w_i / sum(w)|, with the sum in long double (its
 * range holds sums of any number of doubles), and whether every zero weight
 * got exactly zero. Returns -1 on allocation failure. */
static double max_prob_error(const alias_table *t, const double *w, int *zeros_exact,
                             double *sum_implied) {
  const int64_t k = t->k;
  double *implied = malloc((size_t)k * sizeof(double));
  if (!implied) return -1;
  alias_implied_probs(t, implied);
  long double total = 0.0L;
  for (int64_t i = 0; i < k; i++) total += w[i];
  double worst = 0.0;
  long double s = 0.0L;
  *zeros_exact = 1;
  for (int64_t i = 0; i < k; i++) {
    const double want = (double)((long double)w[i] / total);
    const double err = fabs(implied[i] - want);
    if (err > worst || isnan(err)) worst = isnan(err) ? INFINITY : err;
    if (w[i] == 0.0 && implied[i] != 0.0) *zeros_exact = 0;
    s += implied[i];
  }
  *sum_implied = (double)s;
  free(implied);
  return worst;
}

/* Columns and aliases in range; zero-weight categories never reachable:
 * their column always hands over, and no column hands over to them. */
static void check_structure(const alias_table *t, const double *w, const char *what) {
  int bad_alias = 0, zero_kept = 0, zero_target = 0;
  for (int64_t i = 0; i < t->k; i++) {
    const int32_t a = t->alias[i];
    if (a < 0 || a >= t->k) {
      bad_alias++;
      continue;
    }
    if (w[i] == 0.0 && t->threshold[i] != 0) zero_kept++;
    if (w[a] == 0.0) zero_target++;
  }
  CHECK(bad_alias == 0, "%s: %d aliases out of range", what, bad_alias);
  CHECK(zero_kept == 0, "%s: %d zero-weight columns keep themselves", what, zero_kept);
  CHECK(zero_target == 0, "%s: %d columns hand over to a zero weight", what, zero_target);
}

/* Draws at the edges of every column (the first and last 64-bit word that
 * selects it) and at 0 / UINT64_MAX stay in range and avoid zero weights. */
static void check_edge_draws(const alias_table *t, const double *w, const char *what) {
  const uint64_t k = (uint64_t)t->k;
  int bad = 0;
  const int64_t cols = t->k < 4096 ? t->k : 4096;
  for (int64_t c = 0; c < cols; c++) {
    const unsigned __int128 two64 = (unsigned __int128)1 << 64;
    const unsigned __int128 lo = ((unsigned __int128)c * two64 + k - 1) / k;
    const unsigned __int128 hi = (((unsigned __int128)(c + 1) * two64 + k - 1) / k) - 1;
    const uint64_t words[2] = {(uint64_t)lo, (uint64_t)hi};
    for (int j = 0; j < 2; j++) {
      CHECK(alias_column(words[j], k) == c, "%s: word %llu maps to column %lld, not %lld",
            what, (unsigned long long)words[j], (long long)alias_column(words[j], k),
            (long long)c);
      const int64_t d = alias_draw(t, words[j]);
      if (d < 0 || d >= t->k || w[d] == 0.0) bad++;
    }
  }
  const uint64_t ends[2] = {0, UINT64_MAX};
  for (int j = 0; j < 2; j++) {
    const int64_t d = alias_draw(t, ends[j]);
    if (d < 0 || d >= t->k || w[d] == 0.0) bad++;
  }
  CHECK(bad == 0, "%s: %d edge draws out of range or on a zero weight", what, bad);
}

/* Everything a good table promises, to 1e-12 absolute. */
static void check_table(const double *w, int64_t k, const char *what) {
  built b;
  if (!build(&b, w, k)) {
    CHECK(0, "%s: malloc", what);
    unbuild(&b);
    return;
  }
  CHECK(b.status == ALIAS_OK, "%s: status %d (%s)", what, (int)b.status,
        alias_status_message(b.status));
  if (b.status == ALIAS_OK) {
    int zeros_exact;
    double sum;
    const double err = max_prob_error(&b.t, w, &zeros_exact, &sum);
    CHECK(err >= 0 && err <= 1e-12, "%s (k = %lld): implied probabilities off by %g", what,
          (long long)k, err);
    CHECK(zeros_exact, "%s: a zero weight has a non-zero implied probability", what);
    CHECK(fabs(sum - 1.0) <= 1e-12, "%s: implied probabilities sum to 1 %+g", what, sum - 1.0);
    check_structure(&b.t, w, what);
    check_edge_draws(&b.t, w, what);
  }
  unbuild(&b);
}

/* Weight generators for random vectors. */
enum { W_UNIF, W_WIDE, W_ZEROS, W_INT, W_ONE_BIG, W_TINY_TAIL, W_KINDS };

static void fill_weights(double *w, int64_t k, int kind, uint64_t *s) {
  for (int64_t i = 0; i < k; i++) {
    const double u = tgen_unif(s);
    switch (kind) {
    case W_UNIF: w[i] = u; break;
    case W_WIDE: w[i] = pow(10.0, -30.0 + 60.0 * u); break;
    case W_ZEROS: w[i] = u < 0.3 ? 0.0 : tgen_unif(s) * 1e6; break;
    case W_INT: w[i] = floor(u * 5.0); break;
    case W_ONE_BIG: w[i] = 1.0 + u; break;
    case W_TINY_TAIL: w[i] = ldexp(1.0, -(int)(i % 60)); break;
    }
  }
  if (kind == W_ONE_BIG) w[tgen_next(s) % (uint64_t)k] = 1e6 * (double)k;
  /* A vector of zeros is an error case, tested elsewhere. */
  int any = 0;
  for (int64_t i = 0; i < k; i++) any |= w[i] > 0.0;
  if (!any) w[0] = 1.0;
}

CTEST(test_alias_random_weight_vectors) {
  const int64_t ks[] = {1, 2, 3, 4, 5, 7, 10, 31, 64, 65, 100, 257, 1000, 4099, 10007};
  double *w = malloc(10007 * sizeof(double));
  if (!w) {
    CHECK(0, "malloc");
    return;
  }
  uint64_t s = 20240601;
  char what[64];
  for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++)
    for (int kind = 0; kind < W_KINDS; kind++)
      for (int rep = 0; rep < 3; rep++) {
        fill_weights(w, ks[a], kind, &s);
        snprintf(what, sizeof(what), "kind %d rep %d", kind, rep);
        check_table(w, ks[a], what);
      }
  free(w);
}

/* alias_build_q (one division per weight) gives alias_build's table to the
 * bit, over every kind of weight vector and the sizes of pair tables. */
CTEST(test_alias_build_q_same_bits) {
  const int64_t ks[] = {1, 2, 3, 37, 64, 65, 1369, 1600, 4096, 10007};
  double *w = malloc(10007 * sizeof(double));
  long double *q = malloc(10007 * sizeof(long double));
  built a;
  if (!w || !q) {
    CHECK(0, "malloc");
    free(w);
    free(q);
    return;
  }
  uint64_t s = 77;
  for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
    for (int kind = 0; kind < W_KINDS; kind++) {
      fill_weights(w, ks[i], kind, &s);
      if (!build(&a, w, ks[i])) break;
      void *mem = malloc(alias_table_bytes(ks[i]));
      alias_table t;
      if (mem) {
        alias_init(&t, ks[i], mem);
        const alias_status st = alias_build_q(&t, w, a.work, q);
        CHECK(st == a.status, "k %lld kind %d: status %d, not %d", (long long)ks[i], kind,
              (int)st, (int)a.status);
        CHECK(memcmp(mem, a.mem, alias_table_bytes(ks[i])) == 0,
              "k %lld kind %d: the tables differ", (long long)ks[i], kind);
      }
      free(mem);
      unbuild(&a);
    }
  free(w);
  free(q);
}

CTEST(test_alias_zero_weights_never_drawn) {
  /* zeros first, last, alternating, and all but one */
  double w1[] = {0, 0, 1, 2, 0, 3, 0};
  double w2[] = {5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  double w3[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1e-300};
  double w4[] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  double w5[] = {-0.0, 2, -0.0}; /* negative zero is zero, not negative */
  check_table(w1, 7, "zeros mixed");
  check_table(w2, 10, "one positive first");
  check_table(w3, 10, "one tiny positive last");
  check_table(w4, 12, "alternating");
  check_table(w5, 3, "negative zeros");

  /* Random draws: the zero categories never appear. */
  built b;
  if (!build(&b, w1, 7)) {
    unbuild(&b);
    CHECK(0, "malloc");
    return;
  }
  rng_state st = rng_stream(1, 2, 3);
  int hits = 0;
  for (int i = 0; i < 1000000; i++) {
    const int64_t d = alias_draw(&b.t, rng_next(&st));
    hits += w1[d] == 0.0;
  }
  CHECK(hits == 0, "zero-weight categories drawn %d times", hits);
  unbuild(&b);
}

CTEST(test_alias_extreme_weights) {
  double w[1000];
  /* One huge weight among ones: the others keep 1e-300 each, well under
   * 1e-12 of absolute error. */
  for (int i = 0; i < 10; i++) w[i] = 1.0;
  w[3] = 1e300;
  check_table(w, 10, "1e300 among ones");
  for (int i = 0; i < 1000; i++) w[i] = 1.0;
  w[999] = 1e300;
  check_table(w, 1000, "1e300 among 999 ones");

  /* Sums that overflow a double. */
  for (int i = 0; i < 1000; i++) w[i] = 1e308;
  check_table(w, 1000, "1000 x 1e308");
  for (int i = 0; i < 1000; i++) w[i] = DBL_MAX;
  check_table(w, 1000, "1000 x DBL_MAX");
  for (int i = 0; i < 1000; i++) w[i] = (i % 3 == 0) ? 1e308 : (i % 3 == 1 ? 1.0 : 0.0);
  check_table(w, 1000, "1e308, 1 and 0");
  for (int i = 0; i < 1000; i++) w[i] = (i % 2) ? DBL_MAX : 0.5 * DBL_MAX;
  check_table(w, 1000, "DBL_MAX and half of it");

  /* Subnormal and tiny weights. */
  for (int i = 0; i < 100; i++) w[i] = 4.9406564584124654e-324;
  check_table(w, 100, "all the smallest subnormal");
  for (int i = 0; i < 100; i++) w[i] = (i % 2) ? 4.9406564584124654e-324 : 1e-320;
  check_table(w, 100, "subnormal mix");
  for (int i = 0; i < 100; i++) w[i] = (i % 2) ? DBL_MIN : DBL_MAX;
  check_table(w, 100, "DBL_MIN and DBL_MAX");
  for (int i = 0; i < 100; i++) w[i] = ldexp(1.0, -i * 10);
  check_table(w, 100, "geometric 2^-10i");

  /* Near-uniform weights: Vose's lists fill up with rounding leftovers. */
  for (int i = 0; i < 1000; i++) w[i] = 1.0 + (double)(i % 7 - 3) * DBL_EPSILON;
  check_table(w, 1000, "uniform up to rounding");
  /* One large donor feeding every other column in turn. */
  for (int i = 0; i < 1000; i++) w[i] = 1.0;
  w[0] = 999.0 * 0.999999;
  check_table(w, 1000, "one long donor chain");
  /* Donors that drop under one and become small, many times over. */
  for (int i = 0; i < 1000; i++) w[i] = (i % 10 == 0) ? 5.5 : 0.5;
  check_table(w, 1000, "alternating donors");
}

CTEST(test_alias_single_category) {
  const double w[] = {3.5};
  check_table(w, 1, "k = 1");
  built b;
  if (!build(&b, w, 1)) {
    unbuild(&b);
    return;
  }
  CHECK(alias_draw(&b.t, 0) == 0 && alias_draw(&b.t, UINT64_MAX) == 0, "k = 1 draws 0");
  double p;
  alias_implied_probs(&b.t, &p);
  CHECK(p == 1.0, "k = 1 implies %.17g", p);
  unbuild(&b);
}

static void large_k(int64_t k, uint64_t seed) {
  double *w = malloc((size_t)k * sizeof(double));
  if (!w) {
    CHECK(0, "malloc %lld weights", (long long)k);
    return;
  }
  uint64_t s = seed;
  for (int64_t i = 0; i < k; i++) {
    const double u = tgen_unif(&s);
    w[i] = u < 0.1 ? 0.0 : (u < 0.2 ? 1e3 * u : u);
  }
  char what[48];
  snprintf(what, sizeof(what), "k = %lld", (long long)k);
  check_table(w, k, what);
  free(w);
}

CTEST(test_alias_k_1e6) { large_k(1000000, 99); }

/* K = 10^7 runs when the machine is quick enough (it is skipped, with a
 * note, when K = 10^6 took more than half a second: the 10^7 run would then
 * take over 5 s). */
CTEST(test_alias_k_1e7) {
  const double t0 = ctest_now();
  large_k(1000000, 7);
  const double t1 = ctest_now();
  if (t1 - t0 > 0.5) {
    printf("    note: k = 1e6 took %.2f s; skipping k = 1e7\n", t1 - t0);
    return;
  }
  large_k(10000000, 11);
  printf("    note: k = 1e7 took %.2f s\n", ctest_now() - t1);
}

CTEST(test_alias_error_statuses) {
  const double nan = NAN, inf = INFINITY;
  struct {
    double w[4];
    int64_t k;
    alias_status want;
  } cases[] = {
      {{1, nan, 2, 3}, 4, ALIAS_ERR_NONFINITE},
      {{nan, 1, 1, 1}, 4, ALIAS_ERR_NONFINITE},
      {{1, 1, 1, inf}, 4, ALIAS_ERR_NONFINITE},
      {{1, -inf, 1, 1}, 4, ALIAS_ERR_NONFINITE},
      {{1, 2, -1, 3}, 4, ALIAS_ERR_NEGATIVE},
      {{-1e-300, 0, 0, 0}, 4, ALIAS_ERR_NEGATIVE},
      {{-4.9406564584124654e-324, 1, 1, 1}, 4, ALIAS_ERR_NEGATIVE},
      {{0, 0, 0, 0}, 4, ALIAS_ERR_ALL_ZERO},
      {{-0.0, 0, -0.0, 0}, 4, ALIAS_ERR_ALL_ZERO},
      {{0, 0, 0, 0}, 1, ALIAS_ERR_ALL_ZERO},
      {{1, 1, 1, 1}, 0, ALIAS_ERR_EMPTY},
      {{1, 1, 1, 1}, -1, ALIAS_ERR_EMPTY},
      {{1, 1, 1, 1}, (int64_t)ALIAS_MAX_K + 1, ALIAS_ERR_EMPTY},
      {{1, 1, 1, 1}, INT64_MIN, ALIAS_ERR_EMPTY},
      /* the first bad weight decides */
      {{-1, nan, 1, 1}, 4, ALIAS_ERR_NEGATIVE},
      {{nan, -1, 1, 1}, 4, ALIAS_ERR_NONFINITE},
  };
  /* Storage for 4 categories is enough: bad k must be refused before any
   * write. */
  uint64_t mem[4 * 2];
  int32_t work[4];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    alias_table t;
    alias_init(&t, 4, mem);
    t.k = cases[i].k;
    const alias_status got = alias_build(&t, cases[i].w, work);
    CHECK(got == cases[i].want, "case %zu: status %d, want %d", i, (int)got,
          (int)cases[i].want);
  }
  /* Every status has its own message. */
  const alias_status all[] = {ALIAS_OK, ALIAS_ERR_EMPTY, ALIAS_ERR_NONFINITE,
                              ALIAS_ERR_NEGATIVE, ALIAS_ERR_ALL_ZERO};
  for (int i = 0; i < 5; i++) {
    const char *m = alias_status_message(all[i]);
    CHECK(m && *m, "status %d has no message", i);
    for (int j = 0; j < i; j++)
      CHECK(strcmp(m, alias_status_message(all[j])) != 0, "statuses %d and %d share a message",
            i, j);
  }
  CHECK(strcmp(alias_status_message((alias_status)99), "unknown alias status") == 0,
        "unknown status message");
}

CTEST(test_alias_table_layout) {
  for (int64_t k = 1; k < 40; k++) {
    const size_t bytes = alias_table_bytes(k);
    CHECK(bytes % 8 == 0, "k = %lld: %zu bytes is not a multiple of 8", (long long)k, bytes);
    CHECK(bytes >= (size_t)k * 12, "k = %lld: %zu bytes is too small", (long long)k, bytes);
    uint64_t mem[128];
    alias_table t;
    alias_init(&t, k, mem);
    CHECK((char *)t.alias + k * sizeof(int32_t) <= (char *)mem + bytes,
          "k = %lld: alias array runs past the storage", (long long)k);
    CHECK((void *)t.threshold == (void *)mem, "threshold first");
  }
}

/* Frequencies of 10^6 draws against the weights (chi-square, p ~ 1e-6). */
static void chisq_draws(const double *w, int64_t k, uint64_t seed, const char *what) {
  built b;
  double *count = calloc((size_t)k, sizeof(double));
  double *p = malloc((size_t)k * sizeof(double));
  if (!build(&b, w, k) || !count || !p) {
    CHECK(0, "malloc");
    goto done;
  }
  CHECK(b.status == ALIAS_OK, "%s: build failed", what);
  if (b.status != ALIAS_OK) goto done;
  long double total = 0;
  for (int64_t i = 0; i < k; i++) total += w[i];
  for (int64_t i = 0; i < k; i++) p[i] = (double)(w[i] / total);
  const int n = 1000000;
  rng_state st = rng_stream(seed, 0, 0);
  for (int i = 0; i < n; i++) count[alias_draw(&b.t, rng_next(&st))] += 1;
  int df;
  const double x2 = ctest_chisq(count, p, k, n, &df);
  const double crit = ctest_chisq_critical(df);
  CHECK(x2 < crit, "%s: chi-square %.1f on %d df (critical %.1f)", what, x2, df, crit);
  for (int64_t i = 0; i < k; i++)
    CHECK(!(w[i] == 0.0 && count[i] > 0), "%s: zero weight %lld drawn", what, (long long)i);
done:
  unbuild(&b);
  free(count);
  free(p);
}

CTEST(test_alias_draw_frequencies) {
  const double w1[] = {1, 2, 3, 4};
  const double w2[] = {0.5, 0, 0.25, 0, 0.125, 0.125};
  const double w3[] = {1e308, 1e308, 0.5e308, 1e307};
  double w4[100], w5[1000];
  for (int i = 0; i < 100; i++) w4[i] = (i + 1) * (i + 1);
  uint64_t s = 5;
  for (int i = 0; i < 1000; i++) w5[i] = i == 0 ? 500.0 : tgen_unif(&s);
  chisq_draws(w1, 4, 1, "1:4");
  chisq_draws(w2, 6, 2, "dyadic with zeros");
  chisq_draws(w3, 4, 3, "near DBL_MAX");
  chisq_draws(w4, 100, 4, "squares");
  chisq_draws(w5, 1000, 5, "one heavy among 1000");
}
