"""Scenario errors a person can act on: file, line, field path, expected, found — all at once.

A scenario is usually wrong in more than one place, and fixing one error per run is slow, so
every check collects `Issue`s and one `ScenarioError` reports them together.  TOML parsers
do not keep positions for keys, so `TomlLocator` finds them with a small line scanner that
understands tables, arrays of tables and dotted keys; values inside inline tables fall back
to the line of their parent key ("line if known").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


@dataclass(frozen=True)
class Issue:
    """One problem: where (`loc`, `line`) and what (`message`, which says expected/found)."""

    loc: Loc
    message: str
    line: int | None = None

    def path(self) -> str:
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "(top level)"


class ScenarioError(Exception):
    """Bad input: one or more issues in one source (a file, or a command-line option)."""

    def __init__(self, source: str, issues: list[Issue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for issue in self.issues:
            where = f"{self.source}:{issue.line}" if issue.line else self.source
            lines.append(f"{where}: {issue.path()}: {issue.message}")
        count = len(self.issues)
        head = f"{self.source}: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *("  " + line for line in lines)])


def input_error(source: str, message: str) -> ScenarioError:
    """A whole-input problem (missing file, unreadable TOML) as a ScenarioError."""
    return ScenarioError(source, [Issue((), message)])


class TomlLocator:
    """Maps a field path such as ('namespaces', 2, 'update') to its line in the TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Loc, int] = {}
        self._scan(text)

    def _scan(self, text: str) -> None:
        table: Loc = ()
        counts: dict[Loc, int] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            header = _HEADER.match(line)
            if header and not _KEY.match(line):
                table = self._enter(header, counts, number)
                continue
            key = _KEY.match(line)
            if key:
                loc = table + tuple(_split_key(key.group(1)))
                self.lines.setdefault(loc, number)

    def _enter(self, header: re.Match[str], counts: dict[Loc, int], number: int) -> Loc:
        """The loc of a table header; inside an array of tables, of its latest item.

        `[[namespaces.programs]]` after the second `[[namespaces]]` is
        ('namespaces', 1, 'programs', 0), and `[namespaces.leap]` there ('namespaces', 1,
        'leap'), as TOML nests them.
        """
        name = tuple(_split_key(header.group(2)))
        loc: Loc = ()
        for k, part in enumerate(name):
            loc = (*loc, part)
            if k < len(name) - 1 and loc in counts:
                loc = (*loc, counts[loc])
        if header.group(1) == "[[":
            index = counts.get(loc, -1) + 1
            counts[loc] = index
            loc = (*loc, index)
        self.lines.setdefault(loc, number)
        return loc

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest located ancestor."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in text.split(".")]


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def pydantic_issues(
    errors: Sequence[ErrorDetails], allowed: Callable[[Loc], list[str]]
) -> list[Issue]:
    """Turn pydantic's error list into Issues; `allowed(loc)` lists the keys valid at a loc."""
    issues = []
    for err in errors:
        loc = _clean_loc(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            keys = allowed(loc[:-1])
            close = get_close_matches(str(loc[-1]), keys, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            message = f"unknown key; {hint}expected one of: {', '.join(keys)}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "string_pattern_mismatch":
            message = "expected a name of letters, digits, '_', '.' or '-' (at most 64)"
            message += f" (found {_found(err.get('input'))})"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if message.startswith("Input should be "):
                message = "expected " + message.removeprefix("Input should be ")
            if "input" in err and kind not in ("scenario", "not_available"):
                message += f" (found {_found(err['input'])})"
        issues.append(Issue(loc, message))
    return issues


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's union tags: the event kind after `events[i]` and 'function-…[…]' parts."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(part, str) and ("[" in part or "(" in part):
            continue
        if i >= 2 and loc[i - 2] == "events" and isinstance(loc[i - 1], int):
            continue
        out.append(part)
    return tuple(out)
