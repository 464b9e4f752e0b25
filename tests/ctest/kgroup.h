/*
 * kgroup: one kernel group built by src/group.c's group_build (the code
 * the package runs), in malloc'ed cells, keeping the alias tables so that
 * tests can re-derive every draw. Shared by the ctest driver and the fuzz
 * harness; kgroup_free releases it all.
 */
#ifndef BOOTSCALE_CTEST_KGROUP_H
#define BOOTSCALE_CTEST_KGROUP_H

#include "../../src/alias.h"
#include "../../src/group.h"
#include "../../src/kernel.h"

typedef struct {
  kernel_group grp; /* what the kernel sees */
  int64_t k;
  const double *x;    /* the caller's values (not copied) */
  alias_table t1, t2; /* single and pair tables (t2.k == 0 without pairs) */
  group_tables tabs;  /* owns t1's and t2's memory */
  kernel_cell *cells; /* k (+ k * k) cells */
  alias_status status;
} kgroup;

/* Pairs: KGROUP_AS_API follows kernel_pair_eligible, KGROUP_NO_PAIRS never
 * builds the pair table. Returns 0 on success, -1 on allocation failure, or
 * 1 when alias_build refused the weights (g->status says why). */
enum { KGROUP_AS_API = 0, KGROUP_NO_PAIRS = 1 };
int kgroup_build(kgroup *g, const double *x, const double *w, int64_t k, int pairs);
void kgroup_free(kgroup *g);

#endif
