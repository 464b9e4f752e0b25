/* The .Call entry points of bootscale, all defined in api.c and registered
 * in init.c. Two sections: what R/ calls (bs_*), and what only the tests
 * call (bs_test_*). */
#ifndef BOOTSCALE_H
#define BOOTSCALE_H

#include <Rinternals.h>

/* jobs: weighted resampling run serially or on the fork pool */
SEXP bs_means_job(SEXP values, SEXP weights, SEXP n_means, SEXP sample_size, SEXP seed);
SEXP bs_draws_job(SEXP prob, SEXP size, SEXP seed);
SEXP bs_job_info(SEXP job);
SEXP bs_job_start(SEXP job, SEXP processes, SEXP from, SEXP to, SEXP hook, SEXP tmpdir,
                  SEXP mode, SEXP probs);
SEXP bs_job_step(SEXP job, SEXP budget_ms, SEXP wait_ms);
SEXP bs_job_result(SEXP job);
SEXP bs_job_release(SEXP job);
SEXP bs_job_summarise(SEXP xp, SEXP n_groups, SEXP probs);
SEXP bs_job_finish_means(SEXP xp, SEXP n_groups, SEXP probs, SEXP keep_samples);

/* the session's worker pool */
SEXP bs_pool_start(SEXP exe, SEXP workers, SEXP idle_seconds);
SEXP bs_pool_stop(void);
SEXP bs_pool_status(void);

/* summaries: of bootstrap means, and group sums for aggregate_filesizes() */
SEXP bs_summarise_means(SEXP means, SEXP n_groups, SEXP probs);
SEXP bs_group_sums(SEXP v, SEXP id, SEXP n_groups);

/* platform: fork, memory limits, peak resident memory, BLAS threads */
SEXP bs_fork_available(void);
SEXP bs_memory_limits(void);
SEXP bs_memory_snapshot(SEXP reset);
SEXP bs_blas_info(SEXP path);
SEXP bs_blas_set_threads(SEXP n);

/* constants defined in C (generator, limits, block sizes), for R */
SEXP bs_constants(void);

/* exact bootstrap: the distribution of the mean of draws on a lattice */
SEXP bs_exact_distribution(SEXP pos, SEXP w, SEXP k, SEXP sample_size);

/* test-only: the pure modules reached from tests/testthat */
SEXP bs_test_alias_probs(SEXP weights);
SEXP bs_test_mapped_bytes(void);
SEXP bs_test_rng_head(SEXP state, SEXP n);
SEXP bs_test_splitmix_head(SEXP seed, SEXP n);
SEXP bs_test_rng_stream_head(SEXP seed, SEXP group, SEXP block, SEXP n);
SEXP bs_test_memory_touch(SEXP bytes);
SEXP bs_test_memory_child(SEXP bytes);

#endif
