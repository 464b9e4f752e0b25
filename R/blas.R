# Which BLAS R runs on, and how many threads it uses: read and set at run
# time through src/blas.c (dlsym, no link-time dependency on any BLAS).

# The BLAS library R reports, or NA. extSoftVersion() is what sessionInfo()
# shows, without sessionInfo()'s cost of describing every loaded package.
blas_path <- function() {
  is_path <- function(p) is.character(p) && length(p) == 1 && !is.na(p) && nzchar(p)
  path <- unname(extSoftVersion()["BLAS"])
  if (!is_path(path)) path <- tryCatch(utils::sessionInfo()$BLAS, error = function(e) NULL)
  if (!is_path(path)) return(NA_character_)
  path
}

# The vendor guessed from a library's file name, for when no thread control
# was found.
blas_vendor_from_path <- function(path) {
  if (is.na(path)) return(NA_character_)
  file <- tolower(path)
  if (grepl("openblas", file)) return("OpenBLAS")
  if (grepl("flexiblas", file)) return("FlexiBLAS")
  if (grepl("mkl", file)) return("MKL")
  if (grepl("blis", file)) return("BLIS")
  if (grepl("atlas", file)) return("ATLAS")
  if (grepl("accelerate|veclib", file)) return("Accelerate")
  if (grepl("rblas", file) || grepl("/blas/libblas", file) || grepl("^libblas", basename(file))) {
    return("reference")
  }
  NA_character_
}

blas_state <- function() {
  path <- blas_path()
  c_info <- .Call(C_bs_blas_info, path)
  # Internal test hook: behave as if no thread control were found.
  if (isTRUE(getOption("bootscale.test_blas_uncontrollable"))) {
    c_info <- list(vendor = NA_character_, threads = NA_integer_, max_threads = NA_integer_,
                   config = NA_character_, corename = NA_character_)
  }
  vendor <- c_info$vendor
  controllable <- !is.na(vendor)
  if (!controllable) vendor <- blas_vendor_from_path(path)
  list(
    path = path,
    vendor = vendor,
    controllable = controllable,
    threads = c_info$threads,
    max_threads = c_info$max_threads,
    config = c_info$config,
    corename = c_info$corename
  )
}

#' Which BLAS R uses
#'
#' R does its matrix algebra (`%*%`, [crossprod()], [solve()], [chol()],
#' ...) in a BLAS/LAPACK library that can be swapped without rebuilding R:
#' the slow but exact reference BLAS, or an optimized, multi-threaded one
#' such as OpenBLAS, Intel MKL or FlexiBLAS (which switches between
#' others). `blas_info()` tells which one this session runs on and how
#' many threads it uses.
#'
#' The thread controls (`openblas_get_num_threads()` and friends,
#' `MKL_Get_Max_Threads()`, `flexiblas_get_num_threads()`) are looked up at
#' run time in the libraries R has loaded; bootscale never loads or links a
#' BLAS itself. When none is found, `vendor` is guessed from the library's
#' file name and the threads are `NA`.
#'
#' @return A one-row tibble with columns `path` (the BLAS library, from
#'   `extSoftVersion()["BLAS"]`, as `sessionInfo()` shows it), `vendor`
#'   (`"OpenBLAS"`, `"FlexiBLAS"`, `"MKL"`, `"reference"`, another name
#'   guessed from the path, or `NA`), `controllable` (whether bootscale can
#'   read and set its threads), `threads` (threads in use), `max_threads`
#'   (the processors the library knows of; OpenBLAS only), `config` (the
#'   build configuration for OpenBLAS, the backend for FlexiBLAS, the
#'   version for MKL) and `corename` (the CPU kernel OpenBLAS chose).
#'   Unknown values are `NA`. It has class `bootscale_blas_info` and prints
#'   as one field a line, so that no column is cut off.
#' @seealso [blas_threads()], [with_blas_threads()], [blas_scaling()].
#' @export
#' @examples
#' blas_info()
blas_info <- function() {
  s <- blas_state()
  out <- tibble::tibble(
    path = s$path,
    vendor = s$vendor,
    controllable = s$controllable,
    threads = s$threads,
    max_threads = s$max_threads,
    config = s$config,
    corename = s$corename
  )
  tibble::new_tibble(out, class = "bootscale_blas_info")
}

#' @export
format.bootscale_blas_info <- function(x, ...) {
  fields <- c("path", "vendor", "controllable", "threads", "max_threads", "config", "corename")
  if (nrow(x) != 1 || !all(fields %in% names(x))) return(NextMethod())
  na <- function(v) if (is.na(v)) "unknown" else as.character(v)
  control <- if (isTRUE(x$controllable)) {
    "its threads can be read and set at run time"
  } else {
    "its threads cannot be set at run time"
  }
  c(
    "BLAS used by R",
    paste0("  library:     ", na(x$path)),
    paste0("  vendor:      ", na(x$vendor), " (", control, ")"),
    paste0("  threads:     ", na(x$threads), " in use; ", na(x$max_threads),
           " processors known to the library"),
    paste0("  config:      ", na(x$config)),
    paste0("  CPU kernel:  ", na(x$corename))
  )
}

#' @export
print.bootscale_blas_info <- function(x, ...) {
  writeLines(format(x, ...))
  invisible(x)
}

#' Read or set the number of BLAS threads
#'
#' `blas_threads()` returns the number of threads R's BLAS uses now;
#' `blas_threads(n)` sets it, for the rest of the session, and returns the
#' previous number invisibly. [with_blas_threads()] sets it for one piece
#' of code.
#'
#' Setting the threads at run time works for OpenBLAS, FlexiBLAS and MKL
#' (see [blas_info()]). The environment variables `OPENBLAS_NUM_THREADS`,
#' `MKL_NUM_THREADS` or `OMP_NUM_THREADS` work with every library but only
#' when set before R starts. Fewer BLAS threads matter when the work
#' already runs on several processes (bootscale's `workers`, `parallel`,
#' `future`): processes times threads should not exceed the cores.
#'
#' @param n `NULL` to read, or the number of threads to use: a whole number,
#'   at least 1.
#' @return With `n = NULL`, the number of threads (an integer), `NA` when
#'   the BLAS cannot be queried. Otherwise the previous number, invisibly.
#'   Setting threads when the BLAS cannot be controlled is an error of class
#'   `bootscale_error_blas_threads`; when the library accepts fewer threads
#'   than asked for, a message of class `bootscale_message_blas_threads`
#'   says how many it uses.
#' @seealso [with_blas_threads()], [blas_info()].
#' @export
#' @examples
#' blas_threads()
#' if (blas_info()$controllable) {
#'   old <- blas_threads(1)
#'   blas_threads()
#'   blas_threads(old)
#' }
blas_threads <- function(n = NULL) {
  s <- blas_state()
  if (is.null(n)) return(s$threads)
  n <- check_count(n, max = 1024)
  if (!s$controllable) abort_blas_control(s)
  if (!.Call(C_bs_blas_set_threads, n)) abort_blas_control(s)
  now_threads <- blas_state()$threads
  if (!is.na(now_threads) && now_threads != n) {
    cli::cli_inform(
      c("The BLAS uses {now_threads} thread{?s}, not {n}: it caps the number it accepts.",
        "i" = "Single-threaded builds (such as openblas-serial) always use 1."),
      class = c("bootscale_message_blas_threads", "bootscale_message")
    )
  }
  invisible(s$threads)
}

abort_blas_control <- function(s, call = rlang::caller_env()) {
  abort_bs(
    c("The BLAS must be OpenBLAS, FlexiBLAS or MKL for its threads to be set at run time.",
      "x" = "R uses {if (is.na(s$vendor)) 'an unknown BLAS' else s$vendor} ({.path {s$path}}).",
      "i" = "Set {.envvar OMP_NUM_THREADS} before R starts instead."),
    "blas_threads", call = call
  )
}

#' Run code with a given number of BLAS threads
#'
#' Sets the BLAS threads to `n`, evaluates `code`, and restores the previous
#' number afterwards, also when `code` fails or is interrupted.
#'
#' When the BLAS cannot be controlled (see [blas_info()]), `code` runs with
#' the threads unchanged, after a message of class
#' `bootscale_message_blas_threads`.
#'
#' @param n The number of threads, a whole number >= 1.
#' @param code Code to evaluate, in the calling environment.
#' @return The value of `code`.
#' @seealso [blas_threads()], [blas_scaling()].
#' @export
#' @examples
#' a <- crossprod(matrix(runif(250^2), 250)) + diag(250)
#' with_blas_threads(1, system.time(solve(a)))
#' blas_threads()
with_blas_threads <- function(n, code) {
  n <- check_count(n, max = 1024)
  s <- blas_state()
  if (!s$controllable) {
    cli::cli_inform(
      c("The BLAS threads cannot be set here; the code runs with the threads unchanged.",
        "i" = "R uses {if (is.na(s$vendor)) 'an unknown BLAS' else s$vendor} ({.path {s$path}})."),
      class = c("bootscale_message_blas_threads", "bootscale_message")
    )
    return(code)
  }
  old <- s$threads
  if (!is.na(old)) on.exit(.Call(C_bs_blas_set_threads, as.double(old)), add = TRUE)
  .Call(C_bs_blas_set_threads, n)
  code
}

#' How matrix algebra scales with BLAS threads
#'
#' The chapter's experiment: time [solve()] (the inverse) of an `n` by `n`
#' symmetric positive-definite matrix with each number of BLAS threads in
#' `threads`. The matrix is deterministic (no random numbers are drawn), so
#' the RNG state is untouched. The previous thread count is restored at the
#' end.
#'
#' Timing needs the BLAS to be controllable (see [blas_info()]); otherwise
#' this is an error of class `bootscale_error_blas_threads`. Each thread
#' count gets one untimed warm-up solve.
#'
#' @param n Matrix size, a whole number >= 2 (the chapter uses 4000; 2000
#'   takes about a second on one core).
#' @param threads Thread counts to try, whole numbers >= 1; duplicates are
#'   dropped and they are sorted.
#' @param times Repetitions per thread count; the median is reported.
#' @return A tibble of class `bootscale_blas_scaling` with one row per
#'   thread count and columns `threads`, `seconds` (median elapsed time of
#'   `solve()`), `speedup` (against one thread, or the fewest tried) and
#'   `efficiency` (`speedup` per thread added). The attribute `"blas"` is
#'   [blas_info()], and `"cores"` the cores available
#'   ([parallelly::availableCores()]). It has an
#'   [autoplot()][ggplot2::autoplot] method, which marks the core count.
#' @seealso [scaling_benchmark()] for worker processes.
#' @export
#' @examples
#' if (blas_info()$controllable) blas_scaling(n = 300, threads = 1:2)
blas_scaling <- function(n = 2000, threads = seq_len(default_workers()), times = 1) {
  n <- check_count(n, min = 2, max = 1e5)
  threads <- check_worker_counts(threads)
  times <- check_count(times, max = 1e6)
  s <- blas_state()
  if (!s$controllable) abort_blas_control(s)
  check_result_size(2 * n^2, 8, "The matrix and its inverse")

  # Diagonally dominant, symmetric, positive definite.
  a <- outer(seq_len(n), seq_len(n), function(i, j) cos(i * j)) / n
  diag(a) <- diag(a) + 2

  seconds <- vapply(threads, function(k) {
    with_blas_threads(k, {
      solve(a)
      elapsed <- vapply(seq_len(times), function(i) {
        t0 <- now()
        solve(a)
        now() - t0
      }, numeric(1))
      stats::median(elapsed)
    })
  }, numeric(1))
  new_blas_scaling(threads, seconds, blas_info())
}

new_blas_scaling <- function(threads, seconds, blas = NULL, cores = available_cores()) {
  speedup <- seconds[[1]] / seconds
  out <- tibble::new_tibble(
    list(
      threads = as.integer(threads),
      seconds = as.double(seconds),
      speedup = speedup,
      efficiency = speedup / (threads / threads[[1]])
    ),
    nrow = length(threads),
    class = "bootscale_blas_scaling"
  )
  attr(out, "blas") <- blas
  attr(out, "cores") <- as.integer(cores)
  out
}
