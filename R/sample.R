#' Weighted sampling with replacement (alias method)
#'
#' Draws `size` elements of `x` with replacement, element `i` with
#' probability `prob[i] / sum(prob)`, using Walker's alias method (Vose's
#' construction): O(length(x)) to build the table, O(1) per draw. Unlike
#' [base::sample()], a single number `x` is not read as `1:x`.
#'
#' Random numbers come from xoshiro256++ streams keyed by SplitMix64 (see
#' [bootstrap_means()]); for a given `seed` the draws are identical for any
#' number of `workers`.
#'
#' @param x The population: an atomic vector or a factor.
#' @param size Number of draws, a whole number >= 0.
#' @param prob Non-negative finite weights, one per element of `x`, at least
#'   one positive; `NULL` for equal weights. Weights need not sum to one and
#'   may be as large as the largest double.
#' @param workers Number of processes for large `size`, as in
#'   [bootstrap_means()]; see [default_workers()]. Small jobs always run in
#'   this process.
#' @param seed `NULL` (draw a seed from R's RNG, so [set.seed()] reproduces
#'   the call) or a whole number.
#' @param backend `"fork"`, `"future"` or [future_backend()]; see
#'   [bootstrap_means()]. Under the future backend, sizes above one block
#'   (65536 draws) go to futures; the draws are the same.
#' @return A vector like `x` (same type, levels and attributes as `x[i]`
#'   gives) of length `size`, plus the attribute `processes`: the number of
#'   processes that drew it (see [pool_start()]).
#' @seealso [bootstrap_means()] for the fused bootstrap of means.
#' @export
#' @examples
#' wsample(c("a", "b", "c"), 10, prob = c(1, 0, 3), seed = 1)
#' table(wsample(1:3, 1e5, prob = c(1, 2, 7), seed = 42)) / 1e5
wsample <- function(x, size, prob = NULL, workers = NULL, seed = NULL,
                    backend = getOption("bootscale.backend", "fork")) {
  if (!is.atomic(x) || is.null(x)) {
    abort_bs(c("{.arg x} must be an atomic vector or a factor.", "x" = "It is {describe(x)}."),
             "bad_values")
  }
  if (length(x) < 1) abort_bs("{.arg x} must have at least one element.", "bad_values")
  size <- check_count(size, min = 0)
  prob <- check_weights(prob, length(x), arg = "prob")
  workers <- check_workers(workers)
  backend <- check_backend(backend)
  check_result_size(size, 4 + 8, "The sample")
  seed <- check_seed(seed)
  if (size == 0) return(structure(x[0], processes = 1L))
  if (!is.null(backend) && size > 65536) {
    idx <- as.vector(future_draws(prob, size, seed, backend, call = rlang::current_env()))
    return(x[idx])
  }
  job <- checked_job(.Call(C_bs_draws_job, prob, size, seed))
  idx <- run_job(job, workers, n_draws = size)
  out <- x[idx]
  attr(out, "processes") <- attr(idx, "processes")
  out
}
