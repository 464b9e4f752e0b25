# The chapter's advice, "benchmark your code on different numbers of CPU
# cores before production runs", as a function: time a job for several
# worker counts, check that the results agree, and fit Amdahl's law.

#' Measure how a job scales with the number of workers
#'
#' Calls `fun(w)` for every worker count `w` in `workers`, `times` times
#' each after one warm-up call, and reports the median elapsed time, the
#' speedup and efficiency, how far each result is from the reference result,
#' and a least-squares fit of Amdahl's law (or, for weak scaling,
#' Gustafson's law). This is the chapter's loop over `n_workers` with "Time
#' taken by ... Speedup was ..." and "Maximum difference between calculated
#' means", as a table.
#'
#' @section Strong and weak scaling:
#' * `scaling = "strong"` (the default): the job is the same for every
#'   worker count, so more workers should finish it sooner. `speedup =
#'   seconds[reference] / seconds`. Amdahl's law describes it.
#' * `scaling = "weak"`: `fun(w)` must do work that grows in proportion to
#'   `w` (for example `n_means = w * 1e5`), so that each worker has the same
#'   share. Ideally the time stays flat. `speedup` is then the **scaled
#'   speedup**, the work done per second relative to the reference:
#'   `(workers / reference) * seconds[reference] / seconds`. Gustafson's law
#'   describes it. `max_abs_diff` is `NA`, since jobs of different sizes
#'   have different results.
#'
#' In both modes `efficiency = speedup / (workers / reference)`, the fraction
#' of the ideal (linear) speedup achieved.
#'
#' @section Reference:
#' Speedups are relative to the reference worker count: 1 when `workers`
#' contains 1, else the smallest count.
#'
#' @section Comparing results:
#' `max_abs_diff` is the largest absolute difference between the first
#' result for each worker count and the first result for the reference
#' count. It is computed for numeric (or logical) vectors and arrays of the
#' same length, and for data frames with the same number of rows over their
#' common numeric columns; it is `NA` when results cannot be compared this
#' way (lists, characters, different lengths, different `NA` positions) and
#' in weak scaling. With bootscale's own functions and a fixed `seed` it is
#' exactly 0.
#'
#' @section Amdahl's and Gustafson's laws:
#' A job whose fraction `p` runs in parallel has speedup
#' `1 / ((1 - p) + p / n)` on `n` workers, never more than the ceiling
#' `1 / (1 - p)` ([amdahl_fit()]). When the work grows with the workers,
#' the scaled speedup is `(1 - p) + p * n`, with `p` the parallel fraction
#' of the time on `n` workers: no ceiling ([gustafson_fit()]). The fit is
#' stored as the attribute `"amdahl"` (strong) or `"gustafson"` (weak) and
#' printed under the table. It needs at least three worker counts: with two
#' there is one speedup and one unknown, so any noise in that speedup is
#' taken for the parallel fraction. With fewer the fit is `NA`.
#'
#' @param fun A function of one argument, the number of workers, that runs
#'   the job and returns its result. It is called `length(workers) * times +
#'   1` times. For weak scaling its work must grow in proportion to the
#'   number of workers.
#' @param workers Worker counts to try: whole numbers >= 1. Duplicates are
#'   dropped and the counts are sorted. Defaults to 1 up to
#'   [default_workers()].
#' @param times Repetitions per worker count; the median time is reported.
#' @param scaling `"strong"` (the same work for every worker count) or
#'   `"weak"` (work proportional to the workers); see above.
#' @return A tibble of class `bootscale_scaling`, one row per worker count,
#'   with columns `workers` (integer), `seconds` (median elapsed time),
#'   `speedup` (the scaled speedup in weak scaling), `efficiency` and
#'   `max_abs_diff` (doubles). Attributes: `"scaling"` (`"strong"` or
#'   `"weak"`), `"amdahl"` or `"gustafson"` (the one-row tibble from
#'   [amdahl_fit()] or [gustafson_fit()]), `"reference"` (the reference
#'   worker count) and `"cores"` (the cores available when it was measured,
#'   from [parallelly::availableCores()]). It prints with the fit, and has
#'   an [autoplot()][ggplot2::autoplot] method that marks the core count.
#'
#'   Worker counts above the available cores are allowed: that is how
#'   oversubscription is measured. bootscale's warning about them
#'   (`bootscale_warning_oversubscribed`) is therefore not raised by the
#'   calls of `fun` here; other warnings pass.
#' @seealso [amdahl_fit()], [gustafson_fit()], [blas_scaling()] for BLAS
#'   threads.
#' @export
#' @examples
#' # A job with 0.02 s of serial work and 0.1 s of perfectly parallel work:
#' job <- function(workers) {
#'   Sys.sleep(0.02 + 0.1 / workers)
#'   workers
#' }
#' scaling_benchmark(job, workers = c(1, 2, 4), times = 1)
#'
#' # The same job made weak: each worker keeps 0.1 s of parallel work.
#' weak_job <- function(workers) Sys.sleep(0.02 + 0.1 * workers / workers)
#' scaling_benchmark(weak_job, workers = c(1, 2, 4), times = 1, scaling = "weak")
#'
#' \donttest{
#' # bootscale's resampling, bit-identical for any number of workers:
#' fs <- aggregate_filesizes(read_filesizes(filesizes_example()))
#' scaling_benchmark(function(w) {
#'   bootstrap_mean(fs, BytesLog2, Files, .by = Year, n_means = 20000,
#'                  workers = w, seed = 1)
#' })
#' }
scaling_benchmark <- function(fun, workers = seq_len(default_workers()), times = 3,
                              scaling = c("strong", "weak")) {
  if (!is.function(fun)) {
    abort_bs(c("{.arg fun} must be a function of the number of workers.",
               "x" = "It is {describe(fun)}."), "bad_function")
  }
  workers <- check_worker_counts(workers)
  times <- check_count(times, max = 1e6)
  scaling <- check_scaling(scaling)
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
    if (scaling == "strong") {
      if (i == 1) ref_result <- first
      diffs[[i]] <- max_abs_diff(first, ref_result)
    } else {
      diffs[[i]] <- NA_real_
    }
    first <- res <- NULL
  }
  new_scaling(workers, seconds, diffs, scaling = scaling)
}

check_scaling <- function(scaling, call = rlang::caller_env()) {
  check_choice(scaling, c("strong", "weak"), "bad_scaling", call = call)
}

# The result of scaling_benchmark(): speedups against the first (smallest)
# worker count, and the fit of the speedups that are finite.
new_scaling <- function(workers, seconds, max_abs_diff = NA_real_, scaling = "strong",
                        cores = available_cores()) {
  reference <- workers[[1]]
  ratio <- workers / reference
  speedup <- seconds[[1]] / seconds
  if (scaling == "weak") speedup <- speedup * ratio
  out <- tibble::new_tibble(
    list(
      workers = as.integer(workers),
      seconds = as.double(seconds),
      speedup = speedup,
      efficiency = speedup / ratio,
      max_abs_diff = rep_len(as.double(max_abs_diff), length(workers))
    ),
    nrow = length(workers),
    class = "bootscale_scaling"
  )
  attr(out, "scaling") <- scaling
  fit_name <- if (scaling == "weak") "gustafson" else "amdahl"
  attr(out, fit_name) <- fit_finite(workers, speedup, reference, law = fit_name)
  attr(out, "reference") <- as.integer(reference)
  attr(out, "cores") <- as.integer(cores)
  out
}

# A fit needs three worker counts: two give one speedup for one unknown,
# which any measurement noise would decide.
fit_finite <- function(workers, speedup, reference, law = "amdahl") {
  ok <- is.finite(speedup) & speedup > 0
  if (length(unique(workers[ok])) < 3) return(no_fit())
  fit <- if (law == "gustafson") gustafson_fit else amdahl_fit
  fit(workers[ok], speedup[ok], reference = reference)
}

no_fit <- function() tibble::tibble(p = NA_real_, ceiling = NA_real_, rmse = NA_real_)

check_worker_counts <- function(workers, call = rlang::caller_env()) {
  ok <- is.numeric(workers) && !is.factor(workers) && length(workers) >= 1 &&
    !anyNA(workers) && all(is.finite(workers) & workers == trunc(workers) & workers >= 1 &
                             workers <= 1e6)
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
  fit_law(workers, speedup, reference, amdahl_speedup,
          ceiling = function(p) if (p >= 1) Inf else 1 / (1 - p))
}

#' Fit Gustafson's law to measured scaled speedups
#'
#' Weak scaling gives each worker the same amount of work, so the job grows
#' with the workers. Gustafson's law says the scaled speedup on `n` workers
#' is `(1 - p) + p * n`, where `p` is the fraction of the time on `n`
#' workers spent in the parallel part. Unlike Amdahl's law it has no
#' ceiling: a bigger machine does a bigger job in the same time.
#' `gustafson_fit()` finds the `p` in \[0, 1\] that minimises the squared
#' differences between that law and the measured scaled speedups.
#'
#' When the speedups are relative to a reference count `r` other than 1,
#' the model is `((1 - p) + p * n) / ((1 - p) + p * r)`.
#'
#' @inheritParams amdahl_fit
#' @param speedup Measured scaled speedups (see [scaling_benchmark()] with
#'   `scaling = "weak"`), one per worker count, positive.
#' @return A tibble with one row and columns `p` (the parallel fraction),
#'   `ceiling` (always `Inf`; there is none, the column is kept so that the
#'   result has the same shape as [amdahl_fit()]'s) and `rmse`. All are `NA`
#'   when fewer than two distinct worker counts are given.
#' @seealso [scaling_benchmark()], [amdahl_fit()].
#' @export
#' @examples
#' # 5% serial: 16 workers do 15.25 times the work in the same time.
#' n <- c(1, 2, 4, 8, 16)
#' gustafson_fit(n, 0.05 + 0.95 * n)
gustafson_fit <- function(workers, speedup, reference = min(workers)) {
  fit_law(workers, speedup, reference, gustafson_speedup,
          ceiling = function(p) if (is.na(p)) NA_real_ else Inf)
}

# The fit of a law speedup(n, p, reference) to measured speedups, checked
# as amdahl_fit() says (the caller's arguments are named in errors), with
# the law's ceiling for the fitted p.
fit_law <- function(workers, speedup, reference, law, ceiling,
                    call = rlang::caller_env()) {
  args <- check_fit_args(workers, speedup, reference, call = call)
  if (is.null(args)) return(no_fit())
  model <- function(p) law(args$workers, p, args$reference)
  p <- fit_fraction(model, args$speedup)
  tibble::tibble(p = p, ceiling = ceiling(p), rmse = sqrt(mean((args$speedup - model(p))^2)))
}

# NULL when there are fewer than two distinct counts (nothing to fit).
check_fit_args <- function(workers, speedup, reference, call = rlang::caller_env()) {
  check_worker_counts(workers, call = call)
  if (!is.numeric(speedup) || length(speedup) != length(workers) || anyNA(speedup) ||
      any(!is.finite(speedup)) || any(speedup <= 0)) {
    abort_bs(
      c("{.arg speedup} must hold one positive finite number per worker count ({length(workers)}).",
        "x" = "It is {describe(speedup)}."),
      "bad_speedup", call = call
    )
  }
  reference <- check_count(reference, max = 1e6, call = call)
  workers <- as.double(workers)
  if (length(unique(workers)) < 2) return(NULL)
  list(workers = workers, speedup = as.double(speedup), reference = reference)
}

# The p in [0, 1] with the least squared error: a grid first, then a fine
# search beside its best point, since the error need not be unimodal in p.
fit_fraction <- function(model, speedup) {
  sse <- function(p) sum((speedup - model(p))^2)
  grid <- seq(0, 1, by = 0.01)
  best <- grid[[which.min(vapply(grid, sse, numeric(1)))]]
  fit <- stats::optimize(sse, c(max(0, best - 0.01), min(1, best + 0.01)), tol = 1e-10)
  if (sse(fit$minimum) <= sse(best)) fit$minimum else best
}

amdahl_speedup <- function(n, p, reference = 1) {
  ((1 - p) + p / reference) / ((1 - p) + p / n)
}

gustafson_speedup <- function(n, p, reference = 1) {
  ((1 - p) + p * n) / ((1 - p) + p * reference)
}

format_fit <- function(x) {
  weak <- identical(attr(x, "scaling"), "weak")
  fit <- attr(x, if (weak) "gustafson" else "amdahl")
  law <- if (weak) "Gustafson" else "Amdahl"
  if (is.null(fit) || is.na(fit$p)) {
    return(sprintf("%s fit: needs at least three worker counts", law))
  }
  if (weak) {
    return(sprintf("Gustafson fit: parallel fraction p = %.2f (no ceiling)", fit$p))
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
  weak <- identical(attr(x, "scaling"), "weak")
  cores <- attr(x, "cores")
  cat(if (weak) "Weak scaling (work grows with workers; speedup is the scaled speedup)"
      else "Strong scaling (the same work for every worker count)",
      if (!is.null(cores)) sprintf(", measured with %d core%s available", cores,
                                   if (cores == 1) "" else "s"),
      "\n", sep = "")
  NextMethod()
  cat(format_fit(x), "\n", sep = "")
  over <- if (is.numeric(cores)) x$workers[x$workers > cores] else integer()
  if (length(over)) {
    cat(cli::format_inline(
      "Above the {cores} available core{?s}: the times of {over} workers include competing for the CPU." # nolint: line_length_linter.
    ), "\n", sep = "")
  }
  invisible(x)
}
