# Argument checks shared by the exported functions. Every user-facing error
# goes through abort_bs(), so it has the class "bootscale_error" plus a
# specific "bootscale_error_<what>" and a message that says what must be true.

abort_bs <- function(message, what, ..., call = rlang::caller_env(),
                     .envir = parent.frame()) {
  cli::cli_abort(
    message,
    class = c(paste0("bootscale_error_", what), "bootscale_error"),
    ...,
    call = call,
    .envir = .envir
  )
}

# A short description of what was found, for error messages.
describe <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.data.frame(x)) return("a data frame")
  if (is.factor(x)) return("a factor")
  if (is.list(x)) return("a list")
  if (is.function(x)) return("a function")
  if (!is.atomic(x)) return(sprintf("an object of type %s", typeof(x)))
  if (length(x) != 1) {
    return(sprintf("%s %s vector of length %d", if (is.integer(x)) "an" else "a", typeof(x),
                   length(x)))
  }
  if (is.na(x)) return(if (is.double(x) && is.nan(x)) "NaN" else "NA")
  if (is.character(x)) return(sprintf("the string \"%s\"", x))
  format(x)
}

check_count <- function(x, arg = rlang::caller_arg(x), min = 1, max = Inf,
                        call = rlang::caller_env()) {
  ok <- is.numeric(x) && !is.factor(x) && length(x) == 1 && !is.na(x) &&
    is.finite(x) && x == trunc(x) && x >= min && x <= max
  if (!ok) {
    range <- if (is.infinite(max)) {
      sprintf(">= %s", format(min, big.mark = ","))
    } else {
      sprintf("between %s and %s", format(min, big.mark = ","), format(max, big.mark = ","))
    }
    abort_bs(
      c("{.arg {arg}} must be a single whole number {range}.",
        "x" = "It is {describe(x)}."),
      "bad_count", call = call
    )
  }
  as.double(x)
}

check_seed <- function(seed, call = rlang::caller_env()) {
  if (is.null(seed)) {
    # Draw the call's seed from R's RNG: set.seed() makes the call
    # reproducible and .Random.seed advances by exactly one draw, whatever
    # the number of workers.
    return(as.double(sample.int(.Machine$integer.max, 1L)))
  }
  ok <- is.numeric(seed) && !is.factor(seed) && length(seed) == 1 &&
    !is.na(seed) && is.finite(seed) && seed == trunc(seed) && abs(seed) <= 2^53
  if (!ok) {
    abort_bs(
      c("{.arg seed} must be NULL or a single whole number (|seed| <= 2^53).",
        "x" = "It is {describe(seed)}."),
      "bad_seed", call = call
    )
  }
  as.double(seed)
}

check_values <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (!is.numeric(x) || is.factor(x)) {
    abort_bs(
      c("{.arg {arg}} must be a numeric vector.", "x" = "It is {describe(x)}."),
      "bad_values", call = call
    )
  }
  if (length(x) < 1) {
    abort_bs("{.arg {arg}} must have at least one value.", "bad_values", call = call)
  }
  bad <- which(!is.finite(x))
  if (length(bad)) {
    abort_bs(
      c("{.arg {arg}} must be finite (no NA, NaN or Inf).",
        "x" = "Element {bad[1]} is {describe(x[bad[1]])}{if (length(bad) > 1) paste0(' (and ', length(bad) - 1, ' more)') else ''}."),
      "bad_values", call = call
    )
  }
  as.double(x)
}

check_weights <- function(w, n, arg = rlang::caller_arg(w), call = rlang::caller_env()) {
  if (is.null(w)) return(rep(1, n))
  if (!is.numeric(w) || is.factor(w)) {
    abort_bs(
      c("{.arg {arg}} must be a numeric vector of non-negative weights.",
        "x" = "It is {describe(w)}."),
      "bad_weights", call = call
    )
  }
  if (length(w) != n) {
    abort_bs(
      c("{.arg {arg}} must have one weight per value ({n}).",
        "x" = "It has {length(w)}."),
      "bad_weights", call = call
    )
  }
  bad <- which(!is.finite(w) | w < 0)
  if (length(bad)) {
    abort_bs(
      c("{.arg {arg}} must be finite and non-negative.",
        "x" = "Element {bad[1]} is {describe(w[bad[1]])}{if (length(bad) > 1) paste0(' (and ', length(bad) - 1, ' more)') else ''}."),
      "bad_weights", call = call
    )
  }
  if (!any(w > 0)) {
    abort_bs(
      c("{.arg {arg}} must have at least one positive weight.",
        "x" = "All {n} weights are zero."),
      "bad_weights", call = call
    )
  }
  if (n > .Machine$integer.max) {
    abort_bs("There can be at most {.Machine$integer.max} categories.", "bad_weights",
             call = call)
  }
  as.double(w)
}

check_conf_level <- function(x, call = rlang::caller_env()) {
  ok <- is.numeric(x) && length(x) == 1 && !is.na(x) && x > 0 && x < 1
  if (!ok) {
    abort_bs(
      c("{.arg conf_level} must be a single number strictly between 0 and 1.",
        "x" = "It is {describe(x)}."),
      "bad_conf_level", call = call
    )
  }
  as.double(x)
}

check_flag <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    abort_bs(
      c("{.arg {arg}} must be TRUE or FALSE.", "x" = "It is {describe(x)}."),
      "bad_flag", call = call
    )
  }
  x
}

check_string <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (!is.character(x) || length(x) != 1 || is.na(x) || !nzchar(x)) {
    abort_bs(
      c("{.arg {arg}} must be a single non-empty string.", "x" = "It is {describe(x)}."),
      "bad_string", call = call
    )
  }
  x
}

check_data_frame <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (!is.data.frame(x)) {
    abort_bs(
      c("{.arg {arg}} must be a data frame.", "x" = "It is {describe(x)}."),
      "bad_data", call = call
    )
  }
  x
}

check_columns <- function(data, cols, arg, call = rlang::caller_env()) {
  if (!is.character(cols) || length(cols) < 1 || anyNA(cols)) {
    abort_bs(
      c("{.arg {arg}} must name at least one column.", "x" = "It is {describe(cols)}."),
      "missing_column", call = call
    )
  }
  missing <- setdiff(cols, names(data))
  if (length(missing)) {
    abort_bs(
      c("{.arg {arg}} must name columns of the data.",
        "x" = "Not found: {.val {missing}}."),
      "missing_column", call = call
    )
  }
  cols
}

# Refuses results that would not fit in memory before anything is allocated.
# Refuses, before any work, a result that cannot fit: `n * bytes_each +
# extra` bytes resident at the peak (what the engine really allocates: the
# run's mapping is given back as the result is copied out, so the two do not
# add up, but long replicates keep partial sums, passed as `extra`) against
# what this process may use: physical memory, the cgroup's limit less its
# use, and the address-space limit (RLIMIT_AS) less what is mapped, where
# the mapping and the result both count in full.
check_result_size <- function(n, bytes_each, what, extra = 0, call = rlang::caller_env()) {
  bytes <- n * bytes_each + extra
  # the cgroup's and the address space's figures are read (files, about
  # 0.1 ms) only for results that could matter to them
  lim <- memory_limits(others = bytes > 2^26)
  limit <- lim$physical
  if (bytes > limit || n > 2^52) {
    abort_bs(
      c("{what} must fit in memory.",
        "x" = "It needs {format(bytes / 2^30, digits = 3)} GiB; this machine has {format(limit / 2^30, digits = 3)} GiB."),
      "too_large", call = call
    )
  }
  over <- c(cgroup = bytes > lim$cgroup, "address space" = 2 * bytes > lim$address_space)
  if (any(over)) {
    which <- names(over)[over][1]
    left <- if (which == "cgroup") lim$cgroup else lim$address_space / 2
    abort_bs(
      c("{what} must fit in memory.",
        "x" = paste("It needs {format(bytes / 2^30, digits = 3)} GiB; this process's {which}",
                    "limit leaves {format(left / 2^30, digits = 3)} GiB.")),
      "too_large", call = call
    )
  }
  invisible(n)
}
