"""One formatter for plots, report tables, `timekeepers show` and the sweep table.

Properties: a column has one unit; the shown value reads back within the shown precision;
formatting is monotone (a larger value never shows smaller); the unit follows the rounded
peak, so "1000.000 ms" never appears beside "1.000 s".
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tk_core.cli_sweep import sweep_cells
from tk_core.scenario import load_text, numfmt, table
from tk_core.scenario.results import execute

ns_values = st.one_of(
    st.integers(min_value=-(10**13), max_value=10**13),
    st.floats(min_value=-1e13, max_value=1e13, allow_nan=False),
)
columns = st.lists(st.one_of(st.none(), ns_values), min_size=1, max_size=12)


def _units(cells: list[str]) -> set[str]:
    return {c.rpartition(" ")[2] for c in cells if c != numfmt.MISSING}


@given(columns)
def test_a_column_has_one_unit(values: list[float | int | None]) -> None:
    assert len(_units(numfmt.ns_column(values))) <= 1


@given(columns)
def test_round_trip_within_the_shown_precision(values: list[float | int | None]) -> None:
    unit = numfmt.ns_unit(values)
    for value, cell in zip(values, numfmt.ns_column(values), strict=True):
        back = numfmt.parse(cell)
        if value is None:
            assert back is None
            continue
        assert back is not None
        assert abs(back - value) <= unit.step / 2 + abs(value) * 1e-12


@given(columns, ns_values, ns_values)
def test_monotone_in_a_column(
    values: list[float | int | None], a: float | int, b: float | int
) -> None:
    lo, hi = sorted([a, b])
    cells = numfmt.ns_column([*values, lo, hi])
    shown_lo, shown_hi = numfmt.parse(cells[-2]), numfmt.parse(cells[-1])
    assert shown_lo is not None and shown_hi is not None
    assert shown_lo <= shown_hi


@given(columns)
def test_the_peak_never_shows_1000_of_a_smaller_unit(values: list[float | int | None]) -> None:
    cells = numfmt.ns_column(values)
    unit = numfmt.ns_unit(values)
    if unit.name != "s":
        for cell in cells:
            if cell != numfmt.MISSING:
                assert abs(float(cell.split()[0])) < 1000, cell


def test_the_unit_follows_the_rounded_peak() -> None:
    assert numfmt.ns_column([999_999_600, 5_000_000]) == ["1.000 s", "0.005 s"]
    assert numfmt.ns_column([999_000, 12]) == ["999.000 µs", "0.012 µs"]
    assert numfmt.ns_column([12, 0]) == ["12 ns", "0 ns"]
    assert numfmt.ns_column([None]) == [numfmt.MISSING]


def test_small_nonzero_values_keep_a_significant_digit() -> None:
    assert numfmt.ns_column([1_000_000_000, 189]) == ["1.0000000 s", "0.0000002 s"]
    assert numfmt.ppm_column([100_500.1, 0.05]) == ["100500.100 ppm", "0.050 ppm"]
    assert numfmt.ppm_column([12.0, 0.0004]) == ["12.0000 ppm", "0.0004 ppm"]


def _summary(max_abs: list[float]) -> dict[str, object]:
    """A summary with one namespace per value (copied from a shipped shape, values replaced)."""
    entry = {
        "model": "timekeeper",
        "update": "lazy",
        "offset_utc_ns": {"max_abs": 0, "rms": 0},
        "offset_reference_ns": {"max_abs": 0},
        "freq_ppm": {"max_abs_deviation": 0.0},
        "realtime_backward_steps": 0,
        "accumulations": 1,
        "timers": {"fires": 0, "early_fires": 0, "rearms": 0,
                   "lateness_ns": {"p50": None, "p99": None}},
    }
    spaces = {}
    for i, v in enumerate(max_abs):
        e = copy.deepcopy(entry)
        e["offset_utc_ns"]["max_abs"] = v  # type: ignore[index]
        spaces[f"ns{i}"] = e
    return {"namespaces": spaces}


def test_summary_table_columns_share_a_unit() -> None:
    rows = table.rows(_summary([999_999_600.0, 1_500_000_000, 5_000_000]))
    column = [r[2] for r in rows]
    assert column == ["1.000 s", "1.500 s", "0.005 s"]


def test_sweep_table_columns_share_a_unit() -> None:
    headers = ["namespace", "max|off| UTC median", "max|freq dev| max"]
    cells = sweep_cells(headers, [["a", 999_999_600.0, 1.5], ["b", 2_000.0, float("nan")]])
    assert [c[1] for c in cells] == ["1.000000 s", "0.000002 s"]
    assert [c[2] for c in cells] == ["1.500 ppm", numfmt.MISSING]


RUN = """
[scenario]
name = "cells"
description = "a leap second, stepped and smeared"
until = 2017-01-01T00:00:30Z
sample_every = "1s"

[host]
start = 2016-12-31T23:58:00Z

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "step"

[[namespaces]]
name = "smear"
leap = "windows"
"""


def test_report_and_show_print_the_same_cells(tmp_path: Path) -> None:
    out = tmp_path / "run"
    execute(load_text(RUN), out)
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    rows = table.rows(summary)
    page = (out / "report.html").read_text("utf-8")
    cells = re.findall(r"<td>([^<]*)</td>", page)
    shown = subprocess.run(
        [sys.executable, "-m", "tk_core.cli", "show", str(out)],
        capture_output=True, text=True, check=True,
    ).stdout
    for row in rows:
        for cell in row[2:6]:
            assert cell in cells
            assert cell in shown
    for c in range(2, 5):
        assert len(_units([r[c] for r in rows])) == 1
