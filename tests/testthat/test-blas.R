openblas_dir <- "/usr/lib/x86_64-linux-gnu/openblas-pthread/"

skip_unless_controllable <- function() {
  if (!isTRUE(blas_info()$controllable)) skip("this BLAS's threads cannot be set at run time")
}

# Some builds (openblas-serial) accept a thread count but always use one.
skip_unless_two_threads <- function() {
  skip_unless_controllable()
  old <- blas_threads()
  on.exit(suppressMessages(blas_threads(old)))
  suppressMessages(blas_threads(2))
  if (!identical(blas_threads(), 2L)) skip("this BLAS uses one thread only")
}

# Restores the BLAS threads when the calling test ends.
local_blas_threads <- function(env = parent.frame()) {
  old <- blas_threads()
  withr::defer(if (!is.na(old)) blas_threads(old), envir = env)
  old
}

test_that("blas_info() describes the BLAS in one typed row", {
  info <- blas_info()
  expect_s3_class(info, "tbl_df")
  expect_named(info, c("path", "vendor", "controllable", "threads", "max_threads",
                       "config", "corename"))
  expect_equal(nrow(info), 1L)
  expect_type(info$path, "character")
  expect_type(info$vendor, "character")
  expect_type(info$controllable, "logical")
  expect_type(info$threads, "integer")
  expect_type(info$max_threads, "integer")
  expect_type(info$config, "character")
  expect_type(info$corename, "character")
  expect_false(is.na(info$controllable))
  if (info$controllable) {
    expect_true(info$vendor %in% c("OpenBLAS", "FlexiBLAS", "MKL"))
    expect_gte(info$threads, 1L)
  } else {
    expect_true(is.na(info$threads))
  }
  expect_identical(info$threads, blas_threads())
})

test_that("R reports OpenBLAS when openblas-pthread is the active BLAS", {
  skip_on_os(c("windows", "mac", "solaris"))
  skip_if_not(dir.exists(openblas_dir), "OpenBLAS (pthread) is not installed here")
  path <- sessionInfo()$BLAS
  skip_if_not(startsWith(path, openblas_dir), "OpenBLAS is not R's active BLAS")
  info <- blas_info()
  expect_identical(info$path, path)
  expect_identical(info$vendor, "OpenBLAS")
  expect_true(info$controllable)
  expect_match(info$config, "^OpenBLAS")
  expect_false(is.na(info$corename))
  expect_gte(info$max_threads, 1L)
})

test_that("blas_threads(n) sets, returns the previous value, and round-trips", {
  skip_unless_two_threads()
  old <- local_blas_threads()
  expect_identical(withVisible(blas_threads(1))$visible, FALSE)
  expect_identical(blas_threads(2), 1L)
  expect_identical(blas_threads(), 2L)
  expect_identical(blas_threads(1), 2L)
  expect_identical(blas_threads(), 1L)
  blas_threads(old)
  expect_identical(blas_threads(), old)
})

test_that("with_blas_threads() sets threads for the code and restores them, even on error", {
  skip_unless_two_threads()
  local_blas_threads()
  blas_threads(2)
  expect_identical(with_blas_threads(1, blas_threads()), 1L)
  expect_identical(blas_threads(), 2L)
  a <- 1
  expect_identical(with_blas_threads(1, a + 1), 2)
  expect_error(with_blas_threads(1, {
    stopifnot(blas_threads() == 1L)
    stop("boom")
  }), "boom")
  expect_identical(blas_threads(), 2L)
  # Numbers still come out right with one thread.
  m <- crossprod(matrix(sin(1:400), 20)) + diag(20)
  expect_equal(with_blas_threads(1, solve(m) %*% m), diag(20), tolerance = 1e-8)
})

test_that("thread counts are checked", {
  expect_error(blas_threads(0), class = "bootscale_error_bad_count")
  expect_error(blas_threads("2"), class = "bootscale_error_bad_count")
  expect_error(blas_threads(1.5), class = "bootscale_error_bad_count")
  expect_error(with_blas_threads(NA, 1), class = "bootscale_error_bad_count")
})

test_that("a BLAS that cannot be controlled gives a classed error or message", {
  withr::local_options(bootscale.test_blas_uncontrollable = TRUE)
  info <- blas_info()
  expect_false(info$controllable)
  expect_true(is.na(info$threads))
  expect_identical(blas_threads(), NA_integer_)
  expect_error(blas_threads(1), class = "bootscale_error_blas_threads")
  expect_error(blas_threads(1), "OpenBLAS, FlexiBLAS or MKL")
  expect_message(res <- with_blas_threads(1, 40 + 2), class = "bootscale_message_blas_threads")
  expect_identical(res, 42)
  expect_error(blas_scaling(n = 10, threads = 1), class = "bootscale_error_blas_threads")
})

test_that("the vendor is guessed from the library's path", {
  guess <- bootscale:::blas_vendor_from_path
  expect_identical(guess("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), "OpenBLAS")
  expect_identical(guess("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"), "reference")
  expect_identical(guess("/usr/lib/R/lib/libRblas.so"), "reference")
  expect_identical(guess("/opt/intel/mkl/lib/libmkl_rt.so"), "MKL")
  expect_identical(guess("/usr/lib64/libflexiblas.so.3"), "FlexiBLAS")
  expect_identical(guess("/System/Library/Frameworks/Accelerate.framework/vecLib"), "Accelerate")
  expect_identical(guess(NA_character_), NA_character_)
  expect_identical(guess("/opt/unknown/libfoo.so"), NA_character_)
})

test_that("blas_scaling() times solve() per thread count and restores the threads", {
  skip_unless_controllable()
  old <- local_blas_threads()
  res <- blas_scaling(n = 150, threads = c(2, 1), times = 2)
  expect_s3_class(res, c("bootscale_blas_scaling", "tbl_df"))
  expect_named(res, c("threads", "seconds", "speedup", "efficiency"))
  expect_identical(res$threads, 1:2)
  expect_type(res$seconds, "double")
  expect_true(all(res$seconds > 0))
  expect_identical(res$speedup[1], 1)
  expect_equal(res$speedup, res$seconds[1] / res$seconds)
  expect_equal(res$efficiency, res$speedup / res$threads)
  expect_identical(attr(res, "blas")$vendor, blas_info()$vendor)
  expect_identical(blas_threads(), old)
  expect_silent(blas_scaling(n = 20, threads = 1))
  expect_error(blas_scaling(n = 1), class = "bootscale_error_bad_count")
  expect_error(blas_scaling(threads = 0), class = "bootscale_error_bad_workers")
})

test_that("blas_info() prints every field whole, one a line", {
  info <- blas_info()
  expect_s3_class(info, c("bootscale_blas_info", "tbl_df"))
  lines <- format(info)
  expect_length(lines, 6L)
  expect_identical(lines[[1]], "BLAS used by R")
  expect_identical(lines[[2]], paste0("  library:     ", info$path))
  expect_match(lines[[4]], "threads: ", fixed = TRUE)
  expect_output(print(info), info$path, fixed = TRUE)
  expect_output(expect_invisible(print(info)))

  fake <- tibble::new_tibble(
    list(path = "/opt/lib/a/very/long/path/to/libopenblas-with-a-long-name.so", vendor = "OpenBLAS",
         controllable = TRUE, threads = 4L, max_threads = 8L,
         config = "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64",
         corename = "Haswell"),
    nrow = 1L, class = "bootscale_blas_info"
  )
  expect_identical(format(fake), c(
    "BLAS used by R",
    "  library:     /opt/lib/a/very/long/path/to/libopenblas-with-a-long-name.so",
    "  vendor:      OpenBLAS (its threads can be read and set at run time)",
    "  threads:     4 in use; 8 processors known to the library",
    "  config:      OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64",
    "  CPU kernel:  Haswell"
  ))
  fake$controllable <- FALSE
  fake$threads <- NA_integer_
  expect_match(format(fake)[[3]], "cannot be set at run time", fixed = TRUE)
  expect_match(format(fake)[[4]], "unknown in use", fixed = TRUE)
  # A subset of the columns prints as a table.
  expect_output(print(fake[c("path", "vendor")]), "A tibble")
})
