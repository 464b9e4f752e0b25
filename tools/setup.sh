#!/usr/bin/env bash
# Idempotent set-up for bootscale on Debian: system libraries and R packages.
# Debian's prebuilt r-cran-* packages first (fast); CRAN as the fallback for
# anything apt cannot provide. Safe to run again: it only installs what is missing.
set -euo pipefail

# `bash tools/setup.sh fuzz` sets up only the fuzzing toolchain (clang with
# libFuzzer) for `make fuzz`; the package and its default set-up never need
# clang.
fuzz_toolchain_ok() {
  local tmp cc ok=1
  tmp=$(mktemp -d)
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' > "$tmp/t.c"
  for cc in clang clang-14; do
    command -v "$cc" >/dev/null 2>&1 || continue
    if "$cc" -fsanitize=fuzzer,address -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1; then ok=0; break; fi
  done
  rm -rf "$tmp"
  return "$ok"
}

# apt-get install of Debian packages $2.. for make $1 (sudo unless root).
apt_install_for() {
  local what=$1 sudo=""
  shift
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: apt-get install $* (for make $what)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

setup_fuzz() {
  if fuzz_toolchain_ok; then
    echo "setup: clang with libFuzzer is installed"
    return 0
  fi
  apt_install_for fuzz clang libclang-rt-14-dev
  fuzz_toolchain_ok || { echo "setup: clang cannot build a libFuzzer target" >&2; return 1; }
}

# `bash tools/setup.sh lint|coverage|site` sets up only the developer tools
# of `make lint` (lintr, clang-format), `make coverage` (covr) or `make site`
# (pkgdown, headless Chromium). Debian's packages only: the default set-up
# (make demo, make check) never needs them.
setup_tools() {
  local what=$1 debs="" bins="" rpkgs="" missing="" p
  case "$what" in
    lint) debs="r-cran-lintr clang-format"; rpkgs="lintr"; bins="clang-format" ;;
    coverage) debs="r-cran-covr"; rpkgs="covr" ;;
    site) debs="r-cran-pkgdown chromium"; rpkgs="pkgdown"; bins="chromium" ;;
  esac
  for p in $rpkgs; do
    Rscript --vanilla -e "quit(status = !requireNamespace('$p', quietly = TRUE))" \
      >/dev/null 2>&1 || missing="yes"
  done
  for p in $bins; do command -v "$p" >/dev/null 2>&1 || missing="yes"; done
  if [ -z "$missing" ]; then
    echo "setup: the tools of make $what are installed"
    return 0
  fi
  # shellcheck disable=SC2086 # $debs is a list of package names
  apt_install_for "$what" $debs
}

case "${1:-}" in
  fuzz)
    setup_fuzz
    exit 0
    ;;
  lint | coverage | site)
    setup_tools "$1"
    exit 0
    ;;
esac

# R packages the package needs (Imports), its tests/vignettes (Suggests) and
# the developer tools (roxygen2), plus the peers the benchmarks compare with.
R_PKGS="tibble rlang cli parallelly testthat knitr rmarkdown ggplot2 dplyr
withr ps processx callr future furrr roxygen2 pkgbuild"
# System packages: OpenBLAS so R's BLAS is threaded, pandoc for vignettes,
# qpdf for R CMD check --as-cran (it checks the size of PDFs with it).
SYS_PKGS="libopenblas0-pthread pandoc qpdf"

missing_r_pkgs() {
  Rscript --vanilla -e '
    want <- strsplit(commandArgs(TRUE), "[[:space:]]+")[[1]]
    want <- want[nzchar(want)]
    have <- rownames(installed.packages())
    cat(setdiff(want, have), sep = "\n")' "$R_PKGS"
}

need_sys=""
for p in $SYS_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_sys="$need_sys $p"
done
need_r=$(missing_r_pkgs | tr '\n' ' ')

if [ -z "${need_sys// /}" ] && [ -z "${need_r// /}" ]; then
  echo "setup: everything is installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
have_apt=0
command -v apt-get >/dev/null 2>&1 && have_apt=1

if [ "$have_apt" = 1 ]; then
  echo "setup: apt-get update"
  $SUDO apt-get update -qq
  apt_list="$need_sys"
  for p in $need_r; do
    deb="r-cran-$(echo "$p" | tr '[:upper:]' '[:lower:]')"
    if apt-cache show "$deb" >/dev/null 2>&1; then apt_list="$apt_list $deb"; fi
  done
  if [ -n "${apt_list// /}" ]; then
    echo "setup: apt-get install$apt_list"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $apt_list
  fi
fi

# CRAN fallback for whatever apt did not provide.
still=$(missing_r_pkgs | tr '\n' ' ')
if [ -n "${still// /}" ]; then
  echo "setup: from CRAN: $still"
  Rscript --vanilla -e '
    pkgs <- strsplit(commandArgs(TRUE), "[[:space:]]+")[[1]]
    pkgs <- pkgs[nzchar(pkgs)]
    lib <- .libPaths()[1]
    install.packages(pkgs, lib = lib, repos = "https://cloud.r-project.org", Ncpus = 2)
    left <- setdiff(pkgs, rownames(installed.packages()))
    if (length(left)) stop("could not install: ", paste(left, collapse = ", "))' "$still"
fi

# Make R use OpenBLAS (Debian's alternatives system) when it is installed.
if [ "$have_apt" = 1 ] && command -v update-alternatives >/dev/null 2>&1; then
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  ob="/usr/lib/$triplet/openblas-pthread/libblas.so.3"
  if [ -e "$ob" ]; then
    $SUDO update-alternatives --set "libblas.so.3-$triplet" "$ob" >/dev/null 2>&1 || true
    ol="/usr/lib/$triplet/openblas-pthread/liblapack.so.3"
    [ -e "$ol" ] && { $SUDO update-alternatives --set "liblapack.so.3-$triplet" "$ol" >/dev/null 2>&1 || true; }
  fi
fi
echo "setup: done"
