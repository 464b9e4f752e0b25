/*
 * api: the only file that speaks SEXP. It checks and converts arguments,
 * owns every allocation through an external pointer (so an R error or an
 * interrupt can never leak memory, a mapping or a child: the finalizer and
 * bs_job_release clean up), and hands plain C structs to the pure modules.
 * Argument checks that users can trigger with bad input live in R/checks.R
 * and give classed errors; the checks here guard the C from R-level bugs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <R.h>
#include <R_ext/Rallocators.h>
#include <Rinternals.h>

#include "alias.h"
#include "blas.h"
#include "bootscale.h"
#include "convolve.h"
#include "group.h"
#include "kernel.h"
#include "memory.h"
#include "pool.h"
#include "rng.h"
#include "summary.h"

typedef enum { JOB_MEANS = 1, JOB_DRAWS = 2 } job_kind;

/* A job: its inputs in one arena laid out by offset as the workers see them
 * (pool_job_head, group records, cells or the alias table), built once; and
 * at most one run at a time, in a mapping of its own (shared with the pool,
 * or private for a run in this process) holding a copy of the arena, the
 * done marks, the output and the partial sums. */
typedef struct {
  job_kind kind;
  void *arena;
  size_t arena_bytes;
  int64_t n_groups, paired;
  int64_t n_blocks, n_units, bpu; /* blocks, output units, blocks per unit */
  R_xlen_t out_length;
  size_t elt; /* bytes per result element */
  size_t off_out, off_partials, run_bytes;
  /* the current run, over units [unit_from, unit_to) */
  pool_run run;
  int mapped, complete, processes;
  int direct;     /* the run writes straight into the R vector held by the handle */
  int summarised; /* the run summarised each group in place (pool_job_block) */
  int64_t unit_from, unit_to;
  kernel_group *groups; /* bound to the run's mapping */
  kernel_means_job means;
  alias_table table;
  kernel_draws_job draws;
} bs_job;

static const char *job_tag = "bootscale_job";

/* Bytes of pool runs' mappings that live on as R vectors (bs_job_result).
 * R's collector does not count memory from custom allocators, so it would
 * not run for them: unreferenced results could pile up (2.3 GB after 30
 * calls returning 80 MB, measured). Before another is made, a collection
 * runs when they hold more than mapped_gc_at, which then doubles the live
 * bytes (64 MiB at least): amortised, as R's own heap limit grows. */
static double mapped_live = 0;
static double mapped_gc_at = 64.0 * 1048576;

static void mapped_collect(double more) {
  if (mapped_live + more <= mapped_gc_at) return;
  R_gc();
  const double next = 2 * (mapped_live + more);
  mapped_gc_at = next > 64.0 * 1048576 ? next : 64.0 * 1048576;
}

/* The pool of this R session (see src/pool.h); one per process that
 * started it. */
static pool_client the_pool;
static int the_pool_ready = 0;

static pool_client *session_pool(void) {
  if (!the_pool_ready) {
    pool_client_init(&the_pool);
    the_pool_ready = 1;
  }
  return &the_pool;
}

static void job_end_run(bs_job *job) {
  if (job->mapped) pool_run_release(job->run.shared ? session_pool() : NULL, &job->run);
  job->mapped = 0;
  job->complete = 0;
  job->direct = 0;
  job->summarised = 0;
  free(job->groups);
  job->groups = NULL;
}

static void job_free(bs_job *job) {
  if (!job) return;
  job_end_run(job);
  if (job->arena) memory_arena_free(job->arena, job->run_bytes);
  free(job);
}

static void job_finalizer(SEXP xp) {
  bs_job *job = (bs_job *)R_ExternalPtrAddr(xp);
  if (job) {
    job_free(job);
    R_ClearExternalPtr(xp);
  }
}

static bs_job *job_get(SEXP xp) {
  if (TYPEOF(xp) != EXTPTRSXP || R_ExternalPtrTag(xp) != Rf_install(job_tag))
    Rf_error("bootscale internal error: not a job handle");
  bs_job *job = (bs_job *)R_ExternalPtrAddr(xp);
  if (!job) Rf_error("bootscale internal error: the job was released");
  return job;
}

static SEXP job_new(bs_job **out) {
  bs_job *job = (bs_job *)calloc(1, sizeof(bs_job));
  if (!job) Rf_error("cannot allocate a bootscale job");
  pool_run_init(&job->run);
  SEXP xp = PROTECT(R_MakeExternalPtr(job, Rf_install(job_tag), R_NilValue));
  R_RegisterCFinalizerEx(xp, job_finalizer, TRUE);
  UNPROTECT(1);
  *out = job;
  return xp;
}

static double scalar_real(SEXP x, const char *what) {
  if (!Rf_isReal(x) || XLENGTH(x) != 1 || ISNAN(REAL(x)[0]))
    Rf_error("bootscale internal error: `%s` must be one non-missing double", what);
  return REAL(x)[0];
}

static uint64_t seed_bits(SEXP seed) { return (uint64_t)(int64_t)scalar_real(seed, "seed"); }

/* Lists for R are named, and R reads them by name. */
#define NAMED_LIST(...) Rf_mkNamed(VECSXP, (const char *[]){__VA_ARGS__, ""})

/* A failure as R gets it: list(message: what failed and why, errno). */
static SEXP failure(const char *what, int err) {
  SEXP out = PROTECT(NAMED_LIST("message", "errno"));
  SET_VECTOR_ELT(out, 0, Rf_mkString(what));
  SET_VECTOR_ELT(out, 1, Rf_ScalarInteger(err));
  UNPROTECT(1);
  return out;
}

/* A job whose memory could not be had: freed, and the failure() R turns
 * into the classed error (checked_job() in R/pool.R). */
static SEXP job_abandon(bs_job *job, SEXP xp, int err) {
  const size_t bytes = job->run_bytes;
  job_free(job);
  R_ClearExternalPtr(xp);
  char what[160];
  snprintf(what, sizeof(what), "%s of %.0f bytes failed: %s", memory_arena_call(bytes),
           (double)bytes, strerror(err));
  return failure(what, err);
}

/* Where the run's marks, output and partial sums go, after the arena's
 * arena_bytes of inputs; then the arena itself, zeroed, as large as a whole
 * run's mapping: a run in this process works in it as it is (no copy, no
 * second mapping), a pool run copies its first arena_bytes. 0, or the
 * errno value of the allocation that failed. */
static int job_arena(bs_job *job, size_t arena_bytes, int64_t parts) {
  errno = 0;
  const size_t out_bytes = (size_t)job->out_length * job->elt;
  pool_job_head scratch; /* the size first; the offsets go into the arena's head */
  job->arena_bytes = arena_bytes;
  job->run_bytes = pool_job_layout(&scratch, arena_bytes, job->n_blocks, job->n_groups,
                                   out_bytes, parts > 1);
  job->arena = memory_arena_alloc(job->run_bytes);
  if (!job->arena) return errno ? errno : ENOMEM;
  pool_job_head *h = (pool_job_head *)job->arena;
  pool_job_layout(h, arena_bytes, job->n_blocks, job->n_groups, out_bytes, parts > 1);
  job->off_out = h->out;
  job->off_partials = h->partials;
  return 0;
}

SEXP bs_means_job(SEXP values, SEXP weights, SEXP n_means, SEXP sample_size, SEXP seed) {
  if (TYPEOF(values) != VECSXP || TYPEOF(weights) != VECSXP ||
      XLENGTH(values) != XLENGTH(weights) || XLENGTH(values) < 1)
    Rf_error("bootscale internal error: `values` and `weights` must be lists of one length");
  const int64_t n_groups = XLENGTH(values);
  const double nm = scalar_real(n_means, "n_means");
  const double ss = scalar_real(sample_size, "sample_size");
  if (nm < 1 || nm > KERNEL_MAX_SAMPLE_SIZE || ss < 1 || ss > KERNEL_MAX_SAMPLE_SIZE)
    Rf_error("bootscale internal error: `n_means` or `sample_size` out of range");
  for (int64_t g = 0; g < n_groups; g++) {
    SEXP x = VECTOR_ELT(values, g), w = VECTOR_ELT(weights, g);
    if (!Rf_isReal(x) || !Rf_isReal(w) || XLENGTH(x) != XLENGTH(w) || XLENGTH(x) < 1 ||
        XLENGTH(x) > ALIAS_MAX_K)
      Rf_error("bootscale internal error: group %lld has bad values or weights",
               (long long)g + 1);
  }
  if ((double)n_groups * nm > (double)R_XLEN_T_MAX)
    Rf_error("bootscale internal error: the result would be longer than R allows");
  const uint64_t sd = seed_bits(seed);

  /* The arena: head, group records, then each group's cells. */
  size_t bytes = pool_head_bytes();
  const size_t off_groups = bytes;
  bytes = pool_round64(bytes + (size_t)n_groups * sizeof(pool_job_group));
  int64_t paired = 0;
  for (int64_t g = 0; g < n_groups; g++) {
    SEXP w = VECTOR_ELT(weights, g);
    const int64_t k = XLENGTH(w);
    const int pr = kernel_pair_eligible(k, REAL(w));
    paired += pr;
    bytes = pool_round64(bytes + (size_t)group_n_cells(k, pr) * sizeof(kernel_cell));
  }
  bs_job *job;
  SEXP xp = PROTECT(job_new(&job));
  job->kind = JOB_MEANS;
  job->n_groups = n_groups;
  job->paired = paired;
  /* the layout's numbers, from the kernel (no cells needed for them) */
  kernel_means_job shape;
  memset(&shape, 0, sizeof(shape));
  shape.n_groups = n_groups;
  shape.n_means = (int64_t)nm;
  shape.sample_size = (int64_t)ss;
  job->n_blocks = kernel_means_n_blocks(&shape);
  job->n_units = kernel_means_n_units(&shape);
  job->bpu = kernel_means_blocks_per_unit(&shape);
  job->out_length = (R_xlen_t)(n_groups * (int64_t)nm);
  job->elt = sizeof(double);
  const int err = job_arena(job, bytes, kernel_means_parts((int64_t)ss));
  if (err) {
    SEXP why = PROTECT(job_abandon(job, xp, err));
    UNPROTECT(2);
    return why;
  }
  char *base = (char *)job->arena;
  pool_job_head *h = (pool_job_head *)base;
  pool_job_group *pg = (pool_job_group *)(base + off_groups);
  size_t at = pool_round64(off_groups + (size_t)n_groups * sizeof(pool_job_group));
  for (int64_t g = 0; g < n_groups; g++) {
    SEXP x = VECTOR_ELT(values, g), w = VECTOR_ELT(weights, g);
    const int64_t k = XLENGTH(x);
    const int pr = kernel_pair_eligible(k, REAL(w));
    alias_status s;
    const int rc = group_build((kernel_cell *)(base + at), REAL(x), REAL(w), k, pr, NULL, &s);
    if (rc != 0) {
      job_free(job);
      R_ClearExternalPtr(xp);
      Rf_error("group %lld: %s", (long long)g + 1,
               rc < 0 ? "cannot allocate memory for the alias tables"
                      : alias_status_message(s));
    }
    pg[g].k = k;
    pg[g].cells = at;
    pg[g].k2 = pr ? k * k : 0;
    pg[g].cells2 = pr ? at + (size_t)k * sizeof(kernel_cell) : 0;
    at = pool_round64(at + (size_t)group_n_cells(k, pr) * sizeof(kernel_cell));
  }
  h->magic = POOL_JOB_MAGIC;
  h->kind = POOL_JOB_MEANS;
  h->n_groups = n_groups;
  h->n_means = (int64_t)nm;
  h->sample_size = (int64_t)ss;
  h->seed = sd;
  h->groups = off_groups;
  UNPROTECT(1);
  return xp;
}

SEXP bs_draws_job(SEXP prob, SEXP size, SEXP seed) {
  if (!Rf_isReal(prob) || XLENGTH(prob) < 1 || XLENGTH(prob) > ALIAS_MAX_K)
    Rf_error("bootscale internal error: `prob` must be a non-empty double vector");
  const double n = scalar_real(size, "size");
  if (n < 0 || n > (double)R_XLEN_T_MAX)
    Rf_error("bootscale internal error: `size` out of range");
  const uint64_t sd = seed_bits(seed);
  const int64_t k = XLENGTH(prob);

  bs_job *job;
  SEXP xp = PROTECT(job_new(&job));
  job->kind = JOB_DRAWS;
  const size_t off_table = pool_head_bytes();
  const size_t bytes = pool_round64(off_table + alias_table_bytes(k));
  kernel_draws_job shape;
  memset(&shape, 0, sizeof(shape));
  shape.size = (int64_t)n;
  job->n_blocks = kernel_draws_n_blocks(&shape);
  job->n_units = job->n_blocks;
  job->bpu = 1;
  job->out_length = (R_xlen_t)n;
  job->elt = sizeof(int32_t);
  const int err = job_arena(job, bytes, 0);
  if (err) {
    SEXP why = PROTECT(job_abandon(job, xp, err));
    UNPROTECT(2);
    return why;
  }
  int32_t *work = (int32_t *)malloc((size_t)k * sizeof(int32_t));
  if (!work) {
    job_free(job);
    R_ClearExternalPtr(xp);
    Rf_error("cannot allocate memory for the alias table");
  }
  alias_table t;
  alias_init(&t, k, (char *)job->arena + off_table);
  alias_status s = alias_build(&t, REAL(prob), work);
  free(work);
  if (s != ALIAS_OK) {
    job_free(job);
    R_ClearExternalPtr(xp);
    Rf_error("%s", alias_status_message(s));
  }
  pool_job_head *h = (pool_job_head *)job->arena;
  h->magic = POOL_JOB_MAGIC;
  h->kind = POOL_JOB_DRAWS;
  h->k = k;
  h->size = (int64_t)n;
  h->seed = sd;
  h->table = off_table;
  UNPROTECT(1);
  return xp;
}

/* list(n_blocks, length (of the result), paired (groups), n_units,
 * blocks_per_unit, draws (of the whole job), run_bytes (of a run's
 * mapping)) */
SEXP bs_job_info(SEXP xp) {
  bs_job *job = job_get(xp);
  const pool_job_head *h = (const pool_job_head *)job->arena;
  const double draws =
      (double)job->out_length * (job->kind == JOB_MEANS ? (double)h->sample_size : 1.0);
  const double v[] = {(double)job->n_blocks, (double)job->out_length, (double)job->paired,
                      (double)job->n_units,  (double)job->bpu,        draws,
                      (double)job->run_bytes};
  SEXP out = PROTECT(NAMED_LIST("n_blocks", "length", "paired", "n_units", "blocks_per_unit",
                                "draws", "run_bytes"));
  for (int i = 0; i < 7; i++) SET_VECTOR_ELT(out, i, Rf_ScalarReal(v[i]));
  UNPROTECT(1);
  return out;
}

static void job_block(void *ctx, int64_t b) {
  const bs_job *job = (const bs_job *)ctx;
  pool_job_block(job->run.head, &job->means, &job->draws, b);
}

/* The output elements of units [from, to): out[*first .. *first + *len). */
static void unit_span(const bs_job *job, int64_t from, int64_t to, int64_t *first,
                      int64_t *len) {
  if (from >= to) {
    *first = 0;
    *len = 0;
    return;
  }
  if (job->kind == JOB_DRAWS) {
    *first = from * KERNEL_BLOCK_DRAWS;
    int64_t end = to * KERNEL_BLOCK_DRAWS;
    if (end > (int64_t)job->out_length) end = (int64_t)job->out_length;
    *len = end - *first;
    return;
  }
  int64_t f, n, lf, ln;
  kernel_means_unit_span(&job->means, from, &f, &n);
  kernel_means_unit_span(&job->means, to - 1, &lf, &ln);
  *first = f;
  *len = lf + ln - f;
}

/* Starts a run of units [from, to) on `processes` worker processes of the
 * session's pool besides this one (0: in this process alone). `mode` says
 * what the caller will take from it, which decides where the output goes:
 *  - "vector": the whole result as one R vector (bs_job_result). A run in
 *    this process writes straight into that vector (held by the handle);
 *    a pool run writes into a fresh shared mapping that then becomes the
 *    vector: no copy either way.
 *  - "summary": bs_job_finish_means (`probs`: its two quantiles); "samples":
 *    the same with keep_samples. Pool runs use the pool's cached mapping.
 *    For "summary", whoever completes a group summarises it during the run
 *    (classic layout only); "samples" copies the means out first.
 *  - "slice": bs_job_result of a range, copied out of a mapping of its own.
 * Returns NULL, or a list(message, errno) saying which system call failed
 * and why (nothing is left running then). */
SEXP bs_job_start(SEXP xp, SEXP processes, SEXP from, SEXP to, SEXP hook, SEXP tmpdir,
                  SEXP mode, SEXP probs) {
  bs_job *job = job_get(xp);
  job_end_run(job);
  R_SetExternalPtrProtected(xp, R_NilValue);
  const double p = scalar_real(processes, "processes");
  const double f = scalar_real(from, "from"), t = scalar_real(to, "to");
  if (f < 0 || t > (double)job->n_units || f > t)
    Rf_error("bootscale internal error: unit range out of bounds");
  if (TYPEOF(mode) != STRSXP || XLENGTH(mode) != 1)
    Rf_error("bootscale internal error: bad run mode");
  const char *m = CHAR(STRING_ELT(mode, 0));
  const int whole = f == 0 && t == (double)job->n_units;
  const int vector = strcmp(m, "vector") == 0, samples = strcmp(m, "samples") == 0;
  const int summary = samples || strcmp(m, "summary") == 0;
  if ((!vector && !summary && strcmp(m, "slice") != 0) || ((vector || summary) && !whole) ||
      (summary && job->kind != JOB_MEANS) ||
      (summary && !samples && (!Rf_isReal(probs) || XLENGTH(probs) != 2)))
    Rf_error("bootscale internal error: bad run mode");
  pool_client *c = session_pool();
  if (p < 0 || (p > 0 && !pool_client_alive(c)) || p > c->n)
    Rf_error("bootscale internal error: no pool for %.0f worker processes", p);
  const char *dir =
      (TYPEOF(tmpdir) == STRSXP && XLENGTH(tmpdir) == 1) ? CHAR(STRING_ELT(tmpdir, 0)) : NULL;
  /* the result vector of a serial "vector" run, before anything is mapped */
  SEXP direct = R_NilValue;
  if (vector && p == 0) {
    direct = Rf_allocVector(job->kind == JOB_MEANS ? REALSXP : INTSXP, job->out_length);
    R_SetExternalPtrProtected(xp, direct);
    /* not touched yet: huge pages for its aligned middle, where the system
     * gives them, spare most of its page faults (on a VM about 2 us per
     * 4 KiB page, 4 ns per double written). Decision: R's own memory,
     * hinted, rather than a custom allocation of whole huge pages: that
     * one R's collector does not count, so results kept unreferenced
     * piled up fresh memory between collections (4x slower calls here). */
    memory_hint_huge(job->kind == JOB_MEANS ? (void *)REAL(direct) : (void *)INTEGER(direct),
                     (size_t)job->out_length * job->elt);
  }
  /* Pool runs use the pool's cached mapping, except those whose mapping
   * becomes a result vector: a mapping of its own, from POOL_MAPPED_MIN
   * bytes of output on (below that, a copy costs less than a mapping, and
   * many small results would each hold one of the system's limited number
   * of mappings). */
  const size_t out_bytes = (size_t)job->out_length * job->elt;
  const int cached = p > 0 && (summary || (vector && out_bytes < POOL_MAPPED_MIN));
  if (vector && p > 0 && !cached) mapped_collect((double)job->run_bytes);
  int err = p == 0   ? pool_run_borrow(&job->run, job->arena, job->run_bytes)
            : cached ? pool_run_map_cached(c, &job->run, job->run_bytes, dir)
                     : pool_run_map(&job->run, job->run_bytes, dir);
  if (err) {
    R_SetExternalPtrProtected(xp, R_NilValue);
    return failure(job->run.failure, err);
  }
  job->mapped = 1;
  if (p > 0) memcpy(job->run.map, job->arena, job->arena_bytes);
  pool_job_head *h = job->run.head;
  pool_job_reset(h);
  h->bytes = job->run.bytes;
  h->first = (int64_t)f * job->bpu;
  h->end = (int64_t)t * job->bpu;
  h->next = h->first;
  h->completed = 0;
  h->hook_action = POOL_HOOK_NONE;
  h->summarise = 0;
  if (summary && !samples && kernel_means_parts(h->sample_size) == 0) {
    h->summarise = 1;
    h->probs[0] = REAL(probs)[0];
    h->probs[1] = REAL(probs)[1];
  }
  job->summarised = h->summarise;
  if (hook != R_NilValue) {
    /* list(action = name, block = 0-based, seconds) */
    SEXP act = TYPEOF(hook) == VECSXP && XLENGTH(hook) == 3 ? VECTOR_ELT(hook, 0) : R_NilValue;
    const int a = TYPEOF(act) == STRSXP && XLENGTH(act) == 1
                      ? pool_hook_parse(CHAR(STRING_ELT(act, 0)))
                      : -1;
    if (a < 0) {
      job_end_run(job);
      R_SetExternalPtrProtected(xp, R_NilValue);
      Rf_error("bootscale internal error: bad test hook");
    }
    h->hook_action = (int32_t)a;
    h->hook_block = (int64_t)scalar_real(VECTOR_ELT(hook, 1), "block");
    h->hook_seconds = scalar_real(VECTOR_ELT(hook, 2), "seconds");
  }
  job->unit_from = (int64_t)f;
  job->unit_to = (int64_t)t;
  if (job->kind == JOB_MEANS) {
    job->groups = (kernel_group *)malloc((size_t)job->n_groups * sizeof(kernel_group));
    if (!job->groups) {
      job_end_run(job);
      R_SetExternalPtrProtected(xp, R_NilValue);
      return failure("malloc() of the group table failed", ENOMEM);
    }
  }
  if (pool_job_bind(job->run.map, job->groups, &job->means, &job->table, &job->draws) != 0)
    Rf_error("bootscale internal error: the job's head is damaged");
  if (direct != R_NilValue) {
    job->direct = 1;
    if (job->kind == JOB_MEANS)
      job->means.out = REAL(direct);
    else
      job->draws.out = INTEGER(direct);
  }
  /* With a test hook the workers take every block, so one of them meets it. */
  job->run.self_work = p == 0 || hook == R_NilValue;
  job->processes = 1 + (int)p;
  if (p > 0) {
    err = pool_run_send(c, &job->run, (int)p);
    if (err) {
      char why[300];
      snprintf(why, sizeof(why), "%s", job->run.failure);
      job_end_run(job);
      return failure(why, err);
    }
  }
  return R_NilValue;
}

/* Works on the run for about budget_ms, then reports list(state, progress
 * (blocks done), failure): state "running", "done" or "failed" (the run is
 * then released, nothing of it is kept). */
SEXP bs_job_step(SEXP xp, SEXP budget_ms, SEXP wait_ms) {
  bs_job *job = job_get(xp);
  if (!job->mapped) Rf_error("bootscale internal error: the job is not running");
  const double budget = scalar_real(budget_ms, "budget_ms");
  const double wait = scalar_real(wait_ms, "wait_ms");
  pool_state st = pool_run_step(job->run.shared ? session_pool() : NULL, &job->run, job_block,
                                job, budget, (int)wait);
  const double progress = (double)pool_run_progress(&job->run);
  SEXP out = PROTECT(NAMED_LIST("state", "progress", "failure"));
  SET_VECTOR_ELT(out, 0, Rf_mkString(pool_state_name(st)));
  SET_VECTOR_ELT(out, 1, Rf_ScalarReal(progress));
  SET_VECTOR_ELT(out, 2, Rf_mkString(st == POOL_FAILED ? job->run.failure : ""));
  if (st == POOL_FAILED) job_end_run(job);
  if (st == POOL_DONE && !job->complete) {
    /* Long replicates in parts: their means from the parts' sums. */
    if (job->kind == JOB_MEANS && kernel_means_parts(job->means.sample_size) > 1) {
      int64_t first, len;
      unit_span(job, job->unit_from, job->unit_to, &first, &len);
      kernel_means_reduce(&job->means, job->unit_from, job->unit_to, job->means.out + first);
      pool_run_discard(&job->run, job->off_partials,
                       (size_t)job->n_blocks * sizeof(long double));
    }
    job->complete = 1;
  }
  UNPROTECT(1);
  /* Ctrl-C interrupts poll(); raise it now rather than when R's evaluator
   * next looks. The caller's on.exit releases the run. */
  R_CheckUserInterrupt();
  return out;
}

static void *vector_data(SEXP res) {
  return TYPEOF(res) == REALSXP ? (void *)REAL(res) : (void *)INTEGER(res);
}

/* Copies out[first .. first + len) of the run into dst, giving the
 * mapping's pages back behind the copy, so that the result and the mapping
 * never both exist in full. */
#define COPY_CHUNK ((size_t)1 << 20)
static void copy_out(bs_job *job, void *dst, int64_t first, int64_t len, int discard) {
  const char *src = (const char *)job->run.map + job->off_out + (size_t)first * job->elt;
  size_t left = (size_t)len * job->elt, done = 0;
  while (left > 0) {
    const size_t n = left < COPY_CHUNK ? left : COPY_CHUNK;
    memcpy((char *)dst + done, src + done, n);
    if (discard)
      pool_run_discard(&job->run, job->off_out + (size_t)first * job->elt + done, n);
    done += n;
    left -= n;
  }
}

static bs_job *complete_job(SEXP xp) {
  bs_job *job = job_get(xp);
  if (!job->mapped || !job->complete)
    Rf_error("bootscale internal error: the job is not complete");
  return job;
}

/* A pool run's mapping as an R vector, through R's custom allocators
 * (allocVector3): R asks for its header plus the data, and is given the
 * bytes that end where the output starts, inside the POOL_OUT_GAP bytes
 * left free before it; freeing the vector unmaps the whole mapping.
 * The header's size is learnt once by allocating a small vector with a
 * probing allocator; where it does not fit the gap, results are copied. */
static long vector_header = -1;
static size_t mapped_data_bytes;

static void *probe_alloc(R_allocator_t *a, size_t size) {
  vector_header = (long)size - 16; /* two doubles of data */
  (void)a;
  return malloc(size);
}
static void probe_free(R_allocator_t *a, void *p) {
  (void)a;
  free(p);
}
static void *mapped_alloc(R_allocator_t *a, size_t size) {
  char *base = (char *)a->data;
  const pool_job_head *h = (const pool_job_head *)base;
  const size_t data = (mapped_data_bytes + 7) / 8 * 8;
  if (size < data || size - data > POOL_OUT_GAP) return NULL; /* cannot happen: probed */
  return base + h->out - (size - data);
}
static void mapped_free(R_allocator_t *a, void *p) {
  (void)p;
  mapped_live -= (double)((const pool_job_head *)a->data)->bytes;
  pool_mapping_free(a->data);
}

static int mapped_vectors_fit(void) {
  if (vector_header < 0) {
    /* (length 1 would not ask the allocator) */
    R_allocator_t probe = {probe_alloc, probe_free, NULL, NULL};
    (void)Rf_allocVector3(REALSXP, 2, &probe); /* garbage at once */
  }
  /* + 16: a long vector's header has its length too */
  return vector_header > 0 && vector_header + 16 <= POOL_OUT_GAP;
}

/* The results of the run (its units' slice) as one R vector. Call once. A
 * serial "vector" run wrote them into that vector already; a pool "vector"
 * run's mapping becomes the vector; otherwise they are copied out, the
 * mapping's pages given back behind the copy. */
SEXP bs_job_result(SEXP xp) {
  bs_job *job = complete_job(xp);
  const SEXPTYPE type = job->kind == JOB_MEANS ? REALSXP : INTSXP;
  if (job->direct) {
    SEXP res = PROTECT(R_ExternalPtrProtected(xp));
    R_SetExternalPtrProtected(xp, R_NilValue);
    job_end_run(job);
    UNPROTECT(1);
    return res;
  }
  int64_t first, len;
  unit_span(job, job->unit_from, job->unit_to, &first, &len);
  const int whole = job->unit_from == 0 && job->unit_to == job->n_units;
  if (whole && job->run.shared && !job->run.cached && len > 0 && mapped_vectors_fit()) {
    void *base = job->run.map;
    if (pool_run_detach(session_pool(), &job->run) == 0) {
      job->mapped = 0;
      job_end_run(job);
      mapped_data_bytes = (size_t)len * job->elt;
      R_allocator_t a = {mapped_alloc, mapped_free, NULL, base};
      SEXP res = Rf_allocVector3(type, (R_xlen_t)len, &a);
      mapped_live += (double)((const pool_job_head *)base)->bytes;
      return res;
    }
  }
  SEXP res = PROTECT(Rf_allocVector(type, (R_xlen_t)len));
  /* a small result from the pool's cached mapping: its pages stay for the
   * next call */
  copy_out(job, vector_data(res), first, len, !job->run.cached);
  UNPROTECT(1);
  return res;
}

/* The summary of a complete whole-job means run, and with keep_samples the
 * means of each group in a vector of its own: each group's means are copied
 * out once, then summarised in place in the run's mapping (the selection of
 * the quantiles reorders them there, so no scratch copy is made), and the
 * mapping's pages are given back group by group. The run cannot be read
 * again afterwards. list(stats matrix, samples or NULL) */
SEXP bs_job_finish_means(SEXP xp, SEXP n_groups, SEXP probs, SEXP keep_samples) {
  bs_job *job = complete_job(xp);
  const int keep = Rf_asLogical(keep_samples) == TRUE;
  /* probs NULL: the samples alone, no statistics (the exact method knows
   * them already) */
  const int want = probs != R_NilValue;
  if (job->kind != JOB_MEANS || job->unit_from != 0 || job->unit_to != job->n_units ||
      scalar_real(n_groups, "n_groups") != (double)job->n_groups ||
      (want && (!Rf_isReal(probs) || XLENGTH(probs) != 2)) || (!want && !keep))
    Rf_error("bootscale internal error: no complete means to summarise");
  const int64_t ng = job->n_groups, nm = job->means.n_means;
  SEXP out = PROTECT(NAMED_LIST("stats", "samples"));
  SEXP stats = want ? Rf_allocMatrix(REALSXP, 4, (int)ng) : R_NilValue;
  SET_VECTOR_ELT(out, 0, stats);
  if (job->summarised && !keep) {
    const pool_job_head *h = job->run.head;
    if (h->probs[0] != REAL(probs)[0] || h->probs[1] != REAL(probs)[1])
      Rf_error("bootscale internal error: the run summarised other quantiles");
    memcpy(REAL(stats), (const char *)h + h->stats, (size_t)ng * 4 * sizeof(double));
    job->complete = 0;
    UNPROTECT(1);
    return out;
  }
  if (job->summarised)
    Rf_error("bootscale internal error: the run summarised the means it should keep");
  SEXP samples = keep ? Rf_allocVector(VECSXP, (R_xlen_t)ng) : R_NilValue;
  SET_VECTOR_ELT(out, 1, samples);
  uint64_t *hist = keep && want ? (uint64_t *)R_alloc(65536, sizeof(uint64_t)) : NULL;
  for (int64_t g = 0; g < ng; g++) {
    double *v = job->means.out + g * nm;
    if (keep) {
      /* copied out chunk by chunk (the mapping's pages go as they are
       * copied), then summarised where they now live, without scratch */
      SET_VECTOR_ELT(samples, (R_xlen_t)g, Rf_allocVector(REALSXP, (R_xlen_t)nm));
      double *dst = REAL(VECTOR_ELT(samples, (R_xlen_t)g));
      copy_out(job, dst, g * nm, nm, 1);
      if (want)
        summary_means_const(dst, nm, REAL(probs)[0], REAL(probs)[1], hist,
                            REAL(stats) + 4 * g);
    } else {
      summary_means(v, nm, 1, REAL(probs)[0], REAL(probs)[1], v, REAL(stats) + 4 * g);
      pool_run_discard(&job->run, job->off_out + (size_t)(g * nm) * sizeof(double),
                       (size_t)nm * sizeof(double));
    }
  }
  job->complete = 0; /* the means are gone */
  UNPROTECT(1);
  return out;
}

SEXP bs_job_release(SEXP xp) {
  if (TYPEOF(xp) != EXTPTRSXP) return R_NilValue;
  job_finalizer(xp);
  return R_NilValue;
}

/* ---- the session's pool ---- */

SEXP bs_pool_start(SEXP exe, SEXP workers, SEXP idle_seconds) {
  if (TYPEOF(exe) != STRSXP || XLENGTH(exe) != 1)
    Rf_error("bootscale internal error: `exe` must be one path");
  const double w = scalar_real(workers, "workers");
  const double idle = scalar_real(idle_seconds, "idle_seconds");
  if (w < 2 || w > POOL_MAX_WORKERS)
    Rf_error("bootscale internal error: `workers` must be in 2..%d", POOL_MAX_WORKERS);
  pool_client *c = session_pool();
  pool_client_stop(c);
  const int err = pool_client_start(c, CHAR(STRING_ELT(exe, 0)), (int)w, idle);
  if (err) return failure(c->failure, err);
  return R_NilValue;
}

SEXP bs_pool_stop(void) {
  pool_client_stop(session_pool());
  return R_NilValue;
}

/* list(alive, owner, helper, pids (of the workers), calls, owned_here,
 * cache (bytes of the cached run mapping)) */
SEXP bs_pool_status(void) {
  pool_client *c = session_pool();
  const int alive = pool_client_alive(c);
  /* A pool found dead (idle stop, killed) is cleaned up now: its helper is
   * reaped rather than left a zombie until the next call. */
  if (!alive && c->owner != 0 && c->owner == getpid()) pool_client_stop(c);
  const int mine = c->owner != 0 && c->owner == getpid();
  SEXP out =
      PROTECT(NAMED_LIST("alive", "owner", "helper", "pids", "calls", "owned_here", "cache"));
  SET_VECTOR_ELT(out, 0, Rf_ScalarLogical(alive));
  SET_VECTOR_ELT(out, 1, Rf_ScalarInteger((int)c->owner));
  SET_VECTOR_ELT(out, 2, Rf_ScalarInteger(mine ? (int)c->helper : NA_INTEGER));
  SEXP pids = Rf_allocVector(INTSXP, mine ? c->n : 0);
  SET_VECTOR_ELT(out, 3, pids);
  for (int i = 0; mine && i < c->n; i++) INTEGER(pids)[i] = (int)c->pid[i];
  SET_VECTOR_ELT(out, 4, Rf_ScalarReal(c->calls));
  SET_VECTOR_ELT(out, 5, Rf_ScalarLogical(mine));
  SET_VECTOR_ELT(out, 6, Rf_ScalarReal(mine ? (double)pool_cache_bytes(c) : 0));
  UNPROTECT(1);
  return out;
}

/* ---- summaries ---- */

/* mean, sd and two quantiles of each of n_groups equal parts of x[0..len) */
static SEXP summarise(const double *x, R_xlen_t len, SEXP n_groups, SEXP probs) {
  if (!Rf_isReal(probs) || XLENGTH(probs) != 2)
    Rf_error("bootscale internal error: bad arguments to the summary");
  const double g = scalar_real(n_groups, "n_groups");
  if (g < 1 || len % (R_xlen_t)g != 0 || len == 0)
    Rf_error("bootscale internal error: the means do not split into %.0f groups", g);
  const int64_t n = (int64_t)(len / (R_xlen_t)g);
  double *scratch = (double *)R_alloc((size_t)n, sizeof(double));
  SEXP out = PROTECT(Rf_allocMatrix(REALSXP, 4, (int)g));
  summary_means(x, n, (int64_t)g, REAL(probs)[0], REAL(probs)[1], scratch, REAL(out));
  UNPROTECT(1);
  return out;
}

SEXP bs_summarise_means(SEXP means, SEXP n_groups, SEXP probs) {
  if (!Rf_isReal(means)) Rf_error("bootscale internal error: bad arguments to the summary");
  return summarise(REAL(means), XLENGTH(means), n_groups, probs);
}

/* The summary of a complete whole-job means run, read in place in the
 * run's mapping (no copy). */
SEXP bs_job_summarise(SEXP xp, SEXP n_groups, SEXP probs) {
  bs_job *job = job_get(xp);
  if (job->kind != JOB_MEANS || !job->mapped || !job->complete || job->unit_from != 0 ||
      job->unit_to != job->n_units)
    Rf_error("bootscale internal error: no complete means to summarise");
  return summarise(job->means.out, job->out_length, n_groups, probs);
}

/* Sums of v by dense group ids 1..n, in one pass with long double
 * accumulators, for aggregate_filesizes(). A group holding NA sums to NA,
 * else one holding NaN to NaN, as R's sum() does. */
SEXP bs_group_sums(SEXP v, SEXP id, SEXP n_groups) {
  if (!Rf_isReal(v) || !Rf_isInteger(id) || XLENGTH(v) != XLENGTH(id))
    Rf_error("bootscale internal error: bad arguments to the group sums");
  const double ng = scalar_real(n_groups, "n_groups");
  if (ng < 0 || ng > (double)R_XLEN_T_MAX)
    Rf_error("bootscale internal error: bad number of groups");
  const R_xlen_t n = (R_xlen_t)ng;
  long double *acc = (long double *)R_alloc((size_t)n + 1, sizeof(long double));
  unsigned char *na = (unsigned char *)R_alloc((size_t)n + 1, 1);
  SEXP out = PROTECT(Rf_allocVector(REALSXP, n));
  if (summary_group_sums(REAL(v), INTEGER(id), XLENGTH(v), n, acc, na, NA_REAL, R_NaN,
                         REAL(out)))
    Rf_error("bootscale internal error: group id out of range");
  UNPROTECT(1);
  return out;
}

/* ---- platform: fork, memory and BLAS ---- */

SEXP bs_fork_available(void) { return Rf_ScalarLogical(pool_available()); }

/* list(physical (memory), address_space (the limit RLIMIT_AS)) in bytes;
 * NA when unknown or unlimited. */
SEXP bs_memory_limits(void) {
  const double v[2] = {memory_physical(), memory_as_limit()};
  SEXP out = PROTECT(NAMED_LIST("physical", "address_space"));
  for (int i = 0; i < 2; i++) SET_VECTOR_ELT(out, i, Rf_ScalarReal(v[i] < 0 ? NA_REAL : v[i]));
  UNPROTECT(1);
  return out;
}

/* list(reset, rss, peak, children_peak): reset is 0 when the peak was reset,
 * an errno value when resetting failed, NA when not asked; sizes in bytes,
 * NA when unknown. */
SEXP bs_memory_snapshot(SEXP reset) {
  double status = NA_REAL;
  if (Rf_asLogical(reset) == TRUE) status = (double)memory_reset_peak();
  const double v[4] = {status, memory_rss(), memory_peak(), memory_children_peak()};
  SEXP out = PROTECT(NAMED_LIST("reset", "rss", "peak", "children_peak"));
  SET_VECTOR_ELT(out, 0, Rf_ScalarReal(v[0]));
  for (int i = 1; i < 4; i++) SET_VECTOR_ELT(out, i, Rf_ScalarReal(v[i] < 0 ? NA_REAL : v[i]));
  UNPROTECT(1);
  return out;
}

static SEXP string_or_na(const char *s) {
  return s ? Rf_mkString(s) : Rf_ScalarString(NA_STRING);
}

/* list(vendor, threads, max_threads, config, corename); NA where unknown. */
SEXP bs_blas_info(SEXP path) {
  const char *p = NULL;
  if (TYPEOF(path) == STRSXP && XLENGTH(path) == 1 && STRING_ELT(path, 0) != NA_STRING)
    p = CHAR(STRING_ELT(path, 0));
  const blas_vendor v = blas_detect(p);
  const int threads = blas_get_threads(), max = blas_max_threads();
  SEXP out = PROTECT(NAMED_LIST("vendor", "threads", "max_threads", "config", "corename"));
  SET_VECTOR_ELT(out, 0,
                 v == BLAS_UNKNOWN ? Rf_ScalarString(NA_STRING)
                                   : Rf_mkString(blas_vendor_name(v)));
  SET_VECTOR_ELT(out, 1, Rf_ScalarInteger(threads < 0 ? NA_INTEGER : threads));
  SET_VECTOR_ELT(out, 2, Rf_ScalarInteger(max < 0 ? NA_INTEGER : max));
  SET_VECTOR_ELT(out, 3, string_or_na(blas_config()));
  SET_VECTOR_ELT(out, 4, string_or_na(blas_corename()));
  UNPROTECT(1);
  return out;
}

/* TRUE when the thread count was set; call bs_blas_info first. */
SEXP bs_blas_set_threads(SEXP n) {
  const double t = scalar_real(n, "n");
  if (t < 1 || t > 1e6) Rf_error("bootscale internal error: `n` out of range");
  return Rf_ScalarLogical(blas_set_threads((int)t) == 0);
}

/* ---- constants: defined in C, read once by R at load ---- */

/* list(rng (the generator's name), max_workers (of the pool),
 * max_sample_size, block_means (replicates per block), block_draws) */
SEXP bs_constants(void) {
  SEXP out = PROTECT(
      NAMED_LIST("rng", "max_workers", "max_sample_size", "block_means", "block_draws"));
  SET_VECTOR_ELT(out, 0, Rf_mkString(RNG_NAME));
  SET_VECTOR_ELT(out, 1, Rf_ScalarInteger(POOL_MAX_WORKERS));
  SET_VECTOR_ELT(out, 2, Rf_ScalarReal(KERNEL_MAX_SAMPLE_SIZE));
  SET_VECTOR_ELT(out, 3, Rf_ScalarReal((double)KERNEL_BLOCK_MEANS));
  SET_VECTOR_ELT(out, 4, Rf_ScalarReal((double)KERNEL_BLOCK_DRAWS));
  UNPROTECT(1);
  return out;
}

/* ---- exact bootstrap: distribution of the mean on a lattice ------------- */

/* The probabilities of the n(k-1)+1 lattice points of the sum of
 * sample_size draws, from values at whole positions pos (0..k-1) with
 * weights w. R/exact.R has checked the lattice and the support's size. */
SEXP bs_exact_distribution(SEXP pos, SEXP w, SEXP k, SEXP sample_size) {
  if (!Rf_isReal(pos) || !Rf_isReal(w) || XLENGTH(pos) != XLENGTH(w) || XLENGTH(pos) < 1)
    Rf_error("bootscale internal error: `pos` and `w` must be double vectors of one length");
  const double kk = scalar_real(k, "k"), ss = scalar_real(sample_size, "sample_size");
  if (kk < 1 || kk > (double)CONVOLVE_MAX_SUPPORT || ss < 1 || ss > KERNEL_MAX_SAMPLE_SIZE)
    Rf_error("bootscale internal error: `k` or `sample_size` out of range");
  const int64_t support = convolve_support((int64_t)kk, (int64_t)ss);
  if (support < 0) Rf_error("%s", convolve_status_message(CONVOLVE_ERR_TOO_LARGE));
  double *p = (double *)R_alloc((size_t)kk, sizeof(double));
  if (convolve_lattice_pmf(REAL(pos), REAL(w), XLENGTH(pos), (int64_t)kk, p) != 0)
    Rf_error("bootscale internal error: a lattice position is outside 0..k-1");
  const size_t bytes = convolve_work_bytes((int64_t)kk, (int64_t)ss);
  void *work = bytes ? R_alloc(bytes, 1) : NULL;
  SEXP out = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)support));
  const convolve_status s = convolve_power(p, (int64_t)kk, (int64_t)ss, REAL(out), work);
  if (s != CONVOLVE_OK) Rf_error("%s", convolve_status_message(s));
  UNPROTECT(1);
  return out;
}

/* ---- test-only entry points (bs_test_*): tests/testthat reaches the pure
 * modules through these; nothing in R/ calls them ---------------------- */

SEXP bs_test_alias_probs(SEXP weights) {
  if (!Rf_isReal(weights) || XLENGTH(weights) < 1)
    Rf_error("bootscale internal error: `weights` must be a non-empty double vector");
  const int64_t k = XLENGTH(weights);
  void *mem = R_alloc(alias_table_bytes(k), 1);
  int32_t *work = (int32_t *)R_alloc((size_t)k, sizeof(int32_t));
  alias_table t;
  alias_init(&t, k, mem);
  alias_status s = alias_build(&t, REAL(weights), work);
  if (s != ALIAS_OK) Rf_error("%s", alias_status_message(s));
  SEXP out = PROTECT(Rf_allocVector(REALSXP, k));
  alias_implied_probs(&t, REAL(out));
  UNPROTECT(1);
  return out;
}

static uint64_t parse_hex(SEXP s, R_xlen_t i) {
  return (uint64_t)strtoull(CHAR(STRING_ELT(s, i)), NULL, 16);
}

static SEXP hex_outputs(rng_state *st, int n) {
  SEXP out = PROTECT(Rf_allocVector(STRSXP, n));
  char buf[24];
  for (int i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "%016" PRIx64, rng_next(st));
    SET_STRING_ELT(out, i, Rf_mkChar(buf));
  }
  UNPROTECT(1);
  return out;
}

SEXP bs_test_rng_head(SEXP state, SEXP n) {
  if (TYPEOF(state) != STRSXP || XLENGTH(state) != 4)
    Rf_error("`state` must be four hexadecimal strings");
  rng_state st;
  for (int i = 0; i < 4; i++) st.s[i] = parse_hex(state, i);
  return hex_outputs(&st, Rf_asInteger(n));
}

SEXP bs_test_splitmix_head(SEXP seed, SEXP n) {
  if (TYPEOF(seed) != STRSXP || XLENGTH(seed) != 1)
    Rf_error("`seed` must be one hexadecimal string");
  uint64_t x = parse_hex(seed, 0);
  const int m = Rf_asInteger(n);
  SEXP out = PROTECT(Rf_allocVector(STRSXP, m));
  char buf[24];
  for (int i = 0; i < m; i++) {
    snprintf(buf, sizeof(buf), "%016" PRIx64, rng_splitmix64_next(&x));
    SET_STRING_ELT(out, i, Rf_mkChar(buf));
  }
  UNPROTECT(1);
  return out;
}

SEXP bs_test_rng_stream_head(SEXP seed, SEXP group, SEXP block, SEXP n) {
  rng_state st = rng_stream(seed_bits(seed), (uint64_t)scalar_real(group, "group"),
                            (uint64_t)scalar_real(block, "block"));
  return hex_outputs(&st, Rf_asInteger(n));
}

static size_t byte_count(SEXP bytes) {
  const double b = scalar_real(bytes, "bytes");
  if (b < 0 || b > 0x1p52) Rf_error("bootscale internal error: `bytes` out of range");
  return (size_t)b;
}

/* Bytes held by pool results that are mappings (see mapped_live). */
SEXP bs_test_mapped_bytes(void) { return Rf_ScalarReal(mapped_live); }

SEXP bs_test_memory_touch(SEXP bytes) {
  const size_t n = byte_count(bytes);
  const int err = memory_touch(n);
  if (err) Rf_error("cannot allocate %.0f bytes: %s", (double)n, strerror(err));
  return R_NilValue;
}

SEXP bs_test_memory_child(SEXP bytes) {
  const size_t n = byte_count(bytes);
  const int err = memory_fork_touch(n);
  if (err > 0) Rf_error("cannot fork a child: %s", strerror(err));
  if (err < 0) Rf_error("the child that touches %.0f bytes failed", (double)n);
  return R_NilValue;
}
