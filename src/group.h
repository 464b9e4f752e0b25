/*
 * group: the tables of one group as the kernel sees them. From a group's
 * values and weights, the alias table's cells (kernel_cell) and, when
 * kernel_pair_eligible says so, the k * k pair cells after them. The caller
 * owns the cells (group_n_cells of them), so they can live in a job's arena
 * or in a test's malloc. Pure C: no R headers; scratch is malloc'ed and
 * freed inside, unless the caller keeps the alias tables (tests re-derive
 * every draw from them).
 */
#ifndef BOOTSCALE_GROUP_H
#define BOOTSCALE_GROUP_H

#include <stdint.h>

#include "alias.h"
#include "kernel.h"

/* The alias tables behind the cells, kept for tests: single and pair
 * (pair.k == 0 without pairs); free with group_tables_free. */
typedef struct {
  alias_table single, pair;
  void *mem_single, *mem_pair;
} group_tables;

/* Cells of a group of k categories: k, plus k * k with pairs. */
int64_t group_n_cells(int64_t k, int paired);

/* Fills cells[0 .. group_n_cells(k, paired)) from x and w (k each); paired
 * as kernel_pair_eligible(k, w) decides, or 0 to never use pairs. With keep
 * non-NULL the alias tables are built in memory of their own and left in
 * *keep. Returns 0; -1 when memory ran out; 1 when alias_build refused the
 * weights (*status says why). Nothing is left allocated on failure. */
int group_build(kernel_cell *cells, const double *x, const double *w, int64_t k, int paired,
                group_tables *keep, alias_status *status);
void group_tables_free(group_tables *keep);

#endif
