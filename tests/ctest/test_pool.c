/* pool: forked results equal serial ones; failing workers become
 * POOL_FAILED with a description, and nothing is left behind: no child, no
 * pipe, no mapping. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/kernel.h"
#include "../../src/pool.h"
#include "check.h"
#include "kgroup.h"

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

/* Whether [start, start + bytes) is still one of this process's mappings. */
static int is_mapped(void *start) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[512];
  int found = 0;
  const unsigned long want = (unsigned long)start;
  while (fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && want >= lo && want < hi) found = 1;
  }
  fclose(f);
  return found;
}

/* No child of this process is left, running or zombie. */
static int no_children(void) {
  errno = 0;
  const pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

/* Drives a pool to the end (or a deadline), as api.c + R/pool.R do. */
static pool_state drive(pool_t *p, double deadline_s) {
  const double end = ctest_now() + deadline_s;
  pool_state st;
  while ((st = pool_wait(p, 50)) == POOL_RUNNING && ctest_now() < end) {
  }
  return st;
}

/* A means job big enough for several blocks per worker. */
typedef struct {
  kgroup g[2];
  kernel_group grp[2];
  kernel_means_job job;
  double x[2][40], w[2][40];
} pjob;

static int pjob_make(pjob *m, int64_t n_means) {
  memset(m, 0, sizeof(*m));
  uint64_t s = 8;
  for (int g = 0; g < 2; g++)
    for (int i = 0; i < 40; i++) {
      m->x[g][i] = i + g;
      m->w[g][i] = tgen_unif(&s);
    }
  /* group 0 uses pairs (k = 40), group 1 does not (forced) */
  if (kgroup_build(&m->g[0], m->x[0], m->w[0], 40, KGROUP_AS_API) != 0) return 0;
  if (kgroup_build(&m->g[1], m->x[1], m->w[1], 40, KGROUP_NO_PAIRS) != 0) return 0;
  m->grp[0] = m->g[0].grp;
  m->grp[1] = m->g[1].grp;
  m->job.n_groups = 2;
  m->job.groups = m->grp;
  m->job.n_means = n_means;
  m->job.sample_size = 25;
  m->job.seed = 4242;
  return 1;
}

static void pjob_free(pjob *m) {
  kgroup_free(&m->g[0]);
  kgroup_free(&m->g[1]);
}

/* The pool's block function: the job's out points into the shared area,
 * which the child sees through its copy of the job. */
static void means_block(const void *ctx, int64_t block) {
  kernel_means_block((const kernel_means_job *)ctx, block);
}

CTEST(test_pool_results_equal_serial) {
  pjob m;
  const int64_t n_means = 10 * KERNEL_BLOCK_MEANS + 77;
  if (!pjob_make(&m, n_means)) {
    CHECK(0, "building the job failed");
    pjob_free(&m);
    return;
  }
  const size_t bytes = (size_t)(2 * n_means) * sizeof(double);
  double *serial = malloc(bytes);
  if (!serial) {
    CHECK(0, "malloc");
    pjob_free(&m);
    return;
  }
  m.job.out = serial;
  const int64_t nb = kernel_means_n_blocks(&m.job);
  for (int64_t b = 0; b < nb; b++) kernel_means_block(&m.job, b);

  const int fds0 = open_fds();
  const int workers[] = {1, 2, 3, 7};
  for (int i = 0; i < 4; i++) {
    pool_t p;
    pool_init(&p);
    CHECK(pool_map(&p, nb, bytes) == 0, "pool_map");
    m.job.out = pool_data(&p);
    CHECK(pool_fork(&p, workers[i], means_block, &m.job, NULL) == 0, "pool_fork %d", workers[i]);
    const pool_state st = drive(&p, 60);
    CHECK(st == POOL_DONE, "%d workers: state %d (%s)", workers[i], (int)st, pool_failure(&p));
    CHECK(pool_progress(&p) == nb, "%d workers: progress %lld of %lld", workers[i],
          (long long)pool_progress(&p), (long long)nb);
    CHECK(memcmp(pool_data(&p), serial, bytes) == 0, "%d workers: results differ from serial",
          workers[i]);
    void *map = p.map;
    pool_release(&p);
    CHECK(no_children(), "%d workers: a child is left", workers[i]);
    CHECK(is_mapped(map) == 0, "%d workers: the mapping is still there", workers[i]);
    CHECK(open_fds() == fds0, "%d workers: %d descriptors open, %d before", workers[i],
          open_fds(), fds0);
  }
  free(serial);
  pjob_free(&m);
}

/* More workers than blocks, and no block at all. */
CTEST(test_pool_edge_sizes) {
  pjob m;
  if (!pjob_make(&m, 3)) {
    CHECK(0, "building the job failed");
    pjob_free(&m);
    return;
  }
  pool_t p;
  pool_init(&p);
  const int64_t nb = kernel_means_n_blocks(&m.job);
  CHECK(nb == 2, "2 groups of 3 means make %lld blocks", (long long)nb);
  CHECK(pool_map(&p, nb, 6 * sizeof(double)) == 0, "pool_map");
  m.job.out = pool_data(&p);
  CHECK(pool_fork(&p, 5, means_block, &m.job, NULL) == 0, "pool_fork");
  CHECK(drive(&p, 60) == POOL_DONE, "5 workers on 2 blocks: %s", pool_failure(&p));
  const double *out = pool_data(&p);
  int bad = 0;
  for (int i = 0; i < 6; i++) bad += !(out[i] >= 0 && out[i] <= 40);
  CHECK(bad == 0, "%d means out of range", bad);
  pool_release(&p);
  CHECK(no_children(), "a child is left");

  pool_init(&p);
  CHECK(pool_map(&p, 0, 0) == 0, "pool_map of nothing");
  CHECK(pool_fork(&p, 2, means_block, &m.job, NULL) == 0, "pool_fork");
  CHECK(drive(&p, 60) == POOL_DONE, "no blocks: %s", pool_failure(&p));
  pool_release(&p);
  pool_release(&p); /* idempotent */
  CHECK(no_children(), "a child is left");

  /* Bad arguments start nothing. */
  pool_init(&p);
  CHECK(pool_fork(&p, 2, means_block, &m.job, NULL) == EINVAL, "fork before map");
  CHECK(pool_map(&p, 1, 8) == 0, "pool_map");
  CHECK(pool_fork(&p, 0, means_block, &m.job, NULL) == EINVAL, "0 workers");
  CHECK(pool_fork(&p, POOL_MAX_WORKERS + 1, means_block, &m.job, NULL) == EINVAL,
        "too many workers");
  pool_release(&p);
  CHECK(no_children(), "a child is left");
  pjob_free(&m);
}

CTEST(test_pool_failing_workers) {
  struct {
    pool_hook_action action;
    const char *name;
    const char *want; /* in the failure description */
  } cases[] = {
      {POOL_HOOK_SEGV, "segv", "killed by signal 11"},
      {POOL_HOOK_KILL, "kill", "killed by signal 9"},
      {POOL_HOOK_EXIT0, "exit0", "exited without completing"},
      {POOL_HOOK_EXIT3, "exit3", "exited with status 3"},
  };
  pjob m;
  const int64_t n_means = 6 * KERNEL_BLOCK_MEANS;
  if (!pjob_make(&m, n_means)) {
    CHECK(0, "building the job failed");
    pjob_free(&m);
    return;
  }
  const int64_t nb = kernel_means_n_blocks(&m.job);
  const size_t bytes = (size_t)(2 * n_means) * sizeof(double);
  const int fds0 = open_fds();
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
    for (int workers = 1; workers <= 3; workers++)
      for (int64_t block = 0; block < nb; block += nb - 1) { /* first and last */
        pool_t p;
        pool_init(&p);
        pool_hook hook = {cases[c].action, block, 0};
        CHECK(pool_map(&p, nb, bytes) == 0, "pool_map");
        m.job.out = pool_data(&p);
        CHECK(pool_fork(&p, workers, means_block, &m.job, &hook) == 0, "pool_fork");
        const pool_state st = drive(&p, 60);
        const char *why = pool_failure(&p);
        CHECK(st == POOL_FAILED, "%s, %d workers, block %lld: state %d", cases[c].name, workers,
              (long long)block, (int)st);
        CHECK(strstr(why, cases[c].want) != NULL, "%s, %d workers, block %lld: failure \"%s\"",
              cases[c].name, workers, (long long)block, why);
        CHECK(strstr(why, "worker") != NULL, "%s: the failure does not say \"worker\": \"%s\"",
              cases[c].name, why);
        /* Failing already reaped every child and closed every pipe... */
        CHECK(no_children(), "%s, %d workers: a child is left after the failure", cases[c].name,
              workers);
        CHECK(open_fds() == fds0, "%s, %d workers: %d descriptors open, %d before",
              cases[c].name, workers, open_fds(), fds0);
        /* ... and pool_release unmaps the region. */
        void *map = p.map;
        pool_release(&p);
        CHECK(is_mapped(map) == 0, "%s, %d workers: the mapping is still there", cases[c].name,
              workers);
        CHECK(pool_wait(&p, 0) == POOL_FAILED, "the state stays FAILED after release");
      }
  pjob_free(&m);
}

/* A worker asleep on a block; releasing the pool mid-run kills and reaps
 * every child at once (the interrupt path). */
CTEST(test_pool_release_mid_run) {
  pjob m;
  const int64_t n_means = 4 * KERNEL_BLOCK_MEANS;
  if (!pjob_make(&m, n_means)) {
    CHECK(0, "building the job failed");
    pjob_free(&m);
    return;
  }
  const int64_t nb = kernel_means_n_blocks(&m.job);
  const int fds0 = open_fds();
  for (int workers = 1; workers <= 3; workers++) {
    pool_t p;
    pool_init(&p);
    pool_hook hook = {POOL_HOOK_SLEEP, 0, 60.0};
    CHECK(pool_map(&p, nb, (size_t)(2 * n_means) * sizeof(double)) == 0, "pool_map");
    m.job.out = pool_data(&p);
    CHECK(pool_fork(&p, workers, means_block, &m.job, &hook) == 0, "pool_fork");
    const double t0 = ctest_now();
    pool_state st = POOL_RUNNING;
    for (int i = 0; i < 4 && st == POOL_RUNNING; i++) st = pool_wait(&p, 50);
    CHECK(st == POOL_RUNNING, "%d workers: state %d while a worker sleeps", workers, (int)st);
    pid_t pids[POOL_MAX_WORKERS];
    for (int i = 0; i < p.workers; i++) pids[i] = p.pid[i];
    const int n = p.workers;
    void *map = p.map;
    pool_release(&p);
    const double took = ctest_now() - t0;
    CHECK(took < 5.0, "%d workers: release took %.1f s", workers, took);
    CHECK(no_children(), "%d workers: a child is left after release", workers);
    for (int i = 0; i < n; i++)
      CHECK(kill(pids[i], 0) == -1 && errno == ESRCH, "worker pid %ld still exists",
            (long)pids[i]);
    CHECK(is_mapped(map) == 0, "%d workers: the mapping is still there", workers);
    CHECK(open_fds() == fds0, "%d workers: %d descriptors open, %d before", workers, open_fds(),
          fds0);
  }
  /* A short sleep still finishes with the right result. */
  pool_t p;
  pool_init(&p);
  pool_hook hook = {POOL_HOOK_SLEEP, 1, 0.2};
  CHECK(pool_map(&p, nb, (size_t)(2 * n_means) * sizeof(double)) == 0, "pool_map");
  m.job.out = pool_data(&p);
  CHECK(pool_fork(&p, 2, means_block, &m.job, &hook) == 0, "pool_fork");
  CHECK(drive(&p, 60) == POOL_DONE, "a short sleep: %s", pool_failure(&p));
  pool_release(&p);
  CHECK(no_children(), "a child is left");
  pjob_free(&m);
}
