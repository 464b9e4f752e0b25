# The data and the workloads under test, shared by the case groups
# (bench/cases-*.R, timings) and bench/peak-memory.R (one workload per fresh R
# process), so that both measure exactly the same code.
#
# The workload is the chapter's: for each year 2010-2020, `n_means` means of
# 100 values drawn from the year's log2 size bins (BytesLog2) with
# probability proportional to their file counts (Files).

bench_years <- 2010:2020
bench_sample_size <- 100

# The real histogram when it is there (never copied into the repository),
# else the example the package bundles. `arg` is an optional path given on
# the command line.
find_data <- function(root, arg = NULL) {
  if (length(arg) && !is.na(arg) && nzchar(arg)) {
    if (!file.exists(arg)) stop("no data file at ", arg, call. = FALSE)
    return(list(path = normalizePath(arg), kind = "given on the command line"))
  }
  real <- file.path(root, "..", "shared", "data", "filesizes_timestamps.txt")
  if (file.exists(real)) {
    return(list(path = normalizePath(real), kind = "real data"))
  }
  list(path = bootscale::filesizes_example(), kind = "bundled example (real data not found)")
}

# The per-year aggregated (Year, BytesLog2, Files) table and its split by
# year: the input every workload starts from.
bench_input <- function(path) {
  yearly <- bootscale::aggregate_filesizes(bootscale::read_filesizes(path))
  yearly <- yearly[yearly$Year %in% bench_years, c("Year", "BytesLog2", "Files")]
  years <- sort(unique(yearly$Year))
  if (!identical(as.integer(years), bench_years)) {
    stop("the data must cover every year 2010-2020; it has ",
         paste(years, collapse = ", "), call. = FALSE)
  }
  rows <- split(seq_len(nrow(yearly)), yearly$Year)
  list(
    yearly = yearly,
    years = years,
    # As the chapter has them: BytesLog2 stays integer, Files are the weights.
    x = lapply(rows, function(r) yearly$BytesLog2[r]),
    p = lapply(rows, function(r) yearly$Files[r])
  )
}

# The chapter's first version: one sample() and one mean() per replicate.
chapter_loop <- function(x, p, n_means) {
  means <- numeric(n_means)
  for (i in seq(n_means)) means[i] <- mean(sample(x, 100, TRUE, p))
  means
}

# The chapter's "vectorized" version: the whole 100 x n_means draw matrix.
chapter_vectorized <- function(x, p, n_means) {
  ch <- sample(x, 100 * n_means, TRUE, p)
  dim(ch) <- c(100, n_means)
  colMeans(ch)
}

# Every workload takes (input, n_means, workers) and returns what the user
# gets back. Seeds are fixed so that results can be compared across worker
# counts; per-year bootscale calls get one seed per year (the same seed would
# give every year the same streams).
workloads <- list(
  loop = function(input, n_means, workers) {
    set.seed(1)
    Map(chapter_loop, input$x, input$p, n_means)
  },
  vectorized = function(input, n_means, workers) {
    set.seed(1)
    Map(chapter_vectorized, input$x, input$p, n_means)
  },
  bootscale_means = function(input, n_means, workers) {
    Map(function(x, p, seed) {
      bootscale::bootstrap_means(x, p, n_means = n_means, sample_size = bench_sample_size,
                                 workers = workers, seed = seed)
    }, input$x, input$p, seq_along(input$x))
  },
  bootscale_mean = function(input, n_means, workers) {
    bootscale::bootstrap_mean(input$yearly, BytesLog2, weight = Files, .by = Year,
                              n_means = n_means, sample_size = bench_sample_size,
                              workers = workers, seed = 1)
  },
  # The same with ten times the draws per mean: more work per mean written.
  bootscale_mean_deep = function(input, n_means, workers) {
    bootscale::bootstrap_mean(input$yearly, BytesLog2, weight = Files, .by = Year,
                              n_means = n_means, sample_size = 10 * bench_sample_size,
                              workers = workers, seed = 1)
  },
  bootscale_mean_samples = function(input, n_means, workers) {
    bootscale::bootstrap_mean(input$yearly, BytesLog2, weight = Files, .by = Year,
                              n_means = n_means, sample_size = bench_sample_size,
                              keep_samples = TRUE, workers = workers, seed = 1)
  },
  # Diagnostic: the internal C engine alone (job build, kernel, result),
  # without bootstrap_mean()'s argument checks and R-side summaries.
  bootscale_engine = function(input, n_means, workers) {
    engine <- internal("run_means")
    if (is.null(engine)) stop("bootscale has no internal run_means() any more")
    engine(lapply(input$x, as.double), lapply(input$p, as.double), n_means,
           bench_sample_size, workers, 1)
  },
  # The chapter's parallel way on one machine: fork one R process per core
  # and give each a share of the years.
  mclapply = function(input, n_means, workers) {
    set.seed(1, kind = "L'Ecuyer-CMRG")
    on.exit(RNGkind("default", "default", "default"), add = TRUE)
    parallel::mclapply(seq_along(input$x), function(i) {
      chapter_vectorized(input$x[[i]], input$p[[i]], n_means)
    }, mc.cores = workers)
  },
  # The chapter's furrr code; the multisession plan must already be set.
  furrr = function(input, n_means, workers) {
    set.seed(1)
    data <- Map(function(x, p) list(x = x, p = p), input$x, input$p)
    furrr::future_map(data, function(d) chapter_vectorized(d$x, d$p, n_means),
                      .options = furrr::furrr_options(seed = TRUE))
  }
)

run_workload <- function(name, input, n_means, workers) {
  workloads[[name]](input, n_means, workers)
}
