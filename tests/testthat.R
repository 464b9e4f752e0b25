library(testthat)
library(bootscale)

test_check("bootscale")
