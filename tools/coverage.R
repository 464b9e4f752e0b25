# Line coverage of R/ and src/ by the testthat suite, with covr (make coverage).
#
#   Rscript tools/coverage.R [OUT_DIR]
#
# covr installs an instrumented copy of the package in a temporary library
# (R code traced, C compiled with gcov at -O0) and runs tests/testthat.R in
# it. Prints the coverage of every file, then one line per language and the
# total:
#   coverage: R 91.2% (1234 of 1353 lines), C 88.0% (...), total 90.1% (...)
# and saves the covr object to OUT_DIR/coverage.rds (default coverage/), for
# covr::report() or zero_coverage() afterwards.
#
# Forks: the pool's workers are forked from C and run no R code, so there are
# no R traces to lose in children and covr's mcexit patch (for R code run by
# parallel::mcparallel) is not needed. A forked C worker leaves through _exit()
# and so writes no gcov counts: lines that only workers run (the block loop in
# the child) are covered through the serial path, which runs the same code.
args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args)) args[[1]] else "coverage"
if (!requireNamespace("covr", quietly = TRUE)) {
  stop("covr is not installed: run `bash tools/setup.sh coverage`", call. = FALSE)
}
# Every test runs (NOT_CRAN) and the tests that use the real histogram find
# it from the temporary copy of the package too.
Sys.setenv(NOT_CRAN = "true")
real <- file.path("..", "shared", "data", "filesizes_timestamps.txt")
if (!nzchar(Sys.getenv("BOOTSCALE_REAL_DATA")) && file.exists(real)) {
  Sys.setenv(BOOTSCALE_REAL_DATA = normalizePath(real))
}

started <- Sys.time()
cov <- covr::package_coverage(".", type = "tests", quiet = TRUE)
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
saveRDS(cov, file.path(out_dir, "coverage.rds"))

lines <- covr::tally_coverage(cov, by = "line")
lang <- ifelse(grepl("^src/", lines$filename), "C", "R")
covered <- lines$value > 0

per_file <- stats::aggregate(
  data.frame(lines = 1, covered = covered),
  by = list(file = lines$filename), FUN = sum
)
per_file$percent <- 100 * per_file$covered / per_file$lines
per_file <- per_file[order(per_file$file), ]
cat(sprintf("%-24s %6s %8s %7s\n", "file", "lines", "covered", "%"))
cat(sprintf("%-24s %6d %8d %6.1f%%\n", per_file$file, as.integer(per_file$lines),
            as.integer(per_file$covered), per_file$percent), sep = "")

figure <- function(keep) {
  sprintf("%.1f%% (%d of %d lines)", 100 * mean(covered[keep]), sum(covered[keep]), sum(keep))
}
cat(sprintf("coverage: R %s, C %s, total %s\n", figure(lang == "R"), figure(lang == "C"),
            figure(rep(TRUE, length(lang)))))
cat(sprintf("(%.0f s; covr object in %s)\n",
            as.numeric(difftime(Sys.time(), started, units = "secs")),
            file.path(out_dir, "coverage.rds")))
