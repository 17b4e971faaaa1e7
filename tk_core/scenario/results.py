"""The results folder: the edge where a run meets files.

samples.csv        one row per sample per recorded namespace (tidy/long format)
summary.json       deterministic metrics: same scenario + seed → same bytes
timing.json        wall-clock time and speed (kept apart because they vary)
scenario.toml      the resolved input: every default explicit; re-running it reproduces
*.png, report.html the plots, and one self-contained page with plots and tables
checkpoints/       LABEL.json for each checkpoint event
programs/          with [[namespaces.programs]]: programs.json, and per program NS/NAME/ its
                   output (output.log) and the files it left in its working directory
trace.jsonl        with --trace: one structlog JSON event per engine decision
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
import tomli_w
from structlog.typing import EventDict, WrappedLogger

import ntp.trace

from .. import checkpoint
from ..host import Host
from . import staging
from .errors import ScenarioError, input_error
from .loader import Loaded
from .plots import write_plots
from .programs import ProgramOutcome, require
from .recorder import COLUMNS
from .report import write_report
from .runner import Progress, Runner, RunResult
from .summary import render
from .summary_shape import check_summary
from .units import format_duration
from .windows import Window, zoom_windows

SUMMARY = "summary.json"
TIMING = "timing.json"


def prepare_out(out: Path) -> None:
    """Create the output folder, or say clearly why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise input_error(str(out), "exists and is not a directory (expected a results folder)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise input_error(str(out), f"cannot create the results folder: {err.strerror}") from None


def resolved_toml(loaded: Loaded) -> str:
    """The scenario with every default explicit (and overrides applied), as TOML."""
    r = loaded.resolved
    data = r.scenario.model_dump(mode="json", exclude_none=True)
    for ns, spec in zip(data["namespaces"], r.scenario.namespaces, strict=True):
        # a program keeps only the keys that differ from their defaults: its rules refuse
        # client keys on a server, daemon keys beside argv, even at their default values
        ns["programs"] = [p.model_dump(mode="json", exclude_defaults=True)
                          for p in spec.programs]
        if ns["model"] == "offsets":
            for key in ("update", "dilation", "leap", "ntp"):
                ns.pop(key, None)
        if not ns.get("programs"):
            ns.pop("programs", None)
    if not r.programs:
        data.pop("network", None)  # the network only carries programs' packets
    data["scenario"]["sample_every"] = format_duration(r.sample_every_ns)
    if "until" not in data["scenario"]:
        data["scenario"]["duration"] = format_duration(r.duration_ns)
    table = data["scenario"]["leap_table"]
    if table == "newest":  # pin the copy chosen, so the resolved file reproduces this run
        used = r.timescale.table
        data["scenario"]["leap_table"] = "shipped" if used.shipped else str(used.path)
    elif table != "shipped" and loaded.path is not None:
        data["scenario"]["leap_table"] = str((loaded.path.parent / table).resolve())
    head = (
        f"# Resolved from {loaded.path.name if loaded.path else loaded.source} by timekeepers:"
        " every default is explicit.\n# Re-run it with: timekeepers run scenario.toml\n\n"
    )
    return head + tomli_w.dumps(data)


@contextmanager
def tracing(path: Path, host_of: Callable[[], Host]) -> Iterator[None]:
    """Engine trace events → JSON lines, each with true time and namespace names."""
    names: dict[int, str] = {}

    def context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        host = host_of()
        event["true_ns"] = host.true_ns
        tk = event.pop("tk", None)
        if tk is not None:
            if tk not in names:
                names.update({id(getattr(ns, "tk", None)): n for n, ns in host.namespaces.items()})
            event["namespace"] = names.get(tk, "?")
        return event

    with path.open("w", encoding="utf-8") as f:
        logger = structlog.wrap_logger(
            structlog.WriteLogger(f),
            processors=[context, structlog.processors.JSONRenderer(sort_keys=True, default=str)],
        )
        ntp.trace.enable(logger)
        try:
            yield
        finally:
            ntp.trace.disable()


def _json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(render(data), "utf-8")


def execute(
    loaded: Loaded, out: Path, progress: Progress | None = None, trace: bool = False
) -> RunResult:
    """Run a scenario and write every result file into `out`, all at once or not at all.

    The files are written into a PARTIAL-marked sibling folder (see `staging`) and moved
    into place only when every one is complete; a run that fails or is interrupted leaves
    `out` as it was, and the sibling saying why.  Bad input (a ScenarioError, raised before
    anything ran) leaves nothing behind, nor do real programs that cannot run on this machine
    (`programs.ProgramsUnavailable`, raised first).
    """
    require(loaded.resolved)
    folder = _staging_for(out)
    try:
        result = _write_results(loaded, folder, progress, trace)
    except ScenarioError:
        staging.discard(folder)
        raise
    except BaseException as err:
        staging.fail(folder, out, err)
        raise
    staging.publish(folder, out)
    return result


def _staging_for(out: Path) -> Path:
    """The staging folder beside `out`, or a ScenarioError saying why `out` cannot be used."""
    if out.exists() and not out.is_dir():
        raise input_error(str(out), "exists and is not a directory (expected a results folder)")
    try:
        Path(os.path.abspath(out)).parent.mkdir(parents=True, exist_ok=True)
        return staging.start(out)
    except OSError as err:
        raise input_error(str(out), f"cannot create the results folder: {err.strerror}") from None


def _write_results(
    loaded: Loaded, out: Path, progress: Progress | None, trace: bool
) -> RunResult:
    """Every result file, written into `out` (the staging folder)."""
    with (out / "samples.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        runner = Runner(loaded, writer.writerow, progress)
        if trace:
            with tracing(out / "trace.jsonl", lambda: runner.host):
                result = runner.run()
        else:
            result = runner.run()
    write_parquet(out / "samples.csv", out / "samples.parquet")
    _json(out / SUMMARY, result.summary)
    _json(out / TIMING, result.timing)
    toml_text = resolved_toml(loaded)
    (out / "scenario.toml").write_text(toml_text, "utf-8")
    _write_checkpoints(out, result)
    write_programs(out, result.programs)
    markers = _markers(loaded)
    plots = write_plots(out, result, loaded.resolved.timescale.reference, markers,
                        plot_windows(loaded, result, markers))
    write_report(out, result.summary, result.timing, plots, toml_text)
    return result


def write_parquet(csv_path: Path, parquet_path: Path) -> bool:
    """samples.parquet beside samples.csv, typed (when pyarrow is installed).

    Clock readings stay int64 ns, `true_utc` becomes a UTC timestamp (POSIX: an inserted
    second repeats 23:59:59 with `utc_fold` = 1), offsets from a smear reference become
    float64 (samples.csv keeps their exact decimals).
    """
    try:
        from pyarrow import csv as pa_csv
        from pyarrow import parquet as pq
    except ImportError:
        return False
    table = pa_csv.read_csv(csv_path)
    tmp = parquet_path.with_name(f".{parquet_path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(parquet_path)
    return True


def _markers(loaded: Loaded) -> list[tuple[float, str]]:
    """Leap seconds inside the run, as (true seconds, label) for the plots."""
    r = loaded.resolved
    ts = r.timescale
    out = []
    for event in ts.table.events:
        t = ts.true_of_utc(event.unix * 10**9) - 10**9 * max(event.sign, 0)
        if 0 <= t <= r.duration_ns:
            out.append((t / 1e9, f"leap {event.day.isoformat()}"))
    return out


def plot_windows(
    loaded: Loaded, result: RunResult, markers: list[tuple[float, str]]
) -> list[Window]:
    """The zoom panels of a run: every leap (± its smears) and every event window."""
    r = loaded.resolved
    events = [(true_ns / 1e9, _event_label(event)) for true_ns, _, event in r.events
              if 0 <= true_ns <= r.duration_ns]
    return zoom_windows(markers, list(result.smear_windows.values()), events,
                        r.duration_ns / 1e9, r.sample_every_ns / 1e9)


def _event_label(event: Any) -> str:
    target = getattr(event, "namespace", None)
    return f"{event.action} {target}" if isinstance(target, str) else str(event.action)


def write_programs(out: Path, outcomes: list[ProgramOutcome]) -> None:
    """programs/programs.json, and each program's output and files under programs/NS/NAME/."""
    if not outcomes:
        return
    folder = out / "programs"
    folder.mkdir(exist_ok=True)
    listing = []
    for o in outcomes:
        own = folder / o.label
        own.mkdir(parents=True, exist_ok=True)
        (own / "output.log").write_bytes(o.output)
        for name, data in o.files.items():
            (own / name).write_bytes(data)
        listing.append({"program": o.label, "argv": o.argv, "returncode": o.returncode,
                        "error": o.error, "running_at_end": o.running_at_end,
                        "files": sorted(o.files)})
    (folder / "programs.json").write_text(json.dumps(listing, indent=2) + "\n", "utf-8")


def _write_checkpoints(out: Path, result: RunResult) -> None:
    if not result.checkpoints:
        return
    folder = out / "checkpoints"
    folder.mkdir(exist_ok=True)
    for label, doc in result.checkpoints.items():
        (folder / f"{label}.json").write_text(checkpoint.dumps(doc), "utf-8")


def read_results(folder: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """summary.json (and timing.json if present) of a results folder, or a clear error."""
    if not folder.exists():
        raise input_error(str(folder), "no such results folder")
    if not folder.is_dir():
        raise input_error(str(folder), "is a file, expected a results folder (from `run`)")
    path = folder / SUMMARY
    if not path.is_file():
        raise input_error(str(folder), f"has no {SUMMARY}: not a results folder from `run`")
    try:
        summary = json.loads(path.read_text("utf-8"))
        timing_path = folder / TIMING
        timing = json.loads(timing_path.read_text("utf-8")) if timing_path.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise input_error(str(path), f"is not valid JSON: {err}") from None
    except RecursionError:
        raise input_error(str(path), "is not a timekeepers summary: nested too deeply") from None
    problem = check_summary(summary)
    if problem is not None:
        raise input_error(str(path), f"is not a timekeepers summary: {problem}")
    if timing is not None and not isinstance(timing, dict):
        raise input_error(str(folder / TIMING), "expected a JSON object of wall-clock timings")
    return summary, timing
