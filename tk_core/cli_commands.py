"""The `timekeepers` subcommands run, validate, list and show (terminal output lives here).

Split from cli.py so the argument parser stays small; every function returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .cli_sweep import show_sweep, validate_sweep
from .cli_sweep import sweep as sweep
from .scenario import ScenarioError, load_scenario
from .scenario import table as summary_table
from .scenario.checks import Resolved
from .scenario.errors import input_error
from .scenario.paths import find_scenario, shipped_dir
from .scenario.programs import ProgramsUnavailable
from .scenario.results import execute, read_results
from .scenario.runner import check_setup
from .scenario.units import format_duration
from .sweep.results import is_sweep_folder

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: The terminal table shows at most this many namespaces.
MAX_ROWS = 25
#: The bar appears only for runs that take longer than this (wall seconds).
PROGRESS_AFTER_S = 1.0


class RunProgress:
    """A rich progress bar showing simulated time and speed, shown only after a second."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self.start = time.perf_counter()
        self.bar: Progress | None = None
        self.task = TaskID(0)
        self._last = 0.0

    def __call__(self, done_ns: int, total_ns: int) -> None:
        now = time.perf_counter()
        wall = now - self.start
        if self.bar is None:
            if wall < PROGRESS_AFTER_S:
                return
            self._open(total_ns)
        if now - self._last < 0.1 and done_ns < total_ns:
            return
        self._last = now
        speed = done_ns / 1e9 / wall if wall > 0 else 0.0
        assert self.bar is not None
        self.bar.update(
            self.task,
            completed=done_ns,
            sim=f"{format_duration(done_ns // 10**9 * 10**9)} simulated",
            speed=f"{speed:,.0f} sim-s/s",
        )

    def _open(self, total_ns: int) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sim]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=total_ns, sim="", speed="")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run(args: argparse.Namespace, err: Console) -> int:
    """`timekeepers run SCENARIO`: validate, run with progress, write results, print a table."""
    path = find_scenario(args.scenario)
    loaded = load_scenario(
        path, seed=args.seed, until=args.until, sets=args.sets, leap_file=args.leap_file
    )
    name = loaded.scenario.scenario.name
    for note in loaded.notes:
        err.print(f"warning: {note}", markup=False)
    out = args.out if args.out is not None else Path("out") / name
    progress = None if args.quiet else RunProgress(err, name)
    try:
        result = execute(loaded, out, progress, trace=args.trace)
    except ProgramsUnavailable as exc:
        err.print(f"timekeepers run: {name}: {exc}", markup=False)
        return EXIT_FAILED
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet:
        _print_summary(_stdout(), result.summary, result.timing)
        _stdout().print(f"results: {out}/ (report.html, samples.csv, summary.json, plots)")
    for warning in result.summary.get("warnings", []):
        err.print(f"warning: {warning}", markup=False)
    if result.failures:
        err.print(f"timekeepers run: {name} failed:", markup=False)
        for line in result.failures:
            err.print(f"  {line}", markup=False)
        return EXIT_FAILED
    return EXIT_OK


def validate(args: argparse.Namespace, err: Console) -> int:
    """`timekeepers validate FILE…`: every file checked, every error printed."""
    status = EXIT_OK
    out = Console(highlight=False, soft_wrap=True, emoji=False)
    for text in args.files:
        try:
            loaded = load_scenario(find_scenario(text), leap_file=args.leap_file)
            check_setup(loaded)
        except ScenarioError as exc:
            err.print(exc.render(), markup=False)
            status = EXIT_BAD_INPUT
            continue
        try:
            note = validate_sweep(Path(loaded.source), args.leap_file)
        except ScenarioError as exc:
            err.print(exc.render(), markup=False)
            status = EXIT_BAD_INPUT
            continue
        r = loaded.resolved
        if note is not None:
            out.print(f"{loaded.source}: {note}", markup=False)
            continue
        out.print(
            f"{loaded.source}: ok ({len(r.namespaces) + 1} namespaces, "
            f"{len(r.events)} events, {len(r.timers)} timers, "
            f"{format_duration(r.duration_ns)})",
            markup=False,
        )
        if r.scenario.scenario.leap_table != "shipped":
            out.print(f"  leap table: {_table_note(r)}", markup=False)
    return status


def _table_note(r: Resolved) -> str:
    """The table `newest`, a path or --leap-file resolved to, and whether the run outlives it."""
    table = r.timescale.table
    late = r.timescale.expired_by(r.duration_ns)
    return table.describe() + (" (expires before the run ends)" if late else "")


def list_scenarios(args: argparse.Namespace, err: Console) -> int:
    """`timekeepers list`: each shipped scenario with its one-line description."""
    folder = args.folder or shipped_dir()
    if not folder.is_dir():
        err.print(f"{folder}: no such folder of scenarios", markup=False)
        return EXIT_BAD_INPUT
    table = Table(title=f"scenarios in {folder}", show_lines=False)
    table.add_column("name")
    table.add_column("what it shows")
    for path in sorted(folder.glob("*.toml")):
        table.add_row(path.stem, _describe(path))
    _stdout().print(table)
    return EXIT_OK


def _describe(path: Path) -> str:
    try:
        return load_scenario(path).scenario.scenario.description
    except ScenarioError as exc:
        reason = exc.issues[0].message if exc.issues else "invalid"
        return f"(cannot run in this version: {reason})"


def show(args: argparse.Namespace, err: Console) -> int:
    """`timekeepers show RESULTS`: the summary table of a finished run (or of a sweep)."""
    if is_sweep_folder(args.results):
        return show_sweep(args.results)
    summary, timing = read_results(args.results)
    try:
        _print_summary(_stdout(), summary, timing)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        # check_summary covers what the table reads; this names the file if it ever misses
        raise input_error(
            str(args.results / "summary.json"),
            f"is not a timekeepers summary this version can show: {type(err).__name__}: {err}",
        ) from None
    return EXIT_OK


def _stdout() -> Console:
    """The terminal, or a wide page when output goes to a file or a pipe."""
    return Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 160)


def _print_summary(
    console: Console, summary: dict[str, Any], timing: dict[str, Any] | None
) -> None:
    ok = summary["checks"]["ok"]
    title = f"{summary['scenario']} — {'checks ok' if ok else 'CHECKS FAILED'}"
    table = Table(title=title)
    for i, header in enumerate(summary_table.headers(summary)):
        table.add_column(header, justify="left" if i < 2 else "right")
    rows = summary_table.rows(summary)
    for row in rows[:MAX_ROWS]:
        table.add_row(*row)
    console.print(table)
    if len(rows) > MAX_ROWS:
        console.print(f"… and {len(rows) - MAX_ROWS} more namespaces (see summary.json)")
    for label, value in summary_table.host_lines(summary, timing):
        console.print(f"{label}: {value}", markup=False)
