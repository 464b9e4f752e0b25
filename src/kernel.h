/*
 * kernel: fused draw-and-reduce loops over alias tables.
 *
 * kernel_means_block computes bootstrap means: each replicate draws
 * sample_size values and keeps only their mean (accumulated in long
 * double), so memory is O(n_means), never O(sample_size * n_means).
 * kernel_draws_block writes raw draws (1-based category indices) for
 * weighted sampling.
 *
 * Work is cut into blocks of a fixed size that depends on nothing but the
 * job's shape; block b always uses the random streams keyed by
 * (seed, group, block within group). Any assignment of blocks to workers,
 * in any order, gives the same bits. Pure C: no R headers, no allocation;
 * a block writes only its own slice of `out`, so blocks may run in separate
 * processes that share `out`.
 */
#ifndef BOOTSCALE_KERNEL_H
#define BOOTSCALE_KERNEL_H

#include <stdint.h>

#include "alias.h"

/* Means per block and draws per block: part of the results' definition.
 * Changing either changes every result for a given seed. */
#define KERNEL_BLOCK_MEANS INT64_C(1024)
#define KERNEL_BLOCK_DRAWS INT64_C(65536)

/* Pairs: with K categories, drawing the cell (i, j) of a K x K table with
 * weight w_i * w_j is exactly two independent draws, and costs one. Used
 * when the K^2 cells stay in cache. */
#define KERNEL_PAIR_MAX_K INT64_C(64)

/* One alias column with its two candidate values, so that a draw touches
 * one cache line and picks a value by indexing with the comparison: an
 * address computation instead of an unpredictable branch. */
typedef struct {
  uint64_t threshold;
  double value[2]; /* [0] the column's own value, [1] its alias's */
} kernel_cell;

typedef struct {
  int64_t k;                  /* categories */
  const kernel_cell *cells;   /* k cells */
  int64_t k2;                 /* k * k when pairs are used, else 0 */
  const kernel_cell *cells2;  /* k2 cells over pair sums x_i + x_j */
} kernel_group;

typedef struct {
  int64_t n_groups;
  const kernel_group *groups;
  int64_t n_means;            /* per group */
  int64_t sample_size;
  uint64_t seed;
  double *out;                /* n_groups * n_means, group after group */
} kernel_means_job;

typedef struct {
  const alias_table *table;
  int64_t size;
  uint64_t seed;
  int32_t *out;               /* size 1-based category indices */
} kernel_draws_job;

/* Cells from a built table and the categories' values. */
void kernel_cells_fill(const alias_table *t, const double *x, kernel_cell *cells);

/* Whether k categories with weights w get a pair table: k small enough and
 * no positive weight so small against the largest that its square would
 * underflow. */
int kernel_pair_eligible(int64_t k, const double *w);
/* The k * k pair weights (w_i / wmax) * (w_j / wmax) and pair sums. */
void kernel_pair_fill(int64_t k, const double *w, const double *x,
                      double *w2, double *x2);

int64_t kernel_means_n_blocks(const kernel_means_job *job);
void kernel_means_block(const kernel_means_job *job, int64_t block);

int64_t kernel_draws_n_blocks(const kernel_draws_job *job);
void kernel_draws_block(const kernel_draws_job *job, int64_t block);

#endif

/* Summary of each group's means, in place of R code that would copy them:
 * for group g of x[g * n .. g * n + n - 1], out[4 * g + 0..3] = mean (long
 * double accumulation), standard deviation (two-pass, NaN when n < 2) and the
 * type-7 quantiles at probabilities lo and hi (as R's quantile() defines
 * them). scratch holds n doubles; x is not modified. */
void kernel_summary(const double *x, int64_t n, int64_t n_groups, double lo, double hi,
                    double *scratch, double *out);
