# Benchmarks of issues 3 (one core: speed and peak memory against the
# chapter's R) and 4 (workers: speedup, the chapter's parallel ways, the
# overhead on a tiny job, the pipeline end to end).
#
#   make bench                        (installs the package first)
#   Rscript bench/run.R [DATA_PATH]   (against the installed package)
#
# Writes bench/RESULTS.md and prints the same text. The workload is the
# chapter's: 11 years (2010-2020) x 100 000 means x 100 draws, on the real
# histogram (../shared/data/filesizes_timestamps.txt from the repository
# root) when it is there, else on bootscale::filesizes_example().
#
# Timings are wall-clock medians. Cases are interleaved round by round (the
# order rotates every round) so that a slow spell of this shared machine
# hits every case alike; garbage is collected before each timed run. Each
# run also records the CPU that other processes used meanwhile, since on a
# 2-core VM shared with other sessions that decides what a parallel timing
# means. A run that fails is reported and left out of the medians. Peak
# memory is measured per workload in a fresh R process (bench/peak-memory.R).
#
# Environment: BOOTSCALE_BENCH_QUIET_WAIT (default 20) is how many seconds
# to wait at most, before starting, for other processes to go quiet.

bench_started <- Sys.time()

script_path <- function() {
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(file_arg)) normalizePath(sub("^--file=", "", file_arg[1])) else "bench/run.R"
}
bench_dir <- dirname(script_path())
repo_root <- dirname(bench_dir)
source(file.path(bench_dir, "workloads.R"))
suppressPackageStartupMessages(library(bootscale))

data <- find_data(repo_root, commandArgs(trailingOnly = TRUE)[1])
input <- bench_input(data$path)

n_means <- 1e5       # per year, as in the chapter
loop_means <- 1e4    # the loop is timed at this size and scaled linearly
tiny_means <- 100    # the tiny job of the overhead test
slow_rounds <- 3     # repetitions of the chapter's R versions (seconds each)
fast_rounds <- 7     # repetitions of the bootscale cases
tiny_batches <- 41   # batches of tiny calls per worker count...
tiny_batch <- 10     # ...of this many calls each
n_years <- length(input$years)
means_bytes <- 8 * n_years * n_means   # the 1.1M doubles the work produces

# ---- measuring tools ---------------------------------------------------------

now <- function() as.numeric(Sys.time())   # microsecond resolution

# CPU seconds of this process and its reaped children (forked workers).
cpu_now <- function() sum(proc.time()[c(1, 2, 4, 5)], na.rm = TRUE)

# CPU seconds spent by everything on the machine so far, from /proc/stat
# (user, nice, system, irq, softirq, steal; in USER_HZ = 100 ticks).
machine_cpu <- function() {
  if (!file.exists("/proc/stat")) return(NA_real_)
  v <- as.numeric(strsplit(readLines("/proc/stat", n = 1), " +")[[1]][-1])
  sum(v[c(1, 2, 3, 6, 7, 8)]) / 100
}

# One timed run after a garbage collection: wall-clock seconds, CPU seconds
# of this process and its children, the CPU the rest of the machine used
# meanwhile (in cores), and the value; an error is caught and kept, so that
# one failing case does not end the benchmark.
time_once <- function(run) {
  invisible(gc(verbose = FALSE))
  m0 <- machine_cpu()
  c0 <- cpu_now()
  t0 <- now()
  value <- tryCatch(run(), error = function(e) structure(conditionMessage(e), class = "bench_error"))
  t1 <- now()
  ours <- cpu_now() - c0
  others <- max(0, (machine_cpu() - m0 - ours) / (t1 - t0))
  if (inherits(value, "bench_error")) {
    return(list(elapsed = NA_real_, cpu = NA_real_, others = others, value = NULL,
                error = unclass(value)))
  }
  list(elapsed = t1 - t0, cpu = ours, others = others, value = value, error = NULL)
}

# Runs every case `rounds[[name]]` times, interleaved: in each round the
# cases still due run in an order rotated by one from the round before.
# Each case is a function; `setup` (untimed) runs before the cases that
# have one. Returns, per case, the elapsed and CPU seconds and the others'
# load of every run, the errors, and the value of the last good run.
interleave <- function(cases, rounds, setup = list()) {
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
  failures <<- c(failures, unlist(lapply(names(out), function(name) {
    if (length(out[[name]]$errors)) {
      sprintf("`%s`: %d of %d runs failed: %s", name, length(out[[name]]$errors),
              length(out[[name]]$elapsed), paste(unique(out[[name]]$errors), collapse = "; "))
    }
  })))
  out
}
failures <- character()

# "7" when every run succeeded, "6 of 7" otherwise.
runs <- function(timing) {
  n <- length(timing$elapsed)
  ok <- sum(!is.na(timing$elapsed))
  if (ok == n) as.character(n) else sprintf("%d of %d", ok, n)
}

med <- function(timing, what = "elapsed") stats::median(timing[[what]], na.rm = TRUE)

# Peak resident memory increase of one workload, in a fresh R process that
# sees the same library paths as this one.
peak_memory <- function(workload, n_means, workers = 1L) {
  out_file <- tempfile(fileext = ".rds")
  on.exit(unlink(out_file), add = TRUE)
  rscript <- file.path(R.home("bin"), "Rscript")
  args <- c("--vanilla", shQuote(file.path(bench_dir, "peak-memory.R")), workload,
            shQuote(data$path), format(n_means, scientific = FALSE), workers,
            shQuote(out_file))
  env <- paste0("R_LIBS=", shQuote(paste(.libPaths(), collapse = .Platform$path.sep)))
  log <- suppressWarnings(system2(rscript, args, stdout = TRUE, stderr = TRUE, env = env))
  if (!file.exists(out_file)) {
    message("peak-memory.R failed for ", workload, ":\n", paste(log, collapse = "\n"))
    return(list(increase = NA_real_, result_bytes = NA_real_, reset = NA))
  }
  readRDS(out_file)
}

# Cores kept busy by everything on the machine over `seconds`, while this
# process sleeps: the load of others, from /proc/stat.
background_load <- function(seconds = 1) {
  m0 <- machine_cpu()
  Sys.sleep(seconds)
  (machine_cpu() - m0) / seconds
}

# Other sessions share this VM: wait (at most `max_wait` seconds, set by
# the environment variable BOOTSCALE_BENCH_QUIET_WAIT) until they keep less
# than 0.25 core busy. Returns the load last seen and the seconds waited.
wait_for_quiet <- function(max_wait = as.numeric(Sys.getenv("BOOTSCALE_BENCH_QUIET_WAIT", "20"))) {
  t0 <- now()
  repeat {
    load <- background_load(1)
    waited <- now() - t0
    if (is.na(load) || load < 0.25 || waited >= max_wait) break
  }
  c(load = load, waited = waited)
}

# ---- formatting ----------------------------------------------------------------

fmt_s <- function(x) ifelse(is.na(x), "NA", formatC(x, format = "f", digits = 3))
fmt_ms <- function(x) ifelse(is.na(x), "NA", formatC(1000 * x, format = "f", digits = 2))
fmt_x <- function(x) ifelse(is.na(x), "NA", formatC(x, format = "f", digits = 2))
fmt_n <- function(x) format(x, big.mark = " ", scientific = FALSE, trim = TRUE)
fmt_mb <- function(bytes) ifelse(is.na(bytes), "NA", formatC(bytes / 2^20, format = "f", digits = 1))

md_table <- function(df) {
  cells <- lapply(df, as.character)
  header <- paste0("| ", paste(names(df), collapse = " | "), " |")
  rule <- paste0("|", paste(rep("---", ncol(df)), collapse = "|"), "|")
  rows <- do.call(paste, c(cells, sep = " | "))
  c(header, rule, paste0("| ", rows, " |"))
}

verdict <- function(ok) if (is.na(ok)) "n/a" else if (ok) "**met**" else "**NOT met**"

report <- character()
say <- function(...) {
  lines <- c(...)
  report <<- c(report, lines)
  cat(lines, sep = "\n")
}

# ---- the machine ---------------------------------------------------------------

cpu_model <- if (file.exists("/proc/cpuinfo")) {
  m <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
  paste(unique(sub("^model name\\s*:\\s*", "", m)), collapse = ", ")
} else {
  NA_character_
}
git_head <- tryCatch(
  suppressWarnings(system2("git", c("-C", shQuote(repo_root), "rev-parse", "--short", "HEAD"),
                           stdout = TRUE, stderr = FALSE))[1],
  error = function(e) NA_character_
)
quiet <- wait_for_quiet()
workers_default <- default_workers()

say(
  "# bootscale benchmarks (issues 3 and 4)",
  "",
  "Written by `bench/run.R` (`make bench`); do not edit by hand.",
  "",
  "## Machine",
  "",
  paste0("- Date: ", format(bench_started, "%Y-%m-%d %H:%M:%S %Z")),
  paste0("- CPU: ", cpu_model, "; ", parallel::detectCores(logical = TRUE), " logical cores (",
         parallel::detectCores(logical = FALSE), " physical); parallelly::availableCores() = ",
         parallelly::availableCores(), "; default_workers() = ", workers_default),
  paste0("- R: ", R.version.string, " on ", R.version$platform),
  paste0("- BLAS: ", sessionInfo()$BLAS, "; LAPACK: ", La_library()),
  paste0("- bootscale ", packageVersion("bootscale"), " from ", dirname(find.package("bootscale")),
         if (!is.na(git_head)) paste0(" (repository at ", git_head, ")") else ""),
  paste0("- Data: ", data$kind, ", `", basename(data$path), "`: ", nrow(input$yearly),
         " (Year, BytesLog2) bins over ", n_years, " years, ",
         paste(range(lengths(input$x)), collapse = "-"), " bins per year"),
  paste0("- Workload: ", n_years, " years x ", fmt_n(n_means),
         " means x ", bench_sample_size, " draws = ",
         fmt_n(n_years * n_means * bench_sample_size), " draws"),
  paste0("- Load of other processes on this shared VM just before the run: ",
         fmt_x(quiet[["load"]]), " cores busy (after waiting ",
         formatC(quiet[["waited"]], format = "f", digits = 0),
         " s for it to fall below 0.25 core). Every table gives the median load of others ",
         "during its runs: with 2 cores, parallel timings mean little when it is high. ",
         "Runs that failed (see Failures) are left out of the medians."),
  ""
)

# ---- issue 3: one core ----------------------------------------------------------

cat("\n[issue 3] timing (", slow_rounds, "/", fast_rounds, " interleaved rounds) ...\n", sep = "")
one_core <- list(
  loop = function() run_workload("loop", input, loop_means, 1L),
  vectorized = function() run_workload("vectorized", input, n_means, 1L),
  bootscale_means = function() run_workload("bootscale_means", input, n_means, 1L),
  bootscale_mean = function() run_workload("bootscale_mean", input, n_means, 1L)
)
# Warm-up on a small size: byte-compiles closures, loads namespaces.
for (name in names(one_core)) invisible(run_workload(name, input, 100, 1L))
t3 <- interleave(one_core, c(loop = slow_rounds, vectorized = slow_rounds,
                             bootscale_means = fast_rounds, bootscale_mean = fast_rounds))

cat("[issue 3] peak memory (one fresh R process per workload) ...\n")
mem3 <- list(
  loop = peak_memory("loop", loop_means),
  vectorized = peak_memory("vectorized", n_means),
  bootscale_means = peak_memory("bootscale_means", n_means),
  bootscale_mean = peak_memory("bootscale_mean", n_means),
  bootscale_mean_samples = peak_memory("bootscale_mean_samples", n_means),
  bootscale_engine = peak_memory("bootscale_engine", n_means),
  bootscale_mean_w2 = peak_memory("bootscale_mean", n_means, 2L)
)
mem_of <- function(names, field) vapply(mem3[names], function(m) as.numeric(m[[field]]), numeric(1))

loop_scale <- n_means / loop_means
sec3 <- c(
  loop = med(t3$loop) * loop_scale,
  vectorized = med(t3$vectorized),
  bootscale_means = med(t3$bootscale_means),
  bootscale_mean = med(t3$bootscale_mean)
)
ref_bytes <- c(loop = means_bytes / loop_scale, vectorized = means_bytes,
               bootscale_means = means_bytes, bootscale_mean = means_bytes)
table3 <- data.frame(
  variant = c(
    sprintf("(a) chapter loop: `mean(sample(x, 100, TRUE, p))` per mean [timed and measured at %s means/year; time x%g]",
            fmt_n(loop_means), loop_scale),
    "(b) chapter vectorized: `sample(x, 100 * n_means, TRUE, p)`, `dim<-`, `colMeans()`",
    "(c1) bootscale `bootstrap_means()` per year, workers = 1",
    "(c2) bootscale `bootstrap_mean(.by = Year)`, workers = 1"
  ),
  runs = vapply(t3[names(sec3)], runs, character(1)),
  `seconds (median)` = fmt_s(sec3),
  `speed-up vs (b)` = fmt_x(sec3[["vectorized"]] / sec3),
  `others' load, cores` = fmt_x(vapply(t3[names(sec3)], med, numeric(1), "others")),
  `peak RSS increase, MB` = fmt_mb(mem_of(names(sec3), "increase")),
  `returned object, MB` = fmt_mb(mem_of(names(sec3), "result_bytes")),
  `increase / means` = fmt_x(mem_of(names(sec3), "increase") / ref_bytes),
  check.names = FALSE
)

speedup_1core <- sec3[["vectorized"]] / sec3[["bootscale_mean"]]
speedup_1core_means <- sec3[["vectorized"]] / sec3[["bootscale_means"]]
mem_ratio <- c(
  bootscale_means = mem3$bootscale_means$increase / mem3$bootscale_means$result_bytes,
  bootscale_mean = mem3$bootscale_mean$increase / means_bytes
)
say(
  "## Issue 3: one core against the chapter's R",
  "",
  paste0("Seconds for all ", n_years, " years at ", fmt_n(n_means),
         " means per year: median of the runs. The loop is timed at ", fmt_n(loop_means),
         " means per year and its time scaled linearly; its memory is as measured at that ",
         "size. Peak RSS increase: rise of VmHWM over the resident size in a fresh `Rscript` ",
         "that loaded the data and ran the workload once on 10 means, ",
         if (isTRUE(mem3$vectorized$reset)) "with the high-water mark reset through /proc/self/clear_refs"
         else "WITHOUT a reset of the high-water mark (clear_refs not writable): rises are lower bounds",
         ". `increase / means` divides it by the size of the means computed (",
         fmt_n(n_years), " x ", fmt_n(n_means), " doubles = ", fmt_mb(means_bytes),
         " MB; a tenth of that for the loop)."),
  "",
  md_table(table3),
  "",
  sprintf("- (c2) `bootstrap_mean()` returns a small tibble (%s kB) but computes the %s MB of means inside. The C engine alone (internal `means_engine()`: job, kernel, result vector) raises the peak by %s MB (%s x the means); with `keep_samples = TRUE`, `bootstrap_mean()` returns %s MB and raises the peak by %s MB (%s x).",
          formatC(mem3$bootscale_mean$result_bytes / 1024, format = "f", digits = 1),
          fmt_mb(means_bytes), fmt_mb(mem3$bootscale_engine$increase),
          fmt_x(mem3$bootscale_engine$increase / means_bytes),
          fmt_mb(mem3$bootscale_mean_samples$result_bytes),
          fmt_mb(mem3$bootscale_mean_samples$increase),
          fmt_x(mem3$bootscale_mean_samples$increase / means_bytes)),
  sprintf("- Target: bootscale on 1 core >= 20x faster than vectorized R: %s (`bootstrap_mean()` %sx, `bootstrap_means()` per year %sx).",
          verdict(speedup_1core >= 20), fmt_x(speedup_1core), fmt_x(speedup_1core_means)),
  sprintf("- Target: peak memory increase <= 2x what it returns (the means): %s (`bootstrap_means()` %sx its result; `bootstrap_mean()` %sx the means it computes).",
          verdict(all(mem_ratio <= 2)), fmt_x(mem_ratio[["bootscale_means"]]),
          fmt_x(mem_ratio[["bootscale_mean"]])),
  ""
)

# ---- issue 4: workers -----------------------------------------------------------

cat("[issue 4] timing workers and the chapter's parallel ways ...\n")
# The chapter's furrr code sets the plan inside the pipeline, so its cost is
# part of every call there; it is timed both ways here.
plan_started <- now()
future::plan(future::multisession, workers = 2)
invisible(run_workload("furrr", input, 100, 2L))   # the workers are up and warm
plan_seconds <- now() - plan_started

parallel_cases <- list(
  bs_mean_w1 = function() run_workload("bootscale_mean", input, n_means, 1L),
  bs_mean_w2 = function() run_workload("bootscale_mean", input, n_means, 2L),
  bs_mean_wd = function() run_workload("bootscale_mean", input, n_means, workers_default),
  bs_means_w1 = function() run_workload("bootscale_means", input, n_means, 1L),
  bs_means_w2 = function() run_workload("bootscale_means", input, n_means, 2L),
  mclapply = function() run_workload("mclapply", input, n_means, 2L),
  furrr = function() run_workload("furrr", input, n_means, 2L),
  # The chapter calls plan() inside its pipeline: starting the pool is part
  # of every call there. Timed on its own (with a first tiny map, so that
  # the workers are really up) and added to the map's time below.
  furrr_start = function() {
    future::plan(future::multisession, workers = 2)
    run_workload("furrr", input, 10, 2L)
  }
)
invisible(run_workload("mclapply", input, 100, 2L))
t4 <- interleave(
  parallel_cases,
  c(bs_mean_w1 = fast_rounds, bs_mean_w2 = fast_rounds, bs_mean_wd = fast_rounds,
    bs_means_w1 = fast_rounds, bs_means_w2 = fast_rounds,
    mclapply = slow_rounds, furrr = slow_rounds, furrr_start = slow_rounds),
  # Shut the pool down (untimed) so that the start-up case starts it anew.
  setup = list(furrr_start = function() future::plan(future::sequential))
)
future::plan(future::sequential)
session_rss <- if (file.exists("/proc/self/status")) {
  as.numeric(sub("^[^0-9]*([0-9]+) kB.*$", "\\1",
                 grep("^VmRSS:", readLines("/proc/self/status"), value = TRUE))) * 1024
} else {
  NA_real_
}

cat("[issue 4] pipeline end to end ...\n")
pipeline <- list(
  pipe_w1 = function() filesize_pipeline(data$path, n_means = n_means, workers = 1L, seed = 1),
  pipe_w2 = function() filesize_pipeline(data$path, n_means = n_means, workers = 2L, seed = 1)
)
tp <- interleave(pipeline, c(pipe_w1 = fast_rounds, pipe_w2 = fast_rounds))

cat("[issue 4] overhead on a tiny job ...\n")
# Calls of a few milliseconds: timed in batches (no garbage collection in
# between), batches of workers = 1 and 2 alternating, medians per call.
tiny_call <- function(w) {
  bootstrap_mean(input$yearly, BytesLog2, weight = Files, .by = Year,
                 n_means = tiny_means, workers = w, seed = 1)
}
tiny <- list(w1 = numeric(), w2 = numeric())
for (w in 1:2) invisible(tiny_call(w))
for (b in seq_len(tiny_batches)) {
  for (w in if (b %% 2) 1:2 else 2:1) {
    t0 <- now()
    for (i in seq_len(tiny_batch)) tiny_call(w)
    tiny[[w]] <- c(tiny[[w]], (now() - t0) / tiny_batch)
  }
}
tiny_med <- vapply(tiny, stats::median, numeric(1))
# The overhead: the median of the ratios of back-to-back batches, which the
# drift of this VM's speed from one second to the next (a third, seen here)
# disturbs much less than the ratio of the two medians.
tiny_ratio <- stats::median(tiny$w2 / tiny$w1)
tiny_draws <- n_years * tiny_means * bench_sample_size

# The pool size the cost rule in R/pool.R picks (an internal function;
# NA if it has moved).
pool_size <- function(workers, draws, blocks) {
  f <- tryCatch(get("plan_workers", asNamespace("bootscale")), error = function(e) NULL)
  if (is.null(f)) return(NA_integer_)
  f(workers, draws, blocks)
}
blocks_per_year <- ceiling(n_means / 1024)
big_draws <- n_years * n_means * bench_sample_size

s1 <- med(t4$bs_mean_w1)
s2 <- med(t4$bs_mean_w2)
rows4 <- list(
  list("bootscale `bootstrap_mean(.by = Year)`, workers = 1", "bs_mean_w1",
       pool_size(1L, big_draws, n_years * blocks_per_year)),
  list("bootscale `bootstrap_mean(.by = Year)`, workers = 2", "bs_mean_w2",
       pool_size(2L, big_draws, n_years * blocks_per_year)),
  list(sprintf("bootscale `bootstrap_mean(.by = Year)`, workers = default_workers() = %d",
               workers_default), "bs_mean_wd",
       pool_size(workers_default, big_draws, n_years * blocks_per_year)),
  list("bootscale `bootstrap_means()` per year, workers = 1", "bs_means_w1",
       pool_size(1L, n_means * bench_sample_size, blocks_per_year)),
  list("bootscale `bootstrap_means()` per year, workers = 2", "bs_means_w2",
       pool_size(2L, n_means * bench_sample_size, blocks_per_year)),
  list("chapter: `parallel::mclapply()` over years, mc.cores = 2, vectorized R per year",
       "mclapply", 2L),
  list("chapter: furrr `future_map()` over years, multisession 2 workers (pool already up)",
       "furrr", 2L),
  list("chapter: the same plus starting the pool, `plan(multisession, workers = 2)`, as the chapter does in every call (sum of medians)",
       "furrr_start", 2L)
)
sec4 <- vapply(rows4, function(r) med(t4[[r[[2]]]]), numeric(1))
sec4[[8]] <- sec4[[8]] + sec4[[7]]
cpu4 <- vapply(rows4, function(r) med(t4[[r[[2]]]], "cpu"), numeric(1))
others4 <- vapply(rows4, function(r) med(t4[[r[[2]]]], "others"), numeric(1))
# The furrr workers are sessions of their own: their CPU is not ours, and
# it would count as others' load.
is_furrr <- vapply(rows4, function(r) startsWith(r[[2]], "furrr"), logical(1))
cpu4[is_furrr] <- NA
others4[is_furrr] <- NA
base4 <- c(bs_mean = s1, bs_means = med(t4$bs_means_w1))
speedup4 <- vapply(seq_along(rows4), function(i) {
  key <- rows4[[i]][[2]]
  if (startsWith(key, "bs_means")) base4[["bs_means"]] / sec4[i]
  else if (startsWith(key, "bs_mean")) base4[["bs_mean"]] / sec4[i]
  else sec3[["vectorized"]] / sec4[i]
}, numeric(1))
table4 <- data.frame(
  variant = vapply(rows4, `[[`, character(1), 1),
  runs = vapply(rows4, function(r) runs(t4[[r[[2]]]]), character(1)),
  `processes used` = vapply(rows4, function(r) as.character(r[[3]]), character(1)),
  `seconds (median)` = fmt_s(sec4),
  `CPU s (self + children)` = fmt_s(cpu4),
  `others' load, cores` = fmt_x(others4),
  `speed-up vs 1 worker / vs serial (b)` = fmt_x(speedup4),
  `bootscale 2 workers / this` = fmt_x(s2 / sec4),
  check.names = FALSE
)

pipe1 <- med(tp$pipe_w1)
pipe2 <- med(tp$pipe_w2)
table_pipe <- data.frame(
  variant = c("`filesize_pipeline(n_means = 1e5)`, workers = 1",
              "`filesize_pipeline(n_means = 1e5)`, workers = 2"),
  runs = c(runs(tp$pipe_w1), runs(tp$pipe_w2)),
  `seconds (median)` = fmt_s(c(pipe1, pipe2)),
  `speed-up vs 1 worker` = fmt_x(c(1, pipe1 / pipe2)),
  `others' load, cores` = fmt_x(c(med(tp$pipe_w1, "others"), med(tp$pipe_w2, "others"))),
  check.names = FALSE
)

table_tiny <- data.frame(
  variant = sprintf("`bootstrap_mean(.by = Year, n_means = %d)`, workers = %d", tiny_means, 1:2),
  calls = lengths(tiny) * tiny_batch,
  `processes used` = c(pool_size(1L, tiny_draws, n_years), pool_size(2L, tiny_draws, n_years)),
  `ms per call (median)` = fmt_ms(tiny_med),
  `relative to workers = 1 (median of paired batches)` = fmt_x(c(1, tiny_ratio)),
  check.names = FALSE
)

speedup_2w <- s1 / s2
say(
  "## Issue 4: workers",
  "",
  paste0("Same workload and conventions as above. Speed-up is against 1 worker for the ",
         "bootscale rows and against the serial vectorized R of issue 3 (",
         fmt_s(sec3[["vectorized"]]), " s) for the chapter's rows. ",
         "`processes used` is what the cost rule in R/pool.R picks. CPU seconds count this ",
         "process and its reaped forked children; the furrr workers are sessions of their ",
         "own, so neither their CPU nor the others' load (which would include them) is given ",
         "for furrr. Starting the multisession pool the first time took ",
         fmt_s(plan_seconds), " s. This benchmark session is ", fmt_mb(session_rss),
         " MB resident, which matters: fork() copies the page tables of the whole session."),
  "",
  md_table(table4),
  "",
  md_table(table_pipe),
  "",
  paste0("Overhead of a parallel call on a tiny job (", n_years, " years x ", tiny_means,
         " means = ", fmt_n(tiny_draws), " draws, which the cost rule runs in ",
         pool_size(2L, tiny_draws, n_years), " process): batches of ", tiny_batch, " calls, workers = 1 and 2 alternating."),
  "",
  md_table(table_tiny),
  "",
  sprintf("- Target: 2 workers >= 1.8x faster than 1 worker (`bootstrap_mean()`): %s (%sx; `bootstrap_means()` per year %sx; pipeline %sx).",
          verdict(speedup_2w >= 1.8), fmt_x(speedup_2w),
          fmt_x(med(t4$bs_means_w1) / med(t4$bs_means_w2)), fmt_x(pipe1 / pipe2)),
  sprintf("- Target: a tiny job with workers = 2 within ~10%% of workers = 1: %s (%s%%).",
          verdict(abs(tiny_ratio - 1) <= 0.10),
          formatC(100 * (tiny_ratio - 1), format = "f", digits = 1,
                  flag = "+")),
  sprintf("- Peak RSS increase of the parent process with 2 workers (`bootstrap_mean()`, children not counted): %s MB.",
          fmt_mb(mem3$bootscale_mean_w2$increase)),
  ""
)

# ---- where the time goes --------------------------------------------------------

cat("[profile] where bootstrap_mean() spends its time ...\n")
# The internal C engine alone (job build, kernel, result vector) against
# the whole call; what is left is R: argument checks, grouping and the
# per-group summaries, all serial.
split_cases <- list(
  engine_w1 = function() run_workload("bootscale_engine", input, n_means, 1L),
  engine_w2 = function() run_workload("bootscale_engine", input, n_means, 2L),
  mean_w1 = function() run_workload("bootscale_mean", input, n_means, 1L),
  mean_w2 = function() run_workload("bootscale_mean", input, n_means, 2L)
)
split_rounds <- 15 # more than elsewhere: these timings are subtracted
ts <- interleave(split_cases, c(engine_w1 = split_rounds, engine_w2 = split_rounds,
                                mean_w1 = split_rounds, mean_w2 = split_rounds))
e1 <- med(ts$engine_w1)
e2 <- med(ts$engine_w2)
m1 <- med(ts$mean_w1)
m2 <- med(ts$mean_w2)
# R around the engine: the median of the per-round differences (the two
# cases run back to back in every round). The difference of two medians can
# come out negative on a VM whose speed drifts between runs (by a third, seen
# here); the paired difference is much steadier.
r_around <- stats::median(ts$mean_w1$elapsed - ts$engine_w1$elapsed, na.rm = TRUE)
# parallelly::availableCores() is slow for a tiny call; check_workers()
# uses bootscale's cached copy (R/pool.R, available_cores()).
time_calls <- function(f) {
  stats::median(vapply(1:21, function(i) {
    t0 <- now()
    f()
    now() - t0
  }, numeric(1)))
}
cores_call <- time_calls(function() parallelly::availableCores(omit = 0L))
cores_cached <- time_calls(function() bootscale:::available_cores())

# A job just above the size where the cost rule in R/pool.R starts to fork
# in this session: the fewest one-year blocks of 1024 means for which it
# picks 2 processes.
edge_blocks <- Find(function(b) identical(pool_size(2L, b * 1024 * bench_sample_size, b), 2L),
                    seq_len(2000))
if (is.null(edge_blocks)) edge_blocks <- 40L
edge_means <- edge_blocks * 1024
edge_draws <- edge_means * bench_sample_size
edge_call <- function(w) {
  bootstrap_means(input$x[[1]], input$p[[1]], n_means = edge_means,
                  sample_size = bench_sample_size, workers = w, seed = 1)
}
edge <- interleave(list(edge_w1 = function() edge_call(1L), edge_w2 = function() edge_call(2L)),
                   c(edge_w1 = 21, edge_w2 = 21))
edge1 <- med(edge$edge_w1)
edge2 <- med(edge$edge_w2)
table_split <- data.frame(
  part = c("C engine (internal `means_engine()`: job build, kernel, result), workers = 1",
           "C engine, workers = 2",
           "whole `bootstrap_mean()`, workers = 1",
           "whole `bootstrap_mean()`, workers = 2",
           "R around the engine (workers = 1): whole call minus engine",
           "`parallelly::availableCores()` (uncached)",
           "the same through bootscale's cache, as `check_workers()` asks it on every call",
           sprintf("`bootstrap_means()`, one year, %s means (%s draws, the smallest job the cost rule forks for in this session), workers = 1",
                   fmt_n(edge_means), fmt_n(edge_draws)),
           "the same, workers = 2"),
  seconds = fmt_s(c(e1, e2, m1, m2, r_around, cores_call, cores_cached, edge1, edge2)),
  note = c(sprintf("%s ns per draw; %s runs", fmt_x(1e9 * e1 / big_draws), runs(ts$engine_w1)),
           sprintf("speed-up %sx over 1 worker; others' load %s cores", fmt_x(e1 / e2),
                   fmt_x(med(ts$engine_w2, "others"))),
           sprintf("%s runs", runs(ts$mean_w1)),
           sprintf("speed-up %sx over 1 worker; others' load %s cores", fmt_x(m1 / m2),
                   fmt_x(med(ts$mean_w2, "others"))),
           sprintf("%s%% of the 1-worker call; serial, so even a perfect 2-worker engine gives at most %sx",
                   formatC(100 * r_around / m1, format = "f", digits = 0),
                   fmt_x(m1 / (r_around + (m1 - r_around) / 2))),
           sprintf("%s%% of a tiny call (%s ms)",
                   formatC(100 * cores_call / tiny_med[["w1"]], format = "f", digits = 0),
                   fmt_ms(tiny_med[["w1"]])),
           sprintf("%s%% of a tiny call", formatC(100 * cores_cached / tiny_med[["w1"]],
                                                   format = "f", digits = 1)),
           sprintf("%s runs", runs(edge$edge_w1)),
           sprintf("%s processes; %sx the 1-worker time, in a session of %s MB",
                   pool_size(2L, edge_draws, edge_means / 1024), fmt_x(edge2 / edge1),
                   fmt_mb(session_rss)))
)

prof_file <- tempfile()
Rprof(prof_file, interval = 0.005)
for (i in 1:5) invisible(run_workload("bootscale_mean", input, n_means, 1L))
Rprof(NULL)
prof <- utils::summaryRprof(prof_file)$by.self
unlink(prof_file)
prof <- utils::head(prof[order(-prof$self.time), ], 8)
say(
  "## Where the time goes",
  "",
  paste0("`bootstrap_mean(.by = Year, n_means = 1e5)`, medians of ", split_rounds,
         " interleaved runs (R around the engine: median of the differences within a round):"),
  "",
  md_table(table_split),
  "",
  "Rprof of `bootstrap_mean()` (CPU time of this process, 5 calls, workers = 1; the C kernel is counted under `run_serial`), top functions by self time:",
  "",
  md_table(data.frame(
    `function` = paste0("`", gsub('"', "", rownames(prof)), "`"),
    `self s` = fmt_s(prof$self.time),
    `self %` = formatC(prof$self.pct, format = "f", digits = 1),
    check.names = FALSE
  )),
  ""
)

# ---- what two cores of this machine give ----------------------------------------

cat("[platform] two independent one-worker runs at once ...\n")
# The ceiling for any 2-worker speedup: the same one-worker job in two
# separate R processes, first one alone, then both at the same time. On a VM
# whose two vCPUs share a physical core's execution units, the pair runs
# slower than one alone, whatever the software does.
platform_script <- tempfile(fileext = ".R")
writeLines(c(
  "suppressPackageStartupMessages(library(bootscale))",
  "args <- commandArgs(TRUE)",
  "yearly <- aggregate_filesizes(read_filesizes(args[1]))",
  "f <- function() bootstrap_mean(yearly, BytesLog2, Files, .by = Year, n_means = 1e5, workers = 1, seed = 1)",
  "invisible(f())",
  "start <- as.numeric(args[2])",
  "while (as.numeric(Sys.time()) < start) Sys.sleep(0.01)",
  "t <- vapply(1:9, function(i) system.time(f())[['elapsed']], numeric(1))",
  "cat(stats::median(t), '\\n')"
), platform_script)
platform_run <- function(n) {
  start <- as.numeric(Sys.time()) + 3
  procs <- lapply(seq_len(n), function(i) {
    processx::process$new(file.path(R.home("bin"), "Rscript"),
                          c(platform_script, data$path, format(start, nsmall = 3)),
                          stdout = "|")
  })
  vapply(procs, function(p) {
    p$wait(120000)
    as.numeric(p$read_all_output())
  }, numeric(1))
}
platform_alone <- platform_run(1)
platform_pair <- platform_run(2)
unlink(platform_script)
platform_ceiling <- 2 * platform_alone / max(platform_pair)

cat("[platform] a ten times larger job, workers 1 and 2 ...\n")
large <- list(
  large_w1 = function() run_workload("bootscale_mean", input, 10 * n_means, 1L),
  large_w2 = function() run_workload("bootscale_mean", input, 10 * n_means, 2L),
  deep_w1 = function() run_workload("bootscale_mean_deep", input, n_means, 1L),
  deep_w2 = function() run_workload("bootscale_mean_deep", input, n_means, 2L)
)
tl <- interleave(large, c(large_w1 = 5, large_w2 = 5, deep_w1 = 5, deep_w2 = 5))
say(
  "## What two cores of this machine give",
  "",
  "The same one-worker job (`bootstrap_mean(.by = Year, n_means = 1e5)`, 9 runs, median) in",
  "separate R processes: one alone, then two at once. Their ratio bounds any 2-worker",
  "speedup of compute-bound code on this machine, before any cost of forking.",
  "",
  md_table(data.frame(
    case = c("one process alone", "two processes at once (each)"),
    seconds = c(formatC(platform_alone, format = "f", digits = 3),
                paste(formatC(platform_pair, format = "f", digits = 3), collapse = " and "))
  )),
  "",
  sprintf("- Throughput of two cores over one: %s (2 would be perfect).", fmt_x(platform_ceiling)),
  "",
  "Ten times the work, two ways: ten times the means (11 years x 1 000 000 means x 100 draws),",
  "and ten times the draws per mean (11 x 100 000 x 1 000). Forking costs the same in both;",
  "what grows with the means (the workers' first touch of the shared pages, the copy or",
  "summary in the parent) does not grow with the draws.",
  "",
  md_table(data.frame(
    variant = c("`bootstrap_mean(.by = Year, n_means = 1e6)`, workers = 1",
                "`bootstrap_mean(.by = Year, n_means = 1e6)`, workers = 2",
                "`bootstrap_mean(.by = Year, n_means = 1e5, sample_size = 1000)`, workers = 1",
                "`bootstrap_mean(.by = Year, n_means = 1e5, sample_size = 1000)`, workers = 2"),
    seconds = formatC(c(med(tl$large_w1), med(tl$large_w2), med(tl$deep_w1), med(tl$deep_w2)),
                      format = "f", digits = 3),
    speedup = fmt_x(c(1, med(tl$large_w1) / med(tl$large_w2), 1, med(tl$deep_w1) / med(tl$deep_w2)))
  )),
  ""
)

# ---- results identical across worker counts -------------------------------------

cat("[checks] identical results across workers ...\n")
# Each check is evaluated inside check(), so that an error is reported, not fatal.
# A check that fails with an error is tried again (twice at most), and the
# errors are shown beside the result.
check <- function(expr) {
  e <- substitute(expr)
  env <- parent.frame()
  errors <- character()
  for (attempt in 1:3) {
    result <- tryCatch(as.character(eval(e, env)), error = function(err) {
      errors <<- c(errors, conditionMessage(err))
      NULL
    })
    if (!is.null(result)) break
  }
  if (is.null(result)) result <- "error"
  if (length(errors)) result <- paste0(result, " (error on ", length(errors), " attempt(s): ",
                                       paste(unique(errors), collapse = "; "), ")")
  result
}
same_seed <- function(w) {
  bootstrap_mean(input$yearly, BytesLog2, weight = Files, .by = Year, n_means = n_means,
                 keep_samples = TRUE, workers = w, seed = 1)
}
ref <- tryCatch(same_seed(1L), error = function(e) NULL)
# Results record the processes that made them (attribute `processes`); the
# numbers are what must not depend on workers.
strip_processes <- function(x) {
  if (is.list(x) && !is.data.frame(x)) return(lapply(x, strip_processes))
  attr(x, "processes") <- NULL
  x
}
same_numbers <- function(a, b) identical(strip_processes(a), strip_processes(b))
means_w1 <- run_workload("bootscale_means", input, n_means, 1L)
chapter <- t3$vectorized$value
checks <- data.frame(
  check = c(
    "`bootstrap_mean(keep_samples = TRUE)`: workers = 2 identical to workers = 1",
    sprintf("`bootstrap_mean(keep_samples = TRUE)`: workers = default_workers() = %d identical to workers = 1",
            workers_default),
    "`bootstrap_means()` per year: workers = 2 identical to workers = 1",
    "`filesize_pipeline()`: workers = 2 identical to workers = 1 (last timed runs)",
    "tiny job: workers = 2 identical to workers = 1",
    "bootscale estimates vs the chapter's vectorized R: largest absolute difference over years",
    "bootscale std.error vs the chapter's: max relative difference over years"
  ),
  result = c(
    check(same_numbers(same_seed(2L), ref)),
    check(same_numbers(same_seed(workers_default), ref)),
    check(same_numbers(run_workload("bootscale_means", input, n_means, 2L), means_w1)),
    check(!is.null(tp$pipe_w1$value) && same_numbers(tp$pipe_w2$value, tp$pipe_w1$value)),
    check(same_numbers(tiny_call(2L), tiny_call(1L))),
    check(formatC(max(abs(ref$estimate - vapply(chapter, mean, numeric(1)))),
                  format = "g", digits = 3)),
    check(formatC(max(abs(ref$std.error / vapply(chapter, stats::sd, numeric(1)) - 1)),
                  format = "g", digits = 3))
  )
)
cat("[issue 12] the persistent pool ...\n")
source(file.path(bench_dir, "pool.R"))
say(bench_pool_all())

load_after <- background_load()
total_seconds <- as.numeric(difftime(Sys.time(), bench_started, units = "secs"))
say(
  "## Checks",
  "",
  md_table(checks),
  "",
  "## Failures",
  "",
  if (length(failures)) paste("-", failures) else "None: every timed run succeeded.",
  "",
  sprintf("Load of other processes just after the run: %s cores. The benchmark took %s s.",
          fmt_x(load_after), formatC(total_seconds, format = "f", digits = 0))
)

writeLines(report, file.path(bench_dir, "RESULTS.md"))
cat("\nWritten to", file.path(bench_dir, "RESULTS.md"), "\n")
