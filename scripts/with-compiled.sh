#!/usr/bin/env bash
# Run a command on the compiled build (scripts/build-compiled.sh makes it), for example
#   scripts/with-compiled.sh .venv/bin/python benchmarks/run_all.py --quick
# Refuses if the build is missing or older than the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
env_lines=$(.venv/bin/python -m tk_compiled env)
eval "$env_lines"
exec "$@"
