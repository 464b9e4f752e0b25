# The exact bootstrap (R/exact.R, src/convolve.c): checked against
# computations that are not the package's (brute-force enumeration, R's
# stats::convolve in the shared helper, closed forms) and, statistically,
# against the resampling engine.

yearly_example <- function() aggregate_filesizes(read_filesizes(filesizes_example()))

# Brute force: every ordered sample of n draws, its probability and mean.
enumerate_means <- function(x, p, n) {
  idx <- as.matrix(expand.grid(rep(list(seq_along(x)), n)))
  prob <- apply(idx, 1, function(i) prod(p[i]))
  mean <- apply(idx, 1, function(i) sum(x[i])) / n
  agg <- tapply(prob, round(mean * n), sum)
  list(value = as.numeric(names(agg)) / n, prob = as.vector(agg))
}

test_that("method = 'resample' keeps its values to the bit (pinned on main before the exact method)", { # nolint: line_length_linter.
  m <- bootstrap_means(0:40, weights = dpois(0:40, 12), n_means = 5, seed = 1)
  expect_identical(sprintf("%.17g", m),
                   c("12.539999999999999", "12.31", "12.119999999999999", "10.99",
                     "12.289999999999999"))
  m2 <- bootstrap_means(c(1.5, 2.25, 7, 10), weights = c(1, 2, 3, 0.5), n_means = 3,
                        sample_size = 7, seed = 1, workers = 1)
  expect_identical(sprintf("%.17g", m2),
                   c("4.1785714285714288", "6.3214285714285712", "6.6428571428571432"))
  expect_identical(attr(m2, "method"), "resample")
  b <- bootstrap_mean(yearly_example(), BytesLog2, Files, .by = Year, n_means = 2000, seed = 1,
                      workers = 1)
  expect_identical(b$Year[1:2], 2010:2011)
  expect_identical(sprintf("%.17g", b$estimate[1:2]), c("10.334614999999999", "12.924075"))
  expect_identical(sprintf("%.17g", b$std.error[1:2]),
                   c("0.36262294394417099", "0.37541645293136233"))
  expect_identical(sprintf("%.17g", b$conf.low[1:2]), c("9.6197499999999998", "12.210000000000001"))
  expect_identical(sprintf("%.17g", b$conf.high[1:2]), c("11.040249999999999", "13.66"))
  expect_identical(attr(b, "method"), "resample")
  # the default is resample, spelled or not
  expect_identical(bootstrap_means(1:5, n_means = 10, seed = 3, method = "resample"),
                   bootstrap_means(1:5, n_means = 10, seed = 3))
})

test_that("the exact distribution equals brute-force enumeration on tiny cases", {
  cases <- list(
    list(x = c(0, 2, 5), p = c(0.2, 0.5, 0.3), n = 4),
    list(x = c(-3, 1), p = c(0.9, 0.1), n = 6),
    list(x = c(7, 8, 9, 10), p = c(1, 0, 2, 1) / 4, n = 3),
    list(x = 4, p = 1, n = 5)
  )
  for (cs in cases) {
    d <- exact_distribution(cs$x, cs$p, sample_size = cs$n)
    ref <- enumerate_means(cs$x, cs$p, cs$n)
    got <- d$prob[match(round(ref$value * cs$n), round(d$value * cs$n))]
    expect_lt(max(abs(got - ref$prob)), 1e-15)
    # points that no sample reaches have (almost) no probability
    unreached <- setdiff(round(d$value * cs$n), round(ref$value * cs$n))
    expect_lt(sum(d$prob[round(d$value * cs$n) %in% unreached]), 1e-14)
    expect_equal(sum(d$prob), 1, tolerance = 1e-14)
    expect_equal(d$cumulative, cumsum(d$prob))
  }
})

test_that("the exact distribution agrees with stats::convolve (the shared helper)", {
  set.seed(42)
  for (case in 1:6) {
    k <- sample(c(2, 5, 17, 41), 1)
    x <- sort(sample(-20:60, k))
    w <- rexp(k) * (runif(k) > 0.2)
    w[1] <- 1
    n <- c(1, 2, 3, 10, 100, 37)[case]
    d <- exact_distribution(x, w, sample_size = n)
    ref <- exact_mean_distribution(x, w / sum(w), n)
    # the helper's grid starts at min(x) in steps of 1 / n; ours in steps of
    # gcd / n from the smallest positive-weight value
    at <- match(round(d$value * n), round(ref$value * n))
    expect_false(anyNA(at))
    expect_lt(max(abs(d$prob - ref$prob[at])), 1e-12)
    expect_lt(sum(ref$prob[-at]), 1e-12)
  }
})

test_that("estimate and std.error are the weighted mean and sqrt(weighted variance / n) to 1e-12", {
  set.seed(7)
  d <- data.frame(g = rep(1:4, each = 30), v = sample(0:50, 120, TRUE),
                  w = rexp(120) * rbinom(120, 1, 0.8))
  for (n in c(1, 2, 100, 1000)) {
    res <- bootstrap_mean(d, v, w, .by = g, sample_size = n, method = "exact")
    for (j in 1:4) {
      s <- d[d$g == j, ]
      p <- s$w / sum(s$w)
      mu <- sum(p * s$v)
      expect_lt(abs(res$estimate[j] - weighted.mean(s$v, s$w)), 1e-12)
      expect_lt(abs(res$std.error[j] - sqrt(sum(p * (s$v - mu)^2) / n)), 1e-12)
      # the distribution's own moments say the same
      dist <- exact_distribution(s$v, s$w, sample_size = n)
      expect_lt(abs(sum(dist$prob * dist$value) - mu), 1e-10)
      expect_lt(abs(sqrt(sum(dist$prob * (dist$value - mu)^2)) - res$std.error[j]), 1e-10)
    }
    expect_identical(attr(res, "method"), "exact")
    expect_named(res, c("g", "estimate", "std.error", "mc.error", "conf.low", "conf.high",
                        "n_means"))
    expect_identical(res$mc.error, rep(0, 4)) # no Monte Carlo error
    expect_identical(res$n_means, rep(0L, 4)) # no replicates drawn
    expect_s3_class(res, "bootscale_bootstrap")
  }
})

test_that("conf.low and conf.high are the inverse CDF inf{x : F(x) >= p}", {
  x <- c(3, 4, 6, 9)
  w <- c(5, 1, 2, 3)
  n <- 7
  ref <- exact_mean_distribution(x, w / sum(w), n)
  cum <- cumsum(ref$prob)
  for (cl in c(0.5, 0.8, 0.95, 0.99)) {
    a <- (1 - cl) / 2
    res <- bootstrap_mean(data.frame(x = x, w = w), x, w, sample_size = n, conf_level = cl,
                          method = "exact")
    expect_equal(res$conf.low, ref$value[which(cum >= a)[1]])
    expect_equal(res$conf.high, ref$value[which(cum >= 1 - a)[1]])
  }
  # F hits p exactly on a plateau: the left end is reported
  expect_identical(bootscale:::exact_quantile(c(0, 1), c(0.5, 0.5), c(0.25, 0.5, 0.75)),
                   c(0, 0, 1))
  expect_identical(bootscale:::exact_quantile(c(1, 2, 3), c(0.25, 0.25, 0.5), 0.5), 2)
})

test_that("lattices: whole numbers by their gcd, explicit steps, zero weights", {
  a <- exact_distribution(c(0, 2, 4), c(1, 2, 1), sample_size = 3)
  b <- exact_distribution(c(0, 1, 2), c(1, 2, 1), sample_size = 3)
  expect_identical(attr(a, "lattice"), 2)
  expect_equal(a$prob, b$prob, tolerance = 1e-15)
  expect_equal(a$value, 2 * b$value)

  c1 <- exact_distribution(c(0.1, 0.2, 0.7), c(1, 2, 3), sample_size = 5, lattice = 0.1)
  c2 <- exact_distribution(c(1, 2, 7), c(1, 2, 3), sample_size = 5)
  expect_equal(c1$prob, c2$prob, tolerance = 1e-15)
  expect_equal(c1$value, c2$value / 10, tolerance = 1e-14)
  expect_identical(nrow(c1), 31L)
  # an explicit step is reduced by the gcd of the positions, like whole numbers
  c3 <- exact_distribution(c(0.1, 0.3, 0.7), c(1, 2, 3), sample_size = 5, lattice = 0.1)
  expect_equal(attr(c3, "lattice"), 0.2)
  expect_identical(nrow(c3), 16L)
  expect_equal(c3$prob, exact_distribution(c(0, 1, 3), c(1, 2, 3), sample_size = 5)$prob,
               tolerance = 1e-15)

  # zero-weight values are never drawn: off-lattice ones are ignored and the
  # support spans the positive-weight values only
  z <- exact_distribution(c(-100, 2, 2.5, 4, 100), c(0, 1, 0, 1, 0), sample_size = 2)
  expect_identical(z$value, c(2, 3, 4))
  expect_equal(z$prob, c(0.25, 0.5, 0.25), tolerance = 1e-15)

  # huge weights whose sum overflows a double
  huge <- exact_distribution(c(1, 2, 2, 3), rep(.Machine$double.xmax / 2, 4), sample_size = 2)
  expect_equal(huge$prob, c(1, 4, 6, 4, 1) / 16, tolerance = 1e-15)
  hb <- bootstrap_mean(data.frame(v = c(1, 2, 2, 3), w = .Machine$double.xmax / 2), v, w,
                       sample_size = 2, method = "exact")
  expect_equal(c(hb$estimate, hb$std.error), c(2, sqrt(0.5 / 2)), tolerance = 1e-14)

  # one value: a point mass
  one <- bootstrap_mean(data.frame(v = c(5, 6), w = c(2, 0)), v, w, sample_size = 50,
                        method = "exact")
  expect_identical(c(one$estimate, one$std.error, one$conf.low, one$conf.high), c(5, 0, 5, 5))
  expect_identical(exact_distribution(5, sample_size = 1e15)$prob, 1)
})

test_that("resampled means pass a chi-square test against the exact distribution", {
  y <- yearly_example()
  y <- y[y$Year == 2014, ]
  d <- exact_distribution(y$BytesLog2, y$Files, sample_size = 100)
  chisq_p <- function(m) {
    obs <- tabulate(round(m * 100) - round(d$value[1] * 100) + 1, nbins = nrow(d))
    pooled_chisq_p(obs, d$prob * length(m), 5)
  }
  for (seed in 1:3) {
    res <- bootstrap_means(y$BytesLog2, y$Files, n_means = 1e5, seed = seed)
    ex <- bootstrap_means(y$BytesLog2, y$Files, n_means = 1e5, seed = seed, method = "exact")
    expect_gt(chisq_p(res), 1e-4)
    expect_gt(chisq_p(ex), 1e-4)
    # every exact replicate is a support point
    expect_true(all(ex %in% d$value))
  }
  # a wrong distribution fails the same test: the test has power
  shifted <- bootstrap_means(y$BytesLog2, y$Files * (y$BytesLog2 != 20), n_means = 1e5, seed = 1)
  expect_lt(chisq_p(shifted), 1e-10)
})

test_that("resampled intervals with n_means = 1e6 lie within their Monte Carlo error of the exact ones", { # nolint: line_length_linter.
  y <- yearly_example()
  y <- y[y$Year %in% c(2012, 2019), ]
  ex <- bootstrap_mean(y, BytesLog2, Files, .by = Year, method = "exact")
  rs <- bootstrap_mean(y, BytesLog2, Files, .by = Year, n_means = 1e6, seed = 11)
  mc <- rs$std.error / sqrt(rs$n_means)
  expect_true(all(abs(rs$estimate - ex$estimate) < 4 * mc))
  expect_true(all(abs(rs$std.error - ex$std.error) < 4 * ex$std.error / sqrt(2 * 1e6)))
  for (j in 1:2) {
    s <- y[y$Year == ex$Year[j], ]
    d <- exact_distribution(s$BytesLog2, s$Files)
    for (p in c(0.025, 0.975)) {
      # the sample quantile's own error: F at it is within 4 sd of p
      delta <- 4 * sqrt(p * (1 - p) / 1e6)
      q <- bootscale:::exact_quantile(d$value, d$prob, c(p - delta, p + delta))
      got <- if (p < 0.5) rs$conf.low[j] else rs$conf.high[j]
      want <- if (p < 0.5) ex$conf.low[j] else ex$conf.high[j]
      expect_gte(got, q[1] - 1e-12)
      expect_lte(got, q[2] + 1e-12)
      expect_lte(abs(got - want), 0.02 + 1e-12) # two lattice steps at most here
    }
  }
})

test_that("exact replicates are identical for workers = 1, 2, 3 and follow the seed", {
  skip_if_no_fork()
  local_no_children()
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE))
  y <- yearly_example()
  one <- suppressWarnings(bootstrap_mean(y, BytesLog2, Files, .by = Year, n_means = 3000,
                                         keep_samples = TRUE, workers = 1, seed = 5,
                                         method = "exact"))
  for (w in 2:3) {
    more <- suppressWarnings(bootstrap_mean(y, BytesLog2, Files, .by = Year, n_means = 3000,
                                            keep_samples = TRUE, workers = w, seed = 5,
                                            method = "exact"))
    expect_identical(drop_processes(more), drop_processes(one))
    expect_identical(attr(more, "processes"), w)
  }
  expect_identical(one$n_means, rep(3000L, nrow(one)))
  expect_identical(lengths(one$samples), rep(3000L, nrow(one)))
  m1 <- bootstrap_means(0:40, dpois(0:40, 12), 5000, seed = 9, method = "exact", workers = 1)
  m3 <- suppressWarnings(bootstrap_means(0:40, dpois(0:40, 12), 5000, seed = 9,
                                         method = "exact", workers = 3))
  expect_identical(drop_processes(m1), drop_processes(m3))
  expect_identical(attr(m1, "method"), "exact")
  expect_false(identical(m1, bootstrap_means(0:40, dpois(0:40, 12), 5000, seed = 10,
                                             method = "exact", workers = 1)))
  # seed = NULL draws from R's RNG, as with resample
  set.seed(3)
  a <- bootstrap_means(0:40, dpois(0:40, 12), 100, method = "exact", workers = 1)
  set.seed(3)
  expect_identical(a, bootstrap_means(0:40, dpois(0:40, 12), 100, method = "exact", workers = 1))
  # the summary does not depend on the replicates
  s1 <- bootstrap_mean(y, BytesLog2, Files, .by = Year, method = "exact", seed = 1)
  expect_identical(as.list(s1)[1:5], as.list(one)[1:5])
  expect_identical(s1$n_means, rep(0L, nrow(s1)))
})

test_that("exact replicates keep their values to the bit (pinned before the engine's loop for sample_size = 1)", { # nolint: line_length_linter.
  # printed with 17 significant digits by the engine's general loop: replicates
  # 1, 2, 3, n - 1 and n, and sum(i * m[i]) over all of them
  sig <- function(m) {
    sprintf("%.17g", c(m[c(1, 2, 3, length(m) - 1, length(m))], sum(m * seq_along(m))))
  }
  for (w in 1:2) {
    m <- suppressWarnings(bootstrap_means(0:40, dpois(0:40, 12), n_means = 2051, seed = 9,
                                          method = "exact", workers = w))
    expect_identical(sig(m), c("12", "11.85", "11.199999999999999", "11.869999999999999",
                               "11.94", "25249030.960000001"))
    b <- suppressWarnings(bootstrap_mean(yearly_example(), BytesLog2, Files, .by = Year,
                                         n_means = 1501, keep_samples = TRUE, seed = 5,
                                         workers = w, method = "exact"))
    expect_identical(lengths(b$samples), rep(1501L, 11))
    expect_identical(sig(b$samples[[1]]),
                     c("10.41", "10.34", "10.640000000000001", "10.130000000000001",
                       "10.119999999999999", "11671278.560000001"))
    expect_identical(sig(b$samples[[11]]),
                     c("11.199999999999999", "11.41", "11.73", "11.4", "11.640000000000001",
                       "12911867.970000001"))
    expect_identical(sig(unlist(b$samples))[6], "1634542050.46")
  }
})

test_that("keep_samples hands over each group's replicates as the engine's vector has them", {
  skip_if_no_fork()
  local_no_children()
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE))
  y <- yearly_example()
  lats <- lapply(split(y, y$Year), function(g) {
    bootscale:::exact_lattice(g$BytesLog2, g$Files, NULL, arg = "value")
  })
  dists <- lapply(lats, bootscale:::exact_compute, sample_size = 100)
  for (w in 1:2) {
    # the whole vector, split by hand: the way before the summary finish
    whole <- bootscale:::run_means(unname(lapply(dists, `[[`, "value")),
                                   unname(lapply(dists, `[[`, "prob")), 2500, 1, w, 17)
    b <- suppressWarnings(bootstrap_mean(y, BytesLog2, Files, .by = Year, n_means = 2500,
                                         keep_samples = TRUE, seed = 17, workers = w,
                                         method = "exact"))
    expect_identical(attr(b, "processes"), w)
    expect_identical(b$samples, unname(split(c(whole), rep(seq_along(dists), each = 2500))))
  }
})

test_that("the peak memory of exact replicates with keep_samples is at most 1.1 times them", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  skip_on_valgrind()
  local_no_children()
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE))
  d <- data.frame(g = rep(1:2, each = 5), v = 1:10)
  call <- function(n, w) {
    bootstrap_mean(d, v, .by = g, n_means = n, workers = w, seed = 1, keep_samples = TRUE,
                   method = "exact")
  }
  bytes <- 2 * 2e6 * 8 / 2^20 # MB of the replicates
  for (w in 1:2) {
    call(10, w) # code loaded and the pool started before the measure
    gc()
    m <- memit(call(2e6, w))
    expect_identical(attr(attr(m, "value"), "processes"), w)
    expect_identical(lengths(attr(m, "value")$samples), c(2e6L, 2e6L))
    expect_lte(m$increment, 1.1 * bytes)
  }
})

test_that("the engine draws from thousands of support points with sample_size = 1", {
  # 20 001 points: no pair table; each replicate is one draw of a support value
  d <- exact_distribution(c(0, 200), c(1, 3), sample_size = 100)
  expect_identical(nrow(d), 101L)
  m <- bootstrap_means(c(0, 1, 200), c(1, 1, 3), n_means = 2e5, sample_size = 100, seed = 4,
                       method = "exact")
  dd <- exact_distribution(c(0, 1, 200), c(1, 1, 3), sample_size = 100)
  expect_identical(nrow(dd), 20001L)
  expect_true(all(m %in% dd$value))
  expect_lt(abs(mean(m) - sum(dd$prob * dd$value)),
            4 * sqrt(sum(dd$prob * (dd$value - mean(m))^2) / 2e5))
})

test_that("small supports (the engine's pair tables) also give one draw per replicate", {
  # 16 and 61 support points: at most 64, so the engine builds pair tables and,
  # with sample_size = 1, makes one single draw per replicate
  cases <- list(list(x = 0:3, w = c(4, 1, 2, 3), n = 5), list(x = c(0, 3), w = c(1, 1e-6), n = 20))
  for (cs in cases) {
    d <- exact_distribution(cs$x, cs$w, sample_size = cs$n)
    expect_lte(nrow(d), 64)
    m <- bootstrap_means(cs$x, cs$w, n_means = 2e5, sample_size = cs$n, seed = 21,
                         method = "exact", workers = 1)
    counts <- tabulate(match(m, d$value), nbins = nrow(d))
    expect_identical(sum(counts), 200000L) # every replicate is a support point
    big <- d$prob * 2e5 >= 5
    expected <- c(d$prob[big], sum(d$prob[!big])) * 2e5
    observed <- c(counts[big], sum(counts[!big]))
    keep <- expected > 0
    x2 <- sum((observed[keep] - expected[keep])^2 / expected[keep])
    expect_gt(stats::pchisq(x2, df = sum(keep) - 1, lower.tail = FALSE), 1e-4)
  }
})

test_that("filesize_pipeline(method = 'exact') gives the exact yearly table", {
  ex <- filesize_pipeline(method = "exact")
  expect_named(ex, c("Year", "estimate", "std.error", "mc.error", "conf.low", "conf.high",
                     "n_means"))
  expect_identical(ex$mc.error, rep(0, nrow(ex)))
  expect_identical(attr(ex, "method"), "exact")
  direct <- bootstrap_mean(yearly_example(), BytesLog2, Files, .by = Year, method = "exact")
  expect_equal(ex$estimate, direct$estimate)
  expect_equal(ex$conf.high, direct$conf.high)

  path <- real_data_path()
  skip_if(is.null(path), "the real data (../shared/data) is not here")
  real <- filesize_pipeline(path, method = "exact")
  expect_identical(real$Year, 2010:2020)
  expect_true(all(real$conf.low < real$estimate & real$estimate < real$conf.high))
})

test_that("autoplot draws the exact distribution with resampled means overlaid", {
  skip_if_not_installed("ggplot2")
  d <- exact_distribution(0:40, dpois(0:40, 12), sample_size = 100)
  p <- ggplot2::autoplot(d)
  expect_s3_class(p, "ggplot")
  expect_length(p$layers, 1)
  shown <- ggplot2::layer_data(p, 1)
  expect_gt(min(shown$x), 0)
  expect_lt(max(shown$x), 40)
  m <- bootstrap_means(0:40, dpois(0:40, 12), n_means = 2000, seed = 1)
  q <- ggplot2::autoplot(d, means = m)
  expect_length(q$layers, 2)
  pts <- ggplot2::layer_data(q, 2)
  expect_equal(sum(pts$y), 1, tolerance = 1e-3) # nearly all shares are in the drawn range
  expect_snapshot(ggplot2::autoplot(d, means = c(12, 12.005)), error = TRUE)
})

test_that("bad input gives classed errors before anything is computed", {
  expect_error(bootstrap_means(c(1, 2.5, 3), n_means = 10, method = "exact"),
               class = "bootscale_error_not_lattice")
  expect_error(bootstrap_means(c(1, 2.5, 3), lattice = 0.2, n_means = 10, method = "exact"),
               class = "bootscale_error_not_lattice")
  expect_error(bootstrap_means(c(0, 1, 1e8), sample_size = 1, n_means = 10, method = "exact"),
               class = "bootscale_error_too_large")
  expect_error(exact_distribution(c(0, 1, 1e6), sample_size = 100),
               class = "bootscale_error_too_large")
  expect_error(exact_distribution(c(0, 0.5, 1e5), sample_size = 1000, lattice = 0.5),
               class = "bootscale_error_too_large")
  expect_error(exact_distribution(c(0, 1, NA)), class = "bootscale_error_bad_values")
  expect_error(exact_distribution(c(0, 1, Inf)), class = "bootscale_error_bad_values")
  for (bad in list(0, -1, Inf, NA, "1", c(1, 2))) {
    expect_error(exact_distribution(1:3, lattice = bad), class = "bootscale_error_bad_lattice")
  }
  expect_error(bootstrap_means(1:3, lattice = 1), class = "bootscale_error_bad_lattice")
  expect_error(bootstrap_means(1:3, method = "exakt"), class = "bootscale_error_bad_method")
  expect_error(filesize_pipeline(method = c("exact", "resample")),
               class = "bootscale_error_bad_method")
  # the limit: 5e7 points pass the check, one more is refused
  lat <- bootscale:::exact_lattice(c(0, 1), c(1, 1), NULL, arg = "x")
  expect_identical(bootscale:::exact_check_support(list(lat), 5e7 - 1), 5e7)
  expect_error(exact_distribution(c(0, 1), sample_size = 5e7),
               class = "bootscale_error_too_large")

  d <- data.frame(g = c(1, 1, 2, 2), v = c(1, 2, 3, 3.5), w = 1)
  expect_snapshot(error = TRUE, {
    bootstrap_means(c(1, 2.5, 3), n_means = 10, method = "exact")
    bootstrap_mean(d, v, w, .by = g, method = "exact")
    bootstrap_mean(d, v * 2, w, .by = g, method = "exact", lattice = 0.4)
    bootstrap_mean(d, round(v), w, .by = g, sample_size = 1e8, method = "exact")
    exact_distribution(c(0, 1, 1e6), sample_size = 100)
    exact_distribution(1:3, lattice = -1)
    bootstrap_means(1:3, lattice = 1)
    bootstrap_means(1:3, method = "exakt")
  })
})
