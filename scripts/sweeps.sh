#!/usr/bin/env bash
# The shipped sweeps on 2 local Dask workers.  Default: a quick version (fewer seeds), as CI
# runs it; `scripts/sweeps.sh --full` runs every seed.  Results: out/sweeps/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
full=${1:-}
run() {
    local name=$1 quick=$2
    local extra=()
    [ "$full" = "--full" ] || extra=(--axis "$quick")
    .venv/bin/timekeepers sweep "$name" --workers 2 --out "out/sweeps/$name" "${extra[@]}"
}
run chrony-convergence-sweep seed=0..1
run leap-2016-sweep seed=0
