#!/usr/bin/env bash
# R CMD build + R CMD check (tests, examples, vignettes) in ./check.
# Fails on any ERROR or WARNING; NOTEs are printed for the record.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/check"
rm -rf "$out"
mkdir -p "$out"
cd "$out"
R CMD build "$root"
tarball=$(ls bootscale_*.tar.gz)
status=0
# Tests and benchmarks read the real data from ../shared when it is there.
real="$root/../shared/data/filesizes_timestamps.txt"
if [ -f "$real" ]; then export BOOTSCALE_REAL_DATA="$(cd "$(dirname "$real")" && pwd)/$(basename "$real")"; fi
NOT_CRAN=true _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "$tarball" || status=$?
log="$out/bootscale.Rcheck/00check.log"
if [ ! -f "$log" ]; then
  echo "check: no check log" >&2
  exit 1
fi
summary=$(grep -E "^Status:" "$log" || true)
echo "check: $summary"
if [ "$status" -ne 0 ] || grep -qE "^Status:.*(ERROR|WARNING)" "$log"; then
  echo "check: failed (ERROR or WARNING); see $log" >&2
  exit 1
fi
