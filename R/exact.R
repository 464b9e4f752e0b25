# The exact bootstrap of a mean, for values on a lattice a + h * k.
#
# The sum of sample_size draws is then on the lattice n * a + h * s, and its
# distribution is the sample_size-fold convolution of the weights, which
# src/convolve.c computes by FFT (accurate to 1e-12). The estimate and the
# standard error come from their closed forms (the weighted mean, and the
# weighted variance / sample_size), the interval from the inverse CDF, and
# replicates from the resampling engine run over the distribution's support
# with sample_size = 1: one alias lookup each, on the same keyed streams.

# CONVOLVE_MAX_SUPPORT in src/convolve.h: the FFT's work space for it is
# 1.5 GiB.
exact_max_support <- 5e7

# A value is on the lattice a + h * k when it is within this many h of a
# point of it: room for decimal values such as 0.1 + 0.2, not for data
# rounded to another grid.
exact_lattice_tolerance <- sqrt(.Machine$double.eps)

# Cumulative probabilities are known to 1e-12, so one within 1e-12 of p
# reaches p (see the quantile definition in ?bootstrap_mean).
exact_cdf_tolerance <- 1e-12

#' The exact bootstrap distribution of a weighted mean
#'
#' For values on a lattice (whole numbers, or `a + h * k` with `lattice =
#' h`), the mean of `sample_size` draws with replacement, value `i` drawn
#' with probability proportional to `weights[i]`, takes values on the finer
#' lattice `a + h * s / sample_size`, `s = 0, 1, ...`. Its distribution is the
#' `sample_size`-fold convolution of the weights; `exact_distribution()`
#' returns it, computed in C by FFT, with no Monte Carlo error. It is what the
#' histogram of [bootstrap_means()] approaches as `n_means` grows.
#'
#' @section The exact method:
#' *When it applies*: the values with a positive weight lie on a lattice:
#' they are whole numbers (then `h` is the greatest common divisor of their
#' differences, or 1), or `lattice = h` is given and every value is within
#' `sqrt(.Machine$double.eps) * h` of `a + h * k` for a whole `k`, `a` being
#' the smallest value (values are then taken as those lattice points). Log2
#' size classes, counts and scores are; measurements in general are not
#' (use `method = "resample"`). Values with zero weight are never drawn and
#' are ignored.
#'
#' *Why it is exact*: draws are independent, so the distribution of their
#' sum is the convolution of `sample_size` copies of the weight distribution.
#' It is computed by one FFT of the weights (of length the next power of two
#' of the support), each coefficient raised to the power `sample_size` in
#' polar form after factoring out the most probable value, and one inverse
#' FFT. Probabilities are accurate to 1e-12 (tested against a long-double
#' direct convolution and binomial probabilities); rounding's tiny negative
#' values are set to 0 and the result sums to 1.
#'
#' *What it costs*: the support has `sample_size * (max - min) / h + 1`
#' points (4001 for a year of the chapter's data: 41 size classes, 100
#' draws), and the time grows like `sample_size * log(sample_size)`, not
#' like `n_means`. Supports above 5e7 points (1.5 GiB of work space) are
#' refused with an error of class `bootscale_error_too_large` before
#' anything is allocated.
#'
#' @param x Numeric values (finite) on a lattice.
#' @param weights Non-negative finite weights, one per value, at least one
#'   positive; `NULL` for equal weights.
#' @param sample_size Values drawn per replicate, a whole number >= 1.
#' @param lattice `NULL` (values must be whole numbers) or the lattice step
#'   `h`, a single positive finite number.
#' @return A tibble of class `bootscale_exact_distribution` with one row per
#'   point of the support: `value` (a possible mean), `prob` (its
#'   probability) and `cumulative` (the distribution function there).
#'   Attributes `sample_size`, `origin` (`a`) and `lattice` (`h`).
#' @seealso [bootstrap_mean()] with `method = "exact"` for the estimate,
#'   standard error and interval by group; [autoplot-bootscale] to draw it.
#' @export
#' @examples
#' d <- exact_distribution(0:40, dpois(0:40, 12), sample_size = 100)
#' d[which.max(d$prob), ]
#' sum(d$value * d$prob)                     # the weighted mean, exactly
#' d$value[which(d$cumulative >= 0.975)[1]]  # the upper end of a 95 % interval
#'
#' # Decimal values on a grid of step 0.5:
#' exact_distribution(c(1, 1.5, 3), c(2, 1, 1), sample_size = 3, lattice = 0.5)
exact_distribution <- function(x, weights = NULL, sample_size = 100, lattice = NULL) {
  x <- check_values(x)
  weights <- check_weights(weights, length(x))
  sample_size <- check_count(sample_size, max = bs_const("max_sample_size"))
  lattice <- check_lattice(lattice, "exact")
  lat <- exact_lattice(x, weights, lattice, arg = "x")
  exact_check_support(list(lat), sample_size)
  d <- exact_compute(lat, sample_size)
  tibble::new_tibble(
    list(value = d$value, prob = d$prob, cumulative = cumsum(d$prob)),
    sample_size = sample_size, origin = lat$origin, lattice = lat$h,
    class = "bootscale_exact_distribution"
  )
}

check_method <- function(method, call = rlang::caller_env()) {
  check_choice(method, c("resample", "exact"), "bad_method", call = call)
}

check_lattice <- function(lattice, method, call = rlang::caller_env()) {
  if (is.null(lattice)) return(NULL)
  ok <- is.numeric(lattice) && !is.factor(lattice) && length(lattice) == 1 &&
    !is.na(lattice) && is.finite(lattice) && lattice > 0
  if (!ok) {
    abort_bs(
      c("{.arg lattice} must be NULL or a single positive finite number (the lattice step).",
        "x" = "It is {describe(lattice)}."),
      "bad_lattice", call = call
    )
  }
  if (method != "exact") {
    abort_bs(
      c("{.arg lattice} applies to {.code method = \"exact\"} only.",
        "x" = "{.arg method} is {.val {method}}."),
      "bad_lattice", call = call
    )
  }
  as.double(lattice)
}

# The lattice of the positive-weight values: origin a (their minimum), step
# h, whole positions (x - a) / h from 0 to k - 1, and their weights. The step
# is reduced by the gcd of the positions, so the support is as small as it
# can be. Error messages name the element (`label` and `rows`) and group
# (`where`).
exact_lattice <- function(x, w, lattice, arg, where = NULL, rows = seq_along(x),
                          label = "Element", call = rlang::caller_env()) {
  keep <- w > 0
  xs <- x[keep]
  a <- min(xs)
  if (is.null(lattice)) {
    off <- which(xs != round(xs))
    h <- 1
    pos <- xs - a
    why <- "not a whole number" # nolint: object_usage_linter. Read by the message's glue.
  } else {
    h <- lattice
    pos <- round((xs - a) / h)
    off <- which(abs(xs - (a + h * pos)) > exact_lattice_tolerance * h)
    why <- sprintf("not on the lattice %s + %s * k", format(a, digits = 15),
                   format(h, digits = 15))
  }
  if (length(off)) {
    found <- "{label} {rows[keep][off[1]]}{where} is {format(xs[off[1]], digits = 17)}, {why}."
    abort_bs(c(
      "{.code method = \"exact\"} needs {.arg {arg}} on a lattice: whole numbers, or {.code a + h * k} with {.code lattice = h}.", # nolint: line_length_linter.
      "x" = found, "i" = "Give {.arg lattice}, or use {.code method = \"resample\"}."
    ), "not_lattice", call = call)
  }
  if (any(pos > 0)) {
    g <- gcd_whole(unique(pos[pos > 0]))
    h <- h * g
    pos <- pos / g
  }
  # weights relative to the largest, so that sums of huge weights stay finite
  ws <- w[keep]
  list(origin = a, h = h, pos = pos, w = ws / max(ws), k = max(pos) + 1)
}

# Greatest common divisor of positive whole numbers stored as doubles
# (exact below 2^53): gcd(S) = gcd({g} and the remainders of S mod g).
gcd_whole <- function(d) {
  g <- min(d)
  repeat {
    r <- d %% g
    r <- r[r > 0]
    if (!length(r)) return(g)
    d <- c(r, g)
    g <- min(r)
  }
}

# Refuses, before anything is allocated, supports beyond exact_max_support
# points or work space beyond the memory.
exact_check_support <- function(lats, sample_size, where = function(j) NULL,
                                call = rlang::caller_env()) {
  points <- vapply(lats, function(l) sample_size * (l$k - 1) + 1, numeric(1))
  big <- which(points > exact_max_support)
  if (length(big)) {
    l <- lats[[big[1]]] # nolint: object_usage_linter. Read by the message's glue.
    group <- where(big[1]) # nolint: object_usage_linter. Read by the message's glue.
    abort_bs(
      c("The exact distribution must have at most {format(exact_max_support, big.mark = ',', scientific = FALSE)} points ({.arg sample_size} * range / lattice step + 1).", # nolint: line_length_linter.
        "x" = "{if (is.null(group)) 'It' else paste0('The group', group)} would have {format(points[big[1]], big.mark = ',', scientific = FALSE)} points: values from {format(l$origin)} to {format(l$origin + l$h * (l$k - 1))} on a lattice of step {format(l$h)}, {.arg sample_size} = {format(sample_size, big.mark = ',', scientific = FALSE)}.", # nolint: line_length_linter.
        "i" = "Use {.code method = \"resample\"}."),
      "too_large", call = call
    )
  }
  fft_len <- 2^ceiling(log2(max(points)))
  check_result_size(24 * fft_len + 16 * sum(points), 1, "The exact distribution", call = call)
  invisible(points)
}

# The distribution of the mean of sample_size draws: list(value, prob).
exact_compute <- function(lat, sample_size) {
  prob <- .Call(C_bs_exact_distribution, as.double(lat$pos), as.double(lat$w),
                as.double(lat$k), sample_size)
  s <- seq_along(prob) - 1
  list(value = lat$origin + lat$h * (s / sample_size), prob = prob)
}

# Estimate and standard error in closed form (the lattice values' weighted
# mean and sqrt(weighted variance / sample_size)); the interval from the
# inverse CDF.
exact_summary <- function(lat, d, sample_size, probs) {
  v <- lat$origin + lat$h * lat$pos
  p <- lat$w / sum(lat$w)
  est <- sum(p * v)
  se <- sqrt(sum(p * (v - est)^2) / sample_size)
  c(est, se, exact_quantile(d$value, d$prob, probs))
}

# inf{x : F(x) >= p}, with F known to exact_cdf_tolerance.
exact_quantile <- function(value, prob, p) {
  cum <- cumsum(prob)
  idx <- findInterval(p - exact_cdf_tolerance, cum, left.open = TRUE) + 1
  value[pmin(idx, length(value))]
}

# bootstrap_means(method = "exact"): n_means replicates drawn from the exact
# distribution, one alias lookup each.
exact_means <- function(x, weights, n_means, sample_size, workers, seed, lattice) {
  lat <- exact_lattice(x, weights, lattice, arg = "x", call = rlang::caller_env())
  exact_check_support(list(lat), sample_size, call = rlang::caller_env())
  check_result_size(n_means, 8, "The bootstrap means", call = rlang::caller_env())
  seed <- check_seed(seed)
  d <- exact_compute(lat, sample_size)
  res <- run_means(list(d$value), list(d$prob), n_means, 1, workers, seed)
  structure(res, seed = seed, rng = bs_const("rng"), method = "exact")
}

# bootstrap_mean(method = "exact") once the groups are known: the summary
# from the exact distributions, and replicates drawn from them when asked.
exact_mean_groups <- function(keys, values, weights, rows, n_means, sample_size, probs,
                              keep_samples, workers, seed, lattice,
                              call = rlang::caller_env()) {
  n_groups <- length(values)
  # where: the group named in error messages, worked out only for one
  where <- function(j) if (length(keys)) paste0(" (", format_key(keys, j), ")")
  lats <- lapply(seq_len(n_groups), function(j) {
    exact_lattice(values[[j]], weights[[j]], lattice, arg = "value", where = where(j),
                  rows = rows[[j]], label = "Row", call = call)
  })
  exact_check_support(lats, sample_size, where = where, call = call)
  if (keep_samples) check_result_size(n_groups * n_means, 8, "The bootstrap means", call = call)
  seed <- check_seed(seed)
  dists <- lapply(lats, exact_compute, sample_size = sample_size)
  stats <- vapply(seq_len(n_groups), function(j) {
    exact_summary(lats[[j]], dists[[j]], sample_size, probs)
  }, numeric(4))
  drawn <- NULL
  if (keep_samples) {
    # The "summary" finish hands each group its replicates in a vector of
    # its own, copied once while the run's pages are given back: about 1x
    # the replicates at peak, where the whole vector and split_groups() of
    # it would hold 2x. No statistics (probs = NULL): the exact ones are
    # known.
    drawn <- run_means(lapply(dists, `[[`, "value"), lapply(dists, `[[`, "prob"), n_means, 1,
                       workers, seed, finish = "summary", probs = NULL, keep_samples = TRUE,
                       call = call)
  }
  # no Monte Carlo error; n_means counts the replicates drawn (none unless
  # asked for); the distributions are computed here, only replicates use
  # the pool
  bootstrap_table(keys, stats, mc_error = rep(0, n_groups),
                  n_means = if (keep_samples) n_means else 0L,
                  samples = drawn$samples, seed = seed, method = "exact",
                  processes = if (keep_samples) attr(drawn, "processes") else 1L)
}

#' @rdname autoplot-bootscale
#' @param means For an [exact_distribution()]: `NULL`, or resampled means
#'   (for example from [bootstrap_means()] with the same values, weights
#'   and `sample_size`) whose share at each support point is overlaid as
#'   points on the exact probabilities (vertical lines). Only the points
#'   holding all but 1e-6 of the probability at each end are drawn.
#' @exportS3Method ggplot2::autoplot
# nolint start: object_name_linter, object_length_linter. An S3 method: generic.class.
autoplot.bootscale_exact_distribution <- function(object, means = NULL, ...) {
# nolint end
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  n <- nrow(object)
  lo <- findInterval(1e-6, object$cumulative, left.open = TRUE) + 1
  hi <- min(n, findInterval(1 - 1e-6, object$cumulative, left.open = TRUE) + 1)
  shown <- data.frame(value = object$value[lo:hi], prob = object$prob[lo:hi])
  plot <- ggplot2::ggplot(shown, ggplot2::aes(x = .data$value)) +
    ggplot2::geom_segment(ggplot2::aes(xend = .data$value, y = 0, yend = .data$prob,
                                       colour = "exact")) +
    ggplot2::labs(x = "mean", y = "probability", colour = NULL)
  if (is.null(means)) return(plot + ggplot2::scale_colour_manual(values = c(exact = "grey30")))

  means <- check_values(means)
  step <- attr(object, "lattice") / attr(object, "sample_size")
  s <- round((means - attr(object, "origin")) / step)
  off <- which(s < 0 | s >= n | abs(means - object$value[pmin(pmax(s, 0), n - 1) + 1]) >
                 exact_lattice_tolerance * step)
  if (length(off)) {
    abort_bs(
      c("{.arg means} must lie on the support of the distribution (its {.field value} column).",
        "x" = "Element {off[1]} ({format(means[off[1]], digits = 15)}) does not."),
      "bad_values"
    )
  }
  share <- tabulate(s + 1, nbins = n) / length(means)
  drawn <- data.frame(value = object$value, share = share)[lo:hi, ]
  drawn <- drawn[drawn$share > 0, ]
  plot +
    ggplot2::geom_point(ggplot2::aes(y = .data$share, colour = "resampled"), data = drawn,
                        size = 0.8) +
    ggplot2::scale_colour_manual(values = c(exact = "grey30", resampled = "firebrick")) +
    ggplot2::labs(subtitle = sprintf("%s resampled means", format(length(means),
                                                                  big.mark = ",")))
}
