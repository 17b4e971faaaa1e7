"""Scenarios: TOML files describing a host, its namespaces, timers and timed events.

`load_scenario(path)` validates and resolves one (raising `ScenarioError` with every problem
at once); `execute(loaded, out)` runs it and writes the results folder.  The schema is in
`schema`/`events`, the rules across fields in `checks`, the loop in `runner`; real programs
beside the model (`[[namespaces.programs]]`) go through the backend of `programs`, which
imports the preload shim only when a run needs it; see docs/scenarios.md.
"""

from __future__ import annotations

from .errors import Issue, ScenarioError
from .loader import Loaded, load_scenario, load_text
from .runner import Runner, RunResult, run_scenario

__all__ = [
    "Issue",
    "Loaded",
    "RunResult",
    "Runner",
    "ScenarioError",
    "load_scenario",
    "load_text",
    "run_scenario",
]
