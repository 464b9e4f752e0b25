# The benchmarks of bootscale (make bench): speed and peak memory on one core
# against the chapter's R, speed-up with workers against the chapter's
# parallel ways, where the time goes, what two cores of this machine give,
# and checks that the results do not depend on the number of workers.
#
#   make bench                                (installs the package first)
#   Rscript bench/run.R [DATA_PATH]           (against the installed package)
#   BOOTSCALE_BENCH_SCALE=0.1 Rscript bench/run.R   (a smoke run, a tenth of the work)
#
# Writes bench/RESULTS.md and prints the same text; a run at a scale other
# than 1 writes to a temporary file instead (or BOOTSCALE_BENCH_OUT). The
# workload is the chapter's: 11 years (2010-2020) x 100 000 means x 100
# draws, on the real histogram (../shared/data/filesizes_timestamps.txt from
# the repository root) when it is there, else on bootscale::filesizes_example().
#
# How the timing works, and how to add a case group: bench/harness.R. The
# tables: bench/report.R. The workloads: bench/workloads.R. The groups, in
# the order they run: bench/cases-*.R.
# BOOTSCALE_BENCH_GROUPS (say "one_core,checks") runs only some groups;
# a group that reads another's values reports NA without it.

# All in one function, parsed whole before it runs: editing this file during
# a run cannot change the run.
main <- function() {
  started <- Sys.time()
  script_path <- function() {
    file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
    if (length(file_arg)) normalizePath(sub("^--file=", "", file_arg[1])) else "bench/run.R"
  }
  bench_dir <- dirname(script_path())
  for (f in c("harness.R", "report.R", "workloads.R",
              list.files(bench_dir, "^cases-.*[.]R$"))) {
    source(file.path(bench_dir, f))
  }
  suppressPackageStartupMessages(library(bootscale))

  groups <- list(
    one_core = bench_group_one_core,
    workers = bench_group_workers,
    profile = bench_group_profile,
    tiny = bench_group_tiny,
    platform = bench_group_platform,
    checks = bench_group_checks
  )
  # The pool's cases, once bench/pool.R is there.
  if (file.exists(file.path(bench_dir, "pool.R"))) groups$pool <- bench_group_pool
  only <- Sys.getenv("BOOTSCALE_BENCH_GROUPS")
  if (nzchar(only)) {
    only <- strsplit(only, "[, ]+")[[1]]
    unknown <- setdiff(only, names(groups))
    if (length(unknown)) stop("no benchmark group ", paste(unknown, collapse = ", "), call. = FALSE)
    groups <- groups[names(groups) %in% only]
  }

  root <- dirname(bench_dir)
  data <- find_data(root, commandArgs(trailingOnly = TRUE)[1])
  ctx <- bench_context(root, bench_dir, data, bench_input(data$path))
  out_file <- Sys.getenv("BOOTSCALE_BENCH_OUT",
                         if (ctx$scale == 1) file.path(bench_dir, "RESULTS.md") else
                           tempfile("bench-results-", fileext = ".md"))

  quiet <- wait_for_quiet(ctx$quiet_wait)
  machine <- machine_section(ctx, started, quiet)
  cat(machine, sep = "\n")
  done <- list()
  sections <- list()
  for (name in names(groups)) {
    sections[[name]] <- groups[[name]](ctx, done)
    done[[name]] <- sections[[name]]$values
    cat(sections[[name]]$lines, sep = "\n")
  }
  closing <- report_closing(sections, load_after = background_load(),
                            seconds = as.numeric(difftime(Sys.time(), started, units = "secs")))
  cat(closing, sep = "\n")
  writeLines(c(machine, unlist(lapply(sections, `[[`, "lines")), closing), out_file)
  cat("\nWritten to", out_file, "\n")
}

main()
