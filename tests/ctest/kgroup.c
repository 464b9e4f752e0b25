#include "kgroup.h"

#include <stdlib.h>
#include <string.h>

int kgroup_build(kgroup *g, const double *x, const double *w, int64_t k, int pairs) {
  memset(g, 0, sizeof(*g));
  g->k = k;
  g->x = x;
  const int paired = pairs == KGROUP_AS_API && kernel_pair_eligible(k, w);
  g->cells = malloc((size_t)group_n_cells(k, paired) * sizeof(kernel_cell));
  if (!g->cells) return -1;
  const int rc = group_build(g->cells, x, w, k, paired, &g->tabs, &g->status);
  if (rc != 0) {
    free(g->cells);
    g->cells = NULL;
    return rc;
  }
  g->t1 = g->tabs.single;
  g->t2 = g->tabs.pair;
  g->grp.k = k;
  g->grp.cells = g->cells;
  if (paired) {
    g->grp.k2 = k * k;
    g->grp.cells2 = g->cells + k;
  }
  return 0;
}

void kgroup_free(kgroup *g) {
  group_tables_free(&g->tabs);
  free(g->cells);
  memset(g, 0, sizeof(*g));
}
