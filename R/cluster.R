# The future backend: a job's blocks cut into contiguous chunks, one future
# per chunk, so that whatever future::plan() says runs them (multisession,
# PSOCK clusters, future.batchtools on Slurm). A block's numbers depend only
# on (seed, group, block), so the assembled result is the fork backend's to
# the bit, a failed chunk can be recomputed, and finished chunks can be kept
# on disk and reused.
#
# Only run_blocks() and job_n_blocks() touch the engine; the rest of this
# file works on block ranges and result slices.

# The engine: run_blocks() and job_n_blocks() (R/pool.R) compute a range of
# a job's blocks on this machine's pool and return their slice.

# ---- user interface -----------------------------------------------------

#' Run on futures: settings of the cluster backend
#'
#' With `backend = "future"` (or `backend = future_backend(...)`),
#' [bootstrap_means()], [bootstrap_mean()], [filesize_pipeline()] and
#' [wsample()] cut their job's blocks (1024 means of one group, or 65536
#' draws) into contiguous chunks and hand each chunk to a future, so that
#' whatever [future::plan()] is set runs them: `multisession` on a laptop, a
#' PSOCK `cluster`, or `future.batchtools::batchtools_slurm` with the
#' template shipped in `system.file("templates", "slurm.tmpl", package =
#' "bootscale")`. The result is assembled in block order and is
#' [identical()] to the fork backend's for the same seed, whatever the plan
#' and the chunking.
#'
#' Each future carries only the data of the job (values, weights, number
#' of means, sample size, seed) and its block range, never the caller's
#' environment, and calls bootscale on the worker by namespace; the worker
#' needs bootscale installed. R's random number generator is not used on
#' the workers (the seed is resolved in the calling session).
#'
#' A chunk whose future fails (an R error, a worker that died, a Slurm job
#' cancelled or out of time) is resubmitted up to `retries` times; it gives
#' the same bits again. When the retries are spent the call fails with an
#' error of class `bootscale_error_cluster` naming the chunk and the cause,
#' after cancelling (batchtools: `scancel`) or collecting the other chunks;
#' no partial result is returned. A multisession or PSOCK worker that died
#' is not restarted by every version of future (1.31 sends the retry to it
#' again); set the plan again to restart the workers. An interrupt cancels the chunks still
#' queued or running on batchtools plans; multisession and PSOCK workers
#' finish the chunk they are on.
#'
#' With `checkpoint = dir`, every finished chunk is saved in `dir` (written
#' to a temporary name, then renamed) under a key made of a hash of the
#' job's inputs, its seed and the bootscale version, and its block range. A
#' later call with the same inputs, seed and chunks reads those chunks
#' instead of computing them: a job stopped after 90 % resumes with 10 % to
#' do and gives the same bits. A checkpoint of other inputs has another key
#' and is never read. Files are kept; delete the directory when done. Give
#' `chunks` explicitly when you mean to resume, since the default depends on
#' the plan.
#'
#' @param chunks Number of chunks (futures), at most the number of blocks.
#'   `NULL` takes `getOption("bootscale.chunks")`, else two per worker of
#'   the plan ([future::nbrOfWorkers()], counted as at most 32).
#' @param retries How many times a failed chunk is resubmitted, a whole
#'   number from 0; `NULL` takes `getOption("bootscale.retries", 1)`.
#' @param checkpoint `NULL`, or a directory (created when missing) for the
#'   finished chunks; `NULL` takes `getOption("bootscale.checkpoint")`.
#' @return An object of class `bootscale_future_backend` to pass as the
#'   `backend` argument. Results computed with it have attributes
#'   `backend` (`"future"`), `chunks` (the number of chunks) and
#'   `chunk_log`, a data frame with one row per chunk: its block range
#'   (`from`, `to`; 0-based, half-open), `source` (`"computed"` or
#'   `"checkpoint"`), `attempts`, `seconds` (the time its blocks took on
#'   the worker, without the future's overhead), `node` (the worker's host
#'   name) and `slurm_job_id` (the Slurm job that computed it, `NA`
#'   elsewhere).
#'   [wsample()] returns a vector like its `x`, without these attributes.
#' @seealso `vignette("cluster", package = "bootscale")`.
#' @export
#' @examples
#' if (requireNamespace("future", quietly = TRUE)) {
#'   old <- future::plan("sequential")
#'   m <- bootstrap_means(1:10, n_means = 5000, seed = 1,
#'                        backend = future_backend(chunks = 3))
#'   identical(as.vector(m), as.vector(bootstrap_means(1:10, n_means = 5000, seed = 1)))
#'   attr(m, "chunk_log")
#'   future::plan(old)
#' }
future_backend <- function(chunks = NULL, retries = NULL, checkpoint = NULL) {
  chunks <- chunks %||% getOption("bootscale.chunks")
  retries <- retries %||% getOption("bootscale.retries", 1)
  checkpoint <- checkpoint %||% getOption("bootscale.checkpoint")
  if (!is.null(chunks)) chunks <- check_count(chunks, max = 2^31 - 1)
  retries <- check_count(retries, min = 0, max = 100)
  if (!is.null(checkpoint)) checkpoint <- check_string(checkpoint)
  structure(list(chunks = chunks, retries = retries, checkpoint = checkpoint),
            class = "bootscale_future_backend")
}

#' @export
print.bootscale_future_backend <- function(x, ...) {
  cat(sprintf("<bootscale future backend: chunks %s, retries %d, checkpoint %s>\n",
              if (is.null(x$chunks)) "by plan" else format(x$chunks), as.integer(x$retries),
              if (is.null(x$checkpoint)) "none" else x$checkpoint))
  invisible(x)
}

# NULL for the fork backend, else the future backend's settings.
check_backend <- function(backend, call = rlang::caller_env()) {
  if (identical(backend, "fork")) return(NULL)
  if (identical(backend, "future")) backend <- future_backend()
  if (!inherits(backend, "bootscale_future_backend")) {
    abort_bs(
      c("{.arg backend} must be {.val fork}, {.val future} or a {.fn future_backend} object.",
        "x" = "It is {describe(backend)}."),
      "bad_backend", call = call
    )
  }
  if (future_missing()) {
    abort_bs(
      c("The future backend needs the {.pkg future} package.",
        "i" = "Install it with {.code install.packages(\"future\")}; for Slurm also {.pkg future.batchtools} (or run {.code bash tools/slurm-local.sh install} from bootscale's sources)."), # nolint: line_length_linter.
      "missing_package", call = call
    )
  }
  backend
}

future_missing <- function() !requireNamespace("future", quietly = TRUE)

backend_attrs <- c("backend", "chunks", "chunk_log")

# Copies the future backend's attributes (none under fork) from `from`.
with_backend_attrs <- function(x, from) {
  for (a in backend_attrs) attr(x, a) <- attr(from, a, exact = TRUE)
  x
}

# ---- the engine on futures ----------------------------------------------

# The means of a means job, run on futures (run_means() summarises them).
future_means <- function(values, weights, n_means, sample_size, seed, backend, call) {
  task <- list(kind = "means", values = values, weights = weights, n = n_means,
               sample_size = sample_size, seed = seed)
  run_on_futures(task, backend, call)
}

# Category indices (1-based) of a draws job, run on futures.
future_draws <- function(prob, size, seed, backend, call) {
  task <- list(kind = "draws", values = NULL, weights = prob, n = size, sample_size = 0,
               seed = seed)
  run_on_futures(task, backend, call)
}

make_job <- function(task) {
  if (identical(task$kind, "means")) {
    checked_job(.Call(C_bs_means_job, task$values, task$weights, task$n, task$sample_size,
                   task$seed))
  } else {
    checked_job(.Call(C_bs_draws_job, task$weights, task$n, task$seed))
  }
}

# Contiguous block ranges of about equal size.
chunk_bounds <- function(n_blocks, chunks) {
  cuts <- floor(seq(0, chunks) * n_blocks / chunks)
  list(from = cuts[-length(cuts)], to = cuts[-1])
}

default_chunks <- function() {
  2L * as.integer(min(future::nbrOfWorkers(), 32))
}

# A chunk's key: everything its bits depend on.
task_key <- function(task) {
  rlang::hash(list("bootscale chunk", as.character(utils::packageVersion("bootscale")),
                   task$kind, task$values, task$weights, task$n, task$sample_size, task$seed))
}

checkpoint_file <- function(dir, key, from, to) {
  file.path(dir, sprintf("bootscale-%s-%.0f-%.0f.rds", key, from, to))
}

# A chunk saved by an earlier call, or NULL when there is none or it is not
# this chunk's (other key, other range, unreadable).
read_checkpoint <- function(dir, key, from, to) {
  path <- checkpoint_file(dir, key, from, to)
  if (!file.exists(path)) return(NULL)
  saved <- tryCatch(readRDS(path), error = function(e) NULL)
  ok <- is.list(saved) && identical(saved$key, key) && identical(saved$from, from) &&
    identical(saved$to, to) && (is.double(saved$value) || is.integer(saved$value))
  if (ok) saved$value else NULL
}

# Write then rename, so that a file under the final name is always whole.
write_checkpoint <- function(dir, key, from, to, value) {
  if (is.null(dir)) return(invisible())
  path <- checkpoint_file(dir, key, from, to)
  tmp <- paste0(path, ".tmp-", Sys.getpid())
  on.exit(unlink(tmp), add = TRUE)
  saveRDS(list(key = key, from = from, to = to, value = value), tmp, compress = FALSE)
  if (!file.rename(tmp, path)) {
    cli::cli_warn("Could not save chunk {from}-{to} in the checkpoint directory {.path {dir}}.",
                  class = c("bootscale_warning_checkpoint", "bootscale_warning"))
  }
  invisible(path)
}

# The worker's side of a chunk, called by namespace from the future with
# plain data only. `attempt` counts from 1 and `hook` is a test hook, or a
# list of them (options(bootscale.test_cluster_hook = list(chunk, action =
# "error", "sleep" or "die", attempts, seconds))): it acts on the given chunks
# while attempt <= attempts. Not for users.
run_chunk <- function(task, from, to, chunk, attempt, hook = NULL) {
  hooks <- if (is.null(hook$action)) hook else list(hook)
  for (h in hooks) {
    if (!(chunk %in% h$chunk && attempt <= (h$attempts %||% Inf))) next
    if (identical(h$action, "sleep")) Sys.sleep(h$seconds %||% 0)
    if (identical(h$action, "die")) tools::pskill(Sys.getpid(), tools::SIGKILL)
    if (identical(h$action, "error")) {
      stop(sprintf("test hook: chunk %d fails on attempt %d", chunk, attempt), call. = FALSE)
    }
  }
  job <- make_job(task)
  on.exit(.Call(C_bs_job_release, job), add = TRUE)
  t0 <- proc.time()[["elapsed"]]
  # the slice alone: the processes it took on this node stay here
  value <- as.vector(run_blocks(job, parallelly::availableCores(), from, to))
  id <- Sys.getenv("SLURM_JOB_ID", "")
  list(value = value, seconds = proc.time()[["elapsed"]] - t0, node = Sys.info()[["nodename"]],
       slurm_job_id = if (nzchar(id)) id else NA_character_)
}

# One future for one chunk. Its globals are the data listed here and
# nothing else: the expression names the worker function by namespace.
chunk_future <- function(task, from, to, chunk, attempt, hook = NULL,
                         label = sprintf("bootscale-chunk-%d", chunk)) {
  fun <- call(":::", as.name("bootscale"), as.name("run_chunk"))
  expr <- as.call(list(fun, quote(task), quote(from), quote(to), quote(chunk),
                       quote(attempt), quote(hook)))
  future::future(
    expr, substitute = FALSE, envir = globalenv(),
    globals = list(task = task, from = from, to = to, chunk = chunk, attempt = attempt,
                   hook = hook),
    packages = "bootscale", seed = FALSE, lazy = FALSE,
    label = label
  )
}

# Stops or collects the futures still running: batchtools jobs are killed
# (scancel on Slurm) and their registries removed; other futures are
# collected when resolved, or waited for when `wait`.
cancel_futures <- function(running, wait) {
  for (f in running) {
    if (inherits(f, "BatchtoolsFuture") && requireNamespace("batchtools", quietly = TRUE)) {
      reg <- f$config$reg
      done <- tryCatch(future::resolved(f), error = function(e) FALSE)
      if (!is.null(reg) && !done) {
        try(suppressMessages(batchtools::killJobs(ids = f$config$jobid, reg = reg)),
            silent = TRUE)
      }
      if (!is.null(reg) && dir.exists(reg$file.dir)) {
        try(suppressMessages(batchtools::removeRegistry(wait = 0, reg = reg)), silent = TRUE)
      }
    } else if (wait || isTRUE(tryCatch(future::resolved(f), error = function(e) TRUE))) {
      try(suppressWarnings(future::value(f)), silent = TRUE)
    }
  }
  invisible()
}

# The batchtools registry of a future interrupted while it was being made,
# found by its label under future.batchtools' cache directory
# (<cache>/<session>/<label>_<key>): its jobs are killed and it is removed.
cancel_orphan <- function(label) {
  if (!inherits(future::plan("next"), "batchtools") ||
      !requireNamespace("batchtools", quietly = TRUE)) {
    return(invisible())
  }
  root <- getOption("future.cache.path", Sys.getenv("R_FUTURE_CACHE_PATH", ".future"))
  dirs <- unlist(lapply(list.dirs(root, recursive = FALSE), function(d) {
    list.files(d, pattern = paste0("^", label, "_"), full.names = TRUE)
  }))
  for (d in dirs[dir.exists(dirs)]) {
    try(suppressMessages({
      reg <- batchtools::loadRegistry(d, writeable = TRUE)
      batchtools::killJobs(reg = reg)
      batchtools::removeRegistry(wait = 0, reg = reg)
    }), silent = TRUE)
  }
  # The registry may not hold the job's id yet; on Slurm the job's name is
  # the label, unique to this call.
  if (inherits(future::plan("next"), "batchtools_slurm") && nzchar(Sys.which("scancel"))) {
    try(system2("scancel", paste0("--name=", label), stdout = FALSE, stderr = FALSE),
        silent = TRUE)
  }
  invisible()
}

# Runs a task's blocks on futures and returns the result vector with the
# backend's attributes; the caller's RNG is not touched.
# The key of a task's checkpoints in `dir` (made first when missing); NULL
# without checkpoints.
checkpoint_key <- function(dir, task, call) {
  if (is.null(dir)) return(NULL)
  if (!dir.exists(dir) && !dir.create(dir, recursive = TRUE, showWarnings = FALSE)) {
    abort_bs(c("{.arg checkpoint} must be a directory that can be created.",
               "x" = "Could not create {.path {dir}}."), "bad_checkpoint", call = call)
  }
  task_key(task)
}

# The chunks' slices found in the checkpoint directory (NULL where none, or
# without checkpoints).
read_checkpoints <- function(dir, key, bounds) {
  if (is.null(dir)) return(vector("list", length(bounds$from)))
  lapply(seq_along(bounds$from), function(i) {
    read_checkpoint(dir, key, bounds$from[i], bounds$to[i])
  })
}

# The error of chunk i that failed `attempts` times with `cause`.
abort_chunk <- function(i, chunks, bounds, attempts, cause, call) {
  cause_msg <- conditionMessage(cause) # nolint: object_usage_linter. Read by the message's glue.
  blocks <- if (bounds$to[i] - bounds$from[i] == 1) { # nolint: object_usage_linter.
    sprintf("block %.0f", bounds$to[i])
  } else {
    sprintf("blocks %.0f to %.0f", bounds$from[i] + 1, bounds$to[i])
  }
  hint <- if (inherits(cause, "FutureError")) {
    c("i" = paste("The future lost its worker. Multisession and PSOCK workers that died are",
                  "not restarted by every version of {.pkg future}: set the plan again to",
                  "restart them."))
  }
  abort_bs(
    c(paste("Chunk {i} of {chunks} ({blocks}) failed {attempts} time{?s}, so there is no",
            "result."),
      "x" = "{cause_msg}",
      hint,
      "i" = "No partial result is returned; the other chunks were cancelled or collected."),
    "cluster", chunk = i, cause = cause, call = call
  )
}

run_on_futures <- function(task, backend, call) {
  job <- make_job(task)
  n_blocks <- job_n_blocks(job)
  .Call(C_bs_job_release, job)
  chunks <- as.integer(min(n_blocks, backend$chunks %||% default_chunks()))
  bounds <- chunk_bounds(n_blocks, chunks)
  hook <- getOption("bootscale.test_cluster_hook")
  dir <- backend$checkpoint
  key <- checkpoint_key(dir, task, call)

  log <- data.frame(chunk = seq_len(chunks), from = bounds$from, to = bounds$to,
                    source = NA_character_, attempts = 0L, seconds = NA_real_,
                    node = NA_character_, slurm_job_id = NA_character_,
                    stringsAsFactors = FALSE)
  slices <- read_checkpoints(dir, key, bounds)
  log$source[!vapply(slices, is.null, logical(1))] <- "checkpoint"
  queue <- which(is.na(log$source))

  state <- new.env(parent = emptyenv())
  state$running <- list()
  on.exit(abandon_futures(state), add = TRUE)
  in_flight <- in_flight_count(chunks)
  the$calls <- (the$calls %||% 0L) + 1L
  tag <- sprintf("%d-%d", Sys.getpid(), the$calls) # labels unique in this session
  bar <- cli::cli_progress_bar("Resampling on futures", total = chunks,
                               auto_terminate = FALSE, .auto_close = FALSE)
  on.exit(cli::cli_progress_done(id = bar), add = TRUE)
  done <- chunks - length(queue)
  pause <- 0.01

  failed <- function(i, cause) {
    if (log$attempts[i] <= backend$retries) return(FALSE)
    running <- state$running
    state$running <- list()
    cancel_futures(running, wait = TRUE)
    abort_chunk(i, chunks, bounds, log$attempts[i], cause, call)
  }

  while (length(queue) || length(state$running)) {
    while (length(queue) && length(state$running) < in_flight) {
      i <- queue[1]
      queue <- queue[-1]
      log$attempts[i] <- log$attempts[i] + 1L
      err <- launch_chunk(state, task, bounds, i, log$attempts[i], hook, tag)
      if (!is.null(err) && !failed(i, err)) queue <- c(i, queue)
    }
    progressed <- FALSE
    for (name in names(state$running)) {
      f <- state$running[[name]]
      # a worker that died shows as an error here already (multisession)
      ready <- tryCatch(future::resolved(f), error = function(e) e)
      if (isFALSE(ready)) next
      progressed <- TRUE
      state$running[[name]] <- NULL
      i <- as.integer(name)
      r <- chunk_value(f, ready)
      if (inherits(r, "error")) {
        if (!failed(i, r)) queue <- c(i, queue)
        next
      }
      slices[[i]] <- r$value
      log$source[i] <- "computed"
      log$seconds[i] <- r$seconds
      log$node[i] <- r$node
      log$slurm_job_id[i] <- r$slurm_job_id
      write_checkpoint(dir, key, bounds$from[i], bounds$to[i], r$value)
      done <- done + 1L
      cli::cli_progress_update(set = done, id = bar)
    }
    pause <- backoff(pause, progressed, length(state$running) > 0)
  }
  cli::cli_progress_update(set = chunks, id = bar)
  res <- joined_slices(slices, task, call)
  structure(res, backend = "future", chunks = chunks, chunk_log = log)
}

# Cancels what is running and a future being made, at exit.
abandon_futures <- function(state) {
  cancel_futures(state$running, wait = FALSE)
  if (!is.null(state$launching)) cancel_orphan(state$launching)
}

# Futures at once: the plan's workers, at most one per chunk.
in_flight_count <- function(chunks) {
  workers <- future::nbrOfWorkers()
  max(1L, as.integer(min(if (is.finite(workers)) workers else chunks, chunks)))
}

# Makes chunk i's future (attempt `attempt`) and puts it in state$running;
# NULL, or the error. An interrupt while the future is being made
# (batchtools: after the job was submitted, before the future comes back)
# would leave a job unknown to us: on.exit finds it by its label.
launch_chunk <- function(state, task, bounds, i, attempt, hook, tag) {
  label <- sprintf("bootscale-chunk-%d-%s", i, tag)
  state$launching <- label
  f <- tryCatch(chunk_future(task, bounds$from[i], bounds$to[i], i, attempt, hook, label = label),
                error = function(e) e)
  if (inherits(f, "error")) {
    state$launching <- NULL
    return(f)
  }
  state$running[[as.character(i)]] <- f
  state$launching <- NULL
  NULL
}

# What a resolved future gave: list(value, seconds, node, slurm_job_id), or
# the error (a worker that died, or no slice).
chunk_value <- function(f, ready) {
  r <- if (inherits(ready, "error")) ready else tryCatch(future::value(f), error = function(e) e)
  if (inherits(r, "error")) return(r)
  if (is.list(r) && (is.double(r$value) || is.integer(r$value))) return(r)
  simpleError("the future returned no slice")
}

# The next wait between looks at the futures: short after progress, longer
# (up to half a second) while nothing resolves.
backoff <- function(pause, progressed, waiting) {
  if (progressed) return(0.01)
  if (!waiting) return(pause)
  Sys.sleep(pause)
  min(0.5, pause * 1.5)
}

# The chunks' slices as one vector, as long as the task's result.
joined_slices <- function(slices, task, call) {
  res <- unlist(slices, use.names = FALSE)
  expected <- if (identical(task$kind, "means")) length(task$values) * task$n else task$n
  if (length(res) != expected) {
    abort_bs("bootscale internal error: the chunks gave {length(res)} values, not {expected}.",
             "cluster", call = call)
  }
  res
}
