/*
 * kernel: fused draw-and-reduce loops over alias tables.
 *
 * kernel_means_block computes bootstrap means: each replicate draws
 * sample_size values and keeps only their mean (accumulated in long
 * double), so memory is O(n_means), never O(sample_size * n_means). With
 * sample_size 1 (replicates of an exact distribution) a shorter loop
 * writes the value drawn, with the same bits.
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
/* The largest sample size R may ask for (below 2^52: exact in a double). */
#define KERNEL_MAX_SAMPLE_SIZE 4.5e15

/* Long replicates. A block of 1024 replicates of more than 65536 draws each
 * would be over 2^26 draws (a tenth of a second or more): one such block
 * could hold a whole job on one core and out of reach of Ctrl-C. From
 * sample_size > KERNEL_LONG_MIN on, every replicate is a unit of its own,
 * cut into parts of at most KERNEL_PART_DRAWS draws; a part's sum is kept
 * (long double) and a replicate's mean is the sum of its parts in part
 * order, so the bits do not depend on who computed which part. Jobs with
 * sample_size <= KERNEL_LONG_MIN keep the classic layout and their bits. */
#define KERNEL_LONG_MIN INT64_C(65536)
#define KERNEL_PART_DRAWS INT64_C(4194304)

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
  int64_t k;                 /* categories */
  const kernel_cell *cells;  /* k cells */
  int64_t k2;                /* k * k when pairs are used, else 0 */
  const kernel_cell *cells2; /* k2 cells over pair sums x_i + x_j */
} kernel_group;

typedef struct {
  int64_t n_groups;
  const kernel_group *groups;
  int64_t n_means; /* per group */
  int64_t sample_size;
  uint64_t seed;
  double *out; /* n_groups * n_means, group after group */
  /* Long layout with more than one part per replicate only: one sum per
   * block (kernel_means_n_blocks of them); the means are written by
   * kernel_means_reduce. */
  long double *partials;
} kernel_means_job;

typedef struct {
  const alias_table *table;
  int64_t size;
  uint64_t seed;
  int32_t *out; /* size 1-based category indices */
} kernel_draws_job;

/* Cells from a built table and the categories' values. */
void kernel_cells_fill(const alias_table *t, const double *x, kernel_cell *cells);

/* Whether k categories with weights w get a pair table: k small enough and
 * no positive weight so small against the largest that its square would
 * underflow. */
int kernel_pair_eligible(int64_t k, const double *w);
/* The k * k pair weights (w_i / wmax) * (w_j / wmax) and pair sums. */
void kernel_pair_fill(int64_t k, const double *w, const double *x, double *w2, double *x2);

/* Parts per replicate: 0 for the classic layout (blocks of 1024
 * replicates), else >= 1 (one replicate per unit, cut into that many
 * blocks). Depends on sample_size only. */
int64_t kernel_means_parts(int64_t sample_size);
int64_t kernel_means_n_blocks(const kernel_means_job *job);
void kernel_means_block(const kernel_means_job *job, int64_t block);
/* The same block by the general loop whatever the sample size: for tests
 * that kernel_means_block's own loop for sample_size 1 gives the same bits. */
void kernel_means_block_generic(const kernel_means_job *job, int64_t block);
/* Units: the blocks of output, in output order. Classic layout: a unit is a
 * block. Long layout: a unit is one replicate, made of parts blocks. Unit u
 * is blocks [u * bpu, (u + 1) * bpu) and writes out[first .. first + n). */
int64_t kernel_means_n_units(const kernel_means_job *job);
int64_t kernel_means_blocks_per_unit(const kernel_means_job *job);
void kernel_means_unit_span(const kernel_means_job *job, int64_t unit, int64_t *first,
                            int64_t *n);
/* Long layout with parts > 1: the means of units [from, to) from their
 * partial sums, written to out[0 ..) (out points at unit from's mean). */
void kernel_means_reduce(const kernel_means_job *job, int64_t from, int64_t to, double *out);

int64_t kernel_draws_n_blocks(const kernel_draws_job *job);
void kernel_draws_block(const kernel_draws_job *job, int64_t block);

#endif
