# Checks of the results rather than of the speed: the same seed gives the
# same bits for any number of workers, and bootscale's estimates agree with
# the chapter's.

bench_group_checks <- function(ctx, done) {
  input <- ctx$input
  n_means <- ctx$n_means
  wd <- ctx$workers_default
  cat("[checks] identical results across workers ...\n")
  same_seed <- function(w) run_workload("bootscale_mean_samples", input, n_means, w)
  ref <- tryCatch(same_seed(1L), error = function(e) NULL)
  means_w1 <- run_workload("bootscale_means", input, n_means, 1L)
  chapter <- done$one_core$vectorized_value
  pipe <- done$workers$pipe_values
  tiny_call <- done$workers$tiny_call
  # Results may record the processes that made them (an attribute); the
  # numbers are what must not depend on the workers.
  same_numbers <- function(a, b) identical(strip_processes(a), strip_processes(b))
  checks <- data.frame(
    check = c(
      "`bootstrap_mean(keep_samples = TRUE)`: workers = 2 identical to workers = 1",
      sprintf(paste("`bootstrap_mean(keep_samples = TRUE)`: workers = default_workers() = %d",
                    "identical to workers = 1"), wd),
      "`bootstrap_means()` per year: workers = 2 identical to workers = 1",
      "`filesize_pipeline()`: workers = 2 identical to workers = 1 (last timed runs)",
      "tiny job: workers = 2 identical to workers = 1",
      "bootscale estimates vs the chapter's vectorized R: largest absolute difference over years",
      "bootscale std.error vs the chapter's: max relative difference over years"
    ),
    result = c(
      check(same_numbers(same_seed(2L), ref)),
      check(same_numbers(same_seed(wd), ref)),
      check(same_numbers(run_workload("bootscale_means", input, n_means, 2L), means_w1)),
      check(!is.null(pipe$w1) && same_numbers(pipe$w2, pipe$w1)),
      check(same_numbers(tiny_call(2L), tiny_call(1L))),
      check(formatC(max(abs(ref$estimate - vapply(chapter, mean, numeric(1)))),
                    format = "g", digits = 3)),
      check(formatC(max(abs(ref$std.error / vapply(chapter, stats::sd, numeric(1)) - 1)),
                    format = "g", digits = 3))
    )
  )
  bench_section("## Checks", "", md_table(checks), "")
}

strip_processes <- function(x) {
  if (is.list(x) && !is.data.frame(x)) return(lapply(x, strip_processes))
  attr(x, "processes") <- NULL
  x
}

# Evaluates one check: its value as text, "error" if it fails three times
# (it is tried again after an error), with the errors beside it.
check <- function(expr) {
  e <- substitute(expr)
  env <- parent.frame()
  errors <- character()
  result <- NULL
  for (attempt in 1:3) {
    result <- tryCatch(as.character(eval(e, env)), error = identity)
    if (!inherits(result, "error")) break
    errors <- c(errors, conditionMessage(result))
    result <- NULL
  }
  if (is.null(result)) result <- "error"
  if (length(errors)) {
    result <- paste0(result, " (error on ", length(errors), " attempt(s): ",
                     paste(unique(errors), collapse = "; "), ")")
  }
  result
}
