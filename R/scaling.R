# The chapter's advice, "benchmark your code on different numbers of CPU
# cores before production runs", as a function: time a job for several
# worker counts, check that the results agree, and fit Amdahl's law.

#' Measure how a job scales with the number of workers
#'
#' Calls `fun(w)` for every worker count `w` in `workers`, `times` times
#' each after one warm-up call, and reports the median elapsed time, the
#' speedup and efficiency, how far each result is from the reference result,
#' and a least-squares fit of Amdahl's law. This is the chapter's loop over
#' `n_workers` with "Time taken by ... Speedup was ..." and "Maximum
#' difference between calculated means", as a table.
#'
#' @section Reference:
#' Speedups are relative to the reference worker count: 1 when `workers`
#' contains 1, else the smallest count. `speedup = seconds[reference] /
#' seconds`, and `efficiency = speedup / (workers / reference)`, the
#' fraction of the ideal (linear) speedup achieved.
#'
#' @section Comparing results:
#' `max_abs_diff` is the largest absolute difference between the first
#' result for each worker count and the first result for the reference
#' count. It is computed for numeric (or logical) vectors and arrays of the
#' same length, and for data frames with the same number of rows over their
#' common numeric columns; it is `NA` when results cannot be compared this
#' way (lists, characters, different lengths, different `NA` positions).
#' With bootscale's own functions and a fixed `seed` it is exactly 0.
#'
#' @section Amdahl's law:
#' A job whose fraction `p` runs in parallel has speedup
#' `1 / ((1 - p) + p / n)` on `n` workers, never more than the ceiling
#' `1 / (1 - p)`. [amdahl_fit()] finds the `p` in \[0, 1\] that fits the
#' measured speedups best; the fit is stored as the attribute `"amdahl"` and
#' printed under the table.
#'
#' @param fun A function of one argument, the number of workers, that runs
#'   the job and returns its result. It is called `length(workers) * times +
#'   1` times.
#' @param workers Worker counts to try: whole numbers >= 1. Duplicates are
#'   dropped and the counts are sorted. Defaults to 1 up to
#'   [default_workers()].
#' @param times Repetitions per worker count; the median time is reported.
#' @return A tibble of class `bootscale_scaling`, one row per worker count,
#'   with columns `workers`, `seconds` (median elapsed time), `speedup`,
#'   `efficiency` and `max_abs_diff`. Attributes: `"amdahl"` (the one-row
#'   tibble from [amdahl_fit()]), `"reference"` (the reference worker
#'   count) and `"cores"` (the available cores,
#'   [parallelly::availableCores()]). It prints with the Amdahl fit and
#'   names the worker counts above the available cores, and has an
#'   [autoplot()][ggplot2::autoplot] method.
#'
#'   Worker counts above the available cores are allowed: that is how
#'   oversubscription is measured. bootscale's warning about them
#'   (`bootscale_warning_oversubscribed`) is therefore not raised by the
#'   calls of `fun` here; other warnings pass.
#' @seealso [amdahl_fit()], [blas_scaling()] for BLAS threads.
#' @export
#' @examples
#' # A job with 0.02 s of serial work and 0.1 s of perfectly parallel work:
#' job <- function(workers) {
#'   Sys.sleep(0.02 + 0.1 / workers)
#'   workers
#' }
#' scaling_benchmark(job, workers = c(1, 2, 4), times = 1)
#'
#' \donttest{
#' # bootscale's resampling, bit-identical for any number of workers:
#' fs <- aggregate_filesizes(read_filesizes(filesizes_example()))
#' scaling_benchmark(function(w) {
#'   bootstrap_mean(fs, BytesLog2, Files, .by = Year, n_means = 20000,
#'                  workers = w, seed = 1)
#' })
#' }
scaling_benchmark <- function(fun, workers = seq_len(default_workers()), times = 3) {
  if (!is.function(fun)) {
    abort_bs(c("{.arg fun} must be a function of the number of workers.",
               "x" = "It is {describe(fun)}."), "bad_function")
  }
  workers <- check_worker_counts(workers)
  times <- check_count(times, max = 1e6)
  reference <- workers[[1]]

  # A benchmark oversubscribes on purpose when it asks for more workers than
  # cores: bootscale's warning about that, once per call, is muffled here,
  # and the result says which counts exceeded the cores instead.
  quietly <- function(expr) {
    withCallingHandlers(expr, bootscale_warning_oversubscribed = function(w) {
      invokeRestart("muffleWarning")
    })
  }
  quietly(fun(reference))
  n <- length(workers)
  seconds <- numeric(n)
  diffs <- numeric(n)
  ref_result <- NULL
  for (i in seq_len(n)) {
    elapsed <- numeric(times)
    for (k in seq_len(times)) {
      t0 <- now()
      res <- quietly(fun(workers[[i]]))
      elapsed[[k]] <- now() - t0
      if (k == 1) first <- res
    }
    seconds[[i]] <- stats::median(elapsed)
    if (i == 1) ref_result <- first
    diffs[[i]] <- max_abs_diff(first, ref_result)
    first <- res <- NULL
  }
  out <- new_scaling(workers, seconds, diffs)
  attr(out, "cores") <- parallelly::availableCores(omit = 0L)
  out
}

# The result of scaling_benchmark(): speedups against the first (smallest)
# worker count, and the Amdahl fit of the speedups that are finite.
new_scaling <- function(workers, seconds, max_abs_diff = NA_real_) {
  reference <- workers[[1]]
  speedup <- seconds[[1]] / seconds
  out <- tibble::new_tibble(
    list(
      workers = as.integer(workers),
      seconds = as.double(seconds),
      speedup = speedup,
      efficiency = speedup / (workers / reference),
      max_abs_diff = rep_len(as.double(max_abs_diff), length(workers))
    ),
    nrow = length(workers),
    class = "bootscale_scaling"
  )
  attr(out, "amdahl") <- fit_finite(workers, speedup, reference)
  attr(out, "reference") <- as.integer(reference)
  out
}

fit_finite <- function(workers, speedup, reference) {
  ok <- is.finite(speedup) & speedup > 0
  if (sum(ok) < 2) return(tibble::tibble(p = NA_real_, ceiling = NA_real_, rmse = NA_real_))
  amdahl_fit(workers[ok], speedup[ok], reference = reference)
}

check_worker_counts <- function(workers, call = rlang::caller_env()) {
  ok <- is.numeric(workers) && !is.factor(workers) && length(workers) >= 1 &&
    !anyNA(workers) && all(is.finite(workers)) && all(workers == trunc(workers)) &&
    all(workers >= 1) && all(workers <= 1e6)
  if (!ok) {
    abort_bs(
      c("{.arg workers} must be whole numbers, each at least 1.",
        "x" = "It is {describe(workers)}."),
      "bad_workers", call = call
    )
  }
  sort(unique(as.double(workers)))
}

# Largest absolute difference between two results, or NA when they are not
# numeric things of the same shape.
max_abs_diff <- function(x, y) {
  if (is.data.frame(x) && is.data.frame(y)) {
    if (nrow(x) != nrow(y)) return(NA_real_)
    numeric_cols <- function(d) names(d)[vapply(d, is_plain_numeric, logical(1))]
    cols <- intersect(numeric_cols(x), numeric_cols(y))
    if (!length(cols)) return(NA_real_)
    d <- vapply(cols, function(col) max_abs_diff(x[[col]], y[[col]]), numeric(1))
    return(if (anyNA(d)) NA_real_ else max(d))
  }
  if (!is_plain_numeric(x) || !is_plain_numeric(y) || length(x) != length(y)) {
    return(NA_real_)
  }
  x <- as.double(x)
  y <- as.double(y)
  if (!identical(is.na(x), is.na(y))) return(NA_real_)
  keep <- !is.na(x)
  if (!any(keep)) return(0)
  d <- abs(x[keep] - y[keep])
  d[x[keep] == y[keep]] <- 0 # equal infinities
  max(d)
}

is_plain_numeric <- function(x) {
  (is.numeric(x) || is.logical(x)) && !is.factor(x) && is.atomic(x)
}

#' Fit Amdahl's law to measured speedups
#'
#' Finds the parallel fraction `p` of a job from its speedups on several
#' worker counts: the `p` in \[0, 1\] that minimises the squared differences
#' between the measured speedups and Amdahl's law,
#' `speedup(n) = 1 / ((1 - p) + p / n)`. The job can never run faster than
#' the ceiling `1 / (1 - p)` times the one-worker speed, however many
#' workers it gets.
#'
#' When the speedups are relative to a reference count `r` other than 1
#' (`r` workers have speedup 1), the model is the ratio of Amdahl's
#' speedups, `((1 - p) + p / r) / ((1 - p) + p / n)`; the ceiling is still
#' relative to one worker.
#'
#' @param workers Worker counts, whole numbers >= 1.
#' @param speedup Measured speedups, one per worker count, positive.
#' @param reference The worker count the speedups are relative to;
#'   the smallest count by default.
#' @return A tibble with one row and columns `p` (the parallel fraction),
#'   `ceiling` (`1 / (1 - p)`, `Inf` when `p` is 1) and `rmse` (root mean
#'   squared error of the fitted speedups). All are `NA` when fewer than two
#'   distinct worker counts are given.
#' @seealso [scaling_benchmark()].
#' @export
#' @examples
#' # 90% parallel: the ceiling is 10x.
#' n <- c(1, 2, 4, 8)
#' amdahl_fit(n, 1 / (0.1 + 0.9 / n))
amdahl_fit <- function(workers, speedup, reference = min(workers)) {
  check_worker_counts(workers)
  if (!is.numeric(speedup) || length(speedup) != length(workers) || anyNA(speedup) ||
      any(!is.finite(speedup)) || any(speedup <= 0)) {
    abort_bs(
      c("{.arg speedup} must hold one positive finite number per worker count ({length(workers)}).",
        "x" = "It is {describe(speedup)}."),
      "bad_speedup"
    )
  }
  reference <- check_count(reference, max = 1e6)
  workers <- as.double(workers)
  if (length(unique(workers)) < 2) {
    return(tibble::tibble(p = NA_real_, ceiling = NA_real_, rmse = NA_real_))
  }
  model <- function(p) ((1 - p) + p / reference) / ((1 - p) + p / workers)
  sse <- function(p) sum((speedup - model(p))^2)
  # A grid first, then a fine search beside its best point: the error need
  # not be unimodal in p.
  grid <- seq(0, 1, by = 0.01)
  best <- grid[[which.min(vapply(grid, sse, numeric(1)))]]
  fit <- stats::optimize(sse, c(max(0, best - 0.01), min(1, best + 0.01)), tol = 1e-10)
  p <- if (sse(fit$minimum) <= sse(best)) fit$minimum else best
  tibble::tibble(
    p = p,
    ceiling = if (p >= 1) Inf else 1 / (1 - p),
    rmse = sqrt(sse(p) / length(workers))
  )
}

amdahl_speedup <- function(n, p, reference = 1) {
  ((1 - p) + p / reference) / ((1 - p) + p / n)
}

format_amdahl <- function(fit) {
  if (is.null(fit) || is.na(fit$p)) {
    return("Amdahl fit: needs at least two worker counts")
  }
  ceiling <- if (is.finite(fit$ceiling)) {
    paste0(format(signif(fit$ceiling, 3), trim = TRUE), "x")
  } else {
    "none"
  }
  sprintf("Amdahl fit: parallel fraction p = %.2f, ceiling %s", fit$p, ceiling)
}

#' @export
print.bootscale_scaling <- function(x, ...) {
  NextMethod()
  cat(format_amdahl(attr(x, "amdahl")), "\n", sep = "")
  cores <- attr(x, "cores")
  over <- if (is.numeric(cores)) x$workers[x$workers > cores] else integer()
  if (length(over)) {
    cat(cli::format_inline(
      "Above the {cores} available core{?s}: the times of {over} workers include competing for the CPU."
    ), "\n", sep = "")
  }
  invisible(x)
}
