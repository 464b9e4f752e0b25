# Workers: bootscale on 1, 2 and the default number of workers against the
# chapter's parallel ways (mclapply, furrr), the pipeline end to end, and the
# overhead of a parallel call on a tiny job.
# Targets: 2 workers >= 1.8x faster than 1 worker; a tiny job with workers = 2
# within ~10% of workers = 1.

bench_group_workers <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$n_means
  n_years <- ctx$n_years
  fast <- ctx$rounds$fast
  slow <- ctx$rounds$slow
  wd <- ctx$workers_default
  cat("[workers] timing workers and the chapter's parallel ways ...\n")
  # The chapter's furrr code sets the plan inside the pipeline, so its cost
  # is part of every call there; it is timed both ways here.
  plan_started <- now()
  future::plan(future::multisession, workers = 2)
  invisible(run_workload("furrr", input, 100, 2L)) # the workers are up and warm
  plan_seconds <- now() - plan_started

  cases <- list(
    bs_mean_w1 = function() run_workload("bootscale_mean", input, n_means, 1L),
    bs_mean_w2 = function() run_workload("bootscale_mean", input, n_means, 2L),
    bs_mean_wd = function() run_workload("bootscale_mean", input, n_means, wd),
    bs_means_w1 = function() run_workload("bootscale_means", input, n_means, 1L),
    bs_means_w2 = function() run_workload("bootscale_means", input, n_means, 2L),
    mclapply = function() run_workload("mclapply", input, n_means, 2L),
    furrr = function() run_workload("furrr", input, n_means, 2L),
    # The chapter calls plan() inside its pipeline: starting the pool is part
    # of every call there. Timed on its own (with a first tiny map, so that
    # the workers are really up) and added to the map's time below.
    furrr_start = function() {
      future::plan(future::multisession, workers = 2)
      run_workload("furrr", input, 10, 2L)
    }
  )
  invisible(run_workload("mclapply", input, 100, 2L))
  t <- time_interleaved(
    cases,
    c(bs_mean_w1 = fast, bs_mean_w2 = fast, bs_mean_wd = fast, bs_means_w1 = fast,
      bs_means_w2 = fast, mclapply = slow, furrr = slow, furrr_start = slow),
    # Shut the pool down (untimed) so that the start-up case starts it anew.
    setup = list(furrr_start = function() future::plan(future::sequential))
  )
  future::plan(future::sequential)
  rss <- session_rss()

  cat("[workers] pipeline end to end ...\n")
  pipe <- function(w) filesize_pipeline(ctx$data$path, n_means = n_means, workers = w, seed = 1)
  pipeline <- list(pipe_w1 = function() pipe(1L), pipe_w2 = function() pipe(2L))
  tp <- time_interleaved(pipeline, fast)

  cat("[workers] overhead on a tiny job ...\n")
  # Calls of a few milliseconds: timed in batches (no garbage collection in
  # between), batches of workers = 1 and 2 alternating, medians per call.
  tiny_call <- function(w) run_workload("bootscale_mean", input, ctx$tiny_means, w)
  tiny <- list(w1 = numeric(), w2 = numeric())
  for (w in 1:2) invisible(tiny_call(w))
  for (b in seq_len(ctx$tiny_batches)) {
    for (w in if (b %% 2) 1:2 else 2:1) {
      t0 <- now()
      for (i in seq_len(ctx$tiny_batch)) tiny_call(w)
      tiny[[w]] <- c(tiny[[w]], (now() - t0) / ctx$tiny_batch)
    }
  }
  tiny_med <- vapply(tiny, stats::median, numeric(1))
  # The overhead: the median of the ratios of back-to-back batches, which the
  # drift of this VM's speed from one second to the next (a third, seen
  # here) disturbs much less than the ratio of the two medians.
  tiny_ratio <- stats::median(tiny$w2 / tiny$w1)
  tiny_draws <- n_years * ctx$tiny_means * bench_sample_size

  blocks_per_year <- ceiling(n_means / 1024)
  big_draws <- n_years * n_means * bench_sample_size
  s1 <- med(t$bs_mean_w1)
  s2 <- med(t$bs_mean_w2)
  rows <- list(
    list("bootscale `bootstrap_mean(.by = Year)`, workers = 1", "bs_mean_w1",
         pool_size(1L, big_draws, n_years * blocks_per_year)),
    list("bootscale `bootstrap_mean(.by = Year)`, workers = 2", "bs_mean_w2",
         pool_size(2L, big_draws, n_years * blocks_per_year)),
    list(sprintf("bootscale `bootstrap_mean(.by = Year)`, workers = default_workers() = %d", wd),
         "bs_mean_wd", pool_size(wd, big_draws, n_years * blocks_per_year)),
    list("bootscale `bootstrap_means()` per year, workers = 1", "bs_means_w1",
         pool_size(1L, n_means * bench_sample_size, blocks_per_year)),
    list("bootscale `bootstrap_means()` per year, workers = 2", "bs_means_w2",
         pool_size(2L, n_means * bench_sample_size, blocks_per_year)),
    list("chapter: `parallel::mclapply()` over years, mc.cores = 2, vectorized R per year",
         "mclapply", 2L),
    list("chapter: furrr `future_map()` over years, multisession 2 workers (pool already up)",
         "furrr", 2L),
    list(paste("chapter: the same plus starting the pool, `plan(multisession, workers = 2)`,",
               "as the chapter does in every call (sum of medians)"),
         "furrr_start", 2L)
  )
  keys <- vapply(rows, `[[`, character(1), 2)
  sec <- vapply(keys, function(k) med(t[[k]]), numeric(1))
  sec[["furrr_start"]] <- sec[["furrr_start"]] + sec[["furrr"]]
  cpu <- vapply(keys, function(k) med(t[[k]], "cpu"), numeric(1))
  others <- vapply(keys, function(k) med(t[[k]], "others"), numeric(1))
  # The furrr workers are sessions of their own: their CPU is not ours, and
  # it would count as others' load.
  cpu[startsWith(keys, "furrr")] <- NA
  others[startsWith(keys, "furrr")] <- NA
  serial <- done$one_core$seconds[["vectorized"]] %||% NA_real_
  base <- ifelse(startsWith(keys, "bs_means"), med(t$bs_means_w1),
                 ifelse(startsWith(keys, "bs_mean"), s1, serial))
  table <- data.frame(
    variant = vapply(rows, `[[`, character(1), 1),
    runs = vapply(keys, function(k) runs(t[[k]]), character(1)),
    `processes used` = vapply(rows, function(r) as.character(r[[3]]), character(1)),
    `seconds (median)` = fmt_s(sec),
    `CPU s (self + children)` = fmt_s(cpu),
    `others' load, cores` = fmt_x(others),
    `speed-up vs 1 worker / vs serial (b)` = fmt_x(base / sec),
    `bootscale 2 workers / this` = fmt_x(s2 / sec),
    check.names = FALSE, row.names = NULL
  )

  pipe1 <- med(tp$pipe_w1)
  pipe2 <- med(tp$pipe_w2)
  table_pipe <- data.frame(
    variant = sprintf("`filesize_pipeline(n_means = %s)`, workers = %d", fmt_arg(n_means), 1:2),
    runs = c(runs(tp$pipe_w1), runs(tp$pipe_w2)),
    `seconds (median)` = fmt_s(c(pipe1, pipe2)),
    `speed-up vs 1 worker` = fmt_x(c(1, pipe1 / pipe2)),
    `others' load, cores` = fmt_x(c(med(tp$pipe_w1, "others"), med(tp$pipe_w2, "others"))),
    check.names = FALSE
  )
  table_tiny <- data.frame(
    variant = sprintf("`bootstrap_mean(.by = Year, n_means = %d)`, workers = %d",
                      ctx$tiny_means, 1:2),
    calls = lengths(tiny) * ctx$tiny_batch,
    `processes used` = c(pool_size(1L, tiny_draws, n_years), pool_size(2L, tiny_draws, n_years)),
    `ms per call (median)` = fmt_ms(tiny_med),
    `relative to workers = 1 (median of paired batches)` = fmt_x(c(1, tiny_ratio)),
    check.names = FALSE
  )

  speedup <- s1 / s2
  bench_section(
    "## Workers",
    "",
    paste0("Same workload and conventions as above. Speed-up is against 1 worker for the ",
           "bootscale rows and against the serial vectorized R of the one-core table (",
           fmt_s(serial), " s) for the chapter's rows. ",
           "`processes used` is what the cost rule in R/pool.R picks. CPU seconds count this ",
           "process and its reaped forked children; the furrr workers are sessions of their ",
           "own, so neither their CPU nor the others' load (which would include them) is given ",
           "for furrr. Starting the multisession pool the first time took ",
           fmt_s(plan_seconds), " s. This benchmark session is ", fmt_mb(rss),
           " MB resident, which matters: fork() copies the page tables of the whole session."),
    "",
    md_table(table),
    "",
    md_table(table_pipe),
    "",
    paste0("Overhead of a parallel call on a tiny job (", n_years, " years x ", ctx$tiny_means,
           " means = ", fmt_n(tiny_draws), " draws, which the cost rule runs in ",
           pool_size(2L, tiny_draws, n_years), " process): batches of ", ctx$tiny_batch,
           " calls, workers = 1 and 2 alternating."),
    "",
    md_table(table_tiny),
    "",
    sprintf(paste("- Target: 2 workers >= 1.8x faster than 1 worker (`bootstrap_mean()`): %s",
                  "(%sx; `bootstrap_means()` per year %sx; pipeline %sx)."),
            verdict(speedup >= 1.8), fmt_x(speedup),
            fmt_x(med(t$bs_means_w1) / med(t$bs_means_w2)), fmt_x(pipe1 / pipe2)),
    sprintf("- Target: a tiny job with workers = 2 within ~10%% of workers = 1: %s (%s%%).",
            verdict(abs(tiny_ratio - 1) <= 0.10),
            formatC(100 * (tiny_ratio - 1), format = "f", digits = 1, flag = "+")),
    sprintf(paste("- Peak RSS increase of the parent process with 2 workers (`bootstrap_mean()`,",
                  "children not counted): %s MB."),
            fmt_mb(done$one_core$peak_w2 %||% NA_real_)),
    "",
    values = list(
      tiny_med = tiny_med,
      tiny_call = tiny_call,
      session_rss = rss,
      pipe_values = list(w1 = tp$pipe_w1$value, w2 = tp$pipe_w2$value)
    ),
    timings = list(t, tp)
  )
}
