"""Exact run metrics: independent of the sample interval, and equal to the clocks themselves.

The exact tracker (tk_core/scenario/exact.py) builds each namespace's offset from UTC as a
piecewise-linear function of true time from the engine's own change points.  Two properties
pin it down: at every sample its value equals the sampled clock minus POSIX UTC (within the
kernel's read truncation), and a summary does not change when the sample interval does.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from gmpy2 import mpq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tk_core.scenario import load_scenario, load_text, run_scenario
from tk_core.scenario.exact import Line, _time_beyond
from tk_core.scenario.recorder import COLUMNS, Recorder

#: The kernel truncates every read to whole ns, and the counter to whole cycles.
READ_SLACK_NS = 2

MIXED = """
[scenario]
name = "mixed"
description = "every kind of change point around the 2016 leap"
until = 2017-01-01T00:06:00Z
sample_every = "{every}"
seed = 7

[host]
start = 2016-12-31T23:55:00Z
hz = 250

[host.clocksource]
freq_hz = "3GHz"
error_ppm = 30
wander_ppm = "0.05"
wander_interval = "8s"

[[namespaces]]
name = "step"

[[namespaces]]
name = "periodic"
update = "periodic"

[[namespaces]]
name = "slow"
dilation = "1001/1000"
leap = "ignore"

[[namespaces]]
name = "smear"
leap = "utc-sls"

[[namespaces]]
name = "chrony"
ntp = {{ model = "chrony", poll_exp = 3, path = {{ jitter = "50us" }} }}

[[namespaces]]
name = "fixed"
model = "offsets"
offsets = {{ monotonic = "1d" }}

[[events]]
at = "30s"
action = "adjtimex"
namespace = "periodic"
modes = ["ADJ_FREQUENCY"]
freq_ppm = -30

[[events]]
at = "1min"
action = "adjtimex"
namespace = "step"
modes = ["ADJ_OFFSET", "ADJ_STATUS"]
status = ["STA_PLL"]
offset = "200ms"

[[events]]
at = "2min"
action = "settime"
namespace = "slow"
by = "-3s"

[[events]]
at = "3min"
action = "setoffset"
namespace = "periodic"
by = "250ms"

[[events]]
at = "8min"
action = "suspend"
duration = "30s"
"""


def mixed(every: str) -> str:
    return MIXED.format(every=every)


def _without_sampling(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary minus what only says how it was sampled."""
    out = json.loads(json.dumps(summary))
    for key in ("sample_every", "samples"):
        out.pop(key)
    for ns in out["namespaces"].values():
        ns.pop("samples")
        if ns["offset_reference_ns"]["method"] == "samples":
            ns.pop("offset_reference_ns")
    return out


def test_the_exact_line_is_the_sampled_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    gaps: list[tuple[str, int, mpq]] = []
    original = Recorder._observe

    def observe(self: Recorder, ns: Any, track: Any, cycles: int, true_ns: int,
                utc_fold: tuple[int, int], ref: mpq) -> list[str]:
        row = original(self, ns, track, cycles, true_ns, utc_fold, ref)
        assert self.exact is not None
        gaps.append((ns.name, true_ns, self.exact.offset_now(ns.name) - int(row[9])))
        return row

    monkeypatch.setattr(Recorder, "_observe", observe)
    run_scenario(load_text(mixed("7s")))
    assert len(gaps) > 7 * 80
    worst = max(gaps, key=lambda g: abs(g[2]))
    assert abs(worst[2]) <= READ_SLACK_NS, worst


@functools.cache
def base_summary() -> dict[str, Any]:
    return run_scenario(load_text(mixed("60s"))).summary


@pytest.mark.parametrize("every", ["1s", "4min"])
def test_summaries_do_not_depend_on_the_sample_interval(every: str) -> None:
    base = base_summary()
    other = run_scenario(load_text(mixed(every))).summary
    assert _without_sampling(other) == _without_sampling(base)


@pytest.mark.soak
def test_the_shipped_leap_demo_summary_is_sample_independent() -> None:
    path = "scenarios/leap-2016-smear-vs-step.toml"
    one = run_scenario(load_scenario(path)).summary
    two = run_scenario(load_scenario(path, sets=["scenario.sample_every=\"7s\""])).summary
    assert _without_sampling(one) == _without_sampling(two)


def test_a_fast_slew_is_seen_whatever_the_samples() -> None:
    """chrony's leap slew lasts about 12 s: hourly samples cannot see it, the exact line does."""
    text = mixed("1h").replace('leap = "utc-sls"', 'leap = "chrony-slew"')
    smear = run_scenario(load_text(text)).summary["namespaces"]["smear"]
    utc = smear["offset_utc_ns"]
    assert utc["method"] == "exact"
    assert utc["max_abs"] >= 999_000_000
    # the slewing clock's label passes midnight when UTC's reaches 23:59:60 (± its offset)
    assert utc["max_abs_at"].startswith(("2016-12-31T23:59:60", "2016-12-31T23:59:59.9999"))
    assert 0 < utc["time_above_ns"]["100ms"] < 20 * 10**9
    assert smear["freq_ppm"]["max_abs_deviation"] > 80_000


def test_the_step_namespace_reads_utc_at_the_end_of_the_leap_second() -> None:
    """At true 00:00:00.000, still TIME_OOP, the stepped clock reads UTC: offset 0."""
    text = """
[scenario]
name = "edge"
description = "the step namespace around the 2016 leap"
until = 2017-01-01T00:00:02Z
sample_every = "250ms"

[host]
start = 2016-12-31T23:59:50Z

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "step"
"""
    rows: list[list[str]] = []
    loaded = load_text(text)
    run_scenario(loaded, sink=rows.append)
    at_midnight = [r for r in rows if r[2] == "step" and r[1] == "2017-01-01T00:00:00Z"]
    assert at_midnight and all(int(r[9]) == 0 for r in at_midnight)
    label = COLUMNS.index("utc_label")
    in_leap = [r for r in rows if r[2] == "step" and r[label].startswith("2016-12-31T23:59:60")]
    assert in_leap and all(abs(int(r[9])) <= 1 for r in in_leap)


def test_offsets_namespaces_report_the_root_line() -> None:
    spaces = base_summary()["namespaces"]
    assert spaces["fixed"]["offset_utc_ns"] == spaces["root"]["offset_utc_ns"]


# -- the piece arithmetic ---------------------------------------------------------------------

values = st.integers(-3 * 10**9, 3 * 10**9)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(values, values, st.integers(1, 10**6), st.integers(1, 2 * 10**9))
def test_time_beyond_a_threshold_matches_a_fine_grid(a: int, b: int, d_us: int, theta: int) -> None:
    d = mpq(d_us, 10**6)
    lo, hi = min(a, b), max(a, b)
    exact = _time_beyond(mpq(lo), mpq(hi), d, theta)
    n = 2000
    grid = sum(1 for i in range(n) if abs(a + (b - a) * mpq(2 * i + 1, 2 * n)) > theta)
    assert abs(exact - d * mpq(grid, n)) <= d * mpq(2, n)


@given(values, values, st.integers(1, 10**6))
def test_a_split_piece_has_the_same_sums(a: int, b: int, d_us: int) -> None:
    d = mpq(d_us, 10**6)
    whole, split = (Line("utc", mpq(0), mpq(a), mpq(1), mpq(1), mpq(0)) for _ in range(2))
    for line in (whole, split):
        line.slope = (mpq(b) - a) / d
        line.extreme()
    whole.extend(d)
    split.extend(d / 3)
    split.extend(d)
    assert (whole.sum_sq, whole.above, whole.max_abs, whole.y0) == (
        split.sum_sq, split.above, split.max_abs, split.y0)


def test_the_utc_reference_shares_the_utc_line() -> None:
    """Reference 'utc': one line serves both keys, and its metrics are those of a run whose
    reference line is a separate one (the utc line does not depend on what else is tracked)."""
    shared = base_summary()["namespaces"]
    text = mixed("60s").replace("seed = 7", 'seed = 7\nreference = "no-leap"', 1)
    separate = run_scenario(load_text(text)).summary["namespaces"]
    exact = [name for name, v in shared.items() if v["offset_utc_ns"]["method"] == "exact"]
    assert len(exact) >= 4
    for name in exact:
        ref = dict(shared[name]["offset_reference_ns"])
        assert ref.pop("reference") == "utc"
        assert ref == shared[name]["offset_utc_ns"] == separate[name]["offset_utc_ns"]
        assert separate[name]["offset_reference_ns"]["reference"] == "no-leap"


# -- the fast piece arithmetic against the plain formulas ------------------------------------
#
# `Line.extend`, `_time_beyond` and the tracker's rate cache take shortcuts (sums kept three
# times over, no division for a piece wholly beyond or within a threshold, a dithering mult's
# rates reused).  Rationals are exact, so the shortcuts must give the very same values as the
# plain formulas below, written the obvious way; these tests hold them to that.


def plain_time_beyond(lo: mpq, hi: mpq, d: mpq, theta: int) -> mpq:
    if -theta <= lo and hi <= theta:
        return mpq(0)
    if lo == hi:
        return d
    span = hi - lo
    up = min(max((hi - theta) / span, mpq(0)), mpq(1))
    down = min(max((-theta - lo) / span, mpq(0)), mpq(1))
    return d * (up + down)


#: each line's ∫y² as `plain_extend` sums it, by the line's id (a compiled `Line` has no
#: room for an attribute of the test's own)
PLAIN_SUM_SQ: dict[int, mpq] = {}


def plain_extend(line: Line, t: mpq) -> None:
    """The piece's sums one by one: ∫y² with its /3 per piece, every threshold examined."""
    from tk_core.scenario.exact import THRESHOLDS_NS

    d = t - line.t0
    if d <= 0:
        return
    ya, yb = line.y0, line.y0 + line.slope * d
    plain_sum = PLAIN_SUM_SQ.get(id(line), mpq(0)) + d * (ya * ya + ya * yb + yb * yb) / 3
    PLAIN_SUM_SQ[id(line)] = plain_sum
    line.sum_sq3 = 3 * plain_sum
    lo, hi = min(ya, yb), max(ya, yb)
    for i, theta in enumerate(THRESHOLDS_NS):
        line.above[i] += plain_time_beyond(lo, hi, d, theta)
    line.t0, line.y0 = t, yb
    if abs(line.y0) > line.max_abs:
        line.max_abs, line.max_at = abs(line.y0), line.t0


offsets = st.integers(-3 * 10**9, 3 * 10**9) | st.sampled_from(
    [0, 1_000, -1_000, 1_000_000, -1_000_000, 100_000_000, -100_000_000])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(offsets, offsets, st.integers(1, 10**6), st.sampled_from([1_000, 1_000_000, 100_000_000])
       | st.integers(0, 2 * 10**9))
def test_time_beyond_equals_the_plain_formula(a: int, b: int, d_us: int, theta: int) -> None:
    d = mpq(d_us, 10**6)
    lo, hi = mpq(min(a, b)), mpq(max(a, b))
    assert _time_beyond(lo, hi, d, theta) == plain_time_beyond(lo, hi, d, theta)


pieces = st.lists(
    st.tuples(st.integers(1, 10**7),  # piece length, µs
              st.integers(-10**5, 10**5),  # slope, ns per s (a ±100 ppm clock)
              st.sampled_from([0, 0, 0, 1, -1, 10**3, -10**6, 10**9])),  # step after it, ns
    min_size=1, max_size=30)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(offsets, pieces)
def test_a_line_of_pieces_matches_the_plain_formulas(y0: int, spec: list[tuple[int, int, int]]
                                                     ) -> None:
    fast, plain = (Line("utc", mpq(0), mpq(y0), mpq(1), mpq(1), mpq(0)) for _ in range(2))
    PLAIN_SUM_SQ.clear()
    t = mpq(0)
    for length_us, slope, step in spec:
        t += mpq(length_us, 10**6)
        for line in (fast, plain):
            line.slope = mpq(slope)
        fast.extend(t)
        plain_extend(plain, t)
        for line in (fast, plain):
            line.y0 += step
            line.extreme()
    assert (fast.sum_sq, fast.above, fast.max_abs, fast.max_at, fast.y0, fast.t0) == (
        plain.sum_sq, plain.above, plain.max_abs, plain.max_at, plain.y0, plain.t0)


def lines_of_a_run(text: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every tracked line's exact state at the end of a run of `text`."""
    from tk_core.scenario import exact

    trackers: list[exact.ExactTracker] = []
    original = exact.ExactTracker.__init__

    def recording(self: exact.ExactTracker, *args: Any) -> None:
        original(self, *args)
        trackers.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact.ExactTracker, "__init__", recording)
        run_scenario(load_text(text))
    (tracker,) = trackers
    return {name: [(line.sum_sq, line.above, line.max_abs, line.max_at, line.y0, line.t0,
                    line.slope, line.rate_ppm, line.max_rate) for line in lines.values()]
            for name, lines in tracker.lines.items()}


@pytest.mark.pure_only(reason="swaps methods of the tracker, which compiled callers bypass")
def test_a_run_tracks_the_same_exact_lines_as_the_plain_formulas(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole mixed run (leap, smear, dilation, a wandering counter, NTP and periodic
    namespaces): shortcuts on, then the plain formulas with no rate cache; every sum equal."""
    from tk_core.scenario import exact

    text = mixed("1min")
    fast = lines_of_a_run(text)

    def uncached(self: exact.ExactTracker, name: str, mult: int, shift: int, hz: mpq,
                 dilation: mpq) -> tuple[mpq, mpq, mpq]:
        per_cycle = mpq(mult, 1 << shift)
        return (per_cycle, *exact.slope_and_rate(per_cycle, hz, dilation))

    PLAIN_SUM_SQ.clear()  # the run's lines are alive while it runs: their ids are unique
    monkeypatch.setattr(exact.Line, "extend", plain_extend)
    monkeypatch.setattr(exact.ExactTracker, "_rates", uncached)
    assert lines_of_a_run(text) == fast
