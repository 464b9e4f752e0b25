# The main job: the chapter's pipeline on the bundled example data, or on
# the file given as the first argument (make demo DATA=path).
suppressPackageStartupMessages(library(bootscale))
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) && nzchar(args[1])) args[1] else filesizes_example()
n_means <- 100000
cores <- default_workers()

cat("bootscale demo: the scaling chapter's weighted bootstrap\n")
cat("data:    ", path, "\n")
cat("workload:", format(n_means, big.mark = " ", scientific = FALSE), "means x 100 draws per year\n")
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
cat(sprintf("\npipeline (median of 5): %.3f s with %d workers, %.3f s with 1 worker (speedup %.2f)\n",
            t_par, cores, t_one, t_one / t_par))
cat("identical results for 1 and", cores, "workers:", identical(res, res1), "\n")
cat("seed:", attr(res, "seed"), " generator:", attr(res, "rng"), "\n")
