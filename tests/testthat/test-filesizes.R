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
  m <- tapply(yearly$BytesLog2 * yearly$Files, yearly$Year, sum) / tapply(yearly$Files, yearly$Year, sum)
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
  writeLines(character(), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
  writeLines(c("1024 NaN 5"), tmp)
  expect_error(read_filesizes(tmp), class = "bootscale_error_bad_format")
})

test_that("error messages say what must be true", {
  tmp <- withr::local_tempfile(fileext = ".txt")
  writeLines(c("1024 10 5", "2048 10"), tmp)
  expect_snapshot(read_filesizes(tmp), error = TRUE, transform = function(x) gsub(tmp, "<tmp>", x, fixed = TRUE))
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
