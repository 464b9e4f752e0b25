# Shared test helpers.

# The real Triton histogram, when it is beside the project (never shipped).
real_data_path <- function() {
  candidates <- c(
    Sys.getenv("BOOTSCALE_REAL_DATA"),
    file.path(testthat::test_path(), "..", "..", "..", "shared", "data", "filesizes_timestamps.txt")
  )
  hit <- candidates[nzchar(candidates) & file.exists(candidates)]
  if (length(hit)) normalizePath(hit[1]) else NULL
}

skip_without_real_data <- function() {
  path <- real_data_path()
  if (is.null(path)) testthat::skip("the real data (../shared/data) is not here")
  path
}

# Process ids of this R process's live children: /proc on Linux, else the
# ps package (macOS and others), else the test is skipped rather than
# passing blindly.
child_pids <- function() {
  me <- Sys.getpid()
  f <- sprintf("/proc/%d/task/%d/children", me, me)
  if (file.exists(f)) {
    kids <- tryCatch(readLines(f, warn = FALSE), error = function(e) "")
    kids <- unlist(strsplit(paste(kids, collapse = " "), "[[:space:]]+"))
    return(as.integer(kids[nzchar(kids)]))
  }
  if (requireNamespace("ps", quietly = TRUE)) {
    return(vapply(ps::ps_children(ps::ps_handle()), ps::ps_pid, integer(1)))
  }
  testthat::skip("cannot list child processes (no /proc, no ps)")
}

# The persistent pool's own child (its helper; the workers are the
# helper's children): expected, and excluded from the checks below.
pool_pids <- function() {
  st <- bootscale::pool_status()
  if (identical(st$state, "running")) st$helper else integer()
}

# Fails the test when it leaves a child process behind.
local_no_children <- function(env = parent.frame()) {
  before <- child_pids()
  withr::defer({
    left <- setdiff(child_pids(), c(before, pool_pids()))
    testthat::expect(length(left) == 0,
                     sprintf("child processes left behind: %s", paste(left, collapse = ", ")))
  }, envir = env)
}

open_fds <- function() length(list.files("/proc/self/fd"))
n_mappings <- function() length(readLines("/proc/self/maps"))

# tools/valgrind.sh sets BOOTSCALE_UNDER_VALGRIND: valgrind's allocator
# changes resident memory, its children exit with its own status on error
# and everything runs some 50 times slower, so tests that measure those
# skip there.
skip_on_valgrind <- function() {
  testthat::skip_if(nzchar(Sys.getenv("BOOTSCALE_UNDER_VALGRIND")), "under valgrind")
}

skip_if_no_fork <- function() {
  testthat::skip_on_os("windows")
  if (!.Call(bootscale:::C_bs_fork_available)) testthat::skip("no fork()")
}

# The exact distribution of the mean of `n` draws from integer values `x`
# with probabilities `p`: convolution of the pmf n times. Returns list(value,
# prob) on the grid of possible means.
exact_mean_distribution <- function(x, p, n) {
  stopifnot(all(x == round(x)))
  lo <- min(x)
  pmf <- numeric(max(x) - lo + 1)
  for (i in seq_along(x)) pmf[x[i] - lo + 1] <- pmf[x[i] - lo + 1] + p[i]
  pmf <- pmf / sum(pmf)
  total <- 1
  for (i in seq_len(n)) total <- stats::convolve(total, rev(pmf), type = "open")
  total <- pmax(total, 0)
  list(value = (seq_along(total) - 1 + n * lo) / n, prob = total / sum(total))
}

# Results record how many processes computed them (attribute `processes`);
# the numbers, and every other attribute, must not depend on it.
drop_processes <- function(x) {
  attr(x, "processes") <- NULL
  x
}

# p-value of the chi-square test of counts `obs` against `expected`, cells
# pooled left to right until each expects at least `min_expected` (a short
# last cell joins the one before).
pooled_chisq_p <- function(obs, expected, min_expected) {
  cell <- integer(length(expected))
  id <- 1L
  acc <- 0
  for (i in seq_along(expected)) {
    cell[i] <- id
    acc <- acc + expected[i]
    if (acc >= min_expected) {
      id <- id + 1L
      acc <- 0
    }
  }
  if (acc < min_expected) cell[cell == id] <- id - 1L
  o <- tapply(obs, cell, sum)
  e <- tapply(expected, cell, sum)
  stats::pchisq(sum((o - e)^2 / e), df = length(e) - 1, lower.tail = FALSE)
}
