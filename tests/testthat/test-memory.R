mib <- 2^20
n_bytes <- 200 * mib
memit_columns <- c("start", "peak", "increment", "children_peak", "heap_peak",
                   "heap_increment", "seconds", "method")

snapshot <- function() .Call(bootscale:::C_bs_memory_snapshot, FALSE)

test_that("memit() returns one row of typed measurements and keeps the value", {
  m <- memit(sum(1:10))
  expect_s3_class(m, "tbl_df")
  expect_named(m, memit_columns)
  expect_equal(nrow(m), 1L)
  for (col in setdiff(memit_columns, "method")) expect_type(m[[col]], "double")
  expect_type(m$method, "character")
  expect_identical(attr(m, "value"), 55L)
  expect_gte(m$seconds, 0)
  expect_gte(m$increment, 0)
  expect_gte(m$heap_peak, m$heap_increment)
  if (.Platform$OS.type == "unix") {
    expect_true(m$method %in% c("clear_refs+VmHWM", "VmHWM (not reset)", "getrusage"))
    expect_gt(m$peak, 0)
    expect_gte(m$peak, m$start)
  }
})

test_that("memit() evaluates in the caller's environment and passes errors on", {
  a <- 2
  m <- memit(b <- a * 21)
  expect_identical(b, 42)
  expect_identical(attr(m, "value"), 42)
  expect_error(memit(stop("boom")), "boom")
})

test_that("on Linux the peak is reset with clear_refs", {
  skip_on_os(c("windows", "mac", "solaris"))
  skip_if_not(file.exists("/proc/self/clear_refs"))
  m <- memit(NULL)
  expect_identical(m$method, "clear_refs+VmHWM")
})

skip_unless_peak_resets <- function(m) {
  if (!identical(m$method, "clear_refs+VmHWM")) {
    skip(paste("the resident peak cannot be reset here:", m$method))
  }
}

test_that("memit() sees a 200 MB R allocation, kept or freed, within 15%", {
  skip_on_valgrind()
  gc()
  kept <- memit(numeric(n_bytes / 8))
  expect_length(attr(kept, "value"), n_bytes / 8)
  # R's heap sees the kept vector on every platform.
  expect_equal(kept$heap_increment, 200, tolerance = 0.15)
  attr(kept, "value") <- NULL
  gc()

  freed <- memit({
    x <- numeric(n_bytes / 8)
    rm(x)
    NULL
  })
  # Garbage counts in the heap until it is collected.
  expect_equal(freed$heap_increment, 200, tolerance = 0.15)
  skip_unless_peak_resets(kept)
  expect_equal(kept$increment, 200, tolerance = 0.15)
  expect_equal(kept$peak - kept$start, kept$increment)
  # The vector was freed before memit() returned: only the peak shows it.
  expect_equal(freed$increment, 200, tolerance = 0.15)
})

test_that("memit() sees a 200 MB allocation made in C within 15%", {
  skip_on_valgrind()
  gc()
  m <- memit(.Call(bootscale:::C_bs_test_memory_touch, n_bytes))
  skip_unless_peak_resets(m)
  expect_equal(m$increment, 200, tolerance = 0.15)
  # C memory is not R's heap.
  expect_lt(m$heap_increment, 5)
  # It was freed: the resident set is back near the start.
  expect_lt(snapshot()$rss / mib - m$start, 50)
})

test_that("memit() reports a forked child's 200 MB in children_peak", {
  skip_on_valgrind()
  skip_on_os("windows")
  before <- snapshot()
  skip_if(is.na(before$children_peak), "getrusage(RUSAGE_CHILDREN) is not available")
  # RUSAGE_CHILDREN keeps the largest child ever waited for: the new child
  # shows only if it is larger than every earlier one.
  skip_if(before$children_peak > 0.8 * n_bytes, "an earlier child of this session was larger")
  local_no_children()
  m <- memit(.Call(bootscale:::C_bs_test_memory_child, n_bytes))
  expect_false(is.na(m$children_peak))
  # The child's resident set is its 200 MB plus the parent's pages it
  # inherited, which are at most the parent's resident set.
  expect_gte(m$children_peak, 200 * 0.85)
  expect_lte(m$children_peak, m$start + 200 * 1.15)
  # The parent itself did not grow by the child's allocation.
  expect_lt(m$increment, 50)

  # A second, equal child is not larger than the first: NA, as documented.
  again <- memit(.Call(bootscale:::C_bs_test_memory_child, mib))
  expect_true(is.na(again$children_peak))
})

test_that("the C allocation helpers refuse impossible sizes", {
  expect_error(.Call(bootscale:::C_bs_test_memory_touch, -1), "out of range")
  expect_error(.Call(bootscale:::C_bs_test_memory_touch, 2^60), "out of range")
  expect_error(.Call(bootscale:::C_bs_test_memory_touch, "a"), "double")
})

test_that("column_sizes() agrees with object.size()", {
  fs <- read_filesizes(filesizes_example())
  cs <- column_sizes(fs)
  expect_s3_class(cs, "tbl_df")
  expect_named(cs, c("column", "type", "bytes"))
  expect_identical(cs$column, names(fs))
  expect_type(cs$bytes, "double")
  expected <- vapply(names(fs), function(col) as.double(object.size(fs[[col]])), numeric(1))
  expect_identical(cs$bytes, unname(expected))
  expect_identical(attr(cs, "total"), as.double(object.size(fs)))
  expect_identical(cs$type[cs$column == "Month"], "ordered")

  # Doubles take twice the bytes of integers.
  d <- data.frame(i = 1:1000, x = as.double(1:1000))
  cs <- column_sizes(d)
  expect_equal(cs$bytes[2] - 48, 2 * (cs$bytes[1] - 48))
})

test_that("column_sizes() handles edge cases and refuses non-data-frames", {
  cs <- column_sizes(data.frame())
  expect_equal(nrow(cs), 0L)
  expect_identical(attr(cs, "total"), as.double(object.size(data.frame())))
  expect_error(column_sizes(1:3), class = "bootscale_error_bad_data")
  expect_error(column_sizes(list(a = 1)), class = "bootscale_error_bad_data")
})

test_that("size_ratio() is the chapter's reduction ratio", {
  fs <- read_filesizes(filesizes_example())
  yearly <- aggregate_filesizes(fs)
  r <- size_ratio(fs, yearly)
  expect_type(r, "double")
  expect_identical(r, as.double(object.size(fs)) / as.double(object.size(yearly)))
  expect_gt(r, 1)
  expect_identical(size_ratio(1:10, 1:10), 1)
})

test_that("memit() prints every measurement with its unit", {
  m <- memit(numeric(10))
  expect_s3_class(m, c("bootscale_memit", "tbl_df"))
  lines <- format(m)
  expect_length(lines, 4L)
  expect_match(lines[[1]], "^memit: .* s elapsed; resident memory by ")
  expect_true(endsWith(lines[[1]], m$method))
  expect_match(lines[[2]], "resident memory: +start .* MB, peak .* MB, increment .* MB$")
  expect_match(lines[[3]], "R heap: +peak .* MB, increment .* MB$")
  expect_output(print(m), "R heap:")
  expect_output(expect_invisible(print(m)))

  fake <- tibble::new_tibble(
    list(start = 73.51, peak = 149.8, increment = 76.29, children_peak = NA_real_,
         heap_peak = 1234.5, heap_increment = 0, seconds = 0.1364,
         method = "clear_refs+VmHWM"),
    nrow = 1L, class = "bootscale_memit"
  )
  expect_identical(format(fake), c(
    "memit: 0.136 s elapsed; resident memory by clear_refs+VmHWM",
    "  resident memory:  start 73.5 MB, peak 150 MB, increment 76.3 MB",
    "  R heap:           peak 1,230 MB, increment 0 MB",
    "  forked children:  none measured (no child ended during the call with a higher peak)"
  ))
  fake$children_peak <- 210.4
  expect_identical(format(fake)[[4]], "  forked children:  210 MB")
  # Not one row of memit's columns: printed as a table.
  expect_output(print(fake[c("start", "peak")]), "A tibble")
})
