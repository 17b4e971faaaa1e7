"""The shape `timekeepers show` needs from a summary.json, checked before anything is printed.

A results folder is a file format like any other: it may come from an older version, be
edited by hand or be cut short.  Rather than fail on the first missing key half-way through
the table, `check_summary` walks the keys the table reads and names the first one that is
missing or of the wrong kind ("namespaces.a.timers.fires: expected a whole number").
"""

from __future__ import annotations

from typing import Any

Number = (int, float)
Optional = (int, float, type(None))
Text = (str,)
Whole = (int,)

_OFFSET = {"max_abs": Optional, "rms": Optional}
NAMESPACE_SHAPE: dict[str, Any] = {
    "model": Text,
    "offset_utc_ns": _OFFSET,
    "offset_reference_ns": {"max_abs": Optional},
    "freq_ppm": {"max_abs_deviation": Optional},
    "realtime_backward_steps": Whole,
    "timers": {
        "fires": Whole,
        "early_fires": Whole,
        "rearms": Whole,
        "lateness_ns": {"p50": Optional, "p99": Optional},
    },
}
SUMMARY_SHAPE: dict[str, Any] = {
    "scenario": Text,
    "duration": Text,
    "start_utc": Text,
    "samples": Whole,
    "sample_every": Text,
    "checks": {"ok": (bool,)},
    "host": {
        "clocksource": {"name": Text, "freq_hz": Number, "bits": Whole, "error_ppm": Text},
        **{key: (bool, int) for key in ("hz", "nohz", "wrap_guard")},
        **{
            key: Whole
            for key in (
                "interrupts", "guard_wakes", "ticks", "lazy_hooks", "timer_expiries",
                "timer_rearms", "lost_cycles",
            )
        },
    },
    "namespaces": NAMESPACE_SHAPE,  # every value of the table has this shape
}
_KIND = {int: "a whole number", float: "a number", str: "a string", bool: "true or false",
         type(None): "null"}


def check_summary(summary: object) -> str | None:
    """None if `summary` has every key `show` reads, else 'PATH: expected …, found …'."""
    if not isinstance(summary, dict):
        return f"(top level): expected a JSON object, found {_kind_of(summary)}"
    problem = _check(summary, SUMMARY_SHAPE, "")
    return problem


def _check(node: dict[str, Any], shape: dict[str, Any], path: str) -> str | None:
    for key, want in shape.items():
        where = f"{path}.{key}" if path else key
        if key not in node:
            return f"{where}: required key is missing"
        value = node[key]
        if where == "namespaces":
            problem = _each(value, want, where)
        elif isinstance(want, dict):
            problem = (
                _check(value, want, where) if isinstance(value, dict)
                else f"{where}: expected a JSON object, found {_kind_of(value)}"
            )
        else:
            problem = _leaf(value, want, where)
        if problem is not None:
            return problem
    return None


def _each(value: object, shape: dict[str, Any], path: str) -> str | None:
    if not isinstance(value, dict):
        return f"{path}: expected a JSON object of namespaces, found {_kind_of(value)}"
    for name, ns in value.items():
        if not isinstance(ns, dict):
            return f"{path}.{name}: expected a JSON object, found {_kind_of(ns)}"
        problem = _check(ns, shape, f"{path}.{name}")
        if problem is not None:
            return problem
    return None


def _leaf(value: object, want: tuple[type, ...], path: str) -> str | None:
    ok = isinstance(value, want) and not (isinstance(value, bool) and bool not in want)
    if ok:
        return None
    expected = " or ".join(dict.fromkeys(_KIND[t] for t in want))
    return f"{path}: expected {expected}, found {_kind_of(value)}"


def _kind_of(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "true/false" if value is not None else "null"
    names = {dict: "an object", list: "an array", str: "a string", int: "a number",
             float: "a number"}
    text = repr(value)
    return f"{names.get(type(value), type(value).__name__)} {text[:40]}"
