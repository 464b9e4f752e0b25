/*
 * summary: what R is given instead of the draws. summary_means reduces each
 * group's bootstrap means to mean, sd and two quantiles (long double sums,
 * selection instead of a sort); summary_group_sums sums values by dense
 * group id for aggregate_filesizes(). Pure C: no R headers, no allocation
 * (the caller passes scratch), no state; safe in any process.
 */
#ifndef BOOTSCALE_SUMMARY_H
#define BOOTSCALE_SUMMARY_H

#include <stdint.h>

/* Summary of each group's means, in place of R code that would copy them:
 * for group g of x[g * n .. g * n + n - 1], out[4 * g + 0..3] = mean (long
 * double accumulation), standard deviation (two-pass, NaN when n < 2) and the
 * type-7 quantiles at probabilities lo and hi (as R's quantile() defines
 * them). scratch holds n doubles; x is not modified, unless n_groups is 1
 * and scratch is x: then the selection reorders x in place. */
void summary_means(const double *x, int64_t n, int64_t n_groups, double lo, double hi,
                   double *scratch, double *out);

/* The same summary of one group x[0..n) (out[0..3]) without a scratch copy
 * and without moving x: the order statistics are found by counting, in
 * four or five passes over x per quantile. hist holds 65536 counters. Same
 * bits as summary_means (up to the sign of a zero quantile). */
void summary_means_const(const double *x, int64_t n, double lo, double hi, uint64_t *hist,
                         double *out);

/* Whether x is R's NA (a NaN with R's payload) rather than another NaN. */
int summary_is_na(double x);

/* out[j] = the sum of x[i] over id[i] == j + 1 (ids 1..n_groups), one pass,
 * long double accumulators acc[n_groups] and flags na[n_groups] supplied by
 * the caller. As R's sum(): a group holding NA gives na_value, else one
 * holding another NaN gives nan_value. Returns 0, or -1 at the first id out
 * of range (out is then not written). */
int summary_group_sums(const double *x, const int *id, int64_t len, int64_t n_groups,
                       long double *acc, unsigned char *na, double na_value, double nan_value,
                       double *out);

#endif
