/*
 * A tiny test harness for the pure C modules: no framework, no R.
 *
 * A test is a void function registered in main.c. CHECK() records a failure
 * (with file, line and a message) and lets the test go on, so one run shows
 * every broken expectation; a test passes when none of its checks failed.
 * Sanitizer reports abort the whole run (-fno-sanitize-recover=all), which
 * the Makefile turns into a failed `make ctest`.
 */
#ifndef BOOTSCALE_CTEST_CHECK_H
#define BOOTSCALE_CTEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

extern int ctest_failures; /* failed checks in the current test */

void ctest_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) ctest_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define CHECK_EQ_U64(got, want)                                                 \
  do {                                                                          \
    const uint64_t got_ = (got), want_ = (want);                                \
    if (got_ != want_)                                                          \
      ctest_fail(__FILE__, __LINE__, "%s: got 0x%016llx, want 0x%016llx", #got, \
                 (unsigned long long)got_, (unsigned long long)want_);          \
  } while (0)

/* Deterministic input generator for the tests themselves (SplitMix64 written
 * out again here, so that test inputs do not depend on the code under test). */
static inline uint64_t tgen_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}
static inline double tgen_unif(uint64_t *s) {
  return (double)(tgen_next(s) >> 11) * 0x1.0p-53;
}

/* Seconds on a monotonic clock. */
double ctest_now(void);

/* Chi-square statistic of observed counts against expected probabilities,
 * pooling cells with an expected count under 5; *df gets the degrees of
 * freedom. Upper critical value at about p = 1e-6 (Wilson-Hilferty). */
double ctest_chisq(const double *observed, const double *prob, int64_t cells, double total,
                   int *df);
double ctest_chisq_critical(int df);

/* Tests, one function each (see main.c for the list). */
#define CTEST(name) void name(void)

#endif
