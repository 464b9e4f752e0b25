skip_if_not_installed("ggplot2")

geoms <- function(p) vapply(p$layers, function(l) class(l$geom)[[1]], character(1))

yearly <- function() aggregate_filesizes(read_filesizes(filesizes_example()))

test_that("bootstrap results with samples plot as one histogram per group", {
  res <- bootstrap_mean(yearly(), BytesLog2, Files, .by = Year, n_means = 300,
                        keep_samples = TRUE, seed = 1)
  p <- ggplot2::autoplot(res, bins = 20)
  expect_s3_class(p, "ggplot")
  expect_identical(geoms(p), c("GeomBar", "GeomVline", "GeomVline"))
  expect_s3_class(p$facet, "FacetWrap")
  b <- ggplot2::ggplot_build(p)
  expect_equal(nrow(b$layout$layout), nrow(res))
  # Every bootstrap mean is counted once, in 20 bins per panel.
  expect_equal(sum(b$data[[1]]$count), 300 * nrow(res))
  expect_equal(nrow(b$data[[1]]), 20 * nrow(res))
  expect_equal(sort(b$data[[2]]$xintercept), sort(res$estimate))
  expect_equal(sort(b$data[[3]]$xintercept), sort(c(res$conf.low, res$conf.high)))
})

test_that("bootstrap results without samples plot estimates with intervals", {
  res <- bootstrap_mean(yearly(), BytesLog2, Files, .by = Year, n_means = 300, seed = 1)
  p <- ggplot2::autoplot(res)
  expect_identical(geoms(p), "GeomPointrange")
  d <- ggplot2::ggplot_build(p)$data[[1]]
  expect_equal(d$x, res$Year)
  expect_equal(d$y, res$estimate)
  expect_equal(d$ymin, res$conf.low)
  expect_equal(d$ymax, res$conf.high)
  expect_identical(p$labels$x, "Year")
})

test_that("the pipeline's result, several groups and no groups all plot", {
  pipe <- filesize_pipeline(n_means = 200, seed = 1)
  d <- ggplot2::ggplot_build(ggplot2::autoplot(pipe))$data[[1]]
  expect_equal(d$y, pipe$estimate)
  # results saved by bootscale 0.1.0 called the estimate `Mean`
  old <- pipe
  names(old)[names(old) == "estimate"] <- "Mean"
  expect_equal(ggplot2::ggplot_build(ggplot2::autoplot(old))$data[[1]]$y, pipe$estimate)

  fs <- read_filesizes(filesizes_example())
  two <- bootstrap_mean(fs, BytesLog2, Files, .by = c(Year, Month), n_means = 50,
                        keep_samples = TRUE, seed = 1)
  two <- two[1:3, ]
  b <- ggplot2::ggplot_build(ggplot2::autoplot(two))
  expect_equal(nrow(b$layout$layout), 3L)
  expect_match(as.character(b$layout$layout$.group), "^Year = [0-9]+, Month = ")

  one <- bootstrap_mean(yearly(), BytesLog2, Files, n_means = 50, seed = 1)
  d <- ggplot2::ggplot_build(ggplot2::autoplot(one))$data[[1]]
  expect_equal(nrow(d), 1L)
  expect_equal(d$y, one$estimate)
})

test_that("a bootstrap result without an estimate is refused", {
  res <- bootstrap_mean(yearly(), BytesLog2, Files, n_means = 50, seed = 1)
  res$estimate <- NULL
  expect_error(ggplot2::autoplot(res), class = "bootscale_error_missing_column")
})

test_that("scaling results plot measured, ideal and Amdahl speedups", {
  res <- bootscale:::new_scaling(c(1, 2, 4), 0.05 + 0.3 / c(1, 2, 4))
  p <- ggplot2::autoplot(res)
  expect_s3_class(p, "ggplot")
  expect_identical(geoms(p), c("GeomLine", "GeomLine", "GeomLine", "GeomPoint"))
  b <- ggplot2::ggplot_build(p)
  ideal <- b$data[[1]]
  expect_equal(ideal$y, ideal$x)
  amdahl <- b$data[[2]]
  fit <- attr(res, "amdahl")
  expect_equal(amdahl$y, 1 / ((1 - fit$p) + fit$p / amdahl$x))
  expect_equal(b$data[[4]]$y, res$speedup)
  expect_equal(b$data[[4]]$x, c(1, 2, 4))
  expect_identical(p$labels$x, "workers")

  # Relative to two workers, the ideal line is workers / 2.
  rel <- bootscale:::new_scaling(c(2, 4), c(1, 0.6))
  ideal <- ggplot2::ggplot_build(ggplot2::autoplot(rel))$data[[1]]
  expect_equal(ideal$y, ideal$x / 2)

  # Without a fit there is no Amdahl curve.
  one <- bootscale:::new_scaling(1, 1)
  expect_identical(geoms(ggplot2::autoplot(one)), c("GeomLine", "GeomLine", "GeomPoint"))
})

test_that("BLAS scaling results plot like worker scaling", {
  res <- bootscale:::new_blas_scaling(1:2, c(1, 0.6), tibble::tibble(vendor = "OpenBLAS"))
  p <- ggplot2::autoplot(res)
  expect_identical(geoms(p), c("GeomLine", "GeomLine", "GeomLine", "GeomPoint"))
  expect_identical(p$labels$x, "BLAS threads")
  expect_identical(p$labels$title, "OpenBLAS solve()")
  b <- ggplot2::ggplot_build(p)
  expect_equal(b$data[[4]]$y, c(1, 1 / 0.6))
})
