#include "kgroup.h"

#include <stdlib.h>
#include <string.h>

int kgroup_build(kgroup *g, const double *x, const double *w, int64_t k, int pairs) {
  memset(g, 0, sizeof(*g));
  g->k = k;
  g->x = x;
  g->status = ALIAS_OK;
  const int paired = pairs == KGROUP_AS_API && kernel_pair_eligible(k, w);
  const int64_t k2 = paired ? k * k : 0;
  int32_t *work = malloc((size_t)(paired ? k2 : k) * sizeof(int32_t));
  g->mem1 = malloc(alias_table_bytes(k));
  g->cells = malloc((size_t)(k + k2) * sizeof(kernel_cell));
  if (!work || !g->mem1 || !g->cells) goto oom;
  alias_init(&g->t1, k, g->mem1);
  g->status = alias_build(&g->t1, w, work);
  if (g->status != ALIAS_OK) {
    free(work);
    return 1;
  }
  kernel_cells_fill(&g->t1, x, g->cells);
  g->grp.k = k;
  g->grp.cells = g->cells;
  if (paired) {
    double *w2 = malloc((size_t)k2 * 2 * sizeof(double));
    g->mem2 = malloc(alias_table_bytes(k2));
    if (!w2 || !g->mem2) {
      free(w2);
      goto oom;
    }
    double *x2 = w2 + k2;
    kernel_pair_fill(k, w, x, w2, x2);
    alias_init(&g->t2, k2, g->mem2);
    g->status = alias_build(&g->t2, w2, work);
    if (g->status == ALIAS_OK) {
      kernel_cells_fill(&g->t2, x2, g->cells + k);
      g->grp.k2 = k2;
      g->grp.cells2 = g->cells + k;
    }
    free(w2);
    if (g->status != ALIAS_OK) {
      free(work);
      return 1;
    }
  }
  free(work);
  return 0;
oom:
  free(work);
  return -1;
}

void kgroup_free(kgroup *g) {
  free(g->mem1);
  free(g->mem2);
  free(g->cells);
  memset(g, 0, sizeof(*g));
}
