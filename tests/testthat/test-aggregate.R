test_that("aggregation equals a plain base-R computation, NA groups dropped", {
  set.seed(1)
  n <- 5000
  d <- data.frame(
    g1 = sample(c(1:5, NA), n, TRUE),
    g2 = sample(c("a", "b", "c", NA), n, TRUE),
    v1 = rpois(n, 10),
    v2 = runif(n)
  )
  got <- aggregate_filesizes(d, by = c("g1", "g2"), targets = c("v1", "v2"))
  complete <- d[!is.na(d$g1) & !is.na(d$g2), ]
  want <- stats::aggregate(cbind(v1, v2) ~ g1 + g2, data = complete, FUN = sum)
  want <- want[order(want$g1, want$g2), ]
  expect_s3_class(got, "tbl_df")
  expect_named(got, c("g1", "g2", "v1", "v2"))
  expect_equal(nrow(got), nrow(want))
  expect_identical(got$g1, want$g1)
  expect_identical(got$g2, want$g2)
  expect_equal(got$v1, want$v1)
  expect_type(got$v1, "integer")
  expect_equal(got$v2, want$v2)
})

test_that("other summary functions and tibble input work", {
  set.seed(2)
  d <- tibble::tibble(k = sample(3:1, 300, TRUE), v = rnorm(300))
  got <- aggregate_filesizes(d, by = "k", targets = "v", fn = max)
  expect_identical(got$k, 1:3)
  expect_equal(got$v, as.numeric(tapply(d$v, d$k, max)))
})

test_that("factor groups keep their type and level order", {
  d <- data.frame(m = factor(c("b", "a", "b"), levels = c("b", "a")), v = 1:3)
  got <- aggregate_filesizes(d, by = "m", targets = "v")
  expect_identical(got$m, factor(c("b", "a"), levels = c("b", "a")))
  expect_identical(got$v, c(4L, 2L))
})

test_that("the chapter's yearly table has one row per (Year, BytesLog2)", {
  fs <- read_filesizes(filesizes_example())
  yearly <- aggregate_filesizes(fs)
  expect_named(yearly, c("Year", "BytesLog2", "Files", "SpaceUsage"))
  expect_false(anyDuplicated(yearly[c("Year", "BytesLog2")]) > 0)
  expect_equal(sum(yearly$Files), sum(fs$Files[!is.na(fs$Year)]))
  expect_false(is.unsorted(yearly$Year))
})

test_that("bad arguments give classed errors", {
  d <- data.frame(a = 1:3, b = 4:6)
  expect_error(aggregate_filesizes(1:3), class = "bootscale_error_bad_data")
  expect_error(aggregate_filesizes(d, by = "zz", targets = "b"),
               class = "bootscale_error_missing_column")
  expect_error(aggregate_filesizes(d, by = "a", targets = "zz"),
               class = "bootscale_error_missing_column")
  expect_error(aggregate_filesizes(d, by = "a", targets = "b", fn = "sum"),
               class = "bootscale_error_bad_function")
})

test_that("grouping by a table over the key range equals grouping by sorting", {
  set.seed(11)
  n <- 5000
  reference <- function(keys) {
    # order of first appearance is irrelevant: ids follow the sorted keys
    ord <- do.call(order, c(unname(keys), list(na.last = TRUE)))
    s <- lapply(keys, `[`, ord)
    same <- Reduce(`&`, lapply(s, function(k) {
      a <- k[-1]
      b <- k[-length(k)]
      (is.na(a) & is.na(b)) | (!is.na(a) & !is.na(b) & a == b)
    }))
    id <- integer(n)
    id[ord] <- cumsum(c(TRUE, !same))
    id
  }
  keys <- list(
    small = sample(c(2010:2020, NA), n, TRUE),                 # table path
    wide = sample(c(-2147483647L, 0L, 2147483647L, NA), n, TRUE), # too wide: hashing path
    fac = factor(sample(c("z", "a", NA), n, TRUE), levels = c("z", "a")),
    dbl = sample(c(0.5, 2, NA), n, TRUE)
  )
  keys$none <- rep(NA_integer_, n)
  for (by in list("small", "wide", "fac", "dbl", "none", c("small", "fac"), c("wide", "small"),
                  c("fac", "dbl", "small"), c("none", "fac"))) {
    g <- bootscale:::group_ids(keys[by])
    expect_identical(g$id, reference(keys[by]))
    expect_identical(g$first, match(seq_len(g$n), g$id))
  }
})

test_that("group sums in C follow R's sum(), NA and NaN included", {
  v <- c(1, 2, NA, 4, NaN, 1e308, 1e308, -1e308)
  id <- c(1L, 1L, 2L, 2L, 3L, 4L, 4L, 4L)
  s <- .Call(bootscale:::C_bs_group_sums, v, id, 5)
  expect_identical(s[1], 3)
  expect_true(is.na(s[2]) && !is.nan(s[2]))
  expect_true(is.nan(s[3]))
  expect_identical(s[5], 0)     # an empty group
  expect_error(.Call(bootscale:::C_bs_group_sums, v, c(id[-1], 6L), 5), "out of range")
})

test_that("group sums in long double do not overflow on the way", {
  # where long double is a double, and under valgrind (which computes it as
  # one), 1e308 + 1e308 overflows before the -1e308 comes
  skip_if(.Machine$sizeof.longdouble <= 8, "long double is a double here")
  skip_on_valgrind()
  s <- .Call(bootscale:::C_bs_group_sums, c(1e308, 1e308, -1e308), rep(1L, 3), 1)
  expect_identical(s, 1e308)
})
