# Where the time of bootstrap_mean() goes: the C engine alone against the
# whole call on 1 and 2 workers, the cost of asking for the number of cores,
# the smallest job the cost rule forks for, and an Rprof profile.

bench_group_profile <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$n_means
  cat("[profile] where bootstrap_mean() spends its time ...\n")
  # The internal C engine alone (job build, kernel, result vector) against
  # the whole call; what is left is R's argument checks, grouping and table
  # (serial) and the per-group summaries (made in the run, so spread over
  # the workers when there are several).
  cases <- list(
    engine_w1 = function() run_workload("bootscale_engine", input, n_means, 1L),
    engine_w2 = function() run_workload("bootscale_engine", input, n_means, 2L),
    mean_w1 = function() run_workload("bootscale_mean", input, n_means, 1L),
    mean_w2 = function() run_workload("bootscale_mean", input, n_means, 2L)
  )
  # More rounds than elsewhere: these timings are subtracted.
  ts <- time_interleaved(cases, ctx$rounds$split)
  e1 <- med(ts$engine_w1)
  e2 <- med(ts$engine_w2)
  m1 <- med(ts$mean_w1)
  m2 <- med(ts$mean_w2)
  # R around the engine: the median of the per-round differences (the two
  # cases run back to back in every round). The difference of two medians
  # can come out negative on a VM whose speed drifts between runs (by a
  # third, seen here); the paired difference is much steadier.
  r_around <- stats::median(ts$mean_w1$elapsed - ts$engine_w1$elapsed, na.rm = TRUE)
  # parallelly::availableCores() is slow for a tiny call; check_workers()
  # uses bootscale's cached copy (R/pool.R, available_cores()).
  cores_call <- time_calls(function() parallelly::availableCores(omit = 0L))
  cached <- internal("available_cores")
  cores_cached <- if (is.null(cached)) NA_real_ else time_calls(cached)
  tiny_w1 <- done$workers$tiny_med[["w1"]] %||% NA_real_
  rss <- done$workers$session_rss %||% session_rss()

  # A job just above the size where the cost rule in R/pool.R starts to fork
  # in this session: the fewest one-year blocks of 1024 means for which it
  # picks 2 processes.
  edge_blocks <- Find(function(b) identical(pool_size(2L, b * 1024 * bench_sample_size, b), 2L),
                      seq_len(2000))
  if (is.null(edge_blocks)) edge_blocks <- 40L
  edge_means <- edge_blocks * 1024
  edge_draws <- edge_means * bench_sample_size
  edge_call <- function(w) {
    bootstrap_means(input$x[[1]], input$p[[1]], n_means = edge_means,
                    sample_size = bench_sample_size, workers = w, seed = 1)
  }
  edge <- time_interleaved(list(edge_w1 = function() edge_call(1L),
                                edge_w2 = function() edge_call(2L)),
                           ctx$rounds$edge)
  edge1 <- med(edge$edge_w1)
  edge2 <- med(edge$edge_w2)
  big_draws <- ctx$n_years * n_means * bench_sample_size
  others <- function(timing) sprintf("others' load %s cores", fmt_x(med(timing, "others")))
  table <- data.frame(
    part = c("C engine (internal `means_engine()`: job build, kernel, result), workers = 1",
             "C engine, workers = 2",
             "whole `bootstrap_mean()`, workers = 1",
             "whole `bootstrap_mean()`, workers = 2",
             "R around the engine (workers = 1): whole call minus engine",
             "`parallelly::availableCores()` (uncached)",
             "the same through bootscale's cache, as `check_workers()` asks it on every call",
             sprintf(paste("`bootstrap_means()`, one year, %s means (%s draws, the smallest job",
                           "the cost rule forks for in this session), workers = 1"),
                     fmt_n(edge_means), fmt_n(edge_draws)),
             "the same, workers = 2"),
    seconds = fmt_s(c(e1, e2, m1, m2, r_around, cores_call, cores_cached, edge1, edge2)),
    note = c(sprintf("%s ns per draw; %s runs", fmt_x(1e9 * e1 / big_draws), runs(ts$engine_w1)),
             sprintf("speed-up %sx over 1 worker; %s", fmt_x(e1 / e2), others(ts$engine_w2)),
             sprintf("%s runs", runs(ts$mean_w1)),
             sprintf("speed-up %sx over 1 worker; %s", fmt_x(m1 / m2), others(ts$mean_w2)),
             sprintf(paste("%s%% of the 1-worker call: R's checks, grouping and table,",
                           "and the group summaries, which 2 workers share (made in the run)"),
                     fmt_pct(r_around / m1)),
             sprintf("%s%% of a tiny call (%s ms)", fmt_pct(cores_call / tiny_w1),
                     fmt_ms(tiny_w1)),
             sprintf("%s%% of a tiny call", fmt_pct(cores_cached / tiny_w1, 1)),
             sprintf("%s runs", runs(edge$edge_w1)),
             sprintf("%s processes; %sx the 1-worker time, in a session of %s MB",
                     pool_size(2L, edge_draws, edge_means / 1024), fmt_x(edge2 / edge1),
                     fmt_mb(rss)))
  )

  prof_file <- tempfile()
  Rprof(prof_file, interval = 0.005)
  for (i in 1:5) invisible(run_workload("bootscale_mean", input, n_means, 1L))
  Rprof(NULL)
  prof <- utils::summaryRprof(prof_file)$by.self
  unlink(prof_file)
  prof <- utils::head(prof[order(-prof$self.time), ], 8)
  bench_section(
    "## Where the time goes",
    "",
    paste0("`bootstrap_mean(.by = Year, n_means = ", fmt_arg(n_means), ")`, medians of ",
           ctx$rounds$split, " interleaved runs (R around the engine: median of the ",
           "differences within a round):"),
    "",
    md_table(table),
    "",
    paste("Rprof of `bootstrap_mean()` (CPU time of this process, 5 calls, workers = 1; the C",
          "kernel is counted under `run_serial`), top functions by self time:"),
    "",
    md_table(data.frame(
      `function` = paste0("`", gsub('"', "", rownames(prof)), "`"),
      `self s` = fmt_s(prof$self.time),
      `self %` = formatC(prof$self.pct, format = "f", digits = 1),
      check.names = FALSE
    )),
    "",
    timings = list(ts, edge)
  )
}
