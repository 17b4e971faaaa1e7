"""Key paths into a scenario's tables: `host.hz`, `namespaces[name=client].ntp.poll_exp`.

Used by `--set KEY=VALUE` and by sweep axes.  A path is dot-separated table keys; a part
may select items of an array of tables by position (`[0]`, `[-1]`), by a field (`[name=x]`)
or all of them (`[*]`).  `seed` alone means `scenario.seed`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .errors import Issue, ScenarioError, input_error
from .schema import SHORT_FORMS

#: `seed` on its own means the scenario's seed.
SEED_KEY = "seed"
SEED_PATH = "scenario.seed"
_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)(?:\[([^\]]*)\])?$")


def split_assignment(item: str) -> tuple[str, str, str]:
    """`KEY=VALUES` split at the first `=` outside a selector (`a[name=x].b=1`)."""
    depth = 0
    for i, ch in enumerate(item):
        depth += (ch == "[") - (ch == "]")
        if ch == "=" and depth == 0:
            return item[:i].strip(), "=", item[i + 1:]
    return item.strip(), "", ""


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


def apply_value(data: dict[str, Any], key: str, value: Any, source: str = "sweep") -> None:
    """Set `key` to `value` in scenario data (ScenarioError if a selector matches nothing)."""
    parts = parse_key(key, source)
    nodes: list[Any] = [data]
    try:
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if depth and parts[depth - 1].name == "namespaces" and not last:
                nodes = [_tables(node, part.name) for node in nodes]
            nodes = [child for node in nodes for child in _step(node, part, key, last, value)]
    except ScenarioError as err:
        raise ScenarioError(source, err.issues) from None


def _tables(node: Any, name: str) -> Any:
    """A namespace's short forms (`ntp = "chrony"`, `leap = "cosine"`) as their tables,
    so a key can reach inside them (`namespaces[0].ntp.poll_exp`)."""
    short = SHORT_FORMS.get(name)
    if short is not None and isinstance(node, dict) and isinstance(node.get(name), str):
        node[name] = short(node[name])
    return node


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
    if not chosen and field == "name":
        chosen = _split_copy(items, wanted)
    if not chosen:
        names = [str(item.get(field)) for item in items if isinstance(item, dict)]
        raise _bad(key, f"no {part.name} item with {field} = {wanted!r} (found: "
                   f"{', '.join(names) or 'none'})")
    return chosen


def _split_copy(items: list[Any], wanted: str) -> list[int]:
    """`[name=client-3]` for one copy of a `count = N` entry: split the entry, select the copy.

    The entry is replaced, in place, by N entries named NAME-0 … NAME-(N-1), each `count = 1`
    with `group = NAME`: the same namespaces in the same order (so the same seeds), the copy
    now a table of its own that a key can change alone.
    """
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        count, name = item.get("count", 1), item["name"]
        prefix, _, index = wanted.rpartition("-")
        if (prefix != name or not isinstance(count, int) or count < 2
                or not index.isdigit() or int(index) >= count or str(int(index)) != index):
            continue
        copies = [item | {"name": f"{name}-{k}", "count": 1, "group": item.get("group", name)}
                  for k in range(count)]
        items[i:i + 1] = [copy.deepcopy(c) for c in copies]
        return [i + int(index)]
    return []


def _bad(key: str, message: str) -> ScenarioError:
    return ScenarioError("sweep", [Issue((), f"{key}: {message}")])
