# The chapter's pipeline on the local Slurm cluster (make cluster-demo):
# 2 chunks, one Slurm job each, through future.batchtools; the result must
# be identical to the fork backend's.
suppressPackageStartupMessages({
  library(bootscale)
  library(future.batchtools)
})
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) && nzchar(args[1])) args[1] else filesizes_example()
n_means <- 100000
options(future.cache.path = file.path(tempdir(), "batchtools"))

cat("bootscale cluster demo: the chapter's pipeline on Slurm\n")
cat("data:    ", path, "\n")
cat("workload:", format(n_means, big.mark = " ", scientific = FALSE),
    "means x 100 draws per group, in 2 chunks (2 Slurm jobs)\n")
cat("cluster: ", system2("sinfo", c("-h", "-o", "'%P %D nodes, %c CPUs, state %t'"),
                         stdout = TRUE), "\n\n")

plan(batchtools_slurm,
     template = system.file("templates", "slurm.tmpl", package = "bootscale"),
     resources = list(ncpus = 1, walltime = 600, memory = 1000))

t_slurm <- system.time(
  res <- filesize_pipeline(path, n_means = n_means, seed = 2021,
                           backend = future_backend(chunks = 2))
)[["elapsed"]]
print(res, n = Inf)
log <- attr(res, "chunk_log")
cat("\nchunks (blocks are 0-based, half-open):\n")
print(log, row.names = FALSE)
cat(sprintf("\nSlurm job ids of the chunks: %s\n", paste(log$slurm_job_id, collapse = ", ")))

t_fork <- system.time(
  fork <- filesize_pipeline(path, n_means = n_means, seed = 2021, backend = "fork")
)[["elapsed"]]
# what says how a result was computed (backend, chunks, processes) aside,
# the results must be the same to the bit
strip <- function(x) {
  for (a in c("backend", "chunks", "chunk_log", "processes")) attr(x, a) <- NULL
  x
}
same <- identical(strip(res), strip(fork))
cat(sprintf("time: %.1f s on Slurm (2 jobs), %.2f s with the fork backend here\n",
            t_slurm, t_fork))
cat("identical() to the fork backend:", same, "\n")
if (!same) quit(status = 1)
