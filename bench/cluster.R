# What a future costs against the work it carries, for the future backend
# (vignettes/cluster.Rmd, "Beyond one machine"). Measures, on this machine:
#   - a trivial future end to end (future(NULL) to value()) per plan;
#   - the chapter's kind of job (one group of 41 values, 100 draws per mean)
#     in 2 chunks on each plan, for several amounts of work per chunk; the
#     overhead per future is the elapsed time less the longer chunk's own
#     compute time, timed on the worker (chunk_log$seconds), so that a loaded
#     machine slows the work but does not count as overhead;
#   - from these, the job size where a cluster of N nodes pays.
# Plans: multisession (2 workers) always; Slurm through future.batchtools
# when a local cluster is up (bash tools/slurm-local.sh start, then
# . /tmp/bootscale-slurm/env.sh). Run from the package root with bootscale
# installed: Rscript bench/cluster.R
suppressPackageStartupMessages({
  library(bootscale)
  library(future)
})
reps <- as.integer(Sys.getenv("BENCH_REPS", "3"))
med <- function(f) median(vapply(seq_len(reps), function(i) f(), numeric(1)))
elapsed <- function(expr) system.time(expr)[["elapsed"]]
x <- 0:40
w <- dpois(0:40, 12)

plans <- list(multisession = function() plan(multisession, workers = 2))
sinfo <- function() {
  suppressWarnings(system2("sinfo", c("-h", "-o", "%t"), stdout = TRUE, stderr = FALSE))
}
slurm_up <- nzchar(Sys.getenv("SLURM_CONF")) &&
  requireNamespace("future.batchtools", quietly = TRUE) && identical(sinfo()[1], "idle")
if (slurm_up) {
  options(future.cache.path = file.path(tempdir(), "batchtools"))
  plans$slurm <- function() {
    plan(future.batchtools::batchtools_slurm,
         template = system.file("templates", "slurm.tmpl", package = "bootscale"),
         resources = list(ncpus = 1, walltime = 600, memory = 1000))
  }
}

cat(sprintf("bootscale %s, %s, %d cores, load average %s (the machine is shared)\n",
            packageVersion("bootscale"), format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC"),
            parallelly::availableCores(),
            paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))

# Work on one core here, per chunk of draws.
draws_per_chunk <- c(1e6, 1e7, 1e8)
work <- vapply(draws_per_chunk, function(d) {
  med(function() elapsed(bootstrap_means(x, w, n_means = d / 100, workers = 1, seed = 1)))
}, numeric(1))
ns_per_draw <- 1e9 * work[length(work)] / draws_per_chunk[length(draws_per_chunk)]

rows <- list()
trivial <- c()
for (p in names(plans)) {
  plans[[p]]()
  invisible(value(future(NULL))) # workers up
  trivial[p] <- med(function() elapsed(value(future(NULL))))
  for (i in seq_along(draws_per_chunk)) {
    d <- draws_per_chunk[i]
    runs <- lapply(seq_len(reps), function(r) {
      t <- elapsed(m <- bootstrap_means(x, w, n_means = 2 * d / 100, seed = 1,
                                        backend = future_backend(chunks = 2)))
      c(elapsed = t, work = max(attr(m, "chunk_log")$seconds))
    })
    runs <- do.call(rbind, runs)
    rows[[length(rows) + 1]] <- data.frame(
      plan = p, draws_per_chunk = d, work_here_s = work[i],
      work_on_worker_s = median(runs[, "work"]), elapsed_s = median(runs[, "elapsed"]),
      overhead_per_future_s = median(runs[, "elapsed"] - runs[, "work"])
    )
  }
  plan(sequential)
}
tab <- do.call(rbind, rows)

cat("\nA trivial future, end to end (median of", reps, "):\n")
for (p in names(trivial)) cat(sprintf("  %-12s %.3f s\n", p, trivial[[p]]))
cat(sprintf("\nOne draw costs %.2f ns on one core here (from the largest job).\n", ns_per_draw))
cat("\n2 chunks on 2 workers (2 cores), medians of", reps, "runs; work = one chunk's blocks,\n")
cat("timed alone on one core here and on the worker during the run:\n\n")
cat("| plan | draws per chunk | work alone (s) | work on the worker (s) | elapsed (s) | overhead per future (s) |\n") # nolint: line_length_linter.
cat("|---|---:|---:|---:|---:|---:|\n")
for (r in seq_len(nrow(tab))) {
  cat(sprintf("| %s | %s | %.3f | %.3f | %.3f | %.3f |\n", tab$plan[r],
              format(tab$draws_per_chunk[r], big.mark = ",", scientific = FALSE),
              tab$work_here_s[r], tab$work_on_worker_s[r], tab$elapsed_s[r],
              tab$overhead_per_future_s[r]))
}

# A job of D draws takes D * t / c_here on this machine's c_here cores and
# o + D * t / (n * c) on n nodes of c cores each, one chunk per node: the
# cluster pays from D = o / (t * (1 / c_here - 1 / (n * c))). Only plans
# that leave this machine count (multisession runs on it); t is taken both
# as measured now and as 1.5 ns, a draw on a quiet core of this kind.
o <- tapply(tab$overhead_per_future_s, tab$plan, median)
o <- o[names(o) != "multisession"]
c_here <- 2
if (length(o)) {
  cat("\nJob size (draws) from which n nodes of 16 cores beat this machine's", c_here, "cores,\n")
  cat("with the median overhead per future measured above:\n\n")
  cat("| plan | overhead o (s) | draw t (ns) | n = 2 | n = 8 | n = 32 |\n|---|---:|---:|---:|---:|---:|\n") # nolint: line_length_linter.
  for (p in names(o)) {
    for (t_ns in c(ns_per_draw, 1.5)) {
      pays <- vapply(c(2, 8, 32), function(n) o[[p]] / (t_ns * 1e-9 * (1 / c_here - 1 / (n * 16))),
                     numeric(1))
      cat(sprintf("| %s | %.2f | %.1f | %s |\n", p, o[[p]], t_ns,
                  paste(format(signif(pays, 2), scientific = TRUE), collapse = " | ")))
    }
  }
}
