# The main job: the chapter's pipeline on the bundled example data, or on
# the file given as the first argument (make demo DATA=path).
suppressPackageStartupMessages(library(bootscale))
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) && nzchar(args[1])) args[1] else filesizes_example()
n_means <- 100000
cores <- default_workers()

cat("bootscale demo: the scaling chapter's weighted bootstrap\n")
cat("data:    ", path, "\n")
cat("workload:", format(n_means, big.mark = " ", scientific = FALSE),
    "means x 100 draws per year\n")
cat("workers: ", cores, "(available cores)\n\n")

invisible(tibble::tibble()) # load tibble and its friends before timing anything
t_read <- system.time(fs <- read_filesizes(path))[["elapsed"]]
t_agg <- system.time(yearly <- aggregate_filesizes(fs))[["elapsed"]]
cat(sprintf("read %d rows in %.3f s, aggregated to %d (Year, BytesLog2) cells in %.3f s\n\n",
            nrow(fs), t_read, nrow(yearly), t_agg))

run <- function(w) filesize_pipeline(path, n_means = n_means, workers = w, seed = 2021)
res <- run(cores)
print(res, n = Inf)
# Timings: medians of 5 calls each, alternating, after the call above warmed up.
times <- list(par = numeric(), one = numeric())
for (i in 1:5) {
  times$par <- c(times$par, system.time(run(cores))[["elapsed"]])
  times$one <- c(times$one, system.time(res1 <- run(1))[["elapsed"]])
}
t_par <- median(times$par)
t_one <- median(times$one)
cat(sprintf("\npipeline (median of 5): %.3f s with %d workers, %.3f s with 1 worker (speedup %.2f)\n", # nolint: line_length_linter.
            t_par, cores, t_one, t_one / t_par))
same <- function(x) {
  attr(x, "processes") <- NULL # how many processes computed it, the only difference
  x
}
cat(sprintf("processes used: %d with workers = %d, %d with workers = 1\n",
            attr(res, "processes"), cores, attr(res1, "processes")))
cat("identical results for 1 and", cores, "workers:", identical(same(res), same(res1)), "\n")
cat("seed:", attr(res, "seed"), " generator:", attr(res, "rng"), "\n")

# The exact bootstrap: log2 size classes are whole numbers, so the
# distribution of the mean of 100 draws is computed (a convolution by FFT)
# instead of sampled. Side by side with the resampled table above, each
# difference in units of the resampling's Monte Carlo standard error of the
# mean, std.error / sqrt(n_means).
cat("\nexact bootstrap (method = \"exact\"): no Monte Carlo error\n")
t_exact <- numeric()
for (i in 1:5) {
  t_exact <- c(t_exact, system.time(ex <- filesize_pipeline(path, method = "exact"))[["elapsed"]])
}
mc <- res$mc.error
side <- tibble::tibble(
  Year = res$Year,
  estimate_resampled = res$estimate, estimate_exact = ex$estimate,
  z_estimate = (res$estimate - ex$estimate) / mc,
  se_resampled = res$std.error, se_exact = ex$std.error,
  low_resampled = res$conf.low, low_exact = ex$conf.low, z_low = (res$conf.low - ex$conf.low) / mc,
  high_resampled = res$conf.high, high_exact = ex$conf.high,
  z_high = (res$conf.high - ex$conf.high) / mc
)
op <- options(width = 160)
print(as.data.frame(side), digits = 4, row.names = FALSE)
options(op)
cat(sprintf(paste0("resampled - exact, in Monte Carlo standard errors (std.error / sqrt(%s)):\n",
                   "  estimate: largest |z| %.2f, root mean square %.2f (about 1 expected)\n",
                   "  conf.low / conf.high: largest |z| %.2f / %.2f (the interval ends move on a grid of\n", # nolint: line_length_linter.
                   "  step 1/100, %.1f of these units, so they differ by whole steps or not at all)\n"), # nolint: line_length_linter.
            format(n_means, big.mark = " ", scientific = FALSE),
            max(abs(side$z_estimate)), sqrt(mean(side$z_estimate^2)),
            max(abs(side$z_low)), max(abs(side$z_high)), 0.01 / mean(mc)))
cat(sprintf("exact pipeline, reading included (median of 5): %.4f s for %d groups; resampling: %.3f s on %d workers\n", # nolint: line_length_linter.
            median(t_exact), nrow(ex), t_par, cores))
