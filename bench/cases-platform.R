# What two cores of this machine give: the same one-worker job in one and in
# two separate R processes at once (the ceiling of any 2-worker speed-up
# here), and two ten times larger jobs on 1 and 2 workers.

bench_group_platform <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$n_means
  cat("[platform] two independent one-worker runs at once ...\n")
  # On a VM whose two vCPUs share a physical core's execution units, the
  # pair runs slower than one alone, whatever the software does.
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script), add = TRUE)
  writeLines(c(
    "suppressPackageStartupMessages(library(bootscale))",
    "args <- commandArgs(TRUE)",
    "yearly <- aggregate_filesizes(read_filesizes(args[1]))",
    sprintf(paste("f <- function() bootstrap_mean(yearly, BytesLog2, Files, .by = Year,",
                  "n_means = %s, workers = 1, seed = 1)"), format(n_means, scientific = FALSE)),
    "invisible(f())",
    "start <- as.numeric(args[2])",
    "while (as.numeric(Sys.time()) < start) Sys.sleep(0.01)",
    sprintf("t <- vapply(seq_len(%d), function(i) system.time(f())[['elapsed']], numeric(1))",
            ctx$rounds$platform),
    "cat(stats::median(t), '\\n')"
  ), script)
  # Median seconds of the job in each of `n` processes started together.
  run_together <- function(n) {
    start <- as.numeric(Sys.time()) + 3
    procs <- lapply(seq_len(n), function(i) {
      processx::process$new(file.path(R.home("bin"), "Rscript"),
                            c(script, ctx$data$path, format(start, nsmall = 3)),
                            stdout = "|")
    })
    vapply(procs, function(p) {
      p$wait(120000)
      as.numeric(p$read_all_output())
    }, numeric(1))
  }
  alone <- run_together(1)
  pair <- run_together(2)
  two_over_one <- 2 * alone / max(pair)

  cat("[platform] a ten times larger job, workers 1 and 2 ...\n")
  cases <- list(
    large_w1 = function() run_workload("bootscale_mean", input, 10 * n_means, 1L),
    large_w2 = function() run_workload("bootscale_mean", input, 10 * n_means, 2L),
    deep_w1 = function() run_workload("bootscale_mean_deep", input, n_means, 1L),
    deep_w2 = function() run_workload("bootscale_mean_deep", input, n_means, 2L)
  )
  tl <- time_interleaved(cases, ctx$rounds$large)
  bench_section(
    "## What two cores of this machine give",
    "",
    sprintf(paste("The same one-worker job (`bootstrap_mean(.by = Year, n_means = %s)`, %d runs,",
                  "median) in"), fmt_arg(n_means), ctx$rounds$platform),
    "separate R processes: one alone, then two at once. Their ratio bounds any 2-worker",
    "speedup of compute-bound code on this machine, before any cost of forking.",
    "",
    md_table(data.frame(
      case = c("one process alone", "two processes at once (each)"),
      seconds = c(formatC(alone, format = "f", digits = 3),
                  paste(formatC(pair, format = "f", digits = 3), collapse = " and "))
    )),
    "",
    sprintf("- Throughput of two cores over one: %s (2 would be perfect).", fmt_x(two_over_one)),
    "",
    sprintf(paste("Ten times the work, two ways: ten times the means (%d years x %s means x %d",
                  "draws),"), ctx$n_years, fmt_n(10 * n_means), bench_sample_size),
    sprintf(paste("and ten times the draws per mean (%d x %s x %s). Forking costs the same in",
                  "both;"), ctx$n_years, fmt_n(n_means), fmt_n(10 * bench_sample_size)),
    "what grows with the means (the workers' first touch of the shared pages, the copy or",
    "summary in the parent) does not grow with the draws.",
    "",
    md_table(data.frame(
      variant = c(
        sprintf("`bootstrap_mean(.by = Year, n_means = %s)`, workers = %d",
                fmt_arg(10 * n_means), 1:2),
        sprintf("`bootstrap_mean(.by = Year, n_means = %s, sample_size = %d)`, workers = %d",
                fmt_arg(n_means), 10 * bench_sample_size, 1:2)
      ),
      seconds = formatC(c(med(tl$large_w1), med(tl$large_w2), med(tl$deep_w1), med(tl$deep_w2)),
                        format = "f", digits = 3),
      speedup = fmt_x(c(1, med(tl$large_w1) / med(tl$large_w2), 1,
                        med(tl$deep_w1) / med(tl$deep_w2)))
    )),
    "",
    timings = list(tl)
  )
}
