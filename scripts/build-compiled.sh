#!/usr/bin/env bash
# Optional: compile the engine's hot modules with mypyc into .cache/compiled (about 30 s).
# The source tree is not touched and the pure-Python engine needs none of this. Use the
# build with scripts/test.sh --compiled or scripts/with-compiled.sh CMD...
# Without a C compiler this says so and exits 0, unless REQUIRE_COMPILED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if ! command -v "${CC:-cc}" >/dev/null 2>&1; then
    echo "build-compiled: no C compiler (${CC:-cc}): the compiled build is skipped" >&2
    [ "${REQUIRE_COMPILED:-0}" = 1 ] && exit 1
    exit 0
fi
# mypyc builds through setuptools; a venv of Python 3.12+ has none of its own
.venv/bin/python -c "import setuptools" 2>/dev/null \
    || .venv/bin/python -m pip install -q "setuptools>=77"
log=.cache/compiled-build.log
mkdir -p .cache
if ! .venv/bin/python -m tk_compiled build >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "build-compiled: the mypyc build failed (log: $log)" >&2
    exit 1
fi
tail -1 "$log"
