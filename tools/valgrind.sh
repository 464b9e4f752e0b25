#!/usr/bin/env bash
# `make valgrind`: the testthat suite under valgrind against a private
# installed copy, then a summary of what valgrind found.
#
#   valgrind/valgrind.log   valgrind's own log (the R process; forked workers
#                           are silent: --child-silent-after-fork=yes)
#   valgrind/R.out          what R printed (the test summary)
#
# Prints invalid reads / writes / frees, uses of uninitialised values and
# definite leaks, in total and those with a bootscale frame in their stack.
# Fails (exit 1) when any of them involves bootscale, or when no test ran.
# Errors inside R or other libraries are reported but do not fail the run.
# Set VG_LIB to use another library folder (default /tmp/lib-vg).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lib=${VG_LIB:-/tmp/lib-vg}
log=valgrind/valgrind.log
out=valgrind/R.out
mkdir -p valgrind "$lib"
rm -f valgrind/helper-*.log

command -v valgrind >/dev/null 2>&1 || {
  echo "valgrind: not installed (apt-get install valgrind)" >&2
  exit 1
}

echo "valgrind: installing into $lib"
if ! R CMD INSTALL --no-multiarch --library="$lib" . > valgrind/install.log 2>&1; then
  tail -n 30 valgrind/install.log >&2
  exit 1
fi

start=$(date +%s)
echo "valgrind: running tests/testthat under valgrind (this takes a while)"
# The tests run from a copy, so that editing tests/ during the long run
# cannot mix versions. No --error-exitcode: forked workers run under
# valgrind too, and their exit status is part of what the tests check.
real="$root/../shared/data/filesizes_timestamps.txt"
if [ -z "${BOOTSCALE_REAL_DATA:-}" ] && [ -f "$real" ]; then export BOOTSCALE_REAL_DATA="$real"; fi
rm -rf valgrind/tests-copy && mkdir -p valgrind/tests-copy/tests
cp -R tests/testthat valgrind/tests-copy/tests/
cp tools/run-tests.R valgrind/tests-copy/
# The pool's helper is a program of its own (not a fork of R): it runs under
# valgrind too (BOOTSCALE_POOL_WRAPPER), so that its workers compute long
# doubles as valgrind does in R (as doubles) and their results match R's.
(cd valgrind/tests-copy && BOOTSCALE_UNDER_VALGRIND=true R_LIBS="$lib" \
  BOOTSCALE_POOL_WRAPPER="valgrind --quiet --log-file=$root/valgrind/helper-%p.log" \
  R -d "valgrind --leak-check=full --child-silent-after-fork=yes \
  --num-callers=40 --log-file=$root/$log" --vanilla --no-echo -f run-tests.R) > "$out" 2>&1
rstatus=$?
secs=$(( $(date +%s) - start ))

# One valgrind record per blank "==pid== " line; a record is bootscale's when
# any frame names bootscale.so or one of the package's C files.
awk '
  function flush() {
    if (rec == "") return
    kind = ""
    if (rec ~ /Invalid read of size/) kind = "invalid read"
    else if (rec ~ /Invalid write of size/) kind = "invalid write"
    else if (rec ~ /Invalid free|Mismatched free/) kind = "invalid free"
    else if (rec ~ /uninitialised|Syscall param/) kind = "uninitialised value"
    else if (rec ~ /definitely lost in loss record/) kind = "definite leak"
    if (kind != "") {
      total[kind]++
      ours = (rec ~ /bootscale\.so|[(](api|init|rng|alias|kernel|pool|memory|blas)\.c:/)
      if (ours) {
        mine[kind]++
        if (shown < 5) { shown++; printf "%s\n", rec > "/dev/stderr" }
      }
      if (kind == "definite leak") {
        match(rec, /[0-9,]+ bytes in [0-9,]+ blocks are definitely lost/)
        b = substr(rec, RSTART, RLENGTH); sub(/ bytes.*/, "", b); gsub(/,/, "", b)
        lost += b; if (ours) mylost += b
      }
    }
    rec = ""
  }
  /^==[0-9]+== *$/ { flush(); next }
  /^==[0-9]+== / { line = $0; sub(/^==[0-9]+== /, "", line); rec = rec line "\n" }
  /ERROR SUMMARY:/ { summary = line }
  END {
    flush()
    n = split("invalid read,invalid write,invalid free,uninitialised value,definite leak", kinds, ",")
    printf "valgrind: %-20s %8s %10s\n", "", "total", "bootscale"
    for (i = 1; i <= n; i++)
      printf "valgrind: %-20s %8d %10d\n", kinds[i], total[kinds[i]], mine[kinds[i]]
    printf "valgrind: definitely lost bytes     %8d %10d\n", lost, mylost
    printf "valgrind: %s\n", summary
    bad = 0
    for (i = 1; i <= n; i++) bad += mine[kinds[i]]
    exit bad > 0
  }
' "$log"
ours=$?

# The pool's helper and its workers log apart (valgrind/helper-<pid>.log):
# every error there is the pool's own code.
helper_errors=$(cat valgrind/helper-*.log 2>/dev/null | grep -cE "Invalid (read|write|free)|uninitialised|Mismatched free" || true)
echo "valgrind: pool helper and workers: ${helper_errors} errors ($(ls valgrind/helper-*.log 2>/dev/null | wc -l) logs)"
if [ "${helper_errors:-0}" -gt 0 ]; then ours=1; fi

tests=$(grep -E "^[0-9]+ passed, [0-9]+ failed" "$out" | tail -n 1)
echo "valgrind: tests: ${tests:-none ran} (R exit status $rstatus, ${secs} s)"
echo "valgrind: full log in $log"
if [ -z "$tests" ]; then
  tail -n 30 "$out" >&2
  exit 1
fi
if [ "$ours" -ne 0 ]; then
  echo "valgrind: FAILED: errors or definite leaks in bootscale (see above and $log)" >&2
  exit 1
fi
echo "valgrind: ok (nothing attributable to bootscale)"
