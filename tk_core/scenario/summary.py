"""summary.json's content: per-namespace metrics and host statistics, deterministic.

Everything here is a function of the scenario and its seed — no wall time, no paths but
the leap table's file, no dates of the run — so two runs of the same scenario give
byte-identical summaries.  Exact
values become JSON numbers only here, at the edge.
"""

from __future__ import annotations

import json
import math
from typing import Any

from gmpy2 import mpq

from ..host import Host
from ..namespace import TimekeeperNamespace
from .checks import Resolved
from .recorder import Recorder, Track
from .units import NSEC, format_duration, format_utc

SUMMARY_VERSION = 1


def render(data: dict[str, Any]) -> str:
    """summary.json's exact text (timing.json and sweep points use the same rendering)."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def _num(q: Any, digits: int = 3) -> float | int | None:
    """An exact value as a JSON number, rounded to `digits` decimals (ints stay ints)."""
    if q is None:
        return None
    if isinstance(q, int):
        return q
    if mpq(q).denominator == 1:
        return int(mpq(q))
    return round(float(q), digits)


def percentile(sorted_values: list[int], p: int) -> int | None:
    """Nearest-rank percentile (an observed value, so exact and reproducible)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p * len(sorted_values) / 100))
    return sorted_values[rank - 1]


def _timers(track: Track, host: Host) -> dict[str, Any]:
    stats = host.stats.per_namespace.get(track.name)
    late = sorted(track.lateness)
    return {
        "fires": len(late),
        "early_fires": track.early_fires,
        "overruns": track.overruns,
        "lateness_ns": {f"p{p}": percentile(late, p) for p in (50, 90, 99)}
        | {"max": late[-1] if late else None},
        "rearms": getattr(stats, "rearms", 0),
        "early_rechecks": getattr(stats, "early_rechecks", 0),
        "expiries": getattr(stats, "expiries", 0),
    }


def _namespace(
    track: Track, host: Host, r: Resolved, exact: dict[str, Any] | None
) -> dict[str, Any]:
    ns = host.namespaces[track.name]
    final = track.final
    out: dict[str, Any] = {
        "model": ns.model,
        "group": track.group,
        "recorded": track.record,
        "samples": track.n,
    }
    if exact is None:  # a namespace the exact tracker never saw: sample-based, said so
        out |= _sampled(track, r)
    else:
        out |= {
            "offset_utc_ns": _exact_offset(exact["utc"]),
            "offset_reference_ns": {"reference": r.timescale.reference}
            | (_exact_offset(exact["ref"]) if "ref" in exact else _sampled_reference(track)),
            "freq_ppm": {
                "max_abs_deviation": _num(exact["rate"]["max_abs_deviation_ppm"], 6),
                "final": _num(exact["rate"]["final_ppm"], 6),
                "ntp_final": _num(final.get("ntp_freq"), 6),
            },
            "realtime_backward_steps": exact["realtime_backward_steps"],
        }
    out |= {
        "monotonic_backward_steps": track.monotonic_back,
        "timers": _timers(track, host),
    }
    if isinstance(ns, TimekeeperNamespace):
        out |= {
            "update": ns.update,
            "dilation": str(ns.dilation),
            "accumulations": ns.advance_calls,
            "mult": ns.tk.mult,
        }
    return out


def _exact_offset(line: dict[str, Any]) -> dict[str, Any]:
    """An exact offset line's metrics (see scenario/exact.py): no sample enters them."""
    return {
        "method": "exact",
        "max_abs": _num(line["max_abs"]),
        "max_abs_at": line["max_abs_at"],
        "rms": _num(math.sqrt(float(line["mean_square"]))),
        "final": _num(line["final"]),
        "time_above_ns": {k: _num(v) for k, v in line["time_above_ns"].items()},
    }


def _sampled_reference(track: Track) -> dict[str, Any]:
    n = max(track.n, 1)
    return {
        "method": "samples",
        "max_abs": _num(track.max_ref),
        "rms": _num(math.sqrt(float(track.sum_sq_ref / n))),
        "final": _num(track.final.get("offset_ref")),
    }


def _sampled(track: Track, r: Resolved) -> dict[str, Any]:
    n = max(track.n, 1)
    final = track.final
    return {
        "offset_utc_ns": {
            "method": "samples",
            "max_abs": _num(track.max_utc),
            "rms": _num(math.sqrt(float(track.sum_sq_utc / n))),
            "final": _num(final.get("offset_utc")),
        },
        "offset_reference_ns": {"reference": r.timescale.reference} | _sampled_reference(track),
        "freq_ppm": {
            "max_abs_deviation": _num(track.max_freq, 6),
            "final": _num(final.get("freq"), 6),
            "ntp_final": _num(final.get("ntp_freq"), 6),
        },
        "realtime_backward_steps": track.realtime_back,
    }


def _host(host: Host) -> dict[str, Any]:
    s = host.stats
    return {
        "clocksource": host.clocksource.describe(),
        "hz": host.hz,
        "nohz": host.nohz,
        "wrap_guard": host.wrap_guard,
        "interrupts": s.interrupts,
        "guard_wakes": s.guard_wakes,
        "ticks": s.ticks,
        "lazy_hooks": s.lazy_hooks,
        "clock_was_set": s.clock_was_set,
        "timer_expiries": s.expiries,
        "timer_early_rechecks": s.early_rechecks,
        "timer_rearms": s.rearms,
        "hang_detections": s.hang_detections,
        "lost_cycles": host.lost_cycles(),
    }


def _follower(follower: Any) -> dict[str, Any]:
    """How well a smear follower kept to its policy, and what it could not do."""
    return {
        "policy": follower.policy,
        "tracking_error_max_ns": _num(follower.max_tracking_error_ns()),
        "rate_clamped": follower.clamped,
        "warnings": list(follower.warnings),
    }


def leap_table_info(r: Resolved) -> dict[str, Any]:
    """Which leap table the run used, how fresh it was, and whether the run outlived it."""
    table = r.timescale.table
    run = r.scenario.scenario
    return {
        "requested": run.leap_table,
        "kind": "shipped" if table.shipped else "file",
        "source": table.source,
        "path": table.path,
        "expires": table.expires_date.isoformat(),
        "last_update": table.last_update_date.isoformat(),
        "expiry_policy": run.leap_expiry,
        "expired_at_end": r.timescale.expired_by(r.duration_ns),
    }


def _expiry_warning(r: Resolved, info: dict[str, Any]) -> list[str]:
    if not info["expired_at_end"]:
        return []
    end = format_utc(r.timescale.utc_ns(r.duration_ns))
    return [
        f"leap table {info['source']} expired on {info['expires']}, before the run's end "
        f"({end}): leap seconds announced after it are unknown, so the run assumed none"
    ]


def summarize(
    r: Resolved,
    host: Host,
    rec: Recorder,
    failures: list[str],
    followers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The deterministic summary of a finished run."""
    run = r.scenario.scenario
    exact = rec.exact
    if exact is not None:
        exact.finish(host.true_time)
    spaces = {
        name: _namespace(t, host, r, exact.summary(name) if exact is not None else None)
        for name, t in rec.tracks.items()
    }
    table = leap_table_info(r)
    warnings = _expiry_warning(r, table)
    for name, follower in (followers or {}).items():
        if name in spaces:
            spaces[name]["leap_policy"] = _follower(follower)
            warnings += [w if w.startswith(f"{name}:") else f"{name}: {w}"
                         for w in follower.warnings]
    problems = [
        f"{name}: {v['timers']['early_fires']} timer(s) fired early"
        for name, v in spaces.items()
        if v["timers"]["early_fires"]
    ] + [
        f"{name}: MONOTONIC went backwards {v['monotonic_backward_steps']} time(s)"
        for name, v in spaces.items()
        if v["monotonic_backward_steps"]
    ]
    return {
        "summary_version": SUMMARY_VERSION,
        "scenario": run.name,
        "description": run.description,
        "seed": run.seed,
        "start_utc": format_utc(r.scenario.host.start),
        "duration": format_duration(r.duration_ns),
        "simulated_s": r.duration_ns / NSEC,
        "sample_every": format_duration(r.sample_every_ns),
        "samples": rec.samples,
        "reference": r.timescale.reference,
        "leap_table": table,
        "warnings": warnings,
        "checks": {
            "ok": not problems and not failures,
            "problems": problems,
            "event_failures": list(failures),
        },
        "host": _host(host),
        "namespaces": spaces,
    }
