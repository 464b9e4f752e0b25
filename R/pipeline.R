#' The chapter's pipeline, end to end
#'
#' Reads a histogram ([read_filesizes()]), sums `Files` and `SpaceUsage` per
#' (`by`, `BytesLog2`) ([aggregate_filesizes()]), and bootstraps the mean
#' log2 file size weighted by `Files` within each `by` group
#' ([bootstrap_mean()]): the chapter's `chapter3_pipeline()`, in C and on
#' every core.
#'
#' @param path Path of a histogram file; the bundled example by default.
#' @param by Grouping column(s) of the result: `"Year"` as in the chapter,
#'   or for example `c("Year", "Month")`.
#' @inheritParams bootstrap_mean
#' @return A tibble with the `by` columns, `Mean` (the bootstrap estimate of
#'   the mean log2 file size), `std.error`, `conf.low`, `conf.high`,
#'   `n_means`, and `samples` when `keep_samples = TRUE`; attributes `seed`
#'   and `rng`, and under the future backend `backend`, `chunks` and
#'   `chunk_log`.
#' @export
#' @examples
#' filesize_pipeline(n_means = 2000, seed = 1)
filesize_pipeline <- function(path = filesizes_example(), by = "Year", n_means = 10000,
                              sample_size = 100, conf_level = 0.95, keep_samples = FALSE,
                              workers = NULL, seed = NULL,
                              backend = getOption("bootscale.backend", "fork")) {
  filesizes <- in_pipeline(read_filesizes(path))
  check_columns(filesizes, by, "by")
  used <- intersect(by, c("BytesLog2", "Files", "SpaceUsage"))
  if (length(used)) {
    abort_bs(
      c("{.arg by} must not contain {.val BytesLog2}, {.val Files} or {.val SpaceUsage}, the columns being averaged and summed.",
        "x" = "It contains {.val {used}}."),
      "bad_by"
    )
  }
  summed <- aggregate_filesizes(filesizes, by = c(by, "BytesLog2"),
                                targets = c("Files", "SpaceUsage"))
  out <- in_pipeline(bootstrap_mean(summed, .data$BytesLog2, weight = .data$Files, .by = by,
                                    n_means = n_means, sample_size = sample_size,
                                    conf_level = conf_level, keep_samples = keep_samples,
                                    workers = workers, seed = seed, backend = backend))
  names(out)[names(out) == "estimate"] <- "Mean"
  out
}

# Errors of the steps name the function the user called, whose arguments
# they are about.
in_pipeline <- function(expr, call = rlang::caller_env()) {
  tryCatch(expr, bootscale_error = function(e) {
    e$call <- rlang::frame_call(call)
    rlang::cnd_signal(e)
  })
}

