"""The smear-versus-step experiment: one leap second, one host, a namespace per policy.

`compare_leap_policies()` runs the leap (2016-12-31 by default) on one host whose namespaces
each follow one policy (`tk_core.policy.follow`) and measures, per namespace, what a
researcher asks: how far REALTIME strays from true (stepped) UTC and from Google's smeared
timescale, how far its frequency deviates, whether REALTIME ever went backwards and by how
much, whether MONOTONIC and TAI stay continuous, how the absolute REALTIME timers armed
around midnight fire (never early; how late in true time), and which adjtimex states were
seen.  Everything is exact until the very end, where results are turned into plain numbers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gmpy2 import mpq

from ntp import LeapEvent, LeapTable, LinearSmear, Step, Timex, date_to_unix
from ntp.smear import SHAPES, BoundSmear, NotInvertible

from .clockids import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI
from .clocksource import Clocksource
from .host import Host
from .namespace import TimekeeperNamespace
from .policy import Follower, follow
from .scenario.exact import ExactTracker
from .scenario.timescale import Timescale

NSEC = 1_000_000_000
DEFAULT_POLICIES = tuple(SHAPES)
TIMER_LABELS_S = (mpq(-2), mpq(-1), mpq(-1, 2), mpq(0), mpq(1, 2), mpq(1), mpq(2))
STATE_NAMES = {0: "TIME_OK", 1: "TIME_INS", 2: "TIME_DEL", 3: "TIME_OOP", 4: "TIME_WAIT",
               5: "TIME_ERROR"}


@dataclass
class TimerRecord:
    label_s: mpq  # seconds relative to 00:00:00 after the leap day (the REALTIME label)
    fired_true: mpq | None = None  # true Unix time of the firing
    realtime_at_fire: int | None = None
    state_at_fire: int | None = None


@dataclass
class Track:
    """Everything measured for one namespace during the run."""

    follower: Follower
    timers: list[TimerRecord] = field(default_factory=list)
    samples: list[tuple[mpq, int, int, int]] = field(default_factory=list)  # t, real, mono, tai
    states: list[int] = field(default_factory=list)


def leap_for(day: date | str, sign: int, table: LeapTable) -> LeapEvent:
    """The leap at the end of `day`: from the table, or announced hypothetically."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    after = date_to_unix(d)
    event = table.next_leap(after)
    if event is not None and event.day == d and event.sign == sign:
        return event
    hypothetical = table.with_leap(d, sign).next_leap(after)
    assert hypothetical is not None  # with_leap put one at the end of `d`, after `after`
    return hypothetical


def _arm_timers(ns: TimekeeperNamespace, leap: LeapEvent, track: Track, epoch: int) -> None:
    """Absolute REALTIME timers at each label around midnight; each records its firing."""
    for label in TIMER_LABELS_S:
        record = TimerRecord(label)
        track.timers.append(record)

        def fired(_timer: Any, _overrun: int, record: TimerRecord = record) -> None:
            record.fired_true = epoch + ns.host.true_time
            record.realtime_at_fire = ns.clock_gettime_ns(CLOCK_REALTIME)
            record.state_at_fire = ns.adjtimex(Timex())

        timer = ns.timer_create(CLOCK_REALTIME, fired)
        timer.settime(int((leap.unix + label) * NSEC), absolute=True)


def _sample(ns: TimekeeperNamespace, track: Track, t: mpq, *, state: bool) -> None:
    track.samples.append((t, ns.clock_gettime_ns(CLOCK_REALTIME),
                          ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_TAI)))
    if state:
        s = ns.adjtimex(Timex())
        if not track.states or track.states[-1] != s:
            track.states.append(s)


def compare_leap_policies(
    leap_day: date | str = "2016-12-31",
    policies: tuple[str, ...] = DEFAULT_POLICIES,
    *,
    sign: int = 1,
    seed: int = 0,
    hz: int = 250,
    error_ppm: int | mpq = 7,
    wander_ppm: int | mpq | str = "1/100",
    update_interval_s: int = 16,
    coarse_sample_s: int = 60,
    fine_window_s: int = 5,
    fine_step_ms: int = 50,
    table: LeapTable | None = None,
) -> LeapComparison:
    """Run the leap at the end of `leap_day` with one namespace per policy (see module doc)."""
    table = table or LeapTable.load()
    leap = leap_for(leap_day, sign, table)
    bounds = {p: SHAPES[p]().for_event(leap) for p in policies}
    start = int(min(b.start for b in bounds.values() if b.start < b.end) if any(
        b.start < b.end for b in bounds.values()) else leap.unix) - 3600
    end = int(max(b.end for b in bounds.values())) + 600
    cs = Clocksource(3_000_000_000, 64, error_ppm=error_ppm, wander_ppm=mpq(wander_ppm),
                     wander_interval_s=60, seed=seed, name="tsc")
    host = Host(clocksource=cs, hz=hz, realtime_ns=start * NSEC,
                tai_offset=leap.tai_minus_utc_before)
    # The offsets from UTC and the rates come from the scenario runner's exact tracker (one
    # code path for both), on a table that holds this leap even when it is hypothetical.
    known = table.next_leap(leap.unix - 1)
    if known is None or known.unix != leap.unix or known.sign != leap.sign:
        table = table.with_leap(leap.day, leap.sign)
    exact = ExactTracker(Timescale(start * NSEC, table), host)
    tracks: dict[str, Track] = {}
    for p in policies:
        ns = host.create_namespace(p)
        assert isinstance(ns, TimekeeperNamespace)
        tracks[p] = Track(follow(ns, p, leap=leap, epoch_unix=start,
                                 update_interval_s=update_interval_s))
        exact.add(ns)
        _arm_timers(ns, leap, tracks[p], start)
    _run(host, tracks, start, end, leap, coarse_sample_s, fine_window_s, fine_step_ms)
    exact.finish(host.true_time)
    return LeapComparison(leap, start, end, seed, _results(tracks, leap, bounds, exact))


def _exact_metrics(exact: ExactTracker, name: str) -> dict[str, Any]:
    """The sample-free figures (see tk_core/scenario/exact.py), in this module's units."""
    found = exact.summary(name)
    assert found is not None
    utc = found["utc"]
    return {
        "max_abs_offset_utc_ms": float(utc["max_abs"]) / 1e6,
        "max_abs_offset_utc_at": utc["max_abs_at"],
        "rms_offset_utc_ms": math.sqrt(float(utc["mean_square"])) / 1e6,
        "time_above_ns": {k: float(v) for k, v in utc["time_above_ns"].items()},
        "max_freq_deviation_ppm": float(found["rate"]["max_abs_deviation_ppm"]),
    }


def _run(host: Host, tracks: dict[str, Track], start: int, end: int, leap: LeapEvent,
         coarse_s: int, fine_window_s: int, fine_step_ms: int) -> None:
    fine_lo = leap.unix - fine_window_s - start
    fine_hi = leap.unix + fine_window_s - start
    points = set(range(0, end - start + 1, coarse_s))
    points |= {mpq(fine_lo * 1000 + k * fine_step_ms, 1000)
               for k in range((fine_hi - fine_lo) * 1000 // fine_step_ms + 1)}
    for t in sorted(mpq(p) for p in points):
        host.run_until(t * NSEC)
        fine = fine_lo <= t <= fine_hi
        for track in tracks.values():
            _sample(track.follower.ns, track, start + t, state=fine)


def _results(tracks: dict[str, Track], leap: LeapEvent, bounds: dict[str, BoundSmear],
             exact: ExactTracker) -> dict[str, dict[str, Any]]:
    google = LinearSmear.google_aws().for_event(leap)
    return {name: _exact_metrics(exact, name) | _metrics(track, google, bounds[name])
            for name, track in tracks.items()}


def _stats(errors: list[mpq]) -> tuple[float, float]:
    worst = max(abs(e) for e in errors)
    rms = math.sqrt(float(sum((e * e for e in errors), mpq(0)) / len(errors)))
    return float(worst), rms


def _metrics(track: Track, google: BoundSmear, own: BoundSmear) -> dict[str, Any]:
    """What the samples measure: the Google-smear offsets, steps back, TAI, timers, states."""
    s = track.samples
    smear_err = [real - google.smeared(t) * NSEC for t, real, _, _ in s]
    pairs = list(itertools.pairwise(s))
    back = [a[1] - b[1] for a, b in pairs if b[1] < a[1]]
    tai_jump = [abs((b[3] - a[3]) - (b[2] - a[2])) for a, b in pairs]
    max_sm, rms_sm = _stats(smear_err)
    timers = [_timer_row(r, own) for r in track.timers]
    return {
        "max_abs_offset_google_smear_ms": max_sm / 1e6,
        "rms_offset_google_smear_ms": rms_sm / 1e6,
        "realtime_went_backwards": bool(back),
        "max_realtime_backwards_ms": (max(back) / 1e6) if back else 0.0,
        "monotonic_backwards": any(b[2] < a[2] for a, b in pairs),
        "tai_minus_monotonic_max_jump_ns": int(max(tai_jump)),
        "timers_early": sum(1 for t in timers if t["early"]),
        "timers_not_fired": sum(1 for t in timers if not t["fired"]),
        "timer_lateness_ms": [t["late_ms"] for t in timers],
        "timer_vs_policy_ms": [t["vs_policy_ms"] for t in timers],
        "timer_states": [t.get("state") for t in timers],
        "adjtimex_states": [STATE_NAMES.get(x, str(x)) for x in track.states],
        "tracking_error_max_ns": float(track.follower.max_tracking_error_ns()),
        "warnings": list(track.follower.warnings),
    }


def _state_name(state: int | None) -> str:
    """adjtimex's return value by name ("None" when it was not sampled)."""
    return "None" if state is None else STATE_NAMES.get(state, str(state))


def _timer_row(record: TimerRecord, own: BoundSmear) -> dict[str, Any]:
    """Early: REALTIME below the label when it fired.  Late: how far past the label the
    namespace's REALTIME was at the firing (≈ true ns), and separately how far the firing was
    from the instant the exact policy timescale reaches the label (includes tracking error)."""
    label_unix = own.leap + record.label_s
    if record.fired_true is None or record.realtime_at_fire is None:
        return {"label_s": float(record.label_s), "fired": False, "early": False,
                "late_ms": None, "vs_policy_ms": None}
    past = record.realtime_at_fire - label_unix * NSEC
    try:
        ideal = (own.true_at_label(record.label_s) if isinstance(own.shape, Step)
                 else own.inverse(label_unix))
        vs_policy = float((record.fired_true - ideal) * 1000)
    except NotInvertible:
        vs_policy = None
    return {"label_s": float(record.label_s), "fired": True, "early": past < 0,
            "late_ms": float(past) / 1e6, "vs_policy_ms": vs_policy,
            "state": _state_name(record.state_at_fire)}


@dataclass
class LeapComparison:
    """The result: per-policy metrics (plain numbers) plus what was run."""

    leap: LeapEvent
    start_unix: int
    end_unix: int
    seed: int
    results: dict[str, dict[str, Any]]

    def table(self) -> str:
        """A plain-text summary table, one row per policy."""
        cols = [("policy", 18), ("max|UTC| ms", 12), ("rms UTC ms", 11), ("max|smear| ms", 14),
                ("max ppm", 9), ("back ms", 9), ("early", 6), ("max late ms", 12)]
        lines = ["".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in enumerate(cols))]
        for name, r in self.results.items():
            late = [x for x in r["timer_lateness_ms"] if x is not None]
            cells = [name, f"{r['max_abs_offset_utc_ms']:.3f}", f"{r['rms_offset_utc_ms']:.3f}",
                     f"{r['max_abs_offset_google_smear_ms']:.3f}",
                     f"{r['max_freq_deviation_ppm']:.2f}", f"{r['max_realtime_backwards_ms']:.1f}",
                     str(r["timers_early"]), f"{max(late):.3f}" if late else "-"]
            lines.append("".join(f"{c:>{w}}" if i else f"{c:<{w}}"
                                 for i, (c, (_, w)) in enumerate(zip(cells, cols, strict=True))))
        return "\n".join(lines)


__all__ = ["DEFAULT_POLICIES", "LeapComparison", "compare_leap_policies"]
