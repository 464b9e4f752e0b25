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
#'   line) and the percentile interval (dashed lines), named in a legend.
#'   Each panel has its own x scale (the groups' means differ by more than
#'   their spread) and the same y scale. Without samples, each group's
#'   estimate with its interval; whole-number groups (years) get whole-number
#'   breaks.
#' * [scaling_benchmark()] and [blas_scaling()]: measured speedup (points
#'   and line) against the number of workers or threads, the ideal linear
#'   speedup (dashed), the fitted Amdahl's-law curve ([amdahl_fit()]; for
#'   weak scaling the scaled speedup and Gustafson's law,
#'   [gustafson_fit()]) when there were at least three counts, and a
#'   labelled dotted line at the number of cores available when the
#'   measurement was made (in the subtitle when it lies outside the counts
#'   tried). The x axis has whole-number breaks.
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
# nolint start: object_name_linter, object_length_linter. An S3 method: generic.class.
autoplot.bootscale_bootstrap <- function(object, bins = 30, ...) {
# nolint end
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
        ggplot2::geom_vline(ggplot2::aes(xintercept = .data$estimate, linetype = "estimate"),
                            data = summ, colour = "firebrick") +
        ggplot2::geom_vline(ggplot2::aes(xintercept = .data$bound,
                                         linetype = "percentile interval"),
                            data = interval, colour = "firebrick") +
        ggplot2::scale_linetype_manual(
          values = c(estimate = "solid", "percentile interval" = "dashed"), name = NULL
        ) +
        ggplot2::facet_wrap(".group", scales = "free_x") +
        ggplot2::labs(x = "bootstrap mean (each panel has its own x scale)", y = "count") +
        ggplot2::theme(legend.position = "bottom")
    )
  }

  xlab <- if (length(group_cols)) paste(group_cols, collapse = " / ") else NULL
  numeric_x <- length(group_cols) == 1 && is.numeric(object[[group_cols]])
  summ$.x <- if (numeric_x) object[[group_cols]] else summ$.group
  p <- ggplot2::ggplot(summ, ggplot2::aes(x = .data$.x, y = .data$estimate)) +
    ggplot2::geom_pointrange(ggplot2::aes(ymin = .data$conf.low, ymax = .data$conf.high)) +
    ggplot2::labs(x = xlab, y = paste(est, "with percentile interval"))
  if (numeric_x && all(summ$.x == round(summ$.x), na.rm = TRUE)) {
    # Years and other whole-number groups: no breaks between them.
    p <- p + ggplot2::scale_x_continuous(breaks = integer_breaks, minor_breaks = NULL)
  }
  p
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
# nolint start: object_name_linter, object_length_linter. An S3 method: generic.class.
autoplot.bootscale_scaling <- function(object, ...) {
# nolint end
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  reference <- attr(object, "reference") %||% min(object$workers)
  weak <- identical(attr(object, "scaling"), "weak")
  fit <- attr(object, if (weak) "gustafson" else "amdahl")
  speedup_plot(object$workers, object$speedup, reference, fit,
               law = if (weak) "Gustafson" else "Amdahl",
               cores = attr(object, "cores"), xlab = "workers",
               ylab = if (weak) "scaled speedup (work grows with workers)" else "speedup")
}

#' @rdname autoplot-bootscale
#' @exportS3Method ggplot2::autoplot
# nolint start: object_name_linter, object_length_linter. An S3 method: generic.class.
autoplot.bootscale_blas_scaling <- function(object, ...) {
# nolint end
  rlang::check_installed("ggplot2", "to plot bootscale results.")
  reference <- min(object$threads)
  fit <- fit_finite(object$threads, object$speedup, reference)
  vendor <- attr(object, "blas")$vendor
  speedup_plot(object$threads, object$speedup, reference, fit, law = "Amdahl",
               cores = attr(object, "cores"), xlab = "BLAS threads", ylab = "speedup",
               title = if (length(vendor) && !is.na(vendor)) paste(vendor, "solve()") else NULL)
}

# Measured speedup (points and line), the ideal line (dashed), the fitted
# law, and a labelled marker at the number of cores.
speedup_plot <- function(n, speedup, reference, fit, law, cores, xlab, ylab, title = NULL) {
  ok <- is.finite(speedup)
  measured <- data.frame(n = n[ok], speedup = speedup[ok], series = rep("measured", sum(ok)))
  ideal <- data.frame(n = range(n), speedup = range(n) / reference, series = "ideal")
  colours <- c(measured = "black", ideal = "grey45")
  types <- c(measured = "solid", ideal = "dashed")
  p <- ggplot2::ggplot(mapping = ggplot2::aes(x = .data$n, y = .data$speedup,
                                              colour = .data$series,
                                              linetype = .data$series)) +
    ggplot2::geom_line(data = ideal)
  if (!is.null(fit) && !is.na(fit$p)) {
    label <- sprintf("%s fit (p = %.2f)", law, fit$p)
    grid <- seq(min(n), max(n), length.out = 100)
    model <- if (law == "Gustafson") gustafson_speedup else amdahl_speedup
    curve <- data.frame(n = grid, speedup = model(grid, fit$p, reference), series = label)
    p <- p + ggplot2::geom_line(data = curve)
    colours[[label]] <- "steelblue"
    types[[label]] <- "solid"
  }
  p <- p +
    ggplot2::geom_line(data = measured) +
    ggplot2::geom_point(data = measured, size = 2, show.legend = FALSE)
  subtitle <- NULL
  if (length(cores) == 1 && !is.na(cores)) {
    if (cores >= min(n) && cores <= max(n)) {
      p <- p +
        ggplot2::geom_vline(xintercept = cores, colour = "firebrick", linetype = "dotted") +
        ggplot2::annotate("text", x = cores, y = Inf, label = paste(cores, "cores"),
                          colour = "firebrick", hjust = 1.1, vjust = 1.5, size = 3.5)
    } else {
      subtitle <- sprintf("%d core%s available", cores, if (cores == 1) "" else "s")
    }
  }
  p +
    ggplot2::scale_x_continuous(breaks = integer_breaks, minor_breaks = NULL) +
    ggplot2::scale_colour_manual(values = colours, breaks = names(colours)) +
    ggplot2::scale_linetype_manual(values = types, breaks = names(types)) +
    ggplot2::labs(x = xlab, y = ylab, colour = NULL, linetype = NULL, title = title,
                  subtitle = subtitle)
}

# Breaks at whole numbers only: workers, threads and years come in ones.
integer_breaks <- function(limits) {
  b <- unique(round(pretty(limits)))
  b[b >= limits[[1]] - 1e-9 & b <= limits[[2]] + 1e-9]
}
