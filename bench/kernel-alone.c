/*
 * The engine's kernel alone, per replicate: bench/exact.R compiles this
 * with R's compiler and flags against the package's own src/ modules and
 * runs it on the chapter's groups, so that what a replicate costs the CPU
 * in kernel_means_block is measured apart from what every call also pays
 * (building the job, the output's memory: page faults of fresh pages and
 * the copy into R). The output buffer is written once before timing and
 * reused, so no page is faulted while the clock runs.
 *
 *   kernel-alone FILE SAMPLE_SIZE N_MEANS ROUNDS
 *
 * FILE: doubles, n_groups, then for each group k, its k values and its k
 * weights. Prints one line per round: CPU seconds for all blocks of the job
 * (seed = round), then the checksum of the last round's means (so that the
 * work cannot be optimised away, and the caller can check it ran).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alias.h"
#include "group.h"
#include "kernel.h"

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int read_doubles(FILE *f, double *x, size_t n) {
  return fread(x, sizeof(double), n, f) == n;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: kernel-alone FILE SAMPLE_SIZE N_MEANS ROUNDS\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  const int64_t ss = atoll(argv[2]), n_means = atoll(argv[3]);
  const int rounds = atoi(argv[4]);
  double d;
  if (!f || !read_doubles(f, &d, 1) || d < 1 || ss < 1 || n_means < 1 || rounds < 1) {
    fprintf(stderr, "kernel-alone: bad input\n");
    return 2;
  }
  const int64_t n_groups = (int64_t)d;
  kernel_group *groups = calloc((size_t)n_groups, sizeof(kernel_group));
  if (!groups) return 3;
  for (int64_t g = 0; g < n_groups; g++) {
    if (!read_doubles(f, &d, 1) || d < 1) return 2;
    const int64_t k = (int64_t)d;
    double *x = malloc((size_t)k * sizeof(double)), *w = malloc((size_t)k * sizeof(double));
    if (!x || !w) return 3;
    if (!read_doubles(f, x, (size_t)k) || !read_doubles(f, w, (size_t)k)) return 2;
    /* as src/api.c builds a group: pairs when kernel_pair_eligible says so */
    const int paired = kernel_pair_eligible(k, w);
    kernel_cell *cells = malloc((size_t)group_n_cells(k, paired) * sizeof(kernel_cell));
    alias_status s;
    if (!cells || group_build(cells, x, w, k, paired, NULL, &s) != 0) return 3;
    groups[g].k = k;
    groups[g].cells = cells;
    groups[g].k2 = paired ? k * k : 0;
    groups[g].cells2 = paired ? cells + k : NULL;
    free(x);
    free(w);
  }
  fclose(f);
  kernel_means_job job;
  memset(&job, 0, sizeof(job));
  job.n_groups = n_groups;
  job.groups = groups;
  job.n_means = n_means;
  job.sample_size = ss;
  if (kernel_means_parts(ss) > 0) {
    fprintf(stderr, "kernel-alone: sample sizes above %lld are not measured here\n",
            (long long)KERNEL_LONG_MIN);
    return 2;
  }
  job.out = malloc((size_t)(n_groups * n_means) * sizeof(double));
  if (!job.out) return 3;
  memset(job.out, 0, (size_t)(n_groups * n_means) * sizeof(double)); /* faulted now */
  const int64_t n_blocks = kernel_means_n_blocks(&job);
  for (int r = 0; r <= rounds; r++) { /* round 0 warms the caches up, untimed */
    job.seed = (uint64_t)r;
    const double t0 = cpu_seconds();
    for (int64_t b = 0; b < n_blocks; b++) kernel_means_block(&job, b);
    const double t = cpu_seconds() - t0;
    if (r > 0) printf("%.9f\n", t);
  }
  double sum = 0;
  for (int64_t i = 0; i < n_groups * n_means; i++) sum += job.out[i];
  printf("%.17g\n", sum);
  return 0;
}
