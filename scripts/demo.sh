#!/usr/bin/env bash
# The main job: set up .venv if needed, then run the demo; results land in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/timekeepers demo "$@"
