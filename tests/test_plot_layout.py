"""The plots' layout rules: zoom windows, styles that stay distinct, scales chosen from the
data, legends that cover no data."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import matplotlib.pyplot as plt
from hypothesis import given
from hypothesis import strategies as st

from tk_core.scenario import load_text
from tk_core.scenario.plots import Layout, time_figure
from tk_core.scenario.plotstyle import DECADES, choose_scale, series_style
from tk_core.scenario.results import execute, plot_windows
from tk_core.scenario.windows import Window, event_windows, leap_windows, zoom_windows

DAY = 86_400.0


# --- scale decision -------------------------------------------------------------------------
def test_linear_for_a_narrow_range() -> None:
    assert choose_scale([0, 1, 5, -3, 999]).kind == "linear"
    assert choose_scale([]).kind == "linear"
    assert choose_scale([0, 0]).kind == "linear"


def test_symlog_when_signed_magnitudes_span_more_than_three_decades() -> None:
    rates = [0.0] * 50 + [-11.6] * 40 + [-500.0] * 5 + [-100_500.0] * 5
    scale = choose_scale(rates)
    assert scale.kind == "symlog"
    assert scale.linthresh == 10.0  # the small rates (−11.6 ppm) sit at the linear edge


def test_log_for_a_positive_decay() -> None:
    decay = [1e6 * 0.5**k for k in range(30)]  # 1 ms halving to 2 ns
    assert choose_scale(decay).kind == "log"


def test_residues_do_not_force_a_log_axis() -> None:
    step = [0.0] * 10 + [1e9] * 10 + [12.0, -30.0]  # ns beside a second: rounding residue
    assert choose_scale(step).kind == "linear"


@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), max_size=40))
def test_scale_kind_follows_the_documented_rule(values: list[float]) -> None:
    scale = choose_scale(values)
    peak = max((abs(v) for v in values), default=0.0)
    mags = sorted(abs(v) for v in values if abs(v) > peak * 1e-6)
    wide = bool(mags) and mags[-1] / mags[(len(mags) - 1) // 10] > 10**DECADES
    assert (scale.kind != "linear") == wide
    if scale.kind == "log":
        assert all(v > 0 for v in values)
    if scale.kind == "symlog":
        assert 0 < scale.linthresh <= mags[(len(mags) - 1) // 10]


# --- styles ---------------------------------------------------------------------------------
def test_twenty_series_differ_in_colour_or_dash() -> None:
    seen = {(series_style(i).color, series_style(i).linestyle) for i in range(20)}
    assert len(seen) == 20


def test_neighbours_differ_in_colour_and_dash() -> None:
    for i in range(30):
        a, b = series_style(i), series_style(i + 1)
        assert a.color != b.color and a.linestyle != b.linestyle and a.marker != b.marker


def test_140_series_all_distinct() -> None:
    seen = {tuple(vars(series_style(i)).values()) for i in range(140)}
    assert len(seen) == 140


# --- zoom windows ---------------------------------------------------------------------------
def test_a_leap_gets_one_window_per_smear_scale() -> None:
    leap = DAY
    smears = [(leap - 1000, leap), (leap - 2, leap + 2), (leap - 12 * 3600, leap + 12 * 3600)]
    windows = leap_windows(leap, "leap", smears, sample_s=1.0)
    halves = sorted(w.half for w in windows)
    assert len(windows) == 3
    assert halves[0] >= 2 + 5 and halves[1] >= 1000 * 1.2 and halves[2] >= 12 * 3600 * 1.2
    assert all(w.centre == leap for w in windows)


def test_a_leap_without_smears_gets_a_few_samples_each_side() -> None:
    (window,) = leap_windows(3600.0, "leap", [], sample_s=60.0)
    assert window.start == 3600 - 300 and window.end == 3600 + 300


def test_close_events_share_a_window() -> None:
    windows = event_windows([(100.0, "a"), (110.0, "b"), (5000.0, "c")], 10_000.0, 1.0)
    assert [w.label for w in windows] == ["a; b", "c"]
    assert windows[0].start < 100 and windows[0].end > 110


def test_windows_cover_every_leap_and_event_inside_the_run() -> None:
    windows = zoom_windows([(DAY, "leap")], [(DAY - 1000, DAY)], [(3600.0, "settime root")],
                           1.5 * DAY, 60.0)
    assert any(w.start <= DAY <= w.end for w in windows)
    assert any(w.start <= 3600 <= w.end and "settime" in w.label for w in windows)
    assert all(0 <= w.start < w.end <= 1.5 * DAY for w in windows)


def test_an_event_inside_a_leap_window_gets_no_window_of_its_own() -> None:
    windows = zoom_windows([(DAY, "leap")], [(DAY - 1000, DAY)], [(DAY + 600, "adjtimex")],
                           1.5 * DAY, 60.0)
    assert [w.label for w in windows] == ["leap", "leap"]  # the step's, UTC-SLS's
    far = zoom_windows([(DAY, "leap")], [], [(DAY + 6 * 3600, "adjtimex")], 1.5 * DAY, 60.0)
    assert [w.label for w in far] == ["leap", "adjtimex"]


def test_a_window_covering_most_of_the_run_is_left_to_the_full_panel() -> None:
    windows = zoom_windows([(DAY, "leap")], [(0.0, 2 * DAY)], [], 1.5 * DAY, 60.0)
    assert all(w.end - w.start <= 0.8 * 1.5 * DAY for w in windows)


# --- the figure -----------------------------------------------------------------------------
def _lines(n: int) -> list[tuple[str, list[float], list[float]]]:
    t = [float(s) for s in range(0, 7200, 60)]
    return [(f"ns{i}", t, [1e9 * (i + 1) if x > 3600 else 0.0 for x in t]) for i in range(n)]


def test_legend_is_outside_every_panel_and_zooms_are_drawn() -> None:
    windows = [Window(3000, 4200, 3600, "leap"), Window(100, 700, 400, "settime root")]
    fig = time_figure(_lines(14), Layout("t", "", [(3600.0, "leap")], windows), "w", "y")
    try:
        fig.canvas.draw()
        assert len(fig.axes) == 3
        (legend,) = fig.legends
        box = legend.get_window_extent()
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent())
        assert len(legend.get_texts()) == 14
    finally:
        plt.close(fig)


RUN = """
[scenario]
name = "zooms"
description = "a leap second, stepped and smeared by UTC-SLS"
until = 2017-01-01T01:00:00Z
sample_every = "10s"

[host]
start = 2016-12-31T22:00:00Z

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "step"

[[namespaces]]
name = "sls"
leap = "utc-sls"

[[events]]
at = "30min"
action = "settime"
namespace = "step"
by = "1ms"
"""


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_a_run_draws_zoom_panels_for_its_leap_and_event(tmp_path: Path) -> None:
    loaded = load_text(RUN)
    result = execute(loaded, tmp_path / "run")
    windows = plot_windows(loaded, result, [(7200.0, "leap 2016-12-31")])
    leap = [w for w in windows if w.label.startswith("leap")]
    halves = sorted(w.half for w in leap)  # the step's ±5 samples, UTC-SLS's 1000 s × 1.2
    assert len(halves) == 2 and halves[0] == 50 and abs(halves[1] - 1200) <= 2
    assert [w.label for w in windows if w not in leap] == ["settime step"]
    width, height = _png_size(tmp_path / "run" / "offset_utc.png")
    assert (width, height) == (1200, round(100 * (5.2 + 3.4 * 2)))  # full + two zoom rows


def test_the_first_signatures_still_draw(tmp_path: Path) -> None:
    from tk_core.scenario.plots import frequency_plot, offset_plot

    t = [0.0, 60.0, 120.0]
    series = {"a": {"t": t, "utc": [0.0, 0.5, 1.0], "ft": t[1:], "freq": [0.0, 11.6]}}
    offset_plot(tmp_path / "o.png", series, "title", "utc", "true UTC", "a note", [(60.0, "x")])
    frequency_plot(tmp_path / "f.png", series, "title", "", [])
    assert _png_size(tmp_path / "o.png")[0] == 1200 and (tmp_path / "f.png").stat().st_size


# --- mark labels ----------------------------------------------------------------------------
@given(st.lists(st.floats(0, 100, allow_nan=False), max_size=12))
def test_mark_labels_on_one_row_keep_their_distance(xs: list[float]) -> None:
    from tk_core.scenario.plots import LABEL_GAP, label_rows

    xs = sorted(xs)
    rows = label_rows(xs, 0.0, 100.0)
    assert len(rows) == len(xs)
    for row in set(rows):
        on_row = [x for x, r in zip(xs, rows, strict=True) if r == row]
        assert all(b - a >= LABEL_GAP * 100 for a, b in itertools.pairwise(on_row))
    assert all(r == 0 or r - 1 in rows for r in rows)  # no row skipped


def test_close_leap_and_event_labels_do_not_overlap() -> None:
    t = [0.0, 50.0, 100.0]
    layout = Layout("marks", markers=[(49.0, "leap 2016-12-31"), (50.0, "step +1 s"),
                                      (51.0, "freq change")])
    fig = time_figure([("a", t, [0.0, 1.0, 2.0])], layout, "offset", "offset")
    try:
        fig.canvas.draw()
        boxes = [tx.get_window_extent() for tx in fig.axes[0].texts]
        assert len(boxes) == 3
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)
