"""The run's PNG plots (matplotlib, Agg): offset from UTC, frequency, timer lateness.

Made to be read at a glance: a title that says what the run was, axes with units chosen from
the data (ns … s, s … days), one colour per namespace with a legend, and a note when more
namespaces ran than are drawn.  Floats appear only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_STYLES = ("-", "--", ":", "-.")
_TIME_UNITS = (("days", 86_400.0), ("hours", 3600.0), ("minutes", 60.0), ("seconds", 1.0))
_VALUE_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))


def _time_unit(span_s: float) -> tuple[str, float]:
    for name, scale in _TIME_UNITS:
        if span_s >= 3 * scale:
            return name, scale
    return "seconds", 1.0


def _value_unit(peak_s: float) -> tuple[str, float]:
    for name, scale in _VALUE_UNITS:
        if peak_s >= scale:
            return name, scale
    return "ns", 1e-9


def _finish(fig: Any, ax: Any, path: Path, note: str) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    if note:
        fig.text(0.01, 0.01, note, fontsize="small", color="0.4")
    ax.grid(True, alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markers(ax: Any, markers: list[tuple[float, str]], tscale: float) -> None:
    for t, label in markers:
        ax.axvline(t / tscale, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(
            label,
            (t / tscale, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize="small",
            color="0.4",
        )


def offset_plot(
    path: Path,
    series: dict[str, Any],
    title: str,
    key: str,
    what: str,
    note: str,
    markers: list[tuple[float, str]],
) -> None:
    """Offset (namespace clock − timescale) over true time, one line per namespace."""
    span = max((s["t"][-1] for s in series.values() if s["t"]), default=1.0)
    peak = max((abs(v) for s in series.values() for v in s[key]), default=0.0)
    tname, tscale = _time_unit(span)
    vname, vscale = _value_unit(peak)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for i, (name, s) in enumerate(series.items()):
        style = _STYLES[i % len(_STYLES)]
        times = [t / tscale for t in s["t"]]
        values = [v / vscale for v in s[key]]
        ax.step(times, values, where="post", label=name, linewidth=1.6, linestyle=style)
    _markers(ax, markers, tscale)
    ax.set_title(f"{title}\nclock offset from {what}")
    ax.set_xlabel(f"true time since start ({tname})")
    ax.set_ylabel(f"REALTIME − {what} ({vname})")
    _finish(fig, ax, path, note)


def frequency_plot(
    path: Path, series: dict[str, Any], title: str, note: str, markers: list[tuple[float, str]]
) -> None:
    """Each clock's rate against SI seconds (from MONOTONIC between samples), in ppm."""
    span = max((s["t"][-1] for s in series.values() if s["t"]), default=1.0)
    tname, tscale = _time_unit(span)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for i, (name, s) in enumerate(series.items()):
        style = _STYLES[i % len(_STYLES)]
        times = [t / tscale for t in s["ft"]]
        ax.step(times, s["freq"], where="pre", label=name, linewidth=1.6, linestyle=style)
    _markers(ax, markers, tscale)
    ax.set_title(f"{title}\nclock frequency offset (MONOTONIC rate vs true SI seconds)")
    ax.set_xlabel(f"true time since start ({tname})")
    peak = max((abs(v) for s in series.values() for v in s["freq"]), default=0.0)
    if peak > 200:  # a few huge rates would flatten the small ones: log beyond ±1 ppm
        ax.set_yscale("symlog", linthresh=1.0)
        note = (note + "; " if note else "") + "y axis: linear within ±1 ppm, log beyond"
    ax.set_ylabel("frequency offset (ppm)")
    _finish(fig, ax, path, note)


def lateness_plot(path: Path, lateness: dict[str, list[int]], title: str) -> None:
    """Histogram of timer lateness (clock at the callback − expiry), per namespace."""
    peak = max((v for vals in lateness.values() for v in vals), default=1)
    vname, vscale = _value_unit(peak * 1e-9)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    data = {n: [v * 1e-9 / vscale for v in vals] for n, vals in lateness.items() if vals}
    ax.hist(list(data.values()), bins=40, label=list(data), histtype="step", linewidth=1.4)
    ax.set_yscale("log")
    ax.set_title(f"{title}\ntimer lateness (clock read in the callback − expiry)")
    ax.set_xlabel(f"lateness ({vname})")
    ax.set_ylabel("expiries (log scale)")
    _finish(fig, ax, path, "")


def write_plots(
    out: Path, result: Any, reference: str, markers: list[tuple[float, str]] | None = None
) -> list[str]:
    """All plots for a run; returns the file names written."""
    title = (
        f"{result.summary['scenario']}: {result.summary['duration']} from "
        f"{result.summary['start_utc']}"
    )
    drawn, total = len(result.series), len(result.summary["namespaces"])
    note = f"{drawn} of {total} namespaces drawn (see samples.csv)" if drawn < total else ""
    markers = markers or []
    names = ["offset_utc.png", "frequency.png"]
    offset_plot(out / names[0], result.series, title, "utc", "true UTC", note, markers)
    if reference != "utc":
        names.append("offset_reference.png")
        what = f"reference '{reference}'"
        offset_plot(out / names[-1], result.series, title, "ref", what, note, markers)
    frequency_plot(out / "frequency.png", result.series, title, note, markers)
    if any(result.lateness.values()):
        names.append("timer_lateness.png")
        lateness_plot(out / names[-1], result.lateness, title)
    return names
