skip_if_not_installed("ggplot2")

geoms <- function(p) vapply(p$layers, function(l) class(l$geom)[[1]], character(1))

# The x breaks ggplot2 draws.
b_breaks <- function(p) {
  b <- ggplot2::ggplot_build(p)
  brk <- b$layout$panel_params[[1]]$x$breaks
  brk[!is.na(brk)]
}

yearly <- function() aggregate_filesizes(read_filesizes(filesizes_example()))

test_that("bootstrap results with samples plot as one histogram per group", {
  res <- bootstrap_mean(yearly(), BytesLog2, Files, .by = Year, n_means = 300,
                        keep_samples = TRUE, seed = 1)
  p <- ggplot2::autoplot(res, bins = 20)
  expect_s3_class(p, "ggplot")
  expect_identical(geoms(p), c("GeomBar", "GeomVline", "GeomVline"))
  expect_s3_class(p$facet, "FacetWrap")
  # Own x scale per panel (said in the axis title), shared counts.
  expect_true(p$facet$params$free$x)
  expect_false(p$facet$params$free$y)
  expect_match(p$labels$x, "own x scale")
  b <- ggplot2::ggplot_build(p)
  expect_equal(nrow(b$layout$layout), nrow(res))
  # Every bootstrap mean is counted once, in 20 bins per panel.
  expect_equal(sum(b$data[[1]]$count), 300 * nrow(res))
  expect_equal(nrow(b$data[[1]]), 20 * nrow(res))
  expect_equal(sort(b$data[[2]]$xintercept), sort(res$estimate))
  expect_equal(sort(b$data[[3]]$xintercept), sort(c(res$conf.low, res$conf.high)))
  # The reference lines are named in a legend: solid estimate, dashed interval.
  expect_identical(unique(b$data[[2]]$linetype), "solid")
  expect_identical(unique(b$data[[3]]$linetype), "dashed")
  lt <- b$plot$scales$get_scales("linetype")
  expect_setequal(lt$get_limits(), c("estimate", "percentile interval"))
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
  # Whole years only on the axis.
  brk <- b_breaks(p)
  expect_true(length(brk) >= 2)
  expect_true(all(brk == round(brk)))
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
  res <- bootscale:::new_scaling(c(1, 2, 4), 0.05 + 0.3 / c(1, 2, 4), cores = 2)
  p <- ggplot2::autoplot(res)
  expect_s3_class(p, "ggplot")
  expect_identical(geoms(p), c("GeomLine", "GeomLine", "GeomLine", "GeomPoint",
                               "GeomVline", "GeomText"))
  b <- ggplot2::ggplot_build(p)
  ideal <- b$data[[1]]
  expect_equal(ideal$y, ideal$x)
  # The ideal line is dashed, the measured one solid, in the plot and its key.
  expect_identical(unique(ideal$linetype), "dashed")
  expect_identical(unique(b$data[[3]]$linetype), "solid")
  lt <- b$plot$scales$get_scales("linetype")
  expect_identical(unname(lt$palette(3)[1:2]), c("solid", "dashed"))
  # Points carry no key of their own (no dot beside "ideal").
  expect_false(p$layers[[4]]$show.legend)
  amdahl <- b$data[[2]]
  fit <- attr(res, "amdahl")
  expect_equal(amdahl$y, 1 / ((1 - fit$p) + fit$p / amdahl$x))
  expect_equal(b$data[[4]]$y, res$speedup)
  expect_equal(b$data[[4]]$x, c(1, 2, 4))
  expect_identical(p$labels$x, "workers")
  # The core count is marked and labelled.
  expect_equal(b$data[[5]]$xintercept, 2)
  expect_identical(b$data[[6]]$label, "2 cores")
  # Whole-number breaks only.
  brk <- b_breaks(p)
  expect_true(all(brk == round(brk)))
  expect_true(all(c(1, 2, 4) %in% brk))

  # Relative to two workers, the ideal line is workers / 2; a core count
  # outside the counts goes to the subtitle.
  rel <- bootscale:::new_scaling(c(2, 4), c(1, 0.6), cores = 16)
  p_rel <- ggplot2::autoplot(rel)
  ideal <- ggplot2::ggplot_build(p_rel)$data[[1]]
  expect_equal(ideal$y, ideal$x / 2)
  expect_identical(p_rel$labels$subtitle, "16 cores available")
  expect_false("GeomVline" %in% geoms(p_rel))

  # Fewer than three counts: no Amdahl curve.
  two <- bootscale:::new_scaling(1:2, c(1, 0.6), cores = 2)
  expect_identical(geoms(ggplot2::autoplot(two)),
                   c("GeomLine", "GeomLine", "GeomPoint", "GeomVline", "GeomText"))
  brk <- b_breaks(ggplot2::autoplot(two))
  expect_identical(brk, c(1, 2))
})

test_that("weak scaling plots the scaled speedup with Gustafson's law", {
  w <- c(1, 2, 4)
  res <- bootscale:::new_scaling(w, 1 + 0.1 * (w - 1), scaling = "weak", cores = 4)
  p <- ggplot2::autoplot(res)
  expect_match(p$labels$y, "scaled speedup")
  b <- ggplot2::ggplot_build(p)
  fit <- attr(res, "gustafson")
  curve <- b$data[[2]]
  expect_equal(curve$y, (1 - fit$p) + fit$p * curve$x)
  expect_equal(b$data[[4]]$y, res$speedup)
  expect_equal(b$data[[5]]$xintercept, 4)
  lt <- b$plot$scales$get_scales("linetype")
  expect_true(any(grepl("^Gustafson fit", lt$get_limits())))
})

test_that("BLAS scaling results plot like worker scaling", {
  res <- bootscale:::new_blas_scaling(1:3, c(1, 0.6, 0.5), tibble::tibble(vendor = "OpenBLAS"),
                                      cores = 2)
  p <- ggplot2::autoplot(res)
  expect_identical(geoms(p), c("GeomLine", "GeomLine", "GeomLine", "GeomPoint",
                               "GeomVline", "GeomText"))
  expect_identical(p$labels$x, "BLAS threads")
  expect_identical(p$labels$title, "OpenBLAS solve()")
  b <- ggplot2::ggplot_build(p)
  expect_equal(b$data[[4]]$y, c(1, 1 / 0.6, 2))
  expect_equal(b$data[[5]]$xintercept, 2)
})

test_that("integer_breaks() gives whole numbers within the limits", {
  ib <- bootscale:::integer_breaks
  expect_identical(ib(c(1, 2)), c(1, 2))
  expect_identical(ib(c(2010, 2020)), seq(2010, 2020, by = 2))
  expect_true(all(ib(c(1, 3)) %in% 1:3))
})
