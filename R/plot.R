# autoplot() methods. ggplot2 is only suggested: the methods are registered
# when ggplot2 is loaded (delayed S3 registration through
# @exportS3Method ggplot2::autoplot), and each one checks that it is there.

#' @importFrom rlang .data
NULL

#' Plot bootscale results with ggplot2
#'
#' [ggplot2::autoplot()] methods for bootscale's results. They need the
#' ggplot2 package; load it with `library(ggplot2)` or call
#' `ggplot2::autoplot()`.
#'
#' * Bootstrap results ([bootstrap_mean()], [filesize_pipeline()]): with a
#'   `samples` column (`keep_samples = TRUE`), the chapter's histograms of
#'   the bootstrap means, one panel per group, with the estimate (solid
#'   line) and the percentile interval (dashed lines). Without it, each
#'   group's estimate with its interval.
#' * [scaling_benchmark()] and [blas_scaling()]: measured speedup (points
#'   and line) against the number of workers or threads, the ideal linear
#'   speedup (dashed), and the fitted Amdahl's-law curve ([amdahl_fit()]).
#'
#' @param object A result of [bootstrap_mean()], [filesize_pipeline()],
#'   [scaling_benchmark()] or [blas_scaling()].
#' @param bins Number of histogram bins per group.
#' @param ... Unused; for compatibility with the generic.
#' @return A ggplot object.
#' @name autoplot-bootscale
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   fs <- aggregate_filesizes(read_filesizes(filesizes_example()))
#'   res <- bootstrap_mean(fs, BytesLog2, Files, .by = Year, n_means = 2000,
#'                         keep_samples = TRUE, seed = 1)
#'   print(ggplot2::autoplot(res))
#'   res$samples <- NULL
#'   print(ggplot2::autoplot(res))
#'
#'   job <- function(workers) Sys.sleep(0.01 + 0.04 / workers)
#'   print(ggplot2::autoplot(scaling_benchmark(job, workers = 1:3, times = 1)))
#' }
NULL

#' @rdname autoplot-bootscale
#' @exportS3Method ggplot2::autoplot
autoplot.bootscale_bootstrap <- function(object, bins = 30, ...) {
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  bins <- check_count(bins, max = 1e4)
  est <- intersect(c("estimate", "Mean"), names(object))
  if (!length(est)) {
    abort_bs(
      c("{.arg object} must have an {.field estimate} (or {.field Mean}) column.",
        "x" = "Its columns are {.field {names(object)}}."),
      "missing_column"
    )
  }
  est <- est[[1]]
  stats_cols <- union(est, result_columns(keep_samples = TRUE))
  group_cols <- setdiff(names(object), stats_cols)
  labels <- group_labels(object, group_cols)
  summ <- data.frame(
    .group = factor(labels, levels = unique(labels)),
    estimate = object[[est]],
    conf.low = object[["conf.low"]] %||% NA_real_,
    conf.high = object[["conf.high"]] %||% NA_real_
  )

  if (is.list(object[["samples"]])) {
    samples <- object[["samples"]]
    long <- data.frame(
      .group = rep(summ$.group, lengths(samples)),
      value = as.double(unlist(samples, use.names = FALSE))
    )
    interval <- data.frame(
      .group = rep(summ$.group, 2),
      bound = c(summ$conf.low, summ$conf.high)
    )
    return(
      ggplot2::ggplot(long, ggplot2::aes(x = .data$value)) +
        ggplot2::geom_histogram(bins = bins, fill = "grey60", colour = "grey30") +
        ggplot2::geom_vline(ggplot2::aes(xintercept = .data$estimate), data = summ,
                            colour = "firebrick") +
        ggplot2::geom_vline(ggplot2::aes(xintercept = .data$bound), data = interval,
                            colour = "firebrick", linetype = "dashed") +
        ggplot2::facet_wrap(".group", scales = "free") +
        ggplot2::labs(x = "bootstrap mean", y = "count")
    )
  }

  xlab <- if (length(group_cols)) paste(group_cols, collapse = " / ") else NULL
  if (length(group_cols) == 1 && is.numeric(object[[group_cols]])) {
    summ$.x <- object[[group_cols]]
  } else {
    summ$.x <- summ$.group
  }
  ggplot2::ggplot(summ, ggplot2::aes(x = .data$.x, y = .data$estimate)) +
    ggplot2::geom_pointrange(ggplot2::aes(ymin = .data$conf.low, ymax = .data$conf.high)) +
    ggplot2::labs(x = xlab, y = paste(est, "with percentile interval"))
}

# One label per row: the group's value, or "name = value, ..." for several
# grouping columns; "all" without groups.
group_labels <- function(data, cols) {
  if (!length(cols)) return(rep("all", nrow(data)))
  parts <- lapply(cols, function(col) format(data[[col]]))
  if (length(cols) == 1) return(trimws(parts[[1]]))
  named <- Map(function(col, v) paste(col, "=", trimws(v)), cols, parts)
  do.call(paste, c(unname(named), sep = ", "))
}

#' @rdname autoplot-bootscale
#' @exportS3Method ggplot2::autoplot
autoplot.bootscale_scaling <- function(object, ...) {
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  reference <- attr(object, "reference") %||% min(object$workers)
  speedup_plot(object$workers, object$speedup, reference, attr(object, "amdahl"),
               xlab = "workers")
}

#' @rdname autoplot-bootscale
#' @exportS3Method ggplot2::autoplot
autoplot.bootscale_blas_scaling <- function(object, ...) {
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  reference <- min(object$threads)
  fit <- fit_finite(object$threads, object$speedup, reference)
  vendor <- attr(object, "blas")$vendor
  speedup_plot(object$threads, object$speedup, reference, fit, xlab = "BLAS threads",
               title = if (length(vendor) && !is.na(vendor)) paste(vendor, "solve()") else NULL)
}

# Measured speedup (points and line), the ideal line and Amdahl's curve.
speedup_plot <- function(n, speedup, reference, fit, xlab, title = NULL) {
  ok <- is.finite(speedup)
  measured <- data.frame(n = n[ok], speedup = speedup[ok], series = rep("measured", sum(ok)))
  ideal <- data.frame(n = range(n), speedup = range(n) / reference, series = "ideal")
  colours <- c(measured = "black", ideal = "grey55")
  p <- ggplot2::ggplot(mapping = ggplot2::aes(x = .data$n, y = .data$speedup,
                                              colour = .data$series)) +
    ggplot2::geom_line(data = ideal, linetype = "dashed")
  if (!is.null(fit) && !is.na(fit$p)) {
    label <- sprintf("Amdahl fit (p = %.2f)", fit$p)
    grid <- seq(min(n), max(n), length.out = 100)
    curve <- data.frame(n = grid, speedup = amdahl_speedup(grid, fit$p, reference),
                        series = label)
    p <- p + ggplot2::geom_line(data = curve)
    colours[[label]] <- "steelblue"
  }
  p +
    ggplot2::geom_line(data = measured) +
    ggplot2::geom_point(data = measured, size = 2) +
    ggplot2::scale_colour_manual(values = colours, breaks = names(colours)) +
    ggplot2::labs(x = xlab, y = "speedup", colour = NULL, title = title)
}
