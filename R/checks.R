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
  if (is_classed(x)) return(describe_classed(x))
  if (is.list(x)) return("a list")
  if (is.matrix(x)) return(sprintf("a %d x %d %s matrix", nrow(x), ncol(x), typeof(x)))
  if (is.function(x)) return("a function")
  if (!is.atomic(x)) return(sprintf("an object of type %s", typeof(x)))
  describe_atomic(x)
}

# Name the class: a Date is a double vector underneath, which says nothing
# to the user.
describe_classed <- function(x) {
  cls <- class(x)[1]
  if (length(x) != 1) return(sprintf("a <%s> vector of length %d", cls, length(x)))
  shown <- tryCatch(format(x), error = function(e) "")
  if (length(shown) != 1 || !nzchar(shown)) return(sprintf("a <%s>", cls))
  sprintf("a <%s>, %s", cls, shown)
}

describe_atomic <- function(x) {
  if (length(x) != 1) {
    return(sprintf("%s %s vector of length %d", if (is.integer(x)) "an" else "a", typeof(x),
                   length(x)))
  }
  if (is.na(x)) return(if (is.double(x) && is.nan(x)) "NaN" else "NA")
  if (is.character(x)) return(sprintf("the string \"%s\"", x))
  format(x)
}

# The validator behind the check_*() functions: unless `ok`, a classed error
# whose headline `must` says what must be true and whose bullet `found` says
# what was found (by default what `x` is). `must` is interpolated in the
# caller's environment, as if the caller had called abort_bs() itself; `found`
# is only computed for the error.
ensure <- function(ok, x, must, what, call, found = found_it(x), ..., .envir = parent.frame()) {
  if (ok) return(invisible(x))
  abort_bs(c(must, "x" = found, ...), what, call = call, .envir = .envir)
}

# "It is <what x is>.", and "Element i is <what it is> (and n more).", as
# text for cli (braces doubled).
found_it <- function(x) paste0("It is ", cli_text_escape(describe(x)), ".")
found_element <- function(x, bad) {
  more <- if (length(bad) > 1) paste0(" (and ", length(bad) - 1, " more)") else ""
  paste0("Element ", bad[1], " is ", cli_text_escape(describe(x[bad[1]])), more, ".")
}
cli_text_escape <- function(s) gsub("([{}])", "\\1\\1", s)

# A single whole number: what counts, seeds and worker counts must be.
is_whole_number <- function(x) {
  is.numeric(x) && !is.factor(x) && length(x) == 1 && !is.na(x) && is.finite(x) && x == trunc(x)
}

check_count <- function(x, arg = rlang::caller_arg(x), min = 1, max = Inf,
                        call = rlang::caller_env()) {
  ok <- is_whole_number(x) && x >= min && x <= max
  if (!ok) {
    range <- if (is.infinite(max)) { # nolint: object_usage_linter. Read by the message's glue.
      sprintf(">= %s", format(min, big.mark = ","))
    } else {
      sprintf("between %s and %s", format(min, big.mark = ","), format(max, big.mark = ","))
    }
    ensure(FALSE, x, "{.arg {arg}} must be a single whole number {range}.", "bad_count", call)
  }
  as.double(x)
}

check_seed <- function(seed, call = rlang::caller_env()) {
  if (is.null(seed)) return(draw_seed())
  ensure(is_whole_number(seed) && abs(seed) <= 2^53, seed,
         "{.arg seed} must be NULL or a single whole number (|seed| <= 2^53).", "bad_seed", call)
  as.double(seed)
}

# Draws the call's seed from R's RNG, so that set.seed() makes the call
# reproducible and .Random.seed advances by two draws whatever the number of
# workers. Two draws give a uniform whole number below 2^53 (every seed the
# engine takes from R); one sample.int() draw has only 31 bits, and 1e5 calls
# would then share a seed somewhere with probability 0.9.
draw_seed <- function() {
  high <- sample.int(2^26, 1L) - 1
  low <- sample.int(2^27, 1L) - 1
  high * 2^27 + low
}

# Classed vectors other than I(): dates, times, durations, factors and the
# like, whose numbers mean nothing without their class.
is_classed <- function(x) is.object(x) && !identical(class(x), "AsIs")

# For numbers: plain numeric vectors only. A Date or a difftime is numeric
# underneath but its mean depends on an origin or a unit the result would lose.
is_plain_numeric_vector <- function(x) is.numeric(x) && !is_classed(x)

classed_hint <- function(x) {
  if (inherits(x, "difftime")) {
    c("i" = "Durations are refused, as their mean depends on their units: convert first, for example with {.code as.numeric(x, units = \"secs\")}.") # nolint: line_length_linter.
  } else if (is_classed(x) && !is.factor(x) && is.numeric(unclass(x))) {
    c("i" = "Dates, times and other classed numbers are refused: convert with {.fn as.numeric} first if their numbers are what you mean.") # nolint: line_length_linter.
  }
}

check_values <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  ensure(is_plain_numeric_vector(x), x, "{.arg {arg}} must be a numeric vector.", "bad_values",
         call, found_it(x), classed_hint(x))
  if (length(x) < 1) {
    abort_bs("{.arg {arg}} must have at least one value.", "bad_values", call = call)
  }
  bad <- which(!is.finite(x))
  ensure(!length(bad), x, "{.arg {arg}} must be finite (no NA, NaN or Inf).", "bad_values",
         call, found_element(x, bad))
  as.double(x)
}

check_weights <- function(w, n, arg = rlang::caller_arg(w), call = rlang::caller_env()) {
  if (is.null(w)) return(rep(1, n))
  ensure(is_plain_numeric_vector(w), w,
         "{.arg {arg}} must be a numeric vector of non-negative weights.", "bad_weights",
         call, found_it(w), classed_hint(w))
  ensure(length(w) == n, w, "{.arg {arg}} must have one weight per value ({n}).",
         "bad_weights", call, "It has {length(w)}.")
  bad <- which(!is.finite(w) | w < 0)
  ensure(!length(bad), w, "{.arg {arg}} must be finite and non-negative.", "bad_weights",
         call, found_element(w, bad))
  ensure(any(w > 0), w, "{.arg {arg}} must have at least one positive weight.", "bad_weights",
         call, "All {n} weights are zero.")
  if (n > .Machine$integer.max) {
    abort_bs("There can be at most {.Machine$integer.max} categories.", "bad_weights",
             call = call)
  }
  as.double(w)
}

check_conf_level <- function(x, call = rlang::caller_env()) {
  ensure(is.numeric(x) && length(x) == 1 && !is.na(x) && x > 0 && x < 1, x,
         "{.arg conf_level} must be a single number strictly between 0 and 1.",
         "bad_conf_level", call)
  as.double(x)
}

check_flag <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  ensure(is.logical(x) && length(x) == 1 && !is.na(x), x, "{.arg {arg}} must be TRUE or FALSE.",
         "bad_flag", call)
}

check_string <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  ensure(is.character(x) && length(x) == 1 && !is.na(x) && nzchar(x), x,
         "{.arg {arg}} must be a single non-empty string.", "bad_string", call)
}

check_data_frame <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  ensure(is.data.frame(x), x, "{.arg {arg}} must be a data frame.", "bad_data", call)
}

check_columns <- function(data, cols, arg, call = rlang::caller_env()) {
  ensure(is.character(cols) && length(cols) >= 1 && !anyNA(cols), cols,
         "{.arg {arg}} must name at least one column.", "missing_column", call)
  missing <- setdiff(cols, names(data))
  ensure(!length(missing), cols, "{.arg {arg}} must name columns of the data.",
         "missing_column", call, "Not found: {.val {missing}}.")
  cols
}

# Grouping columns must be plain vectors that sort and compare: not lists,
# data frames, matrices or raw bytes.
check_group_columns <- function(data, cols, call = rlang::caller_env()) {
  for (col in cols) {
    k <- .subset2(data, col) # data[[col]] without a tibble's `[[` method
    ensure(is.atomic(k) && !is.raw(k) && is.null(dim(k)) && !is.data.frame(k), k,
           "Grouping columns must be vectors (numbers, strings, logicals, factors or dates).",
           "bad_by", call, "Column {.field {col}} is {describe(k)}.")
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
  # the cgroup's and the address space's figures are read (from files,
  # slower than the rest of the check) only for results that could matter
  # to them
  lim <- memory_limits(others = bytes > 2^26)
  limit <- lim$physical
  if (bytes > limit || n > 2^52) {
    abort_bs(
      c("{what} must fit in memory.",
        "x" = "It needs {format(bytes / 2^30, digits = 3)} GiB; this machine has {format(limit / 2^30, digits = 3)} GiB."), # nolint: line_length_linter.
      "too_large", call = call
    )
  }
  over <- c(cgroup = bytes > lim$cgroup, "address space" = 2 * bytes > lim$address_space)
  if (any(over)) {
    which <- names(over)[over][1]
    # read by the message's glue, which lintr does not see
    left <- if (which == "cgroup") lim$cgroup else lim$address_space / 2 # nolint
    abort_bs(
      c("{what} must fit in memory.",
        "x" = paste("It needs {format(bytes / 2^30, digits = 3)} GiB; this process's {which}",
                    "limit leaves {format(left / 2^30, digits = 3)} GiB.")),
      "too_large", call = call
    )
  }
  invisible(n)
}

# One of `choices`; the whole vector (a function's default) is the first.
check_choice <- function(x, choices, class, arg = rlang::caller_arg(x),
                         call = rlang::caller_env()) {
  if (identical(x, choices)) return(choices[[1]])
  if (!is.character(x) || length(x) != 1 || is.na(x) || !x %in% choices) {
    abort_bs(
      c("{.arg {arg}} must be {.val {choices[1]}} or {.val {choices[2]}}.",
        "x" = "It is {describe(x)}."),
      class, call = call
    )
  }
  x
}
