# The future backend (R/cluster.R): identical to the fork backend under
# every plan and chunking, retries, failures, checkpoints. One multisession
# plan and one PSOCK cluster serve the whole file (starting R workers costs
# seconds).

skip_if_not_installed("future")
skip_if_not_installed("parallelly")

# The values only: the future backend adds backend, chunks and chunk_log.
strip_backend <- function(x) {
  # the numbers and the attributes that say what they are; not how they
  # were computed (backend, chunks, processes)
  for (a in c("backend", "chunks", "chunk_log", "processes")) attr(x, a) <- NULL
  x
}

expect_same_as_fork <- function(fut, fork) {
  expect_identical(attr(fut, "backend"), "future")
  expect_identical(strip_backend(fut), strip_backend(fork))
}

uneven <- function() {
  # groups of 1, 3 and 40 values with uneven weights
  data.frame(g = rep(c("a", "b", "c"), c(1, 3, 40)), x = c(5, 1:3, 0:39),
             w = c(2, 1, 5, 2, dpois(0:39, 9)))
}

old_plan <- future::plan()
withr::defer(future::plan(old_plan))
ms_plan <- future::tweak(future::multisession, workers = 2)
psock <- parallelly::makeClusterPSOCK(2, verbose = FALSE)
withr::defer(try(parallel::stopCluster(psock), silent = TRUE))
# multisession last: the rest of the file keeps its workers
plans <- list(
  sequential = future::sequential,
  psock = future::tweak(future::cluster, workers = psock),
  multisession = ms_plan
)
fork_means <- bootstrap_means(0:40, dpois(0:40, 12), n_means = 5000, seed = 11, workers = 2)
fork_by <- bootstrap_mean(uneven(), x, w, .by = g, n_means = 3001, keep_samples = TRUE,
                          seed = 12, workers = 2)
fork_pipe <- filesize_pipeline(n_means = 2100, seed = 13, workers = 2)

for (name in names(plans)) {
  future::plan(plans[[name]])
  # Under covr the PSOCK workers' results come back out of sync ("Unexpected
  # result (of class 'NULL' != 'FutureResult')"): that plan is left to the
  # plain test runs.
  skip_psock_on_covr <- function() if (name == "psock") skip_on_covr()

  test_that(paste("bootstrap_means() on futures is the fork backend's, plan", name), {
    skip_psock_on_covr()
    m <- bootstrap_means(0:40, dpois(0:40, 12), n_means = 5000, seed = 11,
                         backend = future_backend(chunks = 3))
    expect_same_as_fork(m, fork_means)
    expect_identical(attr(m, "chunks"), 3L)
    log <- attr(m, "chunk_log")
    # 5 blocks in 3 contiguous chunks, in block order
    expect_identical(log$from, c(0, 1, 3))
    expect_identical(log$to, c(1, 3, 5))
    expect_identical(log$source, rep("computed", 3))
    expect_identical(log$attempts, rep(1L, 3))
  })

  test_that(paste("bootstrap_mean(.by =) with uneven groups on futures, plan", name), {
    skip_psock_on_covr()
    # 3 groups x 3 blocks = 9 blocks in 4 chunks: chunks cross groups
    b <- bootstrap_mean(uneven(), x, w, .by = g, n_means = 3001, keep_samples = TRUE,
                        seed = 12, backend = future_backend(chunks = 4))
    expect_same_as_fork(b, fork_by)
    expect_identical(nrow(attr(b, "chunk_log")), 4L)
  })

  test_that(paste("filesize_pipeline() on futures is the fork backend's, plan", name), {
    skip_psock_on_covr()
    p <- filesize_pipeline(n_means = 2100, seed = 13, backend = "future")
    expect_same_as_fork(p, fork_pipe)
    expect_gte(attr(p, "chunks"), 1L)
  })
}

test_that("any chunking gives the same bits, n_means not divisible by it", {
  # 7 blocks (6 full and one of 6 means) in 1, 2, 3, 5 and 7 chunks, and more
  # chunks than blocks (capped at 7)
  ref <- bootstrap_means(1:9, weights = 9:1, n_means = 6150, seed = 21, workers = 1)
  for (k in c(1, 2, 3, 5, 7, 20)) {
    m <- bootstrap_means(1:9, weights = 9:1, n_means = 6150, seed = 21,
                         backend = future_backend(chunks = k))
    expect_same_as_fork(m, ref)
    expect_identical(attr(m, "chunks"), as.integer(min(k, 7)))
  }
  # one mean, one block
  expect_same_as_fork(
    bootstrap_means(1:3, n_means = 1, seed = 2, backend = future_backend(chunks = 4)),
    bootstrap_means(1:3, n_means = 1, seed = 2)
  )
})

test_that("wsample() on futures draws the same values for large sizes", {
  ref <- wsample(letters, 300001, prob = 1:26, seed = 5)
  fut <- wsample(letters, 300001, prob = 1:26, seed = 5, backend = future_backend(chunks = 3))
  expect_identical(strip_backend(fut), strip_backend(ref))
  f <- factor(c("lo", "hi"))
  expect_identical(strip_backend(wsample(f, 2e5, prob = c(1, 3), seed = 6, backend = "future")),
                   strip_backend(wsample(f, 2e5, prob = c(1, 3), seed = 6)))
  # small sizes stay here
  expect_identical(wsample(1:3, 10, seed = 1, backend = "future"), wsample(1:3, 10, seed = 1))
})

test_that("the default backend comes from options(bootscale.backend)", {
  withr::local_options(bootscale.backend = "future", bootscale.chunks = 2)
  m <- bootstrap_means(1:5, n_means = 4000, seed = 3)
  expect_identical(attr(m, "backend"), "future")
  expect_identical(attr(m, "chunks"), 2L)
  expect_identical(strip_backend(m),
                   strip_backend(bootstrap_means(1:5, n_means = 4000, seed = 3, backend = "fork")))
})

test_that("seed = NULL draws one seed here; the futures leave R's RNG alone", {
  set.seed(99)
  fork <- bootstrap_means(1:5, n_means = 3000)
  after_fork <- .Random.seed
  set.seed(99)
  expect_no_warning(fut <- bootstrap_means(1:5, n_means = 3000, backend = "future"))
  expect_identical(.Random.seed, after_fork)
  expect_identical(strip_backend(fut), strip_backend(fork))
})

test_that("a chunk's future carries only its data, never an environment", {
  task <- list(kind = "means", values = list(c(1, 2, 3)), weights = list(c(1, 1, 2)), n = 3000,
               sample_size = 10, seed = 4)
  big <- runif(1e6) # in the calling frame: must not travel
  f <- bootscale:::chunk_future(task, 1, 3, 2L, 1L)
  g <- f$globals
  expect_setequal(names(g), c("task", "from", "to", "chunk", "attempt", "hook"))
  has_closure <- function(x) {
    is.environment(x) || is.function(x) || (is.list(x) && any(vapply(x, has_closure, TRUE)))
  }
  expect_false(has_closure(unclass(g)))
  expect_lt(as.numeric(utils::object.size(unclass(g))), 10000)
  expect_identical(f$packages, "bootscale")
  r <- future::value(f)
  # blocks 1 and 2 of 3 are means 1025..3000
  full <- bootstrap_means(c(1, 2, 3), c(1, 1, 2), n_means = 3000, sample_size = 10, seed = 4)
  expect_identical(r$value, as.vector(full)[1025:3000])
  expect_true(is.na(r$slurm_job_id))
})

test_that("a chunk that fails once is retried and gives the same bits", {
  withr::local_options(bootscale.test_cluster_hook =
                         list(chunk = 2, action = "error", attempts = 1))
  m <- bootstrap_means(0:40, dpois(0:40, 12), n_means = 5000, seed = 11,
                       backend = future_backend(chunks = 3))
  expect_same_as_fork(m, fork_means)
  expect_identical(attr(m, "chunk_log")$attempts, c(1L, 2L, 1L))
  # with retries = 0 the same failure is final
  expect_error(
    bootstrap_means(0:40, dpois(0:40, 12), n_means = 5000, seed = 11,
                    backend = future_backend(chunks = 3, retries = 0)),
    class = "bootscale_error_cluster"
  )
})

test_that("a chunk that always fails is a classed error, nothing left running", {
  local_no_children()
  withr::with_options(
    list(bootscale.test_cluster_hook = list(chunk = 3, action = "error", attempts = Inf)),
    e <- expect_error(
      bootstrap_means(1:5, n_means = 6000, seed = 3, backend = future_backend(chunks = 4)),
      class = "bootscale_error_cluster"
    )
  )
  expect_identical(e$chunk, 3L)
  expect_match(conditionMessage(e), "Chunk 3 of 4")
  expect_match(conditionMessage(e), "failed 2 times")
  expect_match(conditionMessage(e), "chunk 3 fails on attempt 2", fixed = TRUE)
  # both workers are free again: no future of the call is still running
  expect_equal(future::nbrOfFreeWorkers(), 2)
  # and the plan still works
  expect_same_as_fork(bootstrap_means(1:5, n_means = 3000, seed = 3, backend = "future"),
                      bootstrap_means(1:5, n_means = 3000, seed = 3))
})

test_that("the cluster error's message", {
  withr::local_options(bootscale.test_cluster_hook =
                         list(chunk = 2, action = "error", attempts = Inf))
  expect_snapshot(error = TRUE, {
    bootstrap_means(1:5, n_means = 5000, seed = 3,
                    backend = future_backend(chunks = 3, retries = 2))
  })
})

test_that("a checkpoint resumes a stopped job, reading finished chunks", {
  dir <- withr::local_tempdir()
  ref <- bootstrap_mean(uneven(), x, w, .by = g, n_means = 5000, seed = 31, workers = 1)
  be <- future_backend(chunks = 6, retries = 0, checkpoint = dir)
  withr::with_options(
    list(bootscale.test_cluster_hook = list(chunk = 4, action = "error", attempts = Inf)),
    expect_error(bootstrap_mean(uneven(), x, w, .by = g, n_means = 5000, seed = 31,
                                backend = be),
                 class = "bootscale_error_cluster")
  )
  saved <- list.files(dir)
  # chunk 4 is sent only after a chunk finished (2 in flight), and fails at once
  expect_gte(length(saved), 1L)
  expect_lte(length(saved), 5L)
  expect_false(any(grepl("tmp", saved)))
  res <- bootstrap_mean(uneven(), x, w, .by = g, n_means = 5000, seed = 31, backend = be)
  expect_same_as_fork(res, ref)
  log <- attr(res, "chunk_log")
  expect_identical(sum(log$source == "checkpoint"), length(saved))
  expect_identical(log$source[4], "computed")
  expect_true(all(log$attempts[log$source == "checkpoint"] == 0L))
  expect_length(list.files(dir), 6L)
  # a third run reads everything
  again <- bootstrap_mean(uneven(), x, w, .by = g, n_means = 5000, seed = 31, backend = be)
  expect_same_as_fork(again, ref)
  expect_identical(attr(again, "chunk_log")$source, rep("checkpoint", 6))
})

test_that("a checkpoint of other inputs is never used", {
  dir <- withr::local_tempdir()
  be <- future_backend(chunks = 3, checkpoint = dir)
  a <- bootstrap_means(1:6, n_means = 5000, seed = 1, backend = be)
  # another seed, other weights, another sample size: all computed
  b <- bootstrap_means(1:6, n_means = 5000, seed = 2, backend = be)
  expect_identical(attr(b, "chunk_log")$source, rep("computed", 3))
  expect_same_as_fork(b, bootstrap_means(1:6, n_means = 5000, seed = 2))
  c2 <- bootstrap_means(1:6, weights = 6:1, n_means = 5000, seed = 1, backend = be)
  expect_identical(attr(c2, "chunk_log")$source, rep("computed", 3))
  d <- bootstrap_means(1:6, n_means = 5000, sample_size = 99, seed = 1, backend = be)
  expect_identical(attr(d, "chunk_log")$source, rep("computed", 3))
  expect_length(list.files(dir), 12L)
  # a file under the right name that holds another job's chunk is ignored
  files <- list.files(dir, full.names = TRUE)
  key_a <- bootscale:::task_key(list(kind = "means", values = list(as.double(1:6)),
                                     weights = list(rep(1, 6)), n = 5000, sample_size = 100,
                                     seed = 1))
  mine <- grep(key_a, files, value = TRUE)
  expect_length(mine, 3L)
  other <- readRDS(grep(bootscale:::task_key(list(
    kind = "means", values = list(as.double(1:6)), weights = list(rep(1, 6)), n = 5000,
    sample_size = 100, seed = 2)), files, value = TRUE)[1])
  saveRDS(other, mine[1])
  a2 <- bootstrap_means(1:6, n_means = 5000, seed = 1, backend = be)
  expect_identical(attr(a2, "chunk_log")$source, c("computed", "checkpoint", "checkpoint"))
  expect_identical(strip_backend(a2), strip_backend(a))
})

test_that("bad backends are classed errors", {
  expect_snapshot(error = TRUE, bootstrap_means(1:3, backend = "slurm"))
  expect_error(bootstrap_mean(data.frame(x = 1:3), x, backend = 2),
               class = "bootscale_error_bad_backend")
  expect_error(wsample(1:3, 5, backend = NULL), class = "bootscale_error_bad_backend")
  expect_error(future_backend(chunks = 0), class = "bootscale_error_bad_count")
  expect_error(future_backend(retries = -1), class = "bootscale_error_bad_count")
  expect_error(future_backend(checkpoint = ""), class = "bootscale_error_bad_string")
  expect_output(print(future_backend(chunks = 4, checkpoint = "d")),
                "chunks 4, retries 1, checkpoint d")
})

test_that("a missing future package is a classed error that says what to install", {
  real <- bootscale:::future_missing
  utils::assignInNamespace("future_missing", function() TRUE, "bootscale")
  withr::defer(utils::assignInNamespace("future_missing", real, "bootscale"))
  expect_snapshot(error = TRUE, bootstrap_means(1:3, backend = "future"))
})

test_that("a multisession worker killed mid-chunk: retried, or a classed error", {
  # its own plan: the killed worker is not usable afterwards
  future::plan(future::multisession, workers = 2)
  withr::defer(future::plan(future::sequential))
  ref <- bootstrap_means(1:5, n_means = 8000, seed = 3)
  withr::local_options(bootscale.test_cluster_hook =
                         list(chunk = 2, action = "die", attempts = 1))
  t0 <- Sys.time()
  res <- tryCatch(
    bootstrap_means(1:5, n_means = 8000, seed = 3, backend = future_backend(chunks = 4)),
    error = function(e) e
  )
  expect_lt(as.numeric(Sys.time() - t0, units = "secs"), 60)
  if (inherits(res, "error")) {
    # future 1.31 sends the retry to the dead worker again; whichever chunk
    # meets the dead worker first (the killed one's retry, or a later chunk
    # sent to it) is the one that fails
    expect_s3_class(res, "bootscale_error_cluster")
    expect_true(res$chunk %in% 2:4)
    expect_s3_class(res$cause, "FutureError")
    expect_match(conditionMessage(res), "set the plan again")
  } else {
    expect_identical(strip_backend(res), strip_backend(ref))
    expect_identical(attr(res, "chunk_log")$attempts[2], 2L)
  }
})
