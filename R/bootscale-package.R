#' bootscale: the scaling chapter's weighted bootstrap, fast, lean and parallel
#'
#' bootscale turns the scaling chapter of a data-analysis course into
#' software. Its lessons map to functions:
#'
#' * **Keep data in good types, aggregate early**: [read_filesizes()]
#'   (integers and an ordered factor where the values allow),
#'   [aggregate_filesizes()], [column_sizes()] and [size_ratio()] to see
#'   what it saves.
#' * **Store data in good formats, read only what you need**:
#'   [read_filesizes()] reads plain or gzip-compressed text,
#'   [write_filesizes()] writes it; `vignette("memory")` times the text
#'   file against CSV and compressed and plain binary copies (`saveRDS()`).
#' * **Vectorize, and then go further**: [wsample()] (alias method) and
#'   [bootstrap_means()], a fused C kernel that never materializes the
#'   `sample_size * n_means` draw matrix; [bootstrap_mean()] for tidy data;
#'   [filesize_pipeline()] for the whole pipeline.
#' * **Mind the memory ceiling**: [memit()] measures the peak resident memory
#'   of an expression, its forked children included.
#' * **BLAS threads**: [blas_info()], [blas_threads()],
#'   [with_blas_threads()], [blas_scaling()]; keep BLAS threads times
#'   workers within the cores.
#' * **Use every core, and measure it**: `workers =` runs on a persistent
#'   pool of forked workers ([pool_start()], [default_workers()]) whose
#'   results are bit-identical for any number of workers;
#'   [scaling_benchmark()] measures speedup against workers and fits
#'   Amdahl's law ([amdahl_fit()]), or, with `scaling = "weak"`, the scaled
#'   speedup and Gustafson's law ([gustafson_fit()]).
#' * **Beyond one machine**: `backend = "future"` or [future_backend()]
#'   sends chunks of a job's blocks to futures, so that `future::plan()`
#'   runs them on other R sessions, a PSOCK cluster or Slurm
#'   (`future.batchtools`), with identical results, retries and checkpoints.
#' * **Profile before you optimize**: `vignette("scaling")` reads `Rprof()`
#'   of the chapter's R pipeline against bootscale's with `summaryRprof()`.
#' * **Look, do not only read**: `autoplot()` methods for the results of
#'   [bootstrap_mean()], [scaling_benchmark()] and [blas_scaling()]
#'   (with ggplot2).
#'
#' Options: `bootscale.workers` (default number of workers),
#' `bootscale.min_parallel_draws` (replaces the cost rule that decides when
#' the pool pays, by a plain threshold: jobs with fewer draws run serially),
#' `bootscale.pool_idle` (seconds without a call after which the pool stops;
#' default 300, 0 for never), `bootscale.backend` (`"fork"` or `"future"`),
#' and the future backend's defaults `bootscale.chunks`, `bootscale.retries`,
#' `bootscale.checkpoint`.
#'
#' Tutorials: `vignette("bootscale")` (get started), `vignette("scaling")`
#' (processors and parallelism), `vignette("memory")` (memory and
#' storage) and `vignette("cluster")` (beyond one machine).
#'
#' @keywords internal
#' @useDynLib bootscale, .registration = TRUE, .fixes = "C_"
"_PACKAGE"
