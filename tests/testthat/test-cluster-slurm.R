# The future backend on a real Slurm cluster through future.batchtools.
# Runs only under `make cluster-check`, which starts the one-node cluster of
# tools/slurm-local.sh, sets BOOTSCALE_SLURM=1 and SLURM_CONF, and checks
# after these tests that the daemons are gone.

skip_if_not(identical(Sys.getenv("BOOTSCALE_SLURM"), "1"), "no local Slurm (make cluster-check)")
skip_if_not_installed("future.batchtools")
skip_if_not_installed("batchtools")
skip_if(!nzchar(Sys.getenv("SLURM_CONF")), "SLURM_CONF is not set")

strip_backend <- function(x) {
  # the numbers and the attributes that say what they are; not how they
  # were computed (backend, chunks, processes)
  for (a in c("backend", "chunks", "chunk_log", "processes")) attr(x, a) <- NULL
  x
}

slurm_config <- function(name) {
  conf <- system2("scontrol", c("show", "config"), stdout = TRUE)
  hit <- grep(sprintf("^%s +=", name), conf, value = TRUE)
  trimws(sub("^[^=]*=", "", hit[1]))
}

# The jobs Slurm recorded as finished (jobcomp/filetxt): id, name, state.
completed_jobs <- function() {
  path <- slurm_config("JobCompLoc")
  if (!file.exists(path)) return(data.frame(id = character(), name = character(),
                                            state = character()))
  lines <- readLines(path)
  field <- function(key) sub(sprintf(".*\\b%s=([^ ]*).*", key), "\\1", lines)
  data.frame(id = field("JobId"), name = field("Name"), state = field("JobState"),
             stringsAsFactors = FALSE)
}

our_jobs <- function() {
  out <- system2("squeue", c("-h", "-o", "%i"), stdout = TRUE)
  out[nzchar(out)]
}

old_plan <- future::plan()
withr::defer(future::plan(old_plan))
withr::local_options(future.cache.path = withr::local_tempdir(.local_envir = teardown_env()),
                     .local_envir = teardown_env())
future::plan(future.batchtools::batchtools_slurm,
             template = system.file("templates", "slurm.tmpl", package = "bootscale"),
             resources = list(ncpus = 1, walltime = 600, memory = 500))

test_that("the chapter's pipeline on Slurm is the fork backend's, in Slurm jobs", {
  fork <- filesize_pipeline(n_means = 20000, seed = 41, workers = 2)
  res <- filesize_pipeline(n_means = 20000, seed = 41, backend = future_backend(chunks = 2))
  expect_identical(strip_backend(res), strip_backend(fork))
  log <- attr(res, "chunk_log")
  expect_identical(nrow(log), 2L)
  expect_false(anyNA(log$slurm_job_id))
  expect_length(unique(log$slurm_job_id), 2L)
  # Slurm's own record: the jobs ran under our chunks' names and completed
  done <- completed_jobs()
  rec <- done[match(log$slurm_job_id, done$id), ]
  expect_match(rec$name, "^bootscale-chunk-[12]-")
  expect_identical(substr(rec$name, 1, 17), c("bootscale-chunk-1", "bootscale-chunk-2"))
  expect_identical(rec$state, c("COMPLETED", "COMPLETED"))
})

test_that("bootstrap_mean(.by =) and wsample() on Slurm are identical to fork", {
  d <- data.frame(g = rep(c("a", "b", "c"), c(2, 5, 30)), x = c(1, 2, 1:5, 0:29),
                  w = c(1, 3, 5:1, dpois(0:29, 7)))
  fork <- bootstrap_mean(d, x, w, .by = g, n_means = 2500, keep_samples = TRUE, seed = 42)
  res <- bootstrap_mean(d, x, w, .by = g, n_means = 2500, keep_samples = TRUE, seed = 42,
                        backend = future_backend(chunks = 2))
  expect_identical(strip_backend(res), strip_backend(fork))
  expect_false(anyNA(attr(res, "chunk_log")$slurm_job_id))
  expect_identical(strip_backend(wsample(1:50, 2e5, prob = 50:1, seed = 43,
                                         backend = future_backend(chunks = 2))),
                   strip_backend(wsample(1:50, 2e5, prob = 50:1, seed = 43)))
})

test_that("a Slurm job cancelled with scancel mid-run is retried, same bits", {
  skip_if_not_installed("processx")
  # chunk 1 sleeps on its first attempt; a watcher cancels its job once running
  canceller <- processx::process$new("bash", c("-c", paste(
    "for i in $(seq 600); do",
    "  id=$(squeue -h -t R -o '%i %j' | awk '$2 ~ /^bootscale-chunk-1-/ {print $1}')",
    "  if [ -n \"$id\" ]; then sleep 1; scancel \"$id\"; echo \"$id\"; exit 0; fi",
    "  sleep 0.1",
    "done; exit 1", sep = "\n")), stdout = "|")
  withr::defer(if (canceller$is_alive()) canceller$kill())
  withr::local_options(bootscale.test_cluster_hook =
                         list(chunk = 1, action = "sleep", attempts = 1, seconds = 120))
  t0 <- Sys.time()
  res <- suppressWarnings(
    bootstrap_means(0:20, dpois(0:20, 6), n_means = 6000, seed = 44,
                    backend = future_backend(chunks = 2))
  )
  elapsed <- as.numeric(Sys.time() - t0, units = "secs")
  canceller$wait(10000)
  expect_identical(canceller$get_exit_status(), 0L)
  cancelled <- canceller$read_all_output_lines()
  expect_length(cancelled, 1L)
  expect_identical(strip_backend(res),
                   strip_backend(bootstrap_means(0:20, dpois(0:20, 6), n_means = 6000, seed = 44)))
  log <- attr(res, "chunk_log")
  expect_identical(log$attempts, c(2L, 1L))
  expect_false(log$slurm_job_id[1] == cancelled)
  expect_lt(elapsed, 100) # the retry did not wait for the sleep
  done <- completed_jobs()
  expect_identical(done$state[done$id == cancelled], "CANCELLED")
})

test_that("a failing chunk cancels the other Slurm jobs: nothing left queued or running", {
  # chunk 1 would sleep 5 minutes; chunk 2 always fails
  withr::local_options(bootscale.test_cluster_hook = list(
    list(chunk = 1, action = "sleep", attempts = Inf, seconds = 300),
    list(chunk = 2, action = "error", attempts = Inf)
  ))
  before <- our_jobs()
  t0 <- Sys.time()
  e <- expect_error(
    suppressWarnings(bootstrap_means(1:5, n_means = 5000, seed = 45,
                                     backend = future_backend(chunks = 2, retries = 0))),
    class = "bootscale_error_cluster"
  )
  expect_match(conditionMessage(e), "chunk 2 fails on attempt 1", fixed = TRUE)
  expect_lt(as.numeric(Sys.time() - t0, units = "secs"), 120)
  # chunk 1's job was cancelled (it may show as completing for a moment)
  deadline <- Sys.time() + 30
  while (length(setdiff(our_jobs(), before)) && Sys.time() < deadline) Sys.sleep(0.5)
  expect_length(setdiff(our_jobs(), before), 0L)
  done <- completed_jobs()
  expect_true("CANCELLED" %in% done$state[startsWith(done$name, "bootscale-chunk-1-")])
})

test_that("an interrupt cancels the call's queued and running Slurm jobs", {
  skip_if_not_installed("processx")
  script <- withr::local_tempfile(fileext = ".R")
  writeLines(c(
    "library(bootscale)",
    "options(future.cache.path = file.path(tempdir(), 'batchtools'))",
    "future::plan(future.batchtools::batchtools_slurm,",
    "  template = system.file('templates', 'slurm.tmpl', package = 'bootscale'),",
    "  resources = list(ncpus = 1, walltime = 600))",
    "options(bootscale.test_cluster_hook = list(chunk = 1:3, action = 'sleep',",
    "                                          attempts = Inf, seconds = 300))",
    "r <- tryCatch(bootstrap_means(1:5, n_means = 5000, seed = 3,",
    "                              backend = future_backend(chunks = 3)),",
    "              interrupt = function(e) 'interrupted')",
    "cat(r, '\\n')"
  ), script)
  before <- our_jobs()
  p <- processx::process$new(file.path(R.home("bin"), "Rscript"), script,
                             stdout = "|", stderr = "2>&1")
  withr::defer(if (p$is_alive()) p$kill())
  # 3 jobs on 2 CPUs: two running, one queued
  deadline <- Sys.time() + 60
  running <- function() {
    out <- system2("squeue", c("-h", "-t", "R", "-o", "%i"), stdout = TRUE)
    setdiff(out[nzchar(out)], before)
  }
  while ((length(running()) < 2 || length(setdiff(our_jobs(), before)) < 3) &&
         Sys.time() < deadline) {
    Sys.sleep(0.2)
  }
  expect_length(running(), 2L)
  expect_length(setdiff(our_jobs(), before), 3L)
  t0 <- Sys.time()
  p$interrupt()
  p$wait(60000)
  expect_false(p$is_alive())
  expect_lt(as.numeric(Sys.time() - t0, units = "secs"), 30)
  expect_true(any(grepl("interrupted", p$read_all_output_lines())))
  deadline <- Sys.time() + 30
  while (length(setdiff(our_jobs(), before)) && Sys.time() < deadline) Sys.sleep(0.5)
  expect_length(setdiff(our_jobs(), before), 0L)
})
