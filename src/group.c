#include "group.h"

#include <stdlib.h>
#include <string.h>

int64_t group_n_cells(int64_t k, int paired) { return k + (paired ? k * k : 0); }

void group_tables_free(group_tables *keep) {
  free(keep->mem_single);
  free(keep->mem_pair);
  memset(keep, 0, sizeof(*keep));
}

int group_build(kernel_cell *cells, const double *x, const double *w, int64_t k, int paired,
                group_tables *keep, alias_status *status) {
  const int64_t k2 = paired ? k * k : 0;
  const int64_t kmax = paired ? k2 : k;
  group_tables own;
  group_tables *tabs = keep ? keep : &own;
  memset(tabs, 0, sizeof(*tabs));
  /* Without keep, one buffer serves both tables in turn. */
  tabs->mem_single = malloc(alias_table_bytes(keep ? k : kmax));
  if (keep && paired) tabs->mem_pair = malloc(alias_table_bytes(k2));
  int32_t *work = (int32_t *)malloc((size_t)kmax * sizeof(int32_t));
  long double *q = (long double *)malloc((size_t)kmax * sizeof(long double));
  double *w2 = paired ? (double *)malloc((size_t)k2 * 2 * sizeof(double)) : NULL;
  int rc = -1;
  *status = ALIAS_OK;
  if (!tabs->mem_single || (keep && paired && !tabs->mem_pair) || !work || !q ||
      (paired && !w2))
    goto out;
  rc = 1;
  alias_init(&tabs->single, k, tabs->mem_single);
  *status = alias_build_q(&tabs->single, w, work, q);
  if (*status != ALIAS_OK) goto out;
  kernel_cells_fill(&tabs->single, x, cells);
  if (paired) {
    double *x2 = w2 + k2;
    kernel_pair_fill(k, w, x, w2, x2);
    alias_init(&tabs->pair, k2, keep ? tabs->mem_pair : tabs->mem_single);
    *status = alias_build_q(&tabs->pair, w2, work, q);
    if (*status != ALIAS_OK) goto out;
    kernel_cells_fill(&tabs->pair, x2, cells + k);
  }
  rc = 0;
out:
  free(work);
  free(q);
  free(w2);
  if (!keep || rc != 0) group_tables_free(tabs);
  return rc;
}
