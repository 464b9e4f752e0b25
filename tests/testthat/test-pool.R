# The fork pool: determinism, cost rule, failures, interrupts, cleanup.

local_parallel <- function(env = parent.frame()) {
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE),
                       .local_envir = env)
}

test_that("results are identical for 1, 2, 3 and 7 workers", {
  skip_if_no_fork()
  local_no_children()
  local_parallel()
  # 7 workers on fewer cores warn that they compete; that warning only
  quietly <- function(expr) {
    withCallingHandlers(expr, bootscale_warning_oversubscribed = function(w) {
      invokeRestart("muffleWarning")
    })
  }
  x <- c(0.5, 1, 7, 3, 2.25)
  w <- c(1, 2, 3, 0, 5)
  # n_means not divisible by the block size (1024) nor by the worker counts
  ref <- bootstrap_means(x, w, n_means = 5003, sample_size = 11, workers = 1, seed = 8)
  for (k in c(2, 3, 7)) {
    expect_identical(quietly(bootstrap_means(x, w, n_means = 5003, sample_size = 11, workers = k, seed = 8)), ref)
  }
  d <- data.frame(g = rep(1:5, each = 20), v = rnorm(100), w = runif(100))
  ref <- bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = 1, seed = 2, keep_samples = TRUE)
  for (k in c(2, 3, 7)) {
    expect_identical(quietly(bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = k, seed = 2,
                                            keep_samples = TRUE)), ref)
  }
  # without samples the summary reads the workers' shared mapping directly
  ref <- bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = 1, seed = 2)
  for (k in c(2, 3, 7)) {
    expect_identical(quietly(bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = k, seed = 2)), ref)
  }
  ref <- wsample(1:50, 200001, prob = 1:50, workers = 1, seed = 4)
  for (k in c(2, 3, 7)) expect_identical(quietly(wsample(1:50, 200001, prob = 1:50, workers = k, seed = 4)), ref)
  ref <- filesize_pipeline(n_means = 1500, workers = 1, seed = 5)
  for (k in c(2, 3, 7)) expect_identical(quietly(filesize_pipeline(n_means = 1500, workers = k, seed = 5)), ref)
})

test_that(".Random.seed after a call does not depend on workers", {
  skip_if_no_fork()
  local_parallel()
  set.seed(1)
  a <- bootstrap_means(1:9, n_means = 5000, workers = 1)
  after1 <- .Random.seed
  set.seed(1)
  b <- bootstrap_means(1:9, n_means = 5000, workers = 2)
  expect_identical(.Random.seed, after1)
  expect_identical(a, b)
})

test_that("a job's results and summary exist only once it is complete", {
  job <- .Call(bootscale:::C_bs_means_job, list(c(1, 2, 3)), list(c(1, 1, 1)), 2000, 10, 7)
  on.exit(.Call(bootscale:::C_bs_job_release, job))
  expect_error(.Call(bootscale:::C_bs_job_summarise, job, 1, c(0.025, 0.975)), "no complete means")
  expect_error(.Call(bootscale:::C_bs_job_result, job), "not complete")
  n_blocks <- .Call(bootscale:::C_bs_job_info, job)[[1]]
  .Call(bootscale:::C_bs_job_run, job, 0, n_blocks)
  means <- .Call(bootscale:::C_bs_job_result, job)
  expect_length(means, 2000)
  expect_identical(.Call(bootscale:::C_bs_job_summarise, job, 1, c(0.025, 0.975)),
                   .Call(bootscale:::C_bs_summarise_means, means, 1, c(0.025, 0.975)))
})

test_that("the serial path (no fork allowed) gives the fork path's numbers", {
  skip_if_no_fork()
  local_parallel()
  fork <- bootstrap_means(1:30, n_means = 4000, workers = 2, seed = 6)
  withr::local_options(list(bootscale.force_fork = FALSE, bootscale.min_parallel_draws = Inf))
  serial <- bootstrap_means(1:30, n_means = 4000, workers = 2, seed = 6)
  expect_identical(serial, fork)
})

test_that("the cost rule weighs the work against the cost of forking", {
  withr::local_options(list(bootscale.min_parallel_draws = NULL))
  plan <- bootscale:::plan_workers
  expect_identical(plan(8L, 1e3, 10, rss_mb = 100), 1L)         # tiny job
  expect_identical(plan(2L, 1.1e8, 1078, rss_mb = 100), 2L)     # the chapter's workload
  expect_identical(plan(8L, 1e10, 3, rss_mb = 100), 3L)         # no more workers than blocks
  expect_identical(plan(1L, 1e10, 1000, rss_mb = 100), 1L)
  expect_identical(plan(2L, 4e6, 1000, rss_mb = 100), 1L)       # 6 ms of work: not worth it
  # a big session makes forks dear: the same job stays serial
  expect_identical(plan(2L, 2e7, 1000, rss_mb = 100), 2L)
  expect_identical(plan(2L, 2e7, 1000, rss_mb = 4000), 1L)
  # many cores: stop adding workers when their cost outweighs the gain
  w <- plan(64L, 1e9, 1e5, rss_mb = 200)
  expect_gt(w, 8L)
  expect_lt(w, 64L)
  # a plain threshold replaces the model
  withr::local_options(list(bootscale.min_parallel_draws = 10))
  expect_identical(plan(4L, 10, 100, rss_mb = 1e5), 4L)
  expect_identical(plan(4L, 9, 100, rss_mb = 1e5), 1L)
})

test_that("the session's resident memory is read", {
  skip_on_os(c("mac", "windows", "solaris"))
  skip_on_valgrind()
  # against the kernel's own figure, VmRSS in /proc/self/status (kB)
  vm_rss_mb <- function() {
    status <- readLines("/proc/self/status")
    as.numeric(gsub("[^0-9]", "", grep("^VmRSS:", status, value = TRUE))) / 1024
  }
  expect_equal(bootscale:::session_rss_mb(), vm_rss_mb(), tolerance = 0.02)
  # and it follows the session: 200 MB touched are 200 MB more
  before <- bootscale:::session_rss_mb()
  x <- rep(1, 25e6)
  grown <- bootscale:::session_rss_mb() - before
  expect_equal(grown, 25e6 * 8 / 2^20, tolerance = 0.1)
  rm(x)
  gc()
})

test_that("workers are checked and oversubscription warns", {
  expect_error(bootstrap_means(1:3, workers = 0), class = "bootscale_error_bad_workers")
  expect_error(bootstrap_means(1:3, workers = 1.5), class = "bootscale_error_bad_workers")
  expect_error(bootstrap_means(1:3, workers = NA), class = "bootscale_error_bad_workers")
  expect_error(bootstrap_means(1:3, workers = "2"), class = "bootscale_error_bad_workers")
  cores <- parallelly::availableCores(omit = 0L)
  expect_warning(bootstrap_means(1:3, n_means = 10, workers = cores + 1, seed = 1),
                 class = "bootscale_warning_oversubscribed")
  withr::local_options(list(bootscale.workers = 1))
  expect_identical(default_workers(), 1L)
})

hook_error <- function(action, block = 2) {
  withr::local_options(list(bootscale.test_hook = list(action = action, block = block)))
  tryCatch(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1),
           bootscale_error_worker = function(e) e)
}

test_that("a crashing, killed or silent worker is a classed error, cleanly", {
  skip_if_no_fork()
  local_no_children()
  local_parallel()
  td <- tempdir()
  e <- hook_error("segv")
  expect_s3_class(e, "bootscale_error_worker")
  expect_match(conditionMessage(e), "killed by signal 11")
  expect_true(dir.exists(td))
  e <- hook_error("kill")
  expect_match(conditionMessage(e), "killed by signal 9")
  e <- hook_error("exit3")
  expect_match(conditionMessage(e), "exited with status 3")
  e <- hook_error("exit0")
  expect_match(conditionMessage(e), "without completing")
  expect_true(dir.exists(td))
  expect_length(child_pids(), 0)
})

test_that("a worker failure message says what happened", {
  skip_if_no_fork()
  local_parallel()
  withr::local_options(list(bootscale.test_hook = list(action = "exit3", block = 1),
                            cli.progress_show_after = Inf))
  expect_snapshot(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1), error = TRUE,
                  transform = function(x) gsub("pid [0-9]+", "pid <pid>", x))
})

test_that("200 parallel calls leave fds, mappings and children unchanged", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  for (i in 1:5) bootstrap_means(1:10, n_means = 2000, workers = 2, seed = i)
  fds <- open_fds()
  maps <- n_mappings()
  d <- data.frame(g = rep(1:2, each = 5), v = 1:10)
  for (i in 1:200) {
    if (i %% 2) {
      bootstrap_means(1:10, n_means = 2000, workers = 2, seed = i)
    } else {
      bootstrap_mean(d, v, .by = g, n_means = 1000, workers = 2, seed = i)
    }
  }
  expect_identical(open_fds(), fds)
  expect_identical(n_mappings(), maps)
  expect_length(child_pids(), 0)
})

# Starts Rscript on `lines` after a prelude that makes the worker of block 1
# sleep for a minute, and returns the process once it has started the run.
start_sleeping_run <- function(lines, env = parent.frame()) {
  script <- withr::local_tempfile(fileext = ".R", .local_envir = env)
  writeLines(c(
    "library(bootscale)",
    "options(bootscale.test_hook = list(action = 'sleep', block = 1, seconds = 60))",
    "cat('started\\n')",
    lines
  ), script)
  p <- processx::process$new(file.path(R.home("bin"), "Rscript"), script,
                             stdout = "|", stderr = "|")
  withr::defer(p$kill(), envir = env)
  out <- ""
  deadline <- Sys.time() + 30
  while (!grepl("started", out) && Sys.time() < deadline) {
    p$poll_io(200)
    out <- paste0(out, p$read_output())
  }
  Sys.sleep(1.5) # the workers are running, one of them asleep
  p
}

test_that("an interrupt returns within a second and leaves no workers", {
  skip_if_no_fork()
  skip_on_cran()
  skip_on_os(c("mac", "windows", "solaris"))
  skip_if_not_installed("processx")
  skip_if_not_installed("ps")
  p <- start_sleeping_run(c(
    "r <- tryCatch(bootstrap_means(1:10, n_means = 1e6, workers = 2, seed = 1),",
    "  interrupt = function(e) sprintf('interrupted at %.3f', as.numeric(Sys.time())))",
    "cat(r, '\\n')",
    "kids <- readLines(sprintf('/proc/%d/task/%d/children', Sys.getpid(), Sys.getpid()))",
    "cat('children:', nchar(trimws(paste(kids, collapse = ''))), '\\n')",
    "cat('tempdir:', dir.exists(tempdir()), '\\n')"
  ))
  workers <- ps::ps_children(ps::ps_handle(p$get_pid()))
  expect_gte(length(workers), 1)
  sent <- as.numeric(Sys.time())
  p$interrupt()
  p$wait(10000)
  out <- p$read_all_output()
  expect_match(out, "interrupted at")
  returned <- as.numeric(sub(".*interrupted at ([0-9.]+).*", "\\1", out))
  expect_lt(returned - sent, 1)
  expect_match(out, "children: 0")
  expect_match(out, "tempdir: TRUE")
  for (w in workers) expect_false(ps::ps_is_running(w))
})

test_that("killing R with SIGKILL takes its workers with it (Linux)", {
  skip_if_no_fork()
  skip_on_cran()
  skip_on_os(c("mac", "windows", "solaris"))
  skip_if_not_installed("processx")
  skip_if_not_installed("ps")
  p <- start_sleeping_run("bootstrap_means(1:10, n_means = 1e6, workers = 2, seed = 1)")
  workers <- ps::ps_children(ps::ps_handle(p$get_pid()))
  expect_gte(length(workers), 1)
  p$kill() # SIGKILL
  Sys.sleep(1)
  for (w in workers) {
    alive <- tryCatch(ps::ps_is_running(w) && ps::ps_status(w) != "zombie", error = function(e) FALSE)
    expect_false(alive)
  }
})

test_that("long runs show a progress bar fed by the workers' counter, ending at 100 %", {
  skip_if_no_fork()
  local_no_children()
  local_parallel()
  withr::local_options(list(cli.progress_show_after = 0, cli.progress_handlers_only = "logger",
                            bootscale.test_hook = list(action = "sleep", block = 1, seconds = 0.3)))
  out <- utils::capture.output(x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1))
  n_blocks <- ceiling(20000 / 1024)
  expect_match(out[1], sprintf("0/%d created", n_blocks))
  expect_match(out[length(out)], sprintf("%d/%d terminated", n_blocks, n_blocks))
  expect_identical(x, bootstrap_means(1:10, n_means = 20000, workers = 1, seed = 1))
})

test_that("long serial runs show a progress bar too", {
  withr::local_options(list(cli.progress_show_after = 0, cli.progress_handlers_only = "logger"))
  out <- utils::capture.output(x <- bootstrap_means(1:10, n_means = 1e6, sample_size = 100, workers = 1, seed = 1))
  n_blocks <- ceiling(1e6 / 1024)
  expect_match(out[1], sprintf("0/%d created", n_blocks))
  expect_match(out[length(out)], sprintf("%d/%d terminated", n_blocks, n_blocks))
  expect_length(grep("created", out), 1) # one bar
})
