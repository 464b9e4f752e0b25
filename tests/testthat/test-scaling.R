scaling_columns <- c("workers", "seconds", "speedup", "efficiency", "max_abs_diff")

test_that("scaling_benchmark() recovers Amdahl's parallel fraction of a sleeping job", {
  serial <- 0.05
  parallel <- 0.3
  job <- function(workers) {
    Sys.sleep(serial + parallel / workers)
    c(1, 2, 3)
  }
  res <- scaling_benchmark(job, workers = c(1, 2, 4), times = 3)
  expect_s3_class(res, c("bootscale_scaling", "tbl_df"))
  expect_named(res, scaling_columns)
  expect_identical(res$workers, c(1L, 2L, 4L))
  expect_identical(res$speedup[1], 1)
  expect_equal(res$efficiency, res$speedup / res$workers)
  expect_identical(res$max_abs_diff, c(0, 0, 0))
  expect_true(all(res$seconds > 0))

  fit <- attr(res, "amdahl")
  expect_named(fit, c("p", "ceiling", "rmse"))
  expect_lt(abs(fit$p - parallel / (serial + parallel)), 0.1)
  expect_equal(fit$ceiling, 1 / (1 - fit$p))
  expect_identical(attr(res, "reference"), 1L)
})

test_that("scaling_benchmark() calls fun once to warm up, then times each count", {
  calls <- integer()
  fun <- function(w) {
    calls <<- c(calls, w)
    w
  }
  res <- scaling_benchmark(fun, workers = c(3, 1, 2, 2), times = 2)
  expect_identical(calls, c(1L, 1L, 1L, 2L, 2L, 3L, 3L) + 0)
  expect_identical(res$workers, 1:3)
})

test_that("without one worker, speedups are against the smallest count", {
  res <- scaling_benchmark(function(w) w, workers = c(4, 2), times = 1)
  expect_identical(attr(res, "scaling"), "strong")
  expect_identical(attr(res, "reference"), 2L)
  expect_identical(res$workers, c(2L, 4L))
  expect_identical(res$speedup[1], 1)
  expect_equal(res$efficiency, res$speedup / (res$workers / 2))
  expect_identical(res$max_abs_diff, c(0, 2))
})

test_that("max_abs_diff compares numbers and numeric columns, else NA", {
  df_job <- function(w) data.frame(a = c(1, 2) * w, b = c("x", "y"), n = 1:2)
  res <- scaling_benchmark(df_job, workers = 1:3, times = 1)
  expect_identical(res$max_abs_diff, c(0, 2, 4))

  res <- scaling_benchmark(function(w) letters[w], workers = 1:2, times = 1)
  expect_identical(res$max_abs_diff, c(NA_real_, NA_real_))

  diff <- bootscale:::max_abs_diff
  expect_identical(diff(c(1, NA, 3), c(1.5, NA, 3)), 0.5)
  expect_identical(diff(c(1, NA), c(NA, 1)), NA_real_)
  expect_identical(diff(1:3, 1:4), NA_real_)
  expect_identical(diff(c(Inf, 1), c(Inf, 1)), 0)
  expect_identical(diff(matrix(1:4, 2), matrix(c(1, 2, 3, 7), 2)), 3)
  expect_identical(diff(list(1), list(1)), NA_real_)
  expect_identical(diff(data.frame(a = 1), data.frame(a = 1:2)), NA_real_)
  expect_identical(diff(data.frame(s = "a"), data.frame(s = "a")), NA_real_)
  expect_identical(diff(numeric(), numeric()), 0)
})

test_that("bootscale's own resampling has max_abs_diff 0 for any worker count", {
  fs <- aggregate_filesizes(read_filesizes(filesizes_example()))
  res <- scaling_benchmark(function(w) {
    bootstrap_mean(fs, BytesLog2, Files, .by = Year, n_means = 200, workers = w, seed = 3)
  }, workers = 1:2, times = 1)
  expect_identical(res$max_abs_diff, c(0, 0))
})

test_that("scaling results print with the Amdahl fit", {
  res <- bootscale:::new_scaling(c(1, 2, 4, 8), 0.1 + 0.9 / c(1, 2, 4, 8))
  expect_output(print(res), "A tibble: 4")
  expect_output(print(res), "Amdahl fit: parallel fraction p = 0.90, ceiling 10x", fixed = TRUE)
  expect_output(print(res), "Strong scaling (the same work for every worker count)", fixed = TRUE)
  one <- bootscale:::new_scaling(1, 1)
  expect_output(print(one), "Amdahl fit: needs at least three worker counts")
  # Two counts are one speedup for one unknown: no fit.
  two <- bootscale:::new_scaling(1:2, c(1, 0.6))
  expect_true(is.na(attr(two, "amdahl")$p))
  # Zero times give no finite speedups to fit, and no error.
  zero <- bootscale:::new_scaling(1:3, c(0, 0, 0))
  expect_true(is.na(attr(zero, "amdahl")$p))
})

test_that("amdahl_fit() recovers p exactly from Amdahl speedups", {
  n <- c(1, 2, 4, 8, 16)
  for (p in c(0, 0.5, 0.93, 1)) {
    fit <- amdahl_fit(n, 1 / ((1 - p) + p / n))
    expect_s3_class(fit, "tbl_df")
    expect_equal(fit$p, p, tolerance = 1e-6)
    expect_lt(fit$rmse, 1e-6)
  }
  expect_identical(amdahl_fit(n, 1 / (0 + 1 / n))$ceiling, Inf)
  expect_equal(amdahl_fit(c(1, 2), c(1, 1 / 0.55))$ceiling, 10, tolerance = 1e-6)
})

test_that("amdahl_fit() handles other references, bounds and too few counts", {
  p <- 0.8
  n <- c(2, 4, 8)
  s1 <- 1 / ((1 - p) + p / n)
  fit <- amdahl_fit(n, s1 / s1[1])
  expect_equal(fit$p, p, tolerance = 1e-6)
  # Slower with more workers: p is clamped at 0.
  expect_identical(amdahl_fit(c(1, 2, 4), c(1, 0.9, 0.8))$p, 0)
  # Faster than linear: clamped at 1.
  expect_identical(amdahl_fit(c(1, 2), c(1, 3))$p, 1)
  expect_true(is.na(amdahl_fit(2, 1)$p))
})

test_that("scaling functions give classed errors", {
  expect_error(scaling_benchmark("f"), class = "bootscale_error_bad_function")
  f <- function(w) w
  expect_error(scaling_benchmark(f, workers = 0), class = "bootscale_error_bad_workers")
  expect_error(scaling_benchmark(f, workers = c(1, NA)), class = "bootscale_error_bad_workers")
  expect_error(scaling_benchmark(f, workers = 1.5), class = "bootscale_error_bad_workers")
  expect_error(scaling_benchmark(f, workers = "2"), class = "bootscale_error_bad_workers")
  expect_error(scaling_benchmark(f, workers = 1, times = 0), class = "bootscale_error_bad_count")
  expect_error(amdahl_fit(1:2, c(1, -1)), class = "bootscale_error_bad_speedup")
  expect_error(amdahl_fit(1:2, 1), class = "bootscale_error_bad_speedup")
  expect_error(amdahl_fit(1:2, c(1, NA)), class = "bootscale_error_bad_speedup")
  expect_error(scaling_benchmark(f, workers = c(0, 1)),
               "must be whole numbers, each at least 1")
})

test_that("a benchmark past the core count does not repeat the oversubscription warning", {
  cores <- parallelly::availableCores(omit = 0L)
  over <- c(cores + 1, cores + 2)
  job <- function(w) bootstrap_means(1:3, n_means = 10, workers = w, seed = 1)
  # the single call warns, as before
  expect_warning(job(cores + 1), class = "bootscale_warning_oversubscribed")
  warned <- 0
  res <- withCallingHandlers(
    scaling_benchmark(job, workers = c(1, over), times = 3),
    warning = function(w) {
      warned <<- warned + 1
      invokeRestart("muffleWarning")
    }
  )
  expect_identical(warned, 0)
  expect_identical(res$max_abs_diff, c(0, 0, 0))
  expect_identical(attr(res, "cores"), as.integer(cores))
  # the printed table names the counts above the cores instead
  out <- paste(capture.output(print(res)), collapse = "\n")
  expect_match(out, sprintf("Above the %d available core", cores), fixed = TRUE)
  expect_match(out, sprintf("%d and %d workers", over[1], over[2]), fixed = TRUE)
  within <- scaling_benchmark(function(w) w, workers = 1, times = 1)
  expect_no_match(paste(capture.output(print(within)), collapse = "\n"), "Above the")
  # other warnings of fun still pass: one from the warm-up, one timed
  mine <- 0
  withCallingHandlers(
    scaling_benchmark(function(w) warning("mine"), workers = 1, times = 1),
    warning = function(w) {
      if (identical(conditionMessage(w), "mine")) mine <<- mine + 1
      invokeRestart("muffleWarning")
    }
  )
  expect_identical(mine, 2)
})

test_that("weak scaling reports the scaled speedup and fits Gustafson's law", {
  serial <- 0.02
  share <- 0.08
  # Each worker keeps the same share of parallel work: ideally flat time.
  job <- function(workers) {
    Sys.sleep(serial + share * workers / workers)
    workers
  }
  res <- scaling_benchmark(job, workers = c(1, 2, 4), times = 2, scaling = "weak")
  expect_s3_class(res, c("bootscale_scaling", "tbl_df"))
  expect_named(res, scaling_columns)
  expect_identical(attr(res, "scaling"), "weak")
  expect_null(attr(res, "amdahl"))
  expect_type(res$speedup, "double")
  expect_identical(res$max_abs_diff, rep(NA_real_, 3))
  expect_equal(res$speedup, res$workers * res$seconds[1] / res$seconds)
  expect_equal(res$efficiency, res$speedup / res$workers)
  # Flat time: the scaled speedup is close to the worker count.
  expect_equal(res$speedup, c(1, 2, 4), tolerance = 0.25)
  fit <- attr(res, "gustafson")
  expect_named(fit, c("p", "ceiling", "rmse"))
  expect_gt(fit$p, 0.8)
  expect_identical(fit$ceiling, Inf)
  expect_output(print(res), "Weak scaling (work grows with workers", fixed = TRUE)
  expect_output(print(res), "Gustafson fit: parallel fraction p = ")
})

test_that("new_scaling() computes the weak-scaling columns exactly", {
  # Time grows by 0.1 s per added worker on top of 1 s.
  w <- c(1, 2, 4)
  secs <- 1 + 0.1 * (w - 1)
  res <- bootscale:::new_scaling(w, secs, scaling = "weak", cores = 4)
  expect_equal(res$speedup, w * 1 / secs)
  expect_equal(res$efficiency, 1 / secs)
  expect_identical(attr(res, "cores"), 4L)
  # Relative to two workers.
  rel <- bootscale:::new_scaling(c(2, 4, 8), c(1, 1.25, 2), scaling = "weak")
  expect_equal(rel$speedup, c(1, 2 / 1.25, 4 / 2))
  expect_equal(rel$efficiency, rel$speedup / c(1, 2, 4))
  expect_identical(attr(rel, "reference"), 2L)
})

test_that("gustafson_fit() recovers p exactly from Gustafson speedups", {
  n <- c(1, 2, 4, 8, 16)
  for (p in c(0, 0.3, 0.95, 1)) {
    fit <- gustafson_fit(n, (1 - p) + p * n)
    expect_s3_class(fit, "tbl_df")
    expect_equal(fit$p, p, tolerance = 1e-6)
    expect_lt(fit$rmse, 1e-6)
    expect_identical(fit$ceiling, Inf)
  }
  # Relative to two workers.
  p <- 0.7
  n <- c(2, 4, 8)
  s <- ((1 - p) + p * n) / ((1 - p) + p * 2)
  expect_equal(gustafson_fit(n, s)$p, p, tolerance = 1e-6)
  # Slower than serial with more work: clamped at 0.
  expect_identical(gustafson_fit(c(1, 2, 4), c(1, 0.9, 0.8))$p, 0)
  expect_true(is.na(gustafson_fit(3, 1)$p))
  expect_error(gustafson_fit(1:2, c(1, 0)), class = "bootscale_error_bad_speedup")
  expect_error(gustafson_fit(c(1, 1.5), c(1, 2)), class = "bootscale_error_bad_workers")
})

test_that("the cores available are recorded", {
  res <- scaling_benchmark(function(w) w, workers = 1:2, times = 1)
  expect_identical(attr(res, "cores"), as.integer(parallelly::availableCores(omit = 0L)))
  expect_output(print(res), sprintf("measured with %d core", attr(res, "cores")))
})

test_that("a bad scaling mode is a classed error", {
  f <- function(w) w
  expect_error(scaling_benchmark(f, scaling = "medium"), class = "bootscale_error_bad_scaling")
  expect_error(scaling_benchmark(f, scaling = NA_character_),
               class = "bootscale_error_bad_scaling")
  expect_error(scaling_benchmark(f, scaling = c("weak", "strong")),
               class = "bootscale_error_bad_scaling")
  expect_snapshot(scaling_benchmark(f, scaling = "medium"), error = TRUE)
})
