# One core against the chapter's R: speed and peak memory of the chapter's
# loop and vectorized versions and of bootscale on one worker.
# Targets: bootscale on 1 core >= 20x faster than vectorized R; peak memory
# increase <= 2x what it returns (the means).

bench_group_one_core <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$n_means
  loop_means <- ctx$loop_means
  means_bytes <- ctx$means_bytes
  cat("\n[one core] timing (", ctx$rounds$slow, "/", ctx$rounds$fast,
      " interleaved rounds) ...\n", sep = "")
  cases <- list(
    loop = function() run_workload("loop", input, loop_means, 1L),
    vectorized = function() run_workload("vectorized", input, n_means, 1L),
    bootscale_means = function() run_workload("bootscale_means", input, n_means, 1L),
    bootscale_mean = function() run_workload("bootscale_mean", input, n_means, 1L)
  )
  # Warm-up on a small size: byte-compiles closures, loads namespaces.
  for (name in names(cases)) invisible(run_workload(name, input, 100, 1L))
  t <- time_interleaved(cases, c(loop = ctx$rounds$slow, vectorized = ctx$rounds$slow,
                                 bootscale_means = ctx$rounds$fast,
                                 bootscale_mean = ctx$rounds$fast))

  cat("[one core] peak memory (one fresh R process per workload) ...\n")
  mem <- list(
    loop = peak_memory(ctx, "loop", loop_means),
    vectorized = peak_memory(ctx, "vectorized", n_means),
    bootscale_means = peak_memory(ctx, "bootscale_means", n_means),
    bootscale_mean = peak_memory(ctx, "bootscale_mean", n_means),
    bootscale_mean_samples = peak_memory(ctx, "bootscale_mean_samples", n_means),
    bootscale_engine = peak_memory(ctx, "bootscale_engine", n_means),
    bootscale_mean_w2 = peak_memory(ctx, "bootscale_mean", n_means, 2L)
  )
  mem_of <- function(names, field) {
    vapply(mem[names], function(m) as.numeric(m[[field]]), numeric(1))
  }

  loop_scale <- n_means / loop_means
  sec <- c(
    loop = med(t$loop) * loop_scale,
    vectorized = med(t$vectorized),
    bootscale_means = med(t$bootscale_means),
    bootscale_mean = med(t$bootscale_mean)
  )
  ref_bytes <- c(loop = means_bytes / loop_scale, vectorized = means_bytes,
                 bootscale_means = means_bytes, bootscale_mean = means_bytes)
  table <- data.frame(
    variant = c(
      sprintf(paste("(a) chapter loop: `mean(sample(x, 100, TRUE, p))` per mean",
                    "[timed and measured at %s means/year; time x%g]"),
              fmt_n(loop_means), loop_scale),
      "(b) chapter vectorized: `sample(x, 100 * n_means, TRUE, p)`, `dim<-`, `colMeans()`",
      "(c1) bootscale `bootstrap_means()` per year, workers = 1",
      "(c2) bootscale `bootstrap_mean(.by = Year)`, workers = 1"
    ),
    runs = vapply(t[names(sec)], runs, character(1)),
    `seconds (median)` = fmt_s(sec),
    `speed-up vs (b)` = fmt_x(sec[["vectorized"]] / sec),
    `others' load, cores` = fmt_x(vapply(t[names(sec)], med, numeric(1), "others")),
    `peak RSS increase, MB` = fmt_mb(mem_of(names(sec), "increase")),
    `returned object, MB` = fmt_mb(mem_of(names(sec), "result_bytes")),
    `increase / means` = fmt_x(mem_of(names(sec), "increase") / ref_bytes),
    check.names = FALSE
  )

  speedup <- sec[["vectorized"]] / sec[["bootscale_mean"]]
  speedup_means <- sec[["vectorized"]] / sec[["bootscale_means"]]
  mem_ratio <- c(
    bootscale_means = mem$bootscale_means$increase / mem$bootscale_means$result_bytes,
    bootscale_mean = mem$bootscale_mean$increase / means_bytes
  )
  reset <- if (isTRUE(mem$vectorized$reset)) {
    "with the high-water mark reset through /proc/self/clear_refs"
  } else {
    "WITHOUT a reset of the high-water mark (clear_refs not writable): rises are lower bounds"
  }
  bench_section(
    "## One core against the chapter's R",
    "",
    paste0("Seconds for all ", ctx$n_years, " years at ", fmt_n(n_means),
           " means per year: median of the runs. The loop is timed at ", fmt_n(loop_means),
           " means per year and its time scaled linearly; its memory is as measured at that ",
           "size. Peak RSS increase: rise of VmHWM over the resident size in a fresh `Rscript` ",
           "that loaded the data and ran the workload once on 10 means, ", reset,
           ". `increase / means` divides it by the size of the means computed (",
           fmt_n(ctx$n_years), " x ", fmt_n(n_means), " doubles = ", fmt_mb(means_bytes),
           " MB; a tenth of that for the loop)."),
    "",
    md_table(table),
    "",
    sprintf(paste("- (c2) `bootstrap_mean()` returns a small tibble (%s kB) but computes the",
                  "%s MB of means inside. The C engine alone (internal `means_engine()`: job,",
                  "kernel, result vector) raises the peak by %s MB (%s x the means); with",
                  "`keep_samples = TRUE`, `bootstrap_mean()` returns %s MB and raises the peak",
                  "by %s MB (%s x)."),
            formatC(mem$bootscale_mean$result_bytes / 1024, format = "f", digits = 1),
            fmt_mb(means_bytes), fmt_mb(mem$bootscale_engine$increase),
            fmt_x(mem$bootscale_engine$increase / means_bytes),
            fmt_mb(mem$bootscale_mean_samples$result_bytes),
            fmt_mb(mem$bootscale_mean_samples$increase),
            fmt_x(mem$bootscale_mean_samples$increase / means_bytes)),
    sprintf(paste("- Target: bootscale on 1 core >= 20x faster than vectorized R: %s",
                  "(`bootstrap_mean()` %sx, `bootstrap_means()` per year %sx)."),
            verdict(speedup >= 20), fmt_x(speedup), fmt_x(speedup_means)),
    sprintf(paste("- Target: peak memory increase <= 2x what it returns (the means): %s",
                  "(`bootstrap_means()` %sx its result; `bootstrap_mean()` %sx the means it",
                  "computes)."),
            verdict(all(mem_ratio <= 2)), fmt_x(mem_ratio[["bootscale_means"]]),
            fmt_x(mem_ratio[["bootscale_mean"]])),
    "",
    values = list(
      seconds = sec,
      vectorized_value = t$vectorized$value,
      peak_w2 = mem$bootscale_mean_w2$increase
    ),
    timings = list(t)
  )
}
