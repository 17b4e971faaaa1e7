"""Sweep axes: which scenario keys vary, over which values, and how they combine.

An axis is one or more scenario keys that vary together (one key is a plain axis; several
keys of equal length form a *zip*).  The points of a sweep are the product of its axes, in
the order they were declared, with `seed` innermost so the seeds of one setting sit side by
side.

Keys are dotted paths into the scenario's tables, as `--set` takes them, with selectors for
arrays of tables::

    seed                                   # shorthand for scenario.seed
    host.clocksource.error_ppm
    namespaces[0].ntp.poll_exp             # an array item by position
    namespaces[name=client].ntp.path.jitter   # the item (or group) whose name is client
    namespaces[*].update                   # every item

Values are a list (`[4, 6, 8]` in TOML, `4,6,8` on the command line) or an inclusive
integer range `A..B` with an optional step `A..B:S` (`0..99`, `0..100:10`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from ..scenario.errors import input_error
from ..scenario.keys import SEED_KEY, apply_value, parse_key, split_assignment

__all__ = ["SEED_KEY", "Axis", "apply_value", "parse_cli_axis", "parse_key", "parse_range",
           "split_assignment", "values_from_text", "values_from_toml", "zip_axis"]

_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\d+)\s*)?$")
#: A sweep larger than this is almost certainly a typo in a range.
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Axis:
    """Keys that vary together over `len(values)` steps (`values[i][k]` is key k's value)."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def name(self) -> str:
        return " + ".join(self.keys)

    def __len__(self) -> int:
        return len(self.values)


def parse_range(text: str) -> list[int] | None:
    """`A..B` or `A..B:S` as the inclusive list of integers, or None if it is not a range."""
    m = _RANGE.match(text)
    if not m:
        return None
    lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    if step <= 0 or hi < lo:
        return []
    if (hi - lo) // step + 1 > MAX_POINTS:
        return None
    return list(range(lo, hi + 1, step))


def values_from_toml(key: str, raw: Any, source: str) -> list[Any]:
    """An axis's values as written in a `[sweep]` table: a list, a range string, or one value."""
    if isinstance(raw, list):
        values = list(raw)
    elif isinstance(raw, str) and _RANGE.match(raw):
        values = _checked_range(key, raw, source)
    else:
        values = [raw]
    if not values:
        raise input_error(source, f"sweep axis {key!r}: expected at least one value, found none")
    return values


def values_from_text(key: str, text: str, source: str) -> list[Any]:
    """An axis's values from the command line: `A..B[:S]`, or comma-separated TOML values."""
    if _RANGE.match(text):
        return _checked_range(key, text, source)
    items = [item.strip() for item in _split_top_level(text)]
    if not all(items):
        raise input_error(source, f"{key}: expected comma-separated values, found {text!r}")
    return [_toml_value(item) for item in items]


def _checked_range(key: str, text: str, source: str) -> list[int]:
    values = parse_range(text)
    if not values:
        raise input_error(
            source, f"sweep axis {key!r}: expected a range A..B with A <= B (step > 0, at most "
            f"{MAX_POINTS:,} values), found {text!r}"
        )
    return values


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets and quotes (so `[1, 2]` stays one value)."""
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _toml_value(text: str) -> Any:
    """A TOML value if it parses as one (numbers, booleans, strings, arrays), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_cli_axis(item: str, option: str = "--axis") -> tuple[str, list[Any]]:
    """`KEY=VALUES` from the command line."""
    key, sep, text = split_assignment(item)
    if not sep or not key or not text.strip():
        raise input_error(option, f"expected KEY=VALUES such as seed=0..9, found {item!r}")
    if any(ch in text for ch in "\r\n\x00"):
        raise input_error(option, f"{key}: expected a one-line value, found {text!r}")
    parse_key(key, option)
    return key, values_from_text(key, text, option)


def zip_axis(pairs: list[tuple[str, list[Any]]], source: str) -> Axis:
    """Keys that vary together; every key must have the same number of values."""
    lengths = {key: len(values) for key, values in pairs}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise input_error(source, f"a zip needs the same number of values per key, found {found}")
    keys = tuple(key for key, _ in pairs)
    columns = [values for _, values in pairs]
    return Axis(keys, tuple(tuple(row) for row in zip(*columns, strict=True)))
