# Builds the pkgdown site (make site) into OUT_DIR (default docs/) from
# _pkgdown.yml: home page from README.md, the reference grouped by topic,
# the four vignettes as articles, NEWS.md as the changelog. pkgdown installs the
# package into a temporary library first (never the default library), runs
# the examples and knits the vignettes.
#
#   Rscript tools/site.R [OUT_DIR]
#
# pkgdown stops on a topic missing from the reference index of _pkgdown.yml.
# tools/site-check.sh then checks the built pages in a browser.
args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args)) args[[1]] else "docs"
if (!requireNamespace("pkgdown", quietly = TRUE)) {
  stop("pkgdown is not installed: run `bash tools/setup.sh site`", call. = FALSE)
}
# Offline: pkgdown would otherwise ask CRAN and Bioconductor whether the
# package is published there, and this machine reaches no such site.
options(pkgdown.internet = FALSE)
Sys.setenv(NOT_CRAN = "true")
pkgdown::build_site(".", preview = FALSE, install = TRUE, new_process = TRUE,
                    override = list(destination = out_dir))
cat("site: built in", normalizePath(out_dir), "\n")
