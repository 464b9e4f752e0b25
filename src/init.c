#include <R.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Visibility.h>
#include <Rinternals.h>

#include "bootscale.h"

#define CALLDEF(name, n) {#name, (DL_FUNC)&name, n}

static const R_CallMethodDef call_methods[] = {
    /* jobs */
    CALLDEF(bs_means_job,        5),
    CALLDEF(bs_draws_job,        3),
    CALLDEF(bs_job_info,         1),
    CALLDEF(bs_job_run,          3),
    CALLDEF(bs_job_fork,         3),
    CALLDEF(bs_job_wait,         2),
    CALLDEF(bs_job_result,       1),
    CALLDEF(bs_job_release,      1),
    CALLDEF(bs_job_summarise,    3),
    CALLDEF(bs_group_sums,       3),
    /* internals for tests and diagnostics */
    CALLDEF(bs_summarise_means,  3),
    CALLDEF(bs_alias_probs,      1),
    CALLDEF(bs_rng_head,         2),
    CALLDEF(bs_splitmix_head,    2),
    CALLDEF(bs_rng_stream_head,  4),
    CALLDEF(bs_fork_available,   0),
    CALLDEF(bs_physical_memory,  0),
    /* memory and BLAS */
    CALLDEF(bs_memory_snapshot,  1),
    CALLDEF(bs_memory_touch,     1),
    CALLDEF(bs_memory_child,     1),
    CALLDEF(bs_blas_info,        1),
    CALLDEF(bs_blas_set_threads, 1),
    /* cluster backend: blocks of a job computed here, their slice returned */
    CALLDEF(bs_job_slice,        3),
    {NULL, NULL, 0}};

void attribute_visible R_init_bootscale(DllInfo *dll) {
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
  R_forceSymbols(dll, TRUE);
}
