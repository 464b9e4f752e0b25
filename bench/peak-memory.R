# Peak resident memory of one workload, measured in a fresh R process so
# that no other workload's garbage or high-water mark is counted.
#
#   Rscript bench/peak-memory.R WORKLOAD DATA_PATH N_MEANS WORKERS OUT.rds
#
# Loads the data, runs the workload once on a tiny size (so that loading
# code and namespaces is not counted), collects garbage, resets the kernel's
# high-water mark (VmHWM) to the current resident size by writing "5" to
# /proc/self/clear_refs, runs the workload, and saves to OUT.rds how much
# VmHWM rose, with the size of the returned object. Linux only; elsewhere
# the numbers are NA. The result of the workload is kept alive until VmHWM
# is read, as a user's would be.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 5) {
  stop("usage: Rscript bench/peak-memory.R WORKLOAD DATA_PATH N_MEANS WORKERS OUT.rds")
}
workload <- args[[1]]
data_path <- args[[2]]
n_means <- as.numeric(args[[3]])
workers <- as.integer(args[[4]])
out_file <- args[[5]]

script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
source(file.path(dirname(script), "workloads.R"))
if (workload %in% c("furrr")) stop("peak-memory.R measures in-process workloads only")

# A field of /proc/self/status, in bytes.
status_bytes <- function(field) {
  if (!file.exists("/proc/self/status")) return(NA_real_)
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  if (!length(line)) return(NA_real_)
  as.numeric(sub("^[^0-9]*([0-9]+) kB.*$", "\\1", line)) * 1024
}

# Resets VmHWM to VmRSS; FALSE when the kernel does not allow it.
reset_peak <- function() {
  tryCatch({
    con <- file("/proc/self/clear_refs", "w")
    on.exit(close(con))
    writeLines("5", con)
    TRUE
  }, error = function(e) FALSE, warning = function(w) FALSE)
}

input <- bench_input(data_path)
invisible(run_workload(workload, input, n_means = 10, workers = workers))
invisible(gc(full = TRUE))

reset <- reset_peak()
rss_before <- status_bytes("VmRSS")
hwm_before <- status_bytes("VmHWM")
result <- run_workload(workload, input, n_means = n_means, workers = workers)
hwm_after <- status_bytes("VmHWM")

# Without a reset, the high-water mark may predate the workload: the rise
# above the resident size is then only known when the workload set a new
# peak.
increase <- if (reset || hwm_after > hwm_before) hwm_after - rss_before else NA_real_

saveRDS(list(
  workload = workload,
  n_means = n_means,
  workers = workers,
  reset = reset,
  rss_before = rss_before,
  hwm_before = hwm_before,
  hwm_after = hwm_after,
  increase = increase,
  result_bytes = as.numeric(utils::object.size(result))
), out_file)
