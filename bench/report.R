# The report writer of the benchmarks: number formats, markdown tables, the
# machine section at the top of bench/RESULTS.md and the failures at its end
# (bench/run.R puts the groups' sections between them; bench/harness.R says
# what a group returns).

# ---- formats ---------------------------------------------------------------------------

fmt_s <- function(x) ifelse(is.na(x), "NA", formatC(x, format = "f", digits = 3))
fmt_ms <- function(x) ifelse(is.na(x), "NA", formatC(1000 * x, format = "f", digits = 2))
fmt_x <- function(x) ifelse(is.na(x), "NA", formatC(x, format = "f", digits = 2))
fmt_n <- function(x) format(x, big.mark = " ", scientific = FALSE, trim = TRUE)
fmt_mb <- function(bytes) {
  ifelse(is.na(bytes), "NA", formatC(bytes / 2^20, format = "f", digits = 1))
}
fmt_pct <- function(x, digits = 0) {
  ifelse(is.na(x), "NA", formatC(100 * x, format = "f", digits = digits))
}
# 1e5 as "1e5" and 100 as "100", as a call would be written.
fmt_arg <- function(x) {
  if (x >= 1e4 && x == 10^round(log10(x))) sprintf("1e%d", round(log10(x))) else fmt_n(x)
}

md_table <- function(df) {
  cells <- lapply(df, as.character)
  header <- paste0("| ", paste(names(df), collapse = " | "), " |")
  rule <- paste0("|", paste(rep("---", ncol(df)), collapse = "|"), "|")
  rows <- do.call(paste, c(cells, sep = " | "))
  c(header, rule, paste0("| ", rows, " |"))
}

verdict <- function(ok) if (is.na(ok)) "n/a" else if (ok) "**met**" else "**NOT met**"

# The standard table of a group: one row per case of the timing set `t`,
# labelled by `labels` (named by case).
timing_table <- function(t, labels) {
  data.frame(
    variant = unname(labels),
    runs = vapply(t[names(labels)], runs, character(1)),
    `seconds (median)` = fmt_s(vapply(t[names(labels)], med, numeric(1))),
    `spread (IQR / median)` = fmt_x(vapply(t[names(labels)], spread, numeric(1))),
    `others' load, cores` = fmt_x(vapply(t[names(labels)], med, numeric(1), "others")),
    check.names = FALSE, row.names = NULL
  )
}

# ---- the machine -----------------------------------------------------------------------

machine_section <- function(ctx, started, quiet) {
  cpu_model <- if (file.exists("/proc/cpuinfo")) {
    m <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
    paste(unique(sub("^model name\\s*:\\s*", "", m)), collapse = ", ")
  } else {
    NA_character_
  }
  git_head <- tryCatch(
    suppressWarnings(system2("git", c("-C", shQuote(ctx$root), "rev-parse", "--short", "HEAD"),
                             stdout = TRUE, stderr = FALSE))[1],
    error = function(e) NA_character_
  )
  input <- ctx$input
  c(
    "# bootscale benchmarks",
    "",
    "Written by `bench/run.R` (`make bench`); do not edit by hand.",
    "",
    "## Machine",
    "",
    paste0("- Date: ", format(started, "%Y-%m-%d %H:%M:%S %Z")),
    paste0("- CPU: ", cpu_model, "; ", parallel::detectCores(logical = TRUE),
           " logical cores (", parallel::detectCores(logical = FALSE),
           " physical); parallelly::availableCores() = ", parallelly::availableCores(),
           "; default_workers() = ", ctx$workers_default),
    paste0("- R: ", R.version.string, " on ", R.version$platform),
    paste0("- BLAS: ", utils::sessionInfo()$BLAS, "; LAPACK: ", La_library()),
    paste0("- bootscale ", utils::packageVersion("bootscale"), " from ",
           dirname(find.package("bootscale")),
           if (!is.na(git_head)) paste0(" (repository at ", git_head, ")") else ""),
    paste0("- Data: ", ctx$data$kind, ", `", basename(ctx$data$path), "`: ",
           nrow(input$yearly), " (Year, BytesLog2) bins over ", ctx$n_years, " years, ",
           paste(range(lengths(input$x)), collapse = "-"), " bins per year"),
    paste0("- Workload: ", ctx$n_years, " years x ", fmt_n(ctx$n_means),
           " means x ", bench_sample_size, " draws = ",
           fmt_n(ctx$n_years * ctx$n_means * bench_sample_size), " draws",
           if (ctx$scale != 1) {
             sprintf(" (BOOTSCALE_BENCH_SCALE = %g: a smoke run, not a measurement)", ctx$scale)
           }),
    paste0("- Load of other processes on this shared VM just before the run: ",
           fmt_x(quiet[["load"]]), " cores busy (after waiting ",
           formatC(quiet[["waited"]], format = "f", digits = 0),
           " s for it to fall below 0.25 core). Every table gives the median load of others ",
           "during its runs: with 2 cores, parallel timings mean little when it is high. ",
           "Runs that failed (see Failures) are left out of the medians."),
    ""
  )
}

# ---- the whole report ------------------------------------------------------------------

# The end of the report: the failed runs of every group and the closing line.
report_closing <- function(sections, load_after, seconds) {
  failures <- unlist(lapply(sections, `[[`, "failures"))
  c(
    "## Failures",
    "",
    if (length(failures)) paste("-", failures) else "None: every timed run succeeded.",
    "",
    sprintf("Load of other processes just after the run: %s cores. The benchmark took %s s.",
            fmt_x(load_after), formatC(seconds, format = "f", digits = 0))
  )
}
