# The chapter's memory lessons: the memory ceiling of a step (memit(), like
# IPython's %memit) and the size of data, column by column (column_sizes(),
# size_ratio()). Resident memory is read by src/memory.c.

mb <- 2^20

#' Peak memory of an expression
#'
#' Evaluates `expr` and reports the memory ceiling it reached: the peak
#' resident memory of this R process during the call, the increment over the
#' resident memory at the start, the peak of forked children, and the peak
#' of R's own heap. This is the chapter's `%memit` for R.
#'
#' @section How the peak is measured:
#' * On Linux the kernel keeps the peak resident set ("high-water mark",
#'   `VmHWM`). `memit()` resets it by writing `5` to `/proc/self/clear_refs`,
#'   so `peak` is the true peak during the call (`method =
#'   "clear_refs+VmHWM"`). Where that file cannot be written,
#'   the mark is not reset (`"VmHWM (not reset)"`) and `peak` is the
#'   largest of the call's peak and every earlier one: an upper bound.
#' * Elsewhere (macOS, the BSDs) the peak is `getrusage()`'s `ru_maxrss`,
#'   which cannot be reset (`"getrusage"`): `peak` is again an upper bound,
#'   and `start` is the peak so far, since the current resident set is not
#'   read there. On Windows nothing is measured (`"unavailable"`, sizes
#'   `NA`), except the R heap.
#' * `children_peak` comes from `getrusage(RUSAGE_CHILDREN)`, which reports
#'   the largest peak of any child (and grandchild) **that was waited for**,
#'   over the whole life of the session. It is reported only when it grew
#'   during the call, and is `NA` otherwise: a child smaller than an earlier
#'   one is invisible, and so is a child that has not been waited for when
#'   `expr` returns. bootscale's worker pool waits for its workers before it
#'   returns, so they count; [parallel::mclapply()] and
#'   [parallel::mccollect()] return first and reap their children a moment
#'   later, so those are usually missed. A forked child's resident memory
#'   includes the pages it still shares with the parent, so `children_peak`
#'   counts them too.
#' * The R heap (`heap_peak`) is [gc()]'s "max used" after `gc(reset =
#'   TRUE)` before the call: R objects (vectors and others) count until a
#'   garbage collection frees them, so temporaries made and dropped during
#'   the call count too. Memory that C or Fortran code allocates itself
#'   (`malloc()`, BLAS work space) is not part of the heap. A full garbage
#'   collection runs before the call.
#'
#' Memory is counted in pages that were touched: allocating without writing
#' (for example `malloc()` in C code) does not count.
#'
#' @param expr An expression, evaluated in the calling environment.
#' @return A tibble with one row and columns `start` (resident memory at the
#'   start), `peak` (peak resident memory during the call), `increment`
#'   (`peak - start`), `children_peak` (peak resident memory of forked
#'   children that ended during the call, or `NA`), `heap_peak` and
#'   `heap_increment` (R's heap: peak during the call and its increase over
#'   the start), all in MB of 2^20 bytes as [gc()] reports them; `seconds`
#'   (elapsed time) and `method` (see above). The value of `expr` is the
#'   attribute `"value"`: `attr(result, "value")`. The tibble has class
#'   `bootscale_memit` and prints one line per kind of memory, with units,
#'   so that no column is cut off; `as.data.frame()` or `tibble::as_tibble()`
#'   show it as a table.
#' @seealso [column_sizes()] for the size of a data frame's columns.
#' @export
#' @examples
#' m <- memit(x <- numeric(1e7))
#' m
#' length(attr(m, "value"))
#'
#' # The chapter's lesson: remove what is no longer needed.
#' memit({
#'   a <- runif(1e6)
#'   a_mean <- mean(a)
#'   rm(a)
#'   b <- matrix(runif(1e6) + a_mean, 1000)
#'   max(b)
#' })
memit <- function(expr) {
  node_bytes <- if (.Machine$sizeof.pointer == 8) 56 else 28
  heap_bytes <- function(g, col) sum(g[, col] * c(node_bytes, 8))
  heap_start <- heap_bytes(gc(reset = TRUE, full = TRUE), "used")
  before <- .Call(C_bs_memory_snapshot, TRUE)
  t0 <- proc.time()[["elapsed"]]
  value <- expr
  seconds <- proc.time()[["elapsed"]] - t0
  after <- .Call(C_bs_memory_snapshot, FALSE)
  heap_peak <- heap_bytes(gc(full = FALSE), "max used")

  rss_known <- !is.na(before$rss)
  method <- if (identical(before$reset, 0)) {
    "clear_refs+VmHWM"
  } else if (rss_known) {
    "VmHWM (not reset)"
  } else if (!is.na(before$peak)) {
    "getrusage"
  } else {
    "unavailable"
  }
  rss_start <- if (rss_known) before$rss else before$peak
  rss_peak <- max(after$peak, rss_start)
  grew <- !is.na(after$children_peak) && !is.na(before$children_peak) &&
    after$children_peak > before$children_peak
  # Sizes in MB are computed first: tibble() would see the columns, not
  # these byte counts.
  sizes <- c(rss_start, rss_peak, rss_peak - rss_start,
             if (grew) after$children_peak else NA_real_,
             heap_peak, max(0, heap_peak - heap_start)) / mb
  out <- tibble::tibble(
    start = sizes[[1]],
    peak = sizes[[2]],
    increment = sizes[[3]],
    children_peak = sizes[[4]],
    heap_peak = sizes[[5]],
    heap_increment = sizes[[6]],
    seconds = seconds,
    method = method
  )
  out <- tibble::new_tibble(out, class = "bootscale_memit")
  attr(out, "value") <- value
  out
}

#' @export
format.bootscale_memit <- function(x, ...) {
  fields <- c("start", "peak", "increment", "children_peak", "heap_peak",
              "heap_increment", "seconds", "method")
  if (nrow(x) != 1 || !all(fields %in% names(x))) return(NextMethod())
  mb_text <- function(v) if (is.na(v)) "NA" else format(signif(v, 3), big.mark = ",")
  children <- if (is.na(x$children_peak)) {
    "none measured (no child ended during the call with a higher peak)"
  } else {
    paste(mb_text(x$children_peak), "MB")
  }
  c(
    sprintf("memit: %s s elapsed; resident memory by %s", format(signif(x$seconds, 3)),
            x$method),
    sprintf("  resident memory:  start %s MB, peak %s MB, increment %s MB",
            mb_text(x$start), mb_text(x$peak), mb_text(x$increment)),
    sprintf("  R heap:           peak %s MB, increment %s MB",
            mb_text(x$heap_peak), mb_text(x$heap_increment)),
    sprintf("  forked children:  %s", children)
  )
}

#' @export
print.bootscale_memit <- function(x, ...) {
  writeLines(format(x, ...))
  invisible(x)
}

#' Memory used by each column of a data frame
#'
#' The chapter's `print_column_sizes()`: the size of every column as
#' [utils::object.size()] reports it, to see which columns to drop or to
#' store in a more compact type (integers instead of doubles, factors for
#' repeated strings).
#'
#' `bytes` is `object.size()` of the column itself (`data[[column]]`). The
#' chapter prints `object.size(dataset[column])`, a one-column data frame,
#' which adds the same few hundred bytes of data-frame overhead (names, row
#' names, class) to every column. The columns of a data frame share string
#' storage and attributes, so the sum of `bytes` can differ slightly from
#' the size of the whole data frame, which is the attribute `total`.
#'
#' @param data A data frame.
#' @return A tibble with one row per column of `data` and columns `column`
#'   (the name), `type` (its class), and `bytes` (its `object.size()`, a
#'   double); the attribute `"total"` is `object.size(data)` in bytes.
#' @seealso [size_ratio()], [memit()].
#' @export
#' @examples
#' fs <- read_filesizes(filesizes_example())
#' column_sizes(fs)
#' attr(column_sizes(fs), "total")
column_sizes <- function(data) {
  check_data_frame(data)
  cols <- as.list(data)
  out <- tibble::tibble(
    column = names(data),
    type = vapply(cols, function(x) class(x)[[1]], character(1), USE.NAMES = FALSE),
    bytes = vapply(cols, function(x) as.double(utils::object.size(x)), numeric(1),
                   USE.NAMES = FALSE)
  )
  attr(out, "total") <- as.double(utils::object.size(data))
  out
}

#' How much smaller a summary is than its data
#'
#' The chapter's "reduction ratio": `object.size(before) /
#' object.size(after)`, for example the raw histogram against its yearly
#' aggregate.
#'
#' @param before,after Any R objects, typically the data before and after
#'   a step that reduces it.
#' @return A single double: the size of `before` divided by the size of
#'   `after`, both by [utils::object.size()]; above 1 when `after` is
#'   smaller.
#' @seealso [column_sizes()].
#' @export
#' @examples
#' fs <- read_filesizes(filesizes_example())
#' yearly <- aggregate_filesizes(fs)
#' size_ratio(fs, yearly)
size_ratio <- function(before, after) {
  as.double(utils::object.size(before)) / as.double(utils::object.size(after))
}
