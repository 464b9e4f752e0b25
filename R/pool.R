# Running a job: in this process, or on the session's worker pool
# (src/pool.h: a helper program, started once, forks persistent workers).
#
# A job is an external pointer made by C (alias tables and parameters).
# run_job() decides how many processes by the cost rule below, makes sure
# the pool is up, and drives the run from R, working as one of the workers
# between its interrupt checks and progress updates. on.exit() releases
# the run: an error, an interrupt or a failed worker leaves no mapping and
# no stray child (the pool's own processes stay, and are stopped by
# pool_stop(), at R's exit or after the idle time).

the <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  the$session_pid <- Sys.getpid()
  # the generator's name, the pool's and the engine's limits: defined in C
  the$constants <- .Call(C_bs_constants)
  # The pool stops at R's exit (it would anyway: the helper sees its
  # control socket close and dies with R), and when the package unloads.
  reg.finalizer(the, function(e) pool_stop_quietly(), onexit = TRUE)
}

.onUnload <- function(libpath) pool_stop_quietly()

pool_stop_quietly <- function() {
  if (!forked_child()) try(.Call(C_bs_pool_stop), silent = TRUE)
  invisible()
}

# ---- the pool -------------------------------------------------------------

pool_helper_path <- function() {
  # an internal option, for tests of a helper that cannot start
  getOption("bootscale.pool_helper") %||%
    system.file(paste0("bin", Sys.getenv("R_ARCH")), "bootscale-pool", package = "bootscale")
}

# A forked child of the session (mclapply(), mcparallel(), future's
# multicore) inherits the parent's pool descriptors but must never drive
# the parent's pool: it runs serially. Decision: rather than start a pool
# of its own, since forked children usually already fill the cores.
forked_child <- function() {
  !is.null(the$session_pid) && !identical(the$session_pid, Sys.getpid())
}

pool_idle_seconds <- function() {
  idle <- getOption("bootscale.pool_idle", 300)
  ok <- is.numeric(idle) && length(idle) == 1 && !is.na(idle) && idle >= 0
  if (!ok) {
    abort_bs(c("Option {.code bootscale.pool_idle} must be a number of seconds >= 0.",
               "x" = "It is {describe(idle)}."), "bad_option")
  }
  idle
}

# Makes sure the pool can run `workers` processes (this one included);
# FALSE when it cannot (no fork, a forked child, or a failure to start,
# said once).
pool_ensure <- function(workers) {
  if (forked_child() || !fork_allowed()) return(FALSE)
  st <- .Call(C_bs_pool_status)
  if (isTRUE(st$alive) && length(st$pids) + 1L >= workers) return(TRUE)
  grow <- if (isTRUE(st$alive)) max(workers, length(st$pids) + 1L) else workers
  exe <- pool_helper_path()
  if (!nzchar(exe)) {
    once_message("helper",
                 "bootscale's pool helper program is not installed; bootscale runs serially.")
    return(FALSE)
  }
  t0 <- Sys.time()
  err <- .Call(C_bs_pool_start, exe, as.double(grow), as.double(pool_idle_seconds()))
  if (!is.null(err)) {
    msg <- err$message # nolint: object_usage_linter. Read by the message's glue.
    once_message("start", c("The worker pool could not start, so bootscale runs serially.",
                            "x" = "{msg}."))
    return(FALSE)
  }
  the$start_ms <- as.numeric(Sys.time() - t0, units = "secs") * 1e3
  the$started <- (the$started %||% 0) + 1
  calibrate_pool()
  TRUE
}

#' The worker pool
#'
#' bootscale runs parallel work on a pool of worker processes that stays
#' between calls: a small helper program installed with the package is
#' started once (on the first call that wants more than one worker, or by
#' `pool_start()`) and forks the workers; the R session works as one of
#' them. The workers share nothing of the R session's memory, so a call
#' costs the same in a small or a large session, and a crashing worker is
#' an R error (class `bootscale_error_worker`), never a lost session; the
#' pool is rebuilt at the next call.
#'
#' The pool grows when a call asks for more workers than it has. It stops
#' with `pool_stop()`, when R exits, after `getOption("bootscale.pool_idle")`
#' seconds without a call (default 300; 0 for never), and it dies with R.
#' A forked child of the session ([parallel::mclapply()],
#' [parallel::mcparallel()], future's multicore) never uses its parent's
#' pool: it runs serially. Where fork is missing (Windows), everything runs
#' serially. The R session itself is never forked, so the pool is safe where
#' forking R is not (in RStudio, for instance).
#'
#' At start the pool measures what a call costs it and what a draw costs
#' this machine; the cost rule (see `workers` in [bootstrap_means()]) uses
#' these measurements.
#'
#' @param workers Number of processes, this R session included (so
#'   `workers - 1` are started), between 1 and the pool's maximum
#'   (`r bootscale:::bs_const("max_workers")`); default
#'   [default_workers()]. With 1 the pool is stopped.
#' @return `pool_start()` and `pool_stop()` return `pool_status()`
#'   invisibly. `pool_status()` returns a list: `state` (`"running"` or
#'   `"stopped"`), `workers` (processes, this one included), `helper` (the
#'   helper's pid), `pids` (the workers' pids), `calls` (jobs the pool has
#'   run since it started), `memory` (resident memory of the helper and its
#'   workers in bytes, `NA` where it cannot be read), `cache` (bytes of the
#'   mapping the pool keeps between calls, see below), `idle_seconds`,
#'   `call_ms` and `ns_per_draw` (the measurements of the cost rule).
#'
#' Between calls the pool keeps the shared mapping of its last summarising
#' run (as [bootstrap_mean()] makes), when it is at most 64 MiB: the next
#' call reuses it, so neither this session nor the workers map memory or
#' take page faults again. `pool_stop()` releases it. Results of 1 MiB and
#' more that a pool run returns as a vector ([bootstrap_means()],
#' [wsample()]) are not copied: the run's mapping becomes the R vector, a
#' private copy-on-write mapping, released when the vector is
#' garbage-collected. R's collector does not count such memory, so bootscale
#' starts a collection itself before making another once they hold more
#' than twice what they held after the last one (64 MiB at least).
#' @export
#' @examples
#' \donttest{
#' pool_start(2)
#' str(pool_status())
#' m <- bootstrap_means(1:10, n_means = 1e5, workers = 2, seed = 1)
#' attr(m, "processes")
#' pool_stop()
#' }
pool_start <- function(workers = NULL) {
  workers <- check_workers(workers)
  if (workers < 2L) {
    pool_stop()
  } else if (!pool_ensure(workers)) {
    abort_bs("The worker pool cannot run here; bootscale runs serially.", "no_pool")
  }
  invisible(pool_status())
}

#' @rdname pool_start
#' @export
pool_stop <- function() {
  if (!forked_child()) .Call(C_bs_pool_stop)
  invisible(pool_status())
}

#' @rdname pool_start
#' @export
pool_status <- function() {
  st <- .Call(C_bs_pool_status)
  running <- isTRUE(st$alive) && !forked_child()
  pids <- if (running) st$pids else integer()
  helper <- if (running) st$helper else NA_integer_
  list(
    state = if (running) "running" else "stopped",
    workers = if (running) length(pids) + 1L else 1L,
    helper = helper,
    pids = pids,
    calls = if (running) st$calls else 0,
    memory = if (running) sum(vapply(c(helper, pids), process_rss, numeric(1))) else 0,
    cache = if (running) st$cache else 0,
    idle_seconds = pool_idle_seconds(),
    call_ms = the$call_ms %||% NA_real_,
    ns_per_draw = the$ns_per_draw %||% NA_real_
  )
}

# ---- the cost rule --------------------------------------------------------

# A job runs on w processes when that is predicted to save at least 10 %:
# serial time = draws x (ns per draw), parallel = serial / w + the cost of a
# call on the pool (+ starting it, when it is not running with w). Both
# costs are measured in this session, not assumed: ns per draw on first
# need (a job of 2^18 draws), a call's cost when
# the pool starts (calibrate_pool()), the start-up itself when it happens.
# Until they are measured, a call is taken to cost 0.1 ms and a start-up
# 5 ms: priors that only decide the first call.
# options(bootscale.min_parallel_draws = n) replaces the rule by a plain
# threshold: jobs of n draws or more use every worker.
ns_per_draw <- function() {
  if (is.null(the$ns_per_draw)) {
    job <- checked_job(.Call(C_bs_means_job, list(as.double(1:65)), list(rep(1, 65)), 256, 1024,
                             1))
    on.exit(.Call(C_bs_job_release, job))
    t0 <- as.numeric(Sys.time())
    for (i in 1:3) run_blocks_on(job, 1L, 0, 1)
    t <- (as.numeric(Sys.time()) - t0) / 3
    the$ns_per_draw <- max(0.2, t / (256 * 1024) * 1e9)
  }
  the$ns_per_draw
}

# Cost of a call on the pool over the same call in this process: median of
# a few near-empty jobs that the workers alone run (a no-op test hook keeps
# this process from taking their blocks), minus the serial ones.
calibrate_pool <- function() {
  st <- .Call(C_bs_pool_status)
  w <- length(st$pids) + 1L
  job <- checked_job(.Call(C_bs_means_job, list(c(1, 2)), list(c(1, 1)), 1024 * w, 1, 1))
  on.exit(.Call(C_bs_job_release, job))
  n <- .Call(C_bs_job_info, job)$n_units
  time_it <- function(p) {
    vapply(1:9, function(i) {
      t0 <- as.numeric(Sys.time()) # microseconds; proc.time() counts milliseconds
      run_blocks_on(job, p, 0, n, hook = list(action = "none", block = -1, seconds = 0))
      as.numeric(Sys.time()) - t0
    }, numeric(1))
  }
  par <- stats::median(time_it(w))
  ser <- stats::median(time_it(1L))
  the$call_ms <- max(0, par - ser) * 1e3
  ns_per_draw()
  invisible(the$call_ms)
}

pool_has <- function(workers) {
  st <- .Call(C_bs_pool_status)
  isTRUE(st$alive) && length(st$pids) + 1L >= workers
}

plan_workers <- function(workers, n_draws, n_blocks, running = NULL) {
  if (!is.null(getOption("bootscale.test_hook"))) return(max(2L, workers))
  workers <- as.integer(min(workers, n_blocks))
  if (workers < 2L) return(1L)
  threshold <- getOption("bootscale.min_parallel_draws")
  if (!is.null(threshold)) return(if (n_draws >= threshold) workers else 1L)
  serial <- n_draws * ns_per_draw() / 1e6 # ms
  call_ms <- the$call_ms %||% 0.1
  start_ms <- the$start_ms %||% 5
  # the cheapest estimate first: tiny jobs return here at once
  if (serial < 2 * call_ms) return(1L)
  w <- seq_len(workers)
  if (is.null(running)) running <- vapply(w, function(k) k == 1L || pool_has(k), logical(1))
  predicted <- serial / w + ifelse(w > 1, call_ms + ifelse(running, 0, start_ms), 0)
  best <- which.min(predicted)
  if (predicted[best] > 0.9 * serial) 1L else as.integer(best)
}

# ---- cores and workers ----------------------------------------------------

available_cores <- function() {
  # parallelly::availableCores() takes milliseconds; remember it for as
  # long as the settings it reads stay the same.
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
#' [parallelly::availableCores()] (remembered while the settings it reads
#' stay the same), which honours cgroups, Slurm, `mc.cores` and
#' `_R_CHECK_LIMIT_CORES_`.
#'
#' @return A whole number, at least 1.
#' @export
#' @examples
#' default_workers()
default_workers <- function() {
  w <- getOption("bootscale.workers")
  max_workers <- bs_const("max_workers")
  if (!is.null(w)) {
    ok <- is.numeric(w) && !is.factor(w) && length(w) == 1 && !is.na(w) &&
      w == trunc(w) && w >= 1 && w <= max_workers
    if (!ok) {
      abort_bs(
        c("Option {.code bootscale.workers} must be NULL or a single whole number between 1 and {max_workers}.", # nolint: line_length_linter.
          "x" = "It is {describe(w)}."),
        "bad_workers"
      )
    }
    return(max(1L, as.integer(w)))
  }
  max(1L, min(as.integer(available_cores()), max_workers))
}

check_workers <- function(workers, call = rlang::caller_env()) {
  if (is.null(workers)) workers <- default_workers()
  max_workers <- bs_const("max_workers")
  ok <- is.numeric(workers) && length(workers) == 1 && !is.na(workers) &&
    workers == trunc(workers) && workers >= 1 && workers <= max_workers
  if (!ok) {
    abort_bs(
      c("{.arg workers} must be a single whole number between 1 and {max_workers}.",
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

# Whether the pool can run here; a one-time message otherwise. Decision:
# parallelly::supportsMulticore() is no longer asked. It guards against
# forking the R process (unsafe in RStudio, for instance); the pool never
# forks R: it spawns a separate program, as system() does, and that program
# forks itself. Option bootscale.force_fork is therefore no longer needed.
fork_allowed <- function() {
  if (!.Call(C_bs_fork_available)) {
    once_message("fork", "This platform has no fork(); bootscale runs serially.")
    return(FALSE)
  }
  TRUE
}

once_message <- function(id, msg, .envir = parent.frame()) {
  if (isTRUE(the$said[[id]])) return(invisible())
  the$said[[id]] <- TRUE
  cli::cli_inform(msg, class = "bootscale_message_serial", .envir = .envir)
}

# Internal test hooks: options(bootscale.test_hook = list(action = "segv",
# block = 1, seconds = 0)) makes the worker that takes that block (1-based)
# misbehave; this process then leaves every block to the workers. The
# actions are named in C (src/pool.c); an unknown one is an error there.
# Not for users.
test_hook <- function() {
  h <- getOption("bootscale.test_hook")
  if (is.null(h)) return(NULL)
  list(action = h$action, block = as.double(h$block - 1), seconds = as.double(h$seconds %||% 0))
}

# ---- running a job --------------------------------------------------------

# The job protocol, in this file alone: a job is made (C_bs_means_job,
# C_bs_draws_job), run (run_job(), run_blocks(): C_bs_job_start, then
# C_bs_job_step until its state is "done" or "failed"), finished (its
# result vector, or a summary made in C where the means are) and released
# (on.exit, whatever happens).

# The bootstrap means of groups (lists `values` and `weights`, one element
# a group), on the session's pool, or on futures when `backend` is a
# future_backend(). `finish` names what comes back: "vector" (the means,
# group after group) or "summary" (list(stats = a 4 x groups matrix of
# mean, sd and the quantiles at `probs`, NULL when probs is NULL: then
# keep_samples must be TRUE; samples = each group's means when
# keep_samples, else NULL)). Attribute `processes`, and the backend's.
run_means <- function(values, weights, n_means, sample_size, workers, seed,
                      finish = c("vector", "summary"), probs = NULL, keep_samples = FALSE,
                      backend = NULL, call = rlang::caller_env()) {
  finish <- match.arg(finish)
  n_groups <- length(values)
  if (!is.null(backend)) {
    res <- future_means(values, weights, n_means, sample_size, seed, backend, call)
    if (finish == "vector") return(res)
    return(with_backend_attrs(finish_means(res, n_groups, n_means, probs, keep_samples), res))
  }
  job <- checked_job(.Call(C_bs_means_job, values, weights, n_means, sample_size, seed), call)
  run_job(job, workers, n_draws = n_groups * n_means * sample_size, call = call,
          finish = finish, n_groups = n_groups, n_means = n_means,
          probs = if (!is.null(probs)) as.double(probs), keep_samples = keep_samples)
}

# The summary of complete means: of a job, read where the means are (the
# run's mapping, shared with the workers: no copy), the quantiles by
# selection rather than sorting, the samples copied once, group by group,
# into their final vectors while the mapping's pages are given back; or of
# the means themselves (from futures).
# Means laid out group after group, n_means each, as one vector per group.
split_groups <- function(x, n_groups, n_means) {
  lapply(seq_len(n_groups), function(j) x[seq_len(n_means) + (j - 1) * n_means])
}

finish_means <- function(x, n_groups, n_means, probs, keep_samples) {
  if (is.double(x)) {
    stats <- if (!is.null(probs)) .Call(C_bs_summarise_means, x, as.double(n_groups), probs)
    return(list(stats = stats, samples = if (keep_samples) split_groups(x, n_groups, n_means)))
  }
  .Call(C_bs_job_finish_means, x, as.double(n_groups), probs, keep_samples)
}

# Runs a job to the end and returns, with attribute `processes` (the
# processes that ran it), what `finish` names: "vector", its result copied
# out of the run's mapping (whose pages are given back as it goes), or
# "summary", finish_means(job, ...).
run_job <- function(job, workers, n_draws, call = rlang::caller_env(),
                    finish = c("vector", "summary"), n_groups = NULL, n_means = NULL,
                    probs = NULL, keep_samples = FALSE) {
  finish <- match.arg(finish)
  on.exit(.Call(C_bs_job_release, job), add = TRUE)
  info <- .Call(C_bs_job_info, job)
  used <- plan_workers(workers, n_draws, info$n_blocks)
  if (used > 1L && !pool_ensure(used)) used <- 1L
  # The run mode tells C where the output goes (see bs_job_start): into the
  # result vector itself, or into a mapping summarised in place.
  mode <- if (finish == "vector") "vector" else if (keep_samples) "samples" else "summary"
  run_blocks_on(job, used, 0, info$n_units, call = call, mode = mode, probs = probs)
  res <- switch(finish,
    vector = .Call(C_bs_job_result, job),
    summary = finish_means(job, n_groups, n_means, probs, keep_samples)
  )
  attr(res, "processes") <- used
  res
}

# For the cluster backend: runs only units ("blocks" there) [from, to)
# (0-based, half-open) of a job made by C_bs_means_job or C_bs_draws_job,
# on the pool when `workers` > 1 (and the pool can run), and returns their
# slice of the result: units map to contiguous output in unit order, so
# slices of consecutive ranges concatenate to the whole result. The job is
# not released (more ranges may follow); its finalizer releases it.
run_blocks <- function(job, workers, from, to, call = rlang::caller_env()) {
  n <- job_n_blocks(job)
  ok <- is_whole_number(from) && is_whole_number(to) && from >= 0 && from <= to && to <= n
  if (!ok) {
    abort_bs(c("{.arg from} and {.arg to} must be whole numbers with 0 <= from <= to <= {n}.",
               "x" = "They are {describe(from)} and {describe(to)}."), "bad_range", call = call)
  }
  info <- .Call(C_bs_job_info, job)
  used <- plan_workers(workers, info$draws * (to - from) / max(1, n),
                       (to - from) * info$blocks_per_unit)
  if (used > 1L && !pool_ensure(used)) used <- 1L
  run_blocks_on(job, used, from, to, call = call)
  res <- .Call(C_bs_job_result, job)
  attr(res, "processes") <- used
  res
}

# Units of a job: what run_blocks() counts in.
job_n_blocks <- function(job) .Call(C_bs_job_info, job)$n_units

# A system call's failure from C (list(message, errno); message as
# "mmap() of 8 bytes failed: Cannot allocate memory") as the classed error,
# with the call and the errno value as fields.
abort_system <- function(err, call) {
  msg <- err$message
  abort_bs(c("The job could not be set up, so there is no result.", "x" = "{msg}."),
           "system", errno = err$errno, syscall = sub("^([a-z_0-9]+\\(\\)).*$", "\\1", msg),
           call = call)
}

# A job from C_bs_means_job or C_bs_draws_job, or the classed error of the
# system call that could not give it its memory.
checked_job <- function(job, call = rlang::caller_env()) {
  if (is.list(job)) abort_system(job, call)
  job
}

# Runs units [from, to) on `used` processes (1: this one alone), with a
# progress bar for long runs; the run stays in the job until released.
run_blocks_on <- function(job, used, from, to, call = rlang::caller_env(), hook = test_hook(),
                          mode = "slice", probs = NULL) {
  if (used < 2L) hook <- NULL
  err <- .Call(C_bs_job_start, job, as.double(used - 1L), as.double(from), as.double(to),
               hook, tempdir(), mode, probs)
  if (!is.null(err)) abort_system(err, call)
  bar <- NULL
  repeat {
    # About 20 ms of this process's own work between looks at interrupts,
    # the workers and the progress bar.
    st <- .Call(C_bs_job_step, job, 20, 100)
    if (st$state == "done") {
      if (!is.null(bar)) cli::cli_progress_update(set = n_blocks, id = bar) # ends at 100 %
      break
    }
    if (st$state == "failed") {
      .Call(C_bs_pool_stop) # rebuilt at the next call
      abort_bs(
        c("A worker failed, so there is no result.",
          "x" = "{st$failure}.",
          "i" = "No partial result is returned; the pool is restarted at the next call."),
        "worker", call = call
      )
    }
    if (is.null(bar)) { # runs past their first step only: tiny ones ask C nothing more
      n_blocks <- (to - from) * .Call(C_bs_job_info, job)$blocks_per_unit
      bar <- cli::cli_progress_bar("Resampling", total = n_blocks, auto_terminate = FALSE,
                                   .auto_close = FALSE)
      on.exit(cli::cli_progress_done(id = bar), add = TRUE)
    }
    cli::cli_progress_update(set = st$progress, id = bar)
  }
  invisible()
}

# What this process may use, in bytes (Inf where there is no limit or it
# cannot be read): physical memory; the cgroup's memory limit less its
# current use (cgroup v2, else v1); the address-space limit (RLIMIT_AS)
# less the address space mapped now.
memory_limits <- function(others = TRUE) {
  c_lim <- .Call(C_bs_memory_limits)
  phys <- if (is.na(c_lim$physical)) 2^48 else c_lim$physical
  if (!others) return(list(physical = phys, cgroup = Inf, address_space = Inf))
  read_num <- function(f) {
    v <- tryCatch(suppressWarnings(as.numeric(readLines(f, n = 1, warn = FALSE))),
                  error = function(e) NA_real_)
    if (length(v) != 1 || is.na(v)) NA_real_ else v
  }
  cgroup <- Inf
  for (pair in list(c("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                    c("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                      "/sys/fs/cgroup/memory/memory.usage_in_bytes"))) {
    if (file.exists(pair[1])) {
      max <- read_num(pair[1]) # "max" reads as NA: no limit
      used <- read_num(pair[2])
      if (!is.na(max) && max < 2^60) cgroup <- max - (if (is.na(used)) 0 else used)
      break
    }
  }
  address_space <- Inf
  if (!is.na(c_lim$address_space)) {
    used <- proc_status_bytes(Sys.getpid(), "VmSize")
    address_space <- c_lim$address_space - (if (is.na(used)) 0 else used)
  }
  list(physical = phys, cgroup = cgroup, address_space = address_space)
}

# Bytes of partial sums a means job keeps beside its result: long
# replicates (sample_size > 65536) in more than one part of 2^22 draws keep
# 16 bytes per part (and the run's mapping one done mark per block).
partial_bytes <- function(n, sample_size) {
  if (sample_size <= 65536) return(n / 1024) # marks
  parts <- ceiling(sample_size / 4194304)
  n * parts * (if (parts > 1) 17 else 1)
}
