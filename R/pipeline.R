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
#' @param method `"resample"` as in the chapter, or `"exact"`: log2 size
#'   classes are whole numbers, so the bootstrap distribution of the mean
#'   can be computed exactly (see [exact_distribution()] and the exact
#'   method in [bootstrap_mean()]): no Monte Carlo error, and a few
#'   milliseconds for all years.
#' @return A tibble with the `by` columns and the columns of
#'   [bootstrap_mean()]: `estimate` (the bootstrap estimate of the mean log2
#'   file size), `std.error` (the spread of a mean of `sample_size` size
#'   classes, the chapter's design: it follows `sample_size`, not `n_means`),
#'   `mc.error` (the Monte Carlo standard error of `estimate`, `std.error /
#'   sqrt(n_means)`: how precisely it is known), `conf.low`, `conf.high`,
#'   `n_means`, and `samples` when `keep_samples = TRUE`; attributes `seed`,
#'   `rng`, `method` and `processes`, and under the future backend `backend`,
#'   `chunks` and `chunk_log`. A file with no files in the years 2010--2020 (or none with
#'   all `by` columns known), or a group without files, is an error of class
#'   `bootscale_error_no_data`.
#' @inheritSection bootstrap_means Random numbers and determinism
#' @export
#' @examples
#' filesize_pipeline(n_means = 2000, seed = 1)
#' filesize_pipeline(method = "exact")
filesize_pipeline <- function(path = filesizes_example(), by = "Year", n_means = 10000,
                              sample_size = 100, conf_level = 0.95, keep_samples = FALSE,
                              workers = NULL, seed = NULL, method = c("resample", "exact"),
                              backend = getOption("bootscale.backend", "fork")) {
  filesizes <- in_pipeline(read_filesizes(path))
  check_columns(filesizes, by, "by")
  used <- intersect(by, c("BytesLog2", "Files", "SpaceUsage"))
  if (length(used)) {
    abort_bs(
      c("{.arg by} must not contain {.val BytesLog2}, {.val Files} or {.val SpaceUsage}, the columns being averaged and summed.", # nolint: line_length_linter.
        "x" = "It contains {.val {used}}."),
      "bad_by"
    )
  }
  summed <- aggregate_filesizes(filesizes, by = c(by, "BytesLog2"),
                                targets = c("Files", "SpaceUsage"))
  check_usable_rows(path, filesizes, summed, by)
  out <- in_pipeline(bootstrap_mean(summed, .data$BytesLog2, weight = .data$Files, .by = by,
                                    n_means = n_means, sample_size = sample_size,
                                    conf_level = conf_level, keep_samples = keep_samples,
                                    workers = workers, seed = seed, method = method,
                                    backend = backend))
  out
}

# The steps after reading would blame their own arguments (`value`,
# `weight`) for a file without usable rows: say what is wrong with the file.
check_usable_rows <- function(path, filesizes, summed, by, call = rlang::caller_env()) {
  if (!nrow(summed)) {
    abort_bs(
      c("The histogram file must count non-empty files dated 2010--2020.",
        "x" = if (!nrow(filesizes)) {
          "{.file {path}} has no rows, or only rows of empty files (Bytes = 0)."
        } else {
          "{.file {path}} has {nrow(filesizes)} row{?s} of non-empty files, none dated 2010--2020."
        }),
      "no_data", call = call
    )
  }
  files <- rowsum(as.double(summed$Files), group_ids(as.list(summed)[by])$id, reorder = TRUE)
  empty <- which(files == 0)
  if (length(empty)) {
    keys <- unique(tibble::as_tibble(summed[by])) # nolint: object_usage_linter.
    abort_bs(
      c("Every group of the histogram file must count at least one file.",
        "x" = "{format_key(keys, empty[1])} has only cells with 0 files in {.file {path}}."),
      "no_data", call = call
    )
  }
  invisible(summed)
}

# Errors of the steps name the function the user called, whose arguments
# they are about.
in_pipeline <- function(expr, call = rlang::caller_env()) {
  tryCatch(expr, bootscale_error = function(e) {
    e$call <- rlang::frame_call(call)
    rlang::cnd_signal(e)
  })
}
