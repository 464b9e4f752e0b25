# Reading and simulating the file-size histogram (the chapter's data).

#' Path of the bundled example histogram
#'
#' The package ships a synthetic histogram in the same three-column format as
#' the Triton file-size data the scaling chapter uses. It was made by
#' [simulate_filesizes()] with a fixed seed (script in `data-raw/`).
#'
#' @return The path of `filesizes_example.txt` inside the installed package.
#' @seealso [read_filesizes()] to read it.
#' @export
#' @examples
#' path <- filesizes_example()
#' readLines(path, n = 3)
filesizes_example <- function() {
  path <- system.file("extdata", "filesizes_example.txt", package = "bootscale")
  if (!nzchar(path)) {
    abort_bs(
      c("The example file must be installed with bootscale.",
        "x" = "{.file extdata/filesizes_example.txt} is missing from {.file {system.file(package = 'bootscale')}}: reinstall the package."), # nolint: line_length_linter.
      "file_not_found"
    )
  }
  path
}

#' Read a file-size histogram
#'
#' Reads the histogram format of the Triton file-size statistics: three
#' whitespace-separated integer columns without a header, `Bytes` (a size
#' rounded down to a power of two, 0 for empty files), `MonthsTo2021` (whole
#' months between the last modification and the start of 2021) and `Files`
#' (the number of files in that cell). Plain or gzip-compressed files are
#' read alike. Blank lines are skipped (errors still give the line's number
#' in the file), a UTF-8 byte-order mark is skipped, and a file with a NUL
#' byte (a binary or damaged file, or UTF-16 text) is refused. A file without
#' rows (empty, or only blank lines) is an empty histogram: a tibble with no
#' rows, as [write_filesizes()] writes for a data frame without rows.
#'
#' As in the chapter, empty files (`Bytes == 0`) are dropped, the month of a
#' cell is `TotalMonths = 2021 * 12 - MonthsTo2021 - 1` (so `Year =
#' TotalMonths %/% 12`, `Month = TotalMonths %% 12 + 1`), and cells outside
#' the years 2010--2020 keep their counts but get `NA` for `Year`, `Month`
#' and `Date`. Columns use compact types where the values allow: integers for
#' whole numbers that fit, an ordered factor for the month.
#'
#' @param path Path of the histogram file (plain text or gzip).
#' @return A tibble sorted by `Date` (missing dates last) then `BytesLog2`,
#'   with columns
#'   * `Bytes` (double): the size class in bytes, a power of two;
#'   * `Files` (integer, or double when a count exceeds the integer range);
#'   * `BytesLog2` (integer): `floor(log2(Bytes))`;
#'   * `SpaceUsage` (double): `Bytes * Files`;
#'   * `Year` (integer, 2010--2020 or `NA`);
#'   * `Month` (ordered factor `Jan` < ... < `Dec`, or `NA`);
#'   * `Date` (Date, the first day of the month, or `NA`).
#' @seealso [aggregate_filesizes()] for the chapter's aggregation,
#'   [filesize_pipeline()] for the whole pipeline.
#' @export
#' @examples
#' fs <- read_filesizes(filesizes_example())
#' fs
#' table(fs$Year, useNA = "ifany")
read_filesizes <- function(path) {
  path <- check_string(path)
  if (!file.exists(path) || dir.exists(path)) {
    abort_bs(
      c("{.arg path} must be an existing file.",
        "x" = if (dir.exists(path)) "{.file {path}} is a directory." else "{.file {path}} does not exist."), # nolint: line_length_linter.
      "file_not_found"
    )
  }
  raw <- read_histogram(path)
  histogram_tibble(raw$Bytes, raw$MonthsTo2021, raw$Files)
}

# Parses the three columns and checks them; returns a list of doubles.
# count.fields() and scan() do the work in C (and read gzip, bzip2 and xz
# through file()); the slow per-line diagnosis runs only on the error path.
# Lines are numbered as in the file: blank lines count, and are skipped.
read_histogram <- function(path, call = rlang::caller_env()) {
  bom <- leading_bytes(path, 3, call)
  if (length(bom) >= 2 && (identical(bom[1:2], as.raw(c(0xff, 0xfe))) ||
                           identical(bom[1:2], as.raw(c(0xfe, 0xff))))) {
    abort_bs(
      c("A histogram file must be plain text (ASCII or UTF-8).",
        "x" = "{.file {path}} starts with a UTF-16 byte-order mark.",
        "i" = "Save it as UTF-8 or ASCII."),
      "bad_format", call = call
    )
  }
  # A UTF-8 byte-order mark (as some Windows editors write) is skipped.
  utf8_bom <- identical(bom, as.raw(c(0xef, 0xbb, 0xbf)))
  # The readers get a connection they do not close: each call gets its own.
  with_source <- function(read) {
    if (!utf8_bom) return(read(path))
    con <- file(path, encoding = "UTF-8-BOM")
    on.exit(close(con))
    read(con)
  }
  read_lines <- function() with_source(function(s) readLines(s, warn = FALSE))

  n_fields <- read_quietly(path, call, with_source(function(s) {
    utils::count.fields(s, blank.lines.skip = FALSE, comment.char = "", quote = "")
  }))
  data_lines <- which(n_fields > 0L)
  if (!length(data_lines)) {
    # An empty file is an empty histogram: what write_filesizes() writes for
    # zero rows.
    return(list(Bytes = numeric(), MonthsTo2021 = numeric(), Files = numeric()))
  }
  bad <- which(n_fields != 3L & n_fields > 0L)
  if (length(bad)) {
    line <- read_lines()[bad[1]] # nolint: object_usage_linter. Read by the message's glue.
    abort_bs(
      c("Each line of a histogram file must have 3 columns: Bytes, MonthsTo2021, Files.",
        "x" = "Line {bad[1]} has {n_fields[bad[1]]}: {.val {trimws(line)}}."),
      "bad_format", call = call
    )
  }
  cols <- read_quietly(path, call, with_source(function(s) {
    scan(s, what = list(Bytes = 0, MonthsTo2021 = 0, Files = 0), quiet = TRUE,
         comment.char = "", quote = "")
  }), on_error = NULL)
  if (is.null(cols) || anyNA(unlist(cols, use.names = FALSE))) {
    lines <- read_lines()[data_lines]
    tokens <- unlist(strsplit(trimws(lines), "[[:space:]]+"), use.names = FALSE)
    num <- suppressWarnings(as.numeric(tokens))
    bad <- which(is.na(num))[1]
    abort_bs(
      c("All values of a histogram file must be numbers.",
        "x" = "Line {data_lines[(bad - 1) %/% 3 + 1]} has {.val {tokens[bad]}}."),
      "bad_format", call = call
    )
  }
  for (nm in names(cols)) {
    v <- cols[[nm]]
    bad <- which(!is.finite(v) | v != trunc(v))
    if (length(bad)) {
      abort_bs(
        c("Column {nm} must hold whole numbers.",
          "x" = "Line {data_lines[bad[1]]} has {.val {v[bad[1]]}}."),
        "bad_format", call = call
      )
    }
    if (nm != "MonthsTo2021" && any(v < 0)) {
      bad <- which(v < 0)[1]
      abort_bs(
        c("Column {nm} must be non-negative.", "x" = "Line {data_lines[bad]} has {.val {v[bad]}}."),
        "bad_format", call = call
      )
    }
  }
  cols
}

# Runs a reader of `path`. R's readers skip NUL bytes with a warning (and
# read "1<NUL> 0" as 1) or stop with a misleading message about quotes, so any
# warning or error first looks for a NUL byte, which makes the file refused.
# Other warnings pass on; another error gives `on_error` when it is given
# (the caller diagnoses it), else a classed error.
read_quietly <- function(path, call, expr, on_error) {
  warnings <- list()
  res <- tryCatch(
    withCallingHandlers(expr, warning = function(w) {
      warnings[[length(warnings) + 1]] <<- w
      invokeRestart("muffleWarning")
    }),
    error = function(e) e
  )
  if (length(warnings) || inherits(res, "error")) {
    line <- nul_line(path, call)
    if (!is.na(line)) {
      abort_bs(
        c("A histogram file must be plain text (ASCII or UTF-8).",
          "x" = "Line {line} of {.file {path}} has a NUL byte: a binary or damaged file?"),
        "bad_format", call = call
      )
    }
  }
  for (w in warnings) warning(w)
  if (inherits(res, "error")) {
    if (!missing(on_error)) return(on_error)
    abort_unreadable(path, res, call)
  }
  res
}

abort_unreadable <- function(path, cnd, call) {
  abort_bs(
    c("A histogram file must be readable: plain text, or compressed by gzip, bzip2 or xz.",
      "x" = "Reading {.file {path}} failed: {conditionMessage(cnd)}."),
    "bad_format", call = call
  )
}

# Reads the raw bytes of a file (decompressed when it is compressed); a
# damaged compressed file is a classed error, not R's "error reading from
# the connection".
read_raw <- function(path, call, read) {
  con <- gzfile(path, "rb")
  on.exit(close(con))
  tryCatch(read(con), error = function(e) abort_unreadable(path, e, call),
           warning = function(w) abort_unreadable(path, w, call))
}

# The first bytes of a file.
leading_bytes <- function(path, n, call) {
  read_raw(path, call, function(con) readBin(con, "raw", n))
}

# The line of the first NUL byte of a file, or NA.
nul_line <- function(path, call) {
  read_raw(path, call, function(con) {
    newlines <- 0
    repeat {
      chunk <- readBin(con, "raw", 2^20)
      if (!length(chunk)) return(NA_real_)
      nul <- match(as.raw(0), chunk)
      if (!is.na(nul)) return(newlines + sum(chunk[seq_len(nul - 1)] == as.raw(10)) + 1)
      newlines <- newlines + sum(chunk == as.raw(10))
    }
  })
}

as_compact_integer <- function(x) {
  if (all(abs(x) <= .Machine$integer.max)) as.integer(x) else x
}

histogram_tibble <- function(bytes, months_to_2021, files) {
  keep <- bytes > 0
  bytes <- bytes[keep]
  months_to_2021 <- months_to_2021[keep]
  files <- files[keep]

  total_months <- 2021 * 12 - months_to_2021 - 1
  year <- total_months %/% 12
  month <- total_months %% 12 + 1
  out_of_range <- year < 2010 | year > 2020
  year[out_of_range] <- NA
  month[out_of_range] <- NA
  # Dates of the few distinct months only, then looked up: parsing one
  # string per row is the slowest step otherwise.
  month_index <- ifelse(out_of_range, NA, year * 12 + month - 1)
  distinct <- sort(unique(month_index[!is.na(month_index)]))
  first_days <- as.Date(sprintf("%04d-%02d-01", distinct %/% 12, distinct %% 12 + 1))
  date <- first_days[match(month_index, distinct)]

  bytes_log2 <- as.integer(floor(log2(bytes) + 1e-9))
  ord <- order(date, bytes_log2, na.last = TRUE, method = "radix")
  tibble::tibble(
    Bytes = bytes[ord],
    Files = as_compact_integer(files[ord]),
    BytesLog2 = bytes_log2[ord],
    SpaceUsage = (bytes * files)[ord],
    Year = as.integer(year[ord]),
    Month = factor(month.abb[month[ord]], levels = month.abb, ordered = TRUE),
    Date = date[ord]
  )
}

#' Simulate a file-size histogram
#'
#' Makes a synthetic histogram in the raw three-column format of the Triton
#' data (see [read_filesizes()]), with a similar shape: for every month a
#' log-normal-like spread of sizes over `2^0`..`2^max_log2` bytes around a
#' yearly typical size that wanders between about `2^10` and `2^14`, file
#' counts from 1 to about a million, a row for empty files, and a few
#' cells with bad timestamps far outside 2010--2020. The bundled example
#' file ([filesizes_example()]) was made with it.
#'
#' @param first_year,last_year Years of the regular cells.
#' @param max_log2 Largest size class, as a power of two.
#' @param out_of_range Number of cells with timestamps outside the years.
#' @param seed Seed for R's random number generator, used locally (the
#'   global RNG state is restored afterwards); `NULL` uses the current state.
#' @return A tibble with the raw columns `Bytes`, `MonthsTo2021` and `Files`
#'   (doubles holding whole numbers), one row per non-empty cell.
#' @seealso [write_filesizes()] to save it in the raw format.
#' @export
#' @examples
#' sim <- simulate_filesizes(seed = 1)
#' nrow(sim)
#' range(log2(sim$Bytes[sim$Bytes > 0]))
simulate_filesizes <- function(first_year = 1997, last_year = 2020, max_log2 = 40,
                               out_of_range = 60, seed = NULL) {
  first_year <- check_count(first_year, min = 1900, max = 2020)
  last_year <- check_count(last_year, min = first_year, max = 2020)
  max_log2 <- check_count(max_log2, min = 1, max = 60)
  out_of_range <- check_count(out_of_range, min = 0, max = 1e6)
  if (!is.null(seed)) {
    seed <- check_seed(seed)
    old <- if (exists(".Random.seed", globalenv())) get(".Random.seed", globalenv()) else NULL
    on.exit({
      if (is.null(old)) {
        rm(".Random.seed", envir = globalenv())
      } else {
        assign(".Random.seed", old, globalenv())
      }
    }, add = TRUE)
    set.seed(seed %% .Machine$integer.max)
  }
  years <- seq(first_year, last_year)
  # A typical log2 size per year, wandering between about 10 and 14.
  centre <- 12 + 2 * sin(seq_along(years) * 1.7) + stats::runif(length(years), -0.6, 0.6)
  centre <- pmin(pmax(centre, 10.3), 13.9)
  sizes <- 0:max_log2
  rows <- vector("list", length(years) * 12)
  i <- 0
  for (y in seq_along(years)) {
    # Recent years hold more files, as on a live file system.
    volume <- 10^(3.6 + 2.2 * (y / length(years)))
    for (m in 1:12) {
      total_months <- years[y] * 12 + (m - 1)
      months_to_2021 <- 2021 * 12 - total_months - 1
      dens <- stats::dnorm(sizes, centre[y] + stats::rnorm(1, 0, 0.4), 3.6)
      expected <- volume * dens / max(dens) * stats::rlnorm(length(sizes), 0, 0.5)
      files <- stats::rpois(length(sizes), expected)
      keep <- files > 0
      i <- i + 1
      rows[[i]] <- list(Bytes = 2^sizes[keep], MonthsTo2021 = rep(months_to_2021, sum(keep)),
                        Files = files[keep])
    }
  }
  regular <- do.call(rbind, lapply(rows, as.data.frame))
  empty_months <- unique(regular$MonthsTo2021)
  empty <- data.frame(Bytes = 0, MonthsTo2021 = empty_months,
                      Files = stats::rpois(length(empty_months), 2000) + 1)
  bad <- data.frame(
    Bytes = 2^sample(sizes, out_of_range, replace = TRUE),
    MonthsTo2021 = sample(c(-4790:-60, 253:612), out_of_range, replace = TRUE),
    Files = stats::rpois(out_of_range, 20) + 1
  )
  out <- rbind(empty, regular, bad)
  tibble::as_tibble(out[order(out$Bytes, out$MonthsTo2021), ], rownames = NULL)
}

#' Write a histogram in the raw format
#'
#' Writes the three raw columns `Bytes`, `MonthsTo2021` and `Files` as
#' whitespace-separated integers without a header, the format
#' [read_filesizes()] reads. A path ending in `.gz` is gzip-compressed.
#' A data frame without rows gives an empty file, which [read_filesizes()]
#' reads as a histogram without rows.
#'
#' @param data A data frame with columns `Bytes`, `MonthsTo2021`, `Files`,
#'   as made by [simulate_filesizes()].
#' @param path The file to write.
#' @return `path`, invisibly.
#' @export
#' @examples
#' tmp <- tempfile(fileext = ".txt")
#' write_filesizes(simulate_filesizes(seed = 1), tmp)
#' nrow(read_filesizes(tmp))
#' unlink(tmp)
write_filesizes <- function(data, path) {
  check_data_frame(data)
  cols <- c("Bytes", "MonthsTo2021", "Files")
  missing <- setdiff(cols, names(data))
  if (length(missing)) {
    abort_bs(
      c("{.arg data} must have the columns {.val {cols}}.", "x" = "Missing: {.val {missing}}."),
      "missing_column"
    )
  }
  for (nm in cols) {
    v <- data[[nm]]
    # What read_filesizes() accepts: whole numbers, counts and sizes >= 0.
    ok <- FALSE
    if (is.numeric(v)) ok <- is.finite(v) & v == trunc(v) & (nm == "MonthsTo2021" | v >= 0)
    if (!all(ok)) {
      bad <- which(!ok)[1] # nolint: object_usage_linter. Read by the message's glue.
      abort_bs(
        c("Column {.field {nm}} of {.arg data} must hold finite whole numbers{if (nm != 'MonthsTo2021') ', none negative' else ''}.", # nolint: line_length_linter.
          "x" = if (is.numeric(v)) "Row {bad} has {describe(v[bad])}." else "It is {describe(v)}."),
        "bad_values"
      )
    }
  }
  path <- check_string(path)
  # file() warns with the reason, then fails; catching the warning itself
  # would leak the half-made connection.
  why <- NULL
  con <- tryCatch(
    withCallingHandlers(
      if (grepl("\\.gz$", path)) gzfile(path, "w") else file(path, "w"),
      warning = function(w) {
        why <<- conditionMessage(w)
        invokeRestart("muffleWarning")
      }
    ),
    error = function(e) {
      why <<- why %||% conditionMessage(e)
      NULL
    }
  )
  if (is.null(con)) {
    abort_bs(c("{.arg path} must be a file that can be written.", "x" = "{why}"),
             "file_not_writable")
  }
  on.exit(close(con), add = TRUE)
  writeLines(sprintf("%14.0f %4.0f %.0f", data$Bytes, data$MonthsTo2021, data$Files), con)
  invisible(path)
}
