#!/usr/bin/env bash
# make cluster-demo: start a one-node Slurm cluster here, run the chapter's
# pipeline on it through future.batchtools in 2 chunks, compare with the
# fork backend, stop the cluster. Installs what is missing.
#   make cluster-demo [DATA=path]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lib=${CLUSTER_LIB:-/tmp/lib-bootscale-cluster}
bash tools/slurm-local.sh install || exit 1
mkdir -p "$lib"
if ! R CMD INSTALL --no-multiarch --library="$lib" . > "$lib/install.log" 2>&1; then
  tail -n 30 "$lib/install.log" >&2
  exit 1
fi
trap 'bash tools/slurm-local.sh stop' EXIT INT TERM
bash tools/slurm-local.sh start || exit 1
. "${BOOTSCALE_SLURM_DIR:-/tmp/bootscale-slurm}/env.sh"
R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript tools/cluster-demo.R "${1:-}"
