test_that("the pipeline returns the chapter's yearly table with uncertainty", {
  res <- filesize_pipeline(n_means = 2000, seed = 3)
  expect_s3_class(res, "tbl_df")
  expect_named(res, c("Year", "Mean", "std.error", "conf.low", "conf.high", "n_means"))
  expect_identical(res$Year, 2010:2020)
  fs <- read_filesizes(filesizes_example())
  yearly <- aggregate_filesizes(fs)
  exact <- as.numeric(tapply(yearly$BytesLog2 * yearly$Files, yearly$Year, sum) /
    tapply(yearly$Files, yearly$Year, sum))
  z <- (res$Mean - exact) / (res$std.error / sqrt(res$n_means))
  expect_lt(max(abs(z)), 4)
  expect_identical(attr(res, "seed"), 3)
})

test_that("the pipeline groups by other columns and keeps samples", {
  res <- filesize_pipeline(by = c("Year", "Month"), n_means = 50, keep_samples = TRUE, seed = 1)
  expect_equal(nrow(res), 11 * 12)
  expect_s3_class(res$Month, "ordered")
  expect_length(res$samples[[1]], 50)
})

test_that("the pipeline reproduces bootstrap_mean on the aggregated data", {
  res <- filesize_pipeline(n_means = 500, seed = 9)
  yearly <- aggregate_filesizes(read_filesizes(filesizes_example()))
  direct <- bootstrap_mean(yearly, BytesLog2, Files, .by = Year, n_means = 500, seed = 9)
  expect_identical(res$Mean, direct$estimate)
  expect_identical(res$conf.high, direct$conf.high)
})

test_that("bad pipeline arguments give classed errors", {
  expect_error(filesize_pipeline(by = "Nope", n_means = 10), class = "bootscale_error_missing_column")
  expect_error(filesize_pipeline(by = "BytesLog2", n_means = 10), class = "bootscale_error_bad_by")
  expect_error(filesize_pipeline("no/such/file.txt"), class = "bootscale_error_file_not_found")
})
