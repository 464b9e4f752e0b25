#' Bootstrap means of weighted data, fused and parallel
#'
#' Each replicate draws `sample_size` values of `x` with replacement, value
#' `i` with probability proportional to `weights[i]`, and keeps only their
#' mean. This is the chapter's
#' `colMeans(matrix(sample(x, sample_size * n_means, TRUE, weights), sample_size))`
#' without the `sample_size * n_means` matrix: memory is O(`n_means`).
#'
#' @section Method:
#' Draws use Walker's alias method. When `x` has at most 64 values, draws go
#' in pairs from a table over all `length(x)^2` pairs with weight
#' `w_i * w_j`, which is exactly two independent draws for the cost of one; an
#' odd `sample_size` ends with one single draw. Sums are accumulated in long
#' double.
#'
#' @section Random numbers and determinism:
#' The generator is xoshiro256++ (Blackman and Vigna), with one stream per
#' block of 1024 replicates: its state is filled by SplitMix64 from a key
#' hashed from (`seed`, group, block). A block's numbers therefore never
#' depend on which worker computes it, so the same `seed` gives bit-identical
#' results for any `workers`. With `seed = NULL` one seed is drawn from R's
#' RNG, so [set.seed()] reproduces the call and `.Random.seed` advances the
#' same way whatever `workers` is.
#'
#' @param x Numeric values (finite).
#' @param weights Non-negative finite weights, one per value, at least one
#'   positive; `NULL` for equal weights.
#' @param n_means Number of bootstrap replicates, a whole number >= 1.
#' @param sample_size Values drawn per replicate, a whole number from 1 to
#'   4.5e15 (the engine's limit; the chapter uses 100).
#' @param workers Number of forked worker processes, between 1 and 256.
#'   Defaults to `getOption("bootscale.workers")`, else
#'   [parallelly::availableCores()]. A job runs in this process whatever
#'   `workers` says when forking would not save at least 10 % (a draw costs
#'   about 1.5 ns, a worker about 2.4 ms plus 0.03 ms per MB of this
#'   session's resident memory, so two workers pay from about 15 million
#'   draws in a 70 MB session and 30 million at 200 MB); where fork is
#'   missing or unsafe the work runs serially with a one-time message.
#' @param seed `NULL` or a whole number; see Random numbers.
#' @param backend Where the blocks are computed: `"fork"` (this machine's
#'   worker pool), `"future"` (one future per chunk of blocks, run by
#'   whatever [future::plan()] is set, for example on a Slurm cluster), or
#'   [future_backend()] for its settings (chunks, retries, checkpoint).
#'   Defaults to `getOption("bootscale.backend", "fork")`. Results are
#'   identical for every backend. Under the future backend `workers` is not
#'   used: each chunk uses the cores of the worker that runs it.
#' @return A double vector of `n_means` bootstrap means, with attributes
#'   `seed` (the seed used) and `rng` (the generator's name); under the
#'   future backend also `backend`, `chunks` and `chunk_log` (see
#'   [future_backend()]).
#' @seealso [bootstrap_mean()] for data frames and groups.
#' @export
#' @examples
#' m <- bootstrap_means(0:40, weights = dpois(0:40, 12), n_means = 1000, seed = 1)
#' c(mean = mean(m), sd = sd(m))
#' identical(m, bootstrap_means(0:40, dpois(0:40, 12), 1000, workers = 2, seed = 1))
bootstrap_means <- function(x, weights = NULL, n_means = 1000, sample_size = 100,
                            workers = NULL, seed = NULL,
                            backend = getOption("bootscale.backend", "fork")) {
  x <- check_values(x)
  weights <- check_weights(weights, length(x))
  n_means <- check_count(n_means)
  sample_size <- check_count(sample_size, max = 4.5e15)  # the C engine's limit
  workers <- check_workers(workers)
  backend <- check_backend(backend)
  check_result_size(n_means, 8, "The bootstrap means")
  seed <- check_seed(seed)
  res <- means_engine(list(x), list(weights), n_means, sample_size, workers, seed,
                      backend = backend)
  structure(res, seed = seed, rng = rng_name)
}

rng_name <- "xoshiro256++ keyed by SplitMix64"

means_engine <- function(values, weights, n_means, sample_size, workers, seed,
                         call = rlang::caller_env(), finish = NULL, backend = NULL) {
  if (!is.null(backend)) {
    return(future_means(values, weights, n_means, sample_size, seed, backend, call, finish))
  }
  job <- .Call(C_bs_means_job, values, weights, n_means, sample_size, seed)
  run_job(job, workers, n_draws = length(values) * n_means * sample_size, call = call,
          finish = finish %||% job_result)
}

#' Bootstrap the weighted mean of a column, by group
#'
#' The chapter's `bootstrap_byteslog2_mean()` for any data frame: within
#' each group, [bootstrap_means()] of `value` weighted by `weight`, summarised
#' as an estimate with a standard error and a percentile interval. All groups
#' run as one job on the worker pool.
#'
#' @param .data A data frame or tibble; a `dplyr::group_by()` result is
#'   grouped by its grouping columns.
#' @param value The column (or an expression of columns) to average,
#'   evaluated in `.data` with tidy evaluation.
#' @param weight The column (or expression) of non-negative weights, or
#'   `NULL` for equal weights.
#' @param .by Grouping columns, like dplyr 1.1's `.by`: a bare name, `c()` of
#'   bare names, or a character vector. `NULL` for one group. Rows with `NA`
#'   in a grouping column form their own group, as in dplyr.
#' @inheritParams bootstrap_means
#' @param conf_level Confidence level of the percentile interval, strictly
#'   between 0 and 1.
#' @param keep_samples Whether to return the bootstrap means in a list-column
#'   `samples`.
#' @return A tibble with one row per group (sorted by the group columns)
#'   holding the group columns, `estimate` (the mean of the bootstrap means),
#'   `std.error` (their standard deviation), `conf.low` and `conf.high` (the
#'   percentile interval), `n_means`, and `samples` when `keep_samples =
#'   TRUE`. Attributes `seed` and `rng` record the random numbers used.
#' @seealso [filesize_pipeline()] for the chapter's pipeline end to end.
#' @export
#' @examples
#' fs <- read_filesizes(filesizes_example())
#' yearly <- aggregate_filesizes(fs)
#' bootstrap_mean(yearly, BytesLog2, weight = Files, .by = Year,
#'                n_means = 2000, seed = 1)
#'
#' # Expressions work too, and one group is the default:
#' bootstrap_mean(yearly, BytesLog2 / 10, Files, n_means = 500, seed = 1)
bootstrap_mean <- function(.data, value, weight = NULL, .by = NULL, n_means = 1000,
                           sample_size = 100, conf_level = 0.95, keep_samples = FALSE,
                           workers = NULL, seed = NULL,
                           backend = getOption("bootscale.backend", "fork")) {
  check_data_frame(.data)
  value_quo <- rlang::enquo(value)
  weight_quo <- rlang::enquo(weight)
  if (rlang::quo_is_missing(value_quo)) {
    abort_bs("{.arg value} must name the column to average.", "missing_column")
  }
  by <- resolve_by(.data, rlang::enquo(.by))
  n_means <- check_count(n_means)
  sample_size <- check_count(sample_size, max = 4.5e15)  # the C engine's limit
  conf_level <- check_conf_level(conf_level)
  keep_samples <- check_flag(keep_samples)
  workers <- check_workers(workers)
  backend <- check_backend(backend)

  x <- eval_column(.data, value_quo, "value")
  w <- if (rlang::quo_is_null(weight_quo)) NULL else eval_column(.data, weight_quo, "weight")
  x <- check_values(x, arg = "value")
  if (length(x) != nrow(.data)) {
    abort_bs(
      c("{.arg value} must have one value per row of {.arg .data} ({nrow(.data)}).",
        "x" = "It has {length(x)}."),
      "bad_values"
    )
  }
  w <- check_weights(w, length(x), arg = "weight")

  if (length(by)) {
    g <- group_ids(as.list(.data)[by])
    keys <- tibble::as_tibble(lapply(as.list(.data)[by], function(k) k[g$first]))
    rows <- split(seq_along(x), factor(g$id, levels = seq_len(g$n)))
  } else {
    keys <- tibble::tibble(.rows = 1L)
    rows <- list(seq_along(x))
  }
  values <- lapply(rows, function(r) x[r])
  weights <- lapply(rows, function(r) w[r])
  empty <- which(vapply(weights, function(v) !any(v > 0), logical(1)))
  if (length(empty)) {
    abort_bs(
      c("Every group must have at least one positive {.arg weight}.",
        "x" = "Group {empty[1]} ({format_key(keys, empty[1])}) has none."),
      "bad_weights"
    )
  }
  n_groups <- length(rows)
  check_result_size(n_groups * n_means, 8, "The bootstrap means")
  seed <- check_seed(seed)
  alpha <- (1 - conf_level) / 2
  # mean, sd and the percentile interval per group, in C, read where the
  # means are (after a forked run: the workers' shared mapping, not a copy),
  # the quantiles by selection rather than sorting.
  summarise <- function(job) {
    list(
      stats = summarise_job(job, n_groups, c(alpha, 1 - alpha)),
      samples = if (keep_samples) job_means(job)
    )
  }
  done <- means_engine(unname(values), unname(weights), n_means, sample_size, workers, seed,
                       finish = summarise, backend = backend)
  stats <- done$stats
  res <- done$samples
  stats[2, is.nan(stats[2, ])] <- NA_real_ # one replicate has no spread
  out <- keys
  out$estimate <- stats[1, ]
  out$std.error <- stats[2, ]
  out$conf.low <- stats[3, ]
  out$conf.high <- stats[4, ]
  out$n_means <- rep(as.integer(n_means), n_groups)
  if (keep_samples) {
    out$samples <- lapply(seq_len(n_groups), function(j) res[seq_len(n_means) + (j - 1) * n_means])
  }
  out <- tibble::new_tibble(out, class = "bootscale_bootstrap")
  attr(out, "seed") <- seed
  attr(out, "rng") <- rng_name
  with_backend_attrs(out, done)
}

format_key <- function(keys, i) {
  if (!ncol(keys)) return("all rows")
  paste(names(keys), vapply(keys, function(k) format(k[i]), character(1)), sep = " = ",
        collapse = ", ")
}

eval_column <- function(data, quo, arg, call = rlang::caller_env()) {
  tryCatch(
    rlang::eval_tidy(quo, data = data),
    error = function(e) {
      abort_bs(
        "{.arg {arg}} must be a column of {.arg .data} or an expression of its columns.",
        "missing_column", call = call, parent = e
      )
    }
  )
}

# .by like dplyr 1.1: bare names, c(names), or strings; grouped data frames
# bring their own groups.
resolve_by <- function(data, by_quo, call = rlang::caller_env()) {
  groups <- attr(data, "groups")
  group_vars <- if (inherits(data, "grouped_df") && is.data.frame(groups)) {
    setdiff(names(groups), ".rows")
  } else {
    character()
  }
  if (rlang::quo_is_null(by_quo)) return(group_vars)
  if (length(group_vars)) {
    abort_bs("Give {.arg .by} or group the data with {.fn dplyr::group_by}, not both.",
             "bad_by", call = call)
  }
  mask <- stats::setNames(as.list(names(data)), names(data))
  by <- tryCatch(
    rlang::eval_tidy(by_quo, data = mask),
    error = function(e) {
      abort_bs("{.arg .by} must name columns of {.arg .data}.",
               "missing_column", call = call, parent = e)
    }
  )
  if (!is.character(by) || !length(by) || anyNA(by)) {
    abort_bs(c("{.arg .by} must name at least one column of {.arg .data}.",
               "x" = "It is {describe(by)}."), "missing_column", call = call)
  }
  check_columns(data, unique(by), ".by", call = call)
}
