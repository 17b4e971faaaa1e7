"""`timekeepers sweep`, and the sweep side of `validate` and `show` (terminal output only).

The work is in `tk_core.sweep`; this module turns arguments into a `run_sweep` call, shows a
progress bar over points with an ETA, and prints a sweep folder as a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .scenario import numfmt
from .scenario.paths import find_scenario
from .sweep import load_sweep, read_sweep, run_sweep
from .sweep.results import grouped

EXIT_OK, EXIT_FAILED = 0, 1
MAX_ROWS = 40


class PointProgress:
    """A rich bar over a sweep's points: done/total, failures, elapsed and remaining time."""

    def __init__(self, console: Console, label: str) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, transient=True,
        )
        self.label = label
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int, failed: int) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total, failed="")
        note = f"{failed} failed" if failed else ""
        self.bar.update(self.task, completed=done, failed=note)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


def sweep(args: argparse.Namespace, err: Console) -> int:
    """`timekeepers sweep SCENARIO`: validate every point, run them, write the sweep folder."""
    spec = load_sweep(find_scenario(args.scenario), axes=args.axes, zips=args.zips,
                      sets=args.sets, leap_file=args.leap_file)
    out = args.out if args.out is not None else Path("out") / f"{spec.name}-sweep"
    progress = None if args.quiet else PointProgress(err, spec.name)
    try:
        run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                  progress=progress, write_report=not args.no_report)
    finally:
        if progress is not None:
            progress.close()
    manifest, df = read_sweep(out)
    if not args.quiet:
        print_sweep(_stdout(), manifest, df)
        _stdout().print(f"results: {out}/ (sweep.parquet, sweep.csv, report.html, points/)")
    if manifest["failed"]:
        _print_failures(err, out)
        return EXIT_FAILED
    return EXIT_OK


def _print_failures(err: Console, out: Path) -> None:
    import json

    failures = json.loads((out / "failures.json").read_text("utf-8"))["points"]
    err.print(f"timekeepers sweep: {len(failures)} point(s) failed:", markup=False)
    for item in failures[:20]:
        params = ", ".join(f"{k}={v}" for k, v in item["params"].items())
        first = item["error"].strip().splitlines()
        err.print(f"  point {item['index']} ({params}): {' / '.join(first[:3])}", markup=False)


def validate_sweep(path: Path, leap_file: Path | None = None) -> str | None:
    """For `validate`: a sweep file's every point checked; a one-line note, None if no sweep."""
    spec = load_sweep(path, leap_file=leap_file)
    if not spec.axes:
        return None
    spec.validate()
    axes = ", ".join(f"{a.name} ({len(a)})" for a in spec.axes)
    return f"sweep of {len(spec.points)} points over {axes}: every point ok"


def show_sweep(folder: Path) -> int:
    manifest, df = read_sweep(folder)
    print_sweep(_stdout(), manifest, df)
    return EXIT_OK


def print_sweep(console: Console, manifest: dict[str, Any], df: Any) -> None:
    """The sweep table: one row per setting of the non-seed axes and namespace."""
    total = len(manifest["points"])
    finished = df["point"].nunique() if not df.empty else 0
    state = "complete" if manifest["complete"] else "PARTIAL"
    title = (f"{manifest['scenario']} sweep — {finished}/{total} points, "
             f"{manifest['failed']} failed, {state}")
    headers, rows = grouped(manifest, df)
    table = Table(title=title)
    for header in headers:
        table.add_column(header, justify="right" if " " in header else "left")
    for row in sweep_cells(headers, rows[:MAX_ROWS]):
        table.add_row(*row)
    console.print(table)
    if len(rows) > MAX_ROWS:
        console.print(f"… and {len(rows) - MAX_ROWS} more rows (see sweep.csv)")


def _kind(header: str) -> str:
    if header.startswith("max|freq"):
        return numfmt.PPM_KIND
    if " UTC " in header or " ref " in header:
        return numfmt.NS
    return numfmt.TEXT


def sweep_cells(headers: list[str], rows: list[list[Any]]) -> list[list[str]]:
    """The sweep table's cells: each metric column in one unit (`numfmt.columns`)."""
    clean = [[_clean(v) for v in row] for row in rows]
    return numfmt.columns([_kind(h) for h in headers], clean)


def _clean(value: Any) -> Any:
    """NaN → missing; whole floats (axis values, counts read back from CSV) → ints."""
    if value is None or value != value:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stdout() -> Console:
    return Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 160)
