# Goodness of fit against the exact distribution of the mean of n draws,
# with cells merged until each expects at least 10.
gof_p <- function(means, x, p, n) {
  ex <- exact_mean_distribution(x, p, n)
  obs <- tabulate(match(round(means * n), round(ex$value * n)), nbins = length(ex$value))
  expect_equal(sum(obs), length(means))  # every mean lies on the grid
  pooled_chisq_p(obs, ex$prob * length(means), 10)
}

test_that("bootstrap means follow the exact distribution (pair tables, even size)", {
  x <- 0:6
  w <- c(5, 1, 8, 3, 0, 2, 1)
  m <- bootstrap_means(x, w, n_means = 30000, sample_size = 8, seed = 1, workers = 1)
  expect_gt(gof_p(m, x, w, 8), 0.001)
})

test_that("bootstrap means follow the exact distribution (pairs, odd size)", {
  x <- c(1, 4, 9)
  w <- c(0.2, 0.5, 0.3)
  m <- bootstrap_means(x, w, n_means = 30000, sample_size = 7, seed = 2, workers = 1)
  expect_gt(gof_p(m, x, w, 7), 0.001)
})

test_that("bootstrap means follow the exact distribution (single draws, K > 64)", {
  x <- 0:79
  w <- dbinom(0:79, 79, 0.3) + 1e-4
  m <- bootstrap_means(x, w, n_means = 30000, sample_size = 5, seed = 3, workers = 1)
  expect_gt(gof_p(m, x, w, 5), 0.001)
})

test_that("mean and variance of the means match the weighted moments", {
  x <- c(0.5, 2, 3.25, 10, 11)
  w <- c(10, 3, 0, 1, 6)
  p <- w / sum(w)
  mu <- sum(p * x)
  sigma2 <- sum(p * (x - mu)^2)
  for (ss in c(1, 2, 100, 101)) {
    m <- bootstrap_means(x, w, n_means = 40000, sample_size = ss, seed = ss, workers = 1)
    se <- sqrt(sigma2 / ss / length(m))
    expect_lt(abs(mean(m) - mu), 4 * se)
    # var of a sample variance: relative sd about sqrt(2 / n) for near-normal
    expect_lt(abs(stats::var(m) / (sigma2 / ss) - 1), 0.05)
  }
})

test_that("same seed gives identical results, other seeds differ, set.seed works", {
  a <- bootstrap_means(1:10, n_means = 3000, seed = 42)
  b <- bootstrap_means(1:10, n_means = 3000, seed = 42)
  expect_identical(a, b)
  other <- bootstrap_means(1:10, n_means = 3000, seed = 43)
  expect_false(isTRUE(all.equal(as.numeric(a), as.numeric(other))))
  expect_identical(attr(a, "seed"), 42)
  expect_identical(attr(a, "rng"), "xoshiro256++ keyed by SplitMix64")
  set.seed(7)
  c1 <- bootstrap_means(1:10, n_means = 100)
  set.seed(7)
  c2 <- bootstrap_means(1:10, n_means = 100)
  expect_identical(c1, c2)
  # a prefix of replicates does not depend on how many there are
  expect_identical(as.numeric(bootstrap_means(1:10, n_means = 50, seed = 3)),
                   as.numeric(bootstrap_means(1:10, n_means = 5000, seed = 3))[1:50])
})

test_that("bootstrap_mean gives one row per group with the documented columns", {
  d <- data.frame(g = rep(c("b", "a"), each = 6), v = c(1:6, 11:16), w = rep(1:3, 4))
  res <- bootstrap_mean(d, v, w, .by = g, n_means = 4000, seed = 1)
  expect_s3_class(res, "tbl_df")
  expect_named(res, c("g", "estimate", "std.error", "mc.error", "conf.low", "conf.high", "n_means"))
  expect_identical(res$g, c("a", "b"))
  expect_identical(res$n_means, c(4000L, 4000L))
  wm <- c(sum(11:16 * rep(1:3, 2)) / 12, sum(1:6 * rep(1:3, 2)) / 12)
  expect_lt(max(abs(res$estimate - wm) / res$std.error * sqrt(4000)), 4)
  expect_true(all(res$conf.low < res$estimate & res$estimate < res$conf.high))
  expect_identical(attr(res, "seed"), 1)
})

test_that(".by takes names, c() of names, strings; grouped data frames work", {
  d <- data.frame(a = rep(1:2, each = 4), b = rep(c("x", "y"), 4), v = 1:8)
  r1 <- bootstrap_mean(d, v, .by = c(a, b), n_means = 100, seed = 1)
  r2 <- bootstrap_mean(d, v, .by = c("a", "b"), n_means = 100, seed = 1)
  expect_identical(r1, r2)
  expect_equal(nrow(r1), 4)
  r0 <- bootstrap_mean(d, v, n_means = 100, seed = 1)
  expect_equal(nrow(r0), 1)
  expect_named(r0, c("estimate", "std.error", "mc.error", "conf.low", "conf.high", "n_means"))
  skip_if_not_installed("dplyr")
  g <- dplyr::group_by(d, a, b)
  expect_identical(bootstrap_mean(g, v, n_means = 100, seed = 1)[names(r1)], r1)
  expect_error(bootstrap_mean(g, v, .by = a, n_means = 10), class = "bootscale_error_bad_by")
})

test_that("rows reach their group; keys keep their types, sorted with NA last", {
  d <- data.frame(
    yr = c(2012L, 2010L, NA, 2012L, 2010L, 2011L, NA, 2011L, 2010L),
    site = factor(c("b", "a", "b", "a", "b", "a", "a", "b", "b"), levels = c("b", "a", "z")),
    day = as.Date("2020-01-01") + c(2, 0, 1, 2, 0, 1, 1, 2, 0),
    v = c(3, 1, 7, 5, 2, 4, 9, 6, 8),
    w = c(1, 2, 1, 3, 1, 2, 5, 1, 4)
  )
  # the weighted mean of the rows whose columns `by` match row i of `res`,
  # NA matching NA: the exact method's estimate, computed independently
  by_rows <- function(res, by) {
    vapply(seq_len(nrow(res)), function(i) {
      sel <- Reduce(`&`, lapply(by, function(nm) {
        col <- d[[nm]]
        key <- res[[nm]][i]
        if (is.na(key)) is.na(col) else !is.na(col) & col == key
      }))
      sum(d$v[sel] * d$w[sel]) / sum(d$w[sel])
    }, numeric(1))
  }
  r <- bootstrap_mean(d, v, w, .by = yr, method = "exact", sample_size = 3)
  expect_identical(r$yr, c(2010L, 2011L, 2012L, NA))
  expect_equal(r$estimate, by_rows(r, "yr"), tolerance = 1e-12)
  r <- bootstrap_mean(d, v, w, .by = site, method = "exact", sample_size = 3)
  # factor levels give the order, unused levels stay
  expect_identical(r$site, factor(c("b", "a"), levels = c("b", "a", "z")))
  expect_equal(r$estimate, by_rows(r, "site"), tolerance = 1e-12)
  r <- bootstrap_mean(d, v, w, .by = c(site, yr), method = "exact", sample_size = 3)
  expect_identical(r$site, factor(c("b", "b", "b", "b", "a", "a", "a", "a"),
                                  levels = c("b", "a", "z")))
  expect_identical(r$yr, c(2010L, 2011L, 2012L, NA, 2010L, 2011L, 2012L, NA))
  expect_equal(r$estimate, by_rows(r, c("site", "yr")), tolerance = 1e-12)
  r <- bootstrap_mean(d, v, w, .by = c(day, site), n_means = 200, keep_samples = TRUE, seed = 1)
  expect_s3_class(r$day, "Date")
  expect_identical(r$day, as.Date("2020-01-01") + c(0, 0, 1, 1, 2, 2))
  # resampled means stay within their own group's values
  for (i in seq_len(nrow(r))) {
    vals <- d$v[d$day == r$day[i] & d$site == r$site[i]]
    expect_true(all(r$samples[[i]] >= min(vals) & r$samples[[i]] <= max(vals)))
  }
  # a group with only zero weights is named, NA included
  d$w[is.na(d$yr)] <- 0
  expect_error(bootstrap_mean(d, v, w, .by = yr, n_means = 10), "Group 4 (yr = NA) has none",
               fixed = TRUE, class = "bootscale_error_bad_weights")
})

test_that("columns as bare names, strings, variables or expressions give the same result", {
  d <- data.frame(g = rep(c(2L, 1L, 3L), 4), v = 1:12, w = rep(1:2, 6))
  run <- function(data, value, weight, .by) {
    bootstrap_mean(data, {{ value }}, {{ weight }}, .by = {{ .by }}, n_means = 50, seed = 1)
  }
  ref <- bootstrap_mean(d, v, w, .by = g, n_means = 50, seed = 1)
  expect_identical(ref$g, 1:3)
  cols <- "g"
  expect_identical(bootstrap_mean(d, v, w, .by = "g", n_means = 50, seed = 1), ref)
  expect_identical(bootstrap_mean(d, v, w, .by = cols, n_means = 50, seed = 1), ref)
  expect_identical(bootstrap_mean(d, v, w, .by = c(g), n_means = 50, seed = 1), ref)
  expect_identical(bootstrap_mean(d, .data$v, .data$w, .by = g, n_means = 50, seed = 1), ref)
  expect_identical(bootstrap_mean(d, (v), w * 1, .by = g, n_means = 50, seed = 1), ref)
  expect_identical(run(d, v, w, g), ref)
  # a column wins over a variable of the same name, as in tidy evaluation
  g <- "v"
  v <- rev(d$v)
  expect_identical(bootstrap_mean(d, v, w, .by = g, n_means = 50, seed = 1), ref)
  # rlang's pronouns and duplicated names are tidy evaluation's to refuse
  dd <- data.frame(v = 1:3, v = 4:6, g = 1, check.names = FALSE)
  expect_error(bootstrap_mean(dd, v), class = "bootscale_error_missing_column")
  expect_error(bootstrap_mean(dd, g, .by = v), class = "bootscale_error_missing_column")
  expect_error(bootstrap_mean(data.frame(.data = 1:3), .data), class = "bootscale_error_bad_values")
  expect_error(bootstrap_mean(data.frame(.env = 1:3, v = 1), v, .by = .env),
               class = "bootscale_error_missing_column")
})

test_that("the result is a well-formed tibble with its attributes", {
  d <- data.frame(g = c("x", "y", "x"), v = c(1, 2, 4))
  for (keep in c(FALSE, TRUE)) {
    r <- bootstrap_mean(d, v, .by = g, n_means = 20, keep_samples = keep, seed = 3)
    expect_identical(class(r), c("bootscale_bootstrap", "tbl_df", "tbl", "data.frame"))
    expect_identical(.row_names_info(r), -2L) # compact, two rows
    expect_identical(tibble::new_tibble(as.list(r), nrow = 2L, class = "bootscale_bootstrap"), r)
    expect_no_error(tibble::validate_tibble(r))
    expect_identical(attr(r, "seed"), 3)
    expect_identical(attr(r, "method"), "resample")
    expect_identical(attr(r, "processes"), 1L)
    expect_identical(r[2, ]$g, "y")
  }
  r <- bootstrap_mean(d, v, n_means = 20, seed = 3)
  expect_identical(.row_names_info(r), -1L)
  expect_named(r, bootscale:::result_columns())
})

test_that("keep_samples returns the means, and the summary matches them", {
  d <- data.frame(g = rep(1:3, each = 5), v = rnorm(15))
  res <- bootstrap_mean(d, v, .by = g, n_means = 999, keep_samples = TRUE, conf_level = 0.9,
                        seed = 5)
  expect_type(res$samples, "list")
  expect_length(res$samples[[2]], 999)
  for (i in 1:3) {
    s <- res$samples[[i]]
    expect_equal(res$estimate[i], mean(s))
    expect_equal(res$std.error[i], stats::sd(s))
    expect_equal(c(res$conf.low[i], res$conf.high[i]),
                 unname(stats::quantile(s, c(0.05, 0.95))))
  }
})

test_that("expressions and NA groups work like dplyr", {
  d <- data.frame(g = c(1, 1, NA, NA), v = c(2, 4, 6, 8))
  res <- bootstrap_mean(d, v * 10, .by = g, n_means = 200, seed = 1)
  expect_identical(res$g, c(1, NA))
  expect_true(all(res$estimate[2] >= 60 & res$estimate[2] <= 80))
})

test_that("bad inputs give classed errors", {
  d <- data.frame(g = c(1, 1, 2), v = c(1, 2, 3), w = c(1, 1, 0), s = c("a", "b", "c"))
  expect_error(bootstrap_means(c(1, NA)), class = "bootscale_error_bad_values")
  expect_error(bootstrap_means(c(1, Inf)), class = "bootscale_error_bad_values")
  expect_error(bootstrap_means("a"), class = "bootscale_error_bad_values")
  expect_error(bootstrap_means(1:3, c(1, -1, 1)), class = "bootscale_error_bad_weights")
  expect_error(bootstrap_means(1:3, c(1, Inf, 1)), class = "bootscale_error_bad_weights")
  expect_error(bootstrap_means(1:3, c(0, 0, 0)), class = "bootscale_error_bad_weights")
  expect_error(bootstrap_means(1:3, 1:2), class = "bootscale_error_bad_weights")
  expect_error(bootstrap_means(1:3, n_means = 0), class = "bootscale_error_bad_count")
  expect_error(bootstrap_means(1:3, n_means = 2.5), class = "bootscale_error_bad_count")
  expect_error(bootstrap_means(1:3, sample_size = 0), class = "bootscale_error_bad_count")
  expect_error(bootstrap_means(1:3, sample_size = NA), class = "bootscale_error_bad_count")
  expect_error(bootstrap_means(1:3, n_means = 1e15), class = "bootscale_error_too_large")
  expect_error(bootstrap_mean(d, zz), class = "bootscale_error_missing_column")
  expect_error(bootstrap_mean(d, v, .by = zz), class = "bootscale_error_missing_column")
  expect_error(bootstrap_mean(d, s), class = "bootscale_error_bad_values")
  expect_error(bootstrap_mean(d, v, w, .by = g), class = "bootscale_error_bad_weights")
  expect_error(bootstrap_mean(d, v, conf_level = 1), class = "bootscale_error_bad_conf_level")
  expect_error(bootstrap_mean(d, v, conf_level = 0), class = "bootscale_error_bad_conf_level")
  expect_error(bootstrap_mean(d, v, keep_samples = NA), class = "bootscale_error_bad_flag")
  expect_error(bootstrap_mean(as.list(d), v), class = "bootscale_error_bad_data")
  expect_error(bootstrap_mean(d), class = "bootscale_error_missing_column")
})

test_that("messages say what must be true", {
  expect_snapshot(bootstrap_means(1:3, c(1, -1, 1)), error = TRUE)
  expect_snapshot(bootstrap_means(1:3, n_means = 0), error = TRUE)
  expect_snapshot(bootstrap_mean(data.frame(v = 1), v, conf_level = 2), error = TRUE)
})

test_that("the real data's yearly means agree with the exact weighted means", {
  path <- skip_without_real_data()
  res <- filesize_pipeline(path, n_means = 20000, seed = 1, workers = 1)
  yearly <- aggregate_filesizes(read_filesizes(path))
  exact <- tapply(yearly$BytesLog2 * yearly$Files, yearly$Year, sum) /
    tapply(yearly$Files, yearly$Year, sum)
  expect_equal(res$Year, 2010:2020)
  # the estimate averages n_means means: its own standard error is sd / sqrt(n)
  z <- (res$estimate - as.numeric(exact)) / res$mc.error
  expect_lt(max(abs(z)), 4)
  # and the chapter's published table (2010: 12.98, 2012: 10.67, ...)
  expect_lt(max(abs(res$estimate - c(12.98, 14.04, 10.67, 13.41, 14.04, 11.75, 13.54, 11.98, 13.28,
                                     13.70, 13.23))), 0.02)
})

test_that("the C summary matches mean(), sd() and quantile() type 7", {
  summ <- function(x, g, p) .Call(bootscale:::C_bs_summarise_means, as.double(x), g, p)
  set.seed(12)
  for (n in c(1, 2, 3, 10, 101, 1000)) {
    for (x in list(rnorm(n), round(runif(n) * 3), rep(2.5, n))) {
      for (p in list(c(0.025, 0.975), c(0, 1), c(0.5, 0.5), c(0.1, 0.9))) {
        got <- summ(x, 1, p)
        expect_equal(got[1, 1], mean(x), tolerance = 1e-14)
        if (n > 1) {
          expect_equal(got[2, 1], sd(x), tolerance = 1e-12)
        } else {
          expect_true(is.nan(got[2, 1]))
        }
        expect_equal(got[3:4, 1], unname(stats::quantile(x, p, type = 7)), tolerance = 1e-14)
      }
    }
  }
  # Long enough for the selection to work on samples first (> 600 values),
  # with ties, sorted and reversed input, and probabilities in either order.
  for (n in c(601, 5000, 100000)) {
    for (x in list(rnorm(n), round(runif(n) * 3), sort(rexp(n)), rev(seq_len(n)) + 0.5)) {
      for (p in list(c(0.025, 0.975), c(0.3, 0.3001), c(0.9, 0.1), c(0, 1))) {
        got <- summ(x, 1, p)
        expect_equal(got[3:4, 1], unname(stats::quantile(x, p, type = 7)), tolerance = 1e-14)
      }
    }
  }
  x <- c(rnorm(50), runif(50))
  got <- summ(x, 2, c(0.05, 0.95))
  expect_equal(dim(got), c(4L, 2L))
  y <- x[51:100]
  expect_equal(got[, 2], c(mean(y), sd(y), unname(stats::quantile(y, c(0.05, 0.95)))))
})

test_that("one replicate gives NA standard errors", {
  res <- bootstrap_mean(data.frame(v = 1:5), v, n_means = 1, seed = 1)
  expect_true(is.na(res$std.error))
  expect_true(is.na(res$mc.error))
  expect_equal(res$conf.low, res$estimate)
})

test_that("mc.error is the Monte Carlo error of estimate, std.error the spread of one mean", {
  d <- data.frame(g = rep(1:2, each = 4), v = c(1, 2, 4, 8, 0, 0, 1, 10),
                  w = c(1, 2, 3, 4, 4, 3, 2, 1))
  res <- bootstrap_mean(d, v, w, .by = g, n_means = 1000, seed = 1)
  expect_identical(res$mc.error, res$std.error / sqrt(1000))
  expect_identical(match("mc.error", names(res)), match("std.error", names(res)) + 1L)
  expect_type(res$mc.error, "double")
  # Repeated estimates scatter by mc.error: 300 seeds, relative sd of the
  # ratio about 1 / sqrt(600), so 4 sd is 0.16.
  est <- vapply(1:300, function(s) {
    bootstrap_mean(d[d$g == 1, ], v, w, n_means = 200, sample_size = 10, seed = s)$estimate
  }, numeric(1))
  one <- bootstrap_mean(d[d$g == 1, ], v, w, n_means = 200, sample_size = 10, seed = 1)
  expect_lt(abs(stats::sd(est) / one$mc.error - 1), 0.16)
  # std.error follows sample_size (sigma / sqrt(sample_size)), not n_means;
  # mc.error shrinks with n_means.
  p <- d$w[1:4] / sum(d$w[1:4])
  sigma <- sqrt(sum(p * (d$v[1:4] - sum(p * d$v[1:4]))^2))
  for (ss in c(1, 25)) {
    small <- bootstrap_mean(d[1:4, ], v, w, n_means = 4000, sample_size = ss, seed = 2)
    large <- bootstrap_mean(d[1:4, ], v, w, n_means = 64000, sample_size = ss, seed = 3)
    expect_lt(abs(small$std.error / (sigma / sqrt(ss)) - 1), 0.05)
    expect_lt(abs(large$std.error / small$std.error - 1), 0.05)
    expect_equal(small$mc.error / large$mc.error, 4, tolerance = 0.05)
  }
})

test_that("group columns named like result columns are refused, through .by and group_by()", {
  for (keep in c(FALSE, TRUE)) {
    for (nm in bootscale:::result_columns(keep)) {
      d <- data.frame(x = c(1, 2, 3, 10, 20, 30), g = rep(c(7L, 9L), each = 3))
      names(d)[2] <- nm
      expect_error(bootstrap_mean(d, x, .by = !!nm, n_means = 50, keep_samples = keep, seed = 1),
                   class = "bootscale_error_bad_by")
      expect_error(bootstrap_mean(d, x, .by = !!nm, n_means = 50, keep_samples = keep, seed = 1),
                   paste(nm, "is a grouping column"), fixed = TRUE)
    }
  }
  # `samples` is a result column only when the samples are kept: otherwise
  # the group values are returned intact.
  d <- data.frame(x = c(1, 2, 3, 10, 20, 30), samples = rep(c(7L, 9L), each = 3))
  res <- bootstrap_mean(d, x, .by = samples, n_means = 50, seed = 1)
  expect_identical(res$samples, c(7L, 9L))
  expect_snapshot(error = TRUE, {
    bootstrap_mean(data.frame(x = 1:6, n_means = rep(c(7L, 9L), each = 3), estimate = 1),
                   x, .by = c(n_means, estimate), n_means = 50, seed = 1)
  })
  skip_if_not_installed("dplyr")
  for (nm in bootscale:::result_columns(keep_samples = TRUE)) {
    d <- data.frame(x = c(1, 2, 3, 10, 20, 30), g = rep(c(7L, 9L), each = 3))
    names(d)[2] <- nm
    g <- dplyr::group_by(d, dplyr::across(dplyr::all_of(nm)))
    expect_error(bootstrap_mean(g, x, n_means = 50, keep_samples = TRUE, seed = 1),
                 class = "bootscale_error_bad_by")
  }
})

test_that("grouping columns must be vectors: lists, data frames and matrices are refused", {
  d <- data.frame(x = 1:4)
  d$l <- I(list(1, 2, 1, 2))
  d$m <- matrix(1:8, 4)
  d$df <- data.frame(a = c(1, 2, 1, 2))
  d$r <- as.raw(c(1, 2, 1, 2))  # raw bytes do not sort
  for (col in c("l", "m", "df", "r")) {
    expect_error(bootstrap_mean(d, x, .by = !!col, n_means = 5), class = "bootscale_error_bad_by")
    expect_error(aggregate_filesizes(d, by = col, targets = "x"), class = "bootscale_error_bad_by")
  }
  # every atomic vector that sorts groups, complex numbers included
  d$z <- complex(real = c(1, 2, 1, 2))
  expect_identical(bootstrap_mean(d, x, .by = z, n_means = 5, seed = 1)$z, complex(real = 1:2))
  # group_by() accepts a list-column; bootstrap_mean() refuses it the same way
  skip_if_not_installed("dplyr")
  t <- tibble::tibble(x = 1:4, l = list(1, 2, 1, 2))
  expect_error(bootstrap_mean(dplyr::group_by(t, l), x, n_means = 5),
               class = "bootscale_error_bad_by")
})

test_that("seed = NULL draws 53 bits from R's RNG, and set.seed() reproduces the call", {
  seeds <- vapply(1:200, function(i) attr(bootstrap_means(1:3, n_means = 1), "seed"), numeric(1))
  expect_true(all(seeds == trunc(seeds) & seeds >= 0 & seeds < 2^53))
  expect_false(anyDuplicated(seeds) > 0)
  # 31 bits would put every seed below 2^31; 53 bits put about half of them
  # at or above 2^52 (binomial(200, 1/2): 4 sd is 28).
  expect_gt(max(seeds), 2^31)
  expect_lt(abs(sum(seeds >= 2^52) - 100), 28)
  # uniform in the low bits too
  expect_lt(abs(sum(seeds %% 2 == 1) - 100), 28)

  set.seed(11)
  a <- bootstrap_mean(data.frame(v = 1:9), v, n_means = 300)
  after <- .Random.seed
  set.seed(11)
  expect_identical(bootstrap_mean(data.frame(v = 1:9), v, n_means = 300), a)
  # the seed used repeats the call
  expect_identical(bootstrap_mean(data.frame(v = 1:9), v, n_means = 300, seed = attr(a, "seed")), a)
  # .Random.seed advances by two draws of sample.int(), whatever the call
  set.seed(11)
  sample.int(2^26, 1)
  sample.int(2^27, 1)
  expect_identical(.Random.seed, after)
  set.seed(11)
  wsample(1:3, 5)
  expect_identical(.Random.seed, after)
})

test_that("explicit seeds give the same bits as bootscale 0.1.0", {
  # Values computed with bootscale 0.1.0 (main at ea561be).
  expect_identical(as.numeric(bootstrap_means(1:10, n_means = 5, seed = 1)),
                   c(0x1.73d70a3d70a3dp+2, 0x1.4333333333333p+2, 0x1.6c28f5c28f5c3p+2,
                     0x1.347ae147ae148p+2, 0x1.747ae147ae148p+2))
  expect_identical(as.numeric(bootstrap_means(c(0.5, 2, 7), c(1, 2, 3), n_means = 3,
                                              sample_size = 7, seed = 2^53)),
                   c(0x1.9b6db6db6db6ep+1, 0x1.56db6db6db6dbp+2, 0x1.56db6db6db6dbp+2))
  expect_identical(as.numeric(bootstrap_means(0:79, n_means = 3, sample_size = 5, seed = -12345)),
                   c(0x1.5p+5, 0x1.4cccccccccccdp+5, 0x1.4p+4))
  expect_identical(as.integer(wsample(1:5, 6, seed = 123456789)), c(2L, 2L, 1L, 1L, 2L, 5L))
  d <- data.frame(g = rep(1:2, each = 5), v = c(1:5, 11:15))
  r <- bootstrap_mean(d, v, .by = g, n_means = 100, seed = 7)
  expect_identical(r$estimate, c(0x1.844d013a92a3p+1, 0x1.a0c63f141205cp+3))
  expect_identical(r$std.error, c(0x1.30a6f161d4dbbp-3, 0x1.1bc0852116b8ap-3))
  expect_identical(r$conf.low, c(0x1.627ef9db22d0ep+1, 0x1.984dd2f1a9fbep+3))
  expect_identical(r$conf.high, c(0x1.a85a1cac08312p+1, 0x1.a972b020c49bap+3))
})

test_that("every help page that refers to the section on random numbers has it", {
  db <- tools::Rd_db("bootscale")
  text <- vapply(db, function(rd) paste(as.character(rd), collapse = ""), character(1))
  refers <- grepl("Random numbers and determinism", text, fixed = TRUE)
  has <- grepl("\\section{Random numbers and determinism}", text, fixed = TRUE)
  expect_true(all(c("bootstrap_mean.Rd", "filesize_pipeline.Rd",
                    "bootstrap_means.Rd") %in% names(db)[has]))
  expect_identical(names(db)[refers & !has], character())
})

test_that("long replicates (sample_size > 65536, cut into parts) have the right distribution", {
  # mean and variance of the mean of ss draws against the exact ones, for a
  # pair table (k <= 64) and a single table (k = 100), with one part and
  # with three (an odd count: the last part ends with a single draw)
  cases <- list(
    list(x = c(0, 1, 2), w = c(1, 2, 3), ss = 70001, n = 200),
    list(x = c(0, 1, 2), w = c(1, 2, 3), ss = 2 * 4194304 + 3, n = 40),
    list(x = 0:99, w = rep(1, 100), ss = 70001, n = 200),
    list(x = 0:99, w = rep(1, 100), ss = 2 * 4194304 + 3, n = 40)
  )
  for (cs in cases) {
    p <- cs$w / sum(cs$w)
    mu <- sum(p * cs$x)
    sigma2 <- sum(p * cs$x^2) - mu^2
    m <- bootstrap_means(cs$x, cs$w, n_means = cs$n, sample_size = cs$ss, workers = 1, seed = 11)
    z <- (mean(m) - mu) / sqrt(sigma2 / cs$ss / cs$n)
    expect_lt(abs(z), 5)
    # the ratio follows a chi-squared with n - 1 degrees of freedom, over n - 1
    ratio <- stats::var(m) / (sigma2 / cs$ss)
    expect_gt(ratio, stats::qchisq(1e-4, cs$n - 1) / (cs$n - 1))
    expect_lt(ratio, stats::qchisq(1 - 1e-4, cs$n - 1) / (cs$n - 1))
  }
})

test_that("long replicates' values for a seed are pinned (new in 0.2.0)", {
  # Printed with 17 significant digits when the long layout was introduced:
  # these jobs got new bits then (NEWS), and must keep these from now on.
  x <- bootstrap_means(c(0, 1, 2), n_means = 3, sample_size = 1e6, seed = 3, workers = 1)
  expect_identical(sprintf("%.17g", x),
                   c("1.0002880000000001", "0.99966200000000005", "0.99897800000000003"))
  x <- bootstrap_means(1:100, n_means = 2, sample_size = 7e5, seed = 9, workers = 1)
  expect_identical(sprintf("%.17g", x), c("50.488965714285712", "50.548108571428571"))
  x <- bootstrap_means(c(0, 1, 2), n_means = 2, sample_size = 9e6 + 1, seed = 3, workers = 1)
  expect_identical(sprintf("%.17g", x), c("0.99995388889401238", "1.0002908888565678"))
})
