# The benchmark harness: how bench/ times workloads, measures memory and
# reaches the package. bench/run.R (the driver) sources this file, then
# report.R, workloads.R and every case file, and runs the case groups in
# order. Nothing here runs anything when sourced.
#
# ---- How to add a case group -----------------------------------------------------------
#
# A case group is one file bench/cases-<group>.R that defines one function
#
#   bench_group_<group> <- function(ctx, done) { ...; bench_section(...) }
#
# and one line in the `groups` list of bench/run.R. Its arguments:
#
#   ctx   the workload and the run's settings (bench_context() below): ctx$input
#         (the data every workload starts from, bench/workloads.R), ctx$n_means
#         and the other sizes, already multiplied by BOOTSCALE_BENCH_SCALE,
#         ctx$rounds (repetitions: slow, fast, split, large, edge), ctx$data
#         (path and kind of the data file), ctx$workers_default.
#   done  the `values` of the groups that ran before, by group name
#         (done$one_core$seconds, say); NULL for a group that did not run.
#
# It returns bench_section(title, ..., values = list(...), timings = list(...)):
# the markdown lines of its part of bench/RESULTS.md (report.R has md_table()
# and the formatters), the numbers later groups may read, and the timing sets
# whose failed runs the report lists under "Failures".
#
# A case is a function of no argument that runs its workload once and returns
# the result. time_interleaved() times a named list of cases, round after
# round in rotating order, and returns per case its wall-clock and CPU seconds,
# the load of other processes during each run, the errors and the last good
# value; runs(), med() and spread() summarise one case; timing_table() (in
# report.R) makes the standard table of a group (variant, runs, median,
# spread, others' load).
# A standalone script with one function per case (bench/pool.R, say) becomes
# a group by wrapping those functions:
#
# nolint start: commented_code_linter.
#   bench_group_pool <- function(ctx, done) {
#     t <- time_interleaved(list(start = pool_case_start, call = pool_case_call),
#                           rounds = ctx$rounds$fast)
#     bench_section("## The worker pool", "", md_table(timing_table(t, c(
#       start = "`pool_start()` on 2 workers", call = "a call on a running pool"))), "",
#       timings = list(t))
#   }
# nolint end
#
# Peak memory is measured per workload in a fresh R process (peak_memory(),
# which runs bench/peak-memory.R, which uses bootscale::memit()); a workload
# for it is a function(input, n_means, workers) in the `workloads` list that
# workloads.R defines.
#
# Package internals are reached only through internal(), which returns NULL
# when a function has moved: a group then reports NA, never stops the run.

# ---- the run's settings ----------------------------------------------------------------

# BOOTSCALE_BENCH_SCALE (default 1) multiplies every workload size (a smoke
# run: 0.1) and, below 1, caps the repetitions at 3 rounds; a run at a scale
# other than 1 writes its report to a temporary file, never to
# bench/RESULTS.md. BOOTSCALE_BENCH_QUIET_WAIT (default 20, or 2 below scale
# 1) is how many seconds to wait at most, before starting, for other
# processes to go quiet.
bench_context <- function(root, bench_dir, data, input) {
  scale <- as.numeric(Sys.getenv("BOOTSCALE_BENCH_SCALE", "1"))
  if (is.na(scale) || scale <= 0 || scale > 1) {
    stop("BOOTSCALE_BENCH_SCALE must be in (0, 1]; it is ",
         Sys.getenv("BOOTSCALE_BENCH_SCALE"), call. = FALSE)
  }
  size <- function(n) max(10, round(n * scale))
  rounds <- function(n) if (scale < 1) min(n, 3L) else n
  n_means <- size(1e5)
  list(
    root = root,
    bench_dir = bench_dir,
    data = data,
    input = input,
    scale = scale,
    n_years = length(input$years),
    n_means = n_means,                   # per year, as in the chapter
    loop_means = size(1e4),              # the loop is timed at this size, scaled linearly
    tiny_means = 100,                    # the tiny job of the overhead test (not scaled)
    tiny_batches = if (scale < 1) 7L else 41L, # batches of tiny calls per worker count...
    tiny_batch = 10,                     # ...of this many calls each
    means_bytes = 8 * length(input$years) * n_means, # the doubles the work produces
    rounds = list(slow = rounds(3), fast = rounds(7), split = rounds(15), large = rounds(5),
                  edge = rounds(21), platform = rounds(9)),
    quiet_wait = as.numeric(Sys.getenv("BOOTSCALE_BENCH_QUIET_WAIT",
                                       if (scale < 1) "2" else "20")),
    workers_default = bootscale::default_workers()
  )
}

`%||%` <- function(x, y) if (is.null(x)) y else x

# ---- reaching the package --------------------------------------------------------------

# An internal function of bootscale, or NULL when it has moved.
internal <- function(name) {
  ns <- asNamespace("bootscale")
  if (!exists(name, envir = ns, inherits = FALSE)) return(NULL)
  get(name, envir = ns, inherits = FALSE)
}

# The number of processes the pool's cost rule picks for a job (NA if the
# rule has moved).
pool_size <- function(workers, draws, blocks) {
  f <- internal("plan_workers")
  if (is.null(f)) NA_integer_ else f(workers, draws, blocks)
}

# ---- clocks and the machine's load -----------------------------------------------------

now <- function() as.numeric(Sys.time()) # microsecond resolution

# CPU seconds of this process and its reaped children (forked workers).
cpu_now <- function() sum(proc.time()[c(1, 2, 4, 5)], na.rm = TRUE)

# CPU seconds spent by everything on the machine so far, from /proc/stat
# (user, nice, system, irq, softirq, steal; in USER_HZ = 100 ticks).
machine_cpu <- function() {
  if (!file.exists("/proc/stat")) return(NA_real_)
  v <- as.numeric(strsplit(readLines("/proc/stat", n = 1), " +")[[1]][-1])
  sum(v[c(1, 2, 3, 6, 7, 8)]) / 100
}

# Cores kept busy by everything on the machine over `seconds`, while this
# process sleeps: the load of others.
background_load <- function(seconds = 1) {
  m0 <- machine_cpu()
  Sys.sleep(seconds)
  (machine_cpu() - m0) / seconds
}

# Other sessions share this VM: wait (at most `max_wait` seconds) until they
# keep less than 0.25 core busy. Returns the load last seen and the seconds
# waited.
wait_for_quiet <- function(max_wait) {
  t0 <- now()
  repeat {
    load <- background_load(1)
    waited <- now() - t0
    if (is.na(load) || load < 0.25 || waited >= max_wait) break
  }
  c(load = load, waited = waited)
}

# Resident memory of this session in bytes, by the package's own memit().
session_rss <- function() 2^20 * bootscale::memit(NULL)$start

# ---- timing ----------------------------------------------------------------------------

# One timed run after a garbage collection: wall-clock seconds, CPU seconds
# of this process and its children, the CPU the rest of the machine used
# meanwhile (in cores), and the value; an error is caught and kept, so that
# one failing case does not end the benchmark.
time_once <- function(run) {
  invisible(gc(verbose = FALSE))
  m0 <- machine_cpu()
  c0 <- cpu_now()
  t0 <- now()
  value <- tryCatch(run(), error = function(e) {
    structure(conditionMessage(e), class = "bench_error")
  })
  t1 <- now()
  ours <- cpu_now() - c0
  others <- max(0, (machine_cpu() - m0 - ours) / (t1 - t0))
  if (inherits(value, "bench_error")) {
    return(list(elapsed = NA_real_, cpu = NA_real_, others = others, value = NULL,
                error = unclass(value)))
  }
  list(elapsed = t1 - t0, cpu = ours, others = others, value = value, error = NULL)
}

# Times every case of the named list `cases`, interleaved: in each round the
# cases still due run in an order rotated by one from the round before, so
# that a slow spell of the machine hits every case alike. `rounds` is one
# number for all, or a named vector (cases with fewer rounds drop out
# earlier). `setup[[name]]`, when given, runs untimed before each run of that
# case. Returns, per case, the elapsed and CPU seconds and the others' load of
# every run, the errors, and the value of the last good run.
time_interleaved <- function(cases, rounds, setup = list()) {
  if (is.null(names(rounds))) rounds <- stats::setNames(rep(rounds, length(cases)), names(cases))
  out <- lapply(cases, function(f) {
    list(elapsed = numeric(), cpu = numeric(), others = numeric(), errors = character(),
         value = NULL)
  })
  for (r in seq_len(max(rounds))) {
    due <- names(cases)[rounds[names(cases)] >= r]
    due <- due[(seq_along(due) + r - 2) %% length(due) + 1]
    for (name in due) {
      if (!is.null(setup[[name]])) setup[[name]]()
      run <- time_once(cases[[name]])
      o <- out[[name]]
      o$elapsed <- c(o$elapsed, run$elapsed)
      o$cpu <- c(o$cpu, run$cpu)
      o$others <- c(o$others, run$others)
      if (is.null(run$error)) o$value <- run$value else o$errors <- c(o$errors, run$error)
      out[[name]] <- o
    }
  }
  out
}

# Median wall-clock seconds of a call timed `times` times back to back,
# without garbage collection: for calls of microseconds to milliseconds.
time_calls <- function(f, times = 21) {
  stats::median(vapply(seq_len(times), function(i) {
    t0 <- now()
    f()
    now() - t0
  }, numeric(1)))
}

# ---- summaries of one case -------------------------------------------------------------

# "7" when every run succeeded, "6 of 7" otherwise.
runs <- function(timing) {
  n <- length(timing$elapsed)
  ok <- sum(!is.na(timing$elapsed))
  if (ok == n) as.character(n) else sprintf("%d of %d", ok, n)
}

med <- function(timing, what = "elapsed") stats::median(timing[[what]], na.rm = TRUE)

# The spread of the runs: interquartile range over the median.
spread <- function(timing, what = "elapsed") {
  x <- timing[[what]]
  if (sum(!is.na(x)) < 2) return(NA_real_)
  stats::IQR(x, na.rm = TRUE) / stats::median(x, na.rm = TRUE)
}

# "`case`: 1 of 7 runs failed: message" for every case of a timing set with
# a failed run.
timing_failures <- function(timings) {
  unlist(lapply(names(timings), function(name) {
    t <- timings[[name]]
    if (length(t$errors)) {
      sprintf("`%s`: %d of %d runs failed: %s", name, length(t$errors), length(t$elapsed),
              paste(unique(t$errors), collapse = "; "))
    }
  }))
}

# ---- peak memory -----------------------------------------------------------------------

# Peak resident memory increase of one workload, in a fresh R process that
# sees the same library paths as this one (bench/peak-memory.R). Returns
# list(increase, result_bytes, reset) in bytes; NA when the process failed.
peak_memory <- function(ctx, workload, n_means, workers = 1L) {
  out_file <- tempfile(fileext = ".rds")
  on.exit(unlink(out_file), add = TRUE)
  rscript <- file.path(R.home("bin"), "Rscript")
  args <- c("--vanilla", shQuote(file.path(ctx$bench_dir, "peak-memory.R")), workload,
            shQuote(ctx$data$path), format(n_means, scientific = FALSE), workers,
            shQuote(out_file))
  env <- paste0("R_LIBS=", shQuote(paste(.libPaths(), collapse = .Platform$path.sep)))
  log <- suppressWarnings(system2(rscript, args, stdout = TRUE, stderr = TRUE, env = env))
  if (!file.exists(out_file)) {
    message("peak-memory.R failed for ", workload, ":\n", paste(log, collapse = "\n"))
    return(list(increase = NA_real_, result_bytes = NA_real_, reset = NA))
  }
  readRDS(out_file)
}

# ---- a group's result ------------------------------------------------------------------

# The part of the report a group writes: `...` are its markdown lines (a
# character vector each), `values` what later groups may read, `timings` the
# timing sets (from time_interleaved()) whose failures the report lists.
bench_section <- function(..., values = list(), timings = list()) {
  list(lines = c(...), values = values,
       failures = unlist(lapply(timings, timing_failures)))
}
