#!/usr/bin/env bash
# make lint: lintr with the settings of .lintr over the R code (R/, tests/,
# vignettes/, data-raw/, bench/, tools/), and clang-format with .clang-format
# over the C of src/, tests/ctest/ and tests/fuzz/.
#
#   bash tools/lint.sh          check only; fails on any lintr finding or any
#                               C file that clang-format would change
#   bash tools/lint.sh --fix    rewrite the C files in place with clang-format
#                               first, then check (lintr findings are only
#                               reported: they are fixed by hand)
#   bash tools/lint.sh c|r      one half only (with or without --fix)
#
# The last line is "lint: lintr N findings, clang-format M of K files to
# reformat (L lines)". lintr's object_usage_linter needs the package
# installed: it is installed into LINT_LIB (default: a temporary library,
# removed afterwards), never into the default library.
set -uo pipefail
cd "$(dirname "$0")/.."

fix=0
what=all
for arg in "$@"; do
  case "$arg" in
    --fix) fix=1 ;;
    c | r) what=$arg ;;
    *) echo "usage: tools/lint.sh [--fix] [c|r]" >&2; exit 2 ;;
  esac
done

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
status=0

# ---- C: clang-format ------------------------------------------------------------
c_files=0
c_bad=0
c_lines=0
if [ "$what" != r ]; then
  if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "lint: $CLANG_FORMAT not found; run: bash tools/setup.sh lint" >&2
    exit 2
  fi
  major=$("$CLANG_FORMAT" --version | sed -E 's/.*version ([0-9]+).*/\1/')
  if [ "${major:-0}" -lt 14 ] 2>/dev/null; then
    echo "lint: .clang-format needs clang-format 14 or later; found: $("$CLANG_FORMAT" --version)" >&2
    exit 2
  fi
  files=$(find src tests/ctest tests/fuzz -name '*.[ch]' -not -path '*/build/*' 2>/dev/null | sort)
  for f in $files; do
    c_files=$((c_files + 1))
    if [ "$fix" = 1 ]; then "$CLANG_FORMAT" -i --style=file "$f"; fi
    if ! "$CLANG_FORMAT" --dry-run --Werror --style=file "$f" >/dev/null 2>&1; then
      n=$("$CLANG_FORMAT" --style=file "$f" | diff "$f" - | grep -c '^<')
      echo "clang-format: $f: $n lines to reformat"
      c_bad=$((c_bad + 1))
      c_lines=$((c_lines + n))
    fi
  done
  if [ "$c_bad" -gt 0 ]; then
    echo "clang-format: see the changes with: clang-format --style=file FILE | diff FILE -"
    echo "clang-format: apply them with: bash tools/lint.sh --fix c"
    status=1
  fi
fi

# ---- R: lintr ---------------------------------------------------------------------
r_found=0
if [ "$what" != c ]; then
  lib=${LINT_LIB:-}
  if [ -z "$lib" ]; then
    lib=$(mktemp -d)
    trap 'rm -rf "$lib"' EXIT
  fi
  mkdir -p "$lib"
  if ! R CMD INSTALL --no-multiarch --no-test-load --library="$lib" . >"$lib/install.log" 2>&1; then
    tail -n 30 "$lib/install.log" >&2
    echo "lint: the package does not install" >&2
    exit 2
  fi
  out=$(mktemp)
  R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript tools/lint.R | tee "$out"
  r_status=${PIPESTATUS[0]}
  r_found=$(sed -nE 's/^lintr: ([0-9]+) findings.*/\1/p' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$r_found" ]; then
    echo "lint: lintr did not finish" >&2
    r_found="?"
    status=1
  elif [ "$r_status" -ne 0 ]; then
    status=1
  fi
fi

r_part="lintr $r_found findings"
c_part="clang-format $c_bad of $c_files files to reformat ($c_lines lines)"
[ "$what" = c ] && r_part="lintr not run"
[ "$what" = r ] && c_part="clang-format not run"
echo "lint: $r_part, $c_part"
exit "$status"
