#' bootscale: the scaling chapter's weighted bootstrap, fast, lean and parallel
#'
#' bootscale turns the scaling chapter of a data-analysis course into
#' software. Its lessons map to functions:
#'
#' * **Keep data in good types, aggregate early**: [read_filesizes()],
#'   [aggregate_filesizes()], [column_sizes()].
#' * **Vectorize, and then go further**: [wsample()] (alias method) and
#'   [bootstrap_means()], a fused C kernel that never materializes the
#'   `sample_size * n_means` draw matrix; [bootstrap_mean()] for tidy data;
#'   [filesize_pipeline()] for the whole pipeline.
#' * **Mind the memory ceiling**: [memit()] measures the peak resident memory
#'   of an expression, its children included.
#' * **Use every core, and measure it**: `workers =` runs a fork-based pool
#'   whose results are bit-identical for any number of workers;
#'   [scaling_benchmark()] measures speedup against workers and fits Amdahl's
#'   law.
#' * **BLAS threads**: [blas_info()], [blas_threads()],
#'   [with_blas_threads()], [blas_scaling()].
#'
#' Options: `bootscale.workers` (default number of workers),
#' `bootscale.force_fork` (fork even where parallelly considers it unsafe),
#' `bootscale.min_parallel_draws` (jobs with fewer draws run serially).
#'
#' @keywords internal
#' @useDynLib bootscale, .registration = TRUE, .fixes = "C_"
"_PACKAGE"
