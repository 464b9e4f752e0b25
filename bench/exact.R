# Benchmark of issue 13: the exact bootstrap against resampling and the
# peers, on the chapter's workload (11 years x 100 draws per mean).
#
#   make bench-exact                  (installs the package first)
#   Rscript bench/exact.R [DATA_PATH] (against the installed package)
#
# Writes bench/RESULTS-exact.md and prints the same text. Data: the real
# histogram (../shared/data/filesizes_timestamps.txt from the repository
# root) when it is there, else bootscale::filesizes_example().
#
# Cases, side by side in one run (each case is a function of the input, so
# a harness can call them one by one):
#   resample_w1, resample_w2  bootstrap_mean(), 100 000 means per year
#   resample_engine           the engine alone at 100 draws per replicate
#   exact_dist                exact_distribution() per year: the distribution alone
#   exact_table               bootstrap_mean(method = "exact"): the yearly table
#   exact_reps                the exact distributions plus 100 000 replicates
#                             drawn from each (keep_samples = TRUE)
#   exact_draws               the replicates alone: the engine over precomputed
#                             supports, one lookup per replicate
#   saddle                    boot::saddle.distn() per year (saddlepoint approximation)
#   chapter_vectorized        colMeans(matrix(sample(x, 100 * n, TRUE, p), 100))
# and, apart, the kernel alone per replicate (bench/kernel-alone.c, compiled
# here against src/): resampling (100 draws a replicate) against replicates
# of the exact distributions (1 lookup), without what every call of the
# engine also pays per replicate (the job's tables, the result's memory).
# Timings are wall-clock medians over rounds in which every case runs once,
# in an order that rotates every round, so that a slow spell of the shared
# machine hits every case alike. Cases under 20 ms are repeated within a
# round and divided. Accuracy: the largest error, over the 11 years, of the
# 2.5 % and 97.5 % quantiles against the exact ones. A last table times the
# exact distribution of one year for sample_size from 10 to 10 000.

script_path <- function() {
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(file_arg)) normalizePath(sub("^--file=", "", file_arg[1])) else "bench/exact.R"
}
suppressPackageStartupMessages(library(bootscale))

exact_bench_years <- 2010:2020
exact_bench_sample_size <- 100
# BOOTSCALE_BENCH_EXACT_MEANS: fewer means for a quick trial run
exact_bench_n_means <- as.numeric(Sys.getenv("BOOTSCALE_BENCH_EXACT_MEANS", "1e5"))

exact_bench_data <- function(root, arg = NULL) {
  if (length(arg) && !is.na(arg) && nzchar(arg)) {
    if (!file.exists(arg)) stop("no data file at ", arg, call. = FALSE)
    return(list(path = normalizePath(arg), kind = "given on the command line"))
  }
  real <- file.path(root, "..", "shared", "data", "filesizes_timestamps.txt")
  if (file.exists(real)) return(list(path = normalizePath(real), kind = "real data"))
  list(path = filesizes_example(), kind = "bundled example (real data not found)")
}

exact_bench_input <- function(path) {
  yearly <- aggregate_filesizes(read_filesizes(path))
  yearly <- yearly[yearly$Year %in% exact_bench_years, c("Year", "BytesLog2", "Files")]
  rows <- split(seq_len(nrow(yearly)), yearly$Year)
  list(yearly = yearly, years = as.integer(names(rows)),
       x = lapply(rows, function(r) yearly$BytesLog2[r]),
       p = lapply(rows, function(r) yearly$Files[r]))
}

# ---- the cases ------------------------------------------------------------------
# Each case is list(run, quantiles): run(round) does the timed work and
# returns its result; quantiles(result), not timed, gives list(low, high) of
# the years' 2.5 % and 97.5 % quantiles for the accuracy column.

alpha <- c(0.025, 0.975)

table_quantiles <- function(r) list(low = r$conf.low, high = r$conf.high)

# Means of several groups, one after the other, n_means each.
means_quantiles <- function(m, n_groups) {
  q <- vapply(split(m, rep(seq_len(n_groups), each = length(m) / n_groups)), stats::quantile,
              numeric(2), probs = alpha, names = FALSE)
  list(low = q[1, ], high = q[2, ])
}

case_resample <- function(input, workers) {
  list(
    run = function(round) {
      bootstrap_mean(input$yearly, BytesLog2, Files, .by = Year, # nolint: object_usage_linter.
                     n_means = exact_bench_n_means, workers = workers, seed = round)
    },
    quantiles = table_quantiles
  )
}

# The engine alone over the 11 years (sample_size draws per replicate): the
# like-for-like reference for the replicates drawn from exact distributions.
case_resample_engine <- function(input) {
  list(
    run = function(round) {
      bootscale:::run_means(lapply(unname(input$x), as.double),
                            lapply(unname(input$p), as.double),
                            exact_bench_n_means, exact_bench_sample_size, 1L, as.double(round))
    },
    quantiles = function(m) means_quantiles(m, length(input$x))
  )
}

case_exact_dist <- function(input) {
  list(
    run = function(round) {
      Map(exact_distribution, input$x, input$p,
          MoreArgs = list(sample_size = exact_bench_sample_size))
    },
    quantiles = function(ds) {
      q <- vapply(ds, function(d) {
        d$value[findInterval(alpha - 1e-12, d$cumulative, left.open = TRUE) + 1]
      }, numeric(2))
      list(low = q[1, ], high = q[2, ])
    }
  )
}

case_exact_table <- function(input) {
  list(
    run = function(round) {
      bootstrap_mean(input$yearly, BytesLog2, Files, .by = Year, method = "exact") # nolint
    },
    quantiles = table_quantiles
  )
}

case_exact_reps <- function(input) {
  list(
    run = function(round) {
      bootstrap_mean(input$yearly, BytesLog2, Files, .by = Year, method = "exact", # nolint
                     n_means = exact_bench_n_means, keep_samples = TRUE, workers = 1,
                     seed = round)
    },
    quantiles = function(r) means_quantiles(unlist(r$samples), nrow(r))
  )
}

# The replicates alone, drawn from distributions computed beforehand: the
# engine over each support with sample_size = 1 (one alias lookup each).
case_exact_draws <- function(input) {
  dists <- Map(exact_distribution, input$x, input$p,
               MoreArgs = list(sample_size = exact_bench_sample_size))
  values <- unname(lapply(dists, `[[`, "value"))
  probs <- unname(lapply(dists, `[[`, "prob"))
  list(
    run = function(round) {
      bootscale:::run_means(values, probs, exact_bench_n_means, 1, 1L, as.double(round))
    },
    quantiles = function(m) means_quantiles(m, length(values))
  )
}

# boot::saddle.distn() for the mean of n multinomial draws: the statistic
# sum(f * x / n) with f ~ Multinomial(nrow(A), mu), so A is padded with
# zero-probability rows to n rows (it needs the bins <= n).
case_saddle <- function(input) {
  list(
    run = function(round) {
      mapply(function(x, p) {
        n <- exact_bench_sample_size
        p <- p / sum(p)
        m <- sum(p * x)
        se <- sqrt(sum(p * (x - m)^2) / n)
        s <- boot::saddle.distn(c(x, rep(0, n - length(x))) / n,
                                mu = c(p, rep(0, n - length(x))), t0 = c(m, se), alpha = alpha)
        s$quantiles[, 2]
      }, input$x, input$p)
    },
    quantiles = function(q) list(low = q[1, ], high = q[2, ])
  )
}

case_chapter_vectorized <- function(input) {
  list(
    run = function(round) {
      set.seed(round)
      lapply(seq_along(input$x), function(j) {
        colMeans(matrix(sample(input$x[[j]], exact_bench_sample_size * exact_bench_n_means,
                               TRUE, input$p[[j]]), exact_bench_sample_size))
      })
    },
    quantiles = function(ms) means_quantiles(unlist(ms), length(ms))
  )
}

# ---- the kernel alone ---------------------------------------------------------------
# bench/kernel-alone.c, compiled with R's compiler and flags against the
# package's pure C modules in src/ (the source tree this script belongs to:
# the installed package may differ from it; the report says which commit).

kernel_alone_build <- function(root) {
  exe <- file.path(tempdir(), "kernel-alone")
  src <- file.path(root, "src", c("rng.c", "alias.c", "group.c", "kernel.c"))
  r_config <- function(what) {
    system2(file.path(R.home("bin"), "R"), c("CMD", "config", what), stdout = TRUE)
  }
  cmd <- paste(r_config("CC"), r_config("CFLAGS"), "-I", shQuote(file.path(root, "src")),
               "-o", shQuote(exe), shQuote(file.path(root, "bench", "kernel-alone.c")),
               paste(shQuote(src), collapse = " "), "-lm")
  if (system(cmd) != 0) stop("could not compile bench/kernel-alone.c", call. = FALSE)
  exe
}

# Groups (lists of values and weights) to the program's input file.
kernel_alone_input <- function(x, w) {
  path <- tempfile("kernel-alone-", fileext = ".bin")
  con <- file(path, "wb")
  on.exit(close(con))
  writeBin(as.double(length(x)), con)
  for (j in seq_along(x)) writeBin(as.double(c(length(x[[j]]), x[[j]], w[[j]])), con)
  path
}

# CPU seconds per replicate, one per timed round of the program (`rounds`
# of them per run; runs of the cases alternate so that a slow spell of the
# shared machine hits both).
kernel_alone <- function(root, input, rounds = 5, runs = 3) {
  exe <- kernel_alone_build(root)
  dists <- Map(exact_distribution, input$x, input$p,
               MoreArgs = list(sample_size = exact_bench_sample_size))
  cases <- list(
    resample = list(file = kernel_alone_input(unname(input$x), unname(input$p)),
                    sample_size = exact_bench_sample_size),
    exact = list(file = kernel_alone_input(unname(lapply(dists, `[[`, "value")),
                                           unname(lapply(dists, `[[`, "prob"))),
                 sample_size = 1)
  )
  on.exit(unlink(c(exe, vapply(cases, `[[`, "", "file"))))
  n <- length(input$x) * exact_bench_n_means
  out <- list(resample = numeric(), exact = numeric())
  for (r in seq_len(runs)) {
    for (nm in names(cases)) {
      lines <- system2(exe, c(cases[[nm]]$file, cases[[nm]]$sample_size,
                              sprintf("%.0f", exact_bench_n_means), rounds), stdout = TRUE)
      v <- as.numeric(lines)
      if (length(v) != rounds + 1 || !is.finite(v[rounds + 1])) {
        stop("bench/kernel-alone.c gave no result", call. = FALSE)
      }
      out[[nm]] <- c(out[[nm]], v[seq_len(rounds)] / n)
    }
  }
  out
}

# ---- measuring ------------------------------------------------------------------

now <- function() as.numeric(Sys.time())

machine_cpu <- function() {
  if (!file.exists("/proc/stat")) return(NA_real_)
  v <- as.numeric(strsplit(readLines("/proc/stat", n = 1), " +")[[1]][-1])
  sum(v[c(1, 2, 3, 6, 7, 8)]) / 100
}

# Seconds per call of run(round), repeating it `reps` times; the load the
# rest of the machine put on the CPUs meanwhile (cores).
time_case <- function(run, round, reps) {
  invisible(gc(verbose = FALSE))
  m0 <- machine_cpu()
  c0 <- sum(proc.time()[c(1, 2, 4, 5)], na.rm = TRUE)
  t0 <- now()
  for (i in seq_len(reps)) value <- run(round)
  t1 <- now()
  ours <- sum(proc.time()[c(1, 2, 4, 5)], na.rm = TRUE) - c0
  list(seconds = (t1 - t0) / reps, cpu = ours / reps, value = value,
       others = max(0, (machine_cpu() - m0 - ours) / (t1 - t0)))
}

run_rounds <- function(cases, rounds, reps) {
  out <- lapply(cases, function(x) {
    list(seconds = numeric(), cpu = numeric(), others = numeric(), quantiles = NULL)
  })
  for (r in seq_len(rounds)) {
    order <- (seq_along(cases) + r - 2) %% length(cases) + 1
    for (i in order) {
      nm <- names(cases)[i]
      if (r > cases[[i]]$rounds) next
      t <- time_case(cases[[i]]$case$run, r, reps[[nm]])
      out[[nm]]$seconds <- c(out[[nm]]$seconds, t$seconds)
      out[[nm]]$others <- c(out[[nm]]$others, t$others)
      out[[nm]]$cpu <- c(out[[nm]]$cpu, t$cpu)
      out[[nm]]$quantiles <- cases[[i]]$case$quantiles(t$value)
    }
  }
  out
}

# ---- growth with sample_size -----------------------------------------------------

growth_table <- function(x, p, sizes = c(10, 30, 100, 300, 1000, 3000, 10000), rounds = 5) {
  res <- lapply(sizes, function(n) {
    reps <- max(1, ceiling(2e7 / (n * length(x) * log2(n * length(x)))))
    d <- exact_distribution(x, p, sample_size = n)
    # CPU seconds of this process: on a shared machine, steadier than wall-clock
    t <- vapply(seq_len(rounds), function(r) {
      t0 <- sum(proc.time()[1:2])
      for (i in seq_len(reps)) exact_distribution(x, p, sample_size = n)
      (sum(proc.time()[1:2]) - t0) / reps
    }, numeric(1))
    c(sample_size = n, points = nrow(d), seconds = stats::median(t))
  })
  g <- as.data.frame(do.call(rbind, res))
  g$per_point_log <- g$seconds / (g$points * log2(g$points))
  fit <- stats::lm(log(seconds) ~ log(sample_size), g[g$sample_size >= 100, ])
  slope <- unname(stats::coef(fit)[2])
  list(table = g, slope = slope)
}

# ---- main ---------------------------------------------------------------------------

main <- function(args = commandArgs(trailingOnly = TRUE)) {
  started <- Sys.time()
  op <- options(cli.progress_show_after = Inf) # no progress bars in the output
  on.exit(options(op), add = TRUE)
  root <- dirname(dirname(script_path()))
  data <- exact_bench_data(root, args[1])
  input <- exact_bench_input(data$path)
  n_years <- length(input$years)
  load_before <- {
    m0 <- machine_cpu()
    Sys.sleep(1)
    machine_cpu() - m0
  }
  cases <- list(
    resample_w1 = list(case = case_resample(input, 1L), rounds = 5,
                       label = "resampling, `bootstrap_mean()`, workers = 1"),
    resample_w2 = list(case = case_resample(input, 2L), rounds = 5,
                       label = "resampling, `bootstrap_mean()`, workers = 2"),
    resample_engine = list(case = case_resample_engine(input), rounds = 5,
                           label = "resampling, the engine alone (100 draws per replicate), workers = 1"), # nolint: line_length_linter.
    exact_dist = list(case = case_exact_dist(input), rounds = 5,
                      label = "exact distribution alone, `exact_distribution()` per year"),
    exact_table = list(case = case_exact_table(input), rounds = 5,
                       label = "exact yearly table, `bootstrap_mean(method = \"exact\")`"),
    exact_reps = list(case = case_exact_reps(input), rounds = 5,
                      label = "exact distributions + 100 000 replicates per year (`keep_samples = TRUE`), workers = 1"), # nolint: line_length_linter.
    exact_draws = list(case = case_exact_draws(input), rounds = 5,
                       label = "replicates alone from precomputed exact distributions (the engine, 1 lookup per replicate), workers = 1"), # nolint: line_length_linter.
    saddle = list(case = case_saddle(input), rounds = 5,
                  label = "`boot::saddle.distn()` per year (saddlepoint approximation)"),
    chapter_vectorized = list(case = case_chapter_vectorized(input), rounds = 3,
                              label = "chapter's vectorized R, `colMeans(matrix(sample(...), 100))`") # nolint: line_length_linter.
  )
  # warm-up, and repetitions that make each timed run last >= 20 ms
  reps <- lapply(cases, function(cs) {
    t <- time_case(cs$case$run, 0, 1)$seconds
    max(1, min(200, ceiling(0.02 / max(t, 1e-6))))
  })
  res <- run_rounds(cases, max(vapply(cases, `[[`, numeric(1), "rounds")), reps)

  truth <- res$exact_dist$quantiles
  rows <- lapply(names(cases), function(nm) {
    r <- res[[nm]]
    err <- max(abs(c(r$quantiles$low - truth$low, r$quantiles$high - truth$high)))
    data.frame(case = cases[[nm]]$label, rounds = length(r$seconds),
               seconds = stats::median(r$seconds), cpu = stats::median(r$cpu),
               others = stats::median(r$others),
               err = err)
  })
  tab <- do.call(rbind, rows)
  rownames(tab) <- names(cases)
  per_rep_resample <- tab["resample_engine", "cpu"] / (n_years * exact_bench_n_means)
  per_rep_exact <- tab["exact_draws", "cpu"] / (n_years * exact_bench_n_means)
  growth <- growth_table(input$x[[1]], input$p[[1]])
  alone <- kernel_alone(root, input)
  alone_resample <- stats::median(alone$resample)
  alone_exact <- stats::median(alone$exact)
  commit <- tryCatch(system2("git", c("-C", shQuote(root), "describe", "--always", "--dirty"),
                             stdout = TRUE, stderr = FALSE), error = function(e) "unknown")

  fmt_s <- function(s) ifelse(s < 0.01, sprintf("%.2f ms", 1e3 * s), sprintf("%.3f s", s))
  lines <- c(
    "# bootscale benchmark: the exact bootstrap (issue 13)", "",
    "Written by `bench/exact.R` (`make bench-exact`); do not edit by hand.", "",
    "## Machine and workload", "",
    sprintf("- Date: %s UTC; %s", format(started, tz = "UTC"), R.version.string),
    sprintf("- CPU: %d logical cores; load of other processes just before the run: %.2f cores",
            parallel::detectCores(), max(0, load_before)),
    sprintf("- bootscale %s from %s", utils::packageVersion("bootscale"),
            dirname(find.package("bootscale"))),
    sprintf("- Data: %s, `%s`: %d (Year, BytesLog2) bins over %d years, %d-%d bins per year",
            data$kind, basename(data$path), nrow(input$yearly), n_years,
            min(lengths(input$x)), max(lengths(input$x))),
    sprintf("- Workload: %d years, mean of %d draws; the cases that draw replicates draw %s per year", # nolint: line_length_linter.
            n_years, exact_bench_sample_size,
            format(exact_bench_n_means, big.mark = " ", scientific = FALSE)),
    "", "## Time and accuracy, side by side", "",
    paste("Seconds for all years: median over rounds (each round runs every case once, in a",
          "rotating order; fast cases repeated within a round). Error: the largest absolute",
          "difference, over the years, of the 2.5 % and 97.5 % quantiles from the exact ones",
          "(the exact ones lie on the grid of possible means, step 1/100 here).", "Others' load:",
          "CPU used by other processes during the case's runs, in cores (2 cores in all);",
          "when it is high, CPU time says more than wall-clock time, and the targets are",
          "judged on CPU time."), "",
    "| case | rounds | time (median) | CPU time, self + children (median) | others' load, cores | largest quantile error |", # nolint: line_length_linter.
    "|---|---|---|---|---|---|",
    sprintf("| %s | %d | %s | %s | %.2f | %s |", tab$case, tab$rounds, fmt_s(tab$seconds),
            fmt_s(tab$cpu), tab$others,
            ifelse(rownames(tab) == "exact_dist", "0 (reference)",
                   formatC(tab$err, format = "g", digits = 3))),
    "",
    sprintf("- Target: exact distribution for all %d years <= 5 ms on one core: **%s** (%s of CPU with `exact_distribution()` per year, R overhead included; %s for the whole `bootstrap_mean(method = \"exact\")` table).", # nolint: line_length_linter.
            n_years, if (tab["exact_dist", "cpu"] <= 0.005) "met" else "not met",
            fmt_s(tab["exact_dist", "cpu"]), fmt_s(tab["exact_table", "cpu"])),
    sprintf("- Target: replicates from the exact distribution >= 30x faster per replicate than resampling with sample_size = 100: **%s** (%.1f ns against %.1f ns of CPU per replicate, %.0fx; the engine alone, one worker each, quantiles not timed).", # nolint: line_length_linter.
            if (per_rep_resample / per_rep_exact >= 30) "met" else "not met",
            1e9 * per_rep_exact, 1e9 * per_rep_resample, per_rep_resample / per_rep_exact),
    "",
    "## Per replicate, the kernel alone", "",
    paste("CPU time of `kernel_means_block()` over all blocks of the job (11 years,",
          format(exact_bench_n_means, big.mark = " ", scientific = FALSE),
          "replicates each), in `bench/kernel-alone.c` compiled with R's compiler and flags",
          sprintf("against `src/` of this tree (commit %s);", commit[1]),
          "the output is written once before the clock starts and reused, so this is the",
          "kernel without the job's tables and the result's memory (page faults, copy into",
          "R) that the engine rows above include. Median and range over",
          length(alone$exact), "rounds, the two cases alternating."), "",
    "| kernel | ns per replicate (median) | range |",
    "|---|---|---|",
    sprintf("| %s | %.2f | %.2f-%.2f |",
            c(sprintf("resampling, %d draws per replicate", exact_bench_sample_size),
              "replicates of the exact distributions, 1 lookup per replicate"),
            1e9 * c(alone_resample, alone_exact),
            1e9 * c(min(alone$resample), min(alone$exact)),
            1e9 * c(max(alone$resample), max(alone$exact))),
    "",
    sprintf("- The kernel alone: %.0fx faster per replicate (%.2f ns against %.2f ns); what the engine rows add per replicate is the same for both methods, apart from the exact method's larger tables (one alias table over each year's support).", # nolint: line_length_linter.
            alone_resample / alone_exact, 1e9 * alone_exact, 1e9 * alone_resample),
    "",
    sprintf("## Cost against sample_size (year %d, %d bins, `exact_distribution()`)",
            input$years[1], length(input$x[[1]])), "",
    "| sample_size | support points | CPU time | CPU time / (points x log2 points) |",
    "|---|---|---|---|",
    sprintf("| %s | %s | %s | %.2f ns |", format(growth$table$sample_size, big.mark = " "),
            format(growth$table$points, big.mark = " "), fmt_s(growth$table$seconds),
            1e9 * growth$table$per_point_log),
    "",
    sprintf("- Growth: time ~ sample_size^%.2f from 100 to 10 000 (least squares on the logs); sample_size x log(sample_size) would give about 1.1, sample_size^2 would give 2.", # nolint: line_length_linter.
            growth$slope),
    sprintf("- Total run time of this benchmark: %.0f s.",
            as.numeric(Sys.time()) - as.numeric(started))
  )
  text <- paste(lines, collapse = "\n")
  cat(text, "\n")
  out <- Sys.getenv("BOOTSCALE_BENCH_OUT", file.path(root, "bench", "RESULTS-exact.md"))
  if (nzchar(out)) writeLines(text, out)
  invisible(tab)
}

if (sys.nframe() == 0L) main()
