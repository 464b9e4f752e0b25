# The C engine's building blocks, reached through internal entry points.

test_that("SplitMix64 gives its published reference values", {
  # seed 1234567 -> 6457827717110365317, 3203168211198807973,
  # 9817491932198370423, 4593380528125082431, 16408922859458223821
  got <- .Call(bootscale:::C_bs_test_splitmix_head, "12d687", 5L)
  expect_identical(got, c("599ed017fb08fc85", "2c73f08458540fa5", "883ebce5a3f27c77",
                          "3fbef740e9177b3f", "e3b8346708cb5ecd"))
})

test_that("xoshiro256++ gives the reference implementation's outputs", {
  got <- .Call(bootscale:::C_bs_test_rng_head, c("0", "0", "0", "1"), 10L)
  expect_identical(toupper(got), c(
    "0000000000800000", "0000000000800011", "0002200000800011", "0002200044000020",
    "00022000448008A1", "01102100802208A0", "0114002284200880", "0402896644A64095",
    "8A14A0A244ACC891", "8C88BA4680B20495"
  ))
})

test_that("streams are keyed by (seed, group, block) and differ between keys", {
  s <- function(seed, g, b) .Call(bootscale:::C_bs_test_rng_stream_head, seed, g, b, 4L)
  expect_identical(s(1, 2, 3), s(1, 2, 3))
  keys <- list(c(1, 2, 3), c(1, 3, 2), c(2, 1, 3), c(1, 2, 4), c(0, 0, 0), c(-1, 0, 0))
  heads <- vapply(keys, function(k) s(k[1], k[2], k[3])[1], character(1))
  expect_false(anyDuplicated(heads) > 0)
})

test_that("alias tables reproduce the normalized weights", {
  set.seed(11)
  cases <- list(
    runif(50),
    c(0, runif(20), 0, 0, runif(5)),
    c(1e6, rep(1, 99)),
    c(1e300, 1, 1),
    rep(1e308, 10),          # the sum overflows a double
    5,                        # one category
    rexp(1e5)
  )
  for (w in cases) {
    p <- .Call(bootscale:::C_bs_test_alias_probs, as.double(w))
    target <- (w / max(w)) / sum(w / max(w))
    expect_lt(max(abs(p - target)), 1e-12)
    expect_identical(p[w == 0], rep(0, sum(w == 0)))
  }
})

test_that("alias tables reject what they cannot represent", {
  probs <- function(w) .Call(bootscale:::C_bs_test_alias_probs, as.double(w))
  expect_error(probs(c(1, NA)), "finite")
  expect_error(probs(c(1, Inf)), "finite")
  expect_error(probs(c(1, -1)), "non-negative")
  expect_error(probs(c(0, 0)), "positive")
})

test_that("test-only entry points are registered apart and never called from R/", {
  ns <- asNamespace("bootscale")
  calls <- ls(ns, pattern = "^C_bs_", all.names = TRUE)
  test_only <- grep("^C_bs_test_", calls, value = TRUE)
  expect_setequal(test_only, paste0("C_bs_test_", c("alias_probs", "rng_head", "splitmix_head",
                                                    "rng_stream_head", "memory_touch",
                                                    "memory_child", "mapped_bytes")))
  funs <- Filter(is.function, mget(ls(ns, all.names = TRUE), envir = ns))
  uses <- vapply(funs, function(f) any(grepl("C_bs_test_", deparse(f))), logical(1))
  expect_identical(names(which(uses)), character())
})
