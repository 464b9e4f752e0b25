#!/usr/bin/env bash
# R CMD build + R CMD check (tests, examples, vignettes) in ./check.
# Fails on any ERROR or WARNING; NOTEs are printed for the record.
#   bash tools/check.sh            the everyday check (make check, .ci/run)
#   bash tools/check.sh --as-cran  CRAN's settings (make check-cran); the
#                                  incoming checks that need the network
#                                  (CRAN's package list) are switched off
set -euo pipefail
extra=()
if [ "${1:-}" = "--as-cran" ]; then
  extra=(--as-cran)
  export _R_CHECK_CRAN_INCOMING_REMOTE_=false
fi
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
NOT_CRAN=true _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "${extra[@]}" "$tarball" || status=$?
log="$out/bootscale.Rcheck/00check.log"
if [ ! -f "$log" ]; then
  echo "check: no check log" >&2
  exit 1
fi
summary=$(grep -E "^Status:" "$log" || true)
echo "check: $summary"
grep -E "^\* .*(NOTE|WARNING|ERROR)$" -A3 "$log" || true
if [ "$status" -ne 0 ] || grep -qE "^Status:.*(ERROR|WARNING)" "$log"; then
  echo "check: failed (ERROR or WARNING); see $log" >&2
  exit 1
fi
