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
#' hashed from (`seed`, group, block). When `sample_size` exceeds 65536,
#' every replicate is cut instead into parts of at most 2^22 draws, each
#' with its own keyed stream, and a replicate's sum is the sum of its parts
#' in part order (so that long replicates spread over the workers). A
#' block's numbers therefore never depend on which process computes it, so
#' the same `seed` gives bit-identical results for any `workers`. With
#' `seed = NULL` one seed is drawn from R's RNG, so [set.seed()] reproduces
#' the call and `.Random.seed` advances the same way whatever `workers` is.
#'
#' With `seed = NULL` the seed is drawn from R's RNG: two [sample.int()]
#' draws (26 and 27 bits) make one whole number uniform on 0 to 2^53 - 1, so
#' [set.seed()] reproduces the call, `.Random.seed` advances by the same two
#' draws whatever `workers` is, and a simulation study of a million calls
#' gives two of them the same seed with probability about 6e-5 (with one
#' 31-bit draw it would be near certain). The seed used is returned as the
#' attribute `seed`: passing it back as `seed` repeats the call exactly. An
#' explicit `seed` (a whole number with `|seed| <= 2^53`) is used as it is.
#'
#' @param x Numeric values (finite). Plain numbers only: dates, date-times,
#'   durations (`difftime`) and other classed vectors are refused, as their
#'   mean depends on an origin or unit; convert them with [as.numeric()]
#'   first (`I()` is accepted).
#' @param weights Non-negative finite weights (plain numbers, as `x`), one
#'   per value, at least one positive; `NULL` for equal weights.
#' @param n_means Number of bootstrap replicates, a whole number >= 1.
#' @param sample_size Values drawn per replicate, a whole number from 1 to
#'   `r format(bootscale:::bs_const("max_sample_size"))` (the engine's
#'   limit; the chapter uses 100).
#' @param workers Number of processes, this R session included, between 1
#'   and `r bootscale:::bs_const("max_workers")`; they come from the
#'   persistent worker pool (see [pool_start()]). Defaults to
#'   `getOption("bootscale.workers")`, else [default_workers()]. A job runs
#'   in this process alone whatever `workers` says when the pool is not
#'   predicted to save at least 10 %: the cost of a draw and of a call on
#'   the pool are measured in the session (see [pool_status()]), so jobs of
#'   several calls' cost of work go parallel on a running pool and tiny
#'   jobs stay serial. Where
#'   fork is missing or unsafe the work runs serially with a one-time
#'   message.
#' @param seed `NULL` (draw one from R's RNG) or a whole number with
#'   `|seed| <= 2^53`; see the section "Random numbers and determinism".
#' @param method `"resample"` (the default) draws `sample_size` values per
#'   replicate, for any data. `"exact"` is for values on a lattice (whole
#'   numbers, or `a + h * k` with `lattice = h`): it computes the exact
#'   distribution of the mean of `sample_size` draws ([exact_distribution()])
#'   and draws each replicate from it with one alias lookup, whatever
#'   `sample_size` is. The replicates have the same distribution as with
#'   `"resample"` (not the same numbers), and are identical for any
#'   `workers`. Values off the lattice give an error of class
#'   `bootscale_error_not_lattice`; supports above 5e7 points one of class
#'   `bootscale_error_too_large`. See the exact method in
#'   [exact_distribution()].
#' @param lattice With `method = "exact"`: `NULL` (the values must be whole
#'   numbers; the step is the greatest common divisor of their differences),
#'   or the step `h` of the lattice `a + h * k` the values lie on (within
#'   `sqrt(.Machine$double.eps) * h`).
#' @param backend Where the blocks are computed: `"fork"` (this machine's
#'   worker pool), `"future"` (one future per chunk of blocks, run by
#'   whatever [future::plan()] is set, for example on a Slurm cluster), or
#'   [future_backend()] for its settings (chunks, retries, checkpoint).
#'   Defaults to `getOption("bootscale.backend", "fork")`. Results are
#'   identical for every backend. Under the future backend `workers` is not
#'   used: each chunk uses the cores of the worker that runs it. With
#'   `method = "exact"` the backend is not used: the distribution is computed
#'   in this session and its replicates on this machine's pool.
#' @return A double vector of `n_means` bootstrap means, with attributes
#'   `processes` (how many processes computed it), `seed` (the seed used),
#'   `rng` (the generator's name) and `method`; under the future backend
#'   also `backend`, `chunks` and `chunk_log` (see [future_backend()]).
#' @seealso [bootstrap_mean()] for data frames and groups.
#' @export
#' @examples
#' m <- bootstrap_means(0:40, weights = dpois(0:40, 12), n_means = 1000, seed = 1)
#' c(mean = mean(m), sd = sd(m))
#' m2 <- bootstrap_means(0:40, dpois(0:40, 12), 1000, workers = 2, seed = 1)
#' identical(c(m), c(m2)) # the same numbers; attribute processes may differ
#'
#' # The same distribution, one lookup per replicate:
#' e <- bootstrap_means(0:40, dpois(0:40, 12), 1000, seed = 1, method = "exact")
#' c(mean = mean(e), sd = sd(e))
bootstrap_means <- function(x, weights = NULL, n_means = 1000, sample_size = 100,
                            workers = NULL, seed = NULL, method = c("resample", "exact"),
                            lattice = NULL, backend = getOption("bootscale.backend", "fork")) {
  x <- check_values(x)
  weights <- check_weights(weights, length(x))
  n_means <- check_count(n_means)
  sample_size <- check_count(sample_size, max = bs_const("max_sample_size"))
  method <- check_method(method)
  lattice <- check_lattice(lattice, method)
  workers <- check_workers(workers)
  backend <- check_backend(backend)
  if (method == "exact") {
    return(exact_means(x, weights, n_means, sample_size, workers, seed, lattice))
  }
  check_result_size(n_means, 8, "The bootstrap means", extra = partial_bytes(n_means, sample_size))
  seed <- check_seed(seed)
  res <- run_means(list(x), list(weights), n_means, sample_size, workers, seed,
                   backend = backend)
  structure(res, seed = seed, rng = bs_const("rng"), method = "resample")
}

#' Bootstrap the weighted mean of a column, by group
#'
#' The chapter's `bootstrap_byteslog2_mean()` for any data frame: within
#' each group, [bootstrap_means()] of `value` weighted by `weight`, summarised
#' as an estimate with a standard error and a percentile interval. All groups
#' run as one job, on the worker pool when it pays.
#'
#' @param .data A data frame or tibble; a `dplyr::group_by()` result is
#'   grouped by its grouping columns.
#' @param value The column (or an expression of columns) to average,
#'   evaluated in `.data` with tidy evaluation: plain numbers, as `x` of
#'   [bootstrap_means()].
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
#' @section Exact method:
#' With `method = "exact"` (values on a lattice, see [exact_distribution()])
#' nothing is left to chance in the summary: `estimate` is the weighted mean
#' of `value`, `std.error` is `sqrt(weighted variance / sample_size)` (the
#' weighted variance with weights summing to 1), and `conf.low` and
#' `conf.high` are quantiles of the exact distribution of the mean of
#' `sample_size` draws. The quantile at `p` is the inverse of the
#' distribution function, `inf{x : F(x) >= p}` (with `F` known to 1e-12, a
#' value of `F` within 1e-12 of `p` reaches it): what the resampled
#' percentile interval (R's type-7 quantile of the means) converges to as
#' `n_means` grows, except when `F` equals `p` exactly at a support point
#' `x`; then the resampled quantile keeps moving between `x` and the next
#' point, and the exact method reports `x`. Replicates (`samples`) are drawn
#' only when `keep_samples = TRUE`, by one alias lookup each from the exact
#' distribution; the `n_means` column says how many were drawn (0 without
#' `keep_samples`). No column has Monte Carlo error. The exact distribution
#' costs time that grows like `sample_size * log(sample_size)` and not with
#' `n_means`: a few milliseconds for the chapter's eleven years.
#'
#' @return A tibble with one row per group (sorted by the group columns)
#'   holding the group columns and
#'   * `estimate`: the mean of the bootstrap means;
#'   * `std.error`: their standard deviation, the spread of a mean of
#'     `sample_size` draws. It follows `sample_size` (about `sigma /
#'     sqrt(sample_size)`) and barely moves with `n_means`;
#'   * `mc.error`: the Monte Carlo standard error of `estimate`, `std.error /
#'     sqrt(n_means)`: how precisely `estimate` is known, which shrinks as
#'     `n_means` grows;
#'   * `conf.low`, `conf.high`: the percentile interval of the bootstrap
#'     means at `conf_level`;
#'   * `n_means`;
#'   * `samples` (a list-column of the bootstrap means) when `keep_samples =
#'     TRUE`.
#'
#'   With a single replicate (`n_means = 1`) `std.error` and `mc.error` are
#'   `NA`. Grouping columns named like one of these columns are an error of
#'   class `bootscale_error_bad_by` (rename them first), as are grouping
#'   columns that are lists, data frames or matrices. Attributes `seed` and
#'   `rng` record the random numbers used, `method` the method, `processes`
#'   how many processes computed them.
#'
#'   With `method = "exact"` the same columns are computed exactly (see
#'   [exact_distribution()]): `mc.error` is 0, and `n_means` counts the
#'   replicates drawn from the exact distribution (0 unless `keep_samples =
#'   TRUE`).
#' @inheritSection bootstrap_means Random numbers and determinism
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
#'
#' # Log2 sizes are whole numbers: the exact bootstrap has no Monte Carlo error.
#' bootstrap_mean(yearly, BytesLog2, weight = Files, .by = Year, method = "exact")
bootstrap_mean <- function(.data, value, weight = NULL, .by = NULL, n_means = 1000,
                           sample_size = 100, conf_level = 0.95, keep_samples = FALSE,
                           workers = NULL, seed = NULL, method = c("resample", "exact"),
                           lattice = NULL, backend = getOption("bootscale.backend", "fork")) {
  check_data_frame(.data)
  value_quo <- rlang::enquo(value)
  weight_quo <- rlang::enquo(weight)
  if (rlang::quo_is_missing(value_quo)) {
    abort_bs("{.arg value} must name the column to average.", "missing_column")
  }
  by <- resolve_by(.data, rlang::enquo(.by))
  n_means <- check_count(n_means)
  sample_size <- check_count(sample_size, max = bs_const("max_sample_size"))
  conf_level <- check_conf_level(conf_level)
  keep_samples <- check_flag(keep_samples)
  method <- check_method(method)
  lattice <- check_lattice(lattice, method)
  check_group_names(by, result_columns(keep_samples))
  workers <- check_workers(workers)
  backend <- check_backend(backend)

  x <- eval_column(.data, value_quo, "value")
  w <- if (rlang::quo_is_null(weight_quo)) NULL else eval_column(.data, weight_quo, "weight")
  x <- check_values(x, arg = "value")
  if (length(x) != .row_names_info(.data, 2L)) { # nrow(), without dim()'s dispatch
    abort_bs(
      c("{.arg value} must have one value per row of {.arg .data} ({nrow(.data)}).",
        "x" = "It has {length(x)}."),
      "bad_values"
    )
  }
  w <- check_weights(w, length(x), arg = "weight")

  groups <- row_groups(.data, by)
  keys <- groups$keys
  n_groups <- groups$n
  values <- split_by_group(x, groups)
  weights <- split_by_group(w, groups)
  # groups whose weights are all zero (the whole has a positive one)
  empty <- if (n_groups > 1L) which(tabulate(groups$id[w > 0], n_groups) == 0L)
  if (length(empty)) {
    abort_bs(
      c("Every group must have at least one positive {.arg weight}.",
        "x" = "Group {empty[1]} ({format_key(keys, empty[1])}) has none."),
      "bad_weights"
    )
  }
  alpha <- (1 - conf_level) / 2
  if (method == "exact") {
    rows <- split_by_group(seq_along(x), groups)
    return(exact_mean_groups(keys, values, weights, rows, n_means,
                             sample_size, c(alpha, 1 - alpha), keep_samples, workers, seed,
                             lattice))
  }
  check_result_size(n_groups * n_means, 8, "The bootstrap means",
                    extra = partial_bytes(n_groups * n_means, sample_size))
  seed <- check_seed(seed)
  # mean, sd and the percentile interval per group, in C (see finish_means())
  done <- run_means(values, weights, n_means, sample_size, workers, seed,
                    finish = "summary", probs = c(alpha, 1 - alpha),
                    keep_samples = keep_samples, backend = backend)
  stats <- done$stats
  res <- done$samples
  stats[2, is.nan(stats[2, ])] <- NA_real_ # one replicate has no spread
  out <- bootstrap_table(keys, stats, mc_error = stats[2, ] / sqrt(n_means), n_means = n_means,
                         samples = if (keep_samples) res, seed = seed, method = "resample",
                         processes = attr(done, "processes"))
  with_backend_attrs(out, done)
}

# bootstrap_mean()'s result, for either method: the group keys (a named
# list of key columns, as row_groups() gives them), the columns
# of result_columns() from a 4 x groups matrix of estimate, std.error,
# conf.low and conf.high, and the attributes that say how it was made.
bootstrap_table <- function(keys, stats, mc_error, n_means, samples, seed, method, processes) {
  n_groups <- ncol(stats)
  out <- c(keys, list(
    estimate = stats[1, ],
    std.error = stats[2, ],
    mc.error = mc_error,
    conf.low = stats[3, ],
    conf.high = stats[4, ],
    n_means = rep(as.integer(n_means), n_groups)
  ))
  if (!is.null(samples)) out$samples <- samples
  # What tibble::new_tibble(out, nrow = n_groups, class =
  # "bootscale_bootstrap") makes, without its checks (the columns are built
  # here, n_groups long, uniquely named), a sizeable share of a tiny call.
  attributes(out) <- list(
    class = c("bootscale_bootstrap", "tbl_df", "tbl", "data.frame"),
    row.names = .set_row_names(n_groups),
    names = names(out),
    seed = seed,
    rng = bs_const("rng"),
    method = method,
    processes = processes
  )
  out
}

# The columns bootstrap_mean() adds after the group columns.
result_columns <- function(keep_samples = FALSE) {
  c("estimate", "std.error", "mc.error", "conf.low", "conf.high", "n_means",
    if (keep_samples) "samples")
}

# A group column named like a result column would be overwritten: refused,
# as dplyr's group_modify() refuses results that hold a grouping column.
check_group_names <- function(by, columns, call = rlang::caller_env()) {
  clash <- by[by %in% columns] # intersect(), for names already unique
  if (length(clash)) {
    abort_bs(
      c("Grouping columns must not be named like the result's columns ({.field {columns}}).",
        "x" = "{.field {clash}} {?is a grouping column/are grouping columns}.",
        "i" = "Rename {.field {clash}} first, for example with {.fn dplyr::rename}."),
      "bad_by", call = call
    )
  }
  invisible(by)
}

# The groups of bootstrap_mean(), in the order of group_ids() (sorted by
# the keys, NA last): `keys` the key columns (a named list, one element per
# group; empty for one group of all rows), `id` each row's group, `n` the
# number of groups, and `splitter` the ids as a factor, which split() takes
# as it is (neither factor() nor hashing on every call).
row_groups <- function(data, by) {
  if (!length(by)) return(list(keys = list(), id = NULL, n = 1L, splitter = NULL))
  cols <- .subset(data, by)
  g <- group_ids(cols)
  keys <- lapply(cols, function(k) k[g$first])
  splitter <- g$id
  attr(splitter, "levels") <- as.character(seq_len(g$n))
  class(splitter) <- "factor"
  list(keys = keys, id = g$id, n = g$n, splitter = splitter)
}

# A plain vector with one element per row as one vector per group of
# row_groups() (unnamed, rows in their order).
split_by_group <- function(x, groups) {
  if (is.null(groups$splitter)) return(list(x))
  out <- split.default(x, groups$splitter)
  names(out) <- NULL
  out
}

# "Year = 2012, Site = b" for group i of the keys (a list of key columns or
# a data frame).
format_key <- function(keys, i) {
  if (!length(keys)) return("all rows")
  paste(names(keys), vapply(keys, function(k) format(k[i]), character(1)), sep = " = ",
        collapse = ", ")
}

eval_column <- function(data, quo, arg, call = rlang::caller_env()) {
  # a bare column name is the column itself: no data mask to build
  column <- column_named(data, rlang::quo_get_expr(quo))
  if (!is.null(column)) return(.subset2(data, column))
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
  if (rlang::quo_is_null(by_quo)) return(check_group_columns(data, group_vars, call = call))
  if (length(group_vars)) {
    abort_bs("Give {.arg .by} or group the data with {.fn dplyr::group_by}, not both.",
             "bad_by", call = call)
  }
  # a bare column name or strings are what the mask of eval_by() would
  # give back: no mask to build
  by <- rlang::quo_get_expr(by_quo)
  column <- column_named(data, by)
  if (!is.null(column)) return(check_group_columns(data, column, call = call))
  if (!is.character(by)) by <- eval_by(data, by_quo, call)
  if (!is.character(by) || !length(by) || anyNA(by)) {
    abort_bs(c("{.arg .by} must name at least one column of {.arg .data}.",
               "x" = "It is {describe(by)}."), "missing_column", call = call)
  }
  by <- check_columns(data, unique(by), ".by", call = call)
  check_group_columns(data, by, call = call)
}

eval_by <- function(data, by_quo, call) {
  mask <- stats::setNames(as.list(names(data)), names(data))
  tryCatch(
    rlang::eval_tidy(by_quo, data = mask),
    error = function(e) {
      abort_bs("{.arg .by} must name columns of {.arg .data}.",
               "missing_column", call = call, parent = e)
    }
  )
}

# The name of the column that the expression `expr` is, when it is a bare
# name that tidy evaluation would take from `data` (uniquely named: rlang
# refuses duplicates, and .data and .env are its pronouns); else NULL.
column_named <- function(data, expr) {
  if (!is.symbol(expr)) return(NULL)
  nm <- as.character(expr)
  cols <- names(data)
  if (!nm %in% cols || nm == ".data" || nm == ".env" || anyDuplicated(cols)) return(NULL)
  nm
}
