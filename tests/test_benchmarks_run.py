"""benchmarks/run_all.py runs and prints its table (shape only: no wall-clock assertions).

`--quick --only clock_gettime` measures the three same-instant read figures in a few seconds;
the test checks the markdown table and the JSON agree, every figure is there once, and its
ratio to time.clock_gettime_ns is a positive number — never how large it is.
`--quick --only timer_storm` runs benchmarks/bench_timer_storm.py's 10^3 and 10^4 storms: the
victim's lateness is simulated time, so its value is checked exactly; the rates only for shape.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "run_all.py"
HEADER = "| figure | measured | ratio to clock_gettime_ns | goal | met? |"

pytestmark = pytest.mark.benchmark


def run_all(tmp_path: Path, *args: str) -> tuple[str, Path, Path]:
    md, js = tmp_path / "table.md", tmp_path / "results.json"
    # the checkout after whatever PYTHONPATH already holds (the compiled build's, under
    # scripts/test.sh --compiled)
    path = [p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--markdown", str(md), "--json", str(js)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,  # a hang guard only
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, md, js


def table_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(HEADER)
    assert re.fullmatch(r"\|(---\|){5}", lines[start + 1])
    rows = [line for line in lines[start + 2:] if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_clock_gettime_only_quick(tmp_path: Path) -> None:
    stdout, md, js = run_all(tmp_path, "--quick", "--only", "clock_gettime")
    assert md.read_text("utf-8") == stdout
    rows = table_rows(stdout)
    names = [row[0] for row in rows]
    assert [kind for kind in ("lazy", "periodic", "offsets") if any(kind in n for n in names)] \
        == ["lazy", "periodic", "offsets"]
    assert len(rows) == 3 and all(len(row) == 5 for row in rows)
    for _, measured, ratio, goal, met in rows:
        assert re.fullmatch(r"\d+ ns/call", measured)
        assert float(ratio.rstrip("×").replace(",", "")) > 0
        assert goal == "≤ 2.5×" and met in ("yes", "no")
    results = json.loads(js.read_text("utf-8"))
    assert results["mode"] == "quick" and results["clock_gettime_ns_per_call"] > 0
    assert [f["group"] for f in results["figures"]] == ["clock_gettime"] * 3
    for fig, row in zip(results["figures"], rows, strict=True):
        assert fig["ratio"] > 0 and fig["value"] > 0 and fig["goal_ratio"] == 2.5
        assert fig["met"] == (fig["ratio"] <= 2.5) == (row[4] == "yes")
        assert fig["name"] == row[0]


def test_unknown_figure_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "nonsense"], capture_output=True, text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=120,
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr
    assert "Traceback" not in done.stderr


def test_timer_storm_only_quick(tmp_path: Path) -> None:
    stdout, md, js = run_all(tmp_path, "--quick", "--only", "timer_storm")
    assert md.read_text("utf-8") == stdout
    rows = table_rows(stdout)
    assert len(rows) == 4  # 10^3 and 10^4 hostile timers: lateness, then expiry rate
    results = json.loads(js.read_text("utf-8"))
    figures = results["figures"]
    assert [f["group"] for f in figures] == ["timer_storm"] * 4
    for late, rate, n in ((figures[0], figures[1], 1_000), (figures[2], figures[3], 10_000)):
        assert f"{n:,}" in late["name"] and f"{n:,}" in rate["name"]
        # lateness is simulated time, exact: fair within the bound, strict behind the storm
        assert late["value"] == late["goal_value"] == 2_000 and late["met"] is True
        strict = int(re.search(r"strict order: ([\d,]+) ns", late["detail"])[1].replace(",", ""))
        assert strict >= n * 1_000
        assert rate["value"] > 0 and rate["ratio"] > 0 and rate["met"] is None
    for row, fig in zip(rows, figures, strict=True):
        assert row[0] == fig["name"]


def test_ntp_runs_fixed_and_adaptive_scenarios() -> None:
    """The `ntp` figures poll at a fixed 2^6 s, the `ntp_adaptive` ones adapt within 2^6–2^10 s."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run_all as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from ntp.polling import check_range
    from tk_core.scenario import load_text

    for adaptive, polls in ((False, (6, 6)), (True, (6, 10))):
        loaded = load_text(bench.ntp_scenario("ntpd", 3, 100, adaptive=adaptive))
        specs = [spec for _, spec in loaded.resolved.namespaces]
        assert len(specs) == 3 and loaded.resolved.duration_ns == 100 * 10**9
        for spec in specs:
            assert spec.ntp is not None and spec.ntp.model == "ntpd"
            assert spec.ntp.poll_exp == 6
            assert check_range(spec.ntp.poll_exp, spec.ntp.minpoll, spec.ntp.maxpoll) == polls
    assert bench.NTP_SCENARIO.format(model="ntpd", clients=3, seconds=100) == \
        bench.ntp_scenario("ntpd", 3, 100)  # the fixed-poll text keeps its three fields
    assert {"ntp", "ntp_adaptive"} <= set(bench.FIGURES)


def test_compare_compiled_puts_both_builds_side_by_side(tmp_path: Path) -> None:
    import tk_compiled

    if tk_compiled.status() != "fresh":
        pytest.skip("no fresh compiled build: scripts/build-compiled.sh makes one")
    md = tmp_path / "compare.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare_compiled.py"), "--quick",
         "--only", "clock_gettime", "--markdown", str(md)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,  # a hang guard only
    )
    assert done.returncode == 0, done.stderr
    lines = md.read_text().splitlines()
    start = lines.index("| figure | pure | compiled | gain | ratio pure → compiled | goal |")
    rows = [line.strip("|").split("|") for line in lines[start + 2:] if line.startswith("|")]
    assert len(rows) == 3  # the three same-instant reads, each measured on both builds
    for row in rows:
        assert re.fullmatch(r" \d+ ns/call ", row[1]) and re.fullmatch(r" \d+ ns/call ", row[2])
        assert re.fullmatch(r" \d+\.\d\d× ", row[3])
