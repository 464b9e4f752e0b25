# The fork pool: determinism, cost rule, failures, interrupts, cleanup.

local_parallel <- function(env = parent.frame()) {
  withr::local_options(list(bootscale.min_parallel_draws = 0, bootscale.force_fork = TRUE),
                       .local_envir = env)
}

# Results carry the number of processes that made them; the numbers must
# not depend on it.
same <- function(x) {
  attr(x, "processes") <- NULL
  x
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
  expect_identical(attr(ref, "processes"), 1L)
  for (k in c(2, 3, 7)) {
    got <- quietly(bootstrap_means(x, w, n_means = 5003, sample_size = 11, workers = k, seed = 8))
    expect_identical(attr(got, "processes"), as.integer(min(k, 5))) # 5 blocks
    expect_identical(same(got), same(ref))
  }
  # long replicates, cut into parts (sub-blocks): the same for any workers
  ref <- bootstrap_means(x, w, n_means = 7, sample_size = 9e6 + 1, workers = 1, seed = 8)
  for (k in c(2, 3)) {
    expect_identical(same(bootstrap_means(x, w, n_means = 7, sample_size = 9e6 + 1, workers = k,
                                          seed = 8)), same(ref))
  }
  d <- data.frame(g = rep(1:5, each = 20), v = rnorm(100), w = runif(100))
  ref <- bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = 1, seed = 2,
                        keep_samples = TRUE)
  for (k in c(2, 3, 7)) {
    expect_identical(same(quietly(bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = k,
                                                 seed = 2, keep_samples = TRUE))), same(ref))
  }
  # without samples the summary reads the workers' shared mapping directly
  # (selection in place); with samples it counts in the final vectors: the
  # same numbers
  keep <- ref
  ref <- bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = 1, seed = 2)
  cols <- c("g", "estimate", "std.error", "conf.low", "conf.high", "n_means")
  expect_identical(keep[cols], ref[cols])
  for (k in c(2, 3, 7)) {
    expect_identical(same(quietly(bootstrap_mean(d, v, w, .by = g, n_means = 3001, workers = k,
                                                 seed = 2))),
                     same(ref))
  }
  ref <- wsample(1:50, 200001, prob = 1:50, workers = 1, seed = 4)
  for (k in c(2, 3, 7)) {
    expect_identical(same(quietly(wsample(1:50, 200001, prob = 1:50, workers = k, seed = 4))),
                     same(ref))
  }
  ref <- filesize_pipeline(n_means = 1500, workers = 1, seed = 5)
  for (k in c(2, 3, 7)) {
    expect_identical(same(quietly(filesize_pipeline(n_means = 1500, workers = k, seed = 5))),
                     same(ref))
  }
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
  expect_identical(same(a), same(b))
})

test_that("a job's results and summary exist only once it is complete", {
  job <- .Call(bootscale:::C_bs_means_job, list(c(1, 2, 3)), list(c(1, 1, 1)), 2000, 10, 7)
  on.exit(.Call(bootscale:::C_bs_job_release, job))
  expect_error(.Call(bootscale:::C_bs_job_summarise, job, 1, c(0.025, 0.975)), "no complete means")
  expect_error(.Call(bootscale:::C_bs_job_result, job), "not complete")
  n_units <- .Call(bootscale:::C_bs_job_info, job)$n_units
  expect_null(.Call(bootscale:::C_bs_job_start, job, 0, 0, n_units, NULL, tempdir(), "slice",
                    NULL))
  expect_error(.Call(bootscale:::C_bs_job_result, job), "not complete")
  repeat if (.Call(bootscale:::C_bs_job_step, job, 20, 100)$state == "done") break
  stats <- .Call(bootscale:::C_bs_job_summarise, job, 1, c(0.025, 0.975))
  means <- .Call(bootscale:::C_bs_job_result, job)
  expect_length(means, 2000)
  expect_identical(stats, .Call(bootscale:::C_bs_summarise_means, means, 1, c(0.025, 0.975)))
})

test_that("the serial path (no fork allowed) gives the fork path's numbers", {
  skip_if_no_fork()
  local_parallel()
  fork <- bootstrap_means(1:30, n_means = 4000, workers = 2, seed = 6)
  withr::local_options(list(bootscale.force_fork = FALSE, bootscale.min_parallel_draws = Inf))
  serial <- bootstrap_means(1:30, n_means = 4000, workers = 2, seed = 6)
  expect_identical(attr(fork, "processes"), 2L)
  expect_identical(attr(serial, "processes"), 1L)
  expect_identical(same(serial), same(fork))
})

# Sets the cost rule's measurements for one test.
local_costs <- function(ns_per_draw, call_ms, start_ms, env = parent.frame()) {
  the <- bootscale:::the
  old <- mget(c("ns_per_draw", "call_ms", "start_ms"), envir = the, ifnotfound = list(NULL))
  withr::defer(for (n in names(old)) assign(n, old[[n]], envir = the), envir = env)
  assign("ns_per_draw", ns_per_draw, envir = the)
  assign("call_ms", call_ms, envir = the)
  assign("start_ms", start_ms, envir = the)
}

test_that("the cost rule weighs the work against the measured cost of a call", {
  withr::local_options(list(bootscale.min_parallel_draws = NULL, bootscale.test_hook = NULL))
  plan <- bootscale:::plan_workers
  local_costs(ns_per_draw = 1.5, call_ms = 0.1, start_ms = 5)
  up <- rep(TRUE, 64)
  expect_identical(plan(8L, 1e3, 10, running = up[1:8]), 1L)        # tiny job
  expect_identical(plan(2L, 1.1e8, 1078, running = up[1:2]), 2L)   # the chapter's job
  expect_identical(plan(8L, 1e10, 3, running = up[1:3]), 3L)       # no more than blocks
  expect_identical(plan(1L, 1e10, 1000, running = up[1]), 1L)
  # about a millisecond of work pays on a running pool ...
  expect_identical(plan(2L, 1e6, 1000, running = up[1:2]), 2L)
  # ... not when the pool must start first (5 ms)
  expect_identical(plan(2L, 1e6, 1000, running = c(TRUE, FALSE)), 1L)
  expect_identical(plan(2L, 2e7, 1000, running = c(TRUE, FALSE)), 2L)
  # a dear call (a slow machine) keeps small jobs serial
  local_costs(ns_per_draw = 1.5, call_ms = 5, start_ms = 5)
  expect_identical(plan(2L, 1e6, 1000, running = up[1:2]), 1L)
  # many cores: workers are added while they still pay
  local_costs(ns_per_draw = 1.5, call_ms = 0.1, start_ms = 5)
  expect_identical(plan(64L, 1e9, 1e5, running = up), 64L)
  # a plain threshold replaces the rule
  withr::local_options(list(bootscale.min_parallel_draws = 10))
  expect_identical(plan(4L, 10, 100), 4L)
  expect_identical(plan(4L, 9, 100), 1L)
})

test_that("the pool measures its costs when it starts", {
  skip_if_no_fork()
  local_parallel()
  pool_stop()
  the <- bootscale:::the
  the$call_ms <- NULL
  st <- pool_start(2)
  expect_identical(st$state, "running")
  # measured now (the prior is gone), finite, and the ns per draw above the
  # floor that keeps the rule from dividing by nothing
  expect_true(is.finite(st$call_ms) && st$call_ms >= 0)
  expect_true(is.finite(st$ns_per_draw) && st$ns_per_draw >= 0.2)
  # what pool_status() shows is what the cost rule reads
  expect_identical(st$call_ms, the$call_ms)
  expect_identical(st$ns_per_draw, the$ns_per_draw)
  # and the rule decides with these numbers: 2 workers exactly when their
  # predicted time (half the serial time plus a call) saves 10 %, that is
  # from a serial time of 2.5 calls on; below 2 calls, at once serially
  withr::local_options(list(bootscale.min_parallel_draws = NULL, bootscale.test_hook = NULL))
  draws_for <- function(calls) calls * st$call_ms * 1e6 / st$ns_per_draw
  plan <- function(n) bootscale:::plan_workers(2L, n, 100, running = c(TRUE, TRUE))
  expect_identical(plan(floor(draws_for(1.9))), 1L)
  expect_identical(plan(max(ceiling(draws_for(2.6)), 1e6)), 2L)
  the$call_ms <- 1e6 # a call that costs more than the job: serial
  expect_identical(plan(1e6), 1L)
  the$call_ms <- st$call_ms
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
  # without the option: the cached core count, whatever _R_CHECK_LIMIT_CORES_ says
  # (parallelly applies it)
  withr::local_options(list(bootscale.workers = NULL))
  expect_identical(default_workers(), as.integer(min(bootscale:::available_cores(), 256)))
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
  # a failure stops the pool; nothing is left, and the next call rebuilds it
  expect_identical(pool_status()$state, "stopped")
  expect_length(child_pids(), 0)
  withr::local_options(list(bootscale.test_hook = NULL))
  x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1)
  expect_identical(attr(x, "processes"), 2L)
  expect_identical(same(x), same(bootstrap_means(1:10, n_means = 20000, workers = 1, seed = 1)))
  pool_stop()
})

test_that("a worker failure message says what happened", {
  skip_if_no_fork()
  local_parallel()
  withr::local_options(list(bootscale.test_hook = list(action = "exit3", block = 1),
                            cli.progress_show_after = Inf))
  expect_snapshot(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1), error = TRUE,
                  transform = function(x) {
                    gsub("worker [0-9]+ \\(pid [0-9]+\\)", "worker <n> (pid <pid>)", x)
                  })
})

test_that("200 parallel calls leave fds, mappings and children unchanged", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  d <- data.frame(g = rep(1:2, each = 5), v = 1:10)
  # the pool's cached mapping is made by the first call that uses it
  for (i in 1:5) {
    bootstrap_means(1:10, n_means = 2000, workers = 2, seed = i)
    bootstrap_mean(d, v, .by = g, n_means = 1000, workers = 2, seed = i)
  }
  gc()
  fds <- open_fds()
  maps <- n_mappings()
  pool <- pool_status()
  for (i in 1:200) {
    if (i %% 2) {
      bootstrap_means(1:10, n_means = 2000, workers = 2, seed = i)
    } else {
      bootstrap_mean(d, v, .by = g, n_means = 1000, workers = 2, seed = i)
    }
  }
  gc() # results of 1 MB and more are mappings of their own until collected
  expect_identical(open_fds(), fds)
  expect_identical(n_mappings(), maps)
  expect_setequal(child_pids(), pool$helper) # the workers are the helper's children
  after <- pool_status()
  expect_identical(after[c("helper", "pids")], pool[c("helper", "pids")]) # the same pool
  expect_identical(after$calls, pool$calls + 200)
})

# Starts Rscript on `lines` after `prelude` (by default: the worker of block
# 1 sleeps for a minute), and returns the process once it has started the
# run.
sleep_hook <- "options(bootscale.test_hook = list(action = 'sleep', block = 1, seconds = 60))"
start_run <- function(lines, env = parent.frame(), prelude = sleep_hook) {
  script <- withr::local_tempfile(fileext = ".R", .local_envir = env)
  writeLines(c(
    "library(bootscale)",
    "options(bootscale.force_fork = TRUE)",
    prelude,
    "cat('started\\n')",
    lines
  ), script)
  p <- processx::process$new(file.path(R.home("bin"), "Rscript"), script,
                             stdout = "|", stderr = "|")
  withr::defer({
    p$kill()
    p$wait(2000)
  }, envir = env)
  out <- ""
  deadline <- Sys.time() + 30
  while (!grepl("started", out) && Sys.time() < deadline) {
    p$poll_io(200)
    out <- paste0(out, p$read_output())
  }
  Sys.sleep(1.5) # the workers are running, one of them asleep
  p
}

# The pool's processes under R process `pid`: the helper and its workers.
# Sends Ctrl-C to the R in `p`, whose code prints "interrupted at <time>"
# when the interrupt reaches it; checks that it did within `seconds`.
interrupt_within <- function(p, seconds) {
  sent <- as.numeric(Sys.time())
  p$interrupt()
  p$wait(10000)
  out <- p$read_all_output()
  expect_match(out, "interrupted at")
  returned <- as.numeric(sub(".*interrupted at ([0-9.]+).*", "\\1", out))
  expect_lt(returned - sent, seconds)
  out
}

pool_tree <- function(pid) ps::ps_children(ps::ps_handle(pid), recursive = TRUE)

alive <- function(h) {
  tryCatch(ps::ps_is_running(h) && ps::ps_status(h) != "zombie", error = function(e) FALSE)
}

skip_subprocess <- function() {
  skip_if_no_fork()
  skip_on_cran()
  skip_on_os(c("mac", "windows", "solaris"))
  skip_if_not_installed("processx")
  skip_if_not_installed("ps")
}

test_that("an interrupt returns within half a second and the pool stays usable", {
  skip_subprocess()
  p <- start_run(c(
    "helper <- pool_start(2)$helper",
    "r <- tryCatch(bootstrap_means(1:10, n_means = 1e6, workers = 2, seed = 1),",
    "  interrupt = function(e) sprintf('interrupted at %.3f', as.numeric(Sys.time())))",
    "cat(r, '\\n')",
    "options(bootscale.test_hook = NULL)",
    "x <- bootstrap_means(1:10, n_means = 5000, workers = 2, seed = 3)",
    "y <- bootstrap_means(1:10, n_means = 5000, workers = 1, seed = 3)",
    "cat('after:', identical(c(x), c(y)), '\\n')",
    "cat('same pool:', identical(pool_status()$helper, helper), '\\n')",
    "cat('tempdir:', dir.exists(tempdir()), '\\n')"
  ))
  tree <- pool_tree(p$get_pid())
  expect_length(tree, 2) # the helper and its worker
  out <- interrupt_within(p, 0.5)
  expect_match(out, "after: TRUE")
  expect_match(out, "same pool: TRUE")
  expect_match(out, "tempdir: TRUE")
  Sys.sleep(1)
  for (h in tree) expect_false(alive(h)) # R ended, the pool with it
})

test_that("a job of 1e11 draws uses both processes and stops within half a second", {
  skip_subprocess()
  p <- start_run(prelude = "", c(
    "r <- tryCatch(bootstrap_means(c(0, 1, 2), n_means = 1000, sample_size = 1e8, workers = 2),",
    "  interrupt = function(e) sprintf('interrupted at %.3f', as.numeric(Sys.time())))",
    "cat(r, '\\n')",
    "cat('pool:', pool_status()$state, '\\n')"
  ))
  tree <- pool_tree(p$get_pid())
  expect_length(tree, 2)
  worker <- Filter(function(h) ps::ps_ppid(h) != p$get_pid(), tree)[[1]]
  cpu0 <- sum(ps::ps_cpu_times(worker)[c("user", "system")])
  Sys.sleep(1.5)
  cpu1 <- sum(ps::ps_cpu_times(worker)[c("user", "system")])
  expect_gt(cpu1 - cpu0, 0.1) # the worker computes (R does its share too)
  out <- interrupt_within(p, 0.5)
  expect_match(out, "pool: running")
})

test_that("killing R with SIGKILL takes the helper and its workers with it (Linux)", {
  skip_subprocess()
  p <- start_run("bootstrap_means(1:10, n_means = 1e6, workers = 2, seed = 1)")
  tree <- pool_tree(p$get_pid())
  expect_length(tree, 2)
  p$kill() # SIGKILL
  Sys.sleep(1.5)
  for (h in tree) expect_false(alive(h))
})

test_that("the helper computes the same blocks as this process", {
  skip_if_no_fork()
  local_parallel()
  run <- bootscale:::run_blocks_on
  job <- .Call(bootscale:::C_bs_means_job, list(c(0.5, 1, 7), as.double(1:100)),
               list(c(1, 2, 3), as.double(100:1)), 3000, 31, 11)
  n <- bootscale:::job_n_blocks(job)
  bootscale:::pool_ensure(2L)
  # a no-op hook: the workers take every block
  run(job, 2L, 0, n, hook = list(action = "none", block = -1, seconds = 0))
  helper <- .Call(bootscale:::C_bs_job_result, job)
  run(job, 1L, 0, n)
  expect_identical(helper, .Call(bootscale:::C_bs_job_result, job))
  .Call(bootscale:::C_bs_job_release, job)
  job <- .Call(bootscale:::C_bs_draws_job, as.double(1:7), 300001, 5)
  n <- bootscale:::job_n_blocks(job)
  run(job, 2L, 0, n, hook = list(action = "none", block = -1, seconds = 0))
  helper <- .Call(bootscale:::C_bs_job_result, job)
  run(job, 1L, 0, n)
  expect_identical(helper, .Call(bootscale:::C_bs_job_result, job))
  .Call(bootscale:::C_bs_job_release, job)
})

test_that("run_blocks() slices concatenate to the whole result", {
  skip_if_no_fork()
  local_parallel()
  slices <- function(make, cuts, workers) {
    job <- make()
    on.exit(.Call(bootscale:::C_bs_job_release, job))
    n <- bootscale:::job_n_blocks(job)
    edges <- unique(c(0, cuts[cuts < n], n))
    parts <- lapply(seq_len(length(edges) - 1), function(i) {
      c(bootscale:::run_blocks(job, workers, edges[i], edges[i + 1]))
    })
    list(n = n, joined = unlist(parts), whole = c(bootscale:::run_blocks(job, 1L, 0, n)))
  }
  means <- function() {
    .Call(bootscale:::C_bs_means_job, list(c(1, 2, 3), c(5, 9)), list(c(1, 1, 2), c(1, 3)),
          5000, 17, 3)
  }
  long <- function() {
    .Call(bootscale:::C_bs_means_job, list(c(0, 1, 2)), list(c(1, 1, 1)), 5, 1e7, 3)
  }
  draws <- function() .Call(bootscale:::C_bs_draws_job, c(1, 2, 3), 500000, 3)
  for (w in c(1L, 2L)) {
    r <- slices(means, c(1, 4, 5, 9), w)
    expect_identical(r$n, 10) # 5 blocks of 1024 means per group
    expect_identical(r$joined, r$whole)
    one <- bootstrap_means(c(1, 2, 3), c(1, 1, 2), 5000, 17, seed = 3, workers = 1)
    expect_identical(r$whole, c(one, bootscale:::run_blocks(means(), 1L, 5, 10)))
    r <- slices(long, c(2, 3), w)
    expect_identical(r$n, 5) # one unit per replicate
    expect_identical(r$joined, r$whole)
    r <- slices(draws, c(3, 4), w)
    expect_identical(r$joined, r$whole)
    expect_length(r$whole, 500000)
  }
  job <- means()
  expect_error(bootscale:::run_blocks(job, 1L, 3, 2), class = "bootscale_error_bad_range")
  expect_error(bootscale:::run_blocks(job, 1L, 0, 11), class = "bootscale_error_bad_range")
  .Call(bootscale:::C_bs_job_release, job)
})

test_that("a helper killed between calls is replaced silently", {
  skip_if_no_fork()
  local_parallel()
  pool_start(2)
  old <- pool_status()
  tools::pskill(old$helper, tools::SIGKILL)
  Sys.sleep(0.3)
  x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 9)
  expect_identical(attr(x, "processes"), 2L)
  now <- pool_status()
  expect_identical(now$state, "running")
  expect_false(now$helper == old$helper)
  expect_identical(same(x), same(bootstrap_means(1:10, n_means = 20000, workers = 1, seed = 9)))
  expect_false(old$helper %in% child_pids()) # reaped, not a zombie
})

test_that("a helper killed during a call is a classed error, and the next call works", {
  skip_if_no_fork()
  skip_on_os(c("windows", "solaris"))
  skip_if_not_installed("processx")
  local_parallel()
  pool_start(2)
  helper <- pool_status()$helper
  killer <- processx::process$new("sh", c("-c", sprintf("sleep 0.5; kill -9 %d", helper)))
  withr::local_options(list(bootscale.test_hook = list(action = "sleep", block = 2, seconds = 3)))
  e <- tryCatch(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1),
                bootscale_error_worker = function(e) e)
  killer$wait(5000)
  expect_s3_class(e, "bootscale_error_worker")
  expect_match(conditionMessage(e),
               "helper process \\(pid [0-9]+\\) was killed by signal 9|worker 1")
  expect_identical(pool_status()$state, "stopped")
  withr::local_options(list(bootscale.test_hook = NULL))
  x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1)
  expect_identical(attr(x, "processes"), 2L)
})

test_that("a forked child of R runs serially and leaves its parent's pool alone", {
  skip_if_no_fork()
  skip_on_os(c("windows", "solaris"))
  local_parallel()
  pool_start(2)
  before <- pool_status()
  res <- parallel::mclapply(1:2, function(i) {
    x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = i)
    list(x = x, state = pool_status()$state, stopped = pool_stop()$state)
  }, mc.cores = 2)
  for (i in 1:2) {
    expect_identical(attr(res[[i]]$x, "processes"), 1L)
    expect_identical(res[[i]]$state, "stopped") # the parent's pool is not the child's
    expect_identical(same(res[[i]]$x),
                     same(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = i)))
  }
  after <- pool_status()
  expect_identical(after[c("state", "helper", "pids")], before[c("state", "helper", "pids")])
})

test_that("the pool stops after its idle time and restarts silently", {
  skip_if_no_fork()
  local_parallel()
  pool_stop()
  withr::local_options(list(bootscale.pool_idle = 0.5))
  pool_start(2)
  helper <- pool_status()$helper
  Sys.sleep(2)
  expect_identical(pool_status()$state, "stopped")
  expect_false(helper %in% child_pids())
  expect_silent(x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1))
  expect_identical(attr(x, "processes"), 2L)
  expect_identical(pool_status()$state, "running")
  pool_stop()
  expect_identical(pool_status()$state, "stopped")
  expect_length(child_pids(), 0)
})

test_that("the peak memory of a call is at most 1.1 times its result", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  skip_on_valgrind()
  local_parallel()
  pool_start(2)
  bytes <- 4e6 * 8 / 2^20 # MB of the result
  for (w in c(1L, 2L)) {
    gc()
    m <- memit(bootstrap_means(1:10, n_means = 4e6, workers = w, seed = 1))
    expect_identical(attr(attr(m, "value"), "processes"), w)
    expect_lte(m$increment, 1.1 * bytes)
    d <- data.frame(g = rep(1:2, each = 5), v = 1:10)
    gc()
    m <- memit(bootstrap_mean(d, v, .by = g, n_means = 2e6, workers = w, seed = 1,
                              keep_samples = TRUE))
    expect_identical(attr(attr(m, "value"), "processes"), w)
    expect_lte(m$increment, 1.1 * bytes)
  }
})

test_that("results for a seed are those of version 0.1.0", {
  # Printed with 17 significant digits from version 0.1.0 (before the fork
  # server and long replicates); jobs of sample_size <= 65536 keep them.
  local_parallel()
  for (w in c(1L, 2L)) {
    x <- bootstrap_means(c(0, 1, 2), n_means = 1000, seed = 1, workers = w)
    expect_identical(sprintf("%.17g", x[c(1, 500, 1000)]),
                     c("1.02", "1.0700000000000001", "1.04"))
    x <- bootstrap_means(0:40, dpois(0:40, 12), n_means = 3000, sample_size = 101, seed = 42,
                         workers = w)
    expect_identical(sprintf("%.17g", x[c(1, 1025, 3000)]),
                     c("12.475247524752476", "12.049504950495049", "11.841584158415841"))
    expect_identical(c(wsample(1:10, 20, prob = 1:10, seed = 1, workers = w)),
                     c(9L, 6L, 3L, 7L, 5L, 10L, 9L, 10L, 9L, 3L, 5L, 8L, 10L, 10L, 4L, 3L, 5L,
                       7L, 9L, 6L))
    s <- wsample(1:5, 2e5, prob = 1:5, seed = 2, workers = w)
    expect_identical(c(s[c(1, 65537, 2e5)]), c(5L, 3L, 2L))
    expect_identical(tabulate(s), c(13406L, 26809L, 39775L, 53028L, 66982L))
    d <- data.frame(g = rep(1:2, each = 3), v = c(1, 2, 3, 10, 20, 30), w = c(1, 1, 2, 1, 3, 1))
    b <- bootstrap_mean(d, v, w, .by = g, n_means = 2000, seed = 7, workers = w)
    cols <- c("estimate", "std.error", "conf.low", "conf.high")
    expect_identical(sprintf("%.17g", unlist(b[, cols], use.names = FALSE)),
                     c("2.2501199999999999", "20.014099999999999", "0.085032351786982874",
                       "0.62661592204226546", "2.0800000000000001", "18.800000000000001",
                       "2.4100000000000001", "21.300000000000001"))
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
  out <- utils::capture.output(x <- bootstrap_means(1:10, n_means = 1e6, sample_size = 100,
                                                    workers = 1, seed = 1))
  n_blocks <- ceiling(1e6 / 1024)
  expect_match(out[1], sprintf("0/%d created", n_blocks))
  expect_match(out[length(out)], sprintf("%d/%d terminated", n_blocks, n_blocks))
  expect_length(grep("created", out), 1) # one bar
})

test_that("the size check counts partial sums and the address-space limit, before any work", {
  lim <- bootscale:::memory_limits()
  expect_gt(lim$physical, 2^20)
  expect_true(is.numeric(lim$cgroup) && lim$cgroup > 0)
  # long replicates keep 16 bytes (and a mark) per part of 2^22 draws
  expect_identical(bootscale:::partial_bytes(1000, 100), 1000 / 1024)
  expect_identical(bootscale:::partial_bytes(1000, 1e5), 1000)
  expect_identical(bootscale:::partial_bytes(1000, 1e8), 1000 * 24 * 17)
  skip_on_os(c("windows", "mac", "solaris"))
  skip_on_cran()
  skip_if_not_installed("processx")
  skip_on_valgrind()
  # 1.6 GB of means under a 3 GB address-space limit: the mapping and the
  # result both need address space, so it is refused at once
  out <- processx::run("sh", c("-c", paste(
    "ulimit -v 3000000;", shQuote(file.path(R.home("bin"), "Rscript")), "-e",
    shQuote(paste("library(bootscale);",
                  "t <- system.time(e <- tryCatch(bootstrap_means(1:3, n_means = 2e8),",
                  "error = function(e) e));",
                  "cat(class(e)[1], conditionMessage(e), t[['elapsed']] < 5)")))),
    error_on_status = FALSE)
  expect_match(out$stdout, "bootscale_error_too_large")
  expect_match(out$stdout, "address space limit")
  expect_match(out$stdout, "TRUE$")
})

test_that("a pool that cannot start means a serial run and a one-time message saying why", {
  skip_if_no_fork()
  local_parallel()
  pool_stop()
  the <- bootscale:::the
  said <- the$said
  withr::defer(assign("said", said, envir = the))
  the$said[["start"]] <- NULL
  withr::local_options(list(bootscale.pool_helper = file.path(tempdir(), "no-such-helper")))
  expect_message(x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1),
                 "posix_spawn\\(\\) of .*no-such-helper failed: No such file or directory",
                 class = "bootscale_message_serial")
  expect_identical(attr(x, "processes"), 1L)
  expect_silent(y <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1)) # said once
  expect_identical(x, y)
  expect_identical(pool_status()$state, "stopped")
})

test_that("a mapping that cannot be made is a classed error with the call and errno", {
  skip_on_os(c("windows", "mac", "solaris"))
  skip_on_cran()
  skip_if_not_installed("processx")
  skip_on_valgrind()
  # the size check is passed by, so that mmap() itself meets the limit
  code <- paste(
    "library(bootscale)",
    "e <- tryCatch({",
    "  job <- .Call(bootscale:::C_bs_means_job, list(c(1, 2)), list(c(1, 1)), 4e8, 1, 1)",
    "  job <- bootscale:::checked_job(job)",
    "  bootscale:::run_blocks(job, 1L, 0, bootscale:::job_n_blocks(job))",
    "}, error = function(e) e)",
    "cat(class(e)[1], e$syscall, e$errno, conditionMessage(e), sep = '|')", sep = "\n")
  out <- processx::run("sh", c("-c", paste("ulimit -v 3000000;",
    shQuote(file.path(R.home("bin"), "Rscript")), "-e", shQuote(code))), error_on_status = FALSE)
  parts <- strsplit(out$stdout, "|", fixed = TRUE)[[1]]
  expect_identical(parts[1], "bootscale_error_system")
  expect_identical(parts[2], "mmap()")
  expect_identical(parts[3], "12") # ENOMEM
  expect_match(parts[4], "mmap\\(\\) of [0-9]+ bytes failed")
})

test_that("the helper and its workers hold only the descriptors they need", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  pool_stop()
  # a descriptor R opens without close-on-exec must not reach the pool
  f <- withr::local_tempfile()
  con <- file(f, open = "w")
  withr::defer(close(con))
  st <- withCallingHandlers(pool_start(3), # 3 on fewer cores warns; not news here
    bootscale_warning_oversubscribed = function(w) invokeRestart("muffleWarning"))
  fds <- function(pid) sort(as.integer(list.files(sprintf("/proc/%d/fd", pid))))
  expect_identical(fds(st$helper), 0:3)         # /dev/null x 3, the control socket
  for (i in seq_along(st$pids)) {
    expect_identical(fds(st$pids[i]), c(0:2, 3L + i)) # /dev/null x 3, its own socket
  }
  target <- function(pid, fd) Sys.readlink(sprintf("/proc/%d/fd/%d", pid, fd))
  expect_identical(target(st$helper, 0L), "/dev/null")
  expect_match(target(st$helper, 3L), "^socket:")
  pool_stop()
})

test_that("two R sessions have pools of their own", {
  skip_if_no_fork()
  skip_on_cran()
  skip_if_not_installed("processx")
  skip_if_not_installed("ps")
  local_parallel()
  mine <- pool_start(2)
  out <- processx::run(file.path(R.home("bin"), "Rscript"), c("-e", paste(
    "library(bootscale); st <- pool_start(2);",
    "x <- bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1);",
    "cat(st$helper, attr(x, 'processes'), Sys.getpid())")))
  other <- as.integer(strsplit(trimws(out$stdout), " ")[[1]])
  expect_false(other[1] %in% c(mine$helper, mine$pids))
  expect_identical(other[2], 2L)
  now <- pool_status()
  expect_identical(now[c("state", "helper", "pids")], mine[c("state", "helper", "pids")])
  Sys.sleep(0.5)
  # the other session's pool ended with it
  expect_false(tryCatch(alive(ps::ps_handle(other[1])), error = function(e) FALSE))
})

test_that("the engine's constants are read from C, and hook actions are named there", {
  skip_if_no_fork()
  local_no_children()
  consts <- .Call(bootscale:::C_bs_constants)
  expect_named(consts, c("rng", "max_workers", "max_sample_size", "block_means", "block_draws"))
  expect_identical(consts$rng, "xoshiro256++ keyed by SplitMix64")
  expect_identical(attr(bootstrap_means(1:3, n_means = 2, seed = 1, workers = 1), "rng"),
                   consts$rng)
  # the limits R checks are the ones C enforces
  expect_identical(suppressWarnings(bootscale:::check_workers(consts$max_workers)),
                   consts$max_workers)
  expect_error(bootscale:::check_workers(consts$max_workers + 1),
               class = "bootscale_error_bad_workers")
  expect_error(bootstrap_means(1:3, n_means = 2, sample_size = 2 * consts$max_sample_size),
               class = "bootscale_error_bad_count")
  # the job protocol is read by name
  job <- .Call(bootscale:::C_bs_means_job, list(c(1, 2)), list(c(1, 1)), 3000, 5, 1)
  info <- .Call(bootscale:::C_bs_job_info, job)
  expect_named(info, c("n_blocks", "length", "paired", "n_units", "blocks_per_unit", "draws",
                       "run_bytes"))
  expect_identical(info$length, 3000)
  expect_identical(info$n_blocks, ceiling(3000 / consts$block_means))
  expect_identical(info$draws, 3000 * 5)
  # an action C does not know is refused there, before anything runs
  withr::local_options(list(bootscale.test_hook = list(action = "explode", block = 1)))
  expect_error(bootstrap_means(1:10, n_means = 20000, workers = 2, seed = 1), "bad test hook")
  .Call(bootscale:::C_bs_job_release, job)
})

test_that("summaries made during a run equal those of the means, for any workers", {
  skip_if_no_fork()
  local_parallel()
  values <- list(c(1, 2, 5), as.double(1:70), c(-3, 0.5))
  weights <- list(c(1, 2, 3), as.double(70:1), c(2, 1))
  probs <- c(0.025, 0.975)
  means <- bootscale:::run_means(values, weights, 5000, 13, 1L, seed = 2)
  for (w in c(1L, 2L, 3L)) {
    s <- suppressWarnings(bootscale:::run_means(values, weights, 5000, 13, w, seed = 2,
                                                finish = "summary", probs = probs))
    expect_identical(attr(s, "processes"), w)
    expect_null(s$samples)
    # the C summary of the means, and R's own mean, sd and type-7 quantiles
    expect_identical(s$stats, .Call(bootscale:::C_bs_summarise_means, same(means), 3, probs))
    for (g in 1:3) {
      m <- means[(g - 1) * 5000 + 1:5000]
      expect_equal(s$stats[, g], c(mean(m), sd(m), quantile(m, probs, names = FALSE)),
                   tolerance = 1e-13)
    }
    k <- suppressWarnings(bootscale:::run_means(values, weights, 5000, 13, w, seed = 2,
                                                finish = "summary", probs = probs,
                                                keep_samples = TRUE))
    expect_identical(k$stats, s$stats)
    expect_identical(unlist(k$samples), same(means))
  }
})

test_that("the pool keeps one mapping between summarising calls, and pool_stop() frees it", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  pool_stop()
  pool_start(2)
  expect_identical(pool_status()$cache, 0)
  d <- data.frame(g = rep(1:3, each = 4), v = c(1:4, 11:14, 21:24))
  a <- bootstrap_mean(d, v, .by = g, n_means = 20000, workers = 2, seed = 5)
  cache <- pool_status()$cache
  expect_gt(cache, 3 * 20000 * 8) # the means of the three groups fit
  expect_lte(cache, 64 * 2^20)
  maps <- n_mappings()
  b <- bootstrap_mean(d, v, .by = g, n_means = 20000, workers = 2, seed = 5)
  expect_identical(pool_status()$cache, cache) # reused, not remade
  expect_identical(n_mappings(), maps)
  expect_identical(same(b), same(a))
  # a smaller job on the same mapping, then the first again: the same bits
  small <- bootstrap_mean(d, v, .by = g, n_means = 3000, workers = 2, seed = 6)
  expect_identical(same(bootstrap_mean(d, v, .by = g, n_means = 20000, workers = 2, seed = 5)),
                   same(a))
  expect_identical(same(small),
                   same(bootstrap_mean(d, v, .by = g, n_means = 3000, workers = 1, seed = 6)))
  # a job too large for the mapping makes a larger one, which the workers
  # are sent in place of the one they kept
  big <- bootstrap_mean(d, v, .by = g, n_means = 60000, workers = 2, seed = 7)
  expect_gt(pool_status()$cache, cache)
  expect_identical(same(big),
                   same(bootstrap_mean(d, v, .by = g, n_means = 60000, workers = 1, seed = 7)))
  expect_identical(same(bootstrap_mean(d, v, .by = g, n_means = 20000, workers = 2, seed = 5)),
                   same(a))
  pool_stop()
  expect_identical(pool_status()$cache, 0)
  expect_lt(n_mappings(), maps)
})

test_that("a large result of the pool is its run's mapping, copy-on-write in forked children", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  n <- 3e5 # 2.4 MB of means: over the 1 MiB from which results are not copied
  job_maps <- function() sum(grepl("bootscale-job", readLines("/proc/self/maps"), fixed = TRUE))
  serial <- same(bootstrap_means(c(1, 2, 5), c(1, 2, 3), n_means = n, seed = 8, workers = 1))
  gc()
  maps <- job_maps()
  x <- bootstrap_means(c(1, 2, 5), c(1, 2, 3), n_means = n, seed = 8, workers = 2)
  expect_identical(attr(x, "processes"), 2L)
  expect_identical(job_maps(), maps + 1L) # the vector is a mapping of its own
  attr(x, "processes") <- NULL
  expect_identical(x, serial)
  # private (copy-on-write, "p"), not shared ("s"): a forked child of R
  # that writes into it in place cannot change it here, nor the workers
  maps_now <- readLines("/proc/self/maps")
  perms <- vapply(strsplit(maps_now[grepl("bootscale-job", maps_now, fixed = TRUE)], " "),
                  `[`, "", 2)
  expect_identical(perms, "rw-p")
  x[2] <- -2 # this process may write into it
  expect_identical(x[2], -2)
  expect_identical(x[-2], serial[-2])
  # draws too (integers)
  ws <- wsample(1:5, 5e5, prob = 1:5, seed = 9, workers = 2)
  expect_identical(attr(ws, "processes"), 2L)
  expect_identical(same(ws), same(wsample(1:5, 5e5, prob = 1:5, seed = 9, workers = 1)))
  expect_identical(job_maps(), maps + 2L)
  rm(x, ws)
  gc()
  expect_identical(job_maps(), maps) # released with the vectors
})

test_that("unreferenced results that are mappings are collected without waiting for R's heap", {
  skip_if_no_fork()
  skip_on_os(c("mac", "windows", "solaris"))
  local_parallel()
  mapped <- function() .Call(bootscale:::C_bs_test_mapped_bytes)
  gc()
  before <- mapped()
  for (i in 1:20) { # 20 results of 8 MB, each dropped by the next
    x <- bootstrap_means(c(1, 2, 3), n_means = 1e6, sample_size = 2, workers = 2, seed = i)
  }
  expect_identical(attr(x, "processes"), 2L)
  # R's collector does not count them; bootscale starts it past 64 MiB
  expect_lte(mapped() - before, 64 * 2^20 + 2 * 8.1e6)
  expect_gt(mapped() - before, 8e6) # the last one lives
  rm(x)
  gc()
  expect_identical(mapped(), before)
})
