/* pool: the fork server without R. The helper executable (built beside this
 * driver from the same sources, CTEST_HELPER) computes what the kernel
 * computes in process; failing workers become POOL_FAILED with a
 * description; a released run stops at once and leaves the pool usable;
 * a dead helper is noticed; and nothing is left behind: no child, no
 * descriptor. Long replicates in parts give the same bits in any order. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/kernel.h"
#include "../../src/pool.h"
#include "check.h"
#include "kgroup.h"

#ifndef CTEST_HELPER
#define CTEST_HELPER "build/bootscale-pool"
#endif

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

/* No child of this process is left, running or zombie. */
static int no_children(void) {
  errno = 0;
  const pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

/* A means job big enough for several blocks per worker. */
typedef struct {
  kgroup g[2];
  kernel_group grp[2];
  kernel_means_job job;
  double x[2][40], w[2][40];
} pjob;

static int pjob_make(pjob *m, int64_t n_means, int64_t ss) {
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
  m->job.sample_size = ss;
  m->job.seed = 4242;
  return 1;
}

static void pjob_free(pjob *m) {
  kgroup_free(&m->g[0]);
  kgroup_free(&m->g[1]);
}

/* pjob_make, or a failed check (and nothing left allocated). */
static int pjob_ready(pjob *m, int64_t n_means, int64_t ss) {
  if (pjob_make(m, n_means, ss)) return 1;
  CHECK(0, "building the job failed");
  pjob_free(m);
  return 0;
}

/* A run of the whole job as src/api.c lays it out: head, group records,
 * cells, marks, output, partial sums. */
typedef struct {
  pool_run run;
  kernel_group groups[2];
  kernel_means_job means;
  alias_table table;
  kernel_draws_job draws;
  size_t off_out;
} prun;

static int prun_make(prun *p, const pjob *m, int hook, int64_t hook_block,
                     double hook_seconds) {
  memset(p, 0, sizeof(*p));
  const int64_t nb = kernel_means_n_blocks(&m->job);
  const size_t off_groups = pool_head_bytes();
  size_t at = pool_round64(off_groups + 2 * sizeof(pool_job_group));
  size_t cells[2], cells2[2];
  for (int g = 0; g < 2; g++) {
    cells[g] = at;
    at = pool_round64(at + (size_t)m->grp[g].k * sizeof(kernel_cell));
    cells2[g] = at;
    at = pool_round64(at + (size_t)m->grp[g].k2 * sizeof(kernel_cell));
  }
  /* the mapping's layout as the package makes it (src/pool.c): its size
   * first, then its offsets into the mapping's own head */
  const size_t out_bytes = (size_t)(2 * m->job.n_means) * sizeof(double);
  pool_job_head scratch;
  const size_t bytes = pool_job_layout(&scratch, at, nb, 2, out_bytes, 1);
  if (pool_run_map(&p->run, bytes, "/tmp") != 0) return 0;
  char *base = (char *)p->run.map;
  pool_job_head *h = p->run.head;
  pool_job_layout(h, at, nb, 2, out_bytes, 1);
  pool_job_group *pg = (pool_job_group *)(base + off_groups);
  for (int g = 0; g < 2; g++) {
    pg[g].k = m->grp[g].k;
    pg[g].k2 = m->grp[g].k2;
    pg[g].cells = cells[g];
    pg[g].cells2 = cells2[g];
    memcpy(base + cells[g], m->grp[g].cells, (size_t)m->grp[g].k * sizeof(kernel_cell));
    if (m->grp[g].k2)
      memcpy(base + cells2[g], m->grp[g].cells2, (size_t)m->grp[g].k2 * sizeof(kernel_cell));
  }
  h->magic = POOL_JOB_MAGIC;
  h->bytes = p->run.bytes;
  h->kind = POOL_JOB_MEANS;
  h->hook_action = hook;
  h->hook_block = hook_block;
  h->hook_seconds = hook_seconds;
  h->n_groups = 2;
  h->n_means = m->job.n_means;
  h->sample_size = m->job.sample_size;
  h->seed = m->job.seed;
  h->first = 0;
  h->end = nb;
  h->next = 0;
  h->groups = off_groups;
  p->off_out = h->out;
  p->run.self_work = hook == POOL_HOOK_NONE;
  return pool_job_bind(base, p->groups, &p->means, &p->table, &p->draws) == 0;
}

static void prun_block(void *ctx, int64_t b) {
  prun *p = (prun *)ctx;
  pool_job_block(p->run.head, &p->means, &p->draws, b);
}

static pool_state drive(pool_client *c, prun *p, double deadline_s) {
  const double end = ctest_now() + deadline_s;
  pool_state st;
  while ((st = pool_run_step(c, &p->run, prun_block, p, 5, 50)) == POOL_RUNNING &&
         ctest_now() < end) {
  }
  if (st == POOL_DONE && kernel_means_parts(p->means.sample_size) > 1)
    kernel_means_reduce(&p->means, 0, 2 * p->means.n_means, p->means.out);
  return st;
}

/* The run's output (the two groups' means) equals the serial results. */
static int same_as_serial(const prun *p, const pjob *m, const double *serial) {
  return serial && memcmp((const char *)p->run.map + p->off_out, serial,
                          (size_t)(2 * m->job.n_means) * sizeof(double)) == 0;
}

/* Nothing left behind: no child, no descriptor more than `fds`. */
#define CHECK_CLEAN(fds)                                                               \
  do {                                                                                 \
    CHECK(no_children(), "children left");                                             \
    CHECK(open_fds() == (fds), "descriptors: %d before, %d after", (fds), open_fds()); \
  } while (0)

static double *serial_means(pjob *m) {
  const int64_t n = 2 * m->job.n_means;
  double *out = malloc((size_t)n * sizeof(double));
  const int64_t nb = kernel_means_n_blocks(&m->job);
  long double *partials = malloc((size_t)nb * sizeof(long double));
  if (!out || !partials) {
    free(out);
    free(partials);
    return NULL;
  }
  m->job.out = out;
  m->job.partials = partials;
  for (int64_t b = 0; b < nb; b++) kernel_means_block(&m->job, b);
  if (kernel_means_parts(m->job.sample_size) > 1) kernel_means_reduce(&m->job, 0, n, out);
  free(partials);
  m->job.partials = NULL;
  return out;
}

CTEST(test_pool_results_equal_serial) {
  const int fds = open_fds();
  const int64_t shapes[][2] = {{10 * KERNEL_BLOCK_MEANS + 77, 25}, {3, 9000001}, {5, 70001}};
  for (int s = 0; s < 3; s++) {
    pjob m;
    if (!pjob_ready(&m, shapes[s][0], shapes[s][1])) return;
    double *serial = serial_means(&m);
    CHECK(serial != NULL, "malloc");
    for (int workers = 2; workers <= 3 && serial; workers++) {
      pool_client c;
      const int err = pool_client_start(&c, CTEST_HELPER, workers, 0);
      CHECK(err == 0, "start: %s", c.failure);
      if (err) break;
      CHECK(pool_client_alive(&c), "the pool is not alive after its start");
      /* with this process pulling blocks too, and with the workers alone */
      for (int self = 1; self >= 0; self--) {
        prun p;
        CHECK(prun_make(&p, &m, self ? POOL_HOOK_NONE : POOL_HOOK_SLEEP, -1, 0), "map");
        CHECK(pool_run_send(&c, &p.run, workers - 1) == 0, "send: %s", p.run.failure);
        const pool_state st = drive(&c, &p, 30);
        CHECK(st == POOL_DONE, "shape %d, %d workers, self %d: state %d (%s)", s, workers,
              self, (int)st, p.run.failure);
        if (st == POOL_DONE)
          CHECK(same_as_serial(&p, &m, serial),
                "shape %d, %d workers, self %d: results differ from serial", s, workers, self);
        pool_run_release(&c, &p.run);
      }
      pool_client_stop(&c);
    }
    free(serial);
    pjob_free(&m);
  }
  CHECK_CLEAN(fds);
}

CTEST(test_pool_long_parts_any_order) {
  pjob m;
  if (!pjob_ready(&m, 3, 3 * KERNEL_PART_DRAWS + 5)) return;
  CHECK(kernel_means_parts(m.job.sample_size) == 4, "parts");
  CHECK(kernel_means_parts(KERNEL_LONG_MIN) == 0, "classic layout up to KERNEL_LONG_MIN");
  CHECK(kernel_means_parts(KERNEL_LONG_MIN + 1) == 1, "one part above it");
  CHECK(kernel_means_n_blocks(&m.job) == 2 * 3 * 4, "blocks");
  CHECK(kernel_means_n_units(&m.job) == 6, "units");
  double *fwd = serial_means(&m);
  const int64_t nb = kernel_means_n_blocks(&m.job);
  double rev[6];
  long double partials[24];
  m.job.out = rev;
  m.job.partials = partials;
  for (int64_t b = nb - 1; b >= 0; b--) kernel_means_block(&m.job, b);
  kernel_means_reduce(&m.job, 0, 6, rev);
  CHECK(fwd && memcmp(fwd, rev, sizeof(rev)) == 0, "parts in reverse order change the bits");
  /* plausible means: values 0..39 (group 0) and 1..40 (group 1) */
  for (int i = 0; fwd && i < 6; i++)
    CHECK(fwd[i] > 0 && fwd[i] < 41, "mean %d is %g", i, fwd[i]);
  free(fwd);
  pjob_free(&m);
}

CTEST(test_pool_failing_workers) {
  const int fds = open_fds();
  pjob m;
  if (!pjob_ready(&m, 6 * KERNEL_BLOCK_MEANS, 25)) return;
  const struct {
    int hook;
    const char *want;
  } cases[] = {{POOL_HOOK_SEGV, "killed by signal 11"},
               {POOL_HOOK_KILL, "killed by signal 9"},
               {POOL_HOOK_EXIT3, "exited with status 3"},
               {POOL_HOOK_EXIT0, "without completing"}};
  for (int i = 0; i < 4; i++) {
    pool_client c;
    if (pool_client_start(&c, CTEST_HELPER, 2, 0) != 0) {
      CHECK(0, "start: %s", c.failure);
      break;
    }
    prun p;
    CHECK(prun_make(&p, &m, cases[i].hook, 2, 0), "map");
    CHECK(pool_run_send(&c, &p.run, 1) == 0, "send");
    const pool_state st = drive(&c, &p, 20);
    CHECK(st == POOL_FAILED, "hook %d: state %d", cases[i].hook, (int)st);
    CHECK(strstr(p.run.failure, cases[i].want) != NULL, "hook %d: failure '%s'", cases[i].hook,
          p.run.failure);
    CHECK(strstr(p.run.failure, "worker 1 (pid ") != NULL, "names the worker: '%s'",
          p.run.failure);
    CHECK(!pool_client_alive(&c), "a pool with a dead worker is not alive");
    pool_run_release(&c, &p.run);
    pool_client_stop(&c);
  }
  pjob_free(&m);
  CHECK_CLEAN(fds);
}

CTEST(test_pool_release_mid_run) {
  const int fds = open_fds();
  pjob m;
  if (!pjob_ready(&m, 6 * KERNEL_BLOCK_MEANS, 25)) return;
  double *serial = serial_means(&m);
  pool_client c;
  if (pool_client_start(&c, CTEST_HELPER, 2, 0) != 0) {
    CHECK(0, "start: %s", c.failure);
    free(serial);
    pjob_free(&m);
    return;
  }
  /* the worker sleeps a second in block 0; the run is released meanwhile */
  prun p;
  CHECK(prun_make(&p, &m, POOL_HOOK_SLEEP, 0, 1.0), "map");
  CHECK(pool_run_send(&c, &p.run, 1) == 0, "send");
  CHECK(pool_run_step(&c, &p.run, prun_block, &p, 5, 50) == POOL_RUNNING, "still running");
  const double t0 = ctest_now();
  pool_run_release(&c, &p.run);
  CHECK(ctest_now() - t0 < 0.05, "release took %.3f s", ctest_now() - t0);
  CHECK(pool_client_alive(&c), "the pool survives a released run");
  /* the next run completes (this process does the blocks the busy worker
   * cannot) and is right */
  CHECK(prun_make(&p, &m, POOL_HOOK_NONE, -1, 0), "map");
  CHECK(pool_run_send(&c, &p.run, 1) == 0, "send");
  CHECK(drive(&c, &p, 20) == POOL_DONE, "the next run: %s", p.run.failure);
  CHECK(same_as_serial(&p, &m, serial), "the next run's results differ");
  pool_run_release(&c, &p.run);
  pool_client_stop(&c);
  free(serial);
  pjob_free(&m);
  CHECK_CLEAN(fds);
}

CTEST(test_pool_helper_death_and_idle_stop) {
  const int fds = open_fds();
  pool_client c;
  if (pool_client_start(&c, CTEST_HELPER, 3, 0) != 0) {
    CHECK(0, "start: %s", c.failure);
    return;
  }
  const pid_t w0 = c.pid[0];
  kill(c.helper, SIGKILL);
  double end = ctest_now() + 5;
  while (pool_client_alive(&c) && ctest_now() < end) {
  }
  CHECK(!pool_client_alive(&c), "a killed helper goes unnoticed");
  pool_client_stop(&c);
  /* its workers die with it (PR_SET_PDEATHSIG, or their parent checks) */
  end = ctest_now() + 3;
  while (kill(w0, 0) == 0 && ctest_now() < end) {
  }
  CHECK(kill(w0, 0) == -1, "a worker outlived its helper");
  /* idle stop: the helper leaves after its idle time */
  if (pool_client_start(&c, CTEST_HELPER, 2, 0.2) != 0) {
    CHECK(0, "start: %s", c.failure);
    return;
  }
  end = ctest_now() + 5;
  while (pool_client_alive(&c) && ctest_now() < end) {
  }
  CHECK(!pool_client_alive(&c), "the idle pool did not stop");
  pool_client_stop(&c);
  CHECK_CLEAN(fds);
}
