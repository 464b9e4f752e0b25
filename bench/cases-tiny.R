# Where the time of a tiny bootstrap_mean() goes (issue 11, item 12): the
# chapter's eleven years with 100 means each, on one worker. The whole call
# against the C engine alone (internal run_means(): job build, run, result,
# with the little R of the job protocol) and the job build alone, so that
# the R around the engine (argument checks, grouping, the result's table) is
# the paired difference; and an Rprof profile of the whole call by function.

bench_group_tiny <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$tiny_means
  cat("[tiny] where a tiny bootstrap_mean() spends its time ...\n")
  x <- lapply(input$x, as.double)
  p <- lapply(input$p, as.double)
  means_job <- internal("C_bs_means_job")
  job_release <- internal("C_bs_job_release")
  cases <- list(
    whole = function() run_workload("bootscale_mean", input, n_means, 1L),
    engine = function() run_workload("bootscale_engine", input, n_means, 1L),
    build = if (!is.null(means_job) && !is.null(job_release)) {
      function() .Call(job_release, .Call(means_job, x, p, n_means, bench_sample_size, 1))
    },
    one_group = function() {
      bootscale::bootstrap_means(input$x[[1]], input$p[[1]], n_means = n_means,
                                 sample_size = bench_sample_size, workers = 1L, seed = 1)
    }
  )
  cases <- cases[!vapply(cases, is.null, logical(1))]
  # Calls of a millisecond: timed in batches without garbage collection in
  # between, the cases in an order rotated by one from a batch to the next;
  # medians per call. Differences are taken within a batch round (paired):
  # this VM's speed drifts from one second to the next.
  per_call <- lapply(cases, function(f) numeric())
  errors <- lapply(cases, function(f) character())
  for (f in cases) for (i in 1:20) tryCatch(f(), error = function(e) NULL) # warm
  for (b in seq_len(ctx$tiny_batches)) {
    ord <- names(cases)[(seq_along(cases) + b - 2) %% length(cases) + 1]
    for (name in ord) {
      t0 <- now()
      ok <- tryCatch({
        for (i in seq_len(ctx$tiny_batch)) cases[[name]]()
        TRUE
      }, error = function(e) {
        errors[[name]] <<- c(errors[[name]], conditionMessage(e))
        FALSE
      })
      per_call[[name]] <- c(per_call[[name]], if (ok) (now() - t0) / ctx$tiny_batch else NA)
    }
  }
  m <- vapply(per_call, stats::median, numeric(1), na.rm = TRUE)
  paired <- function(a, b) {
    if (is.null(per_call[[a]]) || is.null(per_call[[b]])) return(NA_real_)
    stats::median(per_call[[a]] - per_call[[b]], na.rm = TRUE)
  }
  r_around <- paired("whole", "engine")
  run <- paired("engine", "build")
  whole <- m[["whole"]]
  table <- data.frame(
    part = c(sprintf("whole `bootstrap_mean(.by = Year, n_means = %d)`, workers = 1", n_means),
             "C engine (internal `run_means()`: job build, run, result; with the job protocol's R)",
             "of it: the job build alone (`C_bs_means_job`: alias tables; released at once)",
             "of it: the rest (run, result, protocol): engine minus build, paired",
             "R around the engine: whole call minus engine, paired",
             sprintf("`bootstrap_means()`, one year, %d means", n_means)),
    ms = fmt_ms(c(whole, m[["engine"]], m["build"], run, r_around, m[["one_group"]])),
    `share of the call` = paste0(fmt_pct(c(whole, m[["engine"]], m["build"], run, r_around,
                                          m[["one_group"]]) / whole), "%"),
    check.names = FALSE
  )

  # Rprof samples on this kernel's CPU clock tick (a few ms), whatever the
  # interval asked: thousands of calls give a few hundred samples.
  prof_file <- tempfile()
  n_prof <- 100 * ctx$tiny_batches
  Rprof(prof_file, interval = 0.001)
  for (i in seq_len(n_prof)) invisible(cases$whole())
  Rprof(NULL)
  prof <- utils::summaryRprof(prof_file)
  unlink(prof_file)
  # bootstrap_mean() and what it calls, not the harness around it
  top <- prof$by.total
  call_row <- grep("bootstrap_mean", rownames(top))[1]
  top <- top[top$total.pct <= top$total.pct[call_row] & rownames(top) != "\"FUN\"", ]
  top <- utils::head(top, 16)
  bench_section(
    "## A tiny call, part by part",
    "",
    paste0("The chapter's eleven years, ", n_means, " means each, workers = 1: medians per ",
           "call of ", ctx$tiny_batches, " rotating batches of ", ctx$tiny_batch,
           " calls (differences: medians of the differences within a batch round):"),
    "",
    md_table(table),
    "",
    paste0("Rprof of the whole call (", n_prof, " calls, ",
           sum(prof$by.self$self.time > 0), " functions sampled), by total time; ",
           "ms per call from the share of samples and the median above:"),
    "",
    md_table(data.frame(
      `function` = paste0("`", gsub('"', "", rownames(top)), "`"),
      `total %` = formatC(top$total.pct, format = "f", digits = 1),
      `ms per call` = fmt_ms(top$total.pct / 100 * whole),
      check.names = FALSE
    )),
    "",
    values = list(whole = whole, engine = m[["engine"]], r_around = r_around),
    # in the form of time_interleaved(), for the report's list of failures
    timings = list(lapply(stats::setNames(names(cases), names(cases)), function(name) {
      list(elapsed = per_call[[name]], errors = errors[[name]])
    }))
  )
}
