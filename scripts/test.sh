#!/usr/bin/env bash
# The whole test suite: ruff, then pytest (2 workers). Extra args go to pytest.
# Long soaks are behind the `soak` marker: TK_SOAK=1 scripts/test.sh runs them too.
# `scripts/test.sh --compiled ...` runs pytest on the compiled build instead
# (scripts/build-compiled.sh makes it; tests marked pure_only are skipped there).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if [ "${1:-}" = --compiled ]; then
    shift
    exec scripts/with-compiled.sh .venv/bin/python -m pytest -n 2 -m "not typecheck" "$@"
fi
.venv/bin/ruff check .
# strict typing of the whole public API (settings in pyproject.toml [tool.mypy])
.venv/bin/mypy --strict tk_core ntp tk_testing tk_shim tk_compiled
.venv/bin/python -m pytest -n 2 "$@"
