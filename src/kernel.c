#include "kernel.h"

#include <math.h>

#include "rng.h"

/* Raw draws use group ids past any means group, so the two kinds of work
 * never share a stream for the same seed. */
#define KERNEL_DRAWS_GROUP UINT64_C(0xffffffff00000000)
/* Long-layout streams use group ids from here on, apart from both. Block key
 * (replicate * parts + part) * 2 + lane: unique while n_means * parts <
 * 2^63, i.e. for any job that could ever finish. */
#define KERNEL_LONG_GROUP UINT64_C(0x8000000000000000)

void kernel_cells_fill(const alias_table *t, const double *x, kernel_cell *cells) {
  for (int64_t i = 0; i < t->k; i++) {
    cells[i].threshold = t->threshold[i];
    cells[i].value[0] = x[i];
    cells[i].value[1] = x[t->alias[i]];
  }
}

int kernel_pair_eligible(int64_t k, const double *w) {
  if (k < 2 || k > KERNEL_PAIR_MAX_K) return 0;
  double wmax = 0.0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > wmax) wmax = w[i];
  if (!(wmax > 0.0)) return 0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > 0.0 && w[i] / wmax < 1e-150) return 0;
  return 1;
}

void kernel_pair_fill(int64_t k, const double *w, const double *x, double *w2, double *x2) {
  double wmax = 0.0;
  for (int64_t i = 0; i < k; i++)
    if (w[i] > wmax) wmax = w[i];
  for (int64_t i = 0; i < k; i++) {
    const double wi = w[i] / wmax;
    for (int64_t j = 0; j < k; j++) {
      w2[i * k + j] = wi * (w[j] / wmax);
      /* Half the pair sum: near DBL_MAX the sum overflows, its half does
       * not. kernel_means_block doubles it back in long double. Halving is
       * exact, so results keep their bits, except for sums under 2^-1021,
       * which may lose 2^-1075. */
      const double s = x[i] + x[j];
      x2[i * k + j] = isfinite(s) ? 0.5 * s : 0.5 * x[i] + 0.5 * x[j];
    }
  }
}

static inline double cell_draw(uint64_t k, const kernel_cell *cells, uint64_t r) {
#if defined(__SIZEOF_INT128__)
  const unsigned __int128 m = (unsigned __int128)r * k;
  const kernel_cell *c = &cells[(uint64_t)(m >> 64)];
  const uint64_t frac = (uint64_t)m;
#else
  const kernel_cell *c = &cells[alias_column(r, k)];
  const uint64_t frac = alias_fraction(r, k);
#endif
  return c->value[frac >= c->threshold];
}

/* How n draws of a group go: with pairs, each step draws two values from
 * the pair table (k2 cells) and an odd n ends with one single draw (tail);
 * without, one draw a step from the k cells. */
typedef struct {
  uint64_t k1, kk;
  const kernel_cell *c1, *cc;
  int64_t steps;
  int paired, tail;
} draw_plan;

static inline draw_plan plan_draws(const kernel_group *grp, int64_t n) {
  draw_plan p;
  p.k1 = (uint64_t)grp->k;
  p.c1 = grp->cells;
  p.paired = grp->k2 > 0;
  p.kk = p.paired ? (uint64_t)grp->k2 : p.k1;
  p.cc = p.paired ? grp->cells2 : p.c1;
  p.steps = p.paired ? n / 2 : n;
  p.tail = p.paired && (n % 2);
  return p;
}

static int64_t blocks_per_group(const kernel_means_job *job) {
  return (job->n_means + KERNEL_BLOCK_MEANS - 1) / KERNEL_BLOCK_MEANS;
}

/* Classic layout: block b is block j of group g, replicates [from, to). */
static inline void classic_block(const kernel_means_job *job, int64_t b, int64_t *g,
                                 int64_t *j, int64_t *from, int64_t *to) {
  const int64_t bpg = blocks_per_group(job);
  *g = b / bpg;
  *j = b % bpg;
  *from = *j * KERNEL_BLOCK_MEANS;
  *to = *from + KERNEL_BLOCK_MEANS;
  if (*to > job->n_means) *to = job->n_means;
}

int64_t kernel_means_parts(int64_t sample_size) {
  if (sample_size <= KERNEL_LONG_MIN) return 0;
  return (sample_size + KERNEL_PART_DRAWS - 1) / KERNEL_PART_DRAWS;
}

int64_t kernel_means_n_blocks(const kernel_means_job *job) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  if (parts) return job->n_groups * job->n_means * parts;
  return job->n_groups * blocks_per_group(job);
}

int64_t kernel_means_n_units(const kernel_means_job *job) {
  if (kernel_means_parts(job->sample_size)) return job->n_groups * job->n_means;
  return kernel_means_n_blocks(job);
}

int64_t kernel_means_blocks_per_unit(const kernel_means_job *job) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  return parts ? parts : 1;
}

void kernel_means_unit_span(const kernel_means_job *job, int64_t unit, int64_t *first,
                            int64_t *n) {
  if (kernel_means_parts(job->sample_size)) {
    *first = unit;
    *n = 1;
    return;
  }
  int64_t g, j, from, to;
  classic_block(job, unit, &g, &j, &from, &to);
  *first = g * job->n_means + from;
  *n = to - from;
}

/* One part of one long replicate: its draws [p * D, min(ss, (p + 1) * D))
 * in two interleaved lanes (two streams, as in the classic layout, so that
 * the generators' dependency chains overlap). The sum of the part's values
 * (pair cells hold half sums: doubled here). */
static long double long_part_sum(const kernel_means_job *job, int64_t block) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  const int64_t r = block / parts, p = block % parts;
  const int64_t g = r / job->n_means;
  const kernel_group *grp = &job->groups[g];
  const int64_t ss = job->sample_size;
  const int64_t d0 = p * KERNEL_PART_DRAWS;
  const int64_t nd = (d0 + KERNEL_PART_DRAWS < ss ? KERNEL_PART_DRAWS : ss - d0);
  const uint64_t key = ((uint64_t)r * (uint64_t)parts + (uint64_t)p) * 2;
  rng_state a = rng_stream(job->seed, KERNEL_LONG_GROUP + (uint64_t)g, key);
  rng_state b = rng_stream(job->seed, KERNEL_LONG_GROUP + (uint64_t)g, key + 1);
  /* KERNEL_PART_DRAWS is even: only the last part can have an odd count. */
  const draw_plan dp = plan_draws(grp, nd);
  const uint64_t k1 = dp.k1, kk = dp.kk;
  const kernel_cell *c1 = dp.c1, *cc = dp.cc;
  const int64_t steps = dp.steps;
  const int paired = dp.paired, tail = dp.tail;
  long double sa = 0.0L, sb = 0.0L;
  int64_t d = 0;
  for (; d + 1 < steps; d += 2) {
    sa += cell_draw(kk, cc, rng_next(&a));
    sb += cell_draw(kk, cc, rng_next(&b));
  }
  if (d < steps) sa += cell_draw(kk, cc, rng_next(&a));
  long double s = sa + sb;
  if (paired) s *= 2.0L;
  if (tail) s += cell_draw(k1, c1, rng_next(&b));
  return s;
}

void kernel_means_reduce(const kernel_means_job *job, int64_t from, int64_t to, double *out) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  const long double inv_ss = 1.0L / (long double)job->sample_size;
  for (int64_t u = from; u < to; u++) {
    const long double *ps = job->partials + u * parts;
    long double s = 0.0L;
    for (int64_t p = 0; p < parts; p++) s += ps[p];
    out[u - from] = (double)(s * inv_ss);
  }
}

/* sample_size == 1 (replicates drawn from an exact distribution): what the
 * loop in kernel_means_block computes then, without its long double. With
 * or without pairs, a replicate is one draw from the single cells on its
 * lane's stream (plan_draws gives steps = 1, or steps = 0 and a tail), and
 * its mean (double)((0.0L + v) * 1.0L) is v + 0.0 in double, to the bit:
 * v itself for any finite v, except that -0.0 becomes +0.0. */
static void means_block_single(const kernel_cell *cells, uint64_t k, rng_state a, rng_state b,
                               double *out, int64_t n) {
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t ra = rng_next(&a), rb = rng_next(&b);
    out[i] = cell_draw(k, cells, ra) + 0.0;
    out[i + 1] = cell_draw(k, cells, rb) + 0.0;
  }
  if (i < n) out[i] = cell_draw(k, cells, rng_next(&a)) + 0.0;
}

/* Replicates go in twos, each of the two with its own stream (lane), so that
 * the two generators' dependency chains overlap in the CPU. A block with an
 * odd count ends with one replicate on lane a. single_ok: whether
 * sample_size 1 may take means_block_single. */
static void means_block(const kernel_means_job *job, int64_t block, int single_ok) {
  const int64_t parts = kernel_means_parts(job->sample_size);
  if (parts == 1) { /* one part: the replicate's mean at once */
    job->out[block] =
        (double)(long_part_sum(job, block) * (1.0L / (long double)job->sample_size));
    return;
  }
  if (parts > 1) {
    job->partials[block] = long_part_sum(job, block);
    return;
  }
  int64_t g, j, from, to;
  classic_block(job, block, &g, &j, &from, &to);

  const kernel_group *grp = &job->groups[g];
  const int64_t ss = job->sample_size;
  const long double inv_ss = 1.0L / (long double)ss;
  double *out = job->out + g * job->n_means;
  rng_state a = rng_stream(job->seed, (uint64_t)g, 2 * (uint64_t)j);
  rng_state b = rng_stream(job->seed, (uint64_t)g, 2 * (uint64_t)j + 1);
  if (ss == 1 && single_ok) {
    means_block_single(grp->cells, (uint64_t)grp->k, a, b, out + from, to - from);
    return;
  }

  const draw_plan dp = plan_draws(grp, ss);
  const uint64_t k1 = dp.k1, kk = dp.kk;
  const kernel_cell *c1 = dp.c1, *cc = dp.cc;
  const int64_t steps = dp.steps;
  const int paired = dp.paired, tail = dp.tail;

  int64_t i = from;
  for (; i + 1 < to; i += 2) {
    long double sa = 0.0L, sb = 0.0L;
    for (int64_t d = 0; d < steps; d++) {
      sa += cell_draw(kk, cc, rng_next(&a));
      sb += cell_draw(kk, cc, rng_next(&b));
    }
    if (paired) { /* pair cells hold half sums */
      sa *= 2.0L;
      sb *= 2.0L;
    }
    if (tail) {
      sa += cell_draw(k1, c1, rng_next(&a));
      sb += cell_draw(k1, c1, rng_next(&b));
    }
    out[i] = (double)(sa * inv_ss);
    out[i + 1] = (double)(sb * inv_ss);
  }
  if (i < to) {
    long double sa = 0.0L;
    for (int64_t d = 0; d < steps; d++) sa += cell_draw(kk, cc, rng_next(&a));
    if (paired) sa *= 2.0L;
    if (tail) sa += cell_draw(k1, c1, rng_next(&a));
    out[i] = (double)(sa * inv_ss);
  }
}

void kernel_means_block(const kernel_means_job *job, int64_t block) {
  means_block(job, block, 1);
}

void kernel_means_block_generic(const kernel_means_job *job, int64_t block) {
  means_block(job, block, 0);
}

int64_t kernel_draws_n_blocks(const kernel_draws_job *job) {
  return (job->size + KERNEL_BLOCK_DRAWS - 1) / KERNEL_BLOCK_DRAWS;
}

void kernel_draws_block(const kernel_draws_job *job, int64_t block) {
  const int64_t from = block * KERNEL_BLOCK_DRAWS;
  int64_t to = from + KERNEL_BLOCK_DRAWS;
  if (to > job->size) to = job->size;
  const alias_table *t = job->table;
  const uint64_t k = (uint64_t)t->k;
  const uint64_t *thr = t->threshold;
  const int32_t *ali = t->alias;
  int32_t *out = job->out;
  rng_state st = rng_stream(job->seed, KERNEL_DRAWS_GROUP, (uint64_t)block);
  for (int64_t i = from; i < to; i++)
    out[i] = (int32_t)(alias_draw_raw(k, thr, ali, rng_next(&st)) + 1);
}
