# Small helpers used by several topics.

# Wall-clock seconds with sub-microsecond resolution (proc.time() has
# milliseconds): the timer of scaling_benchmark() and blas_scaling().
now <- function() as.double(Sys.time())
