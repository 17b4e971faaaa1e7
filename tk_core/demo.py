"""The quickstart demo: one host, three namespaces, one simulated day.

* ``root``      — the host's own timekeeper over a 3 GHz TSC that runs 12 ppm fast;
* ``disciplined`` — its own timekeeper; an NTP daemon has set ADJ_FREQUENCY −12 ppm, so its
  seconds match true seconds while root's are 12 ppm short;
* ``dilated``   — its own timekeeper with dilation 2: each of its seconds lasts two true
  seconds (a network emulator's slowed-down guest);
* ``container`` — the Linux-merged model: host REALTIME, MONOTONIC shifted by 10 days.

It prints each namespace's clocks against true UTC, the timekeeper internals and the host's
statistics, and writes the same as JSON to ``OUT/summary.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gmpy2 import mpq

from ntp import ADJ_FREQUENCY, Timex

from .clockids import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
)
from .clocksource import Clocksource
from .host import Host
from .namespace import TimekeeperNamespace

NSEC = 1_000_000_000
START = 1_483_142_400 * NSEC  # 2016-12-31T00:00:00Z
DAY = 86_400 * NSEC


def iso(ns: int) -> str:
    sec, frac = divmod(ns, NSEC)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}"


def build_host() -> Host:
    tsc = Clocksource(3_000_000_000, 64, error_ppm=12, name="tsc")
    host = Host(clocksource=tsc, hz=1000, realtime_ns=START, monotonic_ns=3600 * NSEC)
    disciplined = host.create_namespace("disciplined")
    disciplined.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=-12 << 16))
    host.create_namespace("dilated", dilation=2)
    container = host.create_namespace("container", model="offsets")
    container.set_offsets(monotonic_ns=10 * DAY)
    return host


def snapshot(host: Host) -> list[dict[str, Any]]:
    true_utc = START + host.true_ns
    rows = []
    for ns in host.namespaces.values():
        real = ns.clock_gettime_ns(CLOCK_REALTIME)
        row: dict[str, Any] = {
            "namespace": ns.name,
            "model": ns.model,
            "realtime": iso(real),
            "offset_from_true_utc_ms": float(mpq(real - true_utc, 1_000_000)),
            "monotonic_ns": ns.clock_gettime_ns(CLOCK_MONOTONIC),
            "boottime_ns": ns.clock_gettime_ns(CLOCK_BOOTTIME),
            "raw_ns": ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW),
            "tai": iso(ns.clock_gettime_ns(CLOCK_TAI)),
        }
        if isinstance(ns, TimekeeperNamespace):
            tk = ns.timekeeper
            row.update(
                mult=tk.mult,
                shift=tk.shift,
                freq_ppm=float(ns.ntp.freq_ppm),
                advance_calls=ns.advance_calls,
                reference_error_ns=float(ns.reference_error_ns(CLOCK_MONOTONIC)),
            )
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'namespace':<12} {'model':<10} {'REALTIME':<30} {'vs true UTC':>14} "
        f"{'MONOTONIC s':>16} {'BOOTTIME s':>16} {'mult':>10}"
    )
    for r in rows:
        print(
            f"{r['namespace']:<12} {r['model']:<10} {r['realtime']:<30} "
            f"{r['offset_from_true_utc_ms']:>+11.3f} ms {r['monotonic_ns'] / NSEC:>16.6f} "
            f"{r['boottime_ns'] / NSEC:>16.6f} {r.get('mult', ''):>10}"
        )


def run_demo(out: Path, days: int = 1) -> dict[str, Any]:
    """Run the demo for `days` simulated days; print and return the summary."""
    host = build_host()
    wall = time.perf_counter()
    host.run_for(days * DAY)
    wall = time.perf_counter() - wall
    rows = snapshot(host)
    stats = host.stats
    summary = {
        "simulated_s": days * 86_400,
        "wall_s": round(wall, 3),
        "simulated_s_per_wall_s": round(days * 86_400 / wall) if wall else None,
        "namespaces": rows,
        "host": {
            "clocksource": host.clocksource.describe(),
            "hz": host.hz,
            "interrupts": stats.interrupts,
            "guard_wakes": stats.guard_wakes,
            "ticks": stats.ticks,
            "lazy_hooks": stats.lazy_hooks,
            "lost_cycles": host.lost_cycles(),
        },
    }
    print(
        f"timekeepers demo: {days} simulated day(s) from {iso(START)} on a 3 GHz TSC "
        f"running 12 ppm fast, HZ={host.hz}, NOHZ idle\n"
    )
    print_table(rows)
    print(
        f"\nhost: {stats.interrupts} interrupts ({stats.guard_wakes} wrap-guard wakes), "
        f"{stats.ticks} ticks, {stats.lazy_hooks} lazy NTP hooks, "
        f"{host.lost_cycles()} cycles lost to wraps"
    )
    print(f"speed: {summary['simulated_s_per_wall_s']} simulated s per wall s")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nresults: {path}")
    return summary
