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

from ..scenario.errors import Issue, ScenarioError, input_error

#: `seed` on its own means the scenario's seed.
SEED_KEY = "seed"
SEED_PATH = "scenario.seed"
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\d+)\s*)?$")
_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)(?:\[([^\]]*)\])?$")
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


def split_assignment(item: str) -> tuple[str, str, str]:
    """`KEY=VALUES` split at the first `=` outside a selector (`a[name=x].b=1`)."""
    depth = 0
    for i, ch in enumerate(item):
        depth += (ch == "[") - (ch == "]")
        if ch == "=" and depth == 0:
            return item[:i].strip(), "=", item[i + 1:]
    return item.strip(), "", ""


def zip_axis(pairs: list[tuple[str, list[Any]]], source: str) -> Axis:
    """Keys that vary together; every key must have the same number of values."""
    lengths = {key: len(values) for key, values in pairs}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise input_error(source, f"a zip needs the same number of values per key, found {found}")
    keys = tuple(key for key, _ in pairs)
    columns = [values for _, values in pairs]
    return Axis(keys, tuple(tuple(row) for row in zip(*columns, strict=True)))


# -- applying a key to a scenario's data -------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One step of a key path: a table key, optionally with an array selector."""

    name: str
    selector: str | None  # None: a table; "*": every item; "3": by index; "name=x": by field


def parse_key(key: str, source: str = "sweep") -> tuple[Part, ...]:
    """A key path such as `namespaces[name=client].ntp.poll_exp`, checked for syntax."""
    path = SEED_PATH if key == SEED_KEY else key
    parts = []
    for text in _split_dots(path):
        m = _PART.match(text.strip())
        if not m:
            raise input_error(
                source, f"{key}: expected a dotted key such as host.hz or namespaces[name=x]."
                f"update, found the part {text!r}"
            )
        parts.append(Part(m.group(1), None if m.group(2) is None else m.group(2).strip()))
    return tuple(parts)


def _split_dots(path: str) -> list[str]:
    """Split on dots outside selectors (a selector value may contain dots: [name=a.b])."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "." and depth == 0:
            out.append(path[start:i])
            start = i + 1
    out.append(path[start:])
    return out


def apply_value(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` to `value` in scenario data (ScenarioError if a selector matches nothing)."""
    parts = parse_key(key)
    nodes: list[Any] = [data]
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        nodes = [child for node in nodes for child in _step(node, part, key, last, value)]


def _step(node: Any, part: Part, key: str, last: bool, value: Any) -> list[Any]:
    if not isinstance(node, dict):
        raise _bad(key, f"{part.name!r} is inside something that is not a table")
    if part.selector is None:
        if last:
            node[part.name] = value
            return []
        child = node.setdefault(part.name, {})
        if not isinstance(child, dict):
            raise _bad(key, f"{part.name!r} is not a table")
        return [child]
    items = node.get(part.name)
    if not isinstance(items, list):
        raise _bad(key, f"{part.name!r} is not an array of tables in the scenario")
    chosen = _select(items, part, key)
    if last:
        for index in chosen:
            items[index] = value
        return []
    return [items[index] for index in chosen]


def _select(items: list[Any], part: Part, key: str) -> list[int]:
    sel = part.selector or ""
    if sel == "*":
        return list(range(len(items)))
    if sel.lstrip("-").isdigit():
        index = int(sel)
        if not -len(items) <= index < len(items):
            raise _bad(key, f"{part.name} has {len(items)} item(s), no item [{index}]")
        return [index % len(items)]
    field, eq, wanted = sel.partition("=")
    if not eq:
        raise _bad(key, f"expected [INDEX], [*] or [FIELD=VALUE], found [{sel}]")
    field, wanted = field.strip(), wanted.strip().strip("\"'")
    chosen = [
        i for i, item in enumerate(items)
        if isinstance(item, dict) and str(item.get(field)) == wanted
    ]
    if not chosen:
        names = [str(item.get(field)) for item in items if isinstance(item, dict)]
        raise _bad(key, f"no {part.name} item with {field} = {wanted!r} (found: "
                   f"{', '.join(names) or 'none'})")
    return chosen


def _bad(key: str, message: str) -> ScenarioError:
    return ScenarioError("sweep", [Issue(("sweep", "axes", key), message)])
