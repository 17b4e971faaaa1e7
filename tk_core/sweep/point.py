"""One sweep point, run wherever a worker is: scenario data in, summary text out.

This is the only function a Dask worker executes.  It takes plain data (no open files, no
host objects), so it pickles to any machine with timekeepers installed, and it returns the
summary already rendered as JSON text: the bytes written to disk are the bytes the worker
made, so the same point gives the same file wherever it ran.  Failures come back as data
too (the error's type and message), so one bad point never stops the others.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypedDict

from ..scenario.errors import ScenarioError
from ..scenario.loader import Loaded, validate_data
from ..scenario.runner import run_scenario
from ..scenario.summary import render


class PointResult(TypedDict, total=False):
    """What a worker sends back: `summary` (JSON text) and `wall_s`, or `error`."""

    summary: str
    wall_s: float
    error: str


def summary_text(summary: dict[str, Any]) -> str:
    """summary.json's exact bytes (the same rendering `timekeepers run` writes)."""
    return render(summary)


def run_point(data: dict[str, Any], source: str, folder: str | None = None) -> PointResult:
    """Validate and run one point's scenario; never raises (errors are returned)."""
    wall0 = time.perf_counter()
    try:
        base = Path(folder) if folder is not None else None
        resolved = validate_data(data, source, "", base)
        result = run_scenario(Loaded(resolved, source, None))
    except ScenarioError as err:
        return {"error": err.render()}
    except Exception as err:  # a worker reports every failure as data, never a traceback
        return {"error": f"{type(err).__name__}: {err}"}
    return {"summary": summary_text(result.summary), "wall_s": time.perf_counter() - wall0}
