"""Reading a scenario: file → TOML → schema → cross-field checks, every error at once.

This is the only place that touches scenario files.  What comes out is a `Resolved` scenario
(exact ns everywhere, events in time order) or a `ScenarioError` whose lines each name the
file, the line, the field path, what was expected and what was found.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ntp.leap import LeapError, LeapTable

from . import units
from .checks import Checker, Resolved
from .errors import Issue, ScenarioError, TomlLocator, input_error, pydantic_issues
from .keys import apply_value, split_assignment
from .schema import Scenario, allowed_keys
from .types import At, PositiveDuration, Utc, parse_at

_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
#: The deepest nesting of tables and arrays a scenario may have.  The schema needs five
#: levels; anything past this is a generated or corrupt file, refused before any recursive
#: step (parser, deep copy, validation) can run out of stack on it.
MAX_DEPTH = 32


def read_source(path: Path) -> str:
    """The text of a scenario file, or a ScenarioError saying why it cannot be read."""
    name = str(path)
    if not path.exists():
        raise input_error(name, "no such file (expected a scenario .toml file)")
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.toml"))[:5]
        hint = f"; scenario files in it: {', '.join(found)}" if found else ""
        raise input_error(name, f"is a directory, expected a scenario .toml file{hint}")
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as err:
        raise input_error(name, f"is not UTF-8 text (byte {err.start}): expected TOML") from None
    except OSError as err:
        raise input_error(name, f"cannot be read: {err.strerror or err}") from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML → dict, with a syntax error reported at its line."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(source) from None
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = _TOML_LINE.search(msg)
        line = int(m.group(1)) if m else None
        detail = _TOML_LINE.sub("", msg).strip()
        raise ScenarioError(source, [Issue((), f"not valid TOML: {detail}", line)]) from None
    if nesting_depth(data) > MAX_DEPTH:
        raise _too_deep(source)
    return data


def _too_deep(source: str) -> ScenarioError:
    return input_error(
        source, f"TOML nested too deeply: expected at most {MAX_DEPTH} levels of tables and arrays"
    )


def nesting_depth(data: object) -> int:
    """How deep tables and arrays nest (iteratively: a deep value must not blow the stack)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_DEPTH:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def without_sweep(data: dict[str, Any]) -> dict[str, Any]:
    """The base scenario of a sweep file: its `[sweep]` table is read by `tk_core.sweep`."""
    data.pop("sweep", None)
    return data


def apply_overrides(
    data: dict[str, Any],
    seed: int | None,
    until: str | None,
    sets: list[str] | None = None,
    leap_file: str | Path | None = None,
) -> dict[str, Any]:
    """Command-line overrides (--seed, --until, --set, --leap-file) applied before validation."""
    data = copy.deepcopy(data)
    for item in sets or []:
        _set(data, item)
    run = data.setdefault("scenario", {})
    if not isinstance(run, dict):
        return data
    if leap_file is not None:
        run["leap_table"] = checked_leap_file(leap_file)
    if seed is not None:
        if seed < 0:
            raise input_error("--seed", f"expected a whole number >= 0, found {seed}")
        run["seed"] = seed
    if until is not None:
        at = _parse_until(until)
        run.pop("duration", None)
        run.pop("until", None)
        if at.kind == "utc":
            run["until"] = units.format_utc(at.ns)
        else:
            run["duration"] = units.format_duration(at.ns)
    return data


def checked_leap_file(path: str | Path) -> str:
    """`--leap-file PATH`: the file verified now (read, parsed, SHA-1), as an absolute path.

    Checking here names the option in the error; expiry against the run's end is checked
    with the scenario (it depends on `leap_expiry` and the run's length).
    """
    try:
        table = LeapTable.read(path)
    except LeapError as err:
        raise input_error("--leap-file", str(err)) from None
    return str(table.path)


def _set(data: dict[str, Any], item: str) -> None:
    """`--set host.wrap_guard=false`: a key path (see `keys`), a TOML value (or text)."""
    key, sep, text = split_assignment(item)
    if not sep or not key:
        raise input_error("--set", f"expected KEY=VALUE such as host.hz=250, found {item!r}")
    if any(ch in text for ch in "\r\n\x00"):
        raise input_error("--set", f"{key}: expected a one-line value, found {text!r}")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except RecursionError:
        raise input_error("--set", f"{key}: value nested too deeply") from None
    except tomllib.TOMLDecodeError:
        value = text.strip()
    if nesting_depth(value) > MAX_DEPTH:
        raise input_error("--set", f"{key}: value nested too deeply")
    apply_value(data, key, value, "--set")


def _parse_until(text: str) -> At:
    try:
        at = parse_at(text)
    except units.UnitError as err:
        raise input_error(
            "--until", f"{err} (expected a duration such as '2h' or an ISO UTC date)"
        ) from None
    if at.kind == "offset" and at.ns <= 0:
        raise input_error("--until", f"expected a duration > 0, found {text!r}")
    return at


def validate_data(
    data: dict[str, Any],
    source: str,
    text: str = "",
    base: Path | None = None,
    truncated: bool = False,
) -> Resolved:
    """Schema, then cross-field checks; raises ScenarioError with every issue found."""
    locator = TomlLocator(text)
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as err:
        issues = pydantic_issues(err.errors(), lambda loc: allowed_keys(loc, data))
        raise ScenarioError(source, _located(issues, locator)) from None
    checker = Checker(scn, base, truncated)
    resolved = checker.run()
    if checker.issues or resolved is None:
        raise ScenarioError(source, _located(checker.issues, locator))
    return resolved


def _located(issues: list[Issue], locator: TomlLocator) -> list[Issue]:
    located = [Issue(i.loc, i.message, i.line or locator.line_of(i.loc)) for i in issues]
    return sorted(located, key=lambda i: i.line or 0)


def load_scenario(
    path: Path | str,
    *,
    seed: int | None = None,
    until: str | None = None,
    sets: list[str] | None = None,
    leap_file: str | Path | None = None,
) -> Loaded:
    """Read, validate and resolve a scenario file (ScenarioError on any bad input).

    `leap_file` replaces `[scenario] leap_table` with that file (`--leap-file`).
    """
    path = Path(path)
    text = read_source(path)
    data = without_sweep(parse_toml(text, str(path)))
    own_data = apply_overrides(data, seed, None, sets, leap_file)
    if until is None:
        return Loaded(validate_data(own_data, str(path), text, path.parent), str(path), path)
    cut = apply_overrides(data, seed, until, sets, leap_file)
    resolved = validate_data(cut, str(path), text, path.parent, True)
    own = scenario_end(resolved, own_data.get("scenario"))
    if own is None or resolved.duration_ns <= own:
        return Loaded(resolved, str(path), path)
    # --until only ends a run early: one past the scenario's end runs to that end, said so
    loaded = Loaded(validate_data(own_data, str(path), text, path.parent), str(path), path)
    loaded.notes.append(
        f"--until {until} is after the scenario's end ({units.format_duration(own)} after the "
        f"start): the run ends there (to run longer: --set scenario.duration=...)"
    )
    return loaded


def scenario_end(resolved: Resolved, given: Any) -> int | None:
    """The run length (true ns) the scenario's own `duration` or `until` asks for."""
    if not isinstance(given, dict):
        return None
    try:
        if given.get("duration") is not None and given.get("until") is None:
            return TypeAdapter(PositiveDuration).validate_python(given["duration"])
        if given.get("until") is not None and given.get("duration") is None:
            utc = TypeAdapter(Utc).validate_python(given["until"])
            return resolved.timescale.true_of_utc(utc)
    except ValidationError:
        return None
    return None


def load_text(text: str, source: str = "<scenario>", base: Path | None = None) -> Loaded:
    """Validate and resolve scenario text (tests, and scenarios built in code)."""
    resolved = validate_data(without_sweep(parse_toml(text, source)), source, text, base)
    return Loaded(resolved, source, None)


class Loaded:
    """A resolved scenario and where it came from."""

    def __init__(self, resolved: Resolved, source: str, path: Path | None) -> None:
        self.resolved = resolved
        self.source = source
        self.path = path
        #: What the command line asked for that the run does differently (shown as warnings).
        self.notes: list[str] = []

    @property
    def scenario(self) -> Scenario:
        return self.resolved.scenario
