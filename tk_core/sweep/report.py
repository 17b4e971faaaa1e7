"""The sweep report: each key metric against each axis, one line per namespace, seeds as bands.

For an axis A and a metric M, the line is M's median over everything that is not A (the
seeds and the other axes) and the band its range (min to max, lighter) and its middle
half (25th to 75th percentile, darker), so the spread a seed makes is never hidden behind
a single run.  A sweep over seeds alone shows each namespace's distribution instead.
One self-contained page: plots embedded as SVG, no scripts.  Units, series styles, scales
and legends come from the run report's own modules (`scenario.numfmt`, `scenario.plotstyle`).
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario import numfmt, plotstyle
from .axes import SEED_KEY
from .table import KEY_METRICS

if TYPE_CHECKING:
    import pandas as pd

    from .spec import Sweep

#: At most this many namespaces get a line of their own in one plot.
MAX_LINES = 12

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f0f0f0}.bad{color:#a11}.ok{color:#176b2c}
figure{margin:1em 0}svg{max-width:100%;height:auto}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}
"""


def metrics_in(df: pd.DataFrame) -> list[str]:
    """The key metrics this table has numbers for."""
    return [m for m in KEY_METRICS if m in df.columns and df[m].notna().any()]


def varied_axes(sweep: Sweep) -> list[str]:
    """Axis keys with more than one value (the ones a plot can go along)."""
    return [key for axis in sweep.axes if len(axis) > 1 for key in axis.keys]


def write(folder: Path, sweep: Sweep, df: pd.DataFrame, failures: list[dict[str, Any]]) -> Path:
    """report.html for a sweep folder."""
    parts = [f"<h1>{html.escape(sweep.name)} — sweep of {len(sweep.points)} points</h1>",
             _status(sweep, df, failures), _axes_table(sweep)]
    figures = _figures(sweep, df)
    parts += figures or ["<p>No finished point has metrics to plot.</p>"]
    if failures:
        parts.append("<h2>Failed points</h2><pre>" + html.escape(
            json.dumps(failures, indent=2, default=str)) + "</pre>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(sweep.name)} sweep</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    path = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(page, "utf-8")
    tmp.replace(path)
    return path


def _status(sweep: Sweep, df: pd.DataFrame, failures: list[dict[str, Any]]) -> str:
    finished = df["point"].nunique() if "point" in df.columns and not df.empty else 0
    cls = "ok" if not failures else "bad"
    return (f"<p class='{cls}'>{finished} of {len(sweep.points)} points finished, "
            f"{len(failures)} failed. Table: sweep.parquet / sweep.csv (one row per point and "
            "namespace).</p>")


def _axes_table(sweep: Sweep) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(axis.name)}</td><td>{len(axis)}</td>"
        f"<td>{html.escape(_preview(axis.values))}</td></tr>" for axis in sweep.axes
    )
    return f"<table><tr><th>axis</th><th>values</th><th></th></tr>{rows}</table>"


def _preview(values: tuple[tuple[Any, ...], ...]) -> str:
    shown = [", ".join(str(v) for v in row) for row in values[:8]]
    return " | ".join(shown) + (" | …" if len(values) > 8 else "")


def _figures(sweep: Sweep, df: pd.DataFrame) -> list[str]:
    if df.empty:
        return []
    out = []
    axes: list[str | None] = [a for a in varied_axes(sweep) if a != SEED_KEY]
    axes = axes or [None]
    for metric in metrics_in(df):
        out.append(f"<h2>{html.escape(metric)}</h2>")
        for axis in axes:
            for names in _groups(df, axis):
                out.append(f"<figure>{_plot(df, metric, axis, names)}</figure>")
    return out


def _groups(df: pd.DataFrame, axis: str | None) -> list[list[str] | None]:
    """The namespaces of each line plot, at most MAX_LINES per figure, so none is left out.

    A distribution plot (no axis) shows every namespace in one figure.
    """
    names = list(dict.fromkeys(df["namespace"]))
    if axis is None or len(names) <= MAX_LINES:
        return [None]
    return [names[i:i + MAX_LINES] for i in range(0, len(names), MAX_LINES)]


def _plot(
    df: pd.DataFrame, metric: str, axis: str | None, namespaces: list[str] | None = None
) -> str:
    """One metric against one axis (or against the namespaces), as inline SVG."""
    import matplotlib.pyplot as plt

    fig = figure(df, metric, axis, namespaces)
    try:
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    finally:
        plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def figure(
    df: pd.DataFrame, metric: str, axis: str | None, namespaces: list[str] | None = None
) -> Any:
    """The matplotlib figure of one metric plot: y in one unit, legend below the axes.

    A line plot draws `namespaces` (default: the first MAX_LINES); the y scale comes from
    every namespace, so the figures of one metric share their axis type (linear or log).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    unit = metric_unit(df, metric)
    if axis is None:
        _distribution(ax, df, metric, unit)
        bottom = 0.0
    else:
        handles = _bands(ax, df, metric, axis, unit, namespaces)
        bottom = plotstyle.legend_below(fig, handles, [h.get_label() for h in handles])
    scale = plotstyle.choose_scale((unit.value(float(v)) for v in df[metric].dropna()), 0.0)
    scale.apply(ax)
    extra = scale.note(unit.name).removeprefix("y axis: ")
    ax.set_ylabel(f"{metric} ({unit.name})" + (f"\n{extra}" if extra else ""))
    ax.grid(True, alpha=0.3)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def metric_unit(df: pd.DataFrame, metric: str) -> numfmt.Unit:
    """The y unit of a metric's plot: one unit for the axis, from the column's values."""
    if "_ns_" in metric or metric.endswith("_ns"):
        return numfmt.ns_unit(float(v) for v in df[metric].dropna())
    if metric.startswith("freq_ppm"):
        return numfmt.PPM
    return numfmt.Unit("count", 1, 0)


def _bands(
    ax: Any, df: pd.DataFrame, metric: str, axis: str, unit: numfmt.Unit,
    namespaces: list[str] | None = None,
) -> list[Any]:
    values = list(dict.fromkeys(df[axis].tolist()))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    order = sorted(values) if numeric else values
    xs = order if numeric else list(range(len(order)))
    handles = []
    every = list(dict.fromkeys(df["namespace"]))
    shown = (namespaces if namespaces is not None else every)[:MAX_LINES]
    for i, name in enumerate(shown):
        sub = df[df["namespace"] == name].groupby(axis)[metric]
        stats = [sub.get_group(v).astype(float) / unit.scale if v in sub.groups else None
                 for v in order]
        keep = [(x, s) for x, s in zip(xs, stats, strict=True) if s is not None and len(s)]
        if not keep:
            continue
        x = [k for k, _ in keep]
        q = [(s.min(), s.quantile(0.25), s.median(), s.quantile(0.75), s.max()) for _, s in keep]
        style = plotstyle.series_style(i).kwargs(len(x), i) | {"markevery": None}
        (line,) = ax.plot(x, [r[2] for r in q], label=name, **style)
        ax.fill_between(x, [r[0] for r in q], [r[4] for r in q], alpha=0.12, color=style["color"])
        ax.fill_between(x, [r[1] for r in q], [r[3] for r in q], alpha=0.25, color=style["color"])
        handles.append(line)
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in order], rotation=20)
    ax.set_xlabel(axis)
    part = ""
    if len(every) > len(shown):
        first = every.index(shown[0]) + 1
        part = f", namespaces {first}–{first + len(shown) - 1} of {len(every)}"
    ax.set_title(f"{metric} vs {axis} (median; bands: min–max and 25–75 % over the rest{part})")
    return handles


def _distribution(ax: Any, df: pd.DataFrame, metric: str, unit: numfmt.Unit) -> None:
    names = list(dict.fromkeys(df["namespace"]))
    data = [(df[df["namespace"] == n][metric].dropna().astype(float) / unit.scale).tolist()
            for n in names]
    ax.boxplot(data, whis=(0, 100))
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_title(f"{metric} per namespace over the seeds (box: 25–75 %, whiskers: min–max)")
