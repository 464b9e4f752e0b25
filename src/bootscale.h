/* The .Call entry points of bootscale, all defined in api.c and registered
 * in init.c. */
#ifndef BOOTSCALE_H
#define BOOTSCALE_H

#include <Rinternals.h>

/* jobs: weighted resampling run serially or on the fork pool */
SEXP bs_means_job(SEXP values, SEXP weights, SEXP n_means, SEXP sample_size, SEXP seed);
SEXP bs_draws_job(SEXP prob, SEXP size, SEXP seed);
SEXP bs_job_info(SEXP job);
SEXP bs_job_run(SEXP job, SEXP from, SEXP to);
SEXP bs_job_fork(SEXP job, SEXP workers, SEXP hook);
SEXP bs_job_wait(SEXP job, SEXP timeout_ms);
SEXP bs_job_result(SEXP job);
SEXP bs_job_release(SEXP job);
SEXP bs_job_summarise(SEXP xp, SEXP n_groups, SEXP probs);
SEXP bs_group_sums(SEXP v, SEXP id, SEXP n_groups);

/* internals exposed for tests */
SEXP bs_summarise_means(SEXP means, SEXP n_groups, SEXP probs);
SEXP bs_alias_probs(SEXP weights);
SEXP bs_rng_head(SEXP state, SEXP n);
SEXP bs_splitmix_head(SEXP seed, SEXP n);
SEXP bs_rng_stream_head(SEXP seed, SEXP group, SEXP block, SEXP n);
SEXP bs_fork_available(void);
SEXP bs_physical_memory(void);

/* memory and BLAS: peak resident memory, test allocations, BLAS threads */
SEXP bs_memory_snapshot(SEXP reset);
SEXP bs_memory_touch(SEXP bytes);
SEXP bs_memory_child(SEXP bytes);
SEXP bs_blas_info(SEXP path);
SEXP bs_blas_set_threads(SEXP n);

/* cluster backend: a range of blocks computed here, only their slice returned */
SEXP bs_job_slice(SEXP xp, SEXP from, SEXP to);

#endif
