"""The run's PNG plots (matplotlib, Agg): offset from UTC, frequency, timer lateness.

Made to be read at a glance: a title that says what the run was, a full-run panel and a
zoom panel on every leap and event window (`windows`), one unit per axis chosen from the
data it shows (`numfmt`), a log/symlog axis where the values span decades, and a style per
namespace (colour, dash and marker, `plotstyle`) with the legend below the panels, where it
covers nothing.  Floats appear only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from . import numfmt, plotstyle
from .windows import MAX_WINDOWS, Window

NSEC = 1e9


@dataclass
class Layout:
    """What every time plot of a run shares: its title, notes, leap marks and zoom windows."""

    title: str
    note: str = ""
    markers: list[tuple[float, str]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)


def _figure(n_zooms: int) -> tuple[Any, Any, list[Any]]:
    """A full-run panel on top, zoom panels two to a row below it."""
    rows = math.ceil(n_zooms / 2)
    fig = plt.figure(figsize=(12, 5.2 + 3.4 * rows))
    grid = fig.add_gridspec(1 + rows, 2, height_ratios=[1.5] + [1.0] * rows)
    full = fig.add_subplot(grid[0, :])
    zooms = [fig.add_subplot(grid[1 + i // 2, i % 2]) for i in range(n_zooms)]
    return fig, full, zooms


def _clip(t: list[float], v: list[float], lo: float, hi: float) -> tuple[list[float], list[float]]:
    """The points inside [lo, hi], plus the one before (a step plot starts from it)."""
    idx = [i for i, x in enumerate(t) if lo <= x <= hi]
    if not idx:
        before = [i for i, x in enumerate(t) if x < lo]
        idx = before[-1:]
    elif idx[0] > 0:
        idx.insert(0, idx[0] - 1)
    return [t[i] for i in idx], [v[i] for i in idx]


def _draw(
    ax: Any,
    lines: list[tuple[str, list[float], list[float]]],
    where: str,
    window: Window | None,
    value_unit: numfmt.Unit | None,
) -> tuple[list[Any], numfmt.Unit, plotstyle.Scale]:
    """Step lines on one panel (x in the panel's time unit, y in the unit of what it shows)."""
    if window is None:
        span = max((t[-1] for _, t, _ in lines if t), default=1.0)
        tunit, origin = numfmt.time_unit(span), 0.0
        shown = [(t, v) for _, t, v in lines]
    else:
        tunit, origin = numfmt.time_unit(window.half), window.centre
        shown = [_clip(t, v, window.start, window.end) for _, t, v in lines]
    unit = value_unit or numfmt.ns_unit(x for _, v in shown for x in v)
    handles = []
    for i, (t, v) in enumerate(shown):
        style = plotstyle.series_style(i).kwargs(len(t), i)
        xs = [(x - origin) / tunit.scale for x in t]
        (line,) = ax.step(xs, [unit.value(x) for x in v], where=where, linewidth=1.4, **style)
        handles.append(line)
    scale = plotstyle.choose_scale(unit.value(x) for _, v in shown for x in v)
    scale.apply(ax)
    if window is None:
        ax.set_xlabel(f"true time since start ({tunit.name})")
    else:
        ax.set_xlim((window.start - origin) / tunit.scale, (window.end - origin) / tunit.scale)
        ax.set_xlabel(f"true time from {window.label} ({tunit.name})", fontsize="small")
        ax.set_title(f"zoom: {window.label} ±{_span(window.half)}", fontsize="medium")
    ax.grid(True, alpha=0.3)
    return handles, unit, scale


def _span(seconds: float) -> str:
    unit = numfmt.time_unit(seconds * 3)
    return f"{seconds / unit.scale:.3g} {unit.name}"


def _marks(ax: Any, markers: list[tuple[float, str]], window: Window | None, span: float) -> None:
    """Dotted verticals at the leaps and events that fall inside the panel, labelled.

    Labels of marks closer than about a label's width go one row lower each, so that a
    leap and an event at nearly the same instant stay readable.
    """
    tunit = numfmt.time_unit(window.half if window else span)
    origin = window.centre if window else 0.0
    shown = sorted(
        ((t - origin) / tunit.scale, label) for t, label in markers
        if window is None or window.start <= t <= window.end
    )
    lo, hi = ax.get_xlim()
    rows = label_rows([x for x, _ in shown], lo, hi)
    for (x, label), row in zip(shown, rows, strict=True):
        ax.axvline(x, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12 * (row + 1)), textcoords="offset points",
                    fontsize="small", color="0.4")


#: Two labels nearer than this fraction of the axis width would overlap.
LABEL_GAP = 0.15


def label_rows(xs: list[float], lo: float, hi: float) -> list[int]:
    """The text row of each mark label (xs ascending): the lowest row whose last label is
    at least LABEL_GAP of the axis width to the left."""
    width = (hi - lo) or 1.0
    last: list[float] = []
    rows = []
    for x in xs:
        row = next((r for r, prev in enumerate(last) if (x - prev) / width >= LABEL_GAP),
                   len(last))
        if row == len(last):
            last.append(x)
        else:
            last[row] = x
        rows.append(row)
    return rows


def time_plot(
    path: Path,
    lines: list[tuple[str, list[float], list[float]]],
    layout: Layout,
    what: str,
    ylabel: str,
    where: str = "post",
    value_unit: numfmt.Unit | None = None,
) -> None:
    """`time_figure` written to `path`."""
    fig = time_figure(lines, layout, what, ylabel, where, value_unit)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def time_figure(
    lines: list[tuple[str, list[float], list[float]]],
    layout: Layout,
    what: str,
    ylabel: str,
    where: str = "post",
    value_unit: numfmt.Unit | None = None,
) -> Any:
    """`lines` (name, true seconds, values in ns — or in `value_unit`'s base) over the run.

    The full run on top, a zoom panel per window below, the legend under everything.
    """
    windows = layout.windows[:MAX_WINDOWS]
    fig, full, zooms = _figure(len(windows))
    notes = [layout.note] if layout.note else []
    span = max((t[-1] for _, t, _ in lines if t), default=1.0)
    handles: list[Any] = []
    for ax, window in [(full, None), *zip(zooms, windows, strict=True)]:
        got, unit, scale = _draw(ax, lines, where, window, value_unit)
        handles = handles or got
        label = f"{ylabel} ({unit.name})" if window is None else unit.name
        extra = scale.note(unit.name).removeprefix("y axis: ")
        ax.set_ylabel(f"{label}\n{extra}" if extra else label,
                      fontsize=None if window is None else "small")
        _marks(ax, layout.markers, window, span)
    if len(layout.windows) > MAX_WINDOWS:
        notes.append(f"{len(layout.windows) - MAX_WINDOWS} more zoom windows not drawn")
    full.set_title(f"{layout.title}\n{what}")
    bottom = plotstyle.legend_below(fig, handles, [name for name, _, _ in lines])
    if notes:
        fig.text(0.01, 0.005, "; ".join(notes), fontsize="small", color="0.4")
    fig.tight_layout(rect=(0, bottom + 0.01, 1, 1))
    return fig


def offset_lines(series: dict[str, Any], key: str) -> list[tuple[str, list[float], list[float]]]:
    """(name, true s, offset ns) per namespace from the recorder's plot series (in s)."""
    return [(n, s["t"], [v * NSEC for v in s[key]]) for n, s in series.items()]


def _layout(
    layout: Layout | str, note: str, markers: list[tuple[float, str]] | None
) -> Layout:
    """A Layout, or one built from the title, note and markers the functions first took."""
    return layout if isinstance(layout, Layout) else Layout(layout, note, markers or [])


def offset_plot(
    path: Path,
    series: dict[str, Any],
    layout: Layout | str,
    key: str,
    what: str,
    note: str = "",
    markers: list[tuple[float, str]] | None = None,
) -> None:
    """Offset (namespace clock − timescale) over true time, one line per namespace.

    `layout` may still be the title (with `note` and `markers`), as before zoom panels.
    """
    time_plot(path, offset_lines(series, key), _layout(layout, note, markers),
              f"clock offset from {what}", f"REALTIME − {what}")


def frequency_plot(
    path: Path,
    series: dict[str, Any],
    layout: Layout | str,
    note: str = "",
    markers: list[tuple[float, str]] | None = None,
) -> None:
    """Each clock's rate against SI seconds (from MONOTONIC between samples), in ppm."""
    lines = [(n, s["ft"], s["freq"]) for n, s in series.items()]
    time_plot(path, lines, _layout(layout, note, markers),
              "clock frequency offset (MONOTONIC rate vs true SI seconds)",
              "frequency offset", where="pre", value_unit=numfmt.PPM)


def lateness_plot(path: Path, lateness: dict[str, list[int]], title: str) -> None:
    """Histogram of timer lateness (clock at the callback − expiry), per namespace."""
    unit = numfmt.ns_unit(v for vals in lateness.values() for v in vals)
    fig, ax = plt.subplots(figsize=(12, 6))
    data = {n: [unit.value(v) for v in vals] for n, vals in lateness.items() if vals}
    every = [x for vals in data.values() for x in vals]
    bins = [float(x) for x in np.histogram_bin_edges(every, bins=40)] if every else 40
    handles = []
    for i, vals in enumerate(data.values()):
        style = plotstyle.series_style(i)
        patches: Any = ax.hist(vals, bins=bins, histtype="step", linewidth=1.4,
                               color=style.color, linestyle=style.linestyle)[2]
        handles.append(patches[0])
    ax.set_yscale("log")
    ax.set_title(f"{title}\ntimer lateness (clock read in the callback − expiry)")
    ax.set_xlabel(f"lateness ({unit.name})")
    ax.set_ylabel("expiries (log scale)")
    ax.grid(True, alpha=0.3)
    bottom = plotstyle.legend_below(fig, handles, list(data))
    fig.tight_layout(rect=(0, bottom + 0.01, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(
    out: Path,
    result: Any,
    reference: str,
    markers: list[tuple[float, str]] | None = None,
    windows: list[Window] | None = None,
) -> list[str]:
    """All plots for a run; returns the file names written."""
    title = (
        f"{result.summary['scenario']}: {result.summary['duration']} from "
        f"{result.summary['start_utc']}"
    )
    drawn, total = len(result.series), len(result.summary["namespaces"])
    note = f"{drawn} of {total} namespaces drawn (see samples.csv)" if drawn < total else ""
    layout = Layout(title, note, markers or [], windows or [])
    names = ["offset_utc.png", "frequency.png"]
    offset_plot(out / names[0], result.series, layout, "utc", "true UTC")
    if reference != "utc":
        names.append("offset_reference.png")
        offset_plot(out / names[-1], result.series, layout, "ref", f"reference '{reference}'")
    frequency_plot(out / "frequency.png", result.series, layout)
    if any(result.lateness.values()):
        names.append("timer_lateness.png")
        lateness_plot(out / names[-1], result.lateness, title)
    return names
