/* kernel: bootstrap means re-derived draw by draw from the documented
 * streams, invariants (bounds, block order, prefixes), the pair path against
 * the single path and the exact distribution, and raw draws. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alias.h"
#include "../../src/kernel.h"
#include "../../src/rng.h"
#include "check.h"
#include "kgroup.h"

/* A means job over up to 4 groups with its own storage. */
typedef struct {
  kgroup g[4];
  kernel_group grp[4];
  kernel_means_job job;
} mjob;

static int mjob_make(mjob *m, int n_groups, const double *const *x, const double *const *w,
                     const int64_t *k, int pairs, int64_t n_means, int64_t ss, uint64_t seed) {
  memset(m, 0, sizeof(*m));
  for (int g = 0; g < n_groups; g++) {
    if (kgroup_build(&m->g[g], x[g], w[g], k[g], pairs) != 0) return 0;
    m->grp[g] = m->g[g].grp;
  }
  m->job.n_groups = n_groups;
  m->job.groups = m->grp;
  m->job.n_means = n_means;
  m->job.sample_size = ss;
  m->job.seed = seed;
  m->job.out = malloc((size_t)(n_groups * n_means) * sizeof(double));
  return m->job.out != NULL;
}

static void mjob_free(mjob *m) {
  for (int g = 0; g < 4; g++) kgroup_free(&m->g[g]);
  free(m->job.out);
  memset(m, 0, sizeof(*m));
}

static void run_all(const kernel_means_job *job) {
  const int64_t nb = kernel_means_n_blocks(job);
  for (int64_t b = 0; b < nb; b++) kernel_means_block(job, b);
}

/* One draw's value, from the alias tables rather than the kernel's cells:
 * a pair draw is the sum of the two values it stands for. */
static double ref_pair_value(const kgroup *g, uint64_t r) {
  const int64_t cell = alias_draw(&g->t2, r);
  return g->x[cell / g->k] + g->x[cell % g->k];
}

/* The means of group g, recomputed from kernel.c's documented layout: blocks
 * of KERNEL_BLOCK_MEANS replicates; in block j, replicates alternate between
 * lane a = stream (seed, g, 2j) and lane b = stream (seed, g, 2j + 1), each
 * replicate taking its numbers from its lane in turn; with a pair table a
 * replicate makes sample_size / 2 pair draws and, for an odd sample size,
 * one single draw. */
static void ref_means(const kernel_means_job *job, const kgroup *g, int64_t gi, double *out) {
  const int64_t ss = job->sample_size;
  const int paired = g->grp.k2 > 0;
  const long double inv = 1.0L / (long double)ss;
  for (int64_t from = 0; from < job->n_means; from += KERNEL_BLOCK_MEANS) {
    const int64_t j = from / KERNEL_BLOCK_MEANS;
    int64_t count = job->n_means - from;
    if (count > KERNEL_BLOCK_MEANS) count = KERNEL_BLOCK_MEANS;
    for (int lane = 0; lane < 2; lane++) {
      rng_state st = rng_stream(job->seed, (uint64_t)gi, 2 * (uint64_t)j + (uint64_t)lane);
      for (int64_t off = lane; off < count; off += 2) {
        long double s = 0.0L;
        if (paired) {
          for (int64_t d = 0; d < ss / 2; d++) s += ref_pair_value(g, rng_next(&st));
          if (ss % 2) s += g->x[alias_draw(&g->t1, rng_next(&st))];
        } else {
          for (int64_t d = 0; d < ss; d++) s += g->x[alias_draw(&g->t1, rng_next(&st))];
        }
        out[from + off] = (double)(s * inv);
      }
    }
  }
}

CTEST(test_kernel_means_match_rederived_streams) {
  double xa[200], wa[200], xb[200], wb[200];
  uint64_t s = 77;
  for (int i = 0; i < 200; i++) {
    xa[i] = floor(tgen_unif(&s) * 1000) / 8;
    wa[i] = tgen_unif(&s) < 0.2 ? 0.0 : tgen_unif(&s);
    xb[i] = -50 + 100 * tgen_unif(&s);
    wb[i] = pow(10, 3 * tgen_unif(&s));
  }
  const int64_t ks[][2] = {{1, 2}, {5, 64}, {64, 65}, {65, 200}, {3, 1}};
  const int64_t sizes[] = {1, 2, 7, 100};
  const int64_t counts[] = {1, 3, 1024, 1025, 2500};
  int compared = 0, paired_groups = 0;
  for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++)
    for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++)
      for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        if (sizes[b] == 100 && counts[c] > 1025) continue; /* keep it quick */
        const double *x[2] = {xa, xb}, *w[2] = {wa, wb};
        mjob m;
        const uint64_t seed = 1000 + a * 100 + b * 10 + c;
        if (!mjob_make(&m, 2, x, w, ks[a], KGROUP_AS_API, counts[c], sizes[b], seed)) {
          CHECK(0, "building the job failed");
          mjob_free(&m);
          continue;
        }
        run_all(&m.job);
        double *want = malloc((size_t)counts[c] * sizeof(double));
        for (int g = 0; g < 2 && want; g++) {
          paired_groups += m.grp[g].k2 > 0;
          ref_means(&m.job, &m.g[g], g, want);
          int diff = 0;
          int64_t first = -1;
          for (int64_t i = 0; i < counts[c]; i++)
            if (memcmp(&want[i], &m.job.out[g * counts[c] + i], sizeof(double)) != 0) {
              if (first < 0) first = i;
              diff++;
            }
          CHECK(diff == 0,
                "k = %lld, sample size %lld, n_means %lld, group %d: %d of the means differ "
                "(first %lld: %.17g vs %.17g)",
                (long long)ks[a][g], (long long)sizes[b], (long long)counts[c], g, diff,
                (long long)first, first >= 0 ? m.job.out[g * counts[c] + first] : 0.0,
                first >= 0 ? want[first] : 0.0);
          compared++;
        }
        free(want);
        mjob_free(&m);
      }
  CHECK(compared > 100 && paired_groups > 20, "compared %d groups (%d paired)", compared,
        paired_groups);
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Every mean lies within the range of the values that can be drawn. */
static int64_t out_of_bounds(const double *out, int64_t n, const double *x, const double *w,
                             int64_t k) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > 0) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad += !(out[i] >= lo && out[i] <= hi);
  return bad;
}

CTEST(test_kernel_means_invariants) {
  double x[100], w[100];
  uint64_t s = 3;
  for (int i = 0; i < 100; i++) {
    x[i] = -3 + 10 * tgen_unif(&s);
    w[i] = tgen_unif(&s) < 0.25 ? 0.0 : tgen_unif(&s);
  }
  x[0] = -1000;
  w[0] = 0;   /* out of range and never drawn: bounds must ignore it */
  w[1] = 0.5; /* the k = 1 case uses x[1], w[1] */
  const int64_t ks[] = {1, 2, 10, 64, 65, 100};
  const int64_t sizes[] = {1, 2, 3, 50, 101};
  for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++)
    for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
      const int64_t k = ks[a], ss = sizes[b], n = 3000; /* 3 blocks, last partial */
      const double *xs[1] = {x + (k == 1)}, *ws[1] = {w + (k == 1)};
      mjob m, half, rev, shuf;
      memset(&half, 0, sizeof(half));
      memset(&rev, 0, sizeof(rev));
      memset(&shuf, 0, sizeof(shuf));
      const int ok = mjob_make(&m, 1, xs, ws, &k, KGROUP_AS_API, n, ss, 9) &&
                     mjob_make(&half, 1, xs, ws, &k, KGROUP_AS_API, 1500, ss, 9) &&
                     mjob_make(&rev, 1, xs, ws, &k, KGROUP_AS_API, n, ss, 9) &&
                     mjob_make(&shuf, 1, xs, ws, &k, KGROUP_AS_API, n, ss, 9);
      CHECK(ok, "building the jobs failed");
      if (ok) {
        run_all(&m.job);
        run_all(&half.job);
        const int64_t nb = kernel_means_n_blocks(&m.job);
        CHECK(nb == 3, "3000 means make %lld blocks", (long long)nb);
        for (int64_t bl = nb - 1; bl >= 0; bl--) kernel_means_block(&rev.job, bl);
        const int64_t order[] = {1, 2, 0};
        for (int i = 0; i < 3; i++) kernel_means_block(&shuf.job, order[i]);
        CHECK(memcmp(m.job.out, rev.job.out, (size_t)n * sizeof(double)) == 0,
              "k %lld ss %lld: reverse block order changes the result", (long long)k,
              (long long)ss);
        CHECK(memcmp(m.job.out, shuf.job.out, (size_t)n * sizeof(double)) == 0,
              "k %lld ss %lld: shuffled block order changes the result", (long long)k,
              (long long)ss);
        CHECK(memcmp(m.job.out, half.job.out, 1500 * sizeof(double)) == 0,
              "k %lld ss %lld: the first 1500 of 3000 means differ from 1500 means",
              (long long)k, (long long)ss);
        const int64_t bad = out_of_bounds(m.job.out, n, xs[0], ws[0], k);
        CHECK(bad == 0, "k %lld ss %lld: %lld means outside the values' range", (long long)k,
              (long long)ss, (long long)bad);
        if (k == 1) {
          int64_t off = 0;
          for (int64_t i = 0; i < n; i++) off += m.job.out[i] != xs[0][0];
          CHECK(off == 0, "k = 1: %lld means differ from the one value", (long long)off);
        }
        /* Distinct replicates: with k >= 10 and ss >= 50 ties are rare. */
        if (k >= 10 && ss >= 50) {
          double *sorted = malloc((size_t)n * sizeof(double));
          if (sorted) {
            memcpy(sorted, m.job.out, (size_t)n * sizeof(double));
            qsort(sorted, (size_t)n, sizeof(double), cmp_double);
            int ties = 0;
            for (int64_t i = 1; i < n; i++) ties += sorted[i] == sorted[i - 1];
            CHECK(ties < n / 20, "k %lld ss %lld: %d tied means", (long long)k, (long long)ss,
                  ties);
            free(sorted);
          }
        }
      }
      mjob_free(&m);
      mjob_free(&half);
      mjob_free(&rev);
      mjob_free(&shuf);
    }
}

CTEST(test_kernel_constant_values_give_exact_means) {
  const double values[] = {0.1, -7.25, 1e300, -DBL_MAX, DBL_MAX, 5e-324, 3.0};
  for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
    double x[5], w[5] = {1, 2, 0, 4, 5};
    for (int i = 0; i < 5; i++) x[i] = values[v];
    const int64_t k = 5;
    const int64_t sizes[] = {1, 2, 3, 100, 1001};
    for (int pairs = 0; pairs < 2; pairs++)
      for (size_t b = 0; b < 5; b++) {
        const double *xs[1] = {x}, *ws[1] = {w};
        mjob m;
        if (!mjob_make(&m, 1, xs, ws, &k, pairs, 40, sizes[b], 1)) {
          CHECK(0, "building the job failed");
          mjob_free(&m);
          continue;
        }
        run_all(&m.job);
        int off = 0;
        for (int i = 0; i < 40; i++) off += m.job.out[i] != values[v];
        CHECK(off == 0, "value %.17g, ss %lld, %s: %d means differ (first %.17g)", values[v],
              (long long)sizes[b], pairs ? "single" : "pairs", off, m.job.out[0]);
        mjob_free(&m);
      }
  }
}

/* Values near the top of the double range: the mean of any sample is a
 * finite number within the values' range, on both the pair and the single
 * path. (Pair sums x_i + x_j of such values overflow a double.) */
CTEST(test_kernel_huge_values_stay_finite) {
  const double sets[][3] = {{1e308, 1.5e308, 1.7e308},
                            {-1e308, 1e308, 0.0},
                            {DBL_MAX, DBL_MAX, -DBL_MAX},
                            {-DBL_MAX, -1.5e308, -DBL_MAX}};
  const double w[3] = {1, 2, 3};
  for (size_t v = 0; v < sizeof(sets) / sizeof(sets[0]); v++)
    for (int pairs = 0; pairs < 2; pairs++)
      for (int64_t ss = 1; ss <= 6; ss++) {
        const int64_t k = 3;
        const double *xs[1] = {sets[v]}, *ws[1] = {w};
        mjob m;
        if (!mjob_make(&m, 1, xs, ws, &k, pairs, 2000, ss, 2)) {
          CHECK(0, "building the job failed");
          mjob_free(&m);
          continue;
        }
        run_all(&m.job);
        int64_t nonfinite = 0;
        for (int i = 0; i < 2000; i++) nonfinite += !isfinite(m.job.out[i]);
        const int64_t bad = out_of_bounds(m.job.out, 2000, sets[v], w, k);
        CHECK(nonfinite == 0 && bad == 0,
              "set %zu, ss %lld, %s: %lld non-finite means, %lld out of range (e.g. %g)", v,
              (long long)ss, pairs ? "single" : "pairs", (long long)nonfinite, (long long)bad,
              m.job.out[0]);
        mjob_free(&m);
      }
}

/* Mean and variance of n_means replicates against the weighted mean and
 * variance / sample_size, and a chi-square of the replicate sums against
 * their exact distribution (values are small integers, so the sum of
 * sample_size draws has a pmf we can convolve). Both the pair and the single
 * path must pass. */
static void check_distribution(const double *x, const double *w, int64_t k, int64_t ss,
                               int pairs, uint64_t seed, const char *what) {
  const int64_t n = 200000;
  const double *xs[1] = {x}, *ws[1] = {w};
  mjob m;
  if (!mjob_make(&m, 1, xs, ws, &k, pairs, n, ss, seed)) {
    CHECK(0, "building the job failed");
    mjob_free(&m);
    return;
  }
  CHECK((m.grp[0].k2 > 0) == (pairs == KGROUP_AS_API), "%s: pair table %s", what,
        m.grp[0].k2 > 0 ? "built" : "missing");
  run_all(&m.job);
  long double wsum = 0, mu = 0, var = 0;
  for (int64_t i = 0; i < k; i++) wsum += w[i];
  for (int64_t i = 0; i < k; i++) mu += w[i] / wsum * x[i];
  for (int64_t i = 0; i < k; i++) var += w[i] / wsum * (x[i] - mu) * (x[i] - mu);
  long double mean = 0, m2 = 0;
  for (int64_t i = 0; i < n; i++) mean += m.job.out[i];
  mean /= n;
  for (int64_t i = 0; i < n; i++) m2 += (m.job.out[i] - mean) * (m.job.out[i] - mean);
  m2 /= (n - 1);
  const double want_var = (double)(var / ss);
  const double z_mean = (double)((mean - mu) / sqrtl(var / ss / n));
  const double z_var = (m2 / want_var - 1) / sqrt(2.0 / (n - 1)) / 2; /* loose for kurtosis */
  CHECK(fabs(z_mean) < 5, "%s: mean of means %.6Lf vs %.6Lf (z = %.2f)", what, mean, mu,
        z_mean);
  CHECK(fabs(z_var) < 5, "%s: variance of means %.6Lf vs %.6f (z = %.2f)", what, m2, want_var,
        z_var);

  /* Exact pmf of the sum of ss draws of integer values 0..max. */
  int vmax = 0;
  for (int64_t i = 0; i < k; i++) vmax = (int)x[i] > vmax ? (int)x[i] : vmax;
  const int64_t cells = (int64_t)vmax * ss + 1;
  double *pmf = calloc((size_t)cells, sizeof(double)),
         *tmp = calloc((size_t)cells, sizeof(double));
  double *obs = calloc((size_t)cells, sizeof(double));
  if (!pmf || !tmp || !obs) {
    CHECK(0, "malloc");
  } else {
    pmf[0] = 1;
    for (int64_t d = 0; d < ss; d++) {
      memset(tmp, 0, (size_t)cells * sizeof(double));
      for (int64_t c = 0; c < cells; c++)
        if (pmf[c] > 0)
          for (int64_t i = 0; i < k; i++)
            if (w[i] > 0) tmp[c + (int64_t)x[i]] += pmf[c] * (double)(w[i] / wsum);
      memcpy(pmf, tmp, (size_t)cells * sizeof(double));
    }
    int64_t off_grid = 0;
    for (int64_t i = 0; i < n; i++) {
      const double sum = m.job.out[i] * (double)ss;
      const double r = nearbyint(sum);
      if (fabs(sum - r) > 1e-6 || r < 0 || r >= cells) {
        off_grid++;
        continue;
      }
      obs[(int64_t)r] += 1;
    }
    CHECK(off_grid == 0, "%s: %lld sums off the integer grid", what, (long long)off_grid);
    int df;
    const double x2 = ctest_chisq(obs, pmf, cells, (double)n, &df);
    const double crit = ctest_chisq_critical(df);
    CHECK(x2 < crit, "%s: chi-square of sums %.1f on %d df (critical %.1f)", what, x2, df,
          crit);
  }
  free(pmf);
  free(tmp);
  free(obs);
  mjob_free(&m);
}

CTEST(test_kernel_pairs_and_singles_agree_in_distribution) {
  const double x1[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const double w1[] = {5, 1, 0, 2, 8, 3, 0.5, 1, 1, 4};
  const double x2[] = {0, 9};
  const double w2[] = {1, 3};
  double x3[64], w3[64];
  for (int i = 0; i < 64; i++) {
    x3[i] = i % 6;
    w3[i] = 1 + (i % 5);
  }
  const int64_t sizes[] = {7, 10};
  char what[96];
  for (int b = 0; b < 2; b++)
    for (int pairs = 0; pairs < 2; pairs++) {
      const char *path = pairs == KGROUP_AS_API ? "pairs" : "single";
      snprintf(what, sizeof(what), "0:9, ss %lld, %s", (long long)sizes[b], path);
      check_distribution(x1, w1, 10, sizes[b], pairs, 11 + b, what);
      snprintf(what, sizeof(what), "{0, 9}, ss %lld, %s", (long long)sizes[b], path);
      check_distribution(x2, w2, 2, sizes[b], pairs, 21 + b, what);
      snprintf(what, sizeof(what), "k = 64, ss %lld, %s", (long long)sizes[b], path);
      check_distribution(x3, w3, 64, sizes[b], pairs, 31 + b, what);
    }
}

CTEST(test_kernel_pair_eligibility_and_table) {
  double w[70];
  for (int i = 0; i < 70; i++) w[i] = 1.0 + i;
  CHECK(!kernel_pair_eligible(1, w), "k = 1 has no pairs");
  CHECK(kernel_pair_eligible(2, w), "k = 2 has pairs");
  CHECK(kernel_pair_eligible(64, w), "k = 64 has pairs");
  CHECK(!kernel_pair_eligible(65, w), "k = 65 has no pairs");
  double tiny[3] = {1, 1e-151, 1};
  CHECK(!kernel_pair_eligible(3, tiny), "a weight ratio under 1e-150 has no pairs");
  double zero[3] = {1, 0, 1};
  CHECK(kernel_pair_eligible(3, zero), "a zero weight is fine for pairs");
  double none[3] = {0, 0, 0};
  CHECK(!kernel_pair_eligible(3, none), "all-zero weights have no pairs");

  /* The pair table implies p_i * p_j for cell (i, j). */
  const double wp[5] = {1e300, 3e299, 0, 5e298, 1e298};
  const double xp[5] = {1, 2, 3, 4, 5};
  kgroup g;
  CHECK(kgroup_build(&g, xp, wp, 5, KGROUP_AS_API) == 0 && g.grp.k2 == 25, "pair table built");
  if (g.grp.k2 == 25) {
    double implied[25];
    alias_implied_probs(&g.t2, implied);
    long double sum = 0;
    for (int i = 0; i < 5; i++) sum += wp[i];
    double worst = 0;
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 5; j++) {
        const double want = (double)((wp[i] / sum) * (wp[j] / sum));
        const double err = fabs(implied[i * 5 + j] - want);
        if (err > worst) worst = err;
        if (wp[i] == 0 || wp[j] == 0)
          CHECK(implied[i * 5 + j] == 0, "pair (%d, %d) with a zero weight is drawable", i, j);
      }
    CHECK(worst < 1e-12, "pair probabilities off by %g", worst);
  }
  kgroup_free(&g);
}

/* Raw draws: re-derived from stream (seed, 0xffffffff00000000, block), in
 * range, never a zero weight, independent of block order. */
CTEST(test_kernel_draws) {
  const double w[] = {0, 3, 1, 0, 6, 2};
  const int64_t k = 6;
  void *mem = malloc(alias_table_bytes(k));
  int32_t work[6];
  const int64_t size = 2 * KERNEL_BLOCK_DRAWS + 12345;
  int32_t *out = malloc((size_t)size * sizeof(int32_t));
  int32_t *out2 = malloc((size_t)size * sizeof(int32_t));
  if (!mem || !out || !out2) {
    CHECK(0, "malloc");
    goto done;
  }
  alias_table t;
  alias_init(&t, k, mem);
  CHECK(alias_build(&t, w, work) == ALIAS_OK, "build");
  kernel_draws_job job = {&t, size, 314159, out};
  const int64_t nb = kernel_draws_n_blocks(&job);
  CHECK(nb == 3, "%lld blocks", (long long)nb);
  for (int64_t b = 0; b < nb; b++) kernel_draws_block(&job, b);
  job.out = out2;
  for (int64_t b = nb - 1; b >= 0; b--) kernel_draws_block(&job, b);
  CHECK(memcmp(out, out2, (size_t)size * sizeof(int32_t)) == 0, "block order changes draws");
  int64_t bad = 0, mismatch = 0;
  double count[6] = {0};
  for (int64_t b = 0; b < nb; b++) {
    rng_state st = rng_stream(314159, UINT64_C(0xffffffff00000000), (uint64_t)b);
    for (int64_t i = b * KERNEL_BLOCK_DRAWS; i < size && i < (b + 1) * KERNEL_BLOCK_DRAWS;
         i++) {
      const int64_t want = alias_draw(&t, rng_next(&st)) + 1;
      mismatch += out[i] != want;
      if (out[i] < 1 || out[i] > k || w[out[i] - 1] == 0) {
        bad++;
        continue;
      }
      count[out[i] - 1] += 1;
    }
  }
  CHECK(mismatch == 0, "%lld draws differ from the re-derived stream", (long long)mismatch);
  CHECK(bad == 0, "%lld draws out of range or on a zero weight", (long long)bad);
  double p[6];
  for (int i = 0; i < 6; i++) p[i] = w[i] / 12.0;
  int df;
  const double x2 = ctest_chisq(count, p, 6, (double)size, &df);
  CHECK(x2 < ctest_chisq_critical(df), "draw frequencies: chi-square %.1f on %d df", x2, df);
  /* A size of zero has no blocks. */
  kernel_draws_job empty = {&t, 0, 1, out};
  CHECK(kernel_draws_n_blocks(&empty) == 0, "size 0 has blocks");
done:
  free(mem);
  free(out);
  free(out2);
}

/* sample_size 1 (replicates of an exact distribution) has a loop of its
 * own in kernel_means_block; it must give the bits of the general loop
 * (kernel_means_block_generic) and of the streams re-derived from the alias
 * tables (ref_means), whatever k, pairs, n_means, seed and values: the
 * edges of the double range, subnormals and -0.0 among them. */
static const double single_specials[] = {-0.0,     0.0,      1e308,   -1e308,      DBL_MAX,
                                         -DBL_MAX, 5e-324,   -5e-324, DBL_MIN,     0.1,
                                         1.0 / 3,  -7.25e-9, 4.5e15,  -2251799.875};

static void single_values(double *x, double *w, int64_t k, uint64_t s) {
  const size_t n_special = sizeof(single_specials) / sizeof(single_specials[0]);
  for (int64_t i = 0; i < k; i++) {
    x[i] = (size_t)i < n_special ? single_specials[i] : -40 + 80 * tgen_unif(&s);
    w[i] = tgen_unif(&s) < 0.1 ? 0.0 : 0.01 + tgen_unif(&s);
  }
  w[0] = 1.0; /* k = 1 needs a positive weight; -0.0 is drawn often */
}

static int64_t bits_differ(const double *a, const double *b, int64_t n, int64_t *first) {
  int64_t diff = 0;
  *first = -1;
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof(double)) != 0) {
      if (*first < 0) *first = i;
      diff++;
    }
  return diff;
}

CTEST(test_kernel_single_draw_loop_keeps_the_bits) {
  const int64_t kmax = 3601;
  double *xa = malloc((size_t)kmax * sizeof(double)),
         *wa = malloc((size_t)kmax * sizeof(double));
  double *xb = malloc((size_t)kmax * sizeof(double)),
         *wb = malloc((size_t)kmax * sizeof(double));
  if (!xa || !wa || !xb || !wb) {
    CHECK(0, "malloc");
    goto done;
  }
  single_values(xa, wa, kmax, 5);
  single_values(xb, wb, kmax, 6);
  const int64_t ks[][2] = {{1, 2}, {63, 64}, {65, 3601}, {2, 1}, {64, 65}, {3601, 63}};
  const int64_t counts[] = {1, 2, 3, 1023, 1024, 1025, 2049, 3001};
  int64_t compared = 0, paired_groups = 0;
  for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++)
    for (int pairs = 0; pairs < 2; pairs++)
      for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
        for (uint64_t seed = 0; seed < 6; seed++) {
          const double *x[2] = {xa, xb}, *w[2] = {wa, wb};
          const int64_t n = counts[c];
          mjob fast, slow;
          memset(&slow, 0, sizeof(slow));
          const uint64_t sd = seed * UINT64_C(0x9e3779b97f4a7c15) + a;
          if (!mjob_make(&fast, 2, x, w, ks[a], pairs, n, 1, sd) ||
              !mjob_make(&slow, 2, x, w, ks[a], pairs, n, 1, sd)) {
            CHECK(0, "building the jobs failed");
            mjob_free(&fast);
            mjob_free(&slow);
            continue;
          }
          /* a sentinel in every slot: a replicate left unwritten shows */
          memset(fast.job.out, 0xa5, (size_t)(2 * n) * sizeof(double));
          const int64_t nb = kernel_means_n_blocks(&fast.job);
          for (int64_t bl = nb - 1; bl >= 0; bl--) kernel_means_block(&fast.job, bl);
          for (int64_t bl = 0; bl < nb; bl++) kernel_means_block_generic(&slow.job, bl);
          double *want = malloc((size_t)n * sizeof(double));
          for (int g = 0; g < 2 && want; g++) {
            paired_groups += fast.grp[g].k2 > 0;
            ref_means(&fast.job, &fast.g[g], g, want);
            const double *got = fast.job.out + g * n;
            const double *refs[2] = {slow.job.out + g * n, want};
            const char *names[2] = {"the general loop's", "the re-derived streams"};
            for (int r = 0; r < 2; r++) {
              int64_t first;
              const int64_t d = bits_differ(got, refs[r], n, &first);
              CHECK(
                  d == 0,
                  "k = %lld, %s, n_means %lld, seed %llu, group %d: %lld means differ from %s "
                  "(first %lld: %.17g vs %.17g)",
                  (long long)ks[a][g], pairs ? "no pairs" : "pairs as the API", (long long)n,
                  (unsigned long long)seed, g, (long long)d, names[r], (long long)first,
                  first >= 0 ? got[first] : 0.0, first >= 0 ? refs[r][first] : 0.0);
            }
            compared += n;
          }
          free(want);
          mjob_free(&fast);
          mjob_free(&slow);
        }
  CHECK(compared > 1000000 && paired_groups > 100, "compared %lld means (%lld paired groups)",
        (long long)compared, (long long)paired_groups);
done:
  free(xa);
  free(wa);
  free(xb);
  free(wb);
}

/* A mean of one draw is the value drawn, to the bit, except -0.0, which
 * the general loop (0.0L + v) has always returned as +0.0; and the first
 * replicates of a fixed seed stay what they were before the loop for
 * sample_size 1 existed (pinned from the general loop). */
CTEST(test_kernel_single_draw_values_pinned) {
  const double specials[] = {-0.0, 5e-324, -DBL_MAX, 1e308, 0.1};
  for (size_t v = 0; v < sizeof(specials) / sizeof(specials[0]); v++)
    for (int pairs = 0; pairs < 2; pairs++) {
      const double x[2] = {specials[v], specials[v]}, w[2] = {1, 3};
      const double *xs[1] = {x}, *ws[1] = {w};
      const int64_t k = 2;
      mjob m;
      if (!mjob_make(&m, 1, xs, ws, &k, pairs, 1025, 1, 3)) {
        CHECK(0, "building the job failed");
        mjob_free(&m);
        continue;
      }
      run_all(&m.job);
      const double want = specials[v] == 0.0 ? 0.0 : specials[v]; /* +0.0 for -0.0 */
      int64_t off = 0;
      for (int i = 0; i < 1025; i++) off += memcmp(&m.job.out[i], &want, sizeof(double)) != 0;
      CHECK(off == 0, "value %.17g, %s: %lld of 1025 means are not %.17g (first %.17g)",
            specials[v], pairs ? "no pairs" : "pairs", (long long)off, want, m.job.out[0]);
      mjob_free(&m);
    }

  double x[8], w[8];
  for (int i = 0; i < 8; i++) {
    x[i] = 0.125 * i - 0.5;
    w[i] = 1 + i;
  }
  const double pinned[9] = {0.375, 0.25, 0.375, 0.375, -0.375, 0.375, 0.375, 0.375, -0.25};
  for (int pairs = 0; pairs < 2; pairs++) {
    const double *xs[1] = {x}, *ws[1] = {w};
    const int64_t k = 8;
    mjob m;
    if (!mjob_make(&m, 1, xs, ws, &k, pairs, 9, 1, 2026)) {
      CHECK(0, "building the job failed");
      mjob_free(&m);
      continue;
    }
    CHECK((m.grp[0].k2 > 0) == (pairs == KGROUP_AS_API), "pair table as asked");
    run_all(&m.job);
    for (int i = 0; i < 9; i++)
      CHECK(m.job.out[i] == pinned[i], "%s: replicate %d is %.17g, pinned %.17g",
            pairs ? "no pairs" : "pairs", i + 1, m.job.out[i], pinned[i]);
    mjob_free(&m);
  }
}
