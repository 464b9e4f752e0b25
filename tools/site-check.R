# Checks a built pkgdown site (make site, after tools/site.R).
#
#   Rscript tools/site-check.R [SITE_DIR] [SHOT_DIR]
#
# 1. Every internal link of every page resolves: each relative href or src
#    in each .html file names a file of the site, and each #fragment an id
#    (or name) in the page it points to. Links to other sites are not
#    followed (this machine has no network).
# 2. Headless Chromium opens the home page and the bootstrap_mean reference
#    page, with every other host unresolvable, and dumps the DOM after its
#    scripts ran (--dump-dom); it also saves a screenshot of each to SHOT_DIR
#    (default: site-check/ beside SITE_DIR) for a person to look at. A page fails
#    when Chromium fails or times out, when its DOM lacks a <main> with a
#    title, when the reference page lacks its sections, when an example or
#    a knitted chunk printed an R error, or when a script of the site raised
#    an error in the console, except the errors listed in `offline_errors`
#    below: the pkgdown template loads some libraries from CDNs, which cannot
#    load here, and the scripts that use them fail for that reason alone.
#
# Prints one line per problem and the summary "site-check: N pages, M links,
# K problems"; exits 1 on any problem.
args <- commandArgs(trailingOnly = TRUE)
site <- normalizePath(if (length(args) >= 1) args[[1]] else "docs", mustWork = TRUE)
shot_dir <- if (length(args) >= 2) args[[2]] else file.path(dirname(site), "site-check")
dir.create(shot_dir, showWarnings = FALSE, recursive = TRUE)

problems <- character()
problem <- function(...) {
  msg <- paste0(...)
  problems <<- c(problems, msg)
  cat("site-check: PROBLEM:", msg, "\n")
}

# ---- 1. internal links -----------------------------------------------------------------

pages <- list.files(site, pattern = "[.]html$", recursive = TRUE)
ids_cache <- new.env()
page_ids <- function(path) {
  key <- normalizePath(path)
  if (is.null(ids_cache[[key]])) {
    doc <- xml2::read_html(path)
    ids_cache[[key]] <- c(xml2::xml_attr(xml2::xml_find_all(doc, "//*[@id]"), "id"),
                          xml2::xml_attr(xml2::xml_find_all(doc, "//a[@name]"), "name"))
  }
  ids_cache[[key]]
}
is_external <- function(url) grepl("^([a-zA-Z][a-zA-Z0-9+.-]*:|//)", url)

n_links <- 0
for (page in pages) {
  doc <- xml2::read_html(file.path(site, page))
  urls <- c(xml2::xml_attr(xml2::xml_find_all(doc, "//*[@href]"), "href"),
            xml2::xml_attr(xml2::xml_find_all(doc, "//*[@src]"), "src"))
  urls <- unique(urls[!is.na(urls) & nzchar(urls) & !is_external(urls)])
  for (url in urls) {
    n_links <- n_links + 1
    parts <- strsplit(sub("[?][^#]*", "", url), "#", fixed = TRUE)[[1]]
    target_path <- if (nzchar(parts[1])) {
      file.path(dirname(file.path(site, page)), utils::URLdecode(parts[1]))
    } else {
      file.path(site, page)
    }
    if (dir.exists(target_path)) target_path <- file.path(target_path, "index.html")
    if (!file.exists(target_path)) {
      problem(page, ": broken link ", url)
      next
    }
    fragment <- if (length(parts) > 1) parts[2] else ""
    if (nzchar(fragment) && grepl("[.]html$", target_path) &&
        !utils::URLdecode(fragment) %in% page_ids(target_path)) {
      problem(page, ": link ", url, " names no anchor in ", basename(target_path))
    }
  }
}

# ---- 2. the two pages in headless Chromium ---------------------------------------------

chromium <- Sys.which(c("chromium", "chromium-browser", "google-chrome"))
chromium <- chromium[nzchar(chromium)][1]
if (is.na(chromium)) {
  stop("Chromium is not installed: run `bash tools/setup.sh site`", call. = FALSE)
}

# Console errors that only say that a library from a CDN did not load.
offline_errors <- c(
  "\\$\\(\\.\\.\\.\\)\\.headroom is not a function", # headroom.js (cdnjs)
  "ClipboardJS is not defined", # clipboard.js (cdnjs)
  "Fuse is not defined", "autocomplete is not a function", # search (cdnjs)
  "MathJax" # Debian's pkgdown links MathJax by file:// path, which a page may not load
)

chrome <- function(url, what, out) {
  profile <- tempfile("chromium-profile-")
  dir.create(profile)
  on.exit(unlink(profile, recursive = TRUE), add = TRUE)
  flags <- c("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             paste0("--user-data-dir=", profile),
             # No other host resolves: the check never waits on the network.
             "--host-resolver-rules=MAP * ~NOTFOUND",
             "--enable-logging=stderr", "--v=0", "--window-size=1280,1600")
  err <- tempfile()
  on.exit(unlink(err), add = TRUE)
  mode <- if (what == "dom") "--dump-dom" else paste0("--screenshot=", out)
  stdout <- if (what == "dom") out else FALSE
  status <- suppressWarnings(system2("timeout", c("90", chromium, shQuote(c(flags, mode, url))),
                                     stdout = stdout, stderr = err))
  list(status = status, log = readLines(err, warn = FALSE))
}

# The console lines Chromium logs, joined with their continuation lines.
console_errors <- function(log) {
  starts <- grep("INFO:CONSOLE", log)
  if (!length(starts)) return(character())
  ends <- c(starts[-1] - 1, length(log))
  msgs <- vapply(seq_along(starts), function(i) paste(log[starts[i]:ends[i]], collapse = " "),
                 character(1))
  msgs <- msgs[grepl("error|exception|failed|blocked", msgs, ignore.case = TRUE)]
  keep <- !Reduce(`|`, lapply(offline_errors, grepl, x = msgs), rep(FALSE, length(msgs)))
  msgs[keep]
}

check_page <- function(rel, must_have = character()) {
  path <- file.path(site, rel)
  if (!file.exists(path)) {
    problem(rel, ": not built")
    return(invisible())
  }
  url <- paste0("file://", path)
  dom_file <- tempfile(fileext = ".html")
  on.exit(unlink(dom_file), add = TRUE)
  run <- chrome(url, "dom", dom_file)
  if (!identical(as.integer(run$status), 0L)) {
    problem(rel, ": Chromium failed (status ", run$status, ")")
    cat(utils::tail(run$log, 20), sep = "\n")
    return(invisible())
  }
  dom <- paste(readLines(dom_file, warn = FALSE), collapse = "\n")
  doc <- xml2::read_html(dom)
  title <- xml2::xml_text(xml2::xml_find_first(doc, "//main//h1"))
  if (is.na(title) || !nzchar(trimws(title))) {
    problem(rel, ": no <main> with a title after rendering")
  }
  for (text in must_have) {
    if (!grepl(text, dom, fixed = TRUE)) problem(rel, ": lacks \"", text, "\" after rendering")
  }
  # An R error in an example or a knitted chunk.
  r_errors <- xml2::xml_find_all(doc, "//*[contains(@class, 'error')] | //span[@class='r-err']")
  r_errors <- c(xml2::xml_text(r_errors), regmatches(dom, gregexpr("#&gt; Error[^<]*", dom))[[1]])
  for (e in unique(r_errors)) problem(rel, ": R error shown: ", substr(trimws(e), 1, 200))
  for (e in console_errors(run$log)) problem(rel, ": console: ", substr(e, 1, 300))
  shot <- file.path(shot_dir, paste0(gsub("[/.]", "-", sub("[.]html$", "", rel)), ".png"))
  chrome(url, "shot", shot)
  cat(sprintf("site-check: %s renders (title \"%s\"); screenshot %s\n", rel, trimws(title),
              if (file.exists(shot)) shot else "not taken"))
}

check_page("index.html", must_have = c("Reference", "Articles", "Changelog"))
# Usage, arguments, value and examples that ran and printed their output.
check_page("reference/bootstrap_mean.html",
           must_have = c('id="ref-usage"', 'id="arguments"', 'id="value"', 'id="ref-examples"',
                         'class="r-out co"'))

cat(sprintf("site-check: %d pages, %d links, %d problems\n", length(pages), n_links,
            length(problems)))
quit(status = if (length(problems)) 1 else 0)
