# Small helpers used by several topics.

# Wall-clock seconds with sub-microsecond resolution (proc.time() has
# milliseconds): the timer of scaling_benchmark() and blas_scaling().
now <- function() as.double(Sys.time())

`%||%` <- function(x, y) if (is.null(x)) y else x

# A constant defined in C (src/api.c bs_constants(): "rng", "max_workers",
# "max_sample_size", "block_means", "block_draws"), read once at load.
bs_const <- function(name) {
  if (is.null(the$constants)) the$constants <- .Call(C_bs_constants)
  the$constants[[name]]
}

# A "Name:   123 kB" field of /proc/<pid>/status in bytes; NA where there
# is no such file or field (not Linux, a process gone).
proc_status_bytes <- function(pid, field) {
  lines <- tryCatch(readLines(sprintf("/proc/%d/status", pid), warn = FALSE),
                    error = function(e) character(), warning = function(w) character())
  line <- grep(paste0("^", field, ":"), lines, value = TRUE)
  if (length(line) != 1) return(NA_real_)
  as.numeric(sub(paste0("^", field, ":[[:space:]]*([0-9]+) kB.*$"), "\\1", line)) * 1024
}

# Resident memory of a process in bytes: /proc, else ps, else NA. The one
# reader of the package, its tests and tools/soak.R.
process_rss <- function(pid = Sys.getpid()) {
  rss <- proc_status_bytes(pid, "VmRSS")
  if (!is.na(rss) || !requireNamespace("ps", quietly = TRUE)) return(rss)
  rss <- tryCatch(ps::ps_memory_info(ps::ps_handle(pid))[["rss"]], error = function(e) NA_real_)
  as.numeric(rss)
}
