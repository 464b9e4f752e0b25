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
#include <Rinternals.h>

#include "alias.h"
#include "bootscale.h"
#include "kernel.h"
#include "pool.h"
#include "rng.h"

typedef enum { JOB_MEANS = 1, JOB_DRAWS = 2 } job_kind;

typedef struct {
  job_kind kind;
  int64_t n_blocks;
  /* means */
  int64_t n_groups;
  kernel_group *groups;
  kernel_cell **cell_mem; /* one allocation per group (cells then cells2) */
  kernel_means_job means;
  /* draws */
  alias_table table;
  void *table_mem;
  kernel_draws_job draws;
  /* result */
  R_xlen_t out_length;
  size_t out_bytes;
  int forked;
  int64_t serial_blocks; /* blocks run in this process by bs_job_run */
  pool_t pool;
} bs_job;

static const char *job_tag = "bootscale_job";

static void job_free(bs_job *job) {
  if (!job) return;
  pool_release(&job->pool);
  if (job->cell_mem) {
    for (int64_t g = 0; g < job->n_groups; g++) free(job->cell_mem[g]);
    free(job->cell_mem);
  }
  free(job->groups);
  free(job->table_mem);
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
  pool_init(&job->pool);
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

static uint64_t seed_bits(SEXP seed) {
  return (uint64_t)(int64_t)scalar_real(seed, "seed");
}

/* Builds one group's cells (and pair cells when eligible) into one block of
 * memory. Returns NULL with *msg set on failure; frees its own scratch. */
static kernel_cell *group_build(kernel_group *grp, const double *x, const double *w,
                                int64_t k, const char **msg) {
  const int paired = kernel_pair_eligible(k, w);
  const int64_t k2 = paired ? k * k : 0;
  const int64_t kmax = paired ? k2 : k;
  kernel_cell *cells = (kernel_cell *)malloc((size_t)(k + k2) * sizeof(kernel_cell));
  void *tab = malloc(alias_table_bytes(kmax));
  int32_t *work = (int32_t *)malloc((size_t)kmax * sizeof(int32_t));
  double *w2 = paired ? (double *)malloc((size_t)k2 * 2 * sizeof(double)) : NULL;
  if (!cells || !tab || !work || (paired && !w2)) {
    *msg = "cannot allocate memory for the alias tables";
    goto fail;
  }
  alias_table t;
  alias_init(&t, k, tab);
  alias_status s = alias_build(&t, w, work);
  if (s != ALIAS_OK) {
    *msg = alias_status_message(s);
    goto fail;
  }
  kernel_cells_fill(&t, x, cells);
  grp->k = k;
  grp->cells = cells;
  grp->k2 = 0;
  grp->cells2 = NULL;
  if (paired) {
    double *x2 = w2 + k2;
    kernel_pair_fill(k, w, x, w2, x2);
    alias_init(&t, k2, tab);
    s = alias_build(&t, w2, work);
    if (s != ALIAS_OK) {
      *msg = alias_status_message(s);
      goto fail;
    }
    kernel_cells_fill(&t, x2, cells + k);
    grp->k2 = k2;
    grp->cells2 = cells + k;
  }
  free(tab);
  free(work);
  free(w2);
  return cells;
fail:
  free(cells);
  free(tab);
  free(work);
  free(w2);
  return NULL;
}

SEXP bs_means_job(SEXP values, SEXP weights, SEXP n_means, SEXP sample_size, SEXP seed) {
  if (TYPEOF(values) != VECSXP || TYPEOF(weights) != VECSXP ||
      XLENGTH(values) != XLENGTH(weights) || XLENGTH(values) < 1)
    Rf_error("bootscale internal error: `values` and `weights` must be lists of one length");
  const int64_t n_groups = XLENGTH(values);
  const double nm = scalar_real(n_means, "n_means");
  const double ss = scalar_real(sample_size, "sample_size");
  if (nm < 1 || nm > 4.5e15 || ss < 1 || ss > 4.5e15)
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

  bs_job *job;
  SEXP xp = PROTECT(job_new(&job));
  job->kind = JOB_MEANS;
  job->n_groups = n_groups;
  job->groups = (kernel_group *)calloc((size_t)n_groups, sizeof(kernel_group));
  job->cell_mem = (kernel_cell **)calloc((size_t)n_groups, sizeof(kernel_cell *));
  if (!job->groups || !job->cell_mem) {
    job_free(job);
    R_ClearExternalPtr(xp);
    Rf_error("cannot allocate memory for %lld groups", (long long)n_groups);
  }
  for (int64_t g = 0; g < n_groups; g++) {
    SEXP x = VECTOR_ELT(values, g), w = VECTOR_ELT(weights, g);
    const char *msg = NULL;
    job->cell_mem[g] = group_build(&job->groups[g], REAL(x), REAL(w), XLENGTH(x), &msg);
    if (!job->cell_mem[g]) {
      job_free(job);
      R_ClearExternalPtr(xp);
      Rf_error("group %lld: %s", (long long)g + 1, msg);
    }
  }
  job->means.n_groups = n_groups;
  job->means.groups = job->groups;
  job->means.n_means = (int64_t)nm;
  job->means.sample_size = (int64_t)ss;
  job->means.seed = sd;
  job->means.out = NULL;
  job->n_blocks = kernel_means_n_blocks(&job->means);
  job->out_length = (R_xlen_t)(n_groups * (int64_t)nm);
  job->out_bytes = (size_t)job->out_length * sizeof(double);
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
  job->table_mem = malloc(alias_table_bytes(k) + (size_t)k * sizeof(int32_t));
  if (!job->table_mem) {
    job_free(job);
    R_ClearExternalPtr(xp);
    Rf_error("cannot allocate memory for the alias table");
  }
  alias_init(&job->table, k, job->table_mem);
  int32_t *work = (int32_t *)((char *)job->table_mem + alias_table_bytes(k));
  alias_status s = alias_build(&job->table, REAL(prob), work);
  if (s != ALIAS_OK) {
    job_free(job);
    R_ClearExternalPtr(xp);
    Rf_error("%s", alias_status_message(s));
  }
  job->draws.table = &job->table;
  job->draws.size = (int64_t)n;
  job->draws.seed = sd;
  job->draws.out = NULL;
  job->n_blocks = kernel_draws_n_blocks(&job->draws);
  job->out_length = (R_xlen_t)n;
  job->out_bytes = (size_t)n * sizeof(int32_t);
  UNPROTECT(1);
  return xp;
}

SEXP bs_job_info(SEXP xp) {
  bs_job *job = job_get(xp);
  SEXP out = PROTECT(Rf_allocVector(REALSXP, 3));
  int64_t paired = 0;
  for (int64_t g = 0; g < job->n_groups; g++) paired += job->groups[g].k2 > 0;
  REAL(out)[0] = (double)job->n_blocks;
  REAL(out)[1] = (double)job->out_length;
  REAL(out)[2] = (double)paired;
  UNPROTECT(1);
  return out;
}

static void job_set_out(bs_job *job, void *out) {
  if (job->kind == JOB_MEANS)
    job->means.out = (double *)out;
  else
    job->draws.out = (int32_t *)out;
}

static void job_block(const void *ctx, int64_t b) {
  const bs_job *job = (const bs_job *)ctx;
  if (job->kind == JOB_MEANS)
    kernel_means_block(&job->means, b);
  else
    kernel_draws_block(&job->draws, b);
}

/* The result vector lives in the handle's protected slot, so serial runs
 * write straight into it and nothing is copied. */
static SEXP job_result_vector(SEXP xp, bs_job *job) {
  SEXP res = R_ExternalPtrProtected(xp);
  if (res == R_NilValue) {
    res = Rf_allocVector(job->kind == JOB_MEANS ? REALSXP : INTSXP, job->out_length);
    R_SetExternalPtrProtected(xp, res);
  }
  return res;
}

static void *vector_data(SEXP res) {
  return TYPEOF(res) == REALSXP ? (void *)REAL(res) : (void *)INTEGER(res);
}

SEXP bs_job_run(SEXP xp, SEXP from, SEXP to) {
  bs_job *job = job_get(xp);
  if (job->forked) Rf_error("bootscale internal error: the job runs on the pool");
  const double f = scalar_real(from, "from"), t = scalar_real(to, "to");
  if (f < 0 || t > (double)job->n_blocks || f > t)
    Rf_error("bootscale internal error: block range out of bounds");
  SEXP res = job_result_vector(xp, job);
  job_set_out(job, vector_data(res));
  for (int64_t b = (int64_t)f; b < (int64_t)t; b++) job_block(job, b);
  job->serial_blocks += (int64_t)t - (int64_t)f;
  /* R's evaluator checks for interrupts only every so many steps; the
   * caller's loop is short, so check here. The handle stays valid and the
   * caller's on.exit releases it. */
  R_CheckUserInterrupt();
  return R_NilValue;
}

SEXP bs_job_fork(SEXP xp, SEXP workers, SEXP hook) {
  bs_job *job = job_get(xp);
  if (job->forked) Rf_error("bootscale internal error: the job was forked already");
  const double w = scalar_real(workers, "workers");
  if (w < 1 || w > POOL_MAX_WORKERS)
    Rf_error("bootscale internal error: `workers` must be in 1..%d", POOL_MAX_WORKERS);
  pool_hook hk = {POOL_HOOK_NONE, -1, 0.0};
  if (hook != R_NilValue) {
    if (!Rf_isReal(hook) || XLENGTH(hook) != 3)
      Rf_error("bootscale internal error: bad test hook");
    hk.action = (pool_hook_action)(int)REAL(hook)[0];
    hk.block = (int64_t)REAL(hook)[1];
    hk.seconds = REAL(hook)[2];
  }
  int err = pool_map(&job->pool, job->n_blocks, job->out_bytes);
  if (err)
    Rf_error("cannot map %.0f bytes of shared memory for the workers: %s",
             (double)job->out_bytes, strerror(err));
  job_set_out(job, pool_data(&job->pool));
  job->forked = 1;
  err = pool_fork(&job->pool, (int)w, job_block, job, hook == R_NilValue ? NULL : &hk);
  if (err) {
    pool_release(&job->pool);
    Rf_error("cannot start %d workers: fork() failed: %s", (int)w, strerror(err));
  }
  return R_NilValue;
}

SEXP bs_job_wait(SEXP xp, SEXP timeout_ms) {
  bs_job *job = job_get(xp);
  if (!job->forked) Rf_error("bootscale internal error: the job was not forked");
  const double to = scalar_real(timeout_ms, "timeout_ms");
  pool_state st = pool_wait(&job->pool, (int)to);
  /* Ctrl-C interrupts poll(); raise it now rather than when R's evaluator
   * next looks. The caller's on.exit kills and reaps the workers. */
  R_CheckUserInterrupt();
  const double progress = (double)pool_progress(&job->pool);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 3));
  SET_VECTOR_ELT(out, 0, Rf_ScalarInteger((int)st));
  SET_VECTOR_ELT(out, 1, Rf_ScalarReal(progress));
  SET_VECTOR_ELT(out, 2, Rf_mkString(st == POOL_FAILED ? pool_failure(&job->pool) : ""));
  /* DONE: the results stay in the shared mapping, where bs_job_summarise
   * reads them and bs_job_result copies them out, while the workers exit. */
  if (st == POOL_FAILED) {
    pool_release(&job->pool);
    job_set_out(job, NULL);
  }
  UNPROTECT(1);
  return out;
}

static int job_complete(const bs_job *job) {
  return job->forked ? job->pool.state == POOL_DONE : job->serial_blocks == job->n_blocks;
}

/* The results as an R vector. After a forked run the first call copies them
 * out of the mapping and releases the pool (reaping the workers). */
SEXP bs_job_result(SEXP xp) {
  bs_job *job = job_get(xp);
  if (!job_complete(job)) Rf_error("bootscale internal error: the job is not complete");
  if (job->forked && R_ExternalPtrProtected(xp) == R_NilValue) {
    SEXP res = job_result_vector(xp, job); /* protected by the handle */
    if (job->out_bytes) memcpy(vector_data(res), pool_data(&job->pool), job->out_bytes);
    pool_release(&job->pool);
    job_set_out(job, vector_data(res));
    return res;
  }
  return job_result_vector(xp, job);
}

SEXP bs_job_release(SEXP xp) {
  if (TYPEOF(xp) != EXTPTRSXP) return R_NilValue;
  job_finalizer(xp);
  return R_NilValue;
}

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
  kernel_summary(x, n, (int64_t)g, REAL(probs)[0], REAL(probs)[1], scratch, REAL(out));
  UNPROTECT(1);
  return out;
}

SEXP bs_summarise_means(SEXP means, SEXP n_groups, SEXP probs) {
  if (!Rf_isReal(means)) Rf_error("bootscale internal error: bad arguments to the summary");
  return summarise(REAL(means), XLENGTH(means), n_groups, probs);
}

/* The summary of a complete means job, read where the means are: in the
 * result vector after a serial run, in the shared mapping after a forked one
 * (no copy, and the workers finish exiting meanwhile). */
SEXP bs_job_summarise(SEXP xp, SEXP n_groups, SEXP probs) {
  bs_job *job = job_get(xp);
  if (job->kind != JOB_MEANS || !job_complete(job) || !job->means.out)
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
  const R_xlen_t n = (R_xlen_t)ng, len = XLENGTH(v);
  const double *x = REAL(v);
  const int *g = INTEGER(id);
  long double *acc = (long double *)R_alloc((size_t)n + 1, sizeof(long double));
  unsigned char *na = (unsigned char *)R_alloc((size_t)n + 1, 1);
  for (R_xlen_t j = 0; j < n; j++) {
    acc[j] = 0;
    na[j] = 0;
  }
  for (R_xlen_t i = 0; i < len; i++) {
    if (g[i] < 1 || g[i] > n) Rf_error("bootscale internal error: group id out of range");
    const R_xlen_t j = g[i] - 1;
    if (ISNAN(x[i])) {
      if (R_IsNA(x[i])) na[j] = 2;
      else if (!na[j]) na[j] = 1;
    } else {
      acc[j] += x[i];
    }
  }
  SEXP out = PROTECT(Rf_allocVector(REALSXP, n));
  double *o = REAL(out);
  for (R_xlen_t j = 0; j < n; j++) o[j] = na[j] == 2 ? NA_REAL : na[j] == 1 ? R_NaN : (double)acc[j];
  UNPROTECT(1);
  return out;
}

/* ---- internals exposed for tests ---------------------------------------- */

SEXP bs_alias_probs(SEXP weights) {
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

SEXP bs_rng_head(SEXP state, SEXP n) {
  if (TYPEOF(state) != STRSXP || XLENGTH(state) != 4)
    Rf_error("`state` must be four hexadecimal strings");
  rng_state st;
  for (int i = 0; i < 4; i++) st.s[i] = parse_hex(state, i);
  return hex_outputs(&st, Rf_asInteger(n));
}

SEXP bs_splitmix_head(SEXP seed, SEXP n) {
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

SEXP bs_rng_stream_head(SEXP seed, SEXP group, SEXP block, SEXP n) {
  rng_state st = rng_stream(seed_bits(seed), (uint64_t)scalar_real(group, "group"),
                            (uint64_t)scalar_real(block, "block"));
  return hex_outputs(&st, Rf_asInteger(n));
}

SEXP bs_fork_available(void) { return Rf_ScalarLogical(pool_available()); }

SEXP bs_physical_memory(void) {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && size > 0) return Rf_ScalarReal((double)pages * (double)size);
#endif
  return Rf_ScalarReal(NA_REAL);
}

/* ---- memory and BLAS ---- */

#include "blas.h"
#include "memory.h"

/* c(reset, rss, peak, children_peak): reset is 0 when the peak was reset,
 * an errno value when resetting failed, NA when not asked; sizes in bytes,
 * NA when unknown. */
SEXP bs_memory_snapshot(SEXP reset) {
  double status = NA_REAL;
  if (Rf_asLogical(reset) == TRUE) status = (double)memory_reset_peak();
  const double v[4] = {status, memory_rss(), memory_peak(), memory_children_peak()};
  SEXP out = PROTECT(Rf_allocVector(REALSXP, 4));
  REAL(out)[0] = v[0];
  for (int i = 1; i < 4; i++) REAL(out)[i] = v[i] < 0 ? NA_REAL : v[i];
  UNPROTECT(1);
  return out;
}

static size_t byte_count(SEXP bytes) {
  const double b = scalar_real(bytes, "bytes");
  if (b < 0 || b > 0x1p52) Rf_error("bootscale internal error: `bytes` out of range");
  return (size_t)b;
}

SEXP bs_memory_touch(SEXP bytes) {
  const size_t n = byte_count(bytes);
  const int err = memory_touch(n);
  if (err) Rf_error("cannot allocate %.0f bytes: %s", (double)n, strerror(err));
  return R_NilValue;
}

SEXP bs_memory_child(SEXP bytes) {
  const size_t n = byte_count(bytes);
  const int err = memory_fork_touch(n);
  if (err > 0) Rf_error("cannot fork a child: %s", strerror(err));
  if (err < 0) Rf_error("the child that touches %.0f bytes failed", (double)n);
  return R_NilValue;
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
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 5));
  SET_VECTOR_ELT(out, 0, v == BLAS_UNKNOWN ? Rf_ScalarString(NA_STRING)
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

/* ---- the cluster backend's seam ------------------------------------------ */

/* Offset in the result of the first element of block b (b == n_blocks gives
 * the length): blocks are contiguous slices in block order. */
static R_xlen_t block_offset(const bs_job *job, int64_t b) {
  if (b >= job->n_blocks) return job->out_length;
  if (job->kind == JOB_DRAWS) return (R_xlen_t)(b * KERNEL_BLOCK_DRAWS);
  const int64_t bpg = (job->means.n_means + KERNEL_BLOCK_MEANS - 1) / KERNEL_BLOCK_MEANS;
  return (R_xlen_t)((b / bpg) * job->means.n_means + (b % bpg) * KERNEL_BLOCK_MEANS);
}

/* Blocks [from, to) computed in this process; returns only their slice of
 * the result, for a chunk of the future backend. The full result vector is
 * allocated but only the slice's pages are written. The cluster backend
 * will call the pool's run_blocks() here instead. */
SEXP bs_job_slice(SEXP xp, SEXP from, SEXP to) {
  bs_job *job = job_get(xp);
  if (job->forked) Rf_error("bootscale internal error: the job runs on the pool");
  const double f = scalar_real(from, "from"), t = scalar_real(to, "to");
  if (f < 0 || t > (double)job->n_blocks || f > t)
    Rf_error("bootscale internal error: block range out of bounds");
  SEXP res = job_result_vector(xp, job);
  job_set_out(job, vector_data(res));
  for (int64_t b = (int64_t)f; b < (int64_t)t; b++) {
    job_block(job, b);
    if ((b & 15) == 15) R_CheckUserInterrupt();
  }
  const R_xlen_t lo = block_offset(job, (int64_t)f), hi = block_offset(job, (int64_t)t);
  SEXP out = PROTECT(Rf_allocVector(TYPEOF(res), hi - lo));
  const size_t each = TYPEOF(res) == REALSXP ? sizeof(double) : sizeof(int);
  if (hi > lo) memcpy(vector_data(out), (char *)vector_data(res) + (size_t)lo * each, (size_t)(hi - lo) * each);
  UNPROTECT(1);
  return out;
}
