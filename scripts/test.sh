#!/usr/bin/env bash
# The whole test suite: ruff, then pytest (2 workers). Extra args go to pytest.
# Long soaks are behind the `soak` marker: TK_SOAK=1 scripts/test.sh runs them too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
# strict typing of the whole public API (settings in pyproject.toml [tool.mypy])
.venv/bin/mypy --strict tk_core ntp tk_testing tk_shim
.venv/bin/python -m pytest -n 2 "$@"
