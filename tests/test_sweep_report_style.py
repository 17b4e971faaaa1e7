"""The sweep report draws with the run plots' rules: one unit per axis, the shared series
styles, the legend outside the axes, a log axis for values spanning decades."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from tk_core.scenario.plotstyle import series_style
from tk_core.sweep import report


def _frame(names: int, scale: float) -> pd.DataFrame:
    rows = [
        {"point": p, "namespace": f"ns{n}", "poll": p, "seed": s,
         "offset_utc_ns_max_abs": scale * (n + 1) * (p + 1) + s}
        for p in range(3) for n in range(names) for s in range(2)
    ]
    return pd.DataFrame(rows)


def test_axis_unit_styles_and_legend_outside() -> None:
    fig = report.figure(_frame(14, 1e6), "offset_utc_ns_max_abs", "poll")
    try:
        fig.canvas.draw()
        (ax,) = fig.axes
        assert ax.get_ylabel().startswith("offset_utc_ns_max_abs (ms)")
        lines = ax.get_lines()
        assert [ln.get_color() for ln in lines[:3]] == [series_style(i).color for i in range(3)]
        styles = {(ln.get_color(), ln.get_linestyle()) for ln in lines}
        assert len(styles) == len(lines) == report.MAX_LINES
        (legend,) = fig.legends
        assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    finally:
        plt.close(fig)


def test_values_spanning_decades_get_a_log_axis() -> None:
    df = _frame(2, 1.0)
    df.loc[df["namespace"] == "ns1", "offset_utc_ns_max_abs"] *= 1e7
    fig = report.figure(df, "offset_utc_ns_max_abs", "poll")
    try:
        assert fig.axes[0].get_yscale() == "log"
    finally:
        plt.close(fig)


def test_metric_units() -> None:
    df = _frame(1, 2e9)
    assert report.metric_unit(df, "offset_utc_ns_max_abs").name == "s"
    assert report.metric_unit(df.assign(freq_ppm_final=1.0), "freq_ppm_final").name == "ppm"


def test_more_namespaces_than_lines_get_further_figures(tmp_path) -> None:
    """No namespace is left out of a sweep report: past MAX_LINES they go to further figures."""
    df = _frame(report.MAX_LINES + 3, 1e6)
    groups = report._groups(df, "poll")
    assert [len(g) for g in groups] == [report.MAX_LINES, 3]
    assert [n for g in groups for n in g] == list(dict.fromkeys(df["namespace"]))
    fig = report.figure(df, "offset_utc_ns_max_abs", "poll", groups[1])
    try:
        (ax,) = fig.axes
        assert [ln.get_label() for ln in ax.get_lines()] == groups[1]
        assert f"of {report.MAX_LINES + 3}" in ax.get_title()
    finally:
        plt.close(fig)
    assert report._groups(df, None) == [None]
    assert report._groups(_frame(3, 1e6), "poll") == [None]
