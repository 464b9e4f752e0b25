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
