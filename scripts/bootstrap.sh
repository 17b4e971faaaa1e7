#!/usr/bin/env bash
# Create .venv (once) and install the project with its test extras into it.
# Used by scripts/test.sh and scripts/demo.sh so a fresh machine needs only python3 + pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setting up .venv (first run only) ..." >&2
    "$PY" -m venv .venv
fi
stamp=.venv/.timekeepers-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log=.venv/install.log
    if ! { .venv/bin/python -m pip install --upgrade pip \
           && .venv/bin/python -m pip install -e ".[test]"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "bootstrap: installing the project into .venv failed (log above)" >&2
        exit 1
    fi
    touch "$stamp"
fi
