#!/usr/bin/env bash
# make cluster-check: the future backend's tests against a real one-node
# Slurm cluster started here (tools/slurm-local.sh), then a check that its
# daemons are gone. Installs what is missing (Slurm, munge, future.batchtools)
# and bootscale into its own library. The last line is
# "N passed, N failed, N skipped"; the daemons' check counts as one test.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lib=${CLUSTER_LIB:-/tmp/lib-bootscale-cluster}
# A cluster of its own, apart from one a user may have started for the demo.
export BOOTSCALE_SLURM_DIR=${BOOTSCALE_SLURM_CHECK_DIR:-/tmp/bootscale-slurm-check}
export BOOTSCALE_SLURM_PORT=${BOOTSCALE_SLURM_CHECK_PORT:-6827}

bash tools/slurm-local.sh install || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
mkdir -p "$lib"
if ! R CMD INSTALL --no-multiarch --library="$lib" . > "$lib/install.log" 2>&1; then
  tail -n 30 "$lib/install.log" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

stopped=0
stop_cluster() {
  [ "$stopped" = 1 ] && return 0
  stopped=1
  bash tools/slurm-local.sh stop
}
trap stop_cluster EXIT INT TERM
if ! bash tools/slurm-local.sh start; then
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
. "$BOOTSCALE_SLURM_DIR/env.sh"
# Jobs write their batchtools logs and registries under a temporary
# directory of the R session; the working directory stays clean.
out=$(mktemp)
R_LIBS="$lib${R_LIBS:+:$R_LIBS}" BOOTSCALE_SLURM=1 NOT_CRAN=true \
  Rscript tools/cluster-tests.R 2>&1 | tee "$out"
line=$(grep -E "^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$out" | tail -n 1)
rm -f "$out"
pass=0 fail=1 skip=0 # no summary line counts as one failure
if [ -n "$line" ]; then
  pass=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  skip=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped$/\1/')
fi
# The daemons and every job process must be gone after stop.
if stop_cluster; then
  echo "cluster-check: the daemons are gone"
  pass=$((pass + 1))
else
  echo "cluster-check: processes of the cluster are left" >&2
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
