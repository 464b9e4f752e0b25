test_that("the pipeline returns the chapter's yearly table with uncertainty", {
  res <- filesize_pipeline(n_means = 2000, seed = 3)
  expect_s3_class(res, "tbl_df")
  expect_named(res, c("Year", "estimate", "std.error", "mc.error", "conf.low", "conf.high",
                      "n_means"))
  expect_identical(res$Year, 2010:2020)
  fs <- read_filesizes(filesizes_example())
  yearly <- aggregate_filesizes(fs)
  exact <- as.numeric(tapply(yearly$BytesLog2 * yearly$Files, yearly$Year, sum) /
    tapply(yearly$Files, yearly$Year, sum))
  z <- (res$estimate - exact) / res$mc.error
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
  expect_identical(res[names(direct)], direct)
})

test_that("bad pipeline arguments give classed errors", {
  expect_error(filesize_pipeline(by = "Nope", n_means = 10),
               class = "bootscale_error_missing_column")
  expect_error(filesize_pipeline(by = "BytesLog2", n_means = 10), class = "bootscale_error_bad_by")
  expect_error(filesize_pipeline("no/such/file.txt"), class = "bootscale_error_file_not_found")
})

test_that("a file without usable rows is blamed, not the arguments it never saw", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  files <- list(
    character(),                          # empty
    c("0 10 5", "0 11 7"),                # only empty files
    c("1024 500 5", "2048 -20 7"),        # no year in 2010-2020
    c("1024 10 0", "2048 10 0")           # no files counted
  )
  for (lines in files) {
    writeLines(lines, tmp)
    err <- expect_error(filesize_pipeline(tmp, n_means = 10, seed = 1),
                        class = "bootscale_error_no_data")
    msg <- conditionMessage(err)
    expect_match(msg, "histogram file", fixed = TRUE)
    expect_match(msg, basename(tmp), fixed = TRUE)
    expect_no_match(msg, "`value`|`weight`")
    expect_identical(err$call, quote(filesize_pipeline(tmp, n_means = 10, seed = 1)))
  }
  # one year without files among good ones
  writeLines(c("1024 10 5", "2048 30 0", "4096 30 0"), tmp)
  expect_error(filesize_pipeline(tmp, n_means = 10, seed = 1), "Year = 2018",
               class = "bootscale_error_no_data")
  writeLines(c("1024 10 5", "2048 30 0", "4096 31 2"), tmp)
  expect_identical(filesize_pipeline(tmp, n_means = 10, seed = 1)$Year, c(2018L, 2020L))
})
