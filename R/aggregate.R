# The chapter's aggregation, without dplyr.

#' Aggregate a histogram by groups
#'
#' The chapter's `aggregate_filesize_data()`: rows with `NA` in any grouping
#' column are dropped, then `fn` summarises each target column within every
#' combination of the grouping columns that occurs. For `fn = sum` the sums
#' are taken in C (in long double, in one pass), and whole-number keys are
#' grouped through a table over their range rather than by hashing, so ten
#' million rows take about a second.
#'
#' @param data A data frame or tibble, such as [read_filesizes()] returns.
#' @param by Names of the grouping columns.
#' @param targets Names of the columns to summarise.
#' @param fn A function taking a vector and returning one value; `sum` by
#'   default.
#' @return A tibble with one row per group combination, sorted by the
#'   grouping columns, holding the grouping columns (with their types) and
#'   the summarised targets.
#' @seealso [bootstrap_mean()] for the next step of the pipeline.
#' @export
#' @examples
#' fs <- read_filesizes(filesizes_example())
#' yearly <- aggregate_filesizes(fs, by = c("Year", "BytesLog2"))
#' yearly
#' aggregate_filesizes(fs, by = "Year", targets = "Files", fn = max)
aggregate_filesizes <- function(data, by = c("Year", "BytesLog2"),
                                targets = c("Files", "SpaceUsage"), fn = sum) {
  check_data_frame(data)
  by <- check_group_columns(data, unique(check_columns(data, by, "by")))
  targets <- unique(check_columns(data, targets, "targets"))
  both <- intersect(by, targets)
  if (length(both)) {
    abort_bs(
      c("{.arg by} and {.arg targets} must not share columns.", "x" = "Both name {.val {both}}."),
      "bad_by"
    )
  }
  if (!is.function(fn)) {
    abort_bs(c("{.arg fn} must be a function.", "x" = "It is {describe(fn)}."), "bad_function")
  }
  data <- as.list(data)[unique(c(by, targets))]
  complete <- Reduce(`&`, lapply(data[by], function(k) !is.na(k)))
  if (!all(complete)) data <- lapply(data, `[`, complete)

  g <- group_ids(data[by])
  keys <- lapply(data[by], function(k) k[g$first])
  call <- rlang::current_env()
  values <- lapply(targets, function(nm) {
    v <- data[[nm]]
    if (identical(fn, sum) && is.numeric(v) && !is.factor(v)) {
      s <- .Call(C_bs_group_sums, as.double(v), g$id, as.double(g$n))
      if (is.integer(v) && all(abs(s) <= .Machine$integer.max, na.rm = TRUE)) as.integer(s) else s
    } else {
      apply_fn(fn, v, g, nm, call)
    }
  })
  names(values) <- targets
  tibble::as_tibble(c(keys, values))
}

# fn on every group of one target column; one value per group or a classed
# error naming the column.
apply_fn <- function(fn, v, g, nm, call) {
  out <- tryCatch(
    lapply(split(v, factor(g$id, levels = seq_len(g$n))), fn),
    error = function(e) {
      abort_bs(
        c("{.arg fn} must work on every column in {.arg targets}.",
          "x" = "It failed on column {.field {nm}}."),
        "bad_function", call = call, parent = e
      )
    }
  )
  n_values <- lengths(out)
  if (any(n_values != 1)) {
    bad <- which(n_values != 1)[1] # nolint: object_usage_linter. Read by the message's glue.
    abort_bs(
      c("{.arg fn} must return one value per group.",
        "x" = "On column {.field {nm}} it returned {n_values[bad]} for group {bad}."),
      "bad_function", call = call
    )
  }
  unlist(out, use.names = FALSE)
}

# The rank of each value of one key among its distinct values (sorted, NA
# last) and the number of distinct values. Whole numbers in a modest range
# (years, size classes, factor codes) are ranked by a table over the range:
# linear, where unique() and match() hash every one of ten million values.
key_ranks <- function(k) {
  if (is.factor(k)) {
    lv <- unclass(k)
    attributes(lv) <- NULL
    k <- lv
  }
  if (is.integer(k) && length(k)) {
    if (anyNA(k)) {
      # all NA: no value, Inf and a warning; the general way below
      lo <- suppressWarnings(min(k, na.rm = TRUE))
      hi <- suppressWarnings(max(k, na.rm = TRUE))
    } else {
      lo <- min(k)
      hi <- max(k)
    }
    if (is.finite(lo) && lo > -.Machine$integer.max && as.double(hi) - lo < 2^24) {
      slot <- k - (lo - 1L)
      nbins <- hi - lo + 1L
      slot[is.na(slot)] <- nbins + 1L # NA last
      rank <- cumsum(tabulate(slot, nbins = nbins + 1L) > 0L)
      return(list(rank = rank[slot], n = rank[nbins + 1L]))
    }
  }
  u <- sort(unique(k), na.last = TRUE)
  list(rank = match(k, u), n = length(u))
}

# Dense group ids in the sorted order of the keys (first key most
# significant, NA last). Returns the id per row, the first row of each group
# and the number of groups.
group_ids <- function(keys) {
  n_rows <- length(keys[[1]])
  ranks <- lapply(keys, key_ranks)
  # one key: its dense ranks are the ids
  if (length(ranks) == 1L) return(dense_groups(ranks[[1]]$rank))
  mult <- prod(vapply(ranks, function(r) as.double(r$n), numeric(1)))
  if (mult <= 2^27) {
    # Few enough combinations for a table: integer codes, the codes present
    # marked and numbered in order. Linear; no hashing of ten million values.
    code <- rep.int(1L, n_rows)
    m <- 1L
    for (r in rev(ranks)) {
      code <- code + (r$rank - 1L) * m
      m <- m * r$n
    }
    rank <- cumsum(tabulate(code, nbins = mult) > 0L)
    id <- rank[code]
    return(dense_groups(id))
  }
  if (mult > 2^52) {
    # Too many combinations for exact double codes: sort the keys instead.
    ord <- do.call(order, c(unname(keys), list(na.last = TRUE, method = "radix")))
    sorted <- lapply(keys, `[`, ord)
    new_group <- c(TRUE, Reduce(`|`, lapply(sorted, function(s) {
      a <- s[-1]
      b <- s[-length(s)]
      (is.na(a) != is.na(b)) | (!is.na(a) & !is.na(b) & a != b)
    })))
    id <- integer(n_rows)
    id[ord] <- cumsum(new_group)
  } else {
    code <- numeric(n_rows)
    m <- 1
    for (r in rev(ranks)) {
      code <- code + (r$rank - 1) * m
      m <- m * r$n
    }
    id <- match(code, sort(unique(code)))
  }
  dense_groups(id)
}

# The group ids 1..n with the first row of each group (assigning in reverse
# order, so that the first row wins: no hashing of the ids).
dense_groups <- function(id) {
  n_rows <- length(id)
  n <- if (n_rows) max(id) else 0L
  first <- integer(n)
  if (n_rows) {
    back <- n_rows:1 # rev(), without its dispatch
    first[id[back]] <- back
  }
  list(id = id, first = first, n = n)
}
