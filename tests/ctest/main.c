/*
 * The pure C test driver: runs every test (or those whose names contain the
 * command-line arguments), prints one line per test and closes with
 * "N passed, N failed". Exit status 1 when a test failed.
 *
 * Built by tests/ctest/Makefile against ../../src/{rng,alias,kernel,pool,convolve}.c
 * with AddressSanitizer and UndefinedBehaviorSanitizer; any sanitizer report
 * aborts the run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int ctest_failures = 0;
static const char *current_test = "";

void ctest_fail(const char *file, int line, const char *fmt, ...) {
  if (ctest_failures == 0) printf("\n");
  ctest_failures++;
  if (ctest_failures > 20) {
    if (ctest_failures == 21) printf("    (further failures of %s not shown)\n", current_test);
    return;
  }
  printf("    %s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

double ctest_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ctest_chisq(const double *observed, const double *prob, int64_t cells, double total,
                   int *df) {
  double x2 = 0, obs = 0, expd = 0;
  int used = 0;
  for (int64_t i = 0; i < cells; i++) {
    obs += observed[i];
    expd += prob[i] * total;
    if (expd >= 5 || i == cells - 1) {
      if (expd > 0) {
        x2 += (obs - expd) * (obs - expd) / expd;
        used++;
      } else if (obs > 0) {
        x2 = INFINITY; /* drawn where nothing can be */
      }
      obs = 0;
      expd = 0;
    }
  }
  *df = used > 1 ? used - 1 : 1;
  return x2;
}

double ctest_chisq_critical(int df) {
  const double z = 4.753; /* upper 1e-6 of the normal */
  const double a = 2.0 / (9.0 * df);
  return df * pow(1 - a + z * sqrt(a), 3);
}

/* Replays every input in the fuzz regression folder through the fuzz
 * harness's checks, each in a child so that one failing input does not hide
 * the others (the harness aborts on a failed check). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef CTEST_REGRESSIONS
#define CTEST_REGRESSIONS "fuzz-regressions"
#endif

static CTEST(test_fuzz_regressions) {
  DIR *d = opendir(CTEST_REGRESSIONS);
  CHECK(d != NULL, "cannot open %s", CTEST_REGRESSIONS);
  if (!d) return;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0) continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", CTEST_REGRESSIONS, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) {
      CHECK(0, "cannot read %s", path);
      continue;
    }
    static uint8_t buf[1 << 16];
    const size_t size = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
      LLVMFuzzerTestOneInput(buf, size);
      _exit(0);
    }
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) == -1 && errno == EINTR) {
    }
    CHECK(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s fails (wait status %d)", path,
          st);
    n++;
  }
  closedir(d);
  printf(" (%d inputs)", n);
}

CTEST(test_splitmix64_known_answers);
CTEST(test_xoshiro256pp_known_answers);
CTEST(test_seed_splitmix_fills_state_from_splitmix);
CTEST(test_unif_in_unit_interval);
CTEST(test_stream_keys_distinct_and_repeatable);
CTEST(test_stream_neighbours_do_not_overlap);
CTEST(test_stream_bit_balance);
CTEST(test_alias_random_weight_vectors);
CTEST(test_alias_build_q_same_bits);
CTEST(test_alias_zero_weights_never_drawn);
CTEST(test_alias_extreme_weights);
CTEST(test_alias_single_category);
CTEST(test_alias_k_1e6);
CTEST(test_alias_k_1e7);
CTEST(test_alias_error_statuses);
CTEST(test_alias_table_layout);
CTEST(test_alias_draw_frequencies);
CTEST(test_kernel_means_match_rederived_streams);
CTEST(test_kernel_means_invariants);
CTEST(test_kernel_constant_values_give_exact_means);
CTEST(test_kernel_huge_values_stay_finite);
CTEST(test_kernel_pairs_and_singles_agree_in_distribution);
CTEST(test_kernel_pair_eligibility_and_table);
CTEST(test_kernel_draws);
CTEST(test_kernel_single_draw_loop_keeps_the_bits);
CTEST(test_kernel_single_draw_values_pinned);
CTEST(test_pool_results_equal_serial);
CTEST(test_pool_long_parts_any_order);
CTEST(test_pool_failing_workers);
CTEST(test_pool_release_mid_run);
CTEST(test_convolve_matches_direct_long_double);
CTEST(test_convolve_chapter_shape);
CTEST(test_convolve_symmetric_input_gives_symmetric_output);
CTEST(test_convolve_sample_size_one_returns_input);
CTEST(test_convolve_moments_at_large_sizes);
CTEST(test_convolve_limits_and_statuses);
CTEST(test_convolve_lattice_pmf);
CTEST(test_convolve_binomial_at_large_sizes);
CTEST(test_pool_helper_death_and_idle_stop);
CTEST(test_summary_group_sums);
CTEST(test_summary_means_const_matches_selection_and_sort);
CTEST(test_group_build_refusals);
CTEST(test_memory_queries);

#define T(name) \
  { #name, name }
static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
    T(test_splitmix64_known_answers),
    T(test_xoshiro256pp_known_answers),
    T(test_seed_splitmix_fills_state_from_splitmix),
    T(test_unif_in_unit_interval),
    T(test_stream_keys_distinct_and_repeatable),
    T(test_stream_neighbours_do_not_overlap),
    T(test_stream_bit_balance),
    T(test_alias_random_weight_vectors),
    T(test_alias_build_q_same_bits),
    T(test_alias_zero_weights_never_drawn),
    T(test_alias_extreme_weights),
    T(test_alias_single_category),
    T(test_alias_k_1e6),
    T(test_alias_k_1e7),
    T(test_alias_error_statuses),
    T(test_alias_table_layout),
    T(test_alias_draw_frequencies),
    T(test_kernel_means_match_rederived_streams),
    T(test_kernel_means_invariants),
    T(test_kernel_constant_values_give_exact_means),
    T(test_kernel_huge_values_stay_finite),
    T(test_kernel_pairs_and_singles_agree_in_distribution),
    T(test_kernel_pair_eligibility_and_table),
    T(test_kernel_draws),
    T(test_kernel_single_draw_loop_keeps_the_bits),
    T(test_kernel_single_draw_values_pinned),
    T(test_pool_results_equal_serial),
    T(test_pool_long_parts_any_order),
    T(test_pool_failing_workers),
    T(test_pool_release_mid_run),
    T(test_convolve_matches_direct_long_double),
    T(test_convolve_chapter_shape),
    T(test_convolve_symmetric_input_gives_symmetric_output),
    T(test_convolve_sample_size_one_returns_input),
    T(test_convolve_moments_at_large_sizes),
    T(test_convolve_limits_and_statuses),
    T(test_convolve_lattice_pmf),
    T(test_convolve_binomial_at_large_sizes),
    T(test_pool_helper_death_and_idle_stop),
    T(test_summary_group_sums),
    T(test_summary_means_const_matches_selection_and_sort),
    T(test_group_build_refusals),
    T(test_memory_queries),
    T(test_fuzz_regressions),
};

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(name, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int passed = 0, failed = 0;
  const double t0 = ctest_now();
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    if (!selected(tests[i].name, argc, argv)) continue;
    current_test = tests[i].name;
    ctest_failures = 0;
    printf("%-56s", tests[i].name);
    fflush(stdout);
    const double t = ctest_now();
    tests[i].fn();
    if (ctest_failures == 0) {
      passed++;
      printf(" ok (%.2f s)\n", ctest_now() - t);
    } else {
      failed++;
      printf("  FAILED %s (%d checks, %.2f s)\n", tests[i].name, ctest_failures,
             ctest_now() - t);
    }
  }
  printf("ctest: %.1f s\n", ctest_now() - t0);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
