# Makes inst/extdata/filesizes_example.txt, the bundled example histogram.
# Run from the package root after installing the package:
#   Rscript data-raw/filesizes_example.R
library(bootscale)
sim <- simulate_filesizes(first_year = 1997, last_year = 2020, max_log2 = 40,
                          out_of_range = 60, seed = 20201231)
write_filesizes(sim, file.path("inst", "extdata", "filesizes_example.txt"))
cat("rows:", nrow(sim), "\n")
