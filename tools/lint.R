# lintr over the package's R code with the settings of .lintr (tools/lint.sh
# runs it; it needs the package installed, see there).
#
#   Rscript tools/lint.R
#
# Lints R/, tests/, vignettes/ and data-raw/ (lint_package) and bench/ and
# tools/ (scripts outside the package). Prints every finding, then a count per
# linter and the line
#   lintr: N findings in M files
# and exits 1 when there is any.
#
# object_usage_linter looks names up from the package's namespace (so the
# package must be installed where R_LIBS points) and then the search path:
# testthat is attached and the test helpers are sourced, as when the tests
# run, so that `expect_*()`, `skip()` and the helpers count as defined; the
# same for the files bench/run.R sources before the case files.
suppressPackageStartupMessages({
  library(lintr)
  library(testthat)
})
if (!requireNamespace("bootscale", quietly = TRUE)) {
  stop("bootscale is not installed where R_LIBS points: object_usage_linter needs it",
       call. = FALSE)
}
for (helper in list.files("tests/testthat", "^helper.*[.]R$", full.names = TRUE)) {
  sys.source(helper, envir = globalenv())
}

# Paths relative to the repository in every report.
relative <- function(lints) {
  lints[] <- lapply(lints, function(l) {
    l$filename <- sub(paste0("^", normalizePath("."), "/"), "", l$filename)
    l
  })
  lints
}
found <- list(lint_package("."))
# bench/run.R sources the harness, the report writer, the workloads and the
# case files before it runs; the case files use the first three.
for (f in c("harness.R", "report.R", "workloads.R", list.files("bench", "^cases-.*[.]R$"))) {
  sys.source(file.path("bench", f), globalenv())
}
found <- c(found, list(relative(lint_dir("bench", relative_path = FALSE)),
                       relative(lint_dir("tools", relative_path = FALSE))))
df <- do.call(rbind, lapply(found, as.data.frame))
if (length(df) && nrow(df)) {
  for (lints in found) if (length(lints)) print(lints)
  cat("\nfindings per linter:\n")
  counts <- sort(table(df$linter), decreasing = TRUE)
  cat(sprintf("  %-32s %d\n", names(counts), as.integer(counts)), sep = "")
}
n <- if (length(df)) nrow(df) else 0L
cat(sprintf("lintr: %d findings in %d files\n", n, length(unique(df$filename))))
quit(status = if (n) 1 else 0)
