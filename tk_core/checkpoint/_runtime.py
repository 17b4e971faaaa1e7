"""The host's interrupt machinery: the programmed clockevent, min_delta escalation, lateness.

Re-programming the device at restore time is not a continuation: programmed earlier, a
near deadline was clamped to min_delta from *that* instant, so the original fires at a
cycle a restored host computing afresh would not (a coarse clock a tick apart, different
statistics, and with interrupt costs different fine clocks).  So the checkpoint carries
what `tick_program_event` left behind — the wanted key, the true instant of the next
interrupt, the device's expiry and counters (its min_delta, escalated or not, is in the
config options: a restored device starts from it) — plus the
hang state, the run floor (`run_until` carried past its target by interrupt costs) and the
lateness histogram.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gmpy2 import mpq

from ..clockevent import ClockEventStats
from ..host import Host
from ..lateness import LatenessHistogram
from ._format import CheckpointError, _get, _q, _rational
from ._validate import U64, fail, int_in

_LATENESS_BUCKETS = 65


def runtime_state(host: Host) -> dict[str, Any]:
    """What the interrupt loop and the device hold between interrupts."""
    if host._in_irq:
        raise CheckpointError(
            "cannot checkpoint from inside a host interrupt (a timer callback): checkpoint "
            "between runs, as CRIU dumps a frozen task"
        )
    dev = host.clockevent
    hist = host.lateness
    return {
        "want": host._want,
        "next_t": None if host._next_t is None else _q(host._next_t),
        "floor": None if host._floor is None else _q(host._floor),
        "hang_detected": host.hang_detected,
        "clockevent": {
            "next_event": dev.next_event,
            "stats": dataclasses.asdict(dev.stats),
        },
        "lateness": None if hist is None else {
            "buckets": list(hist.buckets), "count": hist.count, "total_ns": hist.total_ns,
            "max_ns": hist.max_ns,
        },
    }


def _optional_int(d: dict[str, Any], key: str, path: str) -> int | None:
    if key not in d:
        raise CheckpointError(f"checkpoint field {path}.{key} is missing")
    return None if d[key] is None else int_in(d, key, path, *U64)


def _optional_time(d: dict[str, Any], key: str, path: str) -> mpq | None:
    if key not in d:
        raise CheckpointError(f"checkpoint field {path}.{key} is missing")
    if d[key] is None:
        return None
    value = _rational(d, key, path)
    if value < 0:
        raise fail(f"{path}.{key}", "a true time >= 0 s (or null)", d[key])
    return value


def restore_runtime(host: Host, d: Any) -> None:
    """Load a checked runtime state (replaces the fresh `_program` of a version-1 restore)."""
    path = "state.runtime"
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    want = _optional_int(d, "want", path)
    next_t = _optional_time(d, "next_t", path)
    floor = _optional_time(d, "floor", path)
    if (want is None) != (next_t is None):
        raise fail(f"{path}.next_t", "null exactly when want is null (nothing programmed)",
                   d["next_t"])
    if floor is not None and floor >= host._now:
        raise fail(f"{path}.floor", "a run target before the true time (or null)", d["floor"])
    hang = _get(d, "hang_detected", bool, path)
    _restore_device(host, _get(d, "clockevent", dict, path), f"{path}.clockevent")
    host.lateness = _lateness(host, d.get("lateness"), f"{path}.lateness")
    host._want, host._next_t, host._floor, host.hang_detected = want, next_t, floor, hang


def _restore_device(host: Host, d: dict[str, Any], path: str) -> None:
    dev = host.clockevent
    next_event = _optional_int(d, "next_event", path)
    stats = _get(d, "stats", dict, path)
    names = [f.name for f in dataclasses.fields(ClockEventStats)]
    extra = sorted(set(stats) - set(names))
    if extra:
        raise fail(f"{path}.stats", "only the fields " + ", ".join(names), extra)
    counts = {k: int_in(stats, k, f"{path}.stats", *U64) for k in names}
    dev.next_event = next_event
    dev.stats = ClockEventStats(**counts)


def _lateness(host: Host, d: Any, path: str) -> LatenessHistogram | None:
    if (d is None) != (host.lateness is None):
        want = "null (record_lateness is off)" if host.lateness is None else "a histogram"
        raise fail(path, want, type(d).__name__)
    if d is None:
        return None
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    buckets = _get(d, "buckets", list, path)
    if len(buckets) != _LATENESS_BUCKETS or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= U64[1] for b in buckets
    ):
        raise fail(f"{path}.buckets", f"{_LATENESS_BUCKETS} counts in 0..2^64-1", show=False)
    hist = LatenessHistogram()
    hist.buckets = list(buckets)
    hist.count = int_in(d, "count", path, sum(buckets), sum(buckets),
                        f"the sum of the buckets ({sum(buckets)})")
    hist.total_ns = int_in(d, "total_ns", path, 0, (1 << 127) - 1)
    top = max((k for k, b in enumerate(buckets) if b), default=0)
    lo = 0 if top == 0 else 1 << (top - 1)
    hi = (1 << top) - 1 if top < _LATENESS_BUCKETS - 1 else (1 << 127) - 1
    hist.max_ns = int_in(d, "max_ns", path, lo, hi, f"a maximum in the top bucket ({lo}..{hi})")
    return hist
