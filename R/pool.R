# Running a job: serially in this process, or on the fork pool in src/pool.c.
#
# A job is an external pointer made by C (alias tables and the result).
# run_job() decides serial or parallel by the cost rule below, drives the
# pool from R so that interrupts and the cli progress bar work naturally, and
# releases the job with on.exit(): an error, an interrupt or a failed worker
# leaves no child process, no mapping and no memory behind.

# Cost rule. A draw costs about 1.5 ns (1 ns with pair tables, 2 ns
# without); a worker costs its fork() and exit, which copy and free the page
# tables of the whole session. Measured on a 2-core machine, a forced
# 2-worker call on a tiny job cost 7.5 ms more than serial in a 71 MB session,
# 28 ms at 321 MB, 58 ms at 821 MB and 115 ms at 1821 MB: per worker about
# 2.4 ms plus 0.031 ms per MB of the session's resident memory. plan_workers() picks the
# number of workers w that minimises draws * 1.5 ns / w + w * cost, and runs
# serially unless that saves at least 10 %. Setting
# options(bootscale.min_parallel_draws = n) replaces the model by a plain
# threshold: jobs of n draws or more use every worker.
draw_seconds <- 1.5e-9
worker_seconds <- function(rss_mb) 2.4e-3 + 3.1e-5 * rss_mb

# Resident memory of this R session in MB (Linux; elsewhere a typical 200).
session_rss_mb <- function() {
  statm <- tryCatch(readLines("/proc/self/statm", warn = FALSE), error = function(e) "")
  pages <- suppressWarnings(as.numeric(strsplit(statm, " ", fixed = TRUE)[[1]][2]))
  if (length(pages) != 1 || is.na(pages)) 200 else pages * 4096 / 2^20
}

available_cores <- function() {
  # parallelly::availableCores() takes about 10 ms; remember it for as long
  # as the settings it reads stay the same.
  key <- paste(getOption("mc.cores", ""), Sys.getenv(c("_R_CHECK_LIMIT_CORES_", "MC_CORES",
    "SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS", "R_PARALLELLY_AVAILABLECORES_FALLBACK")),
    collapse = "|")
  if (!identical(the$cores_key, key)) {
    the$cores <- parallelly::availableCores(omit = 0L)
    the$cores_key <- key
  }
  the$cores
}

#' Default number of workers
#'
#' `getOption("bootscale.workers")` when set, else
#' [parallelly::availableCores()], which honours cgroups, Slurm,
#' `mc.cores` and `_R_CHECK_LIMIT_CORES_`.
#'
#' @return A whole number, at least 1.
#' @export
#' @examples
#' default_workers()
default_workers <- function() {
  w <- getOption("bootscale.workers")
  if (!is.null(w)) {
    ok <- is.numeric(w) && !is.factor(w) && length(w) == 1 && !is.na(w) &&
      w == trunc(w) && w >= 1 && w <= 256
    if (!ok) {
      abort_bs(
        c("Option {.code bootscale.workers} must be NULL or a single whole number between 1 and 256.",
          "x" = "It is {describe(w)}."),
        "bad_workers"
      )
    }
  }
  if (is.null(w)) {
    w <- min(parallelly::availableCores(omit = 0L), 256L)  # the pool's maximum
    limit <- Sys.getenv("_R_CHECK_LIMIT_CORES_", "")
    if (nzchar(limit) && !identical(tolower(limit), "false")) w <- min(w, 2L)
  }
  max(1L, as.integer(w))
}

check_workers <- function(workers, call = rlang::caller_env()) {
  if (is.null(workers)) workers <- default_workers()
  ok <- is.numeric(workers) && length(workers) == 1 && !is.na(workers) &&
    workers == trunc(workers) && workers >= 1 && workers <= 256
  if (!ok) {
    abort_bs(
      c("{.arg workers} must be a single whole number between 1 and 256.",
        "x" = "It is {describe(workers)}."),
      "bad_workers", call = call
    )
  }
  workers <- as.integer(workers)
  cores <- available_cores()
  if (workers > cores) {
    cli::cli_warn(
      c("{workers} workers on {cores} available core{?s} will compete for the CPU.",
        "i" = "Results are the same; only the time suffers."),
      class = c("bootscale_warning_oversubscribed", "bootscale_warning")
    )
  }
  workers
}

# Whether forking is possible and safe here; a one-time message otherwise.
fork_allowed <- function() {
  if (!.Call(C_bs_fork_available)) {
    once_message("fork", "This platform has no fork(); bootscale runs serially.")
    return(FALSE)
  }
  if (isTRUE(getOption("bootscale.force_fork"))) return(TRUE)
  if (!parallelly::supportsMulticore()) {
    once_message(
      "multicore",
      c("Forked workers are not considered safe here (for example inside RStudio); bootscale runs serially.",
        "i" = "Set {.code options(bootscale.force_fork = TRUE)} to fork anyway.")
    )
    return(FALSE)
  }
  TRUE
}

the <- new.env(parent = emptyenv())

once_message <- function(id, msg) {
  if (isTRUE(the$said[[id]])) return(invisible())
  the$said[[id]] <- TRUE
  cli::cli_inform(msg, class = "bootscale_message_serial")
}

# Internal test hooks: options(bootscale.test_hook = list(action = "segv",
# block = 1, seconds = 0)) makes the worker that takes that block (1-based)
# misbehave. Not for users.
hook_actions <- c(segv = 1, kill = 2, exit0 = 3, exit3 = 4, sleep = 5)

test_hook <- function() {
  h <- getOption("bootscale.test_hook")
  if (is.null(h)) return(NULL)
  c(hook_actions[[h$action]], h$block - 1, h$seconds %||% 0)
}

`%||%` <- function(x, y) if (is.null(x)) y else x

plan_workers <- function(workers, n_draws, n_blocks, rss_mb = NULL) {
  if (!is.null(getOption("bootscale.test_hook"))) return(max(2L, workers))
  workers <- as.integer(min(workers, n_blocks))
  if (workers < 2L) return(1L)
  threshold <- getOption("bootscale.min_parallel_draws")
  if (!is.null(threshold)) return(if (n_draws >= threshold) workers else 1L)
  serial <- n_draws * draw_seconds
  if (serial < 2 * worker_seconds(0)) return(1L)
  if (is.null(rss_mb)) rss_mb <- session_rss_mb()
  w <- seq_len(workers)
  predicted <- serial / w + ifelse(w > 1, w * worker_seconds(rss_mb), 0)
  best <- which.min(predicted)
  if (predicted[best] > 0.9 * serial) 1L else as.integer(best)
}

# Runs a job to the end and returns finish(job): by default its result
# vector. After a forked run finish() runs while the workers are still
# exiting (their teardown takes milliseconds); C_bs_job_summarise reads the
# means straight from the shared mapping, without copying them.
run_job <- function(job, workers, n_draws, call = rlang::caller_env(),
                    finish = job_result) {
  on.exit(.Call(C_bs_job_release, job), add = TRUE)
  info <- .Call(C_bs_job_info, job)
  n_blocks <- info[[1]]
  used <- plan_workers(workers, n_draws, n_blocks)
  if (used > 1L && fork_allowed()) {
    run_forked(job, used, n_blocks, call)
  } else {
    run_serial(job, n_blocks, n_draws)
  }
  finish(job)
}

job_result <- function(job) .Call(C_bs_job_result, job)

# Serial runs go in chunks of about 0.1 s so that Ctrl-C and the progress
# bar stay responsive.
run_serial <- function(job, n_blocks, n_draws) {
  per_block <- n_draws / max(1, n_blocks)
  chunk <- max(1, floor(5e7 / max(1, per_block)))
  if (chunk >= n_blocks) {
    .Call(C_bs_job_run, job, 0, n_blocks)
    return(invisible())
  }
  bar <- cli::cli_progress_bar("Resampling", total = n_blocks, auto_terminate = FALSE,
                                 .auto_close = FALSE)
  on.exit(cli::cli_progress_done(id = bar), add = TRUE)
  from <- 0
  while (from < n_blocks) {
    to <- min(n_blocks, from + chunk)
    .Call(C_bs_job_run, job, from, to)
    from <- to
    cli::cli_progress_update(set = from, id = bar)
  }
  invisible()
}

run_forked <- function(job, workers, n_blocks, call) {
  .Call(C_bs_job_fork, job, as.double(workers), test_hook())
  bar <- NULL
  repeat {
    st <- .Call(C_bs_job_wait, job, 100)
    if (st[[1]] == 1L) {
      if (!is.null(bar)) cli::cli_progress_update(set = n_blocks, id = bar) # ends at 100 %
      break
    }
    if (st[[1]] == 2L) {
      abort_bs(
        c("A worker failed, so there is no result.",
          "x" = "{st[[3]]}.",
          "i" = "No partial result is returned; all workers were stopped."),
        "worker", call = call
      )
    }
    if (is.null(bar)) {
      bar <- cli::cli_progress_bar("Resampling", total = n_blocks, auto_terminate = FALSE,
                                 .auto_close = FALSE)
      on.exit(cli::cli_progress_done(id = bar), add = TRUE)
    }
    cli::cli_progress_update(set = st[[2]], id = bar)
  }
  invisible()
}
