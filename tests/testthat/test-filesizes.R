test_that("the example file reads with the documented columns and types", {
  fs <- read_filesizes(filesizes_example())
  expect_s3_class(fs, "tbl_df")
  expect_named(fs, c("Bytes", "Files", "BytesLog2", "SpaceUsage", "Year", "Month", "Date"))
  expect_type(fs$Bytes, "double")
  expect_type(fs$Files, "integer")
  expect_type(fs$BytesLog2, "integer")
  expect_type(fs$SpaceUsage, "double")
  expect_type(fs$Year, "integer")
  expect_s3_class(fs$Month, c("ordered", "factor"))
  expect_identical(levels(fs$Month), month.abb)
  expect_s3_class(fs$Date, "Date")
  expect_true(all(fs$Bytes > 0))
  expect_identical(sort(unique(stats::na.omit(fs$Year))), 2010:2020)
  expect_true(any(is.na(fs$Year)))
  # NA together: year, month and date
  expect_identical(is.na(fs$Year), is.na(fs$Month))
  expect_identical(is.na(fs$Year), is.na(fs$Date))
  expect_equal(fs$SpaceUsage, fs$Bytes * fs$Files)
  expect_equal(2^fs$BytesLog2, fs$Bytes)
  # sorted by Date then BytesLog2, missing dates last
  ord <- order(fs$Date, fs$BytesLog2, na.last = TRUE)
  expect_identical(ord, seq_len(nrow(fs)))
})

test_that("the example file has the raw format and the chapter's shape", {
  raw <- utils::read.table(filesizes_example(), col.names = c("Bytes", "MonthsTo2021", "Files"))
  expect_gt(nrow(raw), 8000)
  expect_lt(nrow(raw), 10000)
  expect_true(all(raw$Bytes == 0 | log2(raw$Bytes) == round(log2(raw$Bytes))))
  expect_equal(max(log2(raw$Bytes[raw$Bytes > 0])), 40)
  expect_gte(min(raw$Files), 1)
  expect_gt(max(raw$Files), 5e5)
  fs <- read_filesizes(filesizes_example())
  yearly <- aggregate_filesizes(fs)
  m <- tapply(yearly$BytesLog2 * yearly$Files, yearly$Year, sum) / tapply(yearly$Files,
                                                                          yearly$Year, sum)
  expect_length(m, 11)
  expect_true(all(m > 9.5 & m < 14.5))
  expect_gt(diff(range(m)), 2)
})

test_that("month, year and date follow the chapter's TotalMonths rule", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  # MonthsTo2021 = 0 is December 2020; 131 is January 2010; 132 is Dec 2009.
  writeLines(c("1024 0 5", "2048 131 7", "4096 132 9", "0 5 100", "8 -3 2"), tmp)
  fs <- read_filesizes(tmp)
  expect_equal(nrow(fs), 4)  # the empty-file row is dropped
  expect_identical(fs$Year, c(2010L, 2020L, NA, NA))
  expect_identical(as.character(fs$Month), c("Jan", "Dec", NA, NA))
  expect_identical(fs$Date, as.Date(c("2010-01-01", "2020-12-01", NA, NA)))
  expect_identical(fs$BytesLog2[1:2], c(11L, 10L))
  expect_identical(fs$Files[1:2], c(7L, 5L))
})

test_that("gzip-compressed files read the same", {
  tmp <- withr::local_tempfile(fileext = ".txt.gz")
  con <- gzfile(tmp, "w")
  writeLines(readLines(filesizes_example()), con)
  close(con)
  expect_identical(read_filesizes(tmp), read_filesizes(filesizes_example()))
})

test_that("counts beyond the integer range stay exact as doubles", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  writeLines(c("1024 10 3000000000", "2048 10 1"), tmp)
  fs <- read_filesizes(tmp)
  expect_type(fs$Files, "double")
  expect_equal(sum(fs$Files), 3000000001)
})

test_that("malformed files give classed errors", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  expect_error(read_filesizes(file.path(tempdir(), "no-such-file.txt")),
               class = "bootscale_error_file_not_found")
  expect_error(read_filesizes(NA_character_), class = "bootscale_error_bad_string")
  expect_error(read_filesizes(c("a", "b")), class = "bootscale_error_bad_string")
  writeLines(c("1024 10 5", "2048 10"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024 10 5", "2048 10 5 7"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024 10 five"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024 10 -5"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024.5 10 5"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024 NaN 5"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
})

test_that("error messages say what must be true", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  writeLines(c("1024 10 5", "2048 10"), tmp)
  scrub <- function(x) gsub(tmp, "<tmp>", x, fixed = TRUE)
  expect_snapshot(read_filesizes(tmp), error = TRUE, transform = scrub)
  writeLines(c("1024 10 -5"), tmp)
  expect_snapshot(read_filesizes(tmp), error = TRUE)
})

test_that("simulate_filesizes is reproducible and leaves the global RNG alone", {
  set.seed(99)
  before <- .Random.seed
  a <- simulate_filesizes(seed = 5)
  expect_identical(.Random.seed, before)
  b <- simulate_filesizes(seed = 5)
  expect_identical(a, b)
  expect_named(a, c("Bytes", "MonthsTo2021", "Files"))
  expect_true(all(a$Files >= 1))
  expect_true(any(2021 * 12 - a$MonthsTo2021 - 1 < 2010 * 12))
  tmp <- withr::local_tempfile(fileext = ".txt")
  write_filesizes(a, tmp)
  back <- utils::read.table(tmp, col.names = names(a))
  expect_equal(back$Files, a$Files)
  expect_equal(back$Bytes, a$Bytes)
  expect_equal(back$MonthsTo2021, a$MonthsTo2021)
})

test_that("the real data reads as the chapter describes", {
  path <- skip_without_real_data()
  raw <- utils::read.table(path, col.names = c("Bytes", "MonthsTo2021", "Files"))
  fs <- read_filesizes(path)
  expect_equal(nrow(fs), sum(raw$Bytes > 0))
  expect_identical(sort(unique(stats::na.omit(fs$Year))), 2010:2020)
  expect_identical(levels(fs$Month), month.abb)
  expect_true(is.ordered(fs$Month))
  expect_type(fs$Files, "integer")
  expect_type(fs$Year, "integer")
  # per-year sums of Files against a plain computation over the raw lines
  nz <- raw[raw$Bytes > 0, ]
  year <- (2021 * 12 - nz$MonthsTo2021 - 1) %/% 12
  keep <- year >= 2010 & year <= 2020
  plain <- tapply(nz$Files[keep], year[keep], sum)
  ours <- tapply(fs$Files, fs$Year, sum)
  expect_equal(as.numeric(ours), as.numeric(plain))
  expect_identical(names(ours), names(plain))
  expect_equal(sum(fs$Files), sum(nz$Files))
})

# Writes raw bytes, plain or gzip-compressed.
write_bytes <- function(bytes, path) {
  con <- if (grepl("[.]gz$", path)) gzfile(path, "wb") else file(path, "wb")
  on.exit(close(con))
  writeBin(bytes, con)
}

test_that("NUL bytes anywhere are refused with their line, never skipped", {
  good <- charToRaw("1024 10 5\n2048 10 3\n4096 12 10\n")
  nul <- as.raw(0)
  cases <- list(
    list(c(charToRaw("1024 10 5\n2048 10"), nul, charToRaw(" 3\n")), 2),
    list(c(charToRaw("1024 10 5\n"), nul, charToRaw("\n2048 10 3\n")), 2),
    list(c(nul, good), 1),
    list(c(good, nul), 4),
    list(c(good, nul, nul, nul, charToRaw("\n")), 4),
    # R's readers would read this as Files = 1 with a warning
    list(c(charToRaw("1024 10 1"), nul, charToRaw("0\n2048 10 3\n")), 1),
    list(c(charToRaw("1024 10 5\n\n\n2048"), nul, charToRaw(" 10 3\n")), 4)
  )
  for (ext in c(".txt", ".txt.gz")) {
    tmp <- withr::local_tempfile(fileext = ext)
    for (case in cases) {
      write_bytes(case[[1]], tmp)
      expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
      expect_error(read_filesizes(tmp), sprintf("Line %d of .* has a NUL byte", case[[2]]))
    }
    write_bytes(good, tmp)
    expect_identical(nrow(read_filesizes(tmp)), 3L)
  }
  # UTF-16 (each ASCII character followed by a NUL) says so.
  tmp <- withr::local_tempfile(fileext = ".txt")
  utf16 <- as.raw(rbind(good, as.raw(0)))
  write_bytes(c(as.raw(c(0xff, 0xfe)), utf16), tmp)
  expect_error(read_filesizes(tmp), "UTF-16 byte-order mark", class = "bootscale_error_bad_format")
  write_bytes(utf16, tmp)
  expect_error(read_filesizes(tmp), "Line 1 .* NUL byte", class = "bootscale_error_bad_format")
})

test_that("blank lines are skipped and every error names the true line", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  rows <- c("1024 10 5", "2048 10 3", "4096 12 10")
  writeLines(rows, tmp)
  plain <- read_filesizes(tmp)
  writeLines(c("", rows[1], "   ", "", rows[2], "\t", rows[3], ""), tmp)
  expect_identical(read_filesizes(tmp), plain)
  bad_rows <- list(
    c("2048 10", "has 2"), c("2048 10 abc", "has \"abc\""), c("2048 10 -3", "has -3"),
    c("2048 10 2.5", "has 2.5"), c("2048 10 Inf", "has Inf"), c("2048 NA 3", "has \"NA\""),
    c("2048 10 3 9", "has 4")
  )
  for (bad in bad_rows) {
    for (before in list(character(), "", c("", "  ", ""), c(rows[1], ""))) {
      line <- length(before) + 1
      writeLines(c(before, bad[1], "", rows[2]), tmp)
      expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
      expect_error(read_filesizes(tmp), paste0("Line ", line, " ", bad[2]), fixed = TRUE)
    }
  }
  # Windows line ends and tabs are whitespace like any other.
  writeBin(charToRaw(paste0(paste(rows, collapse = "\r\n"), "\r\n")), tmp)
  expect_identical(read_filesizes(tmp), plain)
  writeLines(gsub(" ", "\t", rows), tmp)
  expect_identical(read_filesizes(tmp), plain)
})

test_that("a UTF-8 byte-order mark is accepted, in any locale, plain or gzip", {
  rows <- charToRaw("1024 10 5\n2048 10 3\n4096 12 10\n")
  bom <- as.raw(c(0xef, 0xbb, 0xbf))
  plain_file <- withr::local_tempfile(fileext = ".txt")
  write_bytes(rows, plain_file)
  plain <- read_filesizes(plain_file)
  for (ext in c(".txt", ".txt.gz")) {
    tmp <- withr::local_tempfile(fileext = ext)
    write_bytes(c(bom, rows), tmp)
    expect_identical(read_filesizes(tmp), plain)
    withr::with_locale(c(LC_CTYPE = "C"), expect_identical(read_filesizes(tmp), plain))
    # errors still name the true line
    write_bytes(c(bom, charToRaw("1024 10 5\n\n2048 10\n")), tmp)
    expect_error(read_filesizes(tmp), "Line 3 has 2", class = "bootscale_error_bad_format")
  }
  # a BOM-only file is an empty histogram
  tmp <- withr::local_tempfile(fileext = ".txt")
  write_bytes(bom, tmp)
  expect_identical(nrow(read_filesizes(tmp)), 0L)
})

test_that("zero rows round-trip: write_filesizes() and read_filesizes() agree", {
  template <- read_filesizes(filesizes_example())[0, ]
  for (ext in c(".txt", ".txt.gz")) {
    tmp <- withr::local_tempfile(fileext = ext)
    sim <- simulate_filesizes(first_year = 2020, out_of_range = 0, seed = 1)
    write_filesizes(sim[0, ], tmp)
    expect_identical(read_filesizes(tmp), template)
    # and the same for a file of blank lines, and for rows of empty files only
    writeLines(c("", "  "), tmp)
    expect_identical(read_filesizes(tmp), template)
    write_filesizes(sim[sim$Bytes == 0, ], tmp)
    expect_identical(read_filesizes(tmp), template)
    # every row written is read back
    write_filesizes(sim, tmp)
    back <- read_filesizes(tmp)
    expect_identical(nrow(back), sum(sim$Bytes > 0))
    expect_equal(sum(back$Files), sum(sim$Files[sim$Bytes > 0]))
  }
})

test_that("a damaged compressed file is a classed error", {
  tmp <- withr::local_tempfile(fileext = ".txt.gz")
  # a gzip magic number followed by noise, written as it is
  withr::with_seed(1, writeBin(c(as.raw(c(0x1f, 0x8b)), as.raw(sample(0:255, 300, TRUE))), tmp))
  expect_error(read_filesizes(tmp), "must be readable", class = "bootscale_error_bad_format")
})
