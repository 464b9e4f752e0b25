# The future backend's tests (make cluster-check): the multisession, PSOCK
# and sequential ones and, with BOOTSCALE_SLURM=1, those against Slurm.
library(testthat)
library(bootscale)
files <- file.path("tests", "testthat", c("test-cluster.R", "test-cluster-slurm.R"))
res <- do.call(rbind, lapply(files, function(f) {
  as.data.frame(testthat::test_file(f, package = "bootscale", load_package = "installed",
                                    reporter = "summary", stop_on_failure = FALSE))
}))
failed <- sum(res$failed) + sum(res$error)
cat(sprintf("%d passed, %d failed, %d skipped\n", sum(res$passed), failed, sum(res$skipped)))
quit(status = if (failed > 0) 1 else 0)
