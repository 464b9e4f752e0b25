chisq_p <- function(x, p) {
  obs <- tabulate(x, nbins = length(p))
  keep <- p > 0
  suppressWarnings(stats::chisq.test(obs[keep], p = p[keep] / sum(p[keep]))$p.value)
}

test_that("wsample frequencies pass a chi-square test", {
  n <- 2e5
  weights <- list(
    uniform = rep(1, 10),
    skewed = c(1e6, rep(1, 9)),
    sparse = c(0, 3, 0, 0, 1, 0, 6, 0),
    smooth = dpois(0:40, 12)
  )
  seed <- 100
  for (w in weights) {
    seed <- seed + 1
    idx <- wsample(seq_along(w), n, prob = w, seed = seed, workers = 1)
    expect_true(all(w[idx] > 0))  # zero weights never drawn
    expect_gt(chisq_p(idx, w), 0.001)
  }
})

test_that("the skewed case has the right rare-category counts", {
  w <- c(1e6, rep(1, 9))
  idx <- wsample(1:10, 2e6, prob = w, seed = 3, workers = 1)
  rare <- sum(idx != 1)
  expected <- 2e6 * 9 / (1e6 + 9)
  expect_lt(abs(rare - expected), 5 * sqrt(expected))
})

test_that("a single value and equal weights work", {
  expect_identical(wsample(7L, 5, seed = 1), structure(rep(7L, 5), processes = 1L))
  x <- wsample(letters[1:4], 4e4, seed = 2)
  expect_type(x, "character")
  expect_gt(chisq_p(match(x, letters[1:4]), rep(1, 4)), 0.001)
})

test_that("wsample keeps the type of x", {
  f <- factor(c("lo", "hi"), levels = c("lo", "hi"))
  out <- wsample(f, 10, prob = c(1, 1), seed = 1)
  expect_s3_class(out, "factor")
  expect_identical(levels(out), c("lo", "hi"))
  expect_type(wsample(c(1.5, 2.5), 3, seed = 1), "double")
  expect_type(wsample(1:3, 3, seed = 1), "integer")
  expect_type(wsample(c(TRUE, FALSE), 3, seed = 1), "logical")
  expect_identical(wsample(1:3, 0, seed = 1), structure(integer(), processes = 1L))
})

test_that("seeds reproduce and set.seed() governs seed = NULL", {
  expect_identical(wsample(1:100, 50, seed = 9), wsample(1:100, 50, seed = 9))
  expect_false(identical(wsample(1:100, 50, seed = 9), wsample(1:100, 50, seed = 10)))
  set.seed(4)
  a <- wsample(1:100, 50)
  set.seed(4)
  b <- wsample(1:100, 50)
  expect_identical(a, b)
})

test_that("bad inputs give classed errors", {
  expect_error(wsample(list(1, 2), 3), class = "bootscale_error_bad_values")
  expect_error(wsample(integer(), 3), class = "bootscale_error_bad_values")
  expect_error(wsample(1:3, -1), class = "bootscale_error_bad_count")
  expect_error(wsample(1:3, 1.5), class = "bootscale_error_bad_count")
  expect_error(wsample(1:3, NA), class = "bootscale_error_bad_count")
  expect_error(wsample(1:3, 3, prob = c(1, 2)), class = "bootscale_error_bad_weights")
  expect_error(wsample(1:3, 3, prob = c(1, NA, 2)), class = "bootscale_error_bad_weights")
  expect_error(wsample(1:3, 3, prob = c(1, -1, 2)), class = "bootscale_error_bad_weights")
  expect_error(wsample(1:3, 3, prob = c(0, 0, 0)), class = "bootscale_error_bad_weights")
  expect_error(wsample(1:3, 3, prob = c("a", "b", "c")), class = "bootscale_error_bad_weights")
  expect_error(wsample(1:3, 3, seed = NA), class = "bootscale_error_bad_seed")
  expect_error(wsample(1:3, 3, seed = "a"), class = "bootscale_error_bad_seed")
  expect_error(wsample(1:3, 1e15), class = "bootscale_error_too_large")
})
