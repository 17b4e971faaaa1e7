"""A sweep: a base scenario, its axes, and every point they make — all validated up front.

Reading a sweep never runs anything.  `load_sweep` reads the scenario file, takes its
`[sweep]` table (if any) and the command line's `--axis`/`--zip`, and builds every point's
scenario data; `Sweep.validate()` runs every check `timekeepers run` would run on each point,
so a typo in point 37 is reported before point 0 starts.

The `[sweep]` table::

    [sweep]
    seeds = "0..19"                      # the seed axis (a range or a list)

    [sweep.axes]                         # one axis per key; all axes combine as a product
    "host.clocksource.error_ppm" = [-50, 0, 50]

    [[sweep.zip]]                        # keys that vary together, as one axis
    "namespaces[name=client].ntp.poll_exp" = [4, 6, 8]
    "scenario.sample_every" = ["16s", "64s", "256s"]
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ntp.leap import LeapTable

from ..scenario.checks import Resolved
from ..scenario.errors import Issue, ScenarioError, input_error
from ..scenario.loader import apply_overrides, parse_toml, read_source, validate_data
from .axes import (
    MAX_POINTS,
    SEED_KEY,
    Axis,
    apply_value,
    parse_cli_axis,
    parse_key,
    values_from_toml,
    zip_axis,
)

_SWEEP_KEYS = ("seeds", "axes", "zip")


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its position, its axis values, and its whole scenario data."""

    index: int
    params: dict[str, Any]
    data: dict[str, Any]

    @property
    def id(self) -> str:
        """A content address: the same scenario data always gets the same id (resume key)."""
        text = json.dumps(self.data, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"point {self.index} ({shown})" if shown else f"point {self.index}"


@dataclass
class Sweep:
    """A base scenario and its axes; `points` is their product (seed innermost)."""

    source: str
    base: dict[str, Any]
    axes: list[Axis]
    text: str = ""
    folder: Path | None = None
    points: list[Point] = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.points = list(self._points())
        except ScenarioError as err:
            raise ScenarioError(self.source, err.issues) from None

    @property
    def name(self) -> str:
        run = self.base.get("scenario", {})
        return str(run.get("name", "sweep")) if isinstance(run, dict) else "sweep"

    @property
    def columns(self) -> list[str]:
        """The axis keys, as the table's parameter columns."""
        return [key for axis in self.axes for key in axis.keys]

    def _points(self) -> Any:
        for index, combo in enumerate(itertools.product(*(axis.values for axis in self.axes))):
            data = copy.deepcopy(self.base)
            params: dict[str, Any] = {}
            for axis, row in zip(self.axes, combo, strict=True):
                for key, value in zip(axis.keys, row, strict=True):
                    apply_value(data, key, copy.deepcopy(value))
                    params[key] = value
            yield Point(index, params, data)

    def validate(self) -> list[Resolved]:
        """Every check `run` runs, on every point; one ScenarioError listing every bad point."""
        failing: dict[tuple[Any, str, int | None], list[Point]] = {}
        resolved: list[Resolved] = []
        for point in self.points:
            try:
                resolved.append(validate_data(point.data, self.source, self.text, self.folder))
            except ScenarioError as err:
                for i in err.issues:
                    failing.setdefault((i.loc, i.message, i.line), []).append(point)
        if failing:
            raise ScenarioError(self.source, [
                Issue(loc, f"{_which(points, len(self.points))}: {message}", line)
                for (loc, message, line), points in failing.items()
            ])
        return resolved


def _which(points: list[Point], total: int) -> str:
    """'point 3 (seed=1)' for one point, 'in 40 of 60 points, e.g. point 0 (…)' for many."""
    if len(points) == 1:
        return points[0].label()
    return f"in {len(points)} of {total} points, e.g. {points[0].label()}"


def load_sweep(
    path: Path | str,
    *,
    axes: list[str] | None = None,
    zips: list[str] | None = None,
    sets: list[str] | None = None,
    leap_file: str | Path | None = None,
) -> Sweep:
    """A scenario file's sweep, with command-line axes (`KEY=VALUES`) added or replacing.

    A command-line axis replaces a file axis with the same key (so `--axis seed=0..1` makes
    a quick version of a 20-seed sweep); all `zips` form one zipped axis.  A file without a
    `[sweep]` table is a sweep of one point unless axes are given.
    """
    path = Path(path)
    text = read_source(path)
    data = parse_toml(text, str(path))
    table = data.pop("sweep", {})
    base = pin_newest_table(apply_overrides(data, None, None, sets, leap_file))
    file_axes = _file_axes(table, str(path))
    cli_axes = [Axis((key,), tuple((v,) for v in values))
                for key, values in (parse_cli_axis(item) for item in axes or [])]
    if zips:
        cli_axes.append(zip_axis([parse_cli_axis(item, "--zip") for item in zips], "--zip"))
    replaced = {key for axis in cli_axes for key in axis.keys}
    kept = [axis for axis in file_axes if not replaced & set(axis.keys)]
    return make_sweep(str(path), base, kept + cli_axes, text, path.parent)


def pin_newest_table(data: dict[str, Any]) -> dict[str, Any]:
    """`leap_table = "newest"` chosen once, here: every point (on any worker) uses that copy."""
    run = data.get("scenario")
    if isinstance(run, dict) and run.get("leap_table") == "newest":
        table = LeapTable.newest()
        run["leap_table"] = "shipped" if table.shipped else str(table.path)
    return data


def make_sweep(
    source: str,
    base: dict[str, Any],
    axes: list[Axis],
    text: str = "",
    folder: Path | None = None,
) -> Sweep:
    """A sweep from scenario data and axes (seed moved innermost), size-checked."""
    seeds = [axis for axis in axes if axis.keys == (SEED_KEY,)]
    others = [axis for axis in axes if axis.keys != (SEED_KEY,)]
    ordered = others + seeds
    _check_keys(ordered, source)
    size = 1
    for axis in ordered:
        size *= len(axis)
    if size > MAX_POINTS:
        raise input_error(source, f"the sweep has {size:,} points (at most {MAX_POINTS:,})")
    return Sweep(source, base, ordered, text, folder)


def _check_keys(axes: list[Axis], source: str) -> None:
    seen: set[str] = set()
    for axis in axes:
        for key in axis.keys:
            parse_key(key, source)
            if key in seen:
                raise input_error(source, f"sweep key {key!r} is on more than one axis")
            seen.add(key)


def _file_axes(table: Any, source: str) -> list[Axis]:
    if not isinstance(table, dict):
        raise input_error(source, "[sweep] must be a table (seeds, axes, zip)")
    unknown = sorted(set(table) - set(_SWEEP_KEYS))
    if unknown:
        raise ScenarioError(source, [Issue(("sweep", k), f"unknown key; expected one of "
                                           f"{', '.join(_SWEEP_KEYS)}") for k in unknown])
    out: list[Axis] = []
    named = table.get("axes", {})
    if not isinstance(named, dict):
        raise input_error(source, "[sweep.axes] must be a table of KEY = VALUES")
    for key, raw in named.items():
        out.append(Axis((key,), tuple((v,) for v in values_from_toml(key, raw, source))))
    zips = table.get("zip", [])
    if not isinstance(zips, list) or not all(isinstance(z, dict) and z for z in zips):
        raise input_error(source, "[[sweep.zip]] must be tables of KEY = VALUES")
    for group in zips:
        pairs = [(key, values_from_toml(key, raw, source)) for key, raw in group.items()]
        out.append(zip_axis(pairs, source))
    if "seeds" in table:
        seeds = values_from_toml(SEED_KEY, table["seeds"], source)
        out.append(Axis((SEED_KEY,), tuple((v,) for v in seeds)))
    return out
