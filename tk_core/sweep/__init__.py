"""Sweeps: one scenario run over a grid of parameters, on all cores or a Dask cluster.

    from tk_core.sweep import run_sweep
    df = run_sweep("scenarios/leap-2016-sweep.toml", "out/leap-sweep", workers=2)

`load_sweep` reads a scenario file's `[sweep]` table (and command-line style axes);
`run_sweep` validates every point, runs the unfinished ones as Dask tasks and returns the
tidy table (one row per point and namespace) it also writes as Parquet and CSV.  This
package sits beside the scenario runner and uses it; the engine knows nothing of sweeps.
See docs/sweeps.md.
"""

from __future__ import annotations

from .axes import Axis
from .execute import default_workers, run_sweep
from .point import run_point
from .results import is_sweep_folder, read_sweep
from .spec import Point, Sweep, load_sweep, make_sweep

__all__ = [
    "Axis",
    "Point",
    "Sweep",
    "default_workers",
    "is_sweep_folder",
    "load_sweep",
    "make_sweep",
    "read_sweep",
    "run_point",
    "run_sweep",
]
