#include <R.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Visibility.h>
#include <Rinternals.h>

#include "bootscale.h"

/* clang-format off */
#define CALLDEF(name, n) {#name, (DL_FUNC)&name, n}

static const R_CallMethodDef call_methods[] = {
    /* jobs */
    CALLDEF(bs_means_job,            5),
    CALLDEF(bs_draws_job,            3),
    CALLDEF(bs_job_info,             1),
    CALLDEF(bs_job_start,            8),
    CALLDEF(bs_job_step,             3),
    CALLDEF(bs_job_result,           1),
    CALLDEF(bs_job_release,          1),
    CALLDEF(bs_job_summarise,        3),
    CALLDEF(bs_job_finish_means,     4),
    /* the session's worker pool */
    CALLDEF(bs_pool_start,           3),
    CALLDEF(bs_pool_stop,            0),
    CALLDEF(bs_pool_status,          0),
    /* summaries */
    CALLDEF(bs_summarise_means,      3),
    CALLDEF(bs_group_sums,           3),
    /* platform: fork, memory and BLAS */
    CALLDEF(bs_fork_available,       0),
    CALLDEF(bs_memory_limits,        0),
    CALLDEF(bs_memory_snapshot,      1),
    CALLDEF(bs_blas_info,            1),
    CALLDEF(bs_blas_set_threads,     1),
    /* constants */
    CALLDEF(bs_constants,            0),
    /* exact bootstrap */
    CALLDEF(bs_exact_distribution,   4),
    /* test-only (tests/testthat; never called from R/) */
    CALLDEF(bs_test_alias_probs,     1),
    CALLDEF(bs_test_mapped_bytes,    0),
    CALLDEF(bs_test_rng_head,        2),
    CALLDEF(bs_test_splitmix_head,   2),
    CALLDEF(bs_test_rng_stream_head, 4),
    CALLDEF(bs_test_memory_touch,    1),
    CALLDEF(bs_test_memory_child,    1),
    {NULL, NULL, 0}};
/* clang-format on */

void attribute_visible R_init_bootscale(DllInfo *dll) {
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
  R_forceSymbols(dll, TRUE);
}
