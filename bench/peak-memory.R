# Peak resident memory of one workload, measured in a fresh R process so
# that no other workload's garbage or high-water mark is counted
# (peak_memory() in bench/harness.R runs it).
#
#   Rscript bench/peak-memory.R WORKLOAD DATA_PATH N_MEANS WORKERS OUT.rds
#
# Loads the data, runs the workload once on a tiny size (so that loading
# code and namespaces is not counted), then runs it under bootscale::memit(),
# which collects garbage, resets the kernel's high-water mark (VmHWM) to the
# current resident size through /proc/self/clear_refs and reports how far the
# mark rose while the workload ran. Saves to OUT.rds that rise, with the size
# of the returned object. The result is kept alive until the mark is read,
# as a user's would be.

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
source(file.path(dirname(script), "harness.R"))
source(file.path(dirname(script), "workloads.R"))
if (workload %in% c("furrr")) stop("peak-memory.R measures in-process workloads only")

input <- bench_input(data_path)
invisible(run_workload(workload, input, n_means = 10, workers = workers))

m <- bootscale::memit(run_workload(workload, input, n_means = n_means, workers = workers))
# Without a reset of the mark (clear_refs not writable), memit()'s peak may
# predate the workload: the rise is then unknown unless the workload set a
# new peak.
reset <- identical(m$method, "clear_refs+VmHWM")
increase <- if (reset || m$increment > 0) 2^20 * m$increment else NA_real_

saveRDS(list(
  workload = workload,
  n_means = n_means,
  workers = workers,
  reset = reset,
  method = m$method,
  rss_before = 2^20 * m$start,
  peak = 2^20 * m$peak,
  increase = increase,
  result_bytes = as.numeric(utils::object.size(attr(m, "value")))
), out_file)
