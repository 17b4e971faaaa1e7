#!/usr/bin/env bash
# Build the documentation site into site/ (then open site/index.html).
# The tutorials run the engine while the site builds, so a failing example fails the build
# (mkdocs --strict).  Uses .docvenv, created on first use; `.[docs]` is (re)installed into it
# whenever pyproject.toml is newer than the last install.  DOCS_VENV=path picks another venv.
# Extra args go to `mkdocs build`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DOCS_VENV:-.docvenv}"
stamp="$venv/.docs-installed"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ ! -x "$venv/bin/mkdocs" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[docs]'
    touch "$stamp"
fi
export NO_MKDOCS_2_WARNING=1
"$venv/bin/mkdocs" build --strict -d site "$@"
echo "site built: open site/index.html"
