# Installs the shared library as R would, plus the pool's helper executable
# (built by Makevars; absent on Windows, which has no fork) into
# bin<arch>, where R/pool.R finds it with system.file().
libs <- file.path(R_PACKAGE_DIR, paste0("libs", R_ARCH))
dir.create(libs, recursive = TRUE, showWarnings = FALSE)
shlib <- Sys.glob(paste0("*", SHLIB_EXT))
stopifnot(length(shlib) > 0, all(file.copy(shlib, libs, overwrite = TRUE)))
if (file.exists("symbols.rds")) file.copy("symbols.rds", libs, overwrite = TRUE)

helper <- "bootscale-pool"
if (file.exists(helper)) {
  bin <- file.path(R_PACKAGE_DIR, paste0("bin", R_ARCH))
  dir.create(bin, recursive = TRUE, showWarnings = FALSE)
  stopifnot(file.copy(helper, bin, overwrite = TRUE))
  Sys.chmod(file.path(bin, helper), "755")
}
