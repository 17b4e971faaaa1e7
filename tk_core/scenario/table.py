"""The summary table shared by `timekeepers show` and report.html: one row per namespace.

Kept apart from both so the terminal and the report can never disagree about what a column
means or how a value is rounded; every ns column is shown in one unit (`numfmt`).
"""

from __future__ import annotations

from typing import Any

from . import numfmt

BASE_HEADERS = (
    "namespace",
    "model/update",
    "max |offset| UTC",
    "RMS offset UTC",
    "max |offset| ref",
    "max |freq dev|",
    "RT steps back",
    "accumulations",
)
TIMER_HEADERS = ("timer fires", "early", "late p50", "late p99", "re-arms")
HEADERS = BASE_HEADERS + TIMER_HEADERS


def has_timers(summary: dict[str, Any]) -> bool:
    """Whether any timer fired in the run (else the timer columns are left out)."""
    return any(ns["timers"]["fires"] for ns in summary["namespaces"].values())


def headers(summary: dict[str, Any]) -> tuple[str, ...]:
    return HEADERS if has_timers(summary) else BASE_HEADERS


def human_ns(value: float | int | None) -> str:
    """One duration in ns on its own, in the unit that keeps it readable ('1.234 ms').

    Tables format whole columns instead (`numfmt.columns`), so their cells share a unit.
    """
    return numfmt.ns_unit([value]).format(value)


def human_ppm(value: float | int | None) -> str:
    return numfmt.PPM.format(value)


def kinds(summary: dict[str, Any]) -> list[str]:
    """How each column of `headers` is formatted (one unit per ns column)."""
    ns, ppm, text = numfmt.NS, numfmt.PPM_KIND, numfmt.TEXT
    base = [text, text, ns, ns, ns, ppm, text, text]
    return [*base, text, text, ns, ns, text] if has_timers(summary) else base


def _collapsed(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Recorded namespaces one by one; unrecorded ones one row per group (its first member)."""
    out: list[tuple[str, dict[str, Any]]] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, ns in summary["namespaces"].items():
        if ns.get("recorded", True):
            out.append((name, ns))
        else:
            groups.setdefault(ns.get("group", name), []).append(ns)
    for group, members in groups.items():
        first = dict(members[0])
        acc = [m.get("accumulations", 0) for m in members]
        first["accumulations"] = f"{max(acc)} each" if min(acc) == max(acc) else f"≤ {max(acc)}"
        out.append((f"{group}-* ({len(members)}, not recorded)", first))
    return out


def raw_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row of values per namespace (or unrecorded group), per `headers`, unformatted."""
    out = []
    timers_too = has_timers(summary)
    for name, ns in _collapsed(summary):
        timers = ns["timers"]
        late = timers["lateness_ns"]
        row = [
            name,
            f"{ns['model']}/{ns.get('update', 'host')}",
            ns["offset_utc_ns"]["max_abs"],
            ns["offset_utc_ns"]["rms"],
            ns["offset_reference_ns"]["max_abs"],
            ns["freq_ppm"]["max_abs_deviation"],
            ns["realtime_backward_steps"],
            ns.get("accumulations"),
        ]
        if timers_too:
            row += [timers["fires"], timers["early_fires"], late["p50"], late["p99"],
                    timers["rearms"]]
        out.append(row)
    return out


def rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row of display strings per namespace, per `headers`: one unit per column."""
    return numfmt.columns(kinds(summary), raw_rows(summary))


def leap_table_line(info: Any) -> str:
    """The leap table a run used, its expiry and whether the run outlived it."""
    if not isinstance(info, dict):  # summaries written before the table was described
        return str(info)
    line = f"{info['source']}, expires {info['expires']} (last update {info['last_update']})"
    if info.get("expired_at_end"):
        line += ": EXPIRED before the run's end (later leaps unknown)"
    return line


def host_lines(summary: dict[str, Any], timing: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Host statistics and speed as (label, value) pairs."""
    h = summary["host"]
    cs = h["clocksource"]
    lines = [
        (
            "clocksource",
            f"{cs['name']} {cs['freq_hz']} Hz, {cs['bits']} bits, error {cs['error_ppm']} ppm",
        ),
        ("HZ / NOHZ / wrap guard", f"{h['hz']} / {h['nohz']} / {h['wrap_guard']}"),
        (
            "interrupts",
            f"{h['interrupts']} ({h['guard_wakes']} wrap-guard wakes, "
            f"{h['ticks']} ticks, {h['lazy_hooks']} lazy NTP hooks)",
        ),
        ("timer expiries / re-arms", f"{h['timer_expiries']} / {h['timer_rearms']}"),
        ("cycles lost to wraps", str(h["lost_cycles"])),
        (
            "simulated",
            f"{summary['duration']} from {summary['start_utc']}, "
            f"{summary['samples']} samples every {summary['sample_every']}",
        ),
    ]
    lines.append(("leap table", leap_table_line(summary.get("leap_table"))))
    if timing:
        lines.append(
            (
                "speed",
                f"{timing.get('simulated_s_per_wall_s')} simulated s per wall s "
                f"({timing.get('run_wall_s')} s wall)",
            )
        )
    return lines
