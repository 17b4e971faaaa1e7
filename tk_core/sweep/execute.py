"""Running a sweep: every point on Dask (local cores or a remote scheduler), resumable.

The sweep folder::

    sweep.json          the manifest: scenario, axes, every point's index, id and parameters,
                        and whether the sweep is complete (a run in progress says partial)
    points/ID/          one folder per finished point: summary.json (the worker's bytes) and
                        params.json; a point whose folder exists is not run again
    failures.json       each failed point with its parameters and error
    sweep.parquet/.csv  the tidy table (one row per point and namespace)
    report.html         each metric against each axis, bands over seeds

`run_sweep` drives it: validate every point, skip the finished ones, submit the rest as one
Dask task each, write results as they stream back, then build the table and the report.
`workers=0` runs the points in this process without Dask (for debugging a point).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario.errors import input_error
from ..scenario.results import prepare_out
from . import report
from . import table as tidy
from .point import PointResult, run_point
from .spec import Point, Sweep, load_sweep

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

MANIFEST = "sweep.json"
FAILURES = "failures.json"
SWEEP_VERSION = 1
#: progress(done, total, failed): called once before the first point and after each one.
SweepProgress = Callable[[int, int, int], None]


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_sweep(
    sweep: Sweep | Path | str,
    out: Path | str | None = None,
    *,
    axes: list[str] | None = None,
    zips: list[str] | None = None,
    sets: list[str] | None = None,
    leap_file: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    progress: SweepProgress | None = None,
    write_report: bool = True,
) -> pd.DataFrame:
    """Run every point of a sweep and return its tidy table (also written to `out`).

    `sweep` is a `Sweep` or a scenario file (then `axes`/`zips`/`sets`/`leap_file` apply as
    on the command line).  Where it runs: an existing Dask `client`, else the cluster at
    `scheduler` ("tcp://HOST:PORT"), else a local cluster of `workers` processes (default:
    every core); `workers=0` runs in this process.  Points already in `out` are skipped.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep, axes=axes, zips=zips, sets=sets, leap_file=leap_file)
    sweep.validate()
    folder = Path(out) if out is not None else Path("out") / f"{sweep.name}-sweep"
    prepare_out(folder)
    write_manifest(folder, sweep, complete=False)
    todo = [p for p in sweep.points if not _finished(folder, p)]
    failures: list[dict[str, Any]] = []
    done = len(sweep.points) - len(todo)
    if progress is not None:
        progress(done, len(sweep.points), 0)
    with _executor(workers, scheduler, client) as submit:
        for point, result in submit(sweep, todo):
            if "error" in result:
                failures.append(_failure(point, result["error"]))
            else:
                _save_point(folder, point, result)
            done += 1
            if progress is not None:
                progress(done, len(sweep.points), len(failures))
    return finish(folder, sweep, failures, write_report)


def finish(
    folder: Path, sweep: Sweep, failures: list[dict[str, Any]], with_report: bool = True
) -> pd.DataFrame:
    """Table, failures, report and the completed manifest, from the points on disk."""
    all_rows: list[dict[str, Any]] = []
    for point in sweep.points:
        summary = read_point(folder, point)
        if summary is not None:
            all_rows += tidy.rows(point, summary)
    df = tidy.frame(all_rows, sweep.columns)
    tidy.write(df, folder)
    _write_json(folder / FAILURES, {"failed": len(failures), "points": failures})
    if with_report:
        report.write(folder, sweep, df, failures)
    write_manifest(folder, sweep, complete=not failures, failed=len(failures))
    return df


# -- where points run --------------------------------------------------------------------------

Submit = Callable[[Sweep, list[Point]], Iterator[tuple[Point, PointResult]]]


@contextmanager
def _executor(
    workers: int | None, scheduler: str | None, client: Client | None
) -> Iterator[Submit]:
    if client is not None:
        yield _dask_submitter(client)
        return
    if workers == 0 and scheduler is None:
        yield _in_process
        return
    distributed = _import_distributed()
    if scheduler is not None:
        with _remote_client(distributed, scheduler) as remote:
            yield _dask_submitter(remote)
        return
    count = workers if workers is not None else default_workers()
    if count < 0:
        raise input_error("--workers", f"expected a number of workers >= 0, found {count}")
    with _local_cluster(distributed, count) as local:
        yield _dask_submitter(local)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise input_error(
            "sweep", "Dask is not installed: pip install 'timekeepers[sweep]' (or use "
            "--workers 0 to run the points in this process)"
        ) from None
    return distributed


@contextmanager
def _remote_client(distributed: Any, scheduler: str) -> Iterator[Client]:
    """A client of the Dask cluster at `scheduler`; one that cannot be reached is bad input.

    Dask raises OSError (refused, timed out after `distributed.comm.timeouts.connect`),
    ValueError or TypeError (an address it cannot read); each becomes the one-line error
    of `--scheduler`, never an internal error.
    """
    try:
        client = distributed.Client(scheduler)
    except (OSError, ValueError, TypeError) as exc:
        raise input_error(
            "--scheduler", f"cannot reach the Dask scheduler at {scheduler!r}: {exc} (start "
            "one with `dask scheduler`, or leave out --scheduler to use this machine's cores)"
        ) from None
    with client:
        yield client


@contextmanager
def _local_cluster(distributed: Any, workers: int) -> Iterator[Client]:
    """A LocalCluster of single-threaded worker processes (the engine is pure Python)."""
    import logging

    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.ERROR,
    )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _in_process(sweep: Sweep, points: list[Point]) -> Iterator[tuple[Point, PointResult]]:
    folder = str(sweep.folder) if sweep.folder is not None else None
    for point in points:
        yield point, run_point(point.data, sweep.source, folder)


def _dask_submitter(client: Client) -> Submit:
    def submit(sweep: Sweep, points: list[Point]) -> Iterator[tuple[Point, PointResult]]:
        as_completed: Any = _import_distributed().as_completed
        folder = str(sweep.folder) if sweep.folder is not None else None
        futures = {
            client.submit(run_point, p.data, sweep.source, folder,
                          key=f"timekeepers-point-{p.id}", pure=False): p
            for p in points
        }
        for future in as_completed(futures):
            point = futures[future]
            try:
                result: PointResult = future.result()
            except Exception as err:  # a worker died or could not import the engine
                result = {"error": f"{type(err).__name__}: {err}"}
            yield point, result
            future.release()

    return submit


# -- files ---------------------------------------------------------------------------------


def _point_dir(folder: Path, point: Point) -> Path:
    return folder / "points" / point.id


def _finished(folder: Path, point: Point) -> bool:
    return (_point_dir(folder, point) / "summary.json").is_file()


def _save_point(folder: Path, point: Point, result: PointResult) -> None:
    """summary.json last and by rename, so a point folder with one is always complete."""
    target = _point_dir(folder, point)
    target.mkdir(parents=True, exist_ok=True)
    _write_json(target / "params.json", {"index": point.index, "params": point.params})
    tmp = target / ".summary.json.tmp"
    tmp.write_text(result["summary"], "utf-8")
    tmp.replace(target / "summary.json")


def read_point(folder: Path, point: Point) -> dict[str, Any] | None:
    """A finished point's summary, or None if it has not run (or its file is unreadable)."""
    path = _point_dir(folder, point) / "summary.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failure(point: Point, error: str) -> dict[str, Any]:
    return {"index": point.index, "id": point.id, "params": point.params, "error": error}


def write_manifest(folder: Path, sweep: Sweep, *, complete: bool, failed: int = 0) -> None:
    _write_json(folder / MANIFEST, {
        "sweep_version": SWEEP_VERSION,
        "scenario": sweep.name,
        "source": sweep.source,
        "complete": complete,
        "failed": failed,
        "axes": [{"keys": list(a.keys), "values": [list(v) for v in a.values]}
                 for a in sweep.axes],
        "points": [{"index": p.index, "id": p.id, "params": p.params} for p in sweep.points],
    })


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8")
    tmp.replace(path)
