# Quick test run against the installed package (make test).
Sys.setenv(NOT_CRAN = "true")
library(testthat)
library(bootscale)
res <- testthat::test_dir("tests/testthat", package = "bootscale", load_package = "installed",
                          reporter = "summary", stop_on_failure = FALSE)
df <- as.data.frame(res)
failed <- sum(df$failed) + sum(df$error)
cat(sprintf("%d passed, %d failed, %d skipped\n",
            sum(df$passed), failed, sum(df$skipped)))
quit(status = if (failed > 0) 1 else 0)
