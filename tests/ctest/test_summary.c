/* Pure C tests of src/summary.c's group sums and R's NA test, of
 * src/group.c's refusals, and of src/memory.c's system queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/group.h"
#include "../../src/memory.h"
#include "../../src/summary.h"
#include "check.h"

static double from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

CTEST(test_summary_group_sums) {
  const double r_na = from_bits(UINT64_C(0x7FF00000000007A2)); /* R's NA_real_ */
  CHECK(summary_is_na(r_na), "R's NA bit pattern is not NA");
  CHECK(!summary_is_na(NAN) && !summary_is_na(1.0), "a plain NaN or a number taken for NA");
  const double x[] = {1.0, 2.0, 0.25, NAN, 5.0, r_na, NAN, 1e300, -1e300, 3.0};
  const int id[] = {1, 1, 2, 3, 3, 4, 4, 5, 5, 5};
  long double acc[5];
  unsigned char na[5];
  double out[5];
  const double na_value = -111.0, nan_value = -222.0;
  CHECK(summary_group_sums(x, id, 10, 5, acc, na, na_value, nan_value, out) == 0,
        "sums refused");
  CHECK(out[0] == 3.0 && out[1] == 0.25, "plain sums: %g %g", out[0], out[1]);
  CHECK(out[2] == nan_value, "NaN group: %g", out[2]);
  CHECK(out[3] == na_value, "NA wins over NaN: %g", out[3]);
  /* long double: 1e300 - 1e300 + 3 is 3, not lost to rounding order */
  CHECK(out[4] == 3.0, "long double sum: %g", out[4]);
  const int bad[] = {1, 6};
  out[0] = 7.0;
  CHECK(summary_group_sums(x, bad, 2, 5, acc, na, na_value, nan_value, out) == -1 &&
            out[0] == 7.0,
        "an id out of range is refused before any output");
  /* An empty group sums to 0, as sum(numeric(0)) does. */
  const int one[] = {2};
  CHECK(summary_group_sums(x, one, 1, 2, acc, na, na_value, nan_value, out) == 0 &&
            out[0] == 0.0 && out[1] == 1.0,
        "empty group: %g, %g", out[0], out[1]);
}

CTEST(test_group_build_refusals) {
  const double x[] = {1, 2, 3};
  const double w_bad[] = {1, -1, 2}, w_zero[] = {0, 0, 0}, w_ok[] = {1, 2, 3};
  kernel_cell cells[12];
  alias_status s;
  CHECK(group_build(cells, x, w_bad, 3, 0, NULL, &s) == 1 && s != ALIAS_OK, "negative weight");
  CHECK(group_build(cells, x, w_zero, 3, 0, NULL, &s) == 1 && s != ALIAS_OK, "zero weights");
  group_tables keep;
  CHECK(group_build(cells, x, w_bad, 3, 1, &keep, &s) == 1 && keep.mem_single == NULL &&
            keep.mem_pair == NULL,
        "a refused build keeps nothing");
  CHECK(group_n_cells(3, 1) == 12 && group_n_cells(3, 0) == 3, "cell counts");
  CHECK(group_build(cells, x, w_ok, 3, 1, &keep, &s) == 0 && s == ALIAS_OK && keep.pair.k == 9,
        "pair table kept");
  /* the cells' values are the categories' values and, after them, pair half sums */
  for (int i = 0; i < 3; i++) CHECK(cells[i].value[0] == x[i], "cell %d value", i);
  group_tables_free(&keep);
}

CTEST(test_memory_queries) {
  const double phys = memory_physical();
  CHECK(phys > 1e6 && phys < 1e15, "physical memory %g", phys);
  const double as = memory_as_limit();
  CHECK(as == -1 || as > 0, "address-space limit %g", as);
  CHECK(memory_rss() > 0 && memory_peak() >= memory_rss(), "rss %g, peak %g", memory_rss(),
        memory_peak());
}

static int cmp_key(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* R's type-7 quantile from a sorted copy. */
static double ref_quantile7(const double *sorted, int64_t n, double p) {
  const double h = (double)(n - 1) * p;
  const int64_t j = (int64_t)h;
  if (j + 1 >= n) return sorted[j];
  return sorted[j] + (h - (double)j) * (sorted[j + 1] - sorted[j]);
}

/* summary_means_const (counting, x untouched) against summary_means
 * (selection in a copy) and a sort, on data whose neighbouring order
 * statistics differ in the first, a middle or the last 16 bits of their
 * keys, or not at all (ties), and at the ends (p = 0, 1). */
CTEST(test_summary_means_const_matches_selection_and_sort) {
  enum { NMAX = 5000 };
  double *x = malloc(NMAX * sizeof(double)), *copy = malloc(NMAX * sizeof(double));
  double *sorted = malloc(NMAX * sizeof(double)), *scratch = malloc(NMAX * sizeof(double));
  uint64_t *hist = malloc(65536 * sizeof(uint64_t));
  if (!x || !copy || !sorted || !scratch || !hist) {
    CHECK(0, "malloc");
    goto done;
  }
  const int64_t sizes[] = {2, 3, 5, 40, 41, 1000, 4999};
  const double probs[][2] = {
      {0.025, 0.975}, {0.0, 1.0}, {0.5, 0.5}, {0.9, 0.1}, {0.3, 0.7001}};
  uint64_t s = 99;
  int compared = 0;
  for (int kind = 0; kind < 6; kind++)
    for (size_t a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
      for (size_t b = 0; b < sizeof(probs) / sizeof(probs[0]); b++) {
        const int64_t n = sizes[a];
        for (int64_t i = 0; i < n; i++) {
          const double u = tgen_unif(&s);
          switch (kind) {
          case 0: x[i] = -50 + 100 * u; break;                  /* spread */
          case 1: x[i] = floor(u * 7) - 3; break;               /* ties */
          case 2: x[i] = u < 0.5 ? 1.0 : 2.0; break;            /* apart in the top bits */
          case 3: x[i] = 1.0 + ldexp(floor(u * 5), -30); break; /* middle bits */
          case 4: x[i] = 1.0 + ldexp(floor(u * 5), -52); break; /* last bits */
          default: x[i] = u < 0.3 ? -0.0 : (u < 0.6 ? 0.0 : u - 0.8); /* zeros, signs */
          }
        }
        memcpy(copy, x, (size_t)n * sizeof(double));
        memcpy(sorted, x, (size_t)n * sizeof(double));
        qsort(sorted, (size_t)n, sizeof(double), cmp_key);
        double got[4], want[4];
        summary_means_const(x, n, probs[b][0], probs[b][1], hist, got);
        summary_means(x, n, 1, probs[b][0], probs[b][1], scratch, want);
        CHECK(memcmp(x, copy, (size_t)n * sizeof(double)) == 0, "kind %d n %lld: x moved",
              kind, (long long)n);
        for (int q = 0; q < 4; q++) {
          /* a zero quantile may differ in its sign only */
          const int same =
              memcmp(&got[q], &want[q], sizeof(double)) == 0 || (got[q] == 0 && want[q] == 0);
          CHECK(same, "kind %d n %lld p (%g, %g): statistic %d is %.17g, selection %.17g",
                kind, (long long)n, probs[b][0], probs[b][1], q, got[q], want[q]);
        }
        for (int q = 0; q < 2; q++) {
          const double r = ref_quantile7(sorted, n, probs[b][q]);
          CHECK(got[2 + q] == r, "kind %d n %lld p %g: quantile %.17g, sorted %.17g", kind,
                (long long)n, probs[b][q], got[2 + q], r);
        }
        compared++;
      }
  CHECK(compared == 6 * 7 * 5, "compared %d", compared);
done:
  free(x);
  free(copy);
  free(sorted);
  free(scratch);
  free(hist);
}
