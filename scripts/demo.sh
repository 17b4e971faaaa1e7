#!/usr/bin/env bash
# The main job: set up .venv if needed, then run the leap-second scenario (2016-12-31: the
# kernel's step vs no leap vs every published smear); results in out/demo/ (report.html).
# `timekeepers demo` (the engine tour) is still there: .venv/bin/timekeepers demo
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/timekeepers run scenarios/leap-2016-smear-vs-step.toml --out out/demo "$@"
