# The bad-input matrix: the exported functions of the data, sampling,
# bootstrap, pipeline and pool files against every kind of bad argument.
# Each case asserts its specific error class, and all its group's messages
# go to one snapshot (_snaps/checks.md) for review.
#
# The shared checkers (check_count(), check_values(), check_weights(),
# check_seed(), check_workers(), check_conf_level()) get most kinds of bad
# value once, through bootstrap_means() and bootstrap_mean(); the other
# arguments that use them get a few. Each case costs about 0.1 s (cli formats
# the message for the error and again for the snapshot), so the full cross
# product would take minutes.

# Machine-dependent parts of messages: temporary paths and memory sizes.
scrub <- function(x) {
  for (dir in unique(c(tempdir(), normalizePath(tempdir())))) {
    x <- gsub(dir, "<tmp>", x, fixed = TRUE)
  }
  gsub("[0-9.]+(e[+][0-9]+)? GiB", "<n> GiB", x)
}

# expect_bad_inputs({ what ~ code; ... }): each `code` fails with class
# bootscale_error_<what>; then one snapshot records all their messages.
expect_bad_inputs <- function(cases, env = parent.frame()) {
  cases <- as.list(substitute(cases))[-1]
  codes <- lapply(cases, function(case) {
    class <- paste0("bootscale_error_", as.character(case[[2]]))
    eval(bquote(expect_error(.(case[[3]]), class = .(class))), env)
    case[[3]]
  })
  eval(bquote(expect_snapshot(error = TRUE, transform = scrub, {
    ..(codes)
  }), splice = TRUE), env)
}

test_that("filesizes_example() needs nothing and finds the file", {
  expect_no_error(path <- filesizes_example())
  expect_type(path, "character")
  expect_length(path, 1L)
  expect_identical(basename(path), "filesizes_example.txt")
  expect_true(file.exists(path))
  expect_gt(file.size(path), 0)
})

test_that("read_filesizes() refuses bad paths and malformed files", {
  expect_bad_inputs({
    bad_string ~ read_filesizes(c("a.txt", "b.txt"))
    bad_string ~ read_filesizes(NULL)
    file_not_found ~ read_filesizes("no/such/file.txt")
    file_not_found ~ read_filesizes(tempdir())
  })

  path <- file.path(tempdir(), "hist.txt")  # a fixed name, for the snapshot
  withr::defer(unlink(path))
  read_lines <- function(...) {
    writeLines(c(...), path)
    read_filesizes(path)
  }
  expect_bad_inputs({
    bad_format ~ read_lines("1024 10")
    bad_format ~ read_lines("1024 10 abc")
    bad_format ~ read_lines("1024 10 -5")
    bad_format ~ read_lines("1024 10 2.5")
  })
  # Line numbers count blank lines; NUL bytes and UTF-16 are not text.
  read_bytes <- function(...) {
    writeBin(c(...), path)
    read_filesizes(path)
  }
  expect_bad_inputs({
    bad_format ~ read_lines("1024 10 5", "", "  ", "2048 10")
    bad_format ~ read_lines("", "1024 10 5", "", "2048 10 Inf")
    bad_format ~ read_bytes(charToRaw("1024 10 5\n2048 10"), as.raw(0), charToRaw(" 3\n"))
    bad_format ~ read_bytes(as.raw(c(0xff, 0xfe)), charToRaw("1024 10 5\n"))
  })
})

test_that("simulate_filesizes() checks its years, sizes and seed", {
  expect_bad_inputs({
    bad_count ~ simulate_filesizes(first_year = 1899)
    bad_count ~ simulate_filesizes(first_year = 2019, last_year = 2018)
    bad_count ~ simulate_filesizes(first_year = 2019, max_log2 = 61)
    bad_count ~ simulate_filesizes(first_year = 2019, out_of_range = -1)
    bad_seed ~ simulate_filesizes(first_year = 2019, seed = NaN)
  })
})

test_that("write_filesizes() checks the data, its columns and the path", {
  sim <- simulate_filesizes(first_year = 2020, out_of_range = 2, seed = 1)
  path <- file.path(withr::local_tempdir(), "out.txt")
  connections <- nrow(showConnections(all = TRUE))
  expect_bad_inputs({
    bad_data ~ write_filesizes(NULL, path)
    missing_column ~ write_filesizes(sim[c("Bytes", "MonthsTo2021")], path)
    bad_values ~ write_filesizes(transform(sim, Files = NA), path)
    bad_values ~ write_filesizes(transform(sim, Files = -1), path)
    bad_values ~ write_filesizes(transform(sim, MonthsTo2021 = "a"), path)
    bad_string ~ write_filesizes(sim, NA)
    file_not_writable ~ write_filesizes(sim, file.path(tempdir(), "no", "such", "x.txt"))
  })
  expect_false(file.exists(path))
  # A failed open leaves no connection behind.
  expect_identical(nrow(showConnections(all = TRUE)), connections)
})

test_that("aggregate_filesizes() checks data, columns and fn", {
  fs <- read_filesizes(filesizes_example())[1:200, ]
  expect_bad_inputs({
    bad_data ~ aggregate_filesizes(NULL)
    missing_column ~ aggregate_filesizes(fs[c("Year", "Files", "SpaceUsage")])
    missing_column ~ aggregate_filesizes(fs, by = "Nope")
    missing_column ~ aggregate_filesizes(fs, targets = c("Files", "Nope"))
    bad_by ~ aggregate_filesizes(fs, by = c("Year", "Files"))
    bad_function ~ aggregate_filesizes(fs, fn = "sum")
    bad_function ~ aggregate_filesizes(fs, fn = range)
    bad_function ~ aggregate_filesizes(fs, fn = function(x) stop("no sums today"))
    bad_function ~ aggregate_filesizes(fs, targets = "Month")
  })
  listy <- data.frame(Files = 1:4)
  listy$l <- I(list(1, 2, 1, 2))
  listy$m <- matrix(1:8, 4)
  listy$df <- data.frame(a = c(1, 2, 1, 2))
  expect_bad_inputs({
    bad_by ~ aggregate_filesizes(listy, by = "l", targets = "Files")
    bad_by ~ aggregate_filesizes(listy, by = "m", targets = "Files")
    bad_by ~ aggregate_filesizes(listy, by = "df", targets = "Files")
  })
  # Not errors: repeated names are used once, and NA counts sum to NA.
  once <- aggregate_filesizes(fs, by = c("Year", "Year"), targets = c("Files", "Files"))
  expect_identical(once, aggregate_filesizes(fs, by = "Year", targets = "Files"))
  with_na <- aggregate_filesizes(transform(fs, Files = NA_integer_), by = "Year", targets = "Files")
  expect_true(all(is.na(with_na$Files)))
})

test_that("wsample() checks x, size, prob, workers and seed", {
  expect_bad_inputs({
    bad_values ~ wsample(NULL, 2)
    bad_values ~ wsample(mean, 2)
    bad_count ~ wsample(1:3, -1)
    too_large ~ wsample(1:3, 1e15)
    bad_weights ~ wsample(1:3, 2, prob = c(1, NA, 1))
    bad_weights ~ wsample(1:3, 2, prob = c(0, 0, 0))
    bad_weights ~ wsample(1:3, 2, prob = c(1, 2))
    bad_workers ~ wsample(1:3, 2, workers = 0)
    bad_seed ~ wsample(1:3, 2, seed = Inf)
  })
})

test_that("bootstrap_means() checks x", {
  expect_bad_inputs({
    bad_values ~ bootstrap_means(NA)
    bad_values ~ bootstrap_means(c(1, NaN, 3))
    bad_values ~ bootstrap_means(c(-Inf, 2, NA))
    bad_values ~ bootstrap_means(numeric())
    bad_values ~ bootstrap_means(NULL)
    bad_values ~ bootstrap_means(c("1", "2"))
    bad_values ~ bootstrap_means(factor(1:3))
    bad_values ~ bootstrap_means(data.frame(x = 1:3))
  })
})

test_that("bootstrap_means() refuses dates, times, durations and other classed numbers", {
  expect_bad_inputs({
    bad_values ~ bootstrap_means(as.Date("2020-01-01") + 0:2)
    bad_values ~ bootstrap_means(as.difftime(c(1, 5, 9), units = "mins"))
    bad_values ~ bootstrap_means(as.POSIXct("2020-01-01", tz = "UTC") + 0:2)
    bad_values ~ bootstrap_means(structure(1:3, class = "myunits"))
    bad_values ~ bootstrap_means(as.Date("2020-01-01"))
    bad_weights ~ bootstrap_means(1:3, as.Date("2020-01-01") + 0:2)
    bad_weights ~ bootstrap_means(1:3, as.difftime(1:3, units = "secs"))
    bad_values ~ bootstrap_mean(data.frame(d = as.Date("2020-01-01") + 0:2), d)
    bad_weights ~ bootstrap_mean(data.frame(v = 1:3, w = as.difftime(1:3, units = "days")), v, w)
    bad_count ~ bootstrap_means(1:3, n_means = as.Date("2020-01-01"))
  })
  # Plain numbers, also behind I(), are numbers.
  expect_identical(bootstrap_means(I(1:3), I(c(1, 2, 3)), n_means = 10, seed = 1),
                   bootstrap_means(1:3, c(1, 2, 3), n_means = 10, seed = 1))
})

test_that("bootstrap_means() checks weights", {
  expect_bad_inputs({
    bad_weights ~ bootstrap_means(1:3, c(1, NA, 1))
    bad_weights ~ bootstrap_means(1:3, c(1, Inf, 1))
    bad_weights ~ bootstrap_means(1:3, c(1, -1, -2))
    bad_weights ~ bootstrap_means(1:3, c(0, 0, 0))
    bad_weights ~ bootstrap_means(1:3, c(1, 2))
    bad_weights ~ bootstrap_means(1:3, c("1", "1", "1"))
    bad_weights ~ bootstrap_means(1:3, factor(1:3))
    bad_weights ~ bootstrap_means(1:3, data.frame(w = 1:3))
  })
})

test_that("bootstrap_means() checks n_means and sample_size", {
  expect_bad_inputs({
    bad_count ~ bootstrap_means(1:3, n_means = NA)
    bad_count ~ bootstrap_means(1:3, n_means = Inf)
    bad_count ~ bootstrap_means(1:3, n_means = 0)
    bad_count ~ bootstrap_means(1:3, n_means = 1.5)
    bad_count ~ bootstrap_means(1:3, n_means = c(10, 20))
    bad_count ~ bootstrap_means(1:3, n_means = "10")
    bad_count ~ bootstrap_means(1:3, n_means = factor(10))
    bad_count ~ bootstrap_means(1:3, n_means = NULL)
    too_large ~ bootstrap_means(1:3, n_means = 1e15)
    too_large ~ bootstrap_means(1:3, n_means = 2^53)
    bad_count ~ bootstrap_means(1:3, sample_size = 0)
    bad_count ~ bootstrap_means(1:3, sample_size = 2^52)
  })
})

test_that("bootstrap_means() checks workers and seed", {
  expect_bad_inputs({
    bad_workers ~ bootstrap_means(1:3, workers = NA)
    bad_workers ~ bootstrap_means(1:3, workers = 0)
    bad_workers ~ bootstrap_means(1:3, workers = 1.5)
    bad_workers ~ bootstrap_means(1:3, workers = 257)
    bad_workers ~ bootstrap_means(1:3, workers = c(1, 2))
    bad_workers ~ bootstrap_means(1:3, workers = "2")
    bad_seed ~ bootstrap_means(1:3, seed = NA)
    bad_seed ~ bootstrap_means(1:3, seed = NaN)
    bad_seed ~ bootstrap_means(1:3, seed = Inf)
    bad_seed ~ bootstrap_means(1:3, seed = "1")
    bad_seed ~ bootstrap_means(1:3, seed = c(1, 2))
    bad_seed ~ bootstrap_means(1:3, seed = 1.5)
  })
})

test_that("too large a request is refused at once, before allocating", {
  # R's own record of the most memory its heap held: no result vector (8 PB
  # here) was attempted, nor anything else large. Counted, not timed; cli
  # formatting an error churns about 10 MB, hence the margin.
  max_used_mb <- function() {
    g <- gc()
    sum(g[, which(colnames(g) == "max used") + 1]) # the (Mb) column after it
  }
  refuse <- function() {
    expect_error(bootstrap_means(1:3, n_means = 1e15), class = "bootscale_error_too_large")
    expect_error(wsample(1:3, 1e15), class = "bootscale_error_too_large")
    expect_error(bootstrap_mean(data.frame(v = 1:3), v, n_means = 1e15),
                 class = "bootscale_error_too_large")
  }
  refuse() # the first errors load what cli and rlang need to format them
  gc(reset = TRUE)
  before <- max_used_mb()
  refuse()
  expect_lt(max_used_mb() - before, 100)
})

test_that("weights whose sum overflows work, and give the equal-weight answer", {
  for (k in c(10, 100)) {  # with and without the table of pairs (k <= 64)
    for (big in c(1e308, .Machine$double.xmax)) {
      m <- bootstrap_means(seq_len(k), rep(big, k), n_means = 500, seed = 1)
      expect_true(all(is.finite(m)))
      expect_identical(m, bootstrap_means(seq_len(k), rep(1, k), n_means = 500, seed = 1))
    }
  }
  s <- wsample(1:10, 1000, prob = rep(1e308, 10), seed = 2)
  expect_identical(s, wsample(1:10, 1000, prob = rep(1, 10), seed = 2))
  d <- data.frame(v = 1:20, w = 1e308, g = rep(1:2, 10))
  res <- bootstrap_mean(d, v, w, .by = g, n_means = 500, seed = 3)
  expect_true(all(is.finite(c(res$estimate, res$std.error, res$conf.low, res$conf.high))))
  # A huge and a tiny weight together: the tiny one is never drawn.
  m <- bootstrap_means(c(1, 2), c(1e308, 1e-300), n_means = 100, seed = 4)
  expect_true(all(m == 1))
})

test_that("bootstrap_mean() checks the data, value and weight", {
  d <- data.frame(v = c(1, 2, 3, 4), w = c(1, 1, 0, 0), g = c("a", "a", "b", "b"))
  expect_bad_inputs({
    bad_data ~ bootstrap_mean(d$v, v)
    missing_column ~ bootstrap_mean(d)
    missing_column ~ bootstrap_mean(d, nope)
    bad_values ~ bootstrap_mean(d, "v")
    bad_values ~ bootstrap_mean(d, v[1:2])
    bad_values ~ bootstrap_mean(d[0, ], v)
    missing_column ~ bootstrap_mean(d, v, nope)
    bad_weights ~ bootstrap_mean(d, v, -w)
    bad_weights ~ bootstrap_mean(d, v, w * 0)
    bad_weights ~ bootstrap_mean(d, v, w, .by = g)
  })
})

test_that("bootstrap_mean() checks .by", {
  d <- data.frame(v = c(1, 2, 3, 4), g = c("a", "a", "b", "b"))
  expect_bad_inputs({
    missing_column ~ bootstrap_mean(d, v, .by = nope)
    missing_column ~ bootstrap_mean(d, v, .by = "nope")
    missing_column ~ bootstrap_mean(d, v, .by = character())
    missing_column ~ bootstrap_mean(d, v, .by = NA)
  })
  d$l <- I(list(1, 2, 1, 2))
  d$df <- data.frame(a = c(1, 2, 1, 2))
  d$estimate <- 1
  expect_bad_inputs({
    bad_by ~ bootstrap_mean(d, v, .by = l)
    bad_by ~ bootstrap_mean(d, v, .by = c(g, df))
    bad_by ~ bootstrap_mean(d, v, .by = c(g, estimate))
  })
})

test_that("bootstrap_mean() refuses .by on grouped data", {
  skip_if_not_installed("dplyr")
  d <- data.frame(v = c(1, 2, 3, 4), g = c("a", "a", "b", "b"))
  expect_bad_inputs({
    bad_by ~ bootstrap_mean(dplyr::group_by(d, g), v, .by = g)
  })
})

test_that("bootstrap_mean() checks conf_level, keep_samples, counts, workers, seed", {
  d <- data.frame(v = c(1, 2, 3, 4))
  expect_bad_inputs({
    bad_conf_level ~ bootstrap_mean(d, v, conf_level = 0)
    bad_conf_level ~ bootstrap_mean(d, v, conf_level = 1)
    bad_conf_level ~ bootstrap_mean(d, v, conf_level = 95)
    bad_conf_level ~ bootstrap_mean(d, v, conf_level = NA)
    bad_conf_level ~ bootstrap_mean(d, v, conf_level = "0.95")
    bad_flag ~ bootstrap_mean(d, v, keep_samples = NA)
    bad_count ~ bootstrap_mean(d, v, n_means = 2.5)
    too_large ~ bootstrap_mean(d, v, n_means = 1e15)
    bad_count ~ bootstrap_mean(d, v, sample_size = -1)
    bad_workers ~ bootstrap_mean(d, v, workers = 1.5)
    bad_seed ~ bootstrap_mean(d, v, seed = c(1, 2))
  })
})

test_that("filesize_pipeline() checks every argument", {
  small <- withr::local_tempfile(fileext = ".txt")  # small, so that each case is fast
  write_filesizes(simulate_filesizes(first_year = 2019, out_of_range = 5, seed = 1), small)
  expect_bad_inputs({
    bad_string ~ filesize_pipeline(NA)
    missing_column ~ filesize_pipeline(small, by = "Nope")
    bad_by ~ filesize_pipeline(small, by = "BytesLog2")
    bad_by ~ filesize_pipeline(small, by = c("Year", "Files"))
    bad_count ~ filesize_pipeline(small, n_means = 0)
    too_large ~ filesize_pipeline(small, n_means = 1e15)
    bad_conf_level ~ filesize_pipeline(small, conf_level = NA)
    bad_workers ~ filesize_pipeline(small, workers = 257)
    bad_seed ~ filesize_pipeline(small, seed = "1")
  })
  # Files without usable rows: the file is to blame, not `value` or `weight`.
  path <- file.path(tempdir(), "hist.txt")  # a fixed name, for the snapshot
  withr::defer(unlink(path))
  pipeline_on <- function(...) {
    writeLines(c(...), path)
    filesize_pipeline(path, n_means = 10, seed = 1)
  }
  expect_bad_inputs({
    no_data ~ pipeline_on(character())
    no_data ~ pipeline_on("0 10 5", "0 11 7")
    no_data ~ pipeline_on("1024 500 5", "2048 -20 7")
    no_data ~ pipeline_on("1024 10 5", "2048 30 0")
  })
  # Not an error: a repeated grouping column is used once.
  expect_identical(filesize_pipeline(small, by = c("Year", "Year"), n_means = 10, seed = 1),
                   filesize_pipeline(small, by = "Year", n_means = 10, seed = 1))
})

test_that("the bootscale.workers option is checked where it is used", {
  expect_bad_inputs({
    bad_workers ~ withr::with_options(list(bootscale.workers = "a"), default_workers())
    bad_workers ~ withr::with_options(list(bootscale.workers = 0), default_workers())
    bad_workers ~ withr::with_options(list(bootscale.workers = 0), bootstrap_means(1:3))
  })
  withr::local_options(list(bootscale.workers = 2))
  expect_identical(default_workers(), 2L)
  withr::local_options(list(bootscale.workers = NULL))
  expect_gte(default_workers(), 1L)
  expect_lte(default_workers(), 256L)
})

test_that("after bad inputs and failures on the parallel path no child, fd or connection is left", {
  skip_if_no_fork()
  skip_if(parallelly::availableCores(omit = 0L) < 2, "fewer than 2 cores")
  local_no_children()
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE))
  pool_start(2) # its descriptors are the pool's, before and after
  d <- data.frame(v = 1:40, w = rep(c(1, 0, 2), length.out = 40), g = rep(1:4, 10))
  bootstrap_mean(d, v, w, .by = g, n_means = 5000, workers = 2) # makes the pool's cache
  fds <- open_fds()
  connections <- nrow(showConnections(all = TRUE))
  expect_bad_inputs({
    bad_weights ~ bootstrap_means(1:10, c(1:9, NA), n_means = 5000, workers = 2)
    bad_weights ~ bootstrap_mean(d, v, w * (g != 2), .by = g, n_means = 5000, workers = 2)
    bad_conf_level ~ filesize_pipeline(n_means = 5000, workers = 2, conf_level = 2)
  })
  expect_identical(open_fds(), fds)
  # Failures after the job is on the pool: an R error in the middle of the
  # run (a time limit, checked where R checks for interrupts) ...
  hook <- list(action = "sleep", block = 3, seconds = 0.5)
  withr::with_options(list(bootscale.test_hook = hook), {
    setTimeLimit(elapsed = 0.3, transient = TRUE)
    expect_error(bootstrap_mean(d, v, w, .by = g, n_means = 5000, workers = 2), "time limit")
    setTimeLimit()
  })
  expect_identical(pool_status()$state, "running")
  expect_identical(open_fds(), fds)
  # ... and a worker that crashes (the pool is stopped, rebuilt next call)
  withr::with_options(list(bootscale.test_hook = list(action = "segv", block = 2)), {
    expect_error(bootstrap_means(1:10, n_means = 5000, workers = 2),
                 class = "bootscale_error_worker")
  })
  expect_identical(pool_status()$state, "stopped")
  expect_identical(open_fds(), fds - 3L) # the pool's two sockets and its cache are closed
  # The pool still works, and agrees with one worker.
  strip <- function(x) `attr<-`(x, "processes", NULL)
  expect_identical(strip(bootstrap_means(1:10, n_means = 5000, workers = 2, seed = 1)),
                   strip(bootstrap_means(1:10, n_means = 5000, workers = 1, seed = 1)))
  expect_identical(strip(bootstrap_mean(d, v, w, .by = g, n_means = 3000, workers = 2, seed = 2)),
                   strip(bootstrap_mean(d, v, w, .by = g, n_means = 3000, workers = 1, seed = 2)))
  expect_identical(open_fds(), fds)
  expect_identical(nrow(showConnections(all = TRUE)), connections)
})

test_that("what was found is shown as it is, braces included", {
  expect_error(bootstrap_means(1:3, seed = "{x}"), 'It is the string "{x}".', fixed = TRUE,
               class = "bootscale_error_bad_seed")
  expect_error(wsample(1:3, 2, prob = c("{", "}", "a")), "It is a character vector of length 3.",
               fixed = TRUE, class = "bootscale_error_bad_weights")
})
